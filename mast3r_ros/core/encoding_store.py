"""Cached keyframe encodings in chunked, memory-mapped ``.npy`` files, read lazily (issue 11).

Why: a map's cached encoder output grows with the map (ViT-L at 512 px: about 1.5 MB per keyframe
in fp16), so it cannot be read whole when the map opens. Here each chunk of consecutive keyframes
is one ``.npy`` file holding a 1-D structured array, one record per keyframe, one field per array
name, so one keyframe's arrays are a contiguous slice that a memory map reads without touching
the others. Records carry exactly what ``EncodingSet`` holds per keyframe today:

* ``feats`` (N, C) and ``true_shape`` (2,) int64 from ``Encoding.to_numpy()``
  (core/model/engine_io.py), ``feats`` in the dtype chosen at write time (float16 where the engine
  runs fp16, which is what ``to_numpy`` gives today),
* ``to_orig`` (3, 3) float64, the network-pixel -> original-pixel homography,
* ``global`` (C,) float32, the unit-norm pooled descriptor.

The store itself is agnostic of the names: any fixed set of arrays per keyframe works, and the
shapes may change from one chunk to the next (keyframes from cameras of other aspect ratios).

Layout inside ``FOLDER`` (a map's ``encodings/<id>_<size>/``)::

    chunk_000000.npy   records of keyframes [first, first + count)
    chunk_000001.npy   ...

The chunk table (`StoreTable`, JSON-able) and the sha256 of every file go into the map's
manifest; the reader gets them back from there and opens nothing until a keyframe is asked for.
Each chunk's checksum is verified on its first use (a mismatch raises `MapFormatError` naming the
file). Files are written atomically (core/fileio.py conventions: temp file, fsync, rename).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import os
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .errors import (MISSING, InputError, MapFormatError, describe_npy, is_format_version,
                     json_value)
from .errors import NPY_HEADER_ERRORS, map_file_unreadable, npy_header_error
from .durable import mkstemp_public
from .npy_write import save_npy

log = logging.getLogger(__name__)

STORE_FORMAT = "mast3r_ros.encoding_store"
STORE_VERSION = 1
DEFAULT_CHUNK_SIZE = 4  # keyframes per file: 1e5 keyframes -> 25 000 files, ~6 MB each at ViT-L
_HASH_BLOCK = 1 << 22


# ------------------------------------------------------------------------------- table ---

@dataclasses.dataclass(frozen=True)
class ChunkEntry:
    """One chunk file: keyframes ``[first, first + count)``; ``file`` relative to the store."""

    file: str
    first: int
    count: int


@dataclasses.dataclass(frozen=True)
class StoreTable:
    """Where each keyframe's record lives, plus every file's sha256 and size.

    ``files`` maps a chunk's file name (relative to the store folder) to ``{"sha256": hex,
    "bytes": int}``, the entries the map manifest's file table holds (prefix them with the
    store's folder inside the map).
    """

    num_keyframes: int
    chunks: Tuple[ChunkEntry, ...]
    files: Mapping[str, Mapping[str, Any]]

    def to_json(self) -> Dict[str, Any]:
        """The manifest entry (without ``files``, which go into the manifest's file table)."""
        return {"format": STORE_FORMAT, "version": STORE_VERSION,
                "num_keyframes": int(self.num_keyframes),
                "chunks": [[c.file, c.first, c.count] for c in self.chunks]}

    @staticmethod
    def from_json(obj: Any, files: Mapping[str, Mapping[str, Any]], where: str) -> StoreTable:
        """Parse `to_json`'s output; ``files`` is the file table (relative to the store folder).

        Raises MapFormatError when the entry is malformed, chunks overlap or leave gaps, or a
        chunk has no sha256 in ``files``.
        """
        if not isinstance(obj, Mapping) or obj.get("format") != STORE_FORMAT:
            raise MapFormatError(f"{where}: not an encoding store entry (format "
                                 f"{STORE_FORMAT!r} expected)")
        if not is_format_version(obj.get("version", MISSING), (STORE_VERSION,)):
            version = json_value(obj.get("version", MISSING))
            raise MapFormatError(f"{where}: encoding store version {version}; this build reads "
                                 f"version {STORE_VERSION}; rebuild the map")
        try:
            n = int(obj["num_keyframes"])
            chunks = tuple(ChunkEntry(str(f), int(a), int(c)) for f, a, c in obj["chunks"])
        except (KeyError, TypeError, ValueError):
            raise MapFormatError(f"{where}: malformed encoding store chunk table") from None
        table = StoreTable(n, chunks, dict(files))
        table.check(where)
        return table

    def check(self, where: str) -> None:
        """Raise MapFormatError unless the chunks tile [0, num_keyframes) and have checksums."""
        nxt = 0
        for c in self.chunks:
            if c.first != nxt or c.count < 1:
                raise MapFormatError(f"{where}: chunk {c.file} covers [{c.first}, "
                                     f"{c.first + c.count}), expected to start at {nxt}")
            if not _safe_name(c.file):
                raise MapFormatError(f"{where}: chunk file name '{c.file}' leaves the store")
            meta = self.files.get(c.file)
            if not isinstance(meta, Mapping) or not isinstance(meta.get("sha256"), str):
                raise MapFormatError(f"{where}: chunk {c.file} has no sha256 in the file table")
            nxt += c.count
        if nxt != self.num_keyframes:
            raise MapFormatError(f"{where}: chunks cover {nxt} keyframes, the table says "
                                 f"{self.num_keyframes}")


def merge_tables(parts: Sequence[StoreTable]) -> StoreTable:
    """Concatenate tables of consecutive keyframe ranges (e.g. shards of a parallel build).

    Each part's chunks must use keyframe indices of the whole map (a writer started with
    ``first_index``) and the parts must follow each other without gaps.
    """
    parts = sorted(parts, key=lambda t: t.chunks[0].first if t.chunks else 0)
    chunks: List[ChunkEntry] = []
    files: Dict[str, Mapping[str, Any]] = {}
    for t in parts:
        chunks.extend(t.chunks)
        files.update(t.files)
    n = sum(c.count for c in chunks)
    table = StoreTable(n, tuple(chunks), files)
    table.check("merged encoding store")
    return table


def _safe_name(rel: str) -> bool:
    return bool(rel) and not os.path.isabs(rel) and "/" not in rel and "\\" not in rel \
        and rel not in (".", "..")


def chunk_file_name(first: int) -> str:
    """File name of the chunk whose first keyframe is ``first`` (global index, so shards of a
    parallel build never collide)."""
    return f"chunk_{int(first):06d}.npy"


# ------------------------------------------------------------------------------ writer ---

def _record_dtype(arrays: Mapping[str, np.ndarray]) -> np.dtype:
    fields = []
    for name, a in arrays.items():
        if a.dtype.hasobject or a.dtype.kind not in "biuf":
            raise InputError(f"encoding array '{name}' has dtype {a.dtype}; numeric arrays only")
        fields.append((name, a.dtype.newbyteorder("<"), a.shape))
    return np.dtype(fields)


def write_chunk(folder: str, first: int, records: Sequence[Mapping[str, np.ndarray]],
                durable: bool = True) -> Tuple[str, Dict[str, Any]]:
    """Write keyframes ``first ..`` (all with the same array names, shapes, dtypes) as one chunk.

    Returns (file name relative to ``folder``, {"sha256", "bytes"}). The file appears atomically:
    written to a temp file in ``folder``, fsynced (unless ``durable`` is False: the caller
    flushes the whole folder at once before publishing it), then renamed. Raises InputError
    when the records disagree in names, shapes or dtypes.
    """
    dtype = _record_dtype(records[0])
    rec = np.zeros(len(records), dtype=dtype)
    for i, r in enumerate(records):
        if set(r) != set(dtype.names) or any(
                np.shape(r[k]) != dtype[k].shape
                or np.asarray(r[k]).dtype.newbyteorder("<") != dtype[k].base
                for k in dtype.names):
            raise InputError(f"keyframe {first + i}: arrays {sorted(r)} differ in names, shapes "
                             f"or dtypes from keyframe {first} of the same chunk")
        for k in dtype.names:
            rec[k][i] = r[k]
    rel = chunk_file_name(first)
    fd, tmp = mkstemp_public(folder, suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as fh:
            save_npy(fh, rec)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        digest, size = _file_sha256(tmp)
        os.replace(tmp, os.path.join(folder, rel))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return rel, {"sha256": digest, "bytes": size}


def _file_sha256(path: str) -> Tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_HASH_BLOCK)
            if not block:
                return h.hexdigest(), size
            h.update(block)
            size += len(block)


class EncodingStoreWriter:
    """Append keyframes' arrays in index order; a chunk is written when full or when the
    shapes change. `close` returns the `StoreTable` for the manifest.

    ``cast`` maps array names to on-disk dtypes (e.g. ``{"feats": np.float16}`` when the engine
    runs fp16, ``{"feats": np.float32}`` for fp32 engines); other arrays keep their dtype.
    ``first_index`` is the map index of the first keyframe appended (shards of a parallel build
    each write their own range into the same folder). ``durable=False`` leaves out the fsync of
    each chunk, for a caller that flushes the folder's files together before it publishes them
    (`MapWriter.commit`, `durable.flush_filesystem`): an fsync per chunk of 4 keyframes is a
    device cache flush each (3.5 ms apiece on a loaded machine here: 9 s at 10^4 keyframes).
    """

    def __init__(self, folder: str, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 cast: Optional[Mapping[str, Any]] = None, first_index: int = 0,
                 durable: bool = True):
        if chunk_size < 1:
            raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        self.chunk_size = int(chunk_size)
        self.cast = {k: np.dtype(v) for k, v in (cast or {}).items()}
        self._start = int(first_index)
        self.durable = bool(durable)
        self._pending: List[Dict[str, np.ndarray]] = []
        self._chunks: List[ChunkEntry] = []
        self._files: Dict[str, Dict[str, Any]] = {}
        # keyframes in the chunks written, counted as they are written: summing the chunk
        # list at each append was quadratic (8.8 s of bookkeeping at 2*10^4 keyframes, minutes
        # at 10^5: merge-maps and a localizer caching a map's encodings use one writer)
        self._written = 0

    def append(self, arrays: Mapping[str, np.ndarray]) -> int:
        """Add the next keyframe's arrays (copied now: the caller may reuse its buffers);
        returns its map index."""
        rec = {k: np.array(v, dtype=self.cast.get(k), order="C", copy=True)
               for k, v in arrays.items()}
        if self._pending and _signature(rec) != _signature(self._pending[0]):
            self._flush()
        index = self._start + self._written + len(self._pending)
        self._pending.append(rec)
        if len(self._pending) >= self.chunk_size:
            self._flush()
        return index

    def _flush(self) -> None:
        if not self._pending:
            return
        first = self._start + self._written
        rel, meta = write_chunk(self.folder, first, self._pending, self.durable)
        self._chunks.append(ChunkEntry(rel, first, len(self._pending)))
        self._files[rel] = meta
        self._written += len(self._pending)
        self._pending = []

    def close(self) -> StoreTable:
        """Write the last partial chunk and return the table (chunks in index order)."""
        self._flush()
        return StoreTable(self._written, tuple(self._chunks), dict(self._files))


def _signature(rec: Mapping[str, np.ndarray]) -> Tuple:
    return tuple((k, v.shape, v.dtype.str) for k, v in rec.items())
# ------------------------------------------------------------------------------ reader ---

class _LRU:
    """A byte-bounded least-recently-used cache (not thread-safe; the store holds the lock)."""

    def __init__(self, capacity_bytes: int, size_of: Callable[[Any], int]):
        self.capacity = max(0, int(capacity_bytes))
        self.size_of = size_of
        self.nbytes = 0
        self._items: collections.OrderedDict = collections.OrderedDict()

    def get(self, key: Any) -> Any:
        v = self._items.get(key)
        if v is not None:
            self._items.move_to_end(key)
        return v

    def put(self, key: Any, value: Any) -> None:
        size = self.size_of(value)
        if size > self.capacity:
            return  # larger than the whole cache: serve it uncached
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= self.size_of(old)
        self._items[key] = value
        self.nbytes += size
        while self.nbytes > self.capacity:
            _, v = self._items.popitem(last=False)
            self.nbytes -= self.size_of(v)

    def __len__(self) -> int:
        return len(self._items)


def _host_bytes(d: Mapping[str, np.ndarray]) -> int:
    return sum(int(v.nbytes) for v in d.values())


def _device_bytes(d: Mapping[str, Any]) -> int:
    return sum(int(v.numel() * v.element_size()) for v in d.values())


class EncodingStore:
    """Lazy reader of a store written by `EncodingStoreWriter`.

    Constructing it reads nothing. `get` opens the keyframe's chunk as a read-only memory map
    (``np.load(..., mmap_mode="r", allow_pickle=False)``), verifies the chunk's sha256 the first
    time the chunk is used, copies the keyframe's record out and drops the map, so resident memory
    is the caches plus what the caller holds. ``cache_mb`` bounds the host-side LRU cache of
    copied arrays; ``device_cache_mb`` bounds the LRU cache of torch tensors by `get_tensors`
    (0 disables either). Thread-safe.
    """

    def __init__(self, folder: str, table: StoreTable, cache_mb: float = 256.0,
                 device_cache_mb: float = 0.0, verify: bool = True):
        self.folder = folder
        self.table = table
        self.verify = verify
        firsts = getattr(table.chunks, "firsts", None)  # array-backed tables (map v3)
        self._firsts = (np.asarray(firsts, np.int64) if firsts is not None
                        else np.array([c.first for c in table.chunks], dtype=np.int64))
        self._verified: set = set()
        self._host = _LRU(int(cache_mb * 2 ** 20), _host_bytes)
        self._device = _LRU(int(device_cache_mb * 2 ** 20), _device_bytes)
        self._lock = threading.Lock()
        self.reads = 0  # records copied from disk (cache misses), for tests and benchmarks

    def __len__(self) -> int:
        return self.table.num_keyframes

    def _chunk_of(self, index: int) -> ChunkEntry:
        if not 0 <= index < len(self):
            raise IndexError(f"keyframe index {index} outside [0, {len(self)})")
        return self.table.chunks[int(np.searchsorted(self._firsts, index, side="right")) - 1]

    def _path(self, chunk: ChunkEntry) -> str:
        return os.path.join(self.folder, chunk.file)

    def _check_sum(self, chunk: ChunkEntry) -> None:
        path = self._path(chunk)
        try:
            digest, _ = _file_sha256(path)
        except FileNotFoundError:
            raise MapFormatError(f"map file missing: {path}") from None
        except OSError as e:
            raise map_file_unreadable(path, e) from None
        if digest != self.table.files[chunk.file]["sha256"]:
            raise MapFormatError(f"map file corrupt (checksum mismatch): {path}; rebuild the "
                                 "map or re-copy the file")
        self._verified.add(chunk.file)

    def _read_record(self, index: int) -> Dict[str, np.ndarray]:
        chunk = self._chunk_of(index)
        if self.verify and chunk.file not in self._verified:
            self._check_sum(chunk)
        path = self._path(chunk)
        want = f"{chunk.count} keyframe records"
        try:
            mm = np.load(path, mmap_mode="r", allow_pickle=False)
        except NPY_HEADER_ERRORS as e:
            log.debug("%s: numpy cannot read the header: %s", path, e)
            raise npy_header_error(path, want) from None
        if mm.ndim != 1 or len(mm) != chunk.count or mm.dtype.names is None:
            raise npy_header_error(path, want, describe_npy(mm.shape, mm.dtype))
        rec = mm[index - chunk.first]
        out = {k: np.array(rec[k]) for k in mm.dtype.names}
        del mm, rec  # unmap: the pages leave this process's resident set
        self.reads += 1
        return out

    def missing_or_truncated(self) -> List[str]:
        """Paths of chunk files that are missing or whose size differs from the table's
        (``os.stat`` only, no checksum: cheap enough for every map open)."""
        bad = []
        for c in self.table.chunks:
            path = self._path(c)
            try:
                size = os.stat(path).st_size
            except OSError:
                bad.append(f"{path} (missing)")
                continue
            want = self.table.files[c.file].get("bytes")
            if want is not None and size != int(want):
                bad.append(f"{path} (truncated or corrupt: {size} bytes, the map says {want})")
        return bad

    def verify_all(self, progress: Optional[Callable[[Iterable, int, str], Iterable]] = None,
                   desc: str = "checking encodings") -> None:
        """Verify every chunk's sha256 now (eager map opens); raises MapFormatError naming the
        first bad file. ``progress(iterable, total, desc)`` wraps the loop over the chunks in a
        progress display (`replay.pipeline.progress`: minutes of hashing for 10^4 ViT-L
        keyframes, 1.5 MB each), counting chunks, with ``desc``."""
        with self._lock:
            chunks: Iterable = self.table.chunks
            if progress is not None:
                chunks = progress(chunks, len(self.table.chunks), desc)
            for c in chunks:
                if c.file not in self._verified:
                    self._check_sum(c)

    def get(self, keyframe_index: int) -> Dict[str, np.ndarray]:
        """The arrays of one keyframe, e.g. ``feats`` (N, C), ``true_shape`` (2,) int64,
        ``to_orig`` (3, 3) float64, ``global`` (C,) float32, in their on-disk dtypes.

        The arrays are shared with the cache: treat them as read-only. Raises IndexError for an
        index outside the store and MapFormatError naming the file when a chunk is missing,
        unreadable or fails its checksum.
        """
        with self._lock:
            hit = self._host.get(int(keyframe_index))
            if hit is None:
                hit = self._read_record(int(keyframe_index))
                for v in hit.values():
                    v.flags.writeable = False
                self._host.put(int(keyframe_index), hit)
            return hit

    def get_tensors(self, keyframe_index: int, device: Any) -> Dict[str, Any]:
        """`get` as torch tensors on ``device`` (dtypes kept), from the device-side LRU cache."""
        import torch

        key = (int(keyframe_index), str(device))
        with self._lock:
            hit = self._device.get(key)
        if hit is not None:
            return hit
        arrays = self.get(keyframe_index)
        hit = {k: torch.from_numpy(np.array(v)).to(device) for k, v in arrays.items()}
        with self._lock:
            self._device.put(key, hit)
        return hit

    def cache_info(self) -> Dict[str, int]:
        """Entries and bytes held by the host and device caches, and disk reads so far."""
        with self._lock:
            return {"host_entries": len(self._host), "host_bytes": self._host.nbytes,
                    "device_entries": len(self._device), "device_bytes": self._device.nbytes,
                    "reads": self.reads}
