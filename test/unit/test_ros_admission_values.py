"""Values of `ros/admission.py` worked out by hand (mutation audit): header bytes written out
here (PNG IHDR, JPEG markers per ITU T.81), the refusal's words, the stamp order, the error key
and the throttle's documented defaults (docs/ros_node.md: a line every 10 s, a traceback again
after 5 min)."""

from __future__ import annotations

import struct

from mast3r_ros.ros.admission import (
    NEGATIVE_STAMP,
    ZERO_STAMP,
    ErrorReport,
    ErrorThrottle,
    compressed_image_size,
    error_key,
    image_size_refusal,
    stamp_refusal,
)

# SOF0 of a 640x480 image: marker, length 17, precision 8, height 480, width 640
SOF0_640x480 = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 480, 640)


def test_png_header_of_exactly_24_bytes_is_enough():
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 640, 480)
    assert len(head) == 24
    assert compressed_image_size(head) == (640, 480)


def test_png_whose_first_chunk_is_not_ihdr_has_no_size_before_decoding():
    # PNG requires IHDR first; other bytes there are not a width and height (the decoder decides)
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"tEXt" + struct.pack(">II", 640, 480)
    assert compressed_image_size(head) is None


def test_jpeg_sof_ending_at_the_end_of_the_buffer_is_read():
    assert compressed_image_size(b"\xff\xd8" + SOF0_640x480) == (640, 480)


def test_jpeg_standalone_markers_have_no_length():
    # RST7 (0xD7) and TEM (0x01) are markers without a length field (T.81 table B.1)
    for marker in (b"\xff\xd7", b"\xff\x01", b"\xff\xd0"):
        assert compressed_image_size(b"\xff\xd8" + marker + SOF0_640x480) == (640, 480)


def test_jpeg_fill_bytes_before_a_marker_are_skipped_one_at_a_time():
    # T.81 B.1.1.2: any marker may be preceded by fill bytes 0xFF
    for fill in (b"\xff", b"\xff\xff", b"\xff\xff\xff"):
        assert compressed_image_size(b"\xff\xd8" + fill + SOF0_640x480) == (640, 480)


def test_jpeg_with_a_non_marker_byte_between_segments_is_not_read_on():
    assert compressed_image_size(b"\xff\xd8\x00" + SOF0_640x480) is None


def test_pixel_refusal_words():
    assert image_size_refusal((4000, 3000), 8_294_400) == (
        "image is 4000x3000 (12.0 MP), more than max_image_pixels 8294400 (8.3 MP): lower the "
        "camera resolution or raise the parameter")


def test_a_zero_stamp_is_named_first_even_when_it_repeats():
    assert stamp_refusal(0, duplicate=True)[0] == ZERO_STAMP


def test_a_stamp_one_nanosecond_before_1970_is_negative():
    kind, why = stamp_refusal(-1, duplicate=False)
    assert kind == NEGATIVE_STAMP and "negative" in why and "driver" in why


def test_error_key_keeps_the_place_and_the_type():
    assert error_key("a", ValueError("x")) != error_key("b", ValueError("x"))
    assert error_key("a", ValueError("x")) != error_key("a", TypeError("x"))


def test_throttle_defaults_are_the_documented_10_s_and_5_min():
    t = ErrorThrottle()
    assert t.report("k", 0.0) == ErrorReport(True, True, 0)
    assert t.report("k", 9.0) == ErrorReport(False, False, 1)
    assert t.report("k", 10.0) == ErrorReport(False, True, 1)
    assert not t.report("k", 299.0).traceback
    assert t.report("k", 300.0).traceback
