"""Localize a recording against a map and write the run folder (``mast3r-ros localize``).

Localization is driven by the one tracker (`mast3r_ros.core.tracker.Tracker`): each frame is
localized with the tracker's hint and the result updates the tracker. Each result is appended
to the run's results.jsonl as it comes, so a run stopped early keeps the frames it finished
(``RUN.partial``), which a later run to the same folder continues (``resume``: those frames are
not localized again) or deletes (``restart``), and refuses without either (`run_resume`). The
map side is `mast3r_ros.replay.pipeline`.

A frame the source cannot read (its image file missing, truncated or corrupt, an undecodable or
undeserializable message: `UnreadableFrame`, where the source reads frames one by one, TUM
folders and rosbag2) does not stop the run: it is a failed frame, reason 'unreadable frame: <the
error, naming the file>', in results.jsonl and the metrics (``unreadable_frames``), with a
warning, and the next frame is read. A recording where no frame can be read is broken rather
than one frame: when the first `unreadable.ALL_UNREADABLE_STOP` frames (or all of them, for
fewer) are unreadable, the run stops with the first frame's error, as any error stops it,
before any result is written (no ``RUN.partial``). Errors that are not about one frame (the
source, the map, the model, Ctrl-C) stop the run as before. ``build-map`` skips such frames by
the same rule (`mast3r_ros.replay.unreadable`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..core.config import NODE_NAME, Config, dump_config_yaml
from ..core.durable import flush_filesystem, fsync_dir
from ..core.errors import (MAP_PERMISSIONS, MAP_REPLACED, InputError, MapFormatError,
                               after_publishing)
from ..core.fileio import (acquire_output_lock, atomic_folder, atomic_write_json, atomic_write_text,
                           check_output_folder, needs_overwrite, output_path)
from ..core.localizer import Localizer
from ..core.localizer.stretch_log import StretchLog
from ..core.path_expand import expand_path
from ..core.pnp import poselib_available
from ..core.repeated_image import RepeatedImageCheck
from ..core.tracker import StampCheck, Tracker
from ..core.trajectory import check_stamp_units
from ..core.types import LocalizationResult, UnreadableFrame
from .localize_checks import check_before_indexing, check_frame_options  # noqa: F401 (re-exported)
from .metrics import (FOCAL_TOLERANCE, UNREADABLE, calibration_d2, camera_warnings,
                      frame_errors, summarize)
from .pipeline import poses_from_file, poses_not_at_frames, progress, recorded_config
from .plots import plot_calibration, plot_errors, plot_trajectory
from .run_notes import bag_image_stamp_note, frame_selection
from .run_record import result_record
from .run_resume import (RUN_FACTS, camera_record, check_same_camera, partial_frames,
                         partial_of, recorded_stamps, resume_settings, source_run,
                         start_from_partial, with_frame_index, write_run_facts)
from .sources import (
    FrameOrUnreadable,
    FrameSource,
    check_own_poses,
    frames_or_unreadable,
    selected_positions,
    stamps_written,
)
from .shared_stamps import SharedPoses, ambiguous_stamps, leave_out_ambiguous, own_shared_poses
from .tum import SPLIT_FILE, trajectory_reset_reason, write_tum_trajectory
from .tum_trajectory import read_tum_trajectory_shared
from .unreadable import hold_unreadable, warn_unreadable

log = logging.getLogger(__name__)

def say_at_once(r: LocalizationResult, said: StretchLog) -> None:
    """Log ``r``'s reason (a warning) when it begins a stretch of the distortion gate's mid-run
    reasons, which the end of the run alone said before; a line a reason every 10 s of frame
    stamps at most, with the count held back (`StretchLog`, the node's rule too)."""
    lines = said.note(r, r.stamp_ns * 1e-9)
    if lines.reason:
        log.warning("frame at t=%.6f s: %s", r.stamp_ns * 1e-9, lines.reason)
    for line in lines.summaries:
        log.warning("%s", line)


def _recorded_camera(frame: Any, r: LocalizationResult) -> Any:
    """The camera a recorded result ``r`` was localized with, for `Localizer.recall`:
    ``frame``'s intrinsics (read again; a results.jsonl line's ``camera`` is checked against
    them, `check_same_camera`), or None where ``r``'s fit came without its camera (a line
    without ``camera``): the frame may have been localized with another camera than it reads
    with now, and its fit is not tied to this one (`run_evidence.RunFits` keeps it apart)."""
    if r.focal_fit is not None and r.focal_fit.camera is None:
        return None
    return getattr(frame, "intrinsics", None)


def localize_frames(loc: Localizer, frames: Iterable[FrameOrUnreadable], tracker: Tracker,
                    global_only: bool = False,
                    done: Optional[Dict[int, LocalizationResult]] = None,
                    one_run: bool = False
                    ) -> Iterator[Tuple[FrameOrUnreadable, LocalizationResult]]:
    """Localize each frame with the tracker's hint (none with ``global_only``); yields
    (frame, result) after the tracker has been updated with the result. ``done``: results a
    stopped run recorded, by the 0-based place of their frame in ``frames`` (``resume``,
    `run_resume`): such a frame is not localized (nor refused when unreadable now), its
    recorded result takes its place.
    A frame stamped before the one before it resets the tracking (a bag loop, a clock reset),
    except with ``one_run``: the frames are one run of a rosbag2 (`BagSequence` split its clock
    resets off), so it was recorded out of order, and tracking goes on (said at INFO).

    An `UnreadableFrame` becomes a failed result, reason 'unreadable frame: <its error>', with
    a warning (`unreadable.warn_unreadable`); `InputError` (the first one's error) when the
    first `unreadable.ALL_UNREADABLE_STOP` frames, or all of fewer, are unreadable (module
    docstring);
    unreadable frames before the first frame read are yielded only once one is read, so that
    such a stop writes no result (`unreadable.hold_unreadable`)."""
    done, pulled = done or {}, [0]
    repeats = RepeatedImageCheck()  # a frozen driver's frames (core/repeated_image.py)
    said = StretchLog()  # `say_at_once`'s stretches

    def counted() -> Iterator[FrameOrUnreadable]:  # the place of the frame read last
        for f in frames:
            pulled[0] += 1
            yield f
    # frames share stamps (every image stamped 0): a recorded one is known by its place, which
    # hold_unreadable keeps (it asks of each frame as it is read)
    for i, (f, n) in enumerate(hold_unreadable(counted(), lambda f: pulled[0] - 1 in done)):
        last = tracker.last_stamp_ns
        if tracker.check_stamp(f.stamp_ns, not one_run) is StampCheck.BACKWARDS:
            if one_run:
                log.info("the image at t=%.6f s was recorded out of order (%.3f s before the "
                         "one before it): tracking goes on", f.stamp_ns * 1e-9,
                         (last - f.stamp_ns) * 1e-9)
            else:
                log.warning("time went backwards at t=%.6f s: tracking reset",
                            f.stamp_ns * 1e-9)
        if n:
            yield f, _unreadable_failure(f, tracker, n)
            continue
        r = done.get(i)
        if r is None:
            frozen = repeats.check(f.rgb, f.stamp_ns)
            if frozen:  # a frozen driver: the pose would be where the camera was
                if repeats.repeats == 1:  # once a run of repeats; each is in results.jsonl
                    log.warning("frame at t=%.6f s: %s", f.stamp_ns * 1e-9, frozen)
                r = LocalizationResult.failure(f.stamp_ns, frozen)
            else:
                hint = None if global_only else tracker.hint(f.stamp_ns)
                try:
                    r = loc.localize(f, force_global=global_only, hint=hint)
                except InputError as e:  # an image the network cannot take: which frame
                    raise InputError(f"the recording's frame at stamp {f.stamp_ns * 1e-9:.6f} "
                                     f"s: {e}") from None
        else:  # its fits to the run gates, as when it was localized
            loc.recall(r, _recorded_camera(f, r))
            repeats.reset()  # its pixels were not read
        tracker.update(r)
        say_at_once(r, said)
        yield f, r
    for line in said.flush():  # the stretches held back since their last line
        log.warning("%s", line)


def _unreadable_failure(f: UnreadableFrame, tracker: Tracker, n: int) -> LocalizationResult:
    """The failed result of the ``n``-th unreadable frame ``f``, warned about, counted by the
    tracker."""
    warn_unreadable(f, n, "a failed frame")
    r = LocalizationResult.failure(f.stamp_ns, f"{UNREADABLE}: {f.reason}", unreadable=True)
    # the node's rule (ros/processing.py, _fail): a frame refused before the localizer
    # (undecodable, of the wrong size) with a valid new stamp is a tracker failure (tracking
    # lost after lost_after_failures in a row); so is an unreadable frame here
    tracker.update(r)
    return r


def _localize_to_file(loc: Localizer, frames: Iterable[FrameOrUnreadable], path: str,
                      cfg: Config, global_only: bool, total: Optional[int] = None,
                      done: Optional[Dict[int, LocalizationResult]] = None,
                      lines: Optional[Dict[int, str]] = None, warmed_up: bool = True,
                      one_run: bool = False, positions: Optional[Sequence[int]] = None
                      ) -> Tuple[List[LocalizationResult], np.ndarray, List[int]]:
    """Localize, appending each result to ``path`` as it comes; returns (results, frame poses
    (N, 4, 4), NaN where a frame has none, the indices of the results that paid the one-time
    costs). ``total``: the frame count the progress bar
    shows (its percentage and ETA; None where the source's length is unknown). ``done`` and
    ``lines`` (by the frame's place in ``frames``): a resumed partial's results and lines
    (`run_resume.start_from_partial`), written first (a stop keeps them with the new ones);
    once all frames are done the file is rewritten in frame order, as a run in one go.
    Without a warm-up (``warmed_up`` False) the first frame this process localizes (with
    timings: not an unreadable one) pays the one-time costs: its line is marked
    ``"cold_start": true``, as are those of the resumed partial's earlier processes, and all of
    them are left out of the latency statistics (`metrics.summarize`). ``one_run``: see
    `localize_frames`. ``positions``: the frames' places in SOURCE, each line's `FRAME_INDEX`
    (None: 0, 1, ...)."""
    tracker = Tracker(cfg.localizer.lost_after_failures, cfg.localizer.hint_max_age_s)
    results: List[LocalizationResult] = []
    gt: List[np.ndarray] = []
    done, lines = done or {}, lines or {}
    # the resumed partial's cold frames, by place: a camera that stamps every image 0 repeats
    # the cold frame's stamp
    cold = [i for i, line in lines.items() if json.loads(line).get("cold_start")]
    recorded = {id(r) for r in done.values()}
    cold_now: List[int] = []
    cold_pending = not warmed_up
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines.values())
        fh.flush()
        # the bar starts at the recorded frames and counts the frames localized now
        def localized_now(fr: Tuple[Any, LocalizationResult]) -> bool:
            return id(fr[1]) not in recorded

        for f, r in progress(localize_frames(loc, frames, tracker, global_only, done, one_run),
                             total,
                             "localize", len(done), localized_now, unit="frame"):
            i = len(results)
            results.append(r)
            gt.append(f.map_from_cam if f.map_from_cam is not None else np.full((4, 4), np.nan))
            if done.get(i) is r:
                check_same_camera(lines[i], f)
            else:
                rec = with_frame_index(result_record(r), positions[i] if positions is not None
                                       and i < len(positions) else i)
                cam = camera_record(getattr(f, "intrinsics", None))
                if cam is not None:
                    rec["camera"] = cam
                if cold_pending and r.timings_s:  # this process's first localized frame
                    cold_pending = False
                    cold_now.append(i)
                    rec["cold_start"] = True
                line = json.dumps(rec)
                if lines:
                    lines[i] = line
                fh.write(line + "\n")
                fh.flush()
    if lines:
        atomic_write_text(path, "".join(lines[i] + "\n" for i in range(len(results))))
    cold = sorted(cold_now + [i for i in cold if i < len(results)])
    return results, np.stack(gt) if gt else np.zeros((0, 4, 4)), cold


