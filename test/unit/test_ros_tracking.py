"""The node's tracking state and time gates, without ROS (`ros/tracking.py`)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.geometry import invert_pose, make_pose
from mast3r_ros.core.tracker import StampCheck, Track
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.ros import tracking
from mast3r_ros.ros.frames import TfToPublish, map_from_odom
from mast3r_ros.ros.tracking import TrackingState
from robot_poses import camera_on_robot, rz

def _success(st: TrackingState, map_from_odom_: np.ndarray,
             map_from_cam: np.ndarray | None = None,
             odom_from_base: np.ndarray | None = None) -> None:
    """A successful frame at stamp 0 whose map->odom is ``map_from_odom_`` (``odom_from_base``:
    the odometry that anchors the gate; None: no odometry)."""
    cam = np.eye(4) if map_from_cam is None else map_from_cam
    st.on_success(LocalizationResult(True, 0, cam, np.eye(6)),
                  TfToPublish("map", "odom", map_from_odom_), odom_from_base)


def _plan(st: TrackingState, odom_from_base, cam_from_base, stamp_s=0.1, has_odometry=True):
    """How the node would localize a frame ``stamp_s`` after the last success (default
    TrackingConfig: odometry vouches up to 0.30 m / 10 deg of tolerance)."""
    from mast3r_ros.core.config import TrackingConfig

    return st.plan(round(stamp_s * 1e9), odom_from_base, cam_from_base, TrackingConfig(),
                   has_odometry)


def _failure(st: TrackingState, reason: str) -> None:
    st.on_failure(LocalizationResult.failure(0, reason))


def test_tf_stamp_is_now_plus_tolerance():
    assert tracking.tf_stamp_ns(5_000_000_000, 0.1) == 5_100_000_000
    assert tracking.tf_stamp_ns(5_000_000_000, 0.0) == 5_000_000_000


def test_stale_gate():
    now = 10 * 10**9
    assert tracking.image_age_s(now - 2 * 10**9, now) == pytest.approx(2.0)
    assert tracking.is_stale(now - 2 * 10**9, now, 1.0)
    assert not tracking.is_stale(now - 500_000_000, now, 1.0)
    assert not tracking.is_stale(now - 2 * 10**9, now, 0.0)          # 0 disables the gate
    assert not tracking.is_stale(now + 10**9, now, 1.0)              # future stamp: not stale
    assert not tracking.is_stale(5 * 10**9, 0, 1.0)                  # sim time before /clock
    assert not tracking.is_stale(now - 2 * 10**9, now, 2.0)          # 'older than': not at 2 s


def _initialpose_msg(frame_id, x, y, yaw_deg):
    q = Rotation.from_euler("z", yaw_deg, degrees=True).as_quat()
    pose = NS(position=NS(x=x, y=y, z=0.0), orientation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    return NS(header=NS(frame_id=frame_id, stamp=NS(sec=0, nanosec=0)),
              pose=NS(pose=pose, covariance=[0.0] * 36))


def test_initial_pose_message():
    T = tracking.initial_pose_to_map_from_base(_initialpose_msg("map", 1.0, 2.0, 90.0), "map")
    np.testing.assert_allclose(T, make_pose(rz(90.0), [1, 2, 0]), atol=1e-12)
    T = tracking.initial_pose_to_map_from_base(_initialpose_msg("/map", 1.0, 2.0, 90.0), "map")
    np.testing.assert_allclose(T[:3, 3], [1, 2, 0])
    with pytest.raises(InputError, match="odom"):
        tracking.initial_pose_to_map_from_base(_initialpose_msg("odom", 1.0, 2.0, 0.0), "map")


# ------------------------------------------------------------------------- tracking state

def test_tracking_prior_follows_odometry():
    st = TrackingState()
    base_from_cam, map_from_base, map_from_cam = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    odom0 = make_pose(rz(10.0), [3.0, -1.0, 0.0])
    assert st.track is Track.UNINITIALIZED
    first = _plan(st, odom0, cam_from_base)
    assert (first.mode, first.prior, first.hint) == ("global", None, None)
    _success(st, map_from_odom(map_from_base, odom0), map_from_cam, odom0)
    assert st.track is Track.TRACKING
    plan = _plan(st, odom0, cam_from_base)
    assert plan.mode == "odometry"
    np.testing.assert_allclose(plan.prior, map_from_cam, atol=1e-12)
    # the robot drives 1 m forward (its own +x): the prior moves 1 m along map +y
    odom1 = odom0 @ make_pose(np.eye(3), [1.0, 0.0, 0.0])
    plan = _plan(st, odom1, cam_from_base)
    np.testing.assert_allclose(plan.prior[:3, 3], map_from_cam[:3, 3] + [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(plan.hint, plan.prior)
    # without odometry the last result is no prior, only the hint (candidate selection)
    plan = _plan(st, np.eye(4), cam_from_base, has_odometry=False)
    assert (plan.mode, plan.prior) == ("tracking", None)
    np.testing.assert_allclose(plan.hint, map_from_cam)


def test_tracking_lost_after_failures_keeps_held_tf():
    """LOST: the frame is still localized around the pose odometry carries while odometry
    vouches for it (an outage ends where odometry puts the robot); once it no longer does, by
    global retrieval (no prior; the carried pose only as a hint). The docstring said 'no prior,
    no hint' (an API review's find) and a dead `prior_map_from_cam` agreed with it."""
    st = TrackingState(lost_after_failures=3)
    _success(st, np.eye(4), odom_from_base=np.eye(4))
    _failure(st, "a")
    _failure(st, "b")
    assert st.track is Track.TRACKING
    assert _plan(st, np.eye(4), np.eye(4)).mode == "odometry"
    _failure(st, "c")
    assert st.track is Track.LOST and st.last_failure_reason == "c"
    plan = _plan(st, np.eye(4), np.eye(4))
    assert plan.mode == "odometry" and plan.prior is not None and plan.tol is not None
    late = _plan(st, np.eye(4), np.eye(4), stamp_s=60.0)  # 0.10 + 0.05 m/s * 60 s > 0.30 m
    assert (late.mode, late.prior, late.confirm) == ("global", None, True)
    np.testing.assert_allclose(late.hint, np.eye(4))
    assert st.held_tf is not None                            # still re-broadcast
    _success(st, np.eye(4))
    assert st.track is Track.TRACKING and st.consecutive_failures == 0


def test_relocalize_request_is_consumed_once():
    st = TrackingState()
    _success(st, np.eye(4), odom_from_base=np.eye(4))
    st.request_global()
    plan = _plan(st, np.eye(4), np.eye(4))
    assert (plan.mode, plan.prior, plan.hint, plan.force_global) == (
        "relocalize", None, None, True)
    assert st.take_global_request() is False
    # the operator said the pose is suspect: odometry no longer vouches for it, the next frame
    # is localized globally and must be confirmed
    after = _plan(st, np.eye(4), np.eye(4))
    assert (after.mode, after.prior, after.confirm) == ("global", None, True)
    st.request_global()
    assert st.take_global_request() is True and st.take_global_request() is False
    assert st.held_tf is not None


def test_initial_pose_resets_and_sets_prior():
    st = TrackingState()
    _success(st, make_pose(rz(45), [9, 9, 0]))
    st.check_stamp(100)
    epoch = st.epoch
    base_from_cam, map_from_base, map_from_cam = camera_on_robot()
    odom_at_click = make_pose(rz(-20.0), [0.3, 0.4, 0.0])
    st.set_initial_pose(map_from_base, odom_at_click)
    assert st.epoch > epoch                              # a result in flight is now outdated
    assert st.track is Track.UNINITIALIZED
    assert st.held_tf is None                 # publish_tf off: nothing held
    assert st.last_stamp_ns == 100                       # time keeps its order
    plan = _plan(st, odom_at_click, invert_pose(base_from_cam))
    assert plan.mode == "initialpose" and not plan.confirm
    np.testing.assert_allclose(plan.prior, map_from_cam, atol=1e-12)
    no_odom = _plan(st, np.eye(4), invert_pose(base_from_cam), has_odometry=False)
    assert no_odom.mode == "initialpose"                 # an initial pose is used regardless
    # an initial pose that keeps failing is dropped: global retrieval after 3 failures
    for _ in range(3):
        _failure(st, "too few inliers")
    plan = _plan(st, odom_at_click, invert_pose(base_from_cam))
    assert (plan.mode, plan.prior, plan.hint) == ("global", None, None)


def test_initial_pose_is_broadcast_until_a_frame_localizes():
    """The held map->odom was dropped on /initialpose and nothing was broadcast until a frame
    localized (a second or more on a Jetson, never if the pose was off): Nav2's map->base_link
    lookups failed meanwhile. AMCL keeps a map->odom on /tf; so does the node now: the
    operator's pose, with stamps still increasing."""
    from mast3r_ros.ros.frames import localization_tf

    st = TrackingState()
    _success(st, make_pose(rz(45), [9, 9, 0]))
    first = st.next_tf_stamp_ns(5_000_000_000, 0.1, fresh=True)
    _, map_from_base, _ = camera_on_robot()
    odom_at_click = make_pose(rz(-20.0), [0.3, 0.4, 0.0])
    hold = localization_tf(map_from_base, odom_at_click, "map", "odom", "base_link")
    st.set_initial_pose(map_from_base, odom_at_click, hold)
    assert (st.held_tf.parent, st.held_tf.child) == ("map", "odom")
    np.testing.assert_allclose(st.held_tf.parent_from_child @ odom_at_click, map_from_base,
                               atol=1e-12)
    jumped, sent = st.rebroadcast(4_999_000_000, 0.1)  # now + tolerance not newer: skipped
    assert not jumped and sent is None
    jumped, sent = st.rebroadcast(5_200_000_000, 0.1)
    assert not jumped and sent[0] is st.held_tf and sent[1] > first
    hold.parent_from_child[0, 3] = 99.0                     # held as a copy
    assert st.held_tf.parent_from_child[0, 3] != 99.0


