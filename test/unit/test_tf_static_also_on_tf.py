"""A static transform that a driver also publishes on /tf with the same value (realsense-ros
with tf_publish_rate > 0 does) was refused, "published both on /tf and /tf_static", failing
the whole build; tf2 takes both (one cache per frame). The same value is now read as static,
in either order and through both add paths; different values are still refused, saying how
far apart they are."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.tf_buffer import TransformBuffer
from scipy.spatial.transform import Rotation

S = 1_000_000_000
BASE_FROM_CAM = np.eye(4)
BASE_FROM_CAM[:3, :3] = Rotation.from_euler("xyz", [-np.pi / 2, 0, -np.pi / 2]).as_matrix()
BASE_FROM_CAM[:3, 3] = [0.1, 0.0, 0.3]
TQ = (BASE_FROM_CAM[:3, 3], Rotation.from_matrix(BASE_FROM_CAM[:3, :3]).as_quat())


def _moving(buf: TransformBuffer) -> None:
    for i in range(3):
        m = np.eye(4)
        m[0, 3] = i
        buf.add_dynamic("map", "base_link", i * S, m)


@pytest.mark.parametrize("static_first", [True, False])
@pytest.mark.parametrize("as_tq", [True, False])
def test_the_same_value_on_tf_and_tf_static_is_read_as_static(static_first, as_tq):
    buf = TransformBuffer()
    _moving(buf)

    def dynamic():
        if as_tq:
            buf.add_dynamic_tq("base_link", "cam", [S // 2, 3 * S // 2], [TQ[0]] * 2, [TQ[1]] * 2)
        else:
            buf.add_dynamic("base_link", "cam", S // 2, BASE_FROM_CAM)

    steps = [lambda: buf.add_static("base_link", "cam", BASE_FROM_CAM), dynamic]
    for step in steps if static_first else steps[::-1]:
        step()  # before: InputError 'published both on /tf and /tf_static'
    # static: any stamp, even before the /tf samples of that edge
    got = buf.lookup("map", "cam", 0)
    np.testing.assert_allclose(got, BASE_FROM_CAM, atol=1e-12)
    assert buf.static_between("base_link", "cam") == [("base_link", "cam")]


@pytest.mark.parametrize("static_first", [True, False])
def test_different_values_on_tf_and_tf_static_are_still_refused(static_first):
    buf = TransformBuffer()
    moved = BASE_FROM_CAM.copy()
    moved[0, 3] += 0.05
    steps = [lambda: buf.add_static("base_link", "cam", BASE_FROM_CAM),
             lambda: buf.add_dynamic("base_link", "cam", S, moved)]
    with pytest.raises(InputError, match=r"both on /tf and /tf_static, with values 0.05 apart"):
        for step in steps if static_first else steps[::-1]:
            step()


def test_a_static_child_given_on_tf_with_another_parent_is_two_parents():
    """A frame static under 'a' sent on /tf under 'b' (same value) is a tree with two parents,
    not the static transform repeated on /tf."""
    buf = TransformBuffer()
    buf.add_static("a", "c", np.eye(4))
    with pytest.raises(InputError, match="frame 'c' has two parents, 'a' and 'b'"):
        buf.add_dynamic("b", "c", 5, np.eye(4))


def test_a_static_transform_repeated_on_tf_a_micrometre_off_is_refused():
    """The two must be the same value (1e-9): 1 um apart is two publishers disagreeing."""
    buf = TransformBuffer()
    buf.add_static("a", "c", np.eye(4))
    off = np.eye(4)
    off[0, 3] = 1e-6
    with pytest.raises(InputError, match="published both on /tf and /tf_static"):
        buf.add_dynamic("a", "c", 5, off)
