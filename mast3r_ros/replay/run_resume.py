"""``localize --resume`` / ``--restart``: what to do with the ``RUN.partial`` of a stopped run.

A run stopped early (an error, Ctrl-C, SIGTERM; a ``kill -9`` salvaged by the next writer)
keeps its results so far in ``RUN.partial/results.jsonl`` (`localize_run`). A later run to the
same ``--out`` that was stopped too replaced it whole, so the frames of the first were lost. As
build-map does for an unfinished ``MAP.partial``, an ``RUN.partial`` holding results is now
refused unless ``resume`` (its frames are not localized again: their recorded results take
their place, matched by the frame's place in SOURCE and its stamp, `FRAME_INDEX`, as frames
may share a stamp, and the rest are localized) or ``restart`` (it is deleted and the run
starts from the first frame). ``--overwrite`` only replaces a complete run at ``RUN``:
it never deletes a partial (as build-map's ``--overwrite`` never deletes a ``MAP.partial``).

A partial is resumed only when it was made against the same map (by content: `RUN_FACTS`,
its ``run.json``, records the map's content digest, so a map rebuilt at the same path is told
apart, and a copy of it at another path, or the folder moved, is the same map: the run goes on
against the path given now, which its config.yaml records, with an info line naming both) with
the same settings of what a frame's result depends on (`RESULT_PARAMS`) and the same run
options that change a result (``--global-only``, and a bag's ``--run``, whose runs after a
clock reset may share their stamps: also in `RUN_FACTS`), and when every
frame it holds is one this run localizes (the same recording, ``--stride`` and
``--max-frames`` covering it); each is refused with `InputError` naming the difference and
``--restart``. A last results.jsonl line cut short by a hard stop (`result_lines`: ``kill -9``,
a power loss) is dropped with a warning and its frame localized again; a bad line elsewhere is
refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from typing import Any, Collection, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..core.camera_key import key_of_values
from ..core.config import Config, config_to_params
from ..core.config.recorded_file import load_recorded_config
from ..core.errors import ConfigError, InputError
from ..core.focal_evidence import FocalFit
from ..core.distortion_evidence import DistortionFit
from ..core.principal_point_evidence import PrincipalPointFit
from ..core.fileio import atomic_write_json, output_path, refuse_busy_output
from ..core.keyframes.map_files import content_digest
from ..core.types import LocalizationResult
from .pipeline import recorded_config

log = logging.getLogger(__name__)

# the parameters a frame's result depends on (not how fast or where it is computed: device,
# compile, caches, the warm-up, the nearest-neighbour backend): a partial made with other
# values is not resumed
_RESULT_PREFIXES = ("matching.", "pnp.", "gates.", "covariance.", "pose_at_stamp.", "scale.",
                    "retrieval.")
_NOT_RESULT = {"matching.nn_backend", "matching.cuda_graph", "retrieval.device",
               "scale.encoding_cache_mb", "scale.device_cache_mb", "scale.chunk_size"}
RESULT_PARAMS = ("checkpoint", "precision", "image_size", "backend", "matcher", "max_keyframes",
                 "retrieval_top_k", "prior_radius_m", "points_source", "max_scale_error",
                 "lost_after_failures", "hint_max_age_s", "image_stamp")


# the run folder's record of the run options a frame's result depends on that config.yaml does
# not hold (``global_only``) and the map's identity (``map_digest``: `content_digest`, which
# caching encodings into the map leaves as it is), written before the first frame: what
# `--resume` compares
RUN_FACTS = "run.json"


def source_run(source: Any) -> Optional[int]:
    """The run of the recording ``source`` reads (from 1: a rosbag2's `BagSequence.run`, which
    ``--run`` chooses where its header time jumps back); None for a source without runs (a TUM
    folder)."""
    run = getattr(source, "run", None)
    return int(run) if isinstance(run, (int, np.integer)) and not isinstance(run, bool) else None


def write_run_facts(folder: str, global_only: bool, map_path: str,
                    run: Optional[int] = None, frames: Optional[Dict[str, Any]] = None,
                    warmup: Optional[bool] = None) -> None:
    """`RUN_FACTS` in ``folder`` (a run's, before its first frame) for the map at
    ``map_path``; ``run``: the recording's run it reads (`source_run`); ``frames``: what it
    localizes of which recording (`run_notes.frame_selection`: SOURCE, --stride, --max-frames
    and the counts), which neither config.yaml nor metrics.json records; ``warmup``: whether
    the run warms up (the offline choice; config.yaml keeps the parameter file's)."""
    atomic_write_json(os.path.join(folder, RUN_FACTS), {
        "global_only": bool(global_only), "map_digest": content_digest(map_path), "run": run,
        **({"selection": frames} if frames else {}),
        **({"warmup": bool(warmup)} if warmup is not None else {})})


def partial_of(out: str) -> str:
    """``OUT.partial``: beside the folder ``out`` is published at (a symlink's target, as its
    temporaries and the ones a killed run left, `publish.remove_stale_temporaries`)."""
    return output_path(out).rstrip("/") + ".partial"


def partial_frames(partial: str) -> int:
    """The results (lines) in ``partial``'s results.jsonl, a last line cut short
    (`result_lines`) not counted; 0 without one."""
    try:
        with open(os.path.join(partial, "results.jsonl"), "rb") as fh:
            return len(result_lines(fh.read())[0])
    except OSError:
        return 0


def result_lines(data: bytes) -> Tuple[List[Tuple[int, str]], bool]:
    """(the non-blank lines of a results.jsonl's ``data``, each with its line number from 1;
    whether its last line was cut short and left out). A run appends each line whole and
    never fsyncs it (`localize_run`), so a stop without clean-up (``kill -9``, a power loss)
    can leave the last one incomplete: no newline, or bytes that are no JSON (a tail the file
    system zero-filled). Only that last line is left out; one that is JSON is kept (the
    caller refuses it when it is no result), as is any bad line before it."""
    out = [(i, line.decode("utf-8", "replace")) for i, line in
           enumerate(data.split(b"\n"), start=1) if line.strip()]
    if not out:  # (the last of them is the file's: only blank lines follow it)
        return out, False
    try:
        json.loads(out[-1][1])
    except ValueError:
        return out[:-1], True
    return out, False


RESUME_AND_RESTART = ("--resume continues a stopped run and --restart deletes it: give one of "
                      "them")


def check_partial(out: str, resume: bool, restart: bool, overwrite: bool = False) -> int:
    """`InputError` for ``resume`` with ``restart``, and for an ``OUT.partial`` holding results
    with neither (naming it, its frame count, --resume and --restart); returns its frame count
    (0: none to resume). Deletes nothing (`start_from_partial` does, under ``out``'s lock)."""
    if resume and restart:
        raise InputError(RESUME_AND_RESTART)
    partial = partial_of(out)
    n = partial_frames(partial)
    if n and not resume and not restart:
        again = " --overwrite" if overwrite else ""
        raise InputError(f"{partial} holds a stopped run of {out} with {n} frame(s): rerun with "
                         f"--resume{again} to continue it, or with --restart{again} to delete "
                         "it and start over")
    return n


def check_partial_before_run(out: str, resume: bool, restart: bool,
                             overwrite: bool = False) -> int:
    """`check_partial` made before the source is read (``localize``): first `OutputBusyError`
    (naming --out) when a live run holds ``out``'s lock, whose ``OUT.partial`` (the results a
    resuming run goes on from) is no stopped run to --resume or --restart, as build-map says
    a live build is writing its --out. Takes no lock; the run checks again under its own."""
    refuse_busy_output(out, "--out")
    return check_partial(out, resume, restart, overwrite)


def start_from_partial(out: str, cfg: Config, stamps_ns: np.ndarray, resume: bool,
                       restart: bool, overwrite: bool = False, global_only: bool = False,
                       run: Optional[int] = None, positions: Optional[Sequence[int]] = None
                       ) -> Tuple[Dict[int, LocalizationResult], Dict[int, str]]:
    """Under ``out``'s lock, before a frame is localized: `check_partial`, then with
    ``restart`` the partial deleted; with ``resume`` its (results, results.jsonl lines), each
    by its frame's 0-based place in this run's frames (({}, {}) when there is none).
    ``cfg``: this run's, its ``node.map_path`` absolute; ``stamps_ns``: the stamps of the
    frames it localizes, in order; ``positions``: their places in SOURCE (`FRAME_INDEX`;
    None: 0, 1, ...); ``global_only``, ``run`` (`source_run`): this run's (compared with the
    partial's `RUN_FACTS`). A line is matched by its `FRAME_INDEX` and stamp, a line of an older
    mast3r_ros (none) by its stamp where this run's stamps are unique, else `InputError`."""
    n = check_partial(out, resume, restart, overwrite)
    partial = partial_of(out)
    if restart and n:  # a run's partial (anything else there is left as a stop has left it)
        shutil.rmtree(partial)
        log.info("removed %s (--restart: the results of an earlier stopped run)", partial)
        return {}, {}
    if not resume or not n:
        if resume and not os.path.lexists(partial):  # as build-map --resume (open_map_writer)
            log.info("--resume: no stopped run of %s (no %s), so the run starts from the first "
                     "frame", out, partial)
        elif resume:
            log.info("--resume: %s holds no results, so the run starts from the first frame",
                     partial)
        return {}, {}
    was = _check_config(partial, cfg)
    _check_facts(partial, global_only, cfg.node.map_path, was, run)
    if was != cfg.node.map_path:  # the same content (`_check_facts`): a copy, or moved
        log.info("--resume: %s was localized against the map %s; the map at %s has the same "
                 "keyframes (a copy, or the folder moved), so the run goes on against it (its "
                 "config.yaml records it)",
                 partial, was or "(none recorded)", cfg.node.map_path)
    stamps = [int(s) for s in stamps_ns]
    places = list(range(len(stamps))) if positions is None else [int(p) for p in positions]
    lines, done = _match_frames(partial, _read_results(partial), stamps, places)
    # a run localizes its frames in order: a partial holds this run's first ones; a gap (a
    # coarser --stride) would mix frames tracked at two strides, not a run in one go
    gaps = sorted(set(range(len(done))) - set(done))
    if gaps:
        raise InputError(
            f"--resume: {partial} lacks {len(gaps)} of this run's first {len(done)} frames (the "
            f"first at t={stamps[gaps[0]] * 1e-9:.6f} s) between the ones it holds: it was made "
            "with another --stride; resume with the same --stride, or rerun with --restart "
            "instead of --resume to delete it and start over")
    log.info("--resume: %d frame(s) of %s are taken as recorded, %d left to localize",
             len(done), partial, len(stamps) - len(done))
    return done, lines


# results.jsonl's field for a frame's 0-based place in SOURCE (before --stride), since frames
# may share a stamp (a camera stamping every image 0, a duplicated rgb.txt stamp): what
# --resume matches a recorded line to its frame by, with the stamp
FRAME_INDEX = "frame_index"


def with_frame_index(rec: Dict[str, Any], position: int) -> Dict[str, Any]:
    """``rec`` (a results.jsonl record) with its `FRAME_INDEX` ``position``, after its stamp."""
    return {"stamp_ns": rec["stamp_ns"], FRAME_INDEX: int(position), **rec}


def _match_frames(partial: str, recorded: List[Tuple[str, LocalizationResult]],
                  stamps: List[int], positions: List[int]
                  ) -> Tuple[Dict[int, str], Dict[int, LocalizationResult]]:
    """``recorded`` (`_read_results`) by the place in this run's frames (``stamps`` and their
    SOURCE ``positions``) of the frame each line is of; a line without `FRAME_INDEX` (an older
    mast3r_ros) gets its frame's. `InputError` for a line of no frame of this run, two lines of
    one frame, or a line without `FRAME_INDEX` when this run's frames share stamps."""
    fix = "rerun with --restart instead of --resume to delete it and start over"
    place_of = {p: i for i, p in enumerate(positions)}
    by_stamp: Dict[int, int] = {}
    for i, s in enumerate(stamps):
        by_stamp[s] = -1 if s in by_stamp else i  # -1: shared by frames
    lines: Dict[int, str] = {}
    done: Dict[int, LocalizationResult] = {}
    extra: List[int] = []
    for line, r in recorded:
        rec = json.loads(line)
        if rec.get(FRAME_INDEX) is None:  # an older mast3r_ros: by stamp, where it is unique
            i = by_stamp.get(r.stamp_ns)
            if i == -1:
                raise InputError(
                    f"--resume: {partial} was written by an older mast3r_ros, which recorded "
                    f"its frames by stamp only, and this run's frames share stamps ("
                    f"{len(stamps)} frames, {len(set(stamps))} distinct stamps, t="
                    f"{r.stamp_ns * 1e-9:.6f} s among them): which ones it holds cannot be "
                    f"told; {fix}")
            if i is not None:
                line = json.dumps(with_frame_index(rec, positions[i]))
        elif isinstance(rec[FRAME_INDEX], int) and not isinstance(rec[FRAME_INDEX], bool):
            i = place_of.get(rec[FRAME_INDEX])
            if i is not None and stamps[i] != r.stamp_ns:
                i = None  # another recording's frame at that place
        else:
            raise InputError(f"--resume: {partial}'s results.jsonl has a line whose "
                             f"{FRAME_INDEX} is {rec[FRAME_INDEX]!r}, not a frame's place; {fix}")
        if i is None:
            extra.append(r.stamp_ns)
            continue
        if i in done:
            raise InputError(f"--resume: {partial} holds the frame at t={r.stamp_ns * 1e-9:.6f} "
                             f"s (frame {positions[i]} of SOURCE) twice; {fix}")
        lines[i], done[i] = line, r
    if extra:
        raise InputError(
            f"--resume: {partial} holds {len(extra)} frame(s) that are not among this run's "
            f"frames (the first at t={extra[0] * 1e-9:.6f} s): it was made from another "
            "recording, or with another --stride or a smaller --max-frames; resume with the same "
            "SOURCE, --stride and --max-frames (or a larger one), or rerun with --restart "
            "instead of --resume to delete it and start over")
    return lines, done


def recorded_stamps(stamps_ns: Sequence[int], done: Collection[int]) -> Set[int]:
    """The stamps whose every frame (its place in ``stamps_ns``, this run's) is in ``done``:
    the frames a source need not read (`sources.frames_or_unreadable`'s ``recorded``); a stamp
    a frame left to localize shares is not among them."""
    left = {int(s) for i, s in enumerate(stamps_ns) if i not in done}
    return {int(stamps_ns[i]) for i in done if i < len(stamps_ns)} - left


def _before_hint_limit() -> Config:
    """The defaults of a run from before ``hint_max_age_s`` (`Tracker`) existed: a stopped run's
    config.yaml without it was localized with no limit on the hint's age (0)."""
    c = Config()
    return dataclasses.replace(c, localizer=dataclasses.replace(c.localizer, hint_max_age_s=0.0))


def resume_settings(out: str, cfg: Config, resume: bool) -> Config:
    """``cfg`` for a ``resume`` of ``out``'s partial: when the partial's config.yaml has no
    ``hint_max_age_s`` (a run of an older mast3r_ros: no limit, 0) and ``cfg`` has its default,
    the rest of the run goes on with 0 (said in an info line; its config.yaml records it), not
    a mix of frames localized with and without the limit; ``cfg`` otherwise (another value
    given is refused by `start_from_partial`, which reads such a config.yaml as 0)."""
    partial = partial_of(out)
    if not resume or not partial_frames(partial):
        return cfg
    path = os.path.join(partial, "config.yaml")
    try:
        now = load_recorded_config(path).localizer.hint_max_age_s
        before = load_recorded_config(path, base=_before_hint_limit()).localizer.hint_max_age_s
    except ConfigError:
        return cfg  # `start_from_partial` refuses it
    default = Config().localizer.hint_max_age_s
    if now == before or cfg.localizer.hint_max_age_s != default:
        return cfg
    log.info("--resume: %s was localized by an older mast3r_ros, with no limit on the age of "
             "the tracking hint (its config.yaml has no hint_max_age_s): the run goes on with "
             "hint_max_age_s 0 (--restart to localize every frame with this run's %g s)",
             partial, default)
    return dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer,
                                                                  hint_max_age_s=before))


