#!/usr/bin/env python3
"""The map check (`core.map_check.check_map`) on a written map, the previous package and the
current one side by side in one run: verdict, cause, how many neighbouring pairs the match
reprojection judged, and the time of each.

The previous package is ``mast3r_ros/core/map_check`` at ``--prev-rev`` (read from git history by
`frozen_package.load_frozen_package`; by default the commit before the SIFT fallback, when the
check matched ORB features on consecutive keyframes only). Each repeat runs both, alternating,
each opening the map again (the keyframe PNGs are read and verified inside the timed call, as
``check-map`` does).

    python bench/bench_map_check.py MAP                 # 5 repeats
    python bench/bench_map_check.py MAP --repeats 9
    python bench/bench_map_check.py MAP --prev-rev REV --threaded-blas
    python bench/bench_map_check.py MAP --sift-products
    python bench/bench_map_check.py MAP --prev-rev REV --stages

``--threaded-blas``: the previous check computes each SIFT descriptor product in one BLAS call,
as before `sift.similarities` (``sift.ONE_CORE_PRODUCT`` 0; the matcher is the current
package's, not the frozen one's). The time ratio current / previous is printed, and whether the
two reports agree (verdict, cause, every pair's figures).

``--sift-products``: no previous package; the current check three ways, alternated, differing
only in how `sift.similarities` computes its small products: ``threaded`` (one BLAS call on
BLAS's own threads: without threadpoolctl and without the row-block fallback), ``rows`` (the
fallback: row blocks below OpenBLAS's threading threshold, what a user without threadpoolctl
gets) and ``one_thread`` (one call inside `blas_threads.single_blas_thread`, the default with
threadpoolctl). Ratios to ``threaded`` and whether the reports agree are printed.

``--stages``: each arm's time split by stage, per keyframe (ms; the sum of every call's time,
on whichever thread: the current check reads the next keyframe on a worker thread, so the
stages can add up to more than the wall time): reading a keyframe (PNG checksum and decode,
`MapRecords`), preparing it (reduction, ORB, depth grid, `_prepare`), SIFT detection
(`extract_sift`), pair matching (`_match`, SIFT detection included), the two measurements
(`_measure`), the colour-focal scan (`colour_focal_note`) and, on a failing map, the diagnosis'
focal scan (`diagnose._focal_scale`, once a check: 0 where the diagnosis names a cause before
it), previous and current side by side with their ratio.

Wall time on a shared machine includes the waits for a core: compare within one run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frozen_package import load_frozen_package  # noqa: E402

from mast3r_ros.core.config import Config  # noqa: E402
from mast3r_ros.core.keyframes import KeyframeMap  # noqa: E402
from mast3r_ros.core.map_check import check_map  # noqa: E402

PREV_REV = "faae6c9a1b039caffb0773fc5d3b4442ccfd675f"


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("map", help="a keyframe map folder (build-map's --out)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prev-rev", default=PREV_REV)
    ap.add_argument("--threaded-blas", action="store_true",
                    help="old: the current check with every SIFT product in one BLAS call")
    ap.add_argument("--sift-products", action="store_true",
                    help="the current check with the small SIFT products threaded / in row "
                    "blocks / on one BLAS thread")
    ap.add_argument("--stages", action="store_true",
                    help="time each stage of the check per keyframe, both arms side by side")
    args = ap.parse_args()
    cfg = Config().map_check
    if args.sift_products:
        runs = {mode: _with_products(mode) for mode in ("threaded", "rows", "one_thread")}
    else:
        prev = load_frozen_package(args.prev_rev, "mast3r_ros/core/map_check", "map_check_prev")
        runs = {"previous": _with_one_core_product(prev.check_map, 0) if args.threaded_blas
                else prev.check_map, "current": check_map}
    stages = {}
    if args.stages and not args.sift_products:
        import mast3r_ros.core.map_check as current
        stages = {"previous": _stage_timers(prev), "current": _stage_timers(current)}
    times = {k: [] for k in runs}
    cpu = {k: [] for k in runs}
    reports = {}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            reports[key] = fn(KeyframeMap.load(args.map), cfg)
            times[key].append(time.perf_counter() - t0)
            cpu[key].append(time.process_time() - c0)
    if stages:
        _print_stages(stages, times, cpu, len(reports["current"].keyframes), args.repeats)
        _print_reads(args.map, cfg.work_width, args.repeats)
    for key, rep in reports.items():
        matched = sum(not math.isnan(p.reproj_px) for p in rep.pairs)
        t = np.array(times[key])
        print(f"{key:10s}  {rep.verdict}{' (' + rep.cause + ')' if rep.cause else ''}; match "
              f"reprojection judged {matched} of {len(rep.pairs)} pairs; check-map "
              f"{np.median(t):.2f} s median [{t.min():.2f}-{t.max():.2f}] of {len(t)}")
        print(f"            {rep.summary()}")
    if args.sift_products:
        base = np.median(times["threaded"])
        for key in ("rows", "one_thread"):
            same = _figures(reports[key]) == _figures(reports["threaded"])
            print(f"ratio       {key} / threaded {np.median(times[key]) / base:.2f}; reports "
                  f"{'identical' if same else 'differ'} (medians of {args.repeats} alternated)")
        return 0
    old, new = np.median(times["previous"]), np.median(times["current"])
    print(f"ratio     current / previous {new / old:.2f} (previous {old:.2f} s, current "
          f"{new:.2f} s, medians of {args.repeats} alternated)")
    same = _figures(reports["previous"]) == _figures(reports["current"])
    print(f"reports   {'identical' if same else 'differ'} (verdict, cause, every pair's "
          "figures, the colour-focal note)")
    return 0


def _with_one_core_product(check, limit: int):
    """``check`` with ``sift.ONE_CORE_PRODUCT`` set to ``limit`` while it runs (0: every
    SIFT descriptor product one BLAS call, as before `sift.similarities`)."""
    from mast3r_ros.core.matchers import sift

    def run(keyframe_map, cfg):
        kept = sift.ONE_CORE_PRODUCT
        sift.ONE_CORE_PRODUCT = limit
        try:
            return check(keyframe_map, cfg)
        finally:
            sift.ONE_CORE_PRODUCT = kept
    return run


def _with_products(mode: str):
    """The current ``check_map`` with `sift.similarities`' small products computed ``mode``:
    "threaded" (one call, BLAS's threads), "rows" (threadpoolctl's controller taken away: the
    row-block fallback) or "one_thread" (as the package does with threadpoolctl)."""
    from mast3r_ros.core import blas_threads
    from mast3r_ros.core.matchers import sift

    def run(keyframe_map, cfg):
        blas_threads._controller()  # found once, before it is swapped
        kept = sift.ONE_CORE_PRODUCT, blas_threads._blas
        if mode == "threaded":
            sift.ONE_CORE_PRODUCT = 0
        elif mode == "rows":
            blas_threads._blas = False
        elif not blas_threads.can_limit():
            raise SystemExit("--sift-products needs threadpoolctl (pip install threadpoolctl)")
        try:
            return check_map(keyframe_map, cfg)
        finally:
            sift.ONE_CORE_PRODUCT, blas_threads._blas = kept
    return run


def _figures(rep) -> tuple:
    """What a report says: verdict, cause and each pair's figures (NaN as None)."""
    def num(x):
        return None if isinstance(x, float) and math.isnan(x) else x
    return (rep.verdict, rep.cause, rep.note, [(p.a, p.b, num(p.depth_residual), num(p.depth_agree),
                                      p.depth_points, num(p.reproj_px), p.matches, p.ok)
                                     for p in rep.pairs])


