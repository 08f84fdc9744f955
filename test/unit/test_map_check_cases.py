"""The map consistency check on two field cases (../shared/cases), inputs built in tmp folders.

d405-depth-units: depth in 0.1 mm units read as REP-118 mm must be refused as depth x10 with
the fix `--depth-scale 10000`; the same walk in mm passes. bag-time-jump: keyframe poses
interpolated from TF across a clock reset (what a reader does that sorts both runs into one
buffer) must be refused as a clock jump; the control recording passes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from case_inputs import DEPTH_TOPIC, make_case
from scipy.spatial.transform import Rotation, Slerp

from mast3r_ros.core.config import Config
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeSelector
from mast3r_ros.core.map_check import CONSISTENT, INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.core.types import CameraIntrinsics



def keyframe_records(frames) -> list:
    """Keyframes chosen as build-map chooses them (default thresholds), as check records."""
    mb = Config().map_build
    sel = KeyframeSelector(mb.min_translation_m, mb.min_rotation_deg)
    return [KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns)
            for f in frames if f.map_from_cam is not None and sel.offer(f.map_from_cam)]


def test_d405_depth_units_are_found_as_depth_x10(tmp_path):
    from mast3r_ros.replay.rosbag import BagSequence

    out = make_case("d405-depth-units", tmp_path)
    reports = {}
    for bag in ("map_bag_mm", "map_bag_d405"):
        seq = BagSequence(str(out / bag), pose_frames="map:camera_optical",
                          depth_topic=DEPTH_TOPIC)
        reports[bag] = check_keyframes(keyframe_records(seq), Config().map_check,
                                       depth_units_per_m=1000.0)
    assert reports["map_bag_mm"].verdict == CONSISTENT, reports["map_bag_mm"].message
    r = reports["map_bag_d405"]
    assert r.verdict == INCONSISTENT and r.cause == "depth_scale" and r.depth_factor == 10.0
    assert "--depth-scale 10000" in r.message
    assert "(read in units of 1 mm, --depth-scale 1000; the poses fit units of 0.1 mm)" in r.message
    assert len(r.bad_keyframes()) >= len(r.keyframes) // 2


def _naive_bag_records(bag: Path) -> list:
    """Frames of a bagkit bag with poses interpolated from every /tf sample sorted by header time
    (both runs of a reset clock mixed in one buffer), in bag order."""
    from rosbags.highlevel import AnyReader

    images, depth, info, tf, static = [], {}, {}, [], np.eye(4)
    with AnyReader([bag]) as reader:
        for conn, _, raw in reader.messages():
            m = reader.deserialize(raw, conn.msgtype)
            if conn.topic == "/tf_static":
                static = _pose(m.transforms[0].transform)
                continue
            if conn.topic == "/tf":
                tf += [(_stamp(t.header), _pose(t.transform)) for t in m.transforms]
                continue
            s = _stamp(m.header)
            if conn.topic == DEPTH_TOPIC:
                depth[s] = np.frombuffer(m.data, "<u2").reshape(m.height, m.width) / 1000.0
            elif conn.topic.endswith("camera_info"):
                info[s] = CameraIntrinsics(m.width, m.height, m.k.reshape(3, 3))
            else:
                images.append((s, np.frombuffer(m.data, np.uint8).reshape(m.height, m.width, 3)))
    tf.sort(key=lambda x: x[0])
    t = np.array([s for s, _ in tf], np.float64)
    slerp = Slerp(t, Rotation.from_matrix([p[:3, :3] for _, p in tf]))
    frames = []
    for s, rgb in images:
        tq = np.clip(float(s), t[0], t[-1])
        xyz = [np.interp(tq, t, [p[k, 3] for _, p in tf]) for k in range(3)]
        map_from_base = make_pose(slerp([tq]).as_matrix()[0], xyz)
        frames.append(_F(rgb, depth[s].astype(np.float32), info[s], map_from_base @ static, s))
    return keyframe_records(frames)


class _F:
    def __init__(self, rgb, depth_m, intrinsics, map_from_cam, stamp_ns):
        self.rgb, self.depth_m, self.intrinsics = rgb, depth_m, intrinsics
        self.map_from_cam, self.stamp_ns = map_from_cam, stamp_ns


def _stamp(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _pose(tr) -> np.ndarray:
    q = [tr.rotation.x, tr.rotation.y, tr.rotation.z, tr.rotation.w]
    return make_pose(Rotation.from_quat(q).as_matrix(),
                     [tr.translation.x, tr.translation.y, tr.translation.z])


def test_tf_across_a_clock_reset_is_found_as_a_clock_jump(tmp_path):
    out = make_case("bag-time-jump", tmp_path)
    control = check_keyframes(_naive_bag_records(out / "control_bag"), Config().map_check)
    assert control.verdict == CONSISTENT, control.message
    r = check_keyframes(_naive_bag_records(out / "sim_reset_bag"), Config().map_check)
    assert r.verdict == INCONSISTENT and r.cause == "clock_jump", r.message
    assert "header time jumps back" in r.message and "--run N" in r.message
