"""Reading and validating a keyframe map folder (`KeyframeMap`), format versions 1 and 2.

``KeyframeMap.load(path)`` checks every file's sha256 and every image header at open (tools,
tests, `check-map`); ``KeyframeMap.load(path, lazy=True)`` (the localizer) reads the manifest and
the thumbnail retrieval index only and verifies every other file on its first use (images,
encoding chunks, the index's descriptor array), still raising `MapFormatError` naming the file.

Encodings for another checkpoint are added to an existing map file-by-file (the files first, then
the manifest, each via rename), so readers see the old map or the new one.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Dict, List, Mapping, Optional, Tuple

import cv2
import numpy as np

from ..encoding_store import EncodingStore, EncodingStoreWriter, StoreTable
from ..errors import InputError, MapFormatError
from ..fileio import atomic_write_bytes, atomic_write_json
from ..geometry import is_valid_pose
from ..retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from ..retrieval_index import IndexParams, RetrievalIndex
from ..types import CameraIntrinsics
from .layout import (
    FORMAT_NAME,
    MANIFEST,
    READ_VERSIONS,
    EncodingSet,
    Keyframe,
    encoding_file,
    encoding_folder,
    encodings_to_arrays,
    npz_bytes,
    sha256_hex,
)

log = logging.getLogger(__name__)


def _need(d: Mapping[str, Any], key: str, types: Any, where: str) -> Any:
    if not (type(d) is dict or isinstance(d, Mapping)) or key not in d:
        raise MapFormatError(f"{where}: missing field '{key}'")
    v = d[key]
    if not isinstance(v, types) or (isinstance(v, bool) and types is not bool):
        raise MapFormatError(f"{where}: field '{key}' has the wrong type "
                             f"({type(v).__name__})")
    return v


def _numbers(v: Any, n: Optional[int], where: str, key: str) -> np.ndarray:
    # JSON numbers are exactly int or float (bool is refused: type(True) is bool)
    ok = type(v) is list and all(type(x) is float or type(x) is int for x in v)
    if not ok or (n is not None and len(v) != n):
        raise MapFormatError(f"{where}: field '{key}' must be a list of "
                             f"{n if n is not None else 'some'} numbers")
    a = np.asarray(v, dtype=np.float64)
    if not np.isfinite(a).all():
        raise MapFormatError(f"{where}: field '{key}' has non-finite values")
    return a


def _invalid_poses(poses: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Indices of the (K, 4, 4) poses that `geometry.is_valid_pose` refuses, in one pass (the
    same tests, vectorised: opening a 10^5-keyframe map checks 10^5 poses)."""
    fin = np.isfinite(poses).all(axis=(1, 2))
    P = np.where(fin[:, None, None], poses, 0.0)
    R = P[:, :3, :3]
    eye = np.eye(3)
    ortho = (np.abs(R @ R.transpose(0, 2, 1) - eye) <= tol + 1e-5 * eye).all(axis=(1, 2))
    det = np.abs(np.linalg.det(R) - 1) < tol if len(R) else np.zeros(0, bool)
    last_want = np.array([0.0, 0.0, 0.0, 1.0])
    last = (np.abs(P[:, 3] - last_want) <= tol + 1e-5 * last_want).all(axis=1)
    return np.flatnonzero(~(fin & ortho & det & last))


def _parse_keyframes(recs: List[Any], files: Mapping[str, Any]) -> List[Keyframe]:
    """Every keyframe record; poses validated together, identical intrinsics parsed once."""
    cams: Dict[str, CameraIntrinsics] = {}
    kfs = [_parse_keyframe(r, i, files, cams) for i, r in enumerate(recs)]
    if kfs:
        bad = _invalid_poses(np.stack([k.map_from_cam for k in kfs]))
        if len(bad):
            raise MapFormatError(f"{MANIFEST}: keyframes[{bad[0]}]: field 'map_from_cam' is not "
                                 "a rigid transform")
    return kfs


