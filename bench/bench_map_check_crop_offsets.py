#!/usr/bin/env python3
"""Whether the map check can tell a crop whose principal point is only a few per cent off centre
from noise: the synthetic walk of bench/bench_map_check_crop.py (10 keyframes at 320x240, or
``--size`` WxH) rendered with its own K and given that K with cx moved right by a fraction of
the width (the K of a larger frame these images are the centred crop of), for each fraction
the check's verdict and its median over the pairs of the median |relative depth residual| and
of the median reprojection error, given K against the true one (what naming the crop would
bring them to), with no depth noise and with multiplicative Gaussian depth noise (``--noise``,
a fraction of the depth, seeded).

    python bench/bench_map_check_crop_offsets.py
    python bench/bench_map_check_crop_offsets.py --fractions 0.02,0.04,0.05 --noise 0.01,0.02
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

import numpy as np

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import KeyframeRecord, check_keyframes
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def _figures(rep) -> tuple:
    depth = [p.depth_residual for p in rep.pairs if p.depth_points]
    reproj = [p.reproj_px for p in rep.pairs if not math.isnan(p.reproj_px)]
    return (float(np.median(depth)) if depth else math.nan,
            float(np.median(reproj)) if reproj else math.nan)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--size", default="320x240", help="WxH the walk is rendered at")
    ap.add_argument("--fractions", default="0,0.01,0.02,0.03,0.04,0.05,0.06,0.08,0.10,0.125",
                    help="cx moved right by these fractions of the width, comma-separated")
    ap.add_argument("--noise", default="0,0.01,0.02",
                    help="depth noise sigmas (fraction of the depth), comma-separated")
    args = ap.parse_args()
    w, h = (int(a) for a in args.size.split("x"))
    cfg = Config().map_check
    cam = default_intrinsics(w, h)
    frames = list(render_frames(40, cam, indices=range(0, 20, 2)))
    print(f"synthetic walk, 10 keyframes at {w}x{h}, given its K with cx + f * w; limits: depth "
          f"residual {cfg.max_depth_residual:.3g}, reprojection {cfg.max_reproj_frac * w:.3g} px")
    print(f"{'noise':>6s} {'f':>6s} {'dx px':>6s}  {'verdict (given K)':18s} {'depth given':>11s} "
          f"{'depth true':>10s} {'reproj given':>12s} {'reproj true':>11s}")
    for sigma in (float(a) for a in args.noise.split(",")):
        rng = np.random.default_rng(7)
        noisy = [f.depth_m * (1 + sigma * rng.standard_normal(f.depth_m.shape)
                              ).astype(f.depth_m.dtype) if sigma else f.depth_m for f in frames]
        true = check_keyframes([KeyframeRecord(f.rgb, d, cam, f.map_from_cam, f.stamp_ns)
                                for f, d in zip(frames, noisy)], cfg, depth_units_per_m=1.0)
        dt, rt = _figures(true)
        for frac in (float(a) for a in args.fractions.split(",")):
            K = cam.K.copy()
            K[0, 2] += frac * w
            given = dataclasses.replace(cam, K=K)
            rep = check_keyframes([KeyframeRecord(f.rgb, d, given, f.map_from_cam, f.stamp_ns)
                                   for f, d in zip(frames, noisy)], cfg, depth_units_per_m=1.0)
            dg, rg = _figures(rep)
            say = rep.verdict if rep.verdict != "inconsistent" else f"incons. {rep.cause}"
            print(f"{sigma:6.3g} {frac:6.3g} {frac * w:6.1f}  {say[:18]:18s} {dg:11.4f} "
                  f"{dt:10.4f} {rg:12.2f} {rt:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
