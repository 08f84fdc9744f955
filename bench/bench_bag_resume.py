#!/usr/bin/env python3
"""What a resumed ``localize`` over a rosbag2 pays for the frames it recorded, side by side in one
run.

``localize BAG --resume`` takes the frames already in the stopped run's results as recorded
(``BagSequence.frames_or_unreadable(recorded=...)``): they are not localized again. Each
recorded image message used to be deserialized (for its stamp, frame_id and pose) and the depth
matched to it decoded; now stamp, frame_id and pose come from the indexing pass and that depth
message is neither deserialized nor decoded. On a bag of ``--frames`` frames (``--color`` jpeg
CompressedImage or raw rgb8 Image, 16UC1 depth, CameraInfo, tf; written to a temporary folder)
this times one iteration of the whole bag, variants interleaved per repeat (the same load for
all):

* ``raw``: the reader yielding the image and depth messages' bytes, nothing else (the floor);
* ``fresh``: ``frames_or_unreadable()``, every frame read (a run from the first frame);
* ``old``: every frame recorded, the old way (emulated: every image message deserialized and
  its depth decoded, the colour image not decoded);
* ``recorded``: ``frames_or_unreadable(recorded=<every stamp>)``, the new way.

It prints median [min-max] per variant, then old / recorded (the speed-up of a resume over the
frames recorded) and recorded / raw (what is left beyond reading the bytes).

    python bench/bench_bag_resume.py                  # 200 jpeg frames at 640x480, 5 repeats
    python bench/bench_bag_resume.py --frames 500 --color raw --json resume.json

Numbers from a shared machine are only comparable within one run (ratios).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import benchlib  # noqa: F401 - puts the repository on sys.path
import cv2
import numpy as np
from benchlib import commit, ms, spread, write_json
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from mast3r_ros.core.types import Frame
from mast3r_ros.replay.rosbag import BagSequence, sequence

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
CAM, DEPTH, INFO = "/cam/color", "/cam/depth", "/cam/camera_info"
PERIOD_NS = 33_333_333  # 30 Hz


def _header(stamp_ns: int, frame_id: str = "cam"):
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _messages(n: int, width: int, height: int, color: str):
    """(topic, bag time ns, message) of a bag of ``n`` frames, in bag order."""
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8),
                      (width, height))  # smooth: a realistic JPEG size
    k = np.array([500.0, 0, width / 2, 0, 500.0, height / 2, 0, 0, 1])
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                 do_rectify=False)
    yield INFO, 0, T["sensor_msgs/msg/CameraInfo"](
        header=_header(10**9), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
        roi=roi)
    for i in range(n):
        t = 10**9 + i * PERIOD_NS
        q = T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)
        tf = T["geometry_msgs/msg/TransformStamped"](
            header=_header(t, "map"), child_frame_id="cam", transform=T[
                "geometry_msgs/msg/Transform"](translation=T["geometry_msgs/msg/Vector3"](
                    x=0.01 * i, y=0.0, z=0.0), rotation=q))
        yield "/tf", t, T["tf2_msgs/msg/TFMessage"](transforms=[tf])
        rgb = np.roll(base, i, axis=1)
        if color == "jpeg":
            ok, buf = cv2.imencode(".jpg", rgb[..., ::-1])
            assert ok
            msg = T["sensor_msgs/msg/CompressedImage"](header=_header(t), format="jpeg",
                                                        data=buf.reshape(-1))
        else:
            msg = T["sensor_msgs/msg/Image"](header=_header(t), height=height, width=width,
                                             encoding="rgb8", is_bigendian=0, step=3 * width,
                                             data=rgb.reshape(-1))
        yield CAM, t + 5_000_000, msg
        depth = np.full((height, width), 1000 + i, np.uint16).view(np.uint8).reshape(-1)
        yield DEPTH, t + 8_000_000, T["sensor_msgs/msg/Image"](
            header=_header(t), height=height, width=width, encoding="16UC1", is_bigendian=0,
            step=2 * width, data=depth)


def write_bag(path: Path, n: int, width: int, height: int, color: str) -> Path:
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns: Dict[str, object] = {}
        for topic, bag_ns, msg in _messages(n, width, height, color):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(conns[topic], bag_ns, bytes(TS.serialize_cdr(msg, msg.__msgtype__)))
    return path


def _raw(seq: BagSequence) -> int:
    with AnyReader([seq.path]) as reader:
        conns = [c for c in reader.connections if c.topic in (CAM, DEPTH)]
        return sum(c.topic == CAM and len(raw) > 0
                   for c, _, raw in reader.messages(connections=conns))


def _old(seq: BagSequence) -> int:
    """The recorded frames' old cost: each image message deserialized (stamp, frame_id, pose)
    and its depth decoded, the colour image not decoded."""
    real = sequence.frame_from_image_message
    # a Frame of zeros (calloc: its pages never touched) stands for the colour image, which the
    # reader then gives the decoded depth, checked against its size
    sequence.frame_from_image_message = lambda msg, intrinsics, depth_m=None, map_from_cam=None, \
        **_: Frame(np.zeros((intrinsics.height, intrinsics.width, 3), np.uint8), intrinsics, 0,
                   depth_m=depth_m, map_from_cam=map_from_cam)  # **_: topic, bayer_watch
    try:
        return sum(1 for _ in seq.frames_or_unreadable())
    finally:
        sequence.frame_from_image_message = real


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    ap.add_argument("--color", choices=("jpeg", "raw"), default="jpeg")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if a.frames < 1 or a.repeats < 1:
        ap.error(f"--frames and --repeats must be >= 1, got {a.frames} and {a.repeats}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_bag_resume_"))
    try:
        bag = write_bag(tmp / "bag", a.frames, *a.size, a.color)
        seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, pose_frames="map:cam")
        every = frozenset(seq.stamps_ns.tolist())
        variants: Dict[str, Callable[[], int]] = {
            "raw": lambda: _raw(seq),
            "fresh": lambda: sum(1 for _ in seq.frames_or_unreadable()),
            "old": lambda: _old(seq),
            "recorded": lambda: sum(1 for _ in seq.frames_or_unreadable(recorded=every)),
        }
        times: Dict[str, List[float]] = {k: [] for k in variants}
        for fn in variants.values():
            fn()  # warm the page cache and the imports
        for _ in range(a.repeats):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                count = fn()
                times[name].append(time.perf_counter() - t0)
                assert count == a.frames, (name, count)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stats = {k: spread(v) for k, v in times.items()}
    w, h = a.size
    print(f"bench_bag_resume  commit {commit()}  {a.frames} frames {w}x{h} ({a.color} colour, "
          f"16UC1 depth), {a.repeats} repeats")
    for name, s in stats.items():
        print(f"  {name:9s} {ms(s)}   {1e3 * s['median_s'] / a.frames:6.3f} ms/frame")
    old_new = stats["old"]["median_s"] / stats["recorded"]["median_s"]
    left = stats["recorded"]["median_s"] / stats["raw"]["median_s"]
    print(f"  old / recorded: {old_new:.2f}x faster   recorded / raw: {left:.2f}x the bytes' read")
    write_json(a.json, {"commit": commit(), "frames": a.frames, "size": [w, h],
                        "color": a.color, "repeats": a.repeats, "timings": stats,
                        "old_over_recorded": old_new, "recorded_over_raw": left})
    return 0


if __name__ == "__main__":
    sys.exit(main())
