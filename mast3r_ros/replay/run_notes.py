"""The one line `mast3r-ros localize` ends with when no frame was evaluated: why, and where
ground truth can come from; the one line `build-map` ends with (`build_summary`). Apart from
`cli.py` to keep that module within its size; `cli` re-exports these names."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Dict

from .first_frames import NOT_BY_RUN, OF_BAG

log = logging.getLogger(__name__)


_NO_MATCH = ("their images have features but too few matches agreeing with one pose: a place "
             "this map does not hold (another map?), a part of it the map did not see, or "
             "mirrored or blurred images?")
# the failure_reasons keys (a reason's words before " (") that say what likely went wrong when
# most frames fail with them: a fresh user's kitchen frames against the demo's map read only
# 'too few PnP inliers (5)' (docs/bench/honesty_cpu_2026-12-07z)
_LIKELY_CAUSES = {
    "too few features in the query image": ("their images have too few features: a lens cap, "
                                            "lights off, an overexposed or blurred image?"),
    "too few PnP inliers": _NO_MATCH,
    "too few correspondences": _NO_MATCH,
    "too few inliers": _NO_MATCH,
    "image identical to the previous frame's": ("the camera repeated one image under new "
                                                "stamps: a frozen camera driver?"),
    "the image is upside down or sideways": ("the images are turned against the map's: a "
                                             "driver's flip or rotate setting?"),
}


def likely_cause(failure_reasons: Dict[str, int]) -> str:
    """What most failed frames' reasons say went wrong ("" when no known reason covers at least
    half of them): the words of `_LIKELY_CAUSES` for metrics.json's ``failure_reasons``."""
    total = sum(failure_reasons.values())
    counts: Dict[str, int] = {}
    for key, n in failure_reasons.items():
        cause = _LIKELY_CAUSES.get(key)
        if cause:
            counts[cause] = counts.get(cause, 0) + n
    best = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
    return best[0] if total and 2 * best[1] >= total else ""


def no_frame_localized_note(metrics: Dict[str, Any], out: str, matcher: str = "") -> str:
    """Why nothing was evaluated when no frame localized (one line): the ground truth is not
    to blame, so the note must not send the user to fix it (a fresh user's find); what the
    failures' reasons likely mean when most say one thing (`likely_cause`). With ``matcher``
    'mast3r', too few agreeing matches may be the weights' doing: said too (a random-weight
    test checkpoint's run was sent to look for another map or blurred images)."""
    have = metrics.get("frames_with_groundtruth", 0)
    cause = likely_cause(metrics.get("failure_reasons") or {})
    if cause == _NO_MATCH and matcher == "mast3r":
        cause += (" Or weights other than MASt3R's trained ones (README: 'Model weights'; a "
                  "random-weight test checkpoint localizes none)")
    return (f"no frame localized, so none could be evaluated ({have} of {metrics['frames']} "
            "have ground truth)" + (f"; most frames failed as {cause}" if cause else "")
            + "; why each failed: the 'failures' row above and "
            f"{os.path.join(out, 'results.jsonl')}")


