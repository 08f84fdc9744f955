#!/usr/bin/env python3
"""Inference variants side by side on one device: eager vs compiled vs TensorRT, per stage.

For each network size and each variant (eager in the chosen precision, ``torch.compile``
'default', 'reduce-overhead' = CUDA graphs, TensorRT fp16 when the package is there), one
localization-shaped frame is timed stage by stage: encode the query, decode it against K cached
keyframe encodings in one batch, fast reciprocal matching + border filter per keyframe, PnP
(RANSAC + refinement) on the matched keyframe points, and the total. Reported: medians and
spreads, build+warm-up time, the first frame after warm-up against the median, peak GPU memory
(torch allocator: the weights and what the engine holds after warm-up apart from the peak of a
whole ``Localizer.localize`` per K, each after ``reset_peak_memory_stats``; the fp32
reference weights are back on the host by then), the precision policy (what stays fp32), and
equivalence against eager fp32 on the same inputs (desc max abs, pts3d per-pixel relative
p99/max, match Jaccard per keyframe).

    python bench/bench_gpu.py --config full --device cuda --sizes 512 --keyframes 1 4 \
        --variants eager reduce-overhead default tensorrt --json out.json
    python bench/bench_gpu.py --config tiny --device cpu --sizes 224 --variants eager  # smoke
    python bench/bench_gpu.py --config tiny --device cpu --sizes 224 --variants eager \
        --keyframes 1 --repeats 2 --correspondences realistic   # the realistic whole frame only

Weights are random (``--config full`` is the ViT-L architecture, as bench_network.py), so the
network's own matches and poses are meaningless; the times and the equivalence figures are what
count. In the per-stage frame, PnP gets the matched keyframe points projected through a known
pose (with 30 % outliers), so RANSAC sees a realistic inlier ratio.

The whole `Localizer.localize` is timed with ``--correspondences``: 'network' (the random
network's own descriptors: ~1 match per pair, so PnP does not run) and/or 'realistic' (the
engine wrapped by `realistic_pairs.RealisticEngine`: the real network runs, then each decode's
descriptor maps and keyframe pointmap are replaced on the device by a pair fabricated from a
rendered scene, ~3000 matches per pair at 512 with ~20 % outliers; PnP runs and must recover the
query's true pose: the bench prints how many frames localized and the pose error).

``--build-only`` builds (compiles and warms up) each variant's engine and exits: on a GPU
machine it fills ``TORCHINDUCTOR_CACHE_DIR`` for a later timing process (gpu_checks.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

_REPO = Path(__file__).resolve().parents[1]
for _p in (str(_REPO), str(_REPO / "test"), str(_REPO / "bench")):  # test-only helpers
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_first_frame import previous_warmup  # noqa: E402
from benchlib import write_json  # noqa: E402
from mast3r_ros.core.config import LocalizerConfig, MatchingConfig  # noqa: E402
from mast3r_ros.core.matchers.mast3r import match_and_fuse  # noqa: E402
from mast3r_ros.core.matching import fast_reciprocal_matches, filter_border  # noqa: E402
from mast3r_ros.core.model.engine import (  # noqa: E402
    Mast3rEngine, fp32_parameter_names, network_shape, weight_bytes)
from mast3r_ros.core.model.network import AsymmetricMASt3R, ModelSpec  # noqa: E402
from mast3r_ros.core.pnp import solve_pnp  # noqa: E402
from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_test_utils import (  # noqa: E402
    TINY_SPEC, random_model, scale_pointmaps, write_checkpoint)
from realistic_pairs import RealisticEngine, fabricate_tables, make_scene  # noqa: E402

CAMERA = (640, 480)
N_MAP_KEYFRAMES = 6  # fabricated map for the whole-Localizer timing (K <= 4 are matched)


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _stats(ts: List[float]) -> Dict:
    ms = sorted(t * 1e3 for t in ts)
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "max_ms": ms[-1],
            "p90_ms": ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))], "n": len(ms)}


def _images(seed: int, n: int) -> List[np.ndarray]:
    """Smooth random colour images (blurred noise) at the camera size."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 255, (CAMERA[1] // 16, CAMERA[0] // 16, 3)).astype(np.uint8)
        out.append(np.kron(small, np.ones((16, 16, 1), np.uint8)))
    return out


