#!/usr/bin/env python3
"""Work done by one frame of the query-aspect-ratio field case, 4:3 query vs 16:9 query.

Per keyframe pair: walk rounds, pixels searched per direction (keyframe -> query, query ->
keyframe), GFLOP of the nearest-neighbour search, matches before the filters, and CPU / wall
seconds with one torch thread; for the random-weight checkpoint on the case's first frames, and
for realistic synthetic descriptor maps (``warped_descriptor_pair``; the 16:9 view is its centre
288 rows). Last, one keyframe -> query search of the 4:3 pair (3072 starts x 196608 pixels,
D=24) with 1 and with 2 torch threads, alternated: on a shared, loaded 2-core machine the 2-thread
search is several times slower than the 1-thread one. See README.txt here.

    python docs/bench/query_aspect_cpu_2026-12-03/count_work.py CASE_DIR CKPT
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "test")]

from mast3r_test_utils import warped_descriptor_pair  # noqa: E402

from mast3r_ros.core.matching import fast_reciprocal_matches, reciprocal, search  # noqa: E402

SEARCHES = []


class CountingNN(search._CachedNN):
    """`_CachedNN` that counts its calls (walk rounds) and the GFLOP of its searches."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.calls, self.flops = 0, 0
        SEARCHES.append(self)

    def __call__(self, idx):
        before = self.n_searched
        out = super().__call__(idx)
        self.calls += 1
        self.flops += 2 * (self.n_searched - before) * self.target.shape[0] * self.target.shape[1]
        return out


def run(label, d1, d2):
    SEARCHES.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    xy1, _ = fast_reciprocal_matches(d1, d2, subsample=8, max_iter=10)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    n12, n21 = SEARCHES
    print(f"{label:38s} {tuple(d1.shape[:2])}->{tuple(d2.shape[:2])} rounds {n12.calls} "
          f"searched {n12.n_searched}+{n21.n_searched} "
          f"GFLOP {(n12.flops + n21.flops) / 1e9:5.1f} matches {len(xy1):5d} "
          f"cpu {cpu:.2f}s wall {wall:.2f}s", flush=True)


def main(case: str, ckpt: str) -> None:
    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.matchers.mast3r import Mast3rMatcher
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.replay.tum import TumSequence

    torch.set_num_threads(1)
    reciprocal._CachedNN = CountingNN
    p = warped_descriptor_pair(384, 512, 24, seed=0)
    run("synthetic 4:3", p.desc1, p.desc2)
    run("synthetic 16:9 (centre 288 rows)", p.desc1, p.desc2[48:336].contiguous())
    eng = Mast3rEngine.from_checkpoint(ckpt, "cpu")
    kmap = KeyframeMap.load(f"{case}/map")
    matcher = Mast3rMatcher(kmap, eng, MatchingConfig(), 512)
    for q in ("query_4x3_hires", "query_16x9"):
        state = matcher.query_state(TumSequence(f"{case}/{q}")[0])
        t0, c0 = time.perf_counter(), time.process_time()
        preds = eng.decode([matcher.encodings[i] for i in (0, 1)], state.encoding)
        print(f"{q}: decode against 2 keyframes cpu {time.process_time() - c0:.2f}s "
              f"wall {time.perf_counter() - t0:.2f}s", flush=True)
        for k, pred in enumerate(preds):
            run(f"random ckpt {q} kf{k}", pred.desc_1, pred.desc_2)


def threads(reps: int = 3) -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3072, 24, generator=g), dim=1)
    t = torch.nn.functional.normalize(torch.randn(196608, 24, generator=g), dim=1)
    for rep in range(reps):
        for n in (1, 2):
            torch.set_num_threads(n)
            t0, c0 = time.perf_counter(), time.process_time()
            search._nearest(q, t, dist="dot", block_size=8192)
            print(f"search 3072 x 196608, rep {rep}, {n} thread(s): "
                  f"wall {time.perf_counter() - t0:.2f}s cpu {time.process_time() - c0:.2f}s",
                  flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
    threads()
