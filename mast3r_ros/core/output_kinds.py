"""What output of another ``mast3r-ros`` command a folder holds (a localize run, a pair, a
retrieval), for the messages that refuse it where a keyframe map is expected: a run is named
with the map it was localized against, which it records."""

from __future__ import annotations

import json
import os
from typing import Sequence

from .errors import InputError, Mast3rRosError

# files that show a folder is a localize run (RUN, or a stopped run's RUN.partial: results.jsonl
# and config.yaml), a `pair` output, a `retrieve` output; the first found names it
RUN_SIGNS = ("results.jsonl", "metrics.json")
OTHER_OUTPUTS = (("pair.npz", "a `mast3r-ros pair` output"),
                 # not pairs.txt, which hloc and COLMAP pair lists are named too
                 ("similarity.npy", "a `mast3r-ros retrieve` output"))


def recorded_map(run: str) -> str:
    """The map a localize run folder records it was localized against: metrics.json's ``map``,
    else (a stopped run's RUN.partial has no metrics.json) config.yaml's ``map_path``; '' when
    neither is readable or records one. Paths as recorded (absolute)."""
    try:
        with open(os.path.join(run, "metrics.json"), encoding="utf-8") as fh:
            recorded = json.load(fh).get("map")
        if isinstance(recorded, str) and recorded:
            return recorded
    except (OSError, ValueError, AttributeError):  # AttributeError: JSON but not an object
        pass
    from .config.recorded_file import load_recorded_config  # a run's config.yaml

    config = os.path.join(run, "config.yaml")
    if not os.path.isfile(config):
        return ""
    try:
        return str(load_recorded_config(config).node.map_path or "")
    except (Mast3rRosError, OSError, ValueError):
        return ""


def not_a_map(path: str, option: str = "", recorded_only: bool = False) -> str:
    """One line for ``path`` when it is another command's output, not a keyframe map; '' when
    it is none of those. A localize run is named with the map it records (`recorded_map`):
    "PATH is a localize run's output, not a map; it was localized against MAP: pass --map MAP"
    (``option``: the option that takes the map, '--map'; '' says "pass that
    folder"); a recorded map no longer there is said to be gone. ``recorded_only``: only that
    line of a run naming a map that is there ('' for the rest: said after the folder a run is
    kept in, when that is a map, as `KeyframeMap.load` says it)."""
    run = [n for n in RUN_SIGNS if os.path.isfile(os.path.join(path, n))]
    if run:
        used = recorded_map(path)
        if recorded_only and not (used and os.path.isdir(used)):
            return ""
        if not used:
            return (f"{path} is a localize run's output (it has {run[0]}), not a map, and it "
                    "records no map: pass the keyframe map folder (build-map --out)")
        head = (f"{path} is a localize run's output, not a map; it was localized against "
                f"{used}")
        if not os.path.isdir(used):  # moved or deleted since: naming it would not help
            return f"{head} (not there now): pass the keyframe map folder (build-map --out)"
        return f"{head}: pass {option} {used}" if option else f"{head}: pass that folder"
    if recorded_only:
        return ""
    for name, what in OTHER_OUTPUTS:
        if os.path.isfile(os.path.join(path, name)):
            return (f"{path} is {what} (it has {name}), not a map: pass the keyframe map "
                    "folder (build-map --out)")
    return ""


def refuse_other_output(path: str, option: str) -> None:
    """`InputError` (`not_a_map`'s line) when ``path``, given as the map by ``option``, is a
    localize run's folder (without a manifest.json) that names the map it was localized
    against: said before a recording is read (a rosbag2 is indexed first: minutes); any other
    output is named by the map's own open (`KeyframeMap.load`)."""
    if not os.path.isdir(path) or os.path.lexists(os.path.join(path, "manifest.json")):
        return
    message = not_a_map(path, option, recorded_only=True)
    if message:
        raise InputError(message)


def added_files_refusal(path: str, markers: Sequence[str], missing: Sequence[str],
                        foreign: Sequence[str]) -> str:
    """The refusal of an output folder of the command (``markers`` given, none ``missing``)
    that also holds entries it never writes (``foreign``: a run localized into it, notes):
    said as what it is, with what to move; '' for any other folder (`check_output_folder`
    then calls it no output of the command)."""
    if not markers or missing or not foreign:
        return ""
    held = f"{', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}"
    return (f"{path} holds this command's output files and others (it holds {held}), which "
            "it never writes: replacing the folder would delete them, so it is not replaced, "
            "with or without --overwrite (move them out of it, or choose another --out)")


def not_this_output_why(path: str, missing: Sequence[str], foreign: Sequence[str]) -> str:
    """Why the existing folder ``path`` is no output of the command (`check_output_folder`'s
    "(...)"): another command's output named as one, "it is a localize run's output (it has
    metrics.json)" (``build-map --out RUN --overwrite`` said only "it lacks manifest.json"),
    else the ``missing`` markers, else the ``foreign`` entries."""
    if missing:
        kinds = [("a localize run's output", n) for n in RUN_SIGNS] + list(
            (what, n) for n, what in OTHER_OUTPUTS)
        if os.path.isdir(os.path.join(path, "keyframes")):  # manifest.json alone: an export's
            kinds += [("a keyframe map", "manifest.json")]
        for what, name in kinds:
            if name not in missing and os.path.isfile(os.path.join(path, name)):
                return f"it is {what}: it holds {name}, not {', '.join(missing)}"
        return f"it lacks {', '.join(missing)}"
    return f"it holds {', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}"


def mount_point_refusal(path: str, full: str) -> str:
    """The line refusing ``--out path``, a mount point (``full``: it resolved): an output is
    built beside it and renamed onto it, which a mount point cannot be, so a folder inside it
    is named, unless the mount is read-only (a map folder mounted read-only on a robot), where
    such a folder cannot be written either (it was named all the same)."""
    try:
        read_only = bool(os.statvfs(full).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): as before
        read_only = False
    head = (f"--out {path} is a mount point: an output is built beside it and renamed into "
            "place, which a mount point cannot be")
    if read_only:
        return (f"{head}, and it is mounted read-only, so no folder inside it can be written "
                "either; choose an --out on a file system you can write to")
    return f"{head}; give a folder inside it (--out {os.path.join(path, 'NAME')})"
