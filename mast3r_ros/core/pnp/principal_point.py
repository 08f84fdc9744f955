"""Does a pose's camera fit its principal point? The (dcx, dcy) its inliers imply.

A CameraInfo whose principal point is wrong passes every other check: PnP finds a pose turned
by about ``dcx / fx`` that fits the inliers nearly as well, and the focal fit (`pnp.focal`) does
not see it. On the redkitchen data (sift matcher, map depth) cx 40 px off left 47 of 50 frames
published 2.6 cm median and 10 cm max off (1.1 cm at the right K), recall 5cm_5deg 80 % (92 %).
A principal point offset is nearly a rotation, not quite one: a rotation moves a pixel by
``fx (1 + xn^2)`` per radian, the offset by a constant, and points at several depths tell it
from a turn with a translation. `refitted_principal_point` refits the pose, one scale on both
focal lengths and (dcx, dcy) jointly (scipy ``least_squares``, Levenberg-Marquardt, analytic
Jacobian) and returns them with their 1-sigma from the Jacobian. One frame's fit is weak (the
kitchen at the right K: 5-95 % of frames within -11..+7 px in cx, -15..+19 px in cy under a
median 1.4 / 3.2 px sigma); a run's frames together are clear (`core.principal_point_evidence`).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from ..geometry import invert_pose
from .linearise import _so3_exp

# a fit takes at most this many inliers, evenly spaced (the kitchen: the same run-level figures
# as 2000, ~2 ms a frame, mostly least_squares' own overhead)
MAX_POINTS = 500
# rounds of choosing the inliers again under the fitted K (as `pnp.focal.REFIT_ROUNDS`)
ROUNDS = 1
# fewest inliers for a fit of 9 parameters
MIN_POINTS = 12
# a fit not converged within this many evaluations is not judged (the kitchen: 5-10 a fit, 1
# of 300 frames ran to 50; scipy's default, 900, costs up to 150 ms on such a frame)
MAX_EVALUATIONS = 50


def _left_jacobian(w: np.ndarray) -> np.ndarray:
    """SO(3)'s left Jacobian: exp(w + d) = exp(J_l(w) d) exp(w) to first order."""
    th2 = float(w @ w)
    a, b, c = w.tolist()
    W = np.array(((0.0, -c, b), (c, 0.0, -a), (-b, a, 0.0)))
    if th2 < 1e-16:
        return np.eye(3) + 0.5 * W
    th = math.sqrt(th2)
    return np.eye(3) + (1 - math.cos(th)) / th2 * W + (th - math.sin(th)) / (th2 * th) * (W @ W)


