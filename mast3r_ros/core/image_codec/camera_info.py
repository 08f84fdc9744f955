"""Camera intrinsics from ``sensor_msgs/CameraInfo`` fields, without ROS.

`intrinsics_from_camera_info` (K, D, binning and ROI, as ``image_geometry`` applies them),
`rectified_intrinsics_from_camera_info` (P of a monocular rectified stream) ->
`CameraIntrinsics`; a camera_info YAML is read by `camera_info_yaml.load_camera_info_yaml`.
"""

from __future__ import annotations

import logging
from typing import Optional, Set, Tuple

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..types import DISTORTION_COEFFICIENT_COUNTS, CameraIntrinsics, check_distortion

log = logging.getLogger(__name__)

# a principal point beyond this fraction of the image size outside it is a calibration of
# another resolution or in other units; an ROI crop can move it off-centre, so it is lenient
_PRINCIPAL_POINT_MARGIN = 0.5


def _roi_fields(roi: object) -> Tuple[int, int, int, int]:
    """``sensor_msgs/RegionOfInterest`` (object or mapping) or a 4-tuple -> (x, y, w, h)."""
    names = ("x_offset", "y_offset", "width", "height")
    try:
        if isinstance(roi, Mapping):
            values = [roi.get(name, 0) for name in names]
        elif isinstance(roi, (tuple, list)):
            values = list(roi)[:4]
        else:
            values = [getattr(roi, name) for name in names]
        x, y, w, h = values
    except (AttributeError, TypeError, ValueError):
        raise InputError(
            f"CameraInfo roi must have x_offset, y_offset, width, height, got {roi!r}"
        ) from None
    for name, v in zip(names, values):  # not int(): an x_offset of 10.7 was read as 10
        if _uint32(v) is None:
            raise InputError(f"CameraInfo roi.{name} must be a whole number >= 0 of pixels "
                             f"(uint32), got {v!r}")
    return int(x), int(y), int(w), int(h)


def _refuse_offset_without_size(x: int, y: int, w: int, h: int) -> None:
    """`InputError` for a ROI with an offset but a width or height of 0. image_geometry reads a
    ROI as the full image only when all four fields are 0, and moves the principal point by any
    offset; this reader reads a size-0 ROI as the full image, which agrees with image_geometry's
    K only when the offset is 0 too. With an offset it ignored the ROI: the principal point off
    by the offset if the stream is the crop, and no size to check the crop against."""
    if (x or y) and not (w and h):
        raise InputError(
            f"CameraInfo roi has x_offset {x}, y_offset {y} but width {w} and height {h}: a ROI "
            f"is the full image only when all four fields are 0 (image_geometry), and one with "
            f"an offset moves the principal point by it; give the ROI's width and height (the "
            f"streamed image's size), or zero its offsets if the image is not cropped")


def _message_numbers(value: object, field: str, expected: str) -> np.ndarray:
    """A CameraInfo array field (``k``, ``d``, ``p``, ``r``) as flat float64; `InputError`
    naming it for anything but numbers (numpy's 'could not convert string to float' named no
    field)."""
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"CameraInfo {field} must be {expected}, got {value!r:.80}") from None


def _uint32(value: object) -> Optional[int]:
    """A CameraInfo uint32 field given as a Python/numpy number -> int, or None for a bool, a
    non-number, a fraction or a value outside uint32."""
    if (isinstance(value, (bool, np.bool_))
            or not isinstance(value, (int, np.integer, float, np.floating))):
        return None
    try:
        f = float(value)
    except OverflowError:  # an int beyond float's range
        return None
    return int(value) if f.is_integer() and 0 <= f <= 2**32 - 1 else None


def _message_size(value: object, field: str) -> int:
    """A CameraInfo image size as an int (the message's uint32); `InputError` for a fraction
    (640.5 was truncated to 640), a bool, a non-number (a string failed with a TypeError) or a
    value outside uint32 (2**70 failed inside numpy)."""
    size = _uint32(value)
    if size is None:
        raise InputError(f"CameraInfo {field} must be a whole number of pixels, got {value!r}")
    return size


