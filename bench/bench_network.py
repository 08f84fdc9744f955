#!/usr/bin/env python3
"""Network benchmark: full pair vs decode-against-cached-keyframe, side by side in one run.

Prints medians, spreads and the ratio decode/pair (target <= 0.75: the encoder is ~26 % of a
pair's FLOPs and a cached keyframe skips one encoder; the localizer also skips view 2's DPT),
plus peak memory of a pair (process RSS high-water mark on CPU, torch's allocator on CUDA).

    python bench/bench_network.py --config tiny --device cpu
    python bench/bench_network.py --config full --device cuda --precision fp16 --keyframes 1 4
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
import torch
from benchlib import environment, make_engine, ms, peak_rss_mb, spread, timed, write_json

from mast3r_ros.core.model.engine import Mast3rEngine, PreparedImage
from mast3r_ros.core.model.preprocess import normalize


def image(engine: Mast3rEngine, seed: int, hw=(384, 512)) -> PreparedImage:
    rgb = np.random.default_rng(seed).integers(0, 255, (*hw, 3), dtype=np.uint8)
    t = torch.from_numpy(normalize(rgb))[None].to(engine.device)
    return PreparedImage(t, hw, np.eye(3), (hw[1], hw[0]), rgb)


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=("tiny", "full"), default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keyframes", type=int, nargs="+", default=[1])
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()

    dev = torch.device(args.device)
    rss0 = peak_rss_mb()
    engine = make_engine(args.config, args.device, args.precision)
    weights_mb = sum(p.numel() * p.element_size() for p in engine.model.parameters()) / 2**20
    q, kf = image(engine, 1), image(engine, 2)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    pair, _ = timed(lambda: engine.pair(kf, q), dev, args.repeats, warmup=1)
    peak = (torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda"
            else peak_rss_mb() - rss0)
    res = {**environment(dev), "config": args.config, "precision": engine.precision,
           "weights_mb": weights_mb, "pair": spread(pair),
           "pair_peak_mb": peak, "peak_kind": "cuda allocator" if dev.type == "cuda"
           else "process RSS high-water growth (incl. weights)", "decode": {}}
    for k in args.keyframes:
        encs = [engine.encode(image(engine, 10 + i)) for i in range(k)]
        # Per localization: encode the query once, decode it against k cached keyframes.
        dec, _ = timed(lambda encs=encs: engine.decode(encs, engine.encode(q)), dev,
                       args.repeats, warmup=1)
        res["decode"][k] = spread(dec)
    print(f"device {dev} ({res['device_name']}), {args.config} config, {engine.precision}, "
          f"torch {torch.__version__}, {res['threads']} threads")
    print(f"full pair inference          : {ms(res['pair'])}")
    for k, s in res["decode"].items():
        ratio = s["median_s"] / statistics.median(pair)
        res["decode"][k]["ratio_to_pair"] = ratio
        print(f"query vs {k} cached keyframe(s) : {ms(s)}  ratio to one full pair {ratio:.2f}"
              + ("  (target <= 0.75)" if k == 1 else ""))
    print(f"peak memory of a pair ({res['peak_kind']}): {peak:.0f} MiB; weights {weights_mb:.0f} "
          "MiB")
    write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
