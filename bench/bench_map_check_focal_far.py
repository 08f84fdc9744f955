#!/usr/bin/env python3
"""The map check on the synthetic walk with the intrinsics of another resolution, the previous
package (``mast3r_ros/core/map_check`` at ``--prev-rev``) and the current one side by side in
one run: each case's cause, the time of each check (median of the repeats, the two alternated)
and whether the two reports say the same (``yes``; ``what``: the same up to the fix, which is
then printed in full with the message; ``no``).

Cases (10 keyframes of the demo loop rendered at ``--size``, 640x360 by default: a reduced
stream of a 1920x1080 camera): ``ok`` (its own K), ``fx_x1.15`` (inside the focal scan's old
range), ``fx_x2`` (the old wide pass), ``fx_x0.42`` (past the old range's end, where a bump in
the residual inside it kept the wide pass off on 240x180), ``fx_x3`` / ``fx_x4`` / ``fx_x0.25``
(fx, fy of a 3x / 4x larger or 4x smaller image: past x2.5 / x0.4), ``K_x3`` (the whole K of
a 3x larger image, principal point too: the 1920x1080 camera_info given with 640x360 images)
and ``pose_jump`` (one keyframe moved 0.2 m and turned 10 deg: a failing map whose cause is
no focal length, where every focal scan runs and finds nothing).

    python bench/bench_map_check_focal_far.py                 # 3 repeats
    python bench/bench_map_check_focal_far.py --repeats 5 --size 240x180
    python bench/bench_map_check_focal_far.py --repeats 15 --cases ok
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frozen_package import load_frozen_package  # noqa: E402
from map_check_side_by_side import count_calls, parse_args, run_case, with_pose_jump  # noqa: E402,I001

import mast3r_ros.core.map_check as current  # noqa: E402
from mast3r_ros.core.config import Config  # noqa: E402
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames  # noqa: E402

# integ before the far focal factors and the whole-K diagnosis
PREV_REV = "4e867300"


def _k_of(K: np.ndarray, case: str) -> np.ndarray:
    out = K.copy()
    if case.startswith("fx_x"):
        out[0, 0] *= float(case[4:])
        out[1, 1] *= float(case[4:])
    elif case.startswith("K_x"):
        r = float(case[3:])
        out[:2, :2] *= r
        out[:2, 2] = (out[:2, 2] + 0.5) * r - 0.5
    return out


def _records(package, frames, case: str) -> list:
    cam = frames[0].intrinsics
    other = dataclasses.replace(cam, K=_k_of(cam.K, case))
    recs = [package.KeyframeRecord(f.rgb, f.depth_m, other, f.map_from_cam, f.stamp_ns)
            for f in frames]
    return with_pose_jump(recs) if case == "pose_jump" else recs


CASES = ["ok", "fx_x1.15", "fx_x2", "fx_x0.42", "fx_x3", "fx_x4", "fx_x0.25", "K_x3", "pose_jump"]


def main() -> int:
    args, w, h, cases = parse_args(__doc__, PREV_REV, "640x360", CASES)
    prev = load_frozen_package(args.prev_rev, "mast3r_ros/core/map_check", "map_check_prev")
    packages = {"previous": prev, "current": current}
    frames = list(render_frames(40, default_intrinsics(w, h), indices=range(0, 20, 2)))
    print(f"synthetic walk, 10 keyframes at {w}x{h}; previous: map_check at {args.prev_rev}; "
          f"{args.repeats} repeats, alternated; times: median s per check")
    # K rebuilds for a focal factor (`focal._focal_divided`): one per residual score of a
    # factor other than 1, one per full measurement of one: the work of its focal scans
    counters = {k: count_calls(p, "focal", "_focal_divided") for k, p in packages.items()}
    print("factors: K rebuilt for a focal factor (one per residual score, one per full "
          "measurement) in one check, previous / current")
    print(f"{'case':10s} {'previous':>9s} {'current':>9s} {'ratio':>6s} {'factors':>9s}  same  "
          "causes")
    for case in cases:
        recs = {k: _records(p, frames, case) for k, p in packages.items()}
        run_case(case, 10, packages, recs, counters, Config().map_check, args.repeats, 9)
    return 0


if __name__ == "__main__":
    sys.exit(main())
