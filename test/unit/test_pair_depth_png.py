"""`mast3r-ros pair` given a 16-bit single-channel depth PNG read it as a grey picture without
a word (or called it 10- to 14-bit sensor data). It is now warned about as a likely depth image,
naming the file; not refused, since a 16-bit grey PNG can be an infrared picture."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from mast3r_ros.replay.pair import read_pair_image


def _depth_png(path, seed=0):
    rng = np.random.default_rng(seed)
    depth = rng.integers(800, 4500, size=(120, 160)).astype(np.uint16)  # millimetres
    depth[rng.random(depth.shape) < 0.08] = 0  # the sensor's holes
    cv2.imwrite(str(path), depth)
    return str(path)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_depth_png_given_to_pair_is_warned_about_naming_the_file(tmp_path, caplog):
    path = _depth_png(tmp_path / "depth_0001.png")
    with caplog.at_level(logging.WARNING):
        rgb = read_pair_image(path, 224)
    assert rgb.dtype == np.uint8  # still read: only a warning
    said = _warnings(caplog)
    assert len(said) == 1, said
    assert said[0].startswith(f"{path}: a 16-bit single-channel image that looks like a depth "
                              "image (8% of its pixels exactly 0"), said
    assert "m if millimetres" in said[0] and "rgb/" in said[0], said


def test_a_16_bit_grey_picture_is_not_called_depth(tmp_path, caplog):
    rng = np.random.default_rng(1)
    full = (rng.random((120, 160)) * 65535).astype(np.uint16)  # an infrared picture
    dark = (rng.random((120, 160)) * 4000).astype(np.uint16)  # 12-bit, black clipped to 0
    dark[:20] = 0
    cv2.imwrite(str(tmp_path / "ir.png"), full)
    cv2.imwrite(str(tmp_path / "ir12.png"), dark)
    with caplog.at_level(logging.WARNING):
        read_pair_image(str(tmp_path / "ir.png"), 224)
        read_pair_image(str(tmp_path / "ir12.png"), 224)
    said = _warnings(caplog)
    assert not any("depth" in m for m in said), said
    assert len(said) == 1 and "10/12-bit" in said[0], said  # the low-bit-depth warning, as before
