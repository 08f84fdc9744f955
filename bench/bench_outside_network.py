#!/usr/bin/env python3
"""Host work of `localize` outside the network, the previous and the current code side by side
in one run (issue 9), each pair checked for identical results.

The previous code is the package at ``--prev-rev`` (read from git history by
`frozen_package.load_frozen_package`; by default the commit before these changes):

* ``sift matching``: `matchers.sift.match_descriptors` (RootSIFT mutual ratio test) on real
  query/keyframe pairs: query frame j of ``--query`` against map frame j of ``--map`` (7-Scenes
  TUM folders of ``shared/data`` by default), ``--pairs`` of them. Time, old / new, peak traced
  memory in distance matrices, and whether both give the same matches.
* ``finite check``: `matching.checks._invalid_rows` on an all-finite descriptor map of the
  network sizes (224 x 224, 384 x 288, 512 x 384; D = 24): the check every matching call makes
  on both maps.
* ``captured grid table``: `grid_undistort.GridUndistortCache` with the identity mapping (the
  captured image's grid the coarse-to-fine windows read), 640 x 480 and 1920 x 1080,
  rational_polynomial: bytes of address space, a warm lookup of 5000 pixels, same bits.
* ``solve_pnp`` on the same real correspondences is not compared (unchanged): see
  ``docs/bench/outside_network_cpu_2026-12-05/`` for the RANSAC options measured and dropped.

Times are this thread's CPU time (``time.thread_time``), old and new interleaved per repeat;
on a shared machine compare the ratios within one run.

    OPENBLAS_NUM_THREADS=1 python bench/bench_outside_network.py --pairs 6 --repeats 15
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
import tracemalloc
from functools import partial
from typing import Any, Callable, Dict, List, Tuple

import benchlib  # noqa: F401 - puts the repository on sys.path
import numpy as np
import torch
from benchlib import commit, write_json
from frozen_package import FrozenPackageError, load_frozen_package
from mast3r_test_utils import shared_dir

from mast3r_ros.core import grid_undistort
from mast3r_ros.core.matchers.sift import extract_sift, match_descriptors
from mast3r_ros.core.matching import checks

PREV_REV = "cfaeb8bf3fa4820db2ac6374bf94a6e22e0ee8d2"  # before issue 9's outside-network round


def _pair_times(old: Callable[[], Any], new: Callable[[], Any], repeats: int
                ) -> Tuple[List[float], List[float], Any, Any]:
    """Thread CPU seconds of ``old`` and ``new``, interleaved per repeat (one untimed call each
    first); returns the times and the last outputs."""
    a, b = old(), new()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.thread_time()
        a = old()
        t1 = time.thread_time()
        b = new()
        tb.append(time.thread_time() - t1)
        ta.append(t1 - t0)
    return ta, tb, a, b


def _peak(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _row(label: str, ta: List[float], tb: List[float], same: bool, extra: str = "") -> Dict:
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"  {label:28s} old {ma * 1e3:8.2f} ms  new {mb * 1e3:8.2f} ms  old/new {ma / mb:5.2f}x"
          f"  (min {min(ta) / min(tb):5.2f}x)  {'same' if same else 'DIFFERENT'}{extra}")
    return {"label": label, "old_ms": ma * 1e3, "new_ms": mb * 1e3, "ratio": ma / mb,
            "ratio_min": min(ta) / min(tb), "same": bool(same)}


def bench_sift(prev: Any, query: str, kf_map: str, pairs: int, repeats: int) -> List[Dict]:
    from mast3r_ros.replay.tum import TumSequence

    q, m = TumSequence(query), TumSequence(kf_map)
    step = max(1, min(len(q), len(m)) // max(pairs, 1))
    out = []
    print("sift matching (real pairs: keyframe features x query features)")
    for j in range(0, step * pairs, step):
        d1 = extract_sift(m[j].rgb, 4000).desc
        d2 = extract_sift(q[j].rgb, 4000).desc
        ta, tb, a, b = _pair_times(partial(prev.match_descriptors, d1, d2, 0.8),
                                   partial(match_descriptors, d1, d2, 0.8), repeats)
        same = all(np.array_equal(x, y) for x, y in zip(a, b))
        mat = d1.shape[0] * d2.shape[0] * 4
        pa = _peak(partial(prev.match_descriptors, d1, d2, 0.8)) / mat
        pb = _peak(partial(match_descriptors, d1, d2, 0.8)) / mat
        r = _row(f"{len(d1)} x {len(d2)}, {len(a[0])} matches", ta, tb, same,
                 f"  peak {pa:.1f} -> {pb:.1f} matrices")
        out.append(dict(r, peak_matrices_old=pa, peak_matrices_new=pb))
    return out


def bench_finite(prev: Any, repeats: int) -> List[Dict]:
    out = []
    print("finite check of a descriptor map (all finite: the fast path)")
    for h, w in ((224, 224), (288, 384), (384, 512)):
        g = torch.Generator().manual_seed(h)
        flat = torch.nn.functional.normalize(torch.randn(h * w, 24, generator=g), dim=1)
        ta, tb, a, b = _pair_times(partial(prev._invalid_rows, flat, False),
                                   partial(checks._invalid_rows, flat, False), repeats)
        out.append(_row(f"{w} x {h} x 24", ta, tb, a is None and b is None))
    return out


def bench_table(prev: Any, repeats: int) -> List[Dict]:
    out = []
    print("captured grid table (identity mapping), warm lookup of 5000 pixels")
    model = "rational_polynomial"
    for w, h in ((640, 480), (1920, 1080)):
        rng = np.random.default_rng(w)
        K = np.array([[0.9 * w, 0, w / 2], [0, 0.9 * w, h / 2], [0, 0, 1]])
        d = np.array([-0.2, 0.05, 1e-3, -1e-3, 0.01, 0.01, -0.01, 0.005])
        cells = rng.integers(0, w * h, 5000)
        xy = np.stack([cells % w, cells // w], axis=1).astype(np.int64)
        old_c, new_c = prev.GridUndistortCache(), grid_undistort.GridUndistortCache()
        ta, tb, a, b = _pair_times(partial(old_c.lookup, xy, np.eye(3), (h, w), K, d, model),
                                   partial(new_c.lookup, xy, np.eye(3), (h, w), K, d, model),
                                   repeats)
        same = all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
        mb_old = sum(t.rows.nbytes + t.done.nbytes for t in old_c._tables.values()) / 1e6
        mb_new = new_c.nbytes / 1e6
        r = _row(f"{w} x {h}", ta, tb, same, f"  table {mb_old:.1f} -> {mb_new:.1f} MB")
        out.append(dict(r, table_mb_old=mb_old, table_mb_new=mb_new))
    return out


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    data = shared_dir() / "data"
    ap.add_argument("--query", default=str(data / "redkitchen_a_query"))
    ap.add_argument("--map", default=str(data / "redkitchen_a_map"))
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--prev-rev", default=PREV_REV)
    ap.add_argument("--json", default=None, help="write the figures here as JSON")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        for path, name in (("mast3r_ros/core/matchers", "matchers_prev"),
                           ("mast3r_ros/core/matching", "matching_prev"),
                           ("mast3r_ros/core", "core_prev")):
            load_frozen_package(args.prev_rev, path, name)
        sift_prev = importlib.import_module("matchers_prev.sift")
        checks_prev = importlib.import_module("matching_prev.checks")
        table_prev = importlib.import_module("core_prev.grid_undistort")
    except FrozenPackageError as e:
        print(f"bench_outside_network: {e}", file=sys.stderr)
        return 2
    print(f"commit {commit()} against {args.prev_rev[:12]}; thread CPU time, median of "
          f"{args.repeats}")
    result = {"commit": commit(), "prev_rev": args.prev_rev,
              "sift": bench_sift(sift_prev, args.query, args.map, args.pairs, args.repeats),
              "finite": bench_finite(checks_prev, args.repeats),
              "table": bench_table(table_prev, args.repeats)}
    write_json(args.json, result)
    same = all(r["same"] for k in ("sift", "finite", "table") for r in result[k])
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
