"""Values of `ros/tracking.py` worked out by hand (mutation audit): clock-jump bounds, copies of
the caller's arrays, the odometry motion in the gate's tolerance, the candidate carried by
odometry and the words of the refusals.

The camera is the base here (``cam_from_base`` = identity) unless said otherwise, and the
robot starts at (1, 2) facing map +y (yaw 90 deg): 1 m forward in odometry is 1 m along map +y.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from mast3r_ros.core.config import TrackingConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.tracker import Track
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.ros import tracking
from mast3r_ros.ros.frames import TfToPublish
from mast3r_ros.ros.tracking import TrackingState
from robot_poses import camera_on_robot, rz

S = 10**9
CFG = TrackingConfig()
EYE = np.eye(4)
START = make_pose(rz(90.0), [1.0, 2.0, 0.0])         # map_from_base at the first frame


def _fwd(x: float) -> np.ndarray:
    """odom_from_base after driving ``x`` metres forward from the odometry origin."""
    return make_pose(np.eye(3), [x, 0.0, 0.0])


def _ok(pose: np.ndarray, stamp_ns: int = 0) -> LocalizationResult:
    return LocalizationResult(True, stamp_ns, pose, np.eye(6))


def _publish(st: TrackingState, map_from_base_: np.ndarray, odom: np.ndarray, stamp_ns: int):
    """What the node does with a published pose (map->odom held, odometry anchored)."""
    m2o = map_from_base_ @ np.linalg.inv(odom)
    st.on_success(_ok(map_from_base_, stamp_ns), TfToPublish("map", "odom", m2o), odom)


def _always(pose: np.ndarray):
    return lambda prior, force_global, hint: _ok(pose)


def test_initial_pose_in_another_frame_says_how_to_fix_it():
    q = NS(x=0.0, y=0.0, z=0.0, w=1.0)
    msg = NS(header=NS(frame_id="odom"),
             pose=NS(pose=NS(position=NS(x=0.0, y=0.0, z=0.0), orientation=q)))
    with pytest.raises(InputError, match="set rviz's fixed frame to map"):
        tracking.initial_pose_to_map_from_base(msg, "map")


def test_clock_jump_is_measured_between_clock_readings_and_must_exceed_the_threshold():
    st = TrackingState()
    st.on_success(_ok(EYE), TfToPublish("map", "odom", EYE))
    assert st.next_tf_stamp_ns(5 * S, 0.1, fresh=True) == 5_100_000_000
    # now 4.05 s: 0.95 s behind the clock of the last stamp (5 s) -- jitter, not a jump
    assert not st.clock_jumped_back(4_050_000_000)
    # now 4 s: exactly 1 s behind: not *more* than the threshold
    assert not st.clock_jumped_back(4 * S)
    # a clock at 0 (use_sim_time before /clock) is no jump either
    assert not st.clock_jumped_back(0)
    assert st.held_tf is not None
    # 1 ns further back is a jump: the state is reset
    assert st.clock_jumped_back(4 * S - 1)
    assert st.held_tf is None


def test_lowering_transform_tolerance_at_run_time_is_no_clock_jump():
    """transform_tolerance is a live parameter: 2 s -> 0.1 s moves the next TF stamp 1.9 s back
    while the clock goes on; the held map->odom must survive (it was dropped, TF stopped until
    the robot relocalized, and a "bag loop or sim reset" was blamed)."""
    st = TrackingState()
    st.on_success(_ok(EYE), TfToPublish("map", "odom", EYE))
    jumped, sent = st.rebroadcast(10 * S, 2.0)
    assert not jumped and sent[1] == 12 * S
    jumped, sent = st.rebroadcast(10 * S + 50_000_000, 0.1)
    assert not jumped and st.held_tf is not None
    assert sent is None  # 10.15 s is not newer than 12 s: skipped until the clock passes it
    jumped, sent = st.rebroadcast(int(11.95 * S), 0.1)
    assert not jumped and sent[1] == 12_050_000_000
    # a real jump of the clock is still one
    assert st.rebroadcast(9 * S, 0.1) == (True, None) and st.held_tf is None


def test_on_success_keeps_copies_of_the_prior_and_the_anchor():
    st = TrackingState()
    prior = make_pose(rz(10.0), [1.0, 0.0, 0.0])
    odom = _fwd(2.0)
    st.on_success(_ok(EYE, S), TfToPublish("map", "odom", EYE), odom, prior=prior)
    np.testing.assert_allclose(st.prior_map_from_odom, make_pose(rz(10.0), [1.0, 0.0, 0.0]))
    prior[0, 3] = 99.0                    # the caller reuses its arrays
    odom[0, 3] = 99.0
    assert st.prior_map_from_odom[0, 3] == 1.0
    assert st.anchor.odom_from_base[0, 3] == 2.0 and st.anchor.stamp_ns == S


def test_the_gate_tolerance_grows_with_the_odometry_motion_since_the_anchor():
    """Published at 1 s; at 2 s odometry says 2 m forward. Tolerance by hand:
    0.10 + 0.05 * 2 m + 0.05 * 1 s = 0.25 m (vouches: <= 0.30), 3 + 0 + 1 = 4 deg. A pose 0.2 m
    past the prediction is published at once."""
    st = TrackingState()
    _publish(st, START, EYE, S)
    predicted = make_pose(rz(90.0), [1.0, 4.0, 0.0])
    plan = st.plan(2 * S, _fwd(2.0), EYE, CFG)
    assert plan.mode == "odometry"
    np.testing.assert_allclose(plan.predicted, predicted, atol=1e-12)
    assert plan.tol.translation_m == pytest.approx(0.25)
    assert plan.tol.rotation_deg == pytest.approx(4.0)
    st = TrackingState()
    _publish(st, START, EYE, S)
    off = make_pose(rz(90.0), [1.0, 4.2, 0.0])
    out = tracking.localize_frame(st, _always(off), CFG, 2 * S, _fwd(2.0), EYE)
    assert out.publish and out.attempts == 1 and out.mode == "odometry"


def test_a_pose_refused_twice_names_the_tolerance_and_the_retry():
    """Published at 1 s, no motion, the next frame at 2 s: tolerance 0.10 + 0.05 * 1 s = 0.15 m,
    3 + 1 * 1 s = 4 deg; both attempts give a pose 0.45 m off."""
    st = TrackingState()
    _publish(st, START, EYE, S)
    off = make_pose(rz(90.0), [1.45, 2.0, 0.0])
    out = tracking.localize_frame(st, _always(off), CFG, 2 * S, EYE, EYE)
    assert not out.publish and out.attempts == 2
    assert out.result.reason == (
        "pose is 0.45 m / 0.0 deg from where odometry puts the robot since the last published "
        "pose (tolerance 0.15 m / 4.0 deg); global retrieval disagrees too")
    st2 = TrackingState()
    _publish(st2, START, EYE, S)
    plan = st2.plan(2 * S, EYE, EYE, CFG)
    assert tracking.judge(plan, _ok(off, 2 * S), 0).retry
    assert not tracking.judge(plan, _ok(off, 2 * S), 1).retry      # the retry is the last


def test_lost_but_vouched_for_publishes_the_first_pose_within_the_gate():
    """Rule 1: odometry still vouches for the last published pose (1 s ago) although three
    failures made the track LOST; a pose within the gate at the first attempt needs no
    confirmation (only the global retry's pose does)."""
    st = TrackingState()
    _publish(st, START, EYE, S)
    for k in (1, 2, 3):
        st.on_failure(LocalizationResult.failure(S + k * S // 10, "no match"))
    assert st.track is Track.LOST
    out = tracking.localize_frame(st, _always(START), CFG, 2 * S, EYE, EYE)
    assert out.mode == "odometry" and out.publish and out.attempts == 1


def test_a_candidate_is_carried_by_odometry_to_the_next_frame():
    """Candidate at 1 s, odometry 0; at 1.1 s odometry says 1 m forward, so the candidate is
    expected at (1, 3) facing +y; a pose there confirms it."""
    st = TrackingState()
    moved = make_pose(rz(90.0), [1.0, 3.0, 0.0])
    first = tracking.localize_frame(st, _always(START), CFG, S, EYE, EYE)
    assert first.mode == "global" and not first.publish
    second = tracking.localize_frame(st, _always(moved), CFG, S + S // 10, _fwd(1.0), EYE)
    assert second.publish


def test_agreement_tolerance_grows_with_the_odometry_motion_between_candidates():
    """Candidates 0.1 s apart, odometry 2 m forward: tolerance 0.10 + 0.05 * 2 m + 0.05 * 0.1 s
    = 0.205 m; a pose 0.15 m beside where odometry carries the candidate, (1, 4), confirms it
    (without the motion term, 0.105 m, the count started over)."""
    st = TrackingState()
    tracking.localize_frame(st, _always(START), CFG, S, EYE, EYE)
    beside = make_pose(rz(90.0), [1.15, 4.0, 0.0])
    out = tracking.localize_frame(st, _always(beside), CFG, S + S // 10, _fwd(2.0), EYE)
    assert out.publish, out.result.reason


def test_agreement_tolerance_grows_by_seconds_not_milliseconds():
    """Candidates 1 s apart, no motion: tolerance 0.10 + 0.05 * 1 s = 0.15 m; a second pose
    0.2 m away does not confirm (the count starts over at it)."""
    st = TrackingState()
    tracking.localize_frame(st, _always(START), CFG, S, EYE, EYE)
    away = make_pose(rz(90.0), [1.2, 2.0, 0.0])
    out = tracking.localize_frame(st, _always(away), CFG, 2 * S, EYE, EYE)
    assert not out.publish and "(1 of 2 consecutive frames agree" in out.result.reason


def test_a_candidate_survives_the_failure_call_of_its_own_frame_and_keeps_a_copy():
    """The node calls on_failure with the refused result of the frame that made the candidate;
    that must not start the confirmation over. The caller's odometry array may be reused."""
    st = TrackingState()
    odom = np.eye(4)
    out = tracking.localize_frame(st, _always(START), CFG, S, odom, EYE)
    st.on_failure(out.result)
    odom[0, 3] = 7.0
    assert st.candidate is not None and st.candidate.odom_from_base[0, 3] == 0.0
    out = tracking.localize_frame(st, _always(START), CFG, 2 * S, EYE, EYE)
    assert out.publish


def test_relocalize_starts_the_confirmation_over():
    st = TrackingState()
    tracking.localize_frame(st, _always(START), CFG, S, EYE, EYE)
    assert st.candidate is not None
    st.request_global()
    out = tracking.localize_frame(st, _always(START), CFG, 2 * S, EYE, EYE)
    assert out.mode == "relocalize" and not out.publish
    assert "(1 of 2 consecutive frames agree" in out.result.reason


def test_plans_without_the_gate_carry_the_last_pose_by_odometry():
    """Published at 1 s at START; odometry then says 1 m forward: the pose odometry predicts is
    (1, 3) facing +y."""
    moved = make_pose(rz(90.0), [1.0, 3.0, 0.0])
    # gate off, tracking: the prediction is the prior, the last camera pose the hint
    st = TrackingState()
    _publish(st, START, EYE, S)
    plan = st.plan(2 * S, _fwd(1.0), EYE, TrackingConfig(odom_gate_translation_m=0.0))
    assert plan.mode == "tracking" and plan.tol is None
    np.testing.assert_allclose(plan.prior, moved, atol=1e-12)
    np.testing.assert_allclose(plan.hint, START, atol=1e-12)
    # 99 s later odometry no longer vouches (0.10 + 0.05 + 0.05 * 99 s > 0.30 m): global
    # retrieval, needing confirmation, with the prediction as the hint
    plan = st.plan(100 * S, _fwd(1.0), EYE, CFG)
    assert plan.mode == "global" and plan.prior is None and plan.confirm
    np.testing.assert_allclose(plan.hint, moved, atol=1e-12)


def test_plans_without_the_gate_give_camera_poses_for_a_mounted_camera():
    """The same with the camera of `camera_on_robot` (optical frame 0.2 m ahead, 0.5 m up): the
    prior, and the hint towards a jump awaiting confirmation, are camera poses (base pose @
    base_from_cam), not base poses (120 deg off: no keyframe within the hint's view)."""
    base_from_cam = camera_on_robot()[0]
    cam_from_base = np.linalg.inv(base_from_cam)
    off = TrackingConfig(odom_gate_translation_m=0.0)
    st = TrackingState()
    _publish(st, START, EYE, S)
    plan = st.plan(2 * S, _fwd(1.0), cam_from_base, off)
    moved = make_pose(rz(90.0), [1.0, 3.0, 0.0])
    np.testing.assert_allclose(plan.prior, moved @ base_from_cam, atol=1e-12)
    far = make_pose(rz(90.0), [6.0, 2.0, 0.0])                # 5 m: awaits confirmation
    out = tracking.localize_frame(st, _always(far @ base_from_cam), off, 2 * S, EYE,
                                  cam_from_base)
    assert not out.publish and st.candidate is not None
    plan = st.plan(3 * S, EYE, cam_from_base, off)
    np.testing.assert_allclose(plan.hint, far @ base_from_cam, atol=1e-12)


def test_default_tracking_is_lost_after_three_failures():
    st = TrackingState()
    st.on_success(_ok(EYE), TfToPublish("map", "odom", EYE))
    for k in (1, 2):
        st.on_failure(LocalizationResult.failure(k, "x"))
    assert st.track is Track.TRACKING
    st.on_failure(LocalizationResult.failure(3, "x"))
    assert st.track is Track.LOST


def test_a_candidate_left_from_before_a_publish_does_not_confirm_a_later_pose():
    """LOST, odometry still vouching: at 2 s the gate refuses the first pose and the global
    retry's pose becomes a candidate; at 3 s a pose within the gate is published. After a
    60 s camera stall odometry no longer vouches (0.10 + 0.05 * 60 s > 0.30 m): the next pose
    is the first of a new confirmation (rule 2), not the second of the old one."""
    st = TrackingState()
    _publish(st, START, EYE, S)
    for k in (1, 2, 3):
        st.on_failure(LocalizationResult.failure(S + k * S // 10, "no match"))
    off = make_pose(rz(90.0), [1.45, 2.0, 0.0])
    answers = iter([off, START])
    out = tracking.localize_frame(st, lambda p, g, h: _ok(next(answers)), CFG, 2 * S, EYE, EYE)
    assert out.attempts == 2 and not out.publish and st.candidate is not None
    st.on_failure(out.result)
    out = tracking.localize_frame(st, _always(START), CFG, 3 * S, EYE, EYE)
    assert out.publish and out.mode == "odometry"
    _publish(st, START, EYE, 3 * S)                      # what the node does with it
    out = tracking.localize_frame(st, _always(START), CFG, 63 * S, EYE, EYE)
    assert out.mode == "global" and not out.publish
    assert "(1 of 2 consecutive frames agree" in out.result.reason


def test_confirmation_with_the_gate_off_uses_the_default_agreement_tolerance():
    """Gate off: poses agree within the default 0.10 m (+ 0.05 m/s * 0.1 s = 0.105 m), not
    within the disabled gate's 0 m (+ 0.005 m). A second pose 0.08 m away confirms."""
    cfg = TrackingConfig(odom_gate_translation_m=0.0)
    st = TrackingState()
    tracking.localize_frame(st, _always(START), cfg, S, EYE, EYE)
    near = make_pose(rz(90.0), [1.08, 2.0, 0.0])
    assert tracking.localize_frame(st, _always(near), cfg, S + S // 10, EYE, EYE).publish


def test_the_initial_pose_prior_is_the_camera_pose():
    """/initialpose gives the base pose; the localizer's prior is the camera's: by hand the
    camera of `camera_on_robot` is at (1, 2.2, 0.5) looking along map +y."""
    base_from_cam, map_from_base, map_from_cam = camera_on_robot()
    st = TrackingState()
    st.set_initial_pose(map_from_base, EYE)
    plan = st.plan(S, EYE, np.linalg.inv(base_from_cam), CFG)
    assert plan.mode == "initialpose"
    np.testing.assert_allclose(plan.prior[:3, 3], [1.0, 2.2, 0.5], atol=1e-12)
    np.testing.assert_allclose(plan.prior[:3, :3] @ [0, 0, 1], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(plan.prior, map_from_cam, atol=1e-12)
