"""Pins on the nv21 / nv12 / nv24 readers' refusals that the round-trip tests
(test_semi_planar_yuv.py) left free: each test failed on a hand mutant of raw.py."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import decode_image, to_rgb8


@pytest.mark.parametrize("encoding", ["nv21", "nv12"])
def test_an_odd_height_alone_is_refused_too(encoding):
    """4:2:0 needs an even height as well as an even width: a check of the width alone let a
    5-row image through and read 2 chroma rows for 3 pairs of luma rows."""
    with pytest.raises(InputError, match=f"10x5 {encoding} image cannot be read: 2x2 pixels"):
        decode_image(encoding, 5, 10, 10, bytes(200))


@pytest.mark.parametrize("encoding", ["nv21", "nv12"])
def test_to_rgb8_refuses_an_odd_width_of_whole_rows(encoding):
    """An array of (H * 3 / 2) rows but an odd width is no 4:2:0 frame: refused by name, not
    left to OpenCV (which needs an even width for its NV codes)."""
    with pytest.raises(InputError, match=rf"{encoding} image must be \(H \* 3 / 2, W\) uint8 "
                                         r"with H and W even, as decode_image gives, got \(9, 9\)"):
        to_rgb8(np.zeros((9, 9), np.uint8), encoding)


def test_nv24_to_rgb8_needs_three_planes_of_rows():
    with pytest.raises(InputError, match=r"nv24 image must be \(3 \* H, W\) uint8, as "
                                         r"decode_image gives, got \(4, 5\)"):
        to_rgb8(np.zeros((4, 5), np.uint8), "nv24")
