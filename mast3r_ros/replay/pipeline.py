"""The offline pipeline: build a keyframe map from a recording, and the helpers the run side
(`mast3r_ros.replay.localize_run`: localize a recording, write a run folder) shares with it.

Plain functions of a `Config` and frame sources (`mast3r_ros.replay.sources`), no argparse: the
``mast3r-ros`` CLI parses arguments and calls these. The demo built on these is
`mast3r_ros.replay.demo`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from ..core.config import Config, PoseAtStampConfig, dump_config_yaml
from ..core.devices import apply_cpu_threads
from ..core.model.up_front import networks_up_front
from ..core.errors import InputError, after_publishing, mark_published
from ..core.progress_output import NoProgress, progress_bar
from ..core.fileio import check_output_folder, needs_overwrite
from ..core.keyframes import KeyframeSelector, MapWriter
from ..core.keyframes.target import finished_shards
from ..core.keyframes.layout import MANIFEST
from ..core.keyframes.pixels import DepthRangeError
from ..core.map_check import KeyframeCheck, KeyframeRecord
from ..core.path_expand import expand_path
from ..core.retrieval_index import IndexParams
from ..core.tf_buffer import EDGE_GAP_PERIODS
from ..core.trajectory import (bracketing_gaps, check_stamp_units, format_time_range,
                               poses_at_stamps, stamp_steps)
from ..core.types import Frame
from .map_build import (BuildOptions, add_asmk_index, check_build_files, commit_build,
                        network_takes,
                        connect_build_workers, encode_map_keyframes, kept_build_error,
                        open_map_writer)
from .first_frames import FirstFrames
from .parallel_build import BuildInterrupted
from .plots import plot_keyframes, skipped_indices, skipped_positions
from .sources import (FrameSource, check_own_poses, depth_needed_by, frames_or_unreadable,
                      refuse_without_depth, refuse_without_poses, stamps_written)
from .tum import SPLIT_FILE, read_tum_trajectory, trajectory_reset_reason
from .tum_trajectory import read_tum_trajectory_shared
from .shared_stamps import ambiguous_stamps, leave_out_ambiguous, no_pose_notes, own_shared_poses
from .unreadable import hold_unreadable
from .build_check import check_consistency
from .build_frames import (NOT_READ_REASON, SiftKeypoints, _MapStats, _NotRead,  # noqa: F401
                           _candidate_frames, _no_pose_record, _note_unreadable, _not_read_record,
                           _unreadable_record, _warn_unreadable_count)

log = logging.getLogger(__name__)


def progress(it: Iterable, total: Optional[int], desc: str, initial: int = 0,
             counts: Optional[Callable[[Any], bool]] = None, *, unit: str) -> Iterable:
    """``it`` with progress shown as `progress_output.progress_bar` decides: a bar on stderr
    when it is a terminal, INFO log lines at a modest cadence when not, nothing at
    --log-level warning or error. ``unit``: what it counts, singular ("frame", "keyframe":
    the lines say "12/50 keyframes"), no default so that each caller says it. With
    ``counts``, the bar starts at ``initial`` and advances only for the items ``counts`` is
    true of (a resumed run: its recorded frames pass in no time and would make the rate and
    the ETA a guess)."""
    bar = progress_bar(total, desc, unit, initial if counts is not None else 0)
    if isinstance(bar, NoProgress):
        return it
    return _counted(it, counts or _every, bar)


def keyframe_progress(it: Iterable, total: Optional[int], desc: str) -> Iterable:
    """`progress` counting keyframes: the map check's ``progress`` (`map_check.Progress`, three
    arguments, each loop over keyframes), so that its lines say '12/50 keyframes'."""
    return progress(it, total, desc, unit="keyframe")


def _every(_: Any) -> bool:
    return True


def _counted(it: Iterable, counts: Callable[[Any], bool], bar: Any) -> Iterator:
    try:
        for x in it:
            if counts(x):
                bar.update(1)
            yield x
    finally:
        bar.close()


def recorded_config(cfg: Config) -> Config:
    """``cfg`` as a run or map records it (config.yaml, build_config.yaml): the file paths it
    names (checkpoints, codebook, map) made absolute, so that the file given back as --params
    from another folder names the same files, not others of the same relative name."""
    def absolute(path: str) -> str:
        return os.path.abspath(expand_path(path)) if path else path

    r = cfg.retrieval
    return dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, checkpoint=absolute(cfg.model.checkpoint)),
        retrieval=dataclasses.replace(r, checkpoint=absolute(r.checkpoint),
                                      codebook=absolute(r.codebook)),
        node=dataclasses.replace(cfg.node, map_path=absolute(cfg.node.map_path)))


def _recording_kind(source: Any) -> Optional[str]:
    """The map manifest's ``recording``: the kind of recording ``source`` reads (through
    `FirstFrames`): 'rosbag2' or 'rosbag1' (a ROS 1 ``.bag``; `core.image_stamp.BAG_RECORDINGS`),
    'tum', 'euroc', 'kitti'; None for another reader (a caller's own)."""
    from ..core.image_stamp import BAG_RECORDING, ROS1_BAG_RECORDING

    reader = getattr(source, "source", source) if isinstance(source, FirstFrames) else source
    if type(reader).__name__ == "BagSequence":
        return ROS1_BAG_RECORDING if str(reader.path).lower().endswith(".bag") else BAG_RECORDING
    return {"TumSequence": "tum", "EurocSequence": "euroc",
            "KittiSequence": "kitti"}.get(type(reader).__name__)


def poses_from_file(path: Union[str, Tuple[np.ndarray, np.ndarray]], stamps_ns: np.ndarray,
                    rule: PoseAtStampConfig) -> np.ndarray:
    """(N, 4, 4) ``map_from_cam`` at ``stamps_ns`` from a TUM trajectory file (or its
    already-read (stamps_ns, poses)) by the one pose-at-stamp rule
    (`mast3r_ros.core.trajectory`); NaN where it gives no pose."""
    stamps, poses = read_tum_trajectory(path) if isinstance(path, str) else path[:2]
    out, _ = poses_at_stamps(stamps, poses, stamps_ns, round(rule.tolerance_s * 1e9),
                             round(rule.max_gap_s * 1e9))
    return out


# ----------------------------------------------------------------------------- build-map ---

def _need_intrinsics(f: Frame) -> Any:
    if f.intrinsics is None:
        raise InputError(f"frame at {f.stamp_ns} ns has no intrinsics: pass --camera-info YAML")
    return f.intrinsics


def _depth_range_message(e: DepthRangeError, units_per_m: Optional[float]) -> str:
    """`DepthRangeError`'s line in the command line's terms: the depth scale it was read at and
    the option that sets it."""
    read = (f"at {units_per_m:g} raw units per metre" if units_per_m
            else "as metres (a float depth image)")
    return (f"{e.fact}: the depth was read {read}; pass the depth's raw units per metre with "
            "--depth-scale UNITS (1000 for millimetres, 100 for centimetres, 5000 for TUM "
            "PNGs)")


def _add_keyframes(w: MapWriter, source: FrameSource, poses: Optional[np.ndarray], cfg: Config,
                   trajectory: Optional[Tuple[str, np.ndarray, Any]] = None) -> _MapStats:
    """Offer every posed frame to the selector; write the selected ones. When the matcher needs
    keyframe depth (`depth_needed_by`), a frame without depth (its depth image missing within
    the sync tolerance: a depth stream slower than the colour one) is not offered, so the next
    frame with depth can become the keyframe; `InputError` when that leaves no keyframe.
    ``trajectory``: (what it is, its stamps, its `SharedPoses`, its poses) when ``poses`` come
    from a trajectory file, for `_why_no_pose` and `no_pose_note`; `InputError` naming the reason
    when no frame has a pose.

    A frame the source cannot read (an image or depth file or message missing, corrupt, of
    another size, not deserializable: `UnreadableFrame`) is not offered, so no keyframe is
    taken from a frame whose colour or depth is unknown; it is warned about as ``localize``
    warns (`unreadable.warn_unreadable`) and counted in the stats (``unreadable``). `InputError`
    with the first one's error when the first `unreadable.ALL_UNREADABLE_STOP` frames, or all
    of fewer, are unreadable: a broken recording.

    From a source that lists poses and depth without decoding (`TumSequence`) only the
    keyframe candidates are decoded once a frame has been read (`_candidate_frames`): the
    keyframes are the same, and the other frames are counted in ``not_read``, neither
    unreadable nor read (an unposed one among them counts as without a pose)."""
    selector = KeyframeSelector(cfg.map_build.min_translation_m, cfg.map_build.min_rotation_deg)
    need = depth_needed_by(cfg.localizer)
    st = _MapStats(check=KeyframeCheck(cfg.map_check, getattr(source, "depth_source", None))
                   if cfg.map_check.enabled else None, sift=SiftKeypoints.of(cfg))
    no_pose: List[int] = []
    # each frame read on its own: one the source cannot read is skipped, named and counted
    # (the first ALL_UNREADABLE_STOP, or all, refuse the recording: `hold_unreadable`); where
    # the source lists poses and depth without decoding (a TUM folder, a bag), only keyframe
    # candidates are decoded once a frame has been read (`_candidate_frames`)
    lazy = _candidate_frames(source, poses, need, selector)
    frames = hold_unreadable(frames_or_unreadable(source) if lazy is None else lazy)
    run: List[int] = []  # stamps of the unreadable frames in a row up to this one
    sizes: set = set()  # image sizes checked by `network_takes`
    for i, (f, n) in enumerate(progress(frames, len(source), "build-map", unit="frame")):
        if n:
            run.append(f.stamp_ns)
            _note_unreadable(st, f, n, run)
            continue
        run.clear()
        pose = f.map_from_cam if poses is None else poses[i]
        if isinstance(f, _NotRead):
            st.not_read += 1
        if pose is None or not np.isfinite(pose).all():
            no_pose.append(f.stamp_ns)
            continue
        st.all_poses.append(pose)
        st.posed_ns.append(f.stamp_ns)
        if need and (f.depth_m is None if not isinstance(f, _NotRead) else not f.has_depth):
            st.depth_skipped += 1
            continue
        if isinstance(f, _NotRead) or not selector.offer(pose):
            continue
        st.no_depth += f.depth_m is None
        st.keyframes += 1
        if need and not st.valid_depth:  # inf (a scale float32 cannot hold) is no depth
            with np.errstate(invalid="ignore"):
                st.valid_depth = bool((np.isfinite(f.depth_m) & (f.depth_m > 0)).any())
        try:
            kid = w.add_keyframe(f.rgb, _need_intrinsics(f), pose, f.stamp_ns, f.depth_m)
        except DepthRangeError as e:  # the Python API's fix is not the command line's
            raise InputError(_depth_range_message(e, getattr(source, "depth_units_per_m", None))
                             ) from e
        st.sift.offer(f.rgb)  # --matcher sift: tiny frames' keypoints (a map that localizes none)
        network_takes(f, sizes, cfg)  # mast3r: an image the network cannot take, before encoding
        if st.check is not None:  # measured now against its predecessors, not kept
            st.check.add(KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, pose, f.stamp_ns,
                                        str(kid)))
    st.no_pose = len(no_pose)
    if no_pose:
        posed_by = ((trajectory[1], trajectory[3], trajectory[2]) if trajectory else
                    own_shared_poses(source))  # (stamps, poses, SharedPoses) or None
        shared, rest = no_pose_notes(ambiguous_stamps(source), posed_by, no_pose,
                                     cfg.pose_at_stamp)  # two images, poses, or both
        why = _why_no_pose(source, trajectory and trajectory[:2], rest, cfg.pose_at_stamp
                           ) if rest else None
        st.why_no_pose = (shared or "") + (why or "") or None
    if not st.all_poses:
        cut = getattr(source, "cut_note", lambda: "")()  # --max-frames: where the frames end
        raise InputError((
            f"no frame has a pose: {st.why_no_pose}" if st.why_no_pose else
            "no frame has a pose: give the source a groundtruth.txt, pass --trajectory "
            "FILE, or (rosbag2) --pose-frames map:camera_optical") + (f"; {cut}" if cut else ""))
    if not st.keyframes and st.depth_skipped:  # every posed frame lacked depth
        raise InputError(
            f"none of the {st.depth_skipped} frames with a pose has depth, and {need} needs "
            "keyframe depth: check that the depth topic (a TUM folder's depth.txt) covers the "
            "frames with a pose, or widen --sync-tolerance")
    if need and not st.valid_depth:  # a map the sift matcher cannot localize a frame in
        raise InputError(
            f"no pixel of the {st.keyframes} keyframes' depth is valid (every value 0, NaN, "
            f"inf or negative), and {need} needs keyframe depth: check --depth-scale (raw "
            "units per metre: 1000 for millimetres, 5000 for TUM PNGs) and that the depth "
            "images are the camera's depth")
    return st


