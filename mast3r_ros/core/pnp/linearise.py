"""Metric camera pose from 2-D/3-D correspondences: PnP-RANSAC, refinement and covariance.

`solve_pnp` runs a robust solver (poselib when installed, else OpenCV's USAC with MAGSAC++ scoring;
never plain RANSAC, which breaks down at the outlier rates learned matchers produce) on a random
subset of at most ``ransac_max_points`` correspondences, then refines the pose on *all* inliers at
the threshold by damped Gauss-Newton steps on the reprojection error alternating with re-scoring,
until the inlier set is stable, and returns a 6x6 covariance.

Solvers: poselib (V. Larsson et al., *PoseLib -- minimal solvers for camera pose estimation*,
github.com/PoseLib/PoseLib; LO-RANSAC around the P3P solver Lambda Twist, Persson & Nordberg,
ECCV 2018), OpenCV ``solvePnPRansac`` with ``USAC_MAGSAC`` (MAGSAC++, Barath, Noskova,
Ivashechkin & Matas, CVPR 2020); refinement by Levenberg-Marquardt / damped Gauss-Newton
(Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., App. 6).

Cost (issue 9: the host part of a frame must fit in a few ms beside the GPU): every per-point
quantity is computed on coordinate rows ((3, N) / (8, N) arrays, contiguous along N), every sum
over points is a (8, n) x (n, k) product; no per-point small matrices, no Python loop over points.
In `solve_pnp` one projection of all correspondences per trial pose serves as the trial's cost,
the re-scoring and the next linearisation, whose Jacobian rows are combinations of eight
camera-frame rows (`_Rows`); the covariance reuses the last of them, and its keyframe-pose term
needs only each keyframe's share of the normal matrix (`_covariance_f`).

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
   ``(sum |r_i|^2 - sum tr(J_X,i Sigma_X,i J_X,i^T)) / (2n - 6)`` -- a one-component
   variance-component estimate (Foerstner & Wrobel, *Photogrammetric Computer Vision*, 2016,
   ch. 4) -- or given; either way floored at an ad-hoc (1/12 px)^2 = 1/144 px^2 (sigma of
   0.083 px, not the 1/12 px^2 variance of pixel quantisation) so that a perfect fit does not
   claim infinite certainty;
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
from typing import Any, Optional, Tuple

import numpy as np

from ..errors import ConfigError, InputError
from ..geometry import invert_pose, make_pose, undistort_pixels
from ..types import CameraIntrinsics, check_point_rows

log = logging.getLogger(__name__)

MIN_POINTS = 6
# RANSAC hypothesises on at most this many correspondences (`solve_pnp`; `PnPConfig`)
RANSAC_MAX_POINTS = 512
# at most this many refine/re-score steps (`_refine_inliers`)
REFINE_MAX_STEPS = 20
# poselib's RANSAC draws at least this many samples (its adaptive count, x3, decides above it:
# ~115 at 40 % outliers). 100 before issue 9's host work; 50 saves ~0.4 ms at <= 25 % outliers
# and gave the same inliers after refinement on 180 of 180 fabricated MASt3R-like frames.
RANSAC_MIN_ITERATIONS = 50

try:  # optional dependency: measured 2-4x more accurate than OpenCV's solvers on our data
    import poselib as _poselib
except ImportError:  # pragma: no cover - depends on the environment
    _poselib = None


def poselib_available() -> bool:
    """True when poselib imports (pnp.backend 'auto' then uses it)."""
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
        """Number of inlier correspondences (True entries of ``inliers``)."""
        return int(np.count_nonzero(self.inliers))


def resolve_backend(backend: str) -> str:
    """'auto' -> 'poselib' when installed else 'opencv'. Raises ConfigError for 'poselib'
    without poselib installed or a name other than auto, poselib and opencv."""
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
              "min_iterations": min(RANSAC_MIN_ITERATIONS, int(iters)), "success_prob": float(conf),
              "seed": int(seed)}
    # no final bundle adjustment of the subset's inliers (poselib's default: up to 100 LM
    # iterations, ~0.5 ms): `_refine_inliers` refines on all matches right after, from the
    # locally optimised RANSAC pose. Measured on 200 fabricated MASt3R-like frames: the same
    # pose errors (mean 0.968 vs 0.969 mm); the refinement lands on another neighbouring fixed
    # point in 5-10 % of the frames, where drawing another RANSAC subset does so in 30-45 %.
    pose, info = _poselib.estimate_absolute_pose(x, X, cam, ransac, {"max_iterations": 0})
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
    """Residuals (N, 2) = projection - observation in pixels, and camera-frame z (N,) (metres).

    ``cam_from_map`` 4x4; ``X`` (N, 3) map-frame points (metres); ``x`` (N, 2) undistorted
    pixels; ``K`` 3x3 pinhole matrix (pixels). Points with z <= 0 are not masked (check z).
    """
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
    """Levenberg-Marquardt on the squared reprojection error of (N, 3) map points (metres) vs
    (N, 2) undistorted pixels, ``K`` 3x3 (pixels), perturbing the 4x4 ``map_from_cam`` as in the
    module docstring; returns the refined ``map_from_cam`` (never worse than the input).

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
    """d residual / d X (map-frame point) for each point: (N, 2, 3), pixels per metre.

    ``map_from_cam`` 4x4, ``X`` (N, 3) map-frame points (metres), ``K`` 3x3 (pixels)."""
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
    ``points_cov`` (N, 3, 3) symmetric map-frame point covariances (m^2; None or NaN rows =
    exact points); ``groups`` (N,) int keyframe of each point, an index into ``group_centres``
    (G, 3), the keyframe camera centres in the map frame (the keyframe-pose term needs both).
    Returns None when the geometry is degenerate (singular normal matrix).

    Vectorised over the points: every per-point 2x2/6x6 product of the formulas is expanded
    into (N,)-columns, and each sum over points is a product with the (8, N) rows of
    `_covariance_f`, so the cost is a few passes over the inliers (no per-point matrices, no
    loop but over keyframes).
    """
    n = len(X)
    if n < 4:
        return None
    Xt = np.ascontiguousarray(np.asarray(X, np.float64).T)
    xt = np.ascontiguousarray(np.asarray(x, np.float64).T)
    rows = _Rows(Xt, xt, K, np.ones(n, bool), np.inf)
    F, r = rows.jacobian_rows(rows.evaluate(map_from_cam), np.ones(n, bool))
    return _covariance_f(map_from_cam, rows, F, r, points_cov, groups, group_centres, model)


def _covariance_f(map_from_cam: np.ndarray, rows: _Rows, F: np.ndarray, r: np.ndarray,
                  points_cov, groups, group_centres,
                  model: UncertaintyModel) -> Optional[np.ndarray]:
    """`pose_covariance` from the rows ``F`` (8, n) and residuals ``r`` (2, n) of the inliers
    at the pose (`_Rows.jacobian_rows`; `solve_pnp` passes those of its last evaluation, so
    nothing is computed twice). Every sum over points is a product with ``F``:
    ``J_u = L_u F``, ``J_v = L_v F`` (`_Rows`), so ``H = L_u F F^T L_u^T + L_v F F^T L_v^T``
    and the point-covariance sums are ``L (F diag(p) F^T) L^T``.

    The keyframe-pose term needs no more than the keyframe's share of ``H``: with
    ``J_i = JX_i [-I, [v_i]_x]`` (``v_i = X_i - c``, `_linearise`) and ``d_i = X_i - c_k =
    v_i + e_k``, ``e_k = c - c_k``, the sum of the module docstring is
    ``sum_{i in k} J_i^T JX_i [I, -[d_i]_x] = -H_k + [0 | H_k[:, :3] [e_k]_x]`` with
    ``H_k = sum_{i in k} J_i^T J_i`` (an exact identity: no per-point work beyond ``H_k``).
    """
    n = F.shape[1]
    R = map_from_cam[:3, :3]
    Lu, Lv = rows.basis(R)
    Gf = F @ F.T
    H = Lu @ Gf @ Lu.T + Lv @ Gf @ Lv.T
    # singular H (e.g. matches on fewer than three distinct points): inv() raises only on an
    # exact zero pivot, and otherwise returns round-off -- a 'covariance' with negative
    # variances. Judge the rank on the Jacobi-scaled H (px^2/m^2 beside px^2/rad^2): a 10 cm
    # patch at 10 m still scores ~1e-6, a rank-deficient H ~1e-16.
    dH = np.diag(H)
    if not (np.isfinite(H).all() and (dH > 0).all()):
        return None
    s = 1.0 / np.sqrt(dH)
    e = np.linalg.eigvalsh(H * s[:, None] * s[None, :])
    if e[0] <= 1e-12 * e[-1]:
        return None
    try:
        Hi = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    ru, rv = r[0], r[1]
    # the 3-D points' covariances projected into the query image, P_i = JX_i S_i JX_i^T, as the
    # rows of its symmetric 2x2 entries (puu, puv; puv, pvv); JX_i's rows are wu_i, wv_i
    puu = puv = pvv = None
    if points_cov is not None:
        # with wu = fx iz (R_0 - xn R_2), wv = fy iz (R_1 - yn R_2) (`_linearise`), the entries
        # are quadratic forms of the point covariance in camera axes, c_ab = R_a^T S_i R_b:
        # puu = fx^2 iz^2 (c00 - 2 xn c02 + xn^2 c22), pvv likewise, and
        # puv = fx fy iz^2 (c01 - yn c02 - xn c12 + xn yn c22); the six c_ab rows of all points
        # are one (6, 9) x (9, n) product
        S9 = np.asarray(points_cov, dtype=np.float64).reshape(n, 9)
        if np.isnan(S9).any():
            S9 = np.where(np.isnan(S9), 0.0, S9)
        Mc = np.stack([np.outer(R[:, a], R[:, b]).ravel()
                       for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))])
        c00, c11, c22, c01, c02, c12 = Mc @ S9.T
        iz, xn, yn = F[0], F[6], F[7]
        iz2 = iz * iz
        puu = (c00 - 2.0 * xn * c02 + xn * xn * c22) * (rows.fx * rows.fx * iz2)
        pvv = (c11 - 2.0 * yn * c12 + yn * yn * c22) * (rows.fy * rows.fy * iz2)
        puv = (c01 - yn * c02 - xn * c12 + F[3] * c22) * (rows.fx * rows.fy * iz2)
    dof = max(2 * n - 6, 1)
    if model.pixel_sigma_px is None:  # the query pixel noise is what the 3-D part leaves over
        tr = 0.0 if puu is None else float(puu.sum() + pvv.sum())
        sig2 = (float(np.vdot(r, r)) - tr) / dof
    else:
        sig2 = float(model.pixel_sigma_px) ** 2
    # a perfect fit would claim infinite certainty: floor sigma at an ad-hoc 1/12 px (variance
    # 1/144 px^2; the module docstring)
    sig2 = max(sig2, 1.0 / 12.0 ** 2)
    # A_i = sig2 I + P_i:  sum_i J_i^T A_i J_i = sig2 H + the sums over P's entries
    M = sig2 * H
    if puu is not None:
        Fp = np.empty((24, n))  # F diag(p) F^T for the three entries: one (24, n) x (n, 8)
        np.multiply(F, puu, out=Fp[:8])
        np.multiply(F, puv, out=Fp[8:16])
        np.multiply(F, pvv, out=Fp[16:])
        Gp = Fp @ F.T
        cross = Lu @ Gp[8:16] @ Lv.T
        M = M + Lu @ Gp[:8] @ Lu.T + Lv @ Gp[16:] @ Lv.T + cross + cross.T
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
        if np.any(g[1:] < g[:-1]):  # group the points (the localizer passes them grouped)
            o = np.argsort(g, kind="stable")
            g, F = g[o], F[:, o]
        ks, starts = np.unique(g, return_index=True)
        c = map_from_cam[:3, 3]
        for k, i0, i1 in zip(ks, starts, np.append(starts[1:], n)):
            if len(ks) == 1:
                Hk = H
            else:
                Fk = F[:, int(i0):int(i1)]
                Gk = Fk @ Fk.T
                Hk = Lu @ Gk @ Lu.T + Lv @ Gk @ Lv.T
            B = -Hk
            B[:, 3:] += Hk[:, :3] @ _skew(c - centres[k])  # the docstring's identity
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
    reason. ``reproj_error_px`` (the inlier threshold) and the result's ``reproj_rms_px`` are in
    undistorted pixels; ``confidence`` is RANSAC's success probability, in (0, 1).

    ``X`` and ``x`` may also come in OpenCV's (N, 1, 3) / (N, 1, 2) layouts (`check_point_rows`).
    Raises `InputError` for ``X`` not (N, 3) or ``x`` not (N, 2) (never reshaped), lengths
    that differ, ``intrinsics`` not a `CameraIntrinsics`, ``points_cov`` not (N, 3, 3),
    ``groups`` not (N,) integers indexing the (G, 3) ``group_centres``; `ConfigError` for
    ``reproj_error_px`` <= 0, ``confidence`` outside (0, 1), ``max_iterations`` < 1,
    ``ransac_max_points`` < 0, an unknown backend or 'poselib' not installed
    (`resolve_backend`); ``ImportError`` (no OpenCV) from undistorting the pixels of a
    distorted camera.
    """
    X = np.ascontiguousarray(check_point_rows(X, 3, "solve_pnp: X (map points)"))
    x = check_point_rows(x, 2, "solve_pnp: x (query pixels)")
    if len(X) != len(x):
        raise InputError(f"solve_pnp: {len(X)} 3-D points but {len(x)} 2-D points")
    _check_solver_args(len(X), intrinsics, reproj_error_px, confidence, max_iterations,
                       ransac_max_points, points_cov, groups, group_centres)
    n = len(X)
    inliers = np.zeros(n, dtype=bool)
    if np.isfinite(X).all() and np.isfinite(x).all():  # the common case, 20x cheaper
        finite = np.ones(n, dtype=bool)
    else:
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


