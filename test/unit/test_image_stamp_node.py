"""Parameter image_stamp 'receive' of the node, its ROS-free part: a driver stamping with the
camera's own clock got its images refused as hours old or stamped ahead, and the reasons offered
only fixing the driver or the clocks. Each image can now be stamped when it arrives (the node
clock's now in the image callback, `core.image_stamp.restamp_on_receipt`), and the reasons name
that remedy with its cost (the transport latency); the default 'header' changes nothing."""

from __future__ import annotations

import types

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_stamp import restamp_on_receipt
from mast3r_ros.ros import admission

S = 1_000_000_000
EPOCH = 1_765_000_000 * S


def _header(sec, nanosec):
    return types.SimpleNamespace(stamp=types.SimpleNamespace(sec=sec, nanosec=nanosec))


def test_the_node_restamps_an_arriving_image_with_the_clock_only_when_asked():
    h = _header(3725, 5)
    assert restamp_on_receipt(h, "header", EPOCH + 7) is False  # a bool, as documented
    assert (h.stamp.sec, h.stamp.nanosec) == (3725, 5)
    assert restamp_on_receipt(h, "receive", EPOCH + 123_456_789)
    assert (h.stamp.sec, h.stamp.nanosec) == (EPOCH // S, 123_456_789)
    assert restamp_on_receipt(h, "receive", 0)  # use_sim_time before /clock: refused later
    assert (h.stamp.sec, h.stamp.nanosec) == (0, 0)
    with pytest.raises(InputError, match="image_stamp must be one of header, receive"):
        restamp_on_receipt(h, "Receive", EPOCH)


def test_the_node_s_other_clock_reasons_name_image_stamp_receive_and_its_cost():
    behind = admission.far_from_clock_note(EPOCH - 3 * 3600 * S, EPOCH)
    stale = admission.stale_reason(2 * 86400.0, 1.0)
    _, ahead = admission.future_stamp_refusal(EPOCH + 5 * S, EPOCH, 1.0)
    for reason in (behind, stale, ahead):
        assert "set the parameter image_stamp to receive" in reason, reason
        assert "transport latency" in reason, reason


def test_a_clock_the_stamp_cannot_hold_is_refused_and_the_header_left_alone():
    """builtin_interfaces/Time's ``sec`` is int32: rclpy's setter raised an AssertionError for
    a clock past 2038 (on a fake header the stamp silently overflowed). It is an `InputError`
    saying why, before any field is written."""
    h = _header(7, 8)
    limit = (2**31 - 1) * S + S - 1                 # 2038-01-19 03:14:07.999999999
    assert restamp_on_receipt(h, "receive", limit)
    assert (h.stamp.sec, h.stamp.nanosec) == (2**31 - 1, S - 1)
    h = _header(7, 8)
    with pytest.raises(InputError, match=r"int32 sec.*2038-01-19 03:14:07 UTC"):
        restamp_on_receipt(h, "receive", limit + 1)
    assert (h.stamp.sec, h.stamp.nanosec) == (7, 8)
