#!/usr/bin/env python3
"""The second /tf pass of depth registration through /tf, with and without it.

Depth in another frame than the colour images (a depth camera's own stream, its own
calibration) is registered with the extrinsic a bag's /tf gives when /tf_static lacks it
(`replay.rosbag.tf_extrinsic`): every /tf sample of the transform must stay one. That check
read the bag's whole /tf a second time (`tf_extrinsic.bag_tf`) after the indexing pass, also
with ``--pose-frames``, whose indexing pass reads every /tf sample already. This writes a
rosbag2 (MCAP) of ``--minutes`` of /tf at ``--rate`` Hz (each message: ``odom -> base_link``
moving, ``base_link -> camera_link`` and the two optical frames fixed, as a ROS 1 era
robot_state_publisher repeats fixed joints on /tf) with colour, depth and both CameraInfos at
1 Hz, and times, alternated ``--rounds`` times in one process:

* ``pose_frames_now``: ``BagSequence(..., pose_frames='odom:<colour frame>')`` (the indexing
  pass's samples judge the extrinsic);
* ``pose_frames_prev``: the same with the indexing pass's samples not kept, so the second
  pass runs, as before;
* ``no_pose_frames``: without ``--pose-frames`` (/tf is read only by the second pass, as
  before and now);
* ``second_pass``: `tf_extrinsic.bag_tf` alone.

It checks that ``now`` and ``prev`` give the same depth bit for bit and that the buffer the
check judges is the same (every sample between the two frames, bit for bit), and exits 1 if
not. Wall-clock times (CPU times beside them) of a warm page cache; on a shared machine only
one run's numbers compare.

    python bench/bench_tf_second_pass.py                    # 6 min of 100 Hz /tf
    python bench/bench_tf_second_pass.py --minutes 2 --rounds 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.dirname(_HERE), _HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402

from bench_bags import S, T, TS, header  # noqa: E402
from bench_bags import transform_stamped as _transform  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence, poses, tf_extrinsic  # noqa: E402

COLOUR, DEPTH = "camera_color_optical_frame", "camera_depth_optical_frame"
IMAGE, DEPTH_TOPIC = "/camera/color/image_raw", "/camera/depth/image_rect_raw"
W, H = 8, 6
T0 = 1_700_000_000 * S


def _image(stamp_ns: int, frame: str, array: np.ndarray, encoding: str):
    return T["sensor_msgs/msg/Image"](
        header=header(stamp_ns, frame), height=H, width=W, encoding=encoding, is_bigendian=0,
        step=W * array.itemsize * (array.shape[2] if array.ndim > 2 else 1),
        data=np.ascontiguousarray(array).view(np.uint8).reshape(-1))


def _info(stamp_ns: int, frame: str, fx: float):
    k = np.array([fx, 0, (W - 1) / 2, 0, fx, (H - 1) / 2, 0, 0, 1], np.float64)
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(stamp_ns, frame), height=H, width=W, distortion_model="plumb_bob",
        d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0,
        binning_y=0, roi=roi)


def write_bag(path: Path, minutes: float, rate: float) -> int:
    """The bag (see the module docstring); returns how many /tf messages it holds."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = np.full((H, W), 1000, np.uint16)
    n_tf, step = int(minutes * 60 * rate), int(S / rate)
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    with writer:
        conns = {}

        def put(topic, bag_ns, msg):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(conns[topic], bag_ns, bytes(TS.serialize_cdr(msg, msg.__msgtype__)))

        for k in range(n_tf):
            t = T0 + k * step
            yaw = 0.1 * k / rate
            put("/tf", t + 1000, T["tf2_msgs/msg/TFMessage"](transforms=[
                _transform("odom", "base_link", t, (np.cos(yaw), np.sin(yaw), 0.0),
                           (0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2))),
                _transform("base_link", "camera_link", t, (0.1, 0.0, 0.5), (0, 0, 0, 1)),
                _transform("camera_link", COLOUR, t, (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5)),
                _transform("camera_link", DEPTH, t, (0.0, -0.015, 0.0),
                           (-0.5, 0.5, -0.5, 0.5))]))
            if k % int(rate) == int(rate) // 2:  # images at 1 Hz, between tf samples
                put(IMAGE, t + 2000, _image(t + 5 * S // 1000, COLOUR, rgb, "rgb8"))
                put("/camera/color/camera_info", t + 2000, _info(t + 5 * S // 1000, COLOUR, 30.0))
                put(DEPTH_TOPIC, t + 3000, _image(t + 5 * S // 1000, DEPTH, depth, "16UC1"))
                put("/camera/depth/camera_info", t + 3000, _info(t + 5 * S // 1000, DEPTH, 20.0))
    return n_tf


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="/tf recorded (default 6)")
    ap.add_argument("--rate", type=float, default=100.0, help="/tf messages a second")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    keeps = poses._TfPoses._keeps_every_tf
    judged = []
    built = poses.every_sample_buffer

    def capture(*a):
        buffer = built(*a)
        judged.append(buffer)
        return buffer

    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "bag"
        n_tf, wrote_s, _ = _timed(lambda: write_bag(bag, args.minutes, args.rate))
        print(f"bag: {n_tf} /tf messages ({args.minutes:g} min at {args.rate:g} Hz, 4 "
              f"transforms each), written in {wrote_s:.1f} s")
        frames = f"odom:{COLOUR}"

        def read(pose_frames, keep=True):
            poses._TfPoses._keeps_every_tf = keeps if keep else (lambda self: False)
            try:
                seq = BagSequence(str(bag), image_topic=IMAGE, depth_topic=DEPTH_TOPIC,
                                  pose_frames=pose_frames)
            finally:
                poses._TfPoses._keeps_every_tf = keeps
            return seq

        cases = {
            "pose_frames_now": lambda: read(frames),
            "pose_frames_prev": lambda: read(frames, keep=False),
            "no_pose_frames": lambda: read(None),
            "second_pass": lambda: tf_extrinsic.bag_tf(bag, ["/tf"]),
        }
        times = {name: {"wall_s": [], "cpu_s": []} for name in cases}
        out = {}
        for _ in range(args.rounds):
            for name, fn in cases.items():
                out[name], wall, cpu = _timed(fn)
                times[name]["wall_s"].append(wall)
                times[name]["cpu_s"].append(cpu)
        # the same results: depth bit for bit, the judged buffer sample for sample
        poses.every_sample_buffer = capture
        try:
            now_seq = read(frames)
        finally:
            poses.every_sample_buffer = built
        same = len(judged) == 1
        if same:
            a = judged[0].samples_between(COLOUR, DEPTH)
            b = out["second_pass"].samples_between(COLOUR, DEPTH)
            same = all(np.array_equal(x, y) for x, y in zip(a, b))
        prev_frames = list(out["pose_frames_prev"])
        now_frames = list(now_seq)
        same = same and len(now_frames) == len(prev_frames) > 0 and all(
            np.array_equal(f.depth_m, g.depth_m) and np.array_equal(f.map_from_cam,
                                                                    g.map_from_cam)
            for f, g in zip(now_frames, prev_frames))
    med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
    per_hour = 60.0 / args.minutes * args.rate / 100.0
    print(f"{'case':<18} {'wall s (median)':>16} {'cpu s':>8}   rounds (wall s)")
    for name, m in med.items():
        rounds = " ".join(f"{s:.2f}" for s in times[name]["wall_s"])
        print(f"{name:<18} {m['wall_s']:>16.2f} {m['cpu_s']:>8.2f}   {rounds}")
    ratio = med["pose_frames_prev"]["wall_s"] / med["pose_frames_now"]["wall_s"]
    print(f"--pose-frames: prev / now = {ratio:.2f}x; the second pass alone "
          f"{med['second_pass']['wall_s']:.2f} s, {med['second_pass']['wall_s'] * per_hour:.0f} s "
          f"an hour of 100 Hz /tf (scaled)")
    print(f"same depth, poses and judged samples: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "minutes": args.minutes, "rate_hz": args.rate, "tf_messages": n_tf,
            "rounds": args.rounds, "times": times, "median": med,
            "prev_over_now_pose_frames": ratio,
            "second_pass_s_per_hour_100hz": med["second_pass"]["wall_s"] * per_hour,
            "same": same}, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
