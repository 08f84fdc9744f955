"""Conversions between raw ``sensor_msgs`` image fields and numpy arrays, without ROS.

The ROS node passes the fields of ``sensor_msgs/Image``, ``CompressedImage`` and ``CameraInfo``
(plain strings, ints, bytes and sequences); the offline bag reader passes the same fields as
deserialized by ``rosbags``. Nothing here imports ROS or cv_bridge.

Supported raw encodings (``sensor_msgs/image_encodings.h`` names) are every one that cv_bridge
converts to rgb8, with cv_bridge's conversion (``cv_bridge.cpp``, ``getConversionCodes`` and
``toCvCopyImpl``): rgb8, bgr8, rgba8, bgra8, mono8; the 16-bit rgb16, bgr16, rgba16, bgra16, mono16;
yuv422 (UYVY byte order) and yuv422_yuy2 (YUYV); bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8
and their 16-bit twins; 32FC1 (depth only). Each is one OpenCV colour conversion, then for 16-bit
data cv_bridge's depth change ``convertTo(CV_8U, 255 / 65535)`` (rounded, never clipped). The
OpenCV-style names 8UC1, 8UC3, 8UC4 and 16UC1 have no colour meaning in cv_bridge; they are read
as mono8, bgr8 (what ``cv2_to_imgmsg`` writes), bgra8 and mono16. ``SUPPORTED_ENCODINGS`` lists
them all.

Image *files* (``pair``, TUM folders) go through ``read_image_file``, which decodes with OpenCV and
then takes the same ``to_rgb8`` path, so a 16-bit grey PNG/TIFF is scaled exactly like a mono16
message.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import array
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import yaml

from ..errors import InputError
from ..types import CameraIntrinsics, check_distortion

log = logging.getLogger(__name__)

# encoding -> (little-endian numpy dtype, channels); yuv422 packs 2 bytes per pixel.
_RAW_ENCODINGS = {
    "rgb8": ("<u1", 3),
    "bgr8": ("<u1", 3),
    "rgba8": ("<u1", 4),
    "bgra8": ("<u1", 4),
    "mono8": ("<u1", 1),
    "rgb16": ("<u2", 3),
    "bgr16": ("<u2", 3),
    "rgba16": ("<u2", 4),
    "bgra16": ("<u2", 4),
    "mono16": ("<u2", 1),
    "yuv422": ("<u1", 2),
    "yuv422_yuy2": ("<u1", 2),
    "bayer_rggb8": ("<u1", 1),
    "bayer_bggr8": ("<u1", 1),
    "bayer_gbrg8": ("<u1", 1),
    "bayer_grbg8": ("<u1", 1),
    "bayer_rggb16": ("<u2", 1),
    "bayer_bggr16": ("<u2", 1),
    "bayer_gbrg16": ("<u2", 1),
    "bayer_grbg16": ("<u2", 1),
    "16UC1": ("<u2", 1),
    "32FC1": ("<f4", 1),
    "8UC1": ("<u1", 1),
    "8UC3": ("<u1", 3),
    "8UC4": ("<u1", 4),
}
_ALIASES = {"8UC1": "mono8", "8UC3": "bgr8", "8UC4": "bgra8", "16UC1": "mono16"}
# cv_bridge's table (getConversionCodes) for <encoding> -> rgb; None: already RGB. Note that
# OpenCV names a Bayer pattern by its second row: bayer_rggb is cv::COLOR_BayerBG2RGB.
_TO_RGB = {
    "rgb8": None,
    "rgb16": None,
    "bgr8": cv2.COLOR_BGR2RGB,
    "bgr16": cv2.COLOR_BGR2RGB,
    "rgba8": cv2.COLOR_RGBA2RGB,
    "rgba16": cv2.COLOR_RGBA2RGB,
    "bgra8": cv2.COLOR_BGRA2RGB,
    "bgra16": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB,
    "mono16": cv2.COLOR_GRAY2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB,
    "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB,
    "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
    "bayer_rggb16": cv2.COLOR_BayerBG2RGB,
    "bayer_bggr16": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg16": cv2.COLOR_BayerGR2RGB,
    "bayer_grbg16": cv2.COLOR_BayerGB2RGB,
}
# cv_bridge's 16 -> 8 bit depth change: convertTo(CV_8U, 255.0 / 65535.0), rounded to nearest.
_SCALE_16_TO_8 = 255.0 / 65535.0
SUPPORTED_ENCODINGS = tuple(_RAW_ENCODINGS)
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
# Millimetres per metre: REP-118 says 16-bit integer depth is in millimetres.
_REP118_UNITS_PER_M = 1000.0
_COMPRESSED_DEPTH_HEADER_BYTES = 12  # int32 format + float32 depthParam[2]

BytesLike = bytes | bytearray | memoryview | np.ndarray


def _lookup(encoding: str) -> Tuple[str, int]:
    try:
        return _RAW_ENCODINGS[encoding]
    except KeyError:
        raise InputError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        ) from None


def _as_uint8(data: BytesLike) -> np.ndarray:
    """A flat uint8 view of any buffer (bytes, bytearray, memoryview, array('B'), ndarray)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError as err:
        kind = type(data).__name__
        raise InputError(f"image data must be a bytes-like buffer, got {kind}") from err


