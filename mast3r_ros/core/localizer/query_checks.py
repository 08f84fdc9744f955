"""Checks on what a query brings: a caller's pose (``prior``, ``hint``) must be a finite rigid
transform, and a camera skew the solvers ignore is warned about, as is a distortion that no map
keyframe camera of the image size has (`_warn_distortion_mismatch`).

The comparison of the query camera with the map's cameras is `Localizer._check_query_camera`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from ..blas_threads import single_blas_thread
from ..distortion_evidence import (DistortionFit, distortion_camera_of, distortion_fit,
                                   radial_judged, tolerance_k1)
from ..errors import InputError
from ..focal_evidence import FocalFit
from ..geometry import (invert_pose, is_valid_pose, non_rigid_reason, nonfinite_entries,
                        undistort_pixels)
from ..pnp.distortion import refitted_distortion
from ..pnp.focal import refitted_focal_scale
from ..pnp.principal_point import refitted_principal_point
from ..principal_point_evidence import PrincipalPointFit
from ..types import CameraIntrinsics, Frame

log = logging.getLogger(__name__)

# a skew K[0,1] that moves pixels by more than this is warned about (it is ignored)
SKEW_IGNORED_PX = 0.5
# a query distortion that moves some pixel by more than this from where every map keyframe
# camera's of the same size moves it is warned about (`_warn_distortion_mismatch`)
DISTORTION_MISMATCH_PX = 1.5
# `focal_gate`: a focal scale this many of its sigmas from 1 is significant
FOCAL_SIGNIFICANCE = 4.0
# `focal_gate` fits at most this many inliers (its sigma stays far below max_focal_error;
# a fit over 12 000 took 30 ms)
FOCAL_MAX_POINTS = 2000


def _checked_pose(pose: Optional[np.ndarray], name: str) -> Optional[np.ndarray]:
    """``pose`` (None, or a finite 4x4 rigid ``map_from_cam``) as float64; `InputError` naming
    ``name`` and what is wrong: its type, shape, non-finite entries or why it is not rigid."""
    if pose is None:
        return None
    head = f"{name} must be a finite 4x4 rigid transform (map_from_cam) or None"
    if isinstance(pose, (bool, np.bool_, str)):
        # localize(frame, True) puts True into prior, localize's second positional argument
        fix = (": prior is localize's second positional argument; pass force_global=True by "
               "name" if name == "prior" else "")
        raise InputError(f"{head}, got {pose!r}{fix}")
    try:
        arr = np.asarray(pose, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{head}, got {type(pose).__name__} {pose!r:.80}") from None
    if arr.shape != (4, 4):
        fix = ("; append the row [0, 0, 0, 1] to a 3x4 [R | t]" if arr.shape == (3, 4) else "")
        raise InputError(f"{head}, got shape {arr.shape}{fix}")
    if not np.isfinite(arr).all():
        raise InputError(f"{head}, but it is not finite: {nonfinite_entries(arr)}")
    if not is_valid_pose(arr):
        raise InputError(f"{head}, but it is not rigid: {non_rigid_reason(arr)}")
    return arr


def _checked_frame(frame: Frame) -> Frame:
    """``frame`` checked again as `Frame` (and its `CameraIntrinsics`) checks it when made.
    Both are plain mutable dataclasses: a Frame whose ``rgb`` was replaced after it was made
    (one Frame object reused for each new image) was localized unchecked -- a half-size image
    with the full-size K gave a pose 2.9 m off with ``success=True``. Raises `InputError` as
    `Frame` does, and for a frame without intrinsics."""
    if not isinstance(frame, Frame):
        raise InputError(f"localize takes a Frame(rgb, intrinsics, stamp_ns), got "
                         f"{type(frame).__name__}")
    if frame.intrinsics is None:
        raise InputError("frame has no camera intrinsics: pass a CameraInfo (or "
                         "--camera-info YAML) with the images")
    intr = frame.intrinsics
    if isinstance(intr, CameraIntrinsics):
        intr = dataclasses.replace(intr)  # its K, dist, size checked again
    return dataclasses.replace(frame, intrinsics=intr)


def _warn_ignored_skew(cam: CameraIntrinsics) -> None:
    """Warn when the skew ``K[0,1]`` moves pixels by over `SKEW_IGNORED_PX`:
    sensor_msgs/CameraInfo's K has no skew term, and OpenCV (``solvePnP``,
    ``undistortPoints``, ``projectPoints``) and poselib's pinhole model ignore it, so the pose
    is solved as if it were 0. The shift of a pixel is ``skew * (v - cy) / fy``, largest at
    the top or bottom row."""
    K = cam.K
    shift = abs(K[0, 1]) * max(K[1, 2], cam.height - 1 - K[1, 2]) / K[1, 1]
    if shift > SKEW_IGNORED_PX:
        log.warning("the query camera's K has a skew K[0,1] = %g, which CameraInfo's model, "
                    "OpenCV and poselib do not have: it is ignored (treated as 0), moving pixels "
                    "by up to %.1f px, so poses are biased; recalibrate without skew (ROS "
                    "camera_calibration, Kalibr and OpenCV calibrate with none)", K[0, 1], shift)


def _describe_distortion(model: str, dist: np.ndarray) -> str:
    if not np.any(np.asarray(dist) != 0):
        return "none"
    return f"{model} [{', '.join(f'{v:.4g}' for v in dist)}]"


def distortion_shift_px(K: np.ndarray, width: int, height: int, model_a: str,
                        dist_a: np.ndarray, model_b: str, dist_b: np.ndarray) -> float:
    """How far apart two distortions put the same pixels once undistorted with ``K``: the
    largest distance (px) over a 13 x 10 grid spanning the image, corners included (the
    coefficients themselves are not comparable across models or in their effect). NaN or
    infinite where OpenCV's undistortion does not converge is counted as infinite."""
    u, v = np.meshgrid(np.linspace(0.0, width - 1.0, 13), np.linspace(0.0, height - 1.0, 10))
    grid = np.column_stack([u.ravel(), v.ravel()])
    a = undistort_pixels(grid, K, dist_a, model_a)
    b = undistort_pixels(grid, K, dist_b, model_b)
    d = np.linalg.norm(a - b, axis=1)
    return float(np.where(np.isfinite(d), d, np.inf).max())


