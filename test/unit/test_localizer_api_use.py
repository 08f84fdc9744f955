"""The localizer as a Python library user drives it: a prior given the wrong way."""

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.localizer.query_checks import _checked_pose


def test_prior_errors_say_what_is_wrong():
    with pytest.raises(InputError, match=r"got shape \(3, 4\); append the row \[0, 0, 0, 1\]"):
        _checked_pose(np.eye(4)[:3], "prior")
    nan = np.eye(4)
    nan[0, 3] = np.nan
    with pytest.raises(InputError, match=r"not finite: nan at \[0, 3\]"):
        _checked_pose(nan, "prior")
    with pytest.raises(InputError, match="not rigid: .*determinant -1"):
        _checked_pose(np.diag([1.0, 1.0, -1.0, 1.0]), "hint")
    # localize(frame, True) meant force_global: it was a ValueError/'shape ()' before
    with pytest.raises(InputError, match="pass force_global=True by name"):
        _checked_pose(True, "prior")
    with pytest.raises(InputError, match="prior must be a finite 4x4 rigid transform"):
        _checked_pose("global", "prior")  # ValueError: could not convert string to float
    with pytest.raises(InputError, match="got object"):
        _checked_pose(object(), "hint")
