"""The files a TUM folder's lists name (rgb.txt, depth.txt), found as written or, for a list
written on Windows (``0.1 rgb\\0.1.png``), with its backslashes read as '/'.

On Linux a backslash is a legal file-name character, so a name is first tried as written; only
when that file does not exist is a name holding a backslash tried with '/' in its place (said
once per list file). Apart from `tum.py` to keep that module within its size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional, Sequence, Set, Tuple

from ..core.errors import InputError
from ..core.link_loops import link_loop

log = logging.getLogger(__name__)

_SAID: Set[str] = set()  # the list files whose backslash names were said to be read as '/'


def listed_file(folder: Path, path: Path, what: str, list_name: str) -> Path:
    """The file to read for ``path`` (``folder / name``, a name from ``folder / list_name``): as
    written when it is a file, else the name with each backslash read as '/' when that is one.

    Raises `InputError` ('cannot read {what} {path}: no such file (listed in ...)', naming the
    '/' reading too for a name with a backslash; '... a folder, not an image file ...'; the
    links followed for one that runs into a loop of symbolic links) when neither is a file."""
    listed_in = folder / list_name
    if path.is_file():
        return path
    name = _name(folder, path)
    slashed = folder / name.replace("\\", "/")
    if "\\" in name and slashed.is_file():
        if str(listed_in) not in _SAID:
            _SAID.add(str(listed_in))
            log.warning("%s names its files with backslashes (written on Windows?), such as "
                        "%s: read with '/' (%s)", listed_in, name, slashed)
        return slashed
    chain = link_loop(str(path))
    if chain is not None:  # there, but leading nowhere: not 'no such file'
        why = (f"it runs into a loop of symbolic links ({chain}), so it leads to no file: "
               "point the link at the real one (`ls -l` shows where each points)")
    elif path.is_dir():
        why = "a folder, not an image file"
    elif "\\" in name:
        why = f"no such file, nor {slashed} (its backslashes read as '/')"
    else:
        why = "no such file"
    raise InputError(f"cannot read {what} {path}: {why} (listed in {listed_in})")


_SKIPPED = "each is skipped as an unreadable frame when it is read"


def warn_missing_listed(folder: Path, paths: Sequence[Optional[Path]], list_name: str,
                        what: str, cost: str = _SKIPPED) -> int:
    """Stat every file a list names (``paths``, None: none listed) up front and warn once,
    when some are missing, ``LIST: N listed, M missing: first NAME (COST)``: a missing file is
    otherwise found only when it is read (a frame skipped as unreadable, as any other such
    frame: docs/maps.md, 'Frames that cannot be read'). A name is found as `found_listed`
    finds it (backslashes read as '/' too). ``what``: the files, plural ("colour images");
    ``cost``: what a missing one costs, for a reader that does not skip its frame ("they get
    no depth"). Used by the EuRoC (data.csv) and KITTI (times.txt, a file an index) readers
    too. Returns M."""
    listed = [p for p in paths if p is not None]
    missing = [p for p in listed if not found_listed(folder, p)]
    if missing:
        name = _name(folder, missing[0])
        log.warning("%s: %d %s listed, %d missing: first %s (%s)", folder / list_name,
                    len(listed), what, len(missing), name, cost)
    return len(missing)


def stereo_files_found(folder: Path, paths: Sequence[Optional[Path]], list_name: str,
                       what: str) -> Tuple[List[Optional[Path]], int]:
    """The right camera's image of each frame for --stereo-depth (``paths``, None: none of
    that frame), each as `listed_file` finds it (backslashes read as '/'), None where the file
    is missing: a missing one costs its frame's depth, not the frame, as a frame without a
    right image does. Warned once as `warn_missing_listed` does ('they get no depth');
    ``what``: the files, plural. Used by the EuRoC (cam1) and KITTI (image_1 / image_3)
    readers. Returns (the paths, (N,) as ``paths``; the number missing)."""
    missing = warn_missing_listed(folder, paths, list_name, what, "they get no depth")
    return [listed_file(folder, p, what, list_name)
            if p is not None and found_listed(folder, p) else None for p in paths], missing


def _name(folder: Path, path: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:  # an absolute name: read as a whole
        return str(path)


def found_listed(folder: Path, path: Path) -> bool:
    """Whether `listed_file` finds ``path`` (``folder / name``, a listed name) as a file: as
    written, or its backslashes read as '/'. Stats one or two paths; raises nothing."""
    if path.is_file():
        return True
    name = _name(folder, path)
    return "\\" in name and (folder / name.replace("\\", "/")).is_file()
