"""Reading and validating a keyframe map folder (`KeyframeMap`).

Encodings for another checkpoint are added to an existing map file-by-file (the file first, then the
manifest, each via rename), so readers see the old map or the new one.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple

import cv2
import numpy as np

from ..errors import InputError, MapFormatError
from ..fileio import atomic_write_bytes, atomic_write_json
from ..geometry import is_valid_pose
from ..retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from ..types import CameraIntrinsics
from .layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    EncodingSet,
    Keyframe,
    encoding_file,
    encodings_to_arrays,
    npz_bytes,
    sha256_hex,
)

log = logging.getLogger(__name__)


def _need(d: Mapping[str, Any], key: str, types: Any, where: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise MapFormatError(f"{where}: missing field '{key}'")
    v = d[key]
    if not isinstance(v, types) or (isinstance(v, bool) and types is not bool):
        raise MapFormatError(f"{where}: field '{key}' has the wrong type "
                             f"({type(v).__name__})")
    return v


def _numbers(v: Any, n: Optional[int], where: str, key: str) -> np.ndarray:
    ok = isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                     for x in v)
    if not ok or (n is not None and len(v) != n):
        raise MapFormatError(f"{where}: field '{key}' must be a list of "
                             f"{n if n is not None else 'some'} numbers")
    a = np.asarray(v, dtype=np.float64)
    if not np.isfinite(a).all():
        raise MapFormatError(f"{where}: field '{key}' has non-finite values")
    return a


def _parse_keyframe(rec: Any, index: int, files: Mapping[str, Any]) -> Keyframe:
    where = f"{MANIFEST}: keyframes[{index}]"
    if not isinstance(rec, Mapping):
        raise MapFormatError(f"{where}: must be an object")
    kid = _need(rec, "id", int, where)
    stamp = _need(rec, "stamp_ns", int, where)
    image = _need(rec, "image", str, where)
    intr = _need(rec, "intrinsics", dict, where)
    iw = f"{where}.intrinsics"
    try:
        cam = CameraIntrinsics(
            _need(intr, "width", int, iw), _need(intr, "height", int, iw),
            _numbers(_need(intr, "K", list, iw), 9, iw, "K").reshape(3, 3),
            _numbers(_need(intr, "dist", list, iw), None, iw, "dist"),
            _need(intr, "distortion_model", str, iw))
    except InputError as e:
        raise MapFormatError(f"{iw}: {e}") from None
    pose = _numbers(_need(rec, "map_from_cam", list, where), 16, where, "map_from_cam")
    pose = pose.reshape(4, 4)
    if not is_valid_pose(pose):
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

    def __init__(self, path: str, manifest: Dict[str, Any], keyframes: List[Keyframe]):
        self.path = path
        self.manifest = manifest
        self.keyframes = keyframes
        self._pixels: OrderedDict[Tuple[str, int], Optional[np.ndarray]] = OrderedDict()
        self._thumbs: Optional[np.ndarray] = None
        self._index_of = {k.id: i for i, k in enumerate(keyframes)}

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str) -> KeyframeMap:
        """Read and validate a map folder; raises `MapFormatError` naming the bad field/file."""
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
        if version != FORMAT_VERSION:
            raise MapFormatError(f"{mpath}: format version {version!r}, this code reads version "
                                 f"{FORMAT_VERSION}; rebuild the map with this version")
        files = _need(manifest, "files", dict, MANIFEST)
        recs = _need(manifest, "keyframes", list, MANIFEST)
        if not recs:
            raise MapFormatError(f"{mpath}: the map has no keyframes")
        kfs = [_parse_keyframe(r, i, files) for i, r in enumerate(recs)]
        if len({k.id for k in kfs}) != len(kfs):
            raise MapFormatError(f"{mpath}: keyframe ids are not unique")
        self = cls(path, manifest, kfs)
        for rel, meta in files.items():
            if not isinstance(meta, Mapping) or not isinstance(meta.get("sha256"), str):
                raise MapFormatError(f"{MANIFEST}: file table entry '{rel}' has no sha256")
        images = set()
        for kf in kfs:
            self._check_image_header(kf)
            images.update([kf.image_file, kf.depth_file])
        for rel in files:
            if rel not in images:
                self._read(rel)
        self._check_retrieval()
        for e in self._encoding_entries():
            if e["file"] not in files:
                raise MapFormatError(f"{MANIFEST}: encodings file '{e['file']}' is not in the "
                                     "file table")
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

    def _decode(self, rel: str) -> np.ndarray:
        data = np.frombuffer(self._read(rel), dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise MapFormatError(f"map file {self._full(rel)}: not a readable PNG")
        return img

    def _check_retrieval(self) -> None:
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
            img = cv2.cvtColor(self._decode(self.keyframes[index].image_file), cv2.COLOR_BGR2RGB)
            img.setflags(write=False)
            return img
        return self._cached(("image", index), make)

    def depth(self, index: int) -> Optional[np.ndarray]:
        """(H, W) float32 z-depth in metres of keyframe ``index`` (NaN = none), or None."""
        kf = self.keyframes[index]
        if kf.depth_file is None:
            return None

        def make():
            raw = self._decode(kf.depth_file)
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
            _need(e, "file", str, w)
        return entries

    def encoding_keys(self) -> List[Tuple[str, int]]:
        """(checkpoint identity, image size) pairs whose encoder outputs the map caches."""
        return [(e["identity"], e["image_size"]) for e in self._encoding_entries()]

    def load_encodings(self, identity: str, image_size: int) -> Optional[EncodingSet]:
        """The cached encodings for this checkpoint and size, or None when the map has none."""
        for e in self._encoding_entries():
            if e["identity"] == identity and e["image_size"] == int(image_size):
                return self._parse_encodings(e["file"], identity, int(image_size))
        return None

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
