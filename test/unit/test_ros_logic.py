"""The ROS node's decisions, tested without ROS (`mast3r_ros.core.ros_logic`)."""

from __future__ import annotations

import array
import math
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import ros_logic as rl
from mast3r_ros.core.config import Config, param_specs
from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.geometry import invert_pose, make_pose
from mast3r_ros.core.types import CameraIntrinsics

# Camera optical frame (x right, y down, z forward) on a base_link (x forward, y left, z up).
R_BASE_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def rz(deg: float) -> np.ndarray:
    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


def random_pose(rng: np.random.Generator) -> np.ndarray:
    return make_pose(Rotation.random(random_state=rng.integers(1 << 31)).as_matrix(),
                     rng.normal(size=3))


# ------------------------------------------------------------------------------------ time

def test_stamp_round_trip_and_layout():
    assert rl.stamp_to_ns(1, 250_000_000) == 1_250_000_000
    assert rl.ns_to_stamp(1_250_000_000) == (1, 250_000_000)
    assert rl.ns_to_stamp(0) == (0, 0)
    for ns in (1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789):
        sec, nsec = rl.ns_to_stamp(ns)
        assert 0 <= nsec < 1_000_000_000
        assert rl.stamp_to_ns(sec, nsec) == ns
    with pytest.raises(InputError):
        rl.ns_to_stamp(-1)


def test_tf_stamp_is_now_plus_tolerance():
    assert rl.tf_stamp_ns(5_000_000_000, 0.1) == 5_100_000_000
    assert rl.tf_stamp_ns(5_000_000_000, 0.0) == 5_000_000_000


def test_stale_gate():
    now = 10 * 10**9
    assert rl.image_age_s(now - 2 * 10**9, now) == pytest.approx(2.0)
    assert rl.is_stale(now - 2 * 10**9, now, 1.0)
    assert not rl.is_stale(now - 500_000_000, now, 1.0)
    assert not rl.is_stale(now - 2 * 10**9, now, 0.0)          # 0 disables the gate
    assert not rl.is_stale(now + 10**9, now, 1.0)              # future stamp: not stale
    assert not rl.is_stale(5 * 10**9, 0, 1.0)                  # sim time before /clock


# ------------------------------------------------------------------------------ TF algebra

