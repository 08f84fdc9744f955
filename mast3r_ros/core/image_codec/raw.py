"""Raw ``sensor_msgs/Image`` fields <-> numpy arrays, without ROS: `decode_image`, `to_rgb8`,
`depth_to_metres`, `encode_image`, and the one-off warning about 10/12-bit data in 16-bit images
(`warn_low_bit_depth`).

Supported raw encodings (``sensor_msgs/image_encodings.h`` names) are every one that cv_bridge
converts to rgb8, with cv_bridge's conversion (``cv_bridge.cpp``, ``getConversionCodes`` and
``toCvCopyImpl``): rgb8, bgr8, rgba8, bgra8, mono8; the 16-bit rgb16, bgr16, rgba16, bgra16, mono16;
yuv422 (UYVY byte order) and yuv422_yuy2 (YUYV), also under their newer fourcc names uyvy and
yuyv (sensor_msgs since Iron, ros2/common_interfaces#214; yuv422 and yuv422_yuy2 are marked
deprecated there); bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8
and their 16-bit twins; 32FC1 (depth only). Each is one OpenCV colour conversion, then for 16-bit
data cv_bridge's depth change ``convertTo(CV_8U, 255 / 65535)`` (rounded, never clipped). The
semi-planar YUV encodings nv21 and nv12 (4:2:0) and nv24 (4:4:4), which sensor_msgs defines and
camera_ros publishes (libcamera's NV21/NV24), are read too although cv_bridge refuses them
("Unrecognized image encoding", up to rolling; its NV12 pull request #544 is open): their layout is
libcamera's and V4L2's (``step`` is the luma row stride, ``data`` the luma plane of ``height``
rows then the chroma plane, of ``height / 2`` rows of ``step`` bytes or, for nv24, ``height`` rows
of ``2 * step``), converted with OpenCV's BT.601 video-range YUV -> RGB (`to_rgb8`). The
OpenCV-style names 8UC1, 8UC3, 8UC4 and 16UC1 have no colour meaning in cv_bridge; they are read
as mono8, bgr8 (what ``cv2_to_imgmsg`` writes), bgra8 and mono16. ``SUPPORTED_ENCODINGS`` lists
them all.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import array
import logging

import cv2
import numpy as np

from ..errors import InputError
from ..said_once import SaidOnce

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
    "uyvy": ("<u1", 2),
    "yuyv": ("<u1", 2),
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
    # semi-planar YUV: one byte per luma sample; the chroma plane follows (`_decode_semi_planar`)
    "nv21": ("<u1", 1),
    "nv12": ("<u1", 1),
    "nv24": ("<u1", 1),
}
# semi-planar encoding -> (chroma plane rows per luma row, its rows' stride in luma strides)
_SEMI_PLANAR = {"nv21": (0.5, 1), "nv12": (0.5, 1), "nv24": (1, 2)}
_ALIASES = {"8UC1": "mono8", "8UC3": "bgr8", "8UC4": "bgra8", "16UC1": "mono16",
            "uyvy": "yuv422", "yuyv": "yuv422_yuy2"}
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
    "nv21": cv2.COLOR_YUV2RGB_NV21,
    "nv12": cv2.COLOR_YUV2RGB_NV12,
    "nv24": cv2.COLOR_YUV2RGB_UYVY,  # OpenCV has no 4:4:4 code: see `_nv24_as_uyvy`
}
# cv_bridge's 16 -> 8 bit depth change: convertTo(CV_8U, 255.0 / 65535.0), rounded to nearest.
_SCALE_16_TO_8 = 255.0 / 65535.0
SUPPORTED_ENCODINGS = tuple(_RAW_ENCODINGS)
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
# Millimetres per metre: REP-118 says 16-bit integer depth is in millimetres.
_REP118_UNITS_PER_M = 1000.0

BytesLike = bytes | bytearray | memoryview | np.ndarray


def _lookup(encoding: str) -> Tuple[str, int]:
    try:
        return _RAW_ENCODINGS[encoding]
    except KeyError:
        raise InputError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        ) from None


def _as_uint8(data: BytesLike) -> np.ndarray:
    """A flat uint8 view of a byte buffer (bytes, bytearray, memoryview, array('B'), a uint8
    ndarray): the messages' ``uint8[] data``. A buffer of wider items is refused: an int64
    array's bytes were read as pixels (np.array([10, 20, ...]) as 10, 0, 0, ...)."""
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "ui" or data.dtype.itemsize != 1:
            raise InputError(f"image data must be a bytes-like buffer of uint8 (the message's "
                             f"uint8[]), got a {data.dtype} array, whose items are not bytes: "
                             f"convert it with np.asarray(data, dtype=np.uint8)")
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        view = memoryview(data)
    except TypeError as err:
        kind = type(data).__name__
        raise InputError(f"image data must be a bytes-like buffer, got {kind}") from err
    if view.itemsize != 1:  # array('H'), array('q'): items of 2 or 8 bytes each
        raise InputError(f"image data must be a bytes-like buffer of uint8 (the message's "
                         f"uint8[]), got {type(data).__name__} of {view.itemsize}-byte items "
                         f"({view.format!r}): convert it with bytes(...) of the byte values")
    return np.frombuffer(view.cast("B"), dtype=np.uint8)


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
    float32 by encoding; channel order is left as the encoding says (see ``to_rgb8``). The
    semi-planar nv21 / nv12 give (H * 3 / 2, W) uint8 (OpenCV's layout: the luma rows, then the
    interleaved chroma rows) and nv24 (3 * H, W) (each chroma row of 2 * W bytes as two rows of
    W); ``step`` is the luma plane's row stride (libcamera's and V4L2's). Row padding
    (``step`` larger than ``width * bytes_per_pixel``) is dropped and big-endian 16/32-bit data is
    swapped. The result never shares memory with ``data``. A semi-planar image's last chroma
    row may lack its padding (the data ends at its last pixel); bytes after the chroma plane
    are ignored, unless they are whole rows of ``step`` (refused: see Raises).

    Raises:
        InputError: unsupported encoding; ``height``/``width``/``step`` not non-negative ints;
            a ``step`` shorter than a row; ``data`` not bytes-like or shorter than
            ``step * height`` (plus the chroma plane for nv21 / nv12 / nv24); an odd width or
            height for nv21 / nv12 (2x2 pixels share their chroma); semi-planar data longer
            than its two planes by whole rows of ``step`` (a luma plane padded to a multiple
            of rows puts the chroma plane after them: where it starts cannot be told).
    """
    for name, v in (("height", height), ("width", width), ("step", step)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise InputError(f"image {name} must be an int, got {v!r} ({type(v).__name__})")
    # Python ints from here: np.uint32 sizes wrapped step * height (65536 * 65536 -> 0)
    height, width, step = int(height), int(width), int(step)
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
    if encoding in _SEMI_PLANAR:
        return _decode_semi_planar(encoding, height, width, step, buf)
    if buf.size < step * height:
        raise InputError(
            f"{encoding} image data has {buf.size} bytes, expected step * height = "
            f"{step} * {height} = {step * height}"
        )
    rows = buf[: step * height].reshape(height, step)[:, :row_bytes].copy()
    pixels = rows.view(dtype).astype(dtype.newbyteorder("="), copy=False)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


def _decode_semi_planar(encoding: str, height: int, width: int, step: int,
                        buf: np.ndarray) -> np.ndarray:
    """nv21 / nv12 / nv24 bytes -> the luma rows then the chroma rows, padding dropped (see
    `decode_image`): libcamera's buffer, as camera_ros copies it whole into ``data``."""
    chroma_rows, chroma_strides = _SEMI_PLANAR[encoding]
    if chroma_rows < 1 and (width % 2 or height % 2):
        raise InputError(f"a {width}x{height} {encoding} image cannot be read: 2x2 pixels share "
                         "their chroma (4:2:0), so the width and height must be even")
    rows = int(height * chroma_rows)
    luma_bytes, chroma_step = step * height, step * chroma_strides
    need = luma_bytes + chroma_step * rows
    last_padding = chroma_step - width * chroma_strides  # of the last chroma row
    if need - last_padding <= buf.size < need and rows:
        # the last chroma row without its padding (a buffer cut at the last pixel): nothing
        # else fits, the chroma plane starting where the luma plane ends by definition
        buf = np.concatenate([buf, np.zeros(need - buf.size, np.uint8)])
    if buf.size < need:
        raise InputError(
            f"{encoding} image data has {buf.size} bytes, expected the luma plane (step * height "
            f"= {step} * {height}) and the chroma plane after it ({rows} rows of {chroma_step} "
            f"bytes) = {need}" + (f", or {need - last_padding} without the last row's padding"
                                  if last_padding and rows else ""))
    extra = buf.size - need
    if extra and step and extra % step == 0:
        raise InputError(
            f"{encoding} image data has {buf.size} bytes: {extra // step} whole rows of {step} "
            f"bytes more than the luma plane (step * height = {step} * {height}) and the chroma "
            f"plane ({rows} rows of {chroma_step} bytes); a driver that pads the luma plane to a "
            "multiple of rows puts the chroma plane after those rows, and sensor_msgs/Image "
            "cannot say where it starts: not read, rather than read with the wrong colours. "
            "Record the camera at a height its driver does not pad (a multiple of 16 or 32 "
            "rows), or convert the images to rgb8 / bgr8 in the driver")
    luma = buf[:luma_bytes].reshape(height, step)[:, :width]
    chroma = buf[luma_bytes:need].reshape(rows, chroma_step)[:, :width * chroma_strides]
    return np.concatenate([luma, chroma.reshape(rows * chroma_strides, width)])


