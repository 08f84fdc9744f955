"""Conversions between raw ``sensor_msgs`` image fields and numpy arrays, without ROS.

The ROS node passes the fields of ``sensor_msgs/Image``, ``CompressedImage`` and ``CameraInfo``
(plain strings, ints, bytes and sequences); the offline bag reader passes the same fields as
deserialized by ``rosbags``. Nothing here imports ROS or cv_bridge.

Supported raw encodings (``sensor_msgs/image_encodings.h`` names): rgb8, bgr8, rgba8, bgra8, mono8,
mono16, 16UC1, 32FC1, and the OpenCV-style aliases 8UC3 (read as bgr8, which is what cv_bridge
writes for it) and 8UC1 (read as mono8).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import yaml

from .errors import InputError
from .types import CameraIntrinsics

# encoding -> (little-endian numpy dtype, channels)
_RAW_ENCODINGS = {
    "rgb8": ("<u1", 3),
    "bgr8": ("<u1", 3),
    "rgba8": ("<u1", 4),
    "bgra8": ("<u1", 4),
    "mono8": ("<u1", 1),
    "mono16": ("<u2", 1),
    "16UC1": ("<u2", 1),
    "32FC1": ("<f4", 1),
    "8UC3": ("<u1", 3),
    "8UC1": ("<u1", 1),
}
_ALIASES = {"8UC3": "bgr8", "8UC1": "mono8"}
SUPPORTED_ENCODINGS = tuple(_RAW_ENCODINGS)
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
# Millimetres per metre: REP-118 says 16-bit integer depth is in millimetres.
_REP118_UNITS_PER_M = 1000.0
_COMPRESSED_DEPTH_HEADER_BYTES = 12  # int32 format + float32 depthParam[2]
_DISTORTION_LENGTHS = {
    "plumb_bob": (0, 4, 5),
    "rational_polynomial": (0, 8, 12, 14),
    "equidistant": (0, 4),
}

BytesLike = bytes | bytearray | memoryview | np.ndarray


def _lookup(encoding: str) -> tuple[str, int]:
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
    """
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
    expected_ndim = 2 if channels == 1 else 3
    ok = array.ndim == expected_ndim and (channels == 1 or array.shape[2] == channels)
    if not ok or array.dtype != np.dtype(dtype_str).newbyteorder("="):
        raise InputError(
            f"a {encoding} image must be {'(H, W)' if channels == 1 else f'(H, W, {channels})'} "
            f"{np.dtype(dtype_str).name}, got {array.shape} {array.dtype}"
        )


def to_rgb8(array: np.ndarray, encoding: str) -> np.ndarray:
    """An image decoded as ``encoding`` -> (H, W, 3) uint8 RGB (contiguous).

    Grey images are replicated to three channels; mono16/16UC1 keep their high byte (>> 8, as
    cv_bridge does). An rgb8 input may be returned as is. 32FC1 has no colour meaning and is
    rejected.
    """
    if encoding == "32FC1":
        raise InputError("a 32FC1 (float depth) image cannot be shown as RGB; use depth_to_metres")
    _check_shape(array, encoding)
    encoding = _ALIASES.get(encoding, encoding)
    if encoding == "rgb8":
        return np.ascontiguousarray(array)
    if encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(array[:, :, 2::-1])
    if encoding == "rgba8":
        return np.ascontiguousarray(array[:, :, :3])
    if encoding in ("mono16", "16UC1"):
        array = (array >> 8).astype(np.uint8)
    return np.repeat(array[:, :, None], 3, axis=2)