def test_quaternion_round_trip_and_hand_values():
    T = make_pose(rz(90.0), [1.0, 2.0, 3.0])
    t, q = rl.matrix_to_tq(T)
    s = math.sqrt(0.5)
    np.testing.assert_allclose(t, [1, 2, 3])
    np.testing.assert_allclose(q, [0, 0, s, s], atol=1e-12)     # x y z w
    np.testing.assert_allclose(rl.tq_to_matrix(t, q), T, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        P = random_pose(rng)
        t, q = rl.matrix_to_tq(P)
        assert q[3] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-12
        np.testing.assert_allclose(rl.tq_to_matrix(t, q), P, atol=1e-12)


def test_quaternion_is_normalised_and_zero_rejected():
    T = rl.tq_to_matrix([0, 0, 0], [0, 0, 2.0, 2.0])           # unnormalised 90 deg about z
    np.testing.assert_allclose(T[:3, :3], rz(90.0), atol=1e-12)
    with pytest.raises(InputError, match="all zeros"):
        rl.tq_to_matrix([0, 0, 0], [0, 0, 0, 0])
    with pytest.raises(InputError):
        rl.tq_to_matrix([0, float("nan"), 0], [0, 0, 0, 1])


def _camera_on_robot():
    """Camera 0.2 m ahead of and 0.5 m above base_link, looking forward; robot at (1, 2) facing
    +y (yaw 90 deg). By hand the camera is at (1, 2.2, 0.5) in the map."""
    base_from_cam = make_pose(R_BASE_FROM_OPTICAL, [0.2, 0.0, 0.5])
    map_from_base = make_pose(rz(90.0), [1.0, 2.0, 0.0])
    map_from_cam = make_pose(rz(90.0) @ R_BASE_FROM_OPTICAL, [1.0, 2.2, 0.5])
    return base_from_cam, map_from_base, map_from_cam


def test_map_from_base_against_hand_computed():
    base_from_cam, expected, map_from_cam = _camera_on_robot()
    got = rl.map_from_base(map_from_cam, invert_pose(base_from_cam))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # the optical axis (+z) points along the robot's heading (+y in the map)
    np.testing.assert_allclose(map_from_cam[:3, :3] @ [0, 0, 1], [0, 1, 0], atol=1e-12)


def test_map_to_odom_and_fallback():
    _, map_from_base, _ = _camera_on_robot()
    odom_from_base = make_pose(rz(30.0), [0.5, 0.1, 0.0])
    tf = rl.localization_tf(map_from_base, odom_from_base, "map", "odom", "base_link")
    assert (tf.parent, tf.child) == ("map", "odom")
    np.testing.assert_allclose(tf.parent_from_child @ odom_from_base, map_from_base, atol=1e-12)
    # by hand: map->odom rotates by 90 - 30 = 60 deg
    np.testing.assert_allclose(tf.parent_from_child[:3, :3], rz(60.0), atol=1e-12)
    same = rl.localization_tf(map_from_base, map_from_base, "map", "odom", "base_link")
    np.testing.assert_allclose(same.parent_from_child, np.eye(4), atol=1e-12)
    # no odometry frame: map -> base_link directly
    direct = rl.localization_tf(map_from_base, None, "map", "", "base_link")
    assert (direct.parent, direct.child) == ("map", "base_link")
    np.testing.assert_allclose(direct.parent_from_child, map_from_base)
    with pytest.raises(InputError):
        rl.localization_tf(map_from_base, None, "map", "odom", "base_link")


def test_initial_pose_prior_round_trip():
    base_from_cam, map_from_base, map_from_cam = _camera_on_robot()
    prior = rl.prior_from_base_pose(map_from_base, invert_pose(base_from_cam))
    np.testing.assert_allclose(prior, map_from_cam, atol=1e-12)


def _initialpose_msg(frame_id, x, y, yaw_deg):
    q = Rotation.from_euler("z", yaw_deg, degrees=True).as_quat()
    pose = NS(position=NS(x=x, y=y, z=0.0), orientation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    return NS(header=NS(frame_id=frame_id, stamp=NS(sec=0, nanosec=0)),
              pose=NS(pose=pose, covariance=[0.0] * 36))


def test_initial_pose_message():
    T = rl.initial_pose_to_map_from_base(_initialpose_msg("map", 1.0, 2.0, 90.0), "map")
    np.testing.assert_allclose(T, make_pose(rz(90.0), [1, 2, 0]), atol=1e-12)
    T = rl.initial_pose_to_map_from_base(_initialpose_msg("/map", 1.0, 2.0, 90.0), "map")
    np.testing.assert_allclose(T[:3, 3], [1, 2, 0])
    with pytest.raises(InputError, match="odom"):
        rl.initial_pose_to_map_from_base(_initialpose_msg("odom", 1.0, 2.0, 0.0), "map")


def test_transform_fields():
    q = Rotation.from_euler("z", 45, degrees=True).as_quat()
    tf = NS(translation=NS(x=1.0, y=0.0, z=2.0), rotation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    np.testing.assert_allclose(rl.transform_fields_to_matrix(tf), make_pose(rz(45), [1, 0, 2]),
                               atol=1e-12)


# ------------------------------------------------------------------------------ covariance

def test_covariance_translation_only_lever_arm_by_hand():
    # camera with identity orientation in the map; base 1 m above the camera (in map z)
    map_from_cam = np.eye(4)
    cam_from_base = make_pose(np.eye(3), [0.0, 0.0, 1.0])
    cov = np.zeros((6, 6))
    cov[3, 3] = 0.01                                     # only rot_x uncertain
    out = rl.covariance_cam_to_base(cov, map_from_cam, cam_from_base)
    # rotating by d about x moves the base by d x (0, 0, 1) = (0, -d, 0)
    expected = np.zeros((6, 6))
    expected[1, 1] = 0.01
    expected[1, 3] = expected[3, 1] = -0.01
    expected[3, 3] = 0.01
    np.testing.assert_allclose(out, expected, atol=1e-15)
    # translation uncertainty alone carries over unchanged
    cov_t = np.diag([0.04, 0.09, 0.16, 0, 0, 0])
    np.testing.assert_allclose(rl.covariance_cam_to_base(cov_t, map_from_cam, cam_from_base),
                               cov_t, atol=1e-15)


def test_covariance_pure_rotation_is_unchanged_in_map_axes():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T * 1e-3
    cam_from_base = make_pose(Rotation.from_euler("y", 90, degrees=True).as_matrix(), [0, 0, 0])
    map_from_cam = random_pose(rng)
    np.testing.assert_allclose(rl.covariance_cam_to_base(cov, map_from_cam, cam_from_base), cov,
                               atol=1e-15)


def test_covariance_rotated_camera_rotates_the_lever_arm():
    # camera yawed 90 deg in the map: base 1 m along camera x is 1 m along map y
    map_from_cam = make_pose(rz(90.0), [0, 0, 0])
    cam_from_base = make_pose(np.eye(3), [1.0, 0.0, 0.0])
    cov = np.zeros((6, 6))
    cov[5, 5] = 0.04                                     # yaw only
    out = rl.covariance_cam_to_base(cov, map_from_cam, cam_from_base)
    # a yaw error d moves the base at (0, 1, 0) by d x (0, 1, 0) = (-d, 0, 0)
    assert out[0, 0] == pytest.approx(0.04)
    assert out[0, 5] == pytest.approx(-0.04)
    assert out[1, 1] == pytest.approx(0.0, abs=1e-15)


def test_covariance_matches_monte_carlo():
    """Sample the camera pose from its covariance (module convention), map each sample to the
    base, and compare the base samples' covariance with the propagated one."""
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 6))
    cov = (A @ A.T + np.eye(6)) * 1e-5
    map_from_cam = random_pose(rng)
    cam_from_base = random_pose(rng)
    base = map_from_cam @ cam_from_base
    d = rng.multivariate_normal(np.zeros(6), cov, size=20000)
    R_cam = Rotation.from_rotvec(d[:, 3:]).as_matrix() @ map_from_cam[:3, :3]     # (N, 3, 3)
    p_cam = map_from_cam[:3, 3] + d[:, :3]
    p_base = p_cam + R_cam @ cam_from_base[:3, 3]
    R_base = R_cam @ cam_from_base[:3, :3]
    errs = np.concatenate([p_base - base[:3, 3],
                           Rotation.from_matrix(R_base @ base[:3, :3].T).as_rotvec()], axis=1)
    empirical = np.cov(errs.T)
    analytic = rl.covariance_cam_to_base(cov, map_from_cam, cam_from_base)
    scale = np.sqrt(np.outer(np.diag(analytic), np.diag(analytic)))
    assert np.max(np.abs(empirical - analytic) / scale) < 0.05


def test_covariance_sanitize_and_layout():
    cov = np.diag([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    cov[0, 5] = cov[5, 0] = 0.3
    flat = rl.covariance_to_list(cov)
    assert len(flat) == 36 and all(isinstance(v, float) for v in flat)
    assert flat[0] == 1.0 and flat[7] == 2.0 and flat[35] == 6.0     # x, y, rot_z variances
    assert flat[5] == 0.3 and flat[30] == 0.3                        # row-major (x, rot_z)
    np.testing.assert_array_equal(rl.covariance_from_list(flat), cov)
    bad = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1e-3])
    bad[0, 1] = 0.2                                      # also asymmetric
    fixed = rl.sanitize_covariance(bad)
    np.testing.assert_allclose(fixed, fixed.T)
    assert np.linalg.eigvalsh(fixed).min() >= 0
    with pytest.raises(InputError):
        rl.sanitize_covariance(np.full((6, 6), np.nan))
    with pytest.raises(InputError):
        rl.covariance_from_list([0.0] * 35)


def test_base_pose_covariance_is_psd_and_falls_back():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T * 1e-4
    out = rl.base_pose_covariance(cov, random_pose(rng), random_pose(rng))
    np.testing.assert_allclose(out, out.T)
    assert np.linalg.eigvalsh(out).min() >= 0
    fallback = rl.base_pose_covariance(None, np.eye(4), np.eye(4))
    np.testing.assert_allclose(fallback, rl.DEFAULT_COVARIANCE)


# ------------------------------------------------------------------------- tracking state

def test_tracking_prior_follows_odometry():
    st = rl.TrackingState()
    base_from_cam, map_from_base, map_from_cam = _camera_on_robot()
    cam_from_base = invert_pose(base_from_cam)
    odom0 = make_pose(rz(10.0), [3.0, -1.0, 0.0])
    assert st.track is rl.Track.UNINITIALIZED
    assert st.prior_map_from_cam(odom0, cam_from_base) is None
    st.on_success(rl.map_from_odom(map_from_base, odom0))
    assert st.track is rl.Track.TRACKING
    np.testing.assert_allclose(st.prior_map_from_cam(odom0, cam_from_base), map_from_cam,
                               atol=1e-12)
    # the robot drives 1 m forward (its own +x): the prior moves 1 m along map +y
    odom1 = odom0 @ make_pose(np.eye(3), [1.0, 0.0, 0.0])
    prior = st.prior_map_from_cam(odom1, cam_from_base)
    np.testing.assert_allclose(prior[:3, 3], map_from_cam[:3, 3] + [0, 1, 0], atol=1e-12)
    # without odometry the last result is no prior (the localizer tracks on its own)
    assert st.prior_map_from_cam(np.eye(4), cam_from_base, has_odometry=False) is None


def test_tracking_lost_after_failures_keeps_held_tf():
    st = rl.TrackingState(lost_after_failures=3)
    st.on_success(np.eye(4))
    st.on_failure("a")
    st.on_failure("b")
    assert st.track is rl.Track.TRACKING
    assert st.prior_map_from_cam(np.eye(4), np.eye(4)) is not None
    st.on_failure("c")
    assert st.track is rl.Track.LOST and st.last_failure_reason == "c"
    assert st.prior_map_from_cam(np.eye(4), np.eye(4)) is None          # global retrieval
    assert st.held_map_from_odom is not None                            # still re-broadcast
    st.on_success(np.eye(4))
    assert st.track is rl.Track.TRACKING and st.consecutive_failures == 0


def test_relocalize_request_is_consumed_once():
    st = rl.TrackingState()
    st.on_success(np.eye(4))
    st.request_global()
    assert st.prior_map_from_cam(np.eye(4), np.eye(4)) is None
    assert st.take_global_request() is True
    assert st.take_global_request() is False
    assert st.prior_map_from_cam(np.eye(4), np.eye(4)) is not None
    assert st.held_map_from_odom is not None


def test_initial_pose_resets_and_sets_prior():
    st = rl.TrackingState()
    st.on_success(make_pose(rz(45), [9, 9, 0]))
    st.check_stamp(100)
    epoch = st.epoch
    base_from_cam, map_from_base, map_from_cam = _camera_on_robot()
    odom_at_click = make_pose(rz(-20.0), [0.3, 0.4, 0.0])
    st.set_initial_pose(map_from_base, odom_at_click)
    assert st.epoch > epoch                              # a result in flight is now outdated
    assert st.track is rl.Track.UNINITIALIZED
    assert st.held_map_from_odom is None                 # nothing broadcast until localized
    assert st.last_stamp_ns == 100                       # time keeps its order
    prior = st.prior_map_from_cam(odom_at_click, invert_pose(base_from_cam))
    np.testing.assert_allclose(prior, map_from_cam, atol=1e-12)
    no_odom = st.prior_map_from_cam(np.eye(4), invert_pose(base_from_cam), has_odometry=False)
    assert no_odom is not None                           # an initial pose is used regardless
    # an initial pose that keeps failing is dropped: global retrieval after 3 failures
    for _ in range(3):
        st.on_failure("too few inliers")
    assert st.prior_map_from_cam(odom_at_click, invert_pose(base_from_cam)) is None


def test_time_going_backwards_resets():
    st = rl.TrackingState()
    assert st.check_stamp(10) is rl.StampCheck.OK
    assert st.check_stamp(20) is rl.StampCheck.OK
    assert st.check_stamp(20) is rl.StampCheck.DUPLICATE
    st.on_success(np.eye(4))
    epoch = st.epoch
    assert st.check_stamp(5) is rl.StampCheck.BACKWARDS      # bag loop
    assert st.track is rl.Track.UNINITIALIZED
    assert st.held_map_from_odom is None and st.epoch == epoch + 1
    assert st.last_stamp_ns == 5
    assert st.check_stamp(6) is rl.StampCheck.OK


def test_tf_rebroadcast_stamps():
    st = rl.TrackingState()
    s = 10**9
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=False) is None     # nothing held yet
    st.on_success(np.eye(4))
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=True) == 5 * s + s // 10
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=False) is None     # paused clock: skip
    assert st.next_tf_stamp_ns(5 * s, 0.1, fresh=True) == 5 * s + s // 10 + 1
    assert st.next_tf_stamp_ns(6 * s, 0.1, fresh=False) == 6 * s + s // 10
    assert not st.clock_jumped_back(6 * s, 0.1)
    assert not st.clock_jumped_back(int(5.5 * s), 0.1)             # small jitter
    assert st.clock_jumped_back(2 * s, 0.1)                        # bag restarted
    assert st.held_map_from_odom is None and st.last_tf_stamp_ns is None