def _residuals_and_jacobian(R0: np.ndarray, t0: np.ndarray, X: np.ndarray, xu: np.ndarray,
                            K: np.ndarray, p: np.ndarray, with_jac: bool
                            ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(2n,) residuals (u's then v's, pixels) of p = (w, dt, log s, dcx, dcy) with the camera
    point Xc = exp(w) (R0 X + t0) + dt, u = s fx x/z + cx + dcx; and (2n, 9) their Jacobian
    (exact: d Xc / d w = -[Y]x J_l(w), Y = Xc - dt; at w = 0 `pnp.focal._fit_rows`' rows plus
    the two offsets)."""
    fx, fy = K[0, 0], K[1, 1]
    Y = (X @ R0.T + t0) @ _so3_exp(p[:3]).T
    Xc = Y + p[3:6]
    iz = 1.0 / Xc[:, 2]
    xn, yn = Xc[:, 0] * iz, Xc[:, 1] * iz
    a, b = np.exp(p[6]) * fx, np.exp(p[6]) * fy
    r = np.concatenate([a * xn + (K[0, 2] + p[7]) - xu[:, 0],
                        b * yn + (K[1, 2] + p[8]) - xu[:, 1]])
    if not with_jac:
        return r, None
    n = len(xn)
    J = np.zeros((2 * n, 9))
    u0, u2 = a * iz, -a * xn * iz  # d u / d Xc = (u0, 0, u2), d v / d Xc = (0, v1, v2)
    v1, v2 = b * iz, -b * yn * iz
    Y0, Y1, Y2 = Y[:, 0], Y[:, 1], Y[:, 2]
    Jl = _left_jacobian(p[:3])
    # Y x (d u / d Xc) and Y x (d v / d Xc), times J_l
    J[:n, :3] = np.stack([Y1 * u2, Y2 * u0 - Y0 * u2, -Y1 * u0], axis=1) @ Jl
    J[n:, :3] = np.stack([Y1 * v2 - Y2 * v1, -Y0 * v2, Y0 * v1], axis=1) @ Jl
    J[:n, 3], J[:n, 5], J[n:, 4], J[n:, 5] = u0, u2, v1, v2
    J[:n, 6], J[n:, 6] = a * xn, b * yn
    J[:n, 7], J[n:, 8] = 1.0, 1.0
    return r, J


def refitted_principal_point(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray,
                             inliers: np.ndarray, K: np.ndarray, reproj_error_px: float,
                             max_points: int = MAX_POINTS, rounds: int = ROUNDS
                             ) -> Optional[Tuple[float, float, float, float]]:
    """(dcx, dcy, sigma dcx, sigma dcy), pixels: the offset on K's principal point that the
    ``inliers`` (N,) bool among ``X`` (N, 3) map points and ``xu`` (N, 2) undistorted pixels
    fit, refitted together with the pose (from ``map_from_cam``, 4x4) and a scale on both focal
    lengths; then ``rounds`` times the correspondences within ``reproj_error_px`` under the
    fitted K become the inliers and are refitted. At most ``max_points`` inliers a fit, evenly
    spaced. None when it cannot be judged: fewer than `MIN_POINTS` inliers, points behind the
    camera, no convergence within `MAX_EVALUATIONS`, a singular or non-finite covariance."""
    from scipy.optimize import least_squares  # here: --help and the node's start load none

    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    sel = np.asarray(inliers, bool)
    cfm = invert_pose(np.asarray(map_from_cam, np.float64))
    R, t = cfm[:3, :3].copy(), cfm[:3, 3].copy()
    q = np.zeros(3)  # log s, dcx, dcy
    for round_ in range(rounds + 1):
        idx = np.flatnonzero(sel)
        if len(idx) > max_points > 0:
            idx = idx[np.linspace(0, len(idx) - 1, max_points).round().astype(int)]
        Xi, xi = X[idx], xu[idx]
        if len(idx) < MIN_POINTS or not (Xi @ R.T + t)[:, 2].min() > 1e-9:
            return None

        def fun(p: np.ndarray, R0=R, t0=t, Xi=Xi, xi=xi) -> np.ndarray:
            return _residuals_and_jacobian(R0, t0, Xi, xi, K, p, False)[0]

        def jac(p: np.ndarray, R0=R, t0=t, Xi=Xi, xi=xi) -> np.ndarray:
            return _residuals_and_jacobian(R0, t0, Xi, xi, K, p, True)[1]

        with np.errstate(all="ignore"):
            sol = least_squares(fun, np.concatenate([np.zeros(6), q]), jac=jac, method="lm",
                                max_nfev=MAX_EVALUATIONS)
        p = sol.x
        if sol.status < 1 or not np.isfinite(p).all() or abs(p[6]) > 3.0:
            return None  # not converged, or diverged (degenerate geometry)
        dR = _so3_exp(p[:3])
        R, t, q = dR @ R, dR @ t + p[3:6], p[6:].copy()
        if round_ == rounds:
            break
        Kf = np.array(K, np.float64)
        Kf[:2, :2] *= np.exp(q[0])
        Kf[:2, 2] += q[1:]
        Xc = X @ R.T + t
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.hypot(Kf[0, 0] * Xc[:, 0] / Xc[:, 2] + Kf[0, 2] - xu[:, 0],
                         Kf[1, 1] * Xc[:, 1] / Xc[:, 2] + Kf[1, 2] - xu[:, 1])
        again = (d < reproj_error_px) & (Xc[:, 2] > 1e-9)
        if np.count_nonzero(again) < MIN_POINTS or np.array_equal(again, sel):
            break
        sel = again
    # the Jacobian at the solution (w = 0 about the refitted pose: the left one is exact)
    r, J = _residuals_and_jacobian(R, t, Xi, xi, K, np.concatenate([np.zeros(6), q]), True)
    try:
        cov = np.linalg.inv(J.T @ J) * (float(r @ r) / max(len(r) - 9, 1))
    except np.linalg.LinAlgError:
        return None
    with np.errstate(invalid="ignore"):  # a degenerate fit's negative variance: not judged
        sd = np.sqrt(np.diag(cov)[7:])
    if not np.isfinite(sd).all() or not np.isfinite(q).all():
        return None
    return float(q[1]), float(q[2]), float(sd[0]), float(sd[1])
