#!/usr/bin/env python3
"""Decode cost per frame of a bag's video topic against the same frames as JPEG, side by side.

Renders ``--frames`` demo frames (``--width`` x ``--height``), encodes them once as h264 (PyAV's
libx264: no B-frames, ``--gop`` frames a GOP, crf ``--crf``; Foxglove's CompressedVideo) and
once as JPEG (OpenCV, quality ``--quality``; sensor_msgs/CompressedImage), both topics in one
rosbag2 (MCAP) beside a CameraInfo. Then, alternating ``--repeat`` times, one after the other:

* decode only: PyAV decoding every packet in order and converting each picture to RGB
  (``to_ndarray('rgb24')``), against ``cv2.imdecode`` of every JPEG (BGR) then to RGB; and
  the h264 decode without the RGB conversion (what a strided read pays for a skipped packet);
* the bag read: ``BagSequence(bag, image_topic=...)`` (its indexing pass) and every frame
  through ``frames_or_unreadable()``, as build-map and localize read a bag.

Each figure is the fastest of the repeats (a shared machine's noise only adds), per frame.

    python bench/bench_video_decode.py                   # 120 frames at 640x480
    python bench/bench_video_decode.py --frames 60 --width 320 --height 240
"""

from __future__ import annotations

import argparse
import fractions
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.rosbag.video import COMPRESSED_VIDEO_TYPE, humble_typestore  # noqa: E402
from mast3r_ros.replay.synthetic import write_demo_sequences  # noqa: E402

VIDEO, JPEG, INFO = "/cam/image_raw/foxglove", "/cam/image_raw/compressed", "/cam/camera_info"


def render(root: Path, frames: int, width: int, height: int) -> list:
    """``frames`` demo frames, (H, W, 3) uint8 RGB, in the loop's order."""
    folders = write_demo_sequences(str(root), num_frames=frames, width=width, height=height,
                                   seed=1)
    paths = sorted(p for folder in folders for p in (Path(folder) / "rgb").glob("*.png"))
    return [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            for p in paths][:frames]


def h264(pictures: list, gop: int, crf: int) -> list:
    """Each picture's h264 packet (Annex B bytes), libx264 without B-frames."""
    h, w = pictures[0].shape[:2]
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.options = {"tune": "zerolatency", "g": str(gop), "crf": str(crf)}
    out = []
    for k, rgb in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = k
        out += [bytes(p) for p in enc.encode(frame)]
    out += [bytes(p) for p in enc.encode(None)]
    assert len(out) == len(pictures), (len(out), len(pictures))
    return out


def jpegs(pictures: list, quality: int) -> list:
    out = []
    for rgb in pictures:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        out.append(buf.tobytes())
    return out


def write_bag(path: Path, packets: list, jpeg: list, width: int, height: int) -> Path:
    ts = humble_typestore()
    T = ts.types

    def stamp(ns: int):
        return T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)

    def header(ns: int):
        return T["std_msgs/msg/Header"](stamp=stamp(ns), frame_id="camera_optical")

    f = 0.8 * width
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    info = T["sensor_msgs/msg/CameraInfo"](
        header=header(10**9), height=height, width=width, distortion_model="plumb_bob",
        d=np.zeros(5), k=np.array([f, 0, (width - 1) / 2, 0, f, (height - 1) / 2, 0, 0, 1]),
        r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns: dict = {}

        def write(topic: str, ns: int, msg) -> None:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=ts)
            writer.write(conns[topic], ns, bytes(ts.serialize_cdr(msg, msg.__msgtype__)))
        write(INFO, 10**9, info)
        for k, (packet, jpg) in enumerate(zip(packets, jpeg)):
            ns = 10**9 + k * 33_333_333
            write(VIDEO, ns + 1, T[COMPRESSED_VIDEO_TYPE](
                timestamp=stamp(ns), frame_id="camera_optical",
                data=np.frombuffer(packet, np.uint8), format="h264"))
            write(JPEG, ns + 2, T["sensor_msgs/msg/CompressedImage"](
                header=header(ns), format="jpeg", data=np.frombuffer(jpg, np.uint8)))
    return path


def decode_video(packets: list, rgb: bool = True) -> float:
    t = time.perf_counter()
    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_type = "SLICE"  # as the reader decodes (`video.VideoDecoder`)
    n = 0
    for k, data in enumerate(packets):
        packet = av.Packet(data)
        packet.pts = k
        for picture in ctx.decode(packet):
            if rgb:
                picture.to_ndarray(format="rgb24")
            n += 1
    assert n == len(packets), n
    return time.perf_counter() - t


def decode_jpeg(jpeg: list) -> float:
    t = time.perf_counter()
    for data in jpeg:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return time.perf_counter() - t


def read_bag(bag: Path, topic: str, frames: int) -> tuple:
    """(indexing pass s, frames pass s) of one BagSequence over ``topic``."""
    t = time.perf_counter()
    seq = BagSequence(bag, image_topic=topic)
    index = time.perf_counter() - t
    t = time.perf_counter()
    got = sum(1 for _ in seq.frames_or_unreadable())
    assert got == frames, (topic, got)
    return index, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--gop", type=int, default=30)
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pictures = render(root / "render", args.frames, args.width, args.height)
        n = len(pictures)
        packets, jpeg = h264(pictures, args.gop, args.crf), jpegs(pictures, args.quality)
        bag = write_bag(root / "bag", packets, jpeg, args.width, args.height)
        best: dict = {}
        for _ in range(args.repeat):
            for name, run in (("decode h264", lambda: decode_video(packets)),
                              ("decode jpeg", lambda: decode_jpeg(jpeg)),
                              ("packets h264", lambda: decode_video(packets, rgb=False))):
                best[name] = min(best.get(name, 1e9), run())
            for name, topic in (("bag h264", VIDEO), ("bag jpeg", JPEG)):
                index, frames = read_bag(bag, topic, n)
                best[name + " index"] = min(best.get(name + " index", 1e9), index)
                best[name] = min(best.get(name, 1e9), frames)
    print(f"{n} frames {args.width}x{args.height}; av {av.__version__}, OpenCV "
          f"{cv2.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"h264 (libx264 crf {args.crf}, GOP {args.gop}, no B-frames): "
          f"{sum(map(len, packets)) / n / 1024:.1f} KiB/frame; JPEG q{args.quality}: "
          f"{sum(map(len, jpeg)) / n / 1024:.1f} KiB/frame")
    print(f"{'':28s}{'h264':>10s}{'jpeg':>10s}   (ms per frame, best of {args.repeat})")
    for label, key in (("decode + to RGB", "decode"), ("bag indexing pass", "bag {} index"),
                       ("bag frames pass", "bag {}")):
        v, j = (best[key.format(c)] if "{" in key else best[f"{key} {c}"]
                for c in ("h264", "jpeg"))
        print(f"{label:28s}{1e3 * v / n:10.2f}{1e3 * j / n:10.2f}")
    print(f"{'h264 decode alone (no RGB)':28s}{1e3 * best['packets h264'] / n:10.2f}"
          "             (what a strided read pays for each packet it skips)")


if __name__ == "__main__":
    main()