def _max_gap_fix(gap_s: float, frames_ns: np.ndarray,
                 trajectory: Optional[Tuple[str, np.ndarray]] = None,
                 spacing_s: Optional[float] = None) -> str:
    """The fix for poses missing in gaps of up to ``gap_s`` between samples: the parameter,
    when the poses are sampled that sparsely: the gap within `EDGE_GAP_PERIODS` of their usual
    longest step ``spacing_s`` (the 90th percentile of their spacing: a bursty publisher's
    pauses are its usual steps), or that unknown. A wider gap is a hole in the poses (tracking
    lost, a paused recording): the frames in it are left out, rightly; raising max_gap_s would
    draw a straight line across it, so the fix is the poses of that stretch. With
    ``trajectory`` (what it is, its sorted stamps; ``spacing_s`` is then taken from them, of 4
    poses or more) a gap of more than half its time span is not a
    dropout but the trajectory itself (two poses far apart around the frames: another
    recording): then that its poses do not cover the frames' times, with both time ranges."""
    if trajectory is not None:
        name, stamps = trajectory
        lo, hi = stamps[0] * 1e-9, stamps[-1] * 1e-9
        if gap_s > (hi - lo) / 2:
            t = np.asarray(frames_ns, dtype=np.int64) * 1e-9
            return (f"that gap is more than half the time span of {name} "
                    f"(t={format_time_range(lo, hi)}): its poses do not cover the frames' times "
                    f"(t={format_time_range(t.min(), t.max())}); check that the poses belong "
                    "to this recording and that poses and frames are stamped in seconds")
        if stamps.size > 3:
            spacing_s = float(np.percentile(stamp_steps(stamps)[0], 90)) * 1e-9
    if spacing_s and gap_s > EDGE_GAP_PERIODS * spacing_s:
        return (f"that gap is a hole in the poses ({gap_s:.3f} s without one, where 9 in 10 of "
                f"their steps are at most {spacing_s:.3f} s: tracking lost or recording "
                "paused), not sparse poses: "
                "the frames in it are left out, as they should be; to use them, supply the "
                "poses of that stretch (a larger pose_at_stamp.max_gap_s would draw a straight "
                "line across the hole, making up the motion in between)")
    value = math.ceil(round(gap_s * 1e6) / 1e3) / 1e3  # up to the millisecond
    return (f"to interpolate across gaps up to {gap_s:.3f} s, set 'pose_at_stamp: max_gap_s: "
            f"{value:g}' (under ros__parameters) in a --params YAML")


