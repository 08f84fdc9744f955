"""Pins of `localizer.upright`'s rules that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested: the agreement bound, the gate's bound
and its off switch, and a pose exactly along (or against) the map's down."""

from __future__ import annotations

import math

import numpy as np

from mast3r_ros.core.localizer.upright import down_axis_reason, map_down_axis


def _poses(ups):
    """(N, 4, 4) poses whose camera -y axis is each of ``ups`` (only that column is read)."""
    P = np.tile(np.eye(4), (len(ups), 1, 1))
    P[:, :3, 1] = -np.asarray(ups, np.float64)
    return P


def test_keyframes_agreeing_exactly_0_8_have_a_down_and_0_6_none():
    exact = [(1, 0, 0), (1, 0, 0), (0.6, 0.8, 0), (0.6, -0.8, 0)]      # mean resultant 0.8
    np.testing.assert_allclose(map_down_axis(_poses(exact)), [-1.0, 0, 0])
    wide = [(math.cos(math.radians(a)), math.sin(math.radians(a)), 0) for a in range(-90, 91, 10)]
    assert map_down_axis(_poses(wide)) is None                          # 0.60


def test_the_bound_is_inclusive_and_any_positive_bound_gates():
    pose = np.eye(4)                                   # image-down axis (0, 1, 0)
    assert down_axis_reason(90.0, np.array([1.0, 0, 0]), pose) == ""    # exactly 90 deg
    assert down_axis_reason(89.9, np.array([1.0, 0, 0]), pose) != ""
    tilted = np.array([math.sin(math.radians(10)), math.cos(math.radians(10)), 0.0])
    assert down_axis_reason(0.5, tilted, pose).startswith(
        "the image is upside down or sideways (10 deg from the map keyframes' down direction, "
        "more than gates.max_down_axis_deg 0.5)")


def test_a_pose_along_or_against_the_maps_down_never_raises():
    """The map's down is a normalised mean: one of its components can round to just over the
    pose's (some random single-keyframe maps give y . down = 1.0000000000000002), where
    acos would raise without the clamp."""
    pose = np.eye(4)                                   # image-down axis (0, 1, 0)
    down = np.array([0.0, np.nextafter(1.0, 2.0), 0.0])
    assert float(pose[:3, 1] @ down) > 1.0
    assert down_axis_reason(10.0, down, pose) == ""
    turned = pose.copy()
    turned[:3, :2] *= -1                               # 180 deg about the optical axis
    assert "(180 deg from the map keyframes' down" in down_axis_reason(10.0, down, turned)