def no_groundtruth_hint(source: Any, args: argparse.Namespace, rule: Any = None,
                        metrics: Any = None) -> str:
    """Why no frame was evaluated, and where ground truth can come from (one line): every
    image stamped 0; with ``metrics`` (the run's metrics.json), every localized frame left out
    as ambiguous (`ambiguous_note`); the
    reason of an EuRoC/ASL folder or KITTI sequence without any (`no_pose_source_reason`,
    its --trajectory said as --groundtruth); with ``rule`` (the run's `PoseAtStampConfig`),
    why the source's own ground-truth file (a TUM folder's groundtruth.txt) gave no frame a
    pose, as build-map says it: poses sampled wider apart than ``max_gap_s`` (with the fix) or
    of another time range."""
    stamps = getattr(source, "stamps_ns", None)
    if stamps is not None and len(stamps) and not any(int(s) for s in stamps):
        from .sources import stamps_written

        written = stamps_written(source)[0]
        if written:  # a TUM folder: its rgb.txt holds the stamps, no driver's header
            return (f"no frame was evaluated: every image is stamped 0 in {written}, so no "
                    "ground truth (groundtruth.txt, --groundtruth) can be matched to it; "
                    "write each image's capture time there")
        if getattr(source, "image_stamp", "header") == "receive":
            return ("no frame was evaluated: every image has receive time 0 in this bag, so no "
                    "ground truth (--groundtruth, /tf) can be matched to it; read the images' "
                    "header stamps instead (--image-stamp header)")
        return ("no frame was evaluated: every image has header stamp 0, so no ground truth "
                "(--groundtruth, /tf) can be matched to it; fix the camera driver's "
                "header.stamp, or read this bag at its receive times (--image-stamp receive)")
    said = ambiguous_note(metrics)  # after the stamps all 0, which rgb.txt shares too
    if said:
        return said
    localized = _localized_stamps(getattr(args, "out", None))  # the frames to be evaluated
    given = getattr(args, "groundtruth", None)
    if given and rule is not None:  # its own words: not a bag's tf, not the folder's file
        why = _given_groundtruth_reason(source, given, localized, rule)
        if why:
            return f"no frame was evaluated against ground truth: {why}"
    tf = bool(getattr(source, "tf_topics", None)) and not getattr(
        args, "pose_frames", None) and not getattr(args, "pose_topic", None)
    if tf:  # a bag's own words: its tf root and the images' frame (not always 'map')
        reason = getattr(source, "no_pose_source_reason", None)
        why = reason() if callable(reason) else None
        if why:
            return ("no frame was evaluated: "
                    + why.replace("--trajectory FILE", "--groundtruth FILE (TUM)"))
        return ("no frame was evaluated: this rosbag2 has /tf, so pass --pose-frames map (the "
                "pose of the images' own frame_id in 'map'; or map:CAMERA_FRAME) to evaluate "
                "against it, or --groundtruth FILE (TUM)")
    from .euroc import EurocSequence
    from .kitti import KittiSequence

    why = (source.no_pose_source_reason() if isinstance(source, (EurocSequence, KittiSequence))
           and not getattr(args, "groundtruth", None) else None)
    if why:  # no ground truth at all (EuRoC without one, KITTI 11-21): the reader says why,
        # with build-map's option; localize's is --groundtruth
        return (f"no frame was evaluated against ground truth: "
                f"{why.replace('--trajectory FILE', '--groundtruth FILE (TUM)')}")
    posed = (getattr(args, "pose_frames", None) or getattr(args, "pose_topic", None)) and not (
        getattr(args, "groundtruth", None))
    why = getattr(source, "no_pose_reason", None) if posed else None
    if isinstance(why, str):  # a bag's tf (or pose topic) at none of the stamps: its reason
        return f"no frame was evaluated against ground truth: {why}"
    own = _own_groundtruth_reason(source, rule, localized) if rule is not None else None
    if own:  # the folder has ground truth, at none of the frames' stamps: why, and the fix
        return f"no frame was evaluated against ground truth: {own}"
    return ("no frame was evaluated against ground truth (none covers their stamps): pass "
            "--groundtruth FILE (TUM), give a TUM folder a groundtruth.txt, or, for a rosbag2 "
            "with /tf, --pose-frames map:CAMERA_FRAME (an odometry or pose topic: --pose-topic "
            "TOPIC)")


def ambiguous_note(metrics: Any) -> str:
    """'no frame was evaluated against ground truth: all N localized frames are at stamps FILE
    gives to two or more images (lines ...) ...' when every localized frame of ``metrics`` (a
    run's metrics.json) was left out for its ambiguous ground truth (``ambiguous_groundtruth``,
    `shared_stamps`), with the fix; '' otherwise. Without it the note blamed the time range of
    the folder's groundtruth.txt, even under --groundtruth and with every frame inside it."""
    from .shared_stamps import BAG_FIX, FIX, ambiguous_files, ambiguous_said

    amb = metrics.get("ambiguous_groundtruth") if isinstance(metrics, dict) else None
    n = int(metrics.get("localized") or 0) if amb else 0
    if not n or int(amb.get("localized") or 0) < n:
        return ""
    fixes = []
    for f in ambiguous_files(amb):
        fix = ("give each pose its own time, or delete the line that is wrong"
               if f.get("shared") == "poses" else BAG_FIX if "images" in f else FIX)
        fixes.append(f"{f.get('file')}: {fix}" if len(ambiguous_files(amb)) > 1 else fix)
    return (f"no frame was evaluated against ground truth: all {n} localized frame(s) are at "
            f"stamps {ambiguous_said(amb)}, where which pose is the camera's cannot be told, "
            f"so they are left out (metrics.json 'ambiguous_groundtruth'); fix: "
            f"{'; '.join(fixes)}")


