#!/usr/bin/env python3
"""build-map --max-frames N on a long robot-shaped rosbag2: the indexing pass stopped past the
first N frames (now, `rosbag.index_stop`) against the whole bag indexed (before: the stop
turned off, ``IndexStop.of`` answering None), side by side in one process.

Writes the bag of `bench_long_bag` (30 Hz colour at ``--width`` x ``--height``, aligned 16UC1
depth, CameraInfo, /tf at 150 Hz with map -> odom at 10 Hz, /tf_static once, an IMU and a
point cloud nothing reads) of ``--minutes`` into a temporary folder, then, alternating before
and now ``--repeats`` times:

- the source as build-map opens it (``open_source`` with ``--max-frames``, the poses from tf,
  depth): wall and CPU seconds, the images the indexing pass read;
- ``mast3r-ros build-map BAG --matcher sift --max-frames N --pose-frames map:OPTICAL
  --depth-topic ...`` in this process: wall seconds.

and checks that both give the same N frames: stamps, poses (map_from_cam), depth and
intrinsics of every frame, bit for bit, and the same map (keyframe stamps and poses, the
manifest's max_frames record). Wall-clock times on a warm page cache; on a shared machine only
one run's numbers compare.

    python bench/bench_max_frames_index.py                  # 4 min at 160x120, --max-frames 20
    python bench/bench_max_frames_index.py --minutes 1 --repeats 1 --width 64 --height 48
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from bench_long_bag import DEPTH, OPTICAL, write_bag

from mast3r_ros.replay.cli import main
from mast3r_ros.replay.rosbag import index_stop
from mast3r_ros.replay.sources import SourceOptions, open_source


def _whole_pass():
    """The stop turned off: the indexing pass reads the whole bag, as before."""
    return mock.patch.object(index_stop.IndexStop, "of", classmethod(lambda cls, *a: None))


def open_cut(bag: Path, n: int, before: bool) -> tuple:
    """(wall s, CPU s, images indexed, frames as (stamp, pose, depth, K)) of opening ``bag``
    as build-map does with --max-frames ``n`` and reading its n frames."""
    options = SourceOptions(pose_frames=f"map:{OPTICAL}", depth_topic=DEPTH, max_frames=n,
                            command="build-map")
    patch = _whole_pass() if before else mock.patch.object(index_stop, "MARGIN_S",
                                                           index_stop.MARGIN_S)
    with patch:
        wall, cpu = time.perf_counter(), time.process_time()
        src = open_source(str(bag), options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    frames = [(f.stamp_ns, f.map_from_cam, f.depth_m, f.intrinsics.K)
              for f in src.frames_or_unreadable()]
    return wall, cpu, len(src.source), src.of_frames, frames


def build(bag: Path, out: Path, n: int, before: bool) -> float:
    """Wall seconds of one ``build-map --max-frames n`` of ``bag`` into ``out``."""
    args = ["build-map", str(bag), "--matcher", "sift", "--pose-frames", f"map:{OPTICAL}",
            "--depth-topic", DEPTH, "--out", str(out), "--max-frames", str(n),
            "--log-level", "error", "--overwrite"]
    with _whole_pass() if before else mock.patch.object(index_stop, "MARGIN_S",
                                                        index_stop.MARGIN_S):
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # its summary line names the tmp path
            rc = main(args)
        t = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"build-map exited {rc}")
    return t


def _same_frames(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        s1 == s2 and p1 is not None and np.array_equal(p1, p2) and np.array_equal(d1, d2)
        and np.array_equal(k1, k2) for (s1, p1, d1, k1), (s2, p2, d2, k2) in zip(a, b))


def _map(out: Path) -> tuple:
    manifest = json.loads((out / "manifest.json").read_text())
    from mast3r_ros.core.keyframes import KeyframeMap

    kf = KeyframeMap.load(str(out))
    return manifest.get("max_frames"), [(kf.keyframe(i).stamp_ns,
                                         kf.keyframe(i).map_from_cam.tobytes())
                                        for i in range(len(kf))]


def main_bench() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--max-frames", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tmp", help="folder for the bag (default: the system's temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        bag = Path(tmp) / "bag"
        t = time.perf_counter()
        counts = write_bag(bag, args.minutes, args.width, args.height)
        print(f"bag: {args.minutes:g} min of {args.width}x{args.height} raw colour + depth, "
              f"{sum(counts.values())} messages ({dict(counts)}), written in "
              f"{time.perf_counter() - t:.1f} s")
        rows = {"before": [], "now": []}
        seen = {}
        for _ in range(args.repeats):
            for label in ("before", "now"):
                wall, cpu, indexed, of, frames = open_cut(bag, args.max_frames, label == "before")
                out = Path(tmp) / f"map_{label}"
                b = build(bag, out, args.max_frames, label == "before")
                rows[label].append((wall, cpu, b))
                seen[label] = (indexed, of, frames, _map(out))
        n = args.max_frames
        print(f"\n--max-frames {n}, {args.repeats} runs each, alternated (best / median):")
        print(f"{'':8s} {'open (index) wall':>20s} {'CPU':>16s} {'build-map wall':>18s}"
              f" {'images indexed':>15s} {'of_frames':>10s}")
        for label in ("before", "now"):
            cols = list(zip(*rows[label]))
            cells = [f"{min(c):7.2f} / {statistics.median(c):6.2f} s" for c in cols]
            print(f"{label:8s} {cells[0]:>20s} {cells[1]:>16s} {cells[2]:>18s}"
                  f" {seen[label][0]:>15d} {seen[label][1]:>10d}")
        ratio = [min(b) / min(a) for a, b in zip(zip(*rows["now"]), zip(*rows["before"]))]
        print(f"ratio before/now (best): open {ratio[0]:.1f}x wall, {ratio[1]:.1f}x CPU; "
              f"build-map {ratio[2]:.1f}x wall")
        same = _same_frames(seen["before"][2], seen["now"][2])
        print(f"the {len(seen['now'][2])} frames (stamps, poses, depth, K) identical: {same}")
        (rec_a, kf_a), (rec_b, kf_b) = seen["before"][3], seen["now"][3]
        print(f"the maps identical (manifest max_frames {rec_b}, {len(kf_b)} keyframes' stamps "
              f"and poses): {rec_a == rec_b and kf_a == kf_b}")
        if not same or kf_a != kf_b:
            raise SystemExit("before and now differ")


if __name__ == "__main__":
    main_bench()
