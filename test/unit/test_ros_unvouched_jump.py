"""Without odometry (or with its gate off) a pose that jumps far from the last published one is
confirmed before it is published, as one found by global retrieval is (`tracking.judge`).

The node published every pose the localizer's gates passed while tracking: on the redkitchen
data with the SIFT localizer and no odometry, one mirrored frame between good ones (a mirror or
a glass door in view) was published 2.8 m / 174 deg off, straight to Nav2 (a robustness
review's find). A robot really carried elsewhere is still followed, one frame later."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.config import TrackingConfig
from mast3r_ros.core.geometry import invert_pose, make_pose
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.ros.frames import localization_tf
from mast3r_ros.ros.tracking import TrackingState, localize_frame
from robot_poses import rz

NS = 1_000_000_000


def _run(poses, *, has_odometry=False, cfg=TrackingConfig(), hints=None):
    """Frames 0.1 s apart whose localizer returns ``poses[k]`` (None: a failure); the camera
    is the base. Returns what was published per frame (None: nothing)."""
    st = TrackingState()
    out = []
    for k, pose in enumerate(poses):
        stamp = NS + k * NS // 10
        st.check_stamp(stamp)

        def localize(prior, force_global, hint, pose=pose, stamp=stamp):
            if hints is not None:
                hints.append(hint)
            if pose is None:
                return LocalizationResult.failure(stamp, "too few inliers (3 < 30)")
            return LocalizationResult(True, stamp, pose, np.eye(6) * 1e-4, num_inliers=80)

        odom = np.eye(4)
        o = localize_frame(st, localize, cfg, stamp, odom, np.eye(4), has_odometry=has_odometry)
        if o.publish:
            st.on_success(o.result, localization_tf(o.result.map_from_cam, odom if has_odometry
                                                    else None, "map",
                                                    "odom" if has_odometry else "", "base_link"),
                          odom if has_odometry else None)
            out.append(o.result.map_from_cam)
        else:
            st.on_failure(o.result)
            out.append(None)
    return out, st


def _walk(n, x0=0.0):
    return [make_pose(rz(0.0), [x0 + 0.05 * k, 0.0, 0.0]) for k in range(n)]


def test_one_far_pose_while_tracking_without_odometry_is_not_published():
    wrong = make_pose(rz(174.0), [0.2, 2.8, 0.0])
    poses = _walk(6)
    poses[4] = wrong
    out, st = _run(poses)
    assert out[0] is None and out[1] is not None          # start-up: confirmed (unchanged)
    assert out[4] is None                                 # the jump waits for confirmation
    assert st.last_failure_reason.startswith("pose 2.80 m / 174.0 deg from the last published "
                                             "one"), st.last_failure_reason
    np.testing.assert_allclose(out[5], poses[5])          # the next good frame is published
    assert all(o is None or np.linalg.norm(o[:3, 3] - p[:3, 3]) < 0.3
               for o, p in zip(out, _walk(6)))


def test_a_robot_carried_elsewhere_is_followed_one_frame_later():
    hints = []
    poses = _walk(4) + _walk(4, x0=5.0)                   # kidnapped 5 m between frames 3 and 4
    out, _ = _run(poses, hints=hints)
    assert out[4] is None
    np.testing.assert_allclose(out[5], poses[5])
    np.testing.assert_allclose(out[7], poses[7])
    # the frame after the jump looked first where the jump went, not where the robot was
    np.testing.assert_allclose(hints[5][:3, 3], poses[4][:3, 3])


def test_the_reason_names_the_jump_and_confirm_frames_1_keeps_the_old_behaviour():
    wrong = make_pose(rz(0.0), [0.1, 1.5, 0.0])
    poses = _walk(4) + [wrong] + _walk(2, x0=0.2)
    out, st = _run(poses[:5])
    assert out[4] is None
    assert st.last_failure_reason.startswith(
        "pose 1.50 m / 0.0 deg from the last published one (nothing vouches for the jump) "
        "awaits confirmation (1 of 2 consecutive frames agree)"), st.last_failure_reason
    # no odometry: not "agree under odometry" (a regression review's find: self-contradictory)
    out, _ = _run(poses, cfg=TrackingConfig(confirm_frames=1))
    np.testing.assert_allclose(out[4], wrong)             # as documented: published at once
    # with odometry the gate judges (unchanged): the far pose is refused, not held
    out, st = _run(poses[:5], has_odometry=True)
    assert out[4] is None and "from where odometry puts the robot" in st.last_failure_reason


def test_confirm_jump_limits_are_parameters():
    """The limits are confirm_jump_m / confirm_jump_deg (1 m / 45 deg); 0 turns each off."""
    far = make_pose(rz(0.0), [0.1, 1.5, 0.0])              # 1.5 m, not rotated
    turned = make_pose(rz(60.0), [0.2, 0.0, 0.0])          # 60 deg, 0.05 m
    for jump, cfg, held in [
            (far, TrackingConfig(confirm_jump_m=2.0), False),
            (far, TrackingConfig(confirm_jump_m=0.0), False),
            (far, TrackingConfig(confirm_jump_m=1.2), True),
            (turned, TrackingConfig(), True),
            (turned, TrackingConfig(confirm_jump_deg=0.0), False),
            (turned, TrackingConfig(confirm_jump_deg=90.0), False)]:
        out, _ = _run(_walk(4) + [jump], cfg=cfg)
        assert (out[4] is None) == held, (cfg, held)


def test_the_jump_is_measured_between_base_poses_not_camera_poses():
    """A camera mounted as usual (optical frame: z forward, x right, y down; 0.3 m ahead of the
    base and 0.2 m up) is 120 deg and 0.36 m from the base: measured against the camera's pose,
    a robot walking steadily would 'jump' at every frame and be published every other one."""
    base_from_cam = make_pose(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
                              [0.3, 0.0, 0.2])
    cam_from_base = invert_pose(base_from_cam)
    st = TrackingState()
    published = []
    for k, base in enumerate(_walk(5)):
        stamp = NS + k * NS // 10
        st.check_stamp(stamp)

        def localize(prior, force_global, hint, base=base, stamp=stamp):
            return LocalizationResult(True, stamp, base @ base_from_cam, np.eye(6) * 1e-4,
                                      num_inliers=80)

        o = localize_frame(st, localize, TrackingConfig(), stamp, np.eye(4), cam_from_base,
                           has_odometry=False)
        if o.publish:
            st.on_success(o.result, localization_tf(o.result.map_from_cam @ cam_from_base, None,
                                                    "map", "", "base_link"))
            published.append(k)
        else:
            st.on_failure(o.result)
    assert published == [1, 2, 3, 4]