RUN_FILES = ("results.jsonl", "metrics.json", "trajectory.tum", "config.yaml")
# everything a run folder holds: --overwrite replaces no folder holding anything else (a user's
# notes or code beside copied run files)
RUN_OUTPUTS = RUN_FILES + ("trajectory.png", "errors.png", "calibration.png", RUN_FACTS)


def run_localization(source: FrameSource, map_path: str, out: str, cfg: Config,
                     groundtruth: Optional[str] = None, stride: int = 1, max_frames: int = 0,
                     global_only: bool = False, overwrite: bool = False, resume: bool = False,
                     restart: bool = False, *, resume_hint: str = "",
                     source_path: str = "", params_warmup: Optional[bool] = None,
                     node_name: str = NODE_NAME) -> Dict[str, Any]:
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
    Ctrl-C) leaves ``out`` as it was and its results so far in ``OUT.partial``; a run killed
    outright (``kill -9``, the OOM killer) leaves them in its temporary folder, which the next
    run to ``out`` renames to ``OUT.partial``. An ``OUT.partial`` holding results is refused
    (`InputError`, also with ``overwrite``) unless ``resume`` (its frames are taken as recorded,
    the others localized: a stop keeps them all in ``OUT.partial``; refused when it was made
    with another ``global_only``, or against a map rebuilt at ``map_path`` since, which the
    run records in run.json: ``map_digest``, `map_files.content_digest`) or ``restart`` (it is
    deleted first) (`run_resume`); a complete run removes the ``OUT.partial`` it supersedes.
    The line a stop logs says how to go on: ``resume_hint`` (a caller's own, the demo's, whose
    user has no --resume), else localize's --resume (with --overwrite when ``out`` exists), after
    a `MapFormatError` only once the map is fixed. run.json records ``source_path`` (SOURCE as
    given), ``stride`` and ``max_frames`` with the frame counts (`run_notes.frame_selection`).
    ``params_warmup``: the parameter file's ``warmup``, which config.yaml records where
    ``cfg``'s is the offline run's choice (`cli_options.offline_warmup`: off on a CPU run), so
    that the file given to the node keeps its warm-up; run.json records the run's (``warmup``).
    ``node_name``: the node config.yaml's block is for (``--node-name``; `recorded_file`).

    A frame the source cannot read is a failed frame and the run goes on; `InputError` with
    the first one's error when the first `ALL_UNREADABLE_STOP` frames (or all) are unreadable
    (module docstring). Also raises what `Localizer.from_config` and `Localizer.localize`
    raise: `ConfigError`, `CheckpointError`, `MapFormatError` (a missing or corrupt map, also a
    lazily verified file on first use) and `InputError`.
    """
    check_frame_options(stride, max_frames)
    check_output_folder(out, overwrite, RUN_FILES, RUN_OUTPUTS)
    own_hint = bool(resume_hint)  # the demo's: its rerun rebuilds the map too
    # the older run stays: still needed (not for an empty folder, published onto without it)
    again = " --overwrite" if needs_overwrite(out) else ""
    # a damaged map (MapFormatError: its error says rebuild or re-copy) stops every rerun until it
    # is fixed; --resume then checks the fixed map has the keyframes the frames were localized on
    map_hint = (f"rerun with --resume{again} to go on from them (refused if the {{}} map's "
                f"keyframes differ: then --restart{again})")
    resume_hint = resume_hint or (f"rerun with --resume{again} to go on from them (or "
                                  f"--restart{again} to start over)")
    # the run records the map it used (config.yaml's map_path, metrics.json's "map"), as an
    # absolute path: the --map given or --params' map_path, relative to a folder now forgotten
    used = os.path.abspath(expand_path(map_path))
    cfg = dataclasses.replace(cfg, node=dataclasses.replace(cfg.node, map_path=used))
    gt_file = (_read_groundtruth(groundtruth, source.stamps_ns, cfg, stamps_written(source))
               if groundtruth else None)
    if gt_file is None:  # the frames' own poses are the ground truth of the metrics
        check_own_poses(source)
    # a run killed outright (kill -9, the OOM killer) leaves its frames so far in its temporary
    # folder's results.jsonl: the next writer of OUT keeps them as OUT.partial
    lock = acquire_output_lock(out, salvage="results.jsonl")
    try:
        with atomic_folder(out, overwrite, RUN_FILES, RUN_OUTPUTS, locked=True,
                           what="the run") as tmp:
            # under OUT's lock, after a killed run's lines were salvaged: refused, resumed or
            # deleted
            stamps = np.asarray(source.stamps_ns, dtype=np.int64)
            places = selected_positions(len(stamps), stride, max_frames)
            cfg = resume_settings(out, cfg, resume)  # a partial's of an older mast3r_ros
            done, lines = start_from_partial(out, cfg, stamps[list(places)], resume, restart,
                                             overwrite, global_only, source_run(source), places)
            try:
                metrics = _localize_run(source, map_path, tmp, cfg, gt_file, stride,
                                        max_frames, global_only, done, lines, source_path,
                                        params_warmup, node_name)
            except BaseException as e:
                _keep_partial(tmp, out, _map_stop_hint(e, map_hint) if isinstance(
                    e, MapFormatError) and not own_hint else resume_hint)
                raise
        # after OUT is published (a Ctrl-C while removing it lost the complete run, and is
        # said to come after it), still under OUT's lock: not a live run's
        with after_publishing("the run", output_path(out)):
            partial = partial_of(out)
            if os.path.isdir(partial):  # an earlier stopped run of this OUT, superseded now
                shutil.rmtree(partial, ignore_errors=True)
                log.info("removed %s (the results of an earlier stopped run, superseded by "
                         "%s)", partial, out)
    finally:
        lock.release()
    return metrics


def _read_groundtruth(path: str, frame_stamps_ns: np.ndarray, cfg: Config,
                      frames_written: Tuple[str, bool] = ("", False)
                      ) -> Tuple[np.ndarray, np.ndarray, SharedPoses]:
    """``--groundtruth``, read whole, and its `SharedPoses` (warned about; the frames posed
    from them are left out); `InputError` when it holds no pose, is stamped in another
    time unit than the frames (`check_stamp_units`; ``frames_written``: `stamps_written` of
    their source, so that the frames' file is named when it is the one), or has none at any
    frame stamp by the
    pose-at-stamp rule (another recording, another clock), before a frame is localized."""
    stamps, poses, unit, shared = read_tum_trajectory_shared(path, "--groundtruth")
    shared.warn()
    if not len(stamps):
        raise InputError(f"--groundtruth {path} holds no poses")
    why = trajectory_reset_reason(stamps, SPLIT_FILE, poses)
    if why:
        raise InputError(f"--groundtruth {path}: {why}")
    frame_stamps_ns = np.asarray(frame_stamps_ns, dtype=np.int64)
    check_stamp_units(stamps, frame_stamps_ns, f"--groundtruth {path}", unit == "ns",
                      frames_written[1], frames_written[0])
    if len(frame_stamps_ns):
        at = poses_from_file((stamps, poses), frame_stamps_ns, cfg.pose_at_stamp)
        if not np.isfinite(at).all(axis=(1, 2)).any():
            if stamps.min() <= frame_stamps_ns.max() and frame_stamps_ns.min() <= stamps.max():
                raise InputError(  # the same recording, its poses sampled too sparsely
                    f"--groundtruth {path} has no pose at any frame stamp: " + poses_not_at_frames(
                        ("--groundtruth", stamps), frame_stamps_ns, frame_stamps_ns,
                        cfg.pose_at_stamp))
            raise InputError(
                f"--groundtruth {path} has no pose at any frame stamp: it covers "
                f"t={stamps.min() * 1e-9:.3f}..{stamps.max() * 1e-9:.3f} s, the frames "
                f"t={frame_stamps_ns.min() * 1e-9:.3f}..{frame_stamps_ns.max() * 1e-9:.3f} s "
                "(the ground truth of another recording?)")
        # the TUM folder's log line counts its own groundtruth.txt, which this one replaces
        log.info("--groundtruth %s: a pose at %d of the %d frames (pose_at_stamp rule)", path,
                 int(np.isfinite(at).all(axis=(1, 2)).sum()), len(frame_stamps_ns))
    return stamps, poses, shared


def _localize_run(source: FrameSource, map_path: str, out: str, cfg: Config,
                  gt_file: Optional[Tuple[np.ndarray, np.ndarray, SharedPoses]], stride: int,
                  max_frames: int, global_only: bool,
                  done: Optional[Dict[int, LocalizationResult]] = None,
                  lines: Optional[Dict[int, str]] = None, source_path: str = "",
                  params_warmup: Optional[bool] = None,
                  node_name: str = NODE_NAME) -> Dict[str, Any]:
    """``map_path`` as given (errors name the user's path); ``cfg.node.map_path`` absolute;
    ``done``, ``lines``: a resumed partial's (`_localize_to_file`)."""
    warm = cfg.localizer.warmup if params_warmup is None else bool(params_warmup)
    dump_config_yaml(recorded_config(dataclasses.replace(cfg, localizer=dataclasses.replace(
        cfg.localizer, warmup=warm))), os.path.join(out, "config.yaml"), node_name)
    # what --resume compares that config.yaml lacks: --global-only, the map's content digest;
    # and what the run took of which recording (SOURCE, --stride, --max-frames)
    write_run_facts(out, global_only, cfg.node.map_path, source_run(source),
                    frame_selection(source, source_path, stride, max_frames),
                    warmup=cfg.localizer.warmup)
    loc = Localizer.from_config(cfg, map_path)
    stamps_note = bag_image_stamp_note(source, loc.keyframe_map.manifest, map_path)
    if stamps_note:  # a bag read with another --image-stamp than the map's recording was
        log.warning("%s", stamps_note)
    if cfg.localizer.pnp.backend == "auto" and not poselib_available():
        # config.yaml says 'auto': which RANSAC ran is said here, as a run without poselib
        # reads other figures (redkitchen SIFT: p90 6.2 cm, not the README's 3.7 cm)
        log.info("PnP-RANSAC: OpenCV's USAC_MAGSAC (pnp.backend 'auto': poselib is not "
                 "installed; `pip install poselib`, the 'poselib' extra, for poselib's)")
    if not loc.warmup_report:
        log.info("no warm-up before the first frame (--warmup runs it): its one-time costs "
                 "are kept out of the latency medians")
    try:
        # only the frames taken are read: a skipped frame is never decoded (nor unreadable),
        # nor is a resumed partial's frame (its stamp, camera and ground truth are enough)
        places = selected_positions(len(source.stamps_ns), stride, max_frames)
        recorded = recorded_stamps([source.stamps_ns[p] for p in places], done or {})
        frames = frames_or_unreadable(source, stride, max_frames, recorded=recorded)
        total = (len(selected_positions(len(source), stride, max_frames))
                 if hasattr(source, "__len__") else None)
        results, gt_poses, cold = _localize_to_file(
            loc, frames, os.path.join(out, "results.jsonl"), cfg, global_only, total, done,
            lines, bool(loc.warmup_report), source_run(source) is not None, places)
        kf_poses = loc.keyframe_poses()
    finally:
        loc.close()
    if not results:
        raise InputError("the source has no frames to localize")
    bad = [r for r in results if r.unreadable]
    if bad:  # the first one's reason names its file (a bag: its topic and stamp)
        log.warning("%d of %d frames could not be read: they are failed frames (the first at "
                    "t=%.6f s: %s; each one's reason in results.jsonl, '%s: ...')", len(bad),
                    len(results), bad[0].stamp_ns * 1e-9,
                    bad[0].reason.split(": ", 1)[-1], UNREADABLE)
    if gt_file is not None:
        stamps = np.array([r.stamp_ns for r in results], dtype=np.int64)
        gt_poses = poses_from_file(gt_file, stamps, cfg.pose_at_stamp)
    # two images at one stamp: either's pose, or neither's (also a --groundtruth file's)
    gt_poses, ambiguous = leave_out_ambiguous([r.stamp_ns for r in results], gt_poses,
                                              ambiguous_stamps(source),
                                              gt_file or own_shared_poses(source),
                                              cfg.pose_at_stamp)
    metrics = write_run(out, results, gt_poses, kf_poses, map_path=cfg.node.map_path,
                        warmed_up=bool(loc.warmup_report), cold=cold,
                        focal_tolerance=cfg.localizer.gates.max_focal_error,
                        ambiguous=ambiguous)
    for warning in camera_warnings(metrics):  # one line each at the end of the run
        log.warning("%s", warning)
    return metrics


def _map_stop_hint(err: MapFormatError, go_on: str) -> str:
    """How to go on after a run stopped by ``err``: 'the map is damaged: fix it first as the
    error says, then ``go_on``', or, for a map file this user may not read
    (`errors.map_file_unreadable`: the files are whole), 'the map is not readable by this user:
    ...'; for a map replaced while the run read it (`errors.MAP_REPLACED`: whole, so nothing to
    fix; it was called damaged), 'the map was replaced while the run read it: ``go_on``'.
    ``go_on``: the rerun, its '{}' the map it names ('fixed', 'new')."""
    if MAP_REPLACED in str(err):
        return f"the map was replaced while the run read it: {go_on.format('new')}"
    what = "not readable by this user" if MAP_PERMISSIONS in str(err) else "damaged"
    return f"the map is {what}: fix it first as the error says, then {go_on.format('fixed')}"


def _keep_partial(tmp: str, out: str, hint: str = "") -> None:
    """Move an unfinished run with at least one result to ``OUT.partial`` (replacing an older
    one: a run starts only when there is none with results, or it resumes one, whose results
    ``tmp`` holds too) so the frames localized before the stop are not lost: flushed to disk
    first (a writeback error keeps the older one and is logged). A ``tmp`` holding no more
    results than ``OUT.partial`` (a resume refused before its first new frame) leaves it as it
    is, without a word: the refusal is the message. ``hint``: how to go on, ending the line
    logged (`run_localization`'s ``resume_hint``)."""
    results = os.path.join(tmp, "results.jsonl")
    if not (os.path.isfile(results) and os.path.getsize(results) > 0):
        return
    partial = partial_of(out)
    if partial_frames(tmp) <= partial_frames(partial):  # a resume stopped before a new frame
        return  # (refused: another camera): the partial as it was, and no "run stopped" line
    try:
        flush_filesystem(tmp)  # results.jsonl is appended, never fsynced
    except OSError as e:
        log.error("run stopped: its results so far could not be written to disk (%s), so "
                  "they are not kept in %s (an older one there is as it was)", e.strerror or e,
                  partial)
        return
    try:
        shutil.rmtree(partial, ignore_errors=True)
        os.replace(tmp, partial)
    except OSError:
        return
    fsync_dir(os.path.dirname(os.path.abspath(partial)))  # the rename itself
    with open(os.path.join(partial, "results.jsonl"), encoding="utf-8") as fh:
        n = sum(1 for _ in fh)
    # "nor replaced" only when there is an older run: demo --overwrite removed it with its map
    log.error("run stopped after %d frame%s: %s was not %s; the results so far are in %s%s", n,
              "" if n == 1 else "s", out, "replaced (the older run is as it was)"
              if os.path.exists(os.path.join(out, "results.jsonl")) else "written", partial,
              f"; {hint}" if hint else "")


def write_run(out: str, results: Sequence[LocalizationResult], gt_poses: np.ndarray,
              kf_poses: np.ndarray, map_path: str = "", warmed_up: bool = True,
              cold: Optional[Sequence[int]] = None,
              focal_tolerance: float = FOCAL_TOLERANCE,
              ambiguous: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """trajectory.tum, metrics.json, trajectory.png, errors.png and, with ground truth,
    calibration.png (the covariance's reliability line) of a run; returns the metrics.

    ``gt_poses`` (N, 4, 4) per result, NaN where unknown; ``map_path`` the map localized
    against (metrics.json's "map", first; left out when empty); ``warmed_up`` False keeps the
    first frame out of the latency statistics (`metrics.summarize`); ``cold``, instead: the
    indices of every frame that paid the one-time costs (`_localize_to_file`);
    ``focal_tolerance``: the run's ``gates.max_focal_error`` (`metrics.camera_focal`);
    ``ambiguous``: metrics.json's ``ambiguous_groundtruth`` (`shared_stamps`), their
    ``gt_poses`` already NaN.
    """
    ok = [r for r in results if r.success]
    write_tum_trajectory(os.path.join(out, "trajectory.tum"),
                         np.array([r.stamp_ns for r in ok], dtype=np.int64),
                         np.stack([r.map_from_cam for r in ok]) if ok else np.zeros((0, 4, 4)))
    gt = gt_poses if np.isfinite(gt_poses).all(axis=(1, 2)).any() else None
    summary = summarize(results, gt, warmed_up, cold, focal_tolerance, ambiguous)
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
    if gt is not None:  # the covariance's reliability line needs ground truth
        plot_calibration(os.path.join(out, "calibration.png"), calibration_d2(results, gt))
    return metrics
