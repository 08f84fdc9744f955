"""Fast reciprocal nearest-neighbour matching of dense descriptor (or 3-D point) maps.

Clean-room implementation of MASt3R's fast reciprocal matching (Leroy, Cabon & Revaud, *Grounding
Image Matching in 3D with MASt3R*, ECCV 2024, sec. 3.3; reference code: naver/mast3r
``mast3r/fast_nn.py``, ``fast_reciprocal_NNs``): start points on a sparse grid of image 1 walk
``p1 -> NN_2(p1) -> NN_1(NN_2(p1)) -> ...`` until the walk closes a cycle, i.e. reaches a pair of
mutual nearest neighbours. Only a few thousand pixels are ever queried, instead of the
``(H*W) x (H*W)`` similarity of an exhaustive mutual-NN search.

Results are identical to the reference algorithm (same start points, same iteration and stopping
rule, same tie-breaking: the earliest index wins), but much cheaper:

* only the needed direction is computed (the reference also computes a reverse NN per block);
* queries are de-duplicated before the GEMM and every answer is cached, so pixels visited again
  (walks merge into shared basins) are never searched twice;
* the similarity is tiled so that one tile stays in cache on CPU and at most
  ``block_size x block_size`` elements on any device.

Conventions: pixels are (x, y) = (column, row); the flat index of a pixel is ``y * W + x``.
Returned coordinates are int64 tensors of shape (N, 2) on the inputs' device, sorted by the image-1
flat index, then the image-2 flat index, without duplicates.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..errors import ConfigError, InputError

_LOG = logging.getLogger(__name__)

DISTANCES = ("dot", "l2")
NN_BACKENDS = ("auto", "torch", "triton")
# On CPU a tile of 2**20 float32 (4 MiB) stays in the L2/L3 cache, which made the GEMM + argmax
# about 2-3x faster than the reference's 8192 x 8192 tiles on a 2-core EPYC.
_CPU_TILE_ELEMS = 1 << 20
_CPU_TILE_ROWS = 256
_DEFAULT_MAX_ITER = 10

IntPoints = Union[torch.Tensor, np.ndarray]
Matches = Tuple[torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------------------------
# input handling


def _compute_dtype(dtype: torch.dtype, name: str) -> torch.dtype:
    """float32/float64 are used as given; half precisions are searched in float32 (ties)."""
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    raise InputError(
        f"{name} must be a floating-point tensor (float16/bfloat16/float32/float64), got {dtype}"
    )


def _flatten(desc1: torch.Tensor, desc2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Check two (H, W, D) maps and return them as (H*W, D) in a common compute dtype."""
    for name, d in (("desc1", desc1), ("desc2", desc2)):
        if not isinstance(d, torch.Tensor) or d.dim() != 3:
            shape = tuple(d.shape) if hasattr(d, "shape") else type(d).__name__
            raise InputError(f"{name} must be a torch.Tensor of shape (H, W, D), got {shape}")
    if desc1.shape[2] == 0:
        raise InputError("desc1 and desc2 have D=0 channels: pass (H, W, D) maps with D >= 1")
    if desc1.shape[2] != desc2.shape[2]:
        raise InputError(
            f"descriptor sizes differ: desc1 has D={desc1.shape[2]}, desc2 has D={desc2.shape[2]}"
        )
    if desc1.device != desc2.device:
        raise InputError(f"desc1 is on {desc1.device} but desc2 on {desc2.device}; move one")
    dtype = torch.promote_types(
        _compute_dtype(desc1.dtype, "desc1"), _compute_dtype(desc2.dtype, "desc2")
    )
    flat1 = desc1.reshape(-1, desc1.shape[2]).to(dtype).contiguous()
    flat2 = desc2.reshape(-1, desc2.shape[2]).to(dtype).contiguous()
    return flat1, flat2


def _invalid_rows(flat: torch.Tensor, force: bool) -> Optional[torch.Tensor]:
    """Bool mask (N,) of rows holding a NaN/inf, or None when every row is finite (fast path)."""
    invalid = ~torch.isfinite(flat).all(dim=1)
    if force or bool(invalid.any()):
        return invalid
    return None


