"""Binary codes and their Hamming distances.

Packing: `binarize` (residual signs -> ``np.packbits`` bytes, ``code_bytes(D)`` per word),
`codes_as_uint32` (the reference's 32-bit words). Distances: `hamming_lists` compares a
query's posting lists with its codes on the CPU (``faiss.hammings`` when faiss is installed,
imported lazily by `_faiss`, else XOR + ``np.bitwise_count`` / SWAR byte counts), and
`popcount_rows_torch` counts set bits in torch integer ops for the device scoring of
`index.AsmkIndex`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InputError


# ------------------------------------------------------------------------ packing
def code_bytes(dim: int) -> int:
    """Bytes per binary code of ``dim`` (D) components: 4 * ceil(D / 32), whole 32-bit
    words as the reference packs them (128 for D = 1024)."""
    return 4 * -(-dim // 32)


def binarize(residuals: np.ndarray) -> np.ndarray:
    """(U, D) residual sums -> (U, code_bytes(D)) uint8, bit d = residual[d] > 0, MSB first."""
    bits = np.asarray(residuals) > 0
    nb = code_bytes(bits.shape[1])
    packed = np.packbits(bits, axis=1)
    if packed.shape[1] < nb:
        packed = np.concatenate([packed, np.zeros((len(packed), nb - packed.shape[1]),
                                                  np.uint8)], axis=1)
    return np.ascontiguousarray(packed)


def codes_as_uint32(codes: np.ndarray) -> np.ndarray:
    """Packed codes -> the reference's uint32 words (component d in word d//32, bit 31-d%32)."""
    return codes.reshape(len(codes), -1, 4).view(">u4")[..., 0].astype(np.uint32)


# ------------------------------------------------------------------------ Hamming distances
_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")  # numpy >= 2.0: hardware popcount
_POP8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)
_M1, _M2, _M4, _M8 = (np.uint64(v) for v in (0x5555555555555555, 0x3333333333333333,
                                             0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF))
_LANES16 = np.uint64(0x0001000100010001)
_FAISS: Any = None  # the faiss module once imported, False when it is not installed


def _faiss() -> Any:
    """faiss if installed (imported once, lazily), else None."""
    global _FAISS
    if _FAISS is None:
        try:
            import faiss
            _FAISS = faiss if hasattr(faiss, "hammings") else False
        except ImportError:
            _FAISS = False
    return _FAISS or None


def _wide(codes: np.ndarray) -> np.ndarray:
    """(n, nbytes) uint8 -> the same bytes as (n, nbytes/8) uint64 (or uint32 when nbytes % 8)."""
    return codes.view(np.uint64 if codes.shape[1] % 8 == 0 else np.uint32)


