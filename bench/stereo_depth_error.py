"""`--stereo-depth`'s depth against the true depth, on a stereo folder made by
bench/stereo_from_rgbd.py from a TUM RGB-D folder (the same frames, in order), and the same for
a small grid of SGBM settings (numDisparities, blockSize, uniquenessRatio, speckle filter).

    python bench/stereo_depth_error.py STEREO_SOURCE TUM_FOLDER [--every 5] [--grid] [--out J]

Figures per setting, over the frames read (every ``--every``-th): the relative error
``|stereo / true - 1|`` (median, p90) on pixels where both have depth, the fraction of those
off by more than 10 % (gross), the valid fraction (stereo depth > 0 over all pixels, and over
the pixels with true depth), and the seconds per frame (SGBM + remaps, one process).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from mast3r_ros.replay import stereo_depth
from mast3r_ros.replay.sources import SourceOptions, open_source

DEFAULT = {"num_disparities": 128, "block_size": 5, "uniqueness": 10, "speckle_window": 100,
           "speckle_range": 2}


def _sgbm(num_disparities, block_size, uniqueness, speckle_window, speckle_range):
    def disparity(left, right, num_disparities_arg=None):
        matcher = cv2.StereoSGBM_create(
            minDisparity=0, numDisparities=num_disparities, blockSize=block_size,
            P1=8 * block_size ** 2, P2=32 * block_size ** 2, disp12MaxDiff=1,
            uniquenessRatio=uniqueness, speckleWindowSize=speckle_window,
            speckleRange=speckle_range)
        return matcher.compute(left, right).astype(np.float32) / 16.0
    return disparity


def true_depths(tum: Path):
    rows = [line.split() for line in (tum / "depth.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    rows.sort(key=lambda r: float(r[0]))
    return [tum / r[1] for r in rows]


def evaluate(source_path: str, tum: Path, every: int, setting: dict) -> dict:
    stereo_depth.sgbm_disparity = _sgbm(**setting)
    source = open_source(source_path, SourceOptions(stereo_depth=True))
    truths = true_depths(tum)
    errs, valid_all, valid_true, spent = [], [], [], []
    for i in range(0, len(source), every):
        t0 = time.perf_counter()
        got = source[i].depth_m
        spent.append(time.perf_counter() - t0)
        want = cv2.imread(str(truths[i]), cv2.IMREAD_UNCHANGED).astype(np.float32) / 5000.0
        both = (got > 0) & (want > 0)
        errs.append(np.abs(got[both] / want[both] - 1))
        valid_all.append(float((got > 0).mean()))
        valid_true.append(float(both.sum() / max(1, (want > 0).sum())))
    err = np.concatenate(errs)
    return {**setting, "frames": len(valid_all),
            "rel_err_median_pct": round(100 * float(np.median(err)), 2),
            "rel_err_p90_pct": round(100 * float(np.percentile(err, 90)), 2),
            "gross_gt10pct": round(float((err > 0.1).mean()), 4),
            "valid_fraction": round(float(np.mean(valid_all)), 3),
            "valid_of_true": round(float(np.mean(valid_true)), 3),
            "s_per_frame": round(float(np.median(spent)), 3)}


def grid():
    yield DEFAULT
    for nd in (64, 96):
        yield {**DEFAULT, "num_disparities": nd}
    for bs in (3, 7, 9):
        yield {**DEFAULT, "block_size": bs}
    for u in (5, 15):
        yield {**DEFAULT, "uniqueness": u}
    for sw, sr in ((0, 0), (200, 2), (100, 1)):
        yield {**DEFAULT, "speckle_window": sw, "speckle_range": sr}
    yield {**DEFAULT, "num_disparities": 96, "block_size": 7}


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("source")
    ap.add_argument("tum", type=Path)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for setting in (grid() if args.grid else [DEFAULT]):
        rows.append(evaluate(args.source, args.tum, args.every, setting))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