STAGES = (("read", "records", "MapRecords.__getitem__"), ("prepare", "measure", "_prepare"),
          ("sift_detect", "measure", "extract_sift"), ("match", "measure", "_match"),
          ("measure", "measure", "_measure"), ("focal_scan", "", "colour_focal_note"),
          ("focal_scale", "diagnose", "_focal_scale"))


def _stage_timers(package) -> dict:
    """Wrap each of `STAGES` in ``package`` (a map_check package) with a timer; returns
    {stage: [seconds summed]} (the lock: the read stage runs on a worker thread)."""
    import threading

    spent = {name: [0.0] for name, _, _ in STAGES}
    lock = threading.Lock()
    for name, module, attr in STAGES:
        owner = getattr(package, module) if module else package
        cls, _, fn_name = attr.rpartition(".")
        if cls:
            owner = getattr(owner, cls)
        fn = getattr(owner, fn_name)

        def timed(*a, _fn=fn, _acc=spent[name], **k):
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                with lock:
                    _acc[0] += time.perf_counter() - t0
        setattr(owner, fn_name, timed)
    return spent


def _print_stages(stages: dict, times: dict, cpu: dict, keyframes: int, repeats: int) -> None:
    per = keyframes * repeats / 1e3  # -> ms per keyframe
    print(f"stage        ms per keyframe ({keyframes} keyframes, {repeats} repeats)")
    print(f"{'':12s} {'previous':>9s} {'current':>9s} {'ratio':>6s}")
    for name, _, _ in STAGES:
        old, new = stages["previous"][name][0] / per, stages["current"][name][0] / per
        ratio = f"{new / old:6.2f}" if old > 0 else "     -"
        print(f"{name:12s} {old:9.2f} {new:9.2f} {ratio}")
    old, new = sum(times["previous"]) / per, sum(times["current"]) / per
    print(f"{'wall':12s} {old:9.2f} {new:9.2f} {new / old:6.2f}   (whole check-map call, "
          "map open included)")
    old, new = sum(cpu["previous"]) / per, sum(cpu["current"]) / per
    print(f"{'cpu':12s} {old:9.2f} {new:9.2f} {new / old:6.2f}   (process CPU time, every "
          "thread)")


