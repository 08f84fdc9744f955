"""The node's warnings that a field fault can trigger at every frame (or TF tick) stay bounded.

Each of these was said "once" per something that a fault renews at every frame, and logged
with no throttle: 100 frames at 30 Hz gave 100, 50, 100, 67 and 50 lines. Now each goes
through the per-kind throttle of the frame failures (`FrameReports._warn_throttled`): the
first line at once, then at most one every 5 s with the number held back since.

* a CameraInfo of another frame than the images: once a (image, CameraInfo) frame pair, and a
  driver putting a counter in its frame_id makes a new pair each frame;
* the TF buffer cleared when TF at an image stamp is missing after time went backwards: once a
  jump back, and two publishers on one image topic step back every other frame;
* an image frame that is not an optical frame (z up in the base): once a frame_id;
* a video stream's wait for a keyframe, said when it starts and ends: a lossy link loses a
  packet in every group of pictures;
* the node clock jumping back, seen at each TF tick: two /clock sources (a simulator and a bag)
  jump back every other tick;
* a CameraInfo whose principal point lies far outside the image, or that the image topic's
  name says is read the wrong way (rectified or not): once a calibration, and a driver changing
  K at every message made a new one each frame (here: a line every 10 s at most);
* an unexpected exception whose message names something that changes each frame by its
  letters (not only digits, which the error key ignores): each message was a new error, a
  traceback every frame; now a site's (where, type) first few messages are keyed one by one
  and its later ones are one error, throttled (`admission.ErrorThrottle`, 10 s);
* an /initialpose refused (another frame, no odometry yet, the node not configured): once a
  message, and a high-rate topic remapped onto /initialpose refuses each of its messages.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import logging
import string

import numpy as np
import pytest
from test_ros_clock_jumps import _host as clock_host, _initialpose
from test_ros_processing import NS_PER_S, Host, Tf, camera_info, image

from mast3r_ros.core.video_stream import Received
from mast3r_ros.core import message_fields as mf
from mast3r_ros.ros import admission, processing
from mast3r_ros.ros.video_input import VideoReceipt

S0 = 100 * NS_PER_S


@pytest.fixture
def clock(monkeypatch):
    """The node's monotonic clock (`processing.time`), set by the test."""
    c = NS(t=1000.0)
    monkeypatch.setattr(processing, "time", NS(monotonic=lambda: c.t))
    return c


def _run(host, clock, step, frames=100, first=0):
    """``step(host, k)`` for frames ``first`` .. ``first + frames - 1`` at 30 Hz (frame k at
    k / 30 s on the node's clocks, stamped so); the warnings logged meanwhile."""
    before = len(host.logger.lines)
    for k in range(first, first + frames):
        clock.t = 1000.0 + k / 30
        host.clock.now_ns = S0 + k * NS_PER_S // 30 + 10 ** 7
        step(host, k)
    return [m for lvl, m in host.logger.lines[before:] if lvl == "warning"]


def _bounded(said, words):
    """The lines of ``said`` naming ``words``: one, said at once (no count before it)."""
    lines = [m for m in said if words in m]
    assert len(lines) == 1 and "more like it since" not in lines[0], lines
    return lines


