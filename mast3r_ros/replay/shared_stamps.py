"""Two different images at one timestamp in an image list (a TUM folder's rgb.txt, an EuRoC
camera's data.csv) or a bag's image topic (two different messages at one header stamp,
`bag_shared_stamps`): their ground truth is ambiguous, and such frames are left out of it.

A ground-truth pose is taken at a frame's stamp (`mast3r_ros.core.trajectory`'s pose-at-stamp
rule), so two images at one stamp get one pose, though at most one of them was taken then: a
line edited or merged wrongly. Scored against it, the other image's error is the distance
between the two camera poses, not the localizer's (redkitchen, query line 5 re-stamped with
line 4's: the median went from 1.12 to 1.15 cm without a word; docs/bench/
shared_stamp_median_cpu_2026-12-11i). Which image the pose is
for cannot be told from the files, so both frames are still read and localized, but get no
ground-truth pose: the error figures and recall leave them out, metrics.json counts and names
them (``ambiguous_groundtruth``), the table says so, and build-map does not place them as
keyframes (a keyframe at the other image's pose would misplace its points in the map), with
``--trajectory`` too, and says why in its count of frames without a pose (`no_pose_note`). The
list is said once, with its line numbers and the fix.

A trajectory file given with ``--groundtruth`` or ``--trajectory`` that gives one stamp two
different poses (a trajectory.tum written by a run whose two images shared a stamp) is the same
ambiguity on the other side (`SharedPoses`): the frames whose pose would be taken from that stamp
get none (`frames_on_shared_poses`), named as the file's. So does a TUM folder's own
groundtruth.txt (`own_shared_poses`: the folder's, where its poses are used).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

MAX_NAMED = 3  # stamps whose lines the warning names; the rest are counted

FIX = ("give each line its own image's stamp (the recording's; TUM and 7-Scenes file names "
       "carry it) or delete the line that is wrong")
BAG_FIX = ("stamp each image with its own capture time where the images are published (the "
           "camera driver's header.stamp)")


class SharedStamps:
    """The stamps an image list gives to two or more different images.

    ``path``: the list (str, as messages name it); ``stamps_ns`` (N,) int64 ns, ``files`` (N,)
    file names and ``linenos`` (N,) 1-based line numbers, one per line as read (a line that
    repeats another's stamp and file is dropped before: the same image). ``stamps`` is the
    frozenset of shared stamps (int ns; empty when none) and ``lines`` maps each to its lines.
    ``unit`` "image" (`bag_shared_stamps`): ``linenos`` are image numbers (1-based, in bag
    order), ``files`` digests of the messages (not named), ``path`` the topic and the bag.
    """

    def __init__(self, path: str, stamps_ns: np.ndarray, files: Sequence[str],
                 linenos: Sequence[int], unit: str = "line") -> None:
        self.path, self.unit = str(path), unit
        groups: Dict[int, List[Tuple[int, str]]] = {}
        for stamp, name, n in zip(np.asarray(stamps_ns).tolist(), files, linenos):
            groups.setdefault(int(stamp), []).append((int(n), str(name)))
        self._groups = {s: sorted(g) for s, g in groups.items()
                        if len({name for _, name in g}) > 1}
        self.stamps: FrozenSet[int] = frozenset(self._groups)
        self.lines: Dict[int, List[int]] = {s: [n for n, _ in g] for s, g in self._groups.items()}

    def __bool__(self) -> bool:
        return bool(self.stamps)

    def warning(self) -> Optional[str]:
        """The one line that says it (the list, the lines, what is done, the fix), or None."""
        if not self.stamps:
            return None
        said = []
        for stamp in sorted(self.stamps)[:MAX_NAMED]:
            g = self._groups[stamp]
            names = "" if self.unit == "image" else f" ({', '.join(name for _, name in g)})"
            said.append(f"{self.unit}s {_and(str(n) for n, _ in g)} at t={stamp * 1e-9:.6f} s"
                        + names)
        more = len(self.stamps) - len(said)
        frames = sum(len(g) for g in self._groups.values())
        return (f"{self.path}: {len(self.stamps)} timestamp(s) given to two or more different "
                f"images: {'; '.join(said)}{f'; and {more} more' if more else ''}: the "
                f"pose at such a stamp cannot be told to be either image's, so these {frames} "
                "frames get none: localize leaves them out of its accuracy figures "
                "(metrics.json 'ambiguous_groundtruth'), build-map takes none as a keyframe; "
                f"fix: {BAG_FIX if self.unit == 'image' else FIX}")

    def warn(self) -> None:
        """Log `warning` (when there is one)."""
        text = self.warning()
        if text:
            log.warning("%s", text)


def _gives(shared: SharedStamps) -> str:
    return ("two or more different poses" if isinstance(shared, SharedPoses)
            else "two or more images")


def _and(items: Any) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else items[0]


def ambiguous_stamps(source: Any) -> Optional[SharedStamps]:
    """``source``'s `SharedStamps` (a TUM or EuRoC folder's; None for other sources, or
    when it has none)."""
    shared = getattr(source, "shared_stamps", None)
    return shared if isinstance(shared, SharedStamps) and shared else None


def leave_out_ambiguous(stamps_ns: Sequence[int], gt_poses: np.ndarray,
                        shared: Optional[SharedStamps], trajectory: Optional[Sequence[Any]] = None,
                        rule: Any = None) -> Tuple[np.ndarray, Optional[Dict[str, Any]]]:
    """(``gt_poses`` with NaN at the frames whose stamp ``shared`` names, metrics.json's
    ``ambiguous_groundtruth``: ``{"frames": k, "stamps_ns": [...], "file": the list, "lines":
    [its line numbers]}`` -- a bag's: ``"images"``, its image numbers, for ``"lines"`` --, or
    None when no frame of the run is at such a stamp).
    ``stamps_ns``: the run's frames' (N,) int ns; ``gt_poses`` (N, 4, 4), a copy is returned.
    Also a ``--groundtruth`` file's poses: the ambiguity is the images', not the file's.
    ``trajectory``: the ``--groundtruth`` / ``--trajectory`` file the poses came from as
    (stamps (M,) int ns, poses (M, 4, 4), its `SharedPoses`), looked up by ``rule`` (a
    `PoseAtStampConfig`): the frames whose pose it takes from a stamp it gives two different
    poses are left out too (`frames_on_shared_poses`); the entry is then the file's, with
    ``"shared": "poses"``. When both leave frames out, the entry is ``{"frames": k (either's),
    "stamps_ns": [...], "files": [the image list's entry, the file's]}``, each of those with
    its own ``frames`` (`ambiguous_files`)."""
    hit = np.zeros(len(stamps_ns), dtype=bool)
    if shared:
        hit = np.isin(np.asarray(stamps_ns, dtype=np.int64), list(shared.stamps))
    own = hit.any()
    poses_shared = trajectory[2] if trajectory is not None and len(trajectory) > 2 else None
    on_file = (frames_on_shared_poses(trajectory[0], trajectory[1], stamps_ns, rule)
               if poses_shared and len(stamps_ns) else np.zeros(len(stamps_ns), dtype=bool))
    hit |= on_file
    if not hit.any():
        return gt_poses, None
    gt = np.array(gt_poses, dtype=np.float64, copy=True)
    gt[hit] = np.nan
    stamps = sorted({int(s) for s, h in zip(stamps_ns, hit) if h})
    entries = []
    if own:
        assert shared is not None
        at = sorted({int(s) for s in stamps_ns if int(s) in shared.stamps})
        entries.append({"frames": int(np.isin(np.asarray(stamps_ns, dtype=np.int64), at).sum()),
                        "stamps_ns": at, "file": shared.path, f"{shared.unit}s": sorted(
                            n for s in at for n in shared.lines[s])})
    if on_file.any():
        assert poses_shared is not None
        at = sorted({int(s) for s, h in zip(stamps_ns, on_file) if h})
        used = _samples_used(np.asarray(trajectory[0], dtype=np.int64), at)  # type: ignore
        entries.append({"frames": int(on_file.sum()), "stamps_ns": at,
                        "file": poses_shared.path, "lines": sorted(
                            n for s in used if s in poses_shared.stamps
                            for n in poses_shared.lines[s]), "shared": "poses"})
    if len(entries) == 1:
        return gt, entries[0]
    return gt, {"frames": int(hit.sum()), "stamps_ns": stamps, "files": entries}


def ambiguous_files(entry: Dict[str, Any]) -> List[Dict[str, Any]]:
    """metrics.json's ``ambiguous_groundtruth`` ``entry`` as one dict per file that left frames
    out (``file``, ``lines`` or a bag's ``images``, ``frames``, ``stamps_ns``, ``shared``
    'poses' for a trajectory file's): its ``files`` when both the image list and a trajectory
    did, else the entry itself (one file; a run's from before ``files``)."""
    files = entry.get("files")
    return list(files) if isinstance(files, list) and files else [entry]


def ambiguous_said(entry: Dict[str, Any], counts: bool = False) -> str:
    """'q/rgb.txt gives to two or more images (lines 3, 4)' for each file of ``entry``
    (`ambiguous_files`), joined by ' or '; ``counts``: each with its frames ('; 2 frames')
    when there are two files."""
    said = []
    files = ambiguous_files(entry)
    for f in files:
        unit = "images" if "images" in f else "lines"  # a bag's image numbers, a list's lines
        listed = f.get(unit) or []
        named = ", ".join(str(n) for n in listed[:6]) + (", ..." if len(listed) > 6 else "")
        n = f.get("frames")
        each = (f"; {n} frame{'s' if n != 1 else ''}" if counts and len(files) > 1
                and isinstance(n, int) else "")
        said.append(f"{f.get('file')} gives to two or more "
                    f"{'different poses' if f.get('shared') == 'poses' else 'images'} "
                    f"({unit} {named}{each})")
    return " or ".join(said)


class SharedPoses(SharedStamps):
    """The stamps a trajectory file (``--groundtruth``, ``--trajectory``: a trajectory.tum a run
    wrote for two images at one stamp holds two poses there; a TUM folder's own groundtruth.txt,
    ``own`` True) gives two or more different poses (``files``: each line's pose as read, text;
    ``linenos``: its lines). Which is the camera's there cannot be told, so a frame whose pose
    the lookup would take from it gets none."""

    own = False  # a TUM folder's groundtruth.txt, not a file given with an option

    def warning(self) -> Optional[str]:
        """The one line that says it (the file, the lines, what is done, the fix), or None."""
        if not self.stamps:
            return None
        said = [f"lines {_and(str(n) for n in self.lines[s])} at t={s * 1e-9:.6f} s"
                for s in sorted(self.stamps)[:MAX_NAMED]]
        more = len(self.stamps) - len(said)
        how = ("localize leaves it out of its accuracy figures (metrics.json "
               "'ambiguous_groundtruth'), build-map takes it as no keyframe; fix: give each pose "
               "its own time or delete the line that is wrong" if self.own else
               "localize --groundtruth leaves it out of its accuracy figures (metrics.json "
               "'ambiguous_groundtruth'), build-map --trajectory takes it as no keyframe; fix: "
               "give each pose its own time (a trajectory.tum of a run whose images shared a "
               "stamp: fix their stamps and localize again)")
        return (f"{self.path}: {len(self.stamps)} timestamp(s) given two or more different "
                f"poses: {'; '.join(said)}{f'; and {more} more' if more else ''}: which is the "
                "camera's there cannot be told, so a frame whose pose would be taken from one "
                f"gets none: {how}")


def own_shared_poses(source: Any) -> Optional[Tuple[np.ndarray, np.ndarray, SharedPoses]]:
    """``source``'s own ground truth (a TUM folder's groundtruth.txt: its ``own_trajectory``,
    (stamps (M,) int ns, poses (M, 4, 4), its `SharedPoses`)) when it gives a stamp two
    different poses, for `leave_out_ambiguous` and `no_pose_note`; None otherwise."""
    own = getattr(source, "own_trajectory", None)
    return own if isinstance(own, tuple) and len(own) == 3 and own[2] else None


def poses_sharing_a_stamp(path: Any, stamps_ns: np.ndarray, values: np.ndarray,
                          linenos: Sequence[int]) -> SharedPoses:
    """The `SharedPoses` of a trajectory file as read (``values`` (N, 7) tx ty tz qx qy qz qw,
    ``linenos`` its lines); one pose repeated at its stamp is not ambiguous. Not warned."""
    return SharedPoses(str(path), stamps_ns, [" ".join(map(repr, v)) for v in
                                              np.asarray(values).tolist()], linenos)


def frames_on_shared_poses(stamps_ns: np.ndarray, poses: np.ndarray, query_ns: Sequence[int],
                           rule: Any) -> np.ndarray:
    """(M,) bool: the frames (``query_ns`` int ns) whose pose by the pose-at-stamp ``rule``
    (`PoseAtStampConfig`) from the trajectory (``stamps_ns`` (N,), ``poses`` (N, 4, 4))
    depends on which of the poses at a repeated stamp is taken: at that stamp, interpolated
    across it, or nearest to it -- those whose lookup differs when the last of them is kept
    instead of the first."""
    from ..core.trajectory import poses_at_stamps

    query = np.asarray(query_ns, dtype=np.int64)
    tol, gap = round(rule.tolerance_s * 1e9), round(rule.max_gap_s * 1e9)
    first = poses_at_stamps(stamps_ns, poses, query, tol, gap)[0]
    last = poses_at_stamps(np.asarray(stamps_ns)[::-1], np.asarray(poses)[::-1], query, tol,
                           gap)[0]
    same = (first == last) | (np.isnan(first) & np.isnan(last))
    return ~same.all(axis=(1, 2))


def _samples_used(stamps_ns: np.ndarray, frames_ns: Sequence[int]) -> List[int]:
    """The trajectory stamps at or around (the two bracketing) each of ``frames_ns``."""
    u = np.unique(stamps_ns)
    out = set()
    for t in frames_ns:
        i = int(np.searchsorted(u, t))
        out.update(int(u[j]) for j in (i - 1, i) if 0 <= j < u.size)
    return sorted(out)


def no_pose_note(shared: Optional[SharedStamps], missing_ns: Sequence[int],
                 trajectory: Optional[Sequence[Any]] = None, rule: Any = None
                 ) -> Tuple[Optional[str], List[int]]:
    """build-map's reason for its frames without a pose (``missing_ns``, int ns) that are at a
    stamp ``shared`` names ('2 at a stamp FILE gives to two images (lines 4, 5): ...'), or
    None, and the other frames' stamps, for the other reasons. With ``trajectory`` (stamps
    (M,) int ns, poses (M, 4, 4), its `SharedPoses`: the poses looked up) and ``rule`` (the
    `PoseAtStampConfig`), a frame interpolated across (or nearest to) a stamp given two poses
    (`frames_on_shared_poses`) is one of them too, said as 'at or posed across a stamp' with
    the lines of the poses it was taken from (it got the generic reason, a gap between poses,
    though its pose was left out for the shared stamp)."""
    if not shared:
        return None, list(missing_ns)
    at = {int(s) for s in missing_ns if int(s) in shared.stamps}
    across: set = set()
    if (isinstance(shared, SharedPoses) and trajectory is not None and rule is not None
            and len(missing_ns)):
        on = frames_on_shared_poses(trajectory[0], trajectory[1], missing_ns, rule)
        across = {int(s) for s, h in zip(missing_ns, on) if h} - at
    hit = [int(s) for s in missing_ns if int(s) in at or int(s) in across]
    rest = [int(s) for s in missing_ns if int(s) not in at and int(s) not in across]
    if not hit:
        return None, rest
    used = (_samples_used(np.asarray(trajectory[0], dtype=np.int64), sorted(across))
            if across else [])  # type: ignore[index]
    lines = sorted({n for s in sorted(at) + used if s in shared.stamps for n in shared.lines[s]})
    return (f"{len(hit)} {'is' if len(hit) == 1 else 'are'} "
            f"{'at or posed across' if across else 'at'} a stamp {shared.path} gives to "
            f"{_gives(shared)} ({shared.unit}s {', '.join(map(str, lines))}), " + (
                "of which one at most is the camera's" if isinstance(shared, SharedPoses) else
                "whose pose there is either image's or neither's") + (
                ": fix the file as its warning says") + (
                f"; the other {len(rest)}: " if rest else ""), rest)


def no_pose_notes(images: Optional[SharedStamps], trajectory: Optional[Sequence[Any]],
                  missing_ns: Sequence[int], rule: Any = None) -> Tuple[Optional[str], List[int]]:
    """`no_pose_note` for the image list's shared stamps (``images``) and then, for the frames
    left, for the poses' (``trajectory``: (stamps, poses, `SharedPoses` or None), the
    ``--trajectory`` file or a folder's own groundtruth.txt; None without): each frame the
    reason of the file that left it without a pose, not the gap reason of the rest."""
    note, rest = no_pose_note(images, missing_ns)
    poses = trajectory[2] if trajectory is not None and len(trajectory) > 2 else None
    if poses and rest:
        more, rest = no_pose_note(poses, rest, trajectory, rule)
        note = (note or "") + (more or "") or None
    return note, rest


def bag_shared_stamps(label: str, topic: str, stamps_ns: Sequence[int],
                      digests: Sequence[Any]) -> SharedStamps:
    """A bag's `SharedStamps`: the header stamps (as read: receive times under
    ``--image-stamp receive``) ``topic`` gives to two or more different image messages
    (``digests``: one per image, equal for a message recorded twice, the same image; None for one
    that cannot be deserialized, whose stamp is a guess: left alone). Stamp 0 is left alone: a
    driver that does not stamp its images, which `unstamped.warn_unstamped` says (no ground
    truth can be matched at 0 anyway). Warned once, as an image list's."""
    keep = [i for i, (s, d) in enumerate(zip(stamps_ns, digests)) if d is not None and s != 0]
    shared = SharedStamps(f"{topic} in {label}", np.asarray([stamps_ns[i] for i in keep],
                          dtype=np.int64), [str(digests[i]) for i in keep],
                          [i + 1 for i in keep], unit="image")
    shared.warn()
    return shared
