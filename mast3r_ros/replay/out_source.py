"""No --out inside the recording read, nor a recording inside --out (build-map and localize),
nor a merged map's --out inside or over one of the maps it merges (merge-maps).

``localize data/seq --out data/seq/run`` wrote the run's files into the dataset folder (a later
copy or upload of it carries them, and a tool that lists the folder finds them), and
``build-map data/seq --out data/seq/map`` a keyframe map there; ``--out`` naming the folder
itself or one above it, with ``--overwrite``, would replace the recording with the output. Both
commands refuse those with `refuse_out_over_source` before the source is read. A camera folder
given as SOURCE (EuRoC's ``mav0/cam0``, KITTI's ``sequences/00/image_2``) stands for its
dataset folder (``mav0``, ``sequences/00``): an --out beside the camera is inside the recording
too. merge-maps refuses with `refuse_out_over_maps`. A localize run written inside its map
folder (``--out maps/kitchen/run1``) is kept there (docs/maps.md: the map is then never replaced
by ``--overwrite``), said at WARNING by `warn_run_inside_map` (a run inside another run's folder
too); a map built inside another map's folder by `warn_map_inside_map`. Imports nothing
heavy (the CLI's ``--help`` path).
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Sequence, Tuple

from ..core.errors import InputError
from ..core.map_nesting import enclosing_folder, is_keyframe_map
from ..core.recordings import BAG_STORAGE_SUFFIXES, recording_kind

log = logging.getLogger(__name__)


def _dataset_of_camera(real: str) -> str:
    """The dataset folder of a camera folder ``real`` (resolved): EuRoC/ASL ``mav0`` for
    ``mav0/camN`` (data.csv and data/), a KITTI sequence for its ``image_N`` (times.txt and
    calib.txt beside it); '' for any other folder."""
    parent = os.path.dirname(real)
    if (os.path.basename(parent) == "mav0" and os.path.isfile(os.path.join(real, "data.csv"))
            and os.path.isdir(os.path.join(real, "data"))):
        return parent
    if (os.path.basename(real) in ("image_0", "image_1", "image_2", "image_3")
            and all(os.path.isfile(os.path.join(parent, f)) for f in ("times.txt", "calib.txt"))):
        return parent
    return ""


def _folder_of(source: str) -> str:
    """The folder a recording ``source`` owns, resolved: the folder given (TUM, EuRoC, KITTI,
    rosbag2 folder), a camera folder's dataset folder (`_dataset_of_camera`), or a rosbag2
    storage file's bag folder (it has metadata.yaml); '' for a single file of its own (a ROS 1
    .bag, a lone .mcap/.db3), whose folder may hold anything."""
    real = os.path.realpath(os.path.abspath(source))
    if os.path.isdir(real):
        return _dataset_of_camera(real) or real
    parent = os.path.dirname(real)
    return parent if os.path.isfile(os.path.join(parent, "metadata.yaml")) else ""


def _recording(source: str) -> bool:
    """Whether ``source`` looks like a recording (`recording_kind`; a .bag, .mcap or .db3
    file): anything else is refused by the source's own error, which says more."""
    real = os.path.realpath(os.path.abspath(source))
    if os.path.isdir(real):
        return bool(recording_kind(real) or _dataset_of_camera(real))
    return real.lower().endswith((".bag",) + BAG_STORAGE_SUFFIXES)


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def refuse_out_over_source(source: str, out: str, what: str, suffix: str) -> None:
    """Raise `InputError` when ``out`` (--out) is the recording folder ``source`` (SOURCE), lies
    inside it, or holds it (the source file or folder inside --out, or --out the source file
    itself). ``what``: the output, for the message ('the map', 'the run'); ``suffix`` the
    example --out's ('_map', '_run'), named beside the recording. Both paths are compared
    resolved (links, '..'); an empty or missing SOURCE, or one that is no recording, is left
    to the source's own error."""
    if (not source or not str(source).strip() or not out or not os.path.lexists(source)
            or not _recording(source)):
        return
    real_src = os.path.realpath(os.path.abspath(source))
    real_out = os.path.realpath(os.path.abspath(out))
    folder = _folder_of(source)
    if folder and _inside(real_out, folder):
        where = ("is SOURCE itself" if real_out == real_src else
                 f"is SOURCE's dataset folder {folder}" if real_out == folder else
                 f"lies inside SOURCE's folder {folder}" if folder != real_src else
                 "lies inside SOURCE")
        example = os.path.join(os.path.dirname(folder), os.path.basename(folder) + suffix)
        raise InputError(f"--out {out} {where} ({source}): {what} would be written into the "
                         f"recording's folder, mixed with its files; choose an --out outside "
                         f"it (e.g. --out {example})")
    if _inside(real_src, real_out):
        head = f"--out {out} is SOURCE itself" if real_src == real_out else (
            f"--out {out} holds SOURCE {source}")
        example = os.path.join(os.path.dirname(real_out), os.path.basename(real_out) + suffix)
        raise InputError(f"{head}: writing {what} there (with --overwrite, replacing the "
                         f"folder) would write over the recording; choose an --out that does "
                         f"not hold it (e.g. --out {example})")