def _pnp_inputs(pred, xy1: torch.Tensor, xy2: torch.Tensor, intr: CameraIntrinsics, seed: int):
    """Map points = keyframe pointmap at the matched pixels; pixels = their projection through a
    known pose, 30 % replaced by random pixels (RANSAC sees a realistic inlier ratio)."""
    X = pred.pts3d_1[xy1[:, 1], xy1[:, 0]].float().cpu().numpy().astype(np.float64)
    X = X[np.isfinite(X).all(1) & (np.linalg.norm(X, axis=1) < 1e4)]
    rng = np.random.default_rng(seed)
    if len(X) < 12:  # random weights can give degenerate pointmaps: fall back to a cloud
        X = rng.uniform([-1, -1, 2], [1, 1, 4], (200, 3))
    X = X - X.mean(0) + np.array([0, 0, 3.0])
    x = X[:, :2] / X[:, 2:] * intr.K[0, 0] + intr.K[:2, 2]
    bad = rng.random(len(x)) < 0.3
    x[bad] = rng.uniform(0, [intr.width, intr.height], (int(bad.sum()), 2))
    return X, x


def run_frame(engine, q_prep, kf_encs, k: int, intr, dev, seed=0):
    """One frame, stage by stage. Returns (times dict in s, preds, matches, pnp result)."""
    t = {}
    t0 = time.perf_counter()
    q = engine.encode(q_prep)
    _sync(dev)
    t1 = time.perf_counter()
    preds = engine.decode(kf_encs[:k], q)
    _sync(dev)
    t2 = time.perf_counter()
    matches = []
    hw = q_prep.true_shape
    for p in preds:
        a, b = fast_reciprocal_matches(p.desc_1, p.desc_2, subsample=8, nn_backend="auto")
        a, b = filter_border(a, b, hw, hw, border=3)
        matches.append((a.cpu(), b.cpu()))
    _sync(dev)
    t3 = time.perf_counter()
    Xs, xs = zip(*[_pnp_inputs(p, a, b, intr, seed + i)
                   for i, (p, (a, b)) in enumerate(zip(preds, matches))])
    res = solve_pnp(np.concatenate(Xs), np.concatenate(xs), intr, seed=seed)
    t4 = time.perf_counter()
    t.update(encode=t1 - t0, decode=t2 - t1, matching=t3 - t2, pnp=t4 - t3, total=t4 - t0)
    return t, preds, matches, res


def _to_cpu(pred):
    """A `PairPrediction` with its tensors on the host (references off the device)."""
    return dataclasses.replace(pred, **{f.name: getattr(pred, f.name).cpu()
                                        for f in dataclasses.fields(pred)
                                        if getattr(pred, f.name) is not None})


def _equivalence(ref_preds, ref_matches, preds, matches) -> Dict:
    desc, rel, jac = [], [], []
    for rp, p in zip(ref_preds, preds):
        for a, b in ((rp.desc_1, p.desc_1), (rp.desc_2, p.desc_2)):
            desc.append(float((a.float().cpu() - b.float().cpu()).abs().max()))
        r = (torch.linalg.norm(rp.pts3d_1.float().cpu() - p.pts3d_1.float().cpu(), dim=-1)
             / torch.linalg.norm(rp.pts3d_1.float().cpu(), dim=-1).clamp(min=1e-12))
        r = r[torch.isfinite(r)]
        rel.append((float(torch.quantile(r.flatten()[:1_000_000], 0.99)), float(r.max())))
    for (a0, b0), (a1, b1) in zip(ref_matches, matches):
        s0 = {tuple(v) for v in torch.cat((a0, b0), 1).tolist()}
        s1 = {tuple(v) for v in torch.cat((a1, b1), 1).tolist()}
        jac.append(len(s0 & s1) / max(1, len(s0 | s1)))
    return {"desc_max_abs": max(desc), "pts3d_rel_p99": max(r[0] for r in rel),
            "pts3d_rel_max": max(r[1] for r in rel), "match_jaccard_min": min(jac),
            "n_matches_ref": [len(a) for a, _ in ref_matches]}


