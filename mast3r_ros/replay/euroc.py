"""EuRoC MAV / ASL dataset folders as a frame source, without ROS.

The layout (the ASL dataset format, EuRoC MAV's): ``ROOT/mav0/cam0/data.csv`` lists the images
(``#timestamp [ns],filename`` a line, integer nanoseconds), ``cam0/data/<filename>`` holds them
(8-bit grey PNGs, 752x480 in EuRoC) and ``cam0/sensor.yaml`` their calibration (pinhole
intrinsics, radial-tangential distortion: `load_camera_info_yaml` reads it) and ``T_BS``, the
camera's pose in the body frame (body_from_cam, a row-major 4x4 ``data:`` list).

Ground truth is a pose of another sensor S in the world (R): ``mav0/state_groundtruth_estimate0/
data.csv`` (``timestamp [ns], p_RS_R x y z [m], q_RS w x y z, ...``: the body, the IMU, itself),
else ``mav0/vicon0/data.csv`` (the same first eight columns: the Vicon marker body, whose pose in
the body frame is its ``sensor.yaml``'s ``T_BS``). The camera's pose is ``world_from_S(t) @
inv(T_BS of S) @ T_BS of the camera``, ``world_from_S`` taken at each image stamp by the
project's one pose-at-stamp rule (`mast3r_ros.core.trajectory.poses_at_stamps`: exact, else
slerp/lerp across a gap up to ``max_gap_s``, else the nearest within the tolerance); a frame
outside the ground truth gets no pose, as a TUM frame does. ``leica0/data.csv`` (positions
only) gives no orientation: read as no ground truth, said by `EurocSequence.no_pose_source_reason`.

CSV files are read as UTF-8 (or UTF-16/32 after a byte-order mark), any line ends (CRLF), lines
starting with ``#`` skipped; a bad line is refused naming ``file:line``.
"""

from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from ..core.config import PoseAtStampConfig
from ..core.errors import InputError
from ..core.geometry import invert_poses
from ..core.image_codec import load_camera_info_yaml
from ..core.text_files import decode_text, not_text
from ..core.trajectory import clock_reset_note, poses_at_stamps, stamp_steps
from ..core.types import CameraIntrinsics, check_camera_info_arg
from .stereo_depth import WITHOUT_STEREO, StereoDepth, euroc_stereo
from .stereo_sequence import StereoSequence
from .tum_paths import stereo_files_found, warn_missing_listed
from .shared_stamps import SharedStamps
from .tum_trajectory import PathLike, _drop_repeated_lines

log = logging.getLogger(__name__)

_INT64_MAX = 2**63 - 1
# the ground-truth sensors read, in the order they are looked for under mav0/
GROUNDTRUTH_FOLDERS = ("state_groundtruth_estimate0", "vicon0")
_GT_LAYOUT = "timestamp [ns], p_RS_R x y z [m], q_RS w x y z"


def euroc_camera_folder(path: PathLike) -> Optional[Path]:
    """The camera folder of an EuRoC/ASL dataset given as ``path`` -- its root (holding
    ``mav0/``: ``mav0/cam0``), ``mav0`` (``cam0``) or a camera folder itself (``cam0``,
    ``cam1``) -- or None when ``path`` is none of them. A camera folder has ``data.csv`` and a
    ``data/`` folder (a sensor folder of data.csv alone, imu0 or a ground truth's, is none)."""
    path = Path(path)
    for cam in (path / "mav0" / "cam0", path / "cam0", path):
        if (cam / "data.csv").is_file() and (cam / "data").is_dir():
            return cam
    return None


