#!/usr/bin/env python3
"""What the residual distortion fit costs a frame, and what fitting fewer points or fewer frames
changes in its verdicts. Localizes each case once (``mast3r-ros localize`` in this process,
sift), keeping every distortion fit's inputs (`pnp.distortion.refitted_distortion`'s
arguments, each frame fitted), then fits them again under each schedule side by side: frame by
frame, every schedule's fit of that frame in turn (rotating which goes first), so a load on the
machine falls on all of them alike. A schedule is a point cap (``max_points``) and whether the
run fits every frame or, once its evidence is settled, one frame in
`distortion_run_gate.FIT_STRIDE` (``stride``: `RunDistortionGate.wants_fit`, the localizer's
own rule). Per schedule and case: fits made, the median and total fit time, the run's evidence
(`distortion_evidence.RunDistortionEvidence`: metrics.json's k1, sigma, verdict and diagnosis)
and the gate's decisions (`RunDistortionGate.judge`: frames refused, the first refused).

``--repeat N`` replays each case's frames N times in a row (one run N times as long: what a
node's long run sees once its evidence is settled).

    python bench/bench_distortion_cost.py --case right QUERY MAP --case NAME QUERY MAP ... \\
        --work WORK --out docs/bench/distortion_cost_cpu_2026-12-07zi/result.json
    python bench/bench_distortion_cost.py --table result.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from mast3r_ros.core.blas_threads import single_blas_thread
from mast3r_ros.core.distortion_evidence import RunDistortionEvidence, distortion_fit
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.localizer import distortion_run_gate, query_checks
from mast3r_ros.core.pnp.distortion import refitted_distortion
from mast3r_ros.core.types import LocalizationResult

# (name, max_points, stride)
SCHEDULES = (("500 points, every frame", 500, False), ("200 points, every frame", 200, False),
             ("100 points, every frame", 100, False), ("500 points, stride", 500, True),
             ("200 points, stride", 200, True))


def localize_every_frame_fitted(query: str, map_dir: str, out: str,
                                patches: Tuple[Tuple[Any, str, Any], ...] = ()) -> None:
    """`mast3r-ros localize` (SIFT) of ``query`` against ``map_dir`` into ``out`` with every
    frame's distortion fitted (`RunDistortionGate.wants_fit` always True: the stride off) and
    ``patches`` ((module, attribute, value), ...) set for the run, all restored after.
    SystemExit naming the query when localize fails."""
    from mast3r_ros.replay.cli import main

    gate = distortion_run_gate.RunDistortionGate
    saved = [(gate, "wants_fit", gate.wants_fit)] + [(m, n, getattr(m, n)) for m, n, _ in patches]
    for m, n, v in ((gate, "wants_fit", lambda self, camera=None: True),) + tuple(patches):
        setattr(m, n, v)
    try:
        rc = main(["localize", query, "--map", map_dir, "--out", out, "--matcher", "sift",
                   "--overwrite"])
    finally:
        for m, n, v in saved:
            setattr(m, n, v)
    if rc:
        raise SystemExit(f"localize {query} failed ({rc})")


def capture(query: str, map_dir: str, out: str) -> List[Dict[str, Any]]:
    """Every distortion fit's inputs (args, kwargs, camera) of one localize run, each frame
    fitted (the stride off)."""
    recs: List[Dict[str, Any]] = []
    fit, dfit = query_checks.refitted_distortion, query_checks.distortion_fit

    def keep(*a: Any, **k: Any) -> Any:
        recs.append({"args": a, "kw": k})
        return fit(*a, **k)

    def keep_camera(f: Any, *cam: Any) -> Any:  # K, width, height, model, D, through keyframes
        recs[-1]["cam"] = cam
        return dfit(f, *cam)

    localize_every_frame_fitted(query, map_dir, out, ((query_checks, "refitted_distortion", keep),
                                                       (query_checks, "distortion_fit",
                                                        keep_camera)))
    return [r for r in recs if "cam" in r]


def replay(recs: List[Dict[str, Any]], repeat: int) -> Dict[str, Dict[str, Any]]:
    """Each schedule's fits of ``recs`` (``repeat`` times over), side by side."""
    state = {name: {"gate": distortion_run_gate.RunDistortionGate(),
                    "evidence": RunDistortionEvidence(), "times": [], "k1": [], "refused": [],
                    "sigma": []} for name, _, _ in SCHEDULES}
    frames = [r for _ in range(repeat) for r in recs]
    with single_blas_thread():
        for i, r in enumerate(frames):
            order = SCHEDULES[i % len(SCHEDULES):] + SCHEDULES[:i % len(SCHEDULES)]
            for name, points, stride in order:
                s = state[name]
                d = None
                if not stride or s["gate"].wants_fit():
                    t0 = time.perf_counter()
                    f = refitted_distortion(*r["args"], **dict(r["kw"], max_points=points))
                    s["times"].append(time.perf_counter() - t0)
                    d = distortion_fit(f, *r["cam"])
                    if d is not None:
                        s["k1"].append(d.k1)
                        s["sigma"].append(d.sigma_k1)
                fit = FocalFit(1.0, 0.01, float(r["cam"][0][0, 0]), None, d)
                res = s["gate"].judge(LocalizationResult(True, i, np.eye(4), focal_fit=fit))
                s["evidence"].add(fit)
                s["refused"].append(not res.success)
    out = {}
    for name, _, _ in SCHEDULES:
        s = state[name]
        rep = s["evidence"].report()
        refused = s["refused"]
        out[name] = {"frames": len(frames), "fits": len(s["times"]),
                     "fit_ms_median": 1000 * float(np.median(s["times"])) if s["times"] else None,
                     "fit_ms_total": 1000 * float(np.sum(s["times"])),
                     "k1": rep["k1"], "k1_sigma": rep["k1_sigma"], "off": rep["off"],
                     "diagnosis": rep["diagnosis"], "refused": int(np.sum(refused)),
                     "first_refused": (int(np.argmax(refused)) if any(refused) else None),
                     "frame_k1_median": float(np.median(s["k1"])) if s["k1"] else None,
                     "frame_sigma_median": float(np.median(s["sigma"])) if s["sigma"] else None}
    return out