def _check_params(
    subsample: int,
    max_iter: Optional[int],
    init_xy1: Optional[IntPoints],
    pixel_tol: float,
    dist: str,
    block_size: int,
) -> int:
    """Validate the walk parameters; return the effective iteration limit. Raises
    `ConfigError` (a ValueError) naming the bad parameter."""
    if dist not in DISTANCES:
        raise ConfigError(f"dist must be one of {DISTANCES}, got {dist!r}")
    _check_int(block_size, "block_size")
    if init_xy1 is None:
        _check_int(subsample, "subsample")
    if (isinstance(pixel_tol, bool) or not isinstance(pixel_tol, (int, float, np.number))
            or not pixel_tol >= 0):
        raise ConfigError(f"pixel_tol must be a number >= 0, got {pixel_tol!r}")
    if pixel_tol > 0 and init_xy1 is None:
        raise ConfigError(
            "pixel_tol > 0 needs explicit start points (init_xy1): the one-round tolerance test "
            "is only defined for given points (the reference crashes on a grid subsample)"
        )
    if pixel_tol > 0 and max_iter not in (None, 1):
        raise ConfigError(f"pixel_tol > 0 is a one-round test: max_iter must be 1, got {max_iter}")
    if max_iter is None:
        return 1 if init_xy1 is not None else _DEFAULT_MAX_ITER
    return _check_int(max_iter, "max_iter")