def bench_matching(preds, dev, repeats: int) -> Dict:
    """Matching + filters + fusion of one frame's K predictions (`match_and_fuse`), torch
    nearest-neighbour search vs the fused Triton kernel (``nn_backend``), timed alternately in
    one run, per keyframe pair; the matches must be the same (bench_matching.py has the detail)."""
    from mast3r_ros.core.matching.backend import _triton_error

    poses, k = np.stack([np.eye(4)] * len(preds)), len(preds)
    backends = ["torch"] + (["triton"] if _triton_error() is None and dev.type == "cuda" else [])
    times: Dict[str, List[float]] = {b: [] for b in backends}
    out = {}
    for i in range(repeats + 1):
        for b in backends:
            _sync(dev)
            t0 = time.perf_counter()
            out[b] = match_and_fuse(preds, poses, MatchingConfig(nn_backend=b),
                                    np.random.default_rng(i))
            _sync(dev)
            if i:  # the first round warms kernels/allocator up
                times[b].append((time.perf_counter() - t0) / k)
    res = {f"per_pair_{b}": _stats(t) for b, t in times.items()}
    ref = out["torch"]
    res["n_matches"] = [int((ref.slot == j).sum()) for j in range(k)]
    if "triton" in out:
        res["same_matches"] = bool(np.array_equal(ref.slot, out["triton"].slot) and np.array_equal(
            ref.xy1, out["triton"].xy1) and np.array_equal(ref.xy2, out["triton"].xy2))
    return res


def build_map(tmp: str, size: int):
    """A keyframe map written by the product's writer from rendered frames
    (`realistic_pairs.make_scene`: keyframes around the query, all overlapping it); returns
    (map path, the query `Frame` with its true pose and depth, the keyframe `Frame` list)."""
    from mast3r_ros.core.keyframes import write_map

    keyframes, query = make_scene(N_MAP_KEYFRAMES, CAMERA, seed=size)
    path = os.path.join(tmp, f"map_{size}")
    write_map(path, [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, None)
                     for f in keyframes], overwrite=True)
    return path, query, keyframes


def bench_localize(eng, map_path: str, query, size: int, k: int, dev, repeats: int,
                   keyframes=None, tables=None, old_warmup: bool = False) -> Dict:
    """Whole `Localizer.localize` (the real Localizer, K = max_keyframes candidates chosen by the
    query's pose given as prior) on engine ``eng``; encodings are computed once and cached in the
    map. With ``keyframes`` (the map's `Frame` list) the engine is wrapped in `RealisticEngine`
    (realistic correspondences, from ``tables`` = `realistic_pairs.fabricate_tables`; module
    docstring). Returns the first call after construction and `Localizer.warmup` (as
    `from_config` runs it), the median of ``repeats`` more, how many of all calls localized and
    their pose error against the query's true pose. ``old_warmup``: the warm-up without
    `localizer.warm`'s keyframe preload and camera check (`bench_first_frame.previous_warmup`),
    to compare first frames in one run (issue 9)."""
    from mast3r_ros.core.geometry import pose_error
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer

    cfg = LocalizerConfig(max_keyframes=k, prior_radius_m=100.0)
    used = eng if keyframes is None else RealisticEngine(eng, keyframes, query, size,
                                                         tables=tables)
    loc = Localizer(KeyframeMap.load(map_path), cfg, used, image_size=size)
    try:
        if keyframes is not None:
            used.bind(loc.matcher.encodings)
        with previous_warmup() if old_warmup else contextlib.nullcontext():
            warm = loc.warmup()  # as Localizer.from_config does: the whole path per batch
        _sync(dev)
        prior = query.map_from_cam
        times, stages, errs, ok, results = [], {}, [], 0, []
        first = None
        for _ in range(repeats + 1):
            _sync(dev)
            t0 = time.perf_counter()
            r = loc.localize(query, prior=prior)
            t = time.perf_counter() - t0
            results.append(r)
            if r.success:
                ok += 1
                errs.append(pose_error(query.map_from_cam, r.map_from_cam))
            if first is None:
                first = t
                continue
            times.append(t)
            for s, x in r.timings_s.items():
                stages.setdefault(s, []).append(x)
        out = {"total": _stats(times), "first_ms": first * 1e3,
               "warmup_s": warm["seconds"], "warmup_batches": warm["keyframe_batches"],
               "stages": {s: _stats(x) for s, x in stages.items()},
               "keyframes_matched": len(r.keyframe_ids), "num_matches": r.num_matches,
               "num_inliers": r.num_inliers, "success": r.success, "reason": r.reason,
               "localized": ok, "frames": len(results),
               "pose_error_cm_median": (float(np.median([e[0] for e in errs])) * 100
                                        if errs else None),
               "pose_error_cm_max": float(max(e[0] for e in errs)) * 100 if errs else None,
               "pose_error_deg_max": float(max(e[1] for e in errs)) if errs else None}
        if keyframes is not None:
            encs = [loc.matcher.encodings[i] for i in range(min(k, len(loc.matcher.encodings)))]
            out.update(correspondences="realistic", unrecognised_keyframes=used.misses(),
                       keyframe_view_overlap=used.seen, substitution_ms=used.substitution_ms(encs),
                       pair_tables_mib=used.table_bytes() / 2**20)
        else:
            out["correspondences"] = "network"
        return out
    finally:
        loc.matcher.close()  # the engine is the caller's: not Localizer.close()


