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
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .errors import ImageSizeError, InputError
from .focal_evidence import FocalFit

# Distortion models of ``sensor_msgs/distortion_models.hpp`` -> the coefficient counts accepted
# (what ROS drivers publish, all accepted by OpenCV); 0 = no distortion.
DISTORTION_COEFFICIENT_COUNTS: Dict[str, Tuple[int, ...]] = {
    "plumb_bob": (0, 4, 5),
    "rational_polynomial": (0, 8, 12, 14),
    "equidistant": (0, 4),
}
_COEFFICIENT_LAYOUT = {
    "plumb_bob": "k1 k2 p1 p2 [k3]",
    "rational_polynomial": "k1 k2 p1 p2 k3 k4 k5 k6 [s1 s2 s3 s4 [tau_x tau_y]]",
    "equidistant": "k1 k2 k3 k4 (cv2.fisheye)",
}
_INT64_MAX = 2 ** 63 - 1  # the largest |stamp_ns| (`Frame`), as the TUM reader's range
# K's fixed entries (K[1,0], K[2,0], K[2,1] = 0, K[2,2] = 1) are compared with this tolerance
# (a K that went through float32 or a text file has K[2,2] = 1 + 1e-7).
_K_TOL = 1e-6
# The image centre may lie at most this many focal lengths from the principal point (about 84
# degrees off the optical axis); see `CameraIntrinsics`.
_MAX_CENTRE_OFFSET_F = 10.0
_K_NAMES = (("fx", "skew", "cx"), ("0", "fy", "cy"), ("0", "0", "1"))
_K_LAYOUT = "K = [[fx, skew, cx], [0, fy, cy], [0, 0, 1]] in pixels"


# What OpenCV does with a coefficient count, whatever the model's name (cv2.undistortPoints
# reads 4, 5, 8, 12 or 14 plumb_bob / rational_polynomial coefficients by their count).
_OPENCV_MODEL_OF_COUNT = {4: "plumb_bob", 5: "plumb_bob", 8: "rational_polynomial",
                          12: "rational_polynomial", 14: "rational_polynomial"}


def check_distortion(model: object, dist: object, *,
                     model_field: str = "CameraIntrinsics.distortion_model",
                     dist_field: str = "CameraIntrinsics.dist",
                     by_count: bool = False) -> Tuple[str, np.ndarray]:
    """Check a distortion model and its coefficients -> (model, dist as 1-D float64).

    The one check behind `CameraIntrinsics` and `image_codec.intrinsics_from_camera_info`:
    ``model`` must be a name of ``sensor_msgs/distortion_models`` with a coefficient count of
    `DISTORTION_COEFFICIENT_COUNTS` (``plumb_bob`` 0, 4 or 5; ``rational_polynomial`` 0, 8, 12 or
    14; ``equidistant`` 0 or 4), counted whatever the values (all zero too); an empty model with
    no or all-zero coefficients is ``plumb_bob`` without distortion, as ROS publishes an
    uncalibrated-distortion camera. Coefficients must be finite. ``model_field``/``dist_field``
    name the fields in the messages. With ``by_count`` (`CameraIntrinsics`: Python callers
    and stored maps), plumb_bob and rational_polynomial are told apart by the coefficient count
    as OpenCV tells them (OpenCV's 8 coefficients with the default 'plumb_bob' name are
    ``rational_polynomial``; all-zero coefficients of any count are no distortion); else a
    count of the other model is refused, hinting at the rename (a CameraInfo's is relabelled).
    ``dist`` None is no distortion (as OpenCV's ``distCoeffs=None``).

    Raises:
        InputError: an unknown (or misspelt) model, a wrong coefficient count, non-finite,
            complex or non-numeric coefficients.
    """
    d = _real_array(np.zeros(0) if dist is None else dist, dist_field,
                    "the OpenCV distortion coefficients (empty for none)").reshape(-1)
    supported = ", ".join(DISTORTION_COEFFICIENT_COUNTS)
    if not isinstance(model, str):
        raise InputError(f"{model_field} must be a string, got {model!r} "
                         f"({type(model).__name__}); supported: {supported}")
    if model == "" and not np.any(d):
        model = "plumb_bob"
    if model not in DISTORTION_COEFFICIENT_COUNTS:
        hint = (f"name the model of the {d.size} coefficients" if model == "" else
                "a fisheye lens calibrated with cv2.fisheye is 'equidistant'")
        raise InputError(f"{model_field}: unsupported distortion model {model!r}; supported: "
                         f"{supported} (sensor_msgs/distortion_models names; {hint})")
    if by_count and model != "equidistant":
        if d.size and not np.any(d):  # no distortion, whatever the count
            return model, (d if d.size in DISTORTION_COEFFICIENT_COUNTS[model] else np.zeros(0))
        model = _OPENCV_MODEL_OF_COUNT.get(d.size, model)
    counts = DISTORTION_COEFFICIENT_COUNTS[model]
    if d.size not in counts:
        other = _OPENCV_MODEL_OF_COUNT.get(d.size) if model != "equidistant" else None
        rename = (f", or name the model {other!r} if these are its {_COEFFICIENT_LAYOUT[other]} "
                  f"(as OpenCV and image_geometry read {d.size})") if other else ""
        raise InputError(f"{dist_field}: {model} expects {counts} distortion coefficients, got "
                         f"{d.size}; pass {_COEFFICIENT_LAYOUT[model]} (none: no distortion)"
                         f"{rename}")
    bad = np.flatnonzero(~np.isfinite(d))
    if bad.size:
        raise InputError(f"{dist_field}: distortion coefficient {int(bad[0])} is {d[bad[0]]} "
                         f"(all must be finite), got {d.tolist()}; recalibrate the camera, or "
                         "pass zeros for no distortion")
    return model, d


