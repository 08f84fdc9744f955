#!/usr/bin/env python3
"""Benchmark (CPU): the work of the fixed-shape Triton walk before and after issue 9's
matching-work round, in one process, with the same matches.

The round cut two kinds of work that find nothing to do (`matching.walk._FusedWalk`,
`matchers.fixed_matching.FIRST_ROUNDS`):

* the walk rounds after every walk ended: the fixed-shape path (the CUDA graph) ran all
  ``max_iter`` (10) rounds; it now runs ``FIRST_ROUNDS`` (6) and the rest only for a frame whose
  walks are longer;
* the TF32 screen's target norms: every search passed over its whole target map again; now
  once per map and walk.

Part 1 (``walks``): on 512x384 pairs (the warped pairs of bench_matching.py and the realistic
pairs of realistic_pairs.py) the torch walk (the same steps as the Triton walk) is counted:
rounds with walkers and queries searched per round and direction. The fixed path's searches,
norm passes and Triton launches follow exactly from the rounds (fixed shapes).

Part 2 (``fixed``): the fixed path itself, previous vs now, on realistic pairs small enough for
Triton's CPU interpreter (the kernels' code, interpreted: its times are not a GPU's; the ratio of
launches is): per frame the time, top-level aten ops, Triton kernel launches, nn_search calls,
and whether the rows are identical.

    python bench/bench_walk_work.py --json out.json
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is first imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

_REPO = Path(__file__).resolve().parents[1]
for _p in (str(_REPO), str(_REPO / "test"), str(_REPO / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from benchlib import environment, write_json  # noqa: E402

LOG = logging.getLogger("bench_walk_work")
KERNELS = ("_target_norm_kernel", "_screen_kernel", "_nn_partial_kernel", "_nn_reduce_kernel")


def count_walk(d1: torch.Tensor, d2: torch.Tensor) -> Dict:
    """Rounds with walkers and queries searched per round of the torch walk (grid, subsample 8,
    max_iter 10), and its matches."""
    from mast3r_ros.core.matching import fast_reciprocal_matches
    from mast3r_ros.core.matching.search import _CachedNN

    searches: List[List[int]] = []  # per search: [walkers, rows searched]
    real = _CachedNN.search
    real_misses = _CachedNN.misses
    walkers = [0]

    def misses(self, idx, mask):
        rows, n_mask = real_misses(self, idx, mask)
        walkers[0] = n_mask
        return rows, n_mask

    def counted(self, rows):
        if not searches:  # round 1's image-1 search: every start point walks
            walkers[0] = int(rows.numel())
        searches.append([walkers[0], int(rows.numel())])
        return real(self, rows)

    _CachedNN.search, _CachedNN.misses = counted, misses
    try:
        m = fast_reciprocal_matches(d1, d2, subsample=8)
    finally:
        _CachedNN.search, _CachedNN.misses = real, real_misses
    calls = searches
    rounds = (len(calls) + 1) // 2
    per_round = [{"walkers": calls[2 * r][0], "searched_12": calls[2 * r][1],
                  "searched_21": calls[2 * r + 1][1] if 2 * r + 1 < len(calls) else 0}
                 for r in range(rounds)]
    return {"rounds_with_walkers": rounds, "per_round": per_round,
            "searched": sum(c[1] for c in calls), "n_matches": int(len(m[0]))}


def fixed_counts(rounds: int, first: int, max_iter: int = 10) -> Dict:
    """Searches, norm passes and Triton launches of one fixed-path frame, previous vs now
    (screened search: norm + screen + partial + reduce kernels per search before; the norms
    once per direction now)."""
    new_s = 2 * first + (2 * max_iter if rounds > first else 0)
    return {"searches": {"prev": 2 * max_iter, "new": new_s},
            "norm_passes": {"prev": 2 * max_iter, "new": 2 * (1 + (rounds > first))},
            "triton_launches": {"prev": 8 * max_iter,
                                "new": 3 * new_s + 2 * (1 + (rounds > first))}}


def part_walks(seed: int) -> List[Dict]:
    from mast3r_test_utils import warped_descriptor_pair
    from realistic_pairs import fabricate_tables, make_scene

    from mast3r_ros.core.matchers.fixed_matching import FIRST_ROUNDS

    out = []
    for s in range(4):
        p = warped_descriptor_pair(384, 512, seed=s, angle_deg=(-4.0, 3.0, 6.0, -2.0)[s],
                                   scale=(1.08, 0.93, 1.0, 1.15)[s])
        out.append({"pair": f"warped {s}", **count_walk(p.desc1, p.desc2)})
    kfs, query = make_scene(4, seed=seed)
    tabs, seen = fabricate_tables(kfs, query, 512, (384, 512), 24, seed=seed)
    for j in range(len(kfs)):
        out.append({"pair": f"realistic {j}", "seen": seen[j],
                    **count_walk(tabs["desc_1"][j], tabs["desc_2"][j])})
    for r in out:
        r["fixed_path"] = fixed_counts(r["rounds_with_walkers"], FIRST_ROUNDS)
        LOG.info("%s: %d matches, %d rounds with walkers, searched %d (round 1: %d + %d); fixed "
                 "path searches %d -> %d, norm passes %d -> %d, Triton launches %d -> %d",
                 r["pair"], r["n_matches"], r["rounds_with_walkers"], r["searched"],
                 r["per_round"][0]["searched_12"], r["per_round"][0]["searched_21"],
                 *(r["fixed_path"][k][w] for k in ("searches", "norm_passes", "triton_launches")
                   for w in ("prev", "new")))
    return out


def part_fixed(k: int, hw, repeats: int, seed: int) -> Dict:
    """The fixed path eager, previous vs now, on K realistic pairs of (H, W) = ``hw``."""
    from bench_matching import _previous_walk, op_counts
    from realistic_pairs import fabricate_pair, make_scene

    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.matchers import fixed_matching

    h, w = hw
    kfs, query = make_scene(k, camera=(4 * w, 4 * h), seed=seed)
    to = np.diag([4.0, 4.0, 1.0])
    g = torch.Generator().manual_seed(seed)
    preds = []
    for j, kf in enumerate(kfs):
        p = fabricate_pair(kf, query, to, to, (h, w), 24, seed=seed + j)
        preds.append(SimpleNamespace(**{f: p[f] for f in ("desc_1", "desc_2", "desc_conf_1",
                                                           "desc_conf_2", "conf_1", "pts3d_1")}))
        preds[-1].pts3d_1 = torch.randn((h, w, 3), generator=g)
    poses = np.stack([np.eye(4)] * k)
    cfg = MatchingConfig(nn_backend="triton", max_matches=10**6, cuda_graph="off")
    dev = torch.device("cpu")

    def run():
        return fixed_matching.fixed_rows(preds, poses, cfg, graphs=False)

    res: Dict = {"k": k, "hw": [h, w], "walkers_per_pair": len(range(4, h, 8)) * len(
        range(4, w, 8))}
    rows = {}
    for name in ("new", "prev", "new", "prev"):  # interleaved: a shared CPU drifts
        ctx = _previous_walk() if name == "prev" else _nullcontext()
        with ctx:
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                rows[name] = run()
                ts.append(time.perf_counter() - t0)
            res.setdefault(name, {"s": []})["s"].extend(ts)
            if "ops" not in res[name]:
                res[name]["ops"] = op_counts(run, dev)
    for name in ("new", "prev"):
        res[name]["median_s"] = float(np.median(res[name]["s"]))
    res["identical"] = bool(np.array_equal(rows["new"], rows["prev"]))
    res["n_kept_rows"] = int((rows["new"][:, 0] > 0).sum())
    res["prev_over_new"] = {"median_s": res["prev"]["median_s"] / res["new"]["median_s"],
                            **{key: res["prev"]["ops"][key] / max(res["new"]["ops"][key], 1)
                               for key in ("aten_ops", "nn_search_calls", "triton_launches")}}
    LOG.info("fixed path, K=%d realistic %dx%d pairs (Triton interpreted): prev/new %s; ops "
             "prev %s, new %s; identical rows %s (%d kept)", k, w, h,
             {a: round(b, 2) for a, b in res["prev_over_new"].items()}, res["prev"]["ops"],
             res["new"]["ops"], res["identical"], res["n_kept_rows"])
    return res


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="part 2 timed calls per variant")
    p.add_argument("--skip-walks", action="store_true", help="part 2 only")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    res = {**environment(torch.device("cpu")), "torch_threads": torch.get_num_threads()}
    if not args.skip_walks:
        res["walks_512x384"] = part_walks(args.seed)
    res["fixed_path"] = part_fixed(4, (48, 64), args.repeats, args.seed)
    write_json(args.json, res)
    return 0 if res["fixed_path"]["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
