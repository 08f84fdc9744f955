"""The keyframe map on disk: a versioned folder, written atomically, validated on load.

Layout (format ``mast3r_ros.keyframe_map`` version 1)::

    MAP/
      manifest.json            format, version, keyframe records, file table (sha256 of every file)
      keyframes/000000.png     RGB image, lossless
      keyframes/000000_depth.png   optional z-depth, uint16, ``depth_scale`` units/m, 0 = none
      retrieval.npz            ``thumbnail`` (K, D) float32 weight-free retrieval descriptors
      encodings/<id>_<size>.npz    cached encoder output of one checkpoint identity at one image
                                   size: per keyframe ``k<i>__<name>`` arrays from
                                   ``Encoding.to_numpy()``, ``to_orig`` (K, 3, 3), ``global``
                                   (K, C) pooled descriptors, ``identity``, ``image_size``

Keyframe records hold ``id``, ``stamp_ns``, ``intrinsics`` (width, height, K row-major, dist,
distortion_model), ``map_from_cam`` (16 numbers, row-major) and file names. Nothing is pickled;
arrays are read with ``allow_pickle=False``.

Atomicity: `MapWriter` writes into a sibling folder ``MAP.tmp-XXXX`` and renames it to ``MAP`` only
after the manifest (written last) is on disk, so an interrupted build never leaves anything at
``MAP``. Encodings for another checkpoint are added to an existing map file-by-file (the file first,
then the manifest, each via rename), so readers see the old map or the new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import InputError, MapFormatError
from .fileio import atomic_write_bytes, atomic_write_json
from .geometry import is_valid_pose, pose_error
from .retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from .types import CameraIntrinsics

log = logging.getLogger(__name__)

FORMAT_NAME = "mast3r_ros.keyframe_map"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_DEPTH_SCALES = (5000.0, 1000.0, 100.0)  # units per metre; the finest one that fits is used


@dataclasses.dataclass
class Keyframe:
    """One keyframe's metadata; pixels are read on demand through `KeyframeMap`."""

    id: int
    stamp_ns: int
    intrinsics: CameraIntrinsics
    map_from_cam: np.ndarray
    image_file: str
    depth_file: Optional[str] = None
    depth_scale: float = 0.0


@dataclasses.dataclass
class EncodingSet:
    """Cached encoder output of every keyframe for one (checkpoint identity, image size).

    ``per_keyframe[i]`` is the ``Encoding.to_numpy()`` dict of keyframe i (map-list order),
    ``to_orig`` (K, 3, 3) float64 network-pixel -> original-pixel homographies, ``global_desc``
    (K, C) float32 unit-norm pooled descriptors.
    """

    identity: str
    image_size: int
    per_keyframe: List[Dict[str, np.ndarray]]
    to_orig: np.ndarray
    global_desc: np.ndarray


# ---------------------------------------------------------------------------------- helpers ---

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode_png(img: np.ndarray) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise InputError(f"cannot encode a {img.shape} {img.dtype} image as PNG")
    return buf.tobytes()


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    bio = io.BytesIO()
    np.savez(bio, **arrays)
    return bio.getvalue()


def _encoding_file(identity: str, image_size: int) -> str:
    return f"encodings/{hashlib.sha1(identity.encode()).hexdigest()[:16]}_{int(image_size)}.npz"


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


def select_keyframes(poses: Iterable[np.ndarray], min_translation_m: float,
                     min_rotation_deg: float) -> List[int]:
    """Indices of the poses that become keyframes: the first one, then every pose that moved
    more than ``min_translation_m`` or turned more than ``min_rotation_deg`` from the last
    keyframe."""
    sel = KeyframeSelector(min_translation_m, min_rotation_deg)
    return [i for i, p in enumerate(poses) if sel.offer(p)]


class KeyframeSelector:
    """Streaming form of `select_keyframes`: ``offer(map_from_cam)`` says whether to keep it."""

    def __init__(self, min_translation_m: float, min_rotation_deg: float):
        self.min_translation_m = float(min_translation_m)
        self.min_rotation_deg = float(min_rotation_deg)
        self.last: Optional[np.ndarray] = None

    def offer(self, map_from_cam: np.ndarray) -> bool:
        if self.last is not None:
            t, r = pose_error(self.last, map_from_cam)
            if t < self.min_translation_m and r < self.min_rotation_deg:
                return False
        self.last = np.array(map_from_cam, dtype=np.float64)
        return True


# ----------------------------------------------------------------------------------- writer ---

