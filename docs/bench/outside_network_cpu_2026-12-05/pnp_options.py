#!/usr/bin/env python3
"""RANSAC options of `solve_pnp` on the real data's own correspondences (issue 9, measured and
dropped): records every `solve_pnp` call of a tracked SIFT `Localizer` run over the query
folder, then re-solves each call with one option changed, 5 times (thread CPU time, median),
and scores the pose against the frame's ground truth (untracked: each call alone).

    python docs/bench/outside_network_cpu_2026-12-05/pnp_options.py MAP_DIR QUERY_DIR

MAP_DIR: a map from `mast3r-ros build-map QUERY_DIR's sibling --matcher sift`.
"""
import sys
import time

import numpy as np

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.localizer import Localizer, pipeline
from mast3r_ros.core.pnp import ransac as rmod
from mast3r_ros.core.pnp.solve import solve_pnp
from mast3r_ros.replay.tum import TumSequence

rec = []


def spy(*a, **k):
    rec.append((a, k))
    return solve_pnp(*a, **k)


def err(T, gt):
    R = T[:3, :3].T @ gt[:3, :3]
    return (np.linalg.norm(T[:3, 3] - gt[:3, 3]) * 100,
            np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))))


pipeline.solve_pnp = spy
q = TumSequence(sys.argv[2])
loc = Localizer(KeyframeMap.load(sys.argv[1]),
                config_from_params({"matcher": "sift"}).localizer)
gts = []
for f in q:
    n = len(rec)
    loc.localize(f)
    gts += [f.map_from_cam] * (len(rec) - n)
loc.close()
print("calls", len(rec), "matches median", np.median([len(a[0]) for a, k in rec]),
      "max", max(len(a[0]) for a, k in rec))
variants = {"base": {}, "max_points 128": {"ransac_max_points": 128},
            "max_points 256": {"ransac_max_points": 256}, "max_iter 100": {"max_iterations": 100},
            "conf 0.99": {"confidence": 0.99}, "min_iter 20": "min20"}
res = {}
for name, v in variants.items():
    rmod.RANSAC_MIN_ITERATIONS = 20 if v == "min20" else 50
    kw = {} if v == "min20" else v
    ts, es = [], []
    for (a, k), gt in zip(rec, gts):
        t = []
        for _ in range(5):
            t0 = time.thread_time()
            r = solve_pnp(*a, **dict(k, **kw))
            t.append(time.thread_time() - t0)
        ts.append(np.median(t))
        es.append(err(r.map_from_cam, gt) if r.success else (np.inf, np.inf))
    es = np.array(es)
    res[name] = es
    print(f"{name:16s} solve_pnp median {np.median(ts)*1e3:.2f} ms p90 "
          f"{np.percentile(ts, 90)*1e3:.2f}  t cm med {np.median(es[:, 0]):.3f} p90 "
          f"{np.percentile(es[:, 0], 90):.2f} max {es[:, 0].max():.2f}  rot med "
          f"{np.median(es[:, 1]):.3f}  5cm5deg {np.mean((es[:, 0] < 5) & (es[:, 1] < 5))*100:.0f}%"
          f"  same pose as base {np.mean(np.all(es == res['base'], axis=1))*100:.0f}%")