def _check_int(value: object, name: str) -> int:
    """``value`` as an int >= 1; `ConfigError` for a bool, float (2.5 was truncated to 2),
    string or a value below 1."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < 1):
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def _start_indices(
    hw1: Tuple[int, int], subsample: int, init_xy1: Optional[IntPoints], device: torch.device
) -> torch.Tensor:
    """Sorted unique flat start indices (int64) in image 1."""
    h, w = hw1
    if init_xy1 is None:
        s = int(subsample)
        if s // 2 >= h or s // 2 >= w:  # torch.arange rejects an empty range with step > 1
            return torch.zeros(0, dtype=torch.int64, device=device)
        ys = torch.arange(s // 2, h, s, device=device)
        xs = torch.arange(s // 2, w, s, device=device)
        return (ys[:, None] * w + xs[None, :]).reshape(-1)
    xy = torch.as_tensor(np.asarray(init_xy1) if not isinstance(init_xy1, torch.Tensor)
                         else init_xy1)
    if xy.dtype.is_floating_point or xy.dtype == torch.bool or xy.dim() != 2 or xy.shape[1] != 2:
        raise InputError(
            f"init_xy1 must be an integer array of shape (M, 2) holding (x, y), got "
            f"dtype {xy.dtype}, shape {tuple(xy.shape)}"
        )
    xy = xy.to(device=device, dtype=torch.int64)
    if xy.numel() and bool(((xy[:, 0] < 0) | (xy[:, 0] >= w) | (xy[:, 1] < 0) |
                            (xy[:, 1] >= h)).any()):
        raise InputError(f"init_xy1 holds points outside the {w}x{h} (W x H) image 1")
    return torch.unique(xy[:, 1] * w + xy[:, 0])


def _to_xy(flat: torch.Tensor, width: int) -> torch.Tensor:
    """(N,) flat indices -> (N, 2) int64 (x, y)."""
    return torch.stack((flat % width, torch.div(flat, width, rounding_mode="floor")), dim=1)


def _empty_result(
    device: torch.device, n1: int, ret_basin: bool
) -> Union[Matches, Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    e = torch.empty((0, 2), dtype=torch.int64, device=device)
    if ret_basin:
        return e, e.clone(), torch.full((n1 + 1,), -1, dtype=torch.int64, device=device)
    return e, e.clone()


# --------------------------------------------------------------------------------------------
# nearest-neighbour search (exact, first index on ties)


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

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        # One host round trip per call (torch.unique's output size): no separate "anything
        # missing?" test. Hits become -1, and a -1 always leads the sorted unique list.
        lead = torch.full((1,), -1, dtype=idx.dtype, device=idx.device)
        todo = torch.unique(torch.cat((lead, torch.where(self.cache[idx] < 0, idx, -1))))[1:]
        self.cache[todo] = _nearest(self.source[todo], self.target, dist=self.dist,
                                    block_size=self.block_size, target_bad=self.target_bad)
        self.n_searched += int(todo.numel())
        return self.cache[idx]


@functools.lru_cache(maxsize=1)
def _triton_error() -> Optional[str]:
    """None when `core.nn_triton` imports (Triton >= 3.0 installed), else why not."""
    try:
        from .. import nn_triton  # noqa: F401
    except Exception as e:  # noqa: BLE001  ImportError, or a broken Triton install
        return f"{type(e).__name__}: {e}"
    return None


def _triton_self_test(device: str) -> Optional[str]:
    """None when the fused search compiles and runs on ``device`` and gives the torch search's
    indices on a small problem whose products are exact (multiples of 1/8, a tie included);
    else why not."""
    try:
        from ..nn_triton import nearest

        g = torch.Generator().manual_seed(0)
        q = torch.randint(-8, 9, (40, 24), generator=g).float().div_(8)
        t = torch.randint(-8, 9, (300, 24), generator=g).float().div_(8)
        t[7] = t[3]  # a tie: the first index wins on both paths
        q[5] = t[3]
        want = (q @ t.T).argmax(dim=1)  # exact products; argmax returns the first maximum
        got = nearest(q.to(device), t.to(device)).cpu()
        if not torch.equal(got, want):
            return (f"its indices differ from the torch search's on the self-test "
                    f"({int((got != want).sum())} of {len(want)})")
    except Exception as e:  # noqa: BLE001  compile failures take many Triton-specific forms
        lines = str(e).strip().splitlines()
        return f"{type(e).__name__}: {lines[0][:200] if lines else ''}"
    return None


# `_triton_self_test`'s answer per CUDA device ("cuda:0", ...), kept for the process
_SELF_TEST: dict = {}


def _auto_uses_triton(device: torch.device) -> bool:
    """"auto" on ``device``: a CUDA device where Triton >= 3.0 imports and the kernels passed
    `_triton_self_test`, run once per device at the first resolution there (eagerly: the
    warm-up resolves before any CUDA-graph capture). A Triton that imports but cannot compile
    or run the kernels (a version or GPU they were never run on) then costs one warning and the
    torch search instead of a failed first frame."""
    if device.type != "cuda" or _triton_error() is not None:
        return False
    key = str(device if device.index is not None
              else torch.device("cuda", torch.cuda.current_device()))
    if key not in _SELF_TEST:
        if torch.cuda.is_current_stream_capturing():
            return True  # never launch a test inside a capture
        _SELF_TEST[key] = err = _triton_self_test(key)
        if err is not None:
            _LOG.warning("the fused Triton search cannot run on %s (%s): matching uses the "
                         "torch search (same matches, slower)", key, err)
    return _SELF_TEST[key] is None


def resolve_nn_backend(nn_backend: str, device: torch.device, dist: str = "dot",
                       dtype: torch.dtype = torch.float32) -> str:
    """The nearest-neighbour search that serves a walk: "torch" or "triton".

    ``nn_backend``: "auto" = the fused Triton kernel (`core.nn_triton`) on a CUDA device when
    Triton >= 3.0 imports and the kernel passes a one-time self-test on that device
    (`_auto_uses_triton`), the tiled torch search otherwise; "torch"; "triton" = the kernel,
    which also runs on CPU tensors under ``TRITON_INTERPRET=1`` (tests). The kernel serves
    ``dist="dot"`` on float32 (and half-precision) maps; "l2" and float64 always use the torch
    search. ``device`` a `torch.device` or its name ("cuda:0").

    Raises:
        ConfigError: an unknown name, or "triton" where Triton does not import or the device is
            neither CUDA nor the Triton interpreter.
    """
    if nn_backend not in NN_BACKENDS:
        raise ConfigError(f"nn_backend must be one of {NN_BACKENDS}, got {nn_backend!r}")
    device = torch.device(device)
    if nn_backend == "torch" or dist != "dot" or dtype == torch.float64:
        return "torch"
    usable = device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"
    if nn_backend == "auto":
        return "triton" if _auto_uses_triton(device) else "torch"
    err = _triton_error()
    if err is not None:
        raise ConfigError(f"nn_backend 'triton' needs Triton >= 3.0, which does not import here "
                          f"({err}); install a torch that brings it, or use 'auto'/'torch'")
    if not usable:
        raise ConfigError(f"nn_backend 'triton' runs on CUDA tensors, got maps on {device}; "
                          "use 'auto' or 'torch'")
    return "triton"


# --------------------------------------------------------------------------------------------
# the walk


def _walk(
    nn12: _CachedNN, nn21: _CachedNN, start: torch.Tensor, max_iter: int, ret_basin: bool
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Iterate p1 -> NN_2 -> NN_1 from start; return (xy1, xy2, active, basin) flat indices.

    Same steps as the reference's loop in ``fast_reciprocal_NNs`` (naver/mast3r
    ``mast3r/fast_nn.py``): a point stops when its image-2 NN repeats (unless the
    basin is recorded) or when its back-projection returns to where it was; points still active
    after max_iter rounds are not converged.
    """
    n1 = nn12.source.shape[0]
    xy1, xy2 = start.clone(), torch.full_like(start, -1)
    old1, old2 = xy1.clone(), xy2.clone()
    active = torch.ones_like(start, dtype=torch.bool)
    basin = torch.full((n1 + 1,), -1, dtype=torch.int64, device=start.device) if ret_basin else None
    for n_iter in range(1, max_iter + 1):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        xy2[idx] = nn12(xy1[idx])
        # A point whose image-2 NN repeats stops (unless the basin is recorded); it is masked,
        # not compacted (no host round trip): its NN_1 lookup is a cache hit, since its xy2 was
        # looked up in the previous round.
        keep = None if ret_basin else xy2[idx] != old2[idx]
        back = nn21(xy2[idx])
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