def refuse_out_over_maps(out: str, maps: Sequence[Tuple[str, str]]) -> None:
    """Raise `InputError` (one line) when ``out`` (merge-maps --out) is one of ``maps`` ((name,
    folder) pairs: ("A", a), ("B", b)), lies inside one, or holds one: the merged map would be
    written into an input it is still reading, or (--overwrite) replace it. Paths compared
    resolved (links, '..'); a missing map is left to the map's own error."""
    if not out or not str(out).strip():
        return
    real_out = os.path.realpath(os.path.abspath(out))
    for name, folder in maps:
        if not folder or not os.path.isdir(folder):
            continue
        real = os.path.realpath(os.path.abspath(folder))
        if real_out == real:
            why = (f"--out {out} is map {name}: the merge would replace an input it reads (and "
                   "lose its build_config.yaml and keyframes.png)")
        elif _inside(real_out, real):
            why = (f"--out {out} lies inside map {name} ({folder}): the merged map would be "
                   "written into an input map's folder, mixed with its files")
        elif _inside(real, real_out):
            why = (f"--out {out} holds map {name} ({folder}): with --overwrite the merge "
                   "would replace the folder, and the input map with it")
        else:
            continue
        example = os.path.join(os.path.dirname(real), os.path.basename(real) + "_merged")
        raise InputError(f"{why}; write the merged map to a new folder outside both maps "
                         f"(e.g. --out {example})")


def warn_run_inside_map(out: str, map_path: str) -> bool:
    """Warn (once, WARNING) when localize's ``out`` lies inside the map folder ``map_path``:
    the run is kept there, but a later ``build-map --out MAP --overwrite`` then refuses to
    replace the map ("the map also holds run1/", as check-map notes), which comes as a
    surprise long after this run. Paths compared resolved. True when warned. An --out that is
    the map (`refuse_map_as_run_out`) or holds it is refused elsewhere (`check_output_folder`:
    not a run folder). A run inside another run's folder is warned about the same way
    (`_warn_run_inside_run`); an ``out`` that exists and is no folder is refused right after,
    so it is not warned about."""
    if not out or (os.path.lexists(out) and not os.path.isdir(out)):
        return False
    if _warn_run_inside_run(out):
        return True
    if not map_path or not os.path.isdir(map_path):
        return False
    real_out = os.path.realpath(os.path.abspath(out))
    real_map = os.path.realpath(os.path.abspath(map_path))
    if real_out == real_map or not _inside(real_out, real_map):
        return False
    example = os.path.join(os.path.dirname(real_map), os.path.basename(real_map) + "_run")
    log.warning("--out %s lies inside the map folder %s: the run is kept there, but the map can "
                "then no longer be rebuilt in place (build-map --overwrite refuses a map holding "
                "other files) until the run is moved out; an --out beside the map (e.g. --out %s) "
                "avoids that", out, map_path, example)
    return True


