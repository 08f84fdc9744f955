"""The offline pipeline: build a keyframe map, localize a recording, write a run folder.

Plain functions of a `Config` and frame sources (`mast3r_ros.replay.sources`), no argparse: the
``mast3r-ros`` CLI parses arguments and calls these. Localization is driven by the one tracker
(`mast3r_ros.core.tracker.Tracker`): each frame is localized with the tracker's hint and the result
updates the tracker. The demo built on these is `mast3r_ros.replay.demo`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from tqdm import tqdm

from ..core.config import Config, PoseAtStampConfig, dump_config_yaml
from ..core.errors import InputError
from ..core.fileio import atomic_folder, atomic_write_json, check_output_folder
from ..core.keyframes import KeyframeSelector, MapWriter
from ..core.keyframes.target import finished_shards
from ..core.keyframes.layout import MANIFEST
from ..core.keyframes.pixels import DepthRangeError
from ..core.localizer import Localizer
from ..core.map_check import ConsistencyReport, KeyframeRecord, check_keyframes
from ..core.retrieval_index import IndexParams
from ..core.tracker import StampCheck, Tracker
from ..core.trajectory import (bracketing_gaps, check_stamp_units, format_time_range,
                               poses_at_stamps)
from ..core.types import Frame, LocalizationResult
from .map_build import (BuildOptions, add_asmk_index, check_build_files, connect_build_workers,
                        encode_map_keyframes, finish_encodings, open_map_writer)
from .metrics import frame_errors, summarize
from .parallel_build import BuildInterrupted
from .plots import plot_errors, plot_keyframes, plot_trajectory
from .sources import (FrameSource, check_own_poses, depth_needed_by, refuse_without_depth,
                      stamps_written)
from .tum import read_tum_trajectory, read_tum_trajectory_and_unit, write_tum_trajectory

log = logging.getLogger(__name__)


def progress(it: Iterable, total: Optional[int], desc: str) -> Iterable:
    """``it`` with a progress bar on stderr when stderr is a terminal."""
    return tqdm(it, total=total, desc=desc, unit="frame", file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())


def recorded_config(cfg: Config) -> Config:
    """``cfg`` as a run or map records it (config.yaml, build_config.yaml): the file paths it
    names (checkpoints, codebook, map) made absolute, so that the file given back as --params
    from another folder names the same files, not others of the same relative name."""
    def absolute(path: str) -> str:
        return os.path.abspath(os.path.expanduser(path)) if path else path

    r = cfg.retrieval
    return dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, checkpoint=absolute(cfg.model.checkpoint)),
        retrieval=dataclasses.replace(r, checkpoint=absolute(r.checkpoint),
                                      codebook=absolute(r.codebook)),
        node=dataclasses.replace(cfg.node, map_path=absolute(cfg.node.map_path)))


def poses_from_file(path: Union[str, Tuple[np.ndarray, np.ndarray]], stamps_ns: np.ndarray,
                    rule: PoseAtStampConfig) -> np.ndarray:
    """(N, 4, 4) ``map_from_cam`` at ``stamps_ns`` from a TUM trajectory file (or its
    already-read (stamps_ns, poses)) by the one pose-at-stamp rule
    (`mast3r_ros.core.trajectory`); NaN where it gives no pose."""
    stamps, poses = read_tum_trajectory(path) if isinstance(path, str) else path
    out, _ = poses_at_stamps(stamps, poses, stamps_ns, round(rule.tolerance_s * 1e9),
                             round(rule.max_gap_s * 1e9))
    return out


# ----------------------------------------------------------------------------- build-map ---

def _need_intrinsics(f: Frame) -> Any:
    if f.intrinsics is None:
        raise InputError(f"frame at {f.stamp_ns} ns has no intrinsics: pass --camera-info YAML")
    return f.intrinsics


@dataclasses.dataclass
class _MapStats:
    all_poses: List[np.ndarray] = dataclasses.field(default_factory=list)
    posed_ns: List[int] = dataclasses.field(default_factory=list)  # stamps of all_poses
    records: List[KeyframeRecord] = dataclasses.field(default_factory=list)  # for the map check
    no_pose: int = 0
    why_no_pose: Optional[str] = None  # `_why_no_pose`
    no_depth: int = 0  # keyframes written without depth (depth not needed)
    depth_skipped: int = 0  # posed frames without depth, not offered (depth needed)
    keyframes: int = 0


def _depth_range_message(e: DepthRangeError, units_per_m: Optional[float]) -> str:
    """`DepthRangeError`'s line in the command line's terms: the depth scale it was read at and
    the option that sets it."""
    read = (f"at {units_per_m:g} raw units per metre" if units_per_m
            else "as metres (a float depth image)")
    return (f"{e.fact}: the depth was read {read}; pass the depth's raw units per metre with "
            "--depth-scale UNITS (1000 for millimetres, 100 for centimetres, 5000 for TUM "
            "PNGs)")


def _add_keyframes(w: MapWriter, source: FrameSource, poses: Optional[np.ndarray], cfg: Config,
                   trajectory: Optional[Tuple[str, np.ndarray]] = None) -> _MapStats:
    """Offer every posed frame to the selector; write the selected ones. When the matcher needs
    keyframe depth (`depth_needed_by`), a frame without depth (its depth image missing within
    the sync tolerance: a depth stream slower than the colour one) is not offered, so the next
    frame with depth can become the keyframe; `InputError` when that leaves no keyframe.
    ``trajectory``: (what it is, its stamps) when ``poses`` come from a trajectory file, for
    `_why_no_pose`; `InputError` naming the reason when no frame has a pose."""
    selector = KeyframeSelector(cfg.map_build.min_translation_m, cfg.map_build.min_rotation_deg)
    need = depth_needed_by(cfg.localizer)
    st = _MapStats()
    no_pose: List[int] = []
    for i, f in enumerate(progress(source, len(source), "build-map")):
        pose = f.map_from_cam if poses is None else poses[i]
        if pose is None or not np.isfinite(pose).all():
            no_pose.append(f.stamp_ns)
            continue
        st.all_poses.append(pose)
        st.posed_ns.append(f.stamp_ns)
        if need and f.depth_m is None:
            st.depth_skipped += 1
            continue
        if not selector.offer(pose):
            continue
        st.no_depth += f.depth_m is None
        st.keyframes += 1
        try:
            kid = w.add_keyframe(f.rgb, _need_intrinsics(f), pose, f.stamp_ns, f.depth_m)
        except DepthRangeError as e:  # the Python API's fix is not the command line's
            raise InputError(_depth_range_message(e, getattr(source, "depth_units_per_m", None))
                             ) from e
        if cfg.map_check.enabled:
            st.records.append(KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, pose, f.stamp_ns,
                                             str(kid)).reduced(cfg.map_check.work_width))
    st.no_pose = len(no_pose)
    if no_pose:
        st.why_no_pose = _why_no_pose(source, trajectory, no_pose, cfg.pose_at_stamp)
    if not st.all_poses:
        raise InputError(
            f"no frame has a pose: {st.why_no_pose}" if st.why_no_pose else
            "no frame has a pose: give the source a groundtruth.txt, pass --trajectory "
            "FILE, or (rosbag2) --pose-frames map:camera_optical")
    if not st.keyframes and st.depth_skipped:  # every posed frame lacked depth
        raise InputError(
            f"none of the {st.depth_skipped} frames with a pose has depth, and {need} needs "
            "keyframe depth: check that the depth topic (a TUM folder's depth.txt) covers the "
            "frames with a pose, or widen --sync-tolerance")
    return st


def _max_gap_fix(gap_s: float, frames_ns: np.ndarray,
                 trajectory: Optional[Tuple[str, np.ndarray]] = None) -> str:
    """The fix for poses missing in gaps of up to ``gap_s`` between samples: the parameter,
    when the gap is a dropout in poses that cover the frames. With ``trajectory`` (what it is,
    its sorted stamps) a gap of more than half its time span is not a dropout but the
    trajectory itself (two poses far apart around the frames: another recording): then that
    its poses do not cover the frames' times, with both time ranges."""
    if trajectory is not None:
        name, stamps = trajectory
        lo, hi = stamps[0] * 1e-9, stamps[-1] * 1e-9
        if gap_s > (hi - lo) / 2:
            t = np.asarray(frames_ns, dtype=np.int64) * 1e-9
            return (f"that gap is more than half the time span of {name} "
                    f"(t={format_time_range(lo, hi)}): its poses do not cover the frames' times "
                    f"(t={format_time_range(t.min(), t.max())}); check that the poses belong "
                    "to this recording and that poses and frames are stamped in seconds")
    value = math.ceil(round(gap_s * 1e6) / 1e3) / 1e3  # up to the millisecond
    return (f"to interpolate across gaps up to {gap_s:.3f} s, set 'pose_at_stamp: max_gap_s: "
            f"{value:g}' (under ros__parameters) in a --params YAML")


