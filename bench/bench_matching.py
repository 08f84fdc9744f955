#!/usr/bin/env python3
"""Benchmark: fast reciprocal matching, torch vs Triton nearest-neighbour search, per pair.

Default run, side by side in one process on ``--device``, on realistic synthetic descriptor pairs
(`mast3r_test_utils.warped_descriptor_pair`: smooth multi-scale fields, image 2 a warped noisy
copy of image 1 with an unmatched border, D=24; the walk converges for thousands of start points
as with real MASt3R weights) at the network size of ``--size`` (512 -> 512x384):

* K=1: ``fast_reciprocal_matches`` (subsample 8) with ``nn_backend`` torch and triton, and
  ``triton-ieee``: the Triton search without its TF32 screen (`core.nn_triton`), which must give
  the same matches (``screen_identical``);
* K=1 and K=4: ``match_and_fuse`` (filters, 3-D lookup, fusion, one transfer), reported per
  keyframe pair, in each variant (`match_and_fuse_variants`): ``torch``; ``triton`` (the
  variable-shape path, one host round trip per walk round); ``triton-fixed`` (fixed shapes, no
  host round trip, eager); ``triton-graph`` (the same replayed as one CUDA graph, CUDA only);
  ``triton-fixed-prev`` / ``triton-graph-prev``: the same as before issue 9's matching-work
  round (all ``max_iter`` walk rounds, the screen's target norms in every search), their
  ratio to the current path printed (``prev/new``); with ``--count-ops`` (default with
  ``--smoke``) also the aten ops, host syncs and, on CUDA,
  kernel/graph launches of one call, and whether each variant's matches equal the first's;

median/min/max/p90 ms, the number of matches, the fraction on the true warp, and the match
Jaccard between the backends (expected 1.0). ``--sweep`` also times Triton kernel variants
(fma loop vs tl.dot, with and without the TF32 screen, block shapes); ``--screen-stats``
emulates on the CPU the share of tiles the screen leaves to the IEEE products. ``--smoke``:
tiny pairs on the CPU, Triton through its interpreter when installed (proves the script
runs; the times mean nothing).

``--baselines`` instead runs the earlier comparison: fast matching vs the exhaustive mutual NN vs
a reference-style walk (blocks of 8192, no caching), on the fixture pair and a synthetic one.

    python bench/bench_matching.py --device cuda --size 512 --repeats 30 --json out.json
    python bench/bench_matching.py --smoke
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from benchlib import environment, fixtures_dir, spread, sync, timed, write_json

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


def baselines_main(args: argparse.Namespace) -> int:
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


# ------------------------------------------------------------------------------------------
# torch vs triton


def _ms(ts: List[float]) -> Dict[str, float]:
    v = sorted(1e3 * t for t in ts)
    return {"median_ms": float(np.median(v)), "min_ms": v[0], "max_ms": v[-1],
            "p90_ms": v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))], "n": len(v)}


def _keys(xy1: torch.Tensor, xy2: torch.Tensor) -> set:
    return set(map(tuple, torch.cat((xy1, xy2), 1).cpu().tolist()))


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / max(1, len(a | b))


def _preds(pairs, dev):
    """PairPrediction stand-ins for match_and_fuse: the synthetic descriptors, confidences 2
    (every filter passes), a smooth pointmap in front of the camera."""
    from types import SimpleNamespace

    out = []
    for p in pairs:
        h, w, _ = p.desc1.shape
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        pts = torch.stack(((xs - w / 2) / w, (ys - h / 2) / w, torch.full((h, w), 2.0)), -1)
        two = torch.full((h, w), 2.0)
        out.append(SimpleNamespace(desc_1=p.desc1.to(dev), desc_2=p.desc2.to(dev),
                                   desc_conf_1=two.to(dev), desc_conf_2=two.to(dev),
                                   conf_1=two.to(dev), pts3d_1=pts.float().to(dev)))
    return out


class _ieee_only:
    """Context: the Triton search without its TF32 screen (``triton-ieee`` in ``--backends``:
    the plain IEEE float32 kernel, the screen's reference; both must give the same matches)."""

    def __enter__(self):
        from mast3r_ros.core import nn_triton as nt

        self.keep, nt.TF32_SCREEN = nt.TF32_SCREEN, False

    def __exit__(self, *exc):
        from mast3r_ros.core import nn_triton as nt

        nt.TF32_SCREEN = self.keep


def _ieee_wrap(fn):
    def run(*a, **k):
        with _ieee_only():
            return fn(*a, **k)
    return run


def compare_backends(pairs, args, backends: List[str],
                     progress: Optional[Callable[[Dict], None]] = None) -> Dict:
    """Per pair the search alone per backend, then `match_and_fuse` per variant at K=1 and K=4
    (``--smoke``: K=2). ``progress(res)`` is called with the results so far after each pair and
    each K (gpu_checks.sh's step limit may cut the run: what finished is written by then)."""
    from mast3r_ros.core.matching import fast_reciprocal_matches

    dev = torch.device(args.device)
    res: Dict = {"backends": backends, "pairs": []}
    for i, p in enumerate(pairs):
        d1, d2 = p.desc1.to(dev), p.desc2.to(dev)
        r: Dict = {"pair": i}
        outs = {}
        for be in backends:
            def run(be=be, d1=d1, d2=d2):
                return fast_reciprocal_matches(d1, d2, subsample=8,
                                               nn_backend=be.replace("-ieee", ""))
            if be == "triton-ieee":
                run = _ieee_wrap(run)
            t, m = timed(run, dev, args.repeats, warmup=0 if args.smoke else 1)
            outs[be] = m
            on = p.on_warp(m[0].cpu(), m[1].cpu())
            r[be] = {**_ms(t), "n_matches": int(len(m[0])),
                     "on_warp": float(on.float().mean()) if len(on) else 0.0}
        if "torch" in outs:
            r["torch_prev"] = _torch_prev(d1, d2, outs["torch"], args, dev)
        if len(backends) > 1:
            r["jaccard"] = _jaccard(_keys(*outs[backends[0]]), _keys(*outs[backends[1]]))
            r["identical"] = all(torch.equal(a.cpu(), b.cpu()) for a, b in
                                 zip(outs[backends[0]], outs[backends[1]]))
        if "triton" in outs and "triton-ieee" in outs:  # the screen must not change a match
            from mast3r_ros.core import nn_triton as nt

            r["screen_identical"] = all(torch.equal(a.cpu(), b.cpu()) for a, b in
                                        zip(outs["triton"], outs["triton-ieee"]))
            # None: the screen ran; else why it fell back (then "triton" timed the IEEE kernel)
            r["screen_broken"] = nt._SCREEN_BROKEN
        res["pairs"].append(r)
        if "torch_prev" in r:
            tp = r["torch_prev"]
            LOG.info("pair %d: torch walk before / now, alternated: %.2f [%.2f-%.2f] / %.2f "
                     "[%.2f-%.2f] ms (prev/new %.2f), host syncs %s / %s, identical %s", i,
                     tp["median_ms"], tp["min_ms"], tp["max_ms"], tp["new"]["median_ms"],
                     tp["new"]["min_ms"], tp["new"]["max_ms"], tp["prev_over_new_ms"],
                     tp.get("host_syncs", "-"), tp.get("host_syncs_new", "-"), tp["identical"])
        LOG.info("pair %d: %s", i, "  ".join(
            f"{be} {r[be]['median_ms']:.2f} ms [p90 {r[be]['p90_ms']:.2f}] {r[be]['n_matches']} "
            f"matches ({100 * r[be]['on_warp']:.1f} % on warp)" for be in backends)
            + (f"  jaccard {r['jaccard']:.4f}" if "jaccard" in r else "")
            + (f"  screen identical {r['screen_identical']}" if "screen_identical" in r else "")
            + (f"  SCREEN DID NOT RUN: {r['screen_broken']}" if r.get("screen_broken") else ""))
        if progress is not None:
            progress(res)
    preds = _preds(pairs, dev)
    poses = np.stack([np.eye(4)] * len(preds))
    variants = match_and_fuse_variants(backends, dev)
    res["match_and_fuse_variants"] = list(variants)
    # --smoke (Triton interpreted on the CPU, seconds per call): the K of several keyframes
    # only, and no warm-up call (there is no CUDA graph to capture)
    ks = [min(4, len(preds))] if args.smoke else sorted({1, min(4, len(preds))})
    for k in ks:
        row: Dict = {}
        fused = {}
        for name, fn in variants.items():
            def run(fn=fn, k=k):
                return fn(preds[:k], poses[:k], np.random.default_rng(0))
            if not args.smoke:
                fn(preds[:k], poses[:k], np.random.default_rng(0))  # warm-up (graph capture)
            ops: Dict = {}
            if args.smoke and args.count_ops:  # its one call (tens of seconds interpreted) is
                t, f = timed(lambda r=run, o=ops: _counted(r, dev, o), dev, 1)  # also counted
            else:
                t, f = timed(run, dev, args.repeats, warmup=0)
            fused[name] = f
            row[name] = {**_ms([x / k for x in t]), "n_matches": int(len(f.slot))}
            if args.count_ops:
                row[name]["ops"] = ops or op_counts(run, dev)
        first = next(iter(variants))
        for name in variants:
            row[name]["identical_to_" + first] = all(
                np.array_equal(a, b) for a, b in zip(fused[name], fused[first]))
        _prev_ratios(row, fused, k)
        _prev_ratios(row, fused, k, "-fused")
        if len(backends) > 1:
            a, b = (set(map(tuple, np.concatenate([fused[be].slot[:, None], fused[be].xy1,
                                                   fused[be].xy2], 1).tolist()))
                    for be in backends[:2])
            row["jaccard"] = _jaccard(a, b)
        res[f"match_and_fuse_K{k}_per_pair"] = row
        LOG.info("match_and_fuse K=%d, per pair: %s", k, "  ".join(
            f"{n} {row[n]['median_ms']:.2f} ms [p90 {row[n]['p90_ms']:.2f}]"
            + (f" ({row[n]['ops']['aten_ops']} ops, {row[n]['ops']['host_syncs']} syncs)"
               if "ops" in row[n] else "") for n in variants)
            + (f"  jaccard {row['jaccard']:.4f}" if "jaccard" in row else "")
            + "  identical: " + ",".join(str(row[n]["identical_to_" + first]) for n in variants))
        if progress is not None:
            progress(res)
    return res


def _counted(fn, dev: torch.device, ops: Dict):
    """``fn()`` with its `op_counts` put into ``ops``: --smoke counts the ops of the timed call
    itself rather than of a second call."""
    out = []
    ops.update(op_counts(lambda: out.append(fn()), dev))
    return out[0]


def _torch_prev(d1, d2, new_out, args, dev: torch.device) -> Dict:
    """``fast_reciprocal_matches`` (torch search) with the walk before issue 9's sync cut
    (bench/walk_prev.py: 3 host round trips a round, now at most 2) and the current one, timed
    in alternation (prev, now, prev, ...: a shared machine's load drifts alike over both):
    their medians and spreads, the ratio of medians, whether the matches are identical (also to
    ``new_out``) and, with ``--count-ops``, the host syncs of one call each (`op_counts`)."""
    from walk_prev import previous_walk

    def run_new():
        return fast_reciprocal_matches(d1, d2, subsample=8, nn_backend="torch")

    def run():
        with previous_walk():
            return run_new()

    t_prev, t_new, same = [], [], True
    for i in range(args.repeats + (0 if args.smoke else 1)):  # the first pair: a warm-up
        for fn, ts in ((run, t_prev), (run_new, t_new)):
            t, m = timed(fn, dev, 1)
            same &= all(torch.equal(a.cpu(), b.cpu()) for a, b in zip(m, new_out))
            if i or args.smoke:
                ts += t
    prev, new = _ms(t_prev), _ms(t_new)
    out = {**prev, "new": new, "prev_over_new_ms": prev["median_ms"] / max(new["median_ms"],
                                                                            1e-9),
           "identical": same}
    if args.count_ops:
        out["host_syncs"] = op_counts(run, dev)["host_syncs"]
        out["host_syncs_new"] = op_counts(run_new, dev)["host_syncs"]
    return out


class _previous_walk:
    """Context: the fixed-shape path as before issue 9's matching-work and op-count rounds: all
    ``max_iter`` walk rounds in the device part / CUDA graph (``FIRST_ROUNDS = None``), the TF32
    screen's target norms computed by every search, each search's misses de-duplicated and its
    work buffers allocated, the poses uploaded from pageable memory (walk_prev.py), with its own
    CUDA graphs (``-prev`` variants)."""
    runner = None

    def __enter__(self):
        from walk_prev import fused_lookup_prev, upload_poses_prev

        from mast3r_ros.core.matchers import fixed_matching as fm
        from mast3r_ros.core.matching import walk

        if _previous_walk.runner is None:
            _previous_walk.runner = fm._GraphRunner()
        self.keep = (fm.FIRST_ROUNDS, walk._target_norms, fm._RUNNER, walk._FusedWalk._lookup,
                     fm._upload_poses)
        fm.FIRST_ROUNDS, walk._target_norms = None, lambda t: None
        fm._RUNNER = _previous_walk.runner
        walk._FusedWalk._lookup, fm._upload_poses = fused_lookup_prev, upload_poses_prev

    def __exit__(self, *exc):
        from mast3r_ros.core.matchers import fixed_matching as fm
        from mast3r_ros.core.matching import walk

        (fm.FIRST_ROUNDS, walk._target_norms, fm._RUNNER, walk._FusedWalk._lookup,
         fm._upload_poses) = self.keep


class _fused_rounds:
    """Context: the walk with its rounds' bookkeeping fused into two Triton kernels
    (`walk.FUSED_ROUNDS`, `core.walk_triton`), with its own CUDA graphs (``-fused`` variants)."""
    runner = None

    def __enter__(self):
        from mast3r_ros.core.matchers import fixed_matching as fm
        from mast3r_ros.core.matching import walk

        if _fused_rounds.runner is None:
            _fused_rounds.runner = fm._GraphRunner()
        self.keep = (walk.FUSED_ROUNDS, fm._RUNNER)
        walk.FUSED_ROUNDS, fm._RUNNER = True, _fused_rounds.runner

    def __exit__(self, *exc):
        from mast3r_ros.core.matchers import fixed_matching as fm
        from mast3r_ros.core.matching import walk

        walk.FUSED_ROUNDS, fm._RUNNER = self.keep


def _prev_wrap(fn, ctx=_previous_walk):
    def run(*a, **k):
        with ctx():
            return fn(*a, **k)
    return run


def _prev_ratios(row: Dict, fused: Dict, k: int, suffix: str = "-prev") -> None:
    """``prev/new`` of each ``-prev`` variant (``suffix``: or ``-fused``) against its current
    one (median time, and the op / launch counts when profiled) into ``row["prev_over_new"]``
    (``row["fused_over_new"]``), and logged."""
    from mast3r_ros.core.matchers import fixed_matching as fm

    out = {}
    for prev in [n for n in row if n.endswith(suffix)]:
        new = prev[:-len(suffix)]
        if new not in row:
            continue
        r = {"median_ms": row[prev]["median_ms"] / max(row[new]["median_ms"], 1e-9),
             "identical": all(np.array_equal(a, b) for a, b in zip(fused[prev], fused[new]))}
        for key, v in row[prev].get("ops", {}).items():
            if v or row[new]["ops"].get(key):
                r[key] = v / max(row[new]["ops"].get(key, 0), 1)
        out[new] = r
        LOG.info("match_and_fuse K=%d %s: %s/new %s  identical %s", k, new, suffix[1:],
                 "  ".join(f"{key} {v:.2f}" for key, v in r.items() if key != "identical"),
                 r["identical"])
    row[f"{suffix[1:]}_over_new"] = out
    if suffix != "-prev":
        return
    row["first_rounds"] = fm.FIRST_ROUNDS
    runner = fm._RUNNER
    row["graph_frames_with_longer_walks"] = runner.n_longer_walks


def match_and_fuse_variants(backends: List[str], dev: torch.device) -> Dict:
    """Name -> fn(preds, poses, rng) of each way `match_and_fuse` can run here: ``torch``;
    ``triton`` (the variable-shape path: one host round trip per walk round and per unique);
    ``triton-fixed`` (fixed shapes, no host round trip, eager: ``cuda_graph: off``);
    ``triton-graph`` (the same replayed as one CUDA graph; CUDA only); ``triton-fixed-prev``,
    ``triton-graph-prev`` (the same before issue 9's matching-work round, `_previous_walk`);
    ``triton-fixed-ieee`` (``triton-fixed`` without the TF32 screen, when ``triton-ieee`` is
    among the backends); ``triton-fused``, ``triton-fixed-fused``, ``triton-graph-fused`` (the
    same with the walk rounds' bookkeeping fused, `walk.FUSED_ROUNDS`, `_fused_rounds`)."""
    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.matchers.mast3r import _match_and_fuse_walks, match_and_fuse

    out: Dict = {}
    for be in backends:
        if be == "triton-ieee":  # eager fixed-shape path without the TF32 screen
            cfg = MatchingConfig(nn_backend="triton", max_matches=10**6, cuda_graph="off")
            out["triton-fixed-ieee"] = _ieee_wrap(
                lambda p, T, rng, cfg=cfg: match_and_fuse(p, T, cfg, rng))
            continue
        cfg = MatchingConfig(nn_backend=be, max_matches=10**6, cuda_graph="off")
        if be != "triton":
            out[be] = lambda p, T, rng, cfg=cfg: match_and_fuse(p, T, cfg, rng)
            continue
        out["triton"] = lambda p, T, rng, cfg=cfg: _match_and_fuse_walks(p, T, cfg, rng)
        out["triton-fixed"] = lambda p, T, rng, cfg=cfg: match_and_fuse(p, T, cfg, rng)
        out["triton-fixed-prev"] = _prev_wrap(out["triton-fixed"])
        out["triton-fused"] = _prev_wrap(out["triton"], _fused_rounds)
        out["triton-fixed-fused"] = _prev_wrap(out["triton-fixed"], _fused_rounds)
        if dev.type == "cuda":
            gcfg = MatchingConfig(nn_backend=be, max_matches=10**6, cuda_graph="auto")
            out["triton-graph"] = lambda p, T, rng, cfg=gcfg: match_and_fuse(p, T, cfg, rng)
            out["triton-graph-prev"] = _prev_wrap(out["triton-graph"])
            out["triton-graph-fused"] = _prev_wrap(out["triton-graph"], _fused_rounds)
    return out


_SYNC_OPS = ("aten::nonzero", "aten::_local_scalar_dense", "aten::unique", "aten::_unique",
             "aten::masked_select", "aten::item", "aten::is_nonzero")


def _is_sync(ev) -> bool:
    return any(ev.name.startswith(s) for s in _SYNC_OPS)


def _marked_as(label: str, fn):
    def run(*a, **kw):
        with torch.profiler.record_function(label):
            return fn(*a, **kw)
    return run


def op_counts(fn, dev: torch.device) -> Dict[str, int]:
    """One profiled call of ``fn``: top-level aten ops launched from Python (outside the Triton
    search and the fused walk kernels, whose interpreter makes host copies on the CPU), the ops
    among them that wait for the device (nonzero, unique, item, ...), the Triton kernel
    launches from Python (searches and fused walk rounds; none in a graph replay), and on CUDA
    the kernel and graph launches and synchronisations of the CUDA runtime. Without Triton (the
    torch backend only) there is no Triton search to mark."""
    from mast3r_ros.core.matching.backend import _triton_error

    nn_triton = None
    if _triton_error() is None:
        from mast3r_ros.core import nn_triton

    acts = [torch.profiler.ProfilerActivity.CPU]
    if dev.type == "cuda":
        acts.append(torch.profiler.ProfilerActivity.CUDA)
    real = nn_triton.nn_search if nn_triton else None

    def marked(*a, **kw):
        with torch.profiler.record_function("nn_search"):
            return real(*a, **kw)

    launches = [0]

    class _Counted:  # a Triton kernel whose launches are counted (any device)
        def __init__(self, kernel):
            self.kernel = kernel

        def __getitem__(self, grid):
            launches[0] += 1
            return self.kernel[grid]

    names = ("_target_norm_kernel", "_screen_kernel", "_nn_partial_kernel", "_nn_reduce_kernel")
    patched = []  # (module, name, original)
    if nn_triton:
        from mast3r_ros.core import walk_triton

        patched = [(nn_triton, "nn_search", real)]
        patched += [(nn_triton, n, getattr(nn_triton, n)) for n in names]
        patched += [(walk_triton, n, getattr(walk_triton, n))
                    for n in ("_walk_mid_kernel", "_walk_step_kernel", "walk_mid", "walk_step")]
        for mod, n, orig in patched:
            if n == "nn_search":
                setattr(mod, n, marked)
            elif n.startswith("walk_"):  # its interpreter's host copies are not the path's ops
                setattr(mod, n, _marked_as("triton_walk", orig))
            else:
                setattr(mod, n, _Counted(orig))
    try:
        with torch.profiler.profile(activities=acts) as prof:
            fn()
    finally:
        for mod, n, orig in patched:
            setattr(mod, n, orig)
    n_ops = n_sync = n_launch = n_graph = n_csync = n_search = 0
    for ev in prof.events():
        anc, inside = ev.cpu_parent, False
        while anc is not None and not inside:
            inside = anc.name in ("nn_search", "triton_walk")
            anc = anc.cpu_parent
        n_search += ev.name == "nn_search"
        if ev.name.startswith(("cudaLaunchKernel", "cuLaunchKernel")):
            n_launch += 1
        n_graph += ev.name.startswith("cudaGraphLaunch")
        n_csync += ev.name.startswith(("cudaStreamSynchronize", "cudaDeviceSynchronize",
                                       "cudaMemcpy"))
        if inside:
            continue
        n_ops += ev.name.startswith("aten::") and ev.cpu_parent is None
        # once per wait: item's _local_scalar_dense and unique's _unique2 are the same one
        n_sync += _is_sync(ev) and not (ev.cpu_parent is not None and _is_sync(ev.cpu_parent))
    out = {"aten_ops": n_ops, "host_syncs": n_sync, "nn_search_calls": n_search,
           "triton_launches": launches[0]}
    if dev.type == "cuda":
        out.update(kernel_launches=n_launch, graph_launches=n_graph, cuda_syncs_and_copies=n_csync)
    return out


def _tf32(x: torch.Tensor) -> torch.Tensor:
    return (x.contiguous().view(torch.int32) & -8192).view(torch.float32)


def screen_stats(pair, block_q: int = 32, block_t: int = 128, subsample: int = 8) -> Dict:
    """How many (query block, target tile) products the TF32 screen leaves to the IEEE kernel.

    Emulated on the CPU with the kernel's arithmetic (TF32-truncated operands, the bound
    ``SCREEN_C * |q| * |t|``) for the walk's first search: the grid start points of image 1
    (every ``subsample`` px) against every pixel of image 2, the queries in blocks of
    ``block_q`` as the kernel's programs hold them. ``live_tile_fraction`` is the share of tiles
    whose IEEE products the screen cannot skip (1.0 = no saving); every query's winner is
    checked to lie in a live tile (``winners_in_live_tiles``, must be True).
    """
    h, w, d = pair.desc1.shape
    ys, xs = np.mgrid[subsample // 2:h:subsample, subsample // 2:w:subsample]
    q = pair.desc1[torch.from_numpy(ys.ravel()), torch.from_numpy(xs.ravel())].float()
    return live_tile_stats(q, pair.desc2.reshape(-1, d).float(), block_q, block_t)


def live_tile_stats(q: torch.Tensor, t: torch.Tensor, block_q: int = 32,
                    block_t: int = 128) -> Dict:
    """`screen_stats` of the queries ``q`` (Q, D), in this order, against the targets ``t``
    (T, D), float32 (CPU)."""
    from mast3r_ros.core import nn_triton as nt

    n_t = t.shape[0]
    n_tiles = -(-n_t // block_t)
    pad = n_tiles * block_t - n_t
    qt, tt = _tf32(q), _tf32(t)
    tn = torch.linalg.vector_norm(t, dim=1)
    live = total = 0
    winners_ok = True
    for i in range(0, q.shape[0], block_q):
        qb = q[i:i + block_q]
        e = nt.SCREEN_C * torch.linalg.vector_norm(qb, dim=1)[:, None] * tn[None]
        a = qt[i:i + block_q] @ tt.T
        lower = (a - e).amax(dim=1, keepdim=True)
        keep = F.pad(a + e >= lower, (0, pad)).reshape(len(qb), n_tiles, block_t)
        tile_live = keep.any(dim=2).any(dim=0)
        live += int(tile_live.sum())
        total += n_tiles
        win = (qb @ t.T).argmax(dim=1) // block_t
        winners_ok &= bool(tile_live[win].all())
    return {"live_tile_fraction": live / total, "tiles": total, "queries": int(q.shape[0]),
            "block_q": block_q, "block_t": block_t, "screen_c": nt.SCREEN_C,
            "winners_in_live_tiles": winners_ok}


def sweep(pair, args, on_row=None) -> List[Dict]:
    """Triton kernel variants on one pair's whole walk (median ms), fastest first.
    ``on_row(rows)`` after each variant (the JSON is rewritten: a sweep cut by its time limit
    keeps the variants it timed)."""
    from mast3r_ros.core import nn_triton as nt
    from mast3r_ros.core.matching import fast_reciprocal_matches

    dev = torch.device(args.device)
    d1, d2 = pair.desc1.to(dev), pair.desc2.to(dev)
    with_screen = nt.TF32_SCREEN
    nt.TF32_SCREEN = False  # the plain IEEE search is the reference
    ref = fast_reciprocal_matches(d1, d2, nn_backend="triton")
    nt.TF32_SCREEN = with_screen
    names = ("USE_DOT", "TF32_SCREEN", "BLOCK_Q", "BLOCK_T", "NUM_WARPS", "CHUNK_BLOCKS")
    keep = tuple(getattr(nt, n) for n in names)
    broken = nt._SCREEN_BROKEN
    rows = []
    # (use_dot, tf32 screen, block_q, block_t, num_warps, chunk_blocks); the fma loop lost by
    # 2-9x on the H200 (docs/bench/h200_i9match), two of its shapes stay for reference. Screened
    # shapes: registers a thread / resident warps per SM on sm_90 (bench/kernel_resources.py)
    # screen / search: 32x128x4 212/8, 168/12; 32x128x8 126/16, 106/16; 32x64x4 126/16, 96/20;
    # 16x128x4 164/12, 188/8; 64x64x4 and 64x128x8 spill in the search
    for variant in [(False, False, 32, 128, 4, 32), (False, False, 16, 128, 4, 32),
                    (True, False, 32, 128, 4, 32), (True, False, 64, 64, 4, 32),
                    (True, False, 128, 64, 8, 32),
                    (True, True, 32, 128, 4, 32), (True, True, 32, 128, 8, 32),
                    (True, True, 32, 64, 4, 32), (True, True, 32, 64, 4, 64),
                    (True, True, 16, 128, 4, 32), (True, True, 32, 128, 8, 16),
                    (True, True, 32, 128, 4, 8), (True, True, 64, 128, 4, 32)]:
        for n, v in zip(names, variant):
            setattr(nt, n, v)
        row = {k.lower(): v for k, v in zip(names, variant)}
        nt._SCREEN_BROKEN = None  # a screen that fails falls back: say so, per variant
        try:
            t, m = timed(lambda: fast_reciprocal_matches(d1, d2, nn_backend="triton"), dev,
                         max(3, args.repeats // 3), warmup=1)
            row.update({**_ms(t), "n_matches": int(len(m[0])),
                        "same_matches": same(m, ref)})
            if variant[1] and nt._SCREEN_BROKEN is not None:
                row["error"] = f"screen fell back to IEEE: {nt._SCREEN_BROKEN}"[:200]
        except Exception as e:  # noqa: BLE001  a variant that does not compile is reported
            row["error"] = f"{type(e).__name__}: {e}"[:200]
        rows.append(row)
        LOG.info("sweep %s", rows[-1])
        if on_row is not None:
            on_row(rows)
    for n, v in zip(names, keep):
        setattr(nt, n, v)
    nt._SCREEN_BROKEN = broken
    return sorted(rows, key=lambda r: r.get("median_ms", float("inf")))


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", type=int, default=512, choices=(512, 384, 224),
                   help="network size: the long side (4:3 maps)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--pairs", type=int, default=4, help="synthetic pairs (K=4 needs 4)")
    p.add_argument("--backends", default="torch,triton,triton-ieee",
                   help="torch, triton (the Triton search with its TF32 screen), triton-ieee "
                        "(the same without the screen)")
    p.add_argument("--sweep", action="store_true", help="also time Triton kernel variants")
    p.add_argument("--smoke", action="store_true",
                   help="tiny pairs on the CPU (Triton interpreted): proves the script runs")
    p.add_argument("--baselines", action="store_true",
                   help="the earlier fast vs brute-force vs reference-style comparison instead")
    p.add_argument("--brute-repeats", type=int, default=2, help="--baselines: brute force runs")
    p.add_argument("--warmup", type=int, default=1, help="--baselines: untimed runs")
    p.add_argument("--count-ops", action="store_true",
                   help="also profile one match_and_fuse call per variant: aten ops, host "
                        "syncs, CUDA kernel/graph launches (on by default with --smoke)")
    p.add_argument("--screen-stats", action="store_true",
                   help="instead of timing: emulate on the CPU, for each pair, how many tiles "
                        "the TF32 screen of core/nn_triton.py leaves to the IEEE products")
    p.add_argument("--json", default=None, help="write results here")
    args = p.parse_args(argv)
    if not args.smoke and not args.baselines:  # a traceback at the first CUDA call else
        from mast3r_ros.core.devices import resolve_device
        from mast3r_ros.core.errors import ConfigError

        try:
            resolve_device(args.device)
        except ConfigError as e:
            p.error(f"--device: {e}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.baselines:
        args.pairs = "fixture,synthetic"
        return baselines_main(args)
    backends = args.backends.split(",")
    if args.smoke:
        args.device, args.repeats, args.pairs = "cpu", 1, min(args.pairs, 2)
        args.count_ops = True
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is first imported
    from mast3r_ros.core.matching.backend import _triton_error

    if args.screen_stats and _triton_error() is not None:  # it reads nn_triton's SCREEN_C
        p.error("--screen-stats emulates the screen of core/nn_triton.py and needs Triton >= 3.0 "
                f"(pip install -e '.[triton]' in the checkout): {_triton_error()}")
    if "triton" in backends and _triton_error() is not None:
        LOG.warning("triton unavailable (%s): timing the torch backend only", _triton_error())
        backends = [b for b in backends if not b.startswith("triton")]
    dev = torch.device(args.device)
    h, w = (24, 32) if args.smoke else (args.size * 3 // 4, args.size)
    from mast3r_test_utils import warped_descriptor_pair

    pairs = [warped_descriptor_pair(h, w, seed=s, angle_deg=(-4.0, 3.0, 6.0, -2.0)[s % 4],
                                    scale=(1.08, 0.93, 1.0, 1.15)[s % 4],
                                    quantize=8 if args.smoke else 0)
             for s in range(args.pairs)]
    LOG.info("device %s, %dx%d maps, D=24, subsample 8, %d pairs, backends %s", dev, w, h,
             len(pairs), backends)
    if args.screen_stats:
        res = {"shape_hwd": [h, w, 24], "screen_stats": []}
        for i, pair in enumerate(pairs):
            for bq in (32, 64):
                res["screen_stats"].append({"pair": i, **screen_stats(pair, block_q=bq)})
                LOG.info("TF32 screen (CPU emulation, first search of the walk): %s",
                         res["screen_stats"][-1])
        write_json(args.json, res)
        return 0 if all(r["winners_in_live_tiles"] for r in res["screen_stats"]) else 1
    head = {**environment(dev), "shape_hwd": [h, w, 24], "smoke": args.smoke}
    # rewritten after every pair and K, marked incomplete until the end (a step cut by its
    # limit keeps the pairs and the K done; gpu_summary.py says the rest is missing)
    res = {**head, **compare_backends(pairs, args, backends, progress=lambda r: write_json(
        args.json, {**head, **r, "incomplete": True}))}
    if args.sweep and "triton" in backends:
        res["sweep"] = sweep(pairs[0], args, on_row=lambda rows: write_json(
            args.json, {**res, "sweep": rows, "sweep_incomplete": True}))
    sync(dev)
    write_json(args.json, res)
    jac = [r["jaccard"] for r in res["pairs"] if "jaccard" in r]
    # smoke pairs are exact in float32, so the backends must agree bit for bit; on real-valued
    # maps a rounding-level near-tie may differ and is reported, not failed
    return 1 if args.smoke and not all(j == 1.0 for j in jac) else 0


if __name__ == "__main__":
    sys.exit(main())
