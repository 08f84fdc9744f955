"""A frozen camera driver (the same pixels under new stamps) is refused, not localized: its pose
would be where the camera was, published as where it is (core/repeated_image.py)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.repeated_image import REASON_PREFIX, RepeatedImageCheck
from mast3r_ros.core.tracker import Tracker
from mast3r_ros.core.types import Frame, LocalizationResult
from mast3r_ros.replay.localize_run import localize_frames
from mast3r_ros.replay.metrics import summarize
from mast3r_test_utils import pose

S = 1_000_000_000


def _image(seed):
    return np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)


def test_check_refuses_only_exact_repeats_and_says_how_long():
    check = RepeatedImageCheck()
    a = _image(0)
    assert check.check(a, 1 * S) == ""
    assert check.check(a.copy(), 1 * S + S // 10).startswith(REASON_PREFIX)
    reason = check.check(a, 1 * S + S // 5)
    assert "repeated 2x over 0.20 s" in reason and "t=1.000 s" in reason
    assert "frozen camera driver" in reason and "simulated camera" in reason
    b = a.copy()
    b[0, 0, 0] ^= 1  # one grey level of one pixel: a real camera's noise
    assert check.check(b, 2 * S) == ""
    c = b.copy()
    c[3, 5, 2] ^= 1  # a row the first comparison skips
    assert check.check(c, 2 * S + 1) == ""
    assert check.check(c.astype(np.uint16), 2 * S + 2) == ""  # same values, another dtype
    assert check.check(c.astype(np.uint16), 2 * S + 3).startswith(REASON_PREFIX)
    assert check.check(b, 2 * S + 4) == ""
    assert check.check(b.reshape(8, 6, 3), 3 * S) == ""  # same bytes, another shape
    check.reset()
    assert check.check(b.reshape(8, 6, 3), 4 * S) == ""


class _TruthLocalizer:
    """Localizes each frame at the pose its pixels were taken from (x = the image's seed)."""

    def __init__(self):
        self.calls = 0

    def localize(self, frame, prior=None, force_global=False, *, hint=None, with_matches=False):
        self.calls += 1
        x = float(frame.rgb[0, 0, 0])
        return LocalizationResult(True, frame.stamp_ns, pose([0, 0, 0], [x, 0, 0]))

    def recall(self, result, camera=None):
        pass


def test_localize_refuses_a_frozen_drivers_frames():
    # the camera moves 1 m a frame; the driver freezes on frame 1's image for frames 2-4
    imgs = [np.full((4, 4, 3), x, np.uint8) for x in (0, 1, 1, 1, 1, 5)]
    frames = [Frame(im, None, i * S) for i, im in enumerate(imgs)]
    loc = _TruthLocalizer()
    out = [r for _, r in localize_frames(loc, frames, Tracker())]
    assert [r.success for r in out] == [True, True, False, False, False, True]
    assert loc.calls == 3
    assert out[2].reason.startswith(REASON_PREFIX)
    assert "repeated 3x over 3.00 s" in out[4].reason
    # every published pose is where the camera was (the frozen frames' would be 1-3 m off)
    truth = [pose([0, 0, 0], [i, 0, 0]) for i in range(6)]
    m = summarize(out, np.stack(truth))
    assert m["failure_reasons"] == {REASON_PREFIX: 3}
    assert m["translation_error_m"]["max"] < 1e-9


def test_a_resumed_frame_is_not_compared_with_unread_pixels():
    img = np.full((4, 4, 3), 7, np.uint8)
    done = {1: LocalizationResult(True, 1 * S, pose([0, 0, 0], [7, 0, 0]))}
    frames = [Frame(img, None, 0), Frame(img.copy() + 1, None, 1 * S), Frame(img, None, 2 * S)]
    out = [r for _, r in localize_frames(_TruthLocalizer(), frames, Tracker(), done=done)]
    assert [r.success for r in out] == [True, True, True]


def test_the_node_refuses_a_frozen_drivers_frames_and_says_so_in_diagnostics():
    from test_ros_processing import Host, image, stamp

    host = Host()
    frozen = image(stamp(0))
    host._process(frozen)
    for k in (1, 2, 3, 4, 5):  # the driver re-sends frame 0's pixels under new stamps
        host._process(image(stamp(k), data=frozen.data))
    assert host._outputs.poses == [stamp(0)] and host._localizer.calls == 1
    values = dict(host.summary().values)
    # the first two repeats dropped (a driver faster than its sensor), the rest failures
    assert values["frames_refused"] == "3"
    assert values["last_failure"].startswith(REASON_PREFIX)
    assert "frozen camera driver" in values["last_failure"]
    assert host._tracking.consecutive_failures == 3  # the node is lost, not tracking
    host._process(image(stamp(6)))  # the camera is back
    assert host._outputs.poses[-1] == stamp(6)


def test_a_driver_sending_each_image_twice_loses_no_pose_to_the_tracking():
    """A driver publishing faster than its sensor sends each image twice: refused as failures,
    the repeats would have broken every run of consecutive frames the tracking needs (a pose
    awaiting confirmation never confirmed); they are dropped, never localized, no failure."""
    from test_ros_processing import Host, image, stamp

    host = Host()
    for k in range(0, 8, 2):
        first = image(stamp(k), data=image(stamp(k)).data)
        host._process(first)
        host._process(image(stamp(k + 1), data=first.data))
    assert host._outputs.poses == [stamp(k) for k in range(0, 8, 2)]
    assert host._localizer.calls == 4 and host._tracking.consecutive_failures == 0
    values = dict(host.summary().values)
    assert values["frames_refused"] == "0"


def test_a_dropped_repeat_is_not_called_a_frozen_driver():
    """The first repeats, dropped as a driver faster than its sensor, were warned about and
    shown on /diagnostics as 'a frozen camera driver re-sending its last image?': a false alarm
    every throttle period for a camera the node handles right. The third repeat on is one."""
    from test_ros_processing import Host, image, stamp

    host = Host()
    first = image(stamp(0))
    host._process(first)
    host._process(image(stamp(1), data=first.data))
    said = [m for level, m in host.logger.lines if level == "warning"]
    last = dict(host.summary().values)["last_failure"]
    for text in (said[-1], last):
        assert REASON_PREFIX in text and "repeated 1x" in text
        assert "faster than its sensor" in text and "frozen camera driver" not in text
    for k in (2, 3):
        host._process(image(stamp(k), data=first.data))
    assert "frozen camera driver" in dict(host.summary().values)["last_failure"]



def test_the_node_forgets_the_last_image_when_it_is_activated_again():
    """The node kept the last image across deactivate / activate (and cleanup / configure, whose
    tracking starts fresh): a simulated camera standing still had its first frame of the new
    activation refused as a frozen driver's, and every one after it, so the node published no
    pose at all until the robot moved. Within an activation the repeats are still refused."""
    from test_ros_processing import Host, image, stamp

    host = Host()
    still = image(stamp(0))
    host._process(still)
    host._set_active(False)
    host._set_active(True)
    host._process(image(stamp(1), data=still.data))
    assert host._outputs.poses == [stamp(0), stamp(1)]
    host._process(image(stamp(2), data=still.data))
    assert host._outputs.poses == [stamp(0), stamp(1)]
    assert dict(host.summary().values)["last_failure"].startswith(REASON_PREFIX)
