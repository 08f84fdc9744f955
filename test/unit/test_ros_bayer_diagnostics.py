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


def test_each_activation_judges_its_images_anew(caplog):
    """A reactivation (often to switch camera or topic) judges the images from their first
    again: the same topic, still a mosaic, is said again once (log and WARN on /diagnostics),
    a new topic is named. Before, the watch outlived the activation: no line, status OK, only
    the old ``last_image_warning`` value."""
    import logging
    import time

    host = Host()
    host._image_topic = "/cam/image_raw"
    k = iter(range(100))

    def activation(topic):
        if host._bayer.judgements:  # deactivated, then activated (executor_side's steps)
            host._set_active(False)
            host._image_topic = topic
            host._diag.start(time.monotonic())
            host._set_active(True)
        caplog.clear()
        for _ in range(10):
            n = next(k)
            host._process(_mono8(n, _mosaic(_colour_scene(seed=n))))
        s = host._diag.summary(host._diag.last_t_s, host._tracking.track, True)
        return s, [r.getMessage() for r in caplog.records if "Bayer" in r.getMessage()]

    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.image_codec.bayer_watch"):
        for topic in ("/cam/image_raw", "/cam/image_raw", "/cam2/image_raw"):
            s, said = activation(topic)
            assert len(said) == 1 and said[0].startswith(f"mono8 images on {topic} "), said
            assert s.level == WARN and s.message == said[0]
            assert dict(s.values)["last_image_warning"] == said[0]
            assert host._bayer.judgements == 1   # once an activation, judged no more


def test_the_mosaic_warning_is_timed_on_the_hosts_clock(monkeypatch):
    """The Bayer note was stamped with time.monotonic() while every frame record and other note
    uses the host's clock (`processing`'s ``time``, which tests and the soak bench fake): on a
    faked clock at 1000 s the note was at the machine's uptime (47330 s), and the WARN window
    held 60 s later ("mono8 images ... look like a raw Bayer colour mosaic" instead of "no
    images for 60.0 s"). It now ends with the window on the host's clock."""
    from mast3r_ros.ros import processing

    clock = NS(t=1000.0)
    monkeypatch.setattr(processing, "time", NS(monotonic=lambda: clock.t))
    host = Host()
    host._image_topic = "/cam/image_raw"
    for k in range(12):
        clock.t = 1000.0 + 0.1 * k
        host._process(_mono8(k, _mosaic(_colour_scene(seed=k))))
    note = host._diag.notes["image_warning"]
    assert note.t_s == 1000.0  # said at the first frame, on the host's clock
    for after, bayer in ((5.0, True), (host._diag.window_s + 1.0, False)):
        summary = host._diag.summary(clock.t + after, host._tracking.track, True)
        assert summary.message.startswith("mono8 images on /cam/image_raw") is bayer, \
            (after, summary.message)
