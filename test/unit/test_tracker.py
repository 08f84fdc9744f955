"""core/tracker.py: one tracker for the CLI and the node."""

import numpy as np
import pytest

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.tracker import StampCheck, Track, Tracker
from mast3r_ros.core.types import LocalizationResult


def _ok(stamp_ns: int, x: float = 0.0) -> LocalizationResult:
    return LocalizationResult(True, stamp_ns, make_pose(np.eye(3), [x, 0.0, 0.0]), np.eye(6))


def _fail(stamp_ns: int, reason: str = "too few inliers") -> LocalizationResult:
    return LocalizationResult.failure(stamp_ns, reason)


def test_starts_uninitialized_without_hint():
    tr = Tracker()
    assert tr.track is Track.UNINITIALIZED
    assert tr.hint() is None and tr.last_stamp_ns is None and tr.last_map_from_cam is None
    assert tr.consecutive_failures == 0 and tr.last_failure_reason == ""


def test_success_tracks_and_hints_a_copy_of_the_last_pose():
    tr = Tracker()
    tr.update(_ok(1, x=1.0))
    tr.update(_ok(2, x=2.0))
    assert tr.track is Track.TRACKING
    hint = tr.hint()
    np.testing.assert_allclose(hint[:3, 3], [2.0, 0.0, 0.0])
    hint[0, 3] = 99.0
    assert tr.hint()[0, 3] == 2.0


def test_lost_after_n_failures_and_recovers_on_success():
    tr = Tracker(lost_after_failures=3)
    tr.update(_ok(1, x=1.0))
    tr.update(_fail(2, "a"))
    tr.update(_fail(3, "b"))
    assert tr.track is Track.TRACKING and tr.consecutive_failures == 2
    np.testing.assert_allclose(tr.hint()[:3, 3], [1.0, 0.0, 0.0])
    tr.update(_fail(4, "c"))
    assert tr.track is Track.LOST and tr.hint() is None
    assert tr.last_failure_reason == "c" and tr.consecutive_failures == 3
    tr.update(_ok(5, x=5.0))
    assert tr.track is Track.TRACKING and tr.consecutive_failures == 0
    np.testing.assert_allclose(tr.hint()[:3, 3], [5.0, 0.0, 0.0])


def test_lost_after_one_failure():
    tr = Tracker(lost_after_failures=1)
    tr.update(_ok(1))
    tr.update(_fail(2))
    assert tr.track is Track.LOST


def test_failures_before_first_success_stay_uninitialized():
    tr = Tracker(lost_after_failures=2)
    for i in range(5):
        tr.update(_fail(i))
    assert tr.track is Track.UNINITIALIZED and tr.consecutive_failures == 5


def test_stamp_checks_and_backwards_resets():
    tr = Tracker()
    assert tr.check_stamp(100) is StampCheck.OK
    assert tr.check_stamp(100) is StampCheck.DUPLICATE
    tr.update(_ok(100))
    assert tr.check_stamp(200) is StampCheck.OK and tr.last_stamp_ns == 200
    assert tr.check_stamp(50) is StampCheck.BACKWARDS
    assert tr.track is Track.UNINITIALIZED and tr.hint() is None
    assert tr.last_stamp_ns == 50
    assert tr.check_stamp(60) is StampCheck.OK


def test_a_stamp_one_nanosecond_back_is_backwards():
    tr = Tracker()
    tr.check_stamp(1_000)
    tr.update(_ok(1_000))
    assert tr.check_stamp(999) is StampCheck.BACKWARDS
    assert tr.track is Track.UNINITIALIZED and tr.last_stamp_ns == 999


def test_an_out_of_order_stamp_in_one_run_keeps_the_state_and_the_later_stamp():
    """``reset_on_backwards=False`` (a rosbag2 run's image recorded out of order): BACKWARDS
    is said, but the tracking, its pose and the later stamp stay, so that a repeat of the later
    frame is still a DUPLICATE and a frame between the two is out of order too."""
    tr = Tracker()
    tr.check_stamp(100)
    tr.update(_ok(100, x=1.0))
    assert tr.check_stamp(200) is StampCheck.OK
    assert tr.check_stamp(150, reset_on_backwards=False) is StampCheck.BACKWARDS
    assert tr.last_stamp_ns == 200 and tr.track is Track.TRACKING
    np.testing.assert_array_equal(tr.hint(), _ok(100, x=1.0).map_from_cam)
    assert tr.check_stamp(200, reset_on_backwards=False) is StampCheck.DUPLICATE
    assert tr.check_stamp(175, reset_on_backwards=False) is StampCheck.BACKWARDS
    assert tr.check_stamp(300, reset_on_backwards=False) is StampCheck.OK
    assert tr.last_stamp_ns == 300


