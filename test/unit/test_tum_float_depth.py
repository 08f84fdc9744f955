"""A TUM folder whose depth images are 32-bit float (metres: a renderer's, or 32FC1 saved as
TIFF/EXR). A fresh user's find: refused as 'must be 16-bit single-channel PNG, got (480, 640)
float32', with no word on what to do; the refusal now says how to convert them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.tum import TumSequence

from test_tum import H, W, make_folder


def test_a_float_depth_image_is_refused_with_the_conversion(tmp_path):
    root = make_folder(tmp_path / "seq")
    cv2.imwrite(str(root / "depth" / "0.tiff"), np.full((H, W), 1.5, dtype=np.float32))
    (root / "depth.txt").write_text((root / "depth.txt").read_text().replace("0.png", "0.tiff"))
    with pytest.raises(InputError, match="must be 16-bit single-channel PNG") as e:
        TumSequence(root)[0]
    assert "float depth image (metres" in str(e.value)
    said = str(e.value)
    assert "* 5000).round().astype(np.uint16)" in said and "--depth-scale 1000" in said


def test_the_conversion_the_refusal_gives_writes_no_wrong_depth(tmp_path):
    """The refusal's own expression, run on float depth as renderers write it: beyond TUM's 13.1
    m (65535 / 5000), +-inf (a renderer's background), NaN or negative, a pixel is to become 0 (no
    depth), not a wrapped uint16 (20 m came out 34464: 6.9 m, a wrong depth in the map)."""
    root = make_folder(tmp_path / "seq")
    cv2.imwrite(str(root / "depth" / "0.tiff"), np.full((H, W), 1.5, dtype=np.float32))
    (root / "depth.txt").write_text((root / "depth.txt").read_text().replace("0.png", "0.tiff"))
    with pytest.raises(InputError) as e:
        TumSequence(root)[0]
    expression = str(e.value).split("e.g. ")[1].split(" saved as PNG")[0]
    d = np.array([1.5, 13.0, 20.0, np.inf, -np.inf, np.nan, -1.0], np.float32)
    with np.errstate(all="ignore"):
        got = eval(expression, {"np": np, "d": d})  # noqa: S307  the message's own code
    assert got.dtype == np.uint16 and got.tolist() == [7500, 65000, 0, 0, 0, 0, 0], got
