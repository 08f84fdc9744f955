#!/usr/bin/env python3
"""How the map tools' cost grows with the keyframe count, and merge-maps' copy search previous
vs new, side by side in one run.

For each size N it writes two v3 maps as `MapWriter.add_keyframe_png` writes them (512x384 RGB
and depth PNGs of 60 rendered frames of the synthetic room's loop, cycled, each keyframe at
its own stamp; B starts at A's keyframe N/2, so the two share N/2 frames: two maps of one
recording) and measures, each map opened afresh:

* ``open_lazy_s`` / ``rss_open_lazy_mb``: `KeyframeMap.load(lazy=True)` (the localizer's open), in
  a fresh process (RSS after open minus before); ``open_full_s`` / ``rss_open_full_mb`` the
  full open (every file checksummed: check-map, merge-maps);
* ``localizer_s``: `Localizer` construction on the lazy map with the sift matcher (the
  better of two: the first pays the imports);
* ``check_s``: `map_check.check_map` (every keyframe decoded and compared with its
  neighbours), ``plot_s``: `plots.plot_keyframes` with its report (check-map --plot; the
  better of two);
* ``search_previous_s`` / ``search_new_s``: merge-maps' copy search (`map_merge._unique_keyframes`)
  as it was (every keyframe at a shared stamp decoded and hashed, both depths of each copy
  decoded) and as it is (the PNG files' recorded checksums first; here nothing decoded).

With ``--previous DIR`` (a worktree of an earlier commit), ``merge-maps A B`` and ``check-map A``
run as commands (their `main`, called twice in a fresh process, the second timed: imports
excluded), with that code and
with this one, alternated, the better of two: ``merge_previous_s`` / ``merge_new_s``,
``check_map_previous_s`` / ``check_map_new_s``, and the MB each passed whole to sha256
(``*_hashed_mb``: what the hashing-once change removes, free of the machine's load).

Then per step the cost per keyframe at each N relative to the smallest N (1.0: linear; 10 at
10x the keyframes: quadratic), and the previous / new ratio of the copy search.

    python bench/bench_map_sizes.py                         # N = 100, 1000
    python bench/bench_map_sizes.py --sizes 100 1000 3000 --json sizes.json
    git worktree add /tmp/before COMMIT && python bench/bench_map_sizes.py --sizes 100 300 \
        --previous /tmp/before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List

import cv2
import numpy as np

from benchlib import commit, write_json

from mast3r_ros.core.keyframes import KeyframeMap, MapWriter

W, H, LOOP = 512, 384, 60


def loop_frames() -> tuple:
    """(intrinsics, [(rgb PNG, depth PNG at 5000/m, pose, thumbnail)] of the loop's frames)."""
    from mast3r_ros.core.retrieval import thumbnail_descriptor
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    cam = default_intrinsics(W, H)
    out = []
    for f in render_frames(LOOP, cam, seed=0):
        rgb = cv2.imencode(".png", cv2.cvtColor(f.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
        d = np.nan_to_num(f.depth_m, nan=0.0, posinf=0.0)
        dep = cv2.imencode(".png", np.clip(np.round(d * 5000), 0, 65535).astype(np.uint16)
                           )[1].tobytes()
        out.append((rgb, dep, f.map_from_cam, thumbnail_descriptor(f.rgb)))
    return cam, out


def write_map(path: str, first: int, n: int, cam: Any, frames: list) -> str:
    with MapWriter(path) as w:
        for i in range(first, first + n):
            rgb, dep, pose, thumb = frames[i % LOOP]
            w.add_keyframe_png(rgb, cam, pose, i * 10 ** 8, dep, 5000.0, thumb)
        return w.commit()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _open_in_fresh_process(path: str, lazy: bool, out: Any) -> None:
    import mast3r_ros.core.keyframes  # noqa: F401 (code loaded before the baseline)

    r0 = _rss_mb()
    t = time.perf_counter()
    m = KeyframeMap.load(path, lazy=lazy)
    dt = time.perf_counter() - t
    out.put((dt, _rss_mb() - r0, len(m)))


def open_measured(path: str, lazy: bool) -> tuple:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_open_in_fresh_process, args=(path, lazy, q))
    p.start()
    row = q.get()
    p.join()
    return row


def search_previous(maps: List[KeyframeMap]) -> None:
    """The copy search before the checksum shortcut: every keyframe at a shared stamp decoded
    and hashed, both depths of each copy decoded (`map_merge._depth_ratio`)."""
    from mast3r_ros.replay import map_merge

    stamps = [m.stamps_ns() for m in maps]
    values, counts = np.unique(np.concatenate(stamps), return_counts=True)
    shared = values[counts > 1]
    seen: Dict[tuple, tuple] = {}
    for mi, m in enumerate(maps):
        for i in np.flatnonzero(np.isin(stamps[mi], shared)):
            img = m.image(i)
            key = (int(stamps[mi][i]), img.shape, hashlib.sha256(img.tobytes()).digest())
            first = seen.setdefault(key, (mi, i))
            if first != (mi, i):
                map_merge._depth_ratio(maps[first[0]].depth(first[1]), m.depth(i))


# hashlib.sha256(data) counted: every file the map tools checksum whole (PNGs among them)
_TIMED_MAIN = ("import hashlib, sys, time; sys.path.insert(0, sys.argv[1]); sha = hashlib.sha256; "
               "n = [0]\n"
               "def counted(data=b'', **k):\n    n[0] += len(data); return sha(data, **k)\n"
               "hashlib.sha256 = counted\n"
               "from mast3r_ros.replay.cli import main; args = sys.argv[2:]; "
               "warm = [a + '_warm' if a.endswith('_out') else a for a in args]; main(warm); "
               "n[0] = 0; t = time.perf_counter(); "
               "rc = main(args); print(rc, time.perf_counter() - t, n[0])")


def command_s(src: str, args: List[str]) -> tuple:
    """(seconds, MB passed whole to sha256) of ``mast3r-ros ARGS``'s `main` with the package
    of the folder ``src`` (the code before: a worktree of an earlier commit; the code now:
    the repository), in a fresh process, its second call timed (the first pays the imports
    `main` makes, seconds beside a merge's 0.5 s at 100 keyframes; an argument ending in
    ``_out`` is given ``_warm`` appended in the first call, so that the timed one writes a new
    folder: deleting a map for --overwrite took 1.8-3.2 s here, more than the merge)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _TIMED_MAIN, src, *args, "--log-level",
                          "error"], capture_output=True, text=True, check=True)
    rc, seconds, hashed = out.stdout.split()[-3:]
    assert rc == "0", out.stderr
    return float(seconds), int(hashed) / 1e6


def commands_side_by_side(a: str, b: str, work: str, previous: str, row: Dict[str, Any],
                          check: bool) -> None:
    """merge-maps A B and check-map A with the code before (``previous``) and now,
    alternated, the better of two each: ``merge_previous_s`` / ``merge_new_s``,
    ``check_map_previous_s`` / ``check_map_new_s``."""
    now = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    best: Dict[str, List[float]] = {}
    for _ in range(2):
        for name, src in (("previous", previous), ("new", now)):
            out = os.path.join(work, f"merged_{os.path.basename(a)}_{name}_"
                                     f"{len(best.get('merge_new_s', []))}_out")
            runs = [("merge", ["merge-maps", a, b, "--out", out])]
            if check:
                runs.append(("check_map", ["check-map", a]))
            for what, args in runs:
                seconds, hashed = command_s(src, args)
                best.setdefault(f"{what}_{name}_s", []).append(seconds)
                row[f"{what}_{name}_hashed_mb"] = round(hashed, 1)
    row.update({k: round(min(v), 3) for k, v in best.items()})


def measure(n: int, work: str, cam: Any, frames: list, check: bool,
            previous: str = "") -> Dict[str, Any]:
    from mast3r_ros.core.config import LocalizerConfig, MapCheckConfig
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.map_check import check_map
    from mast3r_ros.replay import map_merge
    from mast3r_ros.replay.plots import plot_keyframes

    row: Dict[str, Any] = {"keyframes": n}
    t = time.perf_counter()
    a = write_map(os.path.join(work, f"a{n}"), 0, n, cam, frames)
    b = write_map(os.path.join(work, f"b{n}"), n // 2, n, cam, frames)
    row["write_2_maps_s"] = round(time.perf_counter() - t, 2)
    row["open_lazy_s"], row["rss_open_lazy_mb"], _ = (round(v, 3) for v in open_measured(a, True))
    row["open_full_s"], row["rss_open_full_mb"], _ = (round(v, 3) for v in open_measured(a, False))
    best = []
    for _ in range(2):  # the first pays the imports
        t = time.perf_counter()
        Localizer(KeyframeMap.load(a, lazy=True), LocalizerConfig(matcher="sift"))
        best.append(time.perf_counter() - t)
    row["localizer_s"] = round(min(best), 3)
    if check:
        m = KeyframeMap.load(a, lazy=True)
        t = time.perf_counter()
        report = check_map(m, MapCheckConfig())
        row["check_s"] = round(time.perf_counter() - t, 2)
        best = []
        for _ in range(2):  # the first pays matplotlib's import
            t = time.perf_counter()
            plot_keyframes(os.path.join(work, f"plot{n}.png"), m.poses(), consistency=report)
            best.append(time.perf_counter() - t)
        row["plot_s"] = round(min(best), 2)
    for name, fn in (("search_previous_s", search_previous),
                     ("search_new_s", lambda ms_: map_merge._unique_keyframes(
                         ms_, ("A", "B"), False))):
        maps = [KeyframeMap.load(a), KeyframeMap.load(b)]  # nothing decoded yet
        t = time.perf_counter()
        fn(maps)
        row[name] = round(time.perf_counter() - t, 3)
    row["search_ratio"] = round(row["search_previous_s"] / max(row["search_new_s"], 1e-9), 1)
    if previous:
        commands_side_by_side(a, b, work, previous, row, check)
    shutil.rmtree(os.path.join(work, f"a{n}"))
    shutil.rmtree(os.path.join(work, f"b{n}"))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--no-check", action="store_true", help="leave out check-map and its plot")
    ap.add_argument("--dir", help="work folder (default: a temporary one, deleted)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--previous", default="",
                    help="a folder holding the code before (git worktree add DIR COMMIT): "
                    "merge-maps and check-map timed with it and with this code, side by side")
    a = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    work = tempfile.mkdtemp(prefix="bench_sizes_", dir=a.dir)
    try:
        cam, frames = loop_frames()
        print(f"# bench_map_sizes, commit {commit()}, python {sys.version.split()[0]}, "
              f"opencv {cv2.__version__}; {W}x{H} keyframes with depth, N/2 shared between "
              "the two maps", flush=True)
        rows = []
        for n in sorted(a.sizes):
            rows.append(measure(n, work, cam, frames, not a.no_check, a.previous))
            print(json.dumps(rows[-1]), flush=True)
        base = rows[0]
        steps = [k for k in base if k.endswith("_s") and k != "write_2_maps_s"]
        print(f"\n# cost per keyframe relative to N = {base['keyframes']} (1.0: linear)")
        print("step".ljust(20) + "".join(f"N={r['keyframes']:<8}" for r in rows))
        for k in steps:
            per = [r[k] / r["keyframes"] for r in rows]
            print(k.ljust(20) + "".join(f"{p / max(per[0], 1e-12):<10.2f}" for p in per))
        print("\n# copy search previous / new: " + ", ".join(
            f"N={r['keyframes']}: {r['search_previous_s']:.2f} s / {r['search_new_s']:.3f} s "
            f"= {r['search_ratio']}x" for r in rows))
        write_json(a.json, {"commit": commit(), "rows": rows})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
