"""The fast reciprocal matchers: `fast_reciprocal_matches` (descriptor maps), its batched form
`fast_reciprocal_matches_batch` and `reciprocal_matches_3d` (pointmaps).

Their shared body `_reciprocal` checks the parameters (`checks`), picks the start points and the
nearest-neighbour search (`backend`), walks (`walk`) and returns the converged walkers as sorted
unique pixel pairs (`pixels`). The algorithm, its reference and the conventions are described in
the package docstring (`core.matching`).
"""

from __future__ import annotations

import logging
from typing import List, Optional, Sequence, Tuple

import torch

from ..errors import InputError
from .backend import resolve_nn_backend
from .checks import IntPoints, _check_params, _flatten, _invalid_rows, _start_indices
from .pixels import Matches, _empty_result, _to_xy, _unique_sorted_xy
from .search import _CachedNN
from .walk import _fused_walk, _walk

_LOG = logging.getLogger(__name__)


def _reciprocal(
    flat1: torch.Tensor,
    flat2: torch.Tensor,
    hw1: Tuple[int, int],
    hw2: Tuple[int, int],
    *,
    subsample: int,
    max_iter: Optional[int],
    init_xy1: Optional[IntPoints],
    pixel_tol: float,
    dist: str,
    block_size: int,
    ret_basin: bool,
    check_finite: bool,
    nn_backend: str = "torch",
):
    """Shared body of the descriptor and 3-D point variants (flat maps (N, D))."""
    n_iter = _check_params(subsample, max_iter, init_xy1, pixel_tol, dist, block_size)
    backend = resolve_nn_backend(nn_backend, flat1.device, dist, flat1.dtype)
    device, n1, n2 = flat1.device, flat1.shape[0], flat2.shape[0]
    start = _start_indices(hw1, subsample, init_xy1, device)
    if not check_finite and bool(torch.isfinite(flat1.sum() + flat2.sum())):
        bad1 = bad2 = None  # both maps finite: one host round trip, not one per map
    else:
        bad1, bad2 = _invalid_rows(flat1, check_finite), _invalid_rows(flat2, check_finite)
    if bad1 is not None:
        start = start[~bad1[start]]
    if start.numel() == 0 or n2 == 0 or (bad2 is not None and bool(bad2.all())):
        return _empty_result(device, n1, ret_basin)
    if backend == "triton" and not ret_basin:
        xy1, xy2, active = (a[0] for a in _fused_walk(
            flat1[None], flat2[None], None if bad1 is None else bad1[None],
            None if bad2 is None else bad2[None], start, n_iter))
        basin = None
    else:
        nn12 = _CachedNN(flat1, flat2, dist, int(block_size), bad2)
        nn21 = _CachedNN(flat2, flat1, dist, int(block_size), bad1)
        xy1, xy2, active, basin = _walk(nn12, nn21, start, n_iter, ret_basin)
        _LOG.debug("reciprocal walk: %d starts, searched %d + %d pixels",
                   start.numel(), nn12.n_searched, nn21.n_searched)
    if pixel_tol > 0:
        w1 = hw1[1]
        dx = (start % w1 - xy1 % w1).double()
        dy = (torch.div(start, w1, rounding_mode="floor") -
              torch.div(xy1, w1, rounding_mode="floor")).double()
        converged = torch.sqrt(dx * dx + dy * dy) < pixel_tol
        xy1 = start  # the reference reports the given start point, not its back-projection
    else:
        converged = ~active
    out1, out2 = _unique_sorted_xy(xy1[converged], xy2[converged], hw1[1], hw2[1], n2)
    if ret_basin:
        return out1, out2, basin
    return out1, out2


def fast_reciprocal_matches(
    desc1: torch.Tensor,
    desc2: torch.Tensor,
    *,
    subsample: int = 8,
    max_iter: Optional[int] = None,
    init_xy1: Optional[IntPoints] = None,
    pixel_tol: float = 0.0,
    dist: str = "dot",
    block_size: int = 8192,
    ret_basin: bool = False,
    nn_backend: str = "torch",
):
    """Reciprocal nearest-neighbour matches between two dense descriptor maps (MASt3R fast NN).

    Args:
        desc1: (H1, W1, D) float tensor of image 1 (for MASt3R: view 1), any device.
        desc2: (H2, W2, D) float tensor of image 2, same device. float16/bfloat16 maps are
            searched in float32 (exact same result as passing ``.float()``); float64 stays float64.
            Pixels whose descriptor holds a NaN/inf never match.
        subsample: start points are the grid ``x = s//2, s//2 + s, ...``, ``y`` likewise.
        max_iter: walk rounds; None means 10 for the grid and 1 with ``init_xy1`` (the
            reference's values).
        init_xy1: explicit start points, integer (M, 2) (x, y) tensor or array, instead of the grid
            (duplicates are merged).
        pixel_tol: > 0 (pixels, needs ``init_xy1``, one round): a start point p is kept iff
            ``|| NN_1(NN_2(p)) - p || < pixel_tol`` and is reported as xy1 with ``xy2 = NN_2(p)``;
            such pairs need not be mutual nearest neighbours.
        dist: "dot" (largest inner product) or "l2" (smallest Euclidean distance).
        block_size: memory bound; one score tile has at most ``block_size`` query rows and
            ``block_size**2`` elements.
        ret_basin: also return the basin map.
        nn_backend: nearest-neighbour search, "torch" (tiled GEMM + argmax, any device),
            "triton" (fused kernel of `core.nn_triton`: CUDA, no score matrix, fewer host round
            trips) or "auto" (triton on CUDA when installed); see `resolve_nn_backend`. Same
            matches: the kernel keeps the first index on ties and only a rounding-level
            difference between two scores can order them differently.

    Returns:
        ``(xy1, xy2)``: int64 (N, 2) (x, y) pixel tensors on the inputs' device, sorted by
        image-1 flat index ``y * W1 + x`` then image-2 flat index, unique; with ``pixel_tol == 0``
        every pair is a mutual nearest neighbour. With ``ret_basin`` a third int64 tensor of shape
        (H1*W1 + 1,): ``basin[i]`` is the image-1 flat index a walk moved to from pixel i (last
        write), -1 where no walk left from i.

    Raises:
        InputError: malformed maps or start points.
        ConfigError (a ValueError): invalid parameters or an unusable ``nn_backend``.
    """
    flat1, flat2 = _flatten(desc1, desc2)
    return _reciprocal(
        flat1, flat2, tuple(desc1.shape[:2]), tuple(desc2.shape[:2]), subsample=subsample,
        max_iter=max_iter, init_xy1=init_xy1, pixel_tol=pixel_tol, dist=dist,
        block_size=block_size, ret_basin=ret_basin, check_finite=False, nn_backend=nn_backend,
    )