def decode_image(
    encoding: str,
    height: int,
    width: int,
    step: int,
    data: BytesLike,
    is_bigendian: bool = False,
) -> np.ndarray:
    """Raw ``sensor_msgs/Image`` fields -> a new numpy array in native byte order.

    Returns (H, W) for one-channel encodings and (H, W, C) otherwise, dtype uint8, uint16 or
    float32 by encoding; channel order is left as the encoding says (see ``to_rgb8``). Row padding
    (``step`` larger than ``width * bytes_per_pixel``) is dropped and big-endian 16/32-bit data is
    swapped. The result never shares memory with ``data``.

    Raises:
        InputError: unsupported encoding; ``height``/``width``/``step`` not non-negative ints;
            a ``step`` shorter than a row; ``data`` not bytes-like or shorter than
            ``step * height``.
    """
    for name, v in (("height", height), ("width", width), ("step", step)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise InputError(f"image {name} must be an int, got {v!r} ({type(v).__name__})")
    dtype_str, channels = _lookup(encoding)
    dtype = np.dtype(dtype_str)
    if is_bigendian:
        dtype = dtype.newbyteorder(">")
    if height < 0 or width < 0:
        raise InputError(f"image size must be non-negative, got {width}x{height}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise InputError(
            f"{encoding} image step {step} is smaller than width * bytes per pixel = {row_bytes}"
        )
    buf = _as_uint8(data)
    if buf.size < step * height:
        raise InputError(
            f"{encoding} image data has {buf.size} bytes, expected step * height = "
            f"{step} * {height} = {step * height}"
        )
    rows = buf[: step * height].reshape(height, step)[:, :row_bytes].copy()
    pixels = rows.view(dtype).astype(dtype.newbyteorder("="), copy=False)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


def _check_shape(array: np.ndarray, encoding: str) -> None:
    dtype_str, channels = _lookup(encoding)
    if not isinstance(array, np.ndarray):
        raise InputError(f"a {encoding} image must be a numpy array, got "
                         f"{type(array).__name__}")
    expected_ndim = 2 if channels == 1 else 3
    ok = array.ndim == expected_ndim and (channels == 1 or array.shape[2] == channels)
    if not ok or array.dtype != np.dtype(dtype_str).newbyteorder("="):
        raise InputError(
            f"a {encoding} image must be {'(H, W)' if channels == 1 else f'(H, W, {channels})'} "
            f"{np.dtype(dtype_str).name}, got {array.shape} {array.dtype}"
        )


def to_rgb8(array: np.ndarray, encoding: str) -> np.ndarray:
    """An image decoded as ``encoding`` -> (H, W, 3) uint8 RGB (contiguous).

    Exactly cv_bridge's ``toCvCopy(msg, "rgb8")``: one OpenCV colour conversion (grey replicated,
    alpha dropped, yuv422 / Bayer converted), then 16-bit data scaled by 255 / 65535 and rounded
    (65535 -> 255, 32768 -> 128: scaled, never clipped to white). An rgb8 input may be returned
    as is. 32FC1 has no colour meaning and is rejected; so is a yuv422 image of odd width.

    Raises:
        InputError: unsupported encoding, wrong shape/dtype for it, or a conversion OpenCV refuses.
    """
    if encoding == "32FC1":
        raise InputError("a 32FC1 (float depth) image cannot be shown as RGB; use depth_to_metres")
    _check_shape(array, encoding)
    encoding = _ALIASES.get(encoding, encoding)
    code = _TO_RGB[encoding]
    if encoding in ("yuv422", "yuv422_yuy2") and array.shape[1] % 2:
        # checked here: OpenCV 4.5 (Humble's) converts an odd width without complaint
        h, w = array.shape[:2]
        raise InputError(f"cannot convert a {w}x{h} {encoding} image to RGB (two pixels share "
                         "their chroma in 4 bytes: the width must be even)")
    if code is None:
        rgb = array
    else:
        try:
            rgb = cv2.cvtColor(np.ascontiguousarray(array), code)
        except cv2.error as err:
            h, w = array.shape[:2]
            raise InputError(
                f"cannot convert a {w}x{h} {encoding} image to RGB "
                f"({str(err).strip().splitlines()[-1][:160]})"
            ) from None
    if rgb.dtype == np.uint16:
        rgb = cv2.convertScaleAbs(rgb, alpha=_SCALE_16_TO_8)
    return np.ascontiguousarray(rgb)


def depth_to_metres(
    array: np.ndarray, encoding: str, depth_scale: Optional[float] = None
) -> np.ndarray:
    """A depth image -> (H, W) float32 metres with NaN where invalid (0, NaN, inf, negative).

    ``depth_scale`` is in raw units per metre (TUM RGB-D PNGs: 5000). Without it, 16UC1/mono16 are
    millimetres (REP-118) and 32FC1 metres.

    Raises:
        InputError: not a depth encoding (16UC1, mono16, 32FC1), an array of another shape or
            dtype than the encoding's, a ``depth_scale`` that is not a positive number.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise InputError(
            f"{encoding!r} is not a depth encoding; expected one of {', '.join(DEPTH_ENCODINGS)}"
        )
    _check_shape(array, encoding)
    if depth_scale is None:
        depth_scale = 1.0 if encoding == "32FC1" else _REP118_UNITS_PER_M
    if isinstance(depth_scale, np.ndarray) and depth_scale.ndim == 0:
        depth_scale = depth_scale.item()  # a 0-d array (np.load of a calibration) is a number
    if (isinstance(depth_scale, (bool, np.bool_))
            or not isinstance(depth_scale, (int, float, np.number))
            or not (np.isfinite(depth_scale) and depth_scale > 0)):
        raise InputError(
            f"depth_scale must be a positive number of units per metre, got {depth_scale!r}"
        )
    metres = array.astype(np.float32) / np.float32(depth_scale)
    with np.errstate(invalid="ignore"):
        metres[~(np.isfinite(metres) & (metres > 0))] = np.nan
    return metres


def _decode_buffer(buf: np.ndarray, fmt: str) -> np.ndarray:
    image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if image is None:
        raise InputError(f"cannot decode {buf.size} bytes of compressed image (format {fmt!r})")
    return image


def _decode_compressed_depth(fmt: str, buf: np.ndarray) -> Tuple[np.ndarray, str]:
    """image_transport's compressed_depth: a 12-byte header, then a 16-bit PNG."""
    encoding = fmt.split(";")[0].strip()
    if "rvl" in fmt.lower():
        raise InputError(
            f"compressedDepth format {fmt!r} uses RVL, which is not supported; republish the depth "
            "with the png compressedDepth format or as raw sensor_msgs/Image"
        )
    if encoding not in ("16UC1", "32FC1") or buf.size <= _COMPRESSED_DEPTH_HEADER_BYTES:
        raise InputError(
            f"malformed compressedDepth message: format {fmt!r}, {buf.size} bytes "
            "(expected '16UC1; compressedDepth png' or '32FC1; compressedDepth png')"
        )
    inverse = _decode_buffer(buf[_COMPRESSED_DEPTH_HEADER_BYTES:], fmt)
    if inverse.dtype != np.uint16 or inverse.ndim != 2:
        raise InputError(
            f"compressedDepth PNG must be 16-bit grey, got {inverse.shape} {inverse.dtype}"
        )
    if encoding == "16UC1":
        return inverse, "16UC1"
    # 32FC1 is stored as quantized inverse depth: depth = a / (value - b), value 0 = invalid.
    quant_a, quant_b = buf[4:12].copy().view("<f4")
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (np.float32(quant_a) / (inverse.astype(np.float32) - np.float32(quant_b)))
    depth[inverse == 0] = np.nan
    return depth.astype(np.float32), "32FC1"


def decode_compressed(format: str, data: BytesLike) -> Tuple[np.ndarray, str]:
    """``sensor_msgs/CompressedImage`` fields -> (array, raw encoding) as ``decode_image`` gives.

    JPEG and PNG are decoded by OpenCV with IMREAD_UNCHANGED, so colour comes back as bgr8 / bgra8,
    grey as mono8, 16-bit grey PNG as 16UC1 (or mono16 when ``format`` says so) and 16-bit
    colour PNG as bgr16 / bgra16. The
    ``compressedDepth`` format of image_transport's compressed_depth plugin (12-byte header, then
    PNG) gives 16UC1 or 32FC1; its RVL variant is rejected.

    Raises:
        InputError: ``format`` not a string, ``data`` not bytes-like, bytes that do not decode,
            an RVL or malformed compressedDepth message, or a decoded image of another type.
    """
    if not isinstance(format, str):
        raise InputError(f"CompressedImage format must be a string ('jpeg', 'png', '16UC1; "
                         f"compressedDepth png'), got {format!r}")
    buf = _as_uint8(data)
    if "compresseddepth" in format.lower():
        return _decode_compressed_depth(format, buf)
    image = _decode_buffer(buf, format)
    declared = format.split(";")[0].strip() if ";" in format else ""
    if image.dtype == np.uint8 and image.ndim == 2:
        return image, "mono8"
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4):
        return image, "bgr8" if image.shape[2] == 3 else "bgra8"
    if image.dtype == np.uint16 and image.ndim == 2:
        return image, "mono16" if declared == "mono16" else "16UC1"
    encoding = _encoding_of_decoded(image)
    if encoding is None:
        raise InputError(
            f"compressed image (format {format!r}) decodes to unsupported {image.shape} "
            f"{image.dtype}; expected 8- or 16-bit grey or colour"
        )
    return image, encoding


