#!/usr/bin/env python3
"""The tracking hint's age limit (``hint_max_age_s``): old (a hint of any age) vs new, per stride.

A stride (or a node that takes seconds a frame) puts the frames far apart in time; the old
tracker offered the last success however old as the hint that chooses the candidate keyframes,
and matching the keyframes the camera had left gave poses 20-50 cm off that passed every gate.
From the redkitchen excerpt (DATA/redkitchen_a_map, DATA/redkitchen_a_query, TUM layout) this
builds a SIFT map under ``--work`` (never in the project tree), then localizes the query frames
at each ``--strides`` value, in one process against one `Localizer`, with the CLI's tracking
loop (`localize_frames`) in four modes:

- ``old``: ``hint_max_age_s`` 0, the hint of any age (the behaviour before the limit);
- ``new``: the default ``hint_max_age_s`` (1.0 s);
- ``new 0.5 s``: a tighter limit, for its effect at stride 3 (1.0 s between frames);
- ``global-only``: no hint at all (``localize --global-only``).

Per run: frames localized, translation error median / p90 / max, recall 5cm_5deg (metrics.json's
rules, `replay.metrics.summarize`), the worst frame with its claimed 1-sigma position, and the
cost per frame that matters on a robot: keyframes matched (MASt3R decodes one pair per keyframe
matched; a failed hint's candidates and the retrieval retry both count) and how many frames
asked global retrieval (MASt3R: an ASMK or pooled-token search, milliseconds; SIFT: a
descriptor match against ``retrieval_top_k`` keyframes to re-rank them). Prints a table and one
JSON object (``--json``: with every run, per frame).

    python bench/bench_tracking.py DATA --work /tmp/tr [--strides 1 3 7 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.tracker import Tracker
from mast3r_ros.replay.localize_run import localize_frames
from mast3r_ros.replay.metrics import frame_errors, summarize
from mast3r_ros.replay.pipeline import build_map
from mast3r_ros.replay.sources import frames_or_unreadable, open_source

MODES = (("old", 0.0, False), ("new", None, False), ("new 0.5 s", 0.5, False),
         ("global-only", 0.0, True))


class Counting:
    """Counts, per frame, the keyframes the matcher matched and the retrieval queries."""

    def __init__(self, loc: Localizer) -> None:
        self.matched = 0
        self.retrievals = 0
        correspond, rank = loc.matcher.correspond, loc.retrieval.rank

        def counted_correspond(frame, state, cand, timings):
            self.matched += len(cand)
            return correspond(frame, state, cand, timings)

        def counted_rank(frame, state, top_k):
            self.retrievals += 1
            return rank(frame, state, top_k)

        loc.matcher.correspond = counted_correspond
        loc.retrieval.rank = counted_rank


def run(loc: Localizer, count: Counting, frames: List[Any], max_age: float, global_only: bool,
        lost_after: int) -> Dict[str, Any]:
    count.matched = count.retrievals = 0
    tracker = Tracker(lost_after, max_age)
    matched, retrievals, results = [], [], []
    t0 = time.perf_counter()
    for _, r in localize_frames(loc, frames, tracker, global_only):
        results.append(r)
        matched.append(count.matched)
        retrievals.append(count.retrievals)
        count.matched = count.retrievals = 0
    wall = time.perf_counter() - t0
    gt = np.stack([f.map_from_cam for f in frames])
    m = summarize(results, gt)
    err = frame_errors(results, gt)
    worst = int(np.nanargmax(err[:, 0])) if np.isfinite(err[:, 0]).any() else None
    te = m["translation_error_m"]
    return {
        "frames": len(frames), "localized": m["localized"],
        "median_cm": None if te["median"] is None else 100 * te["median"],
        "p90_cm": None if te["p90"] is None else 100 * te["p90"],
        "max_cm": None if te["max"] is None else 100 * te["max"],
        "recall_5cm_5deg": m["recall"]["5cm_5deg"], "gross_errors": m["gross_errors"],
        "worst": None if worst is None else {
            "t_s": results[worst].stamp_ns * 1e-9, "error_cm": 100 * err[worst, 0],
            "sigma_cm": None if results[worst].position_sigma_m is None
            else 100 * results[worst].position_sigma_m},
        "keyframes_matched_per_frame": float(np.mean(matched)),
        "keyframes_matched_max": int(np.max(matched)),
        "retrieval_frames": int(np.sum(np.asarray(retrievals) > 0)),
        "wall_s": wall,
        # per frame: stamp s, localized, error cm, claimed 1-sigma position cm, keyframes
        # matched, global retrieval asked
        "per_frame": [[round(r.stamp_ns * 1e-9, 3), bool(r.success),
                       None if not np.isfinite(e) else round(100 * float(e), 2),
                       None if r.position_sigma_m is None
                       else round(100 * float(r.position_sigma_m), 2), k, bool(q)]
                      for r, e, k, q in zip(results, err[:, 0], matched, retrievals)],
    }


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="folder holding redkitchen_a_map and redkitchen_a_query")
    ap.add_argument("--work", required=True, help="scratch folder for the map (outside the "
                                                  "project tree)")
    ap.add_argument("--strides", type=int, nargs="+", default=[1, 3, 7, 15])
    ap.add_argument("--json", default=None, help="also write the JSON here")
    args = ap.parse_args()

    cfg = config_from_params({"matcher": "sift"})
    map_dir = os.path.join(args.work, "map")
    if not os.path.isdir(map_dir):
        build_map(open_source(os.path.join(args.data, "redkitchen_a_map")), map_dir, cfg)
    default_age = cfg.localizer.hint_max_age_s
    loc = Localizer.from_config(cfg, map_dir)
    count = Counting(loc)
    frames = list(frames_or_unreadable(open_source(os.path.join(args.data,
                                                                "redkitchen_a_query"))))
    out: Dict[str, Any] = {"map_keyframes": len(loc.keyframe_map), "query_frames": len(frames),
                           "frame_step_s": (frames[1].stamp_ns - frames[0].stamp_ns) * 1e-9,
                           "hint_max_age_s_default": default_age,
                           "max_keyframes": cfg.localizer.max_keyframes, "runs": []}
    rows = []
    for stride in args.strides:
        for name, age, global_only in MODES:
            age = default_age if age is None else age
            r = run(loc, count, frames[::stride], age, global_only,
                    cfg.localizer.lost_after_failures)
            r.update(stride=stride, mode=name, hint_max_age_s=age, global_only=global_only)
            out["runs"].append(r)
            w = r["worst"] or {}
            rows.append(f"{stride:>6} {name:<12} {r['localized']:>3}/{r['frames']:<3} "
                        f"{_f(r['median_cm'], '6.2f')} {_f(r['p90_cm'], '6.2f')} "
                        f"{_f(r['max_cm'], '6.2f')} {100 * r['recall_5cm_5deg']:6.1f} "
                        f"{r['gross_errors']:>5} {r['keyframes_matched_per_frame']:8.2f} "
                        f"{r['keyframes_matched_max']:>4} {r['retrieval_frames']:>4} "
                        f"t={_f(w.get('t_s'), '.2f')}s {_f(w.get('error_cm'), '.1f')}cm "
                        f"sigma {_f(w.get('sigma_cm'), '.1f')}cm")
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"redkitchen query ({out['query_frames']} frames, {out['frame_step_s']:.3f} s apart) "
          f"against a SIFT map of {out['map_keyframes']} keyframes, max_keyframes "
          f"{out['max_keyframes']}, hint_max_age_s default {default_age} s")
    print("stride mode         loc     med_cm p90_cm max_cm rec5/5 gross kf/frame kfmax retr "
          "worst frame")
    print("\n".join(rows))
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
