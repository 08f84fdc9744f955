"""Pins for the survivors of the mutation audit of core/geometry.py (docs/bench/mutation_cpu_*):
what a pose written to a TUM file, a depth read at a sub-pixel position, a quaternion read from
one, a look-at camera and a rotation check give a user."""

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import (is_valid_pose, look_at, non_rigid_reason,
                                      nonfinite_entries, pose_from_tum, pose_to_tum,
                                      rotation_angle_deg, sample_depth)


def _sheared(e: float) -> np.ndarray:
    """A pose whose rotation block is I plus ``e`` in one off-diagonal entry: max |R R^T - I|
    is ``e`` and the determinant stays 1."""
    T = np.eye(4)
    T[0, 1] = e
    T[:3, 3] = [1.0, 2.0, 3.0]
    return T


def test_every_pose_the_localizer_accepts_can_be_written_to_tum():
    # 7e-5 off orthonormal is within is_valid_pose's 1e-4 (the localizer's prior and hint
    # check); pose_to_tum must write it, not refuse it with a reason of its own.
    T = _sheared(7e-5)
    assert is_valid_pose(T)
    assert non_rigid_reason(T) == ""
    row = pose_to_tum(T)
    assert row.shape == (1, 7)
    np.testing.assert_allclose(row[0, :3], [1.0, 2.0, 3.0])


def test_pose_to_tum_refuses_a_last_row_off_by_more_than_the_tolerance():
    # 1.5e-4 on the homogeneous 1: not a rigid transform; written, it would lose the scale.
    T = np.eye(4)
    T[3, 3] = 1.00015
    assert not is_valid_pose(T)
    with pytest.raises(InputError, match=r"poses\[0\] is not a rigid transform: last row"):
        pose_to_tum(T)
    T[3, 3] = 1.5
    assert "last row" in non_rigid_reason(T)


def test_pose_to_tum_refuses_a_stack_of_stacks():
    with pytest.raises(InputError, match=r"must be \(N, 4, 4\), got shape \(2, 3, 4, 4\)"):
        pose_to_tum(np.tile(np.eye(4), (2, 3, 1, 1)))


def test_is_valid_pose_is_false_not_an_error_for_a_3x4_pose():
    assert is_valid_pose(np.eye(4)[:3]) is False
    assert is_valid_pose(np.full((4, 4), np.nan)) is False


def test_a_scale_is_not_called_a_reflection():
    assert "reflection" not in non_rigid_reason(np.diag([0.5, 0.5, 0.5, 1.0]))  # det 0.125
    assert "(a reflection)" in non_rigid_reason(np.diag([1.0, 1.0, -1.0, 1.0]))


def test_rotation_angle_deg_names_what_is_wrong_with_a_non_rotation():
    with pytest.raises(InputError, match="not orthonormal"):
        rotation_angle_deg(2 * np.eye(3))
    with pytest.raises(InputError, match=r"R is not a rotation: nan at \[0, 0\]"):
        rotation_angle_deg(np.diag([np.nan, 1.0, 1.0]))
    # its documented 1e-3 on the determinant: a 1.0004 scale (det 1.0012) is no rotation
    with pytest.raises(InputError, match="determinant"):
        rotation_angle_deg(1.0004 * np.eye(3))


def test_nonfinite_entries_lists_three_and_says_there_are_more():
    a = np.full(4, np.nan)
    assert nonfinite_entries(a[:3]) == "nan at [0], nan at [1], nan at [2] (3 of 3)"
    assert nonfinite_entries(a).endswith(", ... (4 of 4)")


def test_a_small_quaternion_is_normalised_not_refused():
    # a quaternion written at 1e-4 of unit length is a rotation (only a zero one is refused)
    half = np.radians(90.0) / 2
    q = 1e-4 * np.array([0.0, 0.0, np.sin(half), np.cos(half)])
    T = pose_from_tum(np.r_[0.0, 0.0, 0.0, q])[0]
    np.testing.assert_allclose(T[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)


def test_sample_depth_is_the_depth_at_every_pixel_centre_including_the_last_column_and_row():
    # a depth that is not linear in x or y (within the 5 % step a neighbourhood may have)
    h, w = 4, 6
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    depth = 2.0 + 0.001 * x ** 2 + 0.002 * y ** 2
    px = np.stack([x.ravel(), y.ravel()], axis=1)
    np.testing.assert_allclose(sample_depth(depth, px), depth.ravel(), rtol=0, atol=1e-12)
    # half-way into the last cell: the mean of its two columns
    got = sample_depth(depth, np.array([[w - 1.5, 0.0]]))
    np.testing.assert_allclose(got, [(depth[0, w - 2] + depth[0, w - 1]) / 2], atol=1e-12)


def test_look_at_a_target_closer_than_one_metre():
    T = look_at(np.zeros(3), np.array([0.3, 0.0, 0.0]))
    np.testing.assert_allclose(T[:3, 2], [1.0, 0.0, 0.0], atol=1e-12)  # optical axis
    np.testing.assert_allclose(T[:3, 1], [0.0, 0.0, -1.0], atol=1e-12)  # image down = -up
    with pytest.raises(InputError, match="target is the eye"):
        look_at(np.ones(3), np.ones(3))