def _check_config(partial: str, cfg: Config) -> str:
    """`InputError` when ``partial`` was made with other result parameters than ``cfg``
    (`RESULT_PARAMS`, the prefixes) or its config.yaml is unreadable; returns the map path it
    records (`_check_facts` compares the maps by content: a copy at another path is the same)."""
    fix = "rerun with --restart instead of --resume to delete it and start over"
    path = os.path.join(partial, "config.yaml")
    try:
        old = config_to_params(load_recorded_config(path, base=_before_hint_limit()))
        # no hint_max_age_s in it (a run of an older mast3r_ros): read as 0, said as what it is
        unset = load_recorded_config(path).localizer.hint_max_age_s != old["hint_max_age_s"]
    except ConfigError as e:
        raise InputError(f"--resume: cannot read the config of the stopped run ({e}); "
                         f"{fix}") from None
    new = config_to_params(recorded_config(cfg))
    differ = [k for k in new if (k in RESULT_PARAMS or k.startswith(_RESULT_PREFIXES))
              and k not in _NOT_RESULT and old.get(k) != new[k]]
    if differ:
        what = ", ".join(f"the run was made before {k} existed (no age limit: {k} "
                         f"{old[k]:g}; now {new[k]!r})" if unset and k == "hint_max_age_s"
                         else f"{k} {old.get(k)!r} (now {new[k]!r})" for k in differ[:3])
        raise InputError(f"--resume: {partial} was localized with other settings ({what}"
                         f"{', ...' if len(differ) > 3 else ''}; its {path}); resume with "
                         f"those settings, or {fix}")
    return str(old.get("map_path") or "")