# ---------------------------------------------------------------------------- diagnostics

def test_diagnostics_levels():
    d = rl.DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    s = d.summary(0.0, rl.Track.UNINITIALIZED, active=False)
    assert s.level == rl.STALE
    d.start(0.0)
    s = d.summary(1.0, rl.Track.UNINITIALIZED, active=True)
    assert s.level == rl.WARN and "not localized" in s.message
    assert d.summary(6.0, rl.Track.UNINITIALIZED, True).message.startswith("no images")
    for k in range(10):
        d.add(rl.FrameRecord(6.0 + 0.2 * k, True, 120 + k, 0.15, 0.1,
                             timings_s=(("inference", 0.08), ("pnp", 0.01))))
    s = d.summary(8.0, rl.Track.TRACKING, True)
    assert s.level == rl.OK and s.message == "tracking"
    values = dict(s.values)
    assert all(isinstance(v, str) for v in values.values())
    assert values["inliers"] == "129"
    assert float(values["rate_hz"]) == pytest.approx(10 / 8.0, rel=1e-3)
    assert values["latency_s"] == "0.150" and values["success_rate"] == "1.00"
    assert values["time_inference_ms"] == "80.0" and values["last_failure"] == "none"
    d.add(rl.FrameRecord(8.1, False, 3, reason="too few inliers (3 < 30)"))
    s = d.summary(8.2, rl.Track.TRACKING, True)
    assert s.level == rl.WARN and "too few inliers" in s.message
    assert dict(s.values)["last_failure"] == "too few inliers (3 < 30)"
    assert d.summary(8.2, rl.Track.LOST, True).level == rl.WARN
    d.add(rl.FrameRecord(8.3, False, reason="inference error: RuntimeError('CUDA')", error=True))
    s = d.summary(8.4, rl.Track.TRACKING, True)
    assert s.level == rl.ERROR and "CUDA" in s.message
    d.add(rl.FrameRecord(20.0, True, 200, 0.1, 0.1))         # errors age out of the window
    assert d.summary(20.1, rl.Track.TRACKING, True).level == rl.OK
    d.add(rl.FrameRecord(20.2, False, dropped=True, reason="replaced by a newer image"))
    values = dict(d.summary(20.3, rl.Track.TRACKING, True).values)
    assert values["dropped_in_window"] == "1" and values["errors"] == "1"
    d.start(100.0)                                       # re-activated much later
    assert not d.summary(101.0, rl.Track.TRACKING, True).message.startswith("no images")
    assert d.summary(106.0, rl.Track.TRACKING, True).message.startswith("no images")


