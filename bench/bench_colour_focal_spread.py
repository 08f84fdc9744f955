#!/usr/bin/env python3
"""How stable is check-map's colour-focal note under re-encoding the same images? Re-saves a TUM
folder's colour JPEGs at each quality given (OpenCV, the pixels equal up to JPEG noise; depth,
poses and camera.yaml linked as they are) into WORK, builds a SIFT map of each (the original
folder too) and records, per variant, the factor the note states with its +- (the least mean over
the keyframe pairs, `map_check.focal_note.factor_spread`), the factor of the scan that finds the
fit (the least median over the pairs, which the note stated before), the pairs and the note.

    python bench/bench_colour_focal_spread.py TUM_FOLDER --work WORK --qualities 100 95 90 85 75 \\
        --out docs/bench/colour_focal_spread_cpu_2026-12-11e/result.json
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, List

import cv2


def reencode(folder: str, out: str, quality: int) -> str:
    """``folder`` with its rgb/*.jpg re-saved at JPEG ``quality`` into ``out`` (everything else
    linked); an ``out`` already there is used as it is."""
    if os.path.isdir(out):
        return out
    os.makedirs(os.path.join(out, "rgb"))
    for name in os.listdir(folder):
        if name != "rgb":
            os.symlink(os.path.abspath(os.path.join(folder, name)), os.path.join(out, name))
    for name in sorted(os.listdir(os.path.join(folder, "rgb"))):
        img = cv2.imread(os.path.join(folder, "rgb", name), cv2.IMREAD_COLOR)
        cv2.imwrite(os.path.join(out, "rgb", name), img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return out


def measure(source: str, map_out: str) -> Dict[str, Any]:
    """Build a SIFT map of ``source`` at ``map_out`` and check it, recording the fit's factors."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.map_check import check_map, focal
    from mast3r_ros.replay.cli import main

    if main(["build-map", source, "--out", map_out, "--matcher", "sift", "--overwrite",
             "--log-level", "warning"]) != 0:
        raise SystemExit(f"build-map {source} failed")
    seen: Dict[str, Any] = {}
    grid, spread = focal.spread_grid, focal.factor_spread

    def grid_spy(g: float):
        seen["scan_factor"] = float(g)
        return grid(g)

    def spread_spy(gs, curves):
        out = spread(gs, curves)
        seen.update(factor=out.factor, sigma=out.sigma, pairs=out.pairs)
        return out

    focal.spread_grid, focal.factor_spread = grid_spy, spread_spy
    try:
        rep = check_map(KeyframeMap.load(map_out), Config().map_check)
    finally:
        focal.spread_grid, focal.factor_spread = grid, spread
    return {**seen, "verdict": rep.verdict, "note": rep.note, "elapsed_s": rep.elapsed_s}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("folder", help="TUM folder with rgb/*.jpg")
    p.add_argument("--work", required=True, help="folder for the re-encoded copies and maps")
    p.add_argument("--qualities", type=int, nargs="+", default=[100, 95, 90, 85, 75])
    p.add_argument("--out", required=True, help="result JSON")
    a = p.parse_args()
    rows: List[Dict[str, Any]] = []
    variants = [("original", a.folder)] + [
        (f"jpeg_q{q}", reencode(a.folder, os.path.join(a.work, f"folder_q{q}"), q))
        for q in a.qualities]
    for name, source in variants:
        row = {"variant": name, **measure(source, os.path.join(a.work, f"map_{name}"))}
        print(json.dumps(row))
        rows.append(row)
    stated = [r["factor"] for r in rows if "factor" in r]
    scanned = [r["scan_factor"] for r in rows if "scan_factor" in r]
    summary = {"stated_range": [min(stated), max(stated)] if stated else None,
               "scan_range": [min(scanned), max(scanned)] if scanned else None}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump({"rows": rows, "summary": summary}, fh, indent=2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
