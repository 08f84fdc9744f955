"""Writing a keyframe map folder atomically (`MapWriter`, `write_map`).

Atomicity: `MapWriter` writes into a sibling folder ``MAP.tmp-m3r-XXXX`` (``MAP.partial`` for a
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

Layout: the rules for the folder a map is published at in ``target.py`` (`check_map_out`), the
PNG encoding of images and depth in ``pixels.py`` (`depth_to_png`), the encodings, stores and ASMK
files in ``writer_encodings.py`` (`WriterEncodings`, a base of `MapWriter`), keyframes added from
their PNG files' bytes in ``writer_pngs.py`` (`WriterPngs`, a base too), the build and its
commit here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..encoding_store import StoreTable
from ..errors import InputError
from ..durable import _umask, flush_before_publish, fsync_dir
from ..fileio import (
    acquire_output_lock,
    atomic_write_json,
    check_can_create,
    make_parent_folders,
    make_temporary_sibling,
    output_path,
    publish_folder,
)
from ..geometry import finite_pose, is_valid_pose, non_rigid_reason
from ..message_fields import frame_id_problem
from ..retrieval import THUMBNAIL_KIND, thumbnail_descriptor
from ..retrieval_index import IndexParams
from ..types import CameraIntrinsics, check_stamp_ns
from .layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    THUMBNAIL_INDEX,
    intrinsics_to_json,
    npz_bytes,
    sha256_hex,
)
from .pixels import (_BuildRecords, _encode_png, _float_depth, _median_depth,
                     _refuse_negative_depth, depth_to_png)
from .repeats import SeenFrames
from .table import (
    KEYFRAME_TABLE,
    build_keyframe_table,
    parse_image_name,
    write_keyframe_table,
)
from .target import (UnfinishedBuildError, _check_partial, _check_target, check_map_out,
                     dropped_encodings, finished_shards)
from .writer_encodings import WriterEncodings
from .writer_pngs import WriterPngs

if TYPE_CHECKING:
    from ..config import MapCheckConfig
    from ..map_check import ConsistencyReport
    from ..map_check import KeyframeRecord as MapCheckRecord

log = logging.getLogger(__name__)

# A keyframe whose median valid depth is beyond this is logged as a likely unit mistake
# (centimetres passed as metres): RGB-D sensors see to ~10 m, and stereo or lidar depth rarely
# has its median this far. A warning only: an aerial or street scene may really be that far.
PLAUSIBLE_MEDIAN_DEPTH_M = 50.0

# writer states (`MapWriter._state`)
_OPEN, _COMMITTED, _ABORTED, _CLOSED = "open", "committed", "aborted", "closed"

_RESERVED_KEYS = frozenset(("format", "version", "keyframes", "retrieval", "encodings", "files",
                            "map_frame", "asmk", "keyframe_table"))

__all__ = ["PLAUSIBLE_MEDIAN_DEPTH_M", "MapWriter", "check_map_out", "depth_to_png", "write_map"]


class MapWriter(WriterEncodings, WriterPngs):
    """Builds a keyframe map folder atomically. Use as a context manager; `commit` publishes it.

    >>> with MapWriter("maps/kitchen") as w:
    ...     for rgb, intrinsics, map_from_cam, stamp_ns, depth_m in frames:
    ...         w.add_keyframe(rgb, intrinsics, map_from_cam, stamp_ns, depth_m)
    ...     w.check_consistency()      # optional: the check build-map runs (see below)
    ...     w.commit()

    `add_keyframe_png` adds a keyframe from its PNG files' bytes instead, written as they are
    (merge-maps copies keyframes so: no decode and re-encode).

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

    One writer per map: the writer holds ``path``'s output lock (`fileio.acquire_output_lock`,
    ``MAP.lock`` beside it) from here until `commit`, `abort`, `close` or the end of its
    ``with`` block, so a second writer of ``path`` -- another process, or this one -- is
    refused before it deletes or writes anything.

    Raises `InputError`, before anything is written, for a ``path`` refused as above or that
    cannot be created, another version, or a ``MAP.partial`` that is not a map build;
    `fileio.OutputBusyError` (an `InputError`) when another writer holds ``path``'s lock; and
    `UnfinishedBuildError` (an `InputError`) for a ``MAP.partial`` holding encoded shards
    without ``resume`` (continue it) or ``restart`` (delete it and start over; a build folder
    with keyframe images only is started over without either). ``restart`` None (the default)
    lets ``overwrite`` delete it too; False keeps ``overwrite`` to replacing the map at ``path``
    (``build-map``: a rerun of an interrupted ``--overwrite`` build must not discard its
    shards).
    """

    def __init__(self, path: str, overwrite: bool = False, *, version: int = FORMAT_VERSION,
                 resumable: bool = False, resume: bool = False,
                 index_params: IndexParams = IndexParams(), map_frame: str = "map",
                 restart: Optional[bool] = None):
        path = os.fspath(path)
        if not path.strip():
            raise InputError("MapWriter: the map path is empty (give a folder name)")
        # a link to a map folder: the folder it points to is replaced, the link kept
        self.path = output_path(path)
        self._given = path
        if version not in (1, 2, 3):
            raise InputError(f"map format version must be 1, 2 or 3, got {version}")
        why = frame_id_problem(map_frame)
        if why:
            raise InputError(f"map_frame must be a frame name: {why} (build-map: the "
                             "map_frame of --params, default 'map')")
        _check_target(path, self.path, overwrite)
        check_can_create(path, "MapWriter path")
        make_parent_folders(path)
        self.overwrite = overwrite
        self.version = version
        self.index_params = index_params
        self.map_frame = map_frame
        # resumable: a fixed build folder that survives a kill (``--resume`` picks it up)
        self.resumable = resumable or resume
        # one writer per map: held until commit, abort or the end of the with block
        self._lock = acquire_output_lock(path, "MapWriter path")
        try:
            self._start_build(path, overwrite if restart is None else restart, resume)
        except BaseException:
            self._lock.release()
            raise
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
        self._empty_depth_warned = False
        self._seen = SeenFrames()  # the frames added, to refuse one added twice (repeats.py)

    def _start_build(self, given: str, restart: bool, resume: bool) -> None:
        """Make the build folder (under the lock). A ``MAP.partial`` holding encoded shards is
        deleted only with ``restart`` (`UnfinishedBuildError` otherwise: hours of encoding
        are not lost to a forgotten ``resume``)."""
        _check_target(given, self.path, self.overwrite)  # again, under the lock
        if not self.resumable:
            self.tmp = make_temporary_sibling(self.path)
            os.makedirs(os.path.join(self.tmp, "keyframes"))
            return
        self.tmp = self.path + ".partial"
        _check_partial(given, self.tmp, resume)
        if os.path.isdir(self.tmp) and not resume:
            done = finished_shards(self.tmp)
            if done and not restart:
                raise UnfinishedBuildError(
                    f"MapWriter: {self.tmp} holds an unfinished build of {given} with {done} "
                    "encoded shard(s); pass resume=True to continue it, or restart=True to "
                    "delete it and start over", self.tmp, done)
            (log.warning if done else log.info)(
                "removing the unfinished build %s%s", self.tmp,
                f" and its {done} encoded shard(s) (restart)" if done else
                " (no encoded shard; resume continues one)")
            shutil.rmtree(self.tmp)
        os.makedirs(os.path.join(self.tmp, "keyframes"), exist_ok=True)

    @property
    def committed(self) -> bool:
        """True once `commit` has published the map."""
        return self._state == _COMMITTED

    def __enter__(self) -> MapWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._lock.release()
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

    def _put(self, rel: str, data: bytes, sha256: Optional[str] = None) -> None:
        """Write ``data`` to ``rel`` in the build folder and list it with its ``sha256`` (hex;
        None: computed here)."""
        full = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)
        self.files[rel] = {"sha256": sha256 or sha256_hex(data), "bytes": len(data)}

    def add_keyframe(self, rgb: np.ndarray, intrinsics: CameraIntrinsics,
                     map_from_cam: np.ndarray, stamp_ns: int,
                     depth_m: Optional[np.ndarray] = None) -> int:
        """Store one keyframe; returns its index (0, 1, ... in insertion order), also its id.

        ``rgb`` (H, W, 3) uint8 RGB at the intrinsics' size (W x H); ``intrinsics`` its
        `CameraIntrinsics`; ``map_from_cam`` (4, 4) rigid transform, camera optical frame (x
        right, y down, z forward) -> ``map_frame``, translation in metres; ``stamp_ns`` the
        image stamp in integer nanoseconds; ``depth_m`` None or (H, W) float (16/32/64-bit)
        z-depth in metres registered to ``rgb``, NaN or <= 0 where there is none ((H, W, 1)
        is taken as its (H, W) view, as `Frame` takes it); it is stored
        as a uint16 PNG at 5000, 1000 or 100 units/m (the finest that holds its largest value).

        Raises `InputError`, storing nothing of the keyframe, for ``intrinsics`` that are not
        a `CameraIntrinsics`; an image of another dtype, rank or size; a pose that is not a
        finite rigid transform; a ``stamp_ns`` that is not an integer (seconds as a float) or
        outside int64; a depth of another shape, of an integer or bool dtype (raw sensor units
        or a mask: for millimetres pass ``depth.astype(np.float32) / 1000``) or beyond 655 m;
        and after `commit` / `abort` / the end of the ``with`` block; a frame added before
        (an earlier keyframe's stamp and image: `repeats`); a depth with no positive
        pixel, negative in most and of varying values (an OpenGL depth buffer's -z: negate it).
        Logs a warning (once per writer) for a keyframe whose median depth is beyond 50 m:
        centimetres passed as metres? (see `check_consistency`), and one for a depth with no
        valid pixel.
        """
        self._require_open("add a keyframe")
        kid = len(self.records)
        rec = self._new_record(kid, intrinsics, map_from_cam, stamp_ns)
        rgb = np.asarray(rgb)
        size = (intrinsics.width, intrinsics.height)
        if (rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8
                or size != (rgb.shape[1], rgb.shape[0])):
            raise InputError(f"keyframe {kid}: image {rgb.shape} {rgb.dtype} does not match its "
                             f"{intrinsics.width}x{intrinsics.height} intrinsics (expected "
                             f"({intrinsics.height}, {intrinsics.width}, 3) uint8 RGB)")
        h, w = rgb.shape[:2]
        # every check and encoding first, so that a refused keyframe leaves nothing behind
        puts = [(rec["image"], _encode_png(rgb))]
        self._seen.refuse_repeat(self.records, self.files, kid, rec["stamp_ns"], puts[0][1])
        if depth_m is not None:
            what = f"keyframe {kid}'s depth"
            depth = _float_depth(depth_m, what)
            if depth.ndim == 3 and depth.shape[2] == 1:  # one channel, as `Frame` takes it
                depth = depth[:, :, 0]
            if depth.shape != (h, w):
                raise InputError(f"{what} {depth.shape} does not match its image {(h, w)}: pass "
                                 "(H, W) z-depth registered to the image")
            _refuse_negative_depth(depth, what)
            data, scale = depth_to_png(depth, what)
            rec["depth"] = f"keyframes/{kid:06d}_depth.png"
            rec["depth_scale"] = scale
            puts.append((rec["depth"], data))
            self._warn_implausible_depth(depth, kid)
        return self._store(rec, puts, thumbnail_descriptor(rgb), intrinsics)

    def _new_record(self, kid: int, intrinsics: CameraIntrinsics, map_from_cam: np.ndarray,
                    stamp_ns: int, where: str = "") -> Dict[str, Any]:
        """Keyframe ``kid``'s manifest record (no depth yet), its intrinsics, stamp and pose
        checked (`InputError` naming ``where``, default "keyframe KID")."""
        where = where or f"keyframe {kid}"
        if not isinstance(intrinsics, CameraIntrinsics):
            raise InputError(f"{where}: intrinsics must be a CameraIntrinsics(width, "
                             f"height, K, dist), got {type(intrinsics).__name__}")
        stamp_ns = check_stamp_ns(stamp_ns, f"{where}: stamp_ns")
        if abs(stamp_ns) > 2 ** 63 - 1:  # the keyframe table's int64 column, `Frame`'s range
            raise InputError(f"{where}: stamp_ns {stamp_ns} is outside int64 nanoseconds "
                             "(|stamp| <= 2**63 - 1); pass nanoseconds, not a finer unit")
        # a 3x4 [R|t] or a flat 16 is named by its shape, a NaN by its entries, a scale or a
        # reflection by what is wrong (the checks message_fields.matrix_to_tq makes)
        pose = finite_pose(map_from_cam, f"{where}: pose map_from_cam")
        if not is_valid_pose(pose):
            raise InputError(f"{where}: pose map_from_cam is not a rigid transform: "
                             f"{non_rigid_reason(pose)}\n{pose}")
        return {"id": kid, "stamp_ns": int(stamp_ns), "image": f"keyframes/{kid:06d}.png",
                "depth": None, "depth_scale": 0.0, "intrinsics": intrinsics_to_json(intrinsics),
                "map_from_cam": [float(v) for v in np.asarray(map_from_cam).reshape(-1)]}

    def _store(self, rec: Dict[str, Any], puts: List[tuple], thumb: np.ndarray,
               intrinsics: CameraIntrinsics) -> int:
        """Write a checked keyframe's files and add its record; on a failed write (disk full)
        nothing of it stays in the file table or the build folder."""
        done: List[str] = []
        try:
            for rel, data, *digest in puts:  # (rel, bytes[, their sha256 hex or None])
                self._put(rel, data, *digest)
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
        return rec["id"]

    def _warn_implausible_depth(self, depth: np.ndarray, kid: int) -> None:
        if not self._empty_depth_warned and not (np.isfinite(depth) & (depth > 0)).any():
            # all 0 or NaN: a wrong topic or a blinded sensor; the map check and the sift
            # matcher would only say that nothing overlaps or matches
            self._empty_depth_warned = True
            log.warning("map %s: keyframe %d's depth has no valid pixel (every value 0, NaN "
                        "or negative): it gives no 3-D point to the sift matcher, "
                        "points_source 'depth' or the map check; is it the right depth image?",
                        self.path, kid)
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

    def keyframe_records(self) -> Sequence[MapCheckRecord]:
        """The keyframes added so far as map-check records (`map_check.KeyframeRecord`, full
        size), read back from the build folder when indexed: a large build keeps no image in
        memory for its check, and checks the depth it stores (uint16 PNG) as check-map does."""
        self._require_open("read the build folder")
        return _BuildRecords(self)

    def set_manifest_field(self, key: str, value: Any) -> None:
        """Store an extra JSON-ready top-level manifest field (e.g. ``consistency``, the map
        check's figures). Raises `InputError` for a key the format itself uses."""
        self._require_open("set a manifest field")
        if key in _RESERVED_KEYS:
            raise InputError(f"manifest field {key!r} is part of the map format")
        self.extra[key] = value

    def check_consistency(self, cfg: Optional[MapCheckConfig] = None, *, force: bool = False,
                          depth_units_per_m: Optional[float] = None,
                          pose_suspect: Optional[str] = None) -> ConsistencyReport:
        """Run the map consistency check ``build-map`` runs
        (`mast3r_ros.core.map_check.check_keyframes`) on the keyframes added so far, in order,
        read back from the build folder: neighbouring keyframes' depth reprojected with their
        poses, and ORB matches. Opt-in (call it before `commit`); OpenCV geometry only, no
        network; about 70 ms per 640x480 keyframe on a small CPU.

        ``cfg`` the thresholds (default ``MapCheckConfig()``, the ``map_check.*`` defaults);
        ``depth_units_per_m`` the raw unit your depth came in (1000: millimetres), only to word
        the fix; ``pose_suspect`` what else places the camera on your poses (e.g. "T_BS in
        sensor.yaml"), named where a pose convention would explain a failure and kept for
        check-map. The figures go into the manifest (``consistency``, as build-map stores them);
        returns the `ConsistencyReport` (``report.summary()`` one line). Raises
        `MapConsistencyError` (an `InputError`; one line naming the keyframes, the figures, the
        likely cause -- a depth unit, a pose convention -- and the fix) when the keyframes
        disagree, unless ``force``: the map then records that it was forced, and the localizer
        warns at every start (as after ``build-map --force``). A report ``unchecked`` (fewer
        than two keyframes, no depth, no overlap) is not an error."""
        self._require_open("check the keyframes")
        from ..config import MapCheckConfig
        from ..map_check import check_keyframes

        report = check_keyframes(self.keyframe_records(), cfg or MapCheckConfig(),
                                 depth_units_per_m=depth_units_per_m, pose_suspect=pose_suspect)
        figures = report.to_manifest()
        figures["forced"] = not report.ok  # committed anyway after the error: forced
        figures["depth_units_per_m"] = depth_units_per_m  # check-map words its fix with it
        if pose_suspect:
            figures["pose_suspect"] = pose_suspect  # and names it
        self.extra["consistency"] = figures
        report.settle(force, log)
        return report

    def commit(self, on_published: Optional[Callable[[str], None]] = None) -> str:
        """Write the manifest and publish the folder at ``path`` (replacing the existing map
        there with ``overwrite``); returns the absolute path. ``on_published(path)`` runs once
        the map is renamed into place, before ``path``'s lock is released (also when it
        raises; no other writer of ``path`` yet: build-map deletes its resume markers there).
        Raises `InputError` when no
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
        if self.resumable:
            self._drop_unlisted_images()
        atomic_write_json(os.path.join(self.tmp, MANIFEST), manifest)
        # every file's bytes on disk before it is published; an OSError names the path given
        flush_before_publish(self.tmp, self._given)
        os.chmod(self.tmp, 0o777 & ~_umask())  # mkdtemp's 0700 kept other users out of the map
        dropped = dropped_encodings(self.path, self.encodings)  # said once the map is replaced
        try:
            # with overwrite an old map is renamed aside, restored on failure; without, a map
            # folder made or filled since the check above is left as it is
            if not publish_folder(self.tmp, self.path, self.overwrite):
                raise InputError(f"MapWriter: {self._given} appeared or was written into while "
                                 "the map was built; not replacing it without overwrite")
        finally:  # published once renamed, even if a Ctrl-C cuts the old map's deletion short
            if not os.path.lexists(self.tmp):
                self._state = _COMMITTED
        if dropped:
            log.warning("the map replaced at %s cached encodings this one does not (checkpoint "
                        "%s): the first localize with such a checkpoint recomputes them",
                        self.path, ", ".join(dropped))
        try:
            if on_published is not None:
                on_published(self.path)
        finally:  # a stop in it: the map is published, its lock released as ever
            self._lock.release()
        fsync_dir(os.path.dirname(self.path))
        n = len(self.records)
        log.info("wrote map %s (%d keyframe%s)", self.path, n, "" if n == 1 else "s")
        return self.path

    def _drop_unlisted_images(self) -> None:
        """A resumed build folder may hold the PNGs of another keyframe selection (a refused
        ``--resume`` with other ``map_build`` settings wrote them): publish none unlisted."""
        folder = os.path.join(self.tmp, "keyframes")
        for name in os.listdir(folder):
            full = os.path.join(folder, name)
            if f"keyframes/{name}" not in self.files:
                shutil.rmtree(full) if os.path.isdir(full) else os.unlink(full)

    def abort(self) -> None:
        """Delete the build folder (``MAP.partial`` too) and close the writer; ``path`` is left
        as it was. Does nothing after `commit` (the map is published) or a second time."""
        if self._state == _COMMITTED:
            return
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._lock.release()
        if self._state == _OPEN:
            self._state = _ABORTED

    def close(self) -> None:
        """End the build without publishing, keeping a resumable build folder (``MAP.partial``)
        for ``resume``, else deleting it; releases the writer's lock on ``path``. As the end of
        a ``with`` block without commit; nothing after a commit or abort."""
        self.__exit__(None, None, None)


def write_map(path: str, keyframes: Sequence[Tuple[np.ndarray, CameraIntrinsics, np.ndarray, int,
                                                   Optional[np.ndarray]]],
              overwrite: bool = False, version: int = FORMAT_VERSION) -> str:
    """Write (rgb, intrinsics, map_from_cam, stamp_ns, depth_m) tuples, as
    `MapWriter.add_keyframe` takes them, as a map at ``path``; returns its absolute path. No
    consistency check (`MapWriter.check_consistency`). Raises as `MapWriter`, `add_keyframe`
    and `commit` (`InputError`, none or no keyframes too; nothing is published then)."""
    with MapWriter(path, overwrite=overwrite, version=version) as w:
        for rgb, cam, pose, stamp, depth in keyframes:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        return w.commit()
