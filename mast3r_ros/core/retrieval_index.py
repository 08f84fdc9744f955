"""Global-descriptor retrieval that stays fast at 10^5 keyframes (issue 11).

Same candidate API as `core.retrieval.rank_by_similarity`: ``search(query, top_k)`` returns the
indices (<= top_k,) int64 of the database rows (K, D) most similar to the query, best first, with
rows and query unit-norm float32 so the inner product is the cosine similarity. Both the
weight-free thumbnail descriptors and MASt3R's pooled descriptors go through it.

Kinds (``ScaleConfig.index_type``, parameter ``scale.index_type``):

* ``exact``  -- the full inner product with numpy, below ``ScaleConfig.approx_threshold``
  keyframes, where it is fast enough (about 3 ms per query at 2*10^4 x 1024 on one core), on one
  BLAS thread (`blas_threads.single_blas_thread`: BLAS's worker threads spin on a loaded CPU,
  15.6 ms instead of 0.06 ms a query at 2 000 keyframes). A faiss
  ``IndexFlatIP`` is not used for it: one query is a matrix-vector product that numpy's BLAS
  already runs at memory bandwidth, and faiss would hold a second copy of the descriptors.
* ``ivf``    -- FAISS ``IndexIVFScalarQuantizer`` (8-bit codes, inverted lists over
  ``4 * sqrt(K)`` k-means cells, at most K / 39: the training points a cell FAISS's k-means
  asks for, else it prints a warning; ``nprobe`` cells searched), then the
  ``rerank_factor * top_k`` candidates re-scored exactly on the float32 descriptors
  (memory-mapped, so only those rows are read). Chosen over HNSW by measurement
  (bench/bench_scale.py; issue 11 report): on trajectory-like descriptors HNSW-SQ8 reached
  recall@10 0.8 where IVF-SQ8 plus re-ranking reached 1.0 at a fraction of a millisecond, and
  IVF builds several times faster. The 8-bit codes keep the resident index at K * D bytes
  (100 MB for 10^5 x 1024) instead of 4 * K * D.
* ``hnsw``   -- FAISS ``IndexHNSWSQ`` (8-bit), also re-ranked; kept for descriptor sets where
  graph search wins.

On disk (``save``): ``PATH/index.json`` (kind, sizes, parameters, sha256 of each file),
``PATH/descs.npy`` (K, D) float32, and for FAISS kinds ``PATH/index.faiss``. Without faiss
installed, a map whose index is approximate is searched exactly with numpy (one log line says
so), so a map stays usable everywhere; one written without faiss keeps its exact index, which
a load where faiss is installed says (rebuild the map to have the approximate one).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .blas_threads import single_blas_thread
from .errors import (MISSING, InputError, MapFormatError, describe_npy, is_format_version,
                     json_value)
from .errors import NPY_HEADER_ERRORS, npy_header_error
from .fileio import atomic_write_file, file_sha256
from .fileio import atomic_write_json
from .npy_write import save_npy

log = logging.getLogger(__name__)

INDEX_FORMAT = "mast3r_ros.retrieval_index"
INDEX_VERSION = 1
INDEX_KINDS = ("exact", "ivf", "hnsw")
MIN_POINTS_PER_CELL = 39  # FAISS's ClusteringParameters.min_points_per_centroid default


@dataclasses.dataclass(frozen=True)
class IndexParams:
    """What `build` needs; `from_config` takes them from `config.ScaleConfig`."""

    index_type: str = "ivf"          # approximate kind above the threshold: "ivf" or "hnsw"
    approx_threshold: int = 20000    # keyframes from which the approximate kind is used
    nprobe: int = 16                 # ivf: cells searched per query
    hnsw_m: int = 32                 # hnsw: graph degree
    ef_search: int = 128             # hnsw: search breadth
    rerank_factor: int = 4           # approximate kinds: exact re-scoring of factor * top_k


    @staticmethod
    def from_config(cfg: Any) -> IndexParams:
        """The index fields of a `mast3r_ros.core.config.ScaleConfig` (``cfg.scale``)."""
        return IndexParams(**{f.name: getattr(cfg, f.name)
                              for f in dataclasses.fields(IndexParams)})

    @staticmethod
    def from_json(params: Dict[str, Any]) -> IndexParams:
        """The fields an index's ``index.json`` records under ``params`` (`RetrievalIndex.save`);
        keys of no field (a newer writer's) are left out, missing ones take their defaults."""
        names = {f.name for f in dataclasses.fields(IndexParams)}
        return IndexParams(**{k: v for k, v in params.items() if k in names})


def faiss_available() -> bool:
    """True when faiss imports (approximate index kinds are then built)."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _unit_rows(descs: np.ndarray) -> np.ndarray:
    d = np.ascontiguousarray(descs, dtype=np.float32)
    if d.ndim != 2:
        raise InputError(f"descriptors must be (K, D), got shape {d.shape}")
    if not np.isfinite(d).all():
        raise InputError("descriptors contain NaN or infinity")
    return d


def _exact_top_k(query: np.ndarray, database: np.ndarray, top_k: int) -> np.ndarray:
    if not len(database) or top_k <= 0:
        return np.zeros(0, dtype=np.int64)
    with single_blas_thread():  # BLAS's threads spin on a loaded CPU (blas_threads)
        sims = database @ query
    k = min(int(top_k), len(sims))
    part = np.arange(len(sims))
    if k < len(sims):
        # the k best, ties broken by index, as rank_by_similarity's stable argsort: the
        # partition alone puts an arbitrary few of the rows tied at the k-th similarity in
        kth = sims[np.argpartition(-sims, k - 1)[k - 1]]
        better = np.flatnonzero(sims > kth)
        part = np.concatenate([better, np.flatnonzero(sims == kth)[:k - len(better)]])
    return part[np.lexsort((part, -sims[part]))].astype(np.int64)


class RetrievalIndex:
    """Top-k inner-product search over (K, D) unit-norm float32 descriptors (see module doc)."""

    def __init__(self, descs: np.ndarray, kind: str, params: IndexParams,
                 faiss_index: Any = None):
        self.descs = descs
        self.kind = kind
        self.params = params
        self._faiss = faiss_index
        self._unverified: Optional[Tuple[str, str]] = None  # (path, sha256) of descs.npy

    # -- building -----------------------------------------------------------------------
    @classmethod
    def build(cls, descs: np.ndarray, cfg: IndexParams = IndexParams()) -> RetrievalIndex:
        """Index ``descs`` (K, D) float32 unit-norm: exact below ``cfg.approx_threshold`` rows,
        else ``cfg.index_type`` (exact numpy when faiss is missing, with a log line).

        Raises InputError on a non-2-D or non-finite array or an unknown index type.
        """
        d = _unit_rows(descs)
        if cfg.index_type not in INDEX_KINDS:
            raise InputError(f"index_type must be one of {INDEX_KINDS}, got {cfg.index_type!r}")
        kind = cfg.index_type if len(d) >= cfg.approx_threshold else "exact"
        if kind == "exact":
            return cls(d, "exact", cfg)
        if not faiss_available():
            log.info("retrieval index: faiss not installed; %d keyframes searched exactly with "
                     "numpy instead of '%s' (pip install faiss-cpu)", len(d), kind)
            return cls(d, "exact", cfg)
        return cls(d, kind, cfg, _build_faiss(d, kind, cfg))

    def __len__(self) -> int:
        return len(self.descs)

    # -- searching ----------------------------------------------------------------------
    def search(self, query: np.ndarray, top_k: int) -> np.ndarray:
        """Indices (<= top_k,) int64 of the rows most similar to ``query`` (D,), best first.

        Raises `InputError` when the query's dimension is not the index's D or it holds a
        NaN/inf (every similarity would be NaN: an arbitrary ranking), `MapFormatError` when
        ``descs.npy`` of a loaded index fails its checksum (verified on the first search).
        """
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if not len(self) or top_k <= 0:
            return np.zeros(0, dtype=np.int64)
        if q.shape[0] != self.descs.shape[1]:
            raise InputError(f"query has {q.shape[0]} dims, the index {self.descs.shape[1]}")
        if not np.isfinite(q).all():
            raise InputError("retrieval query descriptor holds NaN or infinity")
        if self._unverified is not None:
            _verify(*self._unverified)
            self._unverified = None
        if self._faiss is None or self.kind == "exact":
            return _exact_top_k(q, self.descs, top_k)
        k = min(len(self), max(int(top_k), self.params.rerank_factor * int(top_k)))
        _, idx = self._faiss.search(q[None], k)
        cand = idx[0][idx[0] >= 0]
        # exact re-scoring on the float32 rows: only these rows are read from the memory map
        order = _exact_top_k(q, np.asarray(self.descs[np.sort(cand)]), top_k)
        return np.sort(cand)[order].astype(np.int64)

    # -- files --------------------------------------------------------------------------
    def save(self, path: str) -> Dict[str, Dict[str, Any]]:
        """Write the index into folder ``path`` (each file atomically, ``index.json`` last).

        Returns the file table {name: {"sha256", "bytes"}} (names relative to ``path``) for the
        map manifest.
        """
        os.makedirs(path, exist_ok=True)
        files: Dict[str, Dict[str, Any]] = {}

        def record(name: str) -> None:
            full = os.path.join(path, name)
            files[name] = {"sha256": file_sha256(full), "bytes": os.path.getsize(full)}

        def write_descs(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                save_npy(fh, np.asarray(self.descs))

        atomic_write_file(os.path.join(path, "descs.npy"), write_descs)
        record("descs.npy")
        if self.kind != "exact":
            import faiss

            atomic_write_file(os.path.join(path, "index.faiss"),
                              lambda t: faiss.write_index(self._faiss, t))
            record("index.faiss")
        atomic_write_json(os.path.join(path, "index.json"), {
            "format": INDEX_FORMAT, "version": INDEX_VERSION, "kind": self.kind,
            "num": len(self), "dim": int(self.descs.shape[1]),
            "params": dataclasses.asdict(self.params), "files": files})
        record("index.json")
        return files

    @classmethod
    def load(cls, path: str, verify: bool = True) -> RetrievalIndex:
        """Read an index written by `save`; descriptors are memory-mapped, not read.

        ``verify`` checks each file's sha256 against ``index.json`` (the map's manifest holds
        ``index.json``'s own checksum): ``index.faiss`` now, ``descs.npy`` (4 * K * D bytes, only
        a few rows of which a query reads) lazily on the first search, so opening stays fast.
        Raises MapFormatError naming the file when something is missing, corrupt or of another
        version (from the first `search` for ``descs.npy``).
        """
        meta = _read_meta(path)
        params = IndexParams.from_json(meta["params"])
        for name, entry in meta["files"].items():
            full = os.path.join(path, os.path.basename(name))
            if not os.path.isfile(full):
                raise MapFormatError(f"map file missing: {full}")
            if verify and name != "descs.npy":
                _verify(full, entry["sha256"])
        descs_path = os.path.join(path, "descs.npy")
        want = describe_npy((meta["num"], meta["dim"]), np.dtype(np.float32))
        try:
            descs = np.load(descs_path, mmap_mode="r", allow_pickle=False)
        except NPY_HEADER_ERRORS as e:  # numpy's text may even suggest allow_pickle
            log.debug("%s: numpy cannot read the header: %s", descs_path, e)
            raise npy_header_error(descs_path, want) from None
        if descs.shape != (meta["num"], meta["dim"]) or descs.dtype != np.float32:
            raise npy_header_error(descs_path, want, describe_npy(descs.shape, descs.dtype))
        kind = meta["kind"]
        if kind != "exact" and not faiss_available():
            log.info("retrieval index %s is '%s' but faiss is not installed: searching %d "
                     "keyframes exactly with numpy (pip install faiss-cpu)", path, kind,
                     len(descs))
            kind = "exact"
        elif (kind == "exact" and params.index_type != "exact"
              and len(descs) >= params.approx_threshold and faiss_available()):
            # built (or merged) where faiss was missing: the map keeps its exact index
            log.info("retrieval index %s was written without faiss: its %d keyframes are "
                     "searched exactly with numpy, not with the '%s' index its settings ask "
                     "for from %d keyframes; rebuild the map (or merge-maps again) with faiss "
                     "installed to have it", path, len(descs), params.index_type,
                     params.approx_threshold)
        index = None
        if kind != "exact":
            import faiss

            index = _configure(faiss.read_index(os.path.join(path, "index.faiss")), kind, params)
        out = cls(descs, kind, params, index)
        if verify:
            out._unverified = (descs_path, meta["files"]["descs.npy"]["sha256"])
        return out


def _verify(full: str, sha256: str) -> None:
    if file_sha256(full) != sha256:
        raise MapFormatError(f"map file corrupt (checksum mismatch): {full}; rebuild the map or "
                             "re-copy the file")


def _read_meta(path: str) -> Dict[str, Any]:
    full = os.path.join(path, "index.json")
    try:
        with open(full, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise MapFormatError(f"map file missing: {full}") from None
    except (OSError, ValueError) as e:
        raise MapFormatError(f"map file {full}: not readable JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise MapFormatError(f"map file {full}: not a retrieval index")
    if not is_format_version(meta.get("version"), (INDEX_VERSION,)):
        version = json_value(meta.get("version", MISSING))
        raise MapFormatError(f"map file {full}: version {version}, this build reads "
                             f"{INDEX_VERSION}; rebuild the map")
    if meta.get("kind") not in INDEX_KINDS or not isinstance(meta.get("files"), dict) \
            or not isinstance(meta.get("params"), dict):
        raise MapFormatError(f"map file {full}: malformed kind, params or file table")
    sizes = [meta.get(k, MISSING) for k in ("num", "dim")]
    if not all(type(v) is int and v >= 0 for v in sizes):  # a KeyError / TypeError later
        raise MapFormatError(f"map file {full}: num and dim must be whole numbers >= 0 (the "
                             f"descriptors' rows and width), got {json_value(sizes[0])} and "
                             f"{json_value(sizes[1])}; rebuild the map")
    files = meta["files"]
    if "descs.npy" not in files or not all(
            isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in files.values()):
        raise MapFormatError(f"map file {full}: its file table must list descs.npy and give "
                             "each file's sha256; rebuild the map")
    return meta


def _build_faiss(d: np.ndarray, kind: str, cfg: IndexParams) -> Any:
    """The FAISS index of ``kind`` over ``d`` (K, D), said at INFO as it starts and with its
    duration when built (seconds at 2*10^4 keyframes: a map's commit is otherwise silent)."""
    import faiss

    start = time.monotonic()
    log.info("retrieval index: building '%s' over %d keyframes of %d dims ...", kind,
             len(d), d.shape[1])
    index = _trained_filled(faiss, d, kind, cfg)
    log.info("retrieval index: '%s' over %d keyframes built in %.1f s", kind, len(d),
             time.monotonic() - start)
    return index


def _trained_filled(faiss: Any, d: np.ndarray, kind: str, cfg: IndexParams) -> Any:
    dim = d.shape[1]
    if kind == "ivf":
        # FAISS's k-means wants MIN_POINTS_PER_CELL training points a cell (fewer: it prints a
        # warning on stderr, from C++); below that many keyframes there is one cell, whose
        # centroid is their mean however few they are, and it is asked for no more than exist
        nlist = max(1, min(len(d) // MIN_POINTS_PER_CELL, int(4 * math.sqrt(len(d)))))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 1234
        index.cp.min_points_per_centroid = min(MIN_POINTS_PER_CELL, len(d) // nlist)
        index.train(d)
    else:
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, cfg.hnsw_m,
                                  faiss.METRIC_INNER_PRODUCT)
        index.train(d)
    index.add(d)
    return _configure(index, kind, cfg)


def _configure(index: Any, kind: str, cfg: IndexParams) -> Any:
    if kind == "ivf":
        index.nprobe = cfg.nprobe
    else:
        index.hnsw.efSearch = cfg.ef_search
    return index
