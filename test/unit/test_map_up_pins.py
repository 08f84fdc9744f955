"""Pins of `core.map_up`'s rules that the mutation audit docs/bench/mutation_cpu_2026-12-07zl
found untested: the fewest keyframes and the agreement it judges on, the exact 45 deg bound,
and what `keyframe_ups` keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mast3r_ros.core.map_up import is_tilted, keyframe_ups, map_up_doubt, up_tilt_deg


def _poses(ups):
    """(N, 4, 4) poses whose camera -y axis (the up `keyframe_ups` reads) is each of ``ups``
    (the other columns the identity's: only the second column is read)."""
    P = np.tile(np.eye(4), (len(ups), 1, 1))
    P[:, :3, 1] = -np.asarray(ups, np.float64)
    return P


def test_three_keyframes_agreeing_on_a_sideways_up_are_enough():
    why = map_up_doubt(_poses([(1, 0, 0)] * 3))
    assert why.startswith("the keyframe cameras' up (their -y axis) lies 90 deg from the z axis "
                          "of 'map' (3 of 3 keyframes over 45 deg)")
    assert map_up_doubt(_poses([(1, 0, 0)] * 2)) == ""


def test_ups_spread_over_120_deg_do_not_agree():
    """Ups every 10 deg from -60 to +60 deg about the map's z, all horizontal: their mean is
    0.80 long, under 0.9: not judged; within +-20 deg (0.98) they agree."""
    wide = [(math.cos(math.radians(a)), math.sin(math.radians(a)), 0) for a in range(-60, 61, 10)]
    assert 0.75 < np.linalg.norm(keyframe_ups(_poses(wide)).mean(axis=0)) < 0.85
    assert map_up_doubt(_poses(wide)) == ""
    near = [(math.cos(math.radians(a)), math.sin(math.radians(a)), 0) for a in range(-20, 21, 10)]
    assert map_up_doubt(_poses(near)) != ""


def test_exactly_45_deg_is_not_tilted(monkeypatch):
    from mast3r_ros.core import map_up

    monkeypatch.setattr(map_up, "up_tilt_deg", lambda up: 45.0)   # libm-independent
    assert not is_tilted([1.0, 0.0, 1.0])
    monkeypatch.setattr(map_up, "up_tilt_deg", lambda up: 45.000001)
    assert is_tilted([1.0, 0.0, 1.0])
    monkeypatch.undo()
    assert up_tilt_deg([0.0, 0.0, 0.5]) == 0.0
    assert up_tilt_deg([0.0, 0.5, 0.5]) == pytest.approx(45.0, abs=1e-9)


def test_keyframe_ups_are_unit_and_skip_zero_axes_and_what_is_not_poses():
    ups = keyframe_ups(_poses([(2.0, 0, 0), (0, 0, 0), (0, 0, -0.5)]))
    np.testing.assert_array_equal(ups, [[1.0, 0, 0], [0, 0, -1.0]])
    assert keyframe_ups(np.zeros((3, 3))).shape == (0, 3)
    rotations = _poses([(1, 0, 0)] * 4)[:, :3, :3]               # (4, 3, 3): not 4x4 poses
    assert keyframe_ups(rotations).shape == (0, 3) and map_up_doubt(rotations) == ""
