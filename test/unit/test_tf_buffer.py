"""Tests of the ROS-free transform buffer."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.tf_buffer import (
    ExtrapolationError,
    TransformBuffer,
    TransformError,
)
from mast3r_test_utils import pose

S = 1_000_000_000


RNG = np.random.default_rng(0)
BASE_FROM_CAM = pose(RNG.normal(size=3), RNG.normal(size=3))
ODOM_FROM_BASE_0 = pose([0, 0, 0.0], [0, 0, 0])
ODOM_FROM_BASE_1 = pose([0, 0, 0.4], [1.0, 2.0, 0])
MAP_FROM_ODOM = pose([0, 0, -0.1], [5.0, 0, 0])
BASE_FROM_LIDAR = pose([0.1, 0, 0], [0, 0, 0.3])


@pytest.fixture
def buf() -> TransformBuffer:
    b = TransformBuffer()
    b.add_static("base_link", "camera_optical", BASE_FROM_CAM)
    b.add_static("base_link", "lidar", BASE_FROM_LIDAR)
    # added out of order on purpose
    b.add_dynamic("odom", "base_link", 2 * S, ODOM_FROM_BASE_1)
    b.add_dynamic("odom", "base_link", 1 * S, ODOM_FROM_BASE_0)
    b.add_dynamic("map", "odom", 1 * S, MAP_FROM_ODOM)
    b.add_dynamic("map", "odom", 2 * S, MAP_FROM_ODOM)
    return b


def test_chain_at_sample(buf):
    got = buf.lookup("map", "camera_optical", 2 * S)
    np.testing.assert_allclose(got, MAP_FROM_ODOM @ ODOM_FROM_BASE_1 @ BASE_FROM_CAM, atol=1e-12)


def test_chain_interpolated(buf):
    got = buf.lookup("map", "camera_optical", S + S // 4)
    odom_from_base = pose([0, 0, 0.1], [0.25, 0.5, 0])
    np.testing.assert_allclose(got, MAP_FROM_ODOM @ odom_from_base @ BASE_FROM_CAM, atol=1e-12)


def test_lookup_through_common_ancestor_and_inverse(buf):
    cam_from_lidar = buf.lookup("camera_optical", "lidar", 0)  # static-only path: any stamp
    np.testing.assert_allclose(cam_from_lidar, np.linalg.inv(BASE_FROM_CAM) @ BASE_FROM_LIDAR)
    lidar_from_map = buf.lookup("lidar", "map", 2 * S)
    expected = np.linalg.inv(MAP_FROM_ODOM @ ODOM_FROM_BASE_1 @ BASE_FROM_LIDAR)
    np.testing.assert_allclose(lidar_from_map, expected, atol=1e-12)
    np.testing.assert_array_equal(buf.lookup("map", "map", 0), np.eye(4))


def test_extrapolation_tolerance(buf):
    late = 2 * S + 10_000_000
    with pytest.raises(ExtrapolationError, match="odom -> base_link.*2.010000 s.*1.000000 s to 2"):
        buf.lookup("map", "camera_optical", late)
    got = buf.lookup("map", "camera_optical", late, tolerance_ns=20_000_000)
    np.testing.assert_allclose(got, MAP_FROM_ODOM @ ODOM_FROM_BASE_1 @ BASE_FROM_CAM, atol=1e-12)


def test_max_gap(buf):
    """Edges are taken by the one pose-at-stamp rule: no interpolation across a longer gap."""
    with pytest.raises(ExtrapolationError, match="gaps up to 0.500 s"):
        buf.lookup("map", "camera_optical", S + S // 4, tolerance_ns=S // 10, max_gap_ns=S // 2)
    near = buf.lookup("map", "camera_optical", S + S // 20, tolerance_ns=S // 10,
                      max_gap_ns=S // 2)
    np.testing.assert_allclose(near, MAP_FROM_ODOM @ ODOM_FROM_BASE_0 @ BASE_FROM_CAM, atol=1e-12)


def test_unknown_and_disconnected_frames(buf):
    with pytest.raises(TransformError, match="'camera' is not in the transform tree.*lidar"):
        buf.lookup("map", "camera", S)
    buf.add_static("world", "other", np.eye(4))
    with pytest.raises(TransformError, match="'map' and 'other' are not connected.*'world'"):
        buf.lookup("map", "other", S)
    assert issubclass(TransformError, InputError)


def test_tree_rules(buf):
    with pytest.raises(InputError, match="two parents"):
        buf.add_static("map", "base_link", np.eye(4))
    with pytest.raises(InputError, match="loop"):
        buf.add_static("camera_optical", "map", np.eye(4))
    buf.lookup("map", "camera_optical", S)  # the rejected edge was not kept: no loop
    with pytest.raises(InputError, match="both on /tf and /tf_static"):
        buf.add_dynamic("base_link", "lidar", S, np.eye(4))
    with pytest.raises(InputError, match="4x4"):
        buf.add_static("a", "b", np.eye(3))
    buf.add_static("base_link", "lidar", np.eye(4))  # a new static value replaces the old one
    np.testing.assert_array_equal(buf.lookup("base_link", "lidar", 0), np.eye(4))


def test_extrapolation_error_says_the_gap_it_fell_in(buf):
    """A stamp between two samples farther apart than max_gap carries their spacing (what a
    larger pose_at_stamp.max_gap_s would interpolate across); one outside the samples none."""
    with pytest.raises(ExtrapolationError, match="samples around t are 1.000 s apart") as err:
        buf.lookup("map", "camera_optical", S + S // 4, tolerance_ns=S // 10, max_gap_ns=S // 2)
    assert err.value.gap_ns == S
    with pytest.raises(ExtrapolationError) as err:
        buf.lookup("map", "camera_optical", 3 * S)
    assert err.value.gap_ns is None and "apart" not in str(err.value)


def test_bracketing_gaps():
    from mast3r_ros.core.trajectory import bracketing_gaps

    got = bracketing_gaps(np.array([10, 20, 50]), np.array([5, 10, 15, 30, 50, 60]))
    assert got.tolist() == [-1, 0, 10, 30, 0, -1]
    assert bracketing_gaps(np.zeros(0, np.int64), np.array([1])).tolist() == [-1]


def test_stored_transforms_are_copies_of_the_callers_arrays():
    """A caller that fills one array for every message (a reused buffer) must not rewrite the
    samples already stored: each lookup gives the value the array had when it was added."""
    b = TransformBuffer()
    m = np.eye(4)
    b.add_static("base", "cam", m)
    m[0, 3] = 5.0
    b.add_dynamic("odom", "base", 1 * S, m)
    m[0, 3] = 7.0
    b.add_dynamic("odom", "base", 2 * S, m)
    m[0, 3] = 9.0
    assert b.lookup("base", "cam", 0)[0, 3] == 0.0
    assert b.lookup("odom", "base", 1 * S)[0, 3] == 5.0
    assert b.lookup("odom", "base", 2 * S)[0, 3] == 7.0
