"""Frozen copy of the ASMK scoring and codebook search before issue 12's speed work.

Kept only so `bench_retrieval.py` can time the previous and the current implementation side
by side in one run (and check they give the same scores / words); never imported by the
package. Operates on a current `AsmkIndex` / `Codebook` (same arrays).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
import torch

_POP8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _wide(codes: np.ndarray) -> np.ndarray:
    return codes.view(np.uint64 if codes.shape[1] % 8 == 0 else np.uint32)


def _popcount_rows(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(x)
    else:
        counts = _POP8[x.view(np.uint8)]
    total = counts[:, 0].astype(np.int64)
    for k in range(1, counts.shape[1]):
        total += counts[:, k]
    return total


def _hamming_span(index, starts, ends, q, out_pos, ham, block_rows):
    if len(starts) == 0:
        return
    db = _wide(index.codes)
    buf = np.empty((max(block_rows, int((ends - starts).max())), db.shape[1]), db.dtype)
    done, fill = out_pos, 0
    for i, (b, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        if fill + e - b > block_rows and fill:
            ham[done:done + fill] = _popcount_rows(buf[:fill])
            done, fill = done + fill, 0
        np.bitwise_xor(db[b:e], q[i], out=buf[fill:fill + e - b])
        fill += e - b
    ham[done:done + fill] = _popcount_rows(buf[:fill])


def query(index, vec, block_rows: int = 16384, threads: Optional[int] = None) -> np.ndarray:
    """The previous `AsmkIndex.query` (same maths)."""
    scores = np.zeros(index.num_images, np.float64)
    if vec.num_words == 0 or index.num_images == 0:
        return scores
    words = np.asarray(vec.words, np.int64)
    starts, ends = index.offsets[words], index.offsets[words + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return scores
    rows = np.arange(total, dtype=np.int64) + np.repeat(starts - np.cumsum(lengths)
                                                        + lengths, lengths)
    ids = index.image_ids[rows]
    ham = np.empty(total, np.int64)
    q = _wide(np.ascontiguousarray(vec.codes))
    nt = threads or min(4, os.cpu_count() or 1)
    nt = max(1, min(nt, total // (4 * block_rows)))
    if nt == 1:
        _hamming_span(index, starts, ends, q, 0, ham, block_rows)
    else:
        cum = np.cumsum(lengths)
        cuts = [0, *np.searchsorted(cum, total * np.arange(1, nt) / nt).tolist(), len(lengths)]
        with ThreadPoolExecutor(nt) as pool:
            list(pool.map(lambda g: _hamming_span(
                index, starts[cuts[g]:cuts[g + 1]], ends[cuts[g]:cuts[g + 1]],
                q[cuts[g]:cuts[g + 1]], int(cum[cuts[g] - 1]) if cuts[g] else 0, ham,
                block_rows), range(nt)))
    scores += np.bincount(ids, weights=index._kernel_table()[ham], minlength=index.num_images)
    return scores * index._inv_sqrt_n / np.sqrt(vec.num_words)


def quantize(codebook, feats: np.ndarray, multiple: int) -> np.ndarray:
    """The previous `Codebook.quantize`: 64-row matmuls over the whole codebook."""
    feats = np.ascontiguousarray(feats, dtype=np.float32)
    m = min(multiple, codebook.num_words)
    cent, sqnorm = codebook._torch()
    short = min(codebook.num_words, m + 4)
    batch = max(1, (1 << 22) // codebook.num_words)
    out = np.empty((len(feats), m), np.int64)
    with torch.inference_mode():
        xt = torch.from_numpy(feats).to(codebook._device)
        for s in range(0, len(feats), batch):
            d = torch.addmm(sqnorm, xt[s:s + batch], cent.T, beta=1.0, alpha=-2.0)
            cand = torch.topk(d, short, dim=1, largest=False, sorted=False).indices
            cand = cand.cpu().numpy()
            x = feats[s:s + batch]
            diff = x[:, None, :].astype(np.float64) - codebook.centroids[cand].astype(np.float64)
            exact = np.einsum("nsd,nsd->ns", diff, diff)
            order = np.lexsort((cand, exact), axis=1)[:, :m]
            out[s:s + batch] = np.take_along_axis(cand, order, axis=1)
    return out
