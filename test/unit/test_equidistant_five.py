"""A fisheye CameraInfo whose driver sizes D for plumb_bob whatever the model: 'equidistant'
with five coefficients, the fifth zero (realsense-ros's fisheye streams published it so)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import intrinsics_from_camera_info
from mast3r_ros.core.message_fields import camera_info_to_intrinsics

K = [285.0, 0, 424.0, 0, 285.0, 400.0, 0, 0, 1]
KB4 = [-0.0071, 0.0443, -0.0418, 0.0077]


def _same(a, b) -> None:
    assert (a.width, a.height, a.distortion_model) == (b.width, b.height, b.distortion_model)
    np.testing.assert_array_equal(a.K, b.K)
    np.testing.assert_array_equal(a.dist, b.dist)


def test_a_zero_fifth_coefficient_is_read_as_the_four():
    """Refused before: 'equidistant expects (0, 4) distortion coefficients, got 5', a count the
    user of a recorded bag cannot change; Kannala-Brandt has four coefficients and a zero fifth
    adds nothing, so the camera reads as with the four."""
    four = intrinsics_from_camera_info(848, 800, K, KB4, "equidistant")
    five = intrinsics_from_camera_info(848, 800, K, KB4 + [0.0], "equidistant")
    _same(five, four)
    assert five.dist.tolist() == KB4
    info = NS(width=848, height=800, k=K, d=np.array(KB4 + [0.0]), distortion_model="equidistant",
              p=np.zeros(12), r=np.eye(3).reshape(-1), binning_x=0, binning_y=0, roi=None)
    _same(camera_info_to_intrinsics(info), four)


def test_a_non_zero_fifth_coefficient_is_still_refused():
    with pytest.raises(InputError, match=r"CameraInfo D: equidistant expects \(0, 4\) "
                                         r"distortion coefficients, got 5"):
        intrinsics_from_camera_info(848, 800, K, KB4 + [0.001], "equidistant")