# ------------------------------------------------------------------------------- markers

def test_keyframe_markers():
    poses = np.stack([make_pose(rz(0), [1, 0, 0]),
                      make_pose(rz(90) @ R_BASE_FROM_OPTICAL, [0, 2, 1])])
    kfs = rl.keyframe_list(poses, [7, 9])
    assert [k for k, _ in kfs] == ["7", "9"]
    assert [k for k, _ in rl.keyframe_list(poses)] == ["0", "1"]
    assert rl.keyframe_list(np.zeros((0, 4, 4))) == []
    specs = rl.keyframe_marker_specs(kfs)
    arrows = [s for s in specs if s.kind == "arrow"]
    texts = [s for s in specs if s.kind == "text"]
    assert len(arrows) == 2 and [t.text for t in texts] == ["7", "9"]
    assert len({(s.ns, s.id) for s in specs}) == len(specs)
    for spec, (_, pose) in zip(arrows, kfs):
        arrow_dir = Rotation.from_quat(spec.orientation_xyzw).apply([1.0, 0.0, 0.0])
        np.testing.assert_allclose(arrow_dir, pose[:3, :3] @ [0, 0, 1], atol=1e-12)
        np.testing.assert_allclose(spec.position, pose[:3, 3])
    with pytest.raises(InputError):
        rl.keyframe_list(np.zeros((2, 3, 3)))


