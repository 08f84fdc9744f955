"""Pins from a second mutation audit of core.matching (walk, checks, border filter): behaviour
that a one-token change left every other matching test passing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.matching import fast_reciprocal_matches


@pytest.mark.parametrize("tol", [-0.5, -1e-9, float("nan")])
def test_any_negative_or_nan_pixel_tol_is_refused(tol):
    """``pixel_tol`` must be >= 0 (`_check_params`): a small negative value (or NaN) is a
    ConfigError naming it, not a silent ``pixel_tol = 0``; only -1 was tested, so a bound of
    ``> -1`` passed."""
    d = torch.randn(4, 5, 3)
    with pytest.raises(ConfigError, match="pixel_tol"):
        fast_reciprocal_matches(d, d, init_xy1=np.array([[1, 1]]), pixel_tol=tol)


def test_a_nan_score_of_two_valid_pixels_never_wins_the_search():
    """Two finite float32 descriptors whose inner product overflows to inf + (-inf) = NaN
    score NaN; next to an invalid (NaN) pixel of the same map the tile is sanitised, and that
    NaN loses every comparison (`_sanitize`: NaN -> the lowest finite score), so the query's
    nearest neighbour is the valid pixel of finite score. NaN -> the highest score passed every
    other test."""
    from mast3r_ros.core.matching.search import _nearest

    q = torch.tensor([[1e30, 1e30]])
    t = torch.tensor([[1e30, -1e30], [1.0, 1.0], [float("nan"), 0.0]])
    assert torch.isnan(q @ t[0]).item()
    bad = ~torch.isfinite(t).all(dim=1)
    got = _nearest(q, t.masked_fill(bad[:, None], 0.0), dist="dot", block_size=8, target_bad=bad)
    assert got.tolist() == [1]