def _localized_stamps(out: Any) -> Any:
    """The stamps (int ns) of the frames the run in folder ``out`` localized, from its
    results.jsonl; None when it cannot be read (the notes then judge every frame)."""
    try:
        with open(os.path.join(str(out), "results.jsonl"), encoding="utf-8") as fh:
            return [int(r["stamp_ns"]) for r in map(json.loads, filter(str.strip, fh))
                    if r.get("success")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _given_groundtruth_reason(source: Any, path: str, localized: Any, rule: Any) -> Any:
    """Why ``--groundtruth`` ``path`` gave none of the ``localized`` frames (stamps, int ns;
    None: all the source's) a pose (`pipeline.poses_not_at_frames`: the time range it covers,
    or its gaps, with the fix); None when it cannot say. The note named the folder's own
    groundtruth.txt, or a bag's tf, and judged every frame of the source, not the run's:
    "outside .../groundtruth.txt (t=0.167..16.500 s) ...; the frames are at t=0.167..16.500
    s" for a --groundtruth of t >= 10 s and --max-frames 3."""
    from .pipeline import poses_not_at_frames
    from .tum_trajectory import read_tum_trajectory

    try:
        stamps = read_tum_trajectory(path)[0]
        frames = [int(s) for s in source.stamps_ns]
        return poses_not_at_frames((f"--groundtruth {path}", stamps), frames,
                                   frames if localized is None else localized, rule)
    except Exception:  # noqa: BLE001 - a closing note never fails a finished run
        return None


def _own_groundtruth_reason(source: Any, rule: Any, localized: Any = None) -> Any:
    """build-map's reason (`pipeline._why_no_pose`) for a source with a ground-truth file of its
    own (TUM groundtruth.txt, EuRoC/ASL's CSV), for the ``localized`` frames (stamps, int ns;
    None: every frame of the source); None for any other or when it cannot say."""
    stamps = getattr(source, "stamps_ns", None)
    if not callable(getattr(source, "groundtruth", None)) or stamps is None or not len(stamps):
        return None
    from .pipeline import _why_no_pose

    try:
        return _why_no_pose(source, None, [int(s) for s in stamps] if localized is None
                            else localized, rule)
    except Exception:  # noqa: BLE001 - a closing note never fails a finished run
        return None


def bag_image_stamp_note(source: Any, manifest: Dict[str, Any], map_path: str) -> Any:
    """localize's warning (`core.image_stamp.image_stamp_mismatch`, one line) for a bag read
    with another ``--image-stamp`` than the map's recording was (its manifest's
    ``image_stamp``); None for a source without the choice (a TUM/EuRoC/KITTI folder, the
    demo's scene: its times are the only ones it has), when they agree, or when the map
    records none. The map's poses came from its own recording; this bag's ground truth and
    output times are what its setting changes. A value the bag refuses (a video topic's
    'receive': its ``image_stamp_refused``) is never advised: what it means is said instead."""
    from ..core.image_stamp import image_stamp_mismatch

    return image_stamp_mismatch(
        getattr(source, "image_stamp", None), manifest, map_path,
        "this bag is read with " + (getattr(source, "image_stamp_said", None) or (
            f"{getattr(source, 'image_stamp_option', '--image-stamp')} "
            f"{getattr(source, 'image_stamp', None)}")),
        "this bag's ground truth (/tf, --groundtruth) and the times in trajectory.tum do",
        "pass --image-stamp", getattr(source, "image_stamp_refused", None))


def build_summary(out: str, path: str, frames: int) -> None:
    """build-map's result in one line on stdout: the map ``out`` (as given; published at
    ``path``) of ``frames`` frames, its keyframes, the frames without a pose (the log's
    warning says why), unreadable frames (with them, the frames
    not decoded, not keyframe candidates: the unreadable count covers only those decoded) and
    check's verdict (the check's full message is already in the log, on stderr, when it ran).
    A map frame whose z seems not up (`warn_map_not_z_up`) is warned about before it."""
    manifest = _manifest(path)
    n = (manifest.get("keyframe_table") or {}).get("num_keyframes",
                                                   len(manifest.get("keyframes") or ()))
    bad = (manifest.get("unreadable_frames") or {}).get("count", 0)
    not_read = (manifest.get("frames_not_read") or {}).get("count", 0)
    no_pose = (manifest.get("frames_without_pose") or {}).get("count", 0)
    # the frames never decoded (`frames_not_read`) qualify the unreadable count: said with it
    notes = ([f"{no_pose} without a pose, skipped"] if no_pose else []) + ([
        f"{bad} unreadable, skipped"] + (
        [f"{not_read} not read: not keyframe candidates"] if not_read else []) if bad else [])
    skipped = f" ({'; '.join(notes)})" if notes else ""
    cut = manifest.get("max_frames") or {}
    if cut.get("frames", 0) < cut.get("of_frames", 0):  # --max-frames: the recording's start
        of = (f"~{cut['of_frames']} in the bag, {NOT_BY_RUN}"
              if cut.get("of_frames_from") == OF_BAG else f"{cut['of_frames']}")
        skipped = f" (the first of {of}: --max-frames){skipped}"
    warn_map_not_z_up(path, out)
    sys.stdout.write(f"map {out}: {_count(n, 'keyframe')} from {_count(frames, 'frame')}"
                     f"{skipped}; {_check_summary(manifest.get('consistency') or {})}\n")


def warn_map_not_z_up(path: str, name: str) -> None:
    """Warn once (log, stderr) when the map at ``path`` (named ``name`` as the user gave it)
    seems built in a frame whose z is not up (`core.map_up.map_up_doubt`: its keyframe
    cameras' shared up more than 45 deg from its z): build-map's summary and check-map."""
    from ..core.errors import Mast3rRosError
    from ..core.keyframes import KeyframeMap

    try:
        kmap = KeyframeMap.load(path, lazy=True, check_files=False)
    except (Mast3rRosError, OSError) as err:  # a note never costs the summary it is part of
        log.debug("map %s: z-up check skipped: %s", name, err)
        return
    say_map_not_z_up(kmap, name)


def say_map_not_z_up(kmap: Any, name: str) -> None:
    """`warn_map_not_z_up` of an open `KeyframeMap` (check-map's)."""
    from ..core.map_up import map_up_doubt

    why = map_up_doubt(kmap.poses(), kmap.map_frame)
    if why:  # the node says it of localized poses
        log.warning("map %s: %s", name, why)


def _count(n: int, noun: str) -> str:
    """'1 keyframe', '2 keyframes'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _check_summary(check: Dict[str, Any]) -> str:
    """'map check: <verdict>' of a manifest's ``consistency`` record ({} when the check is off)."""
    if not check:
        return "map check: off (map_check.enabled false)"
    verdict = str(check.get("verdict", "unknown"))
    if check.get("forced"):
        return f"map check: {verdict}, forced (--force): {check.get('message', '')}"
    if verdict == "consistent":
        return "map check: consistent"
    return f"map check: {check.get('message', verdict)}"


def _manifest(path: str) -> Dict[str, Any]:
    """A written map's manifest: its ``consistency`` (the map check's figures, absent when not
    checked), ``unreadable_frames`` (absent when every frame decoded was read) and
    ``frames_not_read`` (absent when every frame was decoded) for the summary."""
    from ..core.keyframes.layout import MANIFEST

    with open(os.path.join(path, MANIFEST), encoding="utf-8") as fh:
        return json.load(fh)


def frame_selection(source: Any, source_path: str, stride: int, max_frames: int
                    ) -> Dict[str, Any]:
    """What a localize run takes of its recording, as run.json records it: ``source`` (SOURCE,
    absolute; '' when the caller named none), ``stride``, ``max_frames`` (0: all), ``frames``
    (how many that selects) and ``of_frames`` (the recording's; both None where the source's
    length is unknown; after a bag's indexing pass cut by --max-frames, the bag's image count
    from its metadata, with ``of_frames_from`` 'bag_metadata', as build-map's manifest)."""
    from .sources import selected_positions

    from .first_frames import OF_BAG

    n = len(source) if hasattr(source, "__len__") else None
    sel = {"source": os.path.abspath(os.path.expanduser(source_path)) if source_path else "",
           "stride": int(stride), "max_frames": int(max_frames),
           "frames": None if n is None else len(selected_positions(n, stride, max_frames)),
           "of_frames": n}
    if n is not None and getattr(source, "frames_counted_in_bag", False) is True:
        # a bag's indexing pass cut by --max-frames read n of its images: its metadata's count
        sel.update(of_frames=int(source.frames_in_recording), of_frames_from=OF_BAG)
    return sel


def selection_said(sel: Dict[str, Any]) -> str:
    """' (5 of its 50 frames: --stride 2 takes every 2nd, --max-frames 5 the first 5 of
    those)' for the summary's first line, as build-map's says its cut; '' when every frame
    is taken."""
    stride, cap, n, of = sel["stride"], sel["max_frames"], sel["frames"], sel["of_frames"]
    every = -(-of // stride) if of is not None else None  # the frames --stride leaves
    parts = [f"--stride {stride} takes every {ordinal(stride)}"] if stride > 1 else []
    if cap and (every is None or cap < every):
        parts.append(f"--max-frames {cap} the first {cap}" + (" of those" if parts else ""))
    if not parts:
        return ""
    counts = f"{n} of its {of} frames: " if n is not None else ""
    if n is not None and sel.get("of_frames_from"):  # a cut bag pass: the bag's image count
        from .first_frames import of_frames_text

        counts = f"{n} of {of_frames_text(of, True)}: "
    return f" ({counts}{', '.join(parts)})"


def ordinal(n: int) -> str:
    """'2nd', '3rd', '11th', '21st'."""
    tail = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{tail}"
