#!/usr/bin/env python3
"""First frame after construction vs the median: no warm-up, the previous warm-up, this one.

Each measurement runs in a fresh Python process (lazy imports and first-call initialisation
are per process): build the `Localizer` with ``Localizer.from_config`` (``localizer.warmup``
off; ``old``: on, without what `localizer.warm` added -- the keyframe preload and the camera
check -- patched out; ``on``: as shipped), then localize ``--frames`` synthetic queries from
``--start`` on along the loop (so that the first frame's candidates are not the keyframes the
warm-up matched, as for a robot starting anywhere in its map) with the ground-truth pose as
prior (every frame matches ``--keyframes`` keyframes) and every 5th without one (global
retrieval), and report the construction time, the first frame, and the median / p90 of the
rest. The issue-9 target: the first frame after warm-up no slower than the median; the last
line puts first/median of the old and the new warm-up side by side (median over ``--runs``).

    python bench/bench_first_frame.py                     # tiny random-weight MASt3R at 224, CPU
    python bench/bench_first_frame.py --matcher sift --runs 3
    python bench/bench_first_frame.py --matcher sift --runs 5 --same-query
    python bench/bench_first_frame.py --config full --device cuda --size 512 --compile \\
        reduce-overhead --keyframes 4                     # on a GPU

Random weights: the poses are meaningless (most frames fail the gates after PnP); the timing
of the path is what counts. A shared machine's load moves the figures: compare within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE.parent), str(_HERE.parent / "test")):
    if _p not in sys.path:
        sys.path.insert(0, _p)


@contextlib.contextmanager
def previous_warmup():
    """Within it, `Localizer.warmup` runs as before `localizer.warm`'s keyframe preload and
    query-camera check (issue 9), for benches that compare the two in one run."""
    from mast3r_ros.core.localizer import pipeline

    saved = pipeline.preload_keyframes, pipeline.camera_check_is_silent
    pipeline.preload_keyframes = lambda matcher, n: 0
    pipeline.camera_check_is_silent = lambda cam: False
    try:
        yield
    finally:
        pipeline.preload_keyframes, pipeline.camera_check_is_silent = saved


def _child(a) -> None:
    """One process: construct, then time the frames; prints one JSON line."""
    t_start = time.perf_counter()

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    base = Config()
    model = dataclasses.replace(base.model, checkpoint=a.checkpoint, device=a.device,
                                image_size=a.size, precision=a.precision, compile=a.compile)
    lc = dataclasses.replace(base.localizer, matcher=a.matcher, max_keyframes=a.keyframes,
                             prior_radius_m=100.0, warmup=a.warmup != "off")
    cfg = dataclasses.replace(base, model=model, localizer=lc)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    with previous_warmup() if a.warmup == "old" else contextlib.nullcontext():
        loc = Localizer.from_config(cfg, a.map)  # warms up (localizer.warmup)
    construct = time.perf_counter() - t0
    queries = list(render_frames(2 * a.frames + 2, default_intrinsics(*a.camera), seed=a.seed))
    queries = queries[1::2]
    queries = queries[a.start:] + queries[:a.start]
    if a.same_query:  # every frame the same view: only frame 1 can meet a keyframe first
        queries = [queries[0]] * a.frames
    times, ok = [], 0
    for i, f in enumerate(queries[:a.frames]):
        t0 = time.perf_counter()
        r = loc.localize(f, prior=f.map_from_cam if i % 5 != 4 else None)
        times.append(time.perf_counter() - t0)
        ok += int(r.success)
    loc.close()
    rest = sorted(times[1:])
    print(json.dumps({
        "warmup": a.warmup, "process_s": time.perf_counter() - t_start,
        "construct_s": construct, "warmup_s": loc.warmup_report.get("seconds", 0.0),
        "batches": loc.warmup_report.get("keyframe_batches", []),
        "preloaded": loc.warmup_report.get("preloaded_keyframes", 0),
        "first_ms": times[0] * 1e3, "median_ms": statistics.median(rest) * 1e3,
        "p90_ms": rest[min(len(rest) - 1, int(round(0.9 * (len(rest) - 1))))] * 1e3,
        "max_ms": rest[-1] * 1e3, "localized": ok, "frames": len(times)}))


def _run_child(cmd, env) -> str:
    """A measurement process's stdout; when it fails, its error (the last lines of its stderr)
    and exit 1 instead of a CalledProcessError that hides them."""
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-15:])
        sys.exit(f"{tail}\nbench_first_frame.py: a measurement process failed (exit "
                 f"{r.returncode}; its error above)")
    return r.stdout


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--matcher", choices=("mast3r", "sift"), default="mast3r")
    ap.add_argument("--config", choices=("tiny", "full"), default="tiny")
    ap.add_argument("--checkpoint", default="", help="real weights (default: random)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--compile", default="none")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--keyframes", type=int, default=2, help="localizer.max_keyframes")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--runs", type=int, default=2, help="fresh processes per setting")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    ap.add_argument("--camera", type=int, nargs=2, default=(320, 240))
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--start", type=int, default=None,
                    help="query index the live frames start at (default: half-way round)")
    ap.add_argument("--same-query", action="store_true",
                    help="every frame the query at --start (as bench_gpu.py): the later frames "
                         "then use only keyframes the first one loaded")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--map", help=argparse.SUPPRESS)
    ap.add_argument("--warmup", choices=("on", "old", "off"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.frames < 2:
        ap.error(f"--frames must be >= 2 (the first frame and the rest's median), got {a.frames}")
    if a.start is None:
        a.start = a.frames // 2
    if a.warmup:
        _child(a)
        return 0

    import numpy as np  # noqa: F401  (the parent builds the map and the checkpoint)

    from mast3r_ros.core.keyframes import write_map
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    tmp = tempfile.mkdtemp(prefix="bench_first_")
    if a.matcher == "mast3r" and not a.checkpoint:
        import torch

        from mast3r_test_utils import TINY_SPEC, random_model, write_checkpoint

        from mast3r_ros.core.model.network import ModelSpec

        a.checkpoint = os.path.join(tmp, "random.pth")
        write_checkpoint(a.checkpoint, random_model(
            TINY_SPEC if a.config == "tiny" else ModelSpec(), seed=0))
        del torch
    frames = list(render_frames(2 * a.frames + 2, default_intrinsics(*a.camera), seed=a.seed))
    a.map = write_map(os.path.join(tmp, "map"), [
        (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0::2]])
    base = [sys.executable, os.path.abspath(__file__), "--map", a.map, "--matcher", a.matcher,
            "--device", a.device, "--precision", a.precision, "--compile", a.compile,
            "--size", str(a.size), "--keyframes", str(a.keyframes), "--frames", str(a.frames),
            "--threads", str(a.threads), "--camera", *map(str, a.camera), "--seed", str(a.seed),
            "--start", str(a.start)] + (["--same-query"] if a.same_query else [])
    if a.checkpoint:
        base += ["--checkpoint", a.checkpoint]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(_HERE.parent)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    # one throwaway process computes and stores the map's encodings for this checkpoint
    _run_child(base + ["--warmup", "off", "--frames", "2"], env)
    rows = []
    print(f"{a.matcher} matcher, {a.config if a.matcher == 'mast3r' else ''} {a.device} "
          f"{a.size}, compile {a.compile}, max_keyframes {a.keyframes}, {a.frames} frames "
          f"(every 5th without prior) from query {a.start}"
          f"{' (all that query)' if a.same_query else ''}, {a.runs} fresh processes per "
          f"setting, interleaved; warmup old = without the keyframe preload and camera check")
    print(f"{'warmup':6s} {'construct s':>11s} {'warmup s':>8s} {'batches':>9s} {'preload':>7s} "
          f"{'first ms':>9s} {'median ms':>9s} {'p90 ms':>8s} {'first/median':>12s}")
    ratios: dict = {}
    for _ in range(a.runs):
        for w in ("off", "old", "on"):
            out = _run_child(base + ["--warmup", w], env).strip().splitlines()
            r = json.loads(out[-1])
            rows.append(r)
            ratio = r["first_ms"] / r["median_ms"]
            ratios.setdefault(w, []).append(ratio)
            print(f"{w:6s} {r['construct_s']:11.2f} {r['warmup_s']:8.2f} "
                  f"{str(r['batches']):>9s} {r['preloaded']:7d} {r['first_ms']:9.1f} "
                  f"{r['median_ms']:9.1f} {r['p90_ms']:8.1f} {ratio:12.2f}")
    med = {w: statistics.median(x) for w, x in ratios.items()}
    print(f"first/median (median of {a.runs} runs): no warm-up {med['off']:.2f}, old warm-up "
          f"{med['old']:.2f}, new warm-up {med['on']:.2f}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