def test_time_going_backwards_resets():
    st = TrackingState()
    assert st.check_stamp(10) is StampCheck.OK
    assert st.check_stamp(20) is StampCheck.OK
    assert st.check_stamp(20) is StampCheck.DUPLICATE
    _success(st, np.eye(4))
    epoch = st.epoch
    assert st.check_stamp(5) is StampCheck.BACKWARDS      # bag loop
    assert st.track is Track.UNINITIALIZED
    assert st.held_tf is None and st.epoch == epoch + 1
    assert st.last_stamp_ns == 5
    assert st.check_stamp(6) is StampCheck.OK


def test_tf_rebroadcast_stamps():
    st = TrackingState()
    s = 10**9
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=False) is None     # nothing held yet
    _success(st, np.eye(4))
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=True) == 5 * s + s // 10
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=False) is None     # paused clock: skip
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=True) == 5 * s + s // 10 + 1
    assert st.next_tf_stamp_ns(6 * s, 0.1, fresh=False) == 6 * s + s // 10
    assert not st.clock_jumped_back(6 * s)
    assert not st.clock_jumped_back(int(5.5 * s))                  # small jitter
    assert st.clock_jumped_back(2 * s)                             # bag restarted
    assert st.held_tf is None and st.last_tf_stamp_ns is None


