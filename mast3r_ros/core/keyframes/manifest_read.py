"""Opening a keyframe map folder's manifest (`_read_manifest`): the folder and manifest checks
`KeyframeMap.load` and `KeyframeMap.check_folder` make before any other file is opened, with the
words for a path that is no map (a recording, a run, a folder inside a map or holding one, an
interrupted build) and for a format version this code does not read."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from typing import Any, Dict, List, Optional, Tuple

from ..camera_key import key_of_record
from ..errors import MISSING, MapFormatError, is_format_version, json_value
from ..fileio import checkpoint_file_note, output_path
from ..map_nesting import is_keyframe_map
from ..message_fields import frame_id_problem, tf2_frame_name
from ..output_kinds import not_a_map
from ..publish import TEMP_INFIX
from ..recordings import recording_kind
from .layout import FORMAT_NAME, MANIFEST, READ_VERSIONS
from .map_files import opened_identity

log = logging.getLogger(__name__)
_FRAME_WARNED: set = set()  # (manifest path, map_frame) warned of as no tf2 frame name


def _version_refusal(mpath: str, version: Any) -> str:
    """Why a manifest's format ``version`` (not in READ_VERSIONS) is not read, and the fix: a
    newer one (an int above the newest read) was written by a newer mast3r_ros, so upgrade;
    anything else is not a version this code ever wrote, so rebuild."""
    supported = ", ".join(map(str, READ_VERSIONS))
    if type(version) is int and version > max(READ_VERSIONS):
        from ... import __version__

        return (f"{mpath}: format version {version}, written by a newer mast3r_ros (this one, "
                f"{__version__}, reads versions {supported}): upgrade mast3r_ros to open it, "
                "or rebuild the map with this one")
    return (f"{mpath}: format version {json_value(version)}, this code reads versions {supported}; "
            "rebuild the map with this version")


def _no_map_here(path: str) -> str:
    """The line for a folder with no manifest.json that is no recording, run, map part or other
    output we know: said as what it is (empty, or what it holds), not as "an interrupted build?"
    -- a build never leaves a folder at MAP (it renames a finished one into place), and a map
    folder of another tool (COLMAP, Nav2's map.yaml) was sent looking for one."""
    try:
        names = sorted(n for n in os.listdir(path) if not n.startswith("."))
    except OSError:
        names = []
    if not names:
        return (f"{path} is an empty folder, not a keyframe map (no {MANIFEST}): pass the "
                "folder `mast3r-ros build-map --out` wrote")
    held = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (f"{path} is not a mast3r_ros keyframe map (no {MANIFEST}; it holds {held}): pass "
            "the folder `mast3r-ros build-map --out` wrote; maps of other tools (COLMAP, a Nav2 "
            "map.yaml) are not read: build one from the recording")


def _refuse_left_aside(path: str) -> None:
    """A missing map that a kill between two renames of a writer of it (its --out probe, an
    --overwrite's swap) left in ``MAP.old-X/folder``: said in one line, where it is and how it
    comes back. Not put back here: a reader changes nothing beside the map, and takes no
    writer's lock (a build starting meanwhile would be refused as if a writer held it); a
    writer's lock held now is that writer, mid-swap: `OutputBusyError`."""
    from ..publish import EMPTY_SUFFIX, MOVED, left_aside

    full = left_aside(output_path(path).rstrip("/"))
    if full is None or full.endswith(EMPTY_SUFFIX):  # an empty folder: no map either way
        return
    from ..fileio import refuse_busy_output

    refuse_busy_output(path, "map")
    inner = os.path.join(full, MOVED)
    raise MapFormatError(f"map folder not found: {path}; a command killed while replacing or "
                         f"probing it left it in {inner}: put it back with `mv {inner} {path} "
                         f"&& rmdir {full}`, or run any command writing --out {path}, which "
                         "does that")


def _read_manifest(path: str, checkpoint_as: str = "--checkpoint"
                   ) -> Tuple[Dict[str, Any], Tuple[int, ...]]:
    """(manifest, `opened_identity`) of the map folder ``path``: `KeyframeMap.load`'s checks
    of the folder and its manifest (JSON, format, version, map_frame), which open no other
    file; `MapFormatError` (a manifest's problem worded 'manifest.json: ...', which `load`
    and `check_folder` prefix with the folder). ``checkpoint_as``: where a checkpoint given
    as the map goes (`checkpoint_file_note`)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise MapFormatError(f"map path is a file, not a map folder: {path} (a map is the "
                             "folder `mast3r-ros build-map --out` wrote)"
                             f"{checkpoint_file_note(path, checkpoint_as, 'a map folder')}")
    if not str(path).strip():  # `check-map "$MAP"` with MAP unset
        raise MapFormatError("the map path is empty (an unset shell variable?): give a "
                             "keyframe map folder (`mast3r-ros build-map --out` writes one)")
    if not os.path.isdir(path):
        partial = output_path(path) + ".partial"  # `MapWriter`'s build folder
        if os.path.isdir(partial):  # `build-map --resume` interrupted: no MAP yet
            raise MapFormatError(f"map folder not found: {path}; {partial} holds an "
                                 "interrupted build: finish it with `mast3r-ros build-map "
                                 f"SOURCE --out {path} --resume` (the same options)")
        _refuse_left_aside(path)
        from ..link_loops import loop_text

        loop = loop_text("map folder", path)
        if loop:
            raise MapFormatError(loop)
        from ..path_blanks import blank_edge_note

        from ..path_expand import substitution_note, unset_variable_note

        unset = unset_variable_note(path)
        note = blank_edge_note(path) or (f": {unset}" if unset else substitution_note(str(path))
                                         or " (build one with `mast3r-ros build-map`)")
        raise MapFormatError(f"map folder not found: {path}{note}")
    mpath = os.path.join(path, MANIFEST)
    try:
        opened = opened_identity(path)  # what `replaced_since_open` compares
        with open(mpath, "rb") as fh:
            manifest = json.loads(fh.read().decode("utf-8-sig"))  # BOM: Notepad
    except FileNotFoundError:
        recording = recording_kind(path)
        if recording:
            raise MapFormatError(
                f"{mpath}: missing; {path} looks like a recording ({recording}), not a "
                f"keyframe map: build a map from it with `mast3r-ros build-map {path} --out "
                "MAP` and pass MAP") from None
        named = not_a_map(path, recorded_only=True)  # a run: the map it used, if there
        if named:
            raise MapFormatError(named) from None
        inside = _enclosing_map(path)
        if inside:  # MAP/keyframes, or a run kept in the map (MAP/run1), given for MAP
            raise MapFormatError(f"{path} is inside the keyframe map {inside}: pass that "
                                 "folder") from None
        other = not_a_map(path)  # a run recording no map (or gone), a pair output
        if other:
            raise MapFormatError(other) from None
        inner = _inner_maps(path)
        if inner:  # the demo's --out given for its map, OUT/map
            raise MapFormatError(
                f"{mpath}: missing; {path} is not a keyframe map but holds one: pass it "
                f"({', '.join(inner[:3])}{', ...' if len(inner) > 3 else ''})") from None
        base = os.path.basename(os.path.normpath(path))
        if base.endswith(".partial") and len(base) > len(".partial"):
            # the folder a stopped build-map keeps its finished shards in, given as the map
            final = os.path.join(os.path.dirname(os.path.normpath(path)),
                                 base[:-len(".partial")])
            raise MapFormatError(
                f"{path} is an unfinished map build (build-map stopped before it wrote "
                f"{final}): rerun that build-map with --resume to finish it, then pass "
                f"{final}") from None
        head, infix, tail = base.rpartition(TEMP_INFIX)
        if infix and head and re.fullmatch(r"[a-z0-9_]{8}", tail) \
                and os.path.isdir(os.path.join(path, "keyframes")):
            # a writer's temporary sibling: still being filled, or left by a kill -9 before
            # its rename (`publish`); which of the two is not known here, so both are named
            final = os.path.join(os.path.dirname(os.path.normpath(path)), head)
            raise MapFormatError(
                f"{path} is the unfinished output of a build-map or merge-maps to {final} that "
                "was killed or is still running, not a map: if that command still runs, wait "
                "for it to finish; if it was killed (kill -9, the OOM killer, a power cut), "
                f"rerun it (it removes this folder); then pass {final}") from None
        if os.path.isdir(os.path.join(path, "keyframes")):  # a map's files, no manifest
            # an rsync or scp stopped before manifest.json (it sorts after keyframes/); a
            # build never leaves a folder at MAP (it renames a finished one into place)
            raise MapFormatError(
                f"{mpath}: missing, but {path} holds a keyframe map's files (keyframes/): "
                "copied only in part? copy the map again (its manifest.json last) or rebuild "
                "it") from None
        raise MapFormatError(_no_map_here(path)) from None
    except OSError as e:
        _refuse_left_aside(path)
        from ..link_loops import loop_text

        loop = loop_text("the map's manifest", mpath) if e.errno == errno.ELOOP else None
        if loop:  # was the OS's 'Too many levels of symbolic links', unlike every other path
            raise MapFormatError(loop) from None
        if isinstance(e, PermissionError):  # a map of another user, a mount of other owners
            raise MapFormatError(f"cannot read the map {path}: {mpath}: {e.strerror} (check the "
                                 "map's permissions: this user may not read it)") from None
        raise
    except (ValueError, UnicodeDecodeError) as e:
        raise MapFormatError(f"{mpath}: not valid JSON ({e}); the manifest is truncated or "
                             "damaged: rebuild the map or re-copy the file") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        if isinstance(manifest, dict) and manifest.get("format") == "mast3r_ros-onnx":
            raise MapFormatError(f"{path} is a `mast3r-ros export` output (ONNX graphs), not a "
                                 "keyframe map: pass the map folder (build-map --out)")
        json_kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
                      float: "a number", type(None): "null"}
        found = (f"{json_kinds.get(type(manifest), 'a value')} in JSON, not an object"
                 if not isinstance(manifest, dict) else "no 'format' field"
                 if "format" not in manifest else f"its format is {manifest['format']!r}")
        raise MapFormatError(f"{mpath}: not a {FORMAT_NAME} manifest ({found}): another tool's "
                             "folder? pass the folder `mast3r-ros build-map --out` wrote, or "
                             "build one from the recording")
    version = manifest.get("version", MISSING)
    if not is_format_version(version, READ_VERSIONS):
        raise MapFormatError(_version_refusal(mpath, version))
    frame = manifest.get("map_frame", "map")  # v1 maps have none: 'map'
    if not isinstance(frame, str) or not tf2_frame_name(frame):
        raise MapFormatError(f"{mpath}: field 'map_frame' must be a frame name (a string, not "
                             f"empty nor only '/' and white space), got {frame!r}; rebuild "
                             "the map or correct the field")
    # '/map' of a map written before MapWriter checked it; said once per map (check-map
    # loads it twice)
    if frame_id_problem(frame) and (mpath, frame) not in _FRAME_WARNED:
        _FRAME_WARNED.add((mpath, frame))
        log.warning("%s: map_frame %r is not a tf2 frame name (%s); it is read as %r",
                    mpath, frame, frame_id_problem(frame), tf2_frame_name(frame))
    _check_distortion_camera(mpath, manifest)
    return manifest, opened


def _check_distortion_camera(mpath: str, manifest: Dict[str, Any]) -> None:
    """`MapFormatError` where the map's distortion check names its camera
    (``consistency.distortion.camera``, `camera_key.camera_record`) unreadably: the localizer
    takes the check's verdict only for that camera (`distortion_run_gate.map_images_right`),
    and a hand-edited one would silently judge every query as another camera's."""
    check = manifest.get("consistency")
    figure = check.get("distortion") if isinstance(check, dict) else None
    if not isinstance(figure, dict) or "camera" not in figure:
        return
    try:
        key_of_record(figure["camera"])
    except ValueError as e:
        raise MapFormatError(f"{mpath}: field 'consistency.distortion.camera' (the camera the "
                             f"map's distortion check judged) {e}; rebuild the map or correct "
                             "the field") from None


def _enclosing_map(path: str, levels: int = 8) -> Optional[str]:
    """The folder up to ``levels`` above ``path`` that is a keyframe map (its manifest.json
    says this format: a dataset's or an ONNX export's manifest.json does not), else None: a
    folder inside a map (MAP/keyframes, MAP/run1/plots) given in its place."""
    folder = os.path.normpath(path)  # named as given: MAP/keyframes -> MAP
    for _ in range(levels):
        parent = os.path.dirname(folder)
        parent = parent if parent and parent != folder and not folder.endswith("..") else \
            os.path.dirname(os.path.abspath(folder))
        if parent == folder:  # the root
            return None
        folder = parent
        if is_keyframe_map(folder):
            return folder
    return None


def _inner_maps(path: str) -> List[str]:
    """The keyframe maps directly inside ``path``, named as given (``demo_out`` ->
    ``demo_out/map``): a folder that holds maps given in their place."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    return [os.path.join(path, n) for n in names if is_keyframe_map(os.path.join(path, n))]
