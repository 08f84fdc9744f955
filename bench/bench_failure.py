#!/usr/bin/env python3
"""Queries that should NOT localize: how many get a pose anyway, and how wrong it is.

"When it is not sure, it says so": a doubtful pose is never published. From the redkitchen
excerpt (DATA/redkitchen_a_map, DATA/redkitchen_a_query, TUM layout) this builds SIFT maps and
derived query folders under ``--work`` (never in the project tree) and localizes each with the
CLI (`mast3r-ros localize --matcher sift`):

- ``control``: the real query frames against the full map (should localize, cm accurate);
- ``unseen``, ``unseen_mid``, ``unseen_last``: a map from the first / middle / last third of
  the map frames only; queried with the query frames whose ground truth is more than
  ``--unseen-m`` from every frame of that third;
- ``black``, ``saturated``, ``blur`` (Gaussian, sigma 25 px), ``noise`` (uniform random grey):
  every query frame made so;
- ``mirror``: every query frame flipped left-right (a world that does not exist);
- ``occluder``: a flat, person-coloured rectangle over 60-80 % of every query frame.

A localized frame is ``wrong`` when it is more than 0.5 m or 10 deg from its ground truth (for
``mirror``, ``black``, ``saturated`` and ``noise`` any pose is unearned: counted as
``unearned``), ``overconfident`` when its position error is over 10 cm and more than 4 sigma
along the error (squared Mahalanobis distance > 16, the covariance's position block). Prints
one JSON object (also written to ``--json``) and a table.

    python bench/bench_failure.py DATA --work /tmp/fa [--json out.json] [--params p.yaml]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from mast3r_ros.core.geometry import pose_error
from mast3r_ros.replay.metrics import mahalanobis_sq

UNEARNED = ("black", "saturated", "noise", "mirror")  # no pose is right for these


def read_list(path: Path):
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split())
    return rows


def tum_pose(row) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    T[:3, 3] = [float(v) for v in row[1:4]]
    T[:3, :3] = Rotation.from_quat([float(v) for v in row[4:8]]).as_matrix()
    return T


def write_folder(src: Path, dst: Path, keep, transform=None) -> int:
    """A TUM folder at ``dst`` with the rows of ``src`` whose index ``keep(i, gt_row)`` accepts,
    the RGB images passed through ``transform(img, i)`` (None: copied)."""
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "rgb").mkdir(parents=True)
    (dst / "depth").mkdir()
    rgb, depth, gt = (read_list(src / n) for n in ("rgb.txt", "depth.txt", "groundtruth.txt"))
    # rows are paired by index (the redkitchen excerpt's lists are): a TUM recording whose lists
    # differ would pair images with another frame's depth and ground truth, silently
    if not (len(rgb) == len(depth) == len(gt)) or any(
            abs(float(r[0]) - float(d[0])) > 1e-3 or abs(float(r[0]) - float(g[0])) > 1e-3
            for r, d, g in zip(rgb, depth, gt)):
        raise SystemExit(f"{src}: rgb.txt, depth.txt and groundtruth.txt do not list the same "
                         "stamps row by row; this bench needs them aligned (as redkitchen_a_*)")
    out = {"rgb.txt": [], "depth.txt": [], "groundtruth.txt": []}
    for i, (r, d, g) in enumerate(zip(rgb, depth, gt)):
        if not keep(i, g):
            continue
        img = cv2.imread(str(src / r[1]), cv2.IMREAD_COLOR)
        if transform is not None:
            img = transform(img, i)
        cv2.imwrite(str(dst / r[1].replace(".jpg", ".png")), img)
        shutil.copyfile(src / d[1], dst / d[1])
        out["rgb.txt"].append(f"{r[0]} {r[1].replace('.jpg', '.png')}")
        out["depth.txt"].append(f"{d[0]} {d[1]}")
        out["groundtruth.txt"].append(" ".join(g))
    for name, lines in out.items():
        head = "# timestamp tx ty tz qx qy qz qw" if name == "groundtruth.txt" else \
            "# timestamp filename"
        (dst / name).write_text("\n".join([head] + lines) + "\n")
    shutil.copyfile(src / "camera.yaml", dst / "camera.yaml")
    return len(out["rgb.txt"])


def occluder(img: np.ndarray, i: int) -> np.ndarray:
    """A flat 'person' (a dark-jacket rectangle with a lighter head block) over 60-80 % of the
    image, its side and fraction varying with the frame."""
    h, w = img.shape[:2]
    frac = 0.6 + 0.2 * ((i * 7) % 11) / 10.0
    width = int(round(frac * w))
    x0 = 0 if i % 2 == 0 else w - width
    out = img.copy()
    out[:, x0:x0 + width] = (60, 50, 45)  # BGR jacket
    out[: h // 4, x0 + width // 3: x0 + 2 * width // 3] = (150, 170, 200)  # head
    return out


def noise(img: np.ndarray, i: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + i)
    g = rng.integers(0, 256, img.shape[:2], dtype=np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


TRANSFORMS = {
    "black": lambda img, i: np.zeros_like(img),
    "saturated": lambda img, i: np.full_like(img, 255),
    "blur": lambda img, i: cv2.GaussianBlur(img, (0, 0), 25),
    "noise": noise,
    "mirror": lambda img, i: np.ascontiguousarray(img[:, ::-1]),
    "occluder": occluder,
}


def cli(*args: str) -> None:
    cmd = [sys.executable, "-c", "from mast3r_ros.replay.cli import console_main; "
           "console_main()", *args]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed ({res.returncode}):\n{res.stderr[-3000:]}")


def evaluate(run: Path, query: Path, name: str) -> dict:
    gt = {round(float(r[0]) * 1e9): tum_pose(r) for r in read_list(query / "groundtruth.txt")}
    stamps = sorted(gt)
    frames = []
    for line in (run / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        if not r.get("success"):
            frames.append({"success": False, "reason": r.get("reason", "")})
            continue
        T = np.array(r["map_from_cam"])
        s = min(stamps, key=lambda k: abs(k - r["stamp_ns"]))
        dt, dr = pose_error(gt[s], T)
        cov = np.array(r["covariance"]) if r.get("covariance") is not None else None
        d2p = mahalanobis_sq(T, gt[s], cov)[0] if cov is not None else math.nan
        sigma = (math.sqrt(max(np.linalg.eigvalsh(cov[:3, :3])[-1], 0.0))
                 if cov is not None else math.nan)
        frames.append({"success": True, "t_m": dt, "r_deg": dr, "sigma_m": sigma,
                       "d2_position": d2p, "inliers": r.get("inliers"),
                       "matches": r.get("matches"), "ratio": r.get("inlier_ratio"),
                       "rms_px": r.get("reproj_rms_px"), "stamp_ns": r["stamp_ns"]})
    ok = [f for f in frames if f["success"]]
    wrong = [f for f in ok if name in UNEARNED or f["t_m"] > 0.5 or f["r_deg"] > 10.0]
    over = [f for f in ok if f["t_m"] > 0.10 and f["d2_position"] > 16.0]
    t = np.array([f["t_m"] for f in ok]) if ok else np.zeros(0)
    reasons: dict = {}
    for f in frames:
        if not f["success"]:
            key = f["reason"].split("(")[0].strip()
            reasons[key] = reasons.get(key, 0) + 1
    return {"frames": len(frames), "localized": len(ok),
            "median_t_cm": float(np.median(t) * 100) if len(t) else None,
            "max_t_cm": float(t.max() * 100) if len(t) else None,
            "wrong_or_unearned": len(wrong), "overconfident": len(over),
            "worst": sorted(ok, key=lambda f: -f["t_m"])[:3], "failure_reasons": reasons}


THIRDS = {"unseen": 0, "unseen_mid": 1, "unseen_last": 2}  # which third of the map frames


def unseen(mp: Path, qp: Path, work: Path, far_m: float, extra, name: str) -> tuple:
    """(query folder, map folder): a map of one third of the map frames (`THIRDS`), and the
    query frames whose ground truth lies more than ``far_m`` from every frame of that third."""
    total = len(read_list(mp / "rgb.txt"))
    lo, hi = THIRDS[name] * total // 3, (THIRDS[name] + 1) * total // 3
    part = work / f"map_{name}_src"
    write_folder(mp, part, lambda i, g: lo <= i < hi)
    centres = np.array([tum_pose(g)[:3, 3] for g in read_list(part / "groundtruth.txt")])

    def far(i, g) -> bool:
        return bool(np.linalg.norm(centres - tum_pose(g)[:3, 3], axis=1).min() > far_m)

    q = work / f"q_{name}"
    write_folder(qp, q, far)
    pm = work / f"map_{name}"
    cli("build-map", str(part), "--out", str(pm), "--matcher", "sift", "--overwrite", *extra)
    return q, pm


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="folder holding redkitchen_a_map and redkitchen_a_query")
    ap.add_argument("--work", required=True, help="scratch folder (maps, queries, runs)")
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--params", help="parameter file for build-map and localize")
    ap.add_argument("--unseen-m", type=float, default=0.5)
    ap.add_argument("--sets", default=",".join(["control", *THIRDS, *TRANSFORMS]),
                    help="comma-separated sets to run (default: all)")
    a = ap.parse_args()
    known = ["control", *THIRDS, *TRANSFORMS]
    unknown = [s for s in a.sets.split(",") if s not in known]
    if unknown:  # refused before the first map is built, not as a KeyError after it
        ap.error(f"--sets: unknown set {', '.join(map(repr, unknown))} (known: {','.join(known)})")
    if a.json and not Path(a.json).resolve().parent.is_dir():  # not a traceback at the end
        ap.error(f"--json {a.json}: the folder {Path(a.json).resolve().parent} does not exist")
    data, work = Path(a.data), Path(a.work)
    mp, qp = data / "redkitchen_a_map", data / "redkitchen_a_query"
    work.mkdir(parents=True, exist_ok=True)
    extra = ["--params", a.params] if a.params else []
    sets = a.sets.split(",")
    full = work / "map_full"
    cli("build-map", str(mp), "--out", str(full), "--matcher", "sift", "--overwrite", *extra)
    queries = {}
    for name in sets:
        if name == "control":
            queries[name] = (qp, full)
        elif name in THIRDS:
            queries[name] = unseen(mp, qp, work, a.unseen_m, extra, name)
        else:
            q = work / f"q_{name}"
            write_folder(qp, q, lambda i, g: True, TRANSFORMS[name])
            queries[name] = (q, full)
    result = {}
    for name, (q, m) in queries.items():
        if not read_list(q / "rgb.txt"):  # localize refuses an empty list: the set is empty
            print(f"{name}: no query frame (none farther than --unseen-m {a.unseen_m} m from "
                  "that third's map frames): skipped", file=sys.stderr)
            result[name] = {"frames": 0, "localized": 0, "median_t_cm": None, "max_t_cm": None,
                            "wrong_or_unearned": 0, "overconfident": 0, "worst": [],
                            "failure_reasons": {}}
            continue
        run = work / f"run_{name}"
        cli("localize", str(q), "--map", str(m), "--out", str(run), "--matcher", "sift",
            "--overwrite", *extra)
        result[name] = evaluate(run, q, name)
    print(f"{'set':10s} {'frames':>6s} {'localized':>9s} {'median':>8s} {'max':>9s} "
          f"{'wrong':>6s} {'overconf':>8s}")
    for name, r in result.items():
        med = f"{r['median_t_cm']:.1f}cm" if r["median_t_cm"] is not None else "-"
        mx = f"{r['max_t_cm']:.1f}cm" if r["max_t_cm"] is not None else "-"
        print(f"{name:10s} {r['frames']:6d} {r['localized']:9d} {med:>8s} {mx:>9s} "
              f"{r['wrong_or_unearned']:6d} {r['overconfident']:8d}")
    text = json.dumps(result, indent=1, default=float)
    print(text)
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
