"""TUM RGB-D style folders and TUM trajectory files, without ROS.

A folder holds ``rgb.txt`` and optionally ``depth.txt`` (``timestamp path`` per line, paths relative
to the folder), ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``: the camera pose in the map
frame, ``map_from_cam``, metres) and ``camera.yaml`` (any file ``--camera-info`` takes:
`load_camera_info_yaml`, e.g. a ROS camera_info YAML). Lines starting with ``#`` are comments.
Depth PNGs are uint16 with 5000 units per metre, 0 = invalid.

Text files are read as UTF-8 with an optional byte-order mark, or as UTF-16 / UTF-32 after
theirs (Notepad's "Unicode", Windows PowerShell's ``>``), any line ends (LF, CRLF, CR); blank
lines and comments (from a ``#`` at the start of a line or after white space, to the end of the
line) are skipped anywhere in the file, and so is a first line of column names without its ``#``
('timestamp tx ty tz qx qy qz qw', as pandas writes it). Timestamps are seconds, except that an
integer (no decimal point, no exponent) greater than 1e12 is read as integer nanoseconds (EuRoC
/ SLAM output): 1e12 s is 31,700 years, while 1e12 ns is 17 minutes after the 1970 epoch, so the
two cannot be confused for any real recording. A file must use one unit throughout; a stamp out
of range (beyond +-292 years from the epoch once in nanoseconds), non-finite or in the other
unit than the file's first stamp is refused with the file, the line and the reason.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Tuple, Union

import logging
import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from ..core.config import PoseAtStampConfig
from ..core.errors import ImageSizeError, InputError
from ..core.image_codec.camera_info_yaml import CALIBRATION_FILES
from ..core.image_codec.compressed import opencv_path, opencv_refusal
from ..core.image_codec.files import EXIF_TURNS, exif_orientation
from ..core.link_loops import loop_text
from ..core.image_codec import (
    BayerWatch,
    check_depth_scale,
    check_image_file_intact,
    depth_to_metres,
    load_camera_info_yaml,
    read_image_file,
)
from ..core.trajectory import (check_pose_rule, clock_reset_note,
                               frame_spacing_unit_mismatch, nearest_indices, poses_at_stamps,
                               stamp_steps, stamp_unit_mismatch)
from ..core.types import (CameraIntrinsics, Frame, RecordedFrame, UnreadableFrame,
                          check_camera_info_arg)
from .shared_stamps import (SharedPoses, SharedStamps, frames_on_shared_poses,
                            poses_sharing_a_stamp)
from .tum_paths import listed_file, warn_missing_listed
from .tum_trajectory import (  # noqa: F401  the public names re-exported
    PathLike,
    TRAJECTORY_LAYOUT,
    folder_instead_of_file,
    read_tum_trajectory,
    read_tum_trajectory_and_unit,
    read_tum_trajectory_shared,
    trajectory_reset_reason,
    write_tum_trajectory,
    _drop_repeated_lines,
    repeated_stamp_note,
    _read_numbered_rows,
    _read_rows,
)

log = logging.getLogger(__name__)

# the fixes `trajectory_reset_reason` names: a TUM folder's groundtruth.txt, a trajectory file
_SPLIT_FOLDER = ("split the folder there (rgb.txt, depth.txt and groundtruth.txt) into one folder "
                 "per recording")
SPLIT_FILE = "split it there, and the frames with it, into one recording each"

# a TUM RGB-D benchmark download (rgbd_dataset_freiburg1_xyz/) holds rgb.txt, depth.txt and
# groundtruth.txt but no calibration file: where its camera is given, and the one value set
# the benchmark uses for every sequence's registered depth
TUM_BENCHMARK_CAMERA = (
    " (a TUM RGB-D benchmark sequence ships no calibration file: the benchmark's 'Intrinsic "
    "Camera Calibration of the Kinect' page gives it, fx = fy = 525.0, cx 319.5, cy 239.5 for "
    "every sequence's registered depth and freiburg1/2/3's own colour calibrations; write one "
    "as camera.yaml, image_width 640, image_height 480)")

TUM_DEPTH_UNITS_PER_M = 5000.0


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

    ``before_index``: called once camera.yaml is read and rgb.txt found, before the lists are
    read (their warnings, the folder's INFO line): ``localize`` refuses a bad --map or --stride
    there, in one line, as it does before a rosbag2's indexing pass.

    Raises `InputError` (naming the file) for a bad ``depth_scale`` or tolerance, a missing
    folder or rgb.txt, a missing or bad camera.yaml (unless ``camera_info``) or a bad *.txt file.
    """

    _IMAGE_LIST = "rgb.txt"  # the list that names the colour images (a subclass's own)

    def __init__(
        self,
        folder: PathLike,
        camera_info: Optional[CameraIntrinsics] = None,
        sync_tolerance_s: float = 0.02,
        pose_at_stamp: Optional[PoseAtStampConfig] = None,
        depth_scale: Optional[float] = None,
        read_depth: bool = True,
        camera_info_name: Optional[str] = None,
        before_index: Optional[Callable[[], None]] = None,
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
        self._said_exif = False  # colour images read without their EXIF turn (`_read_rgb`)
        self._bayer = BayerWatch()  # its grey images judged for a Bayer mosaic, once this read
        self._said_exif_kept_size = False  # ... a turn that keeps the size (`_read_rgb`)

        rgb_txt = self.folder / "rgb.txt"
        if not rgb_txt.is_file():
            raise InputError(f"{rgb_txt} is missing: a TUM folder lists its images in rgb.txt")
        if before_index is not None:
            before_index()
        self._stamps_ns, rgb_rows, linenos, rgb_unit = _read_numbered_rows(
            rgb_txt, 2, "timestamp filename")
        line_of = {id(row): n for row, n in zip(rgb_rows, linenos)}  # kept through the drop
        # the file the frame stamps come from, and whether it wrote integers read as ns
        self.stamps_written: Tuple[str, bool] = (str(rgb_txt), rgb_unit == "ns")
        if self._stamps_ns.size == 0:
            raise InputError(f"{rgb_txt} lists no images: write one 'timestamp filename' line "
                             "per image (e.g. '1305031102.175304 rgb/1305031102.175304.png', "
                             "the stamp in seconds)")
        self._stamps_ns, rgb_rows = _drop_repeated_lines(rgb_txt, self._stamps_ns, rgb_rows)
        #: the stamps rgb.txt gives to two different images: no ground truth (`shared_stamps`)
        self.shared_stamps = SharedStamps(str(rgb_txt), self._stamps_ns,
                                          [r[0] for r in rgb_rows],
                                          [line_of[id(r)] for r in rgb_rows])
        self.shared_stamps.warn()
        back = int(np.count_nonzero(stamp_steps(self._stamps_ns)[1]))
        if back:  # e.g. written from a shell glob, which sorts 11.1 before 2.1: frames in time
            # an image at an earlier one's stamp (said as a rosbag's repeated stamps), or a
            # recording across a clock reset
            reset = repeated_stamp_note(self._stamps_ns, rgb_rows,
                                        [line_of[id(r)] for r in rgb_rows]
                                        ) or clock_reset_note(self._stamps_ns)
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
        missing = warn_missing_listed(self.folder, self._rgb_paths, self._IMAGE_LIST,
                                      "colour images")
        if self.read_depth:  # a missing depth costs its frame as a keyframe: build-map
            warn_missing_listed(self.folder, self._depth_paths, "depth.txt", "depth images")
        self._gt_stamps_ns, self._gt_poses, gt_unit, gt_shared = self._read_groundtruth()
        # refused where the frames' poses are used (`check_groundtruth_units`), not here: a
        # trajectory the user passes instead (--trajectory, --groundtruth) makes it unused
        why = stamp_unit_mismatch(self._gt_stamps_ns, self._stamps_ns, gt_unit == "ns",
                                  rgb_unit == "ns", "rgb.txt")
        self._gt_unit_error = f"{self.folder / 'groundtruth.txt'}: {why}" if why else None
        if not why:  # refused where its poses are used, as the unit mismatch is
            why = trajectory_reset_reason(self._gt_stamps_ns, _SPLIT_FOLDER, self._gt_poses)
            self._gt_unit_error = f"{self.folder / 'groundtruth.txt'}: {why}" if why else None
        spacing = None if why else frame_spacing_unit_mismatch(self._stamps_ns, rgb_unit == "ns")
        if spacing:  # no ground truth to tell: results.jsonl, trajectory.tum carry them as read
            log.warning("%s: %s", rgb_txt, spacing)
        self._frame_poses, self._frame_pose_valid = poses_at_stamps(
            self._gt_stamps_ns, self._gt_poses, self._stamps_ns,
            round(rule.tolerance_s * 1e9), round(rule.max_gap_s * 1e9),
        )
        # either image's or neither: no pose (not scored, not a keyframe; `shared_stamps`)
        self._frame_pose_valid &= ~np.isin(self._stamps_ns, list(self.shared_stamps.stamps))
        #: groundtruth.txt as read with its `SharedPoses`: a frame whose pose would be taken
        #: from a stamp it gives two different poses gets none either (`own_shared_poses`)
        gt_shared.own = True
        self.own_trajectory = (self._gt_stamps_ns, self._gt_poses, gt_shared)
        if gt_shared:
            self._frame_pose_valid &= ~frames_on_shared_poses(
                self._gt_stamps_ns, self._gt_poses, self._stamps_ns, rule)
        self._said_shared_poses = False  # warned once, where the poses are used
        if self._gt_unit_error:  # associated by stamp, its poses would be one end's, or none
            self._frame_pose_valid[:] = False
            log.info("%s; the frames get no pose from it", self._gt_unit_error)
        log.info(
            "TUM folder %s: %d images%s, %s, %d with ground truth", self.folder, len(self),
            f" ({missing} missing)" if missing else "",
            f"{sum(p is not None for p in self._depth_paths)} with depth" if self.read_depth
            else "depth not read", int(self._frame_pose_valid.sum()),
        )

    def _read_camera_yaml(self) -> CameraIntrinsics:
        """The folder's camera.yaml; `InputError` naming what to write where there is none (a
        TUM RGB-D benchmark sequence, ``rgbd_dataset_freiburg*``, ships none: its camera)."""
        yaml_path = self.folder / "camera.yaml"
        if not yaml_path.is_file():
            loop = loop_text("camera calibration", str(yaml_path))
            if loop:  # there, but leading nowhere: 'does not exist' sent the user looking
                raise InputError(f"no camera intrinsics: {loop}")
            sensor = self.folder / "sensor.yaml"  # an EuRoC/ASL camera folder's calibration
            hint = (f" (this folder's {sensor}, an EuRoC/ASL camera's: --camera-info {sensor})"
                    if sensor.is_file() else TUM_BENCHMARK_CAMERA
                    if self.folder.name.startswith("rgbd_dataset_freiburg") else "")
            raise InputError(
                f"no camera intrinsics: {yaml_path} does not exist; put {CALIBRATION_FILES} "
                f"there or pass --camera-info YAML{hint} (Python API: TumSequence(..., "
                "camera_info=))"
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

    def _read_groundtruth(self) -> Tuple[np.ndarray, np.ndarray, str, SharedPoses]:
        gt_txt = self.folder / "groundtruth.txt"
        if not gt_txt.is_file():
            none = np.zeros(0, dtype=np.int64)
            return none, np.zeros((0, 4, 4)), "", poses_sharing_a_stamp(gt_txt, none, none, [])
        return read_tum_trajectory_shared(gt_txt)

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
        another time unit than rgb.txt, or holds two recordings across a clock reset whose
        stamps overlap (`trajectory_reset_reason`: a frame's pose would be interpolated from the
        other recording's); for a caller about to use the frames' poses. Warns (once) about
        the stamps groundtruth.txt gives two different poses (`SharedPoses.warning`)."""
        if self._gt_unit_error:
            raise InputError(self._gt_unit_error)
        # one stamp, two poses: said where they are used (a subclass not read by `__init__`,
        # a stereo EuRoC folder, has no groundtruth.txt)
        if not getattr(self, "_said_shared_poses", True):
            self._said_shared_poses = True
            self.own_trajectory[2].warn()

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

    def listed_pose_and_depth(self, index: int) -> Tuple[Optional[np.ndarray], bool]:
        """Frame ``index``'s (ground-truth ``map_from_cam`` 4x4 float64, or None; whether
        depth.txt lists a depth image for it within the sync tolerance) from the text files
        alone, no image read: what build-map selects keyframe candidates by before it decodes
        a frame (`pipeline._add_keyframes`). ``index`` 0-based, as for `__getitem__`."""
        return self._pose(index), self._depth_paths[index] is not None

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
        rgb_path = self._rgb_paths[index]
        return Frame(
            rgb=self._read_rgb(rgb_path),  # read and size-checked before its depth
            intrinsics=self.intrinsics,
            stamp_ns=int(self._stamps_ns[index]),
            depth_m=None if depth_path is None else self._read_depth(depth_path, rgb_path),
            map_from_cam=pose,
        )

    def _check_size(self, path: Path, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        size = (self.intrinsics.width, self.intrinsics.height)
        if (w, h) != size:
            raise ImageSizeError(f"{path} is {w}x{h} but {self._intrinsics_source} is for "
                                 f"{size[0]}x{size[1]}", (w, h), size, "colour")

    def _read_rgb(self, path: Path) -> np.ndarray:
        path = listed_file(self.folder, path, "colour image", self._IMAGE_LIST)  # '/' where not
        try:
            # the one image-file path: 16-bit scaled like cv_bridge
            rgb = read_image_file(path, bayer_watch=self._bayer)
        except InputError as err:
            msg, said = str(err), f"cannot read image {path}: "
            if msg.startswith(said):  # not "cannot read ... image {path}" twice
                msg = msg[len(said):]
            raise InputError(f"cannot read colour image {path}: {msg}") from None
        size = (self.intrinsics.width, self.intrinsics.height)
        h, w = rgb.shape[:2]
        if (w, h) == size[::-1] and w != h:  # turned by a quarter: an EXIF orientation tag?
            stored = read_image_file(path, orientation=False, bayer_watch=self._bayer)
            if stored.shape[1::-1] == size:  # the calibration is for the stored pixel grid
                if not self._said_exif:
                    self._said_exif = True
                    log.warning("%s: the colour images carry an EXIF orientation tag that turns "
                                "them to %dx%d, but %s is for the %dx%d stored: read as stored",
                                self.folder, size[1], size[0], self._intrinsics_source, *size)
                return stored
        if (w, h) == size:  # a turn that keeps the size (180 deg, a mirror, a square's quarter)
            turn = exif_orientation(path)
            if turn != 1:  # camera.yaml's size cannot tell: the stored grid, as depth and poses
                stored = read_image_file(path, orientation=False, bayer_watch=self._bayer)
                # stored at that size too (a quarter turn of a non-square frame is not: the
                # calibration is for the turned one) and OpenCV applied it (JPEG; not every format)
                if stored.shape == rgb.shape and not np.array_equal(stored, rgb):
                    self._warn_exif_kept_size(turn, size)
                    return stored
        self._check_size(path, rgb)
        return rgb

    def _warn_exif_kept_size(self, turn: int, size: Tuple[int, int]) -> None:
        if self._said_exif_kept_size:
            return
        self._said_exif_kept_size = True
        log.warning("%s: the colour images carry an EXIF orientation tag (%d: %s) whose turn "
                    "keeps their %dx%d size, so %s cannot tell whether it is for the turned or "
                    "the stored pixels: read as stored, as a recording's depth images and "
                    "camera poses are (turned, every pose came out turned about the optical "
                    "axis); if the calibration and the poses are for the turned pictures, turn "
                    "the files themselves (exiftran -ai, mogrify -auto-orient)", self.folder,
                    turn, EXIF_TURNS[turn], *size, self._intrinsics_source)

    def _read_depth(self, path: Path, rgb_path: Path) -> np.ndarray:
        """Depth image ``path`` in metres, (H, W) float32; `ImageSizeError` (stream 'depth')
        when it is not the size of its colour image ``rgb_path`` (read first, so of
        the intrinsics' size): the depth is unregistered, not the calibration wrong."""
        path = listed_file(self.folder, path, "depth image", "depth.txt")  # as '/' where not
        if path.stat().st_size == 0:  # a copy or a write that never happened, as for colour
            raise InputError(f"cannot read depth image {path}: the file is empty (0 bytes)")
        try:
            check_image_file_intact(path)  # pixels from OpenCV below, bit-exact
        except InputError as err:
            raise InputError(f"cannot read depth image {path}: {err}") from None
        except OSError as err:  # permission denied: an unreadable frame, as a damaged file
            raise InputError(f"cannot read depth image {path}: {err.strerror or err}") from None
        with opencv_refusal(f"depth image {path}"):
            raw = cv2.imread(opencv_path(path, "depth image"), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise InputError(f"cannot read depth image {path}: truncated or corrupt, or not an "
                             "image")
        if raw.dtype != np.uint16 or raw.ndim != 2:
            hint = ("" if raw.dtype.kind != "f" or raw.ndim != 2 else
                    ": a float depth image (metres, as renderers and 32FC1 write it) is to be "
                    "converted, e.g. (np.where(np.isfinite(d) & (d > 0) & (d < 13.1), d, 0) "
                    "* 5000).round().astype(np.uint16) saved as PNG (TUM's 5000 units per "
                    "metre, up to 13.1 m; 0: no depth), or 65.5 and 1000 for 13.1 and 5000, "
                    "read with --depth-scale 1000 (up to 65.5 m)")
            raise InputError(f"depth image {path} must be 16-bit single-channel PNG, got "
                             f"{raw.shape} {raw.dtype}{hint}")
        (h, w), size = raw.shape, (self.intrinsics.width, self.intrinsics.height)
        if (w, h) != size:  # as the rosbag2 reader words it: the colour image is the reference
            colour = listed_file(self.folder, rgb_path, 'colour image', 'rgb.txt')
            turn = exif_orientation(colour) if (w, h) == size[::-1] else 1
            turn = turn if turn >= 5 else 1  # only a quarter turn (5-8) swaps w and h
            fix = ("register depth to the colour image first" if turn == 1 else
                   f"the colour image is stored {w}x{h}, the depth's size, and turned to "
                   f"{size[0]}x{size[1]} by its EXIF orientation tag ({turn}: {EXIF_TURNS[turn]}) "
                   f"to fit {self._intrinsics_source}: give the calibration of the pixels as "
                   f"stored ({w}x{h}: the colour is then read as stored, as the depth and the "
                   "poses are), or turn the depth images the same way")
            raise ImageSizeError(
                f"depth image {path} is {w}x{h}, but its colour image {colour} is "
                f"{size[0]}x{size[1]}: {fix}", (w, h), size, "depth")
        return depth_to_metres(raw, "16UC1", self.depth_units_per_m)
