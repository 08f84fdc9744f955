"""Pins from a mutation audit of the map writer and loader (mast3r_ros/core/keyframes): each test
fails with one small mutation of the code it names, and holds the documented contract."""

import json
import logging
import os

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import InputError, MapFormatError
from mast3r_ros.core.keyframes import depth_to_png
from mast3r_ros.core.types import CameraIntrinsics

W, H = 64, 48
CAM = CameraIntrinsics(W, H, [[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]], [])
RGB = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_an_all_zero_depth_is_stored_as_no_depth_not_refused(tmp_path):
    """depth_to_png: 'NaN or <= 0: none'. A depth of zeros only (a blinded sensor; the writer
    warns about it) has no valid pixel, so nothing rounds to 0: it is stored, all none."""
    import cv2

    data, scale = depth_to_png(np.zeros((H, W), np.float32))
    assert scale > 0
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (H, W) and not raw.any()
    with kfm.MapWriter(str(tmp_path / "m")) as w:
        w.add_keyframe(RGB, CAM, np.eye(4), 1, np.zeros((H, W), np.float32))
        assert np.isnan(w.keyframe_records()[0].depth_m).all()


def test_the_build_records_read_the_depth_back_in_metres(tmp_path):
    """The records the map check reads back from the build folder (`keyframe_records`) hold
    the depth given (metres), whatever units per metre its PNG was stored in (5000 here)."""
    depth = np.full((H, W), 2.0, np.float32)
    depth[:, : W // 2] = 3.25
    with kfm.MapWriter(str(tmp_path / "m")) as w:
        w.add_keyframe(RGB, CAM, np.eye(4), 1, depth)
        got = w.keyframe_records()[0].depth_m
    np.testing.assert_allclose(got, depth, atol=1e-3)


def test_a_few_far_pixels_are_not_a_depth_unit_warning(tmp_path, caplog):
    """The depth unit warning is on the median depth: 2 m with 5 % of pixels at 200 m (a
    window, sky) is metres."""
    depth = np.full((H, W), 2.0, np.float32)
    depth.reshape(-1)[:: 20] = 200.0
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.keyframes.writer"):
        with kfm.MapWriter(str(tmp_path / "m")) as w:
            w.add_keyframe(RGB, CAM, np.eye(4), 1, depth)
            assert not [r for r in caplog.records if "median" in r.getMessage()]


def test_a_depth_of_another_width_is_refused(tmp_path):
    with kfm.MapWriter(str(tmp_path / "m")) as w:
        with pytest.raises(InputError, match=r"does not match its image \(48, 64\)"):
            w.add_keyframe(RGB, CAM, np.eye(4), 1, np.ones((H, W + 1), np.float32))
        with pytest.raises(InputError, match=r"does not match its image \(48, 64\)"):
            w.add_keyframe(RGB, CAM, np.eye(4), 1, np.ones((H, W - 1), np.float32))


@pytest.mark.parametrize("zero_frac", [0.0, 0.25])
def test_an_opengl_style_negative_depth_is_refused(tmp_path, zero_frac):
    """z-depth is positive in front of the camera (REP-103 optical frame): a depth with no
    positive pixel, most pixels negative with varying values (a -z depth buffer), is refused;
    zeros ('no depth') beside them are not positive pixels."""
    depth = -np.linspace(0.5, 4.0, H * W, dtype=np.float32).reshape(H, W)
    depth.reshape(-1)[: int(zero_frac * H * W)] = 0.0
    with kfm.MapWriter(str(tmp_path / "m")) as w:
        with pytest.raises(InputError, match="must be negated"):
            w.add_keyframe(RGB, CAM, np.eye(4), 1, depth)


def test_a_negative_file_size_in_the_manifest_is_refused(tmp_path):
    path = kfm.write_map(str(tmp_path / "map"),
                         [(RGB, CAM, np.eye(4), 1, None), (RGB, CAM, np.eye(4), 2, None)])
    mpath = os.path.join(path, kfm.MANIFEST)
    with open(mpath) as fh:
        m = json.load(fh)
    rel = sorted(m["files"])[0]
    m["files"][rel]["bytes"] = -1
    with open(mpath, "w") as fh:
        json.dump(m, fh)
    with pytest.raises(MapFormatError, match=f"'{rel}': 'bytes' must be a file size"):
        kfm.KeyframeMap.load(path)