def _check_facts(partial: str, global_only: bool, map_path: str, recorded_map: str = "",
                 run: Optional[int] = None) -> None:
    """`InputError` when ``partial``'s `RUN_FACTS` is missing or unreadable (a run written
    before it was recorded) or records another ``--global-only`` than ``global_only``, another
    run of the recording than ``run`` (a bag's runs after a clock reset may share their
    stamps, so the stamp check alone would take another run's frames as this one's) or
    another map digest than the map now at ``map_path``'s (rebuilt there since, or another map
    than the one at ``recorded_map``, the map path its config.yaml records)."""
    fix = "rerun with --restart instead of --resume to delete it and start over"
    path = os.path.join(partial, RUN_FACTS)
    try:
        with open(path, encoding="utf-8") as fh:
            facts = json.load(fh)
        old, digest = facts["global_only"], facts["map_digest"]
        if not isinstance(old, bool):
            raise TypeError(f"global_only is {old!r}, not true or false")
    except FileNotFoundError:
        raise InputError(f"--resume: {partial} has no {RUN_FACTS} (a stopped run of an older "
                         "mast3r_ros, which did not record --global-only), so it cannot be told "
                         f"whether its frames are this run's kind; {fix}") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InputError(f"--resume: cannot read {path} ({e}); {fix}") from None
    if old != bool(global_only):
        was, now = ("with", "without") if old else ("without", "with")
        raise InputError(f"--resume: {partial} was localized {was} --global-only, this run "
                         f"{now}; resume {was} --global-only, or {fix}")
    old_run = facts.get("run")  # None: no runs (a TUM folder), or a partial that predates it
    if old_run is not None and run is not None and old_run != run:
        raise InputError(f"--resume: {partial} was localized on run {old_run} of the recording "
                         f"(its header time jumps back), this run reads run {run}; resume with "
                         f"--run {old_run}, or {fix}")
    if digest == content_digest(map_path):
        return
    if recorded_map and recorded_map != map_path:
        raise InputError(f"--resume: {partial} was localized against the map {recorded_map}, "
                         f"this run against {map_path}, whose keyframes differ (another map, "
                         f"not a copy of it); resume with that --map, or {fix}")
    raise InputError(f"--resume: {partial} was localized against another map than the one "
                     f"now at {map_path} (rebuilt or replaced since: its keyframes differ); "
                     f"resume against the map it was localized against, or {fix}")