def _parse_keyframe(rec: Any, index: int, files: Mapping[str, Any],
                    cams: Optional[Dict[str, CameraIntrinsics]] = None) -> Keyframe:
    """One keyframe record; the pose is checked by the caller (`_parse_keyframes`) unless
    ``cams`` is None."""
    where = f"{MANIFEST}: keyframes[{index}]"
    if not (type(rec) is dict or isinstance(rec, Mapping)):
        raise MapFormatError(f"{where}: must be an object")
    kid = _need(rec, "id", int, where)
    stamp = _need(rec, "stamp_ns", int, where)
    image = _need(rec, "image", str, where)
    intr = _need(rec, "intrinsics", dict, where)
    key = repr(intr)
    cam = cams.get(key) if cams is not None else None
    if cam is None:
        iw = f"{where}.intrinsics"
        try:
            cam = CameraIntrinsics(
                _need(intr, "width", int, iw), _need(intr, "height", int, iw),
                _numbers(_need(intr, "K", list, iw), 9, iw, "K").reshape(3, 3),
                _numbers(_need(intr, "dist", list, iw), None, iw, "dist"),
                _need(intr, "distortion_model", str, iw))
        except InputError as e:
            raise MapFormatError(f"{iw}: {e}") from None
        if cams is not None:
            cams[key] = cam
    pose = _numbers(_need(rec, "map_from_cam", list, where), 16, where, "map_from_cam")
    pose = pose.reshape(4, 4)
    if cams is None and not is_valid_pose(pose):
        raise MapFormatError(f"{where}: field 'map_from_cam' is not a rigid transform")
    depth = rec.get("depth")
    scale = 0.0
    if depth is not None:
        depth = _need(rec, "depth", str, where)
        scale = float(_need(rec, "depth_scale", (int, float), where))
        if not (scale > 0 and np.isfinite(scale)):
            raise MapFormatError(f"{where}: field 'depth_scale' must be positive, got {scale}")
    for rel in [image] + ([depth] if depth else []):
        if rel not in files:
            raise MapFormatError(f"{where}: file '{rel}' is not in the manifest's file table")
    return Keyframe(kid, stamp, cam, pose, image, depth, scale)


