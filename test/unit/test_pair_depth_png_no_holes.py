"""`mast3r-ros pair a.png depth.png` with the demo's synthetic depth (16-bit, rendered: no
holes) warned "13/14-bit sensor data?": the depth check wanted at least 1 % of the pixels 0 or
65535, which a rendered depth has none of. A hole-free 16-bit image in a depth's range that is
as smooth as a rendered depth (nearly every pixel within 1 of its four neighbours' mean) is
called a likely depth image now; a camera's 12- or 16-bit grey picture (texture, noise) is not
(case png16-gray-pair: its 12-bit copy still gets the low-bit-depth warning)."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from mast3r_ros.core.image_codec.files import depth_like
from mast3r_ros.replay.pair import read_pair_image
from mast3r_ros.replay.synthetic import (default_intrinsics, procedural_texture, render_frames,
                                         write_tum_sequence)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def demo_depth(tmp_path_factory):
    """The demo's depth PNG (TUM's 5000 a metre, rendered: no holes), small."""
    folder = tmp_path_factory.mktemp("demo") / "seq"
    write_tum_sequence(str(folder), render_frames(1, default_intrinsics(160, 120)))
    path = next((folder / "depth").glob("*.png"))
    assert not (cv2.imread(str(path), cv2.IMREAD_UNCHANGED) == 0).any()  # no holes
    return str(path)


def test_the_demos_depth_given_to_pair_is_called_a_depth_image(demo_depth, caplog):
    with caplog.at_level(logging.WARNING):
        read_pair_image(demo_depth, 224)
    said = _warnings(caplog)
    assert len(said) == 1, said
    assert "looks like a depth image (no holes" in said[0], said
    assert "bit sensor data" not in said[0], said


def _grey(bits, offset=0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    grey8 = cv2.cvtColor(procedural_texture(160, 120, rng), cv2.COLOR_RGB2GRAY)
    return (offset + grey8.astype(np.float64) * scale * (1 << (bits - 8))).astype(np.uint16)


@pytest.mark.parametrize("image", [_grey(12), _grey(16), _grey(12, offset=1500, scale=0.5),
                                   _grey(14, offset=4000, scale=0.6),
                                   cv2.GaussianBlur(_grey(14, offset=4000, scale=0.6), (5, 5),
                                                    1.5)],
                         ids=["12-bit", "16-bit", "bright 12-bit", "14-bit", "blurred 14-bit"])
def test_a_camera_grey_picture_without_holes_is_no_depth(image):
    assert depth_like(image) == ""


def test_the_png16_gray_pair_12_bit_copy_keeps_its_low_bit_warning(tmp_path, caplog):
    path = tmp_path / "grey12_img1.png"
    cv2.imwrite(str(path), _grey(12))
    with caplog.at_level(logging.WARNING):
        read_pair_image(str(path), 224)
    said = _warnings(caplog)
    assert len(said) == 1 and "10/12-bit" in said[0] and "depth" not in said[0], said


def test_the_readme_states_the_smoothness_share_the_code_uses():
    import re
    from pathlib import Path

    from mast3r_ros.core.image_codec.files import DEPTH_LIKE_MIN_SMOOTH

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    m = re.search(r"or without holes, in that range and smooth as a depth is, ([0-9]+) % of its "
                  r"pixels within 1 of their four neighbours' mean", readme)
    assert m, "the README's hole-free depth sentence is gone: update this test with its words"
    assert int(m.group(1)) / 100 == DEPTH_LIKE_MIN_SMOOTH


def test_a_smooth_depth_with_a_few_holes_is_not_said_to_have_none():
    """A rendered depth with a few pixels 0 (under the 1 % the holes' test needs) is judged by
    its smoothness as one without holes, but was said to have "no holes"."""
    depth = np.tile(np.linspace(1000, 3000, 160), (120, 1)).astype(np.uint16)
    depth[10, 10:70] = 0  # 60 of 19200 pixels: 0.3 %
    said = depth_like(depth)
    assert said.startswith("few holes (0.3% of its pixels 0 or 65535), but smooth"), said
    depth[10, 10:70] = 2000
    assert depth_like(depth).startswith("no holes, but smooth"), depth_like(depth)
