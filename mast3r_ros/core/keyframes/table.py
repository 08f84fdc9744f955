"""Binary per-keyframe tables of map format v3: the keyframe table and the encoding-store chunk
table, each one ``.npy`` file (numpy's own format) of a 1-D structured array, opened memory-mapped.

Why: in v1/v2 every keyframe is a JSON record in ``manifest.json`` (plus a file-table entry per
image and per encoding chunk), so opening a map parses a JSON that grows with the map (0.37 s at
10^3 keyframes, 1.2 s at 10^4 on a loaded 2-core machine). v3 keeps only map-level metadata in
the JSON and the fixed-size per-keyframe fields here; `KeyframeTable` validates the file in one
streamed pass (checksum, shapes, dtypes, values) without keeping it resident, and builds a
`Keyframe` object only when one is asked for.

``keyframe_table.npy`` (dtype `KEYFRAME_DTYPE`, one row per keyframe in map-list order):
``id``, ``stamp_ns`` int64; ``map_from_cam`` (4, 4) float64; ``width``, ``height`` int32 (the
image size, pixels); ``K`` (3, 3) float64; ``dist`` (14,) float64 of which the first
``dist_count`` are the OpenCV coefficients; ``distortion_model`` int16, an index into the
manifest's ``keyframe_table.distortion_models`` list; ``depth_scale`` float64 (depth units per
metre, 0 = no depth); ``image_bytes`` / ``depth_bytes`` int64 and ``image_sha256`` /
``depth_sha256`` (32,) uint8 of the keyframe's PNGs (``depth_bytes`` -1 = no depth). The image of
row i is ``keyframes/<i:06d>.png``, its depth ``keyframes/<i:06d>_depth.png``.

``chunk_table.npy`` inside an encoding store folder (dtype `CHUNK_DTYPE`): ``first``, ``count``,
``bytes`` int64 and ``sha256`` (32,) uint8 of each chunk file ``chunk_<first:06d>.npy``.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import os
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..encoding_store import ChunkEntry, StoreTable, chunk_file_name
from ..errors import (NPY_HEADER_ERRORS, InputError, MapFormatError, describe_npy,
                      map_file_unreadable, npy_header_error)
from ..fileio import atomic_write_file
from ..npy_write import save_npy
from ..types import CameraIntrinsics
from .layout import MANIFEST, Keyframe
from .manifest import _invalid_poses, _nonfinite_pose

MAX_DIST = 14  # OpenCV's longest distortion vector (k1..k6, p1, p2, s1..s4, tx, ty)
log = logging.getLogger(__name__)

KEYFRAME_TABLE = "keyframe_table.npy"
CHUNK_TABLE = "chunk_table.npy"
_BLOCK_ROWS = 8192

KEYFRAME_DTYPE = np.dtype([
    ("id", "<i8"), ("stamp_ns", "<i8"), ("map_from_cam", "<f8", (4, 4)),
    ("width", "<i4"), ("height", "<i4"), ("K", "<f8", (3, 3)),
    ("dist", "<f8", (MAX_DIST,)), ("dist_count", "<i2"), ("distortion_model", "<i2"),
    ("depth_scale", "<f8"), ("image_bytes", "<i8"), ("depth_bytes", "<i8"),
    ("image_sha256", "u1", (32,)), ("depth_sha256", "u1", (32,)),
])
CHUNK_DTYPE = np.dtype([("first", "<i8"), ("count", "<i8"), ("bytes", "<i8"),
                        ("sha256", "u1", (32,))])


def image_name(index: int, depth: bool = False) -> str:
    """v3: the PNG of keyframe ``index`` (map-list order) inside the map folder."""
    return f"keyframes/{int(index):06d}{'_depth' if depth else ''}.png"


_IMAGE_RE = re.compile(r"^keyframes/(\d+)(_depth)?\.png$")


def parse_image_name(rel: str) -> Optional[Tuple[int, bool]]:
    """(index, is_depth) of a v3 keyframe PNG name, or None."""
    m = _IMAGE_RE.match(rel)
    return (int(m.group(1)), m.group(2) is not None) if m else None


def _save_npy(full: str, arr: np.ndarray) -> Dict[str, Any]:
    """Write ``arr`` atomically as ``.npy``; returns {"sha256", "bytes"}."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            save_npy(fh, arr)

    os.makedirs(os.path.dirname(full), exist_ok=True)
    atomic_write_file(full, write)
    h = hashlib.sha256()
    with open(full, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return {"sha256": h.hexdigest(), "bytes": os.path.getsize(full)}


# ------------------------------------------------------------------- keyframe table ---

def build_keyframe_table(records: Sequence[Mapping[str, Any]],
                         files: Mapping[str, Mapping[str, Any]]) -> Tuple[np.ndarray, List[str]]:
    """The `KEYFRAME_DTYPE` rows of the writer's keyframe records (``MapWriter.records``) and
    the distortion model names they index. Raises InputError when a record's image is not at
    its v3 name or its distortion vector is longer than `MAX_DIST`."""
    out = np.zeros(len(records), KEYFRAME_DTYPE)
    models: List[str] = []
    for i, r in enumerate(records):
        if r["image"] != image_name(i) or (r.get("depth") and r["depth"] != image_name(i, True)):
            raise InputError(f"keyframe {i}: image '{r['image']}' is not at "
                             f"'{image_name(i)}' (map format v3 names images by index)")
        intr = r["intrinsics"]
        dist = np.asarray(intr["dist"], np.float64)
        if dist.size > MAX_DIST:
            raise InputError(f"keyframe {i}: {dist.size} distortion coefficients, at most "
                             f"{MAX_DIST}")
        model = intr["distortion_model"]
        if model not in models:
            models.append(model)
        row = out[i]
        row["id"], row["stamp_ns"] = int(r["id"]), int(r["stamp_ns"])
        row["map_from_cam"] = np.asarray(r["map_from_cam"], np.float64).reshape(4, 4)
        row["width"], row["height"] = int(intr["width"]), int(intr["height"])
        row["K"] = np.asarray(intr["K"], np.float64).reshape(3, 3)
        row["dist"][:dist.size] = dist
        row["dist_count"] = dist.size
        row["distortion_model"] = models.index(model)
        meta = files[r["image"]]
        row["image_bytes"] = int(meta["bytes"])
        row["image_sha256"] = np.frombuffer(bytes.fromhex(meta["sha256"]), np.uint8)
        if r.get("depth"):
            meta = files[r["depth"]]
            row["depth_scale"] = float(r["depth_scale"])
            row["depth_bytes"] = int(meta["bytes"])
            row["depth_sha256"] = np.frombuffer(bytes.fromhex(meta["sha256"]), np.uint8)
        else:
            row["depth_bytes"] = -1
    return out, models


def write_keyframe_table(folder: str, table: np.ndarray) -> Dict[str, Any]:
    """Write ``keyframe_table.npy`` into the map (build) folder; returns its file-table entry."""
    return _save_npy(os.path.join(folder, KEYFRAME_TABLE), np.ascontiguousarray(table))


def _npy_header(fh: Any, full: str, expected: str) -> Tuple[Tuple[int, ...], np.dtype, int]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except NPY_HEADER_ERRORS as e:
        log.debug("%s: numpy cannot read the header: %s", full, e)
        raise npy_header_error(full, expected) from None
    if fortran:
        raise npy_header_error(full, expected, "a Fortran-ordered array")
    return shape, dtype, fh.tell()


def _stream_rows(full: str, dtype: np.dtype, num: int, sha256: str, count: str):
    """Yield (first_row, rows) blocks of an ``.npy`` table, checking its header against
    ``dtype`` / ``num`` and, at the end, its sha256 (the file is read, never kept resident).
    Another row count in a file matching its checksum is the manifest's ``count`` (the field
    giving ``num``) at fault, an edited manifest: said so, with the value the file holds."""
    try:
        fh = open(full, "rb")
    except FileNotFoundError:
        raise MapFormatError(f"map file missing: {full}") from None
    except OSError as e:
        raise map_file_unreadable(full, e) from None
    with fh:
        want = describe_npy((num,), dtype)
        shape, got, offset = _npy_header(fh, full, want)
        if got == dtype and len(shape) == 1 and shape != (num,) and _sha256_of(full) == sha256:
            raise MapFormatError(
                f"map file {full}: expected {want}, found {describe_npy(shape, got)}; the file "
                f"matches its checksum, so {MANIFEST}'s {count} ({num}) disagrees with it: an "
                f"edited manifest? set it back to {shape[0]}, or rebuild the map")
        if got != dtype or shape != (num,):
            found = describe_npy(shape, got)
            raise npy_header_error(full, want, found if found != want
                                   else found + " with other field types")
        fh.seek(0)
        h = hashlib.sha256(fh.read(offset))
        first = 0
        while first < num:
            n = min(_BLOCK_ROWS, num - first)
            data = fh.read(n * dtype.itemsize)
            if len(data) != n * dtype.itemsize:
                raise MapFormatError(f"map file truncated or corrupt: {full}")
            h.update(data)
            yield first, np.frombuffer(data, dtype)
            first += n
        h.update(fh.read())
    if h.hexdigest() != sha256:
        raise MapFormatError(f"map file corrupt (checksum mismatch): {full}; rebuild the map or "
                             "re-copy the file")


def _sha256_of(full: str) -> Optional[str]:
    """Hex sha256 of a file, None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(full, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _open_memmap(full: str, dtype: np.dtype, num: int) -> np.ndarray:
    try:
        mm = np.load(full, mmap_mode="r", allow_pickle=False)
    except NPY_HEADER_ERRORS:  # its header was read a moment ago: it changed since
        mm = None
    if mm is None or mm.dtype != dtype or mm.shape != (num,):
        raise MapFormatError(f"map file {full}: changed while the map was opened")
    return mm


class KeyframeTable(Sequence):
    """The keyframes of a v3 map, as a sequence of `Keyframe` built on access.

    ``KeyframeTable.open`` reads ``keyframe_table.npy`` once in blocks (sha256, dtype, row
    count, and every row: rigid poses, valid intrinsics, known distortion model, positive depth
    scales, unique ids), then memory-maps it; resident memory stays the few pages in use. The
    same index returns the same `Keyframe` object while someone holds it (weak cache), and
    the last `RECENT` keyframes accessed stay built even when nobody holds them: a localizer
    reads its few candidates' records every frame, and building one (its `CameraIntrinsics`
    checked again) cost 15-50 us a keyframe a frame (issue 9, docs/bench/host_cpu_2026-12-06).
    """

    RECENT = 64  # Keyframe objects kept built (a few KB each), least recently accessed dropped

    def __init__(self, rows: np.ndarray, models: Sequence[str]):
        self.rows = rows
        self.models = list(models)
        self.path = ""  # the keyframes.npy it was read from (for error messages)
        self._made: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._recent: OrderedDict = OrderedDict()  # index -> Keyframe, most recent last
        self._recent_lock = threading.Lock()  # localizers on several threads share a map
        self._id_order: Optional[np.ndarray] = None

    @classmethod
    def open(cls, full: str, num: int, models: Sequence[str], sha256: str) -> KeyframeTable:
        """Validate and map ``full`` (see the class doc); raises MapFormatError naming the file
        and the first bad row."""
        ids = None  # made once the header holds ``num`` rows (a manifest count of 10**12: 7 TiB)
        try:
            for first, rows in _stream_rows(full, KEYFRAME_DTYPE, num, sha256,
                                            "keyframe_table.num_keyframes"):
                ids = np.empty(num, np.int64) if ids is None else ids
                ids[first:first + len(rows)] = rows["id"]
                _check_rows(rows, first, len(models), f"{full}: row")
        except MapFormatError:
            # a row that fails its checks in a file whose bytes changed is damage, not a bad
            # source pose: say so (one more read, on this error path only)
            digest = _sha256_of(full)
            if digest is not None and digest != sha256:  # None: unreadable, said as such
                raise MapFormatError(f"map file corrupt (checksum mismatch): {full}; rebuild the "
                                     "map or re-copy the file") from None
            raise
        if len(np.unique(ids)) != num:
            raise MapFormatError(f"map file {full}: keyframe ids are not unique")
        table = cls(_open_memmap(full, KEYFRAME_DTYPE, num), models)
        table.path = full
        return table

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        # as a list indexes: an int or numpy integer, never a float truncated (0.5 -> 0)
        given = i = operator.index(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):  # the index given: -6 of 5 was told as "-1 outside [0, 5)"
            raise IndexError(f"keyframe index {given} outside [-{len(self)}, {len(self)})")
        with self._recent_lock:
            kf = self._recent.get(i)
            if kf is not None:
                self._recent.move_to_end(i)
                return kf
        kf = self._made.get(i)
        if kf is None:
            r = self.rows[i]
            try:
                cam = CameraIntrinsics(int(r["width"]), int(r["height"]), np.array(r["K"]),
                                       np.array(r["dist"][:int(r["dist_count"])]),
                                       self.models[int(r["distortion_model"])])
            except InputError as e:  # written by another tool, or damaged
                raise MapFormatError(f"map file {self.path or 'keyframes.npy'}: "
                                     f"keyframe {i} (id {int(r['id'])}) has invalid intrinsics: "
                                     f"{e}; rebuild the map") from None
            has_depth = int(r["depth_bytes"]) >= 0
            kf = Keyframe(int(r["id"]), int(r["stamp_ns"]), cam, np.array(r["map_from_cam"]),
                          image_name(i), image_name(i, True) if has_depth else None,
                          float(r["depth_scale"]) if has_depth else 0.0)
            self._made[i] = kf
        with self._recent_lock:
            self._recent[i] = kf
            self._recent.move_to_end(i)
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        return kf

    def poses(self) -> np.ndarray:
        """(K, 4, 4) float64 ``map_from_cam`` of every keyframe (a copy)."""
        return np.array(self.rows["map_from_cam"])

    def has_depth(self) -> bool:
        return bool((self.rows["depth_bytes"] >= 0).all())

    def index_of_id(self, keyframe_id: int) -> Optional[int]:
        """Map-list index of the keyframe with this ``id``, or None (sorted ids, built once)."""
        if self._id_order is None:
            self._id_order = np.argsort(self.rows["id"], kind="stable")
        ids = self.rows["id"]
        j = int(np.searchsorted(ids[self._id_order], keyframe_id))
        if j < len(self) and int(ids[self._id_order[j]]) == int(keyframe_id):
            return int(self._id_order[j])
        return None

    def file_meta(self, index: int, depth: bool) -> Optional[Dict[str, Any]]:
        """{"sha256", "bytes"} of keyframe ``index``'s image (or depth), None when it has none."""
        if not 0 <= index < len(self):
            return None
        r = self.rows[index]
        size = int(r["depth_bytes" if depth else "image_bytes"])
        if size < 0:
            return None
        return {"sha256": bytes(r["depth_sha256" if depth else "image_sha256"]).hex(),
                "bytes": size}

    def expected_files(self) -> Tuple[List[str], np.ndarray]:
        """(names inside ``keyframes/``, sizes in bytes) of every keyframe PNG the table
        lists."""
        n = len(self)
        names = [f"{i:06d}.png" for i in range(n)]
        sizes = [np.asarray(self.rows["image_bytes"])]
        depth = np.flatnonzero(np.asarray(self.rows["depth_bytes"]) >= 0)
        names += [f"{i:06d}_depth.png" for i in depth.tolist()]
        sizes.append(np.asarray(self.rows["depth_bytes"])[depth])
        return names, np.concatenate(sizes)