def test_debug_image_marks_inliers():
    rgb = np.zeros((60, 80, 3), np.uint8)
    m = NS(query_xy=np.array([[20.0, 40.0], [60.0, 40.0]]), inliers=np.array([True, False]))
    out = rl.debug_image(rgb, m)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert tuple(out[40, 20]) == (0, 255, 0) and tuple(out[40, 60]) == (255, 0, 0)
    assert not rgb.any()                                   # input untouched
    assert rl.debug_image(rgb, None).shape == rgb.shape


def test_debug_image_side_by_side_with_the_most_matched_keyframe():
    q = np.zeros((60, 80, 3), np.uint8)
    kf = np.zeros((120, 160, 3), np.uint8)  # twice the query's size: drawn at half scale
    m = NS(query_xy=np.array([[10.0, 50.0], [70.0, 40.0], [40.0, 30.0]]),
           keyframe_xy=np.array([[20.0, 100.0], [140.0, 80.0], [0.0, 0.0]]),
           keyframe_ids=np.array([7, 7, 3]), inliers=np.array([True, False, True]))
    assert rl.most_matched_keyframe(m) == 7
    assert rl.most_matched_keyframe(None) is None
    out = rl.debug_image(q, m, kf, 7)
    assert out.shape == (60, 160, 3)
    # the inlier's line runs to the keyframe pixel (20, 100) / 2 shifted right by 80 ...
    r, g, b = out[50, 50]                       # anti-aliased: green, not full 255
    assert g > 200 and r == 0 and b == 0
    # ... the outlier's to (140, 80) / 2 + (80, 0); keyframe 3's match is not drawn
    r, g, b = out[40, 120]
    assert r > 200 and g == 0 and b == 0
    assert not out[45:, :8].any() and not out[31:45, 30:50].any()