def _warn_distortion_mismatch(cam: CameraIntrinsics,
                              map_dists: Sequence[Tuple[int, int, str, np.ndarray]]) -> None:
    """Warn when the query's distortion moves pixels by over `DISTORTION_MISMATCH_PX` from
    where that of every map keyframe camera of the same image size does (``map_dists``:
    `KeyframeMap.distortions`). Field cause: rectified images (``image_rect``) given with the
    raw camera's D (``image_rectified: false``), undistorted twice: undistorted 7-Scenes
    queries with a plumb_bob D of (-0.3, 0.1) localized 9.9 cm off (80 cm at worst) where
    0.8 cm was right, claiming 1.1 cm, without a word. Cameras of another size are not
    compared."""
    same = [(m, d) for w, h, m, d in map_dists if (w, h) == (cam.width, cam.height)]
    if not same:
        return
    try:
        shifts = [distortion_shift_px(cam.K, cam.width, cam.height, cam.distortion_model,
                                      cam.dist, m, d) for m, d in same]
    except Exception as err:  # noqa: BLE001 - a check never costs a frame
        log.debug("distortion check skipped: %r", err)
        return
    best = int(np.argmin(shifts))
    if shifts[best] <= DISTORTION_MISMATCH_PX:
        return
    query = _describe_distortion(cam.distortion_model, cam.dist)
    closest = _describe_distortion(*same[best])
    shift = "more than the image" if not np.isfinite(shifts[best]) else f"{shifts[best]:.1f} px"
    if "none" in (query, closest):  # raw one side, rectified the other: may be meant
        cause = ("right when one side's images are raw and the other's rectified (a map built "
                 "from image_rect queried with image_raw and its D, or the other way round); "
                 "wrong, with biased poses and a confident covariance, when both are the same "
                 "kind: rectified images given with the raw camera's D are undistorted twice "
                 "(set image_rectified: the node, and build-map/localize on a rosbag2, then use P "
                 "and no D; a calibration file, camera.yaml or --camera-info, is used as "
                 "written: give the rectified camera's, with zero distortion)")
    else:
        cause = ("right after a recalibration of the same camera; otherwise poses come out "
                 "biased with a confident covariance (another camera's calibration, or "
                 "rectified images: set image_rectified and use P)")
    log.warning("the query camera %dx%d's distortion (%s) differs from that of every map "
                "keyframe camera of that size (closest: %s): undistorting with one or the "
                "other moves pixels by up to %s. That is %s", cam.width, cam.height, query,
                closest, shift, cause)


