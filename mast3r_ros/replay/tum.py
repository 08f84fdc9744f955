"""TUM RGB-D style folders and TUM trajectory files, without ROS.

A folder holds ``rgb.txt`` and optionally ``depth.txt`` (``timestamp path`` per line, paths relative
to the folder), ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``: the camera pose in the map
frame, ``map_from_cam``, metres) and ``camera.yaml`` (any file ``--camera-info`` takes:
`load_camera_info_yaml`, e.g. a ROS camera_info YAML). Lines starting with ``#`` are comments.
Depth PNGs are uint16 with 5000 units per metre, 0 = invalid.

Text files are read as UTF-8 with an optional byte-order mark, any line ends (LF, CRLF, CR);
blank lines and comments (from a ``#`` at the start of a line or after white space, to the end
of the line) are skipped anywhere in the file. Timestamps are seconds, except that an integer
(no decimal point, no exponent) greater than 1e12 is read as integer nanoseconds (EuRoC / SLAM
output): 1e12 s is 31,700 years, while 1e12 ns is 17 minutes after the 1970 epoch, so the two
cannot be confused for any real recording. A file must use one unit throughout; a stamp out of
range (beyond +-292 years from the epoch once in nanoseconds), non-finite or in the other unit
than the file's first stamp is refused with the file, the line and the reason.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import decimal
import logging
import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from ..core.config import PoseAtStampConfig
from ..core.errors import ImageSizeError, InputError
from ..core.durable import fsync_dir, mkstemp_public
from ..core.image_codec.camera_info_yaml import CALIBRATION_FILES
from ..core.image_codec import (
    check_depth_scale,
    check_image_file_intact,
    depth_to_metres,
    load_camera_info_yaml,
    read_image_file,
)
from ..core.trajectory import (check_pose_rule, check_stamped_poses, clock_reset_note,
                               frame_spacing_unit_mismatch, nearest_indices, poses_at_stamps,
                               stamp_unit_mismatch)
from ..core.types import (CameraIntrinsics, Frame, RecordedFrame, UnreadableFrame,
                          check_camera_info_arg)
from .tum_paths import listed_file

log = logging.getLogger(__name__)

TUM_DEPTH_UNITS_PER_M = 5000.0
TRAJECTORY_LAYOUT = "timestamp tx ty tz qx qy qz qw"
_TRAJECTORY_HEADER = f"# {TRAJECTORY_LAYOUT}\n"

PathLike = str | os.PathLike


_NS_INTEGER_THRESHOLD = 10**12  # an integer stamp above this is nanoseconds (see module doc)
_INT64_MAX = 2**63 - 1


def _parse_stamp(token: str) -> Tuple[int, str]:
    """A TUM stamp token -> (integer nanoseconds, unit 's' or 'ns'), exactly (no float rounding).

    Integers greater than 1e12 are nanoseconds; anything else is seconds. Raises ValueError with
    the reason for a non-number, a non-finite value or a stamp outside the int64 nanosecond range.
    """
    plain = token.lstrip("+-")
    if plain.isdigit() and int(plain) > _NS_INTEGER_THRESHOLD:
        stamp_ns, unit = int(token), "ns"
    else:
        try:
            value = decimal.Decimal(token)
        except decimal.InvalidOperation:
            raise ValueError(f"timestamp {token!r} is not a number") from None
        if not value.is_finite():
            raise ValueError(f"timestamp {token!r} is not finite")
        scaled = value.scaleb(9)
        if abs(scaled) > _INT64_MAX and plain.isdigit():  # 9.2e9 .. 1e12: seconds by the rule
            raise ValueError(
                f"timestamp {token!r} is out of range as seconds (more than 292 years from the "
                "epoch); integers are read as nanoseconds only above 1e12 (17 minutes after the "
                f"epoch): write nanoseconds below that in seconds ({_format_stamp(int(token))})"
            )
        if abs(scaled) > _INT64_MAX:
            raise ValueError(
                f"timestamp {token!r} s is out of range (more than 292 years from the epoch); "
                "nanosecond stamps must be written as integers"
            )
        stamp_ns = int(scaled.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
        unit = "s"
    if abs(stamp_ns) > _INT64_MAX:
        raise ValueError(f"timestamp {token!r} ns is out of range (more than 292 years)")
    return stamp_ns, unit


def _parse_stamp_ns(token: str) -> int:
    """A TUM stamp token -> integer nanoseconds (see ``_parse_stamp``)."""
    return _parse_stamp(token)[0]


def _strip_comment(line: str) -> str:
    """The line without its comment: from a '#' at the start or after white space."""
    for index, char in enumerate(line):
        if char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def _format_stamp(stamp_ns: int) -> str:
    sign = "-" if stamp_ns < 0 else ""
    seconds, nanoseconds = divmod(abs(int(stamp_ns)), 1_000_000_000)
    return f"{sign}{seconds}.{nanoseconds:09d}"


def _drop_repeated_lines(path: Path, stamps_ns: np.ndarray, rows: List[List[str]]
                         ) -> Tuple[np.ndarray, List[List[str]]]:
    """The rows without those that repeat an earlier row's stamp and file name (a line pasted
    twice: the same frame would be read twice), with a warning naming the first; images that
    only share a stamp are kept."""
    seen: set = set()
    keep = []
    for stamp, row in zip(stamps_ns.tolist(), rows):
        key = (stamp, row[0])
        keep.append(key not in seen)
        seen.add(key)
    dropped = len(rows) - sum(keep)
    if dropped:
        first = next(i for i, k in enumerate(keep) if not k)
        log.warning("%s: %d line(s) repeat an earlier line's timestamp and file (first: '%s %s'); "
                    "each image is read once", path, dropped, _format_stamp(stamps_ns[first]),
                    rows[first][0])
        stamps_ns = stamps_ns[np.asarray(keep)]
        rows = [r for r, k in zip(rows, keep) if k]
    _warn_shared(path, [(int(t), r[0]) for t, r in zip(stamps_ns.tolist(), rows)])
    return stamps_ns, rows


def _warn_shared(path: Path, lines: List[Tuple[int, str]]) -> None:
    """A warning for two images at one timestamp (both localized, scored against one
    ground-truth pose, two trajectory entries at one stamp) and one for an image listed at two
    timestamps (the same picture localized twice): rgb.txt was edited or generated wrongly."""
    for key, other, what in ((0, 1, "timestamp(s) are given to two or more images"),
                             (1, 0, "image(s) are listed at two or more timestamps")):
        first: dict = {}
        shared = []
        for line in lines:
            seen = first.setdefault(line[key], line)
            if seen[other] != line[other]:
                shared.append((seen, line))
        if shared:
            (t1, f1), (t2, f2) = shared[0]
            log.warning("%s: %d %s (first: '%s %s' and '%s %s'); each line is localized and "
                        "scored on its own: check the file", path,
                        len({a[key] for a, _ in shared}), what,
                        _format_stamp(t1), f1, _format_stamp(t2), f2)


def folder_instead_of_file(path: Path, layout: str = TRAJECTORY_LAYOUT) -> str:
    """The refusal of a folder ``path`` given where a text file of ``layout`` goes; for a
    trajectory it names the folder's own groundtruth.txt, or its parent's, where one exists."""
    path = Path(path)
    example = ""
    if layout == TRAJECTORY_LAYOUT:
        near = [p / "groundtruth.txt" for p in (path, path.parent)]
        found = [str(p) for p in near if p.is_file()]
        example = f" (e.g. {found[0]})" if found else " (e.g. a TUM folder's groundtruth.txt)"
    return f"{path} is a folder, not a text file of '{layout}': give the file itself{example}"


def _read_numbered_rows(
    path: Path, columns: int, layout: str
) -> Tuple[np.ndarray, List[List[str]], List[int], str]:
    """``_read_rows`` plus the 1-based line number of each row and the file's stamp unit ('s',
    'ns': integers above 1e12; '' for no row)."""
    if path.is_dir():  # a TUM folder given where its file goes (--groundtruth, --trajectory)
        raise InputError(folder_instead_of_file(path, layout))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path} is not a UTF-8 text file (byte {err.start}: {err.reason}); save it as UTF-8"
        ) from None
    stamps: List[int] = []
    rows: List[List[str]] = []
    linenos: List[int] = []
    file_unit = ""
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw_line.replace("\ufeff", "")).strip()
        if not line:
            continue
        fields = line.split()
        try:
            if len(fields) != columns:
                n = len(fields)
                raise ValueError(f"{n} column{'' if n == 1 else 's'}" + (
                    ": the values are separated by commas; TUM files separate them by "
                    "whitespace (spaces or tabs)" if "," in line else ""))
            stamp, unit = _parse_stamp(fields[0])
        except (ValueError, ArithmeticError) as err:
            raise InputError(
                f"{path}:{lineno}: expected '{layout}', got {line!r} ({err})"
            ) from None
        file_unit = file_unit or unit
        if unit != file_unit:
            first = "nanoseconds" if file_unit == "ns" else "seconds"
            raise InputError(
                f"{path}:{lineno}: timestamp {fields[0]!r} is in "
                f"{'nanoseconds' if unit == 'ns' else 'seconds'} but the file's first stamp is in "
                f"{first}; use one unit throughout"
            )
        stamps.append(stamp)
        rows.append(fields[1:])
        linenos.append(lineno)
    if file_unit == "ns":
        log.info("%s: integer stamps > 1e12 read as nanoseconds", path)
    return np.asarray(stamps, dtype=np.int64).reshape(-1), rows, linenos, file_unit


def _read_rows(path: Path, columns: int, layout: str) -> Tuple[np.ndarray, List[List[str]]]:
    """Data lines of a whitespace-separated file -> (stamps_ns int64, other columns).

    UTF-8 with or without a BOM, any line ends, comments anywhere (see the module docstring);
    stamps in seconds, or integer nanoseconds when > 1e12. Raises InputError with ``path:line``
    and the reason for an unreadable file, a wrong column count or a bad stamp.
    """
    stamps, rows, _, _ = _read_numbered_rows(path, columns, layout)
    return stamps, rows


def read_tum_trajectory(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """`read_tum_trajectory_and_unit` without the unit."""
    stamps, poses, _ = read_tum_trajectory_and_unit(path)
    return stamps, poses


_POSE_COLUMNS = ("tx", "ty", "tz", "qx", "qy", "qz", "qw")


def read_tum_trajectory_and_unit(path: PathLike) -> Tuple[np.ndarray, np.ndarray, str]:
    """Read and fully validate a TUM trajectory -> (stamps_ns int64 (N,), poses float64
    (N, 4, 4), the unit its stamps were written in: 's', 'ns' for integers above 1e12, '' when
    it has no pose).

    Each line is ``timestamp tx ty tz qx qy qz qw`` (metres, unit quaternion x y z w); the pose
    is ``map_from_cam`` for ground truth and estimates alike. Stamps are seconds, or integer
    nanoseconds when > 1e12 (see the module docstring). Every line is checked before anything is
    returned, so a caller (e.g. ``localize --groundtruth``) can read the file before it starts work.

    Raises:
        InputError: ``path:line`` and the reason for the first bad line (column count, stamp out
            of range or in mixed units, a non-numeric or non-finite value, a quaternion whose
            norm is not 1 within 1e-2), or an unreadable / non-UTF-8 file.
    """
    path = Path(path)
    layout = TRAJECTORY_LAYOUT
    stamps, rows, linenos, unit = _read_numbered_rows(path, 8, layout)
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    if not rows:
        return stamps, poses, unit
    values = np.empty((len(rows), 7))
    for i, (row, lineno) in enumerate(zip(rows, linenos)):
        try:
            values[i] = [float(v) for v in row]
        except ValueError as err:
            raise InputError(f"{path}:{lineno}: expected '{layout}', non-numeric value ({err})"
                             ) from None
    norms = np.linalg.norm(values[:, 3:], axis=1)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1) | (np.abs(norms - 1.0) > 1e-2))
    if bad.size:
        i = bad[0]
        where = f"{path}:{linenos[i]}: pose {i + 1} (timestamp {_format_stamp(stamps[i])})"
        nonfinite = np.flatnonzero(~np.isfinite(values[i]))
        if nonfinite.size:  # name the column: its quaternion's norm is no clue then
            col = nonfinite[0]
            raise InputError(f"{where} has a non-finite {_POSE_COLUMNS[col]} "
                             f"({rows[i][col]}); every value must be a finite number")
        raise InputError(f"{where} has a quaternion of norm {norms[i]:.6f} "
                         "instead of 1 (qx qy qz qw)")
    poses[:, :3, :3] = Rotation.from_quat(values[:, 3:]).as_matrix()
    poses[:, :3, 3] = values[:, :3]
    return stamps, poses, unit


def write_tum_trajectory(path: PathLike, stamps_ns: np.ndarray, poses: np.ndarray) -> None:
    """Write (N,) integer-nanosecond stamps and (N, 4, 4) poses as a TUM trajectory, atomically.

    The poses are written as given; this package passes ``map_from_cam`` (the camera pose in
    the map frame, TUM's convention). Timestamps are written in seconds with 9 decimals;
    quaternions as x y z w with w >= 0. The file is written to a temporary file in the same
    folder and renamed over ``path``. Raises `InputError` unless the stamps are (N,) integers
    and the poses finite (N, 4, 4).
    """
    path = Path(path)
    stamps, poses = check_stamped_poses(stamps_ns, poses, "write_tum_trajectory")
    quats = Rotation.from_matrix(poses[:, :3, :3]).as_quat() if stamps.size else np.zeros((0, 4))
    quats[quats[:, 3] < 0] *= -1.0
    lines = [_TRAJECTORY_HEADER]
    for stamp, pose, quat in zip(stamps, poses, quats):
        values = " ".join(repr(float(v)) for v in (*pose[:3, 3], *quat))
        lines.append(f"{_format_stamp(int(stamp))} {values}\n")
    _write_atomic(path, "".join(lines))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = mkstemp_public(str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(str(path.parent))  # the rename itself


class TumSequence:
    """A TUM RGB-D style folder as a sequence of ``Frame`` (random access and iteration).

    Intrinsics come from ``camera_info`` when given (``camera_info_name``: how messages name it,
    e.g. ``"--camera-info cam.yaml"``), else from the folder's ``camera.yaml``. Depth
    is associated with each rgb stamp by the nearest stamp within ``sync_tolerance_s``; ground
    truth by the one pose-at-stamp rule (`mast3r_ros.core.trajectory`) with ``pose_at_stamp``'s
    tolerance and maximum gap (the config defaults when None). Frames without a match get ``None``.
    Depth PNGs are read with ``depth_scale`` raw units per metre (TUM's 5000 when None);
    ``read_depth`` False reads no depth at all (not even depth.txt): every frame's ``depth_m`` is
    None, for a caller that does not use it (``localize``: a query frame's depth is unused, so a
    missing or corrupt depth PNG must not cost the frame). A
    groundtruth.txt stamped in another time unit than rgb.txt (milliseconds) gives no frame a
    pose; `check_groundtruth_units` refuses it (`InputError`) where the frames' poses are used
    (build-map without --trajectory, localize's metrics without --groundtruth).

    Raises `InputError` (naming the file) for a bad ``depth_scale`` or tolerance, a missing
    folder or rgb.txt, a missing or bad camera.yaml (unless ``camera_info``) or a bad *.txt file.
    """

    def __init__(
        self,
        folder: PathLike,
        camera_info: Optional[CameraIntrinsics] = None,
        sync_tolerance_s: float = 0.02,
        pose_at_stamp: Optional[PoseAtStampConfig] = None,
        depth_scale: Optional[float] = None,
        read_depth: bool = True,
        camera_info_name: Optional[str] = None,
    ) -> None:
        self.read_depth = bool(read_depth)
        #: raw depth units per metre of the depth PNGs (TUM: 5000 unless overridden)
        self.depth_units_per_m = (TUM_DEPTH_UNITS_PER_M if depth_scale is None
                                  else check_depth_scale(depth_scale, "depth scale"))
        rule = check_pose_rule(sync_tolerance_s, pose_at_stamp)
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"TUM folder {self.folder} does not exist or is not a folder")
        self.intrinsics: CameraIntrinsics = (check_camera_info_arg(camera_info)
                                             or self._read_camera_yaml())
        #: how messages name the given ``camera_info`` (None: intrinsics from camera.yaml)
        self.camera_info_name = ((camera_info_name or "the given camera_info") if camera_info
                                 else None)
        self._intrinsics_source = self.camera_info_name or str(self.folder / "camera.yaml")

        rgb_txt = self.folder / "rgb.txt"
        if not rgb_txt.is_file():
            raise InputError(f"{rgb_txt} is missing: a TUM folder lists its images in rgb.txt")
        self._stamps_ns, rgb_rows, _, rgb_unit = _read_numbered_rows(rgb_txt, 2,
                                                                     "timestamp filename")
        # the file the frame stamps come from, and whether it wrote integers read as ns
        self.stamps_written: Tuple[str, bool] = (str(rgb_txt), rgb_unit == "ns")
        if self._stamps_ns.size == 0:
            raise InputError(f"{rgb_txt} lists no images")
        self._stamps_ns, rgb_rows = _drop_repeated_lines(rgb_txt, self._stamps_ns, rgb_rows)
        back = int(np.count_nonzero(np.diff(self._stamps_ns) < 0))
        if back:  # e.g. written from a shell glob, which sorts 11.1 before 2.1: frames in time
            reset = clock_reset_note(self._stamps_ns)  # or a recording across a clock reset
            order = np.argsort(self._stamps_ns, kind="stable")
            self._stamps_ns = self._stamps_ns[order]
            rgb_rows = [rgb_rows[i] for i in order]
            log.warning("%s: %d line(s) go back in time (the format lists images in time "
                        "order); read sorted by timestamp%s", rgb_txt, back, reset)
        self._rgb_paths = [self.folder / row[0] for row in rgb_rows]
        self._sync_tolerance_s = sync_tolerance_s
        self._depth_paths = (self._associate_depth(round(sync_tolerance_s * 1e9))
                             if self.read_depth else [None] * len(self._rgb_paths))
        self._check_rgb_not_depth()
        self._gt_stamps_ns, self._gt_poses, gt_unit = self._read_groundtruth()
        # refused where the frames' poses are used (`check_groundtruth_units`), not here: a
        # trajectory the user passes instead (--trajectory, --groundtruth) makes it unused
        why = stamp_unit_mismatch(self._gt_stamps_ns, self._stamps_ns, gt_unit == "ns",
                                  rgb_unit == "ns", "rgb.txt")
        self._gt_unit_error = f"{self.folder / 'groundtruth.txt'}: {why}" if why else None
        spacing = None if why else frame_spacing_unit_mismatch(self._stamps_ns, rgb_unit == "ns")
        if spacing:  # no ground truth to tell: results.jsonl, trajectory.tum carry them as read
            log.warning("%s: %s", rgb_txt, spacing)
        self._frame_poses, self._frame_pose_valid = poses_at_stamps(
            self._gt_stamps_ns, self._gt_poses, self._stamps_ns,
            round(rule.tolerance_s * 1e9), round(rule.max_gap_s * 1e9),
        )
        if self._gt_unit_error:  # associated by stamp, its poses would be one end's, or none
            self._frame_pose_valid[:] = False
            log.info("%s; the frames get no pose from it", self._gt_unit_error)
        log.info(
            "TUM folder %s: %d images, %s, %d with ground truth", self.folder, len(self),
            f"{sum(p is not None for p in self._depth_paths)} with depth" if self.read_depth
            else "depth not read", int(self._frame_pose_valid.sum()),
        )

    def _read_camera_yaml(self) -> CameraIntrinsics:
        yaml_path = self.folder / "camera.yaml"
        if not yaml_path.is_file():
            raise InputError(
                f"no camera intrinsics: {yaml_path} does not exist; put {CALIBRATION_FILES} "
                "there or pass --camera-info YAML (Python API: TumSequence(..., camera_info=))"
            )
        return load_camera_info_yaml(yaml_path)

    def _associate_depth(self, tolerance_ns: int) -> List[Optional[Path]]:
        depth_txt = self.folder / "depth.txt"
        if not depth_txt.is_file():
            return [None] * len(self._rgb_paths)
        stamps, rows = _read_rows(depth_txt, 2, "timestamp filename")
        order = np.argsort(stamps, kind="stable")
        idx = nearest_indices(stamps[order], self._stamps_ns, tolerance_ns)
        return [None if i < 0 else self.folder / rows[order[i]][0] for i in idx]

    def _check_rgb_not_depth(self) -> None:
        """`InputError` when rgb.txt lists a file depth.txt lists too (rgb.txt overwritten with
        a copy of depth.txt): 16-bit depth PNGs read as grey colour images gave a map, and
        localized frames, of dark depth pictures without a word. depth.txt is read here also
        where depth is not (``read_depth`` False), but a bad one is left to whoever reads it."""
        depth_txt = self.folder / "depth.txt"
        if not depth_txt.is_file():
            return
        try:
            _, rows = _read_rows(depth_txt, 2, "timestamp filename")
        except InputError:
            return
        depth_files = {os.path.normpath(self.folder / row[0]) for row in rows}
        for path in self._rgb_paths:
            if os.path.normpath(path) in depth_files:
                raise InputError(
                    f"{self.folder / 'rgb.txt'} lists {path}, a depth image that "
                    f"{depth_txt} lists too: rgb.txt must list the colour images (TUM: rgb/), "
                    "depth.txt the depth PNGs; is rgb.txt a copy of depth.txt?")

    def _read_groundtruth(self) -> Tuple[np.ndarray, np.ndarray, str]:
        gt_txt = self.folder / "groundtruth.txt"
        if not gt_txt.is_file():
            return np.zeros(0, dtype=np.int64), np.zeros((0, 4, 4)), ""
        return read_tum_trajectory_and_unit(gt_txt)

    def no_depth_reason(self) -> Optional[str]:
        """Why no frame will have depth, with the fix (one line), or None when some may."""
        if any(p is not None for p in self._depth_paths):
            return None
        if not self.read_depth:
            return f"TUM folder {self.folder} is read without depth (read_depth=False)"
        depth_txt = self.folder / "depth.txt"
        if not depth_txt.is_file():
            return (f"TUM folder {self.folder} has no depth.txt (its depth PNGs listed as "
                    "'timestamp filename')")
        if not _read_rows(depth_txt, 2, "timestamp filename")[0].size:  # empty, comments only
            return (f"{depth_txt} lists no depth images: fill it with the depth PNGs, "
                    "'timestamp filename' a line")
        return (f"no image of {depth_txt} is within {self._sync_tolerance_s:.3f} s of an "
                f"rgb.txt stamp: check the stamps or widen --sync-tolerance")

    @property
    def stamps_ns(self) -> np.ndarray:
        """(N,) int64 rgb stamps in frame order: rgb.txt's, sorted by stamp where the file goes
        back in time."""
        return self._stamps_ns.copy()

    def check_groundtruth_units(self) -> None:
        """`InputError` ('FOLDER/groundtruth.txt: its stamps look like milliseconds: ...',
        `mast3r_ros.core.trajectory.stamp_unit_mismatch`) when groundtruth.txt is stamped in
        another time unit than rgb.txt; for a caller about to use the frames' poses."""
        if self._gt_unit_error:
            raise InputError(self._gt_unit_error)

    def groundtruth(self) -> Tuple[np.ndarray, np.ndarray]:
        """The whole ground-truth file: (stamps_ns (K,) int64, map_from_cam (K, 4, 4)); empty
        arrays when the folder has no groundtruth.txt."""
        return self._gt_stamps_ns.copy(), self._gt_poses.copy()

    def __len__(self) -> int:
        return len(self._rgb_paths)

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self)):
            yield self[index]

    def frames_or_unreadable(self, positions: Optional[Iterable[int]] = None,
                             recorded: Collection[int] = ()
                             ) -> Iterator[Frame | UnreadableFrame | RecordedFrame]:
        """The frames in order (only those at ``positions``, 0-based indices, when given: no
        other image is read), with an `UnreadableFrame` (the `InputError` text, the frame's
        ground-truth pose) in place of each one whose image (or depth, when read) is missing,
        truncated or corrupt or of another size than the intrinsics: each frame is read on its
        own, so the frames after a bad one are still read (``localize``). A frame at one of
        the ``recorded`` stamps is a `RecordedFrame`, its image not read (a resumed run's)."""
        for index in range(len(self)) if positions is None else positions:
            if recorded and int(self._stamps_ns[index]) in recorded:
                yield RecordedFrame(int(self._stamps_ns[index]), self.intrinsics,
                                    self._pose(index))
                continue
            try:
                yield self[index]
            except InputError as err:
                yield UnreadableFrame.from_error(int(self._stamps_ns[index]), err,
                                                 self._pose(index))

    def _pose(self, index: int) -> Optional[np.ndarray]:
        return self._frame_poses[index].copy() if self._frame_pose_valid[index] else None

    def __getitem__(self, index: Union[int, slice]) -> Union[Frame, List[Frame]]:
        """Frame ``index`` (rgb (H, W, 3) uint8 RGB, depth_m float32 metres or None,
        map_from_cam 4x4 float64 or None); a slice gives a list of frames, all read now. Raises
        TypeError, IndexError as a list does; `InputError` for an unreadable or mis-sized image."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError("TumSequence indices must be integers or slices, not "
                            f"{type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} out of range for {len(self)} frames")
        index %= len(self)
        depth_path = self._depth_paths[index]
        pose = self._pose(index)
        return Frame(
            rgb=self._read_rgb(self._rgb_paths[index]),
            intrinsics=self.intrinsics,
            stamp_ns=int(self._stamps_ns[index]),
            depth_m=None if depth_path is None else self._read_depth(depth_path),
            map_from_cam=pose,
        )

    def _check_size(self, path: Path, image: np.ndarray, stream: str) -> None:
        h, w = image.shape[:2]
        size = (self.intrinsics.width, self.intrinsics.height)
        if (w, h) != size:
            raise ImageSizeError(f"{path} is {w}x{h} but {self._intrinsics_source} is for "
                                 f"{size[0]}x{size[1]}", (w, h), size, stream)

    def _read_rgb(self, path: Path) -> np.ndarray:
        path = listed_file(self.folder, path, "colour image", "rgb.txt")  # as '/' where not
        try:
            rgb = read_image_file(path)  # the one image-file path: 16-bit scaled like cv_bridge
        except InputError as err:
            msg, said = str(err), f"cannot read image {path}: "
            if msg.startswith(said):  # not "cannot read ... image {path}" twice
                msg = msg[len(said):]
            raise InputError(f"cannot read colour image {path}: {msg}") from None
        self._check_size(path, rgb, "colour")
        return rgb

    def _read_depth(self, path: Path) -> np.ndarray:
        path = listed_file(self.folder, path, "depth image", "depth.txt")  # as '/' where not
        try:
            check_image_file_intact(path)  # pixels from OpenCV below, bit-exact
        except InputError as err:
            raise InputError(f"cannot read depth image {path}: {err}") from None
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise InputError(f"cannot read depth image {path}: truncated or corrupt, or not an "
                             "image")
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise InputError(
                f"depth image {path} must be 16-bit single-channel PNG, got {raw.shape} {raw.dtype}"
            )
        self._check_size(path, raw, "depth")
        return depth_to_metres(raw, "16UC1", self.depth_units_per_m)