def test_reset_forgets_everything():
    tr = Tracker()
    tr.check_stamp(5)
    tr.update(_ok(5))
    tr.update(_fail(6, "x"))
    tr.reset()
    assert tr.track is Track.UNINITIALIZED and tr.hint() is None
    assert tr.last_stamp_ns is None and tr.consecutive_failures == 0
    assert tr.last_failure_reason == ""


@pytest.mark.parametrize("n", [0, -1])
def test_rejects_lost_after_below_one(n):
    with pytest.raises(ConfigError, match="lost_after_failures"):
        Tracker(lost_after_failures=n)


def test_config_carries_lost_after_failures():
    from mast3r_ros.core.config import Config, param_specs

    assert Config().localizer.lost_after_failures == 3
    spec = {s.name: s for s in param_specs()}["lost_after_failures"]
    assert (spec.lo, spec.hi, spec.type) == (1, 1000, int)


def test_float_stamps_and_counts_are_refused_not_truncated():
    tr = Tracker()
    # float seconds were truncated by int(): 1.1 s and 1.2 s both became 1, the second frame
    # a DUPLICATE dropped by the node
    with pytest.raises(InputError, match=r"stamp_ns must be an integer.*1e9"):
        tr.check_stamp(1.1)
    assert tr.check_stamp(np.int64(5)) is StampCheck.OK
    for bad in (2.5, "3", True):
        with pytest.raises(ConfigError, match="lost_after_failures must be an int >= 1"):
            Tracker(bad)
    assert Tracker(np.int64(2)).lost_after_failures == 2


def test_a_success_without_a_pose_is_refused():
    tr = Tracker()
    with pytest.raises(InputError, match="successful result needs its 4x4 map_from_cam"):
        tr.update(LocalizationResult(True, 1))  # the hint was a 0-d NaN array
    assert tr.track is Track.UNINITIALIZED


def test_default_lost_after_failures_is_the_config_default():
    from mast3r_ros.core.config import Config

    assert Tracker().lost_after_failures == Config().localizer.lost_after_failures == 3
    tr = Tracker()
    tr.update(_ok(1))
    tr.update(_fail(2))
    tr.update(_fail(3))
    assert tr.track is Track.TRACKING
    tr.update(_fail(4))
    assert tr.track is Track.LOST


def test_lost_after_failures_is_a_plain_int():
    """A numpy count is stored as int (it is reported in diagnostics; json refuses np.int64)."""
    assert type(Tracker(np.int64(2)).lost_after_failures) is int


def test_time_going_backwards_forgets_failures_reason_and_pose():
    tr = Tracker(lost_after_failures=3)
    tr.check_stamp(10)
    tr.update(_ok(10, x=1.0))
    tr.check_stamp(11)
    tr.update(_fail(11, "blur"))
    tr.check_stamp(12)
    tr.update(_fail(12, "blur"))
    assert tr.check_stamp(5) is StampCheck.BACKWARDS
    assert tr.consecutive_failures == 0 and tr.last_failure_reason == ""
    assert tr.last_map_from_cam is None and tr.track is Track.UNINITIALIZED
    # a fresh start: a success then 2 failures keep tracking (3 would have been counted before)
    tr.update(_ok(6))
    tr.update(_fail(7))
    tr.update(_fail(8))
    assert tr.track is Track.TRACKING


def test_the_remembered_pose_is_a_float64_copy_of_the_result():
    pose = np.eye(4, dtype=np.int64)
    pose[0, 3] = 2
    result = LocalizationResult(True, 1, pose, np.eye(6))
    tr = Tracker()
    tr.update(result)
    result.map_from_cam[0, 3] = 99  # the caller reuses its array
    hint = tr.hint()
    assert hint.dtype == np.float64 and hint[0, 3] == 2.0
    float_pose = make_pose(np.eye(3), [3.0, 0.0, 0.0])
    tr.update(LocalizationResult(True, 2, float_pose, np.eye(6)))
    float_pose[0, 3] = 99.0
    assert tr.hint()[0, 3] == 3.0


@pytest.mark.parametrize("shape", [(3, 4), (16,), (4, 4, 1)])
def test_a_success_with_a_pose_of_the_wrong_shape_is_refused(shape):
    tr = Tracker()
    with pytest.raises(InputError, match="successful result needs its 4x4 map_from_cam"):
        tr.update(LocalizationResult(True, 1, np.zeros(shape), np.eye(6)))
    assert tr.track is Track.UNINITIALIZED and tr.last_map_from_cam is None
