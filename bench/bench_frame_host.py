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
    python bench/bench_frame_host.py --localize            # whole frames, previous vs now

``--localize`` times whole `Localizer.localize` frames instead (`HostFrame`: the real
localizer with the tiny network's outputs and the device matching's rows cached, realistic
pairs of ~2900 matches at 512x384, K = ``--keyframes``), with and without the query's prepare
(on CUDA the resize runs on the device), the package at ``--prev-rev`` and the current one each
in its own worker process, alternated every ``--frames``; every frame's result is hashed (the
two must agree bit for bit) and each stage's thread time is printed side by side
(docs/bench/host_cpu_2026-12-06).

Numbers from a shared machine are only comparable within one run (ratios). On a CPU "device"
the copies are memcpys; the transfers this removes matter most on a discrete GPU (pageable
host -> device copies) and on a Jetson (shared memory: every copy is memory bandwidth).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE.parent), str(_HERE.parent / "test"), str(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
_TREE = os.environ.get("BENCH_PREV_TREE")  # a --localize worker of the previous package
if _TREE:
    sys.path.insert(0, _TREE)

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


# ------------------------------------------ --localize: the host part of a whole frame ---

PREV_REV = "283428fe"  # before the 2026-12-06 host round (docs/bench/host_cpu_2026-12-06)
STAGES = (  # (module, attribute, label): thread time per frame inside each, --localize
    ("mast3r_ros.core.model.engine", "Mast3rEngine.prepare", "prepare"),
    ("mast3r_ros.core.model.engine", "resize_crop", "  PIL resize_crop"),
    ("mast3r_ros.core.model.engine", "normalize_on_device", "  normalize"),
    ("mast3r_ros.core.model.engine", "Mast3rEngine.encode", "encode (network stubbed)"),
    ("mast3r_ros.core.localizer.pipeline", "Localizer._candidates", "candidates"),
    ("mast3r_ros.core.model.engine", "Mast3rEngine.decode", "decode (network stubbed)"),
    ("mast3r_ros.core.matchers.mast3r", "match_and_fuse", "match_and_fuse (device stubbed)"),
    ("mast3r_ros.core.matchers.mast3r", "Mast3rMatcher._pair", "pair finish (_pair)"),
    ("mast3r_ros.core.matchers.mast3r", "pointmap_point_covariance", "  point covariances"),
    ("mast3r_ros.core.localizer.pipeline", "Localizer._pose", "pose (_pose)"),
    ("mast3r_ros.core.localizer.pipeline", "solve_pnp", "  solve_pnp"),
    ("mast3r_ros.core.pnp.solve", "_ransac_poselib", "    RANSAC (poselib)"),
    ("mast3r_ros.core.pnp.solve", "_refine_inliers", "    refinement"),
    ("mast3r_ros.core.pnp.solve", "_covariance_f", "    covariance"),
    ("mast3r_ros.core.localizer.pipeline", "Localizer._gate", "  gates"),
    ("mast3r_ros.core.localizer.pipeline", "Localizer.localize", "localize (all)"))


class HostFrame:
    """A `Localizer.localize` whose network and device matching are replaced by their cached
    outputs, so that what is timed is the host work of the frame: the query checks, prepare
    (the CPU path: Pillow's resize), the engine's calls around the network, the candidates,
    the host side of matching (`_select_rows`, `_pair`), PnP, the gates and the result.
    The network (tiny random weights) and the walk run once per input; their outputs are the
    realistic pairs of `realistic_pairs` (~2900 matches a pair at 512x384), substituted as
    `RealisticEngine` does."""

    def __init__(self, k: int, seed: int = 0):
        from realistic_pairs import FINGERPRINT, RealisticEngine, fabricate_tables, make_scene

        from mast3r_ros.core.config import LocalizerConfig
        from mast3r_ros.core.keyframes import KeyframeMap, write_map
        from mast3r_ros.core.localizer import Localizer
        from mast3r_ros.core.matchers import mast3r as m3

        self._tmp = tempfile.TemporaryDirectory(prefix="frame_host_")
        kfs, self.query = make_scene(6, FRAME_WH, seed=512 + seed)
        path = os.path.join(self._tmp.name, "map")
        write_map(path, [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, None) for f in kfs])
        eng = Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cpu"), "fp32")
        real = RealisticEngine(eng, kfs, self.query, 512, tables=fabricate_tables(
            kfs, self.query, 512, NET_HW, TINY_SPEC.desc_dim))
        enc_fn, dec_fn, walks, cache = eng._enc_fn, eng._dec_fn, m3._match_and_fuse_walks, {}

        def encode(t):
            key = ("enc", t.reshape(-1)[:4096].numpy().tobytes())
            return cache[key] if key in cache else cache.setdefault(key, enc_fn(t))

        def decode(e1, e2, hw, dense2):
            key = ("dec", e1[:, 0, :FINGERPRINT].numpy().tobytes(), e2.shape)
            if key not in cache:
                r1, r2 = dec_fn(e1, e2, hw, dense2)
                fp = real._fp.float()
                idx = [int((e[0, :FINGERPRINT][None] == fp[:, :FINGERPRINT]).all(1).float()
                           .argmax()) for e in e1]
                t = real._cpu
                r1 = dict(r1, desc=t["desc_1"][idx], desc_conf=t["desc_conf_1"][idx],
                          pts3d=t["pts3d_1"][idx], conf=t["conf_1"][idx])
                r2 = dict(r2, desc=t["desc_2"][idx], desc_conf=t["desc_conf_2"][idx])
                cache[key] = (r1, r2)
            return cache[key]

        def matching(preds, poses, cfg, rng):
            key = ("rows",) + tuple(p.desc_1.data_ptr() for p in preds)
            if key not in cache:
                select, got = m3._select_rows, []
                m3._select_rows = lambda host, *a: (got.append(host), select(host, *a))[1]
                try:
                    walks(preds, poses, cfg, np.random.default_rng(0))
                finally:
                    m3._select_rows = select
                cache[key] = got[0]
            return m3._select_rows(cache[key], len(preds), cfg, rng)

        eng._enc_fn, eng._dec_fn, m3._match_and_fuse_walks = encode, decode, matching
        self.loc = Localizer(KeyframeMap.load(path),
                             LocalizerConfig(max_keyframes=k, prior_radius_m=100.0), eng,
                             image_size=512)
        real.bind(self.loc.matcher.encodings)
        self.loc.warmup()
        self.stages: Dict[str, float] = {}

    def frames(self, n: int, prepare: bool = True) -> Tuple[List[float], str]:
        """Thread seconds of ``n`` frames and a digest of their results (pose, covariance,
        inliers, matches, RMS, reason: every bit). ``prepare`` False: the query's
        `Mast3rEngine.prepare` is cached too (on a GPU it resizes on the device: the host
        work left of a GPU frame is the rest)."""
        import hashlib

        eng = self.loc.matcher.engine
        if not prepare:
            prep = eng.prepare(self.query.rgb, 512)
            eng.prepare = lambda rgb, size: prep
        ts, h = [], hashlib.sha256()
        for _ in range(n):
            t0 = time.thread_time()
            r = self.loc.localize(self.query, prior=self.query.map_from_cam)
            ts.append(time.thread_time() - t0)
            for a in (r.map_from_cam, r.covariance):
                h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
            h.update(repr((r.success, r.num_inliers, r.num_matches, r.reproj_rms_px,
                           r.reason, r.keyframe_ids)).encode())
        eng.__dict__.pop("prepare", None)
        return ts, h.hexdigest()[:16]

    def time_stages(self, n: int) -> Dict[str, float]:
        """ms per frame inside each `STAGES` function (nested: a row holds the indented ones
        below it), over ``n`` frames."""
        import functools
        import importlib

        acc: Dict[str, float] = {label: 0.0 for _, _, label in STAGES}
        undo = []
        for mod, attr, label in STAGES:
            owner = importlib.import_module(mod)
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part)
            fn = getattr(owner, name)

            def timed(*a, _fn=fn, _label=label, **kw):
                t0 = time.thread_time()
                try:
                    return _fn(*a, **kw)
                finally:
                    acc[_label] += time.thread_time() - t0
            setattr(owner, name, functools.wraps(fn)(timed))
            undo.append((owner, name, fn))
        try:
            self.frames(n)
        finally:
            for owner, name, fn in reversed(undo):
                setattr(owner, name, fn)
        return {label: 1000 * v / n for label, v in acc.items()}


