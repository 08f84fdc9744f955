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
