#!/usr/bin/env python3
"""Depth registration (``core/depth_register.py``) per frame, D435 geometry: 848x480 depth
(fx 425) 15 mm from the colour camera (0.2 deg apart), a slanted wall 1-2 m away, registered to
colour at 848x480 (fx 606) and 1280x720 (fx 910), with footprints filled (the default) and by
centres alone, and to a plumb_bob-distorted colour camera.

Per case: the first frame (rays undistorted and rotated once) and the median [min-max] of
``--repeats`` frames after it, in this process's CPU time (``--clock cpu``, one thread: wall
time on a shared machine adds waits for a core), and the share of colour pixels covered.

    python bench/bench_depth_register.py
    python bench/bench_depth_register.py --repeats 20 --json depth_register.json
"""

from __future__ import annotations

import argparse
import time

import benchlib  # noqa: F401 - puts the repository on sys.path
import numpy as np
from benchlib import commit, ms, spread, write_json
from scipy.spatial.transform import Rotation

from mast3r_ros.core.depth_register import DepthRegistration
from mast3r_ros.core.types import CameraIntrinsics


def _cam(w: int, h: int, f: float, dist=()) -> CameraIntrinsics:
    K = np.array([[f, 0, (w - 1) / 2 + 0.7], [0, f, (h - 1) / 2 - 0.4], [0, 0, 1]])
    return CameraIntrinsics(width=w, height=h, K=K, dist=np.array(dist, np.float64))


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    depth_cam = _cam(848, 480, 425.0)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [0.1, 0.15, 0.05], degrees=True).as_matrix()
    T[:3, 3] = [-0.015, 0.0002, 0.0001]
    ys, xs = np.mgrid[0:480, 0:848]
    depth = (1.5 + 0.001 * (xs - 424) + 0.0005 * (ys - 240)).astype(np.float32)
    cases = [("848x480", _cam(848, 480, 606.0), True), ("848x480", _cam(848, 480, 606.0), False),
             ("1280x720", _cam(1280, 720, 910.0), True),
             ("1280x720", _cam(1280, 720, 910.0), False),
             ("848x480 plumb_bob", _cam(848, 480, 606.0, [0.1, -0.2, 1e-3, -1e-3, 0.05]), True)]
    rows = []
    for name, colour_cam, footprint in cases:
        reg = DepthRegistration(depth_cam, colour_cam, T, footprint=footprint)
        t0 = clock()
        reg(depth)
        first = clock() - t0
        times = []
        for _ in range(args.repeats):
            t0 = clock()
            out = reg(depth)
            times.append(clock() - t0)
        stats = spread(times)
        row = {"colour": name, "footprint": footprint, "first_ms": first * 1e3,
               "covered": float((out > 0).mean()), "median_ms": stats["median_s"] * 1e3,
               "min_ms": stats["min_s"] * 1e3, "max_ms": stats["max_s"] * 1e3}
        rows.append(row)
        print(f"848x480 depth -> {name:18s} {'footprint' if footprint else 'centres  '} "
              f"first {first * 1e3:6.1f} ms, then {ms(stats)}, covered {row['covered']:.3f}")
    write_json(args.json, {"commit": commit(), "clock": args.clock, "cases": rows})


if __name__ == "__main__":
    main()