class MapWriter:
    """Builds a map folder atomically. Use as a context manager; `commit` publishes it.

    >>> with MapWriter("maps/kitchen") as w:
    ...     w.add_keyframe(rgb, intrinsics, map_from_cam, stamp_ns, depth_m)
    ...     w.commit()

    Leaving the block without `commit` (or by an exception) deletes the partial folder.
    """

    def __init__(self, path: str, overwrite: bool = False):
        self.path = os.path.abspath(path)
        if os.path.exists(self.path) and not overwrite:
            raise InputError(f"map folder already exists: {path} (choose another --out or "
                             "remove it)")
        parent = os.path.dirname(self.path)
        os.makedirs(parent, exist_ok=True)
        self.overwrite = overwrite
        self.tmp = tempfile.mkdtemp(prefix=os.path.basename(self.path) + ".tmp-", dir=parent)
        os.makedirs(os.path.join(self.tmp, "keyframes"))
        self.records: List[Dict[str, Any]] = []
        self.files: Dict[str, Dict[str, Any]] = {}
        self.thumbs: List[np.ndarray] = []
        self.encodings: List[Dict[str, Any]] = []
        self.committed = False

    def __enter__(self) -> MapWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self.committed:
            self.abort()

    def _put(self, rel: str, data: bytes) -> None:
        full = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)
        self.files[rel] = {"sha256": _sha256(data), "bytes": len(data)}

    def add_keyframe(self, rgb: np.ndarray, intrinsics: CameraIntrinsics,
                     map_from_cam: np.ndarray, stamp_ns: int,
                     depth_m: Optional[np.ndarray] = None) -> int:
        """Store one keyframe; returns its id (0, 1, ... in insertion order)."""
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
            "depth_scale": 0.0, "intrinsics": _intrinsics_to_json(intrinsics),
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

    def add_encodings(self, enc: EncodingSet) -> None:
        """Store cached encoder outputs (one per keyframe added, in order)."""
        if len(enc.per_keyframe) != len(self.records):
            raise InputError(f"{len(enc.per_keyframe)} encodings for {len(self.records)} keyframes")
        rel = _encoding_file(enc.identity, enc.image_size)
        self._put(rel, _npz_bytes(_encodings_to_arrays(enc)))
        self.encodings.append({"identity": enc.identity, "image_size": int(enc.image_size),
                               "file": rel})

    def commit(self) -> str:
        """Write the manifest and publish the folder at ``path``; returns the path."""
        if not self.records:
            raise InputError("no keyframes were added: the source had no usable frames")
        thumbs = np.stack(self.thumbs).astype(np.float32)
        self._put("retrieval.npz", _npz_bytes({"thumbnail": thumbs}))
        manifest = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "keyframes": self.records,
            "retrieval": {"file": "retrieval.npz", "kind": THUMBNAIL_KIND},
            "encodings": self.encodings, "files": self.files,
        }
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


def _intrinsics_to_json(c: CameraIntrinsics) -> Dict[str, Any]:
    return {"width": int(c.width), "height": int(c.height),
            "K": [float(v) for v in c.K.reshape(-1)], "dist": [float(v) for v in c.dist],
            "distortion_model": c.distortion_model}


def _encodings_to_arrays(enc: EncodingSet) -> Dict[str, np.ndarray]:
    arrays: Dict[str, np.ndarray] = {
        "identity": np.array(enc.identity), "image_size": np.array(int(enc.image_size)),
        "to_orig": np.asarray(enc.to_orig, dtype=np.float64),
        "global": np.asarray(enc.global_desc, dtype=np.float32),
        "num_keyframes": np.array(len(enc.per_keyframe)),
    }
    for i, d in enumerate(enc.per_keyframe):
        for k, v in d.items():
            arrays[f"k{i}__{k}"] = np.asarray(v)
    return arrays


# ----------------------------------------------------------------------------------- reader ---

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
        if _sha256(data) != meta["sha256"]:
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
        rel = _encoding_file(enc.identity, enc.image_size)
        data = _npz_bytes(_encodings_to_arrays(enc))
        os.makedirs(os.path.join(self.path, "encodings"), exist_ok=True)
        atomic_write_bytes(self._full(rel), data)
        manifest = json.loads(json.dumps(self.manifest))
        manifest["files"][rel] = {"sha256": _sha256(data), "bytes": len(data)}
        manifest["encodings"] = [e for e in manifest["encodings"]
                                 if (e["identity"], e["image_size"])
                                 != (enc.identity, int(enc.image_size))]
        manifest["encodings"].append({"identity": enc.identity,
                                      "image_size": int(enc.image_size), "file": rel})
        atomic_write_json(os.path.join(self.path, MANIFEST), manifest)
        self.manifest = manifest
        log.info("cached encodings for %s at %d in %s", enc.identity, enc.image_size, self.path)


def write_map(path: str, keyframes: Sequence[Tuple[np.ndarray, CameraIntrinsics, np.ndarray, int,
                                                   Optional[np.ndarray]]],
              overwrite: bool = False) -> str:
    """Convenience: write (rgb, intrinsics, map_from_cam, stamp_ns, depth_m) tuples as a map."""
    with MapWriter(path, overwrite=overwrite) as w:
        for rgb, cam, pose, stamp, depth in keyframes:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        return w.commit()
