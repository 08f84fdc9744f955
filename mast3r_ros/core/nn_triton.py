"""Fused exact nearest-neighbour search in Triton (optional; used by `core.matching`).

For query rows of a source map and all rows of a target map (float32, inner product), the index
of the largest product per query, the FIRST index winning a tie -- the same rule as the torch
path of `core.matching`, without materialising the (Q, T) score matrix: each program holds a
(BQ, BT) tile of products in registers (``tl.dot`` with ``input_precision="ieee"``, or an
``fma`` loop over the D channels in channel order: IEEE float32 either way, no TF32), keeps a
running per-lane maximum and its earliest index over its share of the targets, and a second
kernel reduces the shares (targets are split across programs so that a few thousand queries fill
every multiprocessor).

Tensor-core screen (``TF32_SCREEN``, on by default with ``USE_DOT`` on GPUs with TF32 tensor cores,
`tf32_cores`: compute capability >= 8.0): the IEEE float32 products
run on the CUDA cores, ~8x slower than the tensor cores' TF32 products. So a first kernel takes,
per query, ``L = max_t (a_t - e_t)`` over valid targets, where ``a_t`` is the product of the
operands truncated to TF32 (10 mantissa bits; truncated in the kernel, so the hardware's own
rounding to TF32 is exact) and ``e_t = SCREEN_C * |q| * |t|`` bounds ``|a_t - s_t|`` against the
IEEE score ``s_t``: ``L`` is a lower bound of the best score. The same pass stores, per query and
per tile of ``BLOCK_T`` targets, ``U = max_t (a_t + e_t)`` over the tile's valid targets. The
search kernel then computes the IEEE products only in the tiles where ``U >= L`` for some query of
the program (it reads ``U``, it does not recompute it): a target outside those tiles scores
``s_t <= a_t + e_t <= U < L <= max s``, so it can neither win nor tie, and the indices are those
of the plain IEEE kernel, bit for bit. ``U`` costs (B, ceil(T / BLOCK_T), M) float32: 19 MB
per pair for 3072 queries against a 512x384 map, at most ``SCREEN_BOUND_BYTES`` per launch
(more queries are screened and searched in chunks). A row holding a NaN/inf makes its bound
NaN/inf (stored as +inf), which never lets a tile be skipped; so does a row with a nonzero
component below 2**-60 (its square underflows, its truncation error is absolute). ``SCREEN_C =
2**-7``, for D <= 32 (larger D: no screen): truncating both operands errs by < 2**-9 relative
per product (+ 2**-20), the MMA's float32 accumulation by < 32 additions x 2**-14 = 2**-9 even
if it kept only 14 bits and truncated (tensor-core studies report float32-quality sums for TF32),
the IEEE sum by < 24 x 2**-24, the bound's own rounding by a few 2**-24; by Cauchy-Schwarz
sum_i |q_i t_i| <= |q| |t|: < 2**-8 + 2**-18 in all, half the margin. The margin only costs
speed (a wider margin checks more tiles), never exactness.

Queries are given as row indices into the source (gathered in the kernel) with their count in a
device tensor, so the caller needs no host round trip to size a launch: programs past the count
return at once. The answer is written straight into a per-pair cache ``out[b, qidx[b, i]]``.
Several pairs of equal shapes run in one launch (a batch dimension).

Exactness: the products are accumulated in a fixed order with fused multiply-adds; the torch
path's BLAS may round differently, so on real descriptors two targets whose scores differ by a
rounding error can swap. Where every product and partial sum is exact in float32 (e.g. values
that are small multiples of 1/8) both paths return identical indices. NaN scores count as the
lowest finite value, +-inf as the largest/lowest finite one (as the torch path's sanitising),
and rows flagged in ``target_bad`` never win while a valid row exists.

Importing this module imports ``triton`` and raises ImportError without it, or with a Triton
older than 3.0 (``MIN_TRITON``): the kernels use ``tl.dot(input_precision=...)``, which Triton
2.x (the one pip's CUDA torch 2.1-2.3 wheels bring) does not know. `core.matching` imports it
lazily, so "auto" then uses the torch search. Runs on CUDA tensors, or on CPU tensors under
``TRITON_INTERPRET=1`` (tests).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl

log = logging.getLogger(__name__)

MIN_TRITON = (3, 0)


def _release(version: str) -> Tuple[int, ...]:
    """(major, minor) of a version string such as "3.1.0", "2.1.0+e6216047b8" or "3.2.0.dev0"."""
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


if _release(getattr(triton, "__version__", "0")) < MIN_TRITON:
    raise ImportError(
        f"triton {getattr(triton, '__version__', '(unknown version)')} is older than "
        f"{'.'.join(map(str, MIN_TRITON))}, which the fused search needs (tl.dot input_precision); "
        "nn_backend 'auto' uses the torch search (torch >= 2.4 brings Triton 3)")

BLOCK_Q = 32
BLOCK_T = 128
BLOCK_R = 128
NUM_WARPS = 4
# Targets per program: each program scans CHUNK_BLOCKS blocks of BLOCK_T targets, so a 512x384
# map (196608 rows) is split 48 ways; 3072 queries then make 4608 programs.
CHUNK_BLOCKS = 32
_FLT_MAX = tl.constexpr(3.4028234663852886e38)
# tl.dot(input_precision="ieee") instead of the explicit fma loop (same exactness rule). On an H200
# (triton 3.6) the whole 512x384 walk took 6.8 ms with tl.dot, 14-62 ms with the fma loop; which is
# faster depends on the GPU and the Triton version (bench/bench_matching.py --sweep).
USE_DOT = True
# The TF32 screen above (needs USE_DOT): exact IEEE products only where a TF32 lower bound says a
# tile can hold the winner. Same indices; bench/bench_matching.py --sweep times both.
TF32_SCREEN = True
SCREEN_C = 2.0 ** -7
# The screen's per-(query, tile) bounds of one launch stay under this (float32, B x tiles x
# queries: 75 MB for K=4 pairs of 3072 walkers against 512x384 maps); more queries run in chunks.
SCREEN_BOUND_BYTES = 128 << 20
# Why the screened kernels could not run in this process (None: they can). A Triton or driver
# that cannot compile them (a TF32 dot on a GPU without it, an older Triton) costs one warning,
# then the plain IEEE kernel serves every search: the same indices, the previous speed.
_SCREEN_BROKEN: Optional[str] = None
_SCREEN_LOCK = threading.Lock()
_TF32_MASK = tl.constexpr(-8192)  # 0xFFFFE000 as int32: keeps sign, exponent, 10 mantissa bits


@triton.jit
def _tf32_trunc(x):
    """float32 -> the same value truncated to TF32 (10 mantissa bits), still float32."""
    return (x.to(tl.int32, bitcast=True) & _TF32_MASK).to(tl.float32, bitcast=True)


@triton.jit
def _bound_norm(x, axis: tl.constexpr):
    """|row| along ``axis`` for the error bound; +inf (never skip) for a row with a nonzero
    component below 2**-60, whose square underflows and whose truncation error is absolute."""
    tiny = tl.max(tl.where((x != 0.0) & (tl.abs(x) < 8.673617379884035e-19), 1, 0), axis=axis)
    return tl.where(tiny > 0, float("inf"), tl.sqrt(tl.sum(x * x, axis=axis)))


@triton.jit
def _query_block(src_ptr, qidx_ptr, b, pid_q, n_q, n_src, n_qmax,
                 D: tl.constexpr, DP: tl.constexpr, BQ: tl.constexpr):
    """A program's block of BQ queries of pair ``b``: their slots, mask, row pointers and the
    (BQ, DP) rows, channels zero-padded to DP."""
    offs_q = pid_q * BQ + tl.arange(0, BQ)
    qmask = offs_q < n_q
    rows = tl.load(qidx_ptr + b.to(tl.int64) * n_qmax + offs_q, mask=qmask, other=0)
    q_base = src_ptr + b.to(tl.int64) * n_src * D + rows.to(tl.int64) * D
    dd = tl.arange(0, DP)
    qt = tl.load(q_base[:, None] + dd[None, :], mask=qmask[:, None] & (dd[None, :] < D),
                 other=0.0)
    return offs_q, qmask, q_base, qt


@triton.jit
def _target_tile(t_base, cols, cmask, n_t, D: tl.constexpr, DP: tl.constexpr):
    """The (DP, BT) tile of channel-major targets at ``cols``, zero past D and past n_t."""
    dd = tl.arange(0, DP)
    return tl.load(t_base + dd[:, None] * n_t + cols[None, :],
                   mask=(dd[:, None] < D) & cmask[None, :], other=0.0)


@triton.jit
def _target_norm_kernel(tgt_ptr, tn_ptr, n_t, D: tl.constexpr, DP: tl.constexpr,
                        BT: tl.constexpr):
    """tn[b, t] = `_bound_norm` of target row t of pair b, once per search (not per tile)."""
    pid = tl.program_id(0)
    b = tl.program_id(1)
    cols = pid * BT + tl.arange(0, BT)
    cmask = cols < n_t
    tt = _target_tile(tgt_ptr + b.to(tl.int64) * D * n_t, cols, cmask, n_t, D, DP)
    tl.store(tn_ptr + b.to(tl.int64) * n_t + cols, _bound_norm(tt, 0), mask=cmask)


@triton.jit
def _screen_kernel(src_ptr, tgt_ptr, bad_ptr, qidx_ptr, nq_ptr, tn_ptr, lb_ptr, up_ptr,
                   n_src, n_t, n_qmax, n_split, chunk, screen_c, q0, n_qc,
                   D: tl.constexpr, DP: tl.constexpr, BQ: tl.constexpr,
                   BT: tl.constexpr, HAS_BAD: tl.constexpr):
    """For the queries q0 <= i < q0 + n_qc (q0 a multiple of BQ): lb[b, split, i] = max over
    this split's valid targets t of (a_t - e_t) (or -inf); up[b, tile, i - q0] = max over the
    tile's valid targets of (a_t + e_t) (+inf if NaN; -inf if the tile has none)."""
    pid_q = tl.program_id(0) + q0 // BQ
    pid_s = tl.program_id(1)
    b = tl.program_id(2)
    n_q = tl.minimum(tl.load(nq_ptr + b), q0 + n_qc)
    if pid_q * BQ < n_q:
        offs_q, qmask, q_base, qt = _query_block(src_ptr, qidx_ptr, b, pid_q, n_q, n_src,
                                                 n_qmax, D, DP, BQ)
        t_base = tgt_ptr + b.to(tl.int64) * D * n_t
        qn = _bound_norm(qt, 1) * screen_c
        qtr = _tf32_trunc(qt)
        n_tiles = tl.cdiv(n_t, BT)
        run = tl.full((BQ, BT), float("-inf"), tl.float32)
        start = pid_s * chunk
        # a map smaller than the chunk (or the last split) stops at its last tile: the tiles
        # past n_t hold no valid target, so they change no bound
        for j0 in range(start, tl.minimum(start + chunk, n_t), BT):
            cols = j0 + tl.arange(0, BT)
            cmask = cols < n_t
            tt = _target_tile(t_base, cols, cmask, n_t, D, DP)
            tn = tl.load(tn_ptr + b.to(tl.int64) * n_t + cols, mask=cmask, other=0.0)
            a = tl.dot(qtr, _tf32_trunc(tt), input_precision="tf32")
            e = qn[:, None] * tn[None, :]
            lb = a - e
            up = a + e
            valid = cmask
            if HAS_BAD:
                bad = tl.load(bad_ptr + b.to(tl.int64) * n_t + cols, mask=cmask, other=1)
                valid = valid & (bad == 0)
            ok = (lb == lb) & (tl.abs(lb) < float("inf")) & valid[None, :]
            run = tl.maximum(run, tl.where(ok, lb, float("-inf")))
            # NaN (a non-finite row) counts as +inf: it never lets the tile be skipped
            up = tl.where(up == up, up, float("inf"))
            tile_up = tl.max(tl.where(valid[None, :], up, float("-inf")), axis=1)
            if j0 < n_t:  # the last split's chunk may run past the last tile
                at = (b.to(tl.int64) * n_tiles + j0 // BT) * n_qc + (offs_q - q0)
                tl.store(up_ptr + at, tile_up, mask=qmask)
        out = (b.to(tl.int64) * n_split + pid_s) * n_qmax + offs_q
        tl.store(lb_ptr + out, tl.max(run, axis=1), mask=qmask)


@triton.jit
def _nn_partial_kernel(src_ptr, tgt_ptr, bad_ptr, qidx_ptr, nq_ptr, lb_ptr, up_ptr, pval_ptr,
                       pidx_ptr,
                       n_src, n_t, n_qmax, n_split, chunk, q0, n_qc,
                       D: tl.constexpr, DP: tl.constexpr, BQ: tl.constexpr,
                       BT: tl.constexpr, HAS_BAD: tl.constexpr, USE_DOT: tl.constexpr,
                       SCREEN: tl.constexpr):
    """Each split's best (value, index) of the queries q0 <= i < q0 + n_qc (q0 a multiple of
    BQ) into pval/pidx[b, split, i]; with SCREEN, only in the tiles up[b, tile, i - q0] says
    can reach the query's lower bound."""
    pid_q = tl.program_id(0) + q0 // BQ
    pid_s = tl.program_id(1)
    b = tl.program_id(2)
    n_q = tl.minimum(tl.load(nq_ptr + b), q0 + n_qc)
    if pid_q * BQ < n_q:
        # the rows are loaded once (they do not change); the fma loop reads them by channel
        offs_q, qmask, q_base, qt = _query_block(src_ptr, qidx_ptr, b, pid_q, n_q, n_src,
                                                 n_qmax, D, DP, BQ)
        t_base = tgt_ptr + b.to(tl.int64) * D * n_t
        if SCREEN:  # the best lower bound over all splits (`_screen_kernel`)
            lbound = tl.full((BQ,), float("-inf"), tl.float32)
            for s2 in range(0, n_split):
                at = (b.to(tl.int64) * n_split + s2) * n_qmax + offs_q
                lbound = tl.maximum(lbound, tl.load(lb_ptr + at, mask=qmask,
                                                    other=float("-inf")))
            lbound = tl.where(qmask, lbound, float("inf"))  # padding rows keep no tile
            n_tiles = tl.cdiv(n_t, BT)
        if SCREEN:  # few tiles are live: each reduces to its rows' best at once (the (BQ, BT)
            # running maxima below would hold ~60 more registers a thread for the skipped tiles)
            best_v = tl.full((BQ,), float("-inf"), tl.float32)
            best_i = tl.full((BQ,), 2147483647, tl.int32)
        else:
            best_v = tl.full((BQ, BT), float("-inf"), tl.float32)
            best_i = tl.full((BQ, BT), 2147483647, tl.int32)
        start = pid_s * chunk
        for j0 in range(start, tl.minimum(start + chunk, n_t), BT):  # no tile past n_t
            cols = j0 + tl.arange(0, BT)
            cmask = cols < n_t
            if SCREEN:  # can a target of this tile reach the bound for one of the queries?
                tile = tl.minimum(j0 // BT, n_tiles - 1)  # in bounds; past n_t: not live
                at = (b.to(tl.int64) * n_tiles + tile) * n_qc + (offs_q - q0)
                upper = tl.load(up_ptr + at, mask=qmask, other=float("-inf"))
                live = (tl.max(tl.where(upper >= lbound, 1, 0)) > 0) & (j0 < n_t)
            else:
                live = True
            if live:
                if USE_DOT:  # IEEE float32 (no TF32)
                    tt = _target_tile(t_base, cols, cmask, n_t, D, DP)
                    acc = tl.dot(qt, tt, input_precision="ieee")
                else:  # channel-ordered fused multiply-adds
                    acc = tl.zeros((BQ, BT), tl.float32)
                    for d in tl.static_range(D):
                        qd = tl.load(q_base + d, mask=qmask, other=0.0)
                        td = tl.load(t_base + d * n_t + cols, mask=cmask, other=0.0)
                        acc = tl.fma(qd[:, None], td[None, :], acc)
                s = tl.where(acc != acc, -_FLT_MAX, acc)
                s = tl.minimum(tl.maximum(s, -_FLT_MAX), _FLT_MAX)
                drop = ~cmask
                if HAS_BAD:
                    bad = tl.load(bad_ptr + b.to(tl.int64) * n_t + cols, mask=cmask, other=1)
                    drop = drop | (bad != 0)
                s = tl.where(drop[None, :], float("-inf"), s)
                if SCREEN:  # the tile's best and its first index, then strict > across tiles
                    m_t = tl.max(s, axis=1)
                    i_t = tl.min(tl.where(s == m_t[:, None], cols[None, :], 2147483647), axis=1)
                    better = m_t > best_v  # strict: an earlier tile keeps a tie
                    best_v = tl.where(better, m_t, best_v)
                    best_i = tl.where(better, i_t, best_i)
                else:
                    better = s > best_v  # strict: an earlier target keeps a tie
                    best_v = tl.where(better, s, best_v)
                    best_i = tl.where(better, cols[None, :], best_i)
        if SCREEN:
            m = best_v
            idx = best_i
        else:
            m = tl.max(best_v, axis=1)
            idx = tl.min(tl.where(best_v == m[:, None], best_i, 2147483647), axis=1)
        out = (b.to(tl.int64) * n_split + pid_s) * n_qmax + offs_q
        tl.store(pval_ptr + out, m, mask=qmask)
        tl.store(pidx_ptr + out, idx, mask=qmask)


@triton.jit
def _nn_reduce_kernel(pval_ptr, pidx_ptr, qidx_ptr, nq_ptr, out_ptr, n_out, n_qmax, n_split,
                      BR: tl.constexpr):
    pid = tl.program_id(0)
    b = tl.program_id(1)
    n_q = tl.load(nq_ptr + b)
    if pid * BR < n_q:
        offs = pid * BR + tl.arange(0, BR)
        mask = offs < n_q
        best_v = tl.full((BR,), float("-inf"), tl.float32)
        best_i = tl.full((BR,), 2147483647, tl.int32)
        for s in range(0, n_split):  # splits in target order: strict > keeps the earliest
            at = (b.to(tl.int64) * n_split + s) * n_qmax + offs
            v = tl.load(pval_ptr + at, mask=mask, other=float("-inf"))
            i = tl.load(pidx_ptr + at, mask=mask, other=2147483647)
            better = v > best_v
            best_v = tl.where(better, v, best_v)
            best_i = tl.where(better, i, best_i)
        best_i = tl.where(best_i == 2147483647, 0, best_i)  # every target invalid: index 0
        rows = tl.load(qidx_ptr + b.to(tl.int64) * n_qmax + offs, mask=mask, other=0)
        tl.store(out_ptr + b.to(tl.int64) * n_out + rows, best_i.to(tl.int64), mask=mask)


def _disable_screen(e: BaseException) -> None:
    global _SCREEN_BROKEN
    with _SCREEN_LOCK:
        if _SCREEN_BROKEN is None:
            _SCREEN_BROKEN = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            log.warning("the TF32 screen of the Triton search cannot run here (%s); every "
                        "search uses the plain IEEE float32 kernel (same matches, slower)",
                        _SCREEN_BROKEN[:300])


def tf32_cores(device: torch.device) -> bool:
    """Whether ``device`` has TF32 tensor cores (compute capability >= 8.0: Ampere, Jetson
    Orin's sm_87, Hopper): the screen's TF32 products are a fast first pass only there; on an
    older GPU (Jetson Xavier sm_72, T4 sm_75) they run as plain FMA with no gain, before the
    IEEE pass anyway (bench/kernel_resources.py --arch 72,75). True off CUDA (Triton's
    interpreter in the tests runs the screen as written)."""
    if device.type != "cuda":
        return True
    return _major_capability(torch.cuda.current_device() if device.index is None
                             else device.index) >= 8


@functools.cache
def _major_capability(index: int) -> int:
    """Asked once per device (`nn_search` also runs inside CUDA-graph captures)."""
    return torch.cuda.get_device_capability(index)[0]


def screen_runs(device: torch.device, d: int) -> bool:
    """Whether `nn_search` on ``device`` with D = ``d`` channels runs the TF32 screen now
    (``USE_DOT`` and ``TF32_SCREEN`` on, no earlier failure, D <= 32, TF32 tensor cores)."""
    return bool(USE_DOT and TF32_SCREEN and _SCREEN_BROKEN is None and d <= 32
                and tf32_cores(torch.device(device)))


def bound_norms(targets_t: torch.Tensor) -> torch.Tensor:
    """(B, T) float32: the screen's `_bound_norm` of every target row of the (B, D, T) float32
    contiguous channel-major ``targets_t``, for `nn_search`'s ``target_norms`` (a walk searches
    the same targets 2 * max_iter times: their norms are computed once). Asynchronous."""
    n_b, d, n_t = targets_t.shape
    tn = torch.empty((n_b, n_t), dtype=torch.float32, device=targets_t.device)
    if n_b and n_t:
        _target_norm_kernel[(triton.cdiv(n_t, BLOCK_R), n_b)](
            targets_t, tn, n_t, D=d, DP=max(16, triton.next_power_of_2(d)), BT=BLOCK_R)
    return tn


def _scratch_buffers(scratch: Optional[dict], dev: torch.device):
    """``empty(name, shape, dtype)``: a new tensor, or with a ``scratch`` dict the one it holds
    under ``name`` when its shape and dtype fit (else a new one, kept there)."""
    def empty(name: str, shape: Tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        t = scratch.get(name) if scratch is not None else None
        if t is None or tuple(t.shape) != shape or t.dtype != dtype or t.device != dev:
            t = torch.empty(shape, dtype=dtype, device=dev)
            if scratch is not None:
                scratch[name] = t
        return t
    return empty


def nn_search(source: torch.Tensor, targets_t: torch.Tensor, qidx: torch.Tensor,
              n_q: torch.Tensor, out: torch.Tensor,
              target_bad: Optional[torch.Tensor] = None,
              target_norms: Optional[torch.Tensor] = None,
              scratch: Optional[dict] = None) -> None:
    """Nearest target (largest inner product, first index on ties) of gathered source rows.

    Args:
        source: (B, S, D) float32 contiguous, the query map of each of B pairs.
        targets_t: (B, D, T) float32 contiguous, the target map transposed (channel-major).
        qidx: (B, M) int64 contiguous source row of each query; entries at and past ``n_q[b]``
            are ignored (they may hold anything).
        n_q: (B,) int32/int64 on the device, number of valid queries per pair (<= M).
        out: (B, S) int64 contiguous; ``out[b, qidx[b, i]]`` receives the index (0 <= j < T) of
            the best target for ``i < n_q[b]``; other entries are left as they are.
        target_bad: optional (B, T) bool/uint8, targets never returned while a valid one exists
            (zero their rows too: they still enter the products).
        target_norms: optional (B, T) float32, `bound_norms` of ``targets_t``, for the TF32
            screen; None: computed here (one pass over the targets per call).
        scratch: optional dict the call keeps its work buffers in (uninitialised memory, which
            the kernels overwrite before reading): a walk passes one per direction, so its
            searches allocate them once instead of four tensors per search.
    All on one device (CUDA, or CPU under TRITON_INTERPRET=1). Asynchronous: no host sync.
    """
    n_b, n_src, d = source.shape
    n_t, n_qmax = targets_t.shape[2], qidx.shape[1]
    if n_qmax == 0 or n_t == 0 or n_b == 0:
        return
    chunk = BLOCK_T * CHUNK_BLOCKS
    n_split = triton.cdiv(n_t, chunk)
    dev = source.device
    empty = _scratch_buffers(scratch, dev)
    pval = empty("pval", (n_b, n_split, n_qmax), torch.float32)
    pidx = empty("pidx", (n_b, n_split, n_qmax), torch.int32)
    bad = target_bad.to(torch.uint8).contiguous() if target_bad is not None else pidx
    d_pad = max(16, triton.next_power_of_2(d))
    screen = screen_runs(dev, d)
    has_bad = target_bad is not None
    if screen:
        try:
            n_tiles = triton.cdiv(n_t, BLOCK_T)
            # the per-(query, tile) bounds take at most SCREEN_BOUND_BYTES: more queries than
            # that (a dense grid, K pairs of large maps) are screened and searched in chunks
            n_qc = max(1, SCREEN_BOUND_BYTES // (4 * n_b * n_tiles * BLOCK_Q)) * BLOCK_Q
            n_qc = min(n_qc, triton.cdiv(n_qmax, BLOCK_Q) * BLOCK_Q)
            lb = empty("lb", (n_b, n_split, n_qmax), torch.float32)
            up = empty("up", (n_b, n_tiles, n_qc), torch.float32)
            tn = target_norms if target_norms is not None else bound_norms(targets_t)
            for q0 in range(0, n_qmax, n_qc):
                grid = (triton.cdiv(min(n_qc, n_qmax - q0), BLOCK_Q), n_split, n_b)
                _screen_kernel[grid](source, targets_t, bad, qidx, n_q, tn, lb, up,
                                     n_src, n_t, n_qmax, n_split, chunk, SCREEN_C, q0, n_qc,
                                     D=d, DP=d_pad, BQ=BLOCK_Q, BT=BLOCK_T, HAS_BAD=has_bad,
                                     num_warps=NUM_WARPS)
                _nn_partial_kernel[grid](source, targets_t, bad, qidx, n_q, lb, up, pval, pidx,
                                         n_src, n_t, n_qmax, n_split, chunk, q0, n_qc,
                                         D=d, DP=d_pad, BQ=BLOCK_Q, BT=BLOCK_T,
                                         HAS_BAD=has_bad, USE_DOT=True, SCREEN=True,
                                         num_warps=NUM_WARPS)
        except Exception as e:  # noqa: BLE001  compile failures take many Triton-specific forms
            _disable_screen(e)
            screen = False
    if not screen:
        grid = (triton.cdiv(n_qmax, BLOCK_Q), n_split, n_b)
        _nn_partial_kernel[grid](source, targets_t, bad, qidx, n_q, pval, pval, pval, pidx,
                                 n_src, n_t, n_qmax, n_split, chunk, 0, n_qmax,
                                 D=d, DP=d_pad, BQ=BLOCK_Q, BT=BLOCK_T, HAS_BAD=has_bad,
                                 USE_DOT=USE_DOT, SCREEN=False, num_warps=NUM_WARPS)
    _nn_reduce_kernel[(triton.cdiv(n_qmax, BLOCK_R), n_b)](
        pval, pidx, qidx, n_q, out, out.shape[1], n_qmax, n_split, BR=BLOCK_R)


def nearest(queries: torch.Tensor, targets: torch.Tensor,
            target_bad: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(Q,) int64 index of each query's nearest target (dot); queries (Q, D), targets (T, D)
    float32 on one device; same rule as `nn_search` (one pair, all queries)."""
    n_q = queries.shape[0]
    dev = queries.device
    if target_bad is not None:
        targets = targets.masked_fill(target_bad[:, None], 0.0)
        target_bad = target_bad[None]
    out = torch.zeros((1, n_q), dtype=torch.int64, device=dev)
    nn_search(queries.float().contiguous()[None], targets.float().T.contiguous()[None],
              torch.arange(n_q, device=dev)[None].contiguous(),
              torch.tensor([n_q], dtype=torch.int64, device=dev), out, target_bad)
    return out[0]
