"""Scale benchmark for issue 11: fabricated maps of 10^3 / 10^4 (/ 10^5) keyframes.

For each size it writes an encoding store (core/encoding_store.py) of the real per-keyframe
shapes (``--shape full``: ViT-L at 512x384, feats (768, 1024) fp16 = 1.5 MB per keyframe;
``--shape tiny``: the tiny test network's (768, 32)) and a retrieval index over (K, 1024)
trajectory-like unit-norm global descriptors, then, in a fresh process (so RSS is honest):

* open time: parse the store table + load the retrieval index (checksums verified),
* RSS after open, relative to the same process before opening,
* per-query retrieval time (median over queries) exact vs approximate, and recall@10,
* RSS growth over 1 000 random keyframe reads through the LRU cache (``--cache-mb``), and the
  median read time (cache misses include the lazy checksum of a chunk on first use).

``--build N`` instead measures the throughput of `replay.parallel_build.build_encodings` with the
tiny network, 1 worker vs 2 workers, one torch thread each (``--pin`` pins each worker to its
own core with ``os.sched_setaffinity``, to isolate the figure from other load).

``--localize`` instead fabricates whole v2 maps (`core.keyframes.MapWriter`: keyframe PNGs,
encoding store of tiny-network encodings, retrieval indexes) of each size and measures, in a fresh
process, with the real `Localizer` and the tiny network at ``--image-size``: map open time
(``KeyframeMap.load(lazy=True)``), RSS after open, per-frame localization latency (median over
``--frames`` frames, global retrieval every frame) and RSS growth over them.

Sizes of 10^5 need ``--allow-1e5`` (full shapes: about 157 GB of disk; the script estimates the
disk need first and refuses when the target folder lacks it). Prints one JSON line per size.

    PYTHONPATH=. python bench/bench_scale.py --sizes 1000 10000 --out /tmp/scale
    PYTHONPATH=. python bench/bench_scale.py --build 64
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: the per-query figures are for one core, and a multi-threaded BLAS
# spin-waits badly on a loaded 2-core machine. Set before numpy/faiss load their runtimes.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any, Dict  # noqa: E402

import numpy as np  # noqa: E402

from mast3r_ros.core.encoding_store import (  # noqa: E402
    EncodingStore, EncodingStoreWriter, StoreTable)
from mast3r_ros.core.retrieval_index import IndexParams, RetrievalIndex  # noqa: E402

SHAPES = {"full": (768, 1024), "tiny": (768, 32)}
DESC_DIM = 1024


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def fabricate_descs(k: int, seed: int = 0) -> np.ndarray:
    """Trajectory-like descriptors: groups of 200 views of one place, noisy, unit-norm."""
    rng = np.random.default_rng(seed)
    places = rng.standard_normal((k // 200 + 1, DESC_DIM)).astype(np.float32)
    x = places[np.arange(k) // 200] + 0.5 * rng.standard_normal((k, DESC_DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_map(folder: str, k: int, shape: str, chunk_size: int) -> Dict[str, Any]:
    n, c = SHAPES[shape]
    descs = fabricate_descs(k)
    base = np.random.default_rng(1).standard_normal((n, c)).astype(np.float16)
    t0 = time.perf_counter()
    w = EncodingStoreWriter(os.path.join(folder, "enc"), chunk_size=chunk_size,
                            cast={"feats": np.float16})
    for i in range(k):
        feats = base.copy()
        feats[0, :] = i % 60000  # distinct content per keyframe, cheaply (fp16 range)
        w.append({"feats": feats, "true_shape": np.array([384, 512], np.int64),
                  "to_orig": np.eye(3), "global": descs[i]})
    table = w.close()
    t_store = time.perf_counter() - t0
    with open(os.path.join(folder, "store.json"), "w") as fh:
        json.dump({"table": table.to_json(), "files": table.files}, fh)
    t0 = time.perf_counter()
    RetrievalIndex.build(descs, IndexParams(approx_threshold=1)).save(
        os.path.join(folder, "ri_approx"))
    t_index = time.perf_counter() - t0
    RetrievalIndex.build(descs, IndexParams(approx_threshold=10 ** 9)).save(
        os.path.join(folder, "ri_exact"))
    return {"write_store_s": round(t_store, 1), "build_index_s": round(t_index, 1)}


def measure(folder: str, k: int, cache_mb: float, out: Any) -> None:
    """Runs in a fresh process; puts a dict into ``out`` (a queue)."""
    import faiss  # noqa: F401  (imported before the baseline, as a map loader would)

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    with open(os.path.join(folder, "store.json")) as fh:
        meta = json.load(fh)
    table = StoreTable.from_json(meta["table"], meta["files"], "bench")
    store = EncodingStore(os.path.join(folder, "enc"), table, cache_mb=cache_mb)
    index = RetrievalIndex.load(os.path.join(folder, "ri_approx"))
    open_s = time.perf_counter() - t0
    rss_open = _rss_mb() - rss0
    exact = RetrievalIndex.load(os.path.join(folder, "ri_exact"))
    rng = np.random.default_rng(2)
    descs = np.asarray(exact.descs)
    qs = descs[rng.choice(k, 200)] + 0.02 * rng.standard_normal((200, DESC_DIM)).astype(
        np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    t_exact, t_approx, hits = [], [], []
    for q in qs:
        t = time.perf_counter()
        ref = exact.search(q, 10)
        t_exact.append(time.perf_counter() - t)
        t = time.perf_counter()
        got = index.search(q, 10)
        t_approx.append(time.perf_counter() - t)
        hits.append(len(set(ref) & set(got)) / 10)
    del descs
    rss1 = _rss_mb()
    t_read = []
    for i in rng.integers(0, k, 1000):
        t = time.perf_counter()
        store.get(int(i))
        t_read.append(time.perf_counter() - t)
    out.put({"open_s": round(open_s, 3), "rss_after_open_mb": round(rss_open, 1),
             "retrieval_exact_ms": round(1e3 * float(np.median(t_exact)), 3),
             "retrieval_approx_ms": round(1e3 * float(np.median(t_approx)), 3),
             "recall_at_10": round(float(np.mean(hits)), 4),
             "rss_growth_1000_reads_mb": round(_rss_mb() - rss1, 1), "cache_mb": cache_mb,
             "read_median_ms": round(1e3 * float(np.median(t_read)), 3),
             "read_p99_ms": round(1e3 * float(np.percentile(t_read, 99)), 3),
             "index_kind": index.kind})


def disk_need_gb(k: int, shape: str) -> float:
    n, c = SHAPES[shape]
    per_kf = n * c * 2 + 16 + 72 + DESC_DIM * 4
    return (k * per_kf + 3 * k * DESC_DIM * 4) / 1e9


def run_size(k: int, args: argparse.Namespace) -> Dict[str, Any]:
    need = disk_need_gb(k, args.shape)
    free = shutil.disk_usage(args.out).free / 1e9
    if need * 1.2 > free:
        raise SystemExit(f"size {k}: needs about {need:.1f} GB, {free:.1f} GB free in {args.out}")
    folder = tempfile.mkdtemp(prefix=f"scale{k}-", dir=args.out)
    try:
        row: Dict[str, Any] = {"keyframes": k, "shape": args.shape, "disk_gb": round(need, 2)}
        row.update(write_map(folder, k, args.shape, args.chunk_size))
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=measure, args=(folder, k, args.cache_mb, q))
        p.start()
        row.update(q.get())
        p.join()
        return row
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class TinyEncode:
    """Encode keyframe i (a seeded random 640x480 image) with the tiny network; the engine is
    loaded on the first call in each worker process."""

    def __init__(self, ckpt: str):
        self.ckpt = ckpt
        self.engine = None

    def __getstate__(self):
        return {"ckpt": self.ckpt, "engine": None}

    def __call__(self, i: int) -> Dict[str, np.ndarray]:
        from mast3r_ros.core.matchers.mast3r import encode_keyframe
        from mast3r_ros.core.model.engine import Mast3rEngine

        if self.engine is None:
            self.engine = Mast3rEngine.from_checkpoint(self.ckpt, device="cpu")
            if PIN:
                _pin_to_one_core()
        rgb = np.random.default_rng(i).integers(0, 255, (480, 640, 3), dtype=np.uint8)
        e = encode_keyframe(self.engine, rgb, 512)
        return {**e.arrays, "to_orig": e.to_orig, "global": e.global_desc}


PIN = os.environ.get("BENCH_SCALE_PIN") == "1"


def _pin_to_one_core() -> None:
    """Pin this worker process to one core, chosen by its pid (two workers: cores 0 and 1)."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[os.getpid() % len(cores)]})