def weights_mib(model) -> float:
    """MiB of a model's weights, tied tensors (the DPT's ``layer_rn``/``layerN_rn`` aliases)
    counted once: ``state_dict()`` detaches each name's tensor anew, so they are told apart
    by their storage, not by the tensor object."""
    seen = {(t.untyped_storage().data_ptr(), t.storage_offset(), t.dtype, tuple(t.shape)): t
            for t in model.state_dict().values()}
    return sum(t.numel() * t.element_size() for t in seen.values()) / 2**20


def precision_policy(spec: ModelSpec, precision: str) -> Dict:
    """What the torch engine keeps in fp32 under ``precision`` on CUDA, and the weight bytes
    of each storage policy (`weight_bytes`, meta device)."""
    with torch.device("meta"):
        names = fp32_parameter_names(AsymmetricMASt3R(spec))
    return {"weights_stored": "float32" if precision == "fp32" else precision,
            "fp32_parameters": len(names),
            "fp32_parameter_groups": sorted({n.rsplit(".", 1)[0].split(".")[0] + (
                ".dpt.head.-1" if ".dpt.head." in n else ".*norm*") for n in names}),
            "fp32_compute": ["LayerNorm/softmax (autocast fp32 ops)",
                             "encoder and decoder residual streams",
                             "DPT last 1x1 conv (run_fp32)", "postprocess activations"],
            "weight_bytes": weight_bytes(spec, precision)}