def _check_rows(rows: np.ndarray, first: int, num_models: int, where: str) -> None:
    def bad(mask: np.ndarray, what: str) -> None:
        idx = np.flatnonzero(mask)
        if len(idx):
            raise MapFormatError(f"map file {where} {first + int(idx[0])}: {what}")

    poses = np.asarray(rows["map_from_cam"])
    finite = np.isfinite(poses).all(axis=(1, 2))
    if not finite.all():  # a NaN is no rotation: said as such, not "not a rigid transform"
        i = int(np.argmin(finite))
        bad(np.arange(len(rows)) == i,
            _nonfinite_pose(poses[i], int(rows["id"][i]), int(rows["stamp_ns"][i])))
    bad(np.isin(np.arange(len(rows)), _invalid_poses(poses)), "'map_from_cam' is not a "
        "rigid transform")
    K = rows["K"]
    bad((rows["width"] <= 0) | (rows["height"] <= 0), "image width and height must be positive")
    bad(~np.isfinite(K).all(axis=(1, 2)) | ~(K[:, 0, 0] > 0) | ~(K[:, 1, 1] > 0),
        "'K' must be finite with fx, fy > 0")
    bad(~np.isfinite(rows["dist"]).all(axis=1) | (rows["dist_count"] < 0)
        | (rows["dist_count"] > MAX_DIST), "'dist' must be finite with 0..14 coefficients")
    bad((rows["distortion_model"] < 0) | (rows["distortion_model"] >= num_models),
        "'distortion_model' is not an index into the manifest's distortion_models")
    bad(rows["image_bytes"] <= 0, "'image_bytes' must be positive")
    # the writer records a depth PNG's size (never 0 bytes) or -1 for a keyframe without depth
    bad((rows["depth_bytes"] == 0) | (rows["depth_bytes"] < -1), "'depth_bytes' must be "
        "positive (a depth PNG's size) or -1 (no depth); rebuild the map")
    depth = rows["depth_bytes"] >= 0
    bad(depth & ~(np.isfinite(rows["depth_scale"]) & (rows["depth_scale"] > 0)),
        "'depth_scale' must be positive for a keyframe with depth")