def _encoding_of_decoded(image: np.ndarray) -> Optional[str]:
    """The raw encoding of an array as OpenCV's decoders return it (BGR order), or None."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    bits = {np.dtype(np.uint8): "8", np.dtype(np.uint16): "16"}.get(image.dtype)
    if bits is None:
        return None
    if image.ndim == 2:
        return f"mono{bits}"
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return f"bgr{bits}" if image.shape[2] == 3 else f"bgra{bits}"
    return None


_PILLOW_CHECKED_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG


def check_image_file_intact(path: Union[str, os.PathLike]) -> None:
    """Raise `InputError` when a JPEG or PNG file is truncated or corrupt.

    OpenCV decodes a JPEG that ends early (an interrupted copy or download) without an error:
    libjpeg prints "Premature end of JPEG file" on stderr and the missing rows come back grey.
    Pillow's decoder reports it (``OSError: image file is truncated``), so a JPEG or PNG file
    (told by its signature) is decoded once by Pillow before OpenCV decodes it; the pixels
    still come from OpenCV. Other formats, and files Pillow does not read (an unidentified
    variant, one over its decompression-bomb limit), are left to OpenCV.
    """
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(_PILLOW_CHECKED_MAGIC):
        return
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return
    except (OSError, EOFError, SyntaxError, ValueError) as err:
        kind = "JPEG" if head.startswith(_PILLOW_CHECKED_MAGIC[0]) else "PNG"
        raise InputError(f"{kind} file {path} is truncated or corrupt ({err}); re-copy or "
                         "re-export it") from None


def read_image_file(path: Union[str, os.PathLike], *, one_file: bool = False) -> np.ndarray:
    """Read an image file (PNG, JPEG, TIFF, ... as OpenCV decodes them) -> (H, W, 3) uint8 RGB.

    The one decoding path for image files (``pair``, TUM folders): the file is decoded at its
    own bit depth (EXIF orientation applied, alpha dropped) and converted by ``to_rgb8`` like a
    message of the matching encoding, so 16-bit grey or colour files are scaled by 255 / 65535
    as cv_bridge scales mono16 / rgb16 (never clipped to white).

    16-bit data below 4096 is warned about once (`warn_low_bit_depth`) for the folder's files of
    the same suffix (``rgb/*.png``: a sequence's frames), or for the file itself with
    ``one_file`` (``pair``'s two images, named as given).

    Raises:
        InputError: the file is missing, not a decodable image, a truncated or corrupt JPEG or
            PNG (`check_image_file_intact`), or of an unsupported depth (float or 32-bit images).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image file: give the image files (a "
                         f"shell glob such as {path / '*.png'} expands to them)")
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    check_image_file_intact(path)
    # ANYDEPTH | ANYCOLOR: keep 16 bits and grey/colour as stored; unlike IMREAD_UNCHANGED this
    # applies the EXIF orientation (and drops alpha).
    image = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise InputError(
            f"cannot read image {path}: truncated or corrupt, or not an image format OpenCV "
            "decodes"
        )
    encoding = _encoding_of_decoded(image)
    if encoding is None:
        raise InputError(
            f"image {path} is {image.shape} {image.dtype}: only 8- and 16-bit grey or colour "
            "images are supported"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if one_file:
        warn_low_bit_depth(image, str(path),
                           "rescale the file to the full 16-bit range (or save it as 8-bit)")
    else:
        warn_low_bit_depth(image, f"{path.parent}{os.sep}*{path.suffix}",
                           "rescale the files to the full 16-bit range (or save them as 8-bit)")
    return to_rgb8(image, encoding)


# the sources `warn_low_bit_depth` has judged (each once per process: no per-frame pass)
_LOW_BIT_DEPTH_CHECKED: set = set()


def warn_low_bit_depth(array: np.ndarray, source: str, fix: str) -> bool:
    """Warn when the first 16-bit image of ``source`` has all values below 4096 (each source is
    judged once, so the node pays no per-frame pass over its images): 10/12-bit
    sensor data stored in 16 bits, which cv_bridge's 255/65535 scaling (kept here, see
    `to_rgb8`) turns into a picture at most 16/255 bright, and which nothing in an image says
    how many bits are significant. ``source`` names the stream (a folder's files, a topic's
    frame_id and encoding); ``fix`` says what to change. Returns whether it warned."""
    if array.dtype != np.uint16 or not array.size or source in _LOW_BIT_DEPTH_CHECKED:
        return False
    _LOW_BIT_DEPTH_CHECKED.add(source)  # judged on its first 16-bit image only
    if int(array.max()) >= 4096:
        return False
    log.warning("%s: 16-bit pixel values that all stay below 4096 (10/12-bit sensor data?): "
                "scaled by 255/65535 as cv_bridge does, so the picture is dark (at most 16/255) "
                "and matches poorly; %s (said once)", source, fix)
    return True


def encode_image(rgb: np.ndarray) -> Tuple[str, int, int, int, array.array]:
    """(H, W, 3) uint8 RGB -> ``sensor_msgs/Image`` fields (encoding, height, width, step, data).

    ``data`` is an ``array.array('B')``, the type rosidl stores ``uint8[]`` fields in: assigning
    one to ``Image.data`` is taken as it is, while ``bytes`` or a list goes through the generated
    setter's per-byte type and range check (about 0.3 s for a 1280x480 RGB image under
    ``__debug__``, which ``ros2 run`` keeps on). Raises `InputError` for anything but
    (H, W, 3) uint8."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"encode_image expects (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(rgb).tobytes())
    return "rgb8", height, width, width * 3, data


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
        x, y, w, h = (int(v) for v in values)
    except (AttributeError, TypeError, ValueError):
        raise InputError(
            f"CameraInfo roi must have x_offset, y_offset, width, height, got {roi!r}"
        ) from None
    return x, y, w, h


def intrinsics_from_camera_info(
    width: int,
    height: int,
    k: Sequence[float],
    d: Sequence[float],
    distortion_model: str,
    *,
    binning_x: int = 0,
    binning_y: int = 0,
    roi: object = None,
) -> CameraIntrinsics:
    """``sensor_msgs/CameraInfo`` fields -> ``CameraIntrinsics`` of the image actually streamed.

    ``width``, ``height`` and ``k`` (row-major, 9 values) are the full-resolution calibration, as
    the CameraInfo definition requires. ``binning_x``/``binning_y`` (0 or 1: none) and ``roi``
    (``sensor_msgs/RegionOfInterest`` or a mapping with x_offset, y_offset, width, height; width or
    height 0: the full image) are applied as ``image_geometry.PinholeCameraModel.fromCameraInfo``
    applies them: the principal point shifted by the ROI offset, then fx, cx divided by binning_x
    and fy, cy by binning_y; the image size is (roi width / binning_x, roi height / binning_y)
    (integer division, its ``reducedResolution``), so the caller's image/CameraInfo size check
    compares the streamed image with that size.

    Distortion models and coefficient counts (what ROS drivers publish, all accepted by OpenCV):
    ``plumb_bob`` 0, 4 or 5 (k1 k2 p1 p2 [k3]); ``rational_polynomial`` 0, 8, 12 or 14 (OpenCV's
    rational model, then thin-prism and tilt terms); ``equidistant`` 0 or 4 (k1..k4, undistorted
    with ``cv2.fisheye``), checked by `types.check_distortion` (which `CameraIntrinsics` applies
    too). An empty model with no (or all-zero) coefficients is plumb_bob without distortion.
    Coefficients are kept in the camera's distorted pixels of the streamed image.

    Raises:
        InputError: naming the field: K not 9 values or all zero (uncalibrated), an unsupported
            ``distortion_model``, a wrong count of ``d`` or a non-finite coefficient, a
            non-positive size, a ``roi`` that does not fit the calibrated image, or a K that
            `CameraIntrinsics` refuses (e.g. transposed).
    """
    k_arr = np.asarray(k, dtype=np.float64).reshape(-1)
    d_arr = np.asarray(d, dtype=np.float64).reshape(-1)
    if k_arr.size != 9:
        raise InputError(f"CameraInfo K must have 9 values (row-major 3x3), got {k_arr.size}")
    if not np.any(k_arr):
        raise InputError(
            "CameraInfo K is all zeros: the camera is uncalibrated; calibrate it or pass "
            "intrinsics from a camera_info YAML"
        )
    distortion_model, d_arr = check_distortion(  # the same check as CameraIntrinsics'
        distortion_model, d_arr, model_field="CameraInfo distortion_model",
        dist_field="CameraInfo D")
    if width <= 0 or height <= 0:
        raise InputError(f"CameraInfo image size must be positive, got {width}x{height}")
    K = k_arr.reshape(3, 3).copy()
    out_w, out_h = int(width), int(height)
    if roi is not None:
        x, y, w, h = _roi_fields(roi)
        if w > 0 and h > 0:
            if x < 0 or y < 0 or x + w > width or y + h > height:
                raise InputError(
                    f"CameraInfo roi: {w}x{h} at ({x}, {y}) does not fit the calibrated "
                    f"{width}x{height} image"
                )
            K[0, 2] -= x
            K[1, 2] -= y
            out_w, out_h = w, h
    bx, by = max(1, int(binning_x)), max(1, int(binning_y))
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


def _yaml_field(doc: dict, path: Path, *keys: str) -> object:
    value: object = doc
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise InputError(f"{path}: missing field {'.'.join(keys[: depth + 1])!r}")
        value = value[key]
    return value


def _yaml_int(value: object, path: Path, name: str, what: str) -> int:
    """A camera_info YAML integer field (a whole number, or a string of one) -> int, else an
    InputError naming the field and the value given (``image_width: "640px"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise InputError(f"{path}: {name} must be {what}, got {value!r}")


def _yaml_numbers(value: object, path: Path, name: str) -> np.ndarray:
    """A camera_info YAML list of numbers (``camera_matrix.data``) -> float array, else an
    InputError naming the field and the first entry that is not a number."""
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{path}: {name} must be a list of numbers, got {value!r}")
    for i, item in enumerate(value):
        try:
            if isinstance(item, bool):
                raise ValueError
            float(item)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(f"{path}: {name} must be a list of numbers, got {item!r} at "
                             f"index {i}") from None
    return np.asarray([float(item) for item in value], dtype=np.float64)


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
    p_arr = np.asarray(p, dtype=np.float64).reshape(-1)
    if p_arr.size != 12:
        raise InputError(f"CameraInfo P must have 12 values (row-major 3x4), got {p_arr.size}")
    P = p_arr.reshape(3, 4)
    if not (P[0, 0] > 0 and P[1, 1] > 0):
        raise InputError("CameraInfo P has no positive focal length: the camera is "
                         "uncalibrated, or its rectified projection was not published")
    if r is not None and np.asarray(r, dtype=np.float64).size:
        R = np.asarray(r, dtype=np.float64).reshape(-1)
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
        if w > 0 and h > 0 and (x, y, w, h) != (0, 0, int(width), int(height)):
            raise InputError("CameraInfo roi: a region of interest on a rectified stream is not "
                             "supported (image_rectified); stream the full rectified image")
    return intrinsics_from_camera_info(
        width, height, P[:, :3].reshape(-1), [], "plumb_bob",
        binning_x=binning_x, binning_y=binning_y)


def load_camera_info_yaml(path: Union[str, Path]) -> CameraIntrinsics:
    """Read a ROS camera_info YAML (camera_calibration_parsers layout) -> ``CameraIntrinsics``.

    Needs ``image_width``, ``image_height`` and ``camera_matrix.data``; ``distortion_model``
    defaults to plumb_bob (as camera_calibration_parsers does) and ``distortion_coefficients.data``
    to none. The standard file has no binning or ROI (camera_calibration_parsers writes and reads
    only the calibration); for a camera streaming binned or cropped images, the optional keys
    ``binning_x``, ``binning_y`` and ``roi`` (a mapping of x_offset, y_offset, width, height) are
    applied as ``intrinsics_from_camera_info`` applies them to a CameraInfo message.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as err:
        raise InputError(f"cannot read camera_info YAML {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise InputError(f"camera_info YAML {path} is not a UTF-8 text file (byte {err.start}: "
                         f"{err.reason}); give a camera_calibration YAML, saved as UTF-8") from None
    except yaml.YAMLError as err:
        raise InputError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a camera_info mapping, got {type(doc).__name__}")
    pixels = "an integer number of pixels"
    width = _yaml_int(_yaml_field(doc, path, "image_width"), path, "image_width", pixels)
    height = _yaml_int(_yaml_field(doc, path, "image_height"), path, "image_height", pixels)
    k = _yaml_numbers(_yaml_field(doc, path, "camera_matrix", "data"), path,
                      "camera_matrix.data")
    model = doc.get("distortion_model", "plumb_bob")
    coefficients = doc.get("distortion_coefficients") or {}
    d = (coefficients.get("data") or []) if isinstance(coefficients, dict) else coefficients
    d = _yaml_numbers(d, path, "distortion_coefficients.data" if isinstance(coefficients, dict)
                      else "distortion_coefficients")
    binning = [_yaml_int(doc.get(name) or 0, path, name, "an integer (0 or 1: no binning)")
               for name in ("binning_x", "binning_y")]
    roi = doc.get("roi")
    if isinstance(roi, dict):
        roi = {name: _yaml_int(roi.get(name, 0), path, f"roi.{name}", pixels)
               for name in ("x_offset", "y_offset", "width", "height")}
    try:
        return intrinsics_from_camera_info(
            width, height, k, d, str(model), binning_x=binning[0], binning_y=binning[1], roi=roi,
        )
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
