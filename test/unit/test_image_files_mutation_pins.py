"""`image_codec.files` pins from the 2026-12-06e mutation audit (these survived the image file
tests): `depth_like` judges only single-channel 16-bit images and says '' otherwise, counts
65535 as a hole and wants 5 % of the pixels valid; a path that is no regular file is said to be
one; a colour image one pixel wide keeps its colours."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec.files import depth_like, read_image_file


def _holes_and(values: np.ndarray) -> np.ndarray:
    """A quarter of the pixels 0 (a depth camera's holes), the rest ``values``."""
    image = values.copy()
    image[::2, ::2] = 0
    return image


def test_depth_like_judges_only_single_channel_16_bit_images():
    depth = _holes_and(np.full((40, 60), 2000, np.uint16))
    assert depth_like(depth).startswith("25% of its pixels exactly 0 or 65535")
    # the same numbers in other shapes or types are no depth image: ''
    assert depth_like(_holes_and(np.full((40, 60), 200, np.uint8))) == ""
    assert depth_like(np.stack([depth] * 3, axis=2)) == ""
    assert depth_like(depth.astype(np.int32)) == ""


def test_depth_like_of_a_picture_without_holes_is_the_empty_string():
    picture = np.full((40, 60), 2000, np.uint16)
    assert depth_like(picture) == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_a_named_pipe_given_as_an_image_is_said_to_be_no_regular_file(tmp_path):
    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file"):
        read_image_file(fifo)


def test_depth_like_counts_65535_as_a_hole():
    depth = np.full((40, 60), 2000, np.uint16)
    depth[::2, ::2] = 65535  # a camera that marks no depth as the largest value
    assert depth_like(depth).startswith("25% of its pixels exactly 0 or 65535, the others "
                                        "2000..2000")


def test_depth_like_wants_five_percent_of_the_pixels_valid():
    image = np.zeros((40, 60), np.uint16)
    image[:2, :12] = 2000  # 24 of 2400 pixels (1 %) not holes: too few to judge
    assert depth_like(image) == ""
    image[:10, :12] = 2000  # 120 (5 %): judged
    assert depth_like(image).startswith("95% of its pixels")


def test_a_colour_image_one_pixel_wide_keeps_its_colours(tmp_path):
    bgr = np.zeros((6, 1, 3), np.uint8)
    bgr[:, 0] = (10, 20, 200)  # blue, green, red as OpenCV stores them
    path = tmp_path / "column.png"
    assert cv2.imwrite(str(path), bgr)
    rgb = read_image_file(path, one_file=True)
    assert rgb.shape == (6, 1, 3) and (rgb[:, 0] == (200, 20, 10)).all()
