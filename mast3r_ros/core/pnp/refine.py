"""Pose refinement: Levenberg-Marquardt on the reprojection error, alone or with re-scoring.

`refine_pose` (`_refine_t`, `_damped_step`) refines a pose on fixed correspondences;
`_refine_inliers` alternates damped Gauss-Newton steps on the inliers with re-scoring all
correspondences at the threshold until the inlier set is a fixed point -- `solve_pnp`'s
refinement, on the projections and normal equations of `linearise._Rows`.

"The module docstring" in the docstrings below is the package's (`core.pnp`): the
perturbation ``R' = exp([dtheta]_x) R``, ``c' = c + dc`` and the covariance model.
"""

from __future__ import annotations

import math

import numpy as np

from ..geometry import invert_pose
from .linearise import _checked_rows, _linearise, _perturb, _residuals_t, _Rows

# the fewest correspondences `solve_pnp` tries, and the fewest inliers a pose is refined and
# accepted on (`_refine_inliers`, `solve._finish`)
MIN_POINTS = 6
# at most this many refine/re-score steps (`_refine_inliers`)
REFINE_MAX_STEPS = 20


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
    Raises `InputError` for another shape of any argument or ``X``, ``x`` of other lengths.
    """
    X, x = _checked_rows("refine_pose", "map_from_cam", map_from_cam, X, x, K)
    map_from_cam, K = np.asarray(map_from_cam, np.float64), np.asarray(K, np.float64)
    Xt = np.ascontiguousarray(X.T)
    xt = np.ascontiguousarray(x.T)
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


def _refine_inliers(map_from_cam, rows: _Rows, max_steps: int = REFINE_MAX_STEPS):
    """Least squares on the inliers *and* the inlier set at once: each step is one damped
    Gauss-Newton step on the current inliers followed by re-scoring all correspondences at
    the threshold; it ends when the set no longer changes and the step no longer lowers the
    cost (a fixed point: the pose is the least-squares pose of exactly the points within the
    threshold of it), or after ``max_steps``. Returns (map_from_cam, inliers (N,) bool,
    squared error (N,), the `_Rows.evaluate` tuple at the returned pose, and when the last
    linearisation was there (F, r, A): the `_Rows.jacobian_rows` of its inliers and their
    normal matrix ``J^T J`` (`_Rows.normal_equations`), else None).
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
        F, r = rows.jacobian_rows(ev, inl)
        cost = float(np.vdot(r, r))
        tol = 1e-10 * max(cost, 1e-12)
        A, g = rows.normal_equations(T[:3, :3], F, r)
        Fr = F, r, A
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
                if not math.isfinite(cost_new):  # a non-finite point outside the set
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
