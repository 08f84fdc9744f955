#!/usr/bin/env python3
"""`KeyframeMap.check_folder` (what `localize` runs before a rosbag2 is indexed and `merge-maps`
before it reads map A whole) against a lazy `KeyframeMap.load`, on synthetic maps of N keyframes
with depth (2N PNGs) in format v3 (what build-map writes) and v2 (a JSON record per keyframe in
the manifest). The check stats every file the map lists and reads no image or array; the times
are the median of ``--repeats`` calls on a warm page cache (a cold one adds the stats' disk
seeks). On a shared machine only one run's numbers compare.

    python bench/bench_map_check_folder.py                  # 2000 keyframes
    python bench/bench_map_check_folder.py --keyframes 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.types import CameraIntrinsics


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--keyframes", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    w, h = 64, 48
    cam = CameraIntrinsics(w, h, [[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]], [0, 0, 0, 0, 0])
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 4.0, (h, w)).astype(np.float32)
    frames = [(rgb, cam, make_pose(np.eye(3), [0.01 * i, 0, 0]), 1000 + i, depth)
              for i in range(args.keyframes)]
    root = tempfile.mkdtemp(prefix="bench_check_folder_")
    try:
        for version in (3, 2):
            path = kfm.write_map(os.path.join(root, f"v{version}"), frames, version=version)
            check = _median_ms(lambda p=path: KeyframeMap.check_folder(p), args.repeats)
            lazy = _median_ms(lambda p=path: KeyframeMap.load(p, lazy=True),
                              args.repeats)
            print(f"v{version}, {args.keyframes} keyframes: check_folder {check:.0f} ms, "
                  f"load(lazy=True) {lazy:.0f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