def _check_solver_args(n: int, intrinsics: Any, thr: float, confidence: float, iters: int,
                       max_points: int, points_cov: Any, groups: Any, centres: Any) -> None:
    """`solve_pnp`'s argument checks (its docstring's Raises)."""
    if not isinstance(intrinsics, CameraIntrinsics):
        raise InputError(f"solve_pnp: intrinsics must be a CameraIntrinsics(width, height, K, "
                         f"dist), got {type(intrinsics).__name__}")
    def whole(v: Any, lo: int) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo

    for name, ok in (("reproj_error_px > 0", thr > 0 and np.isfinite(thr)),
                     ("0 < confidence < 1", 0 < confidence < 1),
                     ("max_iterations an int >= 1", whole(iters, 1)),
                     ("ransac_max_points an int >= 0", whole(max_points, 0))):
        if not ok:
            raise ConfigError(f"solve_pnp: needs {name}, got reproj_error_px={thr}, "
                              f"confidence={confidence}, max_iterations={iters}, "
                              f"ransac_max_points={max_points}")
    if points_cov is not None and np.shape(points_cov) != (n, 3, 3):
        raise InputError(f"solve_pnp: points_cov must be ({n}, 3, 3) (one 3x3 covariance per "
                         f"point), got shape {np.shape(points_cov)}")
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (n,) or (n and g.dtype.kind not in "iu"):
            raise InputError(f"solve_pnp: groups must be ({n},) integers (each point's "
                             f"keyframe), got {g.dtype} {g.shape}")
        if centres is None:
            return
        count = len(check_point_rows(centres, 3, "solve_pnp: group_centres"))
        if n and (g.min() < 0 or g.max() >= count):
            raise InputError(f"solve_pnp: groups index {count} group_centres, got values "
                             f"{int(g.min())}..{int(g.max())}")


