"""Writing a keyframe map folder atomically (`MapWriter`, `write_map`).

Atomicity: `MapWriter` writes into a sibling folder ``MAP.tmp-XXXX`` (``MAP.partial`` for a
resumable build) and renames it to ``MAP`` only after the manifest (written last) is on disk, so an
interrupted build never leaves anything at ``MAP``. An existing ``MAP`` is replaced only with
``overwrite`` and only when it is a keyframe map (its ``manifest.json`` names this format) or an
empty folder, the rule of the CLI's ``--overwrite`` (`fileio.check_output_folder`); it is checked
when the writer is made, before any work, and again at `MapWriter.commit`. One writer writes one
map: after its commit, abort or ``with`` block every call raises `InputError`.

Format version 3 (the default): as version 2 -- encodings as an encoding store
(`core.encoding_store`, chunked ``.npy`` read lazily) with a `RetrievalIndex` of their pooled
descriptors, the thumbnail descriptors as a `RetrievalIndex`, optional ASMK inverted files
(`core.asmk.AsmkIndex`) -- with the per-keyframe records and per-file checksums in binary tables
(`table.py`: ``keyframe_table.npy``, each store's ``chunk_table.npy``) instead of the JSON
manifest. ``version=2`` and ``version=1`` still write the older layouts (tests, tools).
"""

from __future__ import annotations

import collections.abc
import contextlib
import json
import logging
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..encoding_store import DEFAULT_CHUNK_SIZE, EncodingStoreWriter, StoreTable
from ..errors import InputError
from ..fileio import (_umask, atomic_write_json, check_can_create, check_output_folder,
                      output_path, replace_folder)
from ..geometry import is_valid_pose
from ..retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from ..retrieval_index import IndexParams, RetrievalIndex
from ..types import CameraIntrinsics, check_stamp_ns
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

if TYPE_CHECKING:
    from ..config import MapCheckConfig
    from ..map_check import ConsistencyReport

log = logging.getLogger(__name__)

_DEPTH_SCALES = (5000.0, 1000.0, 100.0)  # units per metre; the finest one that fits is used
# A keyframe whose median valid depth is beyond this is logged as a likely unit mistake
# (centimetres passed as metres): RGB-D sensors see to ~10 m, and stereo or lidar depth rarely
# has its median this far. A warning only: an aerial or street scene may really be that far.
PLAUSIBLE_MEDIAN_DEPTH_M = 50.0

# writer states (`MapWriter._state`)
_OPEN, _COMMITTED, _ABORTED, _CLOSED = "open", "committed", "aborted", "closed"


def _encode_png(img: np.ndarray) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise InputError(f"cannot encode a {img.shape} {img.dtype} image as PNG")
    return buf.tobytes()


def _float_depth(depth_m: Any, what: str) -> np.ndarray:
    """``depth_m`` as an array; `InputError` naming ``what`` unless it is floating point. Integer
    depth is a sensor's raw units (millimetres for REP-118 16UC1 and RealSense, 1/5000 m for TUM
    RGB-D PNGs) and bool a validity mask: stored as metres either gives confident wrong poses."""
    d = np.asarray(depth_m)
    kind = d.dtype.kind
    if kind == "f":
        return d
    if kind == "b":
        raise InputError(f"{what} is a bool array (a validity mask?): depth_m must be float "
                         "z-depth in metres, NaN or <= 0 where there is none")
    if kind in "iu":
        raise InputError(f"{what} is {d.dtype}, raw sensor units, not metres: {d.dtype} depth "
                         "looks like millimetres (TUM/RealSense, REP-118 16UC1); pass "
                         "depth.astype(np.float32) / 1000 (or divide by your sensor's depth "
                         "scale: 5000 for TUM RGB-D PNGs)")
    raise InputError(f"{what} has dtype {d.dtype}: depth_m must be a float array of z-depth in "
                     "metres")


