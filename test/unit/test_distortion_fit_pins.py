"""Pins of `pnp.distortion.refitted_distortion`'s contract that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested: how many inliers a fit takes, that its
second round chooses the inliers again among every correspondence, and that a fit without a
residual (no sigma) is not judged."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.pnp.distortion import MAX_POINTS, refitted_distortion
from test_distortion_evidence import K, _scene


def test_a_fit_takes_at_most_max_points_inliers():
    X, x, mask = _scene(0.0, n=800)
    k, sigma, points = refitted_distortion(np.eye(4), X, x, mask, K, 5.0)
    assert points == MAX_POINTS == 500
    assert abs(k) < 4 * sigma


def test_the_last_round_chooses_the_inliers_again_among_all_correspondences():
    """Given only the middle of the image as inliers, the round after the first takes every
    correspondence the fitted model puts within the threshold (the edges, which tell k1 from a
    focal scale): 400 points, not the 165 given."""
    X, x, _ = _scene(-0.2, n=400)
    central = np.hypot(*((x - K[:2, 2]) / 500).T) < 0.4
    assert central.sum() == 165
    k, sigma, points = refitted_distortion(np.eye(4), X, x, central, K, 5.0)
    assert points == 400
    assert abs(k + 0.2) < 4 * sigma and sigma < 0.002


def test_a_fit_without_any_residual_has_no_sigma_and_is_not_judged():
    """Pixels exactly the map points' projections (no noise): the residuals are zero, so is
    the first-order sigma; a k1 +- 0 is no measurement."""
    X, _, mask = _scene(0.0)
    m = X[:, :2] / X[:, 2:]
    x = np.c_[500 * m[:, 0] + 320, 500 * m[:, 1] + 240]
    assert refitted_distortion(np.eye(4), X, x, mask, K, 5.0) is None


def test_a_focal_length_five_times_off_is_still_fitted():
    """The focal scale is refused only past e^3 (20x): pixels from fx 2500 given fx 500 (a
    scale of 5, log 1.6) still fit k1 about 0."""
    X, x, mask = _scene(0.0)
    x5 = (x - K[:2, 2]) * 5.0 + K[:2, 2]
    k, sigma, points = refitted_distortion(np.eye(4), X, x5, mask, K, 25.0)
    assert points == 400 and abs(k) < 4 * sigma


def test_a_fit_converged_on_its_gradient_is_judged(monkeypatch):
    """least_squares' status 1 (the gradient test) is a converged fit like 2-4: judged."""
    import scipy.optimize

    real = scipy.optimize.least_squares

    def gradient_converged(*args, **kwargs):
        sol = real(*args, **kwargs)
        sol.status = 1
        return sol

    monkeypatch.setattr(scipy.optimize, "least_squares", gradient_converged)
    X, x, mask = _scene(-0.25)
    k, sigma, _ = refitted_distortion(np.eye(4), X, x, mask, K, 5.0)
    assert abs(k + 0.25) < 4 * sigma


def test_a_camera_away_from_the_map_origin_is_fitted():
    """The scene 10 m behind the map origin seen by a camera there: its points lie in front of
    the camera (map z -8.5..-5, camera z +1.5..+5), so the fit is made."""
    X, x, mask = _scene(0.3)
    map_from_cam = np.eye(4)
    map_from_cam[2, 3] = -10.0
    k, sigma, _ = refitted_distortion(map_from_cam, X - [0.0, 0.0, 10.0], x, mask, K, 5.0)
    assert abs(k - 0.3) < 4 * sigma



def test_a_fit_whose_focal_scale_passed_e_cubed_is_not_judged(monkeypatch):
    """A converged fit whose focal scale is beyond e^3 (20x; real fits run out of evaluations
    first, so the solver's answer is altered here) has diverged: not judged."""
    import scipy.optimize

    real = scipy.optimize.least_squares

    def diverged(*args, **kwargs):
        sol = real(*args, **kwargs)
        sol.x[6] = 3.2
        return sol

    monkeypatch.setattr(scipy.optimize, "least_squares", diverged)
    X, x, mask = _scene(0.0)
    assert refitted_distortion(np.eye(4), X, x, mask, K, 5.0, rounds=0) is None
