"""Pins of the image and CameraInfo readers that the 2026-12-06d mutation audit found untested:
each a property a user depends on (the pixels, their order, the camera model), not wording."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import decode_image, to_rgb8


def test_a_strided_uint8_array_is_read_as_its_bytes():
    # a message's data handed over as a numpy view (every other byte of a bigger buffer) is read
    # as the bytes it shows, not refused by memoryview's C-contiguous cast with a TypeError
    rgb = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    spread = np.zeros(2 * rgb.size, np.uint8)
    spread[::2] = rgb.reshape(-1)
    out = decode_image("rgb8", 2, 4, 12, spread[::2])
    np.testing.assert_array_equal(out, rgb)


def test_an_rgb8_image_without_pixels_is_refused():
    # the conversion-free path too: an empty rgb8 message (a driver before its first frame)
    with pytest.raises(InputError, match="has no pixels"):
        to_rgb8(np.zeros((0, 4, 3), np.uint8), "rgb8")


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.float32])
def test_an_array_of_wider_items_is_refused_not_read_as_bytes(dtype):
    # np.array([10, 20, ...]) of int64 would be read as 10, 0, 0, ... (its bytes): the pixels
    # scrambled without a word
    values = np.arange(2 * 4 * 3).astype(dtype)
    with pytest.raises(InputError, match="items are not bytes"):
        decode_image("rgb8", 2, 4, 12, values)


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2", "uyvy", "yuyv"])
def test_an_odd_width_yuv422_image_is_refused_by_its_own_check(encoding):
    # refused here, not left to OpenCV: 4.5 (Humble's) converts an odd width without complaint,
    # the last pixel's chroma read from beyond the row
    with pytest.raises(InputError, match="the width must be even"):
        to_rgb8(np.full((2, 3, 2), 128, np.uint8), encoding)