def test_no_tf_is_stamped_while_the_clock_reads_zero():
    """use_sim_time before the first /clock: now + transform_tolerance was 0.1 s (1970), sent by
    a fix or by the TF timer re-broadcasting an /initialpose hold. Nothing is sent and nothing
    remembered, so the first tick after /clock sends the held TF at the real time."""
    st = TrackingState()
    s = 10**9
    _success(st, np.eye(4))
    assert st.next_tf_stamp_ns(0, 0.1, fresh=True) is None
    assert st.rebroadcast(0, 0.1) == (False, None)
    assert st.last_tf_stamp_ns is None and st.last_tf_clock_ns is None
    jumped, send = st.rebroadcast(1000 * s, 0.1)
    assert not jumped and send[1] == 1000 * s + s // 10


def test_hint_is_the_last_camera_pose_while_tracking():
    """Without odometry the hint (candidate selection) is the last camera pose while tracking,
    nothing once lost, on ~/relocalize or after an /initialpose."""
    st = TrackingState(lost_after_failures=2)

    def hint():
        return _plan(st, np.eye(4), np.eye(4), has_odometry=False).hint

    assert hint() is None
    cam = make_pose(rz(30.0), [1.0, 2.0, 3.0])
    _success(st, np.eye(4), cam)
    np.testing.assert_allclose(hint(), cam)
    _failure(st, "a")
    np.testing.assert_allclose(hint(), cam)              # one failure keeps tracking
    _failure(st, "b")
    assert st.track is Track.LOST and hint() is None     # N = 2 from the config
    _success(st, np.eye(4), cam)
    st.request_global()
    assert hint() is None                                # ~/relocalize: global retrieval
    np.testing.assert_allclose(hint(), cam)              # consumed by that frame
    st.set_initial_pose(np.eye(4), np.eye(4))
    assert hint() is None                                # the operator overrides the track