# ---------------------------------------------------------------------------- parameters

REQUIRED_PARAMS = ("map_frame", "odom_frame", "base_frame", "publish_tf", "transform_tolerance",
                   "tf_publish_rate", "map_path", "checkpoint", "device", "precision",
                   "image_size", "matcher", "max_keyframes", "gates.min_inliers",
                   "image_transport", "max_image_age_s", "publish_debug_image")


def node_params(**overrides):
    values = {s.name: s.default for s in param_specs()}
    values["map_path"] = "/maps/office"
    values.update(overrides)
    return values


def test_every_spec_has_a_descriptor():
    names = {s.name for s in param_specs()}
    for required in REQUIRED_PARAMS:
        assert required in names
    for spec in param_specs():
        d = rl.parameter_descriptor_data(spec)
        assert d.name == spec.name and d.description.strip()
        assert type(d.default) is spec.type                # floats as floats, bools not ints
        assert d.type == {bool: "bool", int: "integer", float: "double", str: "string"}[spec.type]
        assert not d.name.startswith(("/", "~")) and " " not in d.name
        if spec.lo is not None:
            assert d.lo is not None and d.hi is not None and d.lo <= spec.default <= d.hi
            assert type(d.lo) is (int if spec.type is int else float)
        if spec.choices:
            assert spec.default in spec.choices and d.choices_text
            for c in spec.choices:
                assert str(c) in d.description
    assert [d.name for d in rl.all_parameter_descriptors()] == [s.name for s in param_specs()]


