"""Pins of `replay.calibration_tail`'s bounds that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested: the 10x excess, the 1e-3 chance and
the binomial tail's edges."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.replay.calibration_tail import (CHI2_3DOF_3SIGMA, P_BEYOND_3SIGMA, binomial_tail,
                                               count_beyond_3sigma, tail_clause)


def test_a_tail_is_named_from_10_times_the_calibrated_fraction_not_5():
    """9 of 250 (3.6 %, 13x) is named; 20 of 1000 (2 %, 7x) is not, though either is far from
    chance (binomial tails 4e-8 and 1e-11)."""
    assert tail_clause(9, 250) == "4 % of frames beyond 3 sigma (0.27 % if calibrated)"
    assert tail_clause(20, 1000) == ""


def test_a_heavy_tail_is_named_only_past_a_chance_of_1e_3():
    """Heavy (10 % or more) but few: 1 of 10 (chance 0.027), 2 of 20 (0.0013) may be a
    calibrated covariance's luck; 2 of 15 (0.00075) is not."""
    assert binomial_tail(2, 20, P_BEYOND_3SIGMA) == pytest.approx(0.0013408, rel=1e-4)
    assert binomial_tail(2, 15, P_BEYOND_3SIGMA) == pytest.approx(0.00074764, rel=1e-4)
    assert tail_clause(1, 10) == ""
    assert tail_clause(2, 20) == ""
    assert tail_clause(2, 15) == "13 % of frames beyond 3 sigma (0.27 % if calibrated)"


def test_no_frames_judged_or_none_beyond_names_nothing():
    assert tail_clause(5, 0) == "" and tail_clause(0, 40) == ""


def test_the_binomial_tails_edges():
    p = P_BEYOND_3SIGMA
    assert binomial_tail(-1, 5, p) == 1.0 and binomial_tail(0, 5, p) == 1.0
    assert binomial_tail(5, 5, p) == pytest.approx(p ** 5, rel=1e-9, abs=0.0)
    assert binomial_tail(6, 5, p) == 0.0
    assert binomial_tail(1, 1000, p) == pytest.approx(1 - (1 - p) ** 1000, rel=1e-12)
    assert binomial_tail(1, 100_000, p) <= 1.0                          # at most 1 (rounding)


def test_the_bound_itself_is_not_beyond_it():
    d2 = np.array([CHI2_3DOF_3SIGMA, np.nextafter(CHI2_3DOF_3SIGMA, 99.0)])
    assert count_beyond_3sigma(d2) == 1