def _message_binning(value: object, field: str) -> int:
    """A CameraInfo binning factor (a uint32; 0 or 1: none) as an int >= 1; `InputError` naming
    it for a non-number ('a' and None failed in int()), a fraction (2.5 was truncated to 2), a
    negative value (-2 was taken as no binning) or one outside uint32."""
    factor = _uint32(value)
    if factor is None:
        raise InputError(f"CameraInfo {field} must be a whole number >= 0 (0 or 1: no binning), "
                         f"got {value!r}")
    return max(1, factor)


_RATIONAL_COUNTS = (8, 12, 14)  # OpenCV's rational model (+ thin prism, + tilt)
_warned_plumb_bob_counts: Set[int] = set()  # counts warned of in this process


def _warn_plumb_bob_of_rational_count(count: int) -> None:
    """Warn once per process and count that a ``plumb_bob`` D of ``count`` (8, 12 or 14)
    coefficients is read as OpenCV's rational model, as image_geometry (which hands D to
    OpenCV whatever the name) reads it."""
    if count in _warned_plumb_bob_counts:
        return
    _warned_plumb_bob_counts.add(count)
    log.warning("CameraInfo: distortion_model 'plumb_bob' with %d coefficients (plumb_bob has 4 "
                "or 5): read as OpenCV and image_geometry read %d, the rational_polynomial model "
                "k1 k2 p1 p2 k3 k4 k5 k6%s; set distortion_model: rational_polynomial in the "
                "camera's calibration (driver or camera_info YAML) to name it right", count,
                count, {8: "", 12: " s1 s2 s3 s4", 14: " s1 s2 s3 s4 tau_x tau_y"}[count])


