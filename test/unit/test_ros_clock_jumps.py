"""The node's per-frame TF wait and what a node clock jumping back does, without ROS.

`tf_timeout_s` is the whole wait of a frame for its TF (base->camera and base->odom share one
deadline), and a node clock that jumps back (``ros2 bag play --loop --clock`` with
``use_sim_time``, a simulator reset) clears the TF buffer as tf2 itself does and re-stamps the
latched ~/keyframes markers, seen by the executor-thread callbacks (`ros/executor_side.py`: the
TF tick, the steady tick, /initialpose) that the node's rclpy callbacks only call.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_ros_processing import NS_PER_S, Host as FrameHost, LookupError_, Tf, image, stamp

from mast3r_ros.ros import admission, processing
from mast3r_ros.ros.executor_side import ExecutorSide


class LatestTf(Tf):
    """The fake TF client; a lookup at None (the latest) as /initialpose does."""

    def lookup(self, target, source, stamp_msg, timeout_s):
        if stamp_msg is None:
            self.lookups.append((target, source, None, timeout_s))
            if target == source:
                return np.eye(4)
            if self.fail:
                raise LookupError_(f"no transform {source} -> {target}")
            return self.odom_from_base.copy()
        return super().lookup(target, source, stamp_msg, timeout_s)


class Host(ExecutorSide, FrameHost):
    """The fake node of test_ros_processing with the executor-thread callbacks."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self._tf = LatestTf()


class SlowTf:
    """The fake TF client of `test_ros_processing`, each lookup taking ``took_s`` (a fake clock)."""

    def __init__(self, tf, clock, took_s):
        self._tf, self._clock, self._took_s = tf, clock, took_s

    def lookup(self, target, source, stamp_msg, timeout_s):
        self._clock[0] += min(self._took_s, timeout_s)
        return self._tf.lookup(target, source, stamp_msg, timeout_s)

    def __getattr__(self, name):
        return getattr(self._tf, name)


def test_the_two_tf_lookups_of_a_frame_share_one_tf_timeout(monkeypatch):
    """base->odom waits what base->camera left of tf_timeout_s: each waiting the whole timeout
    held a frame twice as long as the parameter says."""
    fake_now = [1000.0]
    monkeypatch.setattr(processing.time, "monotonic", lambda: fake_now[0])
    host = Host(odom_frame="odom", tf_timeout_s=0.3)
    tf = host._tf
    host._tf = SlowTf(tf, fake_now, took_s=0.2)
    host._process(image(stamp(0)))
    assert [t for *_, t in tf.lookups] == [0.3, pytest.approx(0.1)]
    assert host._outputs.poses == [stamp(0)]
    # the first lookup used it all: the second only looks (timeout 0), never a negative wait
    host._tf = SlowTf(tf, fake_now, took_s=0.5)
    tf.lookups.clear()
    host._process(image(stamp(1)))
    assert [t for *_, t in tf.lookups] == [0.3, 0.0]
    assert fake_now[0] - 1000.0 == pytest.approx(0.3 + 0.3)   # each frame: tf_timeout_s


def test_the_tf_timeline_clears_once_when_the_node_clock_jumps_back_over_a_second():
    tl = admission.TfTimeline()
    s = NS_PER_S
    assert not tl.after_clock(0)                      # use_sim_time before /clock: no reading
    assert not tl.after_clock(10 * s)
    assert not tl.after_clock(int(10.5 * s))
    assert not tl.after_clock(int(9.6 * s))           # jitter: within a second of the latest
    tl.on_backwards()
    assert tl.after_clock(int(9.4 * s)) and tl.clears == 1
    assert not tl.suspect                             # cleared: the buffer is the new timeline's
    assert not tl.after_clock(int(9.5 * s))           # once: the new timeline runs on
    assert not tl.after_clock(0)
    assert tl.after_clock(2 ** 63 - 1) is False and tl.after_clock(1) and tl.clears == 2


class Outputs:
    """The host's outputs with the keyframe re-stamp the node's clock check calls."""

    def __init__(self, outputs):
        self._outputs, self.restamped = outputs, []

    def restamp_keyframes(self, now_ns):
        self.restamped.append(now_ns)
        return True

    def __getattr__(self, name):
        return getattr(self._outputs, name)


def _host(**node):
    host = Host(**node)
    host._outputs = Outputs(host._outputs)
    return host


