#!/usr/bin/env python3
"""Benchmark: MASt3R retrieval (trainingfree head + ASMK) -- query cost, scale, codebook RAM.

(a) Query-side cost over the encoder, tiny config, CPU, one 512x384 image: the tiny MASt3R
    encoder (enc 32, 2 blocks) is timed, then what retrieval adds on top of it -- head
    (pre-whitening), top-300 selection, 5-NN quantisation on a 64-word codebook, aggregation,
    scoring against a 6-image index.
(a') The same steps at the official sizes (C = D = 1024, 300 features, 65 536 words), which
    the codebook search dominates (~40 GFLOP per image): the previous search
    (bench/asmk_prev.py) and the current one timed in turn, same words asserted; with
    ``--device cuda`` also on the GPU.
(b) Retrieval among ``--keyframes`` (default 1e5) fabricated ASMK representations at the
    official sizes (D 1024 -> 128-byte codes, 65 536 words): each keyframe's 300 features
    (``--features-per-keyframe``) fall on words drawn with frequency ~ rank^-0.5 (``--zipf``;
    uneven posting lists like a real codebook's), distinct words kept; a query = 300 features
    x 5 words drawn the same way, distinct kept (~1 450 words); random codes. The previous
    scoring (bench/asmk_prev.py) and the current one per backend (numpy, faiss when
    installed), single-threaded, plus the current default with ``--threads``, timed in turn
    per query (same scores asserted); the index RAM, and as a same-process baseline one read
    pass over as many code bytes as a query scores (memory bandwidth right now).
(c) Codebook RAM: a fabricated 65 536 x 1024 float32 codebook pickled like the official file,
    loaded through the safe loader in a fresh process: resident size and high-water mark.

    With ``--backends ...,torch`` also the torch backend (inverted file on ``--device``,
    `AsmkIndex.top_k`); the top-10 of every query asserted equal across the backends.

Usage: python bench/bench_retrieval.py [--keyframes 100000] [--repeats 10] [--threads 1]
       [--device cuda] [--backends before,numpy,faiss,torch] [--skip-tiny] [--skip-official]
       [--smoke] [--json out.json]
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
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "test"))

from mast3r_ros.core.asmk import AsmkIndex, AsmkVector, Codebook, aggregate_query  # noqa: E402
from mast3r_ros.core.retrieval_model import (AsmkRetriever, RetrievalHead,  # noqa: E402
                                             spec_from_args)

K_OFF, D_OFF = 65536, 1024


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> Dict[str, float]:
    for _ in range(warmup):
        fn()
    t: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t)}


def bench_query_tiny(repeats: int) -> Dict[str, object]:
    from benchlib import write_tiny_checkpoint
    from mast3r_ros.core.model.engine import Mast3rEngine
    from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

    tmp = tempfile.mkdtemp(prefix="bench_retrieval_")
    ckpt = write_tiny_checkpoint(os.path.join(tmp, "tiny.pth"), seed=0)
    rck = write_retrieval_checkpoint(os.path.join(tmp, "tiny_retrieval_trainingfree.pth"), 32)
    rng = np.random.default_rng(0)
    write_codebook(os.path.join(tmp, "tiny_retrieval_codebook.pkl"),
                   rng.standard_normal((64, 32)).astype(np.float32))
    engine = Mast3rEngine.from_checkpoint(ckpt, device="cpu")
    retriever = AsmkRetriever.from_files(rck, None, enc_dim=32)
    rgb = (rng.random((384, 512, 3)) * 255).astype(np.uint8)
    img = engine.prepare(rgb, 512)
    encs = [torch.randn(768, 32, generator=torch.Generator().manual_seed(i)) for i in range(6)]
    index = retriever.build_index(encs)
    enc = engine.encode(img).feats
    out = {"encoder": median_ms(lambda: engine.encode(img), repeats),
           "retrieval_over_encoder": median_ms(lambda: retriever.scores(index, enc), repeats * 5),
           "head_only": median_ms(lambda: retriever.local_features(enc), repeats * 5)}
    return out


def _interleaved(variants: Dict[str, Callable[[int], object]], rounds: int, warmup: int = 1
                 ) -> Dict[str, Dict[str, float]]:
    """Time every variant once per round, in turn (load on a shared machine hits all alike);
    the callables get the round number. Returns median/min/max ms per variant."""
    times: Dict[str, List[float]] = {k: [] for k in variants}
    for r in range(-warmup, rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn(max(r, 0))
            if r >= 0:
                times[name].append((time.perf_counter() - t0) * 1e3)
    return {k: {"median_ms": statistics.median(v), "min_ms": min(v), "max_ms": max(v)}
            for k, v in times.items()}


def bench_query_official(repeats: int, device: str) -> Dict[str, object]:
    """Head + 5-NN codebook search + aggregation at the official sizes; the codebook search
    before (64-row matmuls over all words) and after (chunked), same words asserted."""
    import asmk_prev as prev

    spec = spec_from_args(argparse.Namespace(prewhiten=0, hdims="", nfeat=300, nclusters="64k"))
    head = RetrievalHead(spec, D_OFF).eval()
    rng = np.random.default_rng(1)
    cb = Codebook(rng.standard_normal((K_OFF, D_OFF), dtype=np.float32), "64k")
    enc = torch.randn(768, D_OFF, generator=torch.Generator().manual_seed(0))
    feats = head(enc).feats.numpy()
    words = cb.quantize(feats, 5)
    assert np.array_equal(words, prev.quantize(cb, feats, 5)), "codebook search changed words"
    rounds = max(2, repeats // 3)
    res: Dict[str, object] = {"cpu_quantize": _interleaved(
        {"before": lambda r: prev.quantize(cb, feats, 5),
         "after": lambda r: cb.quantize(feats, 5)}, rounds),
        "cpu_head_plus_aggregation_after": median_ms(
            lambda: aggregate_query(head(enc).feats.numpy(), cb), rounds, warmup=1)}
    if device.startswith("cuda") and torch.cuda.is_available():
        try:
            res.update(_official_gpu(device, spec, cb, enc, feats, words, repeats))
        except Exception as e:  # noqa: BLE001 -- keep the CPU figures of this run
            res["gpu_error"] = f"{type(e).__name__}: {e}"
            print("GPU part failed:", res["gpu_error"])
    return res


def _official_gpu(device: str, spec, cb: Codebook, enc: torch.Tensor, feats: np.ndarray,
                  words: np.ndarray, repeats: int) -> Dict[str, object]:
    import asmk_prev as prev

    res: Dict[str, object] = {}
    gcb = Codebook(cb.centroids, "64k").to(device)
    ghead = RetrievalHead(spec, D_OFF).eval().to(device)
    genc = enc.to(device)
    assert np.array_equal(gcb.quantize(feats, 5), words), "GPU search changed words"
    res["gpu_quantize"] = _interleaved(
        {"before": lambda r: prev.quantize(gcb, feats, 5),
         "after": lambda r: gcb.quantize(feats, 5)}, repeats, warmup=2)
    res["gpu_head_plus_aggregation_after"] = median_ms(
        lambda: aggregate_query(ghead(genc).feats.cpu().numpy(), gcb), repeats)
    res["gpu"] = torch.cuda.get_device_name(0)
    return res


def _word_shuffle() -> np.ndarray:
    """Word id of each frequency rank (fixed), shared by the database and the queries."""
    return np.random.default_rng(12345).permutation(K_OFF)


def fabricated_index(n_kf: int, nfeat: int, zipf: float, seed: int = 0) -> AsmkIndex:
    """Official-size inverted file: each keyframe's ``nfeat`` features go to words drawn with
    probability ~ rank^-zipf (word ids shuffled), distinct words kept (1-NN side); codes random.
    Ranks by the continuous inverse CDF ``floor(K u^(1/(1-zipf)))`` (zipf < 1)."""
    rng = np.random.default_rng(seed)
    perm = _word_shuffle().astype(np.uint16)
    u = rng.random((n_kf, nfeat))
    words = perm[np.minimum((K_OFF * u ** (1.0 / (1.0 - zipf))).astype(np.int64), K_OFF - 1)]
    del u
    words.sort(axis=1)
    keep = np.ones(words.shape, bool)
    keep[:, 1:] = words[:, 1:] != words[:, :-1]
    counts = keep.sum(1).astype(np.int32)
    flat = words[keep]
    del words, keep
    order = np.argsort(flat, kind="stable")  # uint16: radix sort
    offsets = np.zeros(K_OFF + 1, np.int64)
    np.cumsum(np.bincount(flat, minlength=K_OFF), out=offsets[1:])
    ids = np.repeat(np.arange(n_kf, dtype=np.int32), counts)[order]
    del order, flat
    codes = np.frombuffer(rng.bytes(len(ids) * (D_OFF // 8)), np.uint8).reshape(len(ids), -1)
    return AsmkIndex(offsets, ids, codes, counts, D_OFF, "fabricated")


def fabricated_query(rng: np.random.Generator, nfeat: int, zipf: float) -> AsmkVector:
    """``nfeat`` features x 5 words each, drawn like the database's words, distinct kept."""
    perm = _word_shuffle()
    r = np.minimum((K_OFF * rng.random(nfeat * 5) ** (1.0 / (1.0 - zipf))).astype(np.int64),
                   K_OFF - 1)
    w = np.unique(perm[r])
    return AsmkVector(w, np.frombuffer(rng.bytes(len(w) * (D_OFF // 8)), np.uint8)
                      .reshape(len(w), -1))


def bench_scale(n_kf: int, nfeat: int, zipf: float, repeats: int, threads: List[int],
                backends: List[str] = ("before", "numpy", "faiss"), device: str = "cpu",
                top: int = 10) -> Dict[str, object]:
    """(b): ``backends`` among 'before' (bench/asmk_prev.py), 'numpy', 'faiss' (skipped when
    not installed), 'torch' (AsmkIndex.top_k on ``device``: the inverted file copied there at
    the first query, timed apart). CPU backends are timed as ``query`` (all scores), 'torch'
    as ``top_k`` (scores, ranking and the transfer of the top ``top``). Every query's top
    ``top`` ids are asserted equal across backends (scores within 1e-12 relative), and the
    first query's full scores."""
    import asmk_prev as prev
    from mast3r_ros.core.asmk.codes import _faiss

    t0 = time.perf_counter()
    index = fabricated_index(n_kf, nfeat, zipf)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(7)
    queries = [fabricated_query(rng, nfeat, zipf) for _ in range(repeats)]
    res: Dict[str, object] = {}
    backends = [b for b in backends if b != "faiss" or _faiss() is not None]
    if len(backends) == 0:
        raise SystemExit("--backends: none of them is available")
    cpu = [b for b in backends if b in ("numpy", "faiss")]
    views = {b: AsmkIndex(index.offsets, index.image_ids, index.codes, index.words_per_image,
                          index.dim, backend=b) for b in backends if b != "before"}
    variants: Dict[str, Callable[[int], object]] = {}
    full: Dict[str, Callable[[AsmkVector], np.ndarray]] = {}
    if "before" in backends:
        variants["before"] = lambda r: prev.query(index, queries[r], threads=1)
        full["before"] = lambda q: prev.query(index, q, threads=1)
    for b in cpu:
        variants[f"after_{b}"] = lambda r, b=b: views[b].query(queries[r], threads=1)
        full[b] = lambda q, b=b: views[b].query(q)
    for nt in threads:
        if nt > 1 and cpu:
            variants[f"after_{cpu[-1]}_{nt}threads"] = \
                lambda r, nt=nt: views[cpu[-1]].query(queries[r], threads=nt)
    if "torch" in backends:
        tv = views["torch"].to(device)
        if tv.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        tv.top_k(queries[0], top)  # copies the inverted file to the device
        res["torch_first_query_with_copy_s"] = time.perf_counter() - t0
        res["torch_device_index_MB"] = sum(
            t.numel() * t.element_size() for t in tv._dev) / 2 ** 20
        variants[f"after_torch_{tv.device.type}"] = lambda r: tv.top_k(queries[r], top)
        full["torch"] = lambda q: tv.query(q)
    # same results everywhere: full scores of query 0, top ids of every query
    names = list(full)
    ref = full[names[0]](queries[0])
    for b in names[1:]:
        np.testing.assert_allclose(full[b](queries[0]), ref, rtol=1e-12, atol=0, err_msg=b)
    for qi, q in enumerate(queries):
        want = None
        for b in names:
            if b == "torch":
                ids, sc = views["torch"].top_k(q, top)
            else:
                s_ = full[b](q)
                ids = np.argsort(-s_, kind="stable")[:top]
                sc = s_[ids]
            if want is None:
                want = (ids, sc)
            else:
                assert np.array_equal(ids, want[0]), f"top-{top} of query {qi}: {b} differs"
                np.testing.assert_allclose(sc, want[1], rtol=1e-12, atol=0, err_msg=b)
    res["top_equal_across_backends"] = {"backends": names, "queries": len(queries),
                                        "top": top}
    timing = _interleaved(variants, repeats)
    if "torch" in backends and views["torch"].device.type == "cuda":
        res["torch_peak_device_MB"] = torch.cuda.max_memory_allocated() / 2 ** 20
        res["gpu"] = torch.cuda.get_device_name(0)
    scored = [int((index.offsets[q.words + 1] - index.offsets[q.words]).sum()) for q in queries]
    src = index.codes[:max(scored)]  # baseline: one read pass over as many code bytes
    baseline = median_ms(lambda: int(src.view(np.uint64).sum()), repeats)
    p = np.diff(index.offsets) / len(index.image_ids)
    return {"keyframes": n_kf, "features_per_keyframe": nfeat, "zipf": zipf,
            "words_per_keyframe": float(index.words_per_image.mean()),
            "posting_skew_K_sum_p2": float(K_OFF * (p ** 2).sum()),
            "longest_posting_list": int(np.diff(index.offsets).max()),
            "query_words": int(np.mean([q.num_words for q in queries])),
            "entries_scored_per_query": int(np.mean(scored)),
            "query": timing, "read_scored_bytes": baseline,
            "index_MB": index.nbytes / 2 ** 20,
            "query_scratch_MB": 20 * max(scored) / 2 ** 20, "fabricate_s": build_s, **res}


_RAM_CHILD = """
import sys
from mast3r_ros.core.asmk import load_codebook
def st(k):
    return int([l for l in open('/proc/self/status') if l.startswith(k)][0].split()[1]) / 1024
r0 = st('VmRSS')
cb = load_codebook(sys.argv[1], '64k')
after_load = (st('VmRSS') - r0, st('VmHWM') - r0)
import numpy as np
cb.quantize(np.random.default_rng(0).standard_normal((300, 1024), dtype=np.float32), 5)
print(after_load[0], after_load[1], st('VmRSS') - r0, st('VmHWM') - r0)
"""


def bench_codebook_ram() -> Dict[str, float]:
    from retrieval_test_utils import write_codebook

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cb.pkl")
        write_codebook(path, np.random.default_rng(0).standard_normal((K_OFF, D_OFF),
                                                                      dtype=np.float32), "64k")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        res = subprocess.run([sys.executable, "-c", _RAM_CHILD, path], env=env,
                             capture_output=True, text=True, check=True)
    a, b, c, d = (float(v) for v in res.stdout.split())
    return {"file_MB": K_OFF * D_OFF * 4 / 2 ** 20, "rss_after_load_MB": a,
            "peak_during_load_MB": b, "rss_after_quantize_MB": c, "peak_with_quantize_MB": d}


def _ms(d: Dict[str, float]) -> str:
    return f"{d['median_ms']:.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--keyframes", type=int, default=100_000)
    ap.add_argument("--features-per-keyframe", type=int, default=300,
                    help="features kept per image (the official head's nfeat)")
    ap.add_argument("--zipf", type=float, default=0.5,
                    help="word frequency ~ rank^-zipf (0 = uniform; < 1)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (codebook search)")
    ap.add_argument("--score-threads", default=None,
                    help="scoring is timed single-threaded and with these thread counts, e.g. "
                         "'4,8' (default: --threads)")
    ap.add_argument("--device", default="cpu",
                    help="also time the codebook search on it, and the 'torch' backend")
    ap.add_argument("--backends", default="before,numpy,faiss",
                    help="(b) scoring backends, comma-separated: before (asmk_prev), numpy, "
                         "faiss (when installed), torch (on --device)")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds on a CPU: 1000 keyframes x 100 features, 2 repeats, (b) "
                         "only, all backends (torch on --device)")
    ap.add_argument("--skip-official", action="store_true", help="skip (a') official sizes")
    ap.add_argument("--skip-tiny", action="store_true", help="skip (a) and (c)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.smoke:
        args.keyframes, args.features_per_keyframe, args.repeats = 1000, 100, 2
        args.skip_tiny = args.skip_official = True
        args.backends = "before,numpy,faiss,torch"
    torch.set_num_threads(args.threads)
    from mast3r_ros.core.asmk.codes import _faiss

    res: Dict[str, object] = {"torch": torch.__version__, "numpy": np.__version__,
                              "faiss": getattr(_faiss(), "__version__", None),
                              "cpu_threads": args.threads, "cpus": os.cpu_count(),
                              "loadavg_start": os.getloadavg()[0]}
    print(f"torch {torch.__version__}, numpy {np.__version__}, faiss {res['faiss']}, "
          f"{args.threads} torch thread(s) of {os.cpu_count()} CPUs, load average "
          f"{res['loadavg_start']:.1f}; 'before' = bench/asmk_prev.py, timed in turn with "
          "'after' in the same run")
    if not args.skip_tiny:
        res["tiny_query"] = t = bench_query_tiny(args.repeats)
        print(f"(a) tiny, CPU: encoder {_ms(t['encoder'])}; retrieval on top (head + ASMK + "
              f"scoring vs 6 images) {t['retrieval_over_encoder']['median_ms']:.2f} ms (head "
              f"alone {t['head_only']['median_ms']:.2f} ms)")
    if not args.skip_official:
        res["official_query"] = o = bench_query_official(args.repeats, args.device)
        q = o["cpu_quantize"]
        print(f"(a') official sizes (300 x 1024 features, 65 536 words), CPU: 5-NN codebook "
              f"search before {_ms(q['before'])} | after {_ms(q['after'])} (same words); head "
              f"+ search + aggregation after {_ms(o['cpu_head_plus_aggregation_after'])}")
        if "gpu_quantize" in o:
            g = o["gpu_quantize"]
            print(f"     on {o['gpu']}: search before {g['before']['median_ms']:.2f} ms | "
                  f"after {g['after']['median_ms']:.2f} ms; head + search + aggregation "
                  f"{o['gpu_head_plus_aggregation_after']['median_ms']:.2f} ms")
    res["scale"] = s = bench_scale(args.keyframes, args.features_per_keyframe, args.zipf,
                                   args.repeats, [int(v) for v in str(
                                       args.score_threads or args.threads).split(",")],
                                   args.backends.split(","), args.device)
    print(f"(b) {s['keyframes']} keyframes x {s['features_per_keyframe']} features -> "
          f"{s['words_per_keyframe']:.0f} words each (zipf {s['zipf']}: posting lists "
          f"{s['posting_skew_K_sum_p2']:.1f}x the uniform cost, longest "
          f"{s['longest_posting_list']}); index {s['index_MB']:.0f} MB + query scratch "
          f"{s['query_scratch_MB']:.0f} MB; a query of {s['query_words']} words scores "
          f"{s['entries_scored_per_query']} entries; one read pass over their codes "
          f"{_ms(s['read_scored_bytes'])}")
    if "torch_device_index_MB" in s:
        print(f"    torch on {s.get('gpu', args.device)}: inverted file "
              f"{s['torch_device_index_MB']:.0f} MB on the device, first query with the copy "
              f"{s['torch_first_query_with_copy_s']:.2f} s"
              + (f", peak {s['torch_peak_device_MB']:.0f} MB" if "torch_peak_device_MB" in s
                 else ""))
    print(f"    fabricated in {s['fabricate_s']:.1f} s; top-{s['top_equal_across_backends']['top']}"
          f" equal across {', '.join(s['top_equal_across_backends']['backends'])} on "
          f"{s['top_equal_across_backends']['queries']} queries")
    print("    median (min-max) ms per query: " + " | ".join(
        f"{k} {v['median_ms']:.1f} ({v['min_ms']:.1f}-{v['max_ms']:.1f})"
        for k, v in s["query"].items()))
    if not args.skip_tiny:
        res["codebook_ram"] = r = bench_codebook_ram()
        print(f"(c) codebook 65536x1024 ({r['file_MB']:.0f} MB of floats): RSS "
              f"{r['rss_after_load_MB']:.0f} MB after load (peak "
              f"{r['peak_during_load_MB']:.0f}), {r['rss_after_quantize_MB']:.0f} MB after a "
              f"query's quantisation (peak {r['peak_with_quantize_MB']:.0f} incl. working "
              "arrays and BLAS buffers)")
    res["loadavg_end"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
