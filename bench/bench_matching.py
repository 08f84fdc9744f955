#!/usr/bin/env python3
"""Benchmark: fast reciprocal matching vs exhaustive mutual NN vs a reference-style walk.

Runs side by side in one process, at 512x384 with D=24 descriptors, on ``--device``:

(a) ``fast_reciprocal_matches`` (subsample 8, dot, block 8192): only needed direction, de-duplicated
    and cached queries, cache-sized tiles;
(b) ``brute_force_mutual_nn``: every pixel against every pixel, both directions;
(c) a re-implementation of the reference's best setting (the MASt3R repository's
    ``fast_reciprocal_NNs`` with ``dist='dot'`` and ``block_size=2**13``: 8192 x 8192 blocks, each
    block also reduced in the reverse direction and the result thrown away, no caching), driven
    by the same walk (subsample 8, 10 rounds).

Checks that (a) and (c) return identical matches and that (a) is a subset of (b). Descriptor pairs:
the reference fixture's random-weight ``desc_1``/``desc_2`` (few matches) when available, and a
synthetic "realistic" pair (smooth multi-scale random field, image 2 a warped, noisy copy of
image 1, so most pixels have a true correspondence and walks are long, as with real weights).

Usage: python bench/bench_matching.py [--device cpu|cuda] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from benchlib import environment, fixtures_dir, spread, timed, write_json

from mast3r_ros.core.matching import brute_force_mutual_nn, fast_reciprocal_matches

LOG = logging.getLogger("bench_matching")
H, W, D = 384, 512, 24


# ------------------------------------------------------------------------------------------
# reference-style matcher, written from the reference's published algorithm (a point's walk
# stops when its image-2 nearest neighbour repeats; tiled dot-product NN), for timing only


def ref_style_nn(a: torch.Tensor, b: torch.Tensor, block_size: int = 8192) -> torch.Tensor:
    """NN in b of every row of a (dot), tiled as the reference does, reverse NN computed too."""
    if a.shape[0] * b.shape[0] <= block_size * block_size:
        s = a @ b.T
        fwd = s.argmax(dim=1)
        s.argmax(dim=0)  # the reference's reverse NN, unused
        return fwd
    best_a = torch.full((a.shape[0],), float("-inf"), device=a.device)
    nn_a = torch.zeros(a.shape[0], dtype=torch.int64, device=a.device)
    best_b = torch.full((b.shape[0],), float("-inf"), device=a.device)
    nn_b = torch.zeros(b.shape[0], dtype=torch.int64, device=a.device)
    for i in range(0, a.shape[0], block_size):
        for j in range(0, b.shape[0], block_size):
            s = a[i:i + block_size] @ b[j:j + block_size].T
            val, idx = s.max(dim=1)
            upd = val > best_a[i:i + block_size]
            best_a[i:i + block_size][upd] = val[upd]
            nn_a[i:i + block_size][upd] = idx[upd] + j
            val, idx = s.max(dim=0)  # reverse direction: wasted work
            upd = val > best_b[j:j + block_size]
            best_b[j:j + block_size][upd] = val[upd]
            nn_b[j:j + block_size][upd] = idx[upd] + i
    return nn_a


def ref_style_matches(
    desc1: torch.Tensor, desc2: torch.Tensor, subsample: int = 8, max_iter: int = 10
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The reference walk with ref_style_nn, no caching; (x, y) int64 pairs sorted, unique."""
    h1, w1, d = desc1.shape
    w2 = desc2.shape[1]
    a, b = desc1.reshape(-1, d), desc2.reshape(-1, d)
    ys = torch.arange(subsample // 2, h1, subsample, device=a.device)
    xs = torch.arange(subsample // 2, w1, subsample, device=a.device)
    xy1 = (ys[:, None] * w1 + xs[None, :]).reshape(-1)
    xy2 = torch.full_like(xy1, -1)
    old1, old2 = xy1.clone(), xy2.clone()
    notyet = torch.ones_like(xy1, dtype=torch.bool)
    niter = 0
    while bool(notyet.any()):
        xy2[notyet] = ref_style_nn(a[xy1[notyet]], b)
        notyet &= old2 != xy2
        if bool(notyet.any()):
            xy1[notyet] = ref_style_nn(b[xy2[notyet]], a)
        notyet &= old1 != xy1
        niter += 1
        if niter >= max_iter:
            break
        old2[:] = xy2
        old1[:] = xy1
    conv = ~notyet
    n2 = b.shape[0]
    key = torch.unique(xy1[conv] * n2 + xy2[conv])
    f1, f2 = key // n2, key % n2
    return torch.stack((f1 % w1, f1 // w1), 1), torch.stack((f2 % w2, f2 // w2), 1)


# ------------------------------------------------------------------------------------------
# data


def load_fixture() -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    path = fixtures_dir() / "mast3r_tiny" / "outputs.npz"
    if not path.is_file():
        LOG.warning("fixture %s not found: skipping the random-weight pair", path)
        return None
    with np.load(path, allow_pickle=False) as f:
        return torch.from_numpy(f["desc_1"]), torch.from_numpy(f["desc_2"])


def load_reference_demo() -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The reference implementation's own 'demo' matches on the fixture pair, if present."""
    path = fixtures_dir() / "mast3r_tiny" / "fastnn.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as f:
        return f["demo_xy1"], f["demo_xy2"]


def synthetic_pair(seed: int = 0, noise: float = 0.2) -> Tuple[torch.Tensor, torch.Tensor]:
    """Smooth multi-scale random field; image 2 = field seen through a similarity warp + noise.

    Most image-2 pixels see image-1 content (rotation 5 deg, scale 0.9, shift ~20 px), so most
    start points have a true correspondence, unlike random network weights.
    """
    g = torch.Generator().manual_seed(seed)
    field = torch.zeros(1, D, H, W)
    for cell, amp in ((4, 1.0), (16, 1.0), (64, 0.7)):
        coarse = torch.randn(1, D, H // cell + 2, W // cell + 2, generator=g)
        up = F.interpolate(coarse, scale_factor=cell, mode="bicubic", align_corners=False)
        field += amp * up[:, :, :H, :W]
    ang, scale = np.deg2rad(5.0), 0.9
    # normalised (x, y) in [-1, 1]: image-2 pixel -> image-1 sample position
    theta = torch.tensor([[scale * np.cos(ang), -scale * np.sin(ang), 0.08],
                          [scale * np.sin(ang), scale * np.cos(ang), -0.05]],
                         dtype=torch.float32)[None]
    grid = F.affine_grid(theta, [1, D, H, W], align_corners=False)
    warped = F.grid_sample(field, grid, mode="bilinear", align_corners=False)
    warped = warped + noise * field.std() * torch.randn(warped.shape, generator=g)
    d1 = F.normalize(field[0].permute(1, 2, 0), dim=-1)
    d2 = F.normalize(warped[0].permute(1, 2, 0), dim=-1)
    return d1.contiguous(), d2.contiguous()


# ------------------------------------------------------------------------------------------
# timing


def same(a: Tuple[torch.Tensor, torch.Tensor], b: Tuple[torch.Tensor, torch.Tensor]) -> bool:
    return all(torch.equal(x.cpu(), y.cpu()) for x, y in zip(a, b))


def is_subset(fast: Tuple[torch.Tensor, torch.Tensor], brute: Tuple[torch.Tensor, ...]) -> bool:
    def keys(m):
        return set(map(tuple, torch.cat(m, 1).cpu().tolist()))
    return keys(fast) <= keys(brute)


def bench_pair(name: str, d1: torch.Tensor, d2: torch.Tensor, args: argparse.Namespace) -> Dict:
    dev = torch.device(args.device)
    d1, d2 = d1.to(dev), d2.to(dev)

    def fast():
        return fast_reciprocal_matches(d1, d2, subsample=8, dist="dot", block_size=8192)

    def ref():
        return ref_style_matches(d1, d2)

    def brute():
        return brute_force_mutual_nn(d1, d2, dist="dot", block_size=8192)

    for _ in range(args.warmup):
        fast()
        ref()
    t_fast, m_fast = timed(fast, dev, args.repeats)
    t_ref, m_ref = timed(ref, dev, args.repeats)
    t_brute, m_brute = timed(brute, dev, args.brute_repeats)
    res = {
        "pair": name,
        "n_matches_fast": int(m_fast[0].shape[0]),
        "n_matches_ref_style": int(m_ref[0].shape[0]),
        "n_matches_brute": int(m_brute[0].shape[0]),
        "fast_equals_ref_style": same(m_fast, m_ref),
        "fast_subset_of_brute": is_subset(m_fast, m_brute),
        "fast": spread(t_fast),
        "ref_style": spread(t_ref),
        "brute": spread(t_brute),
    }
    if name.startswith("fixture"):
        demo = load_reference_demo()
        if demo is not None:
            res["fast_equals_reference_fixture"] = bool(
                np.array_equal(m_fast[0].cpu().numpy(), demo[0])
                and np.array_equal(m_fast[1].cpu().numpy(), demo[1]))
    res["ratio_brute_over_fast"] = res["brute"]["median_s"] / res["fast"]["median_s"]
    res["ratio_ref_style_over_fast"] = res["ref_style"]["median_s"] / res["fast"]["median_s"]
    return res


def report(res: Dict) -> None:
    def fmt(k):
        s = res[k]
        return f"{s['median_s']:8.3f} s  [{s['min_s']:.3f} .. {s['max_s']:.3f}] (n={s['n']})"
    LOG.info("pair %s: matches fast %d, ref-style %d, brute %d", res["pair"],
             res["n_matches_fast"], res["n_matches_ref_style"], res["n_matches_brute"])
    LOG.info("  fast       %s", fmt("fast"))
    LOG.info("  ref-style  %s", fmt("ref_style"))
    LOG.info("  brute      %s", fmt("brute"))
    LOG.info("  brute/fast %.1fx   ref-style/fast %.1fx   identical to ref-style: %s   "
             "subset of brute: %s   equals reference fixture: %s",
             res["ratio_brute_over_fast"], res["ratio_ref_style_over_fast"],
             res["fast_equals_ref_style"], res["fast_subset_of_brute"],
             res.get("fast_equals_reference_fixture", "n/a"))


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of fast and ref-style")
    p.add_argument("--brute-repeats", type=int, default=2, help="timed runs of brute force")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--pairs", default="fixture,synthetic", help="comma list: fixture,synthetic")
    p.add_argument("--json", default=None, help="write results here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dev = torch.device(args.device)
    LOG.info("device %s, torch %s, %d threads", dev, torch.__version__, torch.get_num_threads())
    results = []
    wanted = args.pairs.split(",")
    if "fixture" in wanted:
        pair = load_fixture()
        if pair is not None:
            results.append(bench_pair("fixture_random_weights", *pair, args))
            report(results[-1])
    if "synthetic" in wanted:
        results.append(bench_pair("synthetic_warp", *synthetic_pair(), args))
        report(results[-1])
    ok = all(r["fast_equals_ref_style"] and r["fast_subset_of_brute"]
             and r.get("fast_equals_reference_fixture", True) for r in results)
    write_json(args.json, {**environment(dev), "shape": [H, W, D], "results": results,
                           "all_checks_pass": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