def _read_results(partial: str) -> List[Tuple[str, LocalizationResult]]:
    """Its results.jsonl's (line, result), in order; `InputError` naming the file and line
    for a line that is not a result record with a pose where it succeeded."""
    path = os.path.join(partial, "results.jsonl")
    out: List[Tuple[str, LocalizationResult]] = []
    with open(path, "rb") as fh:
        numbered, cut = result_lines(fh.read())
    for i, line in numbered:
        try:
            r = result_from_record(json.loads(line))
        except (ValueError, TypeError, KeyError) as e:
            raise InputError(f"--resume: {path} line {i} is not a localize result ({e}); "
                             "rerun with --restart instead of --resume to delete it and "
                             "start over") from None
        out.append((line.rstrip("\r"), r))
    if cut:
        log.warning("--resume: the last line of %s was cut short (the run was stopped hard: "
                    "kill -9, a power loss): it is dropped and its frame localized again; "
                    "%d frame(s) kept", path, len(numbered))
    return out


def result_from_record(rec: Dict[str, Any]) -> LocalizationResult:
    """The `LocalizationResult` a results.jsonl line (`run_record.result_record`) records:
    what the tracker, the metrics and the plots read of it. `KeyError` for a missing field (a
    ``camera`` without one of its values included), `ValueError` for a success without a pose
    (written before poses were recorded) or a ``camera`` value that is no number, `TypeError`
    for a ``camera`` that is no object."""
    ok = bool(rec["success"])
    pose = rec.get("map_from_cam")
    if ok and pose is None:
        raise ValueError("a localized frame without its pose (map_from_cam): written by an "
                         "older mast3r_ros")
    cov = rec.get("covariance")
    rms = rec.get("reproj_rms_px")
    if rec.get("camera") is not None:  # read as a key here, whether or not a fit uses it: a
        _key(rec["camera"])  # damaged one (no 'dist') was a traceback in `check_same_camera`
    return LocalizationResult(
        success=ok, stamp_ns=int(rec["stamp_ns"]),
        map_from_cam=None if pose is None else np.array(pose, dtype=np.float64).reshape(4, 4),
        covariance=None if cov is None else np.array(cov, dtype=np.float64).reshape(6, 6),
        num_inliers=int(rec["inliers"]), num_matches=int(rec["matches"]),
        inlier_ratio=float(rec["inlier_ratio"]),
        reproj_rms_px=float("nan") if rms is None else float(rms),
        keyframe_ids=tuple(rec["keyframe_ids"]), reason=str(rec["reason"]),
        timings_s={str(k): float(v) for k, v in rec["timings_s"].items()},
        unreadable=bool(rec.get("unreadable", False)),
        focal_fit=_focal_fit(rec.get("focal_fit"), rec.get("camera")),
        scene_depth_m=float("nan") if rec.get("scene_depth_m") is None
        else float(rec["scene_depth_m"]))


