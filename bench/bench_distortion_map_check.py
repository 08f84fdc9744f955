#!/usr/bin/env python3
"""Does check-map name a wrong lens distortion from the map's own keyframe pairs? Builds the
wrong-distortion and resized copies of a TUM RGB-D map folder that
bench_distortion_evidence.py builds (its ``make_folder``), a sift map of each
(``build-map --force``), runs ``mast3r-ros check-map MAP --json`` and tabulates the report's
``distortion`` (the combined residual k1 of the pairs, its verdict and diagnosis), whether
check-map printed a ``warning:`` line, and the check's time.

Cases (``--cases``, all by default): ``right`` (the folder as it is), ``resize_160`` and
``resize_1920`` (resized, K scaled, D zero), ``rectified_raw_d`` (the images as they are with a
raw camera's D, k1 -0.3, k2 0.1: undistorted a second time), ``distorted_d_zero`` (the images
distorted with that D, D zero); ``resize_320`` and ``distorted_d_zero_320`` /
``distorted_d_zero_160`` (the distorted images resized, D zero): where the check's detection
ends.

    python bench/bench_distortion_map_check.py MAP_FOLDER --work WORK \\
        --out docs/bench/distortion_map_check_cpu_2026-12-07zd/result.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_distortion_evidence import make_folder, parse_or_table  # noqa: E402

CASES = {"right": None, "resize_160": "resize_160", "resize_1920": "resize_1920",
         "rectified_raw_d": "rectified_raw_d", "distorted_d_zero": "distorted",
         "resize_320": "resize_320", "distorted_d_zero_320": ("distorted", "resize_320"),
         "distorted_d_zero_160": ("distorted", "resize_160")}


def run_case(case: str, src: str, work: str) -> Dict[str, Any]:
    base = os.path.join(work, case)
    os.makedirs(base, exist_ok=True)
    folder = src
    kinds = CASES[case]
    for i, kind in enumerate((kinds,) if isinstance(kinds, str) else kinds or ()):
        folder, prev = os.path.join(base, f"map_in{i or ''}"), folder
        make_folder(prev, folder, kind)
    map_dir = os.path.join(base, "map")
    shutil.rmtree(map_dir, ignore_errors=True)
    with open(os.path.join(base, "build.log"), "w", encoding="utf-8") as f:
        subprocess.run(["mast3r-ros", "build-map", folder, "--out", map_dir, "--matcher", "sift",
                        "--force"], stdout=f, stderr=subprocess.STDOUT, check=True)
    js = os.path.join(base, "check.json")
    if os.path.exists(js):
        os.remove(js)
    t0 = time.perf_counter()
    # exit 2: the map inconsistent (its JSON written, without a distortion figure)
    proc = subprocess.run(["mast3r-ros", "check-map", map_dir, "--json", js],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 2) or not os.path.exists(js):
        raise SystemExit(f"check-map {map_dir} failed: {proc.stderr.strip()}")
    out = proc.stdout
    wall = time.perf_counter() - t0
    with open(js, encoding="utf-8") as f:
        doc = json.load(f)
    d = doc.get("distortion") or {}
    return {"case": case, "verdict": doc["verdict"], "pairs_fitted": d.get("frames_fitted"),
            "pairs_used": d.get("frames_used"), "k1": d.get("k1"), "k1_sigma": d.get("k1_sigma"),
            "chi2_per_dof": d.get("chi2_per_dof"), "tolerance_k1": d.get("tolerance_k1"),
            "off": d.get("off"), "diagnosis": d.get("diagnosis"),
            "warning_lines": sum(line.startswith("warning: ") for line in out.splitlines()),
            "check_s": doc.get("elapsed_s"), "check_map_wall_s": round(wall, 2),
            "cause": doc.get("cause")}


def table(results: Dict[str, Any]) -> str:
    rows = [f"{'case':22s} {'verdict':12s} {'pairs':>5s}  {'k1 (+-)':17s} {'chi2':>5s}  "
            f"{'diagnosis':10s} {'warning':>7s} {'check s':>7s}"]
    for r in results["cases"]:
        k = ("n/a" if r["k1"] is None else f"{r['k1']:+.3f} +-{r['k1_sigma']:.3f}")
        chi = "n/a" if r["chi2_per_dof"] is None else f"{r['chi2_per_dof']:.2f}"
        rows.append(f"{r['case']:22s} {r['verdict']:12s} {str(r['pairs_used']):>5s}  {k:17s} "
                    f"{chi:>5s}  {str(r['diagnosis'] or 'silent'):10s} "
                    f"{r['warning_lines']:>7d} {r['check_s']:>7.2f}")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("map_folder", nargs="?")
    ap.add_argument("--work", help="scratch folder (copies, maps)")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = parse_or_table(ap, table)
    if args is None:
        return 0
    if not args.map_folder or not args.work:
        ap.error("MAP_FOLDER and --work are needed (or --table RESULT)")
    results = {"cases": [run_case(c, args.map_folder, args.work) for c in args.cases]}
    print(table(results))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