def _read_csv(path: Path) -> List[Tuple[int, List[str]]]:
    """The data lines of an ASL CSV file -> (1-based line number, fields stripped); `InputError`
    for an unreadable or non-text file. ``#`` lines (the header) and blank lines are skipped,
    and so is a first line of column names without its ``#`` (``timestamp,filename``)."""
    try:
        data = path.read_bytes()
        text = decode_text(data)  # UTF-8, or UTF-16/32 after their byte-order mark
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not the CSV file of an EuRoC/ASL sensor") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not {not_text(data, err)}; save it as UTF-8") from None
    rows: List[Tuple[int, List[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.replace("\ufeff", "").strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if not rows and fields[0].lower().startswith("timestamp"):  # column names, no '#'
            continue
        rows.append((lineno, fields))
    return rows


def _stamp_ns(token: str, path: Path, lineno: int) -> int:
    """An ASL stamp (integer nanoseconds) -> int; `InputError` naming ``path:lineno``."""
    if not (token.isascii() and token.isdigit()) or int(token) > _INT64_MAX:  # '²' isdigit()
        seconds = token.replace(".", "", 1).isdigit()
        raise InputError(
            f"{path}:{lineno}: timestamp {token!r} is not integer nanoseconds (an EuRoC/ASL "
            "CSV's first column is '#timestamp [ns]'" + (
                ": convert seconds to nanoseconds, e.g. 1403636579.763555584 -> "
                "1403636579763555584)" if seconds else ")"))
    return int(token)


def read_image_list(path: Path) -> Tuple[np.ndarray, List[str], List[int]]:
    """A camera's ``data.csv`` -> (stamps (N,) int64 ns, file names relative to ``data/``,
    line numbers), as written (not sorted). `InputError` naming ``path:line`` for a line that
    is not ``timestamp [ns],filename``, and for a file that lists no image."""
    stamps: List[int] = []
    names: List[str] = []
    linenos: List[int] = []
    for lineno, fields in _read_csv(path):
        if len(fields) != 2 or not fields[1]:
            raise InputError(f"{path}:{lineno}: expected 'timestamp [ns],filename', got "
                             f"{','.join(fields)!r} ({len(fields)} columns)")
        stamps.append(_stamp_ns(fields[0], path, lineno))
        names.append(fields[1])
        linenos.append(lineno)
    if not stamps:
        raise InputError(f"{path} lists no images ('timestamp [ns],filename' a line)")
    return np.asarray(stamps, dtype=np.int64), names, linenos


def read_groundtruth_csv(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """An ASL pose CSV (``state_groundtruth_estimate0/data.csv``, ``vicon0/data.csv``: the
    first eight columns ``timestamp [ns], p x y z [m], q w x y z``, later ones ignored) ->
    (stamps (K,) int64 ns, world_from_sensor (K, 4, 4) float64), sorted by stamp.

    Raises:
        InputError: ``path:line`` and the reason: fewer than eight columns (``leica0``'s
            positions alone included), a stamp that is not integer ns, a non-numeric or
            non-finite value, a quaternion whose norm is not 1 within 1e-2.
    """
    rows = _read_csv(path)
    stamps = np.empty(len(rows), dtype=np.int64)
    values = np.empty((len(rows), 7))
    for i, (lineno, fields) in enumerate(rows):
        if len(fields) < 8:
            raise InputError(f"{path}:{lineno}: expected '{_GT_LAYOUT}', got {len(fields)} "
                             "columns" + (": a position without orientation (a Leica's?) "
                                          "gives no camera orientation" if len(fields) == 4
                                          else ""))
        stamps[i] = _stamp_ns(fields[0], path, lineno)
        try:
            values[i] = [float(v) for v in fields[1:8]]
        except ValueError as err:
            raise InputError(f"{path}:{lineno}: expected '{_GT_LAYOUT}', non-numeric value "
                             f"({err})") from None
        norm = float(np.linalg.norm(values[i, 3:]))
        if not np.isfinite(values[i]).all():
            raise InputError(f"{path}:{lineno}: a non-finite value ({', '.join(fields[1:8])}); "
                             "every pose value must be a finite number")
        if abs(norm - 1.0) > 1e-2:
            raise InputError(f"{path}:{lineno}: quaternion q_RS (w x y z) of norm {norm:.6f} "
                             "instead of 1: check the columns")
    order = np.argsort(stamps, kind="stable")
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    if rows:
        w, x, y, z = values[order, 3:].T
        poses[:, :3, :3] = Rotation.from_quat(np.stack([x, y, z, w], axis=1)).as_matrix()
        poses[:, :3, 3] = values[order, :3]
    return stamps[order], poses


def read_t_bs(path: Path) -> Optional[np.ndarray]:
    """``T_BS`` of an ASL ``sensor.yaml`` (the sensor's pose in the body frame, body_from_sensor:
    ``T_BS: {cols: 4, rows: 4, data: [16 numbers, row-major]}``) -> 4x4 float64, its rotation
    made exactly orthonormal (EuRoC writes it to ~1e-6); None when the file states no T_BS.

    Raises:
        InputError: ``path:line`` and the reason: not valid YAML, T_BS not a mapping with a
            ``data`` list of 16 finite numbers, T_BS or its ``data`` given twice, a last row
            other than 0 0 0 1, a rotation block that is no rotation within 1e-3 (orthonormal,
            determinant +1).
    """
    try:
        text = decode_text(path.read_bytes())
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not a UTF-8 text file (byte {err.start}: {err.reason})"
                         ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', '') or err})"
                         ) from None
    if not isinstance(root, yaml.MappingNode):
        return None
    node = _only_value(root, "T_BS", path)
    if node is None:
        return None
    line = node.start_mark.line + 1
    data = _only_value(node, "data", path) if isinstance(node, yaml.MappingNode) else None
    if not isinstance(data, yaml.SequenceNode):
        raise InputError(f"{path}:{line}: T_BS must be a mapping with 'data: [16 numbers]' (the "
                         "row-major 4x4 body_from_sensor, EuRoC's 'cols: 4, rows: 4, data:')")
    line = data.start_mark.line + 1
    numbers: List[float] = []
    for item in data.value:
        try:
            if not isinstance(item, yaml.ScalarNode) or item.tag.endswith(":bool"):
                raise ValueError
            numbers.append(float(item.value))
        except ValueError:
            what = (repr(item.value)[:40] if isinstance(item, yaml.ScalarNode) else
                    "a list" if isinstance(item, yaml.SequenceNode) else "a mapping")
            raise InputError(f"{path}:{item.start_mark.line + 1}: T_BS data holds {what}, not a "
                             "number (data is one flat list of 16 numbers)") from None
    if len(numbers) != 16:
        raise InputError(f"{path}:{line}: T_BS data must be 16 numbers (a row-major 4x4), got "
                         f"{len(numbers)}")
    t_bs = np.asarray(numbers, dtype=np.float64).reshape(4, 4)
    if not np.isfinite(t_bs).all():
        raise InputError(f"{path}:{line}: T_BS data holds a non-finite number")
    if not np.allclose(t_bs[3], [0, 0, 0, 1], atol=1e-6):
        raise InputError(f"{path}:{line}: T_BS's last row is {t_bs[3].tolist()}, not [0, 0, 0, "
                         "1]: it is no rigid transform (data is the row-major 4x4)")
    rot = t_bs[:3, :3]
    with np.errstate(all="ignore"):  # an entry of 1e308: R^T R overflows, refused below
        off, det = float(np.abs(rot.T @ rot - np.eye(3)).max()), float(np.linalg.det(rot))
    if not (off <= 1e-3 and det > 0):
        raise InputError(f"{path}:{line}: T_BS's rotation block is no rotation (R^T R differs "
                         f"from I by {off:.2g}, det {det:.3f}): check the 16 numbers, row-major")
    t_bs[:3, :3] = Rotation.from_matrix(rot).as_matrix()
    return t_bs


def _only_value(mapping: yaml.MappingNode, key: str, path: Path) -> Optional[yaml.Node]:
    """The value node of ``key`` in ``mapping``, None without one; `InputError` for a key given
    twice (PyYAML keeps the last, a reader of the first one the first: which pose is meant?)."""
    found = [(k, v) for k, v in mapping.value if isinstance(k, yaml.ScalarNode)
             and k.value == key]
    if len(found) > 1:
        lines = " and ".join(str(k.start_mark.line + 1) for k, _ in found[:2])
        raise InputError(f"{path}:{found[1][0].start_mark.line + 1}: '{key}' is given twice "
                         f"(lines {lines}): YAML readers keep one or the other; delete one")
    return found[0][1] if found else None


class EurocSequence(StereoSequence):
    """An EuRoC/ASL dataset's camera as a sequence of ``Frame`` (random access and iteration),
    as `TumSequence` gives a TUM folder's: ``frames_or_unreadable``, ``listed_pose_and_depth``,
    ``stamps_ns`` (data.csv's integer ns, sorted by stamp where the file goes back in time),
    ``groundtruth()`` (the camera's poses at the ground truth's stamps).

    ``path``: the dataset root, ``mav0`` or a camera folder (``mav0/cam0``, ``mav0/cam1``;
    `euroc_camera_folder`). Intrinsics from ``camera_info`` when given, else the camera's
    ``sensor.yaml``. Images are 8-bit grey PNGs, read as RGB (each channel the grey). Each
    frame's ``map_from_cam`` (4x4 float64, metres; the world of the ground truth, the camera's
    optical frame) is the ground truth's sensor pose at the image stamp (``pose_at_stamp``'s
    rule, the config defaults when None) times ``inv(T_BS of that sensor) @ T_BS of the
    camera``; None without ground truth (`no_pose_source_reason` says why). There is no depth
    (`no_depth_reason` says so for what needs it: the sift matcher) unless ``stereo_depth``
    (and ``read_depth``): then cam0's depth comes from cam1's image of the same stamp (exact;
    a cam0 image without one, or whose cam1 file data.csv lists is missing, gets none, counted
    in a warning)
    (`stereo_depth.euroc_stereo`: (H, W) float32 metres on cam0's own pixel grid, 0 = none;
    the two sensor.yaml calibrations and T_BS, not ``camera_info``). ``poses_option``: the
    option a reason without ground truth names as the fix (localize: ``--groundtruth``).
    ``pose_suspect`` (with ground truth; else None): the T_BS that move the ground truth onto
    the camera, in words ("T_BS in .../cam0/sensor.yaml"), which the map check names where a
    pose convention would explain a map that fails it (`map_check.name_pose_suspect`).

    Raises `InputError` (naming ``file:line`` where there is one) for a path that is no
    EuRoC/ASL camera folder, a bad data.csv, sensor.yaml (the camera's or the ground truth's)
    or ground-truth CSV, a missing sensor.yaml without ``camera_info``; with ``stereo_depth``
    for cam1 given as the camera, a missing cam1 (its data.csv, data/, sensor.yaml with T_BS)
    or a pair that cannot be rectified (`euroc_stereo`).
    """

    _IMAGE_LIST = "data.csv"  # named by `listed_file` for an image it lacks

    def _read(self, path: PathLike, camera_info: Optional[CameraIntrinsics],
              rule: PoseAtStampConfig, camera_info_name: Optional[str],
              before_index: Optional[Callable[[], None]], stereo_depth: bool) -> None:
        cam = euroc_camera_folder(path)
        if cam is None:
            raise InputError(f"{path} is no EuRoC/ASL camera folder (mav0/cam0 with data.csv "
                             "and data/)")
        self.folder = cam
        sensor = cam / "sensor.yaml"
        if camera_info is None and not sensor.is_file():
            raise InputError(f"no camera intrinsics: {sensor} does not exist; pass "
                             "--camera-info YAML (the camera's calibration)")
        self.intrinsics: CameraIntrinsics = (check_camera_info_arg(camera_info)
                                             or load_camera_info_yaml(sensor))
        self.camera_info_name = ((camera_info_name or "the given camera_info") if camera_info
                                 else None)
        self._intrinsics_source = self.camera_info_name or str(sensor)
        if before_index is not None:
            before_index()
        csv = cam / "data.csv"
        stamps, names, linenos = read_image_list(csv)
        rows = [[n] for n in names]
        line_of = {id(r): n for r, n in zip(rows, linenos)}  # kept through the drop
        stamps, rows = _drop_repeated_lines(csv, stamps, rows)
        #: the stamps data.csv gives to two different images: no ground truth (`shared_stamps`)
        self.shared_stamps = SharedStamps(str(csv), stamps, [r[0] for r in rows],
                                          [line_of[id(r)] for r in rows])
        self.shared_stamps.warn()
        back = int(np.count_nonzero(stamp_steps(stamps)[1]))
        if back:
            reset = clock_reset_note(stamps)
            order = np.argsort(stamps, kind="stable")
            stamps, rows = stamps[order], [rows[i] for i in order]
            log.warning("%s: %d line(s) go back in time; read sorted by timestamp%s", csv, back,
                        reset)
        self._stamps_ns = stamps
        self._rgb_paths = [cam / "data" / row[0] for row in rows]
        self.stamps_written: Tuple[str, bool] = (str(csv), True)
        self._depth_paths: List[Optional[Path]] = [None] * len(stamps)
        if stereo_depth and self.read_depth:  # depth in metres: no unit to name as a fix
            self._stereo, self._depth_paths = self._stereo_pair(sensor)
            self.depth_units_per_m = None  # type: ignore[assignment]
        gt_stamps, world_from_s, self._no_pose_reason = self._read_groundtruth_sensor()
        if self._no_pose_reason:
            cam_from_s = np.eye(4)
        else:
            body_from_cam = read_t_bs(sensor) if sensor.is_file() else None
            if body_from_cam is None:
                where = (f"{sensor} states" if sensor.is_file()
                         else f"{cam} has no sensor.yaml stating")
                self._no_pose_reason = (
                    f"{where} no T_BS (the camera's pose in the body frame), which places the "
                    f"camera on the ground truth's body: add it, or pass {self._poses_option}")
                body_from_cam = np.eye(4)
            cam_from_s = invert_poses(body_from_cam) @ self._body_from_gt_sensor
        s_from_cam = invert_poses(cam_from_s)
        #: the ground truth's file, for messages (None: none read)
        self.groundtruth_file: Optional[str] = self._gt_file if not self._no_pose_reason else None
        #: what else places the camera, for the map check to name beside pose conventions
        self.pose_suspect: Optional[str] = None if self._no_pose_reason else (
            f"T_BS in {sensor}" + (f" or in {self._gt_sensor}" if self._gt_sensor else ""))
        self._gt_stamps_ns = gt_stamps if not self._no_pose_reason else gt_stamps[:0]
        self._gt_poses = world_from_s[:len(self._gt_stamps_ns)] @ s_from_cam
        poses, valid = poses_at_stamps(self._gt_stamps_ns, world_from_s[:len(self._gt_stamps_ns)],
                                       stamps, round(rule.tolerance_s * 1e9),
                                       round(rule.max_gap_s * 1e9))
        valid &= ~np.isin(stamps, list(self.shared_stamps.stamps))  # either image's, or neither
        self._frame_poses, self._frame_pose_valid = poses @ s_from_cam, valid
        missing = warn_missing_listed(cam, self._rgb_paths, "data.csv", "images")
        self._cam1_missing = 0
        if self._stereo is not None:  # a missing cam1 image costs its frame's depth, as an
            cam1 = cam.parent / "cam1"  # unpaired stamp does: not the frame (cam0 is there)
            self._depth_paths, self._cam1_missing = stereo_files_found(
                cam1, self._depth_paths, "data.csv", "cam1 images (stereo)")
        log.info("EuRoC/ASL camera %s: %d images%s, %s, %d with ground truth%s", cam, len(self),
                 f" ({missing} missing)" if missing else "",
                 f"{sum(p is not None for p in self._depth_paths)} with a cam1 image for stereo "
                 "depth" if self._stereo else "no depth", int(valid.sum()),
                 f" ({self.groundtruth_file})" if self.groundtruth_file else
                 f" ({self._no_pose_reason})")

    def _read_groundtruth_sensor(self) -> Tuple[np.ndarray, np.ndarray, Optional[str]]:
        """(stamps (K,) int64 ns, world_from_sensor (K, 4, 4), None) of the first ground truth
        of `GROUNDTRUTH_FOLDERS` beside the camera folder, setting ``_gt_file``,
        ``_body_from_gt_sensor`` (its sensor.yaml's T_BS; identity without one) and
        ``_gt_sensor`` (that sensor.yaml where its T_BS is no identity, else ""); else empty
        arrays and why no frame has a pose (with the fix)."""
        mav0 = self.folder.parent
        self._body_from_gt_sensor, self._gt_file, self._gt_sensor = np.eye(4), "", ""
        for name in GROUNDTRUTH_FOLDERS:
            csv = mav0 / name / "data.csv"
            if csv.is_file():
                stamps, poses = read_groundtruth_csv(csv)
                sensor = mav0 / name / "sensor.yaml"
                t_bs = read_t_bs(sensor) if sensor.is_file() else None
                if t_bs is not None:
                    self._body_from_gt_sensor = t_bs
                    self._gt_sensor = str(sensor) if not np.allclose(t_bs, np.eye(4)) else ""
                self._gt_file = str(csv)
                if not stamps.size:
                    return stamps, poses, f"{csv} lists no pose: pass {self._poses_option}"
                return stamps, poses, None
        empty = (np.zeros(0, dtype=np.int64), np.zeros((0, 4, 4)))
        leica = mav0 / "leica0" / "data.csv"
        if leica.is_file():
            return (*empty, f"the dataset's only ground truth, {leica}, holds positions alone "
                    "(a Leica total station tracks a prism, without orientation), which give "
                    f"no camera orientation: pass the camera's poses as {self._poses_option}")
        return (*empty, f"{mav0} has no ground truth ({' or '.join(GROUNDTRUTH_FOLDERS)}/"
                f"data.csv): pass the camera's poses as {self._poses_option}")

    def no_pose_source_reason(self) -> Optional[str]:
        """Why no frame can have a pose, with the fix (one line), or None with a ground truth
        read: none beside the camera, only leica0's positions, no T_BS for the camera."""
        return self._no_pose_reason

    def _stereo_pair(self, sensor: Path) -> Tuple[StereoDepth, List[Optional[Path]]]:
        """(cam0's `StereoDepth` with cam1, cam1's image of each frame's exact stamp or None);
        `InputError` in one line for what the pair lacks."""
        cam1 = self.folder.parent / "cam1"
        if self.folder.name != "cam0":
            raise InputError(f"--stereo-depth gives cam0 depth from cam1: pass "
                             f"{self.folder.parent / 'cam0'} (or the dataset root), not "
                             f"{self.folder}")
        if not ((cam1 / "data.csv").is_file() and (cam1 / "data").is_dir()):
            raise InputError(f"--stereo-depth needs the second camera, {cam1} (data.csv and "
                             f"data/), which is missing: restore it, or {WITHOUT_STEREO}")
        files = (sensor, cam1 / "sensor.yaml")
        body_from = [read_t_bs(f) if f.is_file() else None for f in files]
        for f, t_bs in zip(files, body_from):
            if t_bs is None:
                raise InputError(f"--stereo-depth: {f} is missing or states no T_BS: the pair "
                                 "is rectified from both cameras' calibration and T_BS")
        # cam0's as read for the frames (its 'read as' line once), unless --camera-info gave them
        cam0 = self.intrinsics if self.camera_info_name is None else load_camera_info_yaml(sensor)
        stereo = euroc_stereo(cam0, load_camera_info_yaml(files[1]),
                              invert_poses(body_from[1]) @ body_from[0],
                              (str(files[0]), str(files[1])))
        # by exact stamp, not --sync-tolerance: the two cameras are triggered together, and
        # the neighbour of an image cam1 dropped is another moment (wrong depth, not none)
        stamps, names, _ = read_image_list(cam1 / "data.csv")
        by_stamp: dict = {}
        for stamp, name in zip(stamps.tolist(), names):
            by_stamp.setdefault(stamp, name)  # a repeated line: the first, as for cam0
        paths = [cam1 / "data" / by_stamp[s] if s in by_stamp else None
                 for s in self._stamps_ns.tolist()]
        unpaired = sum(p is None for p in paths)
        if unpaired:
            nearest = int(np.min(np.abs(stamps - self._stamps_ns[0])))
            log.warning("--stereo-depth: %d of %d cam0 images have no cam1 image of the same "
                        "stamp in %s (frames one camera dropped): they get no depth%s", unpaired,
                        len(paths), cam1 / "data.csv",
                        "" if unpaired < len(paths) else
                        f" (cam0's first stamp is {nearest} ns from cam1's nearest)")
        return stereo, paths

    def no_depth_reason(self) -> Optional[str]:
        """Why no frame has depth (one line), or None with stereo depth and a cam1 image."""
        if self._stereo is not None:
            if any(p is not None for p in self._depth_paths):
                return None
            if self._cam1_missing:
                return (f"none of the cam1 images paired with a cam0 image exists in "
                        f"{self.folder.parent / 'cam1' / 'data'} ({self._cam1_missing} listed "
                        f"in its data.csv are missing): copy them there, or {WITHOUT_STEREO}")
            return (
                f"no cam1 image has the stamp of a cam0 image in {self.folder.parent}: "
                "--stereo-depth pairs the two cameras' images by exact stamp (EuRoC's are "
                "triggered together): check both data.csv")
        return (f"EuRoC/ASL camera {self.folder} has no depth images (the dataset records grey "
                "stereo images, no depth): pass --stereo-depth (depth from cam1 by OpenCV's "
                "SGBM), or build with --matcher mast3r and points_source 'pointmap' (the "
                "defaults), which take the 3-D points from MASt3R")

    def groundtruth(self) -> Tuple[np.ndarray, np.ndarray]:
        """The camera's ground truth at the ground-truth file's stamps: (stamps_ns (K,) int64,
        map_from_cam (K, 4, 4) float64); empty arrays without one (`no_pose_source_reason`)."""
        return self._gt_stamps_ns.copy(), self._gt_poses.copy()


def euroc_folder_hint(path: str) -> str:
    """For a folder that looks like an EuRoC/ASL camera folder (itself, ``cam0`` or
    ``mav0/cam0``: a ``data/`` of images beside a camera ``sensor.yaml``, or a ``data/`` in a
    camera folder of ``mav0``) but lacks the ``data.csv`` that lists the images: what it is and
    the command that writes data.csv (the EuRoC file names are their stamps in ns), and that
    sensor.yaml is missing too where it is; '' for another folder."""
    for rel in ("mav0/cam0", "cam0", "."):
        cam = os.path.normpath(os.path.join(path, rel))
        in_mav0 = os.path.basename(os.path.dirname(os.path.abspath(cam))) == "mav0"
        if (os.path.isdir(os.path.join(cam, "data"))
                and (in_mav0 or os.path.isfile(os.path.join(cam, "sensor.yaml")))
                and not os.path.exists(os.path.join(cam, "data.csv"))):
            break
    else:
        return ""
    data = os.path.join(cam, "data")
    sensor = os.path.isfile(os.path.join(cam, "sensor.yaml"))
    return (f"{cam} looks like an EuRoC/ASL camera folder (images in {data}"
            f"{', sensor.yaml' if sensor else ''}) without the data.csv that lists them "
            "('#timestamp [ns],filename' a line): write "
            f"it, e.g. for images named by their ns stamps: (cd {shlex.quote(cam)} && (echo "
            "'#timestamp [ns],filename'; for f in data/*.png; do n=${f#data/}; echo "
            "\"${n%.png},$n\"; done) > data.csv)"
            + ("" if sensor else "; it lacks its sensor.yaml (the camera's calibration) too: "
               "copy it from the dataset, or pass --camera-info YAML"))
