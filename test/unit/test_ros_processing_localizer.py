"""The node's whole per-frame path without ROS, against a real `Localizer`.

`ros/processing.py` (admission, decoding, TF, `tracking.localize_frame`, publishing) runs on a
fake host node, as `node.LocalizerNode` runs it on its worker thread, with the real SIFT
localizer on a small synthetic map built by `replay.pipeline.build_map`. The robot drives part
of the synthetic room's loop at 10 Hz (about 0.6 m/s and 37 deg/s) with wheel-grade odometry
(3 % / 4 % over-reading), and the camera sends undecodable frames for one second while it moves.

Must hold (issue 10): no published pose more than 20 cm / 5 deg off the truth, the first good pose
after the outage within 1 s, and the outage's frames counted as failures by the tracker.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest
from robot_poses import camera_on_robot
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import Config, LocalizerConfig, MapBuildConfig, param_specs
from mast3r_ros.core.geometry import invert_pose, make_pose, pose_error
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.tracker import Track
from mast3r_ros.replay.pipeline import build_map
from mast3r_ros.replay.synthetic import (
    default_intrinsics,
    loop_trajectory,
    make_room,
    render,
    render_frames,
    write_tum_sequence,
)
from mast3r_ros.replay.tum import TumSequence
from mast3r_ros.ros import debug_view, params
from mast3r_ros.ros.processing import FrameProcessing
from mast3r_ros.ros.tracking import TrackingState

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEED = 3
CAM = default_intrinsics(256, 192)
MAP_LOOP = 24                  # map frames per loop (every 4th pose of the query loop)
LOOP = 96                      # query poses per loop: 0.06 m and 3.75 deg apart
RATE_HZ = 10.0
NS_PER_S = 1_000_000_000
BASE_FROM_CAM = camera_on_robot()[0]
CAM_FROM_BASE = invert_pose(BASE_FROM_CAM)
GOOD_BEFORE = range(2, 10)     # frames that localize before the outage
OUTAGE = range(10, 20)         # 1 s of undecodable frames while the robot moves
GOOD_AFTER = range(20, 30)


class LookupError_(Exception):
    """Stands for tf2_ros.TransformException."""


class Logger:
    def __init__(self):
        self.lines = []

    def info(self, msg, **_):
        self.lines.append(("info", msg))

    def warning(self, msg, **_):
        self.lines.append(("warning", msg))

    def error(self, msg, **_):
        self.lines.append(("error", msg))


class Tf:
    """The TF buffer: base->camera fixed, odom->base from the odometry at each image stamp."""

    def __init__(self, odom_at):
        self.odom_at = odom_at
        self.sent = []

    def lookup(self, target, source, stamp_msg, timeout_s):
        assert source == "base_link"
        if target == "camera_optical":
            return CAM_FROM_BASE.copy()
        stamp_ns = stamp_msg.sec * NS_PER_S + stamp_msg.nanosec
        if target != "odom" or stamp_ns not in self.odom_at:
            raise LookupError_(f"no transform base_link -> {target} at {stamp_ns}")
        return self.odom_at[stamp_ns].copy()

    def clear(self):
        pass

    def send(self, tf, stamp_ns):
        self.sent.append((stamp_ns, tf.parent, tf.child))


class Outputs:
    """Publishers: poses kept with their stamps; the ~/matches picture drawn for real."""

    def __init__(self):
        self.poses = []
        self.pictures = 0

    def pose(self, map_from_base, cov, stamp_ns):
        self.poses.append((stamp_ns, map_from_base.copy()))

    def matches(self, frame, matches, keyframe_map):
        picture = debug_view.matches_picture(frame.rgb, matches, keyframe_map)
        assert picture.dtype == np.uint8 and picture.shape[0] == frame.rgb.shape[0]
        self.pictures += 1


class Host(FrameProcessing):
    """What `node.LocalizerNode` provides to the per-frame path, without rclpy."""

    lookup_errors = (LookupError_,)

    def __init__(self, cfg, localizer, odom_at):
        self._cfg = cfg
        self._init_frame_path(TrackingState(cfg.localizer.lost_after_failures), "/camera_info")
        self._diag.start(0.0)
        self._tf = Tf(odom_at)
        self._outputs = Outputs()
        self._localizer = localizer
        self._camera_info = NS(width=CAM.width, height=CAM.height,
                               k=[float(v) for v in CAM.K.reshape(-1)], d=[0.0] * 5,
                               distortion_model="plumb_bob",
                               header=NS(frame_id="camera_optical", stamp=NS(sec=0, nanosec=0)))
        self._active = True
        self.logger = Logger()
        self.now_ns = 0

    def get_logger(self):
        return self.logger

    def get_clock(self):
        return NS(now=lambda: NS(nanoseconds=self.now_ns))

    def _shutting_down(self):
        return False


def truth_map_from_base(poses):
    return [p @ CAM_FROM_BASE for p in poses]


def odometry(truth):
    """odom_from_base per pose: the true motion, over-reading distance 3 % and turning 4 %."""
    odom = [np.eye(4)]
    for a, b in zip(truth[:-1], truth[1:]):
        delta = invert_pose(a) @ b
        rotvec = Rotation.from_matrix(delta[:3, :3]).as_rotvec() * 1.04
        odom.append(odom[-1] @ make_pose(Rotation.from_rotvec(rotvec).as_matrix(),
                                         delta[:3, 3] * 1.03))
    return odom


def header(stamp_ns):
    sec, nsec = divmod(stamp_ns, NS_PER_S)
    return NS(stamp=NS(sec=sec, nanosec=nsec), frame_id="camera_optical")


def png_message(stamp_ns, rgb):
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return NS(header=header(stamp_ns), format="png", data=buf.tobytes())


def corrupt_message(stamp_ns, rng):
    """A CompressedImage whose payload no decoder reads (a corrupt JPEG off a flaky link)."""
    return NS(header=header(stamp_ns), format="jpeg",
              data=bytes(rng.integers(0, 256, 4000, dtype=np.uint8)))


@pytest.fixture(scope="module")
def map_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("node_path")
    frames = list(render_frames(MAP_LOOP, CAM, seed=SEED, indices=range(0, MAP_LOOP // 2)))
    write_tum_sequence(str(root / "seq"), frames)
    cfg = dataclasses.replace(Config(), localizer=LocalizerConfig(matcher="sift"),
                              map_build=MapBuildConfig(min_translation_m=0.2,
                                                       min_rotation_deg=15.0))
    n, path = build_map(TumSequence(str(root / "seq")), str(root / "map"), cfg)
    assert n >= 8
    return path


def node_config(map_path, **overrides):
    values = {s.name: s.default for s in param_specs()}
    values.update(map_path=map_path, matcher="sift", odom_frame="odom", base_frame="base_link",
                  max_image_age_s=0.0, publish_debug_image=True, **overrides)
    return params.params_to_config(values)


def test_frames_in_poses_out_through_an_outage_while_moving(map_path):
    cfg = node_config(map_path)
    poses = loop_trajectory(LOOP, SEED)
    truth = truth_map_from_base(poses)
    odom = odometry(truth)
    stamps = [int(round(k / RATE_HZ * NS_PER_S)) + NS_PER_S for k in range(len(poses))]
    localizer = Localizer.from_config(cfg, cfg.node.map_path)
    host = Host(cfg, localizer, {s: o for s, o in zip(stamps, odom)})
    scene = make_room(SEED)
    rng = np.random.default_rng(0)
    truth_at = {}
    try:
        for k in [*GOOD_BEFORE, *OUTAGE, *GOOD_AFTER]:
            truth_at[stamps[k]] = truth[k]
            if k in OUTAGE:
                msg = corrupt_message(stamps[k], rng)
            else:
                msg = png_message(stamps[k], render(scene, CAM, poses[k])[0])
            host.now_ns = stamps[k] + NS_PER_S // 20            # 50 ms transport latency
            host._process(msg)
            if k == OUTAGE[-1]:
                # the undecodable frames were failures: the tracker is lost, nothing published
                assert host._tracking.track is Track.LOST
                assert host._tracking.consecutive_failures == len(OUTAGE)
                assert not [s for s, _ in host._outputs.poses if s in map(stamps.__getitem__,
                                                                          OUTAGE)]
    finally:
        localizer.close()

    published = host._outputs.poses
    assert published, host.logger.lines
    for stamp_ns, map_from_base in published:
        dt, dr = pose_error(map_from_base, truth_at[stamp_ns])
        assert dt < 0.20 and dr < 5.0, (stamp_ns, dt, dr)
    before = [s for s, _ in published if s < stamps[OUTAGE[0]]]
    after = [s for s, _ in published if s > stamps[OUTAGE[-1]]]
    # start-up: a pose found by global retrieval is confirmed by the next frame, then tracked
    assert before and before[0] <= stamps[GOOD_BEFORE[0] + cfg.tracking.confirm_frames - 1]
    assert after and (after[0] - stamps[OUTAGE[-1]]) / NS_PER_S <= 1.0
    assert host._tracking.track is Track.TRACKING
    assert host._outputs.pictures == len(published)          # ~/matches from result.matches
    values = dict(host._diag.summary(1e9, host._tracking.track, True).values)
    assert values["frames_refused"] == str(len(OUTAGE)), values
    assert values["errors"] == "0" and not [m for lvl, m in host.logger.lines if lvl == "error"]
