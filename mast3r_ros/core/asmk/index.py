"""The ASMK inverted file: `AsmkIndex` (CSR layout sorted by word; scoring of a query on
the CPU with `codes.hamming_lists` in parallel parts, or in torch on a device; top-k; npz
persistence) and `similarity_matrix`.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import InputError, MapFormatError
from .aggregate import AsmkVector
from .codebook import Codebook
from .codes import _faiss, code_bytes, hamming_lists, popcount_rows_torch

log = logging.getLogger(__name__)

ALPHA = 3.0
THRESHOLD = 0.0
INDEX_VERSION = 1
_PART_ENTRIES = 1 << 16  # scoring: one part per this many scored entries, at most _MAX_PARTS
_MAX_PARTS = 16


# ------------------------------------------------------------------------ device copies
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
        """N, the number of indexed database images (ids 0..N-1)."""
        return int(len(self.words_per_image))

    @property
    def num_words(self) -> int:
        """K, the codebook size the index was built for (``offsets`` has K+1 entries)."""
        return int(len(self.offsets) - 1)

    @property
    def nbytes(self) -> int:
        """Bytes held by the inverted file's arrays (codes, ids, offsets, per-image counts)."""
        return int(self.codes.nbytes + self.image_ids.nbytes + self.offsets.nbytes
                   + self.words_per_image.nbytes + self._inv_sqrt_n.nbytes)

    @classmethod
    def build(cls, vectors: Sequence[AsmkVector], num_words: int, dim: int,
              identity: str = "") -> AsmkIndex:
        """Index database vectors (image id = position in ``vectors``) of a ``num_words``
        codebook of ``dim``-dimensional features. Raises `InputError` for a word id outside
        [0, ``num_words``)."""
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
        backend. Raises `InputError` when ``vec``'s word ids exceed the codebook or its codes
        do not hold one code of this index's length per word.
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
        back (one transfer); otherwise it ranks `query`'s scores. ``k`` above the number of
        images gives them all; ``k`` = 0 two empty arrays. Raises `InputError` (a ValueError)
        naming ``k`` when it is not an integer >= 0 (Python or numpy; a bool or float is
        refused), as `AsmkRetriever.top_k` does: a negative k is a caller's bug, not a request
        for nothing.
        """
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"AsmkIndex.top_k: k must be an integer >= 0 (how many images to "
                             f"return), got {k!r}")
        k = min(int(k), self.num_images)
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