def shared_keyframes(cam: CameraIntrinsics,
                     map_dists: Sequence[Tuple[int, int, str, np.ndarray]],
                     poses: np.ndarray, index_of: Callable[[int], int],
                     keyframe_ids: Sequence[int], groups: np.ndarray
                     ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The ``keyframes`` argument of `pnp.distortion.refitted_distortion`: (G, 4, 4) cam_from_map of
    the keyframes ``keyframe_ids`` (manifest ids; ``index_of`` gives their index into ``poses``,
    (K, 4, 4) map_from_cam) and ``groups`` (N,), each point's index among them, when some map
    keyframe camera of the query's size has the query's distortion (within
    `DISTORTION_MISMATCH_PX`; ``map_dists``: `KeyframeMap.distortions`): the same camera and
    images, so a distortion wrong for the query was wrong for the map's points too. None
    otherwise (a map of another camera, or one the distortion check already warned about),
    and for a camera with D zero: there the same D does not say that the map's images were
    bent like the query's (a distorted query against a map of the right camera, both D zero,
    is what the run gate refuses: its fits must be the query's own, and a fit through the
    keyframes is never refused, `distortion_run_gate`). The joint fit frees the keyframes'
    focal scale (depth not registered to colour, as the redkitchen Kinect's: without it the
    right camera at 160x120 fit a false k1 -0.188 +- 0.016, with it -0.061 +- 0.016; map and
    query distorted with D zero would fit -0.251 +- 0.015, against -0.037 without the
    keyframes). With a nonzero D it is needed (the frames undistorted twice, map and query:
    +0.191 +- 0.016, 0.000 +- 0.014 without) and stays quiet at the right D
    (docs/bench/distortion_cost_cpu_2026-12-07zi).
    """
    same = [(m, d) for w, h, m, d in map_dists if (w, h) == (cam.width, cam.height)]
    if not cam.has_distortion:
        return None  # D zero says nothing of how the map's images were bent (the docstring)
    try:
        if not same or min(distortion_shift_px(cam.K, cam.width, cam.height,
                                               cam.distortion_model, cam.dist, m, d)
                           for m, d in same) > DISTORTION_MISMATCH_PX:
            return None
        return (np.stack([invert_pose(poses[index_of(int(i))]) for i in keyframe_ids]),
                np.asarray(groups, np.int64))
    except Exception as err:  # noqa: BLE001 - a check never costs a frame
        log.debug("distortion fit without the map's keyframes: %r", err)
        return None


def focal_reason(max_error: float, cam: CameraIntrinsics, map_from_cam: np.ndarray,
                 X: np.ndarray, xu: np.ndarray, inliers: np.ndarray,
                 reproj_error_px: float) -> str:
    """`focal_gate`'s failure reason alone."""
    return focal_gate(max_error, cam, map_from_cam, X, xu, inliers, reproj_error_px)[0]


