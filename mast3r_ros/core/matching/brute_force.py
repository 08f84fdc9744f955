"""The exhaustive mutual nearest-neighbour baseline (`brute_force_mutual_nn`).

Every pixel of each map is searched against every pixel of the other in one pass over score tiles
(`_mutual_scan`, both reductions of each tile); the mutual pairs are the reference the fast
reciprocal walk is checked and benchmarked against.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..errors import ConfigError
from .checks import DISTANCES, _check_int, _flatten, _invalid_rows
from .pixels import Matches, _empty_result, _unique_sorted_xy
from .search import _sanitize, _scores, _tile_shape


def brute_force_mutual_nn(
    desc1: torch.Tensor, desc2: torch.Tensor, *, dist: str = "dot", block_size: int = 8192
) -> Matches:
    """Every mutual nearest-neighbour pair between all pixels of two maps (exhaustive baseline).

    desc1 (H1, W1, D), desc2 (H2, W2, D) float tensors on one device; cost O(H1 W1 H2 W2 D),
    memory bounded by tiles of at most ``block_size**2`` scores. Ties go to the earliest index;
    pixels with a NaN/inf descriptor never match. Returns int64 (N, 2) (x, y) tensors sorted and
    unique as :func:`fast_reciprocal_matches`. Raises `ConfigError` (a ``ValueError``) for an
    unknown ``dist`` or a ``block_size`` that is not an int >= 1, `InputError` for malformed
    maps.
    """
    if dist not in DISTANCES:
        raise ConfigError(f"dist must be one of {DISTANCES}, got {dist!r}")
    _check_int(block_size, "block_size")
    flat1, flat2 = _flatten(desc1, desc2)
    w1, w2, n2 = desc1.shape[1], desc2.shape[1], flat2.shape[0]
    if flat1.shape[0] == 0 or n2 == 0:
        return _empty_result(flat1.device, flat1.shape[0], False)
    bad1, bad2 = _invalid_rows(flat1, False), _invalid_rows(flat2, False)
    if bad1 is not None or bad2 is not None:
        bad1, bad2 = _invalid_rows(flat1, True), _invalid_rows(flat2, True)
    nn12, nn21 = _mutual_scan(flat1, flat2, dist, int(block_size), bad1, bad2)
    i1 = torch.arange(flat1.shape[0], device=flat1.device)
    mutual = nn21[nn12] == i1
    if bad1 is not None:
        mutual &= ~bad1 & ~bad2[nn12]
    return _unique_sorted_xy(i1[mutual], nn12[mutual], w1, w2, n2)


def _mutual_scan(
    flat1: torch.Tensor,
    flat2: torch.Tensor,
    dist: str,
    block_size: int,
    bad1: Optional[torch.Tensor],
    bad2: Optional[torch.Tensor],
) -> Tuple[torch.Tensor, torch.Tensor]:
    """NN of every row of flat1 in flat2 and vice versa, from one pass over score tiles."""
    n1, n2 = flat1.shape[0], flat2.shape[0]
    if bad1 is not None:  # both masks or neither
        flat1 = flat1.masked_fill(bad1[:, None], 0.0)
        flat2 = flat2.masked_fill(bad2[:, None], 0.0)
    rows, cols = _tile_shape(n1, n2, block_size, flat1.device)
    if flat1.device.type == "cpu":
        rows = cols = max(1, min(block_size, 1024))  # square tiles: both reductions are used
    nn12 = torch.empty(n1, dtype=torch.int64, device=flat1.device)
    val21 = torch.full((n2,), float("-inf"), dtype=flat1.dtype, device=flat1.device)
    nn21 = torch.zeros(n2, dtype=torch.int64, device=flat1.device)
    for i in range(0, n1, rows):
        best_val = best_idx = None
        for j in range(0, n2, cols):
            s = _scores(flat1[i:i + rows], flat2[j:j + cols], dist)
            if bad1 is not None:
                s = _sanitize(s, bad1[i:i + rows], bad2[j:j + cols])
            val, idx = s.max(dim=1)
            if best_val is None:
                best_val, best_idx = val, idx
            else:
                better = val > best_val
                best_val = torch.where(better, val, best_val)
                best_idx = torch.where(better, idx + j, best_idx)
            cval, cidx = s.max(dim=0)
            better = (cval > val21[j:j + cols]) | (i == 0)
            val21[j:j + cols] = torch.where(better, cval, val21[j:j + cols])
            nn21[j:j + cols] = torch.where(better, cidx + i, nn21[j:j + cols])
        nn12[i:i + rows] = best_idx
    return nn12, nn21
