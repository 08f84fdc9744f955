"""A reciprocal-walk round's bookkeeping as two Triton kernels (optional; `core.matching.walk`).

A round of `walk._FusedWalk` is two searches (`nn_triton.nn_search`, three launches each) and,
around them, the walkers' updates and each search's list of cache misses: 20 torch kernels
(gathers, compares, ``where``, a sort and a sum per search). Here the same work is two kernels,
one program per pair, walkers in blocks of ``BLOCK_P``:

* `_walk_mid_kernel`, between the searches: ``new2 = where(active, c12[xy1], xy2)``,
  ``go = active & (new2 != xy2)`` (stored for the next kernel), and the image-2 searches'
  queries: the rows ``new2`` of the walkers that go and whose ``c21`` entry is still -1;
* `_walk_step_kernel`, after the image-2 search (``FINISH``): ``back = where(go, c21[new2], xy1)``,
  ``active = go & (back != xy1)``, ``xy1, xy2 = back, new2`` (in place), then the next round's
  image-1 queries (the rows ``xy1`` of the active walkers whose ``c12`` entry is -1) and the
  number of active walkers added to a counter (the "anyone still walking?" test reads it).

The queries are compacted with a running prefix sum, in walker order (the torch round sorts
them by row): a search's answer for a row does not depend on which other rows it searches or in
which order (`nn_triton`: each query's winner is the exact first maximum), so the caches, and
every walker's path, are those of the torch round bit for bit; a row two walkers miss is
searched twice, as there. Imports ``triton`` (`core.nn_triton` checks its version). Runs on CUDA
tensors, or on CPU tensors under ``TRITON_INTERPRET=1`` (tests).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_P = 1024
NUM_WARPS = 4


@triton.jit
def _compact(miss, rows, q_ptr, off):
    """Append ``rows`` where ``miss`` to the query list at ``q_ptr + off``; the new length."""
    m = miss.to(tl.int32)
    pos = off + tl.cumsum(m, axis=0) - 1
    tl.store(q_ptr + pos, rows, mask=miss)
    return off + tl.sum(m, axis=0)


@triton.jit
def _walk_mid_kernel(xy1_ptr, xy2_ptr, act_ptr, c12_ptr, c21_ptr, new2_ptr, go_ptr, q_ptr,
                     nq_ptr, cnt_ptr, n_p, n1, n2, BP: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    off = tl.full((), 0, tl.int32)
    for p0 in range(0, n_p, BP):
        p = p0 + tl.arange(0, BP)
        m = p < n_p
        at = b * n_p + p
        x1 = tl.load(xy1_ptr + at, mask=m, other=0)
        x2 = tl.load(xy2_ptr + at, mask=m, other=0)
        act = tl.load(act_ptr + at, mask=m, other=0) != 0
        nn2 = tl.load(c12_ptr + b * n1 + x1, mask=act, other=0)
        new2 = tl.where(act, nn2, x2)
        go = act & (new2 != x2)
        tl.store(new2_ptr + at, new2, mask=m)
        tl.store(go_ptr + at, go, mask=m)
        miss = go & (tl.load(c21_ptr + b * n2 + new2, mask=go, other=0) < 0)
        off = _compact(miss, new2, q_ptr + b * n_p, off)
    tl.store(nq_ptr + b, off)
    if b == 0:  # `_walk_step_kernel` adds this round's active walkers to it
        tl.store(cnt_ptr, 0)


@triton.jit
def _walk_step_kernel(xy1_ptr, xy2_ptr, act_ptr, c12_ptr, c21_ptr, new2_ptr, go_ptr, q_ptr,
                      nq_ptr, cnt_ptr, n_p, n1, n2, BP: tl.constexpr, FINISH: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    off = tl.full((), 0, tl.int32)
    n_act = tl.full((), 0, tl.int32)
    for p0 in range(0, n_p, BP):
        p = p0 + tl.arange(0, BP)
        m = p < n_p
        at = b * n_p + p
        x1 = tl.load(xy1_ptr + at, mask=m, other=0)
        act = tl.load(act_ptr + at, mask=m, other=0) != 0
        if FINISH:  # the end of the round the last `_walk_mid_kernel` began
            new2 = tl.load(new2_ptr + at, mask=m, other=0)
            go = tl.load(go_ptr + at, mask=m, other=0) != 0
            back = tl.where(go, tl.load(c21_ptr + b * n2 + new2, mask=go, other=0), x1)
            act = go & (back != x1)
            x1 = back
            tl.store(xy1_ptr + at, x1, mask=m)
            tl.store(xy2_ptr + at, new2, mask=m)
            tl.store(act_ptr + at, act, mask=m)
        miss = act & (tl.load(c12_ptr + b * n1 + x1, mask=act, other=0) < 0)
        off = _compact(miss, x1, q_ptr + b * n_p, off)
        n_act += tl.sum(act.to(tl.int32), axis=0)
    tl.store(nq_ptr + b, off)
    if FINISH:  # `_walk_mid_kernel` zeroed it; before the first round it is never read
        tl.atomic_add(cnt_ptr, n_act)


def walk_mid(xy1: torch.Tensor, xy2: torch.Tensor, active: torch.Tensor, c12: torch.Tensor,
             c21: torch.Tensor, new2: torch.Tensor, go: torch.Tensor, qidx: torch.Tensor,
             nq: torch.Tensor, count: torch.Tensor) -> None:
    """Between a round's searches: writes ``new2``, ``go`` and the image-2 queries ``qidx[b,
    :nq[b]]`` (rows of image 2 to search), and zeroes ``count``.

    xy1, xy2, new2, qidx (B, P) int64; active, go (B, P) bool; c12 (B, N1), c21 (B, N2) int64
    caches (-1: not searched yet); nq (B,) int64; count (1,) int32; all contiguous on one
    device, B, P > 0. Asynchronous."""
    n_b, n_p = xy1.shape
    _walk_mid_kernel[(n_b,)](xy1, xy2, active, c12, c21, new2, go, qidx, nq, count, n_p,
                             c12.shape[1], c21.shape[1], BP=BLOCK_P, num_warps=NUM_WARPS)


def walk_step(xy1: torch.Tensor, xy2: torch.Tensor, active: torch.Tensor, c12: torch.Tensor,
              c21: torch.Tensor, new2: torch.Tensor, go: torch.Tensor, qidx: torch.Tensor,
              nq: torch.Tensor, count: torch.Tensor, finish: bool) -> None:
    """``finish``: ends the round `walk_mid` began (updates ``xy1``, ``xy2``, ``active`` in
    place) and adds the number of active walkers to ``count``; then writes the next round's
    image-1 queries ``qidx[b, :nq[b]]``. Same tensors as `walk_mid`. Asynchronous."""
    n_b, n_p = xy1.shape
    _walk_step_kernel[(n_b,)](xy1, xy2, active, c12, c21, new2, go, qidx, nq, count, n_p,
                              c12.shape[1], c21.shape[1], BP=BLOCK_P, FINISH=bool(finish),
                              num_warps=NUM_WARPS)
