"""Where a keyframe map may be published: the rules `MapWriter` and the command line apply to
the map folder (``MAP``) and to a resumable build folder (``MAP.partial``) before any work.

An empty folder at ``MAP`` is replaced without ``overwrite`` too (the rename replaces it in one
step, and fails should it be written into meanwhile: `publish.rename_onto_empty`). Any other
existing ``MAP`` is replaced only with ``overwrite`` and only when it is a keyframe map (its
``manifest.json`` names this format, or one that does not parse beside ``keyframes/``: a damaged
map) or an empty folder -- never a folder whose ``manifest.json`` cannot be read (a link loop):
the rule of the CLI's ``--overwrite`` (`fileio.check_output_folder`); a map folder that also
holds entries no map build writes (`_MAP_ENTRIES`: a run folder or notes kept inside it) is not
replaced either, so a mistyped path never deletes other data. `check_map_out` is the command
line's wording of the same check.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from ..errors import InputError
from ..fileio import LOCK_SUFFIX, check_output_folder, output_path
from ..publish import is_empty_folder
from ..map_nesting import read_manifest
from .layout import FORMAT_NAME, MANIFEST
from .table import KEYFRAME_TABLE


def _listing(folder: str, names: List[str], most: int = 4) -> str:
    """``a.txt, notes/ and 3 more`` (folders with a slash) for messages."""
    shown = [n + ("/" if os.path.isdir(os.path.join(folder, n)) else "") for n in names[:most]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# the top-level entries a map of any version holds (v1's retrieval.npz included), and the two
# files `mast3r-ros build-map` adds (replay.pipeline); temporary files of an interrupted
# encoding or manifest update start with ".tmp-"
_MAP_ENTRIES = frozenset((MANIFEST, KEYFRAME_TABLE, "keyframes", "retrieval", "encodings",
                          "retrieval.npz", "build_config.yaml", "keyframes.png"))
# the lock a localizer caching encodings takes inside a map whose parent folder is read-only
# (`MapEncodings.save_encodings`); a killed one leaves it
_ENCODINGS_LOCK = ".encodings" + LOCK_SUFFIX


def foreign_entries(folder: str) -> str:
    """The top-level entries of map ``folder`` that no map build writes (a run folder or notes
    kept inside it), listed for a message (`_listing`; '' when none): what ``--overwrite``
    refuses to delete with the map (`check-map` says so ahead); '' too for a folder this user
    may enter but not list (mode 0711: its map files are read by name)."""
    try:
        names = sorted(os.listdir(folder))
    except PermissionError:
        return ""
    return _listing(folder, [n for n in names if _foreign(n)])


def dropped_encodings(folder: str, kept: List[Dict[str, Any]]) -> List[str]:
    """``'<identity> at <size>'`` of each encoding set the map at ``folder`` caches and the map
    replacing it (its manifest's ``encodings``: ``kept``) does not: lost with the old map, so
    the first localize with that checkpoint recomputes them (hours on a large map). Empty when
    ``folder`` holds no readable map manifest."""
    try:
        entries = read_manifest(folder).get("encodings") or []
    except (OSError, ValueError, AttributeError):
        return []
    have = {(e.get("identity"), e.get("image_size")) for e in kept}
    return [f"{str(e.get('identity'))[:16]} at {e.get('image_size')}" for e in entries
            if isinstance(e, dict) and (e.get("identity"), e.get("image_size")) not in have]


def _foreign(name: str) -> bool:
    return name not in _MAP_ENTRIES and not name.startswith(".tmp-") and name != _ENCODINGS_LOCK


def _manifest_unread(folder: str) -> str:
    """Why ``folder``'s manifest.json cannot be read ('' when it can, or is not there): a link
    loop, a link to nothing, a folder of that name, no permission. Such a manifest may be any
    tool's, so it says nothing about what the folder is."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.lexists(path):
        return ""
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as e:
        return str(e.strerror or e)
    return ""


def _is_keyframe_map(folder: str, names: List[str]) -> bool:
    """A folder `MapWriter` may replace with ``overwrite``: its manifest names this map format,
    or (a damaged map) it has a manifest that does not parse beside a ``keyframes`` folder. An
    ONNX export (``format`` "mast3r_ros-onnx") or another tool's manifest.json is not one, nor
    is a folder whose manifest cannot be read at all (`_manifest_unread`)."""
    if MANIFEST not in names:
        return False
    try:
        manifest = read_manifest(folder)
    except OSError:
        return False
    except ValueError:
        manifest = None
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt is not None:
        return fmt == FORMAT_NAME
    return os.path.isdir(os.path.join(folder, "keyframes"))


def _check_target(given: str, full: str, overwrite: bool, cli: bool = False) -> None:
    """Refuse ``full`` (``given``: as the user wrote it) as the folder a map is published at:
    an existing file or link to nothing always, an existing folder unless ``overwrite``, and with
    ``overwrite`` a folder that is neither empty nor a keyframe map (`_is_keyframe_map`) -- the
    rule of the CLI's ``--overwrite`` (`fileio.check_output_folder`), so that a mistyped path
    never deletes other data. ``cli``: worded for the command line (``--out``, ``--overwrite``)
    instead of for the Python API (``MapWriter(overwrite=True)``)."""
    if not os.path.lexists(full):
        return
    who, flag, other = (("--out", "--overwrite", "another --out") if cli else
                        ("MapWriter", "overwrite=True", "another path"))
    if not os.path.isdir(full):
        kind = "a link to nothing" if os.path.islink(full) else "a file"
        raise InputError(f"{who}: {given} exists and is {kind}, not a map folder; not "
                         f"replacing it, even with {flag} (choose {other}, or remove it "
                         "yourself)")
    if not overwrite and not is_empty_folder(full):  # an empty one holds nothing to lose
        how = "--overwrite" if cli else "overwrite=True -- the CLI's --overwrite --"
        raise InputError(f"map folder already exists: {given} (pass {how} to replace it, or "
                         f"choose {other})")
    refused = flag if cli else f"MapWriter({flag})"
    try:
        names = sorted(os.listdir(full))
    except OSError as e:
        raise InputError(f"{refused}: cannot list {given} ({e.strerror or e}); not replacing "
                         f"it (choose {other})") from None
    unread = _manifest_unread(full) if names else ""
    if unread:  # a link loop was taken for a damaged map and replaced without a word
        raise InputError(f"{refused}: the {MANIFEST} of {given} cannot be read ({unread}), so "
                         f"whether it is a keyframe map cannot be told (it holds "
                         f"{_listing(full, names)}); not replacing it (fix or remove "
                         f"{MANIFEST} yourself, or choose {other})")
    if names and not _is_keyframe_map(full, names):
        raise InputError(f"{refused}: {given} is not a keyframe map (no {FORMAT_NAME} "
                         f"{MANIFEST}; it holds {_listing(full, names)}), so it is not replaced "
                         f"(choose {other}, or remove it yourself)")
    foreign = [n for n in names if _foreign(n)]
    if foreign:
        raise InputError(f"{refused}: the map {given} also holds {_listing(full, foreign)}, "
                         "which no map build writes (a run folder or notes kept inside it?); "
                         "replacing the map would delete them, so it is not replaced (move "
                         f"them out of the map folder, or choose {other})")


def check_map_out(path: str, overwrite: bool) -> None:
    """The command line's check of a map folder to write (``--out MAP``, ``--overwrite``),
    before any work: `fileio.check_output_folder`'s rules, and with ``--overwrite`` only a
    keyframe map or an empty folder is replaced, as `MapWriter` will insist -- refused here in
    the command line's words (``--overwrite: MAP is not a keyframe map ...``) rather than the
    writer's (``MapWriter(overwrite=True): ...``). Raises `InputError`."""
    def overwrite_refusal() -> Optional[str]:  # the refusal --overwrite would meet, if any
        try:
            _check_target(path, output_path(path), True, cli=True)
        except InputError as refused:
            return str(refused).replace("--overwrite: ", "", 1)
        return None

    check_output_folder(path, overwrite, (MANIFEST,), overwrite_refusal=overwrite_refusal)
    _check_target(path, output_path(path), overwrite, cli=True)


def _check_partial(given: str, partial: str, resume: bool) -> None:
    """Refuse a ``MAP.partial`` that is not an unfinished map build (every `MapWriter` build
    folder has ``keyframes/`` from the start): it is deleted without ``resume`` and written into
    with it, so another file or folder of that name would be lost."""
    if not os.path.lexists(partial):
        return
    if not os.path.isdir(partial):
        raise InputError(f"MapWriter: {partial} (where a resumable build of {given} is made) "
                         "exists and is not a folder; remove it or choose another path")
    names = sorted(os.listdir(partial))
    if names and "keyframes" not in names:
        act = "resuming in" if resume else "deleting"
        raise InputError(f"MapWriter: {partial} (where a resumable build of {given} is made) is "
                         f"not an unfinished map build (no keyframes/; it holds "
                         f"{_listing(partial, names)}); not {act} it: move it away or choose "
                         "another path")


def finished_shards(partial: str) -> int:
    """The encoded shards (``encodings/*/shard_*.json`` markers, `replay.parallel_build`) an
    unfinished build in ``partial`` holds: the work ``resume`` keeps (0 when none, or
    unreadable)."""
    root = os.path.join(partial, "encodings")
    try:
        stores = [os.path.join(root, n) for n in os.listdir(root)]
    except OSError:
        return 0
    count = 0
    for store in stores:
        try:
            count += sum(n.startswith("shard_") and n.endswith(".json")
                         for n in os.listdir(store))
        except OSError:
            continue
    return count


class UnfinishedBuildError(InputError):
    """A resumable build folder holds finished work and neither ``resume`` nor ``overwrite``
    says what to do with it; ``partial`` the folder, ``shards`` its encoded shards."""

    def __init__(self, message: str, partial: str, shards: int):
        super().__init__(message)
        self.partial = partial
        self.shards = shards