def test_held_tf_keeps_its_frames_and_is_a_copy():
    st = TrackingState()
    m2o = make_pose(rz(10.0), [1.0, 0.0, 0.0])
    st.on_success(LocalizationResult(True, 0, np.eye(4), None), TfToPublish("map", "base", m2o))
    assert (st.held_tf.parent, st.held_tf.child) == ("map", "base")
    m2o[0, 3] = 5.0
    assert st.held_tf.parent_from_child[0, 3] == 1.0


def test_rebroadcast_tick():
    st = TrackingState()
    s = 10**9
    assert st.rebroadcast(5 * s, 0.1) == (False, None)             # nothing held yet
    _success(st, np.eye(4))
    jumped, send = st.rebroadcast(5 * s, 0.1)
    assert not jumped and send[0] is st.held_tf and send[1] == 5 * s + s // 10
    assert st.rebroadcast(5 * s, 0.1) == (False, None)             # paused clock: skip
    assert st.rebroadcast(2 * s, 0.1) == (True, None)              # bag restarted: reset


def test_lost_after_failures_is_checked():
    with pytest.raises(ConfigError):
        TrackingState(lost_after_failures=0)


# --- the odometry gate and confirmation (issue 10) -----------------------------------------

from mast3r_ros.core.config import TrackingConfig  # noqa: E402
from mast3r_ros.ros import odometry_gate as og  # noqa: E402

CFG = TrackingConfig()
S = 10**9


def test_gate_tolerance_grows_with_motion_and_time():
    tol = og.tolerance(CFG, 0.0, 0.0, 0.0)
    assert (tol.translation_m, tol.rotation_deg) == (0.10, 3.0)
    tol = og.tolerance(CFG, 2.0, 20.0, 4.0)
    assert tol.translation_m == pytest.approx(0.10 + 0.05 * 2.0 + 0.05 * 4.0)
    assert tol.rotation_deg == pytest.approx(3.0 + 0.05 * 20.0 + 1.0 * 4.0)
    assert og.vouches(CFG, og.tolerance(CFG, 0.5, 10.0, 1.0))
    assert not og.vouches(CFG, og.tolerance(CFG, 1.0, 0.0, 3.0))       # 0.30 m exceeded
    assert not og.vouches(TrackingConfig(odom_gate_translation_m=0.0), tol)
    assert not og.vouches(CFG, og.tolerance(CFG, 0.0, 160.0, 0.0))     # 10 deg exceeded
    # a stamp before the anchor's (negative elapsed time) adds nothing, it does not shrink
    assert og.tolerance(CFG, 0.0, 0.0, -10.0) == og.tolerance(CFG, 0.0, 0.0, 0.0)
    # 'within' the tolerance includes it (values exact in binary)
    assert og.Tolerance(0.25, 2.5).admits(0.25, 2.5)
    assert not og.Tolerance(0.25, 2.5).admits(0.25 + 1e-9, 2.5)
    assert not og.Tolerance(0.25, 2.5).admits(0.25, 2.5 + 1e-9)


