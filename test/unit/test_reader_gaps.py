"""Reader and decoder gaps of stop 40's closing note ("known, not fixed"), each pinned here:
CameraInfo ROIs with an offset but no size, RVL streams that decode past uint16 or run on,
tf stamps past int64, a bag's short first run before a clock reset, and 16UC1 as colour."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from test_image_codec import _rvl_encode, _rvl_message, _rvl_nibbles, _rvl_words

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import (
    decode_compressed,
    intrinsics_from_camera_info,
    rectified_intrinsics_from_camera_info,
)

K = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
P = [500.0, 0.0, 320.0, 0.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize("roi", [
    {"x_offset": 100, "y_offset": 0, "width": 0, "height": 0},
    {"x_offset": 0, "y_offset": 50, "width": 0, "height": 0},
    {"x_offset": 100, "y_offset": 50, "width": 200, "height": 0},
])
def test_a_roi_with_an_offset_but_no_width_or_height_is_refused(roi):
    """image_geometry reads a ROI as the full image only when all four fields are 0, and moves
    the principal point by any offset: an offset with size 0 was ignored here (cx off by the
    offset if the stream is the crop)."""
    with pytest.raises(InputError, match=r"CameraInfo roi has x_offset .* but width .* a ROI "
                                         r"is the full image only when all four fields are 0"):
        intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=roi)
    with pytest.raises(InputError, match="roi"):
        rectified_intrinsics_from_camera_info(640, 480, P, roi=roi)


def test_an_all_zero_roi_and_a_sized_one_read_as_before():
    full = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob",
                                       roi={"x_offset": 0, "y_offset": 0, "width": 0, "height": 0})
    assert (full.width, full.height) == (640, 480) and full.K[0, 2] == 320.0
    crop = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob",
                                       roi={"x_offset": 100, "y_offset": 50, "width": 200,
                                            "height": 100})
    assert (crop.width, crop.height) == (200, 100)
    assert (crop.K[0, 2], crop.K[1, 2]) == (220.0, 190.0)
    rect = rectified_intrinsics_from_camera_info(
        640, 480, P, roi={"x_offset": 0, "y_offset": 0, "width": 0, "height": 0})
    assert (rect.width, rect.height) == (640, 480)
    # no offset, a size 0: the full image as before (image_geometry's K: nothing to shift)
    half = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob",
                                       roi={"x_offset": 0, "y_offset": 0, "width": 320,
                                            "height": 0})
    assert (half.width, half.height) == (640, 480) and half.K[0, 2] == 320.0


RVL = "16UC1; compressedDepth rvl"


def _rvl_from_values(width: int, height: int, values: list) -> bytes:
    """compressed_depth's rvl message of the given raw RVL values (counts and zig-zag deltas)."""
    nibbles = [n for v in values for n in _rvl_nibbles(v)]
    return struct.pack("<iffII", 0, 0.0, 0.0, width, height) + _rvl_words(nibbles)


@pytest.mark.parametrize("deltas, bad", [([2 * 65535, 2], 65536),  # 65535, then +1
                                         ([2, 3, 1], -1)])  # 1, then -2
def test_an_rvl_depth_outside_uint16_is_refused(deltas, bad):
    """The encoder's differences are of uint16 values, so the chain never leaves 0..65535; one
    that does was kept modulo 2**16 (65536 read as 0, -1 as 65535: plausible depth)."""
    data = _rvl_from_values(len(deltas), 1, [0, len(deltas)] + deltas)
    with pytest.raises(InputError, match=rf"compressedDepth rvl'?: corrupt RVL stream: the depth "
                                         rf"of pixel \d \(row 0, column \d\) decodes to {bad},"):
        decode_compressed(RVL, data)
    ok = _rvl_from_values(2, 1, [0, 2, 2 * 65535, 1])  # 65535, then 65535 - 1: in range
    np.testing.assert_array_equal(decode_compressed(RVL, ok)[0], [[65535, 65534]])


