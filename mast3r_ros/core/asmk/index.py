"""ASMK (Aggregated Selective Match Kernel) with binary residuals, as MASt3R's retriever runs it.

Pure numpy; written from the algorithm (Tolias, Avrithis, Jegou, "To aggregate or not to
aggregate: selective match kernels for image search", ICCV 2013) and the settings the MASt3R
retriever hard-codes (naver/mast3r ``mast3r/retrieval/processor.py``, ``Retriever.__init__``'s
``asmk_params``: binary kernel, no IDF, multiple assignment 1 / 5, threshold 0, alpha 3):

* visual words = exact nearest centroids (squared L2) of a codebook (K, D) float32;
  a database image assigns each local feature to 1 word, a query to its 5 nearest words;
* per word w of an image: residual sum ``r_w = sum (x - c_w)`` over the features assigned to w,
  binarised ``b_w[d] = r_w[d] > 0``; words kept in ascending order;
* similarity of query i and database image j (no IDF, threshold 0, alpha 3)::

      sim[i, j] = 1/sqrt(Q_i) * sum_{w in U_i ∩ W_j, s_w >= 0} s_w^3 / sqrt(n_j),
      s_w = 1 - 2 * Hamming(b_{i,w}, b_{j,w}) / B,   B = 32 * ceil(D / 32)

  with Q_i / n_j the number of words of the query / database image.

Bits are packed with ``np.packbits`` (component d -> byte d // 8, most significant bit first) into
``B / 8`` bytes, i.e. the reference's big-endian 32-bit words read byte by byte.

Why not the ``asmk`` package: it needs a Cython build and FAISS (no numpy-1.21 aarch64 wheel for
Humble/Jetson), keeps its inverted file as Python lists of arrays per word, and scores a query in a
Python loop over its words. Here the inverted file is a CSR layout (one contiguous code array
sorted by word); a query's posting lists are compared with ``faiss.hammings`` (faiss installed:
one fused XOR + popcount pass) or numpy (XOR + ``np.bitwise_count`` / SWAR byte counts), the
kernel is a table over the Hamming distance and the accumulation a bincount, in parallel parts
(`AsmkIndex.query`). On a GPU (``backend='torch'``, what 'auto' picks when the index is moved
to a CUDA device with `AsmkIndex.to`) the inverted file lives on the device and a query's
posting entries are gathered, compared (XOR + a SWAR popcount in torch integer ops), weighted
and summed per image there; only the top-k comes back (`AsmkIndex.top_k`). The codebook
search is torch matmuls over centroid chunks (on the GPU when the codebook is moved there, see
`Codebook.quantize`).

The codebook ``.pkl`` is a pickle: `load_codebook` reads it with a restricted unpickler that
resolves only numpy's array-reconstruction globals and refuses anything else.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import CheckpointError, InputError, MapFormatError

log = logging.getLogger(__name__)

MULTIPLE_ASSIGNMENT_DB = 1
MULTIPLE_ASSIGNMENT_QUERY = 5
ALPHA = 3.0
THRESHOLD = 0.0
INDEX_VERSION = 1
_PART_ENTRIES = 1 << 16  # scoring: one part per this many scored entries, at most _MAX_PARTS
_MAX_PARTS = 16


# ------------------------------------------------------------------------ safe codebook loading
class _Refused(pickle.UnpicklingError):
    """The unpickler's refusal of what a pickle names (a global, an encoding): the file holds
    objects beyond plain arrays. Any other unpickling error is a stream cut short or corrupt."""


def _numpy_global(module: str, name: str):
    """The numpy function a pickle names, from whichever numpy (1.x or 2.x) is installed."""
    import importlib

    for mod in (module.replace("numpy.core.", "numpy._core."),
                module.replace("numpy._core.", "numpy.core.")):
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise _Refused(f"numpy has no {module}.{name}")


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol <= 2 pickles spell bytes as _codecs.encode(str, 'latin1'); nothing else passes.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise _Refused("_codecs.encode is only allowed with 'latin1'")
    return text.encode("latin1")


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Resolves numpy's ndarray reconstruction globals (numpy 1.x and 2.x names) only."""

    _NUMPY = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
              ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        if (module, name) in self._NUMPY:
            return _numpy_global(module, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        raise _Refused(
            f"global '{module}.{name}' is forbidden (only plain numpy arrays may be unpickled)")


def safe_unpickle(data: Union[bytes, BinaryIO], where: str) -> Any:
    """Unpickle ``data`` (bytes or a binary file) resolving numpy arrays only.

    Raises CheckpointError for any other global (refused: the file holds other objects) and for
    a malformed stream (truncated or corrupt: a cut-off download is not called crafted). Arrays
    keep the unpickled bytes as their buffer (read-only, no second copy)."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return _ArrayOnlyUnpickler(stream).load()
    except _Refused as e:
        raise CheckpointError(
            f"{where}: refused to unpickle: {e}. An ASMK codebook holds a dict with one float32 "
            "array; this file holds other objects (it may have been crafted to run code). Use "
            "the codebook from NAVER's download page") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError) as e:
        raise CheckpointError(f"{where}: not a readable pickle ({type(e).__name__}: {e}); "
                              "the file is truncated or corrupt: download it again (NAVER's "
                              "download page)") from None


class Codebook:
    """Visual words: ``centroids`` (K, D) float32, C-contiguous; ``size`` as stored.

    The nearest-word search runs in torch on ``device`` ('cpu' by default; `to` moves a copy
    of the centroids to a GPU, 256 MiB for the official codebook); the float64 re-ranking of
    the shortlist stays on the CPU copy.
    """

    def __init__(self, centroids: np.ndarray, size: Any = None, device: str = "cpu"):
        self.centroids = centroids
        self.size = size
        self._device = resolve_device(device)
        self._t: Optional[torch.Tensor] = None
        self._t_sqnorm: Optional[torch.Tensor] = None

    @property
    def num_words(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    def to(self, device: Union[str, torch.device]) -> Codebook:
        """Search on ``device`` from now on (returns self)."""
        self._device = resolve_device(device)
        self._t = self._t_sqnorm = None
        return self

    def _torch(self) -> Tuple[torch.Tensor, torch.Tensor]:
        if self._t is None:
            with warnings.catch_warnings():  # read-only buffer: torch only reads it
                warnings.simplefilter("ignore", UserWarning)
                t = torch.from_numpy(self.centroids)
            self._t = t.to(self._device)
            sq = np.einsum("kd,kd->k", self.centroids, self.centroids)  # no (K, D) temporary
            self._t_sqnorm = torch.from_numpy(sq).to(self._device)
        return self._t, self._t_sqnorm

    def quantize(self, feats: np.ndarray, multiple: int, batch: Optional[int] = None,
                 chunk: Optional[int] = None) -> np.ndarray:
        """Exact ``multiple`` nearest centroids of each row of ``feats`` (n, D).

        Returns (n, multiple) int64 by increasing distance. Candidates come from float32
        ``|c|^2 - 2 x.c`` (torch matmuls on the codebook's device), a shortlist of
        ``multiple + 4`` per row is re-ranked with float64 distances (on the same device),
        so near-ties resolve like an exact computation. All rows of a ``batch`` go through
        one matmul per ``chunk`` centroids (CPU default 8192: the distance block stays
        small and is reused; GPU default: the whole codebook at once); each chunk keeps its
        shortlist, merged at the end (the union of per-chunk shortlists holds the overall
        one). Working memory: ``batch * chunk * 4`` bytes (defaults: 16 MB on the CPU; 512
        rows at once on a GPU, 128 MB for the official 65 536 words). On the official sizes
        (300 x 1024 features, 65 536 words) this is ~40 GFLOP per query image: 0.5-1.5 s on
        one CPU core, ~2 ms on an H200 (bench_retrieval) -- keep the codebook on the
        engine's device.
        """
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise InputError(f"features {feats.shape} do not match the codebook's dimension "
                             f"{self.dim}: the codebook belongs to another retrieval model")
        m = min(multiple, self.num_words)
        n, k_all = len(feats), self.num_words
        if n == 0:
            return np.zeros((0, m), np.int64)
        cent, sqnorm = self._torch()
        short = min(k_all, m + 4)
        cpu = self._device.type == "cpu"
        chunk = max(short, min(k_all, chunk or (8192 if cpu else k_all)))
        batch = min(n, batch or (max(1, (1 << 22) // chunk) if cpu else 512))
        out = np.empty((n, m), np.int64)
        with torch.inference_mode():
            xt = torch.from_numpy(feats).to(self._device)
            dist = torch.empty(batch * chunk, dtype=torch.float32, device=self._device)
            for s in range(0, n, batch):
                xb = xt[s:s + batch]
                vals, cands = [], []
                for c0 in range(0, k_all, chunk):
                    c1 = min(k_all, c0 + chunk)
                    d = dist[:len(xb) * (c1 - c0)].view(len(xb), c1 - c0)
                    torch.addmm(sqnorm[c0:c1], xb, cent[c0:c1].T, beta=1.0, alpha=-2.0, out=d)
                    v, i = torch.topk(d, min(short, c1 - c0), dim=1, largest=False,
                                      sorted=False)
                    vals.append(v)
                    cands.append(i + c0)
                cand = cands[0]
                if len(cands) > 1:
                    sel = torch.topk(torch.cat(vals, 1), short, dim=1, largest=False,
                                     sorted=False).indices
                    cand = torch.gather(torch.cat(cands, 1), 1, sel)
                # float64 distances of the shortlist, on the device (64 rows at a time on
                # the CPU to keep the temporaries small), ordered on the CPU
                exact = torch.empty(cand.shape, dtype=torch.float64, device=self._device)
                step = 64 if cpu else len(xb)
                for r in range(0, len(xb), step):
                    diff = xb[r:r + step, None, :].double() - cent[cand[r:r + step]].double()
                    torch.sum(diff * diff, dim=2, out=exact[r:r + step])
                cand_np, exact_np = cand.cpu().numpy(), exact.cpu().numpy()
                order = np.lexsort((cand_np, exact_np), axis=1)[:, :m]
                out[s:s + batch] = np.take_along_axis(cand_np, order, axis=1)
        return out


def load_codebook(path: str, expected_size: Any = None, device: str = "cpu") -> Codebook:
    """Read an ASMK ``*_codebook.pkl`` safely.

    The file is ``{'type': 'Codebook', 'params': {'size': K}, 'state': {'centroids': (K, D)
    float32}}`` pickled by asmk. ``expected_size`` (the retrieval checkpoint's ``nclusters``)
    must equal the stored size (Python ``==``, as the reference asserts). Raises CheckpointError.
    """
    if not os.path.isfile(path):
        raise CheckpointError(
            f"codebook not found: {path}. Download "
            "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric_retrieval_codebook.pkl beside the "
            "retrieval checkpoint, or pass it with --codebook")
    with open(path, "rb") as fh:  # streamed: the 268 MB official file is not held twice
        obj = safe_unpickle(fh, path)
    try:
        if obj["type"] != "Codebook":
            raise KeyError("type")
        size = obj["params"]["size"]
        centroids = obj["state"]["centroids"]
    except (KeyError, TypeError, IndexError):
        raise CheckpointError(f"{path}: expected {{'type': 'Codebook', 'params': {{'size'}}, "
                              "'state': {'centroids'}}: not an ASMK codebook") from None
    if not isinstance(centroids, np.ndarray) or centroids.ndim != 2 \
            or centroids.dtype != np.float32:
        raise CheckpointError(f"{path}: centroids must be a 2-D float32 array, got "
                              f"{getattr(centroids, 'dtype', type(centroids).__name__)} "
                              f"{getattr(centroids, 'shape', '')}")
    if parse_cluster_count(size) != centroids.shape[0]:
        raise CheckpointError(f"{path}: stored size {size!r} but {centroids.shape[0]} centroids")
    if expected_size is not None and not (type(expected_size) is type(size)
                                          and expected_size == size):
        raise CheckpointError(f"{path}: codebook size {size!r} differs from the retrieval "
                              f"checkpoint's nclusters={expected_size!r}: the two files do not "
                              "belong together")
    log.info("loaded codebook %s (%d words x %d)", path, *centroids.shape)
    return Codebook(np.ascontiguousarray(centroids), size, device)


def parse_cluster_count(value: Any) -> int:
    """``65536``, ``'64k'`` (x1024) or ``'1M'`` (x1024^2) -> int; CheckpointError otherwise."""
    if isinstance(value, bool):
        raise CheckpointError(f"codebook size {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        mult = {"k": 1024, "M": 1024 ** 2}.get(value[-1], 1)
        try:
            return int(value[:-1] if mult > 1 else value) * mult
        except ValueError:
            pass
    raise CheckpointError(f"codebook size {value!r} is not an int or a string like '64k'")


# ------------------------------------------------------------------------ aggregation
@dataclasses.dataclass
class AsmkVector:
    """ASMK representation of one image: ``words`` (U,) int64 ascending, ``codes`` (U, B/8)
    uint8 packed sign bits of the residual sums (see module docstring)."""

    words: np.ndarray
    codes: np.ndarray

    @property
    def num_words(self) -> int:
        return int(len(self.words))


def code_bytes(dim: int) -> int:
    """Bytes per binary code: ceil(D / 32) 32-bit words."""
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


def residual_sums(feats: np.ndarray, assign: np.ndarray, centroids: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """(words (U,) ascending, sums (U, D) float32) of ``feats - c_w`` over assigned features.

    Sums are float32, added in feature order as the reference does (``index_add_`` on the
    CPU accumulates sequentially); only their signs are used, and near zero they depend on it.
    """
    m = assign.shape[1]
    flat = assign.reshape(-1)
    words, inverse = np.unique(flat, return_inverse=True)
    res = np.repeat(np.asarray(feats, np.float32), m, axis=0) - centroids[flat]
    sums = torch.zeros(len(words), centroids.shape[1], dtype=torch.float32)
    sums.index_add_(0, torch.from_numpy(inverse.reshape(-1).astype(np.int64)),
                    torch.from_numpy(res))
    return words.astype(np.int64), sums.numpy()


def aggregate(feats: np.ndarray, codebook: Codebook, multiple: int) -> AsmkVector:
    """ASMK representation of one image's local features (k, D) float32."""
    assign = codebook.quantize(feats, multiple)
    words, sums = residual_sums(feats, assign, codebook.centroids)
    return AsmkVector(words, binarize(sums))


def aggregate_many(feats: Sequence[np.ndarray], codebook: Codebook, multiple: int
                   ) -> List[AsmkVector]:
    """`aggregate` of several images with one codebook search over all their features (a
    GPU's matmuls stay large); the same vectors as one call per image (the search is exact
    per row, see `Codebook.quantize`)."""
    feats = [np.asarray(f, np.float32) for f in feats]
    if not feats:
        return []
    assign = codebook.quantize(np.concatenate(feats), multiple)
    cuts = np.cumsum([len(f) for f in feats])[:-1]
    out = []
    for f, a in zip(feats, np.split(assign, cuts)):
        words, sums = residual_sums(f, a, codebook.centroids)
        out.append(AsmkVector(words, binarize(sums)))
    return out


def aggregate_database(feats: np.ndarray, codebook: Codebook) -> AsmkVector:
    """Database side: every feature to its single nearest word."""
    return aggregate(feats, codebook, MULTIPLE_ASSIGNMENT_DB)


def aggregate_query(feats: np.ndarray, codebook: Codebook) -> AsmkVector:
    """Query side: every feature to its 5 nearest words."""
    return aggregate(feats, codebook, MULTIPLE_ASSIGNMENT_QUERY)


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



# ------------------------------------------------------------------------ device (torch) scoring
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


def _on_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """``a`` as a tensor on ``device`` (shares a CPU array's memory; read-only arrays from
    np.load / frombuffer are only read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(a).to(device)


def _codes_as_int64(codes: np.ndarray) -> np.ndarray:
    """(n, nbytes) uint8 -> (n, ceil(nbytes / 8)) int64 of the same bytes, zero-padded (zero
    bytes on both sides of an XOR add no distance)."""
    nb = codes.shape[1]
    pad = -nb % 8
    if pad:
        codes = np.concatenate([codes, np.zeros((len(codes), pad), np.uint8)], axis=1)
    return np.ascontiguousarray(codes).view(np.int64)


# ------------------------------------------------------------------------ inverted file
class AsmkIndex:
    """Inverted file over database images' ASMK vectors, CSR layout sorted by word.

    Arrays: ``offsets`` (K+1,) int64 (entries of word w are ``offsets[w]:offsets[w+1]``),
    ``image_ids`` (T,) int32, ``codes`` (T, nbytes) uint8, ``words_per_image`` (N,) int32.
    ``identity`` is free text naming the retrieval model + codebook the vectors came from.
    ``backend`` chooses how `query` / `top_k` score: 'faiss' or 'numpy' (the Hamming kernel
    on the CPU, see `hamming_lists`), 'torch' (everything in torch on ``device``, see
    `top_k`), 'auto' ('torch' when ``device`` is not the CPU, else faiss when installed, else
    numpy). All give the same Hamming integers and the same float64 scores (exactly equal when
    the code length B is a power of two, as the official 1024 bits: every kernel value
    ((B - 2h) / B)^3 is then a multiple of 8 / B^3 and the per-image sums are exact in float64
    whatever the order; otherwise they differ by the summation order only, ~1e-16 relative).
    Memory: ``T * (nbytes + 4)`` bytes plus ``8 K`` on the host; a CPU query keeps 20 bytes of
    scratch per scored entry between calls. On a device (copied once, at the first query):
    ``T * (8 ceil(nbytes / 8) + 4) + 8 N`` bytes (3.9 GB for 1e5 official-size keyframes),
    plus per query 16 bytes per scored entry and ~``3 nbytes + 40`` bytes per entry of a chunk
    (2^21 entries on a GPU: ~0.9 GB at 128-byte codes).
    """

    BACKENDS = ("auto", "faiss", "numpy", "torch")

    def __init__(self, offsets: np.ndarray, image_ids: np.ndarray, codes: np.ndarray,
                 words_per_image: np.ndarray, dim: int, identity: str = "",
                 backend: str = "auto", device: Union[str, torch.device] = "cpu"):
        if backend not in self.BACKENDS:
            raise InputError(f"ASMK backend {backend!r}: use 'auto', 'faiss', 'numpy' or "
                             "'torch'")
        self.offsets = offsets
        self.image_ids = image_ids
        self.codes = np.ascontiguousarray(codes)
        self.words_per_image = words_per_image
        self.dim = int(dim)
        self.identity = identity
        self.backend = backend
        self._inv_sqrt_n = 1.0 / np.sqrt(np.maximum(words_per_image, 1).astype(np.float64))
        self._table: Optional[np.ndarray] = None
        self._scratch: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self._scratch_lock = threading.Lock()
        self.device = resolve_device(device)
        self._dev: Optional[Tuple[torch.Tensor, ...]] = None
        self._dev_lock = threading.Lock()

    def to(self, device: Union[str, torch.device]) -> AsmkIndex:
        """Score on ``device`` from now on (returns self): with backend 'auto' or 'torch', the
        inverted file is copied there at the next query (memory: see the class docstring)."""
        device = resolve_device(device)
        if device != self.device:
            self.device, self._dev = device, None
        return self

    def resolved_backend(self) -> str:
        """The backend a query uses now: 'torch', 'faiss' or 'numpy'."""
        if self.backend == "torch" or (self.backend == "auto" and self.device.type != "cpu"):
            return "torch"
        if self.backend == "auto":
            return "faiss" if _faiss() is not None else "numpy"
        return self.backend

    @property
    def num_images(self) -> int:
        return int(len(self.words_per_image))

    @property
    def num_words(self) -> int:
        return int(len(self.offsets) - 1)

    @property
    def nbytes(self) -> int:
        """Bytes held by the inverted file's arrays (codes, ids, offsets, per-image counts)."""
        return int(self.codes.nbytes + self.image_ids.nbytes + self.offsets.nbytes
                   + self.words_per_image.nbytes + self._inv_sqrt_n.nbytes)

    @classmethod
    def build(cls, vectors: Sequence[AsmkVector], num_words: int, dim: int,
              identity: str = "") -> AsmkIndex:
        """Index database vectors (image id = position in ``vectors``)."""
        nb = code_bytes(dim)
        counts = np.array([v.num_words for v in vectors], np.int32)
        if len(vectors):
            words = np.concatenate([v.words for v in vectors]).astype(np.int64)
            codes = np.concatenate([v.codes.reshape(-1, nb) for v in vectors])
        else:
            words, codes = np.zeros(0, np.int64), np.zeros((0, nb), np.uint8)
        if len(words) and (words.min() < 0 or words.max() >= num_words):
            raise InputError(f"ASMK word ids must be in [0, {num_words})")
        ids = np.repeat(np.arange(len(vectors), dtype=np.int32), counts)
        order = np.argsort(words, kind="stable")
        offsets = np.zeros(num_words + 1, np.int64)
        np.cumsum(np.bincount(words, minlength=num_words), out=offsets[1:])
        return cls(offsets, ids[order], np.ascontiguousarray(codes[order]), counts, dim,
                   identity)

    def _buffers(self, total: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """(ham int32, ids intp, weights float64, each (total,); whether the lock is held):
        scratch kept between queries (fresh pages cost more than the scoring on some
        machines); a concurrent query gets its own arrays."""
        if not self._scratch_lock.acquire(blocking=False):
            return (np.empty(total, np.int32), np.empty(total, np.intp),
                    np.empty(total, np.float64), False)
        if self._scratch is None or len(self._scratch[0]) < total:
            self._scratch = (np.empty(total, np.int32), np.empty(total, np.intp),
                             np.empty(total, np.float64))
        return (self._scratch[0][:total], self._scratch[1][:total], self._scratch[2][:total],
                True)

    def query(self, vec: AsmkVector, block_rows: int = 16384, threads: Optional[int] = None
              ) -> np.ndarray:
        """(N,) float64 scores of one query vector against every database image.

        Work is proportional to the database entries sharing a word with the query: their
        Hamming distances to the query word's code (`hamming_lists`, one pass over the
        contiguous posting lists), the kernel as a table over the distance, a bincount over
        image ids. A large query is cut into up to 16 parts of whole posting lists (one per
        65 536 scored entries), scored by ``threads`` worker threads (faiss and numpy release
        the GIL; default: up to 4 CPUs); the parts' sums are added in order, so the scores
        do not depend on ``threads``. ``block_rows``: rows per popcount block of the numpy
        backend.
        """
        if self.resolved_backend() == "torch":
            return self._scores_torch(vec).cpu().numpy()
        scores = np.zeros(self.num_images, np.float64)
        if vec.num_words == 0 or self.num_images == 0:
            return scores
        words, starts, lengths, total = self._postings(vec)
        if total == 0:
            return scores
        ends = starts + lengths
        q = np.ascontiguousarray(vec.codes)
        table = self._kernel_table()
        ham, ids, weights, locked = self._buffers(total)
        try:
            # Fixed parts (by the query's size only, never by the thread count), each summed
            # by its own bincount, the partial sums added in part order: the same floats for
            # any number of threads.
            parts = max(1, min(_MAX_PARTS, total // _PART_ENTRIES))
            cum = np.concatenate([[0], np.cumsum(lengths)])
            cuts = [0, *np.searchsorted(cum[1:], total * np.arange(1, parts) / parts).tolist(),
                    len(lengths)]

            def part(g: int) -> Optional[np.ndarray]:
                lo, hi = cuts[g], cuts[g + 1]
                if hi == lo:
                    return None
                p0, p1 = int(cum[lo]), int(cum[hi])
                hamming_lists(self.codes, starts[lo:hi], ends[lo:hi], q[lo:hi], ham[p0:p1],
                              self.backend, block_rows)
                # image id of every scored entry, in scoring order (posting lists' slices)
                np.concatenate([self.image_ids[b:e] for b, e in
                                zip(starts[lo:hi].tolist(), ends[lo:hi].tolist())],
                               out=ids[p0:p1])
                np.take(table, ham[p0:p1], out=weights[p0:p1])
                return np.bincount(ids[p0:p1], weights=weights[p0:p1],
                                   minlength=self.num_images)
            nt = max(1, min(threads or min(4, os.cpu_count() or 1), parts))
            if nt == 1:
                partial = [part(g) for g in range(parts)]
            else:
                with ThreadPoolExecutor(nt) as pool:
                    partial = list(pool.map(part, range(parts)))
            # 1/sqrt(n_j) is per image: applied after summing its words' kernel values
            for s in partial:
                if s is not None:
                    scores += s
        finally:
            if locked:
                self._scratch_lock.release()
        return scores * self._inv_sqrt_n / np.sqrt(vec.num_words)

    def _query_words(self, vec: AsmkVector) -> np.ndarray:
        words = np.asarray(vec.words, np.int64)
        if words.min() < 0 or words.max() >= self.num_words:
            raise InputError("query word ids exceed the index's codebook size")
        if vec.codes.shape != (len(words), self.codes.shape[1]):
            raise InputError(f"query codes {vec.codes.shape} do not match its {len(words)} "
                             f"words of {self.codes.shape[1]} bytes")
        return words

    def _postings(self, vec: AsmkVector) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The query's (validated) words, their posting lists' starts and lengths in the CSR
        arrays, and the total number of entries to score."""
        words = self._query_words(vec)
        starts = self.offsets[words]
        lengths = self.offsets[words + 1] - starts
        return words, starts, lengths, int(lengths.sum())

    def top_k(self, vec: AsmkVector, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """(ids (<= k,) int64, scores float64) of the ``k`` best database images, best first,
        ties broken by the lower image id (as ``np.argsort(-query(vec), kind='stable')``).

        With the 'torch' backend the ranking runs on ``device`` and only the top-k is copied
        back (one transfer); otherwise it ranks `query`'s scores.
        """
        k = max(0, min(int(k), self.num_images))
        if self.resolved_backend() != "torch":
            scores = self.query(vec)
            ids = np.argsort(-scores, kind="stable")[:k].astype(np.int64)
            return ids, scores[ids]
        scores = self._scores_torch(vec)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        with torch.inference_mode():
            thr = torch.topk(scores, k, sorted=False).values.min()
            cand = torch.nonzero(scores >= thr).squeeze(1)  # ascending ids, ties included
            order = torch.sort(scores[cand], descending=True, stable=True).indices[:k]
            ids = cand[order]
            # image ids < 2^53 are exact in float64: one (2, k) transfer
            both = torch.stack([ids.to(torch.float64), scores[ids]]).cpu().numpy()
        return both[0].astype(np.int64), both[1].copy()

    def _device_arrays(self) -> Tuple[torch.Tensor, ...]:
        """(codes (T, m) int64, image ids (T,) int32, 1/sqrt(n_j) (N,) float64, kernel table
        float64) on ``device``, copied at the first call (and after `to`)."""
        with self._dev_lock:
            if self._dev is None:
                dev = self.device
                self._dev = (_on_device(_codes_as_int64(self.codes), dev),
                             _on_device(np.asarray(self.image_ids, np.int32), dev),
                             _on_device(self._inv_sqrt_n, dev),
                             _on_device(self._kernel_table(), dev))
                mb = sum(t.numel() * t.element_size() for t in self._dev) / 2 ** 20
                log.info("ASMK inverted file on %s: %.0f MB", dev, mb)
            return self._dev

    def _scores_torch(self, vec: AsmkVector, chunk_entries: Optional[int] = None
                      ) -> torch.Tensor:
        """(N,) float64 scores on ``device``: the query's posting entries gathered there,
        Hamming distances by XOR + `popcount_rows_torch`, kernel values by the same table,
        summed per image with ``index_add_`` in float64 (exact for power-of-two B, see the
        class docstring), ``chunk_entries`` entries at a time (CPU 2^16, else 2^21)."""
        codes, img, inv_sqrt_n, table = self._device_arrays()
        dev = self.device
        scores = torch.zeros(self.num_images, dtype=torch.float64, device=dev)
        if vec.num_words == 0 or self.num_images == 0:
            return scores
        words, starts, lengths, total = self._postings(vec)
        if total == 0:
            return scores
        chunk = chunk_entries or (1 << 16 if dev.type == "cpu" else 1 << 21)
        with torch.inference_mode():
            q = _on_device(_codes_as_int64(np.asarray(vec.codes, np.uint8)), dev)
            lens = torch.from_numpy(lengths).to(dev)
            # entry e of the query's concatenated posting lists: query word rep[e], row
            # starts[rep[e]] + (e - first entry of that word) of the inverted file
            rep = torch.repeat_interleave(torch.arange(len(words), device=dev), lens,
                                          output_size=total)
            shift = torch.from_numpy(starts - (np.cumsum(lengths) - lengths)).to(dev)
            rows = torch.arange(total, device=dev).add_(shift[rep])
            for a in range(0, total, chunk):
                r = rows[a:a + chunk]
                x = codes.index_select(0, r).bitwise_xor_(q.index_select(0, rep[a:a + chunk]))
                w = table.index_select(0, popcount_rows_torch(x))
                scores.index_add_(0, img.index_select(0, r).long(), w)
            # 1/sqrt(n_j) is per image: applied after summing its words' kernel values
            return scores.mul_(inv_sqrt_n).div_(float(np.sqrt(vec.num_words)))

    def _kernel_table(self) -> np.ndarray:
        """s^alpha for s = 1 - 2 h / B >= threshold, else 0, indexed by Hamming distance h."""
        if self._table is None:
            bits = 8 * self.codes.shape[1]
            sim = 1.0 - 2.0 * np.arange(bits + 1, dtype=np.float64) / bits
            self._table = np.where(sim >= THRESHOLD, sim ** ALPHA, 0.0)
        return self._table

    def query_many(self, vectors: Iterable[AsmkVector]) -> np.ndarray:
        """(M, N) float64: row i = query i, column j = database image j."""
        rows = [self.query(v) for v in vectors]
        return np.stack(rows) if rows else np.zeros((0, self.num_images))

    # -- persistence (npz, no pickle) -------------------------------------------------
    def save(self, path: str) -> None:
        """Write the index atomically as ``.npz`` (readable with ``allow_pickle=False``)."""
        from ..fileio import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, version=np.int64(INDEX_VERSION), offsets=self.offsets,
                 image_ids=self.image_ids, codes=self.codes,
                 words_per_image=self.words_per_image, dim=np.int64(self.dim),
                 identity=np.array(self.identity))
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str) -> AsmkIndex:
        """Read an index written by `save`; MapFormatError if missing or malformed."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["version"]) != INDEX_VERSION:
                    raise MapFormatError(f"{path}: ASMK index version {int(z['version'])}, "
                                         f"this code reads {INDEX_VERSION}: rebuild it")
                idx = cls(z["offsets"], z["image_ids"], z["codes"], z["words_per_image"],
                          int(z["dim"]), str(z["identity"]))
        except (OSError, KeyError, ValueError) as e:
            raise MapFormatError(f"{path}: cannot read the ASMK index ({e}); rebuild it") \
                from None
        if idx.offsets[-1] != len(idx.image_ids) or len(idx.codes) != len(idx.image_ids) \
                or idx.codes.shape[1] != code_bytes(idx.dim):
            raise MapFormatError(f"{path}: inconsistent ASMK index arrays; rebuild it")
        return idx


def similarity_matrix(db: Sequence[AsmkVector], queries: Sequence[AsmkVector],
                      codebook: Codebook) -> np.ndarray:
    """(M, N) float64 ASMK similarities, row = query, column = database image."""
    index = AsmkIndex.build(db, codebook.num_words, codebook.dim)
    return index.query_many(queries)


__all__ = ["parse_cluster_count", "Codebook", "AsmkVector", "AsmkIndex", "load_codebook",
           "safe_unpickle",
           "aggregate", "aggregate_many", "aggregate_database", "aggregate_query", "binarize",
           "code_bytes",
           "codes_as_uint32", "residual_sums", "similarity_matrix"]
