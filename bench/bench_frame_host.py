#!/usr/bin/env python3
"""The host work around the network on the MASt3R path, previous vs new, side by side.

Issue 9: on an H200 the compiled network stages sum to ~6.9 ms, yet the "inference" share of a
whole `Localizer.localize` was 11.0 ms (K=1) / 13.8 ms (K=4). The difference is per-frame host
work around the network. This script times it at full ViT-L token shapes (a 640x480 frame ->
512x384 network input -> 32x24 = 768 tokens of 1024 channels, keyframe encodings float16 as a
map stores them), per frame, with the variants interleaved repeat by repeat (one load for all):

* ``prepare``: previous = PIL resize/crop, numpy float32 normalisation, the float32 (1, 3, H, W)
  tensor copied to the device (2.4 MB); new = `Mast3rEngine.prepare`: the same PIL resize/crop,
  the uint8 crop copied (0.6 MB) and normalised on the device (bit-identical, checked here);
  ``host-resize`` / ``device-resize``: `Mast3rEngine.prepare` with Pillow's resize on the host
  (the CPU default) or on the device (`model.resample`, same pixels; the CUDA default: the
  host only uploads the 640x480 uint8 frame);
* ``fetch K``: the K candidate keyframes' encodings as the decoder's (K, N, C) float32 input.
  Previous = per keyframe per frame ``astype(float32)`` on the host and a 3 MB copy (the device
  cache was never wired), then the stack; new = `KeyframeEncodings` with the default
  ``scale.device_cache_mb`` (consecutive frames use the same keyframes: cache hits, no copy) and
  one float16 -> float32 cast of the stack on the device; ``new-miss`` = the same with the cache
  off (0 MB: a float16 copy per keyframe, no host conversion);
* ``descriptor``: the pooled retrieval descriptor of the query tokens (only when retrieving):
  previous = the (768, 1024) map to the host, pooled with numpy; new = pooled on the device,
  1024 floats moved.

``frame K`` = prepare + fetch K (what every localized frame pays). Ratios are previous / new.
``resize_crop`` (PIL's resize and crop, the reference preprocessing, in both variants) is
printed alone: what remains of ``prepare`` on the host.

    python bench/bench_frame_host.py --threads 1           # CPU, 30 repeats
    python bench/bench_frame_host.py --device cuda --repeats 100 --json frame_host.json
    python bench/bench_frame_host.py --smoke               # a few repeats, seconds

Numbers from a shared machine are only comparable within one run (ratios). On a CPU "device"
the copies are memcpys; the transfers this removes matter most on a discrete GPU (pageable
host -> device copies) and on a Jetson (shared memory: every copy is memory bandwidth).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Dict, List

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE.parent), str(_HERE.parent / "test"), str(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchlib import TINY_SPEC, environment, random_model, sync, write_json  # noqa: E402
from mast3r_ros.core.config import ScaleConfig  # noqa: E402
from mast3r_ros.core.matchers.lazy_encodings import KeyframeEncodings  # noqa: E402
from mast3r_ros.core.matchers.mast3r import pooled_descriptor_device  # noqa: E402
from mast3r_ros.core.model.engine import Encoding, Mast3rEngine, PreparedImage  # noqa: E402
from mast3r_ros.core.model.preprocess import normalize, resize_crop  # noqa: E402
from mast3r_ros.core.retrieval import pooled_descriptor  # noqa: E402

FRAME_WH = (640, 480)
NET_HW = (384, 512)
TOKENS, CHANNELS = (384 // 16) * (512 // 16), 1024


# -------------------------------------------------- the previous host path (frozen copy) ---

def prev_prepare(rgb: np.ndarray, device: torch.device) -> PreparedImage:
    """`Mast3rEngine.prepare` before issue 9's host-path change: normalised on the host."""
    net, plan = resize_crop(rgb, 512)
    t = torch.from_numpy(normalize(net))[None].to(device)
    return PreparedImage(t, (net.shape[0], net.shape[1]), plan.to_orig(), plan.orig_size, net)


