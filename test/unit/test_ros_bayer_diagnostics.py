"""The node's mono8 images that are a raw Bayer mosaic (a driver publishing its colour sensor's
data as mono8) are said once for its image topic, in the log and on /diagnostics (WARN for the
window, value ``last_image_warning``), and still localized (a warning, not a refusal)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import cv2
from test_image_files_bayer import _colour_scene, _mosaic
from test_ros_processing import NS_PER_S, Host, stamp

from mast3r_ros.ros.diagnostics import OK, WARN


def _mono8(k, pixels):
    sec, nsec = divmod(stamp(k), NS_PER_S)
    h, w = pixels.shape
    return NS(header=NS(stamp=NS(sec=sec, nanosec=nsec), frame_id="camera_optical"),
              encoding="mono8", width=w, height=h, step=w, data=pixels.tobytes(),
              is_bigendian=0)


def test_mono8_mosaics_reach_diagnostics_naming_the_topic_once():
    host = Host()
    host._image_topic = "/cam/image_raw"  # as `_activate` names the subscription's topic
    for k in range(12):
        host._process(_mono8(k, _mosaic(_colour_scene(seed=k))))
    assert len(host._outputs.poses) == 12  # localized all the same
    summary = host._diag.summary(host._diag.last_t_s, host._tracking.track, True)
    values = dict(summary.values)
    text = values["last_image_warning"]
    assert text.startswith("mono8 images on /cam/image_raw (frame_id 'camera_optical') look "
                           "like a raw Bayer colour mosaic"), text
    assert "(bayer_rggb8 or bayer_bggr8)" in text and "image_proc debayer node" in text
    assert summary.level == WARN and summary.message == text
    assert host._bayer.judgements == 1  # said once: judged no more
    later = host._diag.summary(host._diag.last_t_s + 60, host._tracking.track, True)
    assert dict(later.values)["last_image_warning"] == text  # the value stays


def test_mono8_grey_pictures_leave_diagnostics_quiet():
    host = Host()
    grey = [cv2.cvtColor(_colour_scene(seed=k), cv2.COLOR_BGR2GRAY) for k in range(3)]
    for k in range(16):
        host._process(_mono8(k, grey[k % 3]))
    summary = host._diag.summary(host._diag.last_t_s, host._tracking.track, True)
    assert dict(summary.values)["last_image_warning"] == "none"
    assert summary.level == OK, summary.message
    assert host._bayer.judgements == 9  # its first 8, then the 16th