def _focal_fit(rec: Optional[Dict[str, Any]],
               camera: Optional[Dict[str, Any]] = None) -> Optional[FocalFit]:
    """A results.jsonl ``focal_fit`` (`run_record._focal_record`) read back, with the line's
    ``camera`` (`camera_record`) as its ``camera`` (`camera_key.CameraKey`); None where
    absent (an older line) or null."""
    if rec is None:
        return None
    key = None if camera is None else _key(camera)
    sigma = rec.get("sigma_log")
    pp = rec.get("principal_point")  # absent in an older line
    dist = rec.get("distortion")  # likewise
    return FocalFit(float(rec["scale"]), float("inf") if sigma is None else float(sigma),
                    float(rec["fx_px"]), None if pp is None else PrincipalPointFit(
                        *(float(pp[f.name]) for f in dataclasses.fields(PrincipalPointFit))),
                    None if dist is None else DistortionFit(**{
                        f.name: (bool(dist[f.name]) if f.type in (bool, "bool") else
                                 float("nan") if dist[f.name] is None else float(dist[f.name]))
                        for f in dataclasses.fields(DistortionFit)
                        if f.name in dist or f.default is dataclasses.MISSING}), key)


def camera_record(cam: Any) -> Optional[Dict[str, Any]]:
    """The ``camera`` of a results.jsonl line: the query frame's `CameraIntrinsics` (width,
    height, 3x3 ``K``, ``dist``, ``distortion_model``) it was localized with; None for a frame
    without one. JSON keeps float64 values exactly, so a resumed run compares them as read."""
    if cam is None:
        return None
    return {"width": int(cam.width), "height": int(cam.height),
            "K": np.asarray(cam.K, dtype=np.float64).tolist(),
            "dist": np.asarray(cam.dist, dtype=np.float64).ravel().tolist(),
            "distortion_model": str(cam.distortion_model)}


