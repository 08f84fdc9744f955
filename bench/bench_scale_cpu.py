#!/usr/bin/env python3
"""How the CPU side of the map tools scales with the keyframe count, every step side by side
in one run, each in a fresh process.

For each size N it writes two v3 maps of N/2 keyframes (the two halves of one walk: W x H RGB
and depth PNGs of the synthetic room's 60-frame loop, cycled, each keyframe at its own stamp,
written as `MapWriter.add_keyframe_png` writes them), then measures, each in a new process:

* ``write``: the two halves' keyframes added with an encoding store of (768, 32) float16
  features each, the tiny network's shape (``add``; a stand-in for build-map's own work), and
  their `MapWriter.commit` (``commit``: keyframe table, thumbnail index, manifest, flush,
  rename);
* ``merge``: ``mast3r-ros merge-maps A B --out M`` (its `main`, imports excluded; the
  encoding stores merged too);
* ``open_lazy`` / ``open_full``: `KeyframeMap.load` of M (lazy: the localizer's; full: every
  checksum);
* ``localizer``: lazy open + `Localizer` (sift matcher) construction, then ``frame_ms``: the
  median of 20 `Localizer.localize(force_global=True)` calls (W x H frames of the loop; SIFT
  on such small images is cheap, so this is mostly the per-frame host work: retrieval,
  candidate choice, keyframe reads, PnP), and ``retrieval_ms``: the median thumbnail-index
  search alone (exact below 2*10^4 keyframes, FAISS IVF from there);
* ``check``: ``mast3r-ros check-map M``;
* ``resume``: `parallel_build.build_encodings` of N keyframes (a stand-in encoder of (768, 32)
  float16 features, the tiny network's shape) run to the end, then again with ``resume=True``:
  the time and opens of finding every shard finished (``build-map --resume``'s encoding step).

Per step: seconds, peak RSS above the process's RSS before the step (MB), ``open()`` calls,
``os.fsync`` calls, ``json.load(s)`` calls, and ``silent_s``: the longest stretch with neither
a log line nor a progress-bar update (what a user watching the command sees; > 2 s with no bar
is a silent step), ``silent_after`` what came just before it. Then, per step, the cost per
keyframe at each N relative to the smallest N
(1.0: linear; 10 at 10x the keyframes: quadratic), and the counts per keyframe.

    python bench/bench_scale_cpu.py                          # N = 200, 2000
    python bench/bench_scale_cpu.py --sizes 200 2000 20000 --json scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

STEPS = ("write", "merge", "open_lazy", "open_full", "localizer", "check", "resume")
LOOP = 60
IDENTITY = "bench-tiny"  # the encoding store each map holds: the tiny network's (768, 32) fp16


def _status(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class _Watch:
    """Counts open / fsync / json calls and stamps every log record and progress update."""

    def __init__(self) -> None:
        import builtins
        import json as json_mod
        import logging

        from mast3r_ros.core import progress_output

        self.counts = {"opens": 0, "fsyncs": 0, "json_loads": 0}
        self.events: List[tuple] = []  # (time, what: a bar's desc or a log line's start)
        watch = self

        def counted(name: str, fn: Any) -> Any:
            def wrapper(*a: Any, **k: Any) -> Any:
                watch.counts[name] += 1
                return fn(*a, **k)
            return wrapper

        builtins.open = counted("opens", builtins.open)
        os.fsync = counted("fsyncs", os.fsync)
        json_mod.load = counted("json_loads", json_mod.load)
        json_mod.loads = counted("json_loads", json_mod.loads)

        class Bar:
            def __init__(self, total: Any, desc: str, *a: Any, **k: Any) -> None:
                self.desc = desc
                watch.events.append((time.perf_counter(), f"bar {desc!r} made"))

            def update(self, n: int = 1) -> None:
                watch.events.append((time.perf_counter(), f"bar {self.desc!r}"))

            def close(self) -> None:
                watch.events.append((time.perf_counter(), f"bar {self.desc!r} closed"))

        progress_output.progress_bar = Bar  # before the modules that import it load

        class Stamp(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                watch.events.append((time.perf_counter(), record.getMessage()[:60]))

        root = logging.getLogger("mast3r_ros")
        root.setLevel(logging.INFO)
        root.addHandler(Stamp())
        root.propagate = False

    def start(self) -> None:
        for k in self.counts:
            self.counts[k] = 0
        with open("/proc/self/clear_refs", "w") as fh:  # peak RSS from here (Linux >= 4.0)
            fh.write("5")
        self.rss0 = _status("VmRSS")
        self.t0 = time.perf_counter()
        self.events = []

    def stop(self) -> Dict[str, Any]:
        t1 = time.perf_counter()
        marks = [(self.t0, "start")] + sorted(self.events) + [(t1, "end")]
        gap, after = max((b[0] - a[0], a[1]) for a, b in zip(marks, marks[1:]))
        return {"s": round(t1 - self.t0, 3), "peak_mb": round(_status("VmHWM") - self.rss0, 1),
                **self.counts, "silent_s": round(gap, 2), "silent_after": after}


def _frames(w: int, h: int) -> tuple:
    import cv2
    import numpy as np

    from mast3r_ros.core.retrieval import thumbnail_descriptor
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    cam = default_intrinsics(w, h)
    frames = list(render_frames(LOOP, cam, seed=0))
    pngs = []
    for f in frames:
        rgb = cv2.imencode(".png", cv2.cvtColor(f.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
        d = np.nan_to_num(f.depth_m, nan=0.0, posinf=0.0)
        dep = cv2.imencode(".png", np.clip(np.round(d * 5000), 0, 65535).astype(np.uint16)
                           )[1].tobytes()
        pngs.append((rgb, dep, f.map_from_cam, thumbnail_descriptor(f.rgb)))
    return cam, frames, pngs


def child(step: str, n: int, work: str, w: int, h: int) -> Dict[str, Any]:
    watch = _Watch()
    import numpy as np

    from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
    from mast3r_ros.replay.cli import main

    a, b, m = (os.path.join(work, x) for x in ("a", "b", "m"))
    row: Dict[str, Any] = {}
    if step == "write":
        cam, _, pngs = _frames(w, h)
        from mast3r_ros.core.encoding_store import EncodingStoreWriter

        writers = [MapWriter(a), MapWriter(b)]
        rng = np.random.default_rng(0)
        feats = rng.standard_normal((768, 32)).astype(np.float16)
        glob = rng.standard_normal((n, 32)).astype(np.float32)
        glob /= np.linalg.norm(glob, axis=1, keepdims=True)
        watch.start()
        stores = [EncodingStoreWriter(wr.encoding_dir(IDENTITY, 224), durable=False)
                  for wr in writers]
        for i in range(n):
            rgb, dep, pose, thumb = pngs[i % LOOP]
            half = int(i >= n // 2)
            writers[half].add_keyframe_png(rgb, cam, pose, (i + 1) * 10 ** 8, dep, 5000.0,
                                           thumb)
            stores[half].append({"feats": feats, "true_shape": np.array([168, 224], np.int64),
                                 "to_orig": np.eye(3), "global": glob[i]})
        for half, (wr, st) in enumerate(zip(writers, stores)):
            wr.add_encoding_store(IDENTITY, 224, st.close(),
                                  glob[half * (n // 2):n // 2 + half * (n - n // 2)])
        row["add"] = watch.stop()
        watch.start()
        for wr in writers:
            wr.commit()
        row["commit"] = watch.stop()
        return row
    if step in ("merge", "check"):
        args = ["merge-maps", a, b, "--out", m] if step == "merge" else ["check-map", m]
        watch.start()
        rc = main(args + ["--log-level", "info"])
        row[step] = {**watch.stop(), "rc": rc}
        return row
    if step in ("open_lazy", "open_full"):
        watch.start()
        km = KeyframeMap.load(m, lazy=step == "open_lazy")
        row[step] = watch.stop()
        assert len(km) == n, len(km)
        return row
    if step == "localizer":
        from mast3r_ros.core.config import LocalizerConfig
        from mast3r_ros.core.localizer import Localizer

        _, frames, _ = _frames(w, h)
        Localizer(KeyframeMap.load(a, lazy=True), LocalizerConfig(matcher="sift")).close()
        watch.start()
        loc = Localizer(KeyframeMap.load(m, lazy=True), LocalizerConfig(matcher="sift"))
        row["localizer"] = watch.stop()
        for f in frames[:3]:  # first-call allocations
            loc.localize(f, force_global=True)
        watch.start()
        times, ok = [], 0
        for i in range(20):
            t = time.perf_counter()
            ok += loc.localize(frames[(7 * i + 1) % LOOP], force_global=True).success
            times.append(time.perf_counter() - t)
        row["frames"] = {**watch.stop(), "frame_ms": round(1e3 * float(np.median(times)), 2),
                         "localized": ok}
        from mast3r_ros.core.retrieval import thumbnail_descriptor

        index, search = loc.retrieval.index, []
        for f in frames:
            q = thumbnail_descriptor(f.rgb)
            t = time.perf_counter()
            index.search(q, 10)
            search.append(time.perf_counter() - t)
        row["frames"]["retrieval_ms"] = round(1e3 * float(np.median(search)), 3)
        loc.close()
        return row
    if step == "resume":
        from mast3r_ros.replay.parallel_build import build_encodings

        staging = os.path.join(work, "staging")
        rng = np.random.default_rng(0)
        feats = rng.standard_normal((768, 32)).astype(np.float16)

        def encode(i: int) -> Dict[str, np.ndarray]:
            return {"feats": feats, "true_shape": np.array([h, w], np.int64),
                    "global": feats[0].astype(np.float32)}

        build_encodings(n, encode, staging, shard_size=16, progress=False)
        watch.start()
        build_encodings(n, encode, staging, shard_size=16, resume=True)
        row["resume"] = watch.stop()
        return row
    raise SystemExit(f"unknown step {step}")


def run_child(step: str, n: int, work: str, w: int, h: int) -> Dict[str, Any]:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", step,
                          "--n", str(n), "--work", work, "--size", str(w), str(h)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{step} at N={n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--size", type=int, nargs=2, default=[128, 96], metavar=("W", "H"),
                    help="keyframe image size (default 128 96)")
    ap.add_argument("--check-max", type=int, default=2000,
                    help="run check-map only up to this N (default 2000: it is linear and "
                    "about 80 ms per keyframe on a loaded 2-core machine, half an hour at 2*10^4)")
    ap.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS,
                    help="the steps to run (write, merge always run: the others need the maps)")
    ap.add_argument("--dir", help="work folder, kept with its maps (a folder per N under it: "
                    "a/, b/ and their merge m/); default: a temporary one, deleted at the end")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dir is not None and not os.path.isdir(a.dir):
        ap.error(f"--dir {a.dir}: no such folder; create it, or leave --dir out for a temporary "
                 "one (deleted at the end)")
    if a.json and not os.path.isdir(os.path.dirname(os.path.abspath(a.json))):
        ap.error(f"--json {a.json}: the folder {os.path.dirname(os.path.abspath(a.json))} does "
                 "not exist; create it, or give a path in an existing folder")  # not at the end
    w, h = a.size
    if a.child:
        print(json.dumps(child(a.child, a.n, a.work, w, h)))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from benchlib import commit, write_json

    print(f"# bench_scale_cpu, commit {commit()}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {w}x{h} keyframes with "
          "depth; merge of two halves of N/2", flush=True)
    rows = []
    for n in sorted(a.sizes):
        try:
            work = tempfile.mkdtemp(prefix=f"bench_scale_{n}_", dir=a.dir)
        except OSError as e:  # --dir not writable
            ap.error(f"--dir {a.dir}: cannot create a work folder there: {e.strerror}")
        try:
            row: Dict[str, Any] = {"keyframes": n}
            for step in STEPS:
                if step in a.steps + ["write", "merge"] and not (step == "check"
                                                                 and n > a.check_max):
                    row.update(run_child(step, n, work, w, h))
            row["load"] = round(os.getloadavg()[0], 1)
        finally:
            if a.dir is None:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print(f"# N={n}: maps kept in {work}", flush=True)
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]
    steps = [k for k in base if isinstance(base[k], dict)]
    head = "".join(f"N={r['keyframes']:<9}" for r in rows)
    print(f"\n# seconds per keyframe relative to N = {base['keyframes']} (1.0: linear)")
    print("step".ljust(12) + head + "  at the largest N measured: s, peak MB, silent s")
    for k in steps:
        per = [r[k]["s"] / r["keyframes"] if k in r else float("nan") for r in rows]
        last = next(r[k] for r in reversed(rows) if k in r)
        print(k.ljust(12) + "".join(f"{p / max(per[0], 1e-12):<11.2f}" for p in per)
              + f"  {last['s']:.2f} s, {last['peak_mb']} MB, {last['silent_s']} s")
    if "frames" in base:
        print("\nlocalize ms/frame (median of 20): " + ", ".join(
            f"N={r['keyframes']}: {r['frames']['frame_ms']}" for r in rows if "frames" in r))
        print("retrieval ms/query (median of 60): " + ", ".join(
            f"N={r['keyframes']}: {r['frames']['retrieval_ms']}" for r in rows if "frames" in r))
    print("\n# opens / fsyncs / json loads per keyframe (constant: linear)")
    for k in steps:
        print(k.ljust(12) + "".join(
            (f"{r[k]['opens'] / r['keyframes']:.2f}/{r[k]['fsyncs'] / r['keyframes']:.3f}/"
             f"{r[k]['json_loads'] / r['keyframes']:.3f}" if k in r else "-").ljust(22)
            for r in rows))
    write_json(a.json, {"commit": commit(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