def _fused_walk(
    flat1: torch.Tensor, flat2: torch.Tensor, bad1: Optional[torch.Tensor],
    bad2: Optional[torch.Tensor], start: torch.Tensor, max_iter: int,
    live: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The walk of `_walk` (no basin) for B pairs at once, searched by `nn_triton.nn_search`.

    flat1 (B, N1, D), flat2 (B, N2, D) float32; bad1 (B, N1) / bad2 (B, N2) bool or None;
    start (P,) flat image-1 indices, the same for every pair. Returns xy1, xy2, active (B, P).

    Same steps and results as `_walk` (each pair's walk is independent), but every walker stays
    in place (masked, not compacted) and each round's cache misses are de-duplicated and
    compacted on the device (two sorts), their count handed to the kernel as a device tensor:
    one host round trip per round (the "anyone still walking?" test), one kernel pair per
    direction and round for all B pairs.

    ``live`` (B, P) bool, given: the walkers that walk at all (the others stay inactive), and the
    walk is free of host round trips: all ``max_iter`` rounds run (a round without walkers hands
    the kernels a query count of 0 on the device and they return at once), so the sequence of
    device operations has a fixed shape (CUDA-graph capturable, `reciprocal_walk_fixed`).
    """
    from ..nn_triton import nn_search

    n_b, n1, _ = flat1.shape
    n2, n_p = flat2.shape[1], start.shape[0]
    if bad1 is not None:
        flat1 = flat1.masked_fill(bad1[..., None], 0.0)
    if bad2 is not None:
        flat2 = flat2.masked_fill(bad2[..., None], 0.0)
    flat1, flat2 = flat1.contiguous(), flat2.contiguous()
    # the kernels read the flags as bytes: converted once here, not in each of the 2 x max_iter
    # searches
    u1, u2 = (None if b is None else b.to(torch.uint8).contiguous() for b in (bad1, bad2))
    t1, t2 = flat1.transpose(1, 2).contiguous(), flat2.transpose(1, 2).contiguous()
    c12 = torch.full((n_b, n1), -1, dtype=torch.int64, device=flat1.device)
    c21 = torch.full((n_b, n2), -1, dtype=torch.int64, device=flat1.device)

    def lookup(cache, src, tgt_t, tgt_bad, idx, need, n_src):
        cand = torch.where(need & (cache.gather(1, idx) < 0), idx, n_src)
        srt = torch.sort(cand, dim=1).values
        dup = torch.zeros_like(need)
        dup[:, 1:] = srt[:, 1:] == srt[:, :-1]
        srt = torch.sort(srt.masked_fill(dup, n_src), dim=1).values  # sentinels last
        nn_search(src, tgt_t, srt, (srt < n_src).sum(1), cache, tgt_bad)
        return cache.gather(1, idx)

    xy1 = start.expand(n_b, n_p).contiguous()
    xy2 = torch.full_like(xy1, -1)
    active = torch.ones_like(xy1, dtype=torch.bool)
    if live is not None:  # idle walkers get a valid xy2: every lookup gathers at every walker
        xy2.masked_fill_(~live, 0)
        active = live.clone()
    for n_iter in range(1, max_iter + 1):
        new2 = torch.where(active, lookup(c12, flat1, t2, u2, xy1, active, n1), xy2)
        go = active & (new2 != xy2)  # stops when the image-2 NN repeats
        back = torch.where(go, lookup(c21, flat2, t1, u1, new2, go, n2), xy1)
        active = go & (back != xy1)  # ... or when the walk returns where it was
        xy1, xy2 = back, new2
        if live is None and n_iter < max_iter and not bool(active.any()):
            break
    return xy1, xy2, active


def reciprocal_walk_fixed(
    flat1: torch.Tensor, flat2: torch.Tensor, start: torch.Tensor, max_iter: int
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every walker of the Triton walk of B pairs, fixed shapes, no host round trip.

    flat1 (B, N1, D), flat2 (B, N2, D) float32 (contiguous or not) on CUDA (or CPU under
    ``TRITON_INTERPRET=1``), N1, N2 > 0; start (P,) int64 flat image-1 start indices, the same
    for every pair, P > 0; max_iter >= 1. Returns ``xy1``, ``xy2`` (B, P) int64 flat indices
    where each walker ended and ``converged`` (B, P) bool.

    The converged walkers of a pair are exactly the pairs `fast_reciprocal_matches` (grid start
    points, "dot", ``nn_backend="triton"``) reports, with repeats (walks that merged). Rows
    holding a NaN/inf are handled on the device, as the variable-shape path does on the host: a
    walker starting on such an image-1 pixel does not walk (the host path drops its start
    point), such pixels never win a search, and a pair whose image-2 map has no finite row has
    no walker. Every operation is asynchronous (no ``nonzero``, ``unique``, ``item``, boolean
    indexing), so the sequence of kernels can be captured as one CUDA graph.
    """
    bad1 = ~torch.isfinite(flat1).all(dim=2)
    bad2 = ~torch.isfinite(flat2).all(dim=2)
    live = ~bad1[:, start] & ~bad2.all(dim=1, keepdim=True)
    xy1, xy2, active = _fused_walk(flat1, flat2, bad1, bad2, start, int(max_iter), live=live)
    return xy1, xy2, live & ~active


def _unique_sorted_xy(f1: torch.Tensor, f2: torch.Tensor, w1: int, w2: int, n2: int) -> Matches:
    """Unique pairs sorted by image-1 then image-2 flat index, as (x, y) int64 (N, 2) each."""
    key = torch.unique(f1 * n2 + f2)
    return _to_xy(torch.div(key, n2, rounding_mode="floor"), w1), _to_xy(key % n2, w2)


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


# --------------------------------------------------------------------------------------------
# public API


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


def filter_border(
    xy1: torch.Tensor,
    xy2: torch.Tensor,
    hw1: Tuple[int, int],
    hw2: Tuple[int, int],
    border: int = 3,
) -> Matches:
    """Drop matches within ``border`` pixels of an edge of either image.

    xy1, xy2: (N, 2) (x, y) integer tensors; hw1, hw2: (H, W) of each image. A match is kept iff
    ``border <= x < W - border`` and ``border <= y < H - border`` in both images (the reference's
    3-pixel rule). Returns the kept rows of xy1 and xy2, order preserved (numpy arrays work
    too). Raises `InputError` unless xy1 and xy2 are both (N, 2).
    """
    if tuple(xy1.shape) != tuple(xy2.shape) or xy1.ndim != 2 or xy1.shape[1] != 2:
        raise InputError(f"filter_border: xy1 and xy2 must both be (N, 2) matches, got "
                         f"{tuple(xy1.shape)} and {tuple(xy2.shape)}")
    keep = _inside(xy1, hw1, border) & _inside(xy2, hw2, border)
    return xy1[keep], xy2[keep]


def _inside(xy: torch.Tensor, hw: Tuple[int, int], border: int) -> torch.Tensor:
    h, w = int(hw[0]), int(hw[1])
    x, y = xy[:, 0], xy[:, 1]
    return (x >= border) & (x < w - border) & (y >= border) & (y < h - border)