def prev_fetch(records: Sequence[Dict[str, np.ndarray]], k: int, device: torch.device
               ) -> torch.Tensor:
    """K keyframe encodings as before: host float32 conversion + copy per keyframe per frame
    (`Encoding.from_numpy` then, no device cache), stacked as `Mast3rEngine.decode` did."""
    encs = [Encoding(torch.from_numpy(np.asarray(r["feats"]).astype(np.float32)).to(device),
                     tuple(int(v) for v in r["true_shape"])) for r in records[:k]]
    return torch.stack([e.feats.to(device) for e in encs])


def prev_descriptor(feats: torch.Tensor) -> np.ndarray:
    """The query's pooled descriptor as before: the token map to the host, numpy pooling."""
    return pooled_descriptor(feats.detach().float().cpu().numpy())


# ------------------------------------------------------------------------- the new path ---

class _Store(Sequence):
    """Stand-in for a v3 map's lazy encoding records (read-only arrays, as the store's)."""

    def __init__(self, records: List[Dict[str, np.ndarray]]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]


def new_fetch(encodings: KeyframeEncodings, k: int, device: torch.device) -> torch.Tensor:
    """K keyframe encodings through `KeyframeEncodings`, stacked and cast as `decode` does."""
    return torch.stack([encodings[i].feats.to(device) for i in range(k)]).to(torch.float32)


# ------------------------------------------------------------------------------ running ---

