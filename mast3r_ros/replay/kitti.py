"""KITTI odometry sequence folders as a frame source, without ROS.

The layout (the KITTI odometry benchmark's devkit readme): ``dataset/sequences/NN/`` holds
``image_0`` / ``image_1`` (the left and right grey cameras) and, in the colour download,
``image_2`` / ``image_3`` (left and right colour), each ``000000.png``, ``000001.png``, ...;
``times.txt`` (one stamp a line, seconds since the sequence's start, one per image index) and
``calib.txt`` (``P0:`` .. ``P3:``, each 12 numbers: the row-major 3x4 projection matrix of
rectified camera i, which maps a point in the rectified camera-0 frame to camera i's pixels;
``Tr:`` the Velodyne's pose, not read). The images are undistorted and rectified. Ground truth,
for sequences 00-10 only, is ``dataset/poses/NN.txt``: one row-major 3x4 matrix a line, the
pose of camera 0 at that image index in the frame of its first pose (map_from_cam0).

Camera i's pose: ``P_i = K_i [I | t_i]`` (the rectified cameras share camera 0's orientation),
so a point ``X`` in camera 0's frame is ``X + t_i`` in camera i's, ``t_i = inv(K_i) @
P_i[:, 3]``, and ``map_from_cam_i = map_from_cam0 @ translation(-t_i)``: camera 2 (P2[0, 3] ~
+45 px at fx ~ 718) sits ~6 cm left of camera 0 (x = -0.06 m), camera 1 (-386 px) 0.54 m right.
The intrinsics are ``K_i = P_i[:, :3]`` with no distortion, at the first image's size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from ..core.config import PoseAtStampConfig
from ..core.errors import InputError
from ..core.geometry import invert_poses
from ..core.image_codec import read_image_file
from ..core.image_codec.camera_info import intrinsics_from_pinhole_file
from ..core.text_files import decode_text, not_text
from ..core.types import CameraIntrinsics, check_camera_info_arg
from .stereo_depth import WITHOUT_STEREO, kitti_stereo
from .stereo_sequence import StereoSequence
from .tum_paths import stereo_files_found, warn_missing_listed
from .tum_trajectory import PathLike, _parse_stamp_ns

log = logging.getLogger(__name__)

CAMERAS = ("image_0", "image_1", "image_2", "image_3")


def kitti_sequence(path: PathLike) -> Optional[Tuple[Path, str]]:
    """(sequence folder, camera folder name) of a KITTI odometry sequence given as ``path``: the
    sequence folder (``sequences/NN``: its ``image_0``, else ``image_2``) or one of its camera
    folders (``sequences/NN/image_2``); None when ``path`` is neither. A sequence folder has
    ``times.txt`` and ``calib.txt`` beside an ``image_N`` folder."""
    path = Path(path)
    if path.name in CAMERAS and path.is_dir():
        seq, names = path.parent, [path.name]
    else:
        seq, names = path, [n for n in ("image_0", "image_2", "image_1", "image_3")
                            if (path / n).is_dir()]
    if names and all((seq / f).is_file() for f in ("times.txt", "calib.txt")):
        return seq, names[0]
    return None


def kitti_folder_hint(path: PathLike) -> str:
    """For a folder that looks like a KITTI odometry sequence (an ``image_N`` camera folder, or
    the sequence folder holding one, with ``times.txt`` or ``calib.txt`` beside it) but lacks
    one of those two files: what it is, what is missing and where it comes from; '' for another
    folder (and for a whole sequence, which `kitti_sequence` reads)."""
    path = Path(path)
    seq = path.parent if path.name in CAMERAS else path
    cams = [n for n in CAMERAS if (seq / n).is_dir()]
    if not cams or not path.is_dir():
        return ""
    present = [f for f in ("times.txt", "calib.txt") if (seq / f).is_file()]
    missing = [f for f in ("times.txt", "calib.txt") if f not in present]
    if not present or not missing:  # image_N alone is too common a name to guess from
        return ""
    return (f"{seq} looks like a KITTI odometry sequence ({cams[0]}/, {present[0]}) without "
            f"its {missing[0]}: copy {missing[0]} of this sequence beside {present[0]} (the "
            "odometry benchmark's data_odometry_calib.zip holds calib.txt and times.txt of "
            "every sequence)")


def _lines(path: Path) -> List[Tuple[int, str]]:
    """The non-blank lines of a KITTI text file -> (1-based line number, text stripped)."""
    try:
        data = path.read_bytes()
        text = decode_text(data)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not {not_text(data, err)}") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def _twelve(values: List[str], path: Path, lineno: int, what: str) -> np.ndarray:
    """12 numbers -> a 3x4 float64 matrix (row-major); `InputError` naming ``path:lineno``."""
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError as err:
        raise InputError(f"{path}:{lineno}: {what}: non-numeric value ({err})") from None
    if out.size != 12:
        raise InputError(f"{path}:{lineno}: {what} must be 12 numbers (a row-major 3x4), got "
                         f"{out.size}")
    if not np.isfinite(out).all():
        raise InputError(f"{path}:{lineno}: {what} holds a non-finite number")
    return out.reshape(3, 4)


def read_calib(path: Path) -> dict:
    """``calib.txt`` -> {"P0": 3x4, ..., "Tr": 3x4} (float64); `InputError` naming
    ``path:line`` for a line that is not ``NAME: 12 numbers``."""
    out = {}
    for lineno, line in _lines(path):
        name, sep, rest = line.partition(":")
        if not sep:
            raise InputError(f"{path}:{lineno}: expected 'NAME: 12 numbers' (P0: ... P3:, Tr:), "
                             f"got {line!r:.60}")
        out[name.strip()] = _twelve(rest.split(), path, lineno, name.strip())
    return out


def read_kitti_poses(path: Path) -> np.ndarray:
    """A KITTI pose file (``poses/NN.txt``: a row-major 3x4 map_from_cam0 a line) -> (N, 4, 4)
    float64, each rotation made exactly orthonormal. `InputError` naming ``path:line`` for a
    line of other than 12 numbers or whose rotation block is no rotation within 1e-3."""
    rows = _lines(path)
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    for i, (lineno, line) in enumerate(rows):
        poses[i, :3] = _twelve(line.split(), path, lineno, "a pose")
        rot = poses[i, :3, :3]
        with np.errstate(all="ignore"):  # an entry of 1e308: R^T R overflows, refused below
            off, det = float(np.abs(rot.T @ rot - np.eye(3)).max()), float(np.linalg.det(rot))
        if not (off <= 1e-3 and det > 0):
            raise InputError(f"{path}:{lineno}: the pose's rotation block is no rotation (R^T R "
                             f"differs from I by {off:.2g}): check the 12 numbers, row-major")
        poses[i, :3, :3] = Rotation.from_matrix(rot).as_matrix()
    return poses


def _camera_offset(p: np.ndarray, path: Path, name: str) -> np.ndarray:
    """The rectified camera's offset from camera 0, ``t_i = inv(K_i) @ P_i[:, 3]`` (3,) float64
    metres, of projection matrix ``p`` (3x4, KITTI's ``P_i = K_i [I | t_i]``). `InputError`
    unless its left 3x3 is a camera matrix K (``[fx s cx; 0 fy cy; 0 0 1]``, fx, fy > 0) and
    the offset finite: a singular K was numpy's LinAlgError, a negative fx with
    ``--camera-info`` placed the camera on the other side, an fx of 1e-320 an infinite offset."""
    k = p[:, :3]
    if not (k[0, 0] > 0 and k[1, 1] > 0 and abs(k[1, 0]) <= 1e-9 * k[1, 1]
            and np.allclose(k[2], [0, 0, 1], rtol=0, atol=1e-9)):
        shown = [[float(f"{v:.7g}") for v in row] for row in k]  # np.round overflows at 1e308
        raise InputError(f"{path}: {name}'s left 3x3 {shown} is no camera "
                         "matrix K ([fx 0 cx; 0 fy cy; 0 0 1], fx and fy > 0; KITTI's P_i = K_i "
                         "[I | t_i]): the line is damaged or not KITTI's")
    with np.errstate(all="ignore"):
        offset = np.linalg.solve(k, p[:, 3])
    if not np.isfinite(offset).all():
        raise InputError(f"{path}: {name} places the camera at {offset.tolist()} m from camera 0 "
                         "(inv(K) @ P[:, 3]): its fx or fy is too small or its last column "
                         "too large; the line is damaged")
    return offset


class KittiSequence(StereoSequence):
    """A KITTI odometry sequence's camera as a sequence of ``Frame``, as `TumSequence` gives a
    TUM folder's (``frames_or_unreadable``, ``listed_pose_and_depth``, ``stamps_ns``: times.txt
    in integer ns, ``groundtruth()``: the camera's poses at the frames' stamps).

    ``path``: a sequence folder (camera ``image_0``, else ``image_2``) or a camera folder
    (``image_0`` .. ``image_3``; `kitti_sequence`). Intrinsics from ``camera_info`` when given,
    else calib.txt's ``P<i>`` (no distortion: the images are rectified) at the first image's
    size. Frame ``k``'s ``map_from_cam`` is line ``k`` of ``../../poses/NN.txt`` (camera 0's)
    moved to camera i (module docstring); None for every frame without that file (sequences
    11-21: `no_pose_source_reason` says so). No depth (`no_depth_reason`), unless
    ``stereo_depth`` (and ``read_depth``): then the left camera's depth (image_0's, image_2's)
    comes from the right one's image of the same index (`stereo_depth.kitti_stereo`: (H, W)
    float32 metres, 0 = none; calib.txt's P, not ``camera_info``; a frame whose right image is
    missing gets none, counted in a warning). ``sync_tolerance_s`` and
    ``pose_at_stamp`` are checked as the other readers do; poses go by image index.
    ``poses_option``: the option the reason without poses names (localize: ``--groundtruth``).

    Raises `InputError` (naming ``file:line`` where there is one) for a bad times.txt, calib.txt
    (its ``P<i>`` missing) or pose file, a pose file of another line count than times.txt, a
    first image that cannot be read; with ``stereo_depth`` for a right camera, a missing right
    camera folder or a pair that is not one rectified pair (`kitti_stereo`).
    """

    _IMAGE_LIST = "times.txt"

    def _read(self, path: PathLike, camera_info: Optional[CameraIntrinsics],
              rule: PoseAtStampConfig, camera_info_name: Optional[str],
              before_index: Optional[Callable[[], None]], stereo_depth: bool) -> None:
        found = kitti_sequence(path)
        if found is None:
            raise InputError(f"{path} is no KITTI odometry sequence folder (times.txt, "
                             "calib.txt, image_0/ or image_2/)")
        self.folder, self.camera = found
        index = int(self.camera[-1])
        calib_path = self.folder / "calib.txt"
        calib = read_calib(calib_path)
        p = calib.get(f"P{index}")
        if p is None:
            raise InputError(f"{calib_path} has no P{index}: the projection matrix of "
                             f"{self.camera} (lines 'P0: 12 numbers' .. 'P3: ...')")
        offset = _camera_offset(p, calib_path, f"P{index}")
        times = self.folder / "times.txt"
        rows = _lines(times)
        stamps = np.empty(len(rows), dtype=np.int64)
        for i, (lineno, line) in enumerate(rows):
            try:
                stamps[i] = _parse_stamp_ns(line)
            except (ValueError, ArithmeticError) as err:
                raise InputError(f"{times}:{lineno}: expected one stamp in seconds, got "
                                 f"{line!r:.60} ({err})") from None
        if not stamps.size:
            raise InputError(f"{times} lists no stamps (one a line, seconds, an image each)")
        if np.any(np.diff(stamps) <= 0):
            bad = int(np.flatnonzero(np.diff(stamps) <= 0)[0]) + 1
            raise InputError(f"{times}:{rows[bad][0]}: stamp {rows[bad][1]} is not after the "
                             "line before: times.txt lists one increasing stamp an image")
        self._stamps_ns = stamps
        self._rgb_paths = [self.folder / self.camera / f"{i:06d}.png" for i in range(len(rows))]
        self.stamps_written: Tuple[str, bool] = (str(times), False)
        self._depth_paths: List[Optional[Path]] = [None] * len(rows)
        self._right_missing = 0
        missing = warn_missing_listed(self.folder, self._rgb_paths, "times.txt",
                                      f"{self.camera} images (one a line)")
        k = p[:, :3]
        given = camera_info is not None
        if camera_info is None:
            first = read_image_file(self._rgb_paths[0])  # the size calib.txt does not state
            camera_info = intrinsics_from_pinhole_file(
                calib_path, first.shape[1], first.shape[0], k[0, 0], k[1, 1], k[0, 2], k[1, 2],
                [], "plumb_bob")
        self.intrinsics: CameraIntrinsics = check_camera_info_arg(camera_info)
        self.camera_info_name = (camera_info_name or "the given camera_info") if given else None
        self._intrinsics_source = self.camera_info_name or f"{calib_path} (P{index})"
        if stereo_depth and self.read_depth:
            self._stereo, right = kitti_stereo(calib, calib_path, self.camera,
                                               (self.intrinsics.width, self.intrinsics.height))
            if not (self.folder / right).is_dir():
                raise InputError(f"--stereo-depth needs {self.camera}'s right camera, "
                                 f"{self.folder / right}, which is missing: add the pair's "
                                 f"other download, or {WITHOUT_STEREO}")
            # a missing right image costs its frame's depth, not the frame (the left is there)
            self._depth_paths, self._right_missing = stereo_files_found(
                self.folder, [self.folder / right / p.name for p in self._rgb_paths],
                "times.txt", f"{right} images (stereo, one a line)")
            self.depth_units_per_m = None  # type: ignore[assignment]  # metres: no unit fix
        if before_index is not None:
            before_index()
        cam_from_cam0 = np.eye(4)
        cam_from_cam0[:3, 3] = offset  # t_i = inv(K_i) P_i[:, 3]
        cam0_from_cam = invert_poses(cam_from_cam0)
        poses_path = self.folder.parent.parent / "poses" / f"{self.folder.name}.txt"
        self._no_pose_reason: Optional[str] = None
        self.groundtruth_file: Optional[str] = None
        if poses_path.is_file():
            cam0 = read_kitti_poses(poses_path)
            if len(cam0) != len(stamps):
                raise InputError(f"{poses_path} holds {len(cam0)} poses but {times} lists "
                                 f"{len(stamps)} images: they are one a line, image by image "
                                 "(another sequence's file?)")
            self._gt_poses = cam0 @ cam0_from_cam
            self.groundtruth_file = str(poses_path)
        else:
            self._gt_poses = np.zeros((0, 4, 4))
            self._no_pose_reason = (
                f"{poses_path} does not exist (KITTI gives ground truth for sequences 00-10 "
                "only, in dataset/poses beside dataset/sequences): pass the camera's poses as "
                f"{self._poses_option}")
        self._gt_stamps_ns = stamps[:len(self._gt_poses)].copy()
        self._frame_poses = (self._gt_poses if len(self._gt_poses)
                             else np.full((len(stamps), 4, 4), np.nan))
        self._frame_pose_valid = np.full(len(stamps), len(self._gt_poses) > 0)
        log.info("KITTI sequence %s, %s: %d images%s, %s, %d with ground truth", self.folder,
                 self.camera, len(self), f" ({missing} missing)" if missing else "",
                 f"stereo depth ({len(self) - self._right_missing} with a right image)"
                 if self._stereo else "no depth",
                 int(self._frame_pose_valid.sum()))

    def no_pose_source_reason(self) -> Optional[str]:
        """Why no frame can have a pose (no poses/NN.txt), with the fix; None with one."""
        return self._no_pose_reason

    def no_depth_reason(self) -> Optional[str]:
        """Why no frame has depth (a KITTI odometry sequence has no depth images; with stereo
        depth, none of the right camera's images is there), or None with a right image."""
        if self._stereo is not None:
            if self._right_missing < len(self):
                return None
            right = self.folder / self._stereo.right_name
            return (f"none of the {len(self)} {right.name} images times.txt lists is in {right} "
                    f"(000000.png, ...): copy them there, or {WITHOUT_STEREO}")
        return (f"KITTI sequence {self.folder} has no depth images (the odometry benchmark "
                "gives stereo images and Velodyne scans): pass --stereo-depth (depth from the "
                "right camera by OpenCV's SGBM), or build with --matcher mast3r and "
                "points_source 'pointmap' (the defaults), which take the 3-D points from MASt3R")
