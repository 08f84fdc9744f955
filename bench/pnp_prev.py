"""FROZEN COPY of ``mast3r_ros/core/pnp.py`` as landed at stop 14 (commit a60a9c0), before the
issue-9 host-PnP speed work: `bench/bench_host.py` runs it as the ``prev`` variant beside the
current module. Do not edit (only the imports are made absolute); the module's own docstring
follows.

Metric camera pose from 2-D/3-D correspondences: PnP-RANSAC, refinement and covariance.

`solve_pnp` runs a robust solver (poselib when installed, else OpenCV's USAC with MAGSAC++ scoring;
never plain RANSAC, which breaks down at the outlier rates learned matchers produce) on a random
subset of at most ``ransac_max_points`` correspondences, then refines the pose on *all* inliers at
the threshold by damped Gauss-Newton steps on the reprojection error alternating with re-scoring,
until the inlier set is stable, and returns a 6x6 covariance.

Cost (issue 9: the host part of a frame must fit in a few ms beside the GPU): every per-point
quantity is computed on coordinate rows ((3, N) / (6, N) arrays, contiguous along N), every sum
over points is a (6, N) x (N, k) product; no per-point small matrices, no Python loop over points.

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

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.geometry import invert_pose, make_pose, undistort_pixels
from mast3r_ros.core.types import CameraIntrinsics

log = logging.getLogger(__name__)

MIN_POINTS = 6
# RANSAC hypothesises on at most this many correspondences (`solve_pnp`; `PnPConfig`)
RANSAC_MAX_POINTS = 512
# at most this many refine/re-score steps (`_refine_inliers`)
REFINE_MAX_STEPS = 20

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
    ru, rv, z = _residuals_t(cam_from_map, np.asarray(X, np.float64).T, np.asarray(x).T, K)
    return np.stack([ru, rv], axis=1), z


def _residuals_t(cam_from_map: np.ndarray, Xt: np.ndarray, xt: np.ndarray, K: np.ndarray):
    """`reprojection_residuals` on coordinate rows: ``Xt`` (3, N), ``xt`` (2, N); returns the
    (N,) rows ``ru``, ``rv``, ``z``. Rows of length N are contiguous, so each step is one
    vectorised pass (the (N, 3) layout costs strided passes)."""
    p = cam_from_map[:3, :3] @ Xt + cam_from_map[:3, 3:4]
    z = p[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        iz = 1.0 / z
        ru = (K[0, 0] * iz) * p[0] + (K[0, 2] - xt[0])
        rv = (K[1, 1] * iz) * p[1] + (K[1, 2] - xt[1])
    return ru, rv, z


def _cross_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross products of (3, N) coordinate rows."""
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def _linearise(map_from_cam: np.ndarray, Xt: np.ndarray, K: np.ndarray):
    """Per-point derivatives at a pose, as coordinate rows (no per-point small matrices).

    ``Xt`` (3, N) map points. Returns ``(v, wu, wv, Ju, Jv)``: ``v = X - c`` (3, N),
    ``wu``/``wv`` (3, N) the d residual / d X rows of each point (`point_jacobian`), ``Ju``/``Jv``
    (6, N) its d residual / d (dc, dtheta) rows (`_jacobian`). With ``a_u = (fx/z, 0,
    -fx p_x/z^2)`` the derivative of u by the camera-frame point ``p = R^T v``:
    ``d u / d X = (R a_u)^T = wu^T``; from ``dp/ddc = -R^T``, ``dp/ddtheta = R^T [v]_x``
    (perturbation of the module docstring): ``d u / d (dc, dtheta) = (-wu, wu x v)``, since
    ``w^T [v]_x = (w x v)^T``. The same for v.
    """
    R, c = map_from_cam[:3, :3], map_from_cam[:3, 3]
    v = Xt - c[:, None]
    p = R.T @ v
    with np.errstate(divide="ignore", invalid="ignore"):
        iz = 1.0 / p[2]
        fx_z, fy_z = K[0, 0] * iz, K[1, 1] * iz
        wu = R[:, 0:1] * fx_z - R[:, 2:3] * (fx_z * iz * p[0])
        wv = R[:, 1:2] * fy_z - R[:, 2:3] * (fy_z * iz * p[1])
    Ju = np.concatenate([-wu, _cross_t(wu, v)])
    Jv = np.concatenate([-wv, _cross_t(wv, v)])
    return v, wu, wv, Ju, Jv