def _records(n: int, seed: int) -> List[Dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        f = rng.standard_normal((TOKENS, CHANNELS)).astype(np.float16)
        f.flags.writeable = False
        out.append({"feats": f, "true_shape": np.asarray(NET_HW, np.int64)})
    return out


def interleaved(cases: Dict[str, Callable[[], Any]], device: torch.device, repeats: int,
                warmup: int) -> Dict[str, List[float]]:
    """Seconds per call of every case, the cases alternating within each repeat."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    sync(device)
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def equivalence(engine: Mast3rEngine, rgb: np.ndarray, records, enc: KeyframeEncodings,
                device: torch.device, k_max: int) -> Dict[str, Any]:
    """Bit-equality of the new prepare and fetch with the previous ones; descriptor max diff."""
    a, b = prev_prepare(rgb, device), engine.prepare(rgb, 512)
    f_prev, f_new = prev_fetch(records, k_max, device), new_fetch(enc, k_max, device)
    q = torch.from_numpy(np.asarray(records[0]["feats"], np.float32)).to(device)
    d = float(np.abs(prev_descriptor(q) - pooled_descriptor_device(q)).max())
    return {"prepare_bit_identical": bool(torch.equal(a.tensor, b.tensor)),
            "fetch_bit_identical": bool(torch.equal(f_prev, f_new)),
            "descriptor_max_abs_diff": d}


def run(args) -> Dict[str, Any]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    engine = Mast3rEngine(random_model(TINY_SPEC, seed=0), device)  # prepare only: size-free
    host_rs, dev_rs = (Mast3rEngine(random_model(TINY_SPEC, seed=0), device) for _ in range(2))
    host_rs.resize_on_device, dev_rs.resize_on_device = False, True
    rgb = np.random.default_rng(0).integers(0, 256, (FRAME_WH[1], FRAME_WH[0], 3), np.uint8)
    k_max = max(args.keyframes)
    records = _records(k_max, seed=1)
    cached = KeyframeEncodings(_Store(records), device, "bench",
                               ScaleConfig().device_cache_mb)
    uncached = KeyframeEncodings(_Store(records), device, "bench", 0.0)
    query = torch.from_numpy(np.asarray(records[0]["feats"], np.float32)).to(device)
    cases: Dict[str, Callable[[], Any]] = {
        "prepare/prev": lambda: prev_prepare(rgb, device),
        "prepare/new": lambda: engine.prepare(rgb, 512),
        "prepare/host-resize": lambda: host_rs.prepare(rgb, 512),
        "prepare/device-resize": lambda: dev_rs.prepare(rgb, 512),
        "descriptor/prev": lambda: prev_descriptor(query),
        "descriptor/new": lambda: pooled_descriptor_device(query),
        "resize_crop": lambda: resize_crop(rgb, 512)}
    for k in args.keyframes:
        cases[f"fetch{k}/prev"] = lambda k=k: prev_fetch(records, k, device)
        cases[f"fetch{k}/new"] = lambda k=k: new_fetch(cached, k, device)
        cases[f"fetch{k}/new-miss"] = lambda k=k: new_fetch(uncached, k, device)
        cases[f"frame{k}/prev"] = lambda k=k: (prev_prepare(rgb, device),
                                               prev_fetch(records, k, device))
        cases[f"frame{k}/new"] = lambda k=k: (engine.prepare(rgb, 512),
                                              new_fetch(cached, k, device))
    times = interleaved(cases, device, args.repeats, args.warmup)
    stats = {n: {"median_ms": 1000 * statistics.median(v), "min_ms": 1000 * min(v),
                 "max_ms": 1000 * max(v), "n": len(v)} for n, v in times.items()}
    ratios = {}
    for n in stats:
        stage, _, variant = n.partition("/")
        if variant not in ("prev", ""):
            ratios[n] = stats[f"{stage}/prev"]["median_ms"] / stats[n]["median_ms"]
    return {"env": environment(device), "frame_wh": FRAME_WH, "net_hw": NET_HW,
            "tokens": TOKENS, "channels": CHANNELS, "repeats": args.repeats,
            "device_cache_mb": ScaleConfig().device_cache_mb, "stats": stats, "ratios": ratios,
            "uploads": {"cached": cached.uploads, "uncached": uncached.uploads},
            "engine_resizes_on_device": engine.resize_on_device,
            "equivalence": {**equivalence(engine, rgb, records, cached, device, k_max),
                            "device_resize_bit_identical": bool(torch.equal(
                                prev_prepare(rgb, device).tensor,
                                dev_rs.prepare(rgb, 512).tensor))}}


def report(res: Dict[str, Any]) -> None:
    env = res["env"]
    print(f"# host path per frame, {env['device_name']} ({env['device']}), torch {env['torch']}, "
          f"commit {env['commit']}, {res['repeats']} interleaved repeats; "
          f"{res['frame_wh'][0]}x{res['frame_wh'][1]} -> {res['net_hw'][1]}x{res['net_hw'][0]}, "
          f"{res['tokens']}x{res['channels']} fp16 keyframe tokens")
    print(f"{'stage':<20}{'previous':>26}{'new':>26}{'prev/new':>10}")
    def cell(s):
        return f"{s['median_ms']:8.3f} ms [{s['min_ms']:.3f}-{s['max_ms']:.3f}]"

    for n, s in res["stats"].items():
        stage, _, variant = n.partition("/")
        if variant in ("prev", ""):
            continue
        p = res["stats"][f"{stage}/prev"]
        label = stage if variant == "new" else f"{stage} ({variant})"
        print(f"{label:<20}{cell(p):>26}{cell(s):>26}{res['ratios'][n]:>9.2f}x")
    print(f"{'of which PIL resize_crop (both, the reference preprocessing)':<60}"
          f"{cell(res['stats']['resize_crop'])}")
    print(f"prepare = {'device' if res['engine_resizes_on_device'] else 'host (PIL)'} resize "
          "by default on this device")
    e = res["equivalence"]
    print(f"equivalence: prepare bit-identical {e['prepare_bit_identical']} (device resize "
          f"{e['device_resize_bit_identical']}), fetch bit-identical "
          f"{e['fetch_bit_identical']}, descriptor max |diff| {e['descriptor_max_abs_diff']:.1e}"
          f"; keyframe uploads cached {res['uploads']['cached']} vs uncached "
          f"{res['uploads']['uncached']}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="where the network input and encodings live (default cpu)")
    p.add_argument("--keyframes", type=int, nargs="+", default=[1, 4],
                   help="candidate keyframes per frame (default 1 4)")
    p.add_argument("--repeats", type=int, default=30, help="timed repeats per case")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per case first")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default; 1 on a shared machine, where "
                        "OpenMP barriers stall on busy cores)")
    p.add_argument("--smoke", action="store_true", help="3 repeats, 1 warm-up: seconds")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        args.repeats, args.warmup = 3, 1
    res = run(args)
    report(res)
    write_json(args.json, res)
    e = res["equivalence"]
    return 0 if e["prepare_bit_identical"] and e["fetch_bit_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