def test_carry_moves_the_pose_by_the_odometry_motion_in_the_base_frame():
    """A base turned 90 deg in odom that drives 1 m forward (its own x): the carried pose is
    the old map pose moved 1 m along the base's own x, whatever the map and odom frames are."""
    odom_then = make_pose(Rotation.from_euler("z", 90, degrees=True).as_matrix(), [2.0, 3.0, 0])
    forward = make_pose(np.eye(3), [1.0, 0, 0])
    map_then = make_pose(Rotation.from_euler("z", -30, degrees=True).as_matrix(), [5.0, -1.0, 0])
    got = og.carry(map_then, odom_then, odom_then @ forward)
    np.testing.assert_allclose(got, map_then @ forward, atol=1e-12)
    np.testing.assert_allclose(got[:3, 3], [5.0 + np.cos(np.radians(30)), -1.5, 0], atol=1e-12)


def test_agreement_tolerances_while_the_gate_is_off():
    """Confirmation compares consecutive poses under odometry even with the gate off: the
    default translation tolerance and the larger of the configured and default rotation ones;
    with the gate on, the gate's own."""
    default = TrackingConfig()
    off = og.agreement_config(TrackingConfig(odom_gate_translation_m=0.0,
                                             odom_gate_rotation_deg=1.0))
    assert (off.odom_gate_translation_m, off.odom_gate_rotation_deg) == (
        default.odom_gate_translation_m, default.odom_gate_rotation_deg)
    off = og.agreement_config(TrackingConfig(odom_gate_translation_m=0.0,
                                             odom_gate_rotation_deg=20.0))
    assert off.odom_gate_rotation_deg == 20.0
    on = TrackingConfig(odom_gate_translation_m=0.2, odom_gate_rotation_deg=1.0)
    assert og.agreement_config(on) == on


def _published(st, map_from_base_, odom, stamp_ns, base_from_cam):
    res = LocalizationResult(True, stamp_ns, map_from_base_ @ base_from_cam, np.eye(6))
    st.on_success(res, TfToPublish("map", "odom", map_from_odom(map_from_base_, odom)), odom)


def _result(map_from_base_, base_from_cam, stamp_ns):
    return LocalizationResult(True, stamp_ns, map_from_base_ @ base_from_cam, np.eye(6))


def test_a_jump_beyond_odometry_fails_with_a_reason_and_retries_globally():
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()
    _published(st, map_from_base_, np.eye(4), S, base_from_cam)
    odom = make_pose(np.eye(3), [0.5, 0.0, 0.0])          # odometry: 0.5 m forward
    expected = map_from_base_ @ odom
    calls = []
    wrong = expected.copy()
    wrong[:3, 3] += [0.45, 0.0, 0.0]

    def localize(prior, force_global, hint):
        calls.append((prior is not None, force_global))
        return _result(wrong, base_from_cam, 2 * S)

    out = tracking.localize_frame(st, localize, CFG, 2 * S, odom, cam_from_base)
    assert calls == [(True, False), (False, True)]         # prior first, then global retrieval
    assert not out.publish and "odometry" in out.result.reason and "0.45 m" in out.result.reason
    assert out.result.map_from_cam is None

    def right(prior, force_global, hint):
        np.testing.assert_allclose(prior, expected @ base_from_cam, atol=1e-9)
        return _result(expected, base_from_cam, 3 * S)

    out = tracking.localize_frame(st, right, CFG, 3 * S, odom, cam_from_base)
    assert out.publish and out.attempts == 1 and out.mode == "odometry"


