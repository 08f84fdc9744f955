"""Exact nearest-neighbour search on tiled score matrices (torch, any device).

Scores are "dot" similarities or minus "l2" distances (`_scores`), computed tile by tile
(`_tile_shape`: cache-sized on CPU, at most ``block_size**2`` elements anywhere), with invalid
rows and columns made to lose every comparison (`_sanitize`). `_nearest` returns each query's
nearest target row, the earliest index winning a tie; `_CachedNN` serves a walk, searching each
source row at most once (`_CachedNN.misses` says which rows a step needs, `_CachedNN.search`
searches them).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

# On CPU a tile of 2**20 float32 (4 MiB) stays in the L2/L3 cache, which made the GEMM + argmax
# about 2-3x faster than the reference's 8192 x 8192 tiles on a 2-core EPYC.
_CPU_TILE_ELEMS = 1 << 20
_CPU_TILE_ROWS = 256


def _scores(q: torch.Tensor, t: torch.Tensor, dist: str) -> torch.Tensor:
    """(Q, T) tile where larger is better: similarity for "dot", minus distance for "l2"."""
    if dist == "dot":
        return q @ t.T
    # cdist (matrix-product form, as the reference uses) so that near-ties round identically
    return torch.cdist(q, t).neg_()


def _sanitize(s: torch.Tensor, row_bad: Optional[torch.Tensor],
              col_bad: Optional[torch.Tensor]) -> torch.Tensor:
    """Make invalid rows/columns lose every comparison; keep valid overflowed scores finite."""
    finfo = torch.finfo(s.dtype)
    s = torch.nan_to_num(s, nan=finfo.min, posinf=finfo.max, neginf=finfo.min)
    if col_bad is not None:
        s.masked_fill_(col_bad[None, :], float("-inf"))
    if row_bad is not None:
        s.masked_fill_(row_bad[:, None], float("-inf"))
    return s


def _tile_shape(n_rows: int, n_cols: int, block_size: int, device: torch.device) -> Tuple[int, int]:
    """Rows x columns of one score tile: at most block_size rows and block_size**2 elements."""
    limit = block_size * block_size
    if device.type == "cpu":
        rows, elems = min(block_size, _CPU_TILE_ROWS), min(limit, _CPU_TILE_ELEMS)
    else:
        rows, elems = block_size, limit
    rows = max(1, min(n_rows, rows))
    return rows, max(1, min(n_cols, elems // rows))


def _nearest(
    queries: torch.Tensor,
    targets: torch.Tensor,
    *,
    dist: str,
    block_size: int,
    target_bad: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Index (Q,) int64 of each query's nearest target row; the earliest index wins a tie.

    queries (Q, D), targets (T, D), same dtype and device, all finite where target_bad is None.
    target_bad (T,) bool marks rows that are never returned while a valid row exists (zero them
    first: their coordinates still enter the product).
    """
    n_q, n_t = queries.shape[0], targets.shape[0]
    rows, cols = _tile_shape(n_q, n_t, block_size, queries.device)
    out = torch.empty(n_q, dtype=torch.int64, device=queries.device)
    for i in range(0, n_q, rows):
        q = queries[i:i + rows]
        best_val = best_idx = None
        for j in range(0, n_t, cols):
            s = _scores(q, targets[j:j + cols], dist)
            if target_bad is not None:
                s = _sanitize(s, None, target_bad[j:j + cols])
            val, idx = s.max(dim=1)
            if best_val is None:
                best_val, best_idx = val, idx
                continue
            better = val > best_val  # strict: an earlier tile keeps a tie
            best_val = torch.where(better, val, best_val)
            best_idx = torch.where(better, idx + j, best_idx)
        out[i:i + rows] = best_idx
    return out


class _CachedNN:
    """Nearest neighbours of source rows among target rows, each source row searched once."""

    def __init__(self, source: torch.Tensor, target: torch.Tensor, dist: str, block_size: int,
                 target_bad: Optional[torch.Tensor]) -> None:
        if target_bad is not None:
            target = target.masked_fill(target_bad[:, None], 0.0)
        self.source, self.target = source, target
        self.dist, self.block_size, self.target_bad = dist, block_size, target_bad
        self.cache = torch.full((source.shape[0],), -1, dtype=torch.int64, device=source.device)
        self.n_searched = 0

    def misses(self, idx: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, int]:
        """(rows, n_mask): the distinct source rows among ``idx[mask]`` not searched yet, sorted
        ascending (int64), and ``mask``'s count. idx (P,) int64 source rows (any value where
        ``mask`` is False), mask (P,) bool.

        One host round trip, for both numbers: the rows are compacted on the device (two sorts
        of P values, sentinels last), and only their count and ``mask``'s are read back, packed
        in one scalar.
        """
        n, n_p = self.source.shape[0], mask.shape[0]
        cand = torch.where(mask & (self.cache[idx.clamp(0, n - 1)] < 0), idx, n)
        srt = torch.sort(cand).values
        dup = torch.zeros_like(mask)
        dup[1:] = srt[1:] == srt[:-1]
        srt = torch.sort(srt.masked_fill(dup, n)).values
        n_todo, n_mask = divmod(int(((srt < n).sum() * (n_p + 1) + mask.sum()).item()), n_p + 1)
        return srt[:n_todo], n_mask

    def search(self, rows: torch.Tensor) -> None:
        """Search the source rows ``rows`` ((R,) int64, distinct, sorted) into the cache; no
        host round trip."""
        if rows.numel():
            self.cache[rows] = _nearest(self.source[rows], self.target, dist=self.dist,
                                        block_size=self.block_size, target_bad=self.target_bad)
        self.n_searched += int(rows.numel())
