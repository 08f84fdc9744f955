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