def _jacobian(map_from_cam: np.ndarray, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """d residual / d (dc, dtheta) for the perturbation in the module docstring: (2N, 6),
    rows interleaved (u_0, v_0, u_1, ...)."""
    *_, Ju, Jv = _linearise(map_from_cam, np.asarray(X, np.float64).T, K)
    return np.stack([Ju.T, Jv.T], axis=1).reshape(-1, 6)


def _so3_exp(w: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector (Rodrigues' formula; series below 1e-8 rad)."""
    th2 = float(w @ w)
    W = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
    if th2 < 1e-16:
        return np.eye(3) + W + 0.5 * (W @ W)
    th = np.sqrt(th2)
    return np.eye(3) + (np.sin(th) / th) * W + ((1.0 - np.cos(th)) / th2) * (W @ W)


def _perturb(map_from_cam: np.ndarray, delta: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = _so3_exp(delta[3:]) @ map_from_cam[:3, :3]
    T[:3, 3] = map_from_cam[:3, 3] + delta[:3]
    return T


def refine_pose(map_from_cam: np.ndarray, X: np.ndarray, x: np.ndarray, K: np.ndarray,
                iterations: int = 20) -> np.ndarray:
    """Levenberg-Marquardt on the squared reprojection error of (N, 3) map points vs (N, 2)
    undistorted pixels; returns the refined ``map_from_cam`` (never worse than the input).

    Stops after ``iterations`` steps, or when a step changes the cost by less than 1e-10 of it
    (either way: a step that only adds round-off ends it too, instead of raising the damping
    until it gives up) or moves the pose by less than 1e-12 (metres + radians). The normal
    equations come from the coordinate rows of `_linearise` (two (6, N) x (N, 6) products per
    linearisation); a rejected step only raises the damping, without linearising again.
    """
    Xt = np.ascontiguousarray(np.asarray(X, np.float64).T)
    xt = np.ascontiguousarray(np.asarray(x, np.float64).T)
    return _refine_t(map_from_cam, Xt, xt, K, iterations)


def _damped_step(T: np.ndarray, A: np.ndarray, g: np.ndarray, lam: float, Xt: np.ndarray,
                 xt: np.ndarray, K: np.ndarray):
    """One Levenberg-Marquardt trial from ``map_from_cam`` T with normal equations (A, g) and
    damping ``lam`` (Marquardt's diagonal scaling): (T_new, ru, rv, cost, delta), the cost inf
    when a point falls behind the camera; None when the system is singular."""
    try:
        delta = -np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), g)
    except np.linalg.LinAlgError:
        return None
    T_new = _perturb(T, delta)
    ru, rv, z = _residuals_t(invert_pose(T_new), Xt, xt, K)
    cost = float(ru @ ru + rv @ rv) if np.all(z > 0) else np.inf
    return T_new, ru, rv, cost, delta


def _refine_t(map_from_cam: np.ndarray, Xt: np.ndarray, xt: np.ndarray, K: np.ndarray,
              iterations: int = 20) -> np.ndarray:
    """`refine_pose` on coordinate rows ``Xt`` (3, N), ``xt`` (2, N)."""
    T = map_from_cam.copy()
    ru, rv, _ = _residuals_t(invert_pose(T), Xt, xt, K)
    cost = float(ru @ ru + rv @ rv)
    lam = 1e-3
    A = g = None
    for _ in range(iterations):
        if A is None:
            *_, Ju, Jv = _linearise(T, Xt, K)
            A = Ju @ Ju.T + Jv @ Jv.T
            g = Ju @ ru + Jv @ rv
        trial = _damped_step(T, A, g, lam, Xt, xt, K)
        if trial is None:
            break
        T_new, ru_n, rv_n, cost_new, delta = trial
        if cost_new < cost:
            T, ru, rv, lam, A = T_new, ru_n, rv_n, max(lam / 10, 1e-9), None
            done = cost - cost_new < 1e-10 * max(cost, 1e-12)
            cost = cost_new
            if done or np.linalg.norm(delta) < 1e-12:
                break
        elif cost_new - cost <= 1e-10 * max(cost, 1e-12):
            break  # converged: the step changes the cost by round-off only
        else:  # same linearisation, more damping
            lam *= 10
            if lam > 1e8:
                break
    return T


def point_jacobian(map_from_cam: np.ndarray, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """d residual / d X (map-frame point) for each point: (N, 2, 3)."""
    _, wu, wv, _, _ = _linearise(map_from_cam, np.asarray(X, np.float64).T, K)
    return np.stack([wu.T, wv.T], axis=1)


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

    Vectorised over the points: every per-point 2x2/6x6 product of the formulas is expanded
    into (N,)-columns, and each sum over points is a (6, N) x (N, k) product, so the cost is
    a few passes over the inliers (no per-point matrices, no loop but over keyframes).
    """
    n = len(X)
    if n < 4:
        return None
    Xt = np.ascontiguousarray(np.asarray(X, np.float64).T)
    xt = np.ascontiguousarray(np.asarray(x, np.float64).T)
    ru, rv, _ = _residuals_t(invert_pose(map_from_cam), Xt, xt, K)
    _, wu, wv, Ju, Jv = _linearise(map_from_cam, Xt, K)
    H = Ju @ Ju.T + Jv @ Jv.T
    try:
        Hi = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    # the 3-D points' covariances projected into the query image, P_i = JX_i S_i JX_i^T, as the
    # rows of its symmetric 2x2 entries (puu, puv; puv, pvv); JX_i's rows are wu_i, wv_i
    puu = puv = pvv = None
    if points_cov is not None:
        S = np.asarray(points_cov, dtype=np.float64).reshape(n, 9).T.copy()  # (9, N) rows
        S[np.isnan(S)] = 0.0
        Su = S[0:9:3] * wu[0] + S[1:9:3] * wu[1] + S[2:9:3] * wu[2]  # (S_i wu_i) as (3, N)
        Sv = S[0:9:3] * wv[0] + S[1:9:3] * wv[1] + S[2:9:3] * wv[2]
        puu = np.einsum("kn,kn->n", wu, Su)
        puv = np.einsum("kn,kn->n", wu, Sv)
        pvv = np.einsum("kn,kn->n", wv, Sv)
    dof = max(2 * n - 6, 1)
    if model.pixel_sigma_px is None:  # the query pixel noise is what the 3-D part leaves over
        tr = 0.0 if puu is None else float(puu.sum() + pvv.sum())
        sig2 = (float(ru @ ru + rv @ rv) - tr) / dof
    else:
        sig2 = float(model.pixel_sigma_px) ** 2
    # a perfect fit would claim infinite certainty; pixels are quantised, so floor sigma there
    sig2 = max(sig2, 1.0 / 12.0 ** 2)
    # A_i = sig2 I + P_i:  sum_i J_i^T A_i J_i = sig2 H + the sums over P's entries
    M = sig2 * H
    if puu is not None:
        cross = (Ju * puv) @ Jv.T
        M = M + (Ju * puu) @ Ju.T + (Jv * pvv) @ Jv.T + cross + cross.T
    s2 = 1.0
    if model.variance_factor and model.pixel_sigma_px is not None:
        a, d, b = sig2, sig2, 0.0  # r_i^T A_i^-1 r_i with the 2x2 inverse written out
        if puu is not None:
            a, d, b = sig2 + puu, sig2 + pvv, puv
        chi2 = float(np.sum((d * ru * ru - 2.0 * b * ru * rv + a * rv * rv) / (a * d - b * b)))
        s2 = max(1.0, chi2 / dof)
    cov = s2 * Hi @ M @ Hi
    sk_t, sk_r = float(model.map_pose_sigma_m), float(model.map_pose_sigma_rad)
    if groups is not None and group_centres is not None and (sk_t > 0 or sk_r > 0):
        g = np.asarray(groups).reshape(-1)
        centres = np.asarray(group_centres, dtype=np.float64).reshape(-1, 3)
        s_kf = np.array([sk_t ** 2] * 3 + [sk_r ** 2] * 3)
        # G_k = -Hi sum_{i in k} J_i^T JX_i [I, -[X_i - c_k]_x] with J_i^T JX_i = Ju_i wu_i^T +
        # Jv_i wv_i^T and w^T [d]_x = (w x d)^T: both blocks are (6, n) x (n, 3) products
        if np.any(g[1:] < g[:-1]):  # group the points (the localizer passes them grouped)
            o = np.argsort(g, kind="stable")
            g, Xt, Ju, Jv, wu, wv = g[o], Xt[:, o], Ju[:, o], Jv[:, o], wu[:, o], wv[:, o]
        ks, starts = np.unique(g, return_index=True)
        for k, i0, i1 in zip(ks, starts, np.append(starts[1:], n)):
            m = slice(int(i0), int(i1))
            d = Xt[:, m] - centres[k][:, None]
            ju, jv, au, av = Ju[:, m], Jv[:, m], wu[:, m], wv[:, m]
            B = np.concatenate([ju @ au.T + jv @ av.T,
                                -(ju @ _cross_t(au, d).T + jv @ _cross_t(av, d).T)], axis=1)
            G = -Hi @ B
            cov = cov + (G * s_kf) @ G.T
    cov = 0.5 * (cov + cov.T)
    return cov if np.isfinite(cov).all() else None


def solve_pnp(X: np.ndarray, x: np.ndarray, intrinsics: CameraIntrinsics, *,
              backend: str = "auto", reproj_error_px: float = 5.0, max_iterations: int = 1000,
              confidence: float = 0.9999, refine: bool = True, seed: int = 0,
              ransac_max_points: int = RANSAC_MAX_POINTS,
              points_cov: Optional[np.ndarray] = None, groups: Optional[np.ndarray] = None,
              group_centres: Optional[np.ndarray] = None,
              uncertainty: UncertaintyModel = UncertaintyModel()) -> PnPResult:
    """Robust metric pose of a camera from map points and their pixels.

    ``X`` (N, 3) map-frame points in metres, ``x`` (N, 2) query pixels as captured (distortion is
    removed first when the intrinsics have any). RANSAC hypothesises and scores on a random
    subset of at most ``ransac_max_points`` correspondences (drawn with ``seed``; 0 = all);
    the inliers are then re-scored, the pose refined and the covariance computed on *all*
    correspondences, so the subset only bounds the cost of the search (a few hundred points
    already hold enough inliers to find the pose at any outlier rate RANSAC can handle).
    ``points_cov``, ``groups``, ``group_centres`` and ``uncertainty`` only shape the
    covariance (`pose_covariance`), never the pose. Returns a `PnPResult`; a failure (too few
    points, degenerate geometry, solver failure) is a result with ``success=False`` and a
    reason.
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).reshape(-1, 3))
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    if len(X) != len(x):
        raise InputError(f"solve_pnp: {len(X)} 3-D points but {len(x)} 2-D points")
    n = len(X)
    inliers = np.zeros(n, dtype=bool)
    finite = np.isfinite(X).all(axis=1) & np.isfinite(x).all(axis=1)
    name = resolve_backend(backend)
    n_fin = int(np.count_nonzero(finite))
    if n_fin < MIN_POINTS:
        return PnPResult(False, None, inliers,
                         reason=f"too few correspondences ({n_fin} < {MIN_POINTS})")
    K = intrinsics.K
    xu = undistort_pixels(x, K, intrinsics.dist, intrinsics.distortion_model)
    sel = np.flatnonzero(finite) if n_fin < n else None
    if 0 < ransac_max_points < n_fin:
        pick = np.sort(np.random.default_rng(seed).choice(n_fin, int(ransac_max_points),
                                                          replace=False))
        sel = pick if sel is None else sel[pick]
    Xf = X if sel is None else X[sel]
    xf = np.ascontiguousarray(xu if sel is None else xu[sel])
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


def _score(map_from_cam, Xt, xt, finite, K, thr):
    """Inliers (N,) bool at the threshold, the reprojection error (N,) and the residual rows
    ``ru``, ``rv`` (N,) of coordinate rows ``Xt`` (3, N), ``xt`` (2, N)."""
    ru, rv, z = _residuals_t(invert_pose(map_from_cam), Xt, xt, K)
    with np.errstate(invalid="ignore"):
        err = np.sqrt(ru * ru + rv * rv)
        return finite & (z > 0) & (err <= thr), err, ru, rv


def _refine_inliers(map_from_cam, Xt, xt, finite, K, thr, max_steps: int = REFINE_MAX_STEPS):
    """Least squares on the inliers *and* the inlier set at once: each step is one damped
    Gauss-Newton step on the current inliers followed by re-scoring all correspondences at
    ``thr``; it ends when the set no longer changes and the step no longer lowers the cost
    (a fixed point: the pose is the least-squares pose of exactly the points within ``thr``
    of it), or after ``max_steps``. Returns (map_from_cam, inliers, err).

    Alternating single steps with re-scoring reaches that fixed point in a handful of
    linearisations, where converging on one set, re-scoring and converging again costs
    three or more per set -- and stopping after two such rounds left the result dependent on
    the RANSAC pose it started from (measured: the subset RANSAC of ``ransac_max_points``
    then gave 1.3x larger pose errors; at the fixed point they equal RANSAC on all points).
    """
    T = map_from_cam
    inl, err, ru_all, rv_all = _score(T, Xt, xt, finite, K, thr)
    for _ in range(max_steps):
        if np.count_nonzero(inl) < MIN_POINTS:
            break
        Xi, xi = Xt[:, inl], xt[:, inl]
        ru, rv = ru_all[inl], rv_all[inl]
        cost = float(ru @ ru + rv @ rv)
        *_, Ju, Jv = _linearise(T, Xi, K)
        A = Ju @ Ju.T + Jv @ Jv.T
        g = Ju @ ru + Jv @ rv
        lam, T_new = 1e-6, None
        while lam < 1e3:
            trial = _damped_step(T, A, g, lam, Xi, xi, K)
            if trial is None:
                break
            cand, _, _, cost_new, _ = trial
            if cost_new < cost:
                T_new = cand
                break
            if cost_new - cost <= 1e-10 * max(cost, 1e-12):
                break  # at the optimum of this set: the step changes round-off only
            lam *= 10
        if T_new is None:  # converged on this set, which is then the fixed point
            break
        small = cost - cost_new < 1e-10 * max(cost, 1e-12)
        T, prev = T_new, inl
        inl, err, ru_all, rv_all = _score(T, Xt, xt, finite, K, thr)
        if small and np.array_equal(inl, prev):
            break
    return T, inl, err


def _finish(cam_from_map, X, xu, finite, K, thr, refine, cov_in) -> PnPResult:
    map_from_cam = invert_pose(cam_from_map)
    Xt, xt = np.ascontiguousarray(X.T), np.ascontiguousarray(xu.T)
    if refine:
        map_from_cam, inl, err = _refine_inliers(map_from_cam, Xt, xt, finite, K, thr)
    else:
        inl, err, _, _ = _score(map_from_cam, Xt, xt, finite, K, thr)
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
