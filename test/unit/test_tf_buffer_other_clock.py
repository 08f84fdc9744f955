"""A lookup more than a day outside a transform's samples (images stamped with a camera's time
since boot, tf with ROS time) is named as two clocks; before, the error gave the bare range
('not available at t=1000.000000 s: it is known from 1700000000.000000 s to ...')."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.tf_buffer import ExtrapolationError, TransformBuffer

S = 1_000_000_000
EPOCH = 1_700_000_000 * S


def _buffer() -> TransformBuffer:
    buf = TransformBuffer()
    for i in range(5):
        buf.add_dynamic("map", "base_link", EPOCH + i * S // 10, np.eye(4))
    return buf


@pytest.mark.parametrize("stamp_ns, side", [(1000 * S, "before its first"),
                                            (EPOCH + 3 * 86_400 * S, "after its last")])
def test_a_stamp_days_away_from_the_samples_is_named_as_another_clock(stamp_ns, side):
    with pytest.raises(ExtrapolationError) as err:
        _buffer().lookup("map", "base_link", stamp_ns, 20_000_000, 100_000_000)
    text = str(err.value)
    assert "it is known from 1700000000.000000 s" in text  # the range is still given
    assert f"days {side} sample, so the two are stamped by different clocks" in text, text


@pytest.mark.parametrize("stamp_ns", [EPOCH - 5 * S, EPOCH + 86_000 * S])
def test_a_stamp_within_a_day_keeps_the_plain_message(stamp_ns):
    with pytest.raises(ExtrapolationError) as err:
        _buffer().lookup("map", "base_link", stamp_ns, 20_000_000, 100_000_000)
    # the plain message ends with its gap clause ('... up to 0.250 s, 2.5 x its median sample
    # spacing of 0.100 s (one lost message))' since tf edges are interpolated across one lost
    # message): no note after it
    assert "clocks" not in str(err.value) and str(err.value).endswith("0.100 s (one lost message))")


def test_exactly_a_day_outside_the_samples_keeps_the_plain_message():
    with pytest.raises(ExtrapolationError) as err:
        _buffer().lookup("map", "base_link", EPOCH - 86_400 * S, 20_000_000, 100_000_000)
    assert "clocks" not in str(err.value)


def test_a_stamp_of_zero_is_named_as_unstamped_not_another_clock():
    """A bag whose images are stamped but for one republished with header.stamp 0: the reader
    names that image, then its skipped pose said 't is 19675.9 days before its first sample,
    so the two are stamped by different clocks (a camera's time since boot ...?): have the
    driver stamp with ROS time', sending the user to a driver whose stamps are right."""
    with pytest.raises(ExtrapolationError) as err:
        _buffer().lookup("map", "base_link", 0, 20_000_000, 100_000_000)
    text = str(err.value)
    assert "clocks" not in text and "days" not in text, text
    assert "t is 0, an unset header.stamp" in text, text


def test_the_other_clock_note_is_carried_apart_from_the_reason():
    """A bag reader that names the clocks itself (its receive times' note) words its message
    from the reason alone: the note is not cut out of the text."""
    with pytest.raises(ExtrapolationError) as err:
        _buffer().lookup("map", "base_link", 1000 * S, 20_000_000, 100_000_000)
    e = err.value
    assert str(e) == e.reason + e.note and e.reason.startswith("transform map -> base_link")
    assert "clocks" not in e.reason and "stamped by different clocks" in e.note
    with pytest.raises(ExtrapolationError) as err:
        _buffer().lookup("map", "base_link", EPOCH - 5 * S, 20_000_000, 100_000_000)
    assert err.value.note == "" and str(err.value) == err.value.reason