def build(variant: str, model, dev, precision: str, shape, kmax: int, size: int, ckpt: str,
          cache: str):
    if variant == "tensorrt":
        from mast3r_ros.core.model.tensorrt_backend import TensorRTEngine

        return TensorRTEngine.from_checkpoint(ckpt, device=str(dev), size=size, net_shape=shape,
                                              keyframe_batch=kmax, cache_dir=cache)
    mode = "none" if variant == "eager" else variant
    return Mast3rEngine(model, dev, precision, compile=mode, warmup=[shape],
                        warmup_batches=sorted(set([1, kmax])))


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=("tiny", "full"), default="tiny")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[512], choices=(512, 384, 224))
    ap.add_argument("--keyframes", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--variants", nargs="+", default=["eager", "reduce-overhead", "default",
                                                      "tensorrt"],
                    choices=("eager", "default", "reduce-overhead", "tensorrt"))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-localize", action="store_true",
                    help="skip the whole-Localizer timing (needs a fabricated map)")
    ap.add_argument("--correspondences", nargs="+", default=["network", "realistic"],
                    choices=("network", "realistic"),
                    help="whole-Localizer timing on the network's own matches (random weights: "
                         "~1 per pair, no PnP) and/or on realistic ones (realistic_pairs.py)")
    ap.add_argument("--build-only", action="store_true",
                    help="only build (compile, warm up) each variant's engine per size, print "
                         "the build time and exit (fills TORCHINDUCTOR_CACHE_DIR)")
    ap.add_argument("--engine-cache", default="", help="TensorRT engine cache (default: temp)")
    ap.add_argument("--median-distance", type=float, default=0.0,
                    help="rescale the random pointmaps to this median distance in metres "
                         "(scale_pointmaps; random weights put points ~200 m away, where the "
                         "per-pixel relative pts3d error is inflated); 0: as they are")
    ap.add_argument("--json", help="write results here (rewritten after every variant)")
    args = ap.parse_args()

    from mast3r_ros.core.devices import resolve_device
    from mast3r_ros.core.errors import ConfigError

    try:  # a traceback ('Torch not compiled with CUDA enabled') at the first CUDA call else
        dev = resolve_device(args.device)
    except ConfigError as e:
        ap.error(f"--device: {e}")
    spec = TINY_SPEC if args.config == "tiny" else ModelSpec()
    model = random_model(spec, seed=0).eval()
    if args.median_distance > 0:
        from mast3r_ros.core.model.preprocess import normalize

        img = torch.from_numpy(normalize(_images(0, 1)[0][:224, :224]))[None]
        res_scale = scale_pointmaps(model, img, args.median_distance)
        print(f"pointmaps rescaled to a median of {args.median_distance} m (x{res_scale:.3f})")
    kmax = max(args.keyframes)
    res = {"config": args.config, "device": str(dev), "precision": args.precision,
           "torch": torch.__version__, "sizes": {}, "weights": "random (seed 0)",
           "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
           "precision_policy": precision_policy(spec, args.precision),
           "pointmap_median_distance_m": args.median_distance or "random weights as they are"}
    try:
        res["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], text=True,
                                       capture_output=True, check=False).stdout.strip()
    except OSError:
        res["commit"] = ""
    variants = list(args.variants)
    tmp = tempfile.mkdtemp(prefix="bench_gpu_")
    ckpt = ""
    if "tensorrt" in variants:
        try:
            import tensorrt  # noqa: F401

            ckpt = os.path.join(tmp, "random.pth")
            write_checkpoint(ckpt, model)
            res["tensorrt"] = tensorrt.__version__
        except ImportError as e:
            print(f"tensorrt: not available here ({e}); skipped")
            res["tensorrt"] = f"unavailable: {e}"
            variants.remove("tensorrt")
    cache = args.engine_cache or os.path.join(tmp, "trt")

    def save():  # with benchlib's "fallbacks" (a failed CUDA-graph capture, TF32 screen ...)
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            write_json(args.json, res)

    print(f"device {dev} ({res['gpu']}), {args.config} config, {args.precision}, torch "
          f"{torch.__version__}, random weights", flush=True)
    for size in args.sizes:
        shape = network_shape(size, CAMERA)
        out = res["sizes"][str(size)] = {"net_shape_hw": list(shape), "variants": {}}
        if args.build_only:
            for variant in variants:
                t0 = time.perf_counter()
                try:
                    eng = build(variant, model, dev, args.precision, shape, kmax, size, ckpt,
                                cache)
                except Exception as e:  # noqa: BLE001  report and go on
                    print(f"{size} {variant}: build failed: {type(e).__name__}: {e}", flush=True)
                    continue
                dt = time.perf_counter() - t0
                out["variants"][variant] = {"build_warmup_s": dt,
                                            "compile_effective": getattr(eng, "compile", "n/a")}
                print(f"{size} {variant}: built and warmed up (batches 1, {kmax}) in {dt:.1f} s "
                      f"(compile {out['variants'][variant]['compile_effective']})", flush=True)
                del eng
                save()
            continue
        bench_size(args, res, out, model, dev, size, shape, variants, kmax, ckpt, cache, tmp,
                   save)
    save()
    return 0


