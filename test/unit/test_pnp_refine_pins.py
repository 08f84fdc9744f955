"""What `refine_pose`'s Levenberg-Marquardt promises, pinned where the other tests (which only
check where it lands) let a one-token change through: a step is taken only when it lowers the
cost, the damping follows Marquardt's schedule (Hartley & Zisserman, *Multiple View Geometry*,
2nd ed., A6.2: start at 1e-3, x10 on a rejected step, /10 on an accepted one), a rejected step
reuses the normal equations, and it gives up once the damping is past 1e8."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import pnp
from mast3r_ros.core.geometry import invert_pose, make_pose, pose_error, transform_points
from mast3r_ros.core.pnp import refine
from mast3r_ros.core.pnp.linearise import _perturb, _residuals_t, _Rows
from mast3r_ros.core.types import CameraIntrinsics

CAM = CameraIntrinsics(640, 480, [[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
K = CAM.K


def _scene(seed, n=400):
    """Map points seen exactly by a camera at a random pose: (X, x, map_from_cam)."""
    rng = np.random.default_rng(seed)
    T = make_pose(Rotation.random(random_state=seed).as_matrix(), rng.uniform(-2, 2, 3))
    px = rng.uniform([0, 0], [639, 479], (n, 2))
    z = rng.uniform(1.0, 6.0, n)
    pts = np.stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z, (px[:, 1] - K[1, 2]) / K[1, 1] * z, z], 1)
    return transform_points(T, pts), px, T


def _cost(T, Xt, xt):
    ru, rv, _ = _residuals_t(invert_pose(T), Xt, xt, K)
    return float(ru @ ru + rv @ rv)


def _spy(monkeypatch, cost_of=None):
    """Record each `_damped_step` trial as (lam, A, cost): the trial's cost, or with
    ``cost_of`` the cost it is made to report (A itself is kept, so that `is` tells a reused
    normal matrix from a new one)."""
    real, trials = refine._damped_step, []

    def spy(T, A, g, lam, Xt, xt, K_):
        out = real(T, A, g, lam, Xt, xt, K_)
        if out is not None and cost_of is not None:
            out = out[:3] + (cost_of(T, Xt, xt),) + out[4:]
        trials.append((lam, A, None if out is None else out[3]))
        return out

    monkeypatch.setattr(refine, "_damped_step", spy)
    return trials


def test_a_step_that_does_not_lower_the_cost_is_not_taken(monkeypatch):
    """A plateau: every trial costs exactly what the pose it starts from does. No step lowers
    the cost, so the input comes back bit for bit after one trial (the step changes the cost by
    round-off -- here nothing -- which ends the refinement). Accepting a trial of equal cost
    (``cost_new <= cost``) returned the trial's pose, 2.4 cm and 0.8 deg away."""
    X, x, T = _scene(4)
    start = _perturb(T, np.array([0.01, -0.02, 0.01, 0.01, 0.0, -0.01]))
    trials = _spy(monkeypatch, cost_of=_cost)
    out = pnp.refine_pose(start, X, x, K)
    assert len(trials) == 1
    np.testing.assert_array_equal(out, start)


def test_the_damping_follows_marquardts_schedule_and_a_rejected_step_relinearises_nothing(
        monkeypatch):
    """From 1 rad off (19 trials today, 7 of them rejected: the damping matters) each trial's
    damping is the previous one's x10 after a rejected step and /10 after an accepted one,
    from 1e-3; a trial after a rejected step reuses the same normal matrix, one after an
    accepted step a new one. And it converges within the default 20 iterations."""
    X, x, T = _scene(4)
    start = make_pose(Rotation.from_rotvec([1.0, 0.0, 0.0]).as_matrix() @ T[:3, :3], T[:3, 3])
    trials = _spy(monkeypatch)
    out = pnp.refine_pose(start, X, x, K)
    t, r = pose_error(out, T)
    assert t < 1e-6 and r < 1e-5, (t, r)
    cost = _cost(start, np.ascontiguousarray(X.T), np.ascontiguousarray(x.T))
    lam, rejected = 1e-3, 0
    for i, (lam_i, a_i, cost_i) in enumerate(trials):
        assert lam_i == lam, (i, lam_i, lam)
        if i:
            assert (a_i is trials[i - 1][1]) == (lam > trials[i - 1][0]), i  # same A iff rejected
        if cost_i < cost:
            lam, cost = max(lam / 10, 1e-9), cost_i
        else:
            lam, rejected = lam * 10, rejected + 1
    assert rejected >= 3 and len(trials) - rejected >= 3, (len(trials), rejected)  # both kinds