def test_an_rvl_stream_that_runs_on_after_the_image_is_refused():
    """The encoder stops when the image is full and pads only its last 32-bit word with zero
    nibbles; values after that (another frame's stream, a size in the header too small) were
    ignored."""
    depth = np.arange(1, 13, dtype=np.uint16).reshape(3, 4)
    data = _rvl_message(depth)
    np.testing.assert_array_equal(decode_compressed(RVL, data)[0], depth)  # padding: fine
    with pytest.raises(InputError, match=r"compressedDepth rvl'?: RVL stream runs on after the "
                                         r"4x3 image is full: \d+ more nibbles, [1-9]"):
        decode_compressed(RVL, data + _rvl_encode(depth))  # a second image after it
    with pytest.raises(InputError, match=r"after the 4x3 image is full: 9 more nibbles, 0 of"):
        decode_compressed(RVL, data + bytes(4))  # a whole word of zeros more
    # a header one row short of the stream's image: its last row is data after the image
    depth[2, 0] = 0  # a run ends with the second row, so the first two rows are whole runs
    short = struct.pack("<iffII", 0, 0.0, 0.0, 4, 2) + _rvl_encode(depth)
    with pytest.raises(InputError, match="runs on after the 4x2 image"):
        decode_compressed(RVL, short)


@pytest.mark.parametrize("stamps", [[2**63], np.array([5, 2**63], np.uint64), [2**64 - 1]])
def test_a_tf_stamp_outside_int64_is_refused_not_wrapped(stamps):
    """A uint64 stamp of 2**63 ns or more was cast to int64 and became a negative time (2**64 - 1
    read as -1 ns) without a word; no ROS stamp (int32 sec, uint32 nanosec) reaches 2**62."""
    from mast3r_ros.core.tf_buffer import TransformBuffer

    buf = TransformBuffer()
    n = len(stamps)
    with pytest.raises(InputError, match=r"transform map -> cam: a stamp of \d+ ns lies outside "
                                         r"int64"):
        buf.add_dynamic_tq("map", "cam", stamps, np.zeros((n, 3)), [[0, 0, 0, 1]] * n)
    with pytest.raises(InputError, match="lies outside int64"):  # was an OverflowError
        buf.add_dynamic("map", "cam", np.uint64(2**63), np.eye(4))
    buf.add_dynamic_tq("map", "cam", np.array([5, 2**63 - 1], np.uint64), np.zeros((2, 3)),
                       [[0, 0, 0, 1]] * 2)  # the largest int64 still taken
    np.testing.assert_allclose(buf.lookup("map", "cam", 5), np.eye(4))


def test_a_short_recording_looped_is_two_runs_not_one():
    """A loop of a recording of fewer than RUN_LOOKAHEAD (4) frames, or a reset to before the
    run's first stamp, climbs past the first run's top within the lookahead: it was read as
    one reordered run ([0, 1, 2, 0, 1, 2, 3, ...] all run 1), pairing each replayed stamp with
    the first pass's depth and tf. A message older than its whole run and followed by another
    at or below the top is a new run; a late message followed at once by a climb is not."""
    from mast3r_ros.replay.rosbag import run_labels

    assert run_labels([0, 1, 2, 0, 1, 2, 3, 4, 5]) == [1] * 3 + [2] * 6
    assert run_labels([0, 1, 2, 3, 0, 1, 2, 3, 4]) == [1] * 4 + [2] * 5
    assert run_labels([3, 0, 1, 2, 3, 4]) == [1] + [2] * 5  # a run of one image
    assert run_labels([5, 6, 7, 4, 5, 8, 9]) == [1] * 3 + [2] * 4  # reset to before its start
    # reorders stay one run: a late first message, a late one followed by a climb
    assert run_labels([5, 4, 6, 7]) == [1] * 4
    assert run_labels([5, 6, 4, 7, 8]) == [1] * 5
    assert run_labels([0, 100, 50, 51, 52, 53, 101]) == [1] * 7
    # a first message stamped ahead of the next ones (a tf re-broadcast at now + tolerance),
    # never replayed: one run, as before, not a run of it alone that left the images no pose
    assert run_labels([35, 1, 21, 41, 61, 81]) == [1] * 6
    assert run_labels([3, 0, 1, 2, 4, 5]) == [1] * 6
    assert run_labels([35, 1, 11, 21, 31, 41, 51]) == [1] * 7  # tf at 10x the lookahead's rate


def test_a_bag_of_a_short_loop_reads_the_longer_pass(tmp_path, caplog):
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
    import logging

    from test_rosbag import MS
    from test_rosbag_values import bag_of, camera_info, colour

    from mast3r_ros.replay.rosbag import BagSequence

    stamps = [100, 200, 300, 100, 200, 300, 400, 500]  # a 3-frame pass, then a 5-frame one
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", 1 + k, colour(t * MS)) for k, t in enumerate(stamps)]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs))
    assert [c for c, _, _ in seq.runs] == [3, 5]
    assert seq.run == 2 and seq.stamps_ns.tolist() == [t * MS for t in stamps[3:]]
    assert [r for r in caplog.records if "jumps back" in r.getMessage()]
