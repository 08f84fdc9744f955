#!/usr/bin/env python3
"""Bytes read by whole passes over a ROS 1 .bag: the package of ``--old-rev`` (rosbags'
``messages``, which read a chunk again each time bag-time order came back to it) and of this
tree (`rosbag.ros1_chunks`: each chunk read once), side by side.

Writes `bench_bag_open`'s field-recording-shaped bag as a ROS 1 .bag of ``--minutes`` per
``--compression`` (none, lz4, bz2) into a temporary folder (removed after): 30 Hz 640x480
JPEG CompressedImage, its CameraInfo, compressedDepth, /tf at 100 Hz, written in the order of
their stamps with bag times 3 ms (image, CameraInfo), 4 ms (depth) and 0.5 ms (/tf) after
them: an image whose write fills a chunk has a later bag time than the /tf messages that start
the next chunk, and bag-time order goes back to it. Per bag, for each package (``old``: ``git
archive`` of ``--old-rev``; ``new``: this tree), alternating ``--repeats`` times, each in a
fresh child process, in order:

* ``index build-map``: `BagSequence` with --depth-topic and --pose-frames (build-map's
  indexing pass: images, CameraInfo, depth, /tf, /tf_static);
* ``index localize``: the same without depth (localize's);
* ``frames``: build-map's frames pass over every ``--stride``-th frame (images and depth read
  through, those frames decoded);
* ``raw X``: `opening.bag_messages` over topics X alone (``tf``, ``image+tf``, ``all``).

Each reports its wall and CPU seconds (the least CPU of the repeats), the bytes it read
(``/proc/self/io`` ``rchar``: every read(), page cache or not) and a digest of what it
gave (the frames' stamps, poses and depth flags; the frames' pixels; each message's topic,
time and bytes), which must agree between old and new. Warm page cache; a shared machine
moves the wall times (CPU seconds less): compare within one run.

    python bench/bench_ros1_chunks.py --minutes 2 --compression none lz4 --old-rev 0147784c
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_bag_open import (DEPTH, IMAGE, _old_package, run_package_child,  # noqa: E402
                            write_bag)
from bench_long_bag import OPTICAL  # noqa: E402
from old_new import (add_repeats_and_old_rev, alternate,  # noqa: E402
                     parse_with_work, passes, write_rows)

_CHILD = r'''
import hashlib, json, sys, time
import numpy as np
from pathlib import Path
from mast3r_ros.replay.rosbag import BagSequence, opening
def rchar():
    with open("/proc/self/io") as f:
        return int(next(l for l in f if l.startswith("rchar")).split()[1])
out, bag, depth, optical, image, stride = sys.argv[1:7]
bag, stride = Path(bag), int(stride)
rows = {}
def timed(name, run):
    r0, t0, c0 = rchar(), time.perf_counter(), time.process_time()
    digest = run()
    rows[name] = (time.perf_counter() - t0, time.process_time() - c0, rchar() - r0, digest)
def index(with_depth):
    def run():
        seq = BagSequence(bag, depth_topic=depth if with_depth else None,
                          pose_frames=f"map:{optical}")
        h = hashlib.sha1(np.asarray(seq.stamps_ns, np.int64).tobytes())
        for i in range(len(seq)):
            pose, has_depth = seq.listed_pose_and_depth(i)
            h.update(b"-" if pose is None else np.asarray(pose, np.float64).tobytes())
            h.update(bytes([has_depth]))
        return f"{len(seq)} frames {h.hexdigest()[:12]}"
    return run
def frames():
    seq = BagSequence(bag, depth_topic=depth, pose_frames=f"map:{optical}")
    r0, t0, c0 = rchar(), time.perf_counter(), time.process_time()
    h, n = hashlib.sha1(), 0
    for f in seq.frames_or_unreadable(iter(range(0, len(seq), stride))):
        n += 1
        h.update(str(f.stamp_ns).encode())
        h.update(np.ascontiguousarray(f.rgb).tobytes())
        h.update(np.ascontiguousarray(f.depth_m).tobytes())
    rows["frames"] = (time.perf_counter() - t0, time.process_time() - c0, rchar() - r0,
                      f"{n} frames {h.hexdigest()[:12]}")
def raw(topics):
    def run():
        h, n = hashlib.sha1(), 0
        with opening._open_bag(bag) as reader:
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            for conn, t, data in opening.bag_messages(reader, connections=conns):
                n += 1
                h.update(f"{conn.topic} {t}".encode())
                h.update(data)
        return f"{n} messages {h.hexdigest()[:12]}"
    return run
timed("index build-map", index(True))
timed("index localize", index(False))
frames()
timed("raw tf", raw({"/tf"}))
timed("raw image+tf", raw({image, "/tf"}))
timed("raw all", raw(None))
with open(out, "w") as f:
    json.dump({"rows": rows, "module": opening.__file__}, f)
'''


def run_child(package_root: Path, bag: Path, stride: int, work: Path) -> dict:
    return run_package_child(_CHILD, package_root, work, str(bag), DEPTH, OPTICAL, IMAGE,
                             str(stride))


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--compression", nargs="+", choices=("none", "lz4", "bz2"),
                    default=["none", "lz4"])
    ap.add_argument("--stride", type=int, default=30,
                    help="the frames pass decodes every STRIDE-th frame (default 30)")
    add_repeats_and_old_rev(ap, "0147784c")
    args, work = parse_with_work(ap, "ros1_chunks_")
    table = []
    try:
        packages = {"old": _old_package(args.old_rev, work / "old"), "new": ROOT}
        print(f"old: {args.old_rev}, new: this tree; {args.minutes:g} min ROS 1 bags; the "
              f"least CPU of {args.repeats} (wall s, CPU s, MB read by rchar), warm page cache",
              flush=True)
        for compression in args.compression:
            bag = work / f"long_{compression}.bag"
            wall = time.perf_counter()
            counts = write_bag(bag, args.minutes, "ros1",
                               ros1_compression=None if compression == "none" else compression)
            size = bag.stat().st_size
            print(f"\n{compression}: {size / 1e6:.0f} MB, {sum(counts.values())} messages "
                  f"({counts[IMAGE]} images), written in {time.perf_counter() - wall:.0f} s",
                  flush=True)
            runs = alternate(packages, args.repeats,
                             functools.partial(run_child, bag=bag, stride=args.stride, work=work))
            print(f"{'pass':<16} {'wall s old/new':>15} {'CPU s old/new':>15} "
                  f"{'MB read old/new':>17} {'x file':>11}  results")
            for name, old, new, same, row in passes(runs, 3):
                (ow, oc, ob, _), (nw, nc, nb, digest) = old, new
                print(f"{name:<16} {ow:7.2f}/{nw:<7.2f} {oc:7.2f}/{nc:<7.2f} "
                      f"{ob / 1e6:8.1f}/{nb / 1e6:<8.1f} {ob / size:5.2f}/{nb / size:<5.2f}  "
                      f"{same}: {digest}")
                table.append({"compression": compression, "minutes": args.minutes,
                              "bag_bytes": size, **row})
            bag.unlink()
        write_rows(args.json, table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