def run_build(n: int) -> None:
    from benchlib import write_tiny_checkpoint
    from mast3r_ros.replay.parallel_build import build_encodings

    tmp = tempfile.mkdtemp(prefix="scale-build-")
    try:
        ckpt = write_tiny_checkpoint(os.path.join(tmp, "tiny.pth"))
        rows, ref = {}, None
        for workers in (1, 2, 1, 2):
            staging = tempfile.mkdtemp(dir=tmp)
            stamps = []
            table = build_encodings(n, TinyEncode(ckpt), staging, workers=workers, threads=1,
                                    shard_size=4, progress=False,
                                    on_shard=lambda s, st=stamps: st.append(time.perf_counter()))
            # steady state: once every worker has finished a shard (process start-up, torch
            # import and model load excluded; they are paid once per build, not per keyframe)
            rows.setdefault(workers, []).append(
                4 * (len(stamps) - workers) / (stamps[-1] - stamps[workers - 1]))
            store = EncodingStore(staging, table, cache_mb=0)
            feats = np.stack([store.get(i)["feats"] for i in range(n)])
            ref = feats if ref is None else ref
            assert np.array_equal(feats, ref), "workers changed the encodings"
        best = {w: max(v) for w, v in rows.items()}
        print(json.dumps({"build_keyframes": n, "kf_per_s_1_worker": round(best[1], 2),
                          "kf_per_s_2_workers": round(best[2], 2),
                          "speedup": round(best[2] / best[1], 2),
                          "note": "steady state once each worker finished a shard"}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------- --localize (v2 maps) ---

def fabricate_v2_map(folder: str, k: int, ckpt: str, image_size: int) -> str:
    """A v2 map of ``k`` keyframes at 640x480: one flat PNG shared by all (bytes reused), random
    poses on a 100 m line, tiny-network encodings of 8 real renders repeated with a per-keyframe
    marker, fabricated pooled / thumbnail descriptors. Returns the map path."""
    import cv2

    from mast3r_ros.core.geometry import make_pose
    from mast3r_ros.core.keyframes import MapWriter
    from mast3r_ros.core.keyframes.layout import intrinsics_to_json, sha256_hex
    from mast3r_ros.core.matchers.mast3r import encode_keyframe
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    cam = default_intrinsics(640, 480)
    frames = list(render_frames(8, default_intrinsics(640, 480), seed=0))
    eng = Mast3rEngine.from_checkpoint(ckpt, device="cpu")
    encs = [encode_keyframe(eng, f.rgb, image_size) for f in frames]
    eng.close()
    ok, png = cv2.imencode(".png", np.full((480, 640, 3), 128, np.uint8))
    png = png.tobytes()
    digest = sha256_hex(png)
    w = MapWriter(os.path.join(folder, "map"), index_params=IndexParams())
    rng = np.random.default_rng(0)
    glob = fabricate_descs(k)[:, :encs[0].global_desc.shape[0]]
    glob /= np.linalg.norm(glob, axis=1, keepdims=True)
    thumbs = fabricate_descs(k, seed=1)[:, :224]
    thumbs /= np.linalg.norm(thumbs, axis=1, keepdims=True)
    for i in range(k):
        rel = f"keyframes/{i:06d}.png"
        with open(os.path.join(w.tmp, rel), "wb") as fh:
            fh.write(png)
        w.files[rel] = {"sha256": digest, "bytes": len(png)}
        pose = make_pose(np.eye(3), [100.0 * i / k, rng.uniform(-1, 1), 0.0])
        w.records.append({"id": i, "stamp_ns": i, "image": rel, "depth": None,
                          "depth_scale": 0.0, "intrinsics": intrinsics_to_json(cam),
                          "map_from_cam": [float(v) for v in pose.reshape(-1)]})
        w.thumbs.append(thumbs[i])
    ident = "bench-tiny"
    sw = EncodingStoreWriter(w.encoding_dir(ident, image_size), cast={"feats": np.float16})
    for i in range(k):
        e = encs[i % len(encs)]
        feats = e.arrays["feats"].copy()
        feats[0, 0] = i % 60000
        sw.append({"feats": feats, "true_shape": e.arrays["true_shape"], "to_orig": e.to_orig,
                   "global": glob[i]})
    w.add_encoding_store(ident, image_size, sw.close(), glob)
    return w.commit()


def measure_localize(path: str, ckpt: str, image_size: int, frames: int, out: Any) -> None:
    """Fresh process: open the map lazily, localize ``frames`` frames with global retrieval."""
    import torch

    torch.set_num_threads(1)
    from mast3r_ros.core.config import LocalizerConfig, PnPConfig
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    queries = list(render_frames(8, default_intrinsics(640, 480), seed=3))
    eng = Mast3rEngine.from_checkpoint(ckpt, device="cpu")
    eng.identity = "bench-tiny"  # the identity the fabricated map's encodings are stored under
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    m = KeyframeMap.load(path, lazy=True, encoding_cache_mb=256)
    # random weights give random matches: RANSAC would run its full 10 000 iterations on every
    # frame and hide the map-size effect; 500 keeps PnP's share bounded and equal at every size
    cfg = LocalizerConfig(matcher="mast3r", pnp=PnPConfig(max_iterations=500))
    loc = Localizer(m, cfg, eng, image_size=image_size,
                    recompute_encodings=False)
    open_s = time.perf_counter() - t0
    rss_open = _rss_mb() - rss0
    for f in queries[:3]:  # warm-up: first-call allocations are not growth
        loc.localize(f, force_global=True)
    rss1 = _rss_mb()
    lat, parts = [], {}
    for i in range(frames):
        t = time.perf_counter()
        r = loc.localize(queries[i % len(queries)], force_global=True)
        lat.append(time.perf_counter() - t)
        for name, v in r.timings_s.items():
            parts.setdefault(name, []).append(v)
    # the map-dependent part of a frame (retrieval + candidate choice + fetching the candidates'
    # encodings through the LRU) over 1 000 frames of random places, without the network
    from mast3r_ros.core.retrieval import pose_consistent_subset

    rng = np.random.default_rng(4)
    poses = loc.keyframe_poses()
    dim = loc.retrieval.index.descs.shape[1]
    rss2, side = _rss_mb(), []
    for _ in range(1000):
        q = rng.standard_normal(dim).astype(np.float32)
        t = time.perf_counter()
        cand = pose_consistent_subset(loc.retrieval.index.search(q / np.linalg.norm(q), 5),
                                      poses, 2)
        for c in cand:
            loc.matcher.encodings[c]
            loc.matcher.enc_set.to_orig[c]
        side.append(time.perf_counter() - t)
    out.put({"open_s": round(open_s, 3), "rss_after_open_mb": round(rss_open, 1),
             "map_side_median_ms_1000_frames": round(1e3 * float(np.median(side)), 3),
             "map_side_rss_growth_1000_frames_mb": round(_rss_mb() - rss2, 1),
             "localize_median_ms": round(1e3 * float(np.median(lat)), 1),
             "localize_p90_ms": round(1e3 * float(np.percentile(lat, 90)), 1),
             "median_ms_by_stage": {n: round(1e3 * float(np.median(v)), 2)
                                    for n, v in parts.items()},
             "frames": frames, "rss_growth_mb": round(_rss_mb() - rss1, 1),
             "retrieval": loc.retrieval.method, "index_kind": loc.retrieval.index.kind})
    loc.close()


def run_localize(k: int, args: argparse.Namespace) -> Dict[str, Any]:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test"))
    from mast3r_test_utils import write_tiny_checkpoint

    folder = tempfile.mkdtemp(prefix=f"scale-loc{k}-", dir=args.out)
    try:
        ckpt = write_tiny_checkpoint(os.path.join(folder, "tiny.pth"))
        t0 = time.perf_counter()
        path = fabricate_v2_map(folder, k, ckpt, args.image_size)
        row: Dict[str, Any] = {"keyframes": k, "image_size": args.image_size,
                               "fabricate_s": round(time.perf_counter() - t0, 1)}
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=measure_localize,
                        args=(path, ckpt, args.image_size, args.frames, q))
        p.start()
        row.update(q.get())
        p.join()
        return row
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--allow-1e5", action="store_true", help="allow sizes >= 100000")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="full")
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--cache-mb", type=float, default=256.0)
    ap.add_argument("--out", default=tempfile.gettempdir(), help="folder for the fabricated maps")
    ap.add_argument("--build", type=int, default=0, metavar="N",
                    help="measure parallel encoding throughput on N keyframes instead")
    ap.add_argument("--pin", action="store_true",
                    help="--build: pin each worker process to its own core")
    ap.add_argument("--localize", action="store_true",
                    help="per-frame localization latency and RSS growth on fabricated v2 maps")
    ap.add_argument("--frames", type=int, default=1000, help="--localize: frames localized")
    ap.add_argument("--image-size", type=int, default=224, help="--localize: network size")
    args = ap.parse_args()
    if args.build:
        if args.pin:
            os.environ["BENCH_SCALE_PIN"] = "1"  # read by the spawned workers
            global PIN
            PIN = True
        run_build(args.build)
        return
    if args.localize:
        for k in args.sizes:
            if k >= 100000 and not args.allow_1e5:
                print(f"size {k}: skipped (pass --allow-1e5)", file=sys.stderr)
                continue
            print(json.dumps(run_localize(k, args)), flush=True)
        return
    for k in args.sizes:
        if k >= 100000 and not args.allow_1e5:
            print(f"size {k}: skipped (pass --allow-1e5; needs about "
                  f"{disk_need_gb(k, args.shape):.0f} GB)", file=sys.stderr)
            continue
        print(json.dumps(run_size(k, args)), flush=True)


if __name__ == "__main__":
    main()