def table(rows: List[Dict[str, Any]]) -> str:
    """The README's table of ``rows`` (`main`'s)."""
    out = ["case                    schedule                  fits  median ms  total ms (x base)"
           "  k1 (+-)          verdict    refused (first)"]
    for row in rows:
        base = row["schedules"][SCHEDULES[0][0]]["fit_ms_total"]
        for name, s in row["schedules"].items():
            k1 = "-" if s["k1"] is None else f"{s['k1']:+.3f} +-{s['k1_sigma']:.3f}"
            verdict = s["diagnosis"] or ("silent" if s["off"] is False else "-")
            med = "-" if s["fit_ms_median"] is None else f"{s['fit_ms_median']:.1f}"
            first = "" if s["first_refused"] is None else f" ({s['first_refused']})"
            out.append(f"{row['case']:<24}{name:<26}{s['fits']:>4}/{s['frames']:<4}{med:>6}"
                       f"{s['fit_ms_total']:>9.0f} (x{s['fit_ms_total'] / base:.2f})  "
                       f"{k1:<17}{verdict:<11}{s['refused']}{first}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--case", nargs=3, action="append", default=[],
                    metavar=("NAME", "QUERY", "MAP"), help="a query folder and its map")
    ap.add_argument("--work", help="scratch folder (the localize runs)")
    ap.add_argument("--repeat", type=int, default=1, help="replay each case's frames N times")
    ap.add_argument("--out", help="result JSON")
    ap.add_argument("--table", help="only print the table of this result JSON")
    a = ap.parse_args()
    if a.table:
        with open(a.table, encoding="utf-8") as f:
            print(table(json.load(f)))
        return 0
    if not a.case or not a.work:
        ap.error("--case and --work are needed (or --table)")
    rows = []
    cases: List[Tuple[str, str, str]] = [tuple(c) for c in a.case]  # type: ignore[misc]
    for name, query, map_dir in cases:
        recs = capture(query, map_dir, os.path.join(a.work, name))
        row = {"case": name, "repeat": a.repeat, "schedules": replay(recs, a.repeat)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