def test_it_gives_up_once_the_damping_is_past_1e8(monkeypatch):
    """A start from which no step can be taken (a point behind the camera stays behind it for
    every small step, so every trial costs inf): the damping rises x10 per rejected trial from
    1e-3 and the refinement gives up past 1e8 -- 12 trials, even with 100 iterations allowed --
    and returns its input (never worse)."""
    X, x, T = _scene(4, n=60)
    start = _perturb(T, np.array([0.01, -0.02, 0.01, 0.01, 0.0, -0.01]))
    behind = transform_points(start, np.array([[0.0, 0.0, -1.0]]))  # on the axis, 1 m behind
    X2, x2 = np.vstack([X, behind]), np.vstack([x, K[:2, 2]])  # seen at the principal point
    trials = _spy(monkeypatch)
    out = pnp.refine_pose(start, X2, x2, K, iterations=100)
    np.testing.assert_allclose([lam for lam, _, _ in trials], 1e-3 * 10.0 ** np.arange(12),
                               rtol=1e-12)
    assert all(c == np.inf for _, _, c in trials)
    np.testing.assert_array_equal(out, start)


class _Reported(_Rows):
    """`_Rows` whose trials report a chosen cost: after `fix` every `inliers` call returns the
    inliers at the pose ``fix`` was given and a squared error that sums, over them, to
    ``factor`` times their cost there (computed as `_refine_inliers` computes it); counts
    `evaluate` calls."""

    evaluations = 0
    level = None

    def fix(self, T, factor):
        inl, _ = self.inliers(self.evaluate(T))
        _, r = self.jacobian_rows(self.evaluate(T), inl)
        self.inl, self.level = inl, factor * float(np.vdot(r, r))
        self.evaluations = 0

    def evaluate(self, map_from_cam):
        self.evaluations += 1
        return super().evaluate(map_from_cam)

    def inliers(self, ev):
        inl, e2 = super().inliers(ev)
        if self.level is None:
            return inl, e2
        e2 = np.zeros_like(e2)
        e2[np.flatnonzero(self.inl)[0]] = self.level
        return self.inl.copy(), e2


def _rows(X, x, cls=_Rows):
    """Rows with a 50 px threshold: every point is an inlier at the perturbed starts below."""
    return cls(np.ascontiguousarray(X.T), np.ascontiguousarray(x.T), K, np.ones(len(X), bool),
               50.0)


def test_refine_inliers_takes_no_step_that_does_not_lower_the_cost():
    """`_refine_inliers` on a plateau (every trial costs exactly what the current pose does on
    the current inliers, which do not change): the start pose comes back bit for bit, after
    one trial. With ``cost_new <= cost`` the trial was taken and returned."""
    X, x, T = _scene(4, n=60)
    start = _perturb(T, np.array([0.01, -0.02, 0.01, 0.01, 0.0, -0.01]))
    rows = _rows(X, x, _Reported)
    rows.fix(start, 1.0)
    out, inl, *_ = refine._refine_inliers(start, rows)
    np.testing.assert_array_equal(out, start)
    assert inl.all() and rows.evaluations == 2  # the start and one trial


def test_refine_inliers_raises_the_damping_tenfold_from_1e_6_up_to_1e3_then_stops():
    """A step no damping makes acceptable (every trial costs twice the current cost): the
    trials run at damping 1e-6, 1e-5, ... 1e2 -- nine of them -- and the refinement ends at
    its start, converged on this set. Another growth factor, start or cap changes the count."""
    X, x, T = _scene(4, n=60)
    start = _perturb(T, np.array([0.01, -0.02, 0.01, 0.01, 0.0, -0.01]))
    rows = _rows(X, x, _Reported)
    rows.fix(start, 2.0)
    out, *_ = refine._refine_inliers(start, rows)
    np.testing.assert_array_equal(out, start)
    assert rows.evaluations == 1 + 9, rows.evaluations


def test_refine_inliers_refines_on_exactly_min_points_inliers():
    """`MIN_POINTS` (6) inliers are enough to refine on (the minimum is inclusive): six exact
    correspondences from a perturbed start converge to the true pose; five are not refined."""
    X, x, T = _scene(4, n=6)
    start = _perturb(T, np.array([0.01, -0.02, 0.01, 0.01, 0.0, -0.01]))
    out, inl, *_ = refine._refine_inliers(start, _rows(X, x))
    t, r = pose_error(out, T)
    assert refine.MIN_POINTS == 6 and inl.all() and t < 1e-6 and r < 1e-5, (t, r)
    out5, *_ = refine._refine_inliers(start, _rows(X[:5], x[:5]))
    np.testing.assert_array_equal(out5, start)