def _real_array(value: object, field: str, expected: str) -> np.ndarray:
    """``value`` as a float64 array; `InputError` naming ``field`` for non-numbers or complex
    numbers (numpy would drop the imaginary part with a ComplexWarning only)."""
    try:
        raw = np.asarray(value)
        complex_ = raw.dtype.kind == "c"
        a = None if complex_ else raw.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{field} must be {expected}, got {type(value).__name__} "
                         f"{value!r:.80}") from None
    if complex_:
        raise InputError(f"{field} must be real numbers, got a complex array {value!r:.80}; "
                         f"pass {expected}")
    return a


def _pixel_count(value: object, name: str) -> int:
    """A positive whole number of pixels as an int: Python/numpy ints, and floats that are
    whole numbers (640.0); never bool, a fraction or a string."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, np.integer, float, np.floating)):
        raise InputError(f"CameraIntrinsics.{name} must be a whole number of pixels, got "
                         f"{value!r} ({type(value).__name__}); pass an int")
    if isinstance(value, (float, np.floating)):
        if not (np.isfinite(value) and float(value).is_integer()):
            raise InputError(f"CameraIntrinsics.{name} must be a whole number of pixels, got "
                             f"{value!r}; pass the image's {name} in pixels as an int")
    count = int(value)
    if count <= 0:
        raise InputError(f"CameraIntrinsics.{name} must be positive, got {count}; pass the "
                         f"image's {name} in pixels")
    return count


def _camera_matrix(K: object, width: int, height: int) -> np.ndarray:
    """``K`` as a checked 3x3 float64 array (see `CameraIntrinsics`)."""
    K = _real_array(K, "camera matrix K", f"3x3 numbers ({_K_LAYOUT})")
    if K.size != 9:
        raise InputError(f"camera matrix K must be 3x3 (or 9 row-major values), got shape "
                         f"{K.shape}; {_K_LAYOUT}")
    K = K.reshape(3, 3)
    bad = np.argwhere(~np.isfinite(K))
    if len(bad):
        r, c = (int(v) for v in bad[0])
        raise InputError(f"camera matrix K[{r},{c}] ({_K_NAMES[r][c]}) is {K[r, c]}: every entry "
                         f"must be finite ({_K_LAYOUT}); fix the calibration")
    fx, fy = K[0, 0], K[1, 1]
    if not (fx > 0 and fy > 0):
        raise InputError(
            f"camera matrix K must have fx, fy > 0, got fx={fx}, fy={fy}; "
            "an all-zero CameraInfo means the camera is uncalibrated: calibrate it first"
        )
    bottom = K[2].tolist()
    if (abs(K[0, 2]) <= _K_TOL and abs(K[1, 2]) <= _K_TOL
            and (abs(K[2, 0]) > _K_TOL or abs(K[2, 1]) > _K_TOL)):
        raise InputError(f"camera matrix K looks transposed: its bottom row is {bottom} (the "
                         "principal point) and K[0,2] = K[1,2] = 0; pass K.T "
                         f"({_K_LAYOUT})")
    if abs(K[2, 0]) > _K_TOL or abs(K[2, 1]) > _K_TOL or abs(K[2, 2] - 1.0) > _K_TOL:
        hint = (f"divide K by K[2,2] = {K[2, 2]} (a scaled K)"
                if abs(K[2, 0]) <= _K_TOL and abs(K[2, 1]) <= _K_TOL and K[2, 2] > 0
                else _K_LAYOUT)
        raise InputError(f"camera matrix K's bottom row must be [0, 0, 1], got {bottom}; {hint}")
    if abs(K[1, 0]) > _K_TOL:
        raise InputError(f"camera matrix K[1,0] must be 0, got {K[1, 0]} (only K[0,1], the "
                         f"skew, may be non-zero); {_K_LAYOUT}")
    with np.errstate(over="ignore"):  # a subnormal fx: inf, refused below without a warning
        off = max(abs(K[0, 2] - (width - 1) / 2) / fx, abs(K[1, 2] - (height - 1) / 2) / fy)
    if off > _MAX_CENTRE_OFFSET_F:
        raise InputError(
            f"camera matrix K's principal point (cx, cy) = ({K[0, 2]}, {K[1, 2]}) is {off:.0f} "
            f"focal lengths (fx={fx}, fy={fy}) from the centre of the {width}x{height} image "
            f"(over {_MAX_CENTRE_OFFSET_F:.0f}: the image would lie more than 84 degrees off the "
            "optical axis): K is not in this image's pixels (normalised or millimetres?); "
            f"give {_K_LAYOUT}")
    return K


@dataclasses.dataclass
class CameraIntrinsics:
    """Pinhole intrinsics with OpenCV distortion, as in ``sensor_msgs/CameraInfo``, for the
    image actually given to the localizer.

    * ``width``/``height``: the image size in pixels, stored as ``int`` (Python or numpy ints, and
      floats that are whole numbers such as 640.0, are accepted and converted; a fraction, bool
      or string is refused).
    * ``K``: 3x3 float64 (a 3x3 array or 9 row-major values) in pixels,
      ``[[fx, skew, cx], [0, fy, cy], [0, 0, 1]]``, principal point in the OpenCV convention
      (origin at the centre of the top-left pixel). Only the skew ``K[0,1]`` may be non-zero
      off the diagonal (accepted, but ignored by every projection, as OpenCV and poselib do:
      CameraInfo's K has no skew; `Localizer` warns when it matters); the bottom row must be
      exactly [0, 0, 1] (a K scaled as a homogeneous
      matrix or transposed is refused). The principal point may lie outside the image (a ROI
      crop of a larger calibration, `image_codec.intrinsics_from_camera_info`); only one more
      than 10 focal lengths from the image centre (K in other units) is refused.
    * ``dist``: 1-D float64 OpenCV coefficients, ``distortion_model`` their
      ``sensor_msgs/distortion_models`` name (`check_distortion`): ``plumb_bob`` 0, 4 or 5
      (k1 k2 p1 p2 [k3]), ``rational_polynomial`` 0, 8, 12 or 14, ``equidistant`` 0 or 4
      (fisheye k1..k4); empty, None or all zero means none. An empty model with no (or
      all-zero) coefficients is stored as ``plumb_bob``. ``plumb_bob`` and
      ``rational_polynomial`` are told apart by the coefficient count, as OpenCV reads them
      (it has no model name, and writes 8 coefficients under the default name): 8 coefficients
      named 'plumb_bob' (or 12, 14) are stored as 'rational_polynomial', 4 or 5 named
      'rational_polynomial' as 'plumb_bob', and all-zero coefficients of any count as none; a
      count neither model has (3, 6, ...) is refused. A CameraInfo is read so too, with a
      warning (`image_codec.intrinsics_from_camera_info`).

    K must belong to the image *as given*: a K for a 640x480 image used on the same camera's
    image resized to 320x240 still passes every check here (its principal point (320, 240)
    lies in the smaller image), and gives wrong poses. Scaling K with the image is the caller's
    duty: multiply fx, fy, cx, cy (and the skew) by the resize factor, as image_geometry does for
    binning (or ``s (c + 0.5) - 0.5`` for cx, cy under the pixel-centre convention).

    Raises:
        InputError: a non-integral or non-positive size; K not 3x3 real numbers (complex ones
            are refused), with a non-finite entry (named), fx or fy <= 0, transposed, a bottom
            row other than [0, 0, 1], a non-zero K[1,0], or a principal point absurdly far
            from the image; an unknown distortion
            model, a coefficient count neither plumb_bob nor rational_polynomial has (nor
            equidistant's 4), a non-finite or complex coefficient.
    """

    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    distortion_model: str = "plumb_bob"

    def __post_init__(self) -> None:
        self.width = _pixel_count(self.width, "width")
        self.height = _pixel_count(self.height, "height")
        self.K = _camera_matrix(self.K, self.width, self.height)
        self.distortion_model, self.dist = check_distortion(self.distortion_model, self.dist,
                                                            by_count=True)

    @property
    def has_distortion(self) -> bool:
        """True when ``dist`` holds a non-zero coefficient (pixels must be undistorted)."""
        return bool(self.dist.size) and bool(np.any(self.dist != 0))


def check_camera_info_arg(camera_info: Any) -> Optional[CameraIntrinsics]:
    """A sequence reader's ``camera_info`` override (TUM folders, bags): a `CameraIntrinsics`
    or None, else `InputError` up front (a YAML path was taken and failed at the first frame
    with an AttributeError)."""
    if camera_info is not None and not isinstance(camera_info, CameraIntrinsics):
        raise InputError(f"camera_info must be a CameraIntrinsics or None, got "
                         f"{type(camera_info).__name__}; for a camera_info YAML pass "
                         "image_codec.load_camera_info_yaml(path)")
    return camera_info


def check_stamp_ns(stamp: Any, what: str, unit: str = "nanoseconds") -> int:
    """``stamp`` (a Python int or numpy integer) as a Python int of ``unit`` (nanoseconds; the
    ``sec`` field of a ROS stamp passes "seconds"); raises `InputError` naming ``what`` for
    anything but an integer (a float is most often seconds: ``int(round(t * 1e9))``) or a bool
    (Python or numpy). No range is checked."""
    if isinstance(stamp, (bool, np.bool_)) or not isinstance(stamp, (int, np.integer)):
        how = ("convert seconds with int(round(t * 1e9))" if unit == "nanoseconds" else
               "split float seconds with ns_to_stamp(int(round(t * 1e9)))")
        raise InputError(f"{what} must be an integer number of {unit}, got {stamp!r} "
                         f"({type(stamp).__name__}); {how}")
    return int(stamp)


def check_point_rows(value: Any, cols: int, what: str) -> np.ndarray:
    """``value`` as an (N, ``cols``) float64 array (N may be 0; any empty array is (0, cols)).
    OpenCV's point layouts (N, 1, ``cols``) and (1, N, ``cols``) (``cv2.projectPoints``,
    ``cv2.undistortPoints``, what ``cv2.solvePnP`` takes) are the same rows and are accepted.

    Raises `InputError` naming ``what`` for non-numbers or another shape -- a flat or transposed
    array is refused rather than reshaped, since reshaping (N, 2) pixels as (-1, 3) points
    would pair the wrong numbers without a word."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be an (N, {cols}) array of numbers, got "
                         f"{type(value).__name__}") from None
    if a.size == 0:
        return a.reshape(0, cols)
    if a.ndim == 3 and a.shape[2] == cols and 1 in a.shape[:2]:
        a = a.reshape(-1, cols)
    if a.ndim != 2 or a.shape[1] != cols:
        raise InputError(f"{what} must be (N, {cols}), got shape {a.shape}")
    return a


