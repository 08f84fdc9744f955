#!/usr/bin/env python3
"""The indexing pass of a rosbag2 (`BagSequence`'s constructor, which build-map and localize
make before the first frame) with each image and depth message's header read from its CDR
bytes (`cdr_header`, now) and with every one deserialized in full (before), side by side on
the same bag in one process.

Writes the robot-shaped bag of `bench_long_bag` (30 Hz colour at ``--width`` x ``--height``,
aligned 16UC1 depth, CameraInfo, /tf at 150 Hz, an IMU and a small point cloud nothing reads)
of ``--minutes`` into a temporary folder, then times ``--repeats`` indexing passes of each way,
alternating (before, now, before, now, ...), and prints the best and the median of each and
their ratio before/now, with how many image messages each deserialized in full. Also times one
image message alone: rosbags' ``deserialize_cdr`` against `cdr_header.read_header`.
``--strides``: also the second pass (localize's) at each stride, against a plain read of the
colour and depth messages' bytes.

    python bench/bench_bag_index.py                     # 1 minute of 640x480
    python bench/bench_bag_index.py --minutes 0.5 --images-only --strides 1 10
    python bench/bench_bag_index.py --minutes 0.2 --repeats 1 --width 64 --height 48
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from bench_long_bag import DEPTH, IMAGE, OPTICAL, T0, TS, _image, write_bag

from mast3r_ros.replay.rosbag import BagSequence, sequence
from mast3r_ros.replay.rosbag.cdr_header import HeaderReader, read_header


def index_once(bag: Path, full: bool, poses: bool = True) -> tuple:
    """(wall s, CPU s, image messages deserialized in full) of one indexing pass of ``bag``;
    ``full``: the header reader turned off (every image and depth message deserialized);
    ``poses``: with ``--pose-frames`` (/tf read too), else the image topics alone."""
    counted = []
    real = sequence.bag_deserialize

    def counting(reader, raw, msgtype):
        counted.append(msgtype)
        return real(reader, raw, msgtype)

    off = mock.patch.object(HeaderReader, "header_only", lambda self, raw, msgtype: None)
    with mock.patch.object(sequence, "bag_deserialize", counting):
        if full:
            off.start()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            BagSequence(bag, depth_topic=DEPTH, pose_frames=f"map:{OPTICAL}" if poses else None)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            if full:
                off.stop()
    return wall, cpu, counted.count("sensor_msgs/msg/Image")


def stride_reads(bag: Path, strides: list, poses: bool) -> None:
    """Print the second pass's cost per ``--stride`` (`sources.frames_or_unreadable`: the
    frames taken decoded, the others' messages read, not deserialized) against a plain read
    of every colour and depth message's bytes (the floor of a pass through the bag)."""
    from mast3r_ros.replay.rosbag.opening import _open_bag, numbered_messages
    from mast3r_ros.replay.sources import frames_or_unreadable
    seq = BagSequence(bag, depth_topic=DEPTH, pose_frames=f"map:{OPTICAL}" if poses else None)

    def raw_read() -> int:
        with _open_bag(bag) as reader:
            conns = [c for t in (IMAGE, DEPTH) for c in reader.topics[t].connections]
            return sum(1 for _ in numbered_messages(reader, conns))

    runs = [("bytes of every colour and depth message", raw_read)] + [
        (f"--stride {n}: frames", lambda n=n: sum(1 for _ in frames_or_unreadable(seq, n)))
        for n in strides]
    print("\nsecond pass (localize's read of the bag), one run each:")
    for label, run in runs:
        wall, cpu = time.perf_counter(), time.process_time()
        items = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  {label:40s} {items:5d}  {wall:6.2f} s wall {cpu:6.2f} s CPU", flush=True)


def one_message_us(width: int, height: int, n: int = 2000) -> tuple:
    """(us rosbags' deserialize_cdr, us read_header) for one rgb8 Image of width x height."""
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    raw = bytes(TS.serialize_cdr(_image(T0, rgb, "rgb8"), "sensor_msgs/msg/Image"))
    out = []
    for fn in (lambda: TS.deserialize_cdr(raw, "sensor_msgs/msg/Image"),
               lambda: read_header(raw, "sensor_msgs/msg/Image")):
        fn()
        wall = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - wall) / n * 1e6)
    return tuple(out)


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--images-only", action="store_true",
                    help="no /tf, IMU nor cloud in the bag, and no --pose-frames: the indexing "
                    "pass reads the colour, depth and CameraInfo topics alone")
    ap.add_argument("--strides", type=int, nargs="*", default=[],
                    help="also time the second pass (localize's) at each --stride")
    ap.add_argument("--tmp", help="folder for the bag (default: the system's temporary one)")
    args = ap.parse_args()
    full_us, header_us = one_message_us(args.width, args.height)
    print(f"one {args.width}x{args.height} rgb8 Image: rosbags deserialize_cdr {full_us:.1f} us, "
          f"header read {header_us:.2f} us ({full_us / header_us:.0f}x)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bag_index_", dir=args.tmp) as tmp:
        bag = Path(tmp) / "bag"
        sparse = dict(tf_rate=1.0, imu_rate=1.0, cloud_points=4) if args.images_only else {}
        counts = write_bag(bag, args.minutes, args.width, args.height,
                           **{"cloud_points": 100, **sparse})
        size = sum(f.stat().st_size for f in bag.iterdir()) / 2**20
        print(f"bag {args.minutes:g} min: {size:.0f} MiB, {counts[IMAGE]} colour and "
              f"{counts[DEPTH]} depth images, {sum(counts.values())} messages", flush=True)
        times: dict = {(full, k): [] for full in (True, False) for k in ("wall", "cpu")}
        deserialized = {}
        poses = not args.images_only
        index_once(bag, False, poses)  # page cache and imports warm
        for _ in range(args.repeats):
            for full in (True, False):
                wall, cpu, n = index_once(bag, full, poses)
                times[full, "wall"].append(wall)
                times[full, "cpu"].append(cpu)
                deserialized[full] = n
                print(f"  {'before' if full else 'now':6s} {wall:6.2f} s wall {cpu:6.2f} s CPU  "
                      f"({n} image messages deserialized in full)", flush=True)
        if args.strides:
            stride_reads(bag, args.strides, poses)
    print(f"\nindexing pass of {args.minutes:g} min, image messages deserialized "
          f"{deserialized[True]} -> {deserialized[False]}:")
    for kind in ("wall", "cpu"):
        before, now = times[True, kind], times[False, kind]
        med_b, med_n = statistics.median(before), statistics.median(now)
        print(f"  {kind:4s} before best {min(before):.2f} s median {med_b:.2f} s; now best "
              f"{min(now):.2f} s median {med_n:.2f} s; before/now {min(before) / min(now):.2f} "
              f"(best) {med_b / med_n:.2f} (median); saved {(med_b - med_n) / args.minutes:.2f} "
              "s per bag minute (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
