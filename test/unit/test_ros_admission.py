"""The node's per-frame boundary, without ROS (`ros/admission.py`)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest

from mast3r_ros.ros import admission
from mast3r_ros.ros.admission import (
    REPEATED_STAMP,
    ZERO_STAMP,
    ArrivalStats,
    ErrorThrottle,
    TfTimeline,
    compressed_image_size,
    error_key,
    image_size_refusal,
    message_image_size,
    stamp_refusal,
)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
@pytest.mark.parametrize("w,h", [(640, 480), (2000, 16), (17, 3001)])
def test_compressed_size_is_read_from_the_header(ext, w, h):
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, rgb)
    assert ok
    data = buf.tobytes()
    assert compressed_image_size(data) == (w, h)
    assert compressed_image_size(bytearray(data)) == (w, h)        # array('B')-like too
    msg = NS(format="jpeg", data=data, header=None)
    assert message_image_size(msg) == (w, h)


def test_progressive_jpeg_and_unknown_payloads():
    rgb = np.zeros((120, 160, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and compressed_image_size(buf.tobytes()) == (160, 120)
    assert compressed_image_size(b"") is None
    assert compressed_image_size(b"not an image at all") is None
    assert compressed_image_size(b"\xff\xd8\xff\xe0\x00") is None     # truncated JPEG
    raw = NS(encoding="rgb8", width=4000, height=3000, data=b"")
    assert message_image_size(raw) == (4000, 3000)


def _jpeg_640x480_with(segment: bytes) -> bytes:
    """A 640x480 JPEG with ``segment`` inserted right after SOI (before its SOF0)."""
    ok, buf = cv2.imencode(".jpg", np.zeros((480, 640, 3), np.uint8))
    assert ok
    data = buf.tobytes()
    return data[:2] + segment + data[2:]


@pytest.mark.parametrize("segment", [
    # an EXIF-sized APP1 (a camera's thumbnail): the SOF lies past the first 4 KiB
    b"\xff\xe1" + (20000).to_bytes(2, "big") + bytes(19998),
    # a DHT (0xC4, in the SOF range but no frame header) whose bytes would read as 5x7
    b"\xff\xc4\x00\x09" + b"\x00\x00\x07\x00\x05\x00\x00",
    # fill bytes before a marker (ITU T.81 B.1.1.2)
    b"\xff\xff\xff\xe0\x00\x04\x00\x00",
], ids=["big-app1", "dht-before-sof", "fill-bytes"])
def test_jpeg_size_found_past_other_segments(segment):
    assert compressed_image_size(_jpeg_640x480_with(segment)) == (640, 480)


def test_size_limits_are_inclusive():
    """max_image_pixels is the largest image accepted; an arrival exactly window_s ago still
    counts; a repeat exactly line_interval_s / traceback_interval_s later is reported."""
    assert image_size_refusal((640, 480), 640 * 480) == ""
    assert "max_image_pixels" in image_size_refusal((640, 481), 640 * 480)
    a = ArrivalStats(window_s=10.0)
    a.note(0.0, 1)
    assert a.rate_hz(10.0) == pytest.approx(0.1)
    t = ErrorThrottle(line_interval_s=10.0, traceback_interval_s=300.0)
    assert t.report("k", 0.0).traceback
    assert t.report("k", 5.0) == admission.ErrorReport(False, False, 1)
    assert t.report("k", 10.0) == admission.ErrorReport(False, True, 1)
    t.report("k", 11.0)
    t.report("k", 12.0)
    # the traceback again, with the count suppressed since the last line
    assert t.report("k", 300.0) == admission.ErrorReport(True, True, 2)


def test_image_size_refusals_name_the_reason():
    assert image_size_refusal((640, 480), 8_294_400, 512, (640, 480)) == ""
    assert image_size_refusal(None, 100, 512, (640, 480)) == ""          # checked after decoding
    big = image_size_refusal((4000, 3000), 8_294_400, 512, (4000, 3000))
    assert "max_image_pixels" in big and "4000x3000" in big
    strip = image_size_refusal((2000, 16), 8_294_400, 512, (2000, 16))
    assert "2000x16" in strip and "too elongated" in strip
    tiny = image_size_refusal((60, 12), 8_294_400, 512, (60, 12))
    assert "60x12" in tiny and "under 16 px" in tiny
    mismatch = image_size_refusal((640, 360), 8_294_400, 512, (640, 480))
    assert "640x360" in mismatch and "640x480" in mismatch and "CameraInfo" in mismatch
    assert "empty" in image_size_refusal((0, 480), 8_294_400)
    # the pixel bound comes before anything that would need the image
    assert "max_image_pixels" in image_size_refusal((5000, 5000), 1_000_000, 512, (1, 1))
    assert image_size_refusal((2000, 16), 8_294_400) == ""             # no network check asked


def test_size_mismatch_from_binning_applied_twice_is_named():
    # a driver that publishes the binned size and K and still sets binning 2: the node's
    # refusal names the CameraInfo's binning instead of blaming the topic remapping
    import types

    roi = types.SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0, do_rectify=False)
    info = types.SimpleNamespace(width=320, height=240, binning_x=2, binning_y=2, roi=roi)
    why = image_size_refusal((320, 240), 8_294_400, 512, (160, 120), info)
    assert "CameraInfo 320x240 with binning 2x2" in why and "binning_x/binning_y 0" in why
    assert "another stream" not in why
    plain = types.SimpleNamespace(width=160, height=120, binning_x=0, binning_y=0, roi=roi)
    assert "another stream" in image_size_refusal((320, 240), 8_294_400, 512, (160, 120), plain)


def test_arrivals_count_zero_and_repeated_stamps():
    a = ArrivalStats(window_s=10.0)
    for k in range(10):
        a.note(100.0 + 0.1 * k, 0)                   # a driver that never stamps
    assert a.received == 10 and a.zero_stamps == 10 and a.repeated_stamps == 0
    a.note(101.0, 5)
    a.note(101.1, 5)
    a.note(101.2, 6)
    assert a.received == 13 and a.repeated_stamps == 1
    assert a.rate_hz(101.2, since_s=100.0) == pytest.approx(13 / 1.2)
    assert a.rate_hz(200.0) == 0.0 and a.last_t_s == 101.2
    for k in range(3):                               # -1: a stamp unreadable, or not restamped
        a.note(102.0 + 0.1 * k, -1)
    assert a.received == 16 and a.repeated_stamps == 1   # each -1 was 'the same stamp again'


def test_stamp_refusal():
    kind, why = stamp_refusal(0, duplicate=False)
    assert kind == ZERO_STAMP and "zero" in why and "driver" in why
    kind, why = stamp_refusal(5, duplicate=True)
    assert kind == REPEATED_STAMP and "repeats" in why
    assert stamp_refusal(5, duplicate=False) == ("", "")


def test_ten_identical_errors_give_one_traceback():
    t = ErrorThrottle(line_interval_s=10.0, traceback_interval_s=300.0)
    err = RuntimeError("shape mismatch at frame 17")
    reports = [t.report(error_key("inference", err), 0.5 * k) for k in range(10)]
    assert sum(r.traceback for r in reports) == 1 and reports[0].traceback
    assert sum(r.line for r in reports) <= 3
    later = t.report(error_key("inference", RuntimeError("shape mismatch at frame 99")), 11.0)
    assert later.line and not later.traceback and later.repeats == 9   # numbers don't split keys
    other = t.report(error_key("inference", ValueError("x")), 11.0)
    assert other.traceback                                              # a new kind of error
    assert t.report(error_key("inference", err), 400.0).traceback      # and again, much later


def test_error_throttle_forgets_the_oldest_key():
    t = ErrorThrottle(max_keys=2)
    for name in ("a", "b", "c"):
        assert t.report(name, 0.0).traceback
    assert t.report("a", 1.0).traceback and not t.report("c", 1.0).traceback


def test_an_error_naming_an_object_address_is_one_error_not_a_new_one_each_time():
    """A message with an object's default repr differs by its address in every occurrence:
    keyed by it, a node failing every frame for hours logged a traceback for every frame and
    churned the table."""
    t = ErrorThrottle(line_interval_s=10.0, traceback_interval_s=300.0, max_keys=64)
    frames = [object() for _ in range(200)]
    reports = [t.report(error_key("inference", TypeError(f"cannot localize {f!r}")), 0.1 * k)
               for k, f in enumerate(frames)]
    assert sum(r.traceback for r in reports) == 1
    assert len(t._state) == 1
    assert error_key("x", ValueError("at 0xDEADBEEF")) == error_key("x", ValueError("at 0x1f"))


def test_an_error_that_keeps_recurring_is_not_pushed_out_by_rare_ones():
    t = ErrorThrottle(line_interval_s=1.0, traceback_interval_s=1e9, max_keys=4)
    assert t.report("often", 0.0).traceback
    tracebacks = 0
    for k in range(100):                               # a rare error between each recurrence
        t.report(f"rare {chr(65 + k % 26)}{k // 26}", float(k))
        tracebacks += t.report("often", float(k)).traceback
    assert tracebacks == 0 and len(t._state) == 4


class _YieldingKey(str):
    """An error key whose hashing gives the GIL away, so that threads interleave inside
    `ErrorThrottle.report` (between its table's pop and re-insert) on every call."""

    def __hash__(self):
        time.sleep(0)
        return str.__hash__(self)


def test_error_throttle_used_from_two_threads_counts_every_report_once():
    """The worker thread (frame errors) and the executor thread (an exception escaping
    ``spin()``) share the node's throttle. Unlocked, a thread that found a key missing while
    another held it popped reported it as new (a second traceback), and repeats were lost."""
    t = ErrorThrottle(line_interval_s=1e9, traceback_interval_s=1e9, max_keys=2)
    threads, per_thread = 6, 150
    keys = [_YieldingKey("inference|RuntimeError|x"), _YieldingKey("executor|KeyError|y")]
    start = threading.Barrier(threads)
    reports = {k: [] for k in keys}

    def hammer(i):
        start.wait()
        key = keys[i % 2]
        for _ in range(per_thread):
            reports[key].append(t.report(key, 0.0))   # list.append is atomic

    pool = [threading.Thread(target=hammer, args=(i,)) for i in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    n = threads // 2 * per_thread
    for key in keys:
        assert len(reports[key]) == n
        assert sum(r.traceback for r in reports[key]) == 1       # one traceback per key
        assert sum(r.line for r in reports[key]) == 1
        final = t.report(key, 2e9)                              # every repeat was counted
        assert final.traceback and final.repeats == n - 1


def test_tf_buffer_is_cleared_only_when_a_lookup_fails_after_time_went_back():
    tl = TfTimeline()
    assert not tl.after_lookup(False)               # an ordinary TF miss: keep the buffer
    tl.on_backwards()
    assert not tl.after_lookup(True)                # the frame's odometry was there: keep it
    assert not tl.after_lookup(False)
    tl.on_backwards()
    assert tl.after_lookup(False) and tl.clears == 1    # the old timeline blocks: clear once
    assert not tl.after_lookup(False)


def test_module_reads_no_rclpy():
    assert "rclpy" not in admission.__dict__


def test_every_frame_waits_for_clock_while_the_node_clock_reads_zero():
    """use_sim_time before the first /clock: ROS time reads 0 (ROS_NOTES section 7)."""
    kind, why = admission.clock_refusal(0)
    assert kind == admission.CLOCK_NOT_STARTED
    assert why.startswith("waiting for /clock") and "--clock" in why
    assert admission.clock_refusal(1) == ("", "")
    assert admission.clock_refusal(-5)[0] == admission.CLOCK_NOT_STARTED


def test_a_stamp_ahead_of_the_node_clock_is_refused_past_max_image_age_s():
    """`future_stamp_refusal`: a stamp up to max_image_age_s ahead of the node clock is let
    through (clocks a little apart), further ahead refused; `stale_reason` names another clock
    for an image more than a minute old (hours behind: an unsynchronised clock) only."""
    S = 1_000_000_000
    now = 1_700_000_000 * S
    assert admission.future_stamp_refusal(now + S, now, 1.0) == ("", "")          # at the limit
    kind, why = admission.future_stamp_refusal(now + 3 * S // 2, now, 1.0)
    assert kind == admission.FUTURE_STAMP and why.startswith("header.stamp is 1.50 s ahead")
    assert admission.future_stamp_refusal(now - 100 * S, now, 1.0) == ("", "")    # late: stale
    assert "more than a day" in admission.stale_reason(2 * 86400.0, 1.0)
    hours = admission.stale_reason(3 * 3600.0, 1.0)
    assert hours.startswith("image is 10800.00 s old (max_image_age_s 1.00): its stamp is 3.00 h "
                            "behind the node clock") and "another clock" in hours
    assert "global_time_enabled" in hours and "chrony" in hours
    assert admission.stale_reason(30.0, 1.0) == "image is 30.00 s old (max_image_age_s 1.00)"


def test_an_image_minutes_behind_is_said_in_seconds_not_hundredths_of_an_hour():
    """`stale_reason` for 60 s .. 1 h behind said '0.03 h' (90 s): seconds below an hour, as
    `far_from_clock_note` says them."""
    why = admission.stale_reason(90.0, 1.0)
    assert ": its stamp is 90.0 s behind the node clock" in why and " h " not in why
    assert "the image stamp is 90.0 s behind" in admission.far_from_clock_note(0, 90 * 10**9)