def _why_no_pose(source: FrameSource, trajectory: Optional[Tuple[str, np.ndarray]],
                 missing_ns: Sequence[int], rule: PoseAtStampConfig) -> Optional[str]:
    """Why the frames at ``missing_ns`` got no pose by the pose-at-stamp rule, with the fix
    (a larger ``pose_at_stamp.max_gap_s``) when they fell in gaps between poses; None when the
    source does not say (a TUM folder without groundtruth.txt, a bag read without tf).

    The poses come from ``trajectory`` (what it is, its stamps), else a TUM folder's
    groundtruth.txt (an EuRoC/ASL folder's ``groundtruth_file``), else tf
    (`BagSequence.no_pose_reason`, `no_pose_gap_s`)."""
    if trajectory is None and callable(getattr(source, "groundtruth", None)):
        gt_txt = getattr(source, "groundtruth_file", None) or os.path.join(  # EuRoC's: own
            str(getattr(source, "folder", "")), "groundtruth.txt")
        if not os.path.isfile(gt_txt):
            return None
        trajectory = (gt_txt, source.groundtruth()[0])  # type: ignore[attr-defined]
    if trajectory is None:
        reason = getattr(source, "no_pose_reason", None)
        if not isinstance(reason, str):
            return None
        gap = getattr(source, "no_pose_gap_s", None)
        fix = _max_gap_fix(gap, source.stamps_ns, spacing_s=getattr(
            source, "no_pose_spacing_s", None)) if gap else ""
        return f"{reason}; {fix}" if fix else reason
    return poses_not_at_frames(trajectory, source.stamps_ns, missing_ns, rule)


