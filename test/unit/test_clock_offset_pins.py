"""Edges of the image clock check (`rosbag.clock_offset`) that the bag tests do not reach, each
left by the mutation audit of 2026-12-08: the 1 s threshold, the 5 s window, a stream of two
messages, the ratio bounds. Pure functions on int ns arrays; no bag is written."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from mast3r_ros.replay.rosbag.clock_offset import (ClockOffset, _span, _ticks,  # noqa: E402
                                                   image_clock_offset, other_clock_note)

MS, S = 1_000_000, 1_000_000_000
EPOCH = 1_765_000_000 * S


def _found(offset):
    return ClockOffset(offset, ("map", "base_link"), offset + 30 * MS, 30 * MS, EPOCH - offset,
                       EPOCH)


@pytest.mark.parametrize("offset, said", [(900 * MS, False), (S, False), (S + 1, True),
                                          (-S, False), (-S - 1, True)])
def test_an_offset_of_a_second_or_less_is_one_clock(offset, said):
    """Latencies differ by tens of ms, a few hundred on a slow link: up to 1 s (included) the
    images and tf are one clock, nothing said; past it, the two clocks are named."""
    note = other_clock_note("bag", "/cam/image", _found(offset))
    assert (note != "") is said, note
    if said:
        assert "stamped by different clocks" in note
        assert ("behind" if offset > 0 else "ahead of") in note


@pytest.mark.parametrize("gap, compared", [(5 * S, True), (5 * S + 1, False)])
def test_a_tf_sample_received_5_s_from_an_image_is_compared_one_later_is_not(gap, compared):
    """Only the last image has a tf sample within 5 s (inclusive) of its receive time."""
    img = EPOCH + np.arange(10) * 100 * MS
    rx = img + 30 * MS
    tf_rx = rx[-1] + gap + np.arange(10) * 100 * MS
    found = image_clock_offset(img, rx, {("map", "base_link"): (tf_rx - MS, tf_rx)})
    assert (found is not None) is compared
    if compared:  # the last image alone, against the first tf sample
        assert found.offset == 29 * MS and found.image_stamp == img[-1]


@pytest.mark.parametrize("layout", ["nearest before", "nearest after", "after every sample"])
def test_each_image_is_compared_with_the_tf_sample_received_nearest_to_it(layout):
    """Images received at 250-350 ms; the tf sample nearest them received at 200 ms (the
    one before it at 100 ms with another latency, the next 8 s later, or none), or at 400 ms
    (the one before it 8 s earlier, the next ones with another latency)."""
    img = EPOCH + np.array([220, 270, 320]) * MS
    rx = img + 30 * MS
    tf_rx, latency = {"nearest before": ([0, 100, 200, 8_000], [1, 7, 1, 1]),
                      "nearest after": ([-8_000, 400, 500, 600], [1, 1, 7, 7]),
                      "after every sample": ([0, 100, 200], [1, 7, 1])}[layout]
    tf_rx, latency = EPOCH + np.array(tf_rx) * MS, np.array(latency) * MS
    found = image_clock_offset(img, rx, {("map", "base_link"): (tf_rx - latency, tf_rx)})
    assert found is not None and found.offset == 29 * MS and found.tf_offset == MS


def test_a_long_recording_is_measured_on_400_images_spread_over_it():
    """1000 images, more than `_COMPARED`: an even spread of them, indices inside the array."""
    img = EPOCH + np.arange(1000) * 100 * MS
    found = image_clock_offset(img, img + 30 * MS, {("map", "base_link"): (img, img + MS)})
    assert found.offset == 29 * MS and img[0] < found.image_stamp < img[-1]


def test_unstamped_images_are_left_out():
    """Half the images with stamp 0 (a driver that had no time yet): the others measured."""
    img = EPOCH + np.arange(10) * 100 * MS
    rx = img + 30 * MS
    img[:5] = 0
    tf = {("map", "base_link"): (rx - MS, rx)}
    found = image_clock_offset(img, rx, tf)
    assert found.offset == 29 * MS and found.image_offset == 30 * MS


def test_a_stream_of_two_messages_says_nothing():
    """One step of stamps cannot tell receive times that advance with them from made-up ones:
    two images (or two tf samples) give no measure, three do."""
    img = EPOCH + np.arange(3) * 100 * MS
    tf = {("map", "base_link"): (img, img + MS)}
    assert image_clock_offset(img[:2], img[:2] + 30 * MS, tf) is None
    assert image_clock_offset(img, img + 30 * MS, {("map", "base_link"): (img[:2], img[:2] + MS)}
                              ) is None
    assert image_clock_offset(img, img + 30 * MS, tf).offset == 29 * MS


@pytest.mark.parametrize("per_step, ticks", [(10, True), (9, False), (1000, True),
                                             (1001, False)])
def test_receive_times_advancing_at_a_tenth_to_ten_times_the_stamps_tick(per_step, ticks):
    """The ratio of receive to stamp steps is accepted from 0.1 to 10, both included."""
    stamps = np.arange(5, dtype=np.int64) * 100
    assert _ticks(stamps, stamps * per_step // 100) is ticks


@pytest.mark.parametrize("ns, text", [(7_199 * S, "7199.000 s"), (7_200 * S, "2.0 h"),
                                      (172_799 * S, "48.0 h"), (172_800 * S, "2.0 days")])
def test_an_offset_is_given_in_hours_from_2_h_and_in_days_from_2_days(ns, text):
    assert _span(ns) == text
