"""Evaluation of a localization run against ground truth (no alignment: the map is metric).

Errors are computed for successful frames that have a ground-truth pose: translation error =
distance between the estimated and true camera centres (metres), rotation error = angle of
``R_est^T R_gt`` (degrees), as the MASt3R/DUSt3R visloc evaluation.

Covariance calibration (`covariance_calibration`): for each evaluated frame with a covariance,
the squared Mahalanobis distance of the error under `LocalizationResult.covariance` -- the
*camera* pose, errors ``c_est - c_gt`` (metres) and ``rotvec(R_est R_gt^T)`` (radians), both in
map axes, the covariance's own frame -- for position and rotation separately (3 dof each). A
calibrated Gaussian gives a median of 2.37 and 95 % of frames within the chi^2(3) 95 % bound
7.81. Ground truth has its own error (KinectFusion's, on 7-Scenes, is about 1-2 cm), so the
position is also reported with a 1 cm isotropic ground-truth error added to the covariance.

The table the CLI prints of `summarize`'s metrics is `metrics_table.format_table`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from ..core.blas_threads import single_blas_thread
from ..core.errors import InputError
from ..core.focal_evidence import RUN_GATE_REASON, RunFocalEvidence
from ..core.localizer.principal_point_run_gate import REASON as PP_RUN_GATE_REASON
from ..core.distortion_evidence import RunDistortionEvidence
from ..core.principal_point_evidence import RunPrincipalPointEvidence
from ..core.geometry import pose_errors
from ..core.pose_uncertainty import FAR_CLAIM_RATIO, sigma_depth_ratio
from ..core.types import LocalizationResult
from .calibration_tail import count_beyond_3sigma, tail_clause
from .metrics_degraded import degraded_poses, error_stats as _stats

GROSS_ERROR_M = 0.5
RECALL_THRESHOLDS = ((0.05, 5.0), (0.25, 2.0), (0.5, 5.0), (5.0, 10.0))  # (m, deg), 7-Scenes use
CHI2_3DOF_95 = 7.814727903251178  # scipy.stats.chi2.ppf(0.95, 3)
CHI2_3DOF_MEDIAN = 2.3659738843753377  # scipy.stats.chi2.ppf(0.5, 3): a calibrated median d^2
# the reliability line's nominal levels (percent) and their chi^2(3) quantiles,
# scipy.stats.chi2.ppf(p, 3): a calibrated covariance holds that fraction of frames within each
CHI2_3DOF_LEVELS = {"50": CHI2_3DOF_MEDIAN, "90": 6.251388631170325, "95": CHI2_3DOF_95,
                    "99": 11.344866730144373}
# frame_offset: the fewest frames, the rotation error (deg) taken as gross with GROSS_ERROR_M,
# and how many times smaller the median errors must become under one rigid transform
FRAME_OFFSET_MIN_FRAMES = 5
FRAME_OFFSET_GROSS_DEG = 10.0
FRAME_OFFSET_GAIN = 5.0
# frame_offset's scales (map metres per ground-truth unit) and how close one must come to them:
# a spread ratio far from every unit is a badly localized run (stuck at one pose: scale 0;
# drifting along its path: 1.67), not ground truth in another unit
FRAME_OFFSET_UNITS = {1e-3: "millimetres", 1e-2: "centimetres", 1e3: "kilometres"}
FRAME_OFFSET_UNIT_TOLERANCE = 0.1
MISCALIBRATED_SIGMA_RATIO = 3.0  # a covariance whose sigma is off by more than this is named
GT_POSITION_SIGMA_M = 0.01  # ground-truth error allowance (KinectFusion-class ground truth)
# the reason prefix of a frame the source could not read ('unreadable frame: <the error>',
# naming the file; `LocalizationResult.unreadable` marks it) and its failure_reasons key: a
# failed frame like any other, counted apart as "unreadable_frames"
UNREADABLE = "unreadable frame"
FOCAL_TOLERANCE = 0.05  # `camera_focal`'s default tolerance: gates.max_focal_error's default


def _check_lengths(results: Sequence[LocalizationResult], gt_poses: np.ndarray) -> None:
    if len(gt_poses) != len(results):
        raise InputError(f"ground truth holds {len(gt_poses)} poses for {len(results)} results: "
                         "one (N, 4, 4) pose per result is needed, NaN where unknown")


def far_claims(results: Sequence[LocalizationResult], ratio: float = FAR_CLAIM_RATIO
               ) -> Optional[Dict[str, Any]]:
    """The localized frames whose 1-sigma position (worst axis of the covariance's position
    block, metres) is more than ``ratio`` times their inliers' median depth
    (`LocalizationResult.scene_depth_m`), or None when there is none (or no frame has both).
    ``{"frames": k, "of": localized frames judged, "ratio": ratio, "max_ratio": the largest
    sigma / depth, "stamps_ns": the first 5 such frames' stamps}``. No ground truth needed: on
    redkitchen such poses were the wrong-consensus ones of places a map saw only from afar (4
    of 5; the fifth, occluded, 9 cm off: docs/bench/consensus_cpu_2026-12-06), which
    ``gates.max_position_sigma_ratio`` (default 0.5) lets through."""
    judged, over = 0, []
    for r in results:
        value = sigma_depth_ratio(r)
        if not math.isfinite(value):
            continue
        judged += 1
        if value > ratio:
            over.append((value, int(r.stamp_ns)))
    if not over:
        return None
    return {"frames": len(over), "of": judged, "ratio": ratio,
            "max_ratio": max(v for v, _ in over), "stamps_ns": [s for _, s in over[:5]]}


def frame_errors(results: Sequence[LocalizationResult], gt_poses: Optional[np.ndarray]
                 ) -> np.ndarray:
    """(N, 2) [translation m, rotation deg] per frame; NaN for failures or frames without GT.
    `InputError` when ``gt_poses`` does not hold one pose per result."""
    err = np.full((len(results), 2), np.nan)
    if gt_poses is None:
        return err
    _check_lengths(results, gt_poses)
    for i, r in enumerate(results):
        gt = gt_poses[i]
        if r.success and r.map_from_cam is not None and np.isfinite(gt).all():
            t, rot = pose_errors(r.map_from_cam[None], gt[None])
            err[i] = t[0], rot[0]
    return err


def summarize(results: Sequence[LocalizationResult], gt_poses: Optional[np.ndarray] = None,
              warmed_up: bool = True, cold: Optional[Collection[int]] = None,
              focal_tolerance: float = FOCAL_TOLERANCE,
              ambiguous: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Metrics of a run: localized fraction, error statistics, recall at thresholds, gross
    errors (successes more than 0.5 m off), latency. ``gt_poses`` (N, 4, 4), NaN = unknown.
    The keys are the same with or without ground truth: what was not evaluated is None
    (null in metrics.json): the error statistics, ``gross_errors`` and the covariance blocks
    without an evaluated frame, ``recall`` without a frame with ground truth (the covariance's
    sigma medians need none: over every localized frame with a covariance).

    ``warmed_up`` False (no warm-up ran before the first frame): the first frame pays the
    one-time costs (lazy imports, allocator growth, kernels), so it (the first frame with
    timings: an unreadable frame ran nothing) is kept out of the ``latency_s`` statistics and
    reported alone as ``latency_first_frame_s`` (seconds per stage; None when a warm-up ran):
    a one-frame run's ``latency_s`` has a None median and p90 and 0 frames per stage, not the
    one-time costs as a median. ``cold``: instead, the indices of every frame that paid them
    (a resumed run: the first frame each of its processes localized without a warm-up,
    results.jsonl's ``cold_start`` mark), all kept out, ``latency_first_frame_s`` the first's;
    ``latency_left_out`` says how many were kept out and why (``{"frames": 0, "why": None}``
    when none). Frames the source could not read
    (`LocalizationResult.unreadable`, whatever their reason says) are failed frames, counted
    as such and as ``unreadable_frames``; ``failure_reasons`` counts them under one key,
    'unreadable frame', not per file. ``camera_focal``: the frames' focal-length evidence
    combined (`camera_focal`, judged against ``focal_tolerance``, the run's
    ``gates.max_focal_error``); ``camera_principal_point``: their principal point evidence
    (`camera_principal_point`); ``camera_distortion``: their residual distortion evidence
    (`camera_distortion`). ``degraded_poses``: the localized frames published with a caveat
    in their reason (`metrics_degraded.degraded_poses`: how many, per caveat, their errors and
    the other poses'); ``localized`` and the error figures count them as published poses.
    ``ambiguous_groundtruth``: ``ambiguous`` as given (`shared_stamps.leave_out_ambiguous`:
    the frames at a stamp the image list gives to two images, their ``gt_poses`` NaN) plus
    ``localized``, how many of them were, None when there is none.
    `InputError` when ``gt_poses`` does not hold one pose per result."""
    n = len(results)
    ok = np.array([r.success for r in results], dtype=bool)
    err = frame_errors(results, gt_poses)
    has_gt = (np.isfinite(gt_poses).all(axis=(1, 2)) if gt_poses is not None
              else np.zeros(n, bool))
    ev = np.isfinite(err[:, 0])
    q_order = quaternion_order(results, gt_poses) if ev.any() else None
    m: Dict[str, Any] = {
        "frames": n, "localized": int(ok.sum()),
        "localized_fraction": float(ok.mean()) if n else 0.0,
        "frames_with_groundtruth": int(has_gt.sum()), "evaluated": int(ev.sum()),
        "translation_error_m": _stats(err[ev, 0]), "rotation_error_deg": _stats(err[ev, 1]),
        # null, not 0, where no frame was evaluated: 0 would claim frames were checked
        "gross_errors": int(np.count_nonzero(err[ev, 0] > GROSS_ERROR_M)) if ev.any() else None,
        # over the frames with ground truth (failures count against it); null without any
        "recall": {f"{t * 100:g}cm_{d:g}deg": float(np.count_nonzero(
            (err[:, 0] <= t) & (err[:, 1] <= d)) / has_gt.sum()) if has_gt.any() else None
            for t, d in RECALL_THRESHOLDS},
        # the sigma medians need no ground truth: over every localized frame
        "covariance": covariance_calibration(
            results, gt_poses if gt_poses is not None else np.full((n, 4, 4), np.nan)),
        # ground truth that agrees read w first (or conjugated) needs no transform: a frame
        # offset fitted to its misread rotations (one often brings them under
        # FRAME_OFFSET_GROSS_DEG) would be a wrong lead, with a wrong fix
        "frame_offset": frame_offset(results, gt_poses) if ev.any() and not q_order else None,
        "quaternion_order": q_order,
        "camera_focal": camera_focal(results, focal_tolerance),
        "camera_principal_point": camera_principal_point(results),
        "camera_distortion": camera_distortion(results),
        "far_claims": far_claims(results),
    }
    # the first frame localized pays the one-time costs: an unreadable frame before it ran
    # nothing (no timings), so it is not the one
    timed = [i for i, r in enumerate(results) if r.timings_s]
    out = (set(cold) & set(timed) if cold is not None
           else {timed[0]} if not warmed_up and timed else set())
    m["latency_s"] = _latency([r for i, r in enumerate(results) if i not in out])
    m["latency_first_frame_s"] = None
    m["latency_left_out"] = {"frames": len(out), "why": None}
    if out:
        first = results[min(out)].timings_s
        m["latency_first_frame_s"] = {k: float(v) for k, v in first.items()}
        m["latency_left_out"]["why"] = (
            "no warm-up: the first frame localized pays the one-time costs" if len(out) == 1
            else f"no warm-up: the first frame localized by each of the {len(out)} processes "
            "of a resumed run pays the one-time costs")
        if len(out) == len(timed):  # only cold frames: no median without the one-time costs
            for i in out:  # (a stage only the cold frames of several ran stays absent)
                for k in results[i].timings_s:
                    m["latency_s"].setdefault(k, {"median": None, "p90": None, "frames": 0})
    reasons: Dict[str, int] = {}
    for r in results:
        if not r.success:
            key = UNREADABLE if r.unreadable else r.reason.split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
    m["failure_reasons"] = reasons
    m["unreadable_frames"] = reasons.get(UNREADABLE, 0)
    # published poses marked with a caveat: counted apart, with their errors and the others'
    m["degraded_poses"] = degraded_poses(results, err, has_gt, RECALL_THRESHOLDS)
    if ambiguous:  # how many of them were localized: the table says those once, not twice
        at = set(ambiguous["stamps_ns"])
        ambiguous = dict(ambiguous, localized=int(sum(r.success for r in results
                                                      if r.stamp_ns in at)))
    m["ambiguous_groundtruth"] = ambiguous
    return m


def camera_focal(results: Sequence[LocalizationResult], tolerance: float = FOCAL_TOLERANCE
                 ) -> Optional[Dict[str, Any]]:
    """metrics.json's ``camera_focal``: the focal scales the frames' inliers fit
    (`LocalizationResult.focal_fit`), combined in frame order (`RunFocalEvidence.report`: the
    camera's ``fx_px``, ``scale`` and ``scale_sigma`` (of log scale, relative), ``fx_fitted_px``,
    frames fitted / judged / used / outliers, ``chi2_per_dof``, ``consistent``, the verdict
    ``fx_off`` against ``tolerance`` and its ``warning``), plus ``frames_passed``: frames with a
    fit that passed the per-frame gate (localized, or refused only by the run-level focal gate,
    `RUN_GATE_REASON`, or the principal point's) and ``frames_refused_by_run_gate``: those of
    them the focal one refused. None when no frame has a fit (the gate off, 3-D points from
    pointmaps, no frame past the other gates)."""
    acc = RunFocalEvidence(tolerance)
    report = _run_report(acc, results)
    if report is None:
        return None
    fitted = [r for r in results if r.focal_fit is not None]
    fitted = fitted[len(fitted) - len(acc):]  # the fx the evidence is about (the last one)
    refused = sum(not r.success and (r.reason or "").startswith(RUN_GATE_REASON) for r in fitted)
    # refused by the run's principal point (`principal_point_run_gate`) after passing it
    by_pp = sum(not r.success and (r.reason or "").startswith(PP_RUN_GATE_REASON) for r in fitted)
    return {**report, "frames_passed": sum(r.success for r in fitted) + refused + by_pp,
            "frames_refused_by_run_gate": refused}


def camera_principal_point(results: Sequence[LocalizationResult]) -> Optional[Dict[str, Any]]:
    """metrics.json's ``camera_principal_point``: the principal point offsets the frames'
    inliers fit (``focal_fit.principal_point``), combined in frame order
    (`RunPrincipalPointEvidence.report`: the camera's ``fx_px``, ``cx_px``, ``cy_px``; per axis
    ``cx`` / ``cy`` the combined ``offset_px`` +- ``offset_sigma_px``, ``fitted_px``, frames
    judged / used / outliers, ``chi2_per_dof``, ``consistent``, ``off``; the ``tolerance_px``
    (``tolerance_deg`` of view), the verdict ``off`` and its ``warning``). None when no frame
    has a fit (the focal gate off, 3-D points from pointmaps, no frame past the other gates)."""
    return _run_report(RunPrincipalPointEvidence(), results)


def camera_distortion(results: Sequence[LocalizationResult]) -> Optional[Dict[str, Any]]:
    """metrics.json's ``camera_distortion``: the residual radial distortion the frames'
    inliers fit (``focal_fit.distortion``), combined in frame order
    (`RunDistortionEvidence.report`: the camera's ``fx_px``, ``given_k1``, ``given_zero``,
    ``corner_r``; the combined ``k1`` +- ``k1_sigma``, frames judged / used / outliers,
    ``chi2_per_dof``, ``consistent``; ``tolerance_k1`` (``tolerance_deg`` of view at the
    corner), the verdict ``off``, its ``diagnosis`` and ``warning``). None when no frame has
    a fit."""
    return _run_report(RunDistortionEvidence(), results)


def _run_report(acc: Any, results: Sequence[LocalizationResult]) -> Optional[Dict[str, Any]]:
    """``acc`` (a run evidence, `run_evidence.RunFits`) given every frame's fit in order:
    its ``report`` (localized: any frame was), or None when it took no fit."""
    for r in results:
        acc.add(r.focal_fit)
    if not len(acc):
        return None
    return acc.report(localized=any(r.success for r in results))


# a focal warning in a run whose distortion is off: the distortion, named first, is the cause
FOCAL_AFTER_DISTORTION = ("(the distortion warning above is the likelier cause: a wrong "
                          "distortion makes the frames fit another focal length; fix it first)")


def camera_warnings(metrics: Dict[str, Any]) -> List[str]:
    """The end-of-run warnings of ``metrics`` (`summarize`'s) about the query camera: the
    distortion's (``camera_distortion``) first, then the focal length's (``camera_focal``;
    marked `FOCAL_AFTER_DISTORTION` after a distortion warning) and the principal point's
    (``camera_principal_point``), each where its verdict is off: the frames together are
    clear where one frame is not."""
    out = [w for w in ((metrics.get(k) or {}).get("warning")
                       for k in ("camera_distortion", "camera_focal", "camera_principal_point"))
           if w]
    dist = (metrics.get("camera_distortion") or {}).get("warning")
    focal = (metrics.get("camera_focal") or {}).get("warning")
    if dist and focal:
        out[out.index(focal)] = f"{focal} {FOCAL_AFTER_DISTORTION}"
    return out


def _localized_with_groundtruth(results: Sequence[LocalizationResult], gt_poses: np.ndarray
                                ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The (N, 4, 4) map_from_cam of the successful frames with finite ground truth and their
    (N, 4, 4) ground-truth poses, or None for fewer than `FRAME_OFFSET_MIN_FRAMES` of them."""
    pairs = [(r.map_from_cam, gt) for r, gt in zip(results, gt_poses)
             if r.success and r.map_from_cam is not None and np.isfinite(gt).all()]
    if len(pairs) < FRAME_OFFSET_MIN_FRAMES:
        return None
    return np.stack([e for e, _ in pairs]), np.stack([g for _, g in pairs])


def frame_offset(results: Sequence[LocalizationResult], gt_poses: np.ndarray
                 ) -> Optional[Dict[str, Any]]:
    """The transform ``map_from_groundtruth`` that explains gross errors, or None.

    Errors are measured without alignment (the map is metric), so ground truth given in another
    frame than the map's (a map built from another recording's or another system's poses), or
    in another unit (millimetres), reads as every frame metres (and degrees) off. When at least
    `FRAME_OFFSET_MIN_FRAMES` successful frames have ground truth, their median error is gross
    (over `GROSS_ERROR_M` or `FRAME_OFFSET_GROSS_DEG`) and one transform -- the chordal mean of
    the per-frame rotations ``R_est R_gt^T``, a scale (1, else the ratio of the median distances
    of the camera centres to their median when it is within `FRAME_OFFSET_UNIT_TOLERANCE` of a
    unit's, `FRAME_OFFSET_UNITS`), the median of the per-frame translations -- brings
    the median errors under those bounds and at least `FRAME_OFFSET_GAIN` times down, returns
    it: its rotation (deg), translation (m) and scale (map metres per ground-truth unit), the
    (4, 4) matrix ``[scale R | t]``, the median errors after it and the frames used."""
    paired = _localized_with_groundtruth(results, gt_poses)
    if paired is None:
        return None
    est, gt = paired
    t_raw, r_raw = (float(np.median(v)) for v in pose_errors(est, gt))
    if t_raw <= GROSS_ERROR_M and r_raw <= FRAME_OFFSET_GROSS_DEG:
        return None
    u, _, vt = np.linalg.svd(np.einsum("nij,nkj->ik", est[:, :3, :3], gt[:, :3, :3]))
    rot = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    c_est, c_gt = est[:, :3, 3], gt[:, :3, 3]
    spread = [np.median(np.linalg.norm(c - np.median(c, axis=0), axis=1)) for c in (c_est, c_gt)]
    ratio = spread[0] / spread[1] if spread[1] > 0 else 1.0
    for scale in (1.0,) + ((ratio,) if _unit_of(ratio) else ()):
        aligned = gt.copy()
        aligned[:, :3, :3] = rot @ gt[:, :3, :3]
        shift = np.median(c_est - scale * c_gt @ rot.T, axis=0)
        aligned[:, :3, 3] = scale * c_gt @ rot.T + shift
        t_al, r_al = (float(np.median(v)) for v in pose_errors(est, aligned))
        if all(aligned_err <= bound and (raw <= bound or aligned_err * FRAME_OFFSET_GAIN <= raw)
               for raw, aligned_err, bound in ((t_raw, t_al, GROSS_ERROR_M),
                                               (r_raw, r_al, FRAME_OFFSET_GROSS_DEG))):
            offset = np.eye(4)
            offset[:3, :3], offset[:3, 3] = scale * rot, shift
            return {"rotation_deg": float(np.degrees(Rotation.from_matrix(rot).magnitude())),
                    "translation_m": float(np.linalg.norm(shift)), "scale": float(scale),
                    "map_from_groundtruth": offset.tolist(),
                    "aligned_translation_error_m_median": t_al,
                    "aligned_rotation_error_deg_median": r_al, "frames": len(est)}
    return None


def quaternion_order(results: Sequence[LocalizationResult], gt_poses: np.ndarray
                     ) -> Optional[Dict[str, Any]]:
    """Whether the ground truth's quaternions look written w first (qw qx qy qz) though read
    as TUM's x y z w, or conjugated (JPL convention, or camera_from_world rotations beside
    the camera's position), or of an OpenGL camera (y up, looking down -z: each rotation times
    diag(1, -1, -1)), else None.

    A quaternion alone cannot tell these apart (all are unit quaternions; reordering or
    conjugating keeps the angle between any two, so the path stays as smooth), but the
    localized poses, measured from the images, can: when at least `FRAME_OFFSET_MIN_FRAMES`
    successful frames have ground truth, their median rotation error is over
    `FRAME_OFFSET_GROSS_DEG`, and the ground truth's rotations read w first (tried first) or
    transposed bring it under that and `FRAME_OFFSET_GAIN` times down, returns the median
    rotation errors both ways (deg: ``rotation_error_deg_median`` and
    ``w_first_rotation_error_deg_median``, ``conjugate_...`` or ``opengl_...``),
    ``written`` ("w_first", "conjugate" or "opengl") and the frames used."""
    paired = _localized_with_groundtruth(results, gt_poses)
    if paired is None:
        return None
    est, gt = paired
    raw = float(np.median(pose_errors(est, gt)[1]))
    if raw <= FRAME_OFFSET_GROSS_DEG:
        return None
    # the file's columns 5..8 (w x y z) went into x y z w: x y z w is then 1 2 3 0 of them
    quats = Rotation.from_matrix(gt[:, :3, :3]).as_quat()[:, [1, 2, 3, 0]]
    for written, rots in (("w_first", Rotation.from_quat(quats).as_matrix()),
                          ("conjugate", np.swapaxes(gt[:, :3, :3], 1, 2)),
                          # OpenGL camera axes (y up, looking down -z): columns 2, 3 negated
                          ("opengl", gt[:, :3, :3] * np.array([1.0, -1.0, -1.0]))):
        reread = gt.copy()
        reread[:, :3, :3] = rots
        fixed = float(np.median(pose_errors(est, reread)[1]))
        if fixed <= FRAME_OFFSET_GROSS_DEG and fixed * FRAME_OFFSET_GAIN <= raw:
            return {"rotation_error_deg_median": raw, "written": written,
                    f"{written}_rotation_error_deg_median": fixed, "frames": len(est)}
    return None


def _unit_of(scale: float) -> str:
    """The name of the unit (`FRAME_OFFSET_UNITS`) whose scale ``scale`` is, or ''."""
    near = [n for k, n in FRAME_OFFSET_UNITS.items()
            if abs(scale / k - 1.0) < FRAME_OFFSET_UNIT_TOLERANCE]
    return near[0] if near else ""


def mahalanobis_sq(map_from_cam: np.ndarray, gt: np.ndarray, cov: np.ndarray,
                   gt_position_sigma_m: float = 0.0) -> tuple:
    """Squared Mahalanobis distances (position, rotation) of an estimated camera pose against
    ground truth under its 6x6 covariance (module docstring); ``gt_position_sigma_m`` adds an
    isotropic ground-truth position error to the position block. A block that is singular
    or not finite gives NaN, "no distance" (it raised LinAlgError): `covariance_calibration`
    leaves such a frame out of that block's statistics, as a frame without a covariance."""
    e_c = map_from_cam[:3, 3] - gt[:3, 3]
    e_r = Rotation.from_matrix(map_from_cam[:3, :3] @ gt[:3, :3].T).as_rotvec()
    P = cov[:3, :3] + gt_position_sigma_m ** 2 * np.eye(3)
    return _d2(e_c, P), _d2(e_r, cov[3:, 3:])


def _d2(e: np.ndarray, cov: np.ndarray) -> float:
    if not np.isfinite(cov).all():
        return math.nan
    try:
        return float(e @ np.linalg.solve(cov, e))
    except np.linalg.LinAlgError:  # singular
        return math.nan


def calibration_d2(results: Sequence[LocalizationResult], gt_poses: np.ndarray,
                   gt_position_sigma_m: float = GT_POSITION_SIGMA_M) -> np.ndarray:
    """(M, 3) float64 squared Mahalanobis distances (`mahalanobis_sq`) of the M successful
    frames with ground truth and a covariance, in order: position, position with
    ``gt_position_sigma_m`` of ground-truth error, rotation (NaN: a singular block). What
    `covariance_calibration` summarises and `plots.plot_calibration` draws; `InputError` when
    ``gt_poses`` does not hold one pose per result."""
    _check_lengths(results, gt_poses)
    d = []
    # one BLAS thread: each 3x3 solve took ~15 ms on numpy 1.21's OpenBLAS (Humble's) on a
    # loaded CPU, its threads spinning (core.blas_threads): 8 a frame, minutes on a long run
    with single_blas_thread():
        for r, gt in zip(results, gt_poses):
            if r.success and r.map_from_cam is not None and r.covariance is not None and \
                    np.isfinite(gt).all():
                dp, dr = mahalanobis_sq(r.map_from_cam, gt, r.covariance)
                dp_gt, _ = mahalanobis_sq(r.map_from_cam, gt, r.covariance, gt_position_sigma_m)
                d.append((dp, dp_gt, dr))
    return np.asarray(d, dtype=np.float64).reshape(-1, 3)


def covariance_calibration(results: Sequence[LocalizationResult], gt_poses: np.ndarray,
                           gt_position_sigma_m: float = GT_POSITION_SIGMA_M) -> Dict[str, Any]:
    """Coverage of the chi^2(3) 95 % region, median and 95th percentile squared Mahalanobis
    distance and ``beyond_3sigma``, how many frames lie beyond the 3-sigma bound
    (`calibration_tail.CHI2_3DOF_3SIGMA`; the tail: `calibration_verdict`), position
    (without and with ``gt_position_sigma_m`` of ground-truth error) and rotation, over the
    successful frames with ground truth and a covariance (module docstring); per block
    ``coverage``, the reliability line: the fraction of frames within the chi^2(3) quantile of
    each nominal level of `CHI2_3DOF_LEVELS` ({"50": ..., "99": ...}; calibrated: 0.5 ... 0.99);
    the median per-axis sigmas (``position_sigma_m_median``, ``rotation_sigma_deg_median``: of
    what the node publishes) over every successful frame with a finite covariance, ground truth
    or not; `InputError` when ``gt_poses`` does not hold one pose per result."""
    d_arr = calibration_d2(results, gt_poses, gt_position_sigma_m)
    sig = [(np.sqrt(np.trace(r.covariance[:3, :3]) / 3),
            np.degrees(np.sqrt(np.trace(r.covariance[3:, 3:]) / 3)))
           for r in results if r.success and r.map_from_cam is not None
           and r.covariance is not None and np.isfinite(r.covariance).all()]

    def block(v: np.ndarray) -> Dict[str, Any]:
        # NaN: a singular covariance block (`mahalanobis_sq`), left out; ``frames`` says how
        # many were used (``evaluated`` counts every frame with a covariance)
        v = v[np.isfinite(v)]
        if not len(v):
            return {"coverage_95": None, "median_mahalanobis_sq": None,
                    "p95_mahalanobis_sq": None, "beyond_3sigma": None, "frames": 0,
                    "coverage": {k: None for k in CHI2_3DOF_LEVELS}}
        return {"coverage_95": float(np.mean(v <= CHI2_3DOF_95)),
                "median_mahalanobis_sq": float(np.median(v)),
                "p95_mahalanobis_sq": float(np.percentile(v, 95)),
                "beyond_3sigma": count_beyond_3sigma(v), "frames": int(len(v)),
                "coverage": {k: float(np.mean(v <= q)) for k, q in CHI2_3DOF_LEVELS.items()}}

    sig_arr = np.asarray(sig, dtype=np.float64).reshape(-1, 2)
    return {
        "frame": "camera pose in the map frame: centre (m) and rotation vector (rad), map axes",
        "evaluated": len(d_arr), "chi2_95_bound": CHI2_3DOF_95,
        "calibrated_median": round(CHI2_3DOF_MEDIAN, 3),
        "position": block(d_arr[:, 0]),
        f"position_gt_{gt_position_sigma_m * 100:g}cm": block(d_arr[:, 1]),
        "rotation": block(d_arr[:, 2]),
        "position_sigma_m_median": float(np.median(sig_arr[:, 0])) if len(sig_arr) else None,
        "rotation_sigma_deg_median": float(np.median(sig_arr[:, 1])) if len(sig_arr) else None,
    }


def calibration_verdict(median_d2: float, p95_d2: Optional[float] = None,
                        beyond_3sigma: Optional[int] = None, frames: Optional[int] = None) -> str:
    """'' for a covariance within `MISCALIBRATED_SIGMA_RATIO` of calibrated, else what is off:
    with errors e and a covariance whose sigma is s times too large, d^2 scales as 1 / s^2, so
    ``s ~ sqrt(calibrated median / median d^2)`` (the median is a chi^2(3) quantile).

    ``p95_d2`` (the 95th percentile of d^2) judges the tail the same way against the chi^2(3)
    95 % bound: confident wrong poses (a wrong focal length, a few frames 1 m off with a 2 cm
    sigma) leave the median alone -- a run with a quarter of its poses 1 m off read "58 % /
    4.1" with no verdict -- but not the tail: "overconfident tail: the worst 5 % of errors
    ~40x sigma".

    ``beyond_3sigma`` of ``frames`` (the frames judged) beyond the 3-sigma bound judge the tail's
    weight (`calibration_tail.tail_clause`): 20 % of frames beyond it, 0.27 % calibrated, is an
    overconfident tail however near the 95th percentile lies ("overconfident tail: 20 % of
    frames beyond 3 sigma (0.27 % if calibrated)")."""
    ratio = math.sqrt(CHI2_3DOF_MEDIAN / median_d2) if median_d2 > 0 else math.inf
    if ratio < 1.0 / MISCALIBRATED_SIGMA_RATIO:
        return f"overconfident: errors ~{1.0 / ratio:.0f}x sigma"
    # errors of ~0 (ground truth equal to the estimates) read 'sigma ~infx the errors'
    times = f"~{ratio:.0f}x" if ratio < 1000 else ">1000x"
    out = f"conservative: sigma {times} the errors" if ratio > MISCALIBRATED_SIGMA_RATIO else ""
    tail = math.sqrt(p95_d2 / CHI2_3DOF_95) if p95_d2 is not None and p95_d2 > 0 else 0.0
    if tail > MISCALIBRATED_SIGMA_RATIO:
        # .2g alone wrote a 150x tail (2 m off under a 1 cm sigma) as "~1.5e+02x"
        x = f"{tail:.2g}" if tail < 100 else f"{tail:.0f}"
        out += ("; " if out else "") + f"overconfident tail: the worst 5 % of errors ~{x}x sigma"
    heavy = tail_clause(beyond_3sigma or 0, frames or 0)
    if heavy:
        out += (", " + heavy if tail > MISCALIBRATED_SIGMA_RATIO else
                ("; " if out else "") + "overconfident tail: " + heavy)
    return out


def _latency(results: Sequence[LocalizationResult]) -> Dict[str, Dict[str, float]]:
    """Per stage (``timings_s`` key): median and p90 seconds over the frames that ran it, and
    how many did. A frame that stopped before a stage (no match: no PnP) is not a 0 s sample:
    counting it so halved the median PnP time of a run with many failures."""
    keys = sorted({k for r in results for k in r.timings_s})
    out: Dict[str, Dict[str, float]] = {}
    for k in keys:
        v = np.array([r.timings_s[k] for r in results if k in r.timings_s], np.float64)
        out[k] = {"median": float(np.median(v)), "p90": float(np.percentile(v, 90)),
                  "frames": int(len(v))}
    return out