def bench_size(args, res, out, model, dev, size, shape, variants, kmax, ckpt, cache, tmp,
               save) -> None:
    """Every variant at one network size: the per-stage frame, matching, whole localize."""
    fx = 0.8 * shape[1]
    intr = CameraIntrinsics(shape[1], shape[0], np.array(
        [[fx, 0, (shape[1] - 1) / 2], [0, fx, (shape[0] - 1) / 2], [0, 0, 1.0]]))
    map_path, query, keyframes = (None, None, None) if args.no_localize else build_map(tmp, size)
    tables = None
    if map_path is not None and "realistic" in args.correspondences:
        t0 = time.perf_counter()
        tables = fabricate_tables(keyframes, query, size, shape, model.spec.desc_dim)
        print(f"realistic pairs fabricated for {len(keyframes)} keyframes in "
              f"{time.perf_counter() - t0:.1f} s; the query seen by "
              + ", ".join(f"{x:.0%}" for x in tables[1]), flush=True)
    ref_eng = Mast3rEngine(model, dev, "fp32")
    rgbs = _images(size, kmax + 1)
    preps = [ref_eng.prepare(r, size) for r in rgbs]
    ref_kf = [ref_eng.encode(p) for p in preps[1:]]
    ref = {k: run_frame(ref_eng, preps[0], ref_kf, k, intr, dev) for k in args.keyframes}
    ref = {k: (t, [_to_cpu(p) for p in preds], m, r) for k, (t, preds, m, r) in ref.items()}
    ref_eng.model.cpu()  # the fp32 reference weights leave the device before any variant
    del ref_eng, ref_kf
    _print_header(size, shape)
    for variant in variants:
        base = 0
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
        t0 = time.perf_counter()
        try:
            eng = build(variant, model, dev, args.precision, shape, kmax, size, ckpt, cache)
        except Exception as e:  # noqa: BLE001  report and go on with the other variants
            out["variants"][variant] = {"error": f"{type(e).__name__}: {e}"}
            _print_variant(variant, out["variants"][variant], args.keyframes)
            save()
            continue
        v = out["variants"][variant] = {
            "build_warmup_s": time.perf_counter() - t0,
            "compile_effective": getattr(eng, "compile", "n/a"), "keyframes": {}}
        if dev.type == "cuda":
            # weights: the engine's own tensors; allocated: everything it holds after
            # construction and warm-up (weights, CUDA-graph pools, cached outputs)
            m = getattr(eng, "model", None)
            v["weights_mib"] = weights_mib(m) if m is not None else None
            v["allocated_after_build_mib"] = (torch.cuda.memory_allocated(dev) - base) / 2**20
            v["peak_build_mib"] = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
        kf = [eng.encode(p) for p in preps[1:]]
        for k in args.keyframes:
            first, preds, matches, _ = run_frame(eng, preps[0], kf, k, intr, dev)
            times: Dict[str, List[float]] = {s: [] for s in first}
            for i in range(args.repeats):
                t = run_frame(eng, preps[0], kf, k, intr, dev, seed=i)[0]
                for s, x in t.items():
                    times[s].append(x)
            rp, rm = ref[k][1], ref[k][2]
            v["keyframes"][str(k)] = {
                "stages": {s: _stats(x) for s, x in times.items()},
                "first_frame_ms": {s: x * 1e3 for s, x in first.items()},
                "equivalence_vs_eager_fp32": _equivalence(rp, rm, preds, matches),
                "matching_torch_vs_triton": bench_matching(preds, dev, args.repeats)}
            del preds, matches  # not part of what a localize call holds
            # network's own matches first: its peak memory is the frame's, without the
            # realistic mode's pair tables
            for mode in ([] if map_path is None else args.correspondences):
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(dev)
                try:
                    lr = bench_localize(eng, map_path, query, size, k, dev, args.repeats,
                                        *((keyframes, tables) if mode == "realistic" else ()))
                except Exception as e:  # noqa: BLE001  report and go on
                    lr = {"error": f"{type(e).__name__}: {e}"}
                if mode == "network" and "error" not in lr:
                    try:  # the same with the previous warm-up: issue 9's first frame, old/new
                        old = bench_localize(eng, map_path, query, size, k, dev, args.repeats,
                                             old_warmup=True)
                        lr["old_warmup"] = {"first_ms": old["first_ms"],
                                            "median_ms": old["total"]["median_ms"],
                                            "warmup_s": old["warmup_s"]}
                    except Exception as e:  # noqa: BLE001  report and go on
                        lr["old_warmup"] = {"error": f"{type(e).__name__}: {e}"}
                if dev.type == "cuda":  # whole process: weights + map encodings + frame
                    lr["peak_gpu_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
                    lr["peak_gpu_mib_over_base"] = (
                        torch.cuda.max_memory_allocated(dev) - base) / 2**20
                v["keyframes"][str(k)]["localize" if mode == "network"
                                       else "localize_realistic"] = lr
            save()
        if hasattr(eng, "close") and variant == "tensorrt":
            eng.close()
        del eng
        _print_variant(variant, v, args.keyframes)
        save()


STAGES = ("encode", "decode", "matching", "pnp", "total")


def _print_header(size, shape):
    print(f"\n== size {size} (network {shape[1]}x{shape[0]}), ms median [p90] per stage")
    hdr = f"{'variant':16s} {'K':>2s} " + " ".join(f"{s:>15s}" for s in STAGES)
    print(hdr + f" {'first':>7s} {'peakMiB':>8s} {'build_s':>7s} {'desc':>8s} {'pts3d':>8s}"
          f" {'jacc':>5s}", flush=True)


def _print_variant(name, v, keyframes):
    """The rows of one variant (printed as soon as it is done: a cut run keeps them)."""
    if "error" in v:
        print(f"{name:16s}    {v['error'][:100]}", flush=True)
        return
    for k in keyframes:
        r = v["keyframes"][str(k)]
        cells = " ".join(f"{r['stages'][s]['median_ms']:7.2f} [{r['stages'][s]['p90_ms']:5.1f}]"
                         for s in STAGES)
        e = r["equivalence_vs_eager_fp32"]
        print(f"{name:16s} {k:2d} {cells} {r['first_frame_ms']['total']:7.1f} "
              f"{r.get('localize', {}).get('peak_gpu_mib', float('nan')):8.0f} "
              f"{v['build_warmup_s']:7.1f} "
              f"{e['desc_max_abs']:8.1e} {e['pts3d_rel_p99']:8.1e} "
              f"{e['match_jaccard_min']:5.2f}")
        m = r.get("matching_torch_vs_triton")
        if m:
            print(f"{'':16s} {k:2d}   matching per pair (match_and_fuse): torch "
                  f"{m['per_pair_torch']['median_ms']:.2f} ms"
                  + (f", triton {m['per_pair_triton']['median_ms']:.2f} ms, same matches "
                     f"{m['same_matches']}" if "per_pair_triton" in m else ""))
        for key, what in (("localize", "network's matches"),
                          ("localize_realistic", "realistic matches")):
            lr = r.get(key)
            if lr and "error" in lr:
                print(f"{'':16s} {k:2d}   Localizer.localize ({what}): {lr['error'][:100]}")
            elif lr:
                st = " ".join(f"{n} {x['median_ms']:.1f}" for n, x in lr["stages"].items())
                print(f"{'':16s} {k:2d}   Localizer.localize ({what}): median "
                      f"{lr['total']['median_ms']:.1f} ms [p90 {lr['total']['p90_ms']:.1f}], "
                      f"first {lr['first_ms']:.1f} ms, peak "
                      f"{lr.get('peak_gpu_mib', float('nan')):.0f} MiB (weights "
                      f"{v.get('weights_mib') or float('nan'):.0f}, after warm-up "
                      f"{v.get('allocated_after_build_mib', float('nan')):.0f}) ({st})")
                ow = lr.get("old_warmup") or {}
                if "first_ms" in ow:
                    ratio = lr["first_ms"] / lr["total"]["median_ms"]
                    print(f"{'':16s} {k:2d}     first/median {ratio:.2f} (warm-up "
                          f"{lr['warmup_s']:.2f} s), previous "
                          f"warm-up {ow['first_ms'] / ow['median_ms']:.2f} (first "
                          f"{ow['first_ms']:.1f} / median {ow['median_ms']:.1f} ms, warm-up "
                          f"{ow['warmup_s']:.2f} s)")
                err = ("" if lr["pose_error_cm_median"] is None else
                       f", pose error median {lr['pose_error_cm_median']:.2f} cm, max "
                       f"{lr['pose_error_cm_max']:.2f} cm / {lr['pose_error_deg_max']:.3f} deg")
                extra = ""
                if key == "localize_realistic":
                    extra = (f"; substitution {lr['substitution_ms']:.2f} ms (included), pair "
                             f"tables {lr['pair_tables_mib']:.0f} MiB (in the peak), "
                             f"unrecognised keyframes {lr['unrecognised_keyframes']}")
                print(f"{'':16s} {k:2d}     localized {lr['localized']}/{lr['frames']}{err}; "
                      f"{lr['num_matches']} matches, {lr['num_inliers']} inliers"
                      + ("" if lr["success"] else f" ({lr['reason']})") + extra)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
