"""Does a pose's camera fit its lens distortion? The residual radial k1 its inliers imply.

A distortion that is wrong passes every other check. Rectified images (``image_rect``) given
with the raw camera's D are undistorted a second time, and distorted images given with D zero
are not undistorted at all; either way the pixels the solvers see (``xu``, the distortion the
camera states removed) still carry a radial distortion, and PnP finds a pose (and the focal
fit, `pnp.focal`, a focal scale) that fits the middle of the image. `refitted_distortion`
refits the pose, one scale on both focal lengths and a residual radial term together, in the
model of Brown (1966) and Conrady (1919) as OpenCV's camera model documents it (the
``calib3d`` module's "Camera Calibration and 3D Reconstruction", ``plumb_bob``'s radial part):
a point at normalized coordinates ``m = (X / Z, Y / Z)`` appears at ``m (1 + k1 |m|^2)``, then
``u = fx x + cx``, ``v = fy y + cy``. Only ``k1`` is fitted: over an image's field of view the
points constrain one radial term well and two poorly (k1 and k2 trade off), and ``k1`` alone
names which way and how strongly the images are distorted beyond what the camera says.

Sign: images undistorted twice with a raw D whose k1 is ``k`` fit about ``-k`` (the second
undistortion is the inverse of the distortion, ``1 - k r^2`` to first order); distorted
images with D zero fit their own k1 (barrel: negative). `core.distortion_evidence` combines a
run's frames and says which it is.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..geometry import invert_pose
from .linearise import _so3_exp
from .principal_point import _left_jacobian

# a fit takes at most this many inliers, evenly spaced (as `principal_point.MAX_POINTS`)
MAX_POINTS = 500
# rounds of choosing the inliers again under the fitted distortion: a wrong distortion puts
# the image's edges beyond the PnP threshold, and they are what tells k1 from a focal scale
ROUNDS = 1
# fewest inliers for a fit of 8 parameters
MIN_POINTS = 12
# a fit not converged within this many evaluations is not judged
MAX_EVALUATIONS = 60
# the rounds before the last fit with a Cauchy loss of this scale (pixels): PnP inliers within
# a loose threshold include wrong matches, which a least-squares k1 follows
ROBUST_SCALE_PX = 2.0
# |k1| beyond this is not a residual distortion but a diverged fit: not judged
MAX_K1 = 3.0


def _rays(Xk: np.ndarray, k1: float, derivative: bool = False, scale: float = 1.0
          ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
    """(n, 2) ``m`` solving ``m (1 + k1 |m|^2) = scale Xk_xy / z`` (8 fixed-point steps) of
    keyframe-camera coordinates ``Xk`` (n, 3): the rays they truly have (``scale``: the
    keyframe's colour focal length over the one its points were placed with, `_unwarped`);
    with ``derivative`` also the (n, 2) ``dm / dk1`` and ``dm / d log(scale)`` of those same
    steps (forward mode: what the steps compute, also where they have not converged), else
    None."""
    iz = scale / Xk[:, 2]
    yx, yy = Xk[:, 0] * iz, Xk[:, 1] * iz  # per column: a sum over axis 1 cost most of the fit
    mx, my = yx, yy
    dx = dy = sx = sy = None
    if derivative:
        dx, dy = np.zeros_like(yx), np.zeros_like(yy)
        sx, sy = yx, yy  # d m / d log(scale) of the first step, m = y
    for _ in range(8):
        r2 = mx * mx + my * my
        d = 1.0 + k1 * r2
        if derivative:
            g = -(r2 + 2.0 * k1 * (mx * dx + my * dy)) / (d * d)
            h = 1.0 / d - 2.0 * k1 * (mx * sx + my * sy) / (d * d)
            dx, dy, sx, sy = yx * g, yy * g, yx * h, yy * h
        mx, my = yx / d, yy / d
    if not derivative:
        return np.column_stack([mx, my]), None, None
    return (np.column_stack([mx, my]), np.column_stack([dx, dy]),
            np.column_stack([sx, sy]))


def _unwarped(Xk: np.ndarray, Rk: np.ndarray, tk: np.ndarray, k1: float,
              log_scale: float = 0.0) -> np.ndarray:
    """(n, 3) map points ``X = Rk^T (Xk - tk)`` whose keyframe-camera coordinates ``Xk`` (n, 3)
    were placed along rays warped by a residual ``k1`` and by a focal length off the colour
    image's by ``exp(-log_scale)`` (depth not registered to colour: a Kinect v1's depth camera
    has about 585 px beside its colour camera's 525): each moved back along the ray it truly
    has at the same depth (`_rays`)."""
    z = Xk[:, 2:3]
    Xt = np.concatenate([_rays(Xk, k1, scale=np.exp(log_scale))[0] * z, z], axis=1)
    return np.einsum("nji,nj->ni", Rk, Xt - tk)


def _unwarped_dk1(Xk: np.ndarray, Rk: np.ndarray, tk: np.ndarray, k1: float,
                  log_scale: float = 0.0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_unwarped`'s (n, 3) points and their (n, 3) derivatives in ``k1`` and in
    ``log_scale`` (`_rays`'), at the same depth, turned into map axes by ``Rk^T``."""
    z = Xk[:, 2:3]
    m, dm, ds = _rays(Xk, k1, derivative=True, scale=np.exp(log_scale))
    zero = np.zeros_like(z)
    X = np.einsum("nji,nj->ni", Rk, np.concatenate([m * z, z], axis=1) - tk)
    return (X, np.einsum("nji,nj->ni", Rk, np.concatenate([dm * z, zero], axis=1)),
            np.einsum("nji,nj->ni", Rk, np.concatenate([ds * z, zero], axis=1)))


def _project(R0: np.ndarray, t0: np.ndarray, X: np.ndarray, K: np.ndarray, p: np.ndarray,
             shared: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
             ) -> Tuple[np.ndarray, np.ndarray]:
    """(n, 2) pixels and (n,) depths of ``X`` under p = (w, dt, log s, k1) about (R0, t0);
    ``shared`` (Xk, Rk, tk): the map points are warped by the same k1 (`_unwarped`)."""
    if shared is not None:
        X = _unwarped(*shared, p[7], p[8] if len(p) > 8 else 0.0)
    Xc = (X @ R0.T + t0) @ _so3_exp(p[:3]).T + p[3:6]
    z = Xc[:, 2]
    m = np.exp(p[6]) * Xc[:, :2] / z[:, None]
    d = 1.0 + p[7] * np.sum(m * m, axis=1)
    uv = np.column_stack([K[0, 0] * m[:, 0] * d + K[0, 2], K[1, 1] * m[:, 1] * d + K[1, 2]])
    return uv, z


def _jacobian(R0: np.ndarray, t0: np.ndarray, X: np.ndarray, K: np.ndarray, p: np.ndarray,
              shared: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """(2n, 8) Jacobian of `_project`'s pixels (u's and v's interleaved as ``.ravel()`` gives
    them) in p = (w, dt, log s, k1), analytic (``d Xc / d w = -[Y]x J_l(w)``, as
    `principal_point._residuals_and_jacobian`); with ``shared`` the k1 column adds how the
    warped map points move (`_unwarped_dk1`, analytic: a central difference warped them twice
    more and projected them twice more each step, half the fit's time)."""
    dX = dS = None
    if shared is not None:
        X, dX, dS = _unwarped_dk1(*shared, p[7], p[8] if len(p) > 8 else 0.0)
    fx, fy = K[0, 0], K[1, 1]
    Y = (X @ R0.T + t0) @ _so3_exp(p[:3]).T
    Xc = Y + p[3:6]
    iz = 1.0 / Xc[:, 2]
    xn, yn = Xc[:, 0] * iz, Xc[:, 1] * iz
    sc, k1 = np.exp(p[6]), p[7]
    rho = sc * sc * (xn * xn + yn * yn)
    d = 1.0 + k1 * rho
    # d (u, v) / d (xn, yn)
    a_u, b_u = fx * sc * (d + 2 * k1 * sc * sc * xn * xn), 2 * fx * k1 * sc ** 3 * xn * yn
    a_v, b_v = 2 * fy * k1 * sc ** 3 * xn * yn, fy * sc * (d + 2 * k1 * sc * sc * yn * yn)
    n = len(xn)
    J = np.zeros((n, 2, len(p)))
    Jl = _left_jacobian(p[:3])
    # d Xc / d k1 (and d log_scale) of the warped map points: Xc = (X R0^T + t0) dR^T + dt
    dXc = None if dX is None else dX @ R0.T @ _so3_exp(p[:3]).T
    dSc = None if dS is None else dS @ R0.T @ _so3_exp(p[:3]).T
    for row, (a, b) in enumerate(((a_u, b_u), (a_v, b_v))):
        g = np.stack([a * iz, b * iz, -(a * xn + b * yn) * iz], axis=1)  # d (u or v) / d Xc
        # Y x g, written out (np.cross's axis handling was a third of the Jacobian's time)
        J[:, row, :3] = np.stack([Y[:, 1] * g[:, 2] - Y[:, 2] * g[:, 1],
                                  Y[:, 2] * g[:, 0] - Y[:, 0] * g[:, 2],
                                  Y[:, 0] * g[:, 1] - Y[:, 1] * g[:, 0]], axis=1) @ Jl
        J[:, row, 3:6] = g
        if dXc is not None:  # the map points' own dependence on k1 and their focal scale
            J[:, row, 7] += np.sum(g * dXc, axis=1)
            if len(p) > 8:
                J[:, row, 8] = np.sum(g * dSc, axis=1)
    J[:, 0, 6] = fx * sc * xn * (1 + 3 * k1 * rho)
    J[:, 1, 6] = fy * sc * yn * (1 + 3 * k1 * rho)
    J[:, 0, 7] += fx * sc * xn * rho
    J[:, 1, 7] += fy * sc * yn * rho
    return J.reshape(2 * n, len(p))


def refitted_distortion(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray,
                        inliers: np.ndarray, K: np.ndarray, reproj_error_px: float,
                        max_points: int = MAX_POINTS, rounds: int = ROUNDS,
                        keyframes: Optional[Tuple[np.ndarray, np.ndarray]] = None,
                        keyframe_scale: bool = True) -> Optional[Tuple[float, float, int]]:
    """(k1, sigma k1, points): the residual radial distortion (module docstring; unitless, in
    normalized coordinates) that the ``inliers`` (N,) bool among ``X`` (N, 3) map points and
    ``xu`` (N, 2) pixels with the camera's distortion removed fit, refitted together with the
    pose (from ``map_from_cam``, 4x4, metres) and a scale on both focal lengths of ``K`` (3x3,
    pixels); then ``rounds`` times the correspondences within ``reproj_error_px`` of the fitted
    model become the inliers and are refitted; ``points`` the inliers of the last fit. At most
    ``max_points`` inliers a fit, evenly spaced. ``keyframes`` (cam_from_map (G, 4, 4) of the
    keyframes the points were placed from, metres, and each point's index (N,) among them):
    the map's points were placed from depth with the same camera as the query's, so the same
    residual distortion bent their rays too (a map built from the same rectified images with
    the same raw D): it is undone on them as well, at their depths; without it a map warped
    like the query hides most of it (the redkitchen data undistorted twice, map and query:
    k1 0.000 +- 0.005 over the run instead of about +0.3). With ``keyframe_scale`` the map
    points' rays are also scaled about their keyframe's axis (`_unwarped`: depth not
    registered to colour; a Kinect v1's bent the right camera's fit to k1 -0.188 at 160x120,
    -0.061 with it); off, one keyframe pair's few points (the map check's) keep their
    precision. The sigma is the first-order one from the Jacobian and the residuals. None
    when it cannot be judged: fewer than `MIN_POINTS` inliers, points behind the camera, no
    convergence, a diverged or singular fit."""
    from scipy.optimize import least_squares  # here: --help and the node's start load none

    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    K = np.asarray(K, np.float64)
    sel = np.asarray(inliers, bool)
    cfm = invert_pose(np.asarray(map_from_cam, np.float64))
    R, t = cfm[:3, :3].copy(), cfm[:3, 3].copy()
    # log s, k1 (and with keyframes the map points' log focal scale, `_unwarped`)
    q = np.zeros(3 if keyframes is not None and keyframe_scale else 2)
    sol = None
    if keyframes is not None:
        T = np.asarray(keyframes[0], np.float64)[np.asarray(keyframes[1], np.int64)]
        Rk_all, tk_all = T[:, :3, :3], T[:, :3, 3]
        Xk_all = np.einsum("nij,nj->ni", Rk_all, X) + tk_all
        if not Xk_all[:, 2].min(initial=1.0) > 1e-9:
            return None
    for round_ in range(rounds + 1):
        idx = np.flatnonzero(sel)
        if len(idx) > max_points > 0:
            idx = idx[np.linspace(0, len(idx) - 1, max_points).round().astype(int)]
        Xi, xi = X[idx], xu[idx]
        sh = None if keyframes is None else (Xk_all[idx], Rk_all[idx], tk_all[idx])
        if len(idx) < MIN_POINTS or not (Xi @ R.T + t)[:, 2].min() > 1e-9:
            return None

        def fun(p: np.ndarray, R0=R, t0=t, Xi=Xi, xi=xi, sh=sh) -> np.ndarray:
            return (_project(R0, t0, Xi, K, p, sh)[0] - xi).ravel()

        def jac(p: np.ndarray, R0=R, t0=t, Xi=Xi, sh=sh) -> np.ndarray:
            return _jacobian(R0, t0, Xi, K, p, sh)

        with np.errstate(all="ignore"):  # robust until the last round, which is least squares
            sol = (least_squares(fun, np.concatenate([np.zeros(6), q]), jac=jac, method="lm",
                                 max_nfev=MAX_EVALUATIONS) if round_ == rounds else
                   least_squares(fun, np.concatenate([np.zeros(6), q]), jac=jac,
                                 method="trf", loss="cauchy", f_scale=ROBUST_SCALE_PX,
                                 max_nfev=MAX_EVALUATIONS))
        p = sol.x
        if (sol.status < 1 or not np.isfinite(p).all() or abs(p[6]) > 3.0
                or abs(p[7]) > MAX_K1 or abs(p[-1]) > 3.0):
            return None
        dR = _so3_exp(p[:3])
        R, t, q = dR @ R, dR @ t + p[3:6], p[6:].copy()
        if round_ == rounds:
            break
        with np.errstate(all="ignore"):
            uv, z = _project(R, t, X, K, np.concatenate([np.zeros(6), q]),
                             None if keyframes is None else (Xk_all, Rk_all, tk_all))
            again = (np.hypot(*(uv - xu).T) < reproj_error_px) & (z > 1e-9)
        if np.count_nonzero(again) < MIN_POINTS:
            return None
        sel = again
    # the covariance from the Jacobian at the solution (scipy's, about the last start)
    J, r = sol.jac, sol.fun
    try:
        cov = np.linalg.inv(J.T @ J) * (float(r @ r) / max(len(r) - len(sol.x), 1))
    except np.linalg.LinAlgError:
        return None
    var = float(cov[7, 7])
    if not np.isfinite(var) or var <= 0 or not np.isfinite(q).all():
        return None
    return float(q[1]), float(np.sqrt(var)), int(len(xi))
