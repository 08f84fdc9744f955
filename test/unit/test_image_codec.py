"""Tests of the ROS-free image / CameraInfo codecs."""

from __future__ import annotations

import array
import struct

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import (
    decode_compressed,
    decode_image,
    depth_to_metres,
    encode_image,
    intrinsics_from_camera_info,
    load_camera_info_yaml,
    to_rgb8,
)

H, W = 4, 5
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, (H, W, 1), dtype=np.uint8)
GREY = RNG.integers(0, 256, (H, W), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
FLOAT = RNG.uniform(0.1, 5.0, (H, W)).astype(np.float32)

# encoding -> (raw array as it sits in the message, expected RGB)
CASES = {
    "rgb8": (RGB, RGB),
    "bgr8": (RGB[:, :, ::-1], RGB),
    "8UC3": (RGB[:, :, ::-1], RGB),
    "rgba8": (np.concatenate([RGB, ALPHA], axis=2), RGB),
    "bgra8": (np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2), RGB),
    "mono8": (GREY, np.repeat(GREY[:, :, None], 3, axis=2)),
    "8UC1": (GREY, np.repeat(GREY[:, :, None], 3, axis=2)),
    "mono16": (GREY16, np.repeat((GREY16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2)),
    "16UC1": (GREY16, np.repeat((GREY16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2)),
    "32FC1": (FLOAT, None),
}


def _pack(raw: np.ndarray, pad: int, bigendian: bool) -> tuple:
    """Message fields (step, data) for ``raw`` with ``pad`` junk bytes per row."""
    dtype = raw.dtype.newbyteorder(">" if bigendian else "<")
    rows = np.ascontiguousarray(raw.astype(dtype)).reshape(raw.shape[0], -1).view(np.uint8)
    junk = np.full((raw.shape[0], pad), 0xAB, dtype=np.uint8)
    data = np.concatenate([rows, junk], axis=1)
    return data.shape[1], data.tobytes()


@pytest.mark.parametrize("encoding", sorted(CASES))
@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("bigendian", [False, True])
def test_decode_round_trip(encoding, pad, bigendian):
    raw, expected_rgb = CASES[encoding]
    step, data = _pack(raw, pad, bigendian)
    out = decode_image(encoding, H, W, step, data, is_bigendian=bigendian)
    assert out.dtype == raw.dtype.newbyteorder("=") and out.dtype.isnative
    np.testing.assert_array_equal(out, raw)
    if expected_rgb is not None:
        rgb = to_rgb8(out, encoding)
        assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
        np.testing.assert_array_equal(rgb, expected_rgb)


@pytest.mark.parametrize("container", [bytes, bytearray, memoryview, "array", "ndarray"])
def test_decode_accepts_buffers_and_copies(container):
    step, data = _pack(RGB, 0, False)
    if container == "array":
        buf = array.array("B", data)
    elif container == "ndarray":
        buf = np.frombuffer(bytearray(data), dtype=np.uint8)
    else:
        buf = container(bytearray(data)) if container is memoryview else container(data)
    out = decode_image("rgb8", H, W, step, buf)
    np.testing.assert_array_equal(out, RGB)
    assert out.flags.writeable
    out[...] = 0  # must not write through to the message buffer
    assert bytes(buf) == data


def test_decode_errors():
    step, data = _pack(RGB, 0, False)
    with pytest.raises(InputError, match="unsupported image encoding 'yuv422'.*rgb8.*32FC1"):
        decode_image("yuv422", H, W, step, data)
    with pytest.raises(InputError, match="expected step \\* height"):
        decode_image("rgb8", H, W, step, data[:-1])
    with pytest.raises(InputError, match="step 14 is smaller than"):
        decode_image("rgb8", H, W, 14, data)


def test_to_rgb8_rejects_float_and_wrong_shape():
    with pytest.raises(InputError, match="32FC1"):
        to_rgb8(FLOAT, "32FC1")
    with pytest.raises(InputError, match="bgr8 image must be"):
        to_rgb8(GREY, "bgr8")


def test_depth_to_metres_scaling_and_invalid():
    mm = np.array([[0, 1500], [65535, 1]], dtype=np.uint16)
    out = depth_to_metres(mm, "16UC1")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[np.nan, 1.5], [65.535, 0.001]], rtol=1e-6)
    np.testing.assert_allclose(depth_to_metres(mm, "mono16", depth_scale=5000.0)[0, 1], 0.3)
    metres = np.array([[0.0, -1.0, np.nan], [np.inf, 2.5, 1e-3]], dtype=np.float32)
    out = depth_to_metres(metres, "32FC1")
    assert np.isnan(out[0]).all() and np.isnan(out[1, 0])
    np.testing.assert_allclose(out[1, 1:], [2.5, 1e-3])
    assert not np.shares_memory(out, metres)
    with pytest.raises(InputError, match="not a depth encoding"):
        depth_to_metres(GREY, "mono8")
    with pytest.raises(InputError, match="depth_scale"):
        depth_to_metres(mm, "16UC1", depth_scale=0.0)


def test_decode_compressed_png_and_jpeg():
    bgr = np.ascontiguousarray(RGB[:, :, ::-1])
    ok, png = cv2.imencode(".png", bgr)
    assert ok
    out, encoding = decode_compressed("png", png.tobytes())
    assert encoding == "bgr8"
    np.testing.assert_array_equal(to_rgb8(out, encoding), RGB)

    smooth = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (24, 1))
    colour = np.stack([smooth, smooth[:, ::-1], np.full_like(smooth, 128)], axis=2)
    ok, jpg = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 95])
    out, encoding = decode_compressed("rgb8; jpeg compressed bgr8", array.array("B", jpg.tobytes()))
    assert encoding == "bgr8" and out.shape == (24, 32, 3)
    assert np.abs(out.astype(int) - colour).mean() < 3

    ok, grey = cv2.imencode(".png", GREY)
    out, encoding = decode_compressed("mono8; png compressed ", grey.tobytes())
    assert encoding == "mono8"
    np.testing.assert_array_equal(out, GREY)


