"""What the map-check benches that compare a previous `mast3r_ros/core/map_check` (read from git
history by `frozen_package.load_frozen_package`) with the current one share: the command line,
a counter of one internal call, the pose-jump case, and one case's alternated checks printed as
a row (median times, ratio, the counts, whether the reports say the same)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import time
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import make_pose


def parse_args(doc: str, prev_rev: str, size: str, cases: Sequence[str]
               ) -> Tuple[argparse.Namespace, int, int, List[str]]:
    """(args, width, height, the cases to run) of the command line: --repeats, --prev-rev,
    --size WxH, --cases (comma-separated; an unknown one is refused naming the others)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prev-rev", default=prev_rev)
    ap.add_argument("--size", default=size, help="WxH the walk is rendered at")
    ap.add_argument("--cases", default="", help="comma-separated cases to run (default: all)")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    chosen = list(cases)
    if args.cases:
        unknown = set(args.cases.split(",")) - set(cases)
        if unknown:
            ap.error(f"--cases: unknown {sorted(unknown)}; one of {', '.join(cases)}")
        chosen = [c for c in cases if c in args.cases.split(",")]
    return args, w, h, chosen


def count_calls(package: Any, module: str, name: str) -> Dict[str, int]:
    """Count the calls of ``package.module.name`` (replaced by a counting wrapper) in
    ``counts["n"]``: the work a check did, exact where the times on a loaded machine only
    estimate it."""
    mod = importlib.import_module(f"{package.__name__}.{module}")
    counts = {"n": 0}
    real = getattr(mod, name)

    def counted(*a, **k):
        counts["n"] += 1
        return real(*a, **k)

    setattr(mod, name, counted)
    return counts


def with_pose_jump(recs: list) -> list:
    """``recs`` with keyframe 3 moved 0.2 m and turned 10 deg: a failing map of another cause."""
    jump = make_pose(Rotation.from_euler("y", 10, degrees=True).as_matrix(), [0.2, 0.0, 0.0])
    recs[3] = dataclasses.replace(recs[3], map_from_cam=recs[3].map_from_cam @ jump)
    return recs


def run_case(case: str, width: int, packages: Dict[str, Any], recs: Dict[str, list],
             counters: Dict[str, Dict[str, int]], cfg: Any, repeats: int,
             count_width: int) -> None:
    """Check ``recs[name]`` with ``packages[name]`` ('previous', 'current') ``repeats`` times,
    alternated, and print the case's row: median s each, ratio, counts previous/current,
    whether the reports say the same (yes / the same cause, another fix: what / no), the
    causes; where they differ, each report's likely cause."""
    times: Dict[str, list] = {"previous": [], "current": []}
    reps: Dict[str, Any] = {}
    for _ in range(repeats):
        for name in ("previous", "current"):
            counters[name]["n"] = 0
            t0 = time.perf_counter()
            reps[name] = packages[name].check_keyframes(recs[name], cfg,
                                                        depth_units_per_m=1000.0)
            times[name].append(time.perf_counter() - t0)
    tp, tc = (float(np.median(times[k])) for k in ("previous", "current"))
    msgs = [reps[k].message for k in ("previous", "current")]
    if case == "ok":  # its message ends with the time it took
        msgs = [m.split(" in ")[0] for m in msgs]
    same = ("yes" if msgs[0] == msgs[1] else
            "what" if msgs[0].split("; fix:")[0] == msgs[1].split("; fix:")[0] else "no")
    causes = [reps[k].cause or reps[k].verdict for k in ("previous", "current")]
    counts = f"{counters['previous']['n']}/{counters['current']['n']}"
    print(f"{case:{width}s} {tp:9.2f} {tc:9.2f} {tc / tp:6.2f} {counts:>{count_width}s}  "
          f"{same:4s}  {causes[0]} -> {causes[1]}", flush=True)
    if same != "yes":
        for name, msg in zip(("previous", "current"), msgs):
            print(f"    {name}: {msg[msg.find('likely cause'):]}")
