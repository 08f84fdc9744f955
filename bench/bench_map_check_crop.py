#!/usr/bin/env python3
"""The map check on the synthetic walk given a K whose principal point is 5-20 % off centre or
left of / above it, the previous package (``mast3r_ros/core/map_check`` at ``--prev-rev``) and
the current one side by side in one run: each case's cause, the time of each check (median of
the repeats, the two alternated), how many K of another resolution or crop each tried
(`resolution._measure` calls: exact, where the times on a loaded machine only estimate the
work) and whether the two reports say the same.

Cases (10 keyframes of the demo loop rendered at 320x240, or ``--size`` WxH, its own K unless
said): ``ok`` (consistent), ``pose_jump`` (one keyframe moved 0.2 m and turned 10 deg: a
failing map of another cause), ``pose_jump_pp_right`` / ``pose_jump_pp_left`` (the same, shot
and given a K whose principal point is 12 % of the width right / left of centre: what the
diagnosis now tries on a failing map of another cause), ``crop_12`` (the K of a frame 25 %
wider, the images its centred crop: principal point 12.5 % off), ``wide_x1.325`` (848x480's
ratio across: the images scaled across only) and ``pp_third`` (cx, cy of a 3x smaller image,
fx, fy right).

    python bench/bench_map_check_crop.py                   # 3 repeats
    python bench/bench_map_check_crop.py --repeats 9 --cases ok,pose_jump,pose_jump_pp_right
"""

from __future__ import annotations

import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frozen_package import load_frozen_package  # noqa: E402
from map_check_side_by_side import count_calls, parse_args, run_case, with_pose_jump  # noqa: E402,I001

import mast3r_ros.core.map_check as current  # noqa: E402
from mast3r_ros.core.config import Config  # noqa: E402
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames  # noqa: E402

# integ before a crop was tried from 5 % off centre
PREV_REV = "75d50bcb"
CASES = ["ok", "pose_jump", "pose_jump_pp_right", "pose_jump_pp_left", "crop_12", "wide_x1.325",
         "pp_third"]


def _case_k(case: str, w: int, h: int):
    """(K the images are rendered with, K given) for ``case`` at ``w``x``h``."""
    own = default_intrinsics(w, h).K
    shot, given = own.copy(), own.copy()
    if case.startswith("pose_jump_pp"):
        shot[0, 2] += (0.12 if case.endswith("right") else -0.12) * w
        given = shot
    elif case == "crop_12":
        given[0, 2] += 0.125 * w
    elif case == "wide_x1.325":
        given[0, 0] *= 1.325
        given[0, 2] = (own[0, 2] + 0.5) * 1.325 - 0.5
    elif case == "pp_third":
        given[:2, 2] = (own[:2, 2] + 0.5) / 3.0 - 0.5
    return shot, given


def _records(packages, w: int, h: int, case: str) -> dict:
    shot, given = _case_k(case, w, h)
    cam = default_intrinsics(w, h)
    frames = list(render_frames(40, dataclasses.replace(cam, K=shot), indices=range(0, 20, 2)))
    other = dataclasses.replace(cam, K=given)
    out = {}
    for name, package in packages.items():
        recs = [package.KeyframeRecord(f.rgb, f.depth_m, other, f.map_from_cam, f.stamp_ns)
                for f in frames]
        out[name] = with_pose_jump(recs) if case.startswith("pose_jump") else recs
    return out


def main() -> int:
    args, w, h, cases = parse_args(__doc__, PREV_REV, "320x240", CASES)
    prev = load_frozen_package(args.prev_rev, "mast3r_ros/core/map_check", "map_check_prev")
    packages = {"previous": prev, "current": current}
    print(f"synthetic walk, 10 keyframes at {w}x{h}; previous: map_check at {args.prev_rev}; "
          f"{args.repeats} repeats, alternated; times: median s per check")
    counters = {k: count_calls(p, "resolution", "_measure") for k, p in packages.items()}
    print("tried: K of another resolution or crop measured (resolution._measure) in one check, "
          "previous / current")
    print(f"{'case':19s} {'previous':>9s} {'current':>9s} {'ratio':>6s} {'tried':>6s}  same  "
          "causes")
    for case in cases:
        run_case(case, 19, packages, _records(packages, w, h, case), counters,
                 Config().map_check, args.repeats, 6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