def _print_reads(path: str, width: int, repeats: int) -> None:
    """A keyframe's read alone, alternated on fresh lazy opens: the full-size record reduced
    after (previous) and `MapRecords(map, width)` (current); CPU and wall ms per keyframe, and
    whether every record is the same."""
    from mast3r_ros.core.map_check.records import MapRecords

    ways = {"previous": lambda m, i: MapRecords(m)[i].reduced(width),
            "current": lambda m, i: MapRecords(m, width)[i]}
    wall = {k: [] for k in ways}
    cpu = {k: [] for k in ways}
    got = {}
    for _ in range(repeats):
        for key, read in ways.items():
            m = KeyframeMap.load(path, lazy=True, check_files=False)
            t0, c0 = time.perf_counter(), time.process_time()
            got[key] = [read(m, i) for i in range(len(m))]
            wall[key].append((time.perf_counter() - t0) / len(m))
            cpu[key].append((time.process_time() - c0) / len(m))
    same = all(np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth_m, b.depth_m,
                                                                  equal_nan=True)
               and a.camera_scale == b.camera_scale
               for a, b in zip(got["previous"], got["current"]))
    w = {k: 1e3 * np.median(v) for k, v in wall.items()}
    c = {k: 1e3 * np.median(v) for k, v in cpu.items()}
    print(f"read alone   wall {w['previous']:.2f} -> {w['current']:.2f} ms/keyframe "
          f"({w['current'] / w['previous']:.2f}), cpu {c['previous']:.2f} -> "
          f"{c['current']:.2f} ms ({c['current'] / c['previous']:.2f}); records "
          f"{'identical' if same else 'differ'} (medians of {repeats} alternated)")


if __name__ == "__main__":
    sys.exit(main())
