#!/usr/bin/env python3
"""CPU cost of the pictures ``localize --out`` writes at the end of a run (trajectory.png,
errors.png, calibration.png), two source trees side by side: each runs the same short
``localize`` of QUERY against MAP in a fresh process, alternated ``--repeat`` times; the
process's CPU seconds (user + system, interpreter start and imports included), each picture's
CPU seconds (the first one pays matplotlib's first draw; matplotlib's import is timed apart,
just before it) and the written files' sizes are medians over the repeats.

    mkdir before && git archive BASE | tar -x -C before
    python bench/bench_plot_cost.py MAP QUERY --before before --work pc

MAP: a map folder (build-map --out); QUERY: a TUM RGB-D folder. ``--after`` defaults to this
checkout. A tree's ``mast3r_ros`` is imported from the tree (PYTHONPATH), everything else from
the running environment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PICTURES = ("plot_trajectory", "plot_errors", "plot_calibration")

# run in the child, with the tree first on sys.path: times the pictures where write_run calls
# them, then prints one JSON line
CHILD = r"""
import json, os, resource, sys, time
query, mp, out, frames, matcher = sys.argv[1:6]
from mast3r_ros.replay import localize_run
from mast3r_ros.replay.cli import main
cpu = {}
def timed(name, real):
    def run(*a, **k):
        if not cpu:
            t = time.process_time()
            import matplotlib.figure, matplotlib.backends.backend_agg  # noqa: F401
            cpu["matplotlib import"] = time.process_time() - t
        t = time.process_time()
        real(*a, **k)
        cpu[name] = time.process_time() - t
    return run
for name in ("plot_trajectory", "plot_errors", "plot_calibration"):  # PICTURES
    setattr(localize_run, name, timed(name, getattr(localize_run, name)))
code = main(["localize", query, "--map", mp, "--out", out, "--matcher", matcher,
             "--max-frames", frames, "--overwrite", "--log-level", "warning"])
ru = resource.getrusage(resource.RUSAGE_SELF)
sizes = {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))
         if f.endswith(".png")}
print("RESULT " + json.dumps({"code": code, "cpu": cpu, "process": ru.ru_utime + ru.ru_stime,
                              "sizes": sizes}))
"""


def _run(tree: str, args, out: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    got = subprocess.run([sys.executable, "-c", CHILD, args.query, args.map, out,
                          str(args.max_frames), args.matcher], env=env, capture_output=True,
                         text=True, timeout=900, cwd=args.work)
    line = [s for s in got.stdout.splitlines() if s.startswith("RESULT ")]
    if got.returncode or not line:
        raise SystemExit(f"{tree}: the run failed ({got.returncode}):\n{got.stderr[-2000:]}")
    res = json.loads(line[-1][7:])
    if res["code"] != 0:
        raise SystemExit(f"{tree}: localize exited {res['code']}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("map")
    ap.add_argument("query")
    ap.add_argument("--before", required=True, help="source tree of the old code")
    ap.add_argument("--after", default=HERE, help="source tree of the new code (this one)")
    ap.add_argument("--work", required=True, help="folder for the runs' outputs")
    ap.add_argument("--max-frames", type=int, default=6)
    ap.add_argument("--matcher", default="sift")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default="", help="also write the medians here")
    args = ap.parse_args(argv)
    args.map, args.query = os.path.abspath(args.map), os.path.abspath(args.query)
    os.makedirs(args.work, exist_ok=True)
    runs = {"before": [], "after": []}
    for i in range(args.repeat):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for way in order:
            tree = args.before if way == "before" else args.after
            runs[way].append(_run(tree, args, os.path.join(args.work, way)))
    keys = ["matplotlib import", *PICTURES]
    med = {}
    for way, rs in runs.items():
        med[way] = {k: statistics.median(r["cpu"][k] for r in rs) for k in keys}
        med[way]["pictures"] = statistics.median(
            sum(r["cpu"][k] for k in keys) for r in rs)
        med[way]["process"] = statistics.median(r["process"] for r in rs)
        med[way]["sizes"] = rs[-1]["sizes"]
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    print(f"localize --max-frames {args.max_frames} --matcher {args.matcher}: CPU s, medians "
          f"of {args.repeat} runs each way, alternated; load {load}")
    print(f"{'':<26}{'before':>10}{'after':>10}{'ratio':>8}")
    for k in keys + ["pictures", "process"]:
        b, a = med["before"][k], med["after"][k]
        label = {"pictures": "pictures (import + 3)", "process": "whole run (process)"}.get(
            k, k)
        print(f"{label:<26}{b:>10.3f}{a:>10.3f}{b / a if a else float('nan'):>7.2f}x")
    for f in med["before"]["sizes"]:
        b, a = med["before"]["sizes"][f], med["after"]["sizes"].get(f, 0)
        print(f"{f:<26}{b:>9d}B{a:>9d}B{a / b:>7.2f}x size")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"medians": med, "runs": runs}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