# ---------------------------------------------------------------------- chunk table ---

def write_chunk_table(folder: str, table: StoreTable) -> Dict[str, Any]:
    """Write an encoding store's ``chunk_table.npy`` (from the writer's `StoreTable`) into the
    store ``folder``; returns its file-table entry."""
    arr = np.zeros(len(table.chunks), CHUNK_DTYPE)
    for j, c in enumerate(table.chunks):
        if c.file != chunk_file_name(c.first):
            raise InputError(f"chunk {c.file} is not named {chunk_file_name(c.first)}")
        meta = table.files[c.file]
        arr[j] = (c.first, c.count, int(meta["bytes"]),
                  np.frombuffer(bytes.fromhex(meta["sha256"]), np.uint8))
    return _save_npy(os.path.join(folder, CHUNK_TABLE), arr)


class _Chunks(Sequence):
    """`StoreTable.chunks` of a chunk table array, built on access."""

    def __init__(self, arr: np.ndarray):
        self.arr = arr
        self.firsts = np.ascontiguousarray(arr["first"])

    def __len__(self) -> int:
        return len(self.arr)

    def __getitem__(self, j):  # type: ignore[override]
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        first = int(self.firsts[j])
        return ChunkEntry(chunk_file_name(first), first, int(self.arr["count"][j]))


