"""Pins of TransformBuffer's add / static side that the 2026-12-06d mutation audit found
untested: stamps beyond int64 (wrapped to another time), the root of a tree, a /tf edge later
set static, and transform fields that are not numbers."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.tf_buffer import TransformBuffer


def _shift(x: float) -> np.ndarray:
    pose = np.eye(4)
    pose[0, 3] = x
    return pose


@pytest.mark.parametrize("stamp", [2**63, 2**64 - 1])
def test_a_stamp_past_int64_is_refused_not_wrapped(stamp):
    # a negative stamp stored as uint64 (or a corrupt one): astype(int64) wrapped it to another
    # time, where a lookup found it without a word
    buf = TransformBuffer()
    with pytest.raises(InputError, match="outside int64"):
        buf.add_dynamic_tq("map", "base", np.array([stamp], np.uint64), [[0, 0, 0]],
                           [[0, 0, 0, 1]])
    with pytest.raises(InputError, match="outside int64"):
        buf.add_dynamic("map", "base", stamp, _shift(1.0))
    assert "base" not in buf.frames


def test_root_is_the_topmost_frame():
    buf = TransformBuffer()
    buf.add_static("map", "odom", _shift(1.0))
    buf.add_dynamic("odom", "base", 5, _shift(2.0))
    buf.add_static("base", "camera", _shift(0.1))
    assert [buf.root(f) for f in ("camera", "base", "odom", "map")] == ["map"] * 4


def test_a_tf_edge_set_static_with_its_value_holds_at_every_stamp():
    # a driver's transform first seen on /tf, then on /tf_static with the same value: one
    # constant transform (tf2), looked up far from the /tf sample's stamp
    buf = TransformBuffer()
    buf.add_dynamic("base", "camera", 1_000, _shift(0.25))
    buf.add_static("base", "camera", _shift(0.25))
    np.testing.assert_allclose(buf.lookup("base", "camera", 10**15), _shift(0.25))
    assert buf.static_between("base", "camera") == [("base", "camera")]


@pytest.mark.parametrize("field", ["translations", "quats_xyzw"])
def test_transform_fields_that_are_not_numbers_are_refused_naming_them(field):
    buf = TransformBuffer()
    values = {"translations": [[0.0, 0.0, 0.0]], "quats_xyzw": [[0.0, 0.0, 0.0, 1.0]]}
    values[field] = [["a"] * len(values[field][0])]
    with pytest.raises(InputError, match=f"{field} must be numbers"):
        buf.add_dynamic_tq("map", "base", [1], values["translations"], values["quats_xyzw"])
