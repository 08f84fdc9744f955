"""Reprojection residuals and their derivatives, computed on coordinate rows.

`reprojection_residuals` (projection minus observation, pixels) and `point_jacobian` (d residual
/ d map point) are public; `_jacobian` is the d residual / d pose Jacobian and `_perturb`
(`_so3_exp`) the pose perturbation it is taken for. `_linearise` computes them as (3, N) / (6, N)
rows, and `_Rows` holds one frame's correspondences for `solve_pnp`'s refinement and covariance:
one projection per pose gives the residuals, the inliers and the eight rows that every Jacobian
row is a combination of.

"The module docstring" in the docstrings below is the package's (`core.pnp`): the
perturbation ``R' = exp([dtheta]_x) R``, ``c' = c + dc`` and the covariance model.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ..errors import InputError
from ..types import check_point_rows


def _checked_point_extras(what: str, n: int, points_cov: Any, groups: Any,
                          centres: Any) -> None:
    """`InputError` naming ``what`` (the caller) unless ``points_cov`` is None or (n, 3, 3),
    ``groups`` None or (n,) integers, indexing ``centres`` ((G, 3) points) when given: the
    per-point inputs of `solve_pnp` and `pose_covariance`, checked alike."""
    if points_cov is not None and np.shape(points_cov) != (n, 3, 3):
        raise InputError(f"{what}: points_cov must be ({n}, 3, 3) (one 3x3 covariance per "
                         f"point), got shape {np.shape(points_cov)}")
    if groups is None:
        return
    g = np.asarray(groups)
    if g.shape != (n,) or (n and g.dtype.kind not in "iu"):
        raise InputError(f"{what}: groups must be ({n},) integers (each point's keyframe), "
                         f"got {g.dtype} {g.shape}")
    if centres is None:
        return
    count = len(check_point_rows(centres, 3, f"{what}: group_centres"))
    if n and (g.min() < 0 or g.max() >= count):
        raise InputError(f"{what}: groups index {count} group_centres, got values "
                         f"{int(g.min())}..{int(g.max())}")


def _checked_rows(what: str, pose_name: str, pose: Any, X: Any, x: Any, K: Any
                  ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """The public functions' argument checks: ``(X, x)`` as (N, 3) and (N, 2) float64
    (`check_point_rows`: OpenCV's (N, 1, C) too; ``x`` None stays None); `InputError` naming
    ``what`` and the argument for another shape or length, or ``pose`` not 4x4 or ``K`` not
    3x3 (numpy's broadcasting and index errors named none)."""
    X = check_point_rows(X, 3, f"{what}: X (map points)")
    if x is not None:
        x = check_point_rows(x, 2, f"{what}: x (undistorted query pixels)")
        if len(x) != len(X):
            raise InputError(f"{what}: {len(X)} 3-D points but {len(x)} 2-D points")
    for name, value, shape in ((pose_name, pose, (4, 4)), ("K", K, (3, 3))):
        if np.shape(value) != shape:
            raise InputError(f"{what}: {name} must be {shape[0]}x{shape[1]}, got shape "
                             f"{np.shape(value)}")
    return X, x


def reprojection_residuals(cam_from_map: np.ndarray, X: np.ndarray, x: np.ndarray,
                           K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Residuals (N, 2) = projection - observation in pixels, and camera-frame z (N,) (metres).

    ``cam_from_map`` 4x4; ``X`` (N, 3) map-frame points (metres); ``x`` (N, 2) undistorted
    pixels; ``K`` 3x3 pinhole matrix (pixels). Points with z <= 0 are not masked (check z).
    Raises `InputError` for another shape of any argument or ``X``, ``x`` of other lengths.
    """
    X, x = _checked_rows("reprojection_residuals", "cam_from_map", cam_from_map, X, x, K)
    cam_from_map, K = np.asarray(cam_from_map, np.float64), np.asarray(K, np.float64)
    ru, rv, z = _residuals_t(cam_from_map, X.T, x.T, K)
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


def point_jacobian(map_from_cam: np.ndarray, X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """d residual / d X (map-frame point) for each point: (N, 2, 3), pixels per metre.

    ``map_from_cam`` 4x4, ``X`` (N, 3) map-frame points (metres), ``K`` 3x3 (pixels). Raises
    `InputError` for another shape of any argument."""
    X, _ = _checked_rows("point_jacobian", "map_from_cam", map_from_cam, X, None, K)
    map_from_cam, K = np.asarray(map_from_cam, np.float64), np.asarray(K, np.float64)
    _, wu, wv, _, _ = _linearise(map_from_cam, X.T, K)
    return np.stack([wu.T, wv.T], axis=1)


_I3 = np.eye(3)
_I3.flags.writeable = False


def _so3_exp(w: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector (Rodrigues' formula; series below 1e-8 rad).
    ``I + a W + b W^2`` summed in place in that order (the rounding of the expression)."""
    th2 = float(w @ w)
    a, b, c = w.tolist()  # Python floats: [w]_x without numpy scalars
    W = np.array(((0.0, -c, b), (c, 0.0, -a), (-b, a, 0.0)))
    WW = W @ W
    if th2 < 1e-16:
        WW *= 0.5
    else:
        th = np.sqrt(th2)
        W *= np.sin(th) / th
        WW *= (1.0 - np.cos(th)) / th2
    W += _I3  # I + a W (addition commutes)
    W += WW
    return W


def _perturb(map_from_cam: np.ndarray, delta: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = _so3_exp(delta[3:]) @ map_from_cam[:3, :3]
    T[:3, 3] = map_from_cam[:3, 3] + delta[:3]
    return T


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
        # one index pass, then five gathers (`np.compress` finds the indices again for each
        # row: twice the time at N = 5000); 'clip' skips the bounds check and the buffered copy
        # that 'raise' makes of ``out``, the indices come from ``inl`` and are in range
        idx = np.flatnonzero(inl)
        n = len(idx)
        F = self._F[:, :n]
        r = np.empty((2, n))
        for row, out in ((iz, F[0]), (xn, F[6]), (yn, F[7]), (ru, r[0]), (rv, r[1])):
            np.take(row, idx, out=out, mode="clip")
        np.multiply(F[6], F[0], out=F[1])
        np.multiply(F[7], F[0], out=F[2])
        np.multiply(F[6], F[7], out=F[3])
        np.multiply(F[6], F[6], out=F[4])
        F[4] += 1.0
        np.multiply(F[7], F[7], out=F[5])
        F[5] += 1.0
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