def _selection(entries) -> np.ndarray:
    """A (6, 8) matrix of +-1 at the (row, column, sign) ``entries``, zero elsewhere."""
    S = np.zeros((6, 8))
    for r, c, v in entries:
        S[r, c] = v
    return S


class _Rows:
    """The per-correspondence quantities of `solve_pnp`'s refinement, as coordinate rows over
    all N correspondences (contiguous (N,) arrays; one evaluation is a few vectorised passes).

    Built once per frame from the map points ``Xt`` (3, N) and the undistorted pixels ``xt``
    (2, N); `evaluate` projects at a pose and returns, per correspondence, the camera-frame
    depth ``z``, ``iz = 1/z``, the normalised image coordinates ``xn = p_x/z``, ``yn = p_y/z``
    and the pixel residuals ``ru = fx xn - (x - cx)``, ``rv = fy yn - (y - cy)`` (projection
    minus observation, as `reprojection_residuals`).

    The derivatives follow from these alone (`jacobian_rows`): with ``p = R^T (X - c)`` and
    the perturbation of the module docstring, ``d u / d (dc, dtheta) = Rb (-a_u, a_u x p)``,
    ``Rb = diag(R, R)``, ``a_u = fx iz (1, 0, -xn)`` (`_linearise`), and ``a_u x p = fx (xn yn,
    -(1 + xn^2), yn)``; the same for v with ``a_v = fy iz (0, 1, -yn)``, ``a_v x p = fy (1 +
    yn^2, -xn yn, -xn)``. Hence every Jacobian row is a fixed combination of the eight rows
    ``F = (iz, xn iz, yn iz, xn yn, 1 + xn^2, 1 + yn^2, xn, yn)``: ``J_u = fx Rb S_u F``,
    ``J_v = fy Rb S_v F`` with the constant selection matrices ``S_u``, ``S_v``, and the normal
    equations are ``Rb (fx^2 S_u G S_u^T + fy^2 S_v G S_v^T) Rb^T``, ``G = F F^T`` (8 x 8): one
    (8, n) x (n, 8) product per linearisation.
    """

    # J_u = fx Rb S_u F, J_v = fy Rb S_v F (class docstring); F's rows:
    # 0 iz, 1 xn iz, 2 yn iz, 3 xn yn, 4 1 + xn^2, 5 1 + yn^2, 6 xn, 7 yn
    S_U = _selection(((0, 0, -1), (2, 1, 1), (3, 3, 1), (4, 4, -1), (5, 7, 1)))
    S_V = _selection(((1, 0, -1), (2, 2, 1), (3, 5, 1), (4, 3, -1), (5, 6, -1)))

    def __init__(self, Xt: np.ndarray, xt: np.ndarray, K: np.ndarray, finite: np.ndarray,
                 thr: float):
        self.Xt = Xt
        self.fx, self.fy = float(K[0, 0]), float(K[1, 1])
        self.u0 = xt[0] - K[0, 2]
        self.v0 = xt[1] - K[1, 2]
        self.finite = None if finite.all() else finite
        self.thr2 = float(thr) ** 2
        self._F = np.empty((8, Xt.shape[1]))

    def evaluate(self, map_from_cam: np.ndarray):
        """(z, iz, xn, yn, ru, rv), each (N,), at the pose ``map_from_cam``."""
        Rt = map_from_cam[:3, :3].T
        p = Rt @ self.Xt
        p -= (Rt @ map_from_cam[:3, 3])[:, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            iz = 1.0 / p[2]
            xn = p[0] * iz
            yn = p[1] * iz
            ru = self.fx * xn
            ru -= self.u0
            rv = self.fy * yn
            rv -= self.v0
        return p[2], iz, xn, yn, ru, rv

    def inliers(self, ev) -> Tuple[np.ndarray, np.ndarray]:
        """(inliers (N,) bool: finite, in front of the camera and within the threshold; the
        squared reprojection error (N,))."""
        z, _, _, _, ru, rv = ev
        with np.errstate(invalid="ignore", over="ignore"):
            e2 = ru * ru
            e2 += rv * rv
            inl = e2 <= self.thr2
            inl &= z > 0
        if self.finite is not None:
            inl &= self.finite
        return inl, e2

    def jacobian_rows(self, ev, inl: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(F (8, n), r (2, n)): the rows F (class docstring) and the residuals (ru, rv) of the
        inliers ``inl``."""
        _, iz, xn, yn, ru, rv = ev
        n = int(np.count_nonzero(inl))
        F = self._F[:, :n]
        np.compress(inl, iz, out=F[0])
        np.compress(inl, xn, out=F[6])
        np.compress(inl, yn, out=F[7])
        np.multiply(F[6], F[0], out=F[1])
        np.multiply(F[7], F[0], out=F[2])
        np.multiply(F[6], F[7], out=F[3])
        np.multiply(F[6], F[6], out=F[4])
        F[4] += 1.0
        np.multiply(F[7], F[7], out=F[5])
        F[5] += 1.0
        r = np.empty((2, n))
        np.compress(inl, ru, out=r[0])
        np.compress(inl, rv, out=r[1])
        return F, r

    def basis(self, R: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(L_u, L_v), each (6, 8): ``J_u = L_u F``, ``J_v = L_v F`` at the rotation ``R``."""
        Rb = np.zeros((6, 6))
        Rb[:3, :3] = Rb[3:, 3:] = R
        return (self.fx * Rb) @ self.S_U, (self.fy * Rb) @ self.S_V

    def normal_equations(self, R: np.ndarray, F: np.ndarray, r: np.ndarray):
        """(A, g): ``J^T J`` (6, 6) and ``J^T r`` (6,) in the map-frame perturbation."""
        Lu, Lv = self.basis(R)
        G = F @ F.T
        C = F @ r.T  # (8, 2)
        return Lu @ G @ Lu.T + Lv @ G @ Lv.T, Lu @ C[:, 0] + Lv @ C[:, 1]



def _refine_inliers(map_from_cam, rows: _Rows, max_steps: int = REFINE_MAX_STEPS):
    """Least squares on the inliers *and* the inlier set at once: each step is one damped
    Gauss-Newton step on the current inliers followed by re-scoring all correspondences at
    the threshold; it ends when the set no longer changes and the step no longer lowers the
    cost (a fixed point: the pose is the least-squares pose of exactly the points within the
    threshold of it), or after ``max_steps``. Returns (map_from_cam, inliers (N,) bool,
    squared error (N,), the `_Rows.evaluate` tuple at the returned pose, the
    `_Rows.jacobian_rows` of its inliers when the last linearisation was there, else None).
    A step is not tried when the Gauss-Newton model predicts it would lower the cost by less
    than the 1e-10 relative tolerance: the pose is then this set's optimum already.

    Alternating single steps with re-scoring reaches that fixed point in a handful of
    linearisations, where converging on one set, re-scoring and converging again costs
    three or more per set -- and stopping after two such rounds left the result dependent on
    the RANSAC pose it started from (measured: the subset RANSAC of ``ransac_max_points``
    then gave 1.3x larger pose errors; at the fixed point they equal RANSAC on all points).

    Cost (issue 9): one projection of all N correspondences per trial pose serves as the
    trial's cost on the current inliers, as the re-scoring and as the next linearisation
    (`_Rows`), so an accepted step costs one pass over N plus an (8, n) x (n, 8) product.
    """
    T = map_from_cam
    ev = rows.evaluate(T)
    inl, e2 = rows.inliers(ev)
    Fr = None
    for _ in range(max_steps):
        n_in = int(np.count_nonzero(inl))
        if n_in < MIN_POINTS:
            break
        Fr = F, r = rows.jacobian_rows(ev, inl)
        cost = float(np.vdot(r, r))
        tol = 1e-10 * max(cost, 1e-12)
        A, g = rows.normal_equations(T[:3, :3], F, r)
        w = inl.astype(np.float64)
        lam, accepted = 1e-6, None
        while lam < 1e3:
            try:
                delta = -np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), g)
            except np.linalg.LinAlgError:
                break
            if lam == 1e-6 and -(2.0 * (g @ delta) + delta @ A @ delta) <= tol:
                break  # the step would change round-off only: T is this set's optimum
            cand = _perturb(T, delta)
            ev_new = rows.evaluate(cand)
            inl_new, e2_new = rows.inliers(ev_new)
            # the trial's cost on the current inliers; inf when one falls behind the camera
            z = ev_new[0]
            if z.min() > 0 or not np.any((z <= 0) & inl):
                cost_new = float(e2_new @ w)
                if not np.isfinite(cost_new):  # a non-finite point outside the set
                    cost_new = float(np.sum(e2_new[inl]))
            else:
                cost_new = np.inf
            if cost_new < cost:
                accepted = cand
                break
            if cost_new - cost <= tol:
                break  # at the optimum of this set: the step changes round-off only
            lam *= 10
        if accepted is None:  # converged on this set, which is then the fixed point
            break
        small = cost - cost_new < tol
        T, ev, prev, Fr = accepted, ev_new, inl, None
        inl, e2 = inl_new, e2_new
        if small and np.array_equal(inl, prev):
            break
    return T, inl, e2, ev, Fr


