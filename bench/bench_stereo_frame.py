#!/usr/bin/env python3
"""`build-map --stereo-depth`'s whole per-frame cost on a stereo folder (EuRoC/ASL or KITTI, e.g.
made by ``bench/stereo_from_rgbd.py --size 752x480``), broken into its steps: reading the left
and the right image, turning them grey, matching the right one's exposure to the left's,
EuRoC's rectification (the maps, once when the folder is opened, and the two remaps of each
frame), SGBM, disparity -> depth, EuRoC's un-rectification back onto cam0's own pixel grid,
and the rest (the frame's other work: the pose, the checks).
``total`` is one frame read with its stereo depth (``sequence[i]``), ``read only`` the same
frame without ``--stereo-depth``. One OpenCV thread, this process's CPU time (``--clock
cpu``; wall time on a shared machine adds waits for a core). It also counts the calls of
``cv2.initUndistortRectifyMap`` while the frames are read (0 expected: maps are made once).

    python bench/bench_stereo_frame.py STEREO_FOLDER [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import benchlib  # noqa: F401 - puts the repository on sys.path
import cv2
import numpy as np
from benchlib import commit, write_json

from mast3r_ros.core.image_codec import read_image_file
from mast3r_ros.replay import euroc as euroc_module
from mast3r_ros.replay.sources import SourceOptions, open_source
from mast3r_ros.replay.stereo_depth import (_grey, depth_from_disparity, match_exposure,
                                            sgbm_disparity)


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--repeats", type=int, default=3, help="passes over all frames (default 3)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    cv2.setNumThreads(1)
    rect_calls = [0]
    init_map = cv2.initUndistortRectifyMap

    def counted(*a, **k):
        rect_calls[0] += 1
        return init_map(*a, **k)

    cv2.initUndistortRectifyMap = counted
    made = euroc_module.euroc_stereo
    map_s = [0.0]

    def timed_maps(*a, **k):
        t0 = clock()
        out = made(*a, **k)
        map_s[0] += clock() - t0
        return out

    euroc_module.euroc_stereo = timed_maps
    t0 = clock()
    seq = open_source(args.folder, SourceOptions(stereo_depth=True))
    open_s = clock() - t0
    calls_at_open = rect_calls[0]
    plain = open_source(args.folder, SourceOptions())
    stereo = seq._stereo
    rect = stereo._rectify
    steps = defaultdict(list)
    for _ in range(args.repeats):
        for i in range(len(seq)):
            right_path = seq._depth_paths[i]
            if right_path is None:
                continue
            t = [clock()]
            left = seq._read_rgb(seq._rgb_paths[i])
            t.append(clock())
            right = read_image_file(right_path)
            t.append(clock())
            lg, rg = _grey(left), _grey(right)
            t.append(clock())
            rg = match_exposure(rg, lg)
            t.append(clock())
            if rect is not None:
                (lx, ly), (rx, ry), (bx, by, zf) = rect
                lg = cv2.remap(lg, lx, ly, cv2.INTER_LINEAR)
                rg = cv2.remap(rg, rx, ry, cv2.INTER_LINEAR)
            t.append(clock())
            disp = sgbm_disparity(lg, rg)
            t.append(clock())
            depth = depth_from_disparity(disp, stereo.fx_baseline)
            t.append(clock())
            if rect is not None:
                depth = (cv2.remap(depth, bx, by, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=0) * zf).astype(np.float32)
            t.append(clock())
            for name, a, b in zip(("read_left", "read_right", "grey", "match_exposure",
                                   "rectify_remap", "sgbm",
                                   "disparity_to_depth", "unrectify"), t, t[1:]):
                steps[name].append(b - a)
            t0 = clock()
            frame = seq[i]
            steps["total"].append(clock() - t0)
            t0 = clock()
            plain[i]
            steps["read_only"].append(clock() - t0)
            steps["valid"].append(float((frame.depth_m > 0).mean()))
    med = {k: float(np.median(v)) for k, v in steps.items()}
    parts = sum(med[k] for k in ("read_left", "read_right", "grey", "match_exposure",
                                 "rectify_remap", "sgbm", "disparity_to_depth", "unrectify"))
    med["rest"] = med["total"] - parts
    w, h = stereo.size
    result = {"commit": commit(), "clock": args.clock, "size": f"{w}x{h}",
              "frames": len(steps["total"]), "open_s": open_s, "rectify_maps_s": map_s[0],
              "init_rectify_map_calls_at_open": calls_at_open,
              "init_rectify_map_calls_per_frames": rect_calls[0] - calls_at_open,
              "median_ms": {k: 1e3 * v for k, v in med.items() if k != "valid"},
              "valid_fraction": med["valid"]}
    later = result["init_rectify_map_calls_per_frames"]
    print(f"{w}x{h}: open {1e3 * open_s:.0f} ms (rectification maps {1e3 * map_s[0]:.0f} ms, "
          f"{calls_at_open} initUndistortRectifyMap calls; {later} while reading "
          f"{len(steps['total'])} frames)")
    for k, v in result["median_ms"].items():
        print(f"  {k:20s} {v:7.1f} ms")
    print(f"  valid depth {med['valid']:.2f}")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
