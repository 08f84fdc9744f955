"""Reading and validating a keyframe map folder (`KeyframeMap`), format versions 1, 2 and 3.

``KeyframeMap.load(path)`` checks every file's sha256 and every image header at open (tools,
tests, `check-map`); ``KeyframeMap.load(path, lazy=True)`` (the localizer) reads the manifest and
the thumbnail retrieval index only and verifies every other file on its first use (images,
encoding chunks, the index's descriptor array), still raising `MapFormatError` naming the file.

Another checkpoint's encodings go in files first, manifest last, by rename: readers see old or new.

Layout: manifest validation in ``manifest.py``, the folder and manifest checks made before any
other file is opened in ``manifest_read.py``, cached encodings and retrieval indexes (v1 npz,
v2/v3 store) in ``encodings.py`` (`MapEncodings`, a base of `KeyframeMap`), verified file access
and the file checks (`missing_or_truncated`, `file_problems`, PNG headers) in ``map_files.py``
(`MapFiles`, a base of `KeyframeMap`), loading and the keyframe accessors here.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import cv2
import numpy as np

from ..encoding_store import EncodingStore
from ..errors import InputError, MapFormatError, json_value
from ..message_fields import tf2_frame_name
from ..path_expand import expand_path
from ..retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from ..retrieval_index import IndexParams, RetrievalIndex
from .build_record import recorded_index_params, warn_unreadable_build_config
from .layout import (
    MANIFEST,
    Keyframe,
)
from .encodings import MapEncodings, _verified_descs
from .manifest import _need, _parse_keyframes
from .manifest_read import _read_manifest
from .map_files import (MapFiles, file_table_problems, incomplete_map_error,
                        size_problem)
from .table import KeyframeTable

log = logging.getLogger(__name__)


class KeyframeMap(MapEncodings, MapFiles):
    """A loaded, validated keyframe map. Images and depth are read on demand (small LRU cache).

    Keyframes are addressed by their index in `keyframes` (the map-list index); ``Keyframe.id``
    is the stable identifier written in the manifest.
    """

    _CACHE = 16

    def __init__(self, path: str, manifest: Dict[str, Any],
                 keyframes: Union[List[Keyframe], KeyframeTable],
                 lazy: bool = False, encoding_cache_mb: float = 1024.0):
        self.path = path
        self.manifest = manifest
        self.keyframes = keyframes
        self.lazy = lazy
        self.encoding_cache_mb = float(encoding_cache_mb)
        self._pixels: OrderedDict[Tuple[str, int], Optional[np.ndarray]] = OrderedDict()
        # guards `_pixels` (an LRU: two threads' evictions made a looked-up key vanish) and
        # `_stores` (one EncodingStore per key): localizers on several threads share a map
        self._cache_lock = threading.RLock()
        self._thumbs: Optional[np.ndarray] = None
        self._thumb_index: Optional[RetrievalIndex] = None
        self._headers_checked: set = set()
        self._opened: Optional[Tuple[int, ...]] = None  # `opened_identity` at `load`
        self._stores: Dict[Tuple[str, int], EncodingStore] = {}
        self._index_of: Optional[Dict[int, int]] = None  # v1/v2, built on first use
        self._v1_index_params: Optional[Tuple[Optional[IndexParams], str]] = None  # read once
        self._said_default_index = False  # `index_params_or_defaults`' log line, once

    @property
    def version(self) -> int:
        """The map's format version (1: one ``.npz`` per encoding set; 2: encoding stores and
        retrieval indexes; 3: as 2, per-keyframe records in binary tables)."""
        return int(self.manifest["version"])

    @property
    def map_frame(self) -> str:
        """The frame the keyframe poses are in (v1 maps: ``map``; a '/map' written before the
        name was checked: ``map``, `message_fields.tf2_frame_name`)."""
        return tf2_frame_name(str(self.manifest.get("map_frame", "map")))

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str, lazy: bool = False, encoding_cache_mb: float = 1024.0,
             check_files: bool = True, checkpoint_as: str = "--checkpoint") -> KeyframeMap:
        """Read and validate a map folder; raises `MapFormatError` naming the bad field/file.

        ``lazy``: read the manifest, the keyframe and chunk tables (v3) and the retrieval index
        only; every other file's checksum is verified on its first use (see the module
        docstring). Either way every file the map lists is checked to exist with the size the
        map says (``os.stat`` only), so a missing or truncated keyframe image or encoding chunk
        is reported at open, naming the file (`file_problems` / ``mast3r-ros check-map`` list
        them all); ``check_files=False`` skips that and the retrieval index's read (check-map
        itself: it lists every bad file, the retrieval index's among them, before a full open).
        ``encoding_cache_mb`` bounds the host LRU cache of each encoding store (v2, v3 maps).
        ``~`` and ``$VARS`` are expanded (`expand_path`: ``map_path: $HOME/maps/m``); a
        checkpoint given as the map is told to go in ``checkpoint_as`` (the node: a parameter)."""
        path = expand_path(path)
        try:
            return cls._load(path, lazy, encoding_cache_mb, check_files, False, checkpoint_as)
        except MapFormatError as e:
            raise _naming_the_folder(e, path) from None

    @classmethod
    def check_folder(cls, path: str, checkpoint_as: str = "--checkpoint") -> None:
        """The cheap part of `load`, in its words: ``path`` (expanded as there) is a map folder
        whose manifest reads as a map's (JSON, the format, a version this reader reads, the
        map_frame) and which holds every file the map lists, each of the size it records and
        none empty (``os.stat`` only, as `load` checks them: a map copied only in part, its
        ``keyframes/`` or ``retrieval/`` missing, a file cut short, is refused as incomplete).
        Besides the manifest it reads only the map's own tables of files (v3:
        ``keyframe_table.npy`` and each encoding store's chunk table, checksummed); no image,
        encoding or descriptor array (a folder without a manifest is looked at only to say
        what it is, as `load` does). For a caller with long work to do before it loads the map
        (``localize`` indexing a rosbag2, ``merge-maps`` reading map A whole before B), so that
        a path that is no map at all (missing, a file, a recording, a run, an interrupted build
        or a copy cut short) is refused first. Raises `MapFormatError` as `load` does, a
        checkpoint given as the map told to go in ``checkpoint_as`` (check-params: a parameter)."""
        path = expand_path(path)
        try:
            cls._load(path, True, 0.0, True, files_only=True, checkpoint_as=checkpoint_as)
        except MapFormatError as e:
            raise _naming_the_folder(e, path) from None

    @classmethod
    def _load(cls, path: str, lazy: bool, encoding_cache_mb: float, check_files: bool,
              files_only: bool = False, checkpoint_as: str = "--checkpoint") -> KeyframeMap:
        """`load`; ``files_only``: stop once every listed file is found (`check_folder`)."""
        manifest, opened = _read_manifest(path, checkpoint_as)
        mpath = os.path.join(path, MANIFEST)
        version = manifest["version"]
        files = _need(manifest, "files", dict, MANIFEST)
        for rel, meta in files.items():
            if not isinstance(meta, Mapping) or not isinstance(meta.get("sha256"), str):
                raise MapFormatError(f"{MANIFEST}: file table entry '{rel}' has no sha256")
            size = meta.get("bytes", 0)  # absent: not recorded
            # a traceback at the size check; over int64 (no file's size): at the stat
            if type(size) is not int or not 0 <= size < 2 ** 63:
                raise MapFormatError(f"{MANIFEST}: file table entry '{rel}': 'bytes' must be a "
                                     f"file size in bytes, got {json_value(size)}; rebuild the "
                                     "map or re-copy its manifest")
        if not isinstance(manifest.get("consistency") or {}, dict):  # read by the localizer
            raise MapFormatError(f"{MANIFEST}: field 'consistency' has the wrong type "
                                 f"({type(manifest['consistency']).__name__})")
        kfs: Union[List[Keyframe], KeyframeTable]
        if version >= 3:
            kfs = _open_keyframe_table(path, manifest, files, check_files)
        else:
            recs = _need(manifest, "keyframes", list, MANIFEST)
            if not recs:
                raise MapFormatError(f"{mpath}: the map has no keyframes")
            kfs = _parse_keyframes(recs, files)
            if len({k.id for k in kfs}) != len(kfs):
                raise MapFormatError(f"{mpath}: keyframe ids are not unique")
        self = cls(path, manifest, kfs, lazy, encoding_cache_mb)
        self._opened = opened
        if check_files:
            self._check_files_present()
        if files_only:
            return self
        if not lazy:
            self.verify_files()
        if check_files:
            self._check_retrieval()
        for e in self._encoding_entries():
            if version == 1 and e["file"] not in files:
                raise MapFormatError(f"{MANIFEST}: encodings file '{e['file']}' is not in the "
                                     "file table")
        for e in self._asmk_entries():
            if e["file"] not in files:
                raise MapFormatError(f"{MANIFEST}: ASMK file '{e['file']}' is not in the file "
                                     "table")
        if version >= 2 and not lazy:  # informational: a bad one said, not refused; a lazy
            warn_unreadable_build_config(path)  # open (the localizer) reads no more files
        return self

    def verify_files(self, images: bool = True, progress: Optional[Callable[
            [Iterable, int, str], Iterable]] = None) -> None:
        """What a full open checks (`load` without ``lazy``): every file's checksum, each
        keyframe PNG's header, size and pixel format too (`_check_image_header`), every
        encoding chunk (v3). ``images=False``: every file but the keyframe PNGs, for a caller
        that reads each of them once itself, verified on that read (a lazy map's first use:
        ``merge-maps`` copying them). ``progress(iterable, total, desc)`` shows the loop over
        each encoding store's chunks (`EncodingStore.verify_all`). Raises `MapFormatError`
        for the first bad file."""
        names = set()
        for kf in self.keyframes:
            if images:
                self._check_image_header(kf)
            names.update([kf.image_file, kf.depth_file])
        for rel in self.manifest["files"]:
            if rel not in names:
                self._read(rel)
        if self.version >= 3:  # v3 chunks are not in the manifest's file table
            for identity, size in self.encoding_keys():
                self.encoding_store(identity, size).verify_all(
                    progress, f"{os.path.basename(self.path)}: checking encodings")

    def finish_checks(self) -> None:
        """What `load` checks with ``check_files`` that an open without it left out, for a
        caller that listed `file_problems` first (check-map: one open): the retrieval index
        read. Raises `MapFormatError` as `load` does."""
        try:
            self._check_retrieval()
        except MapFormatError as e:
            raise _naming_the_folder(e, self.path) from None

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
        """A v2/v3 `RetrievalIndex` folder of the map: ``index.json`` checked against the
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

    def index_params(self) -> Optional[IndexParams]:
        """The `IndexParams` this map's retrieval indexes were built with (build-map's
        ``scale.index_type``, ``approx_threshold``, ...), as its thumbnail index's
        ``index.json`` records them (checksum verified); a v1 map, whose layout stores no
        index, as its ``build_config.yaml`` records them (`build_record`), None where it
        records none. Raises `MapFormatError` when a v2/v3 map's ``index.json`` is missing,
        corrupt or malformed."""
        if self.version < 2:
            if self._v1_index_params is None:
                self._v1_index_params = recorded_index_params(self.path)
            return self._v1_index_params[0]
        r = _need(self.manifest, "retrieval", dict, MANIFEST)
        rel = f"{_need(r, 'index', str, f'{MANIFEST}: retrieval')}/index.json"
        try:
            return IndexParams.from_json(json.loads(self._read(rel))["params"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MapFormatError(f"map file {self._full(rel)}: no 'params' of a retrieval "
                                 "index; rebuild the map") from None

    def index_params_unrecorded(self) -> str:
        """Why `index_params` is None, '' where it is not (`build_record.recorded_index_params`'
        reason: a v1 map's build_config.yaml missing, unreadable, ...). Raises as it."""
        known = self.index_params() is not None
        return "" if known else (self._v1_index_params or (None, "it records none"))[1]

    def index_params_or_defaults(self) -> IndexParams:
        """`index_params`, for an index built from the map's descriptors where it stores none
        (a v1 map's thumbnail or pooled index, a v2/v3 thumbnail index of an older kind);
        the defaults where the map records none (a v1 map without them in its
        build_config.yaml), said once per loaded map in the log. Raises as `index_params`."""
        params = self.index_params()
        if params is not None:
            return params
        why = self.index_params_unrecorded()
        if not self._said_default_index:
            self._said_default_index = True
            log.info("map %s (format v1) records no retrieval index settings (%s): its "
                     "retrieval index is built with the defaults (scale.index_type %r, "
                     "approx_threshold %d); rebuild the map to record its own", self.path, why,
                     IndexParams().index_type, IndexParams().approx_threshold)
        return IndexParams()

    def thumbnail_index(self) -> RetrievalIndex:
        """`RetrievalIndex` over `thumbnail_descriptors` (v2/v3: the map's own, read lazily;
        else built with the map's settings, `index_params_or_defaults`)."""
        if self._thumb_index is None:
            self._thumb_index = RetrievalIndex.build(self.thumbnail_descriptors(),
                                                     self.index_params_or_defaults())
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
        """The record of keyframe ``index`` (map-list index); raises `InputError` out of range
        or for an index that is not an int (0.5 was truncated to keyframe 0)."""
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise InputError(f"keyframe index must be an int (map-list index), got {index!r}; "
                             "keyframe_index(id) gives the index of a manifest id")
        if not 0 <= int(index) < len(self.keyframes):
            raise InputError(f"keyframe index {index} is outside the map's {len(self)} "
                             f"keyframes ({self.path})")
        return self.keyframes[int(index)]

    def keyframe_index(self, keyframe_id: int) -> int:
        """Map-list index of the keyframe whose manifest ``id`` is ``keyframe_id``; raises
        `InputError` when the map has no such keyframe, or for an id that is not an int (2.7
        and '2' were read as id 2)."""
        if isinstance(keyframe_id, (bool, np.bool_)) or not isinstance(keyframe_id,
                                                                       (int, np.integer)):
            raise InputError(f"keyframe id must be an int (a manifest id, as in "
                             f"LocalizationResult.keyframe_ids), got {keyframe_id!r}")
        if isinstance(self.keyframes, KeyframeTable):
            index = self.keyframes.index_of_id(int(keyframe_id))
        else:
            if self._index_of is None:
                self._index_of = {k.id: i for i, k in enumerate(self.keyframes)}
            index = self._index_of.get(int(keyframe_id))
        if index is None:
            raise InputError(f"map {self.path} has no keyframe with id {keyframe_id}")
        return index

    def poses(self) -> np.ndarray:
        """(K, 4, 4) float64 ``map_from_cam`` of every keyframe (camera optical frame ->
        `map_frame`), in map-list order."""
        if isinstance(self.keyframes, KeyframeTable):
            return self.keyframes.poses()
        return np.stack([k.map_from_cam for k in self.keyframes])

    def stamps_ns(self) -> np.ndarray:
        """(K,) int64 image stamps (ns) of every keyframe, in map-list order."""
        if isinstance(self.keyframes, KeyframeTable):  # v3: the keyframe table's column
            return np.asarray(self.keyframes.rows["stamp_ns"], np.int64)
        return np.array([int(k.stamp_ns) for k in self.keyframes], np.int64)

    def cameras(self) -> np.ndarray:
        """(C, 6) float64: the distinct (width, height, fx, fy, cx, cy) of the keyframes'
        intrinsics, pixels (one row per camera and size the map was built from)."""
        if isinstance(self.keyframes, KeyframeTable):
            rows = self.keyframes.rows
            K = np.asarray(rows["K"], np.float64)
            cams = np.column_stack([rows["width"], rows["height"], K[:, 0, 0], K[:, 1, 1],
                                    K[:, 0, 2], K[:, 1, 2]]).astype(np.float64)
        else:
            cams = np.array([[k.intrinsics.width, k.intrinsics.height, k.intrinsics.K[0, 0],
                              k.intrinsics.K[1, 1], k.intrinsics.K[0, 2], k.intrinsics.K[1, 2]]
                             for k in self.keyframes], np.float64).reshape(-1, 6)
        return np.unique(cams, axis=0)

    def distortions(self) -> List[Tuple[int, int, str, np.ndarray]]:
        """The distinct (width, height, distortion_model, dist) of the keyframes' intrinsics;
        no distortion (no or all-zero coefficients) is ("", empty) whatever the model."""
        if isinstance(self.keyframes, KeyframeTable):
            rows = self.keyframes.rows
            models = self.keyframes.models
            # one row per distinct (size, model, count, coefficients), in first-seen order: a
            # Python loop over every row cost 0.19 s of the first frame at 2*10^4 keyframes
            n = np.asarray(rows["dist_count"], np.int64)
            d = np.asarray(rows["dist"], np.float64).reshape(len(n), -1)
            d = np.where(np.arange(d.shape[1]) < n[:, None], d, 0.0)
            key = np.column_stack([rows["width"], rows["height"], rows["distortion_model"], n,
                                   d]).astype(np.float64)
            first = np.sort(np.unique(key, axis=0, return_index=True)[1]) if len(n) else []
            items = ((int(rows["width"][i]), int(rows["height"][i]),
                      models[int(rows["distortion_model"][i])], d[i, :int(n[i])]) for i in first)
        else:
            items = ((k.intrinsics.width, k.intrinsics.height, k.intrinsics.distortion_model,
                      k.intrinsics.dist) for k in self.keyframes)
        seen: Dict[Tuple[Any, ...], Tuple[int, int, str, np.ndarray]] = {}
        for w, h, model, dist in items:
            dist = np.asarray(dist, np.float64)
            if not np.any(dist != 0):
                model, dist = "", np.zeros(0)
            seen.setdefault((w, h, model, dist.tobytes()), (w, h, model, dist.copy()))
        return list(seen.values())

    def has_depth(self) -> bool:
        """True when every keyframe has a stored depth image (the sift matcher and
        ``points_source: depth`` need it)."""
        if isinstance(self.keyframes, KeyframeTable):
            return self.keyframes.has_depth()
        return all(k.depth_file is not None for k in self.keyframes)

    def _cached(self, key: Tuple[str, int], make) -> Any:
        with self._cache_lock:
            if key in self._pixels:
                self._pixels.move_to_end(key)
                return self._pixels[key]
        v = make()  # decoded outside the lock: threads decode different keyframes at once
        with self._cache_lock:
            self._pixels[key] = v
            while len(self._pixels) > self._CACHE:
                self._pixels.popitem(last=False)
        return v

    def image(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of keyframe ``index`` (read-only array).

        Raises `MapFormatError` when the PNG is missing, corrupt or not the keyframe's size
        (checked on first use for a lazily loaded map), ``IndexError`` out of range and
        ``TypeError`` for an index that is not an integer (as a list does; unlike `keyframe`,
        which raises `InputError`); negative indices count from the end."""
        def make():
            kf = self.keyframes[index]
            img = cv2.cvtColor(self._decode(kf.image_file, kf), cv2.COLOR_BGR2RGB)
            img.setflags(write=False)
            return img
        return self._cached(("image", index), make)

    def depth(self, index: int) -> Optional[np.ndarray]:
        """(H, W) float32 z-depth in metres of keyframe ``index`` (NaN = none), or None when the
        keyframe has no depth. Raises as `image` does."""
        kf = self.keyframes[index]
        if kf.depth_file is None:
            return None

        def make():
            d = depth_metres(self._raw_depth(kf), kf.depth_scale)
            d.setflags(write=False)
            return d
        return self._cached(("depth", index), make)

    def _raw_depth(self, kf: Any) -> np.ndarray:
        raw = self._decode(kf.depth_file, kf)
        if raw.dtype != np.uint16:
            raise MapFormatError(f"map file {self._full(kf.depth_file)}: depth must be "
                                 f"uint16, got {raw.dtype}")
        return raw

    def stored_pixels(self, index: int) -> Tuple[np.ndarray, Optional[np.ndarray], float]:
        """Keyframe ``index``'s PNGs decoded as stored, neither converted nor cached: (H, W, 3)
        uint8 BGR, (H, W) uint16 depth (0: none; metres: `depth_metres`) or None, and its units
        per metre (0.0 without depth). For a reader that reduces them first (the map check's
        `MapRecords`: `depth`'s float conversion at full size was 3-4 ms a 640x480 keyframe).
        Verified, and raises, as `image` and `depth`."""
        kf = self.keyframes[index]
        bgr = self._decode(kf.image_file, kf)
        if kf.depth_file is None:
            return bgr, None, 0.0
        return bgr, self._raw_depth(kf), float(kf.depth_scale)

    def keyframe_pngs(self, index: int) -> Tuple[bytes, Optional[bytes], float]:
        """Keyframe ``index``'s files as the map stores them: (RGB PNG bytes, depth PNG bytes
        or None, depth units per metre: 0.0 without depth), checksum verified and their
        headers checked as `image` checks them, not decoded (`MapWriter.add_keyframe_png`
        writes them as they are). Raises as `image` does."""
        kf = self.keyframes[index]
        out = []
        for rel in (kf.image_file, kf.depth_file):
            if rel is None:
                out.append(None)
                continue
            read = ({} if (kf.id, rel) in self._headers_checked
                    else self._check_image_header(kf, only=rel))
            out.append(read[rel] if rel in read else self._read(rel))
        return out[0], out[1], float(kf.depth_scale) if kf.depth_file else 0.0

    def keyframe_png_sha256(self, index: int) -> Tuple[str, Optional[str]]:
        """Hex sha256 of keyframe ``index``'s (RGB PNG, depth PNG or None) as the map records
        them: what `keyframe_pngs` verified the bytes it gave against (`merge-maps` hands them
        to `MapWriter.add_keyframe_png` so that they are not computed a second time)."""
        kf = self.keyframes[index]
        return (self._file_meta(kf.image_file)["sha256"],
                None if kf.depth_file is None else self._file_meta(kf.depth_file)["sha256"])

    def thumbnail_descriptors(self) -> np.ndarray:
        """(K, D) weight-free retrieval descriptors (recomputed if stored by an older kind)."""
        if self._thumbs is None and self._thumb_index is not None:
            self._thumbs = _verified_descs(self._thumb_index)
        if self._thumbs is None:
            self._thumbs = np.stack([thumbnail_descriptor(self.image(i))
                                     for i in range(len(self))])
        return self._thumbs


def depth_metres(raw: np.ndarray, units_per_m: float) -> np.ndarray:
    """(H, W) float32 z-depth in metres (NaN where ``raw`` is 0) of an (H, W) uint16 stored
    depth image in ``units_per_m`` (> 0: the keyframe's ``depth_scale``), a new array (what
    `KeyframeMap.depth` gives, and `MapRecords` after reducing ``raw``)."""
    d = np.where(raw > 0, raw.astype(np.float32) / np.float32(units_per_m), np.nan)
    return d.astype(np.float32)


def _open_keyframe_table(path: str, manifest: Mapping[str, Any], files: Mapping[str, Any],
                         pointer: bool = True) -> KeyframeTable:
    """v3: the manifest's ``keyframe_table`` entry, checked, and its validated table. Raises
    MapFormatError: the file missing or not its recorded size (``pointer``: with check-map's
    pointer; off for check-map's own open), the entry or the table malformed, its checksum
    wrong."""
    where = f"{MANIFEST}: keyframe_table"
    kt = _need(manifest, "keyframe_table", dict, MANIFEST)
    rel = _need(kt, "file", str, where)
    num = _need(kt, "num_keyframes", int, where)
    models = _need(kt, "distortion_models", list, where)
    if not all(isinstance(m, str) for m in models):
        raise MapFormatError(f"{where}: 'distortion_models' must be a list of names")
    if num < 1:  # a built map holds at least one: an edited field
        raise MapFormatError(f"{where}: 'num_keyframes' must be at least 1, got {num}"
                             + (" (the map has no keyframes)" if num == 0 else ""))
    if rel not in files or os.path.basename(rel) != rel:
        raise MapFormatError(f"{where}: file '{rel}' is not in the file table")
    full = os.path.join(path, rel)
    # missing or short: said so, as for the other map files (the table's own checks would
    # read both as a checksum mismatch)
    try:
        got = os.path.getsize(full)
    except FileNotFoundError:
        got = -1
    want = files[rel].get("bytes")
    if size_problem(full, got, want if isinstance(want, int) else None):
        # the map's other files as `_check_files_present` counts them (the PNGs it lists
        # cannot be known without it)
        raise incomplete_map_error(path, file_table_problems(path, files), pointer)
    return KeyframeTable.open(full, num, models, files[rel]["sha256"])


def _naming_the_folder(e: MapFormatError, path: str) -> MapFormatError:
    """``e`` as `KeyframeMap.load` raises it: 'manifest.json: ...' alone names no map, so the
    map folder ``path`` is put in front, and what to do behind where the message says none."""
    text = str(e)
    if not text.startswith(MANIFEST + ":"):
        return e
    if "rebuild" not in text and "copy it again" not in text:  # a field edited: what to do
        text += "; the manifest was edited or damaged: rebuild the map, or copy it again"
    return MapFormatError(os.path.join(path, text))
