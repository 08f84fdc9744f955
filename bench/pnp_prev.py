"""Metric camera pose from 2-D/3-D correspondences: PnP-RANSAC, refinement and covariance.

`solve_pnp` runs a robust solver (poselib when installed, else OpenCV's USAC with MAGSAC++ scoring;
never plain RANSAC, which breaks down at the outlier rates learned matchers produce), re-scores the
inliers at the threshold, refines the pose on them by Gauss-Newton/Levenberg-Marquardt on the
reprojection error, and returns a 6x6 covariance.

Covariance convention (also `LocalizationResult.covariance`): the state is the camera pose in the
map frame, ``map_from_cam = (R, c)``, perturbed as ``R' = exp([dtheta]_x) R`` and ``c' = c + dc``
with ``dc`` (metres) and ``dtheta`` (a rotation vector in radians about the *map* axes). The matrix
is ordered ``(dc_x, dc_y, dc_z, dtheta_x, dtheta_y, dtheta_z)`` -- the order and frame of ROS
``geometry_msgs/PoseWithCovariance``.

Covariance model (`pose_covariance`; what limits the pose, not only the pixel residuals):

1. per correspondence, the residual covariance ``A_i = sigma_px^2 I + J_X,i Sigma_X,i J_X,i^T``:
   query keypoint noise plus the 3-D point's own covariance (`Correspondences.points3d_cov`,
   from `core.uncertainty`, a sensor model) projected into the query image, first order
   (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., ch. 5). ``sigma_px^2`` is
   estimated per frame from what the residuals leave over once the 3-D part is accounted for,
   ``(sum |r_i|^2 - sum tr(J_X,i Sigma_X,i J_X,i^T)) / (2n - 6)``, floored at the quantisation
   variance (1/12 px)^2 -- a one-component variance-component estimate (Foerstner & Wrobel,
   *Photogrammetric Computer Vision*, 2016, ch. 4) -- or given;
2. propagated through the estimator actually used -- unweighted Gauss-Newton/LM on the inliers,
   so that poses do not depend on the model -- as the sandwich
   ``H^-1 (sum J_i^T A_i J_i) H^-1``, ``H = J^T J`` (first-order propagation through the
   normal equations; it equals ``(J^T W J)^-1`` when all ``A_i`` are equal);
3. the correlated part no per-point model captures: every point of one keyframe shares that
   keyframe's pose error (the map was built from an estimated trajectory). A keyframe pose error
   ``xi_k`` (same convention, covariance ``diag(sigma_m^2 I, sigma_rad^2 I)``) moves its points
   by ``dX_i = [I, -[X_i - c_k]_x] xi_k``, hence the pose by
   ``G_k xi_k, G_k = -H^-1 sum_{i in k} J_i^T J_X,i [I, -[X_i - c_k]_x]``, adding
   ``G_k Sigma_kf G_k^T`` (first-order propagation through the estimator, H&Z ch. 5). With a
   single keyframe this is the rigid transfer of the keyframe's error to the query -- it does not
   shrink with the number of matches, which is what the per-point model alone gets wrong.

Without per-point covariances and keyframe groups the model reduces to the pixel-only
``sigma^2 (J^T J)^-1``, ``sigma^2`` from the residuals.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.geometry import invert_pose, make_pose, undistort_pixels
from mast3r_ros.core.types import CameraIntrinsics

log = logging.getLogger(__name__)

MIN_POINTS = 6

try:  # optional dependency: measured 2-4x more accurate than OpenCV's solvers on our data
    import poselib as _poselib
except ImportError:  # pragma: no cover - depends on the environment
    _poselib = None


def poselib_available() -> bool:
    return _poselib is not None


@dataclasses.dataclass(frozen=True)
class UncertaintyModel:
    """Parameters of the covariance model (module docstring); `config.CovarianceConfig` holds
    them with their justification. ``pixel_sigma_px`` query keypoint noise (pixels, 1 sigma per
    axis), None = estimated per frame from the residuals; ``map_pose_sigma_m`` /
    ``map_pose_sigma_rad`` the keyframe pose error (1 sigma per axis, metres / radians);
    ``variance_factor`` (with a given ``pixel_sigma_px``) inflates by the residuals when they are
    larger than modelled."""

    pixel_sigma_px: Optional[float] = None
    map_pose_sigma_m: float = 0.0
    map_pose_sigma_rad: float = 0.0
    variance_factor: bool = True


@dataclasses.dataclass
class PnPResult:
    """Outcome of `solve_pnp`. ``map_from_cam`` is None when ``success`` is False.

    ``inliers`` (N,) bool over the input correspondences; ``reproj_rms_px`` over the inliers in
    undistorted query pixels; ``covariance`` 6x6 as documented in this module.
    """

    success: bool
    map_from_cam: Optional[np.ndarray]
    inliers: np.ndarray
    reproj_rms_px: float = float("nan")
    covariance: Optional[np.ndarray] = None
    reason: str = ""

    @property
    def num_inliers(self) -> int:
        return int(np.count_nonzero(self.inliers))


def resolve_backend(backend: str) -> str:
    """'auto' -> 'poselib' when installed else 'opencv'; 'poselib' without poselib is an error."""
    if backend == "auto":
        return "poselib" if _poselib is not None else "opencv"
    if backend == "poselib" and _poselib is None:
        raise ConfigError("pnp.backend is 'poselib' but poselib is not installed: "
                          "`pip install poselib` or set pnp.backend to 'auto' or 'opencv'")
    if backend not in ("poselib", "opencv"):
        raise ConfigError(f"pnp.backend must be auto, poselib or opencv, got {backend!r}")
    return backend


def _ransac_poselib(X: np.ndarray, x: np.ndarray, K: np.ndarray, size: Tuple[int, int],
                    thr: float, iters: int, conf: float, seed: int):
    # A pinhole model is invariant to shifting pixels and principal point alike, so the OpenCV
    # pixel convention can be passed as is (no +0.5 needed).
    cam = {"model": "PINHOLE", "width": int(size[0]), "height": int(size[1]),
           "params": [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]}
    ransac = {"max_reproj_error": float(thr), "max_iterations": int(iters),
              "min_iterations": min(100, int(iters)), "success_prob": float(conf),
              "seed": int(seed)}
    pose, info = _poselib.estimate_absolute_pose(x, X, cam, ransac, {})
    if not info.get("num_inliers", 0):
        return None
    Rt = np.asarray(pose.Rt, dtype=np.float64)
    return make_pose(Rt[:, :3], Rt[:, 3])


def _ransac_opencv(X: np.ndarray, x: np.ndarray, K: np.ndarray, thr: float, iters: int,
                   conf: float, seed: int):
    import cv2

    cv2.setRNGSeed(int(seed))
    ok, rvec, tvec, inl = cv2.solvePnPRansac(
        X, x, K, None, iterationsCount=int(iters), reprojectionError=float(thr),
        confidence=float(conf), flags=cv2.USAC_MAGSAC)
    if not ok or inl is None or not len(inl):
        return None
    return make_pose(cv2.Rodrigues(rvec)[0], tvec.reshape(3))


def reprojection_residuals(cam_from_map: np.ndarray, X: np.ndarray, x: np.ndarray,
                           K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Residuals (N, 2) = projection - observation in pixels, and camera-frame z (N,)."""
    p = X @ cam_from_map[:3, :3].T + cam_from_map[:3, 3]
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * p[:, 0] / z + K[0, 2]
        v = K[1, 1] * p[:, 1] / z + K[1, 2]
    return np.stack([u, v], axis=1) - x, z


