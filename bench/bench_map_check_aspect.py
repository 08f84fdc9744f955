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

import argparse
import dataclasses
import importlib
import os
import sys
import time

import numpy as np
from scipy.spatial.transform import Rotation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frozen_package import load_frozen_package  # noqa: E402

import mast3r_ros.core.map_check as current  # noqa: E402
from mast3r_ros.core.config import Config  # noqa: E402
from mast3r_ros.core.geometry import make_pose  # noqa: E402
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
    if case == "pose_jump":
        jump = make_pose(Rotation.from_euler("y", 10, degrees=True).as_matrix(), [0.2, 0.0, 0.0])
        recs[3] = dataclasses.replace(recs[3], map_from_cam=recs[3].map_from_cam @ jump)
    return recs


def _count_measures(package) -> dict:
    """Count the package's `resolution._measure` calls: one per K of another resolution tried."""
    resolution = importlib.import_module(package.__name__ + ".resolution")
    counts = {"tried": 0}
    measure = resolution._measure

    def counted(*a, **k):
        counts["tried"] += 1
        return measure(*a, **k)

    resolution._measure = counted
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prev-rev", default=PREV_REV)
    ap.add_argument("--size", default="640x480", help="WxH the walk is rendered at")
    ap.add_argument("--cases", default="", help="comma-separated cases to run (default: all)")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    cases = CASES
    if args.cases:
        unknown = set(args.cases.split(",")) - set(CASES)
        if unknown:
            ap.error(f"--cases: unknown {sorted(unknown)}; one of {', '.join(CASES)}")
        cases = [c for c in CASES if c in args.cases.split(",")]
    prev = load_frozen_package(args.prev_rev, "mast3r_ros/core/map_check", "map_check_prev")
    cfg = Config().map_check
    print(f"synthetic walk, 10 keyframes at {w}x{h}; previous: map_check at {args.prev_rev}; "
          f"{args.repeats} repeats, alternated; times: median s per check")
    counters = {"previous": _count_measures(prev), "current": _count_measures(current)}
    print("tried: K of another resolution measured (resolution._measure) in one check, "
          "previous / current")
    print(f"{'case':17s} {'previous':>9s} {'current':>9s} {'ratio':>6s} {'tried':>6s}  same  "
          "causes")
    for case in cases:
        times: dict = {"previous": [], "current": []}
        reps: dict = {}
        recs = {name: _records(p, w, h, case) for name, p in (("previous", prev),
                                                               ("current", current))}
        for _ in range(args.repeats):
            for name, package in (("previous", prev), ("current", current)):
                counters[name]["tried"] = 0
                t0 = time.perf_counter()
                reps[name] = package.check_keyframes(recs[name], cfg, depth_units_per_m=1000.0)
                times[name].append(time.perf_counter() - t0)
        tp, tc = (float(np.median(times[k])) for k in ("previous", "current"))
        msgs = [reps[k].message for k in ("previous", "current")]
        if case == "ok":  # its message ends with the time it took
            msgs = [m.split(" in ")[0] for m in msgs]
        same = ("yes" if msgs[0] == msgs[1] else
                "what" if msgs[0].split("; fix:")[0] == msgs[1].split("; fix:")[0] else "no")
        causes = (reps["previous"].cause or reps["previous"].verdict,
                  reps["current"].cause or reps["current"].verdict)
        tried = f"{counters['previous']['tried']}/{counters['current']['tried']}"
        print(f"{case:17s} {tp:9.2f} {tc:9.2f} {tc / tp:6.2f} {tried:>6s}  {same:4s}  "
              f"{causes[0]} -> {causes[1]}", flush=True)
        if same != "yes":
            for name, msg in zip(("previous", "current"), msgs):
                print(f"    {name}: {msg[msg.find('likely cause'):]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