def focal_gate(max_error: float, cam: CameraIntrinsics, map_from_cam: np.ndarray,
               X: np.ndarray, xu: np.ndarray, inliers: np.ndarray,
               reproj_error_px: float,
               keyframes: Optional[Tuple[np.ndarray, np.ndarray]] = None,
               fit_distortion: bool = True, run_distortion: Optional[DistortionFit] = None
               ) -> Tuple[str, Optional[FocalFit]]:
    """(reason, fit): the failure reason of a pose whose inliers (``inliers`` (N,) bool among
    ``X`` (N, 3) map points and ``xu`` (N, 2) query pixels with ``cam``'s distortion removed,
    as `solve_pnp` returns them), chosen again under the focal length they fit
    (`pnp.focal.refitted_focal_scale`, within ``reproj_error_px``, on at most
    `FOCAL_MAX_POINTS` of them, evenly spaced), fit a focal length off ``cam``'s by more than
    ``max_error`` (a fraction) and by over `FOCAL_SIGNIFICANCE` sigma, '' otherwise; and the
    `FocalFit` (scale, sigma of its log, ``cam``'s fx; the principal point offset the inliers
    fit, `pnp.principal_point.refitted_principal_point`; the residual radial distortion,
    `pnp.distortion.refitted_distortion`) for the run-level evidence
    (`core.focal_evidence`), sigma inf when not observable; ``keyframes``: `shared_keyframes`;
    ``fit_distortion`` False leaves the distortion unfitted (None: the run's evidence is
    settled, `distortion_run_gate.RunDistortionGate.wants_fit`), and the focal reason then
    names ``run_distortion`` (the run's combined fit, `RunDistortionGate.run_fit`) where this
    frame's would be. ('', None) without a fit when
    ``max_error`` is 0 (``gates.max_focal_error``): the gate off costs nothing."""
    if max_error <= 0:
        return "", None
    # one BLAS thread: the fits' small solves and inverses, each 10-30 ms on numpy 1.21's
    # OpenBLAS (Humble's, Jetson's) whose threads spin on a loaded CPU (blas_threads)
    with single_blas_thread():
        s, sigma = refitted_focal_scale(map_from_cam, X, xu, inliers, cam.K, reproj_error_px,
                                        FOCAL_MAX_POINTS)
        pp = refitted_principal_point(map_from_cam, X, xu, inliers, cam.K, reproj_error_px)
        key, facts = distortion_camera_of(cam)  # once per calibration
        dist = (distortion_fit(refitted_distortion(map_from_cam, X, xu, inliers, cam.K,
                                                   reproj_error_px, keyframes=keyframes),
                               cam.K, cam.width, cam.height, cam.distortion_model, cam.dist,
                               keyframes is not None, facts)
                if fit_distortion and radial_judged(cam) else None)
    fx = float(cam.K[0, 0])
    fit = FocalFit(float(s), float(sigma), fx, None if pp is None else PrincipalPointFit(
        *pp, float(cam.K[0, 2]), float(cam.K[1, 2])), dist, key)
    if abs(s - 1.0) <= max_error or not abs(np.log(s)) > FOCAL_SIGNIFICANCE * sigma:
        return "", fit
    # the words before " (" are the same for every frame: metrics.json's failure_reasons key
    return (f"the camera's focal length does not fit the inliers (they fit {s:.2f}x it: fx "
            f"{s * fx:.1f} px, not {fx:.1f}; +-{100 * sigma:.1f} %, gates.max_focal_error "
            f"{max_error:g}): wrong intrinsics (CameraInfo, camera.yaml) or a zoomed or cropped "
            "image" + (_distortion_instead(dist) if dist is not None else
                       _distortion_instead(run_distortion, "this run's frames"))), fit


def _distortion_instead(d: Optional[DistortionFit], who: str = "the inliers") -> str:
    """The focal reason's tail when the frame's inliers also fit a clear residual distortion
    (beyond `distortion_evidence.TOLERANCE_DEG` at `FOCAL_SIGNIFICANCE` sigma): PnP trades a
    wrong distortion for a focal scale, so the distortion is the likelier cause."""
    if d is None or not (abs(d.k1) > FOCAL_SIGNIFICANCE * d.sigma_k1
                         and abs(d.k1) > tolerance_k1(d.corner_r)):
        return ""
    return (f"; likelier a lens distortion the camera's D does not describe ({who} fit a "
            f"residual k1 {d.k1:+.3f} +-{d.sigma_k1:.3f}: rectified images given the raw D, or "
            "distorted ones given D zero)")