def _finish(cam_from_map, X, xu, finite, K, thr, refine, cov_in) -> PnPResult:
    map_from_cam = invert_pose(cam_from_map)
    Xt, xt = np.ascontiguousarray(X.T), np.ascontiguousarray(xu.T)
    rows = _Rows(Xt, xt, K, finite, thr)
    if refine:
        map_from_cam, inl, _, ev, Fr = _refine_inliers(map_from_cam, rows)
    else:
        ev, Fr = rows.evaluate(map_from_cam), None
        inl, _ = rows.inliers(ev)
    n_in = int(np.count_nonzero(inl))
    if n_in < MIN_POINTS:
        return PnPResult(False, None, inl, reason=f"too few PnP inliers ({n_in})")
    F, r = rows.jacobian_rows(ev, inl) if Fr is None else Fr
    rms = float(np.sqrt(np.vdot(r, r) / n_in))
    points_cov, groups, centres, model = cov_in
    cov = _covariance_f(map_from_cam, rows, F, r,
                        None if points_cov is None else np.asarray(points_cov)[inl],
                        None if groups is None else np.asarray(groups)[inl], centres, model)
    if cov is None:
        return PnPResult(False, None, inl, rms,
                         reason="degenerate geometry: pose covariance is singular")
    return PnPResult(True, map_from_cam, inl, rms, cov)