def test_decode_compressed_16bit_png_survives():
    ok, png = cv2.imencode(".png", GREY16)
    out, encoding = decode_compressed("16UC1; png compressed", png.tobytes())
    assert (out.dtype, encoding) == (np.uint16, "16UC1")
    np.testing.assert_array_equal(out, GREY16)
    _, encoding = decode_compressed("mono16; png compressed", png.tobytes())
    assert encoding == "mono16"


def test_decode_compressed_depth_formats():
    depth_mm = np.array([[0, 1000], [2500, 65535]], dtype=np.uint16)
    ok, png = cv2.imencode(".png", depth_mm)
    header = struct.pack("<iff", 0, 0.0, 0.0)
    out, encoding = decode_compressed("16UC1; compressedDepth png", header + png.tobytes())
    assert encoding == "16UC1"
    np.testing.assert_array_equal(out, depth_mm)

    # 32FC1: quantized inverse depth, depth = a / (v - b), v = 0 invalid.
    a, b = 2.5, -10.0
    inverse = np.array([[0, 100], [1000, 40]], dtype=np.uint16)
    ok, png = cv2.imencode(".png", inverse)
    data = struct.pack("<iff", 0, a, b) + png.tobytes()
    out, encoding = decode_compressed("32FC1; compressedDepth png", data)
    assert encoding == "32FC1" and out.dtype == np.float32
    expected = np.where(inverse == 0, np.nan, a / (inverse.astype(np.float64) - b))
    np.testing.assert_allclose(out, expected, rtol=1e-6)

    with pytest.raises(InputError, match="RVL"):
        decode_compressed("16UC1; compressedDepth rvl", header + b"\x00" * 8)


def test_decode_compressed_garbage():
    with pytest.raises(InputError, match="cannot decode 5 bytes.*'jpeg'"):
        decode_compressed("jpeg", b"\x00\x01\x02\x03\x04")
    with pytest.raises(InputError, match="cannot decode 0 bytes"):
        decode_compressed("png", b"")


def test_encode_image_round_trip():
    encoding, height, width, step, data = encode_image(RGB)
    assert (encoding, height, width, step) == ("rgb8", H, W, 3 * W)
    np.testing.assert_array_equal(decode_image(encoding, height, width, step, data), RGB)
    with pytest.raises(InputError):
        encode_image(GREY)


K = [585.0, 0.0, 320.0, 0.0, 585.0, 240.0, 0.0, 0.0, 1.0]


def test_intrinsics_from_camera_info():
    intr = intrinsics_from_camera_info(640, 480, K, [0.1, -0.2, 0.0, 0.0, 0.01], "plumb_bob")
    assert (intr.width, intr.height) == (640, 480)
    assert intr.K[0, 0] == 585.0 and intr.K[1, 2] == 240.0 and intr.has_distortion
    intr = intrinsics_from_camera_info(640, 480, np.asarray(K), [], "")
    assert intr.distortion_model == "plumb_bob" and not intr.has_distortion
    assert intrinsics_from_camera_info(640, 480, K, [0.1] * 8, "rational_polynomial").dist.size == 8
    assert intrinsics_from_camera_info(640, 480, K, [0.1] * 4, "equidistant").dist.size == 4


@pytest.mark.parametrize(
    "k, d, model, match",
    [
        (K[:8], [], "plumb_bob", "9 values"),
        ([0.0] * 9, [], "plumb_bob", "uncalibrated"),
        (K, [], "fisheye_magic", "unsupported distortion model 'fisheye_magic'"),
        (K, [0.1] * 3, "plumb_bob", "got 3"),
    ],
)
def test_intrinsics_from_camera_info_errors(k, d, model, match):
    with pytest.raises(InputError, match=match):
        intrinsics_from_camera_info(640, 480, k, d, model)


CAMERA_YAML = """\
image_width: 32
image_height: 24
camera_name: cam
camera_matrix:
  rows: 3
  cols: 3
  data: [30.0, 0, 15.5, 0, 31.0, 11.5, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.01, 0, 0, 0, 0]
"""


def test_load_camera_info_yaml(tmp_path):
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML)
    intr = load_camera_info_yaml(path)
    assert (intr.width, intr.height) == (32, 24)
    np.testing.assert_allclose(intr.K, [[30, 0, 15.5], [0, 31, 11.5], [0, 0, 1]])
    np.testing.assert_allclose(intr.dist, [0.01, 0, 0, 0, 0])


def test_load_camera_info_yaml_errors(tmp_path):
    with pytest.raises(InputError, match="missing.yaml"):
        load_camera_info_yaml(tmp_path / "missing.yaml")
    path = tmp_path / "cam.yaml"
    path.write_text(CAMERA_YAML.replace("  data: [30.0", "  values: [30.0"))
    with pytest.raises(InputError, match="cam.yaml: missing field 'camera_matrix.data'"):
        load_camera_info_yaml(path)
    path.write_text(CAMERA_YAML.replace("image_height: 24\n", ""))
    with pytest.raises(InputError, match="cam.yaml: missing field 'image_height'"):
        load_camera_info_yaml(path)
    path.write_text("image_width: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_camera_info_yaml(path)
    path.write_text(CAMERA_YAML.replace("[30.0, 0, 15.5, 0, 31.0", "[0.0, 0, 15.5, 0, 0.0"))
    with pytest.raises(InputError, match="cam.yaml: .*uncalibrated"):
        load_camera_info_yaml(path)