def test_a_clock_jump_back_resets_tracking_clears_the_tf_buffer_and_restamps_keyframes():
    """``ros2 bag play --loop --clock``: the node clock goes back to the bag's start. The held
    map->odom is dropped (tracking reset), the TF buffer is cleared at once as tf2 does (the old
    timeline's transforms would make tf2 refuse the new ones as TF_OLD_DATA, or interpolate
    across both), and the latched ~/keyframes are stamped on the new timeline."""
    host = _host()
    host._process(image(stamp(0)))
    assert host._tf.sent                                  # the frame's map->odom
    host.clock.now_ns += NS_PER_S // 20                   # the next TF tick
    with host._lock:
        jumped, send = host._tracking.rebroadcast(host.clock.now_ns, 0.1)
    assert not jumped and send is not None                # a TF is held and re-broadcast
    assert host._on_clock_reading(host.clock.now_ns) is False
    assert host._tf.cleared == 0 and host._outputs.restamped == []
    back = 40 * NS_PER_S
    assert host._on_clock_reading(back) is True
    assert host._tf.cleared == 1 and host._outputs.restamped == [back]
    with host._lock:
        assert host._tracking.rebroadcast(back, 0.1) == (False, None)   # nothing held
    assert any("jumped back" in m and "TF buffer cleared" in m for _, m in host.logger.lines)
    assert dict(host.summary().values)["last_reset"] == "the clock jumped back"
    # the frames of the new timeline whose TF has not come yet fail without a second clear
    host._tf.fail = True
    host.clock.now_ns = back
    host._process(image(back - NS_PER_S // 10))
    assert host._tf.cleared == 1
    assert host._on_clock_reading(back + NS_PER_S) is False and host._tf.cleared == 1


def test_a_clock_jump_back_clears_the_tf_buffer_without_a_tf_held():
    """publish_tf off (or not localized yet): the tracking holds no TF clock reading, so only
    the steady tick's reading sees the jump; the TF buffer is still the old timeline's."""
    host = _host(publish_tf=False)
    assert host._on_clock_reading(100 * NS_PER_S) is False
    assert host._on_clock_reading(3 * NS_PER_S) is True
    assert host._tf.cleared == 1 and host._outputs.restamped == [3 * NS_PER_S]
    lines = [m for _, m in host.logger.lines if "jumped back" in m]
    assert lines and "tracking reset" not in lines[-1]


class JumpDuringLookup:
    """The fake TF client; during the first lookup the executor thread sees the node clock
    jump back (as `_on_clock_reading` or the TF timer does when the tracking saw it first)."""

    def __init__(self, host):
        self._host, self._tf, self.raised = host, host._tf, False

    def lookup(self, *args):
        if not self.raised:
            self.raised = True
            self._host._tf_timeline.on_backwards()      # the executor thread, meanwhile
        return self._tf.lookup(*args)

    def __getattr__(self, name):
        return getattr(self._tf, name)


def test_a_lookup_that_began_before_the_clock_jump_does_not_end_the_suspicion():
    """The worker's lookup read the old timeline's TF while the executor thread saw the clock
    jump back: its success said nothing about the buffer after the jump, yet it ended the
    suspicion, so the new timeline's failing lookups never cleared the buffer (tf2 refuses the
    new, older transforms while the old ones are there: every frame failed)."""
    host = Host()
    tf = host._tf
    host._tf = JumpDuringLookup(host)
    host._process(image(stamp(0)))
    assert host._outputs.poses == [stamp(0)] and tf.cleared == 0
    tf.fail = True                                        # the new timeline's TF is refused
    host._process(image(stamp(1)))
    assert tf.cleared == 1
    assert host._tf_timeline.after_lookup(False) is False   # once



def _initialpose(x=1.0, y=2.0, yaw_deg=90.0, frame_id="map"):
    q = Rotation.from_euler("z", yaw_deg, degrees=True).as_quat()
    pose = NS(position=NS(x=x, y=y, z=0.0), orientation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    return NS(header=NS(frame_id=frame_id, stamp=NS(sec=0, nanosec=0)),
              pose=NS(pose=pose, covariance=[0.0] * 36))


def _localized_then_jumped(**node):
    """A host whose first frame localized and whose TF went out; the clock then jumped back."""
    host = _host(**node)
    host._process(image(stamp(0)))
    host.clock.now_ns += NS_PER_S // 20
    host._tf_tick()
    assert len(host._tf.sent) == 2 and host._tf.cleared == 0
    host.clock.now_ns = 40 * NS_PER_S
    return host


def _new_lines(host, since):
    return host.logger.lines[since:]


def _one_line_of_initial_pose(host):
    """(level, text) of the one line `/initialpose` (at 1, 2, 0 in map) logs on ``host``."""
    n = len(host.logger.lines)
    host._initial_pose(_initialpose())
    lines = _new_lines(host, n)
    assert len(lines) == 1, lines
    return lines[0]


def test_a_clock_jump_seen_at_initialpose_is_one_warning_and_the_pose_is_kept():
    """The jump was logged twice (the clock check's warning, then the node's own) and neither
    said that the operator's pose was applied; now one warning says both, and the pose is set on
    the new timeline (the next TF tick broadcasts it instead of dropping it)."""
    host = _localized_then_jumped()
    level, text = _one_line_of_initial_pose(host)
    assert level == "warning" and text.startswith("initial pose received (1.00, 2.00, 0.00)")
    assert "clock jumped back" in text and "TF buffer cleared" in text
    assert host._tf.cleared == 1 and host._outputs.restamped == [40 * NS_PER_S]
    assert host._tracking.prior_source == "initialpose"
    sent = len(host._tf.sent)
    host.clock.now_ns += NS_PER_S // 20
    host._tf_tick()
    assert len(host._tf.sent) == sent + 1 and host._tf.sent_tf.child == "base_link"
    np.testing.assert_allclose(host._tf.sent_tf.parent_from_child[:3, 3], [1.0, 2.0, 0.0])
    assert host._tf.sent[-1] == host.clock.now_ns + NS_PER_S // 10   # on the new timeline


class ClearedTf(LatestTf):
    """tf2 after a clear: no dynamic transform until the new timeline's /tf arrives."""

    def clear(self):
        super().clear()
        self.fail = True


def test_initialpose_right_after_a_clock_jump_never_takes_the_old_timelines_odometry():
    """With odometry, the clock is checked before the odometry is read: the buffer the jump
    cleared has none yet, so the pose is refused in one warning that says why and what to do,
    instead of being set with the old timeline's odom -> base_link."""
    host = _localized_then_jumped(odom_frame="odom")
    host._tf = ClearedTf()
    level, text = _one_line_of_initial_pose(host)
    assert level == "warning" and text.startswith("ignoring /initialpose: no transform")
    assert "clock jumped back" in text and "send the pose again" in text
    assert host._tf.cleared == 1 and host._tf.lookups[-1][:3] == ("odom", "base_link", None)
    assert host._tracking.prior_source != "initialpose" and host._tracking.held_tf is None


def test_initialpose_without_a_clock_jump_is_one_info_line():
    host = _host(odom_frame="odom")
    host._tf.odom_from_base[:3, 3] = [0.5, 0.0, 0.0]
    host._initial_pose(_initialpose(yaw_deg=0.0))
    assert [lvl for lvl, _ in host.logger.lines] == ["info"]
    assert host._tf.cleared == 0 and host._outputs.restamped == []
    assert host._tracking.held_tf.parent == "map" and host._tracking.held_tf.child == "odom"
    np.testing.assert_allclose(host._tracking.held_tf.parent_from_child[:3, 3], [0.5, 2.0, 0.0])
    assert dict(host.summary().values)["last_reset"] == "/initialpose received"


def test_initialpose_refusals_are_one_warning_each():
    host = _host()
    host._initial_pose(_initialpose(frame_id="odom"))
    host._active = False
    host._cfg = None
    host._initial_pose(_initialpose())
    assert [lvl for lvl, _ in host.logger.lines] == ["warning", "warning"]
    assert "set rviz's fixed frame to map" in host.logger.lines[0][1]
    assert "not configured" in host.logger.lines[1][1]
    assert host._tracking.prior_source == ""


def test_the_tf_tick_sees_the_clock_jump_once_and_sends_nothing_of_the_old_timeline():
    host = _localized_then_jumped()
    sent = len(host._tf.sent)
    n = len(host.logger.lines)
    host._tf_tick()
    assert len(host._tf.sent) == sent                   # the held map->odom was dropped
    assert host._tf.cleared == 1 and host._outputs.restamped == [40 * NS_PER_S]
    assert [lvl for lvl, _ in _new_lines(host, n)] == ["warning"]
    host.clock.now_ns += NS_PER_S // 20
    host._tf_tick()
    assert host._tf.cleared == 1 and len(host._tf.sent) == sent
    host._active = False
    host.clock.now_ns = NS_PER_S
    host._tf_tick()                                     # inactive: not even the clock check
    assert host._tf.cleared == 1


def test_a_failing_tf_tick_logs_and_never_raises():
    host = _localized_then_jumped()
    host._tf.send = lambda *a: (_ for _ in ()).throw(RuntimeError("publisher gone"))
    host.clock.now_ns = 200 * NS_PER_S
    host._tf_tick()
    level, line = host.logger.lines[-1]            # with its traceback the first time
    assert level == "error" and line.startswith("TF re-broadcast failed: "
                                                "RuntimeError('publisher gone')\nTraceback")


def test_the_steady_tick_restamps_keyframes_and_sees_a_jump_with_publish_tf_off():
    host = _host(publish_tf=False)
    host._steady_tick()
    assert host._outputs.restamped == [100 * NS_PER_S]  # outputs decide if it is due
    host.clock.now_ns = 5 * NS_PER_S
    host._steady_tick()
    # the jump re-stamps them once (not again as the ordinary re-stamp)
    assert host._outputs.restamped == [100 * NS_PER_S, 5 * NS_PER_S]
    assert host._tf.cleared == 1
    host._active = False
    host._steady_tick()
    assert len(host._outputs.restamped) == 2


def test_a_jump_the_tracking_sees_but_the_timeline_does_not_suspects_the_tf_buffer():
    """The tracking's TF was stamped at a worker's clock reading (10.5 s) that the executor's
    readings never saw (their latest 10 s): back to 9.4 s is a jump for the tracking (1.1 s)
    but not for the timeline (0.6 s). The buffer is then suspected, not cleared: the next
    failing lookup clears it once; /initialpose right after says its odometry may still be the
    old timeline's and the pose is set."""
    host = _host()
    s = NS_PER_S
    assert host._on_clock_reading(10 * s) is False
    host._tracking.last_tf_clock_ns = int(10.5 * s)
    host.clock.now_ns = int(9.4 * s)
    n = len(host.logger.lines)
    host._initial_pose(_initialpose())
    (level, text), = _new_lines(host, n)
    assert level == "warning" and "may still be the old timeline's" in text, text
    assert host._tf.cleared == 0 and host._tf_timeline.suspect
    assert host._tracking.prior_source == "initialpose"
    host._tf.fail = True
    host._process(image(int(9.4 * s)))
    assert host._tf.cleared == 1


def test_a_jump_read_between_the_tf_ticks_clock_check_and_its_rebroadcast_suspects_the_buffer():
    """The worker stamps a TF at a later clock reading after the tick's own clock check (the
    tick's reading is then over a second behind it): the tick's rebroadcast sees the jump,
    resets, and the TF buffer is suspected so that the next failing lookup clears it."""
    host = _host()
    check = host._on_clock_reading

    def worker_meanwhile(now_ns):
        jumped = check(now_ns)
        host._tracking.last_tf_clock_ns = now_ns + 2 * NS_PER_S
        return jumped

    host._on_clock_reading = worker_meanwhile
    host._tf_tick()
    assert host._tf_timeline.suspect and host._tf.cleared == 0
    assert dict(host.summary().values)["last_reset"] == "the clock jumped back"


def test_initialpose_after_a_jump_that_only_cleared_the_buffer_says_so():
    """No TF held (nothing localized): the jump clears the buffer but resets no tracking. The
    pose is set on the new timeline, the warning saying the buffer was cleared, not a reset;
    with odometry not yet on the new timeline it is refused, naming the same, and the
    odometry is only looked at (timeout 0: the executor thread never waits for TF)."""
    host = _host()
    assert host._on_clock_reading(100 * NS_PER_S) is False
    host.clock.now_ns = 3 * NS_PER_S
    n = len(host.logger.lines)
    host._initial_pose(_initialpose())
    (level, text), = _new_lines(host, n)
    assert level == "warning" and "set on the new timeline" in text, text
    assert "just before it: TF buffer cleared, the pose is set" in text, text
    host = _host(odom_frame="odom")
    host._tf = ClearedTf()
    assert host._on_clock_reading(100 * NS_PER_S) is False
    host.clock.now_ns = 3 * NS_PER_S
    n = len(host.logger.lines)
    host._initial_pose(_initialpose())
    (level, text), = _new_lines(host, n)
    assert text.startswith("ignoring /initialpose") and "just before it: TF buffer cleared;" \
        in text, text
    assert host._tf.lookups[-1] == ("odom", "base_link", None, 0.0)


def test_initialpose_in_two_d_mode_holds_the_planar_pose_and_nothing_without_publish_tf():
    """two_d_mode: the held map->base_link is the pose in the plane (z, roll and pitch of the
    operator's pose dropped, as AMCL); publish_tf off: no TF is held, the pose is still the
    prior."""
    q = Rotation.from_euler("xz", [10.0, 90.0], degrees=True).as_quat()
    msg = _initialpose()
    msg.pose.pose.position.z = 0.7
    msg.pose.pose.orientation = NS(x=q[0], y=q[1], z=q[2], w=q[3])
    host = _host(two_d_mode=True)
    host._initial_pose(msg)
    held = host._tracking.held_tf.parent_from_child
    np.testing.assert_allclose(held[:3, 3], [1.0, 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(held[:3, :3], Rotation.from_euler("z", 90.0, degrees=True)
                               .as_matrix(), atol=1e-12)
    host = _host(publish_tf=False)
    host._initial_pose(_initialpose())
    assert host._tracking.held_tf is None and host._tracking.prior_source == "initialpose"


def test_a_clock_exactly_one_second_back_is_no_jump():
    """CLOCK_JUMP_NS is the jitter allowed: exactly a second behind the latest reading is
    within it, as for the tracking's own check (`TrackingState.clock_jumped_back`)."""
    tl = admission.TfTimeline()
    assert not tl.after_clock(10 * NS_PER_S) and not tl.after_clock(9 * NS_PER_S)
    assert tl.after_clock(9 * NS_PER_S - 1)


def test_initialpose_without_an_odometry_frame_looks_up_no_frame_named_empty():
    """odom_frame '' (map->base_link broadcast directly): the odometry looked up is base_link
    in itself, never a frame named '' (tf2 refuses one, so every /initialpose was refused)."""
    host = _host()
    host._initial_pose(_initialpose())
    assert host._tf.lookups[-1] == ("base_link", "base_link", None, 0.0)
    assert host._tracking.prior_source == "initialpose"
    assert host._tracking.held_tf.child == "base_link"


def test_a_clock_jump_after_the_tf_client_was_released_restamps_and_never_raises():
    """The steady tick reading the clock while the TF client is gone (deactivating: the node
    drops it) still sees the jump and re-stamps the keyframes; no clear of a client that is
    not there (an AttributeError here would end the executor's spin)."""
    host = _host(publish_tf=False)
    assert host._on_clock_reading(100 * NS_PER_S) is False
    host._tf = None
    host.clock.now_ns = 3 * NS_PER_S
    host._steady_tick()
    assert host._outputs.restamped == [3 * NS_PER_S]          # once, for the jump
    assert host._tf_timeline.clears == 1


class OdometryAtStamps(LatestTf):
    """odom -> base_link at 20 s (the robot 0.2 m along x), later 0.5 m (the latest): a lookup
    at another stamp fails as tf2's extrapolation does."""

    def lookup(self, target, source, stamp_msg, timeout_s):
        if stamp_msg is None or target == source:
            return super().lookup(target, source, stamp_msg, timeout_s)
        self.lookups.append((target, source, (stamp_msg.sec, stamp_msg.nanosec), timeout_s))
        if target == "odom" and (stamp_msg.sec, stamp_msg.nanosec) == (20, 0):
            odom = np.eye(4)
            odom[0, 3] = 0.2
            return odom
        raise LookupError_("Lookup would require extrapolation into the past")


@pytest.mark.parametrize("sec, odom_x", [(20, 0.2), (5, 0.5), (0, 0.5)])
def test_initialpose_is_carried_from_its_stamp_by_odometry(sec, odom_x):
    """The operator's pose holds at its header stamp, as AMCL takes it: it was paired with the
    latest odometry, so a pose stamped before the robot drove on (a pose sent by a program, a
    click while it moves) set map -> odom off by the distance driven since. Without odometry
    at the stamp (stamp 0, older than the buffer, another clock) the latest is taken."""
    host = _host(odom_frame="odom")
    host._tf = OdometryAtStamps()
    host._tf.odom_from_base[:3, 3] = [0.5, 0.0, 0.0]
    msg = _initialpose(yaw_deg=0.0)
    msg.header.stamp = NS(sec=sec, nanosec=0)
    host._initial_pose(msg)
    assert [lvl for lvl, _ in host.logger.lines] == ["info"]
    held = host._tracking.held_tf
    np.testing.assert_allclose(held.parent_from_child[:3, 3], [1.0 - odom_x, 2.0, 0.0])
    np.testing.assert_allclose(host._tracking.prior_map_from_odom, held.parent_from_child)