def localize_worker() -> int:
    """--localize-worker: one `HostFrame` per K; answers JSON lines on stdin ("K n" or
    "stages K n") with thread times, result digests and stage times."""
    import mast3r_ros

    torch.set_num_threads(1)
    frames: Dict[int, HostFrame] = {}
    print(json.dumps({"package": str(Path(mast3r_ros.__file__).parent)}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        k, n = int(cmd[-2]), int(cmd[-1])
        if k not in frames:
            frames[k] = HostFrame(k)
        if cmd[0] == "stages":
            out: Dict[str, Any] = {"stages": frames[k].time_stages(n)}
        else:
            ts, digest = frames[k].frames(n, prepare=cmd[0] != "noprep")
            out = {"times": ts, "digest": digest}
        print(json.dumps(out), flush=True)
    return 0


def run_localize(args) -> Dict[str, Any]:
    """Previous (the package at ``args.prev_rev``, `git archive`d) and current worker, each in
    its own process, alternating every round: whole frames' host time, same results?"""
    tmp = tempfile.TemporaryDirectory(prefix="frame_host_prev_")
    repo = _HERE.parent
    tar = subprocess.run(["git", "-C", str(repo), "archive", args.prev_rev, "mast3r_ros"],
                         check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", tmp.name], input=tar, check=True)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("BENCH_PREV_TREE", None)
    workers = {}
    for name, tree in (("prev", tmp.name), ("now", None)):
        e = dict(env, **({"BENCH_PREV_TREE": tree} if tree else {}))
        w = subprocess.Popen([sys.executable, __file__, "--localize-worker"], env=e,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        workers[name] = (w, json.loads(w.stdout.readline())["package"])

    def ask(name: str, cmd: str) -> Dict[str, Any]:
        w = workers[name][0]
        w.stdin.write(cmd + "\n")
        w.stdin.flush()
        return json.loads(w.stdout.readline())

    # which package each worker imported (no machine paths in the output)
    where = {"prev": (f"git archive {args.prev_rev}", workers["prev"][1].startswith(tmp.name)),
             "now": ("this checkout", workers["now"][1] == str(repo / "mast3r_ros"))}
    res: Dict[str, Any] = {"prev_rev": args.prev_rev, "commit": environment(
        torch.device("cpu"))["commit"], "packages": {
            n: f"{what} ({'as asked' if ok else 'NOT the package asked for'})"
            for n, (what, ok) in where.items()}, "keyframes": {}}
    try:
        for k in args.keyframes:
            for name in workers:  # build, warm up, a few frames untimed
                ask(name, f"{k} 3")
            out: Dict[str, Any] = {}
            for mode in ("run", "noprep"):  # whole host part; without prepare (a GPU frame's)
                times: Dict[str, List[float]] = {"prev": [], "now": []}
                digests: Dict[str, set] = {"prev": set(), "now": set()}
                for r in range(args.rounds):
                    for name in (("prev", "now") if r % 2 == 0 else ("now", "prev")):
                        got = ask(name, f"{mode} {k} {args.frames}")
                        times[name] += got["times"]
                        digests[name].add(got["digest"])
                med = {n: 1000 * statistics.median(v) for n, v in times.items()}
                out["with_prepare" if mode == "run" else "without_prepare"] = {
                    "median_ms": med, "min_ms": {n: 1000 * min(v) for n, v in times.items()},
                    "ratio_prev_now": med["prev"] / med["now"], "frames": len(times["now"]),
                    "identical": digests["prev"] == digests["now"] and len(digests["now"]) == 1,
                    "digests": {n: sorted(d) for n, d in digests.items()}}
            out["stages_ms"] = {name: ask(name, f"stages {k} {args.frames * 2}")["stages"]
                                for name in workers}
            res["keyframes"][str(k)] = out
    finally:
        for w, _ in workers.values():
            w.stdin.close()
            w.wait(timeout=60)
        tmp.cleanup()
    return res


def report_localize(res: Dict[str, Any]) -> None:
    print(f"# host part of Localizer.localize (network and device matching stubbed), "
          f"{FRAME_WH[0]}x{FRAME_WH[1]} -> 512x384, thread CPU time; prev = {res['prev_rev']}, "
          f"now = {res['commit']}, alternating processes")
    print(f"# packages: {res['packages']}")
    for k, kr in res["keyframes"].items():
        for mode in ("with_prepare", "without_prepare"):
            r = kr[mode]
            print(f"K={k} {mode.replace('_', ' '):<16}: prev {r['median_ms']['prev']:.3f} ms, "
                  f"now {r['median_ms']['now']:.3f} ms (median of {r['frames']}), prev/now "
                  f"{r['ratio_prev_now']:.2f}x (min {r['min_ms']['prev'] / r['min_ms']['now']:.2f}"
                  f"x); results identical {r['identical']} {r['digests']['now']}")
        print(f"  {'stage (ms per frame, nested)':<34}{'prev':>9}{'now':>9}")
        for label, v in kr["stages_ms"]["now"].items():
            print(f"  {label:<34}{kr['stages_ms']['prev'][label]:9.3f}{v:9.3f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
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
    p.add_argument("--localize", action="store_true",
                   help="whole frames' host work instead, previous vs now (HostFrame)")
    p.add_argument("--prev-rev", default=PREV_REV, help=f"--localize's previous package "
                   f"(default {PREV_REV})")
    p.add_argument("--frames", type=int, default=10, help="--localize: frames per round")
    p.add_argument("--rounds", type=int, default=6, help="--localize: alternating rounds")
    p.add_argument("--localize-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.localize_worker:
        return localize_worker()
    if args.localize:
        if args.smoke:
            args.frames, args.rounds = 2, 2
        res = run_localize(args)
        report_localize(res)
        write_json(args.json, res)
        return 0 if all(r[m]["identical"] for r in res["keyframes"].values()
                        for m in ("with_prepare", "without_prepare")) else 1
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
