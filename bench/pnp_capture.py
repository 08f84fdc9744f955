"""What the benches on the published frames' PnP inputs share
(docs/bench/wrong_pose_tail_cpu_2026-12-07ze/inlier_geometry.py,
docs/bench/honest_covariance_cpu_2026-12-07zk/capture.py): a `mast3r-ros localize` run in this
process with `solve_pnp` wrapped, each published frame paired with the PnP call that gave its
pose."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import mast3r_ros.core.localizer.pipeline as pipeline
from mast3r_ros.replay.cli import console_main

# keep(X, x, intrinsics, kw, result) -> what to keep of one PnP call (a dict), None: nothing
Keep = Callable[[Any, Any, Any, Dict[str, Any], Any], Optional[Dict[str, Any]]]


def localize_keeping_pnp(source: str, map_dir: str, run: str, extra: Sequence[str],
                         keep: Keep) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """Run `mast3r-ros localize SOURCE --map MAP_DIR --out RUN --log-level warning EXTRA...`
    here with every `solve_pnp` call offered to ``keep`` (its X (N, 3) map points, x (N, 2)
    query pixels, intrinsics, keyword arguments and `PnPResult`); returns, per published frame
    of RUN/results.jsonl in order, (its results.jsonl record, the dict ``keep`` made of the last
    call of that frame whose pose is the published one, with ``stamp`` (ns) and ``T`` (4x4
    map_from_cam) added). SystemExit with the CLI's code when localize fails; IndexError when a
    published pose has no kept call (``keep`` returned None for it)."""
    calls: List[Dict[str, Any]] = []
    now: Dict[str, int] = {}
    solve, localize = pipeline.solve_pnp, pipeline.Localizer._localize

    def solve_kept(X, x, intrinsics, **kw):
        res = solve(X, x, intrinsics, **kw)
        kept = keep(X, x, intrinsics, kw, res)
        if kept is not None:
            calls.append(dict(kept, stamp=now["stamp"], T=np.array(res.map_from_cam)))
        return res

    def localize_noted(self, frame, *a, **k):
        now["stamp"] = frame.stamp_ns
        return localize(self, frame, *a, **k)

    pipeline.solve_pnp, pipeline.Localizer._localize = solve_kept, localize_noted
    argv = sys.argv
    sys.argv = ["mast3r-ros", "localize", source, "--map", map_dir, "--out", run,
                "--log-level", "warning", *extra]
    try:
        console_main()
    except SystemExit as e:
        if e.code:
            raise
    finally:
        sys.argv = argv
        pipeline.solve_pnp, pipeline.Localizer._localize = solve, localize
    out = []
    with open(os.path.join(run, "results.jsonl"), encoding="utf-8") as f:
        for r in (json.loads(s) for s in f):
            if r["success"]:
                out.append((r, [c for c in calls if c["stamp"] == r["stamp_ns"] and np.allclose(
                    c["T"], r["map_from_cam"], atol=1e-6)][-1]))
    return out
