#!/usr/bin/env python3
"""The map check on the synthetic walk given the K of another aspect ratio, the previous package
(``mast3r_ros/core/map_check`` at ``--prev-rev``) and the current one side by side in one run:
each case's cause, the time of each check (median of the repeats, the two alternated), how many
K of another resolution each tried (`resolution._measure` calls: exact, where the times on a
loaded machine only estimate the work) and whether the two reports say the same.

Cases (10 keyframes of the demo loop rendered at 640x480, or ``--size``; a 16:9 camera's K given
with them, its fx = fy = 0.78 x its width): ``ok`` (its own K), ``scaled_1280x720`` /
``scaled_1920x1080`` (the images that camera's frame scaled to 4:3: x1/2 across, x1/1.5 down /
x1/3, x1/2.25), ``cropped_1280x720`` (its middle 960x720 scaled by 1/1.5), ``pp_1920x1080`` (only
cx, cy of 1920x1080: nothing of another resolution fits, the most the new diagnosis tries) and
``pose_jump`` (one keyframe moved 0.2 m and turned 10 deg, the images' own K: a failing map of
another cause).

    python bench/bench_map_check_aspect.py                   # 3 repeats
    python bench/bench_map_check_aspect.py --repeats 9 --cases ok,pose_jump
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

# integ before the K of another aspect ratio was named
PREV_REV = "8426a60e"
CASES = ["ok", "scaled_1280x720", "scaled_1920x1080", "cropped_1280x720", "pp_1920x1080",
         "pose_jump"]


def _k(fx, fy, cx, cy) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _case_k(case: str, w: int, h: int):
    """(K the images are rendered with, K given) for ``case`` at ``w``x``h``."""
    own = default_intrinsics(w, h).K
    if case in ("ok", "pose_jump"):
        return own, own
    W, H = (int(x) for x in case.split("_")[1].split("x"))
    F = 0.78 * W
    given = _k(F, F, (W - 1) / 2, (H - 1) / 2)
    ax, ay = W / w, H / h
    cx, cy = (W / 2) / ax - 0.5, (H / 2) / ay - 0.5
    if case.startswith("scaled"):
        return _k(F / ax, F / ay, cx, cy), given
    if case.startswith("cropped"):
        g = min(ax, ay)
        return _k(F / g, F / g, cx, cy), given
    return own, _k(own[0, 0], own[1, 1], given[0, 2], given[1, 2])  # pp_: cx, cy only


def _records(package, w: int, h: int, case: str) -> list:
    shot, given = _case_k(case, w, h)
    cam = default_intrinsics(w, h)
    frames = render_frames(40, dataclasses.replace(cam, K=shot), indices=range(0, 20, 2))
    other = dataclasses.replace(cam, K=given)
    recs = [package.KeyframeRecord(f.rgb, f.depth_m, other, f.map_from_cam, f.stamp_ns)
            for f in frames]
    return with_pose_jump(recs) if case == "pose_jump" else recs


def main() -> int:
    args, w, h, cases = parse_args(__doc__, PREV_REV, "640x480", CASES)
    prev = load_frozen_package(args.prev_rev, "mast3r_ros/core/map_check", "map_check_prev")
    packages = {"previous": prev, "current": current}
    print(f"synthetic walk, 10 keyframes at {w}x{h}; previous: map_check at {args.prev_rev}; "
          f"{args.repeats} repeats, alternated; times: median s per check")
    # one per K of another resolution tried
    counters = {k: count_calls(p, "resolution", "_measure") for k, p in packages.items()}
    print("tried: K of another resolution measured (resolution._measure) in one check, "
          "previous / current")
    print(f"{'case':17s} {'previous':>9s} {'current':>9s} {'ratio':>6s} {'tried':>6s}  same  "
          "causes")
    for case in cases:
        recs = {k: _records(p, w, h, case) for k, p in packages.items()}
        run_case(case, 17, packages, recs, counters, Config().map_check, args.repeats, 6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
