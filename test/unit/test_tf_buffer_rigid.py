"""The tf buffer inverts its transforms as rigid ones (R^T, -R^T t): it refuses any other."""

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.tf_buffer import TransformBuffer


def _turn(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def test_a_scaled_static_is_refused_not_inverted_wrongly():
    # R scaled by 0.1 %: np.linalg.inv inverted it exactly, R^T does not (lookup @ T = 1.002 I)
    T = make_pose(_turn(30) * 1.001, [1.0, 2.0, 0.5])
    buf = TransformBuffer()
    with pytest.raises(InputError, match=r"transform map -> cam is not a rigid transform: "
                                         r"rotation block not orthonormal"):
        buf.add_static("map", "cam", T)


def test_a_projective_last_row_or_a_reflection_is_refused():
    T = make_pose(_turn(10), [0.2, 0.0, 0.0])
    T[3, :3] = [0.5, 0.0, 0.0]  # the inverse ignores the last row: it would read as identity
    with pytest.raises(InputError, match="last row"):
        TransformBuffer().add_dynamic("odom", "base", 5, T)
    with pytest.raises(InputError, match="a reflection"):
        TransformBuffer().add_static("a", "b", make_pose(np.diag([1.0, 1.0, -1.0]), [0, 0, 0]))


def test_rigid_transforms_are_kept_and_looked_up_both_ways():
    from mast3r_ros.core.geometry import rigid_pose

    T = make_pose(_turn(30), [1.0, 2.0, 0.5])
    np.testing.assert_array_equal(rigid_pose(T, "T"), T)
    buf = TransformBuffer()
    buf.add_static("map", "cam", T)
    np.testing.assert_allclose(buf.lookup("cam", "map", 0) @ T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(buf.lookup("map", "cam", 0), T, atol=1e-12)