@pytest.mark.parametrize("seed", [3, 4])
def test_refine_pose_ends_within_its_relative_cost_tolerance(seed):
    """Large residuals (30 points, 40 px noise, a 150 px focal length: Gauss-Newton converges
    only linearly here) from 0.3 rad / 0.2 m off: the refinement stops on a step that changes
    the cost by less than 1e-10 of it, so refining its result again lowers the cost by well
    under 1e-10 of it (measured ~4e-13; a 1e-6 tolerance left 1e-9 to 5e-9)."""
    rng = np.random.default_rng(seed)
    Kw = np.array([[150.0, 0.0, 320.0], [0.0, 150.0, 240.0], [0.0, 0.0, 1.0]])
    T = make_pose(Rotation.random(random_state=seed).as_matrix(), rng.uniform(-2, 2, 3))
    px = rng.uniform([0, 0], [640, 480], (30, 2))
    z = rng.uniform(0.5, 3.0, 30)
    pts = np.stack([(px[:, 0] - 320.0) / 150.0 * z, (px[:, 1] - 240.0) / 150.0 * z, z], 1)
    X, x = transform_points(T, pts), px + rng.normal(0, 40.0, px.shape)
    start = make_pose(Rotation.from_rotvec(rng.normal(0, 0.3, 3)).as_matrix() @ T[:3, :3],
                      T[:3, 3] + rng.normal(0, 0.2, 3))
    out = pnp.refine_pose(start, X, x, Kw, iterations=200)
    again = pnp.refine_pose(out, X, x, Kw, iterations=200)
    c1, c2 = (float(np.sum(pnp.reprojection_residuals(invert_pose(P), X, x, Kw)[0] ** 2))
              for P in (out, again))
    assert 0 <= c1 - c2 < 1e-10 * c1, (c1 - c2) / c1


def test_the_covariance_from_the_refinements_normal_matrix_is_the_one_it_computes_itself():
    """`solve._finish` hands the refinement's last normal matrix (F, r, A at the returned pose)
    to `_covariance_f` instead of computing ``J^T J`` again (issue 9's host time): the same
    expression on the same rows, so the covariance is the same bit for bit, with the points'
    covariances and keyframe groups too."""
    from mast3r_ros.core.pnp import covariance

    X, x, T = _scene(5, n=300)
    rng = np.random.default_rng(5)
    x = x + rng.normal(0, 0.7, x.shape)
    start = _perturb(T, np.array([0.01, -0.02, 0.01, 0.01, 0.0, -0.01]))
    rows = _rows(X, x)
    out, inl, _, ev, Fr = refine._refine_inliers(start, rows)
    assert Fr is not None and len(Fr) == 3  # converged: the last linearisation is at ``out``
    F, r, A = Fr
    np.testing.assert_array_equal(A, rows.normal_equations(out[:3, :3], F, r)[0])
    n = F.shape[1]
    S = np.tile(np.diag([1e-4, 2e-4, 4e-4]).reshape(1, 9), (n, 1))
    groups = np.repeat([0, 1], [n // 2, n - n // 2])
    centres = np.array([[0.1, 0.2, 0.3], [-0.5, 0.0, 1.0]])
    model = covariance.UncertaintyModel(None, 0.01, 0.02)
    fresh = covariance._covariance_f(out, rows, F, r, S, groups, centres, model)
    reused = covariance._covariance_f(out, rows, F, r, S, groups, centres, model, A)
    np.testing.assert_array_equal(reused, fresh)


def test_the_ransac_subset_is_the_fresh_draw_and_kept_read_only():
    """`solve._ransac_subset` keeps the last draws (one seed per localizer, one match count per
    capped matcher: the same draw every frame): the indices are those of a fresh
    ``default_rng(seed).choice`` draw, sorted, the same object on a repeat, and read-only so
    that no caller can change the next frame's subset."""
    from mast3r_ros.core.pnp import solve

    for seed, n, size in ((0, 5000, 512), (7, 1000, 512), (2 ** 63, 600, 100)):
        want = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
        got = solve._ransac_subset(seed, n, size)
        np.testing.assert_array_equal(got, want)
        assert solve._ransac_subset(seed, n, size) is got
        with pytest.raises(ValueError):
            got[0] = 1
