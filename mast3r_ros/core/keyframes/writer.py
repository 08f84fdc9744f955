"""Writing a keyframe map folder atomically (`MapWriter`, `write_map`).

Atomicity: `MapWriter` writes into a sibling folder ``MAP.tmp-XXXX`` (``MAP.partial`` for a
resumable build) and renames it to ``MAP`` only after the manifest (written last) is on disk, so an
interrupted build never leaves anything at ``MAP``.

Format version 3 (the default): as version 2 -- encodings as an encoding store
(`core.encoding_store`, chunked ``.npy`` read lazily) with a `RetrievalIndex` of their pooled
descriptors, the thumbnail descriptors as a `RetrievalIndex`, optional ASMK inverted files
(`core.asmk.AsmkIndex`) -- with the per-keyframe records and per-file checksums in binary tables
(`table.py`: ``keyframe_table.npy``, each store's ``chunk_table.npy``) instead of the JSON
manifest. ``version=2`` and ``version=1`` still write the older layouts (tests, tools).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..encoding_store import DEFAULT_CHUNK_SIZE, EncodingStoreWriter, StoreTable
from ..errors import InputError
from ..fileio import atomic_write_json
from ..geometry import is_valid_pose
from ..retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from ..retrieval_index import IndexParams, RetrievalIndex
from ..types import CameraIntrinsics
from .layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    THUMBNAIL_INDEX,
    EncodingSet,
    asmk_file,
    encoding_file,
    encoding_folder,
    encodings_to_arrays,
    intrinsics_to_json,
    npz_bytes,
    sha256_hex,
)
from .table import (
    CHUNK_TABLE,
    KEYFRAME_TABLE,
    build_keyframe_table,
    chunk_table_json,
    parse_image_name,
    write_chunk_table,
    write_keyframe_table,
)

log = logging.getLogger(__name__)

_DEPTH_SCALES = (5000.0, 1000.0, 100.0)  # units per metre; the finest one that fits is used


def _encode_png(img: np.ndarray) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise InputError(f"cannot encode a {img.shape} {img.dtype} image as PNG")
    return buf.tobytes()


def depth_to_png(depth_m: np.ndarray) -> Tuple[bytes, float]:
    """Encode float metres (NaN/<=0 invalid) as a uint16 PNG; returns (bytes, units per metre)."""
    d = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    top = float(d[valid].max()) if valid.any() else 0.0
    scale = next((s for s in _DEPTH_SCALES if top * s < 65535), None)
    if scale is None:
        raise InputError(f"depth up to {top:.1f} m does not fit the map's 16-bit depth format "
                         "(max 655 m)")
    q = np.where(valid, np.round(np.where(valid, d, 0) * scale), 0).astype(np.uint16)
    return _encode_png(q), scale


_RESERVED_KEYS = frozenset(("format", "version", "keyframes", "retrieval", "encodings", "files",
                            "map_frame", "asmk", "keyframe_table"))


class MapWriter:
    """Builds a map folder atomically. Use as a context manager; `commit` publishes it.

    >>> with MapWriter("maps/kitchen") as w:
    ...     w.add_keyframe(rgb, intrinsics, map_from_cam, stamp_ns, depth_m)
    ...     w.commit()

    Leaving the block without `commit` (or by an exception) deletes the partial folder.
    ``version`` the format written (1, 2 or 3); ``resumable`` / ``resume`` build in
    ``MAP.partial`` and keep it on failure; ``index_params`` the retrieval indexes' kind;
    ``map_frame`` the frame the keyframe poses are in.

    Raises `InputError` when ``path`` exists and ``overwrite`` is off, or for another version.
    """

    def __init__(self, path: str, overwrite: bool = False, *, version: int = FORMAT_VERSION,
                 resumable: bool = False, resume: bool = False,
                 index_params: IndexParams = IndexParams(), map_frame: str = "map"):
        self.path = os.path.abspath(path)
        if os.path.exists(self.path) and not overwrite:
            raise InputError(f"map folder already exists: {path} (pass --overwrite to "
                             "replace it, or choose another --out)")
        if version not in (1, 2, 3):
            raise InputError(f"map format version must be 1, 2 or 3, got {version}")
        parent = os.path.dirname(self.path)
        os.makedirs(parent, exist_ok=True)
        self.overwrite = overwrite
        self.version = version
        self.index_params = index_params
        self.map_frame = map_frame
        # resumable: a fixed build folder that survives a kill (``--resume`` picks it up)
        self.resumable = resumable or resume
        if self.resumable:
            self.tmp = self.path + ".partial"
            if os.path.isdir(self.tmp) and not resume:
                log.info("removing the unfinished build %s (pass --resume to continue it)",
                         self.tmp)
                shutil.rmtree(self.tmp)
            os.makedirs(os.path.join(self.tmp, "keyframes"), exist_ok=True)
        else:
            self.tmp = tempfile.mkdtemp(prefix=os.path.basename(self.path) + ".tmp-", dir=parent)
            os.makedirs(os.path.join(self.tmp, "keyframes"))
        self.records: List[Dict[str, Any]] = []
        self.files: Dict[str, Dict[str, Any]] = {}
        self.thumbs: List[np.ndarray] = []
        self.encodings: List[Dict[str, Any]] = []
        self.extra: Dict[str, Any] = {}
        self.asmk: List[Dict[str, Any]] = []
        self.store_tables: Dict[Tuple[str, int], StoreTable] = {}  # (identity, size) -> chunks
        self.committed = False

    def __enter__(self) -> MapWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self.committed and not self.resumable:
            self.abort()

    def _put(self, rel: str, data: bytes) -> None:
        full = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)
        self.files[rel] = {"sha256": sha256_hex(data), "bytes": len(data)}

    def add_keyframe(self, rgb: np.ndarray, intrinsics: CameraIntrinsics,
                     map_from_cam: np.ndarray, stamp_ns: int,
                     depth_m: Optional[np.ndarray] = None) -> int:
        """Store one keyframe; returns its id (0, 1, ... in insertion order).

        ``rgb`` (H, W, 3) uint8 at the intrinsics' size; ``map_from_cam`` 4x4 rigid, camera
        optical frame -> ``map_frame``; ``stamp_ns`` integer nanoseconds; ``depth_m`` (H, W)
        float z-depth in metres, NaN or <= 0 invalid. Raises `InputError` for an image of
        another dtype, rank or size, a pose that is not a finite rigid transform, a depth of
        another shape or beyond 655 m (the 16-bit PNG at 100 units/m).
        """
        h, w = rgb.shape[:2]
        size = (intrinsics.width, intrinsics.height)
        if rgb.ndim != 3 or rgb.dtype != np.uint8 or size != (w, h):
            raise InputError(f"keyframe image {rgb.shape} {rgb.dtype} does not match its "
                             f"{intrinsics.width}x{intrinsics.height} intrinsics")
        if not is_valid_pose(map_from_cam):
            raise InputError(f"keyframe pose is not a finite rigid transform:\n{map_from_cam}")
        kid = len(self.records)
        image_rel = f"keyframes/{kid:06d}.png"
        self._put(image_rel, _encode_png(rgb))
        rec: Dict[str, Any] = {
            "id": kid, "stamp_ns": int(stamp_ns), "image": image_rel, "depth": None,
            "depth_scale": 0.0, "intrinsics": intrinsics_to_json(intrinsics),
            "map_from_cam": [float(v) for v in np.asarray(map_from_cam).reshape(-1)],
        }
        if depth_m is not None:
            if depth_m.shape != (h, w):
                raise InputError(f"keyframe depth {depth_m.shape} does not match image {(h, w)}")
            data, scale = depth_to_png(depth_m)
            rec["depth"] = f"keyframes/{kid:06d}_depth.png"
            rec["depth_scale"] = scale
            self._put(rec["depth"], data)
        self.records.append(rec)
        self.thumbs.append(thumbnail_descriptor(rgb))
        return kid

    def image_path(self, index: int) -> str:
        """Absolute path of keyframe ``index``'s PNG in the build folder (encoder workers)."""
        return os.path.join(self.tmp, self.records[index]["image"])

    def add_encodings(self, enc: EncodingSet, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        """Store cached encoder outputs (one per keyframe added, in order)."""
        if len(enc.per_keyframe) != len(self.records):
            raise InputError(f"{len(enc.per_keyframe)} encodings for {len(self.records)} keyframes")
        if self.version == 1:
            rel = encoding_file(enc.identity, enc.image_size)
            self._put(rel, npz_bytes(encodings_to_arrays(enc)))
            self.encodings.append({"identity": enc.identity, "image_size": int(enc.image_size),
                                   "file": rel})
            return
        w = EncodingStoreWriter(self.encoding_dir(enc.identity, enc.image_size), chunk_size)
        for d, to_orig, glob in zip(enc.per_keyframe, enc.to_orig, enc.global_desc):
            w.append({**d, "to_orig": np.asarray(to_orig, np.float64),
                      "global": np.asarray(glob, np.float32)})
        self.add_encoding_store(enc.identity, enc.image_size, w.close(),
                                np.asarray(enc.global_desc, np.float32))

    def encoding_dir(self, identity: str, image_size: int) -> str:
        """v2/v3: the absolute store folder of (identity, size) inside the build folder (parallel
        builds stage their shards there)."""
        full = os.path.join(self.tmp, encoding_folder(identity, image_size))
        os.makedirs(full, exist_ok=True)
        return full

    def add_encoding_store(self, identity: str, image_size: int, table: StoreTable,
                           global_desc: np.ndarray) -> None:
        """v2/v3: register a store written into `encoding_dir` (chunk files in ``table``) and
        index its pooled descriptors ``global_desc`` (K, C) float32 unit-norm."""
        if self.version < 2:
            raise InputError("encoding stores need map format version 2 or later")
        if table.num_keyframes != len(self.records):
            raise InputError(f"{table.num_keyframes} encodings for {len(self.records)} keyframes")
        rel = encoding_folder(identity, image_size)
        if self.version >= 3:  # chunk sizes and checksums in the store's binary chunk table
            self.files[f"{rel}/{CHUNK_TABLE}"] = write_chunk_table(
                os.path.join(self.tmp, rel), table)
            table_json = chunk_table_json(table)
        else:
            for name, meta in table.files.items():
                self.files[f"{rel}/{name}"] = dict(meta)
            table_json = table.to_json()
        self.store_tables[(identity, int(image_size))] = table
        pooled = f"{rel}/pooled"
        self._save_index(pooled, global_desc)
        self.encodings = [e for e in self.encodings
                          if (e["identity"], e["image_size"]) != (identity, int(image_size))]
        self.encodings.append({"identity": identity, "image_size": int(image_size),
                               "store": rel, "table": table_json, "pooled_index": pooled})

    def add_asmk(self, index: Any, encoder_identity: str, image_size: int) -> None:
        """v2/v3: store an ASMK inverted file (`core.asmk.AsmkIndex`, one image per keyframe in
        map order) of the retrieval model ``index.identity`` applied to the encoder output of
        ``encoder_identity`` at ``image_size``."""
        if self.version < 2:
            raise InputError("ASMK indexes need map format version 2 or later")
        if index.num_images != len(self.records):
            raise InputError(f"ASMK index of {index.num_images} images for "
                             f"{len(self.records)} keyframes")
        rel = asmk_file(index.identity, encoder_identity, image_size)
        full = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        index.save(full)
        with open(full, "rb") as fh:
            data = fh.read()
        self.files[rel] = {"sha256": sha256_hex(data), "bytes": len(data)}
        self.asmk.append({"identity": index.identity, "encoder_identity": encoder_identity,
                          "image_size": int(image_size), "file": rel})

    def _save_index(self, rel: str, descs: np.ndarray) -> None:
        files = RetrievalIndex.build(descs, self.index_params).save(os.path.join(self.tmp, rel))
        for name, meta in files.items():
            self.files[f"{rel}/{name}"] = dict(meta)

    def set_manifest_field(self, key: str, value: Any) -> None:
        """Store an extra JSON-ready top-level manifest field (e.g. ``consistency``, the map
        check's figures). Raises `InputError` for a key the format itself uses."""
        if key in _RESERVED_KEYS:
            raise InputError(f"manifest field {key!r} is part of the map format")
        self.extra[key] = value

    def commit(self) -> str:
        """Write the manifest and publish the folder at ``path``; returns the path. Raises
        `InputError` when no keyframe was added."""
        if not self.records:
            raise InputError("no keyframes were added: the source had no usable frames")
        thumbs = np.stack(self.thumbs).astype(np.float32)
        if self.version == 1:
            self._put("retrieval.npz", npz_bytes({"thumbnail": thumbs}))
            retrieval = {"file": "retrieval.npz", "kind": THUMBNAIL_KIND}
        else:
            self._save_index(THUMBNAIL_INDEX, thumbs)
            retrieval = {"index": THUMBNAIL_INDEX, "kind": THUMBNAIL_KIND}
        if self.version >= 3:
            rows, models = build_keyframe_table(self.records, self.files)
            files = {k: v for k, v in self.files.items() if parse_image_name(k) is None}
            files[KEYFRAME_TABLE] = write_keyframe_table(self.tmp, rows)
            manifest = {
                "format": FORMAT_NAME, "version": self.version,
                "keyframe_table": {"file": KEYFRAME_TABLE, "num_keyframes": len(rows),
                                   "distortion_models": models},
                "retrieval": retrieval, "encodings": self.encodings, "files": files,
                **self.extra,
            }
        else:
            manifest = {
                "format": FORMAT_NAME, "version": self.version, "keyframes": self.records,
                "retrieval": retrieval, "encodings": self.encodings, "files": self.files,
                **self.extra,
            }
        if self.version >= 2:
            manifest["map_frame"] = self.map_frame
            manifest["asmk"] = self.asmk
        atomic_write_json(os.path.join(self.tmp, MANIFEST), manifest)
        _fsync_dir(self.tmp)
        old = None
        if os.path.exists(self.path):
            old = tempfile.mkdtemp(prefix=os.path.basename(self.path) + ".old-",
                                   dir=os.path.dirname(self.path))
            os.replace(self.path, os.path.join(old, "map"))
        os.replace(self.tmp, self.path)
        _fsync_dir(os.path.dirname(self.path))
        self.committed = True
        if old:
            shutil.rmtree(old, ignore_errors=True)
        log.info("wrote map %s (%d keyframes)", self.path, len(self.records))
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_map(path: str, keyframes: Sequence[Tuple[np.ndarray, CameraIntrinsics, np.ndarray, int,
                                                   Optional[np.ndarray]]],
              overwrite: bool = False, version: int = FORMAT_VERSION) -> str:
    """Convenience: write (rgb, intrinsics, map_from_cam, stamp_ns, depth_m) tuples as a map."""
    with MapWriter(path, overwrite=overwrite, version=version) as w:
        for rgb, cam, pose, stamp, depth in keyframes:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        return w.commit()