def poses_not_at_frames(trajectory: Tuple[str, np.ndarray], frames_ns: Sequence[int],
                        missing_ns: Sequence[int], rule: PoseAtStampConfig) -> str:
    """Why the frames at ``missing_ns`` (of all the frames, ``frames_ns``) got no pose from
    ``trajectory`` (what it is, its stamps) by the pose-at-stamp rule, with the fix: poses
    sampled wider apart than ``max_gap_s`` (the median spacing and the params key), poses of
    another time range, or an empty file. Shared by build-map and localize --groundtruth."""
    name, stamps = trajectory
    stamps = np.sort(np.asarray(stamps, dtype=np.int64))
    if not stamps.size:  # an empty file (or one of comments only)
        other = "" if name.startswith("--") else ", or pass --trajectory FILE"
        return f"{name} is empty (no 'timestamp tx ty tz qx qy qz qw' line): fill it{other}"
    gaps = bracketing_gaps(stamps, np.asarray(missing_ns, dtype=np.int64))
    if (gaps > 0).any():
        median = (f", its poses {np.median(stamp_steps(stamps)[0]) * 1e-9:.3f} s apart at the "
                  "median"
                  if stamps.size > 2 else "")  # not of two poses around the frames
        return (f"{int((gaps > 0).sum())} of these {len(gaps)} frames are between two poses of "
                f"{name} more than pose_at_stamp.max_gap_s ({rule.max_gap_s:.3f} s) apart (up to "
                f"{gaps.max() * 1e-9:.3f} s{median}) and farther than pose_at_stamp.tolerance_s "
                f"({rule.tolerance_s:.3f} s) from both; "
                f"{_max_gap_fix(gaps.max() * 1e-9, np.asarray(frames_ns), (name, stamps))}")
    missing = np.sort(np.asarray(missing_ns, dtype=np.int64))
    days = (min(abs(int(missing[0]) - int(stamps[-1])), abs(int(missing[-1]) - int(stamps[0])))
            / 86_400e9 if missing.size else 0.0)
    clock = (f" ({days:.1f} days away: the two are stamped by different clocks, e.g. a motion "
             "capture's or a camera's own; give both the same time base)"
             if days > 1 and (missing[-1] < stamps[0] or missing[0] > stamps[-1]) else "")
    return (f"the stamps of these frames are outside {name} (t={stamps[0] * 1e-9:.3f}.."
            f"{stamps[-1] * 1e-9:.3f} s), farther than pose_at_stamp.tolerance_s "
            f"({rule.tolerance_s:.3f} s) from its ends" + (
                f"; the frames are at t={missing[0] * 1e-9:.3f}..{missing[-1] * 1e-9:.3f} s"
                f"{clock}" if missing.size else ""))