def intrinsics_from_camera_info(
    width: int,
    height: int,
    k: Sequence[float],
    d: Optional[Sequence[float]],
    distortion_model: str,
    *,
    binning_x: int = 0,
    binning_y: int = 0,
    roi: object = None,
) -> CameraIntrinsics:
    """``sensor_msgs/CameraInfo`` fields -> ``CameraIntrinsics`` of the image actually streamed.

    ``width``, ``height`` and ``k`` (row-major, 9 values) are the full-resolution calibration,
    as the CameraInfo definition requires. ``binning_x``/``binning_y`` (0 or 1: none) and
    ``roi`` (``sensor_msgs/RegionOfInterest`` or a mapping with x_offset, y_offset, width,
    height; width or height 0: the full image, refused with an offset) are applied as
    ``image_geometry.PinholeCameraModel.fromCameraInfo`` applies them: the principal point
    shifted by the ROI offset, then fx, cx divided by binning_x and fy, cy by binning_y; the
    image size is (roi width / binning_x, roi height / binning_y) (integer division, its
    ``reducedResolution``), so the caller's image/CameraInfo size check compares the streamed
    image with that size.

    Distortion models and coefficient counts (what ROS drivers publish, all accepted by OpenCV):
    ``plumb_bob`` 0, 4 or 5 (k1 k2 p1 p2 [k3]); ``rational_polynomial`` 0, 8, 12 or 14 (OpenCV's
    rational model, then thin-prism and tilt terms); ``equidistant`` 0 or 4 (k1..k4, undistorted
    with ``cv2.fisheye``; 5 whose fifth is zero, as some drivers size D, read as the 4), checked
    by `types.check_distortion` (which `CameraIntrinsics` applies too). As image_geometry reads
    them: all-zero coefficients of any other count are no distortion (empty ``dist``), and a
    ``rational_polynomial`` D of 4 or 5 is OpenCV's k1 k2 p1 p2 [k3] with k4 k5 k6 = 0, stored
    as ``plumb_bob`` (said at INFO); a ``plumb_bob`` D of 8, 12 or 14 (a driver that names its
    rational calibration wrong) is read as ``rational_polynomial``, as OpenCV reads that count
    (a WARNING once per process and count names the fix). An empty model with no (or
    all-zero) coefficients is plumb_bob without distortion; ``d`` None is no distortion, as an
    empty D. Coefficients are kept in the camera's distorted pixels of the streamed image.

    Raises:
        InputError: naming the field: K not 9 numbers or all zero (uncalibrated), an
            unsupported ``distortion_model``, ``d`` not numbers, a wrong count of them or a
            non-finite coefficient, a size that is not a positive whole number, a binning
            factor that is not a whole number >= 0, a ``roi`` that does not fit the
            calibrated image or has an offset but a width or height 0, or a K that
            `CameraIntrinsics` refuses (e.g. transposed).
    """
    k_arr = _message_numbers(k, "K", "9 numbers (row-major 3x3)")
    d_arr = (np.zeros(0) if d is None  # None: no distortion, as an empty D (and OpenCV's None)
             else _message_numbers(d, "D", "the distortion coefficients (empty for none)"))
    width, height = _message_size(width, "width"), _message_size(height, "height")
    if k_arr.size != 9:
        raise InputError(f"CameraInfo K must have 9 values (row-major 3x3), got {k_arr.size}")
    if not np.any(k_arr):
        raise InputError(
            "CameraInfo K is all zeros: the camera is uncalibrated; calibrate it or pass "
            "intrinsics from a camera_info YAML"
        )
    if distortion_model == "equidistant" and d_arr.size == 5 and d_arr[4] == 0:
        # a driver that sizes D for plumb_bob whatever the model (realsense-ros's fisheye
        # streams did): Kannala-Brandt has 4 coefficients, cv2.fisheye takes no fifth
        log.info("CameraInfo: equidistant D with a zero fifth coefficient read as its 4 "
                 "(k1 k2 k3 k4 = %s)", d_arr[:4].tolist())
        d_arr = d_arr[:4]
    counts = DISTORTION_COEFFICIENT_COUNTS.get(distortion_model, (0,))
    if d_arr.size not in counts and not np.any(d_arr):
        d_arr = np.zeros(0)  # no distortion, whatever the count, as image_geometry reads it
    elif distortion_model == "rational_polynomial" and d_arr.size in (4, 5):
        # image_geometry hands D to OpenCV, which reads 4 or 5 as k1 k2 p1 p2 [k3]: the rational
        # model with k4 k5 k6 = 0, which is plumb_bob exactly
        log.info("CameraInfo: rational_polynomial D of %d coefficients read as k1 k2 p1 p2%s "
                 "with k4 k5 k6 = 0 (plumb_bob), as image_geometry and OpenCV read it",
                 d_arr.size, " k3" if d_arr.size == 5 else "")
        distortion_model = "plumb_bob"
    elif distortion_model == "plumb_bob" and d_arr.size in _RATIONAL_COUNTS:
        _warn_plumb_bob_of_rational_count(d_arr.size)
        distortion_model = "rational_polynomial"
    distortion_model, d_arr = check_distortion(  # the same check as CameraIntrinsics'
        distortion_model, d_arr, model_field="CameraInfo distortion_model",
        dist_field="CameraInfo D")
    if width <= 0 or height <= 0:
        raise InputError(f"CameraInfo image size must be positive, got {width}x{height}")
    K = k_arr.reshape(3, 3).copy()
    out_w, out_h = int(width), int(height)
    if roi is not None:
        x, y, w, h = _roi_fields(roi)
        _refuse_offset_without_size(x, y, w, h)
        if w > 0 and h > 0:
            if x < 0 or y < 0 or x + w > width or y + h > height:
                raise InputError(
                    f"CameraInfo roi: {w}x{h} at ({x}, {y}) does not fit the calibrated "
                    f"{width}x{height} image"
                )
            K[0, 2] -= x
            K[1, 2] -= y
            out_w, out_h = w, h
    bx, by = _message_binning(binning_x, "binning_x"), _message_binning(binning_y, "binning_y")
    if bx > 1:
        K[0, 0] /= bx
        K[0, 2] /= bx
    if by > 1:
        K[1, 1] /= by
        K[1, 2] /= by
    out_w, out_h = out_w // bx, out_h // by
    if out_w <= 0 or out_h <= 0:
        raise InputError(
            f"CameraInfo binning_x/binning_y {bx}x{by} leaves no pixel of the "
            f"{width}x{height} image"
        )
    return CameraIntrinsics(out_w, out_h, K, d_arr, distortion_model)


