"""Does a pose's camera fit its intrinsics? The focal length its inliers imply (`focal_scale`).

PnP takes the query intrinsics as exact. When they are wrong -- a CameraInfo of another
calibration or resolution mode, a zoomed or cropped image -- PnP still finds a pose that fits
the inliers, offset along the viewing direction, with a covariance that knows nothing of it: on
the redkitchen data (sift matcher, map depth) a focal length 20 % off gave poses 30-55 cm off
under a 1.5-8 cm sigma, a 2x digital zoom poses 0.5-1.3 m off under 1.5-2.6 cm. With 3-D points
at several depths the inliers tell: refitting the pose together with one scale ``s`` on both
focal lengths (principal point kept) gives ``s`` within 2 % of 1 on every correct frame of the
kitchen and 0.81-0.97 (fx 20 % too large) or 1.5-1.9 (the zoom) on the wrong ones.
`focal_scale` returns ``s`` and the standard deviation of ``log s``, so that a frame whose
points lie at one depth (``s`` not observable: a wall) is not judged on noise.

The inliers RANSAC chose under the wrong K are those that fit it best, so their ``s`` lies
between the true scale and 1 (0.82-0.97 for a true 0.83 on the kitchen): with fx 20 % too large
7-8 of 50 frames passed a 5 % gate 30-55 cm off. `refitted_focal_scale` chooses the inliers again
among all correspondences under the fitted scale and refits, a few rounds: 4 of 50 pass (fx 10 %
too large: 16 of 50, not 26; 15 % too small: 5, not 15; K's fx and fy scaled by --camera-info,
sift map), correct frames' ``s`` unchanged (within 2.5 % of 1).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import invert_pose, project, transform_points


# a scale beyond e**3 (20x) is no focal-length error but Gauss-Newton diverging
_MAX_LOG_SCALE = 3.0


# `refitted_focal_scale`: rounds of choosing the inliers again under the fitted focal length
REFIT_ROUNDS = 3
_NOT_JUDGED = (1.0, float("inf"), None)


def focal_scale(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray, K: np.ndarray,
                iterations: int = 10) -> Tuple[float, float]:
    """(s, sigma of log s): the scale on K's focal lengths that, refitted together with the
    pose by Gauss-Newton from ``map_from_cam`` (4x4 float, metres), best fits the inliers ``X``
    (N, 3) map points (metres) and ``xu`` (N, 2) undistorted query pixels; sigma from the
    residuals (first order). (1.0, inf) when it cannot be judged: fewer than 8 points, points
    behind the camera, or the fit diverging."""
    s, sigma, _ = _fit(map_from_cam, X, xu, K, iterations)
    return s, sigma


def refitted_focal_scale(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray,
                         inliers: np.ndarray, K: np.ndarray, reproj_error_px: float,
                         max_points: int = 0, rounds: int = REFIT_ROUNDS) -> Tuple[float, float]:
    """`focal_scale` of the ``inliers`` (N,) bool among all correspondences ``X`` (N, 3), ``xu``
    (N, 2) undistorted pixels, then ``rounds`` times: the correspondences within
    ``reproj_error_px`` of the refitted pose under K with its focal lengths times the fitted
    ``s`` become the inliers, refitted from there. Each fit takes at most ``max_points`` of the
    inliers, evenly spaced (0 = all). Stops early when the inliers no longer change or fewer
    than 8 remain; a round whose fit cannot be judged keeps the previous round's answer.
    Raises `InputError` for ``inliers`` not an (N,) bool mask or ``xu`` not (N, 2)."""
    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    sel = np.asarray(inliers)
    if sel.dtype != bool or sel.shape != (len(X),) or xu.shape != (len(X), 2):
        raise InputError(f"refitted_focal_scale: inliers must be a ({len(X)},) bool mask and xu "
                         f"({len(X)}, 2) pixels, got {sel.dtype} {sel.shape} and {xu.shape} "
                         "(an index array is no mask)")
    best = _NOT_JUDGED
    for round_ in range(rounds + 1):
        idx = np.flatnonzero(sel)
        if max_points and len(idx) > max_points:  # deterministic: the cost stays ~1 ms
            idx = idx[np.linspace(0, len(idx) - 1, max_points).round().astype(int)]
        fit = _fit(map_from_cam if best[2] is None else best[2], X[idx], xu[idx], K, 10)
        if fit[2] is None:
            break
        best = fit
        if round_ == rounds:
            break
        Ks = np.array(K, np.float64)
        Ks[:2, :2] *= best[0]
        again = _reprojection_px(best[2], X, xu, Ks) < reproj_error_px
        if again.sum() < 8 or np.array_equal(again, sel):
            break
        sel = again
    return best[0], best[1]


def _reprojection_px(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray,
                     K: np.ndarray) -> np.ndarray:
    """(N,) pixel distance of ``X`` projected through ``K`` from ``xu``; inf behind the
    camera."""
    uv, z = project(transform_points(invert_pose(map_from_cam), X), K)
    return np.where(z > 1e-9, np.linalg.norm(uv - xu, axis=1), np.inf)


def _fit(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray, K: np.ndarray,
         iterations: int) -> Tuple[float, float, Optional[np.ndarray]]:
    """`focal_scale`'s (s, sigma) and the refitted ``map_from_cam`` (None when not judged)."""
    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    n = len(X)
    if n < 8:
        return _NOT_JUDGED
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    T = invert_pose(map_from_cam)
    R, t, ls = T[:3, :3].copy(), T[:3, 3].copy(), 0.0
    J = np.zeros((2 * n, 7))
    r = np.zeros(2 * n)
    for it in range(iterations + 1):
        Xc = X @ R.T + t
        z = Xc[:, 2]
        if not (z > 1e-9).all():
            return _NOT_JUDGED
        xn, yn, iz = Xc[:, 0] / z, Xc[:, 1] / z, 1.0 / z
        s = np.exp(ls)
        r[:n] = s * fx * xn + cx - xu[:, 0]
        r[n:] = s * fy * yn + cy - xu[:, 1]
        # d(u, v)/dXc, with Xc' = exp(w) Xc + dt: dXc/dw = -[Xc]_x, dXc/dt = I
        du = s * fx * np.stack([iz, np.zeros(n), -xn * iz], 1)
        dv = s * fy * np.stack([np.zeros(n), iz, -yn * iz], 1)
        for rows, d in ((slice(0, n), du), (slice(n, 2 * n), dv)):
            J[rows, 0:3] = np.cross(Xc, d)  # d . (w x Xc) = w . (Xc x d)
            J[rows, 3:6] = d
        J[:n, 6], J[n:, 6] = s * fx * xn, s * fy * yn
        if it == iterations:
            break
        H = J.T @ J
        try:
            step = -np.linalg.solve(H, J.T @ r)
        except np.linalg.LinAlgError:
            return _NOT_JUDGED
        if not (np.isfinite(step).all() and abs(ls + step[6]) < _MAX_LOG_SCALE):
            return _NOT_JUDGED  # diverging (degenerate geometry): not judged
        dR = Rotation.from_rotvec(step[:3]).as_matrix()
        R, t, ls = dR @ R, dR @ t + step[3:6], ls + step[6]
        if np.abs(step).max() < 1e-10:
            break
    try:
        cov = np.linalg.inv(J.T @ J) * (float(r @ r) / max(2 * n - 7, 1))
    except np.linalg.LinAlgError:
        return _NOT_JUDGED
    sigma = float(np.sqrt(max(cov[6, 6], 0.0)))
    if not np.isfinite(sigma):
        return _NOT_JUDGED
    cam_from_map = np.eye(4)
    cam_from_map[:3, :3], cam_from_map[:3, 3] = R, t
    return float(np.exp(ls)), sigma, invert_pose(cam_from_map)
