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

import functools
import math
from typing import Optional, Tuple

import numpy as np

from ..errors import InputError
from ..geometry import invert_pose
from .linearise import _so3_exp


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
    # the rows each round gathers from, made once (contiguous: a gather copies rows, not
    # strided columns); the values and so the arithmetic are those of X[idx], xu[idx]
    Xt = np.ascontiguousarray(X.T)
    xu_rows = np.ascontiguousarray(xu.T)
    u0_all, v0_all = K[0, 2] - xu_rows[0], K[1, 2] - xu_rows[1]
    cam_from_map = invert_pose(map_from_cam)
    for round_ in range(rounds + 1):
        idx = np.flatnonzero(sel)
        if max_points and len(idx) > max_points:  # deterministic: the cost stays ~1 ms
            idx = idx[_evenly_spaced(len(idx), max_points)]
        fit = _fit_rows(cam_from_map, np.take(Xt, idx, axis=1), np.take(u0_all, idx),
                        np.take(v0_all, idx), K, 10)
        if fit[2] is None:
            break
        best = fit
        if round_ == rounds:
            break
        # the next round starts from the refitted pose: inverted once for both uses
        cam_from_map = invert_pose(best[2])
        Ks = np.array(K, np.float64)
        Ks[:2, :2] *= best[0]
        again = _within_px(cam_from_map, Xt, xu_rows, Ks, reproj_error_px)
        if np.count_nonzero(again) < 8 or np.array_equal(again, sel):
            break
        sel = again
    return best[0], best[1]


@functools.lru_cache(maxsize=64)
def _evenly_spaced(n: int, size: int) -> np.ndarray:
    """The ``size`` indices into ``range(n)``, evenly spaced and rounded, that each fit of
    `refitted_focal_scale` takes above ``max_points`` inliers (read-only). They depend on the
    two counts alone, and a capped matcher hands over the same counts frame after frame: the
    last 64 are kept (~11 us a call at 2000 of 3000, four calls a frame, a look-up under 1 us)."""
    pick = np.linspace(0, n - 1, size).round().astype(int)
    pick.flags.writeable = False
    return pick