def intrinsics_from_pinhole_file(path: object, width: int, height: int, fx: float, fy: float,
                                 cx: float, cy: float, d: Sequence[float],
                                 distortion_model: str) -> CameraIntrinsics:
    """`intrinsics_from_camera_info` of a calibration file that gives a pinhole camera as
    four numbers (px; Kalibr's ``[fu, fv, pu, pv]``, ORB-SLAM's ``fx fy cx cy``), its
    ``width`` x ``height`` (px) and coefficients ``d`` of ``distortion_model``: K is
    ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``. Raises InputError prefixed with ``path`` for
    anything `intrinsics_from_camera_info` refuses."""
    k = np.array([fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])
    try:
        return intrinsics_from_camera_info(int(width), int(height), k, d, distortion_model)
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err


def rectified_intrinsics_from_camera_info(
    width: int,
    height: int,
    p: Sequence[float],
    r: Optional[Sequence[float]] = None,
    *,
    binning_x: int = 0,
    binning_y: int = 0,
    roi: object = None,
) -> CameraIntrinsics:
    """``CameraIntrinsics`` of a *rectified* image stream (``image_rect``, ``image_rect_color``:
    image_proc's output) from its CameraInfo: the projection ``P[:3, :3]`` and no distortion, as
    ``image_geometry.PinholeCameraModel`` projects rectified points (the CameraInfo published
    with a rectified stream is the raw camera's, whose K and D describe the unrectified image).

    Monocular rectification only: ``R`` (row-major 3x3, the rectifying rotation) must be the
    identity and ``P``'s fourth column zero. A stereo pair's rectification rotates the camera
    frame and shifts the right camera (Tx), which would put the pose in another frame than the
    image's ``frame_id``. Binning applies to P as to K (`intrinsics_from_camera_info`); a ROI is
    refused (image_geometry maps it through the rectification).

    Raises:
        InputError: P not 12 values or with a non-positive focal length, R not the identity, a
            non-zero P[:, 3], a ROI, or a non-positive size.
    """
    p_arr = _message_numbers(p, "P", "12 numbers (row-major 3x4)")
    if p_arr.size != 12:
        raise InputError(f"CameraInfo P must have 12 values (row-major 3x4), got {p_arr.size}")
    P = p_arr.reshape(3, 4)
    if not (P[0, 0] > 0 and P[1, 1] > 0):
        raise InputError("CameraInfo P has no positive focal length: the camera is "
                         "uncalibrated, or its rectified projection was not published")
    R = None if r is None else _message_numbers(r, "R", "9 numbers (row-major 3x3)")
    if R is not None and R.size:
        if R.size != 9:
            raise InputError(f"CameraInfo R must have 9 values (row-major 3x3), got {R.size}")
        if np.any(R) and not np.allclose(R.reshape(3, 3), np.eye(3), atol=1e-6):
            raise InputError("CameraInfo R is not the identity (a stereo pair's rectification): "
                             "image_rectified supports monocular rectified images; localize "
                             "the unrectified image instead")
    if np.abs(P[:, 3]).max() > 1e-9:
        raise InputError("CameraInfo P has a non-zero fourth column (a stereo camera's baseline "
                         "term): image_rectified supports monocular rectified images; localize "
                         "the unrectified image instead")
    if roi is not None:
        x, y, w, h = _roi_fields(roi)
        full = (0, 0, _message_size(width, "width"), _message_size(height, "height"))
        if x or y or (w > 0 and h > 0 and (x, y, w, h) != full):  # an offset with size 0 too
            raise InputError("CameraInfo roi: a region of interest on a rectified stream is not "
                             "supported (image_rectified); stream the full rectified image")
    return intrinsics_from_camera_info(
        width, height, P[:, :3].reshape(-1), [], "plumb_bob",
        binning_x=binning_x, binning_y=binning_y)