def _encode_keyframes(w: MapWriter, cfg: Config, opts: BuildOptions) -> None:
    """The map's cached encodings (mast3r matcher with a checkpoint) and, with a retrieval
    checkpoint, its ASMK index (replay/map_build.py)."""
    identity = encode_map_keyframes(w, cfg, opts)
    if opts.retrieval_checkpoint:
        if identity is None:
            raise InputError("--retrieval-checkpoint needs the mast3r matcher and --checkpoint: "
                             "the ASMK index is computed from the keyframes' encoder output")
        from ..core.model.engine import resolve_device

        add_asmk_index(w, identity, cfg.model.image_size, opts.retrieval_checkpoint,
                       opts.codebook, device=str(resolve_device(cfg.model.device)))


@networks_up_front()  # the network its checks load up front is its engine's (read once)
def build_map(source: FrameSource, out: str, cfg: Config, trajectory: Optional[str] = None,
              overwrite: bool = False, force: bool = False,
              build: BuildOptions = BuildOptions(), *,
              resume_hint: str = "") -> Tuple[int, str]:
    """Select keyframes from ``source`` and write the map; returns (keyframes, path).

    Poses come from the frames (ground truth, tf) or, with ``trajectory``, from that TUM file by
    the config's pose-at-stamp rule. With the mast3r matcher and a checkpoint the keyframe
    encodings are cached in the map (``build``: workers, Ray, resume, ASMK index). Before
    anything is encoded the keyframes are checked for consistency (`check_consistency`): an
    inconsistent map raises `MapConsistencyError` and nothing is written, unless ``force``; the
    figures go into the manifest and keyframes.png. The map is built in ``OUT.partial``; a build
    killed while encoding continues from its finished shards with ``build.resume``; a Ctrl-C
    (or SIGTERM) once the map is published is re-raised noted so (`errors.mark_published`:
    the map is complete). An existing
    ``out`` is refused (`InputError`, before any frame is read) unless ``overwrite``, and so is
    a source that will give no keyframe depth when the matcher needs it (``--matcher sift``,
    points_source 'depth'). `OutputBusyError` (an InputError) when another writer (a second
    build-map) holds ``out``'s lock, and `InputError` for an ``OUT.partial`` holding encoded
    shards without ``build.resume`` or ``overwrite`` (`MapWriter`), both before a frame is read.

    A frame the source cannot read (`UnreadableFrame`: its colour or depth missing, corrupt,
    of another size, not deserializable) is skipped as ``localize`` skips it: no keyframe is
    taken from it, it is warned about, counted at the end and listed in the manifest
    (``unreadable_frames``, `_unreadable_record`); `InputError` with the first one's error
    when the first ten frames, or all of fewer, are unreadable (`unreadable.hold_unreadable`).
    From a TUM folder or a bag only the frames that may become keyframes are decoded
    (`_add_keyframes`); the others are counted in the manifest's ``frames_not_read``
    (`_not_read_record`), their readability unknown.

    Also raises, from building the network (`Mast3rEngine.from_config`), `ConfigError` (no
    checkpoint, a device, precision or backend that cannot run here) and `CheckpointError` (an
    unreadable, unsafe or mismatched checkpoint); `InputError` for frames without poses, a
    ``trajectory`` (without one, a TUM folder's groundtruth.txt: `check_own_poses`) stamped in
    another time unit than the frames, or images the network cannot take.
    """
    check_output_folder(out, overwrite, (MANIFEST,))
    apply_cpu_threads(cfg.model.cpu_threads)
    # a caller's own hint (the demo's) for both stops: its user cannot rerun build-map's command
    rerun_hint = resume_hint or "rerun the same command to start over"
    # the map that was there stays until the build completes: resuming needs --overwrite too
    resume_hint = resume_hint or ("rerun with --resume --overwrite" if needs_overwrite(out)
                                  else "rerun with --resume")
    refuse_without_depth(source, depth_needed_by(cfg.localizer))
    traj: Optional[Tuple[np.ndarray, np.ndarray, Any]] = None
    if trajectory:
        stamps, traj_poses, unit, shared = read_tum_trajectory_shared(trajectory, "--trajectory")
        shared.warn()  # the frames posed from a stamp it gives two poses: no keyframe
        why = trajectory_reset_reason(stamps, SPLIT_FILE, traj_poses)
        if why:
            raise InputError(f"--trajectory {trajectory}: {why}")
        frames_file, frames_ns = stamps_written(source)
        check_stamp_units(stamps, source.stamps_ns, f"--trajectory {trajectory}", unit == "ns",
                          frames_ns, frames_file)
        traj = (stamps, traj_poses, shared)
    else:
        check_own_poses(source)
        refuse_without_poses(source)
    poses = (poses_from_file(traj, source.stamps_ns, cfg.pose_at_stamp)
             if traj is not None else None)
    if poses is not None:  # two images at one stamp: its pose is one's at most (as without)
        poses = leave_out_ambiguous(source.stamps_ns, poses, ambiguous_stamps(source), traj,
                                    cfg.pose_at_stamp)[0]
    check_build_files(cfg, build)  # before the keyframes are read and checked
    connect_build_workers(cfg, build)  # Ray, if asked for: connected or refused, before too
    w = open_map_writer(out, overwrite, build.resume, IndexParams.from_config(cfg.scale),
                        cfg.node.map_frame, build.restart,
                        encodes=cfg.localizer.matcher == "mast3r" and bool(cfg.model.checkpoint))
    try:
        st = _add_keyframes(w, source, poses, cfg, None if traj is None else
                            (f"--trajectory {trajectory}", traj[0], traj[2], traj[1]))
        report = check_consistency(w, st.check, getattr(source, "depth_units_per_m", None),
                                   force, None if traj is not None
                                   else getattr(source, "pose_suspect", None),
                                   "" if traj is not None else getattr(source, "other_clock", ""),
                                   st.unreadable)
        # which time the keyframes' stamps and poses are at: a bag's --image-stamp, for
        # localize and the node to compare theirs with (a folder has no choice: not recorded),
        # and the kind read, by which they tell a bag's image_stamp from an older folder map's
        if getattr(source, "image_stamp", None) is not None:
            w.set_manifest_field("image_stamp", source.image_stamp)
        if _recording_kind(source):
            w.set_manifest_field("recording", _recording_kind(source))
        if isinstance(source, FirstFrames):  # --max-frames: a map of the recording's start
            w.set_manifest_field("max_frames", source.manifest_record())
        if st.unreadable:  # which frames the map was not built from, beside its keyframes
            w.set_manifest_field("unreadable_frames", _unreadable_record(st, len(source)))
        if st.not_read:  # frames never decoded: an unreadable one among them is not counted
            w.set_manifest_field("frames_not_read", _not_read_record(st, len(source)))
        if st.no_pose:  # said on build-map's summary line: a map of far fewer keyframes
            w.set_manifest_field("frames_without_pose", _no_pose_record(st, len(source)))
        _encode_keyframes(w, cfg, build)
        kf_poses = np.stack([np.asarray(r["map_from_cam"]).reshape(4, 4) for r in w.records])
        # beside the map, outside its file table: what built it and what it looks like --
        # written before the commit so that a map that appears is always complete
        dump_config_yaml(recorded_config(cfg), os.path.join(w.tmp, "build_config.yaml"))
        all_poses = np.stack(st.all_poses)
        skipped = [s for s, _ in st.unreadable]
        plot_keyframes(os.path.join(w.tmp, "keyframes.png"), kf_poses, all_poses,
                       consistency=report, skipped=skipped_positions(st.posed_ns, all_poses,
                                                                     skipped),
                       skipped_at=skipped_indices([r["stamp_ns"] for r in w.records], skipped))
        path = commit_build(w)  # the resume bookkeeping kept until the map is published
    except (BuildInterrupted, KeyboardInterrupt) as e:
        if w.committed:  # the stop came as the map was published: it is complete
            w.close()
            mark_published(e, "the map", w.path)
            raise
        if finished_shards(w.tmp):
            log.error("build interrupted: finished shards are kept in %s; %s", w.tmp,
                      resume_hint)
            w.close()  # keeps OUT.partial, releases OUT's lock
            raise
        # the sift matcher, or stopped before a shard was encoded: nothing to resume, so the
        # keyframe PNGs in OUT.partial go, as after any other failure before a shard
        w.abort()
        encodes = cfg.localizer.matcher == "mast3r" and bool(cfg.model.checkpoint)
        log.error("build interrupted%s: %s was not written; %s",  # sift encodes nothing
                  " before any keyframe was encoded" if encodes and not w.encodings else "",
                  w.path, rerun_hint)
        raise
    except BaseException as e:
        kept = finished_shards(w.tmp)
        if kept:  # hours of encoding: a refusal or a failure keeps them
            log.info("the finished shards are kept in %s (--resume continues the build)", w.tmp)
            w.close()
        else:
            w.abort()
        told = kept_build_error(e, out, kept, w.tmp, resume_hint)  # the build kept, in its line
        if told is not None:
            raise told from None
        raise
    with after_publishing("the map", path):  # a stop now loses none of it, and is told so
        _warn_after_build(st, cfg, len(source))
    return len(kf_poses), path


