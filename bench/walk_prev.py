"""Frozen copy of the torch walk (`core.matching.walk._walk`) before it was cut to at most two
host round trips a round (issue 9: it waited 3 times a round, the active set's ``nonzero`` and
one ``torch.unique`` per search).

Kept only so `bench_matching.py` can time the previous and the current walk side by side in one
run and check they give the same matches; never imported by the package. Operates on a current
`search._CachedNN` (same cache and fields). `previous_walk` is a context that makes
`fast_reciprocal_matches` use it.

Also the Triton walk's search step and the fixed path's pose upload before issue 9's op-count
round (`fused_lookup_prev`, `upload_poses_prev`: bench/hotpath_counts.py and
bench_matching.py's ``-prev`` variants patch them in).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch


def _lookup(nn, idx: torch.Tensor) -> torch.Tensor:
    """The previous ``_CachedNN.__call__``: one torch.unique (a host round trip) per call."""
    from mast3r_ros.core.matching.search import _nearest

    lead = torch.full((1,), -1, dtype=idx.dtype, device=idx.device)
    todo = torch.unique(torch.cat((lead, torch.where(nn.cache[idx] < 0, idx, -1))))[1:]
    nn.cache[todo] = _nearest(nn.source[todo], nn.target, dist=nn.dist,
                              block_size=nn.block_size, target_bad=nn.target_bad)
    nn.n_searched += int(todo.numel())
    return nn.cache[idx]


def walk(nn12, nn21, start, max_iter, ret_basin):
    """The previous `_walk`: compacted walkers (``nonzero`` each round)."""
    n1 = nn12.source.shape[0]
    xy1, xy2 = start.clone(), torch.full_like(start, -1)
    old1, old2 = xy1.clone(), xy2.clone()
    active = torch.ones_like(start, dtype=torch.bool)
    basin = torch.full((n1 + 1,), -1, dtype=torch.int64, device=start.device) if ret_basin else None
    for n_iter in range(1, max_iter + 1):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        xy2[idx] = _lookup(nn12, xy1[idx])
        keep = None if ret_basin else xy2[idx] != old2[idx]
        back = _lookup(nn21, xy2[idx])
        if keep is not None:
            back = torch.where(keep, back, xy1[idx])
        xy1[idx] = back
        if basin is not None:
            basin[old1[idx]] = back
        moved = back != old1[idx]
        active[idx] = moved if keep is None else keep & moved
        if n_iter < max_iter:
            old1.copy_(xy1)
            old2.copy_(xy2)
    return xy1, xy2, active, basin


@contextlib.contextmanager
def previous_walk():
    """`fast_reciprocal_matches` (torch search) walks with the previous `walk` inside."""
    from mast3r_ros.core.matching import reciprocal

    keep = reciprocal._walk
    reciprocal._walk = walk
    try:
        yield
    finally:
        reciprocal._walk = keep


def fused_lookup_prev(self, cache, src, tgt_t, tgt_bad, tgt_norms, idx, need, n_src, scratch=None):
    """`matching.walk._FusedWalk._lookup` before this round: the cache misses de-duplicated
    (a second sort and five more ops a search) before the search, which allocated its work
    buffers (``scratch`` ignored)."""
    from mast3r_ros.core.nn_triton import nn_search

    cand = torch.where(need & (cache.gather(1, idx) < 0), idx, n_src)
    srt = torch.sort(cand, dim=1).values
    dup = torch.zeros_like(need)
    dup[:, 1:] = srt[:, 1:] == srt[:, :-1]
    srt = torch.sort(srt.masked_fill(dup, n_src), dim=1).values  # sentinels last
    nn_search(src, tgt_t, srt, (srt < n_src).sum(1), cache, tgt_bad, target_norms=tgt_norms)
    return cache.gather(1, idx)


def upload_poses_prev(buf: torch.Tensor, map_from_cam: np.ndarray) -> None:
    """`fixed_matching._upload_poses` before this round: a blocking copy of pageable memory."""
    buf.copy_(torch.from_numpy(np.ascontiguousarray(map_from_cam, np.float64).reshape(
        buf.shape)))


def select_rows_prev(host: np.ndarray, k_n: int, cfg, rng: np.random.Generator):
    """`matchers.mast3r._select_rows` before the host-finish round: one pass over all rows per
    slot, one copy of the chosen rows, strided column views of it."""
    from mast3r_ros.core.matchers.mast3r import _PACK, FusedMatches

    rows = []
    for k in range(k_n):
        kept = np.flatnonzero((host[:, 0] > 0) & (host[:, 1] == k))
        if len(kept) > cfg.max_matches:
            kept = kept[np.sort(rng.choice(len(kept), cfg.max_matches, replace=False))]
        rows.append(kept)
    h = host[np.concatenate(rows)] if rows else np.zeros((0, len(_PACK)))
    return FusedMatches(h[:, 1].astype(np.int64), h[:, 2:4].astype(np.int64),
                        h[:, 4:6].astype(np.int64), h[:, 6:9], h[:, 9:12], h[:, 12])


def pair_prev(fused, k: int):
    """`FusedMatches.pair` before the host-finish round: a boolean mask, six copies."""
    sel = fused.slot == k
    return type(fused)(*(a[sel] for a in fused))