class KeyframeMap:
    """A loaded, validated keyframe map. Images and depth are read on demand (small LRU cache).

    Keyframes are addressed by their index in `keyframes` (the map-list index); ``Keyframe.id``
    is the stable identifier written in the manifest.
    """

    _CACHE = 16

    def __init__(self, path: str, manifest: Dict[str, Any], keyframes: List[Keyframe],
                 lazy: bool = False, encoding_cache_mb: float = 1024.0):
        self.path = path
        self.manifest = manifest
        self.keyframes = keyframes
        self.lazy = lazy
        self.encoding_cache_mb = float(encoding_cache_mb)
        self._pixels: OrderedDict[Tuple[str, int], Optional[np.ndarray]] = OrderedDict()
        self._thumbs: Optional[np.ndarray] = None
        self._thumb_index: Optional[RetrievalIndex] = None
        self._headers_checked: set = set()
        self._stores: Dict[Tuple[str, int], EncodingStore] = {}
        self._index_of = {k.id: i for i, k in enumerate(keyframes)}

    @property
    def version(self) -> int:
        """The map's format version (1: one ``.npz`` per encoding set; 2: encoding stores and
        retrieval indexes)."""
        return int(self.manifest["version"])

    @property
    def map_frame(self) -> str:
        """The frame the keyframe poses are in (v1 maps: ``map``)."""
        return str(self.manifest.get("map_frame", "map"))

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str, lazy: bool = False, encoding_cache_mb: float = 1024.0
             ) -> KeyframeMap:
        """Read and validate a map folder; raises `MapFormatError` naming the bad field/file.

        ``lazy``: read the manifest and the retrieval index only; every other file is checked
        on its first use (see the module docstring). ``encoding_cache_mb`` bounds the host LRU
        cache of each encoding store (v2 maps).
        """
        if not os.path.isdir(path):
            raise MapFormatError(f"map folder not found: {path} (build one with "
                                 "`mast3r-ros build-map`)")
        mpath = os.path.join(path, MANIFEST)
        try:
            with open(mpath, "rb") as fh:
                manifest = json.loads(fh.read().decode("utf-8"))
        except FileNotFoundError:
            raise MapFormatError(f"{mpath}: missing; {path} is not a complete keyframe map "
                                 "(an interrupted build?)") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise MapFormatError(f"{mpath}: not valid JSON ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise MapFormatError(f"{mpath}: not a {FORMAT_NAME} manifest")
        version = manifest.get("version")
        if version not in READ_VERSIONS:
            raise MapFormatError(f"{mpath}: format version {version!r}, this code reads versions "
                                 f"{', '.join(map(str, READ_VERSIONS))}; rebuild the map with "
                                 "this version")
        files = _need(manifest, "files", dict, MANIFEST)
        recs = _need(manifest, "keyframes", list, MANIFEST)
        if not recs:
            raise MapFormatError(f"{mpath}: the map has no keyframes")
        kfs = _parse_keyframes(recs, files)
        if len({k.id for k in kfs}) != len(kfs):
            raise MapFormatError(f"{mpath}: keyframe ids are not unique")
        self = cls(path, manifest, kfs, lazy, encoding_cache_mb)
        for rel, meta in files.items():
            if not isinstance(meta, Mapping) or not isinstance(meta.get("sha256"), str):
                raise MapFormatError(f"{MANIFEST}: file table entry '{rel}' has no sha256")
        if not lazy:
            images = set()
            for kf in kfs:
                self._check_image_header(kf)
                images.update([kf.image_file, kf.depth_file])
            for rel in files:
                if rel not in images:
                    self._read(rel)
        self._check_retrieval()
        for e in self._encoding_entries():
            if version == 1 and e["file"] not in files:
                raise MapFormatError(f"{MANIFEST}: encodings file '{e['file']}' is not in the "
                                     "file table")
        for e in self._asmk_entries():
            if e["file"] not in files:
                raise MapFormatError(f"{MANIFEST}: ASMK file '{e['file']}' is not in the file "
                                     "table")
        return self

    def _full(self, rel: str) -> str:
        if os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
            raise MapFormatError(f"{MANIFEST}: file name '{rel}' leaves the map folder")
        return os.path.join(self.path, rel)

    def _read_verified(self, rel: str, full: str, meta: Mapping[str, Any]) -> bytes:
        try:
            with open(full, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise MapFormatError(f"map file missing: {full}") from None
        except OSError as e:
            raise MapFormatError(f"map file unreadable: {full} ({e})") from None
        if sha256_hex(data) != meta["sha256"]:
            raise MapFormatError(f"map file corrupt (checksum mismatch): {full}")
        return data

    def _read(self, rel: str) -> bytes:
        return self._read_verified(rel, self._full(rel), self.manifest["files"][rel])

    def _check_image_header(self, kf: Keyframe) -> None:
        """Checksum, PNG header, size and pixel format of a keyframe's image and depth."""
        from PIL import Image

        self._headers_checked.add(kf.id)
        for rel, modes in ((kf.image_file, ("RGB",)), (kf.depth_file, ("I;16", "I"))):
            if rel is None:
                continue
            try:
                with Image.open(io.BytesIO(self._read(rel))) as im:
                    fmt, size, mode = im.format, im.size, im.mode
            except MapFormatError:
                raise
            except Exception as e:
                raise MapFormatError(f"map file {self._full(rel)}: not a readable PNG ({e})"
                                     ) from None
            want = (kf.intrinsics.width, kf.intrinsics.height)
            if fmt != "PNG" or size != want or mode not in modes:
                raise MapFormatError(
                    f"map file {self._full(rel)}: {fmt} {size[0]}x{size[1]} {mode}, keyframe "
                    f"{kf.id} expects PNG {want[0]}x{want[1]} {' or '.join(modes)}")

    def _decode(self, rel: str, kf: Optional[Keyframe] = None) -> np.ndarray:
        if kf is not None and kf.id not in self._headers_checked:
            self._check_image_header(kf)  # lazy maps: on the first use of the keyframe
        data = np.frombuffer(self._read(rel), dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise MapFormatError(f"map file {self._full(rel)}: not a readable PNG")
        return img

    def _check_retrieval(self) -> None:
        if self.version >= 2:
            self._open_thumbnail_index()
            return
        r = _need(self.manifest, "retrieval", dict, MANIFEST)
        rel = _need(r, "file", str, f"{MANIFEST}: retrieval")
        if rel not in self.manifest["files"]:
            raise MapFormatError(f"{MANIFEST}: retrieval file '{rel}' is not in the file table")
        arrays = self._load_npz(rel)
        t = arrays.get("thumbnail")
        if t is None or t.ndim != 2 or len(t) != len(self.keyframes) or not np.isfinite(t).all():
            raise MapFormatError(f"map file {self._full(rel)}: 'thumbnail' must be a finite "
                                 f"({len(self.keyframes)}, D) array")
        if r.get("kind") == THUMBNAIL_KIND:
            self._thumbs = t.astype(np.float32)

    def _open_index(self, rel: str, expect: int, what: str) -> RetrievalIndex:
        """A v2 `RetrievalIndex` folder of the map: ``index.json`` checked against the
        manifest, the rest by `RetrievalIndex.load` (descriptors on the first search)."""
        meta_rel = f"{rel}/index.json"
        if meta_rel not in self.manifest["files"]:
            raise MapFormatError(f"{MANIFEST}: {what} index file '{meta_rel}' is not in the file "
                                 "table")
        self._read(meta_rel)
        index = RetrievalIndex.load(self._full(rel))
        if len(index) != expect:
            raise MapFormatError(f"map file {self._full(meta_rel)}: {len(index)} rows for "
                                 f"{expect} keyframes")
        return index

    def _open_thumbnail_index(self) -> None:
        r = _need(self.manifest, "retrieval", dict, MANIFEST)
        rel = _need(r, "index", str, f"{MANIFEST}: retrieval")
        self._thumb_index = self._open_index(rel, len(self.keyframes), "retrieval")
        if r.get("kind") != THUMBNAIL_KIND:
            self._thumb_index = None  # an older descriptor kind: recomputed on demand

    def thumbnail_index(self) -> RetrievalIndex:
        """`RetrievalIndex` over `thumbnail_descriptors` (v2: the map's own, read lazily)."""
        if self._thumb_index is None:
            self._thumb_index = RetrievalIndex.build(self.thumbnail_descriptors())
        return self._thumb_index

    def _load_npz(self, rel: str) -> Dict[str, np.ndarray]:
        try:
            with np.load(io.BytesIO(self._read(rel)), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except MapFormatError:
            raise
        except Exception as e:  # zipfile/ValueError on corrupt or pickled content
            raise MapFormatError(f"map file {self._full(rel)}: not a readable npz ({e})") from None

    # -- accessors --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.keyframes)

    def keyframe(self, index: int) -> Keyframe:
        """The record of keyframe ``index`` (map-list index); raises `InputError` out of range."""
        if not 0 <= int(index) < len(self.keyframes):
            raise InputError(f"keyframe index {index} is outside the map's {len(self)} "
                             f"keyframes ({self.path})")
        return self.keyframes[int(index)]

    def keyframe_index(self, keyframe_id: int) -> int:
        """Map-list index of the keyframe whose manifest ``id`` is ``keyframe_id``; raises
        `InputError` when the map has no such keyframe."""
        try:
            return self._index_of[int(keyframe_id)]
        except KeyError:
            raise InputError(f"map {self.path} has no keyframe with id {keyframe_id}") from None

    def poses(self) -> np.ndarray:
        """(K, 4, 4) ``map_from_cam`` of every keyframe."""
        return np.stack([k.map_from_cam for k in self.keyframes])

    def has_depth(self) -> bool:
        return all(k.depth_file is not None for k in self.keyframes)

    def _cached(self, key: Tuple[str, int], make) -> Any:
        if key in self._pixels:
            self._pixels.move_to_end(key)
            return self._pixels[key]
        v = make()
        self._pixels[key] = v
        while len(self._pixels) > self._CACHE:
            self._pixels.popitem(last=False)
        return v

    def image(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of keyframe ``index`` (read-only array)."""
        def make():
            kf = self.keyframes[index]
            img = cv2.cvtColor(self._decode(kf.image_file, kf), cv2.COLOR_BGR2RGB)
            img.setflags(write=False)
            return img
        return self._cached(("image", index), make)

    def depth(self, index: int) -> Optional[np.ndarray]:
        """(H, W) float32 z-depth in metres of keyframe ``index`` (NaN = none), or None."""
        kf = self.keyframes[index]
        if kf.depth_file is None:
            return None

        def make():
            raw = self._decode(kf.depth_file, kf)
            if raw.dtype != np.uint16:
                raise MapFormatError(f"map file {self._full(kf.depth_file)}: depth must be "
                                     f"uint16, got {raw.dtype}")
            d = np.where(raw > 0, raw.astype(np.float32) / np.float32(kf.depth_scale), np.nan)
            d = d.astype(np.float32)
            d.setflags(write=False)
            return d
        return self._cached(("depth", index), make)

    def thumbnail_descriptors(self) -> np.ndarray:
        """(K, D) weight-free retrieval descriptors (recomputed if stored by an older kind)."""
        if self._thumbs is None and self._thumb_index is not None:
            self._thumbs = _verified_descs(self._thumb_index)
        if self._thumbs is None:
            self._thumbs = np.stack([thumbnail_descriptor(self.image(i))
                                     for i in range(len(self))])
        return self._thumbs

    # -- cached encodings -------------------------------------------------------------------
    def _encoding_entries(self) -> List[Dict[str, Any]]:
        entries = _need(self.manifest, "encodings", list, MANIFEST)
        for j, e in enumerate(entries):
            w = f"{MANIFEST}: encodings[{j}]"
            _need(e, "identity", str, w)
            _need(e, "image_size", int, w)
            if self.version == 1:
                _need(e, "file", str, w)
            else:
                _need(e, "store", str, w)
                _need(e, "table", dict, w)
                _need(e, "pooled_index", str, w)
        return entries

    def _asmk_entries(self) -> List[Dict[str, Any]]:
        if self.version == 1:
            return []
        entries = _need(self.manifest, "asmk", list, MANIFEST)
        for j, e in enumerate(entries):
            w = f"{MANIFEST}: asmk[{j}]"
            for key, t in (("identity", str), ("encoder_identity", str), ("image_size", int),
                           ("file", str)):
                _need(e, key, t, w)
        return entries

    def _entry(self, identity: str, image_size: int) -> Optional[Dict[str, Any]]:
        for e in self._encoding_entries():
            if e["identity"] == identity and e["image_size"] == int(image_size):
                return e
        return None

    def encoding_store(self, identity: str, image_size: int) -> Optional[EncodingStore]:
        """v2: the lazy `EncodingStore` of this checkpoint and size (None: the map has none, or
        is a v1 map). One store per key, so its LRU cache is shared by every user."""
        key = (identity, int(image_size))
        if key in self._stores:
            return self._stores[key]
        e = self._entry(identity, image_size)
        if e is None or self.version == 1:
            return None
        rel = e["store"]
        where = f"{MANIFEST}: encodings store '{rel}'"
        prefix = rel + "/"
        files = {k[len(prefix):]: v for k, v in self.manifest["files"].items()
                 if k.startswith(prefix) and "/" not in k[len(prefix):]}
        table = StoreTable.from_json(e["table"], files, where)
        if table.num_keyframes != len(self):
            raise MapFormatError(f"{where}: {table.num_keyframes} keyframes, the map has "
                                 f"{len(self)}")
        store = EncodingStore(self._full(rel), table, cache_mb=self.encoding_cache_mb)
        self._stores[key] = store
        return store

    def pooled_index(self, identity: str, image_size: int) -> Optional[RetrievalIndex]:
        """v2: `RetrievalIndex` of the pooled descriptors of this checkpoint and size."""
        e = self._entry(identity, image_size)
        if e is None or self.version == 1:
            return None
        return self._open_index(e["pooled_index"], len(self), "pooled-descriptor")

    def asmk_keys(self) -> List[Tuple[str, str, int]]:
        """(retrieval identity, encoder identity, image size) of the map's ASMK indexes."""
        return [(e["identity"], e["encoder_identity"], e["image_size"])
                for e in self._asmk_entries()]

    def load_asmk(self, retrieval_identity: str, encoder_identity: str, image_size: int
                  ) -> Optional[Any]:
        """The `core.asmk.AsmkIndex` stored for this retrieval model on this encoder's output,
        or None. Raises MapFormatError naming the file when it is corrupt."""
        from ..asmk import AsmkIndex

        for e in self._asmk_entries():
            if (e["identity"], e["encoder_identity"], e["image_size"]) == (
                    retrieval_identity, encoder_identity, int(image_size)):
                data = self._read(e["file"])
                try:
                    index = AsmkIndex.load(io.BytesIO(data))
                except MapFormatError as err:
                    raise MapFormatError(f"map file {self._full(e['file'])}: {err}") from None
                if index.num_images != len(self):
                    raise MapFormatError(f"map file {self._full(e['file'])}: "
                                         f"{index.num_images} images for {len(self)} keyframes")
                return index
        return None

    def encoding_keys(self) -> List[Tuple[str, int]]:
        """(checkpoint identity, image size) pairs whose encoder outputs the map caches."""
        return [(e["identity"], e["image_size"]) for e in self._encoding_entries()]

    def load_encodings(self, identity: str, image_size: int) -> Optional[EncodingSet]:
        """The cached encodings for this checkpoint and size, or None when the map has none.

        v2 maps: ``per_keyframe`` and ``to_orig`` are read lazily from the encoding store
        (sequences indexed by keyframe), ``global_desc`` is the pooled index's memory map
        (checksummed here for maps opened eagerly, on the index's first search for lazy ones).
        """
        e = self._entry(identity, image_size)
        if e is None:
            return None
        if self.version == 1:
            return self._parse_encodings(e["file"], identity, int(image_size))
        store = self.encoding_store(identity, image_size)
        pooled = self.pooled_index(identity, image_size)
        # lazy maps: the descriptors are checksummed on the first search of `pooled_index`
        glob = pooled.descs if self.lazy else _verified_descs(pooled)
        return EncodingSet(identity, int(image_size), _StoreRecords(store),
                           _StoreField(store, "to_orig"), glob)

    def _parse_encodings(self, rel: str, identity: str, size: int) -> EncodingSet:
        a = self._load_npz(rel)
        where = f"map file {self._full(rel)}"
        n = len(self)
        try:
            ok = (str(a["identity"]) == identity and int(a["image_size"]) == size
                  and int(a["num_keyframes"]) == n)
        except KeyError as e:
            raise MapFormatError(f"{where}: missing array {e}") from None
        if not ok:
            raise MapFormatError(f"{where}: written for another checkpoint, size or keyframe "
                                 "count than the manifest says")
        to_orig, glob = a.get("to_orig"), a.get("global")
        if to_orig is None or to_orig.shape != (n, 3, 3) or not np.isfinite(to_orig).all():
            raise MapFormatError(f"{where}: 'to_orig' must be finite ({n}, 3, 3)")
        if glob is None or glob.ndim != 2 or len(glob) != n or not np.isfinite(glob).all():
            raise MapFormatError(f"{where}: 'global' must be finite ({n}, C)")
        per: List[Dict[str, np.ndarray]] = [{} for _ in range(n)]
        for k, v in a.items():
            if k.startswith("k") and "__" in k:
                idx, name = k[1:].split("__", 1)
                if not idx.isdigit() or int(idx) >= n:
                    raise MapFormatError(f"{where}: unexpected array '{k}'")
                per[int(idx)][name] = v
        if any(not d for d in per) or any(set(d) != set(per[0]) for d in per):
            raise MapFormatError(f"{where}: per-keyframe arrays are missing or inconsistent")
        return EncodingSet(identity, size, per, to_orig.astype(np.float64),
                           glob.astype(np.float32))

    def save_encodings(self, enc: EncodingSet) -> None:
        """Add (or replace) the cached encodings of one checkpoint identity and size, atomically.

        Raises OSError when the map folder is not writable (the caller may keep them in memory).
        """
        if len(enc.per_keyframe) != len(self):
            raise InputError(f"{len(enc.per_keyframe)} encodings for {len(self)} keyframes")
        if self.version >= 2:
            self._save_store(enc)
            return
        rel = encoding_file(enc.identity, enc.image_size)
        data = npz_bytes(encodings_to_arrays(enc))
        os.makedirs(os.path.join(self.path, "encodings"), exist_ok=True)
        atomic_write_bytes(self._full(rel), data)
        manifest = json.loads(json.dumps(self.manifest))
        manifest["files"][rel] = {"sha256": sha256_hex(data), "bytes": len(data)}
        manifest["encodings"] = [e for e in manifest["encodings"]
                                 if (e["identity"], e["image_size"])
                                 != (enc.identity, int(enc.image_size))]
        manifest["encodings"].append({"identity": enc.identity,
                                      "image_size": int(enc.image_size), "file": rel})
        atomic_write_json(os.path.join(self.path, MANIFEST), manifest)
        self.manifest = manifest
        log.info("cached encodings for %s at %d in %s", enc.identity, enc.image_size, self.path)

    def _save_store(self, enc: EncodingSet) -> None:
        """v2 `save_encodings`: a new store folder (unique name) and its pooled index, then the
        manifest; the folder it replaces is deleted afterwards."""
        import tempfile

        base = encoding_folder(enc.identity, enc.image_size)
        os.makedirs(os.path.join(self.path, "encodings"), exist_ok=True)
        full = tempfile.mkdtemp(prefix=os.path.basename(base) + "-",
                                dir=os.path.join(self.path, "encodings"))
        rel = f"encodings/{os.path.basename(full)}"
        w = EncodingStoreWriter(full)
        for d, to_orig, glob in zip(enc.per_keyframe, enc.to_orig, enc.global_desc):
            w.append({**d, "to_orig": np.asarray(to_orig, np.float64),
                      "global": np.asarray(glob, np.float32)})
        table = w.close()
        pooled_files = RetrievalIndex.build(np.asarray(enc.global_desc, np.float32),
                                            IndexParams()).save(os.path.join(full, "pooled"))
        manifest = json.loads(json.dumps(self.manifest))
        old = self._entry(enc.identity, enc.image_size)
        if old is not None:
            manifest["files"] = {k: v for k, v in manifest["files"].items()
                                 if not k.startswith(old["store"] + "/")}
        for name, meta in table.files.items():
            manifest["files"][f"{rel}/{name}"] = dict(meta)
        for name, meta in pooled_files.items():
            manifest["files"][f"{rel}/pooled/{name}"] = dict(meta)
        manifest["encodings"] = [e for e in manifest["encodings"]
                                 if (e["identity"], e["image_size"])
                                 != (enc.identity, int(enc.image_size))]
        manifest["encodings"].append({"identity": enc.identity,
                                      "image_size": int(enc.image_size), "store": rel,
                                      "table": table.to_json(), "pooled_index": f"{rel}/pooled"})
        atomic_write_json(os.path.join(self.path, MANIFEST), manifest)
        self.manifest = manifest
        self._stores.pop((enc.identity, int(enc.image_size)), None)
        if old is not None and old["store"] != rel:
            import shutil

            shutil.rmtree(self._full(old["store"]), ignore_errors=True)
        log.info("cached encodings for %s at %d in %s", enc.identity, enc.image_size, self.path)


def _verified_descs(index: RetrievalIndex) -> np.ndarray:
    """The index's (K, D) float32 descriptors (a memory map), checksum verified once."""
    if index._unverified is not None:
        from ..retrieval_index import _verify

        _verify(*index._unverified)
        index._unverified = None
    return index.descs


class _StoreRecords(Sequence):
    """``EncodingSet.per_keyframe`` of a v2 map: keyframe i's ``feats`` and ``true_shape``,
    read from the encoding store (LRU-cached) when indexed."""

    def __init__(self, store: EncodingStore, names: Tuple[str, ...] = ("feats", "true_shape")):
        self.store = store
        self.names = names

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        rec = self.store.get(i)
        return {k: rec[k] for k in self.names if k in rec}


class _StoreField(Sequence):
    """One per-keyframe array (e.g. ``to_orig``) of the encoding store, indexed lazily."""

    def __init__(self, store: EncodingStore, name: str):
        self.store = store
        self.name = name

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return np.stack([self[j] for j in range(*i.indices(len(self)))])
        if i < 0:
            i += len(self)
        return self.store.get(i)[self.name]
