#!/usr/bin/env python3
"""Benchmark: MASt3R retrieval (trainingfree head + ASMK) -- query cost, scale, codebook RAM.

(a) Query-side cost over the encoder, tiny config, CPU, one 512x384 image: the tiny MASt3R
    encoder (enc 32, 2 blocks) is timed, then what retrieval adds on top of it -- head
    (pre-whitening), top-300 selection, 5-NN quantisation on a 64-word codebook, aggregation,
    scoring against a 6-image index. Also the same steps at the official sizes (C = D = 1024,
    65 536 words), which the codebook search dominates (~20 GFLOP per image).
(b) Retrieval among ``--keyframes`` (default 1e5) fabricated ASMK representations at the
    official sizes (D 1024 -> 128-byte codes, 65 536 words, ``--words-per-keyframe`` 256 words
    each, uniform random), a query of 1 400 distinct words (300 features x 5 words, collisions
    removed) with random codes; median over queries. The index RAM is printed too, and as a
    same-process baseline the time to copy as many code bytes as one query scores (the
    machine's memory bandwidth at that moment; the ratio transfers to other machines).
(c) Codebook RAM: a fabricated 65 536 x 1024 float32 codebook pickled like the official file,
    loaded through the safe loader in a fresh process: resident size and high-water mark.

Usage: python bench/bench_retrieval.py [--keyframes 100000] [--repeats 10] [--json out.json]
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


def bench_query_official(repeats: int) -> Dict[str, object]:
    spec = spec_from_args(argparse.Namespace(prewhiten=0, hdims="", nfeat=300, nclusters="64k"))
    head = RetrievalHead(spec, D_OFF).eval()
    rng = np.random.default_rng(1)
    cb = Codebook(rng.standard_normal((K_OFF, D_OFF), dtype=np.float32), "64k")
    enc = torch.randn(768, D_OFF, generator=torch.Generator().manual_seed(0))

    def step():
        feats = head(enc).feats.numpy()
        return aggregate_query(feats, cb)
    return {"head_plus_aggregation": median_ms(step, max(2, repeats // 3), warmup=1)}


def fabricated_index(n_kf: int, words_per_kf: int, seed: int = 0) -> AsmkIndex:
    rng = np.random.default_rng(seed)
    total = n_kf * words_per_kf
    words = np.sort(rng.integers(0, K_OFF, total))
    offsets = np.zeros(K_OFF + 1, np.int64)
    np.cumsum(np.bincount(words, minlength=K_OFF), out=offsets[1:])
    del words
    ids = rng.integers(0, n_kf, total, dtype=np.int32)
    codes = np.frombuffer(rng.bytes(total * (D_OFF // 8)), np.uint8).reshape(total, -1)
    per_image = np.bincount(ids, minlength=n_kf).astype(np.int32)
    return AsmkIndex(offsets, ids, codes, per_image, D_OFF, "fabricated")


def bench_scale(n_kf: int, words_per_kf: int, repeats: int) -> Dict[str, object]:
    t0 = time.perf_counter()
    index = fabricated_index(n_kf, words_per_kf)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(7)
    queries = []
    for _ in range(repeats + 2):
        w = np.unique(rng.integers(0, K_OFF, 1500))[:1400]
        queries.append(AsmkVector(w, np.frombuffer(rng.bytes(len(w) * 128), np.uint8)
                                  .reshape(len(w), 128)))
    it = iter(queries)
    timing = median_ms(lambda: index.query(next(it)), repeats)
    # Baseline in the same process: copying as many code bytes as a query scores (memory
    # bandwidth of this machine right now), so the ratio carries over to other machines.
    n_scored = int((index.offsets[queries[0].words + 1] - index.offsets[queries[0].words]).sum())
    src = index.codes[:n_scored]
    dst = np.empty_like(src)
    baseline = median_ms(lambda: np.copyto(dst, src), repeats)
    nbytes = index.codes.nbytes + index.image_ids.nbytes + index.offsets.nbytes
    return {"keyframes": n_kf, "words_per_keyframe": words_per_kf,
            "query_words": int(np.mean([q.num_words for q in queries])),
            "entries_scored_per_query": int(np.mean(
                [(index.offsets[q.words + 1] - index.offsets[q.words]).sum() for q in queries])),
            "query": timing, "copy_scored_bytes": baseline,
            "ratio_query_to_copy": timing["median_ms"] / baseline["median_ms"],
            "index_MB": nbytes / 2 ** 20, "fabricate_s": build_s}


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keyframes", type=int, default=100_000)
    ap.add_argument("--words-per-keyframe", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--skip-official", action="store_true", help="skip (a) at official sizes")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res: Dict[str, object] = {"torch": torch.__version__, "numpy": np.__version__,
                              "cpu_threads": args.threads}
    res["tiny_query"] = t = bench_query_tiny(args.repeats)
    print(f"(a) tiny, CPU: encoder {t['encoder']['median_ms']:.1f} ms; retrieval on top (head + "
          f"ASMK + scoring vs 6 images) {t['retrieval_over_encoder']['median_ms']:.2f} ms "
          f"(head alone {t['head_only']['median_ms']:.2f} ms)")
    if not args.skip_official:
        res["official_query"] = o = bench_query_official(args.repeats)
        print(f"(a') official sizes, CPU: head + 5-NN on 65 536 words + aggregation "
              f"{o['head_plus_aggregation']['median_ms']:.0f} ms")
    res["scale"] = s = bench_scale(args.keyframes, args.words_per_keyframe, args.repeats)
    print(f"(b) {s['keyframes']} keyframes x {s['words_per_keyframe']} words (index "
          f"{s['index_MB']:.0f} MB): a query of {s['query_words']} words scores "
          f"{s['entries_scored_per_query']} entries in {s['query']['median_ms']:.1f} ms median "
          f"(min {s['query']['min_ms']:.1f}, max {s['query']['max_ms']:.1f}); copying that many "
          f"code bytes takes {s['copy_scored_bytes']['median_ms']:.1f} ms here (ratio "
          f"{s['ratio_query_to_copy']:.1f})")
    res["codebook_ram"] = r = bench_codebook_ram()
    print(f"(c) codebook 65536x1024 ({r['file_MB']:.0f} MB of floats): RSS "
          f"{r['rss_after_load_MB']:.0f} MB after load (peak {r['peak_during_load_MB']:.0f}), "
          f"{r['rss_after_quantize_MB']:.0f} MB after a query's quantisation (peak "
          f"{r['peak_with_quantize_MB']:.0f} incl. working arrays and BLAS buffers)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