def _jacobian(map_from_cam: np.ndarray, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """d residual / d (dc, dtheta) for the perturbation in the module docstring: (2N, 6)."""
    R, c = map_from_cam[:3, :3], map_from_cam[:3, 3]
    v = X - c
    p = v @ R  # R^T v, row-wise
    z = p[:, 2]
    fx, fy = K[0, 0], K[1, 1]
    dproj = np.zeros((len(X), 2, 3))
    dproj[:, 0, 0] = fx / z
    dproj[:, 0, 2] = -fx * p[:, 0] / z ** 2
    dproj[:, 1, 1] = fy / z
    dproj[:, 1, 2] = -fy * p[:, 1] / z ** 2
    # p' = R^T exp(-dtheta)(v - dc)  =>  dp/ddc = -R^T,  dp/ddtheta = R^T [v]_x
    vx = np.zeros((len(X), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx[:, 1, 0], vx[:, 2, 0], vx[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    dp = np.concatenate([np.broadcast_to(-R.T, (len(X), 3, 3)), R.T @ vx], axis=2)
    return (dproj @ dp).reshape(-1, 6)


def _perturb(map_from_cam: np.ndarray, delta: np.ndarray) -> np.ndarray:
    R = Rotation.from_rotvec(delta[3:]).as_matrix() @ map_from_cam[:3, :3]
    return make_pose(R, map_from_cam[:3, 3] + delta[:3])


def refine_pose(map_from_cam: np.ndarray, X: np.ndarray, x: np.ndarray, K: np.ndarray,
                iterations: int = 20) -> np.ndarray:
    """Levenberg-Marquardt on the squared reprojection error of (N, 3) map points vs (N, 2)
    undistorted pixels; returns the refined ``map_from_cam`` (never worse than the input)."""
    T = map_from_cam.copy()
    r, _ = reprojection_residuals(invert_pose(T), X, x, K)
    cost = float(np.sum(r ** 2))
    lam = 1e-3
    for _ in range(iterations):
        J = _jacobian(T, X, K)
        A = J.T @ J
        g = J.T @ r.reshape(-1)
        try:
            delta = -np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), g)
        except np.linalg.LinAlgError:
            break
        T_new = _perturb(T, delta)
        r_new, z_new = reprojection_residuals(invert_pose(T_new), X, x, K)
        cost_new = float(np.sum(r_new ** 2)) if np.all(z_new > 0) else np.inf
        if cost_new < cost:
            T, r, lam = T_new, r_new, max(lam / 10, 1e-9)
            done = cost - cost_new < 1e-12 * max(cost, 1e-12)
            cost = cost_new
            if done or np.linalg.norm(delta) < 1e-12:
                break
        else:
            lam *= 10
            if lam > 1e8:
                break
    return T


def point_jacobian(map_from_cam: np.ndarray, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """d residual / d X (map-frame point) for each point: (N, 2, 3)."""
    R, c = map_from_cam[:3, :3], map_from_cam[:3, 3]
    p = (X - c) @ R
    z = p[:, 2]
    dproj = np.zeros((len(X), 2, 3))
    dproj[:, 0, 0] = K[0, 0] / z
    dproj[:, 0, 2] = -K[0, 0] * p[:, 0] / z ** 2
    dproj[:, 1, 1] = K[1, 1] / z
    dproj[:, 1, 2] = -K[1, 1] * p[:, 1] / z ** 2
    return dproj @ R.T


def _skew(v: np.ndarray) -> np.ndarray:
    S = np.zeros(v.shape[:-1] + (3, 3))
    S[..., 0, 1], S[..., 0, 2], S[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    S[..., 1, 0], S[..., 2, 0], S[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return S


def pose_covariance(map_from_cam: np.ndarray, X: np.ndarray, x: np.ndarray, K: np.ndarray,
                    points_cov: Optional[np.ndarray] = None, groups: Optional[np.ndarray] = None,
                    group_centres: Optional[np.ndarray] = None,
                    model: UncertaintyModel = UncertaintyModel()) -> Optional[np.ndarray]:
    """6x6 covariance (module docstring) of a pose fitted to inlier correspondences.

    ``X`` (N, 3) map points (metres), ``x`` (N, 2) undistorted query pixels, ``K`` 3x3;
    ``points_cov`` (N, 3, 3) map-frame point covariances (m^2; None or NaN rows = exact points);
    ``groups`` (N,) int keyframe of each point, an index into ``group_centres`` (G, 3), the
    keyframe camera centres in the map frame (the keyframe-pose term needs both). Returns None
    when the geometry is degenerate (singular normal matrix).
    """
    n = len(X)
    if n < 4:
        return None
    r, _ = reprojection_residuals(invert_pose(map_from_cam), X, x, K)
    J = _jacobian(map_from_cam, X, K).reshape(n, 2, 6)
    try:
        Hi = np.linalg.inv(np.einsum("nai,naj->ij", J, J))
    except np.linalg.LinAlgError:
        return None
    JX = point_jacobian(map_from_cam, X, K)
    P = np.zeros((n, 2, 2))  # the 3-D points' covariances projected into the query image
    if points_cov is not None:
        S = np.nan_to_num(np.asarray(points_cov, dtype=np.float64).reshape(n, 3, 3))
        P = JX @ S @ JX.transpose(0, 2, 1)
    dof = max(2 * n - 6, 1)
    if model.pixel_sigma_px is None:  # the query pixel noise is what the 3-D part leaves over
        sig2 = (float(np.sum(r ** 2)) - float(np.trace(P, axis1=1, axis2=2).sum())) / dof
    else:
        sig2 = float(model.pixel_sigma_px) ** 2
    # a perfect fit would claim infinite certainty; pixels are quantised, so floor sigma there
    sig2 = max(sig2, 1.0 / 12.0 ** 2)
    A = sig2 * np.eye(2)[None] + P
    s2 = 1.0
    if model.variance_factor and model.pixel_sigma_px is not None:
        chi2 = float(np.einsum("na,na->", r, np.linalg.solve(A, r[..., None])[..., 0]))
        s2 = max(1.0, chi2 / dof)
    cov = s2 * Hi @ np.einsum("nai,nab,nbj->ij", J, A, J) @ Hi
    sk_t, sk_r = float(model.map_pose_sigma_m), float(model.map_pose_sigma_rad)
    if groups is not None and group_centres is not None and (sk_t > 0 or sk_r > 0):
        g = np.asarray(groups).reshape(-1)
        centres = np.asarray(group_centres, dtype=np.float64).reshape(-1, 3)
        s_kf = np.diag([sk_t ** 2] * 3 + [sk_r ** 2] * 3)
        JtJX = np.einsum("nai,nab->nib", J, JX)  # (N, 6, 3)
        for k in np.unique(g):
            m = g == k
            B = np.concatenate([np.broadcast_to(np.eye(3), (int(m.sum()), 3, 3)),
                                -_skew(X[m] - centres[k])], axis=2)
            G = -Hi @ np.einsum("nib,nbj->ij", JtJX[m], B)
            cov = cov + G @ s_kf @ G.T
    cov = 0.5 * (cov + cov.T)
    return cov if np.isfinite(cov).all() else None


def solve_pnp(X: np.ndarray, x: np.ndarray, intrinsics: CameraIntrinsics, *,
              backend: str = "auto", reproj_error_px: float = 5.0, max_iterations: int = 10000,
              confidence: float = 0.9999, refine: bool = True, seed: int = 0,
              points_cov: Optional[np.ndarray] = None, groups: Optional[np.ndarray] = None,
              group_centres: Optional[np.ndarray] = None,
              uncertainty: UncertaintyModel = UncertaintyModel()) -> PnPResult:
    """Robust metric pose of a camera from map points and their pixels.

    ``X`` (N, 3) map-frame points in metres, ``x`` (N, 2) query pixels as captured (distortion is
    removed first when the intrinsics have any). ``points_cov``, ``groups``, ``group_centres``
    and ``uncertainty`` only shape the covariance (`pose_covariance`), never the pose. Returns a
    `PnPResult`; a failure (too few points, degenerate geometry, solver failure) is a result with
    ``success=False`` and a reason.
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).reshape(-1, 3))
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    if len(X) != len(x):
        raise InputError(f"solve_pnp: {len(X)} 3-D points but {len(x)} 2-D points")
    n = len(X)
    inliers = np.zeros(n, dtype=bool)
    finite = np.isfinite(X).all(axis=1) & np.isfinite(x).all(axis=1)
    name = resolve_backend(backend)
    if np.count_nonzero(finite) < MIN_POINTS:
        return PnPResult(False, None, inliers,
                         reason=f"too few correspondences ({np.count_nonzero(finite)} < "
                                f"{MIN_POINTS})")
    K = intrinsics.K
    xu = undistort_pixels(x, K, intrinsics.dist, intrinsics.distortion_model)
    Xf, xf = np.ascontiguousarray(X[finite]), np.ascontiguousarray(xu[finite])
    try:
        if name == "poselib":
            size = (intrinsics.width, intrinsics.height)
            cam_from_map = _ransac_poselib(Xf, xf, K, size, reproj_error_px, max_iterations,
                                           confidence, seed)
        else:
            cam_from_map = _ransac_opencv(Xf, xf, K, reproj_error_px, max_iterations,
                                          confidence, seed)
    except Exception as e:  # the solvers raise on degenerate input; that is a failed frame
        log.debug("PnP solver %s raised: %s", name, e)
        cam_from_map = None
    if cam_from_map is None or not np.isfinite(cam_from_map).all():
        return PnPResult(False, None, inliers, reason="PnP-RANSAC found no pose")
    cov_in = (points_cov, groups, group_centres, uncertainty)
    return _finish(cam_from_map, X, xu, finite, K, reproj_error_px, refine, cov_in)


def _score(map_from_cam, X, xu, finite, K, thr):
    r, z = reprojection_residuals(invert_pose(map_from_cam), X, xu, K)
    with np.errstate(invalid="ignore"):
        err = np.linalg.norm(r, axis=1)
        return finite & (z > 0) & (err <= thr), err


def _finish(cam_from_map, X, xu, finite, K, thr, refine, cov_in) -> PnPResult:
    map_from_cam = invert_pose(cam_from_map)
    inl, err = _score(map_from_cam, X, xu, finite, K, thr)
    if refine and np.count_nonzero(inl) >= MIN_POINTS:
        for _ in range(2):  # refine, re-score at the threshold, refine on the new set
            map_from_cam = refine_pose(map_from_cam, X[inl], xu[inl], K)
            inl, err = _score(map_from_cam, X, xu, finite, K, thr)
            if np.count_nonzero(inl) < MIN_POINTS:
                break
    if np.count_nonzero(inl) < MIN_POINTS:
        return PnPResult(False, None, inl,
                         reason=f"too few PnP inliers ({np.count_nonzero(inl)})")
    rms = float(np.sqrt(np.mean(err[inl] ** 2)))
    points_cov, groups, centres, model = cov_in
    cov = pose_covariance(map_from_cam, X[inl], xu[inl], K,
                          None if points_cov is None else np.asarray(points_cov)[inl],
                          None if groups is None else np.asarray(groups)[inl], centres, model)
    if cov is None:
        return PnPResult(False, None, inl, rms,
                         reason="degenerate geometry: pose covariance is singular")
    return PnPResult(True, map_from_cam, inl, rms, cov)