def _why_no_pose(source: FrameSource, trajectory: Optional[Tuple[str, np.ndarray]],
                 missing_ns: Sequence[int], rule: PoseAtStampConfig) -> Optional[str]:
    """Why the frames at ``missing_ns`` got no pose by the pose-at-stamp rule, with the fix
    (a larger ``pose_at_stamp.max_gap_s``) when they fell in gaps between poses; None when the
    source does not say (a TUM folder without groundtruth.txt, a bag read without tf).

    The poses come from ``trajectory`` (what it is, its stamps), else a TUM folder's
    groundtruth.txt, else tf (`BagSequence.no_pose_reason`, `no_pose_gap_s`)."""
    if trajectory is None and callable(getattr(source, "groundtruth", None)):
        gt_txt = os.path.join(str(getattr(source, "folder", "")), "groundtruth.txt")
        if not os.path.isfile(gt_txt):
            return None
        trajectory = (gt_txt, source.groundtruth()[0])  # type: ignore[attr-defined]
    if trajectory is None:
        reason = getattr(source, "no_pose_reason", None)
        if not isinstance(reason, str):
            return None
        gap = getattr(source, "no_pose_gap_s", None)
        return f"{reason}; {_max_gap_fix(gap, source.stamps_ns)}" if gap else reason
    name, stamps = trajectory
    stamps = np.sort(np.asarray(stamps, dtype=np.int64))
    if not stamps.size:  # an empty file (or one of comments only)
        other = "" if name.startswith("--") else ", or pass --trajectory FILE"
        return f"{name} is empty (no 'timestamp tx ty tz qx qy qz qw' line): fill it{other}"
    gaps = bracketing_gaps(stamps, np.asarray(missing_ns, dtype=np.int64))
    if (gaps > 0).any():
        return (f"{int((gaps > 0).sum())} of these {len(gaps)} frames are between two poses of "
                f"{name} more than pose_at_stamp.max_gap_s ({rule.max_gap_s:.3f} s) apart (up to "
                f"{gaps.max() * 1e-9:.3f} s) and farther than pose_at_stamp.tolerance_s "
                f"({rule.tolerance_s:.3f} s) from both; "
                f"{_max_gap_fix(gaps.max() * 1e-9, source.stamps_ns, (name, stamps))}")
    return (f"the stamps of these frames are outside {name} (t={stamps[0] * 1e-9:.3f}.."
            f"{stamps[-1] * 1e-9:.3f} s), farther than pose_at_stamp.tolerance_s "
            f"({rule.tolerance_s:.3f} s) from its ends")


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