def depth_to_metres(
    array: np.ndarray, encoding: str, depth_scale: float | None = None
) -> np.ndarray:
    """A depth image -> (H, W) float32 metres with NaN where invalid (0, NaN, inf, negative).

    ``depth_scale`` is in raw units per metre (TUM RGB-D PNGs: 5000). Without it, 16UC1/mono16 are
    millimetres (REP-118) and 32FC1 metres.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise InputError(
            f"{encoding!r} is not a depth encoding; expected one of {', '.join(DEPTH_ENCODINGS)}"
        )
    _check_shape(array, encoding)
    if depth_scale is None:
        depth_scale = 1.0 if encoding == "32FC1" else _REP118_UNITS_PER_M
    if not (np.isfinite(depth_scale) and depth_scale > 0):
        raise InputError(
            f"depth_scale must be a positive number of units per metre, got {depth_scale}"
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


def _decode_compressed_depth(fmt: str, buf: np.ndarray) -> tuple[np.ndarray, str]:
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


def decode_compressed(format: str, data: BytesLike) -> tuple[np.ndarray, str]:
    """``sensor_msgs/CompressedImage`` fields -> (array, raw encoding) as ``decode_image`` gives.

    JPEG and PNG are decoded by OpenCV with IMREAD_UNCHANGED, so colour comes back as bgr8 / bgra8,
    grey as mono8, and 16-bit grey PNG as 16UC1 (or mono16 when ``format`` says so). The
    ``compressedDepth`` format of image_transport's compressed_depth plugin (12-byte header, then
    PNG) gives 16UC1 or 32FC1; its RVL variant is rejected.
    """
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
    raise InputError(
        f"compressed image (format {format!r}) decodes to unsupported {image.shape} {image.dtype}; "
        "expected 8-bit grey/colour or 16-bit grey"
    )


def encode_image(rgb: np.ndarray) -> tuple[str, int, int, int, bytes]:
    """(H, W, 3) uint8 RGB -> ``sensor_msgs/Image`` fields (encoding, height, width, step, data)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"encode_image expects (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    return "rgb8", height, width, width * 3, np.ascontiguousarray(rgb).tobytes()


def intrinsics_from_camera_info(
    width: int, height: int, k: Sequence[float], d: Sequence[float], distortion_model: str
) -> CameraIntrinsics:
    """``sensor_msgs/CameraInfo`` fields -> ``CameraIntrinsics`` (K row-major, 9 values).

    ``distortion_model`` is plumb_bob, rational_polynomial or equidistant; an empty model with no
    (or all-zero) coefficients is read as plumb_bob without distortion.
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
    if distortion_model == "" and not np.any(d_arr):
        distortion_model = "plumb_bob"
    if distortion_model not in _DISTORTION_LENGTHS:
        raise InputError(
            f"unsupported distortion model {distortion_model!r}; supported: "
            f"{', '.join(_DISTORTION_LENGTHS)}"
        )
    if d_arr.size not in _DISTORTION_LENGTHS[distortion_model]:
        raise InputError(
            f"{distortion_model} expects {_DISTORTION_LENGTHS[distortion_model]} distortion "
            f"coefficients, got {d_arr.size}"
        )
    if width <= 0 or height <= 0:
        raise InputError(f"CameraInfo image size must be positive, got {width}x{height}")
    return CameraIntrinsics(int(width), int(height), k_arr.reshape(3, 3), d_arr, distortion_model)


def _yaml_field(doc: dict, path: Path, *keys: str) -> object:
    value: object = doc
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise InputError(f"{path}: missing field {'.'.join(keys[: depth + 1])!r}")
        value = value[key]
    return value


def load_camera_info_yaml(path: str | Path) -> CameraIntrinsics:
    """Read a ROS camera_info YAML (camera_calibration_parsers layout) -> ``CameraIntrinsics``.

    Needs ``image_width``, ``image_height`` and ``camera_matrix.data``; ``distortion_model``
    defaults to plumb_bob and ``distortion_coefficients.data`` to none.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as err:
        raise InputError(f"cannot read camera_info YAML {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise InputError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a camera_info mapping, got {type(doc).__name__}")
    width = _yaml_field(doc, path, "image_width")
    height = _yaml_field(doc, path, "image_height")
    k = _yaml_field(doc, path, "camera_matrix", "data")
    model = doc.get("distortion_model", "plumb_bob")
    coefficients = doc.get("distortion_coefficients") or {}
    d = (coefficients.get("data") or []) if isinstance(coefficients, dict) else coefficients
    try:
        return intrinsics_from_camera_info(int(width), int(height), k, d, str(model))
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
