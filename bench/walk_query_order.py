#!/usr/bin/env python3
"""Benchmark (CPU proxy for a GPU): does the fused walk round's query order cost screen work?

The torch walk round sorts each search's cache misses by row; the fused round
(`walk.FUSED_ROUNDS`, `core.walk_triton`) lists them in walker order. The answers are the same,
but the TF32 screen skips a (32-query block, 128-target tile) pair only when no query of the
block can win there, so the order can change how many tiles get IEEE products. Round 1's
image-1 search is the same on both paths (the start points, sorted); its image-2 search is the
largest one whose order differs (~3000 queries at 512x384: each start point's image-2 nearest
neighbour, with repeats). This emulates the screen (`bench_matching.live_tile_stats`) on that
search's queries in both orders, on the bench's realistic warped 512x384 pairs:

    python bench/walk_query_order.py --pairs 2 --json out.json
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

_REPO = Path(__file__).resolve().parents[1]
for _p in (str(_REPO), str(_REPO / "test"), str(_REPO / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

LOG = logging.getLogger("walk_query_order")


def orders(pair, subsample: int = 8):
    """(walker-order queries, row-sorted queries, targets) of round 1's image-2 search."""
    h, w, d = pair.desc1.shape
    ys, xs = np.mgrid[subsample // 2:h:subsample, subsample // 2:w:subsample]
    f1, f2 = pair.desc1.reshape(-1, d).float(), pair.desc2.reshape(-1, d).float()
    start = torch.from_numpy(ys.ravel() * w + xs.ravel())
    nn2 = torch.cat([(f1[start[i:i + 256]] @ f2.T).argmax(dim=1)
                     for i in range(0, len(start), 256)])
    return f2[nn2], f2[torch.sort(nn2).values], f1


def main(argv: Optional[List[str]] = None) -> int:
    from bench_matching import live_tile_stats
    from benchlib import environment, write_json
    from mast3r_test_utils import warped_descriptor_pair

    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    h, w = args.size * 3 // 4, args.size
    rows = []
    for s in range(args.pairs):
        pair = warped_descriptor_pair(h, w, seed=s, angle_deg=(-4.0, 3.0, 6.0, -2.0)[s % 4],
                                      scale=(1.08, 0.93, 1.0, 1.15)[s % 4])
        walker, by_row, targets = orders(pair)
        r = {"pair": s, **{name: live_tile_stats(q, targets) for name, q in
                           (("walker_order", walker), ("row_sorted", by_row))}}
        rows.append(r)
        LOG.info("pair %d (%dx%d, %d queries): live tiles walker order %.4f, sorted by row "
                 "%.4f (winners in live tiles %s)", s, w, h, len(walker),
                 r["walker_order"]["live_tile_fraction"], r["row_sorted"]["live_tile_fraction"],
                 r["walker_order"]["winners_in_live_tiles"]
                 and r["row_sorted"]["winners_in_live_tiles"])
    write_json(args.json, {**environment(torch.device("cpu")), "shape_hw": [h, w],
                           "pairs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