def _byte_counts_swar(x: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """Set bits of every byte of (n, m) uint64 ``x``, in place, as bytes of uint64 words (the
    classic SWAR popcount's first three steps; no table, no numpy 2 needed)."""
    np.right_shift(x, np.uint64(1), out=tmp)
    tmp &= _M1
    x -= tmp
    np.right_shift(x, np.uint64(2), out=tmp)
    tmp &= _M2
    x &= _M2
    x += tmp
    np.right_shift(x, np.uint64(4), out=tmp)
    x += tmp
    x &= _M4
    return x


def _sum_byte_lanes(v: np.ndarray, out: np.ndarray) -> None:
    """out[:] = sum of all bytes of each row of (n, c) uint64 ``v`` whose bytes, summed over
    the c columns, stay below 256 (checked by the callers)."""
    a = v[:, 0].copy()
    for k in range(1, v.shape[1]):
        a += v[:, k]
    t = a >> np.uint64(8)  # bytes -> four 16-bit lanes, then one multiply adds the lanes
    t &= _M8
    a &= _M8
    a += t
    a *= _LANES16
    a >>= np.uint64(48)
    out[:] = a


def _popcount_rows_into(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """out[:] = set bits per row of ``x`` (n, m) uint64 or uint32 (``x`` is overwritten;
    ``tmp`` is scratch of x's shape and dtype). numpy >= 2: ``np.bitwise_count``; numpy 1.x:
    the SWAR byte counts (uint64) or a byte table (uint32); the per-row sums by byte lanes."""
    n, m = x.shape
    if x.dtype == np.uint64 and _HAS_BITWISE_COUNT and m % 8 == 0 and m <= 24:
        _sum_byte_lanes(np.bitwise_count(x).view(np.uint64), out)  # bytes <= 64, 3 columns max
    elif x.dtype == np.uint64 and not _HAS_BITWISE_COUNT and m <= 31:
        _sum_byte_lanes(_byte_counts_swar(x, tmp), out)  # bytes <= 8, 31 columns max
    else:  # short or very long codes: plain reductions (not on the official sizes' path)
        counts = np.bitwise_count(x) if _HAS_BITWISE_COUNT else _POP8[x.view(np.uint8)]
        np.add.reduce(counts.reshape(n, -1), axis=1, dtype=np.int32, out=out)


def hamming_lists(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  queries: np.ndarray, out: np.ndarray, backend: str = "auto",
                  block_rows: int = 16384) -> None:
    """Hamming distances of posting lists to query codes, written in order to ``out``.

    ``codes`` (T, nbytes) uint8 C-contiguous; rows ``starts[i]:ends[i]`` are compared with
    ``queries[i]`` (nbytes,) uint8; ``out`` (sum of lengths,) int32. ``backend``: 'faiss'
    (``faiss.hammings``, hardware popcount in one pass over the codes; needs faiss), 'numpy'
    (XOR into a ``block_rows`` cache-sized buffer, popcounts per block) or 'auto' (faiss when
    installed). Both give the same integers. Releases the GIL in faiss and in numpy's loops.
    """
    if len(starts) == 0:
        return
    fa = _faiss() if backend in ("auto", "faiss") else None
    if backend == "faiss" and fa is None:
        raise InputError("ASMK backend 'faiss' needs faiss (pip install faiss-cpu)")
    nb = codes.shape[1]
    if fa is not None:
        if out.dtype != np.int32 or not (codes.flags.c_contiguous and out.flags.c_contiguous):
            raise InputError("hamming_lists: faiss needs C-contiguous codes and int32 output")
        qarr = np.ascontiguousarray(queries)  # kept alive while faiss reads it
        base, qbase, obase, pos = codes.ctypes.data, qarr.ctypes.data, out.ctypes.data, 0
        u8, i32, ham = fa.cast_integer_to_uint8_ptr, fa.cast_integer_to_int_ptr, fa.hammings
        for i, (b, e) in enumerate(zip(starts.tolist(), ends.tolist())):
            if e > b:
                ham(u8(qbase + i * nb), u8(base + b * nb), 1, e - b, nb, i32(obase + 4 * pos))
                pos += e - b
        return
    db, q = _wide(codes), _wide(np.ascontiguousarray(queries))
    rows = max(block_rows, int((ends - starts).max()))
    buf, tmp = np.empty((rows, db.shape[1]), db.dtype), np.empty((rows, db.shape[1]), db.dtype)
    done = fill = 0
    for i, (b, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        if fill + e - b > block_rows and fill:
            _popcount_rows_into(buf[:fill], out[done:done + fill], tmp[:fill])
            done, fill = done + fill, 0
        np.bitwise_xor(db[b:e], q[i], out=buf[fill:fill + e - b])
        fill += e - b
    _popcount_rows_into(buf[:fill], out[done:done + fill], tmp[:fill])


# ------------------------------------------------------------------------ device (torch) popcount
_T_M1, _T_M2, _T_M4, _T_M8 = (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
                              0x00FF00FF00FF00FF)
_T_LOW63 = 0x7FFFFFFFFFFFFFFF


def popcount_rows_torch(x: torch.Tensor) -> torch.Tensor:
    """Set bits per row of (n, m) int64 ``x`` -> (n,) int64, in plain torch integer ops (torch
    has no popcount). ``x`` is overwritten.

    torch's ``>>`` on int64 is an arithmetic shift (it copies the sign bit), so bit 63 is
    counted apart (``x < 0``) and cleared first: every later value is non-negative and no sum
    overflows (the classic SWAR steps: 2-, 4-, 8-bit counts; bytes <= 8, the top byte <= 7).
    Up to 16 columns' byte counts are added before the bytes of a word are folded (bytes <=
    128, the top one <= 112: no carry, no sign bit).
    """
    n, m = x.shape
    total = (x < 0).sum(dim=1)
    x.bitwise_and_(_T_LOW63)
    t = torch.bitwise_right_shift(x, 1)
    x.sub_(t.bitwise_and_(_T_M1))
    torch.bitwise_right_shift(x, 2, out=t)
    x.bitwise_and_(_T_M2).add_(t.bitwise_and_(_T_M2))
    torch.bitwise_right_shift(x, 4, out=t)
    x.add_(t).bitwise_and_(_T_M4)  # byte counts
    del t
    for g in range(0, m, 16):
        v = x[:, g:g + 16].sum(dim=1)  # bytes <= 8 * 16
        v = (v & _T_M8) + ((v >> 8) & _T_M8)  # four 16-bit lanes <= 256 each
        v = v + (v >> 16)
        v = v + (v >> 32)
        total += v & 0x7FF
    return total
