#!/usr/bin/env python3
"""Bytes read and wall time of the passes over a ROS 1 .bag whose big image messages share
their chunks with sparse /tf: the package of ``--old-rev`` and of this tree side by side.

Writes, with rosbags' ROS 1 writer, ``--minutes`` of a field recording's shape per
``--compression`` (none, lz4) into ``--tmp`` (a temporary folder, removed after): 30 Hz
raw ``--width`` x ``--height`` rgb8 ``sensor_msgs/Image`` (0.92 MB at 640x480: about one a
1 MiB chunk), its CameraInfo, /tf at ``--tf-rate`` Hz (10: in one chunk of three), /tf_static
once; bag times 30 ms (image, CameraInfo) and 2 ms (/tf) after their stamps, written in
bag-time order. Per bag, for each package (``old``: ``git archive`` of ``--old-rev``;
``new``: this tree), alternating ``--repeats`` times, each in a fresh child process, in order:

* ``open``: `opening._open_bag` alone (rosbags reads every chunk's index records and makes
  an entry per message: the cost every pass starts with; not changed here);
* ``raw tf``: `opening.bag_messages` over /tf alone (a /tf-only pass: the depth
  extrinsic's, a --tf-file check's);
* ``raw tf+static``: over /tf and /tf_static;
* ``index``: `BagSequence` with --pose-frames (the indexing pass: images, CameraInfo, tf);
* ``drawn``: build-map's keyframe candidates, every ``--stride``-th frame drawn one at a
  time (`BagSequence.frames_or_unreadable(iterator)`), each decoded (timed apart from the
  indexing pass it needs).

Each reports its wall and CPU seconds (the least CPU of the repeats) and the bytes it read
(``/proc/self/io`` ``rchar``: every read(), page cache or not), and a digest of what it gave
(messages' topics, times and bytes; frames' stamps, poses and pixels), which must agree
between old and new. Warm page cache; a shared machine moves the wall times: compare within
one run.

    python bench/bench_ros1_reads.py --minutes 1 --compression none lz4 --old-rev 5687f1ee
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_bag_open import _old_package, _typestore, run_package_child  # noqa: E402
from old_new import (add_repeats_and_old_rev, alternate,  # noqa: E402
                     parse_with_work, passes, write_rows)

S, MS = 1_000_000_000, 1_000_000
IMAGE, INFO, OPTICAL = "/camera/color/image_raw", "/camera/color/camera_info", "camera_optical"

_CHILD = r'''
import hashlib, json, sys, time
import numpy as np
from pathlib import Path
from mast3r_ros.replay.rosbag import BagSequence, opening
def rchar():
    with open("/proc/self/io") as f:
        return int(next(l for l in f if l.startswith("rchar")).split()[1])
out, bag, optical, stride = sys.argv[1:5]
bag, stride = Path(bag), int(stride)
rows = {}
def timed(name, run):
    r0, t0, c0 = rchar(), time.perf_counter(), time.process_time()
    digest = run()
    rows[name] = (time.perf_counter() - t0, time.process_time() - c0, rchar() - r0, digest)
def opened():
    with opening._open_bag(bag) as reader:
        one = reader.readers[0]
        return f"{sum(len(v) for v in one.indexes.values())} entries, {len(one.chunks)} chunks"
def raw(topics):
    def run():
        h, n = hashlib.sha1(), 0
        with opening._open_bag(bag) as reader:
            conns = [c for c in reader.connections if c.topic in topics]
            for conn, t, data in opening.bag_messages(reader, connections=conns):
                n += 1
                h.update(f"{conn.topic} {t}".encode())
                h.update(data)
        return f"{n} messages {h.hexdigest()[:12]}"
    return run
seq = []
def index():
    seq.append(BagSequence(bag, pose_frames=f"map:{optical}"))
    h = hashlib.sha1(np.asarray(seq[0].stamps_ns, np.int64).tobytes())
    return f"{len(seq[0])} frames {h.hexdigest()[:12]}"
def drawn():
    h, n = hashlib.sha1(), 0
    for f in seq[0].frames_or_unreadable(iter(range(0, len(seq[0]), stride))):
        n += 1
        h.update(str(f.stamp_ns).encode())
        h.update(np.ascontiguousarray(f.rgb).tobytes())
        h.update(np.asarray(f.map_from_cam, np.float64).tobytes())
    return f"{n} frames {h.hexdigest()[:12]}"
timed("open", opened)
timed("raw tf", raw({"/tf"}))
timed("raw tf+static", raw({"/tf", "/tf_static"}))
timed("index", index)
timed("drawn", drawn)
with open(out, "w") as f:
    json.dump({"rows": rows, "module": opening.__file__}, f)
'''


def write_bag(path: Path, minutes: float, width: int, height: int, tf_rate: float,
              compression: str | None) -> dict:
    """The bench's ROS 1 bag at ``path`` (module docstring); returns message counts by topic."""
    from rosbags.rosbag1 import Writer
    from scipy.spatial.transform import Rotation

    ts = _typestore(True)
    T = ts.types

    def header(t, frame):
        stamp = T["builtin_interfaces/msg/Time"](sec=t // S, nanosec=t % S)
        return T["std_msgs/msg/Header"](seq=0, stamp=stamp, frame_id=frame)

    def tf(parent, child, t, x):
        q = Rotation.from_rotvec([0, 0, 0.1]).as_quat()
        transform = T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](x, 0.0, 0.5),
            rotation=T["geometry_msgs/msg/Quaternion"](*q))
        return T["tf2_msgs/msg/TFMessage"](transforms=[T["geometry_msgs/msg/TransformStamped"](
            header=header(t, parent), child_frame_id=child, transform=transform)])

    fx = 0.8 * width
    k = [fx, 0, width / 2, 0, fx, height / 2, 0, 0, 1]
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    # bands of a gradient, noise in the top quarter: lz4 shrinks it to about a third
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, (yy // 16) * 16 % 256, np.full_like(xx, 128)], -1)
    noise = np.random.default_rng(0).integers(0, 8, (64, height, width, 3))
    noise[:, height // 4:] = 0
    images = [(base + n).astype(np.uint8).reshape(-1) for n in noise]
    start, frames = 10 * S, int(minutes * 60 * 30)
    events = [(start + i * S // 30 + 30 * MS, 0, i) for i in range(frames)]
    events += [(start + i * int(S / tf_rate) + 2 * MS, 1, i)
               for i in range(int(minutes * 60 * tf_rate))]
    counts = {IMAGE: 0, INFO: 0, "/tf": 0, "/tf_static": 1}
    writer = Writer(path)
    if compression:
        writer.set_compression(getattr(Writer.CompressionFormat, compression.upper()))
    with writer:
        conns = {}

        def write(topic, bag_ns, msg):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=ts)
            writer.write(conns[topic], bag_ns, ts.serialize_ros1(msg, msg.__msgtype__))

        write("/tf_static", start - S, tf("base_link", OPTICAL, 0, 0.1))
        for bag_ns, kind, i in sorted(events):
            if kind:
                t = start + i * int(S / tf_rate)
                write("/tf", bag_ns, tf("map", "base_link", t, 0.01 * i))
                counts["/tf"] += 1
                continue
            t = start + i * S // 30
            write(IMAGE, bag_ns, T["sensor_msgs/msg/Image"](
                header=header(t, OPTICAL), height=height, width=width, encoding="rgb8",
                is_bigendian=0, step=width * 3, data=images[i % len(images)]))
            p = np.zeros(12)
            p[[0, 1, 2, 4, 5, 6, 8, 9, 10]] = k
            write(INFO, bag_ns, T["sensor_msgs/msg/CameraInfo"](
                header=header(t, OPTICAL), height=height, width=width,
                distortion_model="plumb_bob", D=np.zeros(5), K=np.array(k, float),
                R=np.eye(3).reshape(-1), P=p, binning_x=0, binning_y=0, roi=roi))
            counts[IMAGE] += 1
            counts[INFO] += 1
    return counts


def run_child(package_root: Path, bag: Path, stride: int, work: Path) -> dict:
    return run_package_child(_CHILD, package_root, work, str(bag), OPTICAL, str(stride))


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--compression", nargs="+", choices=("none", "lz4"), default=["none", "lz4"])
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--tf-rate", type=float, default=10.0)
    ap.add_argument("--stride", type=int, default=30,
                    help="build-map's candidates drawn: every STRIDE-th frame (default 30)")
    add_repeats_and_old_rev(ap, "5687f1ee", "changes")
    args, work = parse_with_work(ap, "ros1_reads_")
    table = []
    try:
        packages = {"old": _old_package(args.old_rev, work / "old"), "new": ROOT}
        print(f"old: {args.old_rev}, new: this tree; {args.minutes:g} min ROS 1 bags, "
              f"{args.width}x{args.height} rgb8 at 30 Hz, /tf at {args.tf_rate:g} Hz; the "
              f"least CPU of {args.repeats} (wall s, CPU s, MB read by rchar), warm page cache",
              flush=True)
        for compression in args.compression:
            bag = work / f"field_{compression}.bag"
            wall = time.perf_counter()
            counts = write_bag(bag, args.minutes, args.width, args.height, args.tf_rate,
                               None if compression == "none" else compression)
            size = bag.stat().st_size
            print(f"\n{compression}: {size / 1e6:.0f} MB, {sum(counts.values())} messages "
                  f"({counts[IMAGE]} images, {counts['/tf']} /tf), written in "
                  f"{time.perf_counter() - wall:.0f} s", flush=True)
            runs = alternate(packages, args.repeats,
                             functools.partial(run_child, bag=bag, stride=args.stride, work=work))
            print(f"{'pass':<14} {'wall s old/new':>15} {'CPU s old/new':>15} "
                  f"{'MB read old/new':>19} {'x file':>11}  results")
            for name, old, new, same, row in passes(runs, 3):
                (ow, oc, ob, _), (nw, nc, nb, digest) = old, new
                print(f"{name:<14} {ow:7.2f}/{nw:<7.2f} {oc:7.2f}/{nc:<7.2f} "
                      f"{ob / 1e6:9.2f}/{nb / 1e6:<9.2f} {ob / size:5.3f}/{nb / size:<5.3f}  "
                      f"{same}: {digest}", flush=True)
                table.append({"compression": compression, "minutes": args.minutes,
                              "bag_bytes": size, **row})
            bag.unlink()
        write_rows(args.json, table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