def test_global_retry_while_lost_needs_confirmation_even_when_odometry_vouches():
    """LOST, but the last published pose is recent enough for odometry to vouch: a pose with
    the odometry prior would be published at once, but the global retry's pose (the first was
    refused by the gate) is one found by global retrieval while not tracking (rule 2)."""
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState(lost_after_failures=3)
    _published(st, map_from_base_, np.eye(4), S, base_from_cam)
    for k in range(3):
        st.on_failure(LocalizationResult.failure(S + (k + 1) * S // 10, "no match"))
    assert st.track is Track.LOST
    wrong = map_from_base_.copy()
    wrong[:3, 3] += [0.45, 0.0, 0.0]
    answers = iter([wrong, map_from_base_])

    def localize(prior, force_global, hint):
        return _result(next(answers), base_from_cam, 2 * S)

    out = tracking.localize_frame(st, localize, CFG, 2 * S, np.eye(4), cam_from_base)
    assert out.mode == "odometry" and out.attempts == 2
    assert not out.publish and "awaits confirmation (1 of 2" in out.result.reason


def test_frames_with_one_stamp_do_not_confirm_each_other():
    """Confirmation needs later frames: a second frame at the candidate's stamp (an image
    delivered twice) does not count towards it."""
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()

    def localize(prior, force_global, hint):
        return _result(map_from_base_, base_from_cam, 0)

    outs = [tracking.localize_frame(st, localize, CFG, 5 * S, np.eye(4), cam_from_base)
            for _ in range(2)]
    assert [o.publish for o in outs] == [False, False]
    assert "awaits confirmation (1 of 2" in outs[1].result.reason
    assert tracking.localize_frame(st, localize, CFG, 6 * S, np.eye(4), cam_from_base).publish


def test_a_reset_during_inference_drops_the_result():
    """/initialpose or a time jump while the localizer runs (unlocked): its result belongs to
    the old timeline, localize_frame returns None and the state is not settled with it."""
    base_from_cam, map_from_base_, _ = camera_on_robot()
    st = TrackingState()

    def localize(prior, force_global, hint):
        st.reset()
        return _result(map_from_base_, base_from_cam, 0)

    assert tracking.localize_frame(st, localize, CFG, 5 * S, np.eye(4),
                                   invert_pose(base_from_cam)) is None
    assert st.candidate is None


def test_lost_global_pose_needs_consecutive_agreeing_frames():
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()
    cfg = TrackingConfig(confirm_frames=3)
    poses = iter([map_from_base_] * 10)

    def localize(prior, force_global, hint):
        return _result(next(poses), base_from_cam, 0)

    outs = [tracking.localize_frame(st, localize, cfg, k * S, np.eye(4), cam_from_base)
            for k in (1, 2)]
    assert [o.publish for o in outs] == [False, False]
    assert "awaits confirmation (2 of 3" in outs[1].result.reason
    st.on_failure(LocalizationResult.failure(3 * S, "corrupt image"))   # a refused frame
    assert st.candidate is None                                        # starts over
    outs = [tracking.localize_frame(st, localize, cfg, k * S, np.eye(4), cam_from_base)
            for k in (4, 5, 6)]
    assert [o.publish for o in outs] == [False, False, True]


def test_a_pose_awaiting_confirmation_does_not_outlive_odometry_vouching_for_it():
    """The camera stalls for two minutes after a globally retrieved pose (a driver hiccup, a
    USB reset): no frame fails meanwhile, so the candidate stayed, and the agreement tolerance
    grown with the elapsed time (0.05 m/s, 1 deg/s: 6 m / 123 deg) admitted whatever the next
    frame gave -- one frame "confirmed" a pose 2 m and 30 deg from the first."""
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()
    elsewhere = map_from_base_ @ make_pose(rz(30.0), [2.0, 0.0, 0.0])
    poses = iter([map_from_base_, elsewhere, elsewhere])

    def localize(prior, force_global, hint):
        return _result(next(poses), base_from_cam, 0)

    stamps = (S, 121 * S, 121 * S + S // 10)            # two minutes without frames
    outs = [tracking.localize_frame(st, localize, CFG, t, np.eye(4), cam_from_base)
            for t in stamps]
    assert not outs[1].publish and "awaits confirmation (1 of 2" in outs[1].result.reason
    assert outs[2].publish                               # the next frame agrees: confirmed
    # frames a second apart still confirm (the tolerance stays within what odometry vouches for)
    st = TrackingState()
    poses = iter([map_from_base_] * 2)
    outs = [tracking.localize_frame(st, localize, CFG, t, np.eye(4), cam_from_base)
            for t in (S, 2 * S)]
    assert [o.publish for o in outs] == [False, True]


@pytest.mark.parametrize("has_odometry", [True, False])
def test_a_slow_camera_still_confirms_a_pose(has_odometry):
    """Frames 8 s apart (a slow camera, or a CPU-bound localizer): the agreement tolerance is
    capped at what odometry vouches for, not dropped -- dropping it past 4 s never confirmed
    (the node published nothing at all), with or without odometry."""
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    near = map_from_base_ @ make_pose(rz(2.0), [0.15, 0.0, 0.0])    # within 0.30 m / 10 deg
    far = map_from_base_ @ make_pose(rz(2.0), [0.4, 0.0, 0.0])      # beyond the cap

    def run(second):
        st = TrackingState()
        poses = iter([map_from_base_, second])

        def localize(prior, force_global, hint):
            return _result(next(poses), base_from_cam, 0)

        return [tracking.localize_frame(st, localize, CFG, t, np.eye(4), cam_from_base,
                                        has_odometry=has_odometry).publish
                for t in (S, 9 * S)]

    assert run(map_from_base_) == [False, True]
    assert run(near) == [False, True]
    assert run(far) == [False, False]       # 0.4 m: within the grown 0.50 m, beyond the cap


def test_relocalize_and_initialpose_change_the_rules():
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()
    _published(st, map_from_base_, np.eye(4), S, base_from_cam)
    st.request_global()
    plan = st.plan(2 * S, np.eye(4), cam_from_base, CFG)
    assert plan.mode == "relocalize" and plan.force_global and plan.confirm
    assert st.anchor is None                      # odometry no longer vouches
    assert st.plan(3 * S, np.eye(4), cam_from_base, CFG).mode == "global"
    st.set_initial_pose(map_from_base_, np.eye(4))
    plan = st.plan(4 * S, np.eye(4), cam_from_base, CFG)
    assert plan.mode == "initialpose" and not plan.confirm and plan.prior is not None


def test_no_odometry_keeps_the_hint_and_the_localizers_gates():
    base_from_cam, map_from_base_, _ = camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()
    _published(st, map_from_base_, np.eye(4), S, base_from_cam)
    plan = st.plan(2 * S, np.eye(4), cam_from_base, CFG, has_odometry=False)
    assert plan.mode == "tracking" and plan.prior is None and plan.hint is not None
    assert plan.tol is None and not plan.confirm


def test_a_plain_failure_is_not_retried():
    base_from_cam, map_from_base_, _ = camera_on_robot()
    st = TrackingState()
    _published(st, map_from_base_, np.eye(4), S, base_from_cam)
    calls = []

    def localize(prior, force_global, hint):
        calls.append(force_global)
        return LocalizationResult.failure(2 * S, "too few inliers")

    out = tracking.localize_frame(st, localize, CFG, 2 * S, np.eye(4), invert_pose(base_from_cam))
    assert calls == [False] and not out.publish and out.result.reason == "too few inliers"


def test_confirmation_still_works_with_the_gate_off():
    base_from_cam, map_from_base_, _ = camera_on_robot()
    st = TrackingState()
    cfg = TrackingConfig(odom_gate_translation_m=0.0)
    poses = iter([map_from_base_, map_from_base_ @ make_pose(np.eye(3), [0.02, 0.0, 0.0])])

    def localize(prior, force_global, hint):
        return _result(next(poses), base_from_cam, 0)           # stamp 0: replaced

    outs = [tracking.localize_frame(st, localize, cfg, k * S, np.eye(4),
                                    invert_pose(base_from_cam)) for k in (1, 2)]
    assert outs[0].result.stamp_ns == S
    assert [o.publish for o in outs] == [False, True]


def test_initial_pose_after_a_clock_jump_back_survives_the_next_tf_tick():
    """/initialpose right after a bag loop: set_initial_pose kept the old timeline's TF stamp,
    so the next tick saw the jump, reset, and dropped the operator's pose. The node now checks
    the clock first (clock_jumped_back, then set_initial_pose), as done here."""
    from mast3r_ros.ros.frames import localization_tf

    st = TrackingState()
    _success(st, make_pose(rz(45), [9, 9, 0]))
    assert st.next_tf_stamp_ns(100_000_000_000, 0.1, fresh=True)
    _, map_from_base, _ = camera_on_robot()
    hold = localization_tf(map_from_base, np.eye(4), "map", "odom", "base_link")
    now = 10_000_000_000                                 # the bag restarted at 10 s
    assert st.clock_jumped_back(now)
    st.set_initial_pose(map_from_base, np.eye(4), hold)
    jumped, sent = st.rebroadcast(now + 50_000_000, 0.1)
    assert not jumped and sent is not None and sent[0].child == "odom"
    assert st.prior_source == "initialpose"