def test_params_to_config_maps_every_parameter():
    cfg = rl.params_to_config(node_params(**{"use_sim_time": True, "tf_publish_rate": 30,
                                             "gates.min_inliers": 50, "odom_frame": ""}))
    assert isinstance(cfg, Config)
    assert cfg.node.map_path == "/maps/office" and cfg.node.odom_frame == ""
    assert cfg.node.tf_publish_rate == 30.0 and isinstance(cfg.node.tf_publish_rate, float)
    assert cfg.localizer.gates.min_inliers == 50
    default = rl.params_to_config(node_params())
    assert default.model == Config().model and default.localizer == Config().localizer


@pytest.mark.parametrize("name,value,match", [
    ("tf_publish_rate", "fast", "must be float"),
    ("transform_tolerance", 20.0, r"\[0.0, 10.0\]"),
    ("matcher", "orb", "one of"),
    ("gates.min_inliers", 2.5, "must be int"),
    ("publish_tf", 1, "must be bool"),
    ("image_size", 300, "one of"),
    ("map_frame", "/map", "must not start with '/'"),
    ("base_frame", "", "must not be empty"),
    ("odom_frame", "map", "must differ"),
    ("map_path", "", "map_path"),
])
def test_params_to_config_names_the_bad_key(name, value, match):
    with pytest.raises(ConfigError, match=match) as info:
        rl.params_to_config(node_params(**{name: value}))
    assert name in str(info.value)


def test_runtime_parameter_updates_are_checked():
    assert rl.check_parameter_update("tf_publish_rate", 5.0) == (True, "")
    ok, reason = rl.check_parameter_update("tf_publish_rate", 0.0)
    assert not ok and "tf_publish_rate" in reason
    assert not rl.check_parameter_update("matcher", "orb")[0]
    assert rl.check_parameter_update("use_sim_time", True)[0]           # not ours


# ----------------------------------------------------------------- messages -> Frame

W, H = 8, 6
CAM = CameraIntrinsics(W, H, [[10.0, 0, 3.5], [0, 10.0, 2.5], [0, 0, 1]])


def header(sec=12, nanosec=345, frame_id="cam_optical"):
    return NS(stamp=NS(sec=sec, nanosec=nanosec), frame_id=frame_id)


def image_msg(encoding, pixels: np.ndarray, pad: int = 0, bigendian: bool = False,
              as_array: bool = False):
    h, w = pixels.shape[:2]
    arr = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<"))
    row = arr.reshape(h, -1).view(np.uint8)
    rows = np.concatenate([row, np.full((h, pad), 7, np.uint8)], axis=1)
    data = rows.tobytes()
    return NS(header=header(), height=h, width=w, encoding=encoding,
              is_bigendian=int(bigendian), step=rows.shape[1],
              data=array.array("B", data) if as_array else data)


def rgb_pattern(h=H, w=W) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 30, yy * 40, (xx + yy) * 10], axis=-1).astype(np.uint8)


def test_frame_from_color_encodings():
    rgb = rgb_pattern()
    cases = {
        "rgb8": rgb,
        "bgr8": rgb[:, :, ::-1],
        "8UC3": rgb[:, :, ::-1],
        "rgba8": np.concatenate([rgb, np.full((H, W, 1), 255, np.uint8)], axis=2),
        "bgra8": np.concatenate([rgb[:, :, ::-1], np.full((H, W, 1), 9, np.uint8)], axis=2),
    }
    for encoding, pixels in cases.items():
        for pad, as_array in ((0, False), (5, True)):
            msg = image_msg(encoding, np.ascontiguousarray(pixels), pad=pad, as_array=as_array)
            frame = rl.frame_from_image_msg(msg, CAM)
            np.testing.assert_array_equal(frame.rgb, rgb, err_msg=encoding)
            assert frame.stamp_ns == 12_000_000_345 and frame.frame_id == "cam_optical"
            assert frame.intrinsics is CAM