class _ChunkFiles(Mapping):
    """`StoreTable.files` of a chunk table array: chunk name -> {"sha256", "bytes"}."""

    def __init__(self, chunks: _Chunks):
        self.chunks = chunks

    def _index(self, name: str) -> Optional[int]:
        m = re.match(r"^chunk_(\d+)\.npy$", name)
        if not m:
            return None
        j = int(np.searchsorted(self.chunks.firsts, int(m.group(1))))
        ok = j < len(self.chunks) and int(self.chunks.firsts[j]) == int(m.group(1)) \
            and name == chunk_file_name(int(m.group(1)))
        return j if ok else None

    def __getitem__(self, name: str) -> Dict[str, Any]:
        j = self._index(name)
        if j is None:
            raise KeyError(name)
        r = self.chunks.arr[j]
        return {"sha256": bytes(r["sha256"]).hex(), "bytes": int(r["bytes"])}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._index(name) is not None

    def __iter__(self):
        return (chunk_file_name(int(f)) for f in self.chunks.firsts)

    def __len__(self) -> int:
        return len(self.chunks)


def open_chunk_table(full: str, num_keyframes: int, sha256: str, num_rows: int) -> StoreTable:
    """Validate (checksum, dtype, chunks tiling [0, num_keyframes)) and read a store's chunk
    table into a `StoreTable` whose chunks and files are built on access."""
    blocks = [np.array(rows) for _, rows in _stream_rows(
        full, CHUNK_DTYPE, num_rows, sha256, "encodings[].table.num_chunks")]
    arr = np.concatenate(blocks) if blocks else np.zeros(0, CHUNK_DTYPE)
    first, count = arr["first"], arr["count"]
    want = np.concatenate([[0], np.cumsum(count)[:-1]]) if len(arr) else first
    if (count < 1).any() or not np.array_equal(first, want) or int(count.sum()) != num_keyframes \
            or (arr["bytes"] <= 0).any():
        raise MapFormatError(f"map file {full}: chunks do not tile the {num_keyframes} "
                             "keyframes (or have no size)")
    chunks = _Chunks(arr)
    return StoreTable(int(num_keyframes), chunks, _ChunkFiles(chunks))  # type: ignore[arg-type]


def chunk_table_json(table: StoreTable) -> Dict[str, Any]:
    """The manifest's ``encodings[].table`` entry of a v3 store: the chunk table's file and
    sizes (``version`` 2 of the store table: chunks in ``chunk_table.npy``)."""
    from ..encoding_store import STORE_FORMAT

    return {"format": STORE_FORMAT, "version": 2, "num_keyframes": int(table.num_keyframes),
            "chunk_table": CHUNK_TABLE, "num_chunks": len(table.chunks)}