def _key(camera: Dict[str, Any]) -> Any:
    """The `camera_key.CameraKey` of a results.jsonl ``camera`` (`camera_record`)."""
    return key_of_values(camera["width"], camera["height"], camera["K"], camera["dist"],
                         camera["distortion_model"])


def check_same_camera(line: str, frame: Any) -> None:
    """`InputError` when a resumed partial's results.jsonl ``line`` records another query
    camera than ``frame`` (a `Frame` read again at its stamp) has now: another --camera-info,
    an edited camera.yaml, the bag's other CameraInfo or --image-rectified would mix frames of
    two calibrations in one run. A line without ``camera`` (or a frame without intrinsics) is
    not compared. Values are compared exactly, their distortion model as the mapping
    (`camera_key.key_of_values`: plumb_bob renamed rational_polynomial with k4 k5 k6 zero is
    the same camera)."""
    old = json.loads(line).get("camera")
    new = camera_record(getattr(frame, "intrinsics", None))
    if old is None or new is None or old == new or _key(old) == _key(new):
        return

    def text(c: Dict[str, Any]) -> str:
        k = c["K"]
        return (f"{c['width']}x{c['height']} fx {k[0][0]:g} fy {k[1][1]:g} cx {k[0][2]:g} "
                f"cy {k[1][2]:g}, {c['distortion_model'] or 'no model'} {c['dist']}")

    raise InputError(f"--resume: the frame at t={frame.stamp_ns * 1e-9:.6f} s was localized with "
                     f"the camera {text(old)}, and reads now with {text(new)} (another "
                     "--camera-info, camera.yaml or CameraInfo?); resume with the camera it was "
                     "localized with, or rerun with --restart instead of --resume to delete it "
                     "and start over")