def _warn_run_inside_run(out: str) -> bool:
    """Warn (WARNING) when localize's ``out`` lies inside a localize run's folder (one above
    it holds every one of `RUN_SIGNS`): the outer run can then no longer be replaced by
    ``--overwrite`` until this one is moved out. True when warned."""
    from ..core.output_kinds import RUN_SIGNS

    return _warn_inside(out, lambda f: all(os.path.isfile(os.path.join(f, n))
                                           for n in RUN_SIGNS),
                        "the run folder %s: the new run is kept there, but that run can then no "
                        "longer be replaced (localize --overwrite refuses a run holding other "
                        "files)")


def _warn_inside(out: str, is_outer: Callable[[str], bool], inside: str) -> bool:
    """Warn (WARNING) when ``out`` lies inside a folder above it that ``is_outer`` (the
    nearest, `enclosing_folder`), in the words ``inside`` (its ``%s`` the folder) and with an
    --out beside that folder as the example. True when warned."""
    real_out = os.path.realpath(os.path.abspath(out))
    folder = enclosing_folder(out, is_outer)
    if folder is None:
        return False
    example = os.path.join(os.path.dirname(folder), os.path.basename(real_out))
    log.warning("--out %s lies inside " + inside + " until this one is moved out; an --out "
                "beside it (e.g. --out %s) avoids that", out, folder, example)
    return True


def refuse_map_as_run_out(out: str) -> None:
    """`InputError` when localize's ``out`` is a keyframe map's folder (`is_keyframe_map`):
    said as what it is, with an --out beside it, rather than as the run files it lacks
    (`check_output_folder`'s refusal, with or without --overwrite)."""
    if out and out.strip() and is_keyframe_map(out):
        raise InputError(f"--out {out} is a keyframe map (it holds manifest.json and "
                         f"keyframes/), not a run folder; choose another --out (e.g. --out "
                         f"{out.rstrip('/')}_run)")


def warn_map_inside_map(out: str) -> bool:
    """Warn (WARNING) when build-map's ``out`` lies inside an existing keyframe map's folder
    (a folder above it is a map, `is_keyframe_map`): as a run there (`warn_run_inside_map`),
    the outer map can then no longer be rebuilt in place, and nothing said so (a fresh user's
    ``--out maps/site/v2``). Paths compared resolved. True when warned."""
    if not out or not str(out).strip():
        return False
    return _warn_inside(out, is_keyframe_map,
                        "the keyframe map %s: the new map is kept there, but that map can then "
                        "no longer be rebuilt in place (build-map --overwrite refuses a map "
                        "holding other files)")


def refuse_resume_of_finished(out: str, marker: str, what: str, restart: bool = False) -> None:
    """Raise `InputError` for ``--resume`` (without --overwrite) of an ``out`` that holds a
    finished output (its ``marker`` file: a run's metrics.json, a map's manifest.json) and no
    ``OUT.partial``: the generic 'already exists (pass --overwrite ...)' sent a user who reran
    the resume from the shell history to --overwrite, which does every frame again. ``what``:
    "run", "map". A live writer holding ``out``'s lock is named first (`refuse_busy_output`);
    ``restart`` (given with --resume) first of all: the conflict, as with an ``OUT.partial``."""
    from ..core.fileio import output_path, refuse_busy_output

    if restart:
        from .run_resume import RESUME_AND_RESTART

        raise InputError(RESUME_AND_RESTART)

    refuse_busy_output(out, "--out")
    published = output_path(out)
    if (os.path.lexists(published.rstrip("/") + ".partial")
            or not os.path.isfile(os.path.join(published, marker))):
        return
    raise InputError(f"--resume: {out} is a finished {what} (it has {marker}, and no "
                     f"{os.path.basename(published.rstrip('/'))}.partial is left to continue): "
                     f"nothing to resume, the {what} is complete; --overwrite instead of "
                     f"--resume would make it again from the start")
