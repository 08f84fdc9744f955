"""A bag's mono8 image topic carrying a colour sensor's raw Bayer mosaic is warned about once per
topic, naming the topic and the driver's Bayer encoding, each topic judged on its own
(`BagSequence` has a `BayerWatch` of its own, keyed by its image topic)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_image_files_bayer import _colour_scene, _mosaic  # noqa: E402
from test_rosbag import MS, STORAGES, camera_info, image, write_bag  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def _two_mosaic_cameras(path):
    """Two cameras publishing mono8 mosaics (48x64, 6 each), both under frame_id 'camera'
    (usb_cam's default): /left/image_raw and /right/image_raw, each with its CameraInfo."""
    msgs = []
    for i in range(6):
        t = 1000 * MS + i * 100 * MS
        for k, cam in enumerate(("left", "right")):
            mosaic = _mosaic(_colour_scene(seed=10 * i + k, shape=(48, 64)))
            msgs.append((f"/{cam}/image_raw", t, image(t, "mono8", mosaic, frame_id="camera")))
            info = camera_info(t, width=64, height=48)
            info.header.frame_id = "camera"
            msgs.append((f"/{cam}/camera_info", t, info))
    return write_bag(path, STORAGES[0], msgs)


def _said(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "raw Bayer colour mosaic" in r.getMessage()]


def test_each_mono8_topic_of_mosaics_is_warned_about_naming_it(tmp_path, caplog):
    """Judged by frame_id in one watch of the process, the second camera (the same frame_id)
    went unjudged once the first was warned about, and the warning named no topic."""
    bag = _two_mosaic_cameras(tmp_path / "bag")
    with caplog.at_level(logging.WARNING):
        for cam in ("left", "right"):
            frames = list(BagSequence(bag, image_topic=f"/{cam}/image_raw"))
            assert len(frames) == 6 and frames[0].rgb.shape == (48, 64, 3)  # still read
    said = _said(caplog)
    assert len(said) == 2, said
    for cam, text in zip(("left", "right"), said):
        assert text.startswith(f"mono8 images on /{cam}/image_raw (frame_id 'camera') look like "
                               "a raw Bayer colour mosaic"), text
        assert "set the camera driver's encoding to its Bayer one (bayer_rggb8 or " \
               "bayer_bggr8)" in text and "image_proc debayer node" in text, text


def test_a_mono8_topic_of_grey_pictures_is_not_warned_about(tmp_path, caplog):
    import cv2

    msgs = []
    for i in range(10):
        t = 1000 * MS + i * 100 * MS
        grey = cv2.cvtColor(_colour_scene(seed=i, shape=(48, 64)), cv2.COLOR_BGR2GRAY)
        msgs.append(("/cam/image_raw", t, image(t, "mono8", grey)))
        msgs.append(("/cam/camera_info", t, camera_info(t, width=64, height=48)))
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(write_bag(tmp_path / "bag", STORAGES[0], msgs)))
    assert len(frames) == 10 and _said(caplog) == []
    np.testing.assert_array_equal(frames[0].rgb[..., 0], frames[0].rgb[..., 2])
