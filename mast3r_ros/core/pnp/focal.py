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
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry import invert_pose


# a scale beyond e**3 (20x) is no focal-length error but Gauss-Newton diverging
_MAX_LOG_SCALE = 3.0


def focal_scale(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray, K: np.ndarray,
                iterations: int = 10) -> Tuple[float, float]:
    """(s, sigma of log s): the scale on K's focal lengths that, refitted together with the
    pose by Gauss-Newton from ``map_from_cam``, best fits the inliers ``X`` (N, 3) map points
    and ``xu`` (N, 2) undistorted query pixels; sigma from the residuals (first order). (1.0,
    inf) when it cannot be judged: fewer than 8 points, points behind the camera, or the fit
    diverging."""
    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    n = len(X)
    if n < 8:
        return 1.0, float("inf")
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    T = invert_pose(map_from_cam)
    R, t, ls = T[:3, :3].copy(), T[:3, 3].copy(), 0.0
    J = np.zeros((2 * n, 7))
    r = np.zeros(2 * n)
    for it in range(iterations + 1):
        Xc = X @ R.T + t
        z = Xc[:, 2]
        if not (z > 1e-9).all():
            return 1.0, float("inf")
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
            return 1.0, float("inf")
        if not (np.isfinite(step).all() and abs(ls + step[6]) < _MAX_LOG_SCALE):
            return 1.0, float("inf")  # diverging (degenerate geometry): not judged
        dR = Rotation.from_rotvec(step[:3]).as_matrix()
        R, t, ls = dR @ R, dR @ t + step[3:6], ls + step[6]
        if np.abs(step).max() < 1e-10:
            break
    try:
        cov = np.linalg.inv(J.T @ J) * (float(r @ r) / max(2 * n - 7, 1))
    except np.linalg.LinAlgError:
        return float(np.exp(ls)), float("inf")
    sigma = float(np.sqrt(max(cov[6, 6], 0.0)))
    return float(np.exp(ls)), sigma if np.isfinite(sigma) else float("inf")