def projection_without_k(k: Sequence[float], p: Optional[Sequence[float]]) -> str:
    """'fx 28 fy 29 cx 14.5 cy 11' (P's) when ``k`` (K's 9 numbers) is all zero and ``p`` (P's
    12 numbers, row-major 3x4) has a positive focal length, else '' (also for a ``p`` that is
    None, not 12 numbers or not finite). Such a CameraInfo describes only the rectified image:
    image_geometry projects with P, and the raw image's model (K, D) was left unset -- the
    message definition's sign of an uncalibrated camera, but P says otherwise."""
    try:
        k_arr = np.asarray(k, dtype=np.float64).reshape(-1)
        p_arr = np.asarray(p, dtype=np.float64).reshape(-1) if p is not None else np.zeros(0)
    except (TypeError, ValueError):
        return ""
    if k_arr.size != 9 or np.any(k_arr) or p_arr.size != 12 or not np.isfinite(p_arr).all() \
            or not (p_arr[0] > 0 and p_arr[5] > 0):
        return ""
    return f"fx {p_arr[0]:g} fy {p_arr[5]:g} cx {p_arr[2]:g} cy {p_arr[6]:g}"


# how the readers of a file (--camera-info) say a projection_without_k: the file is read as the
# streamed image's own model, so P goes into it for a rectified stream
P_WITHOUT_K_IN_A_FILE = (
    "it describes only a rectified image (image_geometry projects with P; K and D, the raw "
    "image's model, are unset), and --camera-info is read as the streamed image's K and D: "
    "for a bag's rectified stream set image_rectified: true (in the --params YAML) to read "
    "it through P, or write P's fx, fy, cx, cy as the camera matrix (fx 0 cx / 0 fy cy "
    "/ 0 0 1) with no distortion; for the raw image give the camera's calibration "
    "(camera_calibration's YAML)")


def far_principal_point(cx: float, cy: float, w: int, h: int, source: str) -> str:
    """The warning `warn_far_principal_point` gives (same arguments), or '' when the principal
    point is not far outside the image: for a caller that throttles its lines."""
    m = _PRINCIPAL_POINT_MARGIN
    if -m * w <= cx <= (1 + m) * w and -m * h <= cy <= (1 + m) * h:
        return ""
    return (f"{source}: principal point (cx {cx:g}, cy {cy:g}) lies far outside the "
            f"{int(w)}x{int(h)} image (expected within {-m * w:g}..{(1 + m) * w:g} x "
            f"{-m * h:g}..{(1 + m) * h:g}): "
            "a calibration of another resolution or in other units? Scale K to this image size "
            "(width, height)")


def warn_far_principal_point(cx: float, cy: float, w: int, h: int, source: str) -> bool:
    """One warning (True when given) for a principal point more than half the image size
    outside the image (cx = 3200 on a 640-wide image): a calibration of another resolution (K
    not scaled with the image) or in other units. ``cx``, ``cy`` (px) and ``w`` x ``h`` as the
    CameraInfo gives them, K (or P) against width x height, before ROI and binning
    (CameraInfo's K is the full sensor's: an ROI's principal point lies off its crop
    legitimately); ``source`` names where they came from. Not refused, only warned about."""
    text = far_principal_point(cx, cy, w, h, source)
    if text:
        log.warning("%s", text)
    return bool(text)
