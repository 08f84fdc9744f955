"""The 6x6 pose covariance: the model of the package docstring (`core.pnp`), first order.

`UncertaintyModel` holds the model's parameters. `pose_covariance` computes the covariance of a
pose from its inlier correspondences; `_covariance_f` from the `linearise._Rows` rows of the
inliers that `solve_pnp` already has (`_regular_inverse` inverts the normal matrix unless it is
singular, `_projected_point_cov` projects the 3-D points' covariances into the query image).

"The module docstring" in the docstrings below is the package's (`core.pnp`): the
perturbation ``R' = exp([dtheta]_x) R``, ``c' = c + dc`` and the covariance model.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from .linearise import _checked_point_extras, _checked_rows, _Rows


@dataclasses.dataclass(frozen=True)
class UncertaintyModel:
    """Parameters of the covariance model (module docstring); `config.CovarianceConfig` holds
    them with their justification. ``pixel_sigma_px`` query keypoint noise (pixels, 1 sigma per
    axis), None = estimated per frame from the residuals; ``map_pose_sigma_m`` /
    ``map_pose_sigma_rad`` the keyframe pose error (1 sigma per axis, metres / radians);
    ``variance_factor`` (with a given ``pixel_sigma_px``) inflates by the residuals when they are
    larger than modelled; ``view_angle_sigma_ratio`` the view-angle term (`_view_angle_cov`,
    radians of pose rotation, 1 sigma, per radian of viewing-angle difference; 0 = off);
    ``model_selection_draws`` the number of bootstrap re-runs of RANSAC whose spread
    `solve.solve_pnp` adds (`model_selection.model_selection_cov`; 0 = off; `pose_covariance`
    alone never re-runs RANSAC), on the frames whose inliers' depth band
    (`model_selection.depth_band`) is below ``model_selection_depth_band`` (1 = every frame;
    the localizer's ``covariance.*`` default 0.125)."""

    pixel_sigma_px: Optional[float] = None
    map_pose_sigma_m: float = 0.0
    map_pose_sigma_rad: float = 0.0
    variance_factor: bool = True
    view_angle_sigma_ratio: float = 0.0
    model_selection_draws: int = 0
    model_selection_depth_band: float = 1.0


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

    ``map_from_cam`` 4x4 (camera optical frame -> map, metres); ``X`` (N, 3) map points
    (metres), ``x`` (N, 2) undistorted query pixels (OpenCV's (N, 1, C) layouts accepted,
    `check_point_rows`), ``K`` 3x3 pixels; ``points_cov`` (N, 3, 3) symmetric map-frame point
    covariances (m^2; None or NaN rows = exact points); ``groups`` (N,) int keyframe of each
    point, an index into ``group_centres`` (G, 3), the keyframe camera centres in the map frame
    (the keyframe-pose term needs both; ``groups`` alone adds nothing). Returns the 6x6 float64
    covariance, or None for fewer than 4 points or degenerate geometry (singular normal
    matrix). Raises `InputError` for ``map_from_cam`` not 4x4, ``X`` not (N, 3), ``x`` not
    (N, 2) or of another length, ``K`` not 3x3, ``points_cov`` not (N, 3, 3), ``groups`` not
    (N,) integers or, with ``group_centres``, not indices into its (G, 3) rows.

    Vectorised over the points: every per-point 2x2/6x6 product of the formulas is expanded
    into (N,)-columns, and each sum over points is a product with the (8, N) rows of
    `_covariance_f`, so the cost is a few passes over the inliers (no per-point matrices, no
    loop but over keyframes).
    """
    X, x = _checked_rows("pose_covariance", "map_from_cam", map_from_cam, X, x, K)
    _checked_point_extras("pose_covariance", len(X), points_cov, groups, group_centres)
    map_from_cam, K = np.asarray(map_from_cam, np.float64), np.asarray(K, np.float64)
    n = len(X)
    if n < 4:
        return None
    Xt = np.ascontiguousarray(X.T)
    xt = np.ascontiguousarray(x.T)
    rows = _Rows(Xt, xt, K, np.ones(n, bool), np.inf)
    F, r = rows.jacobian_rows(rows.evaluate(map_from_cam), np.ones(n, bool))
    return _covariance_f(map_from_cam, rows, F, r, points_cov, groups, group_centres, model)


def _regular_inverse(H: np.ndarray) -> Optional[np.ndarray]:
    """``H^-1`` of the 6x6 normal matrix, None when it is singular or not finite
    (`_covariance_f`)."""
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
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None


# the column pairs (a, b) of R in the six c_ab rows of `_projected_point_cov`
_PAIR_A = np.array([0, 1, 2, 0, 0, 1])
_PAIR_B = np.array([0, 1, 2, 1, 2, 2])


def _projected_point_cov(R: np.ndarray, rows: _Rows, F: np.ndarray,
                         points_cov) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(puu, puv, pvv), each (n,): the entries of ``P_i = JX_i S_i JX_i^T`` (`_covariance_f`)
    from the (n, 3, 3) ``points_cov`` (NaN entries count as 0) at the rotation ``R`` of
    ``map_from_cam`` and the rows ``F`` (8, n) of the inliers."""
    n = F.shape[1]
    # with wu = fx iz (R_0 - xn R_2), wv = fy iz (R_1 - yn R_2) (`_linearise`), the entries
    # are quadratic forms of the point covariance in camera axes, c_ab = R_a^T S_i R_b:
    # puu = fx^2 iz^2 (c00 - 2 xn c02 + xn^2 c22), pvv likewise, and
    # puv = fx fy iz^2 (c01 - yn c02 - xn c12 + xn yn c22); the six c_ab rows of all points
    # are one (6, 9) x (9, n) product
    S9 = np.asarray(points_cov, dtype=np.float64).reshape(n, 9)
    if np.isnan(S9).any():
        S9 = np.where(np.isnan(S9), 0.0, S9)
    Mc = (R[:, _PAIR_A].T[:, :, None] * R[:, _PAIR_B].T[:, None, :]).reshape(6, 9)
    c00, c11, c22, c01, c02, c12 = Mc @ S9.T
    iz, xn, yn = F[0], F[6], F[7]
    iz2 = iz * iz
    puu = (c00 - 2.0 * xn * c02 + xn * xn * c22) * (rows.fx * rows.fx * iz2)
    pvv = (c11 - 2.0 * yn * c12 + yn * yn * c22) * (rows.fy * rows.fy * iz2)
    puv = (c01 - yn * c02 - xn * c12 + F[3] * c22) * (rows.fx * rows.fy * iz2)
    return puu, puv, pvv


def _covariance_f(map_from_cam: np.ndarray, rows: _Rows, F: np.ndarray, r: np.ndarray,
                  points_cov, groups, group_centres, model: UncertaintyModel,
                  H: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """`pose_covariance` from the rows ``F`` (8, n) and residuals ``r`` (2, n) of the inliers
    at the pose (`_Rows.jacobian_rows`; `solve_pnp` passes those of its last evaluation, so
    nothing is computed twice; ``H``, when given, is their ``J^T J`` as `_Rows.normal_equations`
    computed it at this pose: the same expression, not computed again). Every sum over points
    is a product with ``F``:
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
    if H is None:
        Gf = F @ F.T
        H = Lu @ Gf @ Lu.T + Lv @ Gf @ Lv.T
    Hi = _regular_inverse(H)
    if Hi is None:
        return None
    ru, rv = r[0], r[1]
    # the 3-D points' covariances projected into the query image, P_i = JX_i S_i JX_i^T, as the
    # rows of its symmetric 2x2 entries (puu, puv; puv, pvv); JX_i's rows are wu_i, wv_i
    puu = puv = pvv = None
    if points_cov is not None:
        puu, puv, pvv = _projected_point_cov(R, rows, F, points_cov)
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
    if groups is not None and group_centres is not None and model.view_angle_sigma_ratio > 0:
        cov = cov + _view_angle_cov(map_from_cam, F, groups, group_centres,
                                    float(model.view_angle_sigma_ratio))
    sk_t, sk_r = float(model.map_pose_sigma_m), float(model.map_pose_sigma_rad)
    if groups is not None and group_centres is not None and (sk_t > 0 or sk_r > 0):
        g = np.asarray(groups).reshape(-1)
        centres = np.asarray(group_centres, dtype=np.float64).reshape(-1, 3)
        s_kf = np.array([sk_t ** 2] * 3 + [sk_r ** 2] * 3)
        if np.any(g[1:] < g[:-1]):  # group the points (the localizer passes them grouped)
            o = np.argsort(g, kind="stable")
            g, F = g[o], F[:, o]
        # the groups' first indices in the sorted g (np.unique's, without its sort)
        starts = np.concatenate([[0], np.flatnonzero(g[1:] != g[:-1]) + 1])
        ks = g[starts]
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


def _view_angle_cov(map_from_cam: np.ndarray, F: np.ndarray, groups, group_centres,
                    ratio: float) -> np.ndarray:
    """The view-angle term of the covariance (6x6, the module docstring's convention): the
    pose error that grows with the angle between the query's and its keyframes' views of the
    inliers, and with their depth.

    Each inlier i is seen by the query along ``p_i`` (camera frame, from the rows ``F`` (8, n):
    ``p_i = (xn, yn, 1) / iz``) and by its keyframe ``groups[i]`` along ``p_i + R^T (c -
    c_k)``; ``theta`` is the mean angle between the two rays (radians). A 3-D point error that
    the per-point model leaves out and that the points of a keyframe share (depth registered
    to the colour image a little off, surfaces measured with a bias) cancels where the query
    sees the points as the keyframe did, and shows the more the two views differ; it grows
    with the points' distance. Across the query's line of sight the pose absorbs it along its
    least constrained direction, a rotation about the scene it sees (the rotation/translation
    ambiguity of a narrow field of view), so the residuals stay small; along the line of sight
    it moves the camera toward or away from the scene. With ``b`` (unit, map frame) the line
    of sight to the inliers' centroid at distance ``d`` (metres) and ``s = ratio * theta``:
    a rotation ``delta ~ N(0, s^2)`` about each axis ``a`` across ``b``, pivoting at the
    centroid, moves the centre by ``d [b]_x a``; a shift ``N(0, (s d)^2)`` along ``b`` adds to
    it. Hence ``Sigma_cc = s^2 d^2 I`` (a position sigma of ``ratio * theta * d`` in every
    direction), ``Sigma_c,theta = s^2 d [b]_x``, ``Sigma_theta,theta = s^2 (I - b b^T)`` (no
    rotation about the line of sight). Zero when every keyframe sees the points from the
    query's own centre (``theta = 0``) or when ``ratio`` is 0. ``groups`` (n,) indexes
    ``group_centres`` (G, 3), the keyframe centres in the map frame (metres)."""
    R, c = map_from_cam[:3, :3], map_from_cam[:3, 3]
    iz = F[0]
    p = np.stack([F[6] / iz, F[7] / iz, 1.0 / iz])  # (3, n) the inliers in the query camera
    e = R.T @ (c[None, :] - np.asarray(group_centres, np.float64).reshape(-1, 3)).T  # (3, G)
    q = p + e[:, np.asarray(groups).reshape(-1)]  # the keyframes' rays, query camera axes
    cross = np.linalg.norm(np.cross(p, q, axis=0), axis=0)
    theta = float(np.mean(np.arctan2(cross, np.einsum("ij,ij->j", p, q))))
    centroid = R @ p.mean(axis=1)
    d = float(np.linalg.norm(centroid))
    if not (theta > 0 and d > 0):
        return np.zeros((6, 6))
    b = centroid / d
    s2 = (ratio * theta) ** 2
    across = np.eye(3) - np.outer(b, b)
    out = np.empty((6, 6))
    out[:3, :3] = s2 * d * d * np.eye(3)
    out[:3, 3:] = s2 * d * _skew(b)
    out[3:, :3] = out[:3, 3:].T
    out[3:, 3:] = s2 * across
    return out