def rgb8_hint(image: np.ndarray) -> str:
    """How to make an (H, W, 3) uint8 RGB array of a refused numpy ``image``, for an error
    message (`Frame`, `model.engine.Mast3rEngine.prepare`)."""
    if image.dtype.kind == "f":  # to_rgb8 takes what ROS encodings hold (uint8, uint16)
        return ("a float image of 0..1 converts with (np.clip(a, 0, 1) * 255).round()"
                ".astype(np.uint8), one of 0..255 with np.clip(a, 0, 255).round().astype("
                "np.uint8)")
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[2] not in (1, 3, 4):
        return "a channel-first (C, H, W) array: pass a.transpose(1, 2, 0)"
    return ("convert it with image_codec.to_rgb8(array, encoding), e.g. encoding "
            "'bgr8', 'mono8', 'rgba8' or 'rgb16'")


@dataclasses.dataclass
class Frame:
    """One camera image with everything known about it.

    * ``rgb``: (H, W, 3) uint8 numpy array in RGB order (`image_codec.to_rgb8` /
      `image_codec.read_image_file` make one; a float image is refused: scale and round it).
    * ``intrinsics``: `CameraIntrinsics` of exactly this W x H image, or None (a frame that
      cannot be localized, e.g. for a pipeline stage that only needs the pixels).
    * ``stamp_ns``: the image header stamp in integer nanoseconds, a Python int or numpy integer
      (stored as int); a float (seconds, or ns that lost precision), bool or None is refused:
      convert seconds with ``int(round(t * 1e9))``. It must fit int64 (|stamp| <= 2**63 - 1,
      the range of a TUM file's signed stamps); a ROS message needs more
      (`message_fields.ns_to_stamp`: 0 <= stamp, seconds up to 2**31 - 1).
    * ``frame_id``: the image's ``header.frame_id``, the camera optical frame (the node looks up
      ``cam_from_base`` with it), as tf2 names it: built from a message, without a leading '/'
      (`message_fields.header_frame_name`).
    * ``depth_m``: None or (H, W) metres registered to ``rgb`` (same size, pixel for pixel),
      float32 with NaN where invalid by convention (the dtype is not enforced); an (H, W, 1)
      array is accepted and stored as its (H, W) view, as the image readers treat one-channel
      images.
    * ``map_from_cam``: None or a known finite 4x4 pose (camera optical frame -> map; ground
      truth or a trajectory file), stored as float64.

    Raises:
        InputError: ``rgb`` not an (H, W, 3) uint8 numpy array; ``intrinsics`` not a
            `CameraIntrinsics` or for another size; ``stamp_ns`` not an integer or outside
            int64; ``frame_id`` not
            a string; ``depth_m`` not a numpy array of the image's shape; ``map_from_cam`` not a
            finite 4x4 matrix.
    """

    rgb: np.ndarray
    intrinsics: Optional[CameraIntrinsics]
    stamp_ns: int
    frame_id: str = ""
    depth_m: Optional[np.ndarray] = None
    map_from_cam: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if not isinstance(self.rgb, np.ndarray):
            raise InputError(f"Frame.rgb must be a numpy array (H, W, 3) uint8 RGB, got "
                             f"{type(self.rgb).__name__}; convert it with np.asarray(image, "
                             "dtype=np.uint8) or read it with image_codec.read_image_file")
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise InputError(f"Frame.rgb must be (H, W, 3) uint8 RGB, got shape "
                             f"{self.rgb.shape} {self.rgb.dtype}; {rgb8_hint(self.rgb)}")
        h, w = self.rgb.shape[:2]
        intr = self.intrinsics
        if intr is not None and not isinstance(intr, CameraIntrinsics):
            raise InputError(f"Frame.intrinsics must be a CameraIntrinsics or None, got "
                             f"{type(intr).__name__}")
        if intr is not None and (intr.width, intr.height) != (w, h):
            raise ImageSizeError(
                f"image is {w}x{h} but its intrinsics are for "
                f"{intr.width}x{intr.height}: the CameraInfo belongs to "
                "another stream or resolution", (w, h), (intr.width, intr.height))
        self.stamp_ns = check_stamp_ns(self.stamp_ns, "Frame.stamp_ns")
        if abs(self.stamp_ns) > _INT64_MAX:  # every stamp array is int64
            raise InputError(f"Frame.stamp_ns {self.stamp_ns} is outside int64 nanoseconds "
                             f"(|stamp| <= 2**63 - 1, 292 years from the epoch); pass "
                             "nanoseconds, not a finer unit")
        if not isinstance(self.frame_id, str):
            raise InputError(f"Frame.frame_id must be a string (the header's frame_id), got "
                             f"{self.frame_id!r}")
        if self.depth_m is not None:
            depth = self.depth_m
            if not isinstance(depth, np.ndarray):
                raise InputError(f"Frame.depth_m must be a numpy array (H, W) of metres or None, "
                                 f"got {type(depth).__name__}")
            if depth.ndim == 3 and depth.shape[2] == 1:
                depth = depth[:, :, 0]
            if depth.shape != (h, w):
                raise InputError(
                    f"Frame.depth_m has shape {self.depth_m.shape} but the image is {w}x{h} "
                    f"(width x height), shape ({h}, {w}): register depth to the colour image "
                    "first"
                )
            self.depth_m = depth
        if self.map_from_cam is not None:
            try:
                pose = np.asarray(self.map_from_cam, dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(f"Frame.map_from_cam must be a finite 4x4 pose or None, got "
                                 f"{type(self.map_from_cam).__name__}") from None
            if pose.shape != (4, 4) or not np.isfinite(pose).all():
                what = (f"shape {pose.shape}" if pose.shape != (4, 4)
                        else "a matrix with non-finite entries")
                fix = ("append the row [0, 0, 0, 1] to a 3x4 [R | t]" if pose.shape == (3, 4)
                       else "pass None when the pose is unknown")
                raise InputError(f"Frame.map_from_cam must be a finite 4x4 pose (camera optical "
                                 f"frame -> map) or None, got {what}; {fix}")
            self.map_from_cam = pose

    @property
    def size(self) -> tuple:
        """(width, height) in pixels."""
        return (self.rgb.shape[1], self.rgb.shape[0])


@dataclasses.dataclass(frozen=True)
class UnreadableFrame:
    """A frame a recording lists but could not be read: its image file missing, truncated or
    corrupt, an undecodable image message (``reason``: the `InputError` text, naming the file
    or the topic and stamp). What a source's ``frames_or_unreadable()`` yields in the frame's
    place, so that the frames after it are still read (`mast3r_ros.replay.sources`).
    ``map_from_cam``: the frame's ground-truth pose where the source knows it without the
    image (a TUM folder's groundtruth.txt), else None. ``image_size`` and ``intrinsics_size``
    ((width, height) pixels): set when the colour image was read but its size differs from the
    frame's intrinsics (`ImageSizeError`), else None; `from_error` fills them."""

    stamp_ns: int
    reason: str
    map_from_cam: Optional[np.ndarray] = None
    image_size: Optional[Tuple[int, int]] = None
    intrinsics_size: Optional[Tuple[int, int]] = None

    @classmethod
    def from_error(cls, stamp_ns: int, err: InputError,
                   map_from_cam: Optional[np.ndarray] = None) -> UnreadableFrame:
        """The frame at ``stamp_ns`` that ``err`` made unreadable (``reason``: its text; the
        sizes when it is a colour image's `ImageSizeError`)."""
        sized = isinstance(err, ImageSizeError) and err.stream == "colour"
        return cls(stamp_ns, str(err), map_from_cam,
                   err.image_size if sized else None, err.intrinsics_size if sized else None)


@dataclasses.dataclass(frozen=True)
class RecordedFrame:
    """A frame a resumed ``localize`` takes as recorded (its result read from the stopped run):
    what it needs of it, its image neither read nor decoded. What a source's
    ``frames_or_unreadable(recorded=...)`` yields in the place of a frame at one of those stamps
    (`mast3r_ros.replay.sources`). ``intrinsics``: the camera it reads with now (compared with
    the recorded one); ``map_from_cam``: its ground-truth pose, or None."""

    stamp_ns: int
    intrinsics: Optional[CameraIntrinsics]
    map_from_cam: Optional[np.ndarray] = None


@dataclasses.dataclass
class Correspondences:
    """2-D/3-D matches of one query image against one keyframe.

    ``points3d`` (N, 3) float64 in the map frame (metres); ``points2d`` (N, 2) float64 query-image
    pixels (original resolution, distorted as captured); ``keyframe_xy`` (N, 2) float64 keyframe
    pixels (original resolution) for debug pictures; ``keyframe_id`` of the keyframe they come from.
    ``points3d_cov`` (N, 3, 3) float64, optional: each 3-D point's own covariance in the map frame
    (m^2), filled by the matcher from its point model (`core.uncertainty`); None = unknown (the
    pose covariance then counts pixel noise only for these points). ``points2d_undistorted``
    (N, 2) float64, optional: ``points2d`` with the query camera's distortion removed, exactly
    as `geometry.undistort_pixels` gives them (the MASt3R matcher looks them up in a per-camera
    table, `core.grid_undistort`); None = `solve_pnp` undistorts ``points2d`` itself.
    Raises `InputError` when an array has another shape (`check_point_rows`: (N, 3), (N, 2),
    or OpenCV's (N, 1, C); never reshaped) or the arrays differ in length.
    """

    keyframe_id: int
    points3d: np.ndarray
    points2d: np.ndarray
    keyframe_xy: np.ndarray
    points3d_cov: Optional[np.ndarray] = None
    points2d_undistorted: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        self.points3d = check_point_rows(self.points3d, 3, "Correspondences.points3d")
        self.points2d = check_point_rows(self.points2d, 2, "Correspondences.points2d")
        self.keyframe_xy = check_point_rows(self.keyframe_xy, 2, "Correspondences.keyframe_xy")
        if not (len(self.points3d) == len(self.points2d) == len(self.keyframe_xy)):
            raise InputError("Correspondences: points3d, points2d and keyframe_xy differ in length")
        if self.points2d_undistorted is not None:
            self.points2d_undistorted = check_point_rows(
                self.points2d_undistorted, 2, "Correspondences.points2d_undistorted")
            if len(self.points2d_undistorted) != len(self.points2d):
                raise InputError("Correspondences: points2d_undistorted and points2d differ "
                                 "in length")
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

    ``map_from_cam`` 4x4 float64 (camera optical frame -> map); ``covariance`` 6x6 float64, ROS
    order (x, y, z, rot_x, rot_y, rot_z), of the *camera* pose in the map frame, m and rad, for
    ``R' = exp([dtheta]_x) R``, ``c' = c + dc``, ``dtheta`` about the map axes (`core.pnp`).
    ``reproj_rms_px``: over the PnP inliers, undistorted query pixels. ``keyframe_ids``: manifest
    ids of the keyframes matched. ``timings_s``: per-stage wall times, s. ``matches``: only when
    asked for (``Localizer.localize(..., with_matches=True)``), also on failures that got as far
    as PnP. ``unreadable`` True: a frame its source could not read (an `UnreadableFrame`), what
    the metrics count unreadable whatever ``reason`` says. ``focal_fit``: the focal scale the
    inliers fit (`FocalFit`) where the focal gate judged. ``scene_depth_m``: the PnP inliers'
    median depth in the query camera (m; NaN without a PnP pose), what ``position_sigma_m`` (m,
    the gates' `position_sigma_m` of ``covariance``; None: not computed) is weighed against.
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
    unreadable: bool = False
    focal_fit: Optional[FocalFit] = None
    scene_depth_m: float = float("nan")
    position_sigma_m: Optional[float] = None

    @staticmethod
    def failure(stamp_ns: int, reason: str, **kw) -> LocalizationResult:
        """A ``success=False`` result (no pose) with its ``reason``; ``kw`` sets other fields."""
        return LocalizationResult(success=False, stamp_ns=stamp_ns, reason=reason, **kw)