def test_frame_from_grey_encodings():
    grey = rgb_pattern()[:, :, 0]
    for encoding in ("mono8", "8UC1"):
        frame = rl.frame_from_image_msg(image_msg(encoding, grey, pad=3), CAM)
        np.testing.assert_array_equal(frame.rgb, np.repeat(grey[:, :, None], 3, axis=2))
    wide = grey.astype(np.uint16) * 256 + 17
    for encoding in ("mono16", "16UC1"):
        for bigendian in (False, True):
            msg = image_msg(encoding, wide, pad=2, bigendian=bigendian)
            frame = rl.frame_from_image_msg(msg, CAM)
            # cv_bridge's 16 -> 8 bit change: x 255/65535, rounded (issue 8), not >> 8
            expected = np.floor(wide * (255.0 / 65535.0) + 0.5).astype(np.uint8)
            np.testing.assert_array_equal(frame.rgb[:, :, 1], expected, err_msg=encoding)


def test_frame_rejects_bad_images():
    with pytest.raises(InputError, match="unsupported image encoding"):
        rl.frame_from_image_msg(image_msg("nv21", rgb_pattern()[:, :, :2].copy()), CAM)
    with pytest.raises(InputError):
        rl.frame_from_image_msg(image_msg("32FC1", np.ones((H, W), np.float32)), CAM)
    short = image_msg("rgb8", rgb_pattern())
    short.data = short.data[:-10]
    with pytest.raises(InputError, match="bytes"):
        rl.frame_from_image_msg(short, CAM)
    big = image_msg("rgb8", rgb_pattern(H * 2, W * 2))
    with pytest.raises(InputError, match="CameraInfo"):
        rl.frame_from_image_msg(big, CAM)


def compressed_msg(fmt: str, bgr_or_grey: np.ndarray, ext: str, as_array: bool = False):
    ok, buf = cv2.imencode(ext, bgr_or_grey)
    assert ok
    data = buf.tobytes()
    return NS(header=header(), format=fmt, data=array.array("B", data) if as_array else data)


def test_frame_from_compressed():
    rgb = rgb_pattern()
    for as_array in (False, True):
        png = compressed_msg("rgb8; png compressed bgr8", rgb[:, :, ::-1].copy(), ".png",
                             as_array)
        np.testing.assert_array_equal(rl.frame_from_compressed_msg(png, CAM).rgb, rgb)
    flat = np.zeros((H, W, 3), np.uint8)
    flat[:] = (200, 100, 50)                              # RGB; JPEG keeps flat colour closely
    jpg = compressed_msg("jpeg", flat[:, :, ::-1].copy(), ".jpg")
    frame = rl.frame_from_compressed_msg(jpg, CAM)
    assert frame.stamp_ns == 12_000_000_345 and frame.frame_id == "cam_optical"
    assert np.abs(frame.rgb.astype(int) - flat).max() <= 3
    grey = rgb[:, :, 1].copy()
    mono = compressed_msg("mono8; png compressed mono8", grey, ".png")
    np.testing.assert_array_equal(rl.frame_from_compressed_msg(mono, CAM).rgb[:, :, 2], grey)
    mono_jpg = compressed_msg("mono8; jpeg compressed mono8", np.full((H, W), 90, np.uint8),
                              ".jpg")
    assert np.abs(rl.frame_from_compressed_msg(mono_jpg, CAM).rgb.astype(int) - 90).max() <= 2
    deep = compressed_msg("16UC1; png compressed", grey.astype(np.uint16) * 256, ".png")
    expected = np.floor(grey.astype(np.uint16) * 256 * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(rl.frame_from_compressed_msg(deep, CAM).rgb[:, :, 0], expected)


def test_compressed_rejects_bad_input():
    with pytest.raises(InputError, match="cannot decode"):
        rl.frame_from_compressed_msg(NS(header=header(), format="jpeg", data=b"not a jpeg"), CAM)
    big = compressed_msg("png", rgb_pattern(H * 2, W * 2), ".png")
    with pytest.raises(InputError, match="CameraInfo"):
        rl.frame_from_compressed_msg(big, CAM)


def test_camera_info_to_intrinsics():
    info = NS(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1],
              d=array.array("d", [0.1, 0.0, 0.0, 0.0, 0.0]), distortion_model="plumb_bob",
              header=header())
    cam = rl.intrinsics_from_camera_info_msg(info)
    assert (cam.width, cam.height) == (W, H) and cam.has_distortion
    np.testing.assert_allclose(cam.K, CAM.K)
    info.k = [0.0] * 9
    with pytest.raises(InputError, match="uncalibrated"):
        rl.intrinsics_from_camera_info_msg(info)
