#!/usr/bin/env python3
"""Localizer benchmark: per-frame latency breakdown, peak memory, RSS growth over a long replay.

On our synthetic room (640x480, rendered by the package) a map is built from every other frame and
the frames in between are localized with the pose prior set to ground truth, so each frame is
matched against exactly ``k`` keyframes. For each ``--keyframes k`` it prints the median and spread
of the stages (inference = query encoder + batched decoder, matching, pnp, total) for the MASt3R
matcher and, measured side by side in the same process, the SIFT baseline with the ratio
mast3r/sift. Then it replays ``--replay-frames`` frames (queries cycled) and reports the RSS
growth after warm-up (target <= 50 MB over 2000 frames).

    python bench/bench_localize.py --config tiny --device cpu --keyframes 1 --frames 5 \\
        --replay-frames 200
    python bench/bench_localize.py --config full --device cuda --precision fp16 --size 512 \\
        --keyframes 1 4 --replay-frames 2000 --json bench_localize_gpu.json
    python bench/bench_localize.py --device cuda --gpu-full      # the same, as a preset

``--checkpoint PATH`` benchmarks real weights instead of random ones of the chosen config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Dict, List

import torch
from benchlib import environment, make_engine, peak_rss_mb, rss_now_mb, spread, sync, write_json

from mast3r_ros.core.config import LocalizerConfig
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.model.engine import Mast3rEngine
from mast3r_ros.core.tracker import Tracker
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

STAGES = ("inference", "matching", "pnp", "total")


class SyncedEngine:
    """Wraps an engine so that encode/decode wait for the device: stage times are then honest
    (CUDA kernels are asynchronous)."""

    def __init__(self, engine: Mast3rEngine):
        self._e = engine

    def __getattr__(self, name):
        return getattr(self._e, name)

    def encode(self, img):
        out = self._e.encode(img)
        sync(self._e.device)
        return out

    def decode(self, view1, view2, **kw):
        out = self._e.decode(view1, view2, **kw)
        sync(self._e.device)
        return out


def summarize(results, key: str) -> Dict[str, float]:
    return spread([r.timings_s.get(key, 0.0) for r in results])


def run_frames(loc: Localizer, queries, n: int, warmup: int) -> List:
    for f in queries[:warmup]:
        loc.localize(f, prior=f.map_from_cam)
    out = []
    for i in range(n):
        f = queries[i % len(queries)]
        out.append(loc.localize(f, prior=f.map_from_cam))
    return out


def bench_latency(args, kf_map, queries, engine) -> Dict[str, Dict]:
    out = {}
    for k in args.keyframes:
        row = {}
        for matcher in ("mast3r", "sift"):
            cfg = LocalizerConfig(matcher=matcher, max_keyframes=k)
            if engine is not None and engine.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(engine.device)
            loc = Localizer(kf_map, cfg, SyncedEngine(engine) if matcher == "mast3r" else None,
                            image_size=args.size)
            res = run_frames(loc, queries, args.frames, args.warmup)
            loc.matcher.close()
            row[matcher] = {s: summarize(res, s) for s in STAGES}
            row[matcher]["localized"] = sum(r.success for r in res) / len(res)
            if matcher == "mast3r" and engine.device.type == "cuda":
                peak = torch.cuda.max_memory_allocated(engine.device)
                row[matcher]["peak_cuda_mb"] = peak / 2**20
        row["ratio_total_mast3r_over_sift"] = (row["mast3r"]["total"]["median_s"]
                                               / row["sift"]["total"]["median_s"])
        out[f"keyframes_{k}"] = row
        print_row(k, row)
    return out


def print_row(k: int, row: Dict) -> None:
    for matcher in ("mast3r", "sift"):
        parts = "  ".join(f"{s} {1000 * row[matcher][s]['median_s']:8.1f} ms "
                          f"[{1000 * row[matcher][s]['min_s']:.0f}-"
                          f"{1000 * row[matcher][s]['max_s']:.0f}]" for s in STAGES)
        extra = (f"  peak CUDA {row[matcher]['peak_cuda_mb']:.0f} MB"
                 if "peak_cuda_mb" in row[matcher] else "")
        print(f"k={k} {matcher:6s} {parts}{extra}")
    print(f"k={k} total mast3r / sift = {row['ratio_total_mast3r_over_sift']:.2f}")


def bench_replay(args, kf_map, queries, engine) -> Dict:
    matcher = args.replay_matcher
    loc = Localizer(kf_map, LocalizerConfig(matcher=matcher, max_keyframes=args.keyframes[0]),
                    engine if matcher == "mast3r" else None, image_size=args.size)
    warm = min(50, max(1, args.replay_frames // 10))
    samples = []
    t0 = time.perf_counter()
    rss_warm = None
    tracker = Tracker()
    for i in range(args.replay_frames):
        f = queries[i % len(queries)]
        # no prior: the tracker's hint and retrieval, as `mast3r-ros localize` runs it
        tracker.update(loc.localize(f, hint=tracker.hint()))
        if i + 1 == warm:
            rss_warm = rss_now_mb()
        if (i + 1) % max(1, args.replay_frames // 20) == 0:
            samples.append((i + 1, rss_now_mb()))
    loc.matcher.close()
    rss_end = rss_now_mb()
    growth = rss_end - (rss_warm if rss_warm is not None else rss_end)
    out = {"matcher": matcher, "frames": args.replay_frames, "warmup_frames": warm,
           "rss_after_warmup_mb": rss_warm, "rss_end_mb": rss_end, "rss_growth_mb": growth,
           "samples": samples, "seconds": time.perf_counter() - t0}
    print(f"replay {matcher}: {args.replay_frames} frames in {out['seconds']:.0f} s, RSS "
          f"{rss_warm:.0f} -> {rss_end:.0f} MB (growth {growth:+.1f} MB, target <= 50 MB)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=("tiny", "full"), default="tiny")
    ap.add_argument("--checkpoint", help="real weights instead of random ones")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--size", type=int, default=512, choices=(512, 384, 224))
    ap.add_argument("--keyframes", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--frames", type=int, default=10, help="timed frames per setting")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--replay-frames", type=int, default=2000)
    ap.add_argument("--replay-matcher", choices=("mast3r", "sift"), default="mast3r")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--gpu-full", action="store_true",
                    help="preset for the GPU run: full-size random model, fp16, size 512, "
                         "keyframes 1 and 4, 2000-frame MASt3R replay (other options still win)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.gpu_full:
        ap.set_defaults(config="full", precision="fp16", size=512, keyframes=[1, 4], frames=10,
                        replay_frames=2000, replay_matcher="mast3r")
        args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    cam = default_intrinsics(640, 480)
    n_render = 2 * max(12, max(args.keyframes) + 4)
    t0 = time.perf_counter()
    frames = list(render_frames(n_render, cam, seed=0))
    print(f"rendered {n_render} frames in {time.perf_counter() - t0:.1f} s")
    queries = frames[1::2]
    rss0 = rss_now_mb()
    engine = make_engine(args.config, args.device, args.precision, args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_map(os.path.join(tmp, "map"), [
            (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0::2]])
        kf_map = KeyframeMap.load(path)
        info = {**environment(engine.device),
                "config": "checkpoint" if args.checkpoint else args.config,
                "precision": engine.precision, "size": args.size,
                "keyframes_in_map": len(kf_map)}
        print(json.dumps(info))
        latency = bench_latency(args, kf_map, queries, engine)
        replay = bench_replay(args, kf_map, queries, engine) if args.replay_frames else None
    result = {"info": info, "latency": latency, "replay": replay,
              "rss_before_model_mb": rss0, "peak_rss_mb": peak_rss_mb()}
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB (before the model: {rss0:.0f} MB)")
    write_json(args.json, result)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
