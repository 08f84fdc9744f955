#!/usr/bin/env python3
"""Picture writing, old vs new, side by side on one run's data: the pictures ``localize --out``
writes at the end of a run (trajectory, errors, calibration) and ``check-map --plot`` /
``build-map`` write (keyframes with the map check panel), each saved with
``savefig(bbox_inches="tight")`` (old: two draws) and with `plot_save.figure_bytes` (new: one
draw, cropped to the same box), alternated; the figure is built anew for each save (its build
time is shown apart: both pay it).

The run's data: ``localize`` of QUERY against a map built from MAP (``--matcher``, default
sift) and ``check-map`` of that map run once in this process, the plot functions' arguments
recorded as they are called; then each picture is drawn ``--repeat`` times each way. The
localize run's wall time is printed too, with the share its pictures took old and new.

    python bench/bench_plot_speed.py MAP_FOLDER QUERY_FOLDER --work /tmp/ps
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mast3r_ros.replay import check_map, localize_run, pipeline, plot_save, plots  # noqa: E402
from mast3r_ros.replay.cli import main as cli_main  # noqa: E402

RUN = ("plot_trajectory", "plot_errors", "plot_calibration")
REAL = {name: getattr(plots, name) for name in RUN + ("plot_keyframes",)}


def _record(calls):
    """Wrap the plot functions where the CLI calls them: record (name, args, kwargs), then
    draw and write as the CLI does."""
    for mod in (plots, localize_run, pipeline, check_map):
        for name in RUN + ("plot_keyframes",):
            fn = getattr(mod, name, None)
            if fn is None or getattr(fn, "_recording", False):
                continue
            def wrap(*a, _n=name, _f=REAL[name], **k):
                calls.append((_n, a, k))
                return _f(*a, **k)

            wrap._recording = True
            setattr(mod, name, wrap)


def _figure(name, args, kwargs):
    """The figure the plot function draws (its `_save` held back), and the build time."""
    got = []
    real = plots._save
    plots._save = lambda fig, path: got.append(fig)
    try:
        t0 = time.perf_counter()
        REAL[name](*args, **kwargs)
        return got[0], time.perf_counter() - t0
    finally:
        plots._save = real


def _old(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plot_save.DPI, bbox_inches="tight")
    return buf.getvalue()


def _new(fig):
    return plot_save.figure_bytes(fig, "png")


def _shape(data):
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("map_folder")
    ap.add_argument("query_folder")
    ap.add_argument("--work", required=True, help="folder for the map and the run")
    ap.add_argument("--matcher", default="sift")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default="", help="also write the figures here")
    args = ap.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    mp, run = os.path.join(args.work, "map"), os.path.join(args.work, "run")
    if not os.path.isdir(mp):
        assert cli_main(["build-map", args.map_folder, "--out", mp, "--matcher", args.matcher,
                         "--log-level", "warning"]) == 0
    calls = []
    _record(calls)
    t0 = time.perf_counter()
    assert cli_main(["localize", args.query_folder, "--map", mp, "--out", run, "--matcher",
                     args.matcher, "--overwrite", "--log-level", "warning"]) == 0
    localize_s = time.perf_counter() - t0
    assert cli_main(["check-map", mp, "--plot", os.path.join(args.work, "check.png")]) in (0, 1)
    pics = {}
    for name, a, k in calls:
        label = os.path.basename(a[0]) if name != "plot_keyframes" or "check" in a[0] \
            else "keyframes (build-map)"
        pics.setdefault(label, (name, a[1:], k))
    import matplotlib

    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    print(f"matplotlib {matplotlib.__version__}; {args.repeat} saves each way, alternated; "
          f"load {load}")
    print(f"{'picture':<26}{'build':>9}{'old save':>11}{'new save':>11}{'ratio':>8}  size old/new")
    rows = {}
    for label, (name, a, k) in pics.items():
        t = {"build": [], "old": [], "new": []}
        sizes = {}
        for i in range(2 * args.repeat):
            way = "old" if i % 2 == 0 else "new"
            fig, build = _figure(name, ("unused.png",) + tuple(a), k)
            t["build"].append(build)
            t0 = time.perf_counter()
            data = (_old if way == "old" else _new)(fig)
            t[way].append(time.perf_counter() - t0)
            sizes[way] = _shape(data)
        med = {w: statistics.median(v) for w, v in t.items()}
        rows[label] = {**med, "size_old": sizes["old"], "size_new": sizes["new"]}
        print(f"{label:<26}{med['build']:>8.3f}s{med['old']:>10.3f}s{med['new']:>10.3f}s"
              f"{med['old'] / med['new']:>7.2f}x  {sizes['old']} {sizes['new']}")
    end = [r for lab, r in rows.items() if lab.replace(".png", "") in
           ("trajectory", "errors", "calibration")]
    old_end = sum(r["build"] + r["old"] for r in end)
    new_end = sum(r["build"] + r["new"] for r in end)
    print(f"localize's pictures (build + save, {len(end)}): old {old_end:.2f} s, new "
          f"{new_end:.2f} s; the localize run took {localize_s:.1f} s wall (with the new "
          f"saves): pictures old {old_end / (localize_s - new_end + old_end):.0%} of it, new "
          f"{new_end / localize_s:.0%}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"pictures": rows, "localize_s": localize_s, "localize_pictures_old_s":
                       old_end, "localize_pictures_new_s": new_end}, fh, indent=1,
                      default=list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