def test_a_camera_info_frame_id_with_a_counter_is_said_once_every_5_s(clock):
    host = Host()

    def step(host, k):
        host._camera_info.header.frame_id = f"camera_optical_{k}"
        host._process(image(S0 + k * NS_PER_S // 30))

    _bounded(_run(host, clock, step), "the CameraInfo on /camera_info is of frame")
    later = [m for m in _run(host, clock, step, 60, first=150) if "is of frame" in m]
    assert later == [], later  # its numbers aside, the same pair: said once (test_said_once_few)
    assert len(host._outputs.poses) == 160          # a warning, never a refusal


def test_the_tf_buffer_cleared_again_and_again_is_said_once_every_5_s(clock):
    host = Host()
    host._tf.fail = True

    def step(host, k):  # two publishers on one topic: every other stamp half a second back
        host._process(image(S0 + k * NS_PER_S // 30 - (NS_PER_S // 2 if k % 2 else 0)))

    _bounded(_run(host, clock, step), "TF buffer cleared")
    assert host._tf.cleared == 50                   # cleared as often as before: only said less


class UpTf(Tf):
    """A camera frame turned as the base (z up): a body frame, not an optical one."""

    def lookup(self, target, source, stamp_msg, timeout_s):
        if target.startswith("camera"):
            self.lookups.append((target, source, None, timeout_s))
            return np.eye(4)
        return super().lookup(target, source, stamp_msg, timeout_s)


def test_body_frames_named_anew_each_frame_are_said_once_every_5_s(clock):
    host = Host()
    host._tf = UpTf()

    def step(host, k):
        msg = image(S0 + k * NS_PER_S // 30)
        msg.header.frame_id = f"camera_link_{k}"
        host._process(msg)

    _bounded(_run(host, clock, step), "the localizer takes z as the camera's optical axis")


class VideoHost(VideoReceipt, Host):
    pass


class LossyLink:
    """A video stream losing a packet every 3: its wait for a keyframe starts, then ends."""

    def receive(self, k):
        stamp_ns = S0 + k * NS_PER_S // 30
        if k % 3 == 0:
            return Received(None, stamp_ns, "waiting for a keyframe (1 packets so far)",
                            "video_waiting", "video topic /x: waiting for a keyframe after a "
                            f"lost packet (from the packet at t={stamp_ns / 1e9:.3f} s)")
        if k % 3 == 1:
            return Received(None, stamp_ns, "waiting for a keyframe (2 packets so far)",
                            "video_waiting")
        return Received(None, stamp_ns, "no picture", "video_undecoded",
                        "video topic /x: 2 packets not decoded, waiting for a keyframe; "
                        "decoding from the keyframe on")


def test_a_lossy_video_link_says_its_keyframe_waits_once_every_5_s(clock):
    host = VideoHost()
    host._video = LossyLink()
    said = _run(host, clock, lambda host, k: host._receive_video(k, lambda msg: None))
    _bounded(said, "waiting for a keyframe after a lost packet")
    _bounded(said, "packets not decoded")
    assert dict(host.summary().values)["frames_refused"] == "100"   # each packet counted


def test_two_clock_sources_jumping_back_every_tick_are_said_once_every_5_s(clock):
    host = clock_host()
    host._process(image(S0))

    def tick(host, k):  # a simulator and a bag both on /clock, 50 s apart
        host.clock.now_ns -= 50 * NS_PER_S if k % 2 else 0
        host._tf_tick()

    _bounded(_run(host, clock, tick), "jumped back")
    assert host._tf.cleared >= 49                   # each jump still clears the TF buffer


def test_initialposes_refused_one_by_one_are_said_once_every_5_s(clock):
    host = clock_host()

    def wrong_frame(host, k):  # a 30 Hz pose topic of the odometry frame remapped on it
        host._initial_pose(_initialpose(frame_id="odom"))

    _bounded(_run(host, clock, wrong_frame), "ignoring /initialpose")
    later = [m for m in _run(host, clock, wrong_frame, 60, first=150) if "ignoring" in m]
    assert len(later) == 1 and later[0].endswith("(99 more like it since)"), later
    assert dict(host.summary().values)["last_initialpose_ignored"].startswith(
        "ignoring /initialpose: /initialpose is in frame 'odom'")   # /diagnostics: each one
    host._active, host._cfg = False, None                            # another reason: at once
    _bounded(_run(host, clock, wrong_frame, first=300), "not configured")


def test_a_calibration_changing_at_every_message_is_said_once_every_10_s(clock, caplog):
    host = Host()
    host._intrinsics = mf.IntrinsicsCache("/camera_info", image_topic="/camera/image_rect",
                                          clock=host._now)      # as the node's activate
    caplog.set_level(logging.WARNING, logger="mast3r_ros.core")

    def step(host, k):  # cx 400 + k on a 160x120 image, D set on an image_rect topic
        host._camera_info = camera_info(160, 120)
        host._camera_info.k[2], host._camera_info.d[0] = 400.0 + k, 0.1
        host._camera_info.p = [100.0, 0, 400.0 + k, 0, 0, 100.0, 60.0, 0, 0, 0, 1, 0]
        host._process(image(S0 + k * NS_PER_S // 30))

    _run(host, clock, step)
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[1].split("(")[0].strip() for m in said] == [
        "principal point", "image topic /camera/image_rect is rectified by its name"], said
    assert "cx 400," in said[0]                                 # the first calibration's, at once
    assert host._diag.principal_point.camera[1] == 499          # /diagnostics: each calibration
    caplog.clear()
    _run(host, clock, step, 60, first=400)                      # 10 s on: one line each, counted
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and all(m.endswith("(99 more calibrations like it since, not logged "
                                             "one by one)") for m in said), said


def test_an_error_whose_message_letters_change_each_frame_is_one_error_after_a_few(clock):
    host = Host()

    def tag(k):  # a name quoted in the message, its letters changing each frame
        return "".join(string.ascii_lowercase[(k // 26 ** i) % 26] for i in range(3))

    def step(host, k):
        host._localizer.error = KeyError(f"no keyframe 'kf_{tag(k)}' in the map")
        host._process(image(S0 + k * NS_PER_S // 30))

    def errors(first, frames):
        before = len(host.logger.lines)
        _run(host, clock, step, frames, first)
        return [m for lvl, m in host.logger.lines[before:] if lvl == "error"]

    said = errors(0, 100)
    n = admission.SITE_MESSAGES + 1                 # its first few messages, then the site's
    assert len(said) == n and all("Traceback" in m for m in said), [m[:60] for m in said]
    assert [m.split("'")[1] for m in said] == [f"kf_{tag(k)}" for k in range(n)]
    later = errors(400, 60)                         # 13 s on: one line, counting the rest
    assert len(later) == 1 and later[0].endswith(
        f"(again, {100 - n} more since the last report; traceback above)"), later
    assert dict(host.summary().values)["errors"] == "160"          # /diagnostics: each one
    host._localizer.error = ValueError("another error")            # another type: at once
    host._process(image(S0 + 461 * NS_PER_S // 30))
    assert "Traceback" in host.logger.lines[-1][1]