def fast_reciprocal_matches_batch(
    pairs: Sequence[Tuple[torch.Tensor, torch.Tensor]],
    *,
    subsample: int = 8,
    max_iter: Optional[int] = None,
    nn_backend: str = "torch",
) -> List[Matches]:
    """`fast_reciprocal_matches` (grid start points, "dot") of K descriptor-map pairs.

    ``pairs``: K ``(desc1, desc2)`` as in `fast_reciprocal_matches`, on one device. Returns the
    K ``(xy1, xy2)`` results, each identical to a call of `fast_reciprocal_matches`. With the
    Triton backend and pairs of equal shapes and finite maps, the K walks run together: one
    kernel launch per direction and round for all pairs, one host round trip per round.

    Raises `InputError` for ``pairs`` that are not a list of 2-tuples and for malformed maps,
    `ConfigError` for invalid ``subsample`` / ``max_iter`` or an unusable ``nn_backend``, as
    `fast_reciprocal_matches`.
    """
    if isinstance(pairs, torch.Tensor) or not all(
            isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise InputError("fast_reciprocal_matches_batch takes a list of (desc1, desc2) pairs "
                         f"of (H, W, D) tensors, got {type(pairs).__name__} of "
                         f"{type(next(iter(pairs), None)).__name__}")
    if not pairs:
        return []
    flats = [_flatten(a, b) for a, b in pairs]
    shapes = {(tuple(a.shape), tuple(b.shape)) for a, b in pairs}
    f1, f2 = flats[0]
    backend = resolve_nn_backend(nn_backend, f1.device, "dot", f1.dtype)
    one = dict(subsample=subsample, max_iter=max_iter, nn_backend=nn_backend)
    if backend != "triton" or len(pairs) == 1 or len(shapes) > 1 or len(
            {f.dtype for fl in flats for f in fl}) > 1:
        return [fast_reciprocal_matches(a, b, **one) for a, b in pairs]
    n_iter = _check_params(subsample, max_iter, None, 0.0, "dot", 1)
    s1 = torch.stack([f[0] for f in flats])
    s2 = torch.stack([f[1] for f in flats])
    if not bool(torch.isfinite(s1).all() & torch.isfinite(s2).all()):
        return [fast_reciprocal_matches(a, b, **one) for a, b in pairs]
    hw1, hw2 = tuple(pairs[0][0].shape[:2]), tuple(pairs[0][1].shape[:2])
    start = _start_indices(hw1, subsample, None, f1.device)
    n1, n2 = s1.shape[1], s2.shape[1]
    if start.numel() == 0 or n2 == 0:
        return [_empty_result(f1.device, n1, False) for _ in pairs]
    xy1, xy2, active = _fused_walk(s1, s2, None, None, start, n_iter)
    conv = ~active
    slot = torch.arange(len(pairs), device=f1.device)[:, None].expand_as(xy1)
    key = torch.unique((slot * n1 + xy1)[conv] * n2 + xy2[conv])  # sorted by pair, then pixels
    f12 = torch.div(key, n2, rounding_mode="floor")
    counts = torch.bincount(torch.div(f12, n1, rounding_mode="floor"),
                            minlength=len(pairs)).tolist()
    out = []
    for f, k2 in zip(torch.split(f12 % n1, counts), torch.split(key % n2, counts)):
        out.append((_to_xy(f, hw1[1]), _to_xy(k2, hw2[1])))
    return out


def reciprocal_matches_3d(
    pts1: torch.Tensor,
    pts2: torch.Tensor,
    *,
    subsample: int = 8,
    max_iter: Optional[int] = None,
    init_xy1: Optional[IntPoints] = None,
    pixel_tol: float = 0.0,
    block_size: int = 8192,
    ret_basin: bool = False,
):
    """Reciprocal nearest neighbours of two (H, W, 3) pointmaps in one frame (DUSt3R variant).

    Same walk, arguments and return convention as :func:`fast_reciprocal_matches` with
    ``dist="l2"`` (Euclidean distance in the pointmaps' unit, e.g. metres). Points with a NaN/inf
    coordinate never match and are never walked through. The channel count is not checked:
    (H, W, D) maps of any D >= 1 are matched by L2 distance. Raises as
    `fast_reciprocal_matches`.
    """
    flat1, flat2 = _flatten(pts1, pts2)
    return _reciprocal(
        flat1, flat2, tuple(pts1.shape[:2]), tuple(pts2.shape[:2]), subsample=subsample,
        max_iter=max_iter, init_xy1=init_xy1, pixel_tol=pixel_tol, dist="l2",
        block_size=block_size, ret_basin=ret_basin, check_finite=True,
    )
