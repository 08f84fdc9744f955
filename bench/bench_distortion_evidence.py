#!/usr/bin/env python3
"""Does a run's own frames name a wrong lens distortion? Builds wrong-distortion copies of a
TUM RGB-D map and query folder (pinhole, undistorted images, e.g. the redkitchen data), builds
a sift map of each and localizes, then tabulates published frames (and those published marked
degraded, metrics.json's ``degraded_poses``), median / max translation
error, recall 5cm_5deg and metrics.json's ``camera_distortion`` (the combined residual k1,
its verdict and diagnosis) with the other camera warnings.

Cases (``--cases``, all by default):

- ``right``: the folders as they are (their camera.yaml);
- ``rectified_raw_d``: the images as they are (rectified) with a raw camera's D (k1 -0.3,
  k2 0.1, K the same) in camera.yaml, map and query: undistorted a second time;
- ``distorted_d_zero``: the images distorted with that D (``cv2.remap`` of the pixels
  ``cv2.undistortPoints`` gives; depth with nearest neighbour) and D zero, map and query;
- ``distorted_right_d``: those distorted images with their D (no false alarm at a nonzero D);
- ``query_distorted_d_zero`` / ``query_rectified_raw_d``: the query of those cases against the
  ``right`` map;
- ``resize_160`` / ``resize_1920``: the folders resized to 160x120 / 1920x1440 (K scaled about
  pixel centres, depth nearest), D zero.

    python bench/bench_distortion_evidence.py MAP_FOLDER QUERY_FOLDER --work WORK \\
        --out docs/bench/distortion_evidence_cpu_2026-12-07x/result.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional

import cv2
import numpy as np
import yaml

RAW_D = [-0.3, 0.1, 0.0, 0.0, 0.0]
CASES = ("right", "rectified_raw_d", "distorted_d_zero", "distorted_right_d",
         "query_distorted_d_zero", "query_rectified_raw_d", "resize_160", "resize_1920")


def _camera(src: str) -> Dict[str, Any]:
    with open(os.path.join(src, "camera.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _write_camera(cam: Dict[str, Any], K: np.ndarray, d: List[float], w: int, h: int,
                  path: str) -> None:
    cam = dict(cam, image_width=w, image_height=h, distortion_model="plumb_bob")
    cam["camera_matrix"] = {"rows": 3, "cols": 3, "data": [float(v) for v in K.ravel()]}
    cam["distortion_coefficients"] = {"rows": 1, "cols": 5, "data": [float(v) for v in d]}
    P = np.hstack([K, np.zeros((3, 1))])
    cam["projection_matrix"] = {"rows": 3, "cols": 4, "data": [float(v) for v in P.ravel()]}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cam, f, sort_keys=False)


def make_folder(src: str, dst: str, kind: str) -> None:
    """A copy of TUM folder ``src`` at ``dst`` for ``kind``: 'rectified_raw_d', 'distorted',
    'distorted_right_d', 'resize_W'."""
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for name in ("rgb.txt", "depth.txt", "groundtruth.txt"):
        shutil.copy(os.path.join(src, name), dst)
    cam = _camera(src)
    K = np.array(cam["camera_matrix"]["data"], np.float64).reshape(3, 3)
    w, h = int(cam["image_width"]), int(cam["image_height"])
    maps = None
    if kind.startswith("distorted"):
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        pts = np.stack([u.ravel(), v.ravel()], 1).reshape(-1, 1, 2)
        und = cv2.undistortPoints(pts, K, np.array(RAW_D), P=K).reshape(h, w, 2)
        maps = und[..., 0].astype(np.float32), und[..., 1].astype(np.float32)
    nw = int(kind.split("_")[1]) if kind.startswith("resize") else w
    nh = nw * h // w
    for sub in ("rgb", "depth"):
        os.makedirs(os.path.join(dst, sub))
        for name in sorted(os.listdir(os.path.join(src, sub))):
            flags = cv2.IMREAD_COLOR if sub == "rgb" else cv2.IMREAD_UNCHANGED
            im = cv2.imread(os.path.join(src, sub, name), flags)
            nearest = sub == "depth"
            if maps is not None:
                im = cv2.remap(im, *maps, cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)
            elif nw != w:
                im = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_NEAREST if nearest else
                                cv2.INTER_AREA if nw < w else cv2.INTER_CUBIC)
            cv2.imwrite(os.path.join(dst, sub, name), im,
                        [cv2.IMWRITE_JPEG_QUALITY, 95] if sub == "rgb" else [])
    Ks = K.copy()
    if nw != w:
        s = nw / w
        Ks[:2, :2] *= s
        Ks[:2, 2] = (K[:2, 2] + 0.5) * s - 0.5
    d = RAW_D if kind in ("rectified_raw_d", "distorted_right_d") else [0.0] * 5
    _write_camera(cam, Ks, d, nw, nh, os.path.join(dst, "camera.yaml"))


def _run(args: List[str], log: str) -> None:
    with open(log, "w", encoding="utf-8") as f:
        subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, check=True)


def run_case(case: str, map_src: str, query_src: str, work: str) -> Dict[str, Any]:
    base = os.path.join(work, case)
    os.makedirs(base, exist_ok=True)
    kind = {"rectified_raw_d": "rectified_raw_d", "distorted_d_zero": "distorted",
            "distorted_right_d": "distorted_right_d", "resize_160": "resize_160",
            "resize_1920": "resize_1920", "query_distorted_d_zero": "distorted",
            "query_rectified_raw_d": "rectified_raw_d"}.get(case)
    if case.startswith("query_"):
        map_dir, query = os.path.join(work, "right", "map"), os.path.join(base, "query")
        make_folder(query_src, query, kind)
    else:
        m, query = map_src, query_src
        if kind:
            m, query = os.path.join(base, "map_in"), os.path.join(base, "query")
            make_folder(map_src, m, kind)
            make_folder(query_src, query, kind)
        map_dir = os.path.join(base, "map")
        shutil.rmtree(map_dir, ignore_errors=True)
        _run(["mast3r-ros", "build-map", m, "--out", map_dir, "--matcher", "sift"],
             os.path.join(base, "build.log"))
    out = os.path.join(base, "run")
    shutil.rmtree(out, ignore_errors=True)
    _run(["mast3r-ros", "localize", query, "--map", map_dir, "--out", out, "--matcher", "sift"],
         os.path.join(base, "localize.log"))
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        m = json.load(f)
    t = m["translation_error_m"]
    cd = m.get("camera_distortion") or {}
    warnings = [k for k in ("camera_distortion", "camera_focal", "camera_principal_point")
                if (m.get(k) or {}).get("warning")]
    # poses published marked degraded (absent, None, in an older mast3r_ros's metrics.json)
    degraded = (m.get("degraded_poses") or {}).get("frames")
    return {"case": case, "frames": m["frames"], "published": m["localized"],
            "degraded": degraded,
            "median_cm": None if t["median"] is None else 100 * t["median"],
            "max_cm": None if t["max"] is None else 100 * t["max"],
            "recall_5cm_5deg": m["recall"]["5cm_5deg"], "k1": cd.get("k1"),
            "k1_sigma": cd.get("k1_sigma"), "tolerance_k1": cd.get("tolerance_k1"),
            "off": cd.get("off"), "diagnosis": cd.get("diagnosis"), "warnings": warnings}


def table(rows: List[Dict[str, Any]]) -> str:
    """The README's table of ``rows`` (`run_case`'s)."""
    out = ["case                    published  degraded  median cm  max cm  recall  k1 (+-)"
           "          verdict"]
    for r in rows:
        k1 = "-" if r["k1"] is None else f"{r['k1']:+.3f} +-{r['k1_sigma']:.3f}"
        deg = "-" if r.get("degraded") is None else str(r["degraded"])  # an older result: -
        verdict = r["diagnosis"] or ("silent" if r["off"] is False else "-")
        med = "-" if r["median_cm"] is None else f"{r['median_cm']:.2f}"
        mx = "-" if r["max_cm"] is None else f"{r['max_cm']:.1f}"
        out.append(f"{r['case']:<24}{r['published']:>3}/{r['frames']:<6}{deg:>9}{med:>11}{mx:>8}"
                   f"{100 * r['recall_5cm_5deg']:>7.0f} %  {k1:<17}{verdict}")
    return "\n".join(out)


def parse_or_table(ap: argparse.ArgumentParser,
                   table: Callable[[Any], str]) -> Optional[argparse.Namespace]:
    """Add --out (the result JSON) and --table (only print ``table`` of a result JSON) and
    parse: None when --table's table was printed, else the arguments. Shared with
    bench_distortion_map_check."""
    ap.add_argument("--out", help="result JSON")
    ap.add_argument("--table", help="only print the table of this result JSON")
    a = ap.parse_args()
    if a.table:
        with open(a.table, encoding="utf-8") as f:
            print(table(json.load(f)))
        return None
    return a


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("map_folder")
    ap.add_argument("query_folder")
    ap.add_argument("--work", required=True, help="scratch folder (copies, maps, runs)")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    a = parse_or_table(ap, table)
    if a is None:
        return 0
    rows = []
    for case in a.cases:
        row = run_case(case, a.map_folder, a.query_folder, a.work)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
