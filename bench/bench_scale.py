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
tiny network, 1 worker vs 2 workers, one torch thread each.

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
        from mast3r_ros.core.localizer import encode_image
        from mast3r_ros.core.model.engine import Mast3rEngine

        if self.engine is None:
            self.engine = Mast3rEngine.from_checkpoint(self.ckpt, device="cpu")
        rgb = np.random.default_rng(i).integers(0, 255, (480, 640, 3), dtype=np.uint8)
        arrays, to_orig, glob = encode_image(self.engine, rgb, 512)
        return {**arrays, "to_orig": to_orig, "global": glob}


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
    args = ap.parse_args()
    if args.build:
        run_build(args.build)
        return
    for k in args.sizes:
        if k >= 100000 and not args.allow_1e5:
            print(f"size {k}: skipped (pass --allow-1e5; needs about "
                  f"{disk_need_gb(k, args.shape):.0f} GB)", file=sys.stderr)
            continue
        print(json.dumps(run_size(k, args)), flush=True)


if __name__ == "__main__":
    main()