def _nv24_as_uyvy(array: np.ndarray) -> np.ndarray:
    """(3 * H, W) nv24 -> (H, 2 * W, 2) UYVY whose pixels 2i and 2i+1 are both pixel i (its Y
    twice, sharing its own U and V): OpenCV converts 4:2:0 and 4:2:2 with one BT.601 video-range
    formula but has no 4:4:4 code, and its YUV2RGB (no suffix) is another, full-range, formula.
    Converting this and keeping every other column gives nv21's arithmetic at twice nv21's
    cost for the pixels (1.4 ms at 640x480; a 2x-upscaled NV12 gave the same bits in 8.7 ms)."""
    height = array.shape[0] // 3
    luma, chroma = array[:height], array[height:].reshape(height, -1, 2)
    return np.stack([chroma[..., 0], luma, chroma[..., 1], luma], axis=-1).reshape(
        height, -1, 2)


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
        InputError: unsupported encoding, wrong shape/dtype for it, an image without pixels
            (width or height 0), or a conversion OpenCV refuses.
    """
    if encoding == "32FC1":
        raise InputError("a 32FC1 (float depth) image cannot be shown as RGB; use depth_to_metres")
    _check_shape(array, encoding)
    if not array.size:  # nv24's reshape and cvtColor failed on it in their own words
        raise InputError(f"a {encoding} image of shape {array.shape} has no pixels (an empty "
                         "message: width or height 0); a driver publishes that before its "
                         "first real frame or when its capture failed: nothing to read")
    given, encoding = encoding, _ALIASES.get(encoding, encoding)
    code = _TO_RGB[encoding]
    if encoding in _SEMI_PLANAR:
        full = encoding == "nv24"  # (3 * H, W); nv21 / nv12 (H * 3 / 2, W), H and W even
        if array.shape[0] % 3 or (not full and array.shape[1] % 2):
            raise InputError(f"a {given} image must be ({'3 * H' if full else 'H * 3 / 2'}, W) "
                             f"uint8{'' if full else ' with H and W even'}, as decode_image "
                             f"gives, got {array.shape}")
        if encoding == "nv24":
            array = _nv24_as_uyvy(array)
    if encoding in ("yuv422", "yuv422_yuy2") and array.shape[1] % 2:
        # checked here: OpenCV 4.5 (Humble's) converts an odd width without complaint
        h, w = array.shape[:2]
        raise InputError(f"cannot convert a {w}x{h} {given} image to RGB (two pixels share "
                         "their chroma in 4 bytes: the width must be even)")
    if code is None:
        rgb = array
    elif given == "nv24":
        rgb = cv2.cvtColor(np.ascontiguousarray(array), code)[:, ::2]
    else:
        try:
            rgb = cv2.cvtColor(np.ascontiguousarray(array), code)
        except cv2.error as err:
            h, w = array.shape[:2]
            raise InputError(
                f"cannot convert a {w}x{h} {given} image to RGB "
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
    metres = array.astype(np.float32) / np.float32(check_depth_scale(depth_scale))
    with np.errstate(invalid="ignore"):
        metres[~(np.isfinite(metres) & (metres > 0))] = np.nan
    return metres


def check_depth_scale(depth_scale: float, what: str = "depth_scale") -> float:
    """A depth scale (raw depth units per metre) -> float, or `InputError` naming ``what``
    unless it is a finite positive number (a numpy scalar or 0-d array included, as np.load of a
    calibration gives; a bool, string or sequence refused). Shared by `depth_to_metres` and the
    readers (TUM folders, bags) so each refuses the same values with the same words."""
    if isinstance(depth_scale, np.ndarray) and depth_scale.ndim == 0:
        depth_scale = depth_scale.item()  # a 0-d array (np.load of a calibration) is a number
    if (isinstance(depth_scale, (bool, np.bool_))
            or not isinstance(depth_scale, (int, float, np.number))
            or not (np.isfinite(depth_scale) and depth_scale > 0)):
        raise InputError(
            f"{what} must be a positive number of raw depth units per metre (TUM PNGs 5000, "
            f"16UC1 millimetres 1000), got {depth_scale!r} ({type(depth_scale).__name__}); "
            f"pass depth_scale as a number such as 5000.0"
        )
    return float(depth_scale)


def encode_image(rgb: np.ndarray) -> Tuple[str, int, int, int, array.array]:
    """(H, W, 3) uint8 RGB -> ``sensor_msgs/Image`` fields (encoding, height, width, step, data).

    ``data`` is an ``array.array('B')``, the type rosidl stores ``uint8[]`` fields in: assigning
    one to ``Image.data`` is taken as it is, while ``bytes`` or a list goes through the generated
    setter's per-byte type and range check (about 0.3 s for a 1280x480 RGB image under
    ``__debug__``, which ``ros2 run`` keeps on). Raises `InputError` for anything but an
    (H, W, 3) uint8 numpy array (a list or None included)."""
    if not isinstance(rgb, np.ndarray):
        raise InputError(f"encode_image expects an (H, W, 3) uint8 RGB numpy array, got "
                         f"{type(rgb).__name__}; pass np.asarray(image, np.uint8)")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"encode_image expects (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(rgb).tobytes())
    return "rgb8", height, width, width * 3, data


# the sources `warn_low_bit_depth` has judged (each once: no per-frame pass), the most recent
# `SaidOnce` bound of them (a topic's source names its frame_id, which a driver may vary)
_LOW_BIT_DEPTH_CHECKED = SaidOnce(what="16-bit streams")


# significant bits of 16-bit data told apart by its largest value, and how the warning names them
_LOW_BITS = ((12, "10/12-bit"), (14, "13/14-bit"))


def warn_low_bit_depth(array: np.ndarray, source: str, fix: str, max_bits: int = 14,
                       once: str = "said once", key: Optional[str] = None,
                       first: Optional[Callable[[str], bool]] = None) -> bool:
    """Warn when the first 16-bit image of ``source`` has all values below 16384 (each source is
    judged once, so the node pays no per-frame pass over its images): 10- to 14-bit sensor data
    stored in 16 bits (12-bit: below 4096; 14-bit: thermal cameras, many mono sensors), which
    cv_bridge's 255/65535 scaling (kept here, see `to_rgb8`) turns into a picture at most 16/255
    (64/255) bright, and which nothing in an image says how many bits are significant; 14-bit
    data matched as poorly as 12-bit (6 matches against 108 for the 8-bit copy, case
    png16-gray-pair). ``max_bits`` (12 or 14) lowers the limit for a source that has its own
    warning above it (16UC1: depth in mm). ``source`` names the stream (a folder's files, a
    topic's frame_id and encoding); ``fix`` says what to change; ``once`` ends the warning in
    brackets ("said once" for a stream, "" for one named file); ``key`` (default ``source``)
    is what a stream is judged once by (a topic's frame_id without its numbers: a driver's
    counter in it made each image a new stream); ``first`` (``key`` -> True the first time)
    the record of the streams judged (default one of the process; an image folder's reader
    passes its watch's, `files.read_image_file`, so each read of a folder is judged anew; the
    process's judges at most a few new streams one by one, `SaidOnce.say`: a frame_id of
    letters changing at every image is not a stream an image). Returns whether it warned."""
    if array.dtype != np.uint16 or not array.size:
        return False
    said = (_LOW_BIT_DEPTH_CHECKED.say(source if key is None else key) if first is None else
            "" if first(source if key is None else key) else None)
    if said is None:  # on its first 16-bit image only
        return False
    top = int(array.max())
    bits, label = next(((b, name) for b, name in _LOW_BITS if top < 1 << b and b <= max_bits),
                       (0, ""))
    if not bits:
        return False
    log.warning("%s: 16-bit pixel values that all stay below %d (%s sensor data?): scaled by "
                "255/65535 as cv_bridge does, so the picture is dark (at most %d/255) and "
                "matches poorly; %s%s%s", source, 1 << bits, label,
                round(255 * (1 << bits) / 65535), fix, f" ({once})" if once else "", said)
    return True
