"""No output inside a keyframe map's own folders (``MAP/keyframes``, ``MAP/encodings``,
``MAP/retrieval``): a rebuild of the map with ``--overwrite`` replaces those folders whole, and
only the map's top level is checked for entries no build writes (``MAP/run1`` is kept), so a
merged map or a run written there was deleted without a word. `fileio.check_output_folder`
calls `refuse_inside_map_data` for every command's ``--out``."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

from .errors import InputError

# keyframes.layout.FORMAT_NAME (not imported: keyframes imports fileio, which imports this)
_MAP_FORMAT = "mast3r_ros.keyframe_map"
MAP_DATA_FOLDERS = ("keyframes", "encodings", "retrieval")


def read_manifest(folder: str) -> Any:
    """The parsed ``manifest.json`` of ``folder`` (None for an empty file), read as
    `KeyframeMap.load` reads it: a leading UTF-8 BOM (a Windows editor's) accepted. Raises
    OSError (none, unreadable) or ValueError (not UTF-8 JSON). The one reader of the checks
    that look at a manifest without loading the map."""
    with open(os.path.join(folder, "manifest.json"), "rb") as fh:
        return json.loads(fh.read().decode("utf-8-sig") or "null")


def is_keyframe_map(folder: str) -> bool:
    """``folder`` holds a manifest.json of this map format (a dataset's or an ONNX export's
    manifest.json is not one)."""
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == _MAP_FORMAT


def enclosing_folder(path: str, is_it: Callable[[str], bool]) -> Optional[str]:
    """The nearest folder holding ``path`` (resolved; its own folder first) for which
    ``is_it(folder)`` is true, else None. The walk up is bounded, as an output's own folder
    holds it: it stops below the user's home folder (for a path inside ``~``, neither ``~``
    nor a folder above it is looked at) and at a filesystem boundary (a mount point is looked
    at, the folders above it are not). Unbounded, a user's folder anywhere below a folder
    holding files of an output's generic names (results.jsonl with config.yaml: another
    tool's experiment folder, the home folder itself) was taken as inside that output."""
    folder = os.path.dirname(os.path.realpath(os.path.abspath(path)))
    home = _home()
    in_home = home is not None and _within(folder, home)
    while not (in_home and folder == home):
        if is_it(folder):
            return folder
        up = os.path.dirname(folder)
        if up == folder or os.path.ismount(folder):
            return None
        folder = up
    return None


def _home() -> Optional[str]:
    """The user's home folder, resolved; None where it is unknown or the root (``~`` unset
    and no passwd entry: a container's user)."""
    home = os.path.expanduser("~")
    if home == "~" or not os.path.isabs(home):
        return None
    home = os.path.realpath(home)
    return None if os.path.dirname(home) == home else home


def _within(folder: str, top: str) -> bool:
    """``folder`` is ``top`` or below it (both resolved)."""
    try:
        return os.path.commonpath([folder, top]) == top
    except ValueError:  # Windows: other drives
        return False


def refuse_inside_map_data(path: str, what: str = "--out") -> None:
    """Raise `InputError` when ``path`` lies inside one of a keyframe map's data folders
    (`MAP_DATA_FOLDERS`), naming the map and the fix."""
    folder = os.path.realpath(os.path.abspath(path))
    while True:
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        name = os.path.basename(folder)
        if name in MAP_DATA_FOLDERS and is_keyframe_map(parent):
            raise InputError(f"{what} {path} is inside the {name}/ folder of the keyframe map "
                             f"{parent}, which a rebuild of that map replaces whole (with what "
                             f"you wrote there); choose a folder outside {parent}")
        folder = parent