def depth_to_png(depth_m: np.ndarray, what: str = "depth") -> Tuple[bytes, float]:
    """Encode (H, W) float z-depth in metres (NaN or <= 0: none) as a uint16 PNG; returns (PNG
    bytes, units per metre: 5000, 1000 or 100, the finest that holds the largest depth).

    Raises `InputError` (naming ``what``) for an integer or bool depth (raw sensor units or a
    mask: convert to metres first) and for a depth beyond 655 m, the 16-bit format's limit at
    100 units/m (millimetres or centimetres passed as metres)."""
    d = _float_depth(depth_m, what).astype(np.float64)
    valid = np.isfinite(d) & (d > 0)
    top = float(d[valid].max()) if valid.any() else 0.0
    scale = next((s for s in _DEPTH_SCALES if top * s < 65535), None)
    if scale is None:
        raise InputError(f"{what} reaches {top:.1f} m, beyond the map's 16-bit depth format "
                         "(max 655 m): millimetres or centimetres? depth_m must be metres: "
                         "divide by your sensor's depth scale (1000 for mm, 100 for cm)")
    q = np.where(valid, np.round(np.where(valid, d, 0) * scale), 0).astype(np.uint16)
    return _encode_png(q), scale


def _median_depth(depth: np.ndarray) -> float:
    """Median valid depth of every 4th pixel each way (cheap; 0 when none is valid)."""
    d = np.asarray(depth[::4, ::4], np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else 0.0


_RESERVED_KEYS = frozenset(("format", "version", "keyframes", "retrieval", "encodings", "files",
                            "map_frame", "asmk", "keyframe_table"))


def _listing(folder: str, names: List[str], most: int = 4) -> str:
    """``a.txt, notes/ and 3 more`` (folders with a slash) for messages."""
    shown = [n + ("/" if os.path.isdir(os.path.join(folder, n)) else "") for n in names[:most]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# the top-level entries a map of any version holds (v1's retrieval.npz included), and the two
# files `mast3r-ros build-map` adds (replay.pipeline); temporary files of an interrupted
# encoding or manifest update start with ".tmp-"
_MAP_ENTRIES = frozenset((MANIFEST, KEYFRAME_TABLE, "keyframes", "retrieval", "encodings",
                          "retrieval.npz", "build_config.yaml", "keyframes.png"))


def _is_keyframe_map(folder: str, names: List[str]) -> bool:
    """A folder `MapWriter` may replace with ``overwrite``: its manifest names this map format,
    or (a damaged map) it has a manifest that does not parse beside a ``keyframes`` folder. An
    ONNX export (``format`` "mast3r_ros-onnx") or another tool's manifest.json is not one."""
    if MANIFEST not in names:
        return False
    try:
        with open(os.path.join(folder, MANIFEST), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        manifest = None
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt is not None:
        return fmt == FORMAT_NAME
    return os.path.isdir(os.path.join(folder, "keyframes"))


def _check_target(given: str, full: str, overwrite: bool, cli: bool = False) -> None:
    """Refuse ``full`` (``given``: as the user wrote it) as the folder a map is published at:
    an existing file or link to nothing always, an existing folder unless ``overwrite``, and with
    ``overwrite`` a folder that is neither empty nor a keyframe map (`_is_keyframe_map`) -- the
    rule of the CLI's ``--overwrite`` (`fileio.check_output_folder`), so that a mistyped path
    never deletes other data. ``cli``: worded for the command line (``--out``, ``--overwrite``)
    instead of for the Python API (``MapWriter(overwrite=True)``)."""
    if not os.path.lexists(full):
        return
    who, flag, other = (("--out", "--overwrite", "another --out") if cli else
                        ("MapWriter", "overwrite=True", "another path"))
    if not os.path.isdir(full):
        kind = "a link to nothing" if os.path.islink(full) else "a file"
        raise InputError(f"{who}: {given} exists and is {kind}, not a map folder; not "
                         f"replacing it, even with {flag} (choose {other}, or remove it "
                         "yourself)")
    if not overwrite:
        how = "--overwrite" if cli else "overwrite=True -- the CLI's --overwrite --"
        raise InputError(f"map folder already exists: {given} (pass {how} to replace it, or "
                         f"choose {other})")
    refused = flag if cli else f"MapWriter({flag})"
    try:
        names = sorted(os.listdir(full))
    except OSError as e:
        raise InputError(f"{refused}: cannot list {given} ({e.strerror or e}); not replacing "
                         f"it (choose {other})") from None
    if names and not _is_keyframe_map(full, names):
        raise InputError(f"{refused}: {given} is not a keyframe map (no {FORMAT_NAME} "
                         f"{MANIFEST}; it holds {_listing(full, names)}), so it is not replaced "
                         f"(choose {other}, or remove it yourself)")
    foreign = [n for n in names if n not in _MAP_ENTRIES and not n.startswith(".tmp-")]
    if foreign:
        raise InputError(f"{refused}: the map {given} also holds {_listing(full, foreign)}, "
                         "which no map build writes (a run folder or notes kept inside it?); "
                         "replacing the map would delete them, so it is not replaced (move "
                         f"them out of the map folder, or choose {other})")


def check_map_out(path: str, overwrite: bool) -> None:
    """The command line's check of a map folder to write (``--out MAP``, ``--overwrite``),
    before any work: `fileio.check_output_folder`'s rules, and with ``--overwrite`` only a
    keyframe map or an empty folder is replaced, as `MapWriter` will insist -- refused here in
    the command line's words (``--overwrite: MAP is not a keyframe map ...``) rather than the
    writer's (``MapWriter(overwrite=True): ...``). Raises `InputError`."""
    check_output_folder(path, overwrite, (MANIFEST,))
    _check_target(path, output_path(path), overwrite, cli=True)


def _check_partial(given: str, partial: str, resume: bool) -> None:
    """Refuse a ``MAP.partial`` that is not an unfinished map build (every `MapWriter` build
    folder has ``keyframes/`` from the start): it is deleted without ``resume`` and written into
    with it, so another file or folder of that name would be lost."""
    if not os.path.lexists(partial):
        return
    if not os.path.isdir(partial):
        raise InputError(f"MapWriter: {partial} (where a resumable build of {given} is made) "
                         "exists and is not a folder; remove it or choose another path")
    names = sorted(os.listdir(partial))
    if names and "keyframes" not in names:
        act = "resuming in" if resume else "deleting"
        raise InputError(f"MapWriter: {partial} (where a resumable build of {given} is made) is "
                         f"not an unfinished map build (no keyframes/; it holds "
                         f"{_listing(partial, names)}); not {act} it: move it away or choose "
                         "another path")


class _BuildRecords(collections.abc.Sequence):
    """The writer's keyframes as map-check records (`map_check.KeyframeRecord`), read back from
    the build folder when indexed (so that a large build keeps no images in memory)."""

    def __init__(self, writer: MapWriter) -> None:
        self.w = writer

    def __len__(self) -> int:
        return len(self.w.records)

    def __getitem__(self, index):  # type: ignore[override]
        from ..map_check import KeyframeRecord

        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        rec = self.w.records[index]
        bgr = cv2.imread(os.path.join(self.w.tmp, rec["image"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read keyframe image {os.path.join(self.w.tmp, rec['image'])}")
        depth = None
        if rec["depth"]:
            raw = cv2.imread(os.path.join(self.w.tmp, rec["depth"]), cv2.IMREAD_UNCHANGED)
            depth = np.where(raw > 0, raw.astype(np.float32) / np.float32(rec["depth_scale"]),
                             np.nan).astype(np.float32)
        return KeyframeRecord(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), depth, self.w.cams[index],
                              np.asarray(rec["map_from_cam"], np.float64).reshape(4, 4),
                              int(rec["stamp_ns"]), str(rec["id"]))


class MapWriter:
    """Builds a keyframe map folder atomically. Use as a context manager; `commit` publishes it.

    >>> with MapWriter("maps/kitchen") as w:
    ...     for rgb, intrinsics, map_from_cam, stamp_ns, depth_m in frames:
    ...         w.add_keyframe(rgb, intrinsics, map_from_cam, stamp_ns, depth_m)
    ...     w.check_consistency()      # optional: the check build-map runs (see below)
    ...     w.commit()

    ``path`` the map folder to create. It must not exist unless ``overwrite``; with it, ``path``
    may be an existing keyframe map (a folder whose ``manifest.json`` names this format) or an
    empty folder, which `commit` replaces whole. Anything else there -- a plain file, a folder
    with other content -- is refused even with ``overwrite``, as the CLI's ``--overwrite``
    refuses it, so a mistyped path never deletes other data. This is checked here, before any
    work, and again at `commit`. ``version`` the format written (1, 2 or 3); ``resumable`` /
    ``resume`` build in ``MAP.partial`` and keep it on failure (``resume`` continues one);
    ``index_params`` the retrieval indexes' kind; ``map_frame`` the frame the poses are in.

    One writer writes one map. After `commit`, after `abort`, and after its ``with`` block ended
    without a commit (by an exception or not; the build folder is then deleted, or for a
    resumable build kept in ``MAP.partial``), every further call raises `InputError` saying so:
    make a new `MapWriter`. Leaving the block without `commit` publishes nothing.

    Depth is float metres. `add_keyframe` refuses integer and bool depth (raw sensor units, a
    mask) and depth beyond 655 m, and logs a warning for a median depth beyond 50 m
    (centimetres?). A unit error that stays plausible (centimetres of a far scene, a wrong depth
    scale) or a pose convention error (inverted poses, the body frame instead of the camera's
    optical frame) shows only when keyframes are compared: that is the map consistency check
    (`mast3r_ros.core.map_check`) that ``build-map`` runs before writing. From Python, call
    `check_consistency` before `commit` (it raises `MapConsistencyError` naming the keyframes,
    the likely cause and the fix), or check a written map::

        from mast3r_ros.core.config import MapCheckConfig
        from mast3r_ros.core.keyframes import KeyframeMap
        from mast3r_ros.core.map_check import check_map

        report = check_map(KeyframeMap.load("maps/kitchen"), MapCheckConfig())
        report.raise_if_inconsistent()        # or: print(report.summary())

    (``mast3r-ros check-map MAP`` on the command line). `commit` does not run it: it reads back,
    and detects and matches ORB features in, every keyframe (about 70 ms per 640x480 keyframe on
    a small CPU, where a commit takes tens of ms in all).

    Raises `InputError`, before anything is written, for a ``path`` refused as above or that
    cannot be created, another version, or a ``MAP.partial`` that is not a map build.
    """

    def __init__(self, path: str, overwrite: bool = False, *, version: int = FORMAT_VERSION,
                 resumable: bool = False, resume: bool = False,
                 index_params: IndexParams = IndexParams(), map_frame: str = "map"):
        path = os.fspath(path)
        if not path.strip():
            raise InputError("MapWriter: the map path is empty (give a folder name)")
        # a link to a map folder: the folder it points to is replaced, the link kept
        self.path = output_path(path)
        self._given = path
        if version not in (1, 2, 3):
            raise InputError(f"map format version must be 1, 2 or 3, got {version}")
        _check_target(path, self.path, overwrite)
        check_can_create(path, "MapWriter path")
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
            _check_partial(path, self.tmp, resume)
            if os.path.isdir(self.tmp) and not resume:
                log.info("removing the unfinished build %s (pass --resume to continue it)",
                         self.tmp)
                shutil.rmtree(self.tmp)
            os.makedirs(os.path.join(self.tmp, "keyframes"), exist_ok=True)
        else:
            self.tmp = tempfile.mkdtemp(prefix=os.path.basename(self.path) + ".tmp-", dir=parent)
            os.makedirs(os.path.join(self.tmp, "keyframes"))
        self.records: List[Dict[str, Any]] = []
        self.cams: List[CameraIntrinsics] = []  # per record (the map check reads them)
        self.files: Dict[str, Dict[str, Any]] = {}
        self.thumbs: List[np.ndarray] = []
        self.encodings: List[Dict[str, Any]] = []
        self.extra: Dict[str, Any] = {}
        self.asmk: List[Dict[str, Any]] = []
        self.store_tables: Dict[Tuple[str, int], StoreTable] = {}  # (identity, size) -> chunks
        self._state = _OPEN
        self._closed_why = ""
        self._depth_warned = False

    @property
    def committed(self) -> bool:
        """True once `commit` has published the map."""
        return self._state == _COMMITTED

    def __enter__(self) -> MapWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._state != _OPEN:
            return
        how = (f"by {exc_type.__name__}" if exc_type is not None else "without an exception")
        if self.resumable:
            self._state = _CLOSED
            self._closed_why = (f"its with block ended {how} before commit; the unfinished build "
                                f"is kept in {self.tmp}: continue it with "
                                "MapWriter(path, resume=True)")
        else:
            self.abort()
            self._state = _CLOSED
            self._closed_why = (f"its with block ended {how} before commit and its build folder "
                                "was deleted")

    def _require_open(self, action: str) -> None:
        """`InputError` unless the writer can still build: one writer writes one map."""
        if self._state == _OPEN:
            return
        why = {_COMMITTED: f"is already committed (the map is published at {self.path})",
               _ABORTED: "was aborted (its build folder is deleted)"}.get(
                   self._state, f"is closed: {self._closed_why}")
        raise InputError(f"MapWriter for {self.path} {why}; cannot {action}: create a new "
                         "MapWriter to write another map")

    def _put(self, rel: str, data: bytes) -> None:
        full = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)
        self.files[rel] = {"sha256": sha256_hex(data), "bytes": len(data)}

    def add_keyframe(self, rgb: np.ndarray, intrinsics: CameraIntrinsics,
                     map_from_cam: np.ndarray, stamp_ns: int,
                     depth_m: Optional[np.ndarray] = None) -> int:
        """Store one keyframe; returns its index (0, 1, ... in insertion order), also its id.

        ``rgb`` (H, W, 3) uint8 RGB at the intrinsics' size (W x H); ``intrinsics`` its
        `CameraIntrinsics`; ``map_from_cam`` (4, 4) rigid transform, camera optical frame (x
        right, y down, z forward) -> ``map_frame``, translation in metres; ``stamp_ns`` the
        image stamp in integer nanoseconds; ``depth_m`` None or (H, W) float (16/32/64-bit)
        z-depth in metres registered to ``rgb``, NaN or <= 0 where there is none; it is stored
        as a uint16 PNG at 5000, 1000 or 100 units/m (the finest that holds its largest value).

        Raises `InputError`, storing nothing of the keyframe, for an image of another dtype,
        rank or size; a pose that is not a finite rigid transform; a ``stamp_ns`` that is not an
        integer (seconds as a float); a depth of another shape,
        of an integer or bool dtype (raw sensor units or a mask: for millimetres pass
        ``depth.astype(np.float32) / 1000``) or beyond 655 m; and after `commit` / `abort` / the
        end of the ``with`` block. Logs a warning (once per writer) for a keyframe whose median
        depth is beyond 50 m: centimetres passed as metres? (see `check_consistency`).
        """
        self._require_open("add a keyframe")
        kid = len(self.records)
        if not isinstance(intrinsics, CameraIntrinsics):
            raise InputError(f"keyframe {kid}: intrinsics must be a CameraIntrinsics(width, "
                             f"height, K, dist), got {type(intrinsics).__name__}")
        rgb = np.asarray(rgb)
        size = (intrinsics.width, intrinsics.height)
        if (rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8
                or size != (rgb.shape[1], rgb.shape[0])):
            raise InputError(f"keyframe {kid}: image {rgb.shape} {rgb.dtype} does not match its "
                             f"{intrinsics.width}x{intrinsics.height} intrinsics (expected "
                             f"({intrinsics.height}, {intrinsics.width}, 3) uint8 RGB)")
        h, w = rgb.shape[:2]
        stamp_ns = check_stamp_ns(stamp_ns, f"keyframe {kid}: stamp_ns")
        if not is_valid_pose(map_from_cam):
            raise InputError(f"keyframe {kid}: pose is not a finite rigid transform:\n"
                             f"{map_from_cam}")
        image_rel = f"keyframes/{kid:06d}.png"
        rec: Dict[str, Any] = {
            "id": kid, "stamp_ns": int(stamp_ns), "image": image_rel, "depth": None,
            "depth_scale": 0.0, "intrinsics": intrinsics_to_json(intrinsics),
            "map_from_cam": [float(v) for v in np.asarray(map_from_cam).reshape(-1)],
        }
        # every check and encoding first, so that a refused keyframe leaves nothing behind
        puts = [(image_rel, _encode_png(rgb))]
        if depth_m is not None:
            what = f"keyframe {kid}'s depth"
            depth = _float_depth(depth_m, what)
            if depth.shape != (h, w):
                raise InputError(f"{what} {depth.shape} does not match its image {(h, w)}: pass "
                                 "(H, W) z-depth registered to the image")
            data, scale = depth_to_png(depth, what)
            rec["depth"] = f"keyframes/{kid:06d}_depth.png"
            rec["depth_scale"] = scale
            puts.append((rec["depth"], data))
            self._warn_implausible_depth(depth, kid)
        thumb = thumbnail_descriptor(rgb)
        done: List[str] = []
        try:
            for rel, data in puts:
                self._put(rel, data)
                done.append(rel)
        except BaseException:  # a write failed (disk full): no half keyframe in the file table
            for rel in done:
                self.files.pop(rel, None)
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.tmp, rel))
            raise
        self.records.append(rec)
        self.cams.append(intrinsics)
        self.thumbs.append(thumb)
        return kid

    def _warn_implausible_depth(self, depth: np.ndarray, kid: int) -> None:
        if self._depth_warned:
            return
        med = _median_depth(depth)
        if med > PLAUSIBLE_MEDIAN_DEPTH_M:
            self._depth_warned = True
            log.warning("map %s: keyframe %d's depth has a median of %.0f m: centimetres passed "
                        "as metres? depth_m must be metres (divide by 100 for cm); ignore this "
                        "if the scene really is that far (MapWriter.check_consistency tells a "
                        "wrong depth unit from the keyframes' poses)", self.path, kid, med)

    def image_path(self, index: int) -> str:
        """Absolute path of keyframe ``index``'s PNG in the build folder (encoder workers)."""
        self._require_open("read the build folder")
        return os.path.join(self.tmp, self.records[index]["image"])

    def add_encodings(self, enc: EncodingSet, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        """Store cached encoder outputs (one per keyframe added, in order)."""
        self._require_open("add encodings")
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
        self._require_open("add an encoding store")
        full = os.path.join(self.tmp, encoding_folder(identity, image_size))
        os.makedirs(full, exist_ok=True)
        return full

    def add_encoding_store(self, identity: str, image_size: int, table: StoreTable,
                           global_desc: np.ndarray) -> None:
        """v2/v3: register a store written into `encoding_dir` (chunk files in ``table``) and
        index its pooled descriptors ``global_desc`` (K, C) float32 unit-norm."""
        self._require_open("add an encoding store")
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
        self._require_open("add an ASMK index")
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
        self._require_open("set a manifest field")
        if key in _RESERVED_KEYS:
            raise InputError(f"manifest field {key!r} is part of the map format")
        self.extra[key] = value

    def check_consistency(self, cfg: Optional[MapCheckConfig] = None, *, force: bool = False,
                          depth_units_per_m: Optional[float] = None) -> ConsistencyReport:
        """Run the map consistency check ``build-map`` runs
        (`mast3r_ros.core.map_check.check_keyframes`) on the keyframes added so far, in order,
        read back from the build folder: neighbouring keyframes' depth reprojected with their
        poses, and ORB matches. Opt-in (call it before `commit`); OpenCV geometry only, no
        network; about 70 ms per 640x480 keyframe on a small CPU.

        ``cfg`` the thresholds (default ``MapCheckConfig()``, the ``map_check.*`` defaults);
        ``depth_units_per_m`` the raw unit your depth came in (1000: millimetres), only to word
        the fix. The figures go into the manifest (``consistency``, as build-map stores them);
        returns the `ConsistencyReport` (``report.summary()`` one line). Raises
        `MapConsistencyError` (an `InputError`; one line naming the keyframes, the figures, the
        likely cause -- a depth unit, a pose convention -- and the fix) when the keyframes
        disagree, unless ``force``: the map then records that it was forced, and the localizer
        warns at every start (as after ``build-map --force``). A report ``unchecked`` (fewer
        than two keyframes, no depth, no overlap) is not an error."""
        self._require_open("check the keyframes")
        from ..config import MapCheckConfig
        from ..map_check import check_keyframes

        report = check_keyframes(_BuildRecords(self), cfg or MapCheckConfig(),
                                 depth_units_per_m=depth_units_per_m)
        figures = report.to_manifest()
        figures["forced"] = not report.ok  # committed anyway after the error: forced
        self.extra["consistency"] = figures
        report.settle(force, log)
        return report

    def commit(self) -> str:
        """Write the manifest and publish the folder at ``path`` (replacing the existing map
        there with ``overwrite``); returns the absolute path. Raises `InputError` when no
        keyframe was added, when ``path`` is now refused as the constructor says (something
        appeared there since), and when the writer is already committed, aborted or closed (a
        second commit would publish an empty folder over the map)."""
        self._require_open("commit")
        if not self.records:
            raise InputError("no keyframes were added: the source had no usable frames")
        _check_target(self._given, self.path, self.overwrite)  # again: it may have changed
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
        os.chmod(self.tmp, 0o777 & ~_umask())  # mkdtemp's 0700 kept other users out of the map
        replace_folder(self.tmp, self.path)  # an old map is renamed aside, restored on failure
        self._state = _COMMITTED
        _fsync_dir(os.path.dirname(self.path))
        log.info("wrote map %s (%d keyframes)", self.path, len(self.records))
        return self.path

    def abort(self) -> None:
        """Delete the build folder (``MAP.partial`` too) and close the writer; ``path`` is left
        as it was. Does nothing after `commit` (the map is published) or a second time."""
        if self._state == _COMMITTED:
            return
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self._state == _OPEN:
            self._state = _ABORTED


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
