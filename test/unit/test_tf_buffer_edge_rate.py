"""Each time-varying tf edge is interpolated across gaps up to the larger of ``max_gap_ns`` and
2.5 times its own median sample spacing (one lost message, and half a period
of jitter). A 5 Hz map -> odom (a localizer such as AMCL; REP 105:
map -> odom is published slowly) gave no pose between its samples with the default
pose_at_stamp.max_gap_s of 0.1 s, which tf2 interpolates, and at 1.5 times its spacing one
lost message still left a gap; two lost in a row, or a hole in a fast edge, are still refused."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.tf_buffer import ExtrapolationError, TransformBuffer
from mast3r_test_utils import pose

S, MS = 1_000_000_000, 1_000_000
GAP = 100 * MS  # pose_at_stamp.max_gap_s's default


def _map_from_odom(t_ns: int) -> np.ndarray:
    return pose([0, 0, 0.1 * t_ns / S], [0.5 * t_ns / S, 0, 0])


def _robot(map_odom_every=200 * MS, drop_map_odom=(), hole=None) -> TransformBuffer:
    """map -> odom every ``map_odom_every`` from 1 s to 3 s (but the samples at ``drop_map_odom``
    ns), odom -> base_link at 50 Hz from 1 s to 3 s, none inside ``hole`` (lo, hi) ns."""
    b = TransformBuffer()
    for t in range(S, 3 * S + 1, map_odom_every):
        if t not in drop_map_odom:
            b.add_dynamic("map", "odom", t, _map_from_odom(t))
    for t in range(S, 3 * S + 1, 20 * MS):
        if hole is None or not hole[0] < t < hole[1]:
            b.add_dynamic("odom", "base_link", t, pose([0, 0, 0], [t / S, 0, 0]))
    return b


def test_a_5_hz_map_to_odom_is_interpolated_between_its_samples():
    b = _robot()
    t = S + 300 * MS  # half way between the map -> odom samples at 1.2 and 1.4 s
    got = b.lookup("map", "base_link", t, 0, GAP)
    want = _map_from_odom(t) @ pose([0, 0, 0], [t / S, 0, 0])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_a_hole_in_a_50_hz_edge_is_still_refused():
    """odom -> base_link at 50 Hz without a sample for 1 s: its median spacing is 0.02 s, so
    the gap it is interpolated across stays max_gap_ns (0.1 s)."""
    b = _robot(hole=(S + 500 * MS, 2 * S + 500 * MS))
    with pytest.raises(ExtrapolationError, match="odom -> base_link is not available at "
                       r"t=2.000000 s.*gaps up to 0.100 s; its samples around t are 1.000 s "
                       "apart") as err:
        b.lookup("map", "base_link", 2 * S, 0, GAP)
    assert err.value.gap_ns == S
    b.lookup("map", "base_link", S + 480 * MS, 0, GAP)  # beside the hole: a pose


def test_a_slow_edge_that_loses_one_message_is_interpolated():
    """One map -> odom sample missing (0.4 s between two samples of a 5 Hz edge: two periods)
    is a lost message, not an outage: interpolated, as tf2 does (the factor was 1.5, so this
    was a gap and every image in it had no pose)."""
    b = _robot(drop_map_odom=(S + 400 * MS,))
    t = S + 300 * MS
    np.testing.assert_allclose(b.lookup("map", "base_link", t, 0, GAP),
                               _map_from_odom(t) @ pose([0, 0, 0], [t / S, 0, 0]), atol=1e-12)


def test_a_slow_edge_that_loses_two_messages_in_a_row_is_a_gap():
    """Two map -> odom samples missing in a row (0.6 s, three periods of the 5 Hz edge) is an
    outage: refused, the message saying the edge's own gap and why; a larger max_gap_ns
    interpolates across it, as for any edge."""
    b = _robot(drop_map_odom=(S + 400 * MS, S + 600 * MS))
    with pytest.raises(ExtrapolationError, match=r"map -> odom .*gaps up to 0.500 s, 2.5 x its "
                       r"median sample spacing of 0.200 s \(one lost message\); its samples "
                       "around t are 0.600 s apart") as err:
        b.lookup("map", "base_link", S + 500 * MS, 0, GAP)
    assert err.value.gap_ns == 600 * MS
    b.lookup("map", "base_link", S + 500 * MS, 0, 600 * MS)


def test_an_edge_of_few_samples_keeps_max_gap():
    """Three samples say nothing of a publisher's rate: max_gap_ns alone, as before."""
    b = TransformBuffer()
    for t in (S, S + 200 * MS, S + 400 * MS):
        b.add_dynamic("map", "odom", t, _map_from_odom(t))
    with pytest.raises(ExtrapolationError, match="gaps up to 0.100 s;"):
        b.lookup("map", "odom", S + 100 * MS, 0, GAP)
    b.add_dynamic("map", "odom", S + 600 * MS, _map_from_odom(S + 600 * MS))  # a fourth
    np.testing.assert_allclose(b.lookup("map", "odom", S + 100 * MS, 0, GAP),
                               _map_from_odom(S + 100 * MS), atol=1e-12)


def test_edge_max_gap_ns():
    from mast3r_ros.core.tf_buffer import edge_max_gap_ns

    assert edge_max_gap_ns(None, 200 * MS) is None  # any gap, as tf2
    assert edge_max_gap_ns(GAP, None) == GAP
    assert edge_max_gap_ns(GAP, 20 * MS) == GAP
    assert edge_max_gap_ns(GAP, 200 * MS) == 500 * MS
    assert edge_max_gap_ns(GAP, 40 * MS) == GAP  # a 25 Hz edge: 2.5 x 0.04 s is 0.1 s