def _within_px(cam_from_map: np.ndarray, Xt: np.ndarray, xu_rows: np.ndarray,
               K: np.ndarray, thr: float) -> np.ndarray:
    """(N,) bool: `_reprojection_px` of the points ``Xt`` (3, N) from the pose whose inverse is
    ``cam_from_map`` below ``thr`` (False behind the camera), the same comparisons without its
    inf fill. On coordinate rows (``xu_rows`` (2, N) the undistorted pixels), which
    `refitted_focal_scale` makes once for its rounds: `_pixel_distance`'s operations in its
    order (so its bits), on contiguous rows and in place: ~1.3x cheaper at N = 5000."""
    p = cam_from_map[:3, :3] @ Xt
    p += cam_from_map[:3, 3:4]
    z = p[2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        iz = np.divide(1.0, z)
        du = np.multiply(p[0], K[0, 0], out=p[0])
        du *= iz
        du += K[0, 2]
        du -= xu_rows[0]
        dv = np.multiply(p[1], K[1, 1], out=p[1])
        dv *= iz
        dv += K[1, 2]
        dv -= xu_rows[1]
        du *= du
        dv *= dv
        du += dv
        d = np.sqrt(du, out=du)
    within = d < thr
    within &= z > 1e-9
    return within


def _pixel_distance(cam_from_map: np.ndarray, X: np.ndarray, xu: np.ndarray,
                    K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """((N,) pixel distance of ``X`` projected through ``K`` from ``xu``, (N,) camera-frame z in
    metres) from the pose ``cam_from_map``; the distance is nan/inf where z is 0 or behind
    the camera (callers mask with z). On coordinate rows: one (3, 3) x (3, N) product and
    contiguous in-place passes."""
    p = cam_from_map[:3, :3] @ X.T + cam_from_map[:3, 3:4]
    z = p[2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        iz = 1.0 / z
        du = K[0, 0] * p[0] * iz + K[0, 2] - xu[:, 0]
        dv = K[1, 1] * p[1] * iz + K[1, 2] - xu[:, 1]
        du *= du
        dv *= dv
        du += dv
        d = np.sqrt(du, out=du)
    return d, z


def _reprojection_px(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray,
                     K: np.ndarray) -> np.ndarray:
    """(N,) pixel distance of ``X`` projected through ``K`` from ``xu``; inf behind the
    camera (z <= 1e-9 m)."""
    d, z = _pixel_distance(invert_pose(map_from_cam), X, xu, K)
    return np.where(z > 1e-9, d, np.inf)


# `_fit`: the Jacobian rows of u and v are fixed combinations of the eight rows
# E = (xn yn, 1 + xn^2, 1 + yn^2, xn, yn, iz, xn iz, yn iz) of each point. With the camera-frame
# point Xc = Z (xn, yn, 1), du = d u / d Xc = s fx (iz, 0, -xn iz), dv = s fy (0, iz, -yn iz),
# and d Xc = w x Xc + dt, the row of u in (w, dt, log s) is (Xc x du, du, s fx xn)
# = s fx (-xn yn, 1 + xn^2, -yn, iz, 0, -xn iz, xn), that of v s fy (-(1 + yn^2), xn yn, xn, 0,
# iz, -yn iz, yn): J_u = s fx P_U E, J_v = s fy P_V E
_E_U = ((0, 0, -1), (1, 1, 1), (2, 4, -1), (3, 5, 1), (5, 6, -1), (6, 3, 1))
_E_V = ((0, 2, -1), (1, 0, 1), (2, 3, 1), (4, 5, 1), (5, 7, -1), (6, 4, 1))
_P_U, _P_V = np.zeros((7, 8)), np.zeros((7, 8))
for _P, _entries in ((_P_U, _E_U), (_P_V, _E_V)):
    for _r, _c, _v in _entries:
        _P[_r, _c] = _v


def _fit(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray, K: np.ndarray,
         iterations: int) -> Tuple[float, float, Optional[np.ndarray]]:
    """`focal_scale`'s (s, sigma) and the refitted ``map_from_cam`` (None when not judged):
    `_fit_rows` of the (N, 3) points ``X`` and (N, 2) pixels ``xu``."""
    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    return _fit_rows(invert_pose(map_from_cam), np.ascontiguousarray(X.T),
                     K[0, 2] - xu[:, 0], K[1, 2] - xu[:, 1], K, iterations)


def _fit_rows(cam_from_map: np.ndarray, Xt: np.ndarray, u0: np.ndarray, v0: np.ndarray,
              K: np.ndarray, iterations: int) -> Tuple[float, float, Optional[np.ndarray]]:
    """`_fit` from ``cam_from_map`` (4x4) on coordinate rows: ``Xt`` (3, n) map points, ``u0 =
    cx - u`` and ``v0 = cy - v`` (n,) of their undistorted pixels.

    Gauss-Newton on the pose (``cam_from_map`` perturbed as ``R' = exp(w) R``, ``t' = exp(w) t
    + dt``) and ``log s``; the 7x7 normal equations come from the eight rows ``E`` of the
    points (`_P_U`, `_P_V`: one (8, n) x (n, 8) product per iteration, no (2n, 7) Jacobian).
    ``xn``, ``yn`` and ``iz`` are computed into their rows of ``E`` (no copies)."""
    n = Xt.shape[1]
    if n < 8:
        return _NOT_JUDGED
    fx, fy = K[0, 0], K[1, 1]
    R, t, ls = cam_from_map[:3, :3].copy(), cam_from_map[:3, 3].copy(), 0.0
    E = np.empty((8, n))
    xn, yn, iz = E[3], E[4], E[5]
    ru, rv = np.empty(n), np.empty(n)
    for it in range(iterations + 1):
        Xc = R @ Xt + t[:, None]
        z = Xc[2]
        if not (z > 1e-9).all():
            return _NOT_JUDGED
        np.divide(1.0, z, out=iz)
        np.multiply(Xc[0], iz, out=xn)
        np.multiply(Xc[1], iz, out=yn)
        s = np.exp(ls)
        np.multiply(xn, s * fx, out=ru)
        ru += u0
        np.multiply(yn, s * fy, out=rv)
        rv += v0
        np.multiply(xn, yn, out=E[0])
        np.multiply(xn, xn, out=E[1])
        E[1] += 1.0
        np.multiply(yn, yn, out=E[2])
        E[2] += 1.0
        np.multiply(xn, iz, out=E[6])
        np.multiply(yn, iz, out=E[7])
        Lu, Lv = (s * fx) * _P_U, (s * fy) * _P_V
        G = E @ E.T
        H = Lu @ G @ Lu.T + Lv @ G @ Lv.T
        if it == iterations:
            break
        try:
            step = -np.linalg.solve(H, Lu @ (E @ ru) + Lv @ (E @ rv))
        except np.linalg.LinAlgError:
            return _NOT_JUDGED
        st = step.tolist()  # Python floats: the checks below without numpy calls
        if not (all(map(math.isfinite, st)) and abs(ls + st[6]) < _MAX_LOG_SCALE):
            return _NOT_JUDGED  # diverging (degenerate geometry): not judged
        dR = _so3_exp(step[:3])
        R, t, ls = dR @ R, dR @ t + step[3:6], ls + step[6]
        if max(map(abs, st)) < 1e-10:
            break
    try:
        cov = np.linalg.inv(H) * (float(ru @ ru + rv @ rv) / max(2 * n - 7, 1))
    except np.linalg.LinAlgError:
        return _NOT_JUDGED
    sigma = float(np.sqrt(max(cov[6, 6], 0.0)))
    if not np.isfinite(sigma):
        return _NOT_JUDGED
    cam_from_map = np.eye(4)
    cam_from_map[:3, :3], cam_from_map[:3, 3] = R, t
    return float(np.exp(ls)), sigma, invert_pose(cam_from_map)
