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
    """The nearest folder holding ``path`` (resolved; its own folder first, up to the root)
    for which ``is_it(folder)`` is true, else None."""
    folder = os.path.dirname(os.path.realpath(os.path.abspath(path)))
    while not is_it(folder):
        up = os.path.dirname(folder)
        if up == folder:
            return None
        folder = up
    return folder


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