def check_consistency(w: MapWriter, records: Sequence[KeyframeRecord], cfg: Config,
                      depth_units_per_m: Optional[float], force: bool
                      ) -> Optional[ConsistencyReport]:
    """The map check (`mast3r_ros.core.map_check`) on the chosen keyframes, before the map is
    committed: its summary logged, its figures stored in the manifest (``consistency``). Raises
    `MapConsistencyError` (one line: which keyframes, by how much, the likely cause and fix) for
    an inconsistent map unless ``force``. None when ``map_check.enabled`` is off."""
    if not cfg.map_check.enabled:
        return None
    report = check_keyframes(records, cfg.map_check, depth_units_per_m=depth_units_per_m)
    report.settle(force, log, "--force")
    manifest = report.to_manifest()
    manifest["forced"] = bool(force and not report.ok)
    w.set_manifest_field("consistency", manifest)
    return report


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
    killed while encoding continues from its finished shards with ``build.resume``. An existing
    ``out`` is refused (`InputError`, before any frame is read) unless ``overwrite``, and so is
    a source that will give no keyframe depth when the matcher needs it (``--matcher sift``,
    points_source 'depth'). `OutputBusyError` (an InputError) when another writer (a second
    build-map) holds ``out``'s lock, and `InputError` for an ``OUT.partial`` holding encoded
    shards without ``build.resume`` or ``overwrite`` (`MapWriter`), both before a frame is read.

    Also raises, from building the network (`Mast3rEngine.from_config`), `ConfigError` (no
    checkpoint, a device, precision or backend that cannot run here) and `CheckpointError` (an
    unreadable, unsafe or mismatched checkpoint); `InputError` for frames without poses, a
    ``trajectory`` (without one, a TUM folder's groundtruth.txt: `check_own_poses`) stamped in
    another time unit than the frames, or images the network cannot take.
    """
    check_output_folder(out, overwrite, (MANIFEST,))
    # the map that was there stays until the build completes: resuming needs --overwrite too
    resume_hint = resume_hint or ("rerun with --resume --overwrite" if os.path.lexists(out)
                                  else "rerun with --resume")
    refuse_without_depth(source, depth_needed_by(cfg.localizer))
    traj: Optional[Tuple[np.ndarray, np.ndarray]] = None
    if trajectory:
        stamps, traj_poses, unit = read_tum_trajectory_and_unit(trajectory)
        frames_file, frames_ns = stamps_written(source)
        check_stamp_units(stamps, source.stamps_ns, f"--trajectory {trajectory}", unit == "ns",
                          frames_ns, frames_file)
        traj = (stamps, traj_poses)
    else:
        check_own_poses(source)
    poses = (poses_from_file(traj, source.stamps_ns, cfg.pose_at_stamp)
             if traj is not None else None)
    check_build_files(cfg, build)  # before the keyframes are read and checked
    connect_build_workers(cfg, build)  # Ray, if asked for: connected or refused, before too
    w = open_map_writer(out, overwrite, build.resume, IndexParams.from_config(cfg.scale),
                        cfg.node.map_frame)
    try:
        st = _add_keyframes(w, source, poses, cfg, None if traj is None else
                            (f"--trajectory {trajectory}", traj[0]))
        report = check_consistency(w, st.records, cfg,
                                   getattr(source, "depth_units_per_m", None), force)
        st.records.clear()
        _encode_keyframes(w, cfg, build)
        kf_poses = np.stack([np.asarray(r["map_from_cam"]).reshape(4, 4) for r in w.records])
        # beside the map, outside its file table: what built it and what it looks like --
        # written before the commit so that a map that appears is always complete
        dump_config_yaml(recorded_config(cfg), os.path.join(w.tmp, "build_config.yaml"))
        plot_keyframes(os.path.join(w.tmp, "keyframes.png"), kf_poses, np.stack(st.all_poses),
                       consistency=report)
        finish_encodings(w)  # resume bookkeeping kept until here: nothing is encoded twice
        path = w.commit()
    except (BuildInterrupted, KeyboardInterrupt):
        log.error("build interrupted: finished shards are kept in %s; %s", w.tmp, resume_hint)
        w.close()  # keeps OUT.partial, releases OUT's lock
        raise
    except BaseException:
        if finished_shards(w.tmp):  # hours of encoding: a refusal or a failure keeps them
            log.info("the finished shards are kept in %s (--resume continues the build)", w.tmp)
            w.close()
        else:
            w.abort()
        raise
    if st.no_pose:
        log.warning("%d frames had no pose and were skipped%s", st.no_pose,
                    f": {st.why_no_pose}" if st.why_no_pose else "")
    _warn_one_keyframe(st, cfg)
    if st.no_depth:
        log.warning("%d keyframes have no depth: the sift matcher and points_source 'depth' "
                    "will refuse this map", st.no_depth)
    if st.depth_skipped:
        log.warning("%d frames without depth were not used as keyframes: %s needs keyframe "
                    "depth", st.depth_skipped, depth_needed_by(cfg.localizer))
    return len(kf_poses), path


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

def select_frames(source: Iterable[Frame], stride: int, max_frames: int) -> Iterator[Frame]:
    """Every ``stride``-th frame, at most ``max_frames`` of them (0: all)."""
    n = 0
    for i, f in enumerate(source):
        if i % stride:
            continue
        if max_frames and n >= max_frames:
            return
        n += 1
        yield f


def localize_frames(loc: Localizer, frames: Iterable[Frame], tracker: Tracker,
                    global_only: bool = False) -> Iterator[Tuple[Frame, LocalizationResult]]:
    """Localize each frame with the tracker's hint (none with ``global_only``); yields
    (frame, result) after the tracker has been updated with the result."""
    for f in frames:
        if tracker.check_stamp(f.stamp_ns) is StampCheck.BACKWARDS:
            log.warning("time went backwards at t=%.6f s: tracking reset", f.stamp_ns * 1e-9)
        hint = None if global_only else tracker.hint()
        r = loc.localize(f, force_global=global_only, hint=hint)
        tracker.update(r)
        yield f, r


def result_record(r: LocalizationResult) -> Dict[str, Any]:
    """One line of ``results.jsonl``."""
    return {"stamp_ns": r.stamp_ns, "success": bool(r.success), "reason": r.reason,
            "inliers": r.num_inliers, "matches": r.num_matches,
            "inlier_ratio": round(float(r.inlier_ratio), 4),
            "reproj_rms_px": None if not np.isfinite(r.reproj_rms_px) else
            round(float(r.reproj_rms_px), 4),
            "keyframe_ids": list(r.keyframe_ids),
            "timings_s": {k: round(v, 6) for k, v in r.timings_s.items()}}


def _localize_to_file(loc: Localizer, frames: Iterable[Frame], path: str, cfg: Config,
                      global_only: bool) -> Tuple[List[LocalizationResult], np.ndarray]:
    """Localize, appending each result to ``path`` as it comes; returns (results, frame poses
    (N, 4, 4), NaN where a frame has none)."""
    tracker = Tracker(cfg.localizer.lost_after_failures)
    results: List[LocalizationResult] = []
    gt: List[np.ndarray] = []
    with open(path, "w", encoding="utf-8") as fh:
        for f, r in progress(localize_frames(loc, frames, tracker, global_only), None,
                             "localize"):
            results.append(r)
            gt.append(f.map_from_cam if f.map_from_cam is not None else np.full((4, 4), np.nan))
            fh.write(json.dumps(result_record(r)) + "\n")
            fh.flush()
    return results, np.stack(gt) if gt else np.zeros((0, 4, 4))


RUN_FILES = ("results.jsonl", "metrics.json", "trajectory.tum", "config.yaml")
# everything a run folder holds: --overwrite replaces no folder holding anything else (a user's
# notes or code beside copied run files)
RUN_OUTPUTS = RUN_FILES + ("trajectory.png", "errors.png")


def run_localization(source: FrameSource, map_path: str, out: str, cfg: Config,
                     groundtruth: Optional[str] = None, stride: int = 1, max_frames: int = 0,
                     global_only: bool = False, overwrite: bool = False) -> Dict[str, Any]:
    """Localize the frames of ``source`` against a map; write the run folder (config.yaml,
    results.jsonl, trajectory.tum, metrics.json, plots); return the metrics.

    ``map_path`` is recorded as an absolute path ('~' expanded) in config.yaml (``map_path``)
    and metrics.json (``map``). Ground truth is the frames' own poses or, with
    ``groundtruth``, that TUM file taken at the frame stamps by the config's pose-at-stamp
    rule; the file is read (and refused with `InputError`) before any frame is localized, so a
    bad file never costs a run; without it, so is a TUM folder's groundtruth.txt stamped in
    another time unit (`check_own_poses`). An existing
    ``out`` is refused (`InputError`) unless ``overwrite``. The run is written in a temporary
    sibling folder and renamed to ``out`` when complete; a run that stops early (an error,
    Ctrl-C) leaves ``out`` as it was and its results so far in ``OUT.partial``, which the next
    complete run to ``out`` removes; a run killed outright (``kill -9``, the OOM killer) leaves
    them in its temporary folder, which the next run to ``out`` renames to ``OUT.partial``.

    Also raises what `Localizer.from_config` and `Localizer.localize` raise: `ConfigError`,
    `CheckpointError`, `MapFormatError` (a missing or corrupt map, also a lazily verified file on
    first use) and `InputError`.
    """
    if stride < 1:
        raise InputError(f"--stride must be >= 1 (every Nth frame), got {stride}")
    if max_frames < 0:
        raise InputError(f"--max-frames must be >= 0 (0: all frames), got {max_frames}")
    check_output_folder(out, overwrite, RUN_FILES, RUN_OUTPUTS)
    # the run records the map it used (config.yaml's map_path, metrics.json's "map"), as an
    # absolute path: the --map given or --params' map_path, relative to a folder now forgotten
    used = os.path.abspath(os.path.expanduser(map_path))
    cfg = dataclasses.replace(cfg, node=dataclasses.replace(cfg.node, map_path=used))
    gt_file = (_read_groundtruth(groundtruth, source.stamps_ns, cfg, stamps_written(source))
               if groundtruth else None)
    if gt_file is None:  # the frames' own poses are the ground truth of the metrics
        check_own_poses(source)
    # a run killed outright (kill -9, the OOM killer) leaves its frames so far in its temporary
    # folder's results.jsonl: the next writer of OUT keeps them as OUT.partial
    with atomic_folder(out, overwrite, RUN_FILES, RUN_OUTPUTS, salvage="results.jsonl") as tmp:
        try:
            metrics = _localize_run(source, map_path, tmp, cfg, gt_file, stride, max_frames,
                                    global_only)
        except BaseException:
            _keep_partial(tmp, out)
            raise
        partial = os.path.abspath(out) + ".partial"
        if os.path.isdir(partial):  # an earlier stopped run of this OUT, superseded now
            shutil.rmtree(partial, ignore_errors=True)  # under OUT's lock: not a live run's
            log.info("removed %s (the results of an earlier stopped run, superseded by %s)",
                     partial, out)
    return metrics


def _read_groundtruth(path: str, frame_stamps_ns: np.ndarray, cfg: Config,
                      frames_written: Tuple[str, bool] = ("", False)
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """``--groundtruth``, read whole; `InputError` when it holds no pose, is stamped in another
    time unit than the frames (`check_stamp_units`; ``frames_written``: `stamps_written` of
    their source, so that the frames' file is named when it is the one), or has none at any
    frame stamp by the
    pose-at-stamp rule (another recording, another clock), before a frame is localized."""
    stamps, poses, unit = read_tum_trajectory_and_unit(path)
    if not len(stamps):
        raise InputError(f"--groundtruth {path} holds no poses")
    frame_stamps_ns = np.asarray(frame_stamps_ns, dtype=np.int64)
    check_stamp_units(stamps, frame_stamps_ns, f"--groundtruth {path}", unit == "ns",
                      frames_written[1], frames_written[0])
    if len(frame_stamps_ns):
        at = poses_from_file((stamps, poses), frame_stamps_ns, cfg.pose_at_stamp)
        if not np.isfinite(at).all(axis=(1, 2)).any():
            raise InputError(
                f"--groundtruth {path} has no pose at any frame stamp: it covers "
                f"t={stamps.min() * 1e-9:.3f}..{stamps.max() * 1e-9:.3f} s, the frames "
                f"t={frame_stamps_ns.min() * 1e-9:.3f}..{frame_stamps_ns.max() * 1e-9:.3f} s "
                "(the ground truth of another recording?)")
    return stamps, poses


def _localize_run(source: FrameSource, map_path: str, out: str, cfg: Config,
                  gt_file: Optional[Tuple[np.ndarray, np.ndarray]], stride: int,
                  max_frames: int, global_only: bool) -> Dict[str, Any]:
    """``map_path`` as given (errors name the user's path); ``cfg.node.map_path`` absolute."""
    dump_config_yaml(recorded_config(cfg), os.path.join(out, "config.yaml"))
    loc = Localizer.from_config(cfg, map_path)
    if not loc.warmup_report:
        log.info("no warm-up before the first frame (--warmup runs it): its one-time costs "
                 "are kept out of the latency medians")
    try:
        results, gt_poses = _localize_to_file(loc, select_frames(source, stride, max_frames),
                                              os.path.join(out, "results.jsonl"), cfg,
                                              global_only)
        kf_poses = loc.keyframe_poses()
    finally:
        loc.close()
    if not results:
        raise InputError("the source has no frames to localize")
    if gt_file is not None:
        stamps = np.array([r.stamp_ns for r in results], dtype=np.int64)
        gt_poses = poses_from_file(gt_file, stamps, cfg.pose_at_stamp)
    return write_run(out, results, gt_poses, kf_poses, map_path=cfg.node.map_path,
                     warmed_up=bool(loc.warmup_report))


def _keep_partial(tmp: str, out: str) -> None:
    """Move an unfinished run with at least one result to ``OUT.partial`` (replacing an older
    one) so the frames localized before the stop are not lost."""
    results = os.path.join(tmp, "results.jsonl")
    if not (os.path.isfile(results) and os.path.getsize(results) > 0):
        return
    partial = os.path.abspath(out) + ".partial"
    try:
        shutil.rmtree(partial, ignore_errors=True)
        os.replace(tmp, partial)
    except OSError:
        return
    with open(os.path.join(partial, "results.jsonl"), encoding="utf-8") as fh:
        n = sum(1 for _ in fh)
    log.error("run stopped after %d frames: %s was not written (nor replaced); the results "
              "so far are in %s", n, out, partial)


def write_run(out: str, results: Sequence[LocalizationResult], gt_poses: np.ndarray,
              kf_poses: np.ndarray, map_path: str = "", warmed_up: bool = True
              ) -> Dict[str, Any]:
    """trajectory.tum, metrics.json, trajectory.png and errors.png of a run; returns the metrics.

    ``gt_poses`` (N, 4, 4) per result, NaN where unknown; ``map_path`` the map localized
    against (metrics.json's "map", first; left out when empty); ``warmed_up`` False keeps the
    first frame out of the latency statistics (`metrics.summarize`).
    """
    ok = [r for r in results if r.success]
    write_tum_trajectory(os.path.join(out, "trajectory.tum"),
                         np.array([r.stamp_ns for r in ok], dtype=np.int64),
                         np.stack([r.map_from_cam for r in ok]) if ok else np.zeros((0, 4, 4)))
    gt = gt_poses if np.isfinite(gt_poses).all(axis=(1, 2)).any() else None
    summary = summarize(results, gt, warmed_up)
    metrics = {"map": map_path, **summary} if map_path else summary
    atomic_write_json(os.path.join(out, "metrics.json"), metrics)
    est = np.full((len(results), 3), np.nan)
    for i, r in enumerate(results):
        if r.success:
            est[i] = r.map_from_cam[:3, 3]
    plot_trajectory(os.path.join(out, "trajectory.png"), est,
                    gt[:, :3, 3] if gt is not None else None, kf_poses)
    t = np.array([r.stamp_ns for r in results], dtype=np.float64) * 1e-9
    plot_errors(os.path.join(out, "errors.png"), t - t[0], frame_errors(results, gt),
                np.array([r.success for r in results]))
    return metrics
