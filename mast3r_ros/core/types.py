"""Plain data types shared by the core, the offline tools and the ROS node.

Conventions used everywhere in this package:

* **Pixels** are (x, y) = (column, row) with the origin at the *centre* of the top-left pixel, as
  in OpenCV. A pixel at integer (x, y) covers [x - 0.5, x + 0.5] x [y - 0.5, y + 0.5].
* **Poses** are 4x4 float64 homogeneous matrices named ``b_from_a``: ``p_b = b_from_a @ p_a``.
  ``map_from_cam`` maps points from the camera optical frame (x right, y down, z forward, REP-103
  ``*_optical_frame``) into the map frame.
* **Units** are metres, radians internally; names carry units where ambiguous (``_m``, ``_deg``).
* **Stamps** are integer nanoseconds (``stamp_ns``), the image header stamp.
* **Image sizes** are (width, height) in pixels (`Frame.size`, `CameraIntrinsics.width/height`);
  array shapes stay numpy's (H, W, ...). One exception, named as MASt3R names it: the network's
  ``true_shape`` (and ``net_shape``, ``hw`` token grids) is (H, W) network pixels, like an array
  shape; functions that take an image size take ``(width, height)`` (e.g. ``camera_size``).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import numpy as np

from .errors import InputError


@dataclasses.dataclass
class CameraIntrinsics:
    """Pinhole intrinsics with OpenCV distortion, as in ``sensor_msgs/CameraInfo``.

    ``width``/``height`` in pixels. ``K`` is 3x3 float64 in pixels, principal point in the
    OpenCV convention (origin at the centre of the top-left pixel). ``dist`` a 1-D float64 array
    of OpenCV coefficients (``plumb_bob``: k1 k2 p1 p2 k3; ``rational_polynomial``: 8 values;
    ``equidistant``: 4 fisheye values), possibly empty or all zero; its length is not checked
    here (`image_codec.intrinsics_from_camera_info` checks it for a CameraInfo), so a count
    OpenCV refuses surfaces as ``cv2.error`` when pixels are undistorted.

    Raises `InputError` for a size <= 0, a non-finite ``K`` or fx, fy <= 0.
    """

    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    distortion_model: str = "plumb_bob"

    def __post_init__(self) -> None:
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.dist = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"camera size must be positive, got {self.width}x{self.height}")
        fx, fy = self.K[0, 0], self.K[1, 1]
        if not (np.isfinite(self.K).all() and fx > 0 and fy > 0):
            raise InputError(
                f"camera matrix K must be finite with fx, fy > 0, got fx={fx}, fy={fy}; "
                "an all-zero CameraInfo means the camera is uncalibrated: calibrate it first"
            )

    @property
    def has_distortion(self) -> bool:
        return bool(self.dist.size) and bool(np.any(self.dist != 0))


@dataclasses.dataclass
class Frame:
    """One camera image with everything known about it.

    ``rgb`` is (H, W, 3) uint8 in RGB order. ``stamp_ns`` integer nanoseconds (header stamp).
    ``frame_id`` the image's ``header.frame_id``, the camera optical frame (the node looks up
    ``cam_from_base`` with it). ``depth_m`` is (H, W) float32 metres registered to ``rgb`` with
    NaN where invalid (the dtype is not enforced). ``map_from_cam`` is a known 4x4 pose (ground
    truth or a trajectory file) when there is one.

    Raises `InputError` when ``rgb`` is not (H, W, 3) uint8, or the intrinsics' size or the
    depth's shape differs from the image's.
    """

    rgb: np.ndarray
    intrinsics: Optional[CameraIntrinsics]
    stamp_ns: int
    frame_id: str = ""
    depth_m: Optional[np.ndarray] = None
    map_from_cam: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise InputError(
                f"Frame.rgb must be (H, W, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}"
            )
        h, w = self.rgb.shape[:2]
        intr = self.intrinsics
        if intr is not None and (intr.width, intr.height) != (w, h):
            raise InputError(
                f"image is {w}x{h} but its intrinsics are for "
                f"{self.intrinsics.width}x{self.intrinsics.height}: the CameraInfo belongs to "
                "another stream or resolution"
            )
        if self.depth_m is not None and self.depth_m.shape != (h, w):
            raise InputError(
                f"depth {self.depth_m.shape[::-1]} does not match image {w}x{h}: "
                "register depth to the colour image first"
            )

    @property
    def size(self) -> tuple:
        """(width, height) in pixels."""
        return (self.rgb.shape[1], self.rgb.shape[0])


@dataclasses.dataclass
class Correspondences:
    """2-D/3-D matches of one query image against one keyframe.

    ``points3d`` (N, 3) float64 in the map frame (metres); ``points2d`` (N, 2) float64 query-image
    pixels (original resolution, distorted as captured); ``keyframe_xy`` (N, 2) float64 keyframe
    pixels (original resolution) for debug pictures; ``keyframe_id`` of the keyframe they come from.
    ``points3d_cov`` (N, 3, 3) float64, optional: each 3-D point's own covariance in the map frame
    (m^2), filled by the matcher from its point model (`core.uncertainty`); None = unknown (the
    pose covariance then counts pixel noise only for these points).
    Raises `InputError` when the arrays differ in length.
    """

    keyframe_id: int
    points3d: np.ndarray
    points2d: np.ndarray
    keyframe_xy: np.ndarray
    points3d_cov: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        self.points3d = np.asarray(self.points3d, dtype=np.float64).reshape(-1, 3)
        self.points2d = np.asarray(self.points2d, dtype=np.float64).reshape(-1, 2)
        self.keyframe_xy = np.asarray(self.keyframe_xy, dtype=np.float64).reshape(-1, 2)
        if not (len(self.points3d) == len(self.points2d) == len(self.keyframe_xy)):
            raise InputError("Correspondences: points3d, points2d and keyframe_xy differ in length")
        if self.points3d_cov is not None:
            self.points3d_cov = np.asarray(self.points3d_cov, dtype=np.float64)
            if self.points3d_cov.shape != (len(self.points3d), 3, 3):
                raise InputError(f"Correspondences: points3d_cov must be ({len(self.points3d)}, "
                                 f"3, 3), got {self.points3d_cov.shape}")

    def __len__(self) -> int:
        return len(self.points3d)


@dataclasses.dataclass
class MatchDebug:
    """The matches behind one result, for a debug picture (`LocalizationResult.matches`).

    ``query_xy`` (N, 2) and ``keyframe_xy`` (N, 2) float64 original-image pixels,
    ``keyframe_index`` (N,) int64 map-list index of each match's keyframe (`KeyframeMap.keyframe`
    gives its record), ``inliers`` (N,) bool (PnP inliers; all False when PnP failed).
    """

    query_xy: np.ndarray
    keyframe_xy: np.ndarray
    keyframe_index: np.ndarray
    inliers: np.ndarray


@dataclasses.dataclass
class LocalizationResult:
    """What the localizer says about one frame. A failed frame never carries a usable pose.

    ``map_from_cam`` is 4x4 float64 (camera optical frame -> map), ``covariance`` 6x6 float64 in the
    ROS order (x, y, z, rot_x, rot_y, rot_z) of the *camera* pose expressed in the map frame,
    metres and radians, for the perturbation ``R' = exp([dtheta]_x) R``, ``c' = c + dc`` with
    ``dtheta`` about the map axes (`core.pnp`). ``reproj_rms_px`` is over the PnP inliers, in
    undistorted query pixels. ``keyframe_ids`` are the manifest ids of the keyframes matched.
    ``timings_s`` holds per-stage wall times in seconds. ``matches`` is set only when asked for
    (``Localizer.localize(..., with_matches=True)``), also on failures that got as far as PnP.
    """

    success: bool
    stamp_ns: int
    map_from_cam: Optional[np.ndarray] = None
    covariance: Optional[np.ndarray] = None
    num_inliers: int = 0
    num_matches: int = 0
    inlier_ratio: float = 0.0
    reproj_rms_px: float = float("nan")
    keyframe_ids: tuple = ()
    reason: str = ""
    timings_s: Dict[str, float] = dataclasses.field(default_factory=dict)
    matches: Optional[MatchDebug] = None

    @staticmethod
    def failure(stamp_ns: int, reason: str, **kw) -> LocalizationResult:
        return LocalizationResult(success=False, stamp_ns=stamp_ns, reason=reason, **kw)
