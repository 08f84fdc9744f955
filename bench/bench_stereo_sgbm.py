#!/usr/bin/env python3
"""`build-map --stereo-depth`'s per-keyframe cost (``replay/stereo_depth.py``): `StereoDepth.depth`
of a rectified grey pair at EuRoC's 752x480 and KITTI's 1241x376 (640x480 too), a blurred random
texture shifted 40 px, one OpenCV thread, this process's CPU time (``--clock cpu``; wall time on
a shared machine adds waits for a core). Reading the images and EuRoC's two remaps are not in it.

    python bench/bench_stereo_sgbm.py
    python bench/bench_stereo_sgbm.py --repeats 10 --json stereo_sgbm.json
"""

from __future__ import annotations

import argparse
import time

import benchlib  # noqa: F401 - puts the repository on sys.path
import cv2
import numpy as np
from benchlib import commit, ms, spread, write_json

from mast3r_ros.replay.stereo_depth import StereoDepth


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    rows = []
    for w, h in ((640, 480), (752, 480), (1241, 376)):
        base = cv2.GaussianBlur((rng.random((h, w + 64)) * 255).astype(np.uint8), (3, 3), 0)
        left, right = base[:, :w].copy(), base[:, 40:40 + w].copy()  # disparity 40 px
        stereo = StereoDepth((w, h), 50.0, "right")
        stereo.depth(left, right)  # first call: OpenCV's buffers
        times = []
        for _ in range(args.repeats):
            t0 = clock()
            depth = stereo.depth(left, right)
            times.append(clock() - t0)
        stats = spread(times)
        rows.append({"size": f"{w}x{h}", "median_ms": stats["median_s"] * 1e3,
                     "min_ms": stats["min_s"] * 1e3, "max_ms": stats["max_s"] * 1e3,
                     "valid": float((depth > 0).mean())})
        print(f"{w}x{h} rectified pair: {ms(stats)}, valid {rows[-1]['valid']:.2f}")
    write_json(args.json, {"commit": commit(), "clock": args.clock, "cases": rows})


if __name__ == "__main__":
    main()