def _warn_after_build(st: _MapStats, cfg: Config, frames: int) -> None:
    """The warnings of a finished build: unreadable frames, frames without a pose, one
    keyframe, keyframes too small for SIFT, keyframes without depth, frames not used for lack
    of depth (and, logged at info, the frames never decoded)."""
    _warn_unreadable_count(st, frames)
    if st.not_read:
        log.info("%d of %d frames were not decoded: %s (manifest: frames_not_read)",
                 st.not_read, frames, NOT_READ_REASON)
    if st.no_pose:
        log.warning("%d frame%s had no pose and %s skipped%s", st.no_pose,
                    *(("", "was") if st.no_pose == 1 else ("s", "were")),
                    f": {st.why_no_pose}" if st.why_no_pose else "")
    _warn_one_keyframe(st, cfg)
    st.sift.warn()  # --matcher sift: keyframes too small for its keypoints
    if st.no_depth:  # every keyframe: a source without depth, the pointmap route (info)
        every = st.no_depth == st.keyframes
        log.log(logging.INFO if every else logging.WARNING, "%s no depth: the sift matcher and "
                "points_source 'depth' will refuse this map%s", "1 keyframe has" if st.no_depth
                == 1 else f"{st.no_depth} keyframes have", every * "; a stereo source's "
                "--stereo-depth gives depth (and a map check-map can check)")
    if st.depth_skipped:
        log.warning("%s: %s needs keyframe depth", "1 frame without depth was not used as a "
                    "keyframe" if st.depth_skipped == 1 else f"{st.depth_skipped} frames without "
                    "depth were not used as keyframes", depth_needed_by(cfg.localizer))


def _warn_one_keyframe(st: _MapStats, cfg: Config) -> None:
    """A warning for one keyframe out of 10 or more posed frames that span more than 10 s: a
    camera that stays within ``map_build.min_translation_m`` and ``min_rotation_deg`` for that
    long is rarer than poses that do not follow the frames (another recording, another time
    unit, a few samples interpolated across the whole recording)."""
    span_s = (max(st.posed_ns) - min(st.posed_ns)) * 1e-9 if st.posed_ns else 0.0
    if st.keyframes == 1 and len(st.posed_ns) >= 10 and span_s > 10.0:
        log.warning(
            "only 1 keyframe from %d frames with a pose over %.3f s: the poses moved less than "
            "map_build.min_translation_m (%g m) and min_rotation_deg (%g deg) in all that time; "
            "if the camera moved, check that the poses belong to this recording and are stamped "
            "in seconds", len(st.posed_ns), span_s, cfg.map_build.min_translation_m,
            cfg.map_build.min_rotation_deg)


# ------------------------------------------------------------------------------ localize ---
