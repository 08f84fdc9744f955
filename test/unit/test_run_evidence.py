"""`core.run_evidence`: the robust combination of a run's frames' measurements of one named
quantity (the focal scale's, `focal_evidence`, and the principal point's)."""

import math

import numpy as np
import pytest

from mast3r_ros.core.focal_evidence import combine_focal_scales
from mast3r_ros.core.run_evidence import MIN_FRAMES, combine_measurements, interval_outside


def test_a_named_quantity_is_combined_as_the_focal_scale_is_in_log():
    rng = np.random.default_rng(3)
    s = np.exp(rng.normal(0.1, 0.01, 12))
    s[0] = 0.5  # an outlier
    sig = rng.uniform(0.005, 0.02, 12)
    c = combine_measurements(np.log(s), sig, "log focal scale")
    ev = combine_focal_scales(s, sig, 0.05)
    assert c.quantity == "log focal scale" and c.frames_outliers == 1 == ev.frames_outliers
    assert math.exp(c.value) == ev.scale and c.sigma == ev.sigma_log
    assert (c.frames_used, c.chi2_per_dof, c.consistent) == (
        ev.frames_used, ev.chi2_per_dof, ev.consistent)


def test_unobservable_frames_are_not_judged_and_too_few_give_no_value():
    c = combine_measurements([1.0, np.nan, 2.0, 3.0, 4.0, 5.0], [1, 1, 0, np.inf, 1, 1], "cx")
    assert c.frames_judged == 3 < MIN_FRAMES and c.value is None
    assert not interval_outside(c, -1.0, 1.0, 4.0)
    with pytest.raises(ValueError, match=r"\(cx\): 2 values but 1 sigmas"):
        combine_measurements([1.0, 2.0], [1.0], "cx")


def test_the_interval_is_judged_against_the_band_on_both_sides():
    c = combine_measurements([10.0] * 6, [4.0] * 6, "dcx")
    assert c.value == pytest.approx(10.0) and c.sigma == pytest.approx(4 / math.sqrt(6))
    assert interval_outside(c, -3.0, 3.0, 4.0)  # 10 - 4 * 1.63 = 3.47 > 3
    assert not interval_outside(c, -4.0, 4.0, 4.0)
    neg = combine_measurements([-10.0] * 6, [4.0] * 6, "dcx")
    assert interval_outside(neg, -3.0, 3.0, 4.0) and not interval_outside(neg, -4.0, 4.0, 4.0)
