"""Tests of the ROS-free image / CameraInfo codecs."""

from __future__ import annotations

import array
import logging
import os
import re
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
    read_image_file,
    to_rgb8,
    warn_low_bit_depth,
)

H, W = 4, 5
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, (H, W, 1), dtype=np.uint8)
GREY = RNG.integers(0, 256, (H, W), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
FLOAT = RNG.uniform(0.1, 5.0, (H, W)).astype(np.float32)
RGB16 = RNG.integers(0, 65536, (H, W, 3), dtype=np.uint16)
ALPHA16 = RNG.integers(0, 65536, (H, W, 1), dtype=np.uint16)


def _as_8bit(values: np.ndarray) -> np.ndarray:
    """cv_bridge's 16 -> 8 bit change: convertTo(CV_8U, 255 / 65535), rounded to nearest."""
    return np.floor(values.astype(np.float64) * 255.0 / 65535.0 + 0.5).astype(np.uint8)


GREY16_AS_8 = _as_8bit(GREY16)
RGB16_AS_8 = _as_8bit(RGB16)

# encoding -> (raw array as it sits in the message, expected RGB)
CASES = {
    "rgb8": (RGB, RGB),
    "bgr8": (RGB[:, :, ::-1], RGB),
    "8UC3": (RGB[:, :, ::-1], RGB),
    "rgba8": (np.concatenate([RGB, ALPHA], axis=2), RGB),
    "bgra8": (np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2), RGB),
    "mono8": (GREY, np.repeat(GREY[:, :, None], 3, axis=2)),
    "8UC1": (GREY, np.repeat(GREY[:, :, None], 3, axis=2)),
    "mono16": (GREY16, np.repeat(GREY16_AS_8[:, :, None], 3, axis=2)),
    "16UC1": (GREY16, np.repeat(GREY16_AS_8[:, :, None], 3, axis=2)),
    "8UC4": (np.concatenate([RGB[:, :, ::-1], ALPHA], axis=2), RGB),
    "rgb16": (RGB16, RGB16_AS_8),
    "bgr16": (RGB16[:, :, ::-1], RGB16_AS_8),
    "rgba16": (np.concatenate([RGB16, ALPHA16], axis=2), RGB16_AS_8),
    "bgra16": (np.concatenate([RGB16[:, :, ::-1], ALPHA16], axis=2), RGB16_AS_8),
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
    with pytest.raises(InputError, match="unsupported image encoding 'nv16'.*rgb8.*32FC1"):
        decode_image("nv16", H, W, step, data)
    with pytest.raises(InputError, match="expected step \\* height"):
        decode_image("rgb8", H, W, step, data[:-1])
    # padded rows: the last row's padding is part of step * height too (sensor_msgs/Image)
    with pytest.raises(InputError, match="expected step \\* height = 16 \\* 2 = 32"):
        decode_image("rgb8", 2, 4, 16, bytes(16 + 12))
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
    # mono16 depth is millimetres by default too (REP-118), like 16UC1
    np.testing.assert_allclose(depth_to_metres(mm, "mono16"), out, rtol=1e-6)
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


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("bits", [8, 16])
def test_a_compressed_bayer_mosaic_is_demosaiced_as_its_raw_message_is(pattern, bits):
    """compressed_image_transport compresses a Bayer image as its grey mosaic, format
    'bayer_rggb8; png compressed ' (no target colour: Bayer is no colour encoding to it), and
    its subscriber gives the mosaic back as bayer_rggb8 for cv_bridge to demosaic. It was read
    as mono8 (16-bit: 16UC1), a grey picture with the colour filter's checkerboard."""
    rng = np.random.default_rng(3)
    dtype = np.uint8 if bits == 8 else np.uint16
    mosaic = rng.integers(0, 256 if bits == 8 else 65536, (24, 32), dtype=dtype)
    ok, png = cv2.imencode(".png", mosaic)
    assert ok
    encoding = f"bayer_{pattern}{bits}"
    out, got = decode_compressed(f"{encoding}; png compressed ", png.tobytes())
    assert got == encoding
    raw = decode_image(encoding, 24, 32, mosaic.strides[0], mosaic.tobytes())
    np.testing.assert_array_equal(to_rgb8(out, got), to_rgb8(raw, encoding))


def test_a_bayer_format_on_a_colour_payload_keeps_the_decoded_colour():
    """Only a grey mosaic is taken as Bayer: a colour JPEG whose format names a Bayer source
    (a republisher that demosaiced first) stays bgr8."""
    ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(RGB[:, :, ::-1]))
    _, encoding = decode_compressed("bayer_rggb8; jpeg compressed bgr8", jpg.tobytes())
    assert encoding == "bgr8"


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

    # the 12-byte header and no PNG: the message is malformed, not an undecodable PNG
    with pytest.raises(InputError, match="malformed compressedDepth message: .* 12 bytes"):
        decode_compressed("16UC1; compressedDepth png", header)


def test_decode_compressed_garbage():
    with pytest.raises(InputError, match="cannot decode 5 bytes.*'jpeg'"):
        decode_compressed("jpeg", b"\x00\x01\x02\x03\x04")
    with pytest.raises(InputError, match="cannot decode 0 bytes"):
        decode_compressed("png", b"")


def test_encode_image_round_trip():
    encoding, height, width, step, data = encode_image(RGB)
    assert (encoding, height, width, step) == ("rgb8", H, W, 3 * W)
    # the type rosidl keeps uint8[] in: Image.data = bytes runs a per-byte check in Python
    # (0.3 s a debug image), an array('B') is stored as it is
    assert isinstance(data, array.array) and data.typecode == "B" and len(data) == H * W * 3
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
    # a tab where YAML wants spaces: the file's line and column, not PyYAML's "<unicode
    # string>" and its multi-line excerpt
    path.write_text(CAMERA_YAML.replace("  rows: 3\n", "\trows: 3\n", 1))
    with pytest.raises(InputError) as err:
        load_camera_info_yaml(path)
    assert str(err.value) == (f"{path} is not valid YAML: line 5, column 1: while scanning for "
                              "the next token, found character '\\t' that cannot start any "
                              "token; YAML indents with spaces, not tabs")
    path.write_text(CAMERA_YAML.replace("[30.0, 0, 15.5, 0, 31.0", "[0.0, 0, 15.5, 0, 0.0"))
    with pytest.raises(InputError, match="cam.yaml: .*uncalibrated"):
        load_camera_info_yaml(path)


@pytest.mark.parametrize("old, new, match", [
    ("image_width: 32", 'image_width: "640px"',
     r"camera.yaml: image_width must be an integer number of pixels, got '640px'"),
    ("image_height: 24", "image_height: 24.5",
     r"camera.yaml: image_height must be an integer number of pixels, got 24.5"),
    ("image_width: 32", "image_width: true",
     r"camera.yaml: image_width must be an integer number of pixels, got True"),
    ("15.5, 0, 31.0", '"15.5px", 0, 31.0',
     r"camera.yaml: camera_matrix.data must be a list of numbers, got '15.5px' at index 2"),
    ("[0.01, 0", '["k1", 0',
     r"camera.yaml: distortion_coefficients.data must be a list of numbers, got 'k1' at index 0"),
    ("camera_name: cam", 'camera_name: cam\nbinning_x: "2x"',
     r"camera.yaml: binning_x must be an integer .*, got '2x'"),
    ("camera_name: cam", "camera_name: cam\nroi: {x_offset: 1px, y_offset: 0, width: 8, height: 8}",
     r"camera.yaml: roi.x_offset must be an integer number of pixels, got '1px'"),
    # str.isdigit passed these, int() refused them with its own ValueError
    ("image_width: 32", 'image_width: "+-32"',
     r"camera.yaml: image_width must be an integer number of pixels, got '\+-32'"),
    # an integer too large for a float: OverflowError from float()
    ("15.5, 0, 31.0", "1" + "0" * 400 + ", 0, 31.0",
     r"camera.yaml: camera_matrix.data must be a list of numbers, got 1000.* at index 2"),
])
def test_load_camera_info_yaml_names_the_field_that_is_not_a_number(tmp_path, old, new, match):
    # was "camera.yaml: invalid literal for int() with base 10: '640px'", no field named (and a
    # width of 24.5 or true silently truncated to 24 or 1)
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace(old, new, 1))
    with pytest.raises(InputError, match=match):
        load_camera_info_yaml(path)


def test_load_camera_info_yaml_reads_numbers_as_ros_yaml_cpp_reads_them(tmp_path):
    # camera_calibration_parsers (parse_yml.cpp) reads every field with yaml-cpp's as<T>() on
    # the scalar's text: quoted digits are numbers there, and '015' is the double 15 (PyYAML
    # reads it as the octal 13)
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace("image_width: 32", 'image_width: "32"')
                    .replace("image_height: 24", "image_height: +24")
                    .replace("  rows: 3\n", '  rows: "3"\n', 1)
                    .replace("[30.0, 0, 15.5", "[30.0, 0, 015"))
    intr = load_camera_info_yaml(path)
    assert (intr.width, intr.height) == (32, 24)
    np.testing.assert_allclose(intr.K[0], [30, 0, 15])


_YAML_CPP_REFUSES = (r", which ROS's camera_calibration_parsers \(yaml-cpp\) does not read as an "
                     r"{}integer and refuses the file \(it takes digits, quoted or not\)")


@pytest.mark.parametrize("old, new, match", [
    # was read as 24: ROS's as<uint32_t> refuses '24.0' (text left after the digits)
    ("image_height: 24", "image_height: 24.0",
     "image_height must be an integer number of pixels, got 24.0"
     + _YAML_CPP_REFUSES.format("unsigned ") + ": write 24$"),
    ("image_width: 32", "image_width: -32",
     "image_width must be an integer number of pixels, got -32"
     + _YAML_CPP_REFUSES.format("unsigned ")),
    ("image_width: 32", "image_width:", "image_width must be an integer number of pixels, "
     "got None" + _YAML_CPP_REFUSES.format("unsigned ")),
    # was read as 3: ROS's as<int> refuses it
    ("  rows: 3\n  cols: 3\n", "  rows: 3.0\n  cols: 3\n",
     "camera_matrix.rows must be an integer, got 3.0" + _YAML_CPP_REFUSES.format("") + ": write 3"),
    ("  rows: 1\n  cols: 5\n", "  rows: 1\n  cols: 5.0\n",
     "distortion_coefficients.cols must be an integer, got 5.0"),
    # PyYAML reads 1_5 as 15 and 'nan' as a string float() takes; yaml-cpp refuses both
    ("[30.0, 0, 15.5", "[30.0, 0, 1_5", "camera_matrix.data must be a list of numbers, got 15 "
     "at index 2, which ROS's camera_calibration_parsers \\(yaml-cpp\\) does not read as a number"),
    ("[0.01, 0", "[nan, 0", "distortion_coefficients.data must be a list of numbers, got 'nan' "
     "at index 0, which ROS"),
])
def test_load_camera_info_yaml_refuses_numbers_ros_yaml_cpp_refuses(tmp_path, old, new, match):
    path = tmp_path / "camera.yaml"
    assert old in CAMERA_YAML
    path.write_text(CAMERA_YAML.replace(old, new, 1))
    with pytest.raises(InputError, match="camera.yaml: " + match):
        load_camera_info_yaml(path)


@pytest.mark.parametrize("typo", ["distortion_coefficents", "distortion_coeffs",
                                  "distorsion_coefficients"])
def test_load_camera_info_yaml_refuses_a_misspelled_distortion_field(tmp_path, typo):
    # a new user's find (and a real calibration file's spelling): 'distortion_coefficents' was
    # skipped without a word, so the camera was read as undistorted and the poses came out wrong
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace("distortion_coefficients:", f"{typo}:"))
    with pytest.raises(InputError, match=rf"camera.yaml: unknown field '{typo}' \(did you mean "
                                         r"'distortion_coefficients'\?\)"):
        load_camera_info_yaml(path)
    # other keys of one's own, and the common 'camera_model' beside no distortion_model, still read
    path.write_text(CAMERA_YAML.replace("distortion_model:", "camera_model:") + "notes: lab\n")
    np.testing.assert_allclose(load_camera_info_yaml(path).dist, [0.01, 0, 0, 0, 0])



@pytest.mark.parametrize("new, words", [
    ("", "missing field 'distortion_coefficients'"),
    # was reported as "missing field" over a file that has the key: it is there, left empty
    ("distortion_coefficients:\n", r"distortion_coefficients is empty \(YAML null"),
    ("distortion_coefficients: null\n", r"distortion_coefficients is empty \(YAML null"),
])
def test_load_camera_info_yaml_refuses_a_file_without_distortion_coefficients(tmp_path, new,
                                                                            words):
    # was read as undistorted without a word; camera_calibration_parsers' readCalibrationYml
    # refuses such a file (it reads distortion_coefficients' rows and cols unconditionally)
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.split("distortion_coefficients:")[0] + new)
    with pytest.raises(InputError, match=rf"camera.yaml: {words}.*for an undistorted camera "
                                         r"write .*rows: 1, cols: 0, data: \[\]"):
        load_camera_info_yaml(path)
    # the two ways to say "no distortion" that ROS reads
    for stated in ("{rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}", "{rows: 1, cols: 0, data: []}"):
        path.write_text(CAMERA_YAML.split("distortion_coefficients:")[0]
                        + f"distortion_coefficients: {stated}\n")
        assert not np.any(load_camera_info_yaml(path).dist)


def test_load_camera_info_yaml_warns_of_a_file_ros_would_refuse_for_r_or_p(tmp_path, caplog):
    # camera_calibration_parsers reads rectification_matrix and projection_matrix
    # unconditionally: a file without them loaded here without a word and failed in
    # camera_info_manager. Not used here, so warned about, not refused.
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        np.testing.assert_allclose(load_camera_info_yaml(path).dist, [0.01, 0, 0, 0, 0])
    [record] = caplog.records
    assert re.search(r"camera.yaml: rectification_matrix and projection_matrix missing or not a "
                     r"\{rows, cols, data\} mapping: not used here, but ROS's "
                     r"camera_calibration_parsers \(camera_info_manager\) refuses such a file; "
                     r".*'rectification_matrix: \{rows: 3, cols: 3, "
                     r"data: \[1, 0, 0, 0, 1, 0, 0, 0, 1\]\}'",
                     record.getMessage()), record.getMessage()
    caplog.clear()
    r = "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
    p = ("projection_matrix: {rows: 3, cols: 4, "
         "data: [30, 0, 15.5, 0, 0, 31, 11.5, 0, 0, 0, 1, 0]}\n")
    for text, named in ((CAMERA_YAML + r, "projection_matrix missing"),
                        (CAMERA_YAML + p + "rectification_matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n",
                         "rectification_matrix missing"), (CAMERA_YAML + r + p, None)):
        path.write_text(text)
        with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
            load_camera_info_yaml(path)
        if named:
            assert len(caplog.records) == 1 and f"camera.yaml: {named} or" in caplog.text
        else:
            assert not caplog.records, caplog.text
        caplog.clear()


@pytest.mark.parametrize("new", ["distortion_model:\n", "distortion_model: null\n"])
def test_load_camera_info_yaml_tells_an_empty_distortion_model(tmp_path, new):
    # was "CameraInfo distortion_model: unsupported distortion model 'None'": a name the user
    # never wrote (ROS's yaml-cpp reads it as the model "null", which image_geometry refuses)
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace("distortion_model: plumb_bob\n", new))
    with pytest.raises(InputError, match=r"camera.yaml: distortion_model is empty \(YAML null: "
                                         r"nothing after 'distortion_model:'\): write plumb_bob, "
                                         r"rational_polynomial or equidistant, or remove the line"):
        load_camera_info_yaml(path)
    path.write_text(CAMERA_YAML.replace("distortion_model: plumb_bob\n", ""))
    assert load_camera_info_yaml(path).distortion_model == "plumb_bob"


@pytest.mark.parametrize("old, new, match", [
    # a flat list was read as the coefficients; ROS's readCalibrationYml reads
    # distortion_coefficients' rows and cols and refuses the file
    ("distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0.01, 0, 0, 0, 0]\n",
     "distortion_coefficients: [0.01, 0, 0, 0, 0]\n",
     r"distortion_coefficients must be a mapping of rows, cols and data, as ROS writes it "
     r"\(distortion_coefficients: \{rows: 1, cols: 5, data: \[k1, k2, p1, p2, k3\]\}\), got a "
     r"list \[0.01, 0, 0, 0, 0\], which ROS's camera_calibration_parsers refuses"),
    ("distortion_coefficients:\n  rows: 1\n  cols: 5\n", "distortion_coefficients:\n",
     r"distortion_coefficients has no rows or cols, which ROS's camera_calibration_parsers "
     r"needs: write a mapping of rows, cols and data"),
    # was "missing field 'camera_matrix.data'" over a matrix that is all there, as a list
    ("camera_matrix:\n  rows: 3\n  cols: 3\n  data: [30.0, 0, 15.5, 0, 31.0, 11.5, 0, 0, 1]\n",
     "camera_matrix: [30.0, 0, 15.5, 0, 31.0, 11.5, 0, 0, 1]\n",
     r"camera_matrix must be a mapping of rows, cols and data, as ROS writes it \(camera_matrix: "
     r"\{rows: 3, cols: 3, data: \[fx, 0, cx, 0, fy, cy, 0, 0, 1\]\}\), got a list"),
])
def test_load_camera_info_yaml_refuses_a_matrix_ros_cannot_read(tmp_path, old, new, match):
    path = tmp_path / "camera.yaml"
    assert old in CAMERA_YAML
    path.write_text(CAMERA_YAML.replace(old, new, 1))
    with pytest.raises(InputError, match="camera.yaml: " + match):
        load_camera_info_yaml(path)


@pytest.mark.parametrize("old, new, match", [
    ("  cols: 5\n", "  cols: 4\n", r"distortion_coefficients says rows 1 x cols 4 = 4 values but "
                                    r"its data holds 5"),
    ("0, 0, 1]", "0, 1]", r"camera_matrix says rows 3 x cols 3 = 9 values but its data holds 8"),
    # quoted numbers, which ROS reads as numbers, were not compared with the data at all
    ("  rows: 1\n  cols: 5\n", '  rows: "1"\n  cols: "4"\n',
     r"distortion_coefficients says rows 1 x cols 4 = 4 values but its data holds 5"),
    ("  rows: 1\n  cols: 5\n", "  rows: 1\n  cols: five\n",
     r"distortion_coefficients.cols must be an integer, got 'five'"),
])
def test_load_camera_info_yaml_refuses_rows_cols_that_contradict_the_data(tmp_path, old, new,
                                                                        match):
    # a new user's find: 'cols: 4' over 5 coefficients read all 5, where ROS's
    # camera_calibration_parsers reads rows x cols of them (4): one file, two cameras
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace(old, new, 1))
    with pytest.raises(InputError, match="camera.yaml: " + match):
        load_camera_info_yaml(path)



@pytest.mark.parametrize("line, found", [("camera_name:\n", r"empty \(YAML null\)"),
                                         ("camera_name: null\n", r"empty \(YAML null\)"),
                                         ("camera_name: [cam]\n", "a list"),
                                         ("camera_name: {id: cam}\n", "a mapping")])
def test_load_camera_info_yaml_refuses_a_camera_name_ros_cannot_read(tmp_path, line, found):
    # parse_yml.cpp reads camera_name with as<std::string> where present, which throws on
    # these: the file loaded here and failed in camera_info_manager
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace("camera_name: cam\n", line))
    with pytest.raises(InputError, match=rf"camera.yaml: camera_name is {found}, which ROS's "
                                         r"camera_calibration_parsers does not read as a name "
                                         r"and refuses the file: write a name"):
        load_camera_info_yaml(path)
    for fine in ('camera_name: ""\n', "camera_name: 42\n", ""):  # ROS reads these (or none)
        path.write_text(CAMERA_YAML.replace("camera_name: cam\n", fine))
        assert load_camera_info_yaml(path).width == 32

_R = "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
_P = "projection_matrix: {rows: 3, cols: 4, data: [30, 0, 15.5, 0, 0, 31, 11.5, 0, 0, 0, 1, 0]}\n"
_NOT_3X = (r"; ROS reads it as a {}x{} matrix \(camera_calibration_parsers only asserts rows {} "
           r"and cols {}: a debug build aborts, a release build reads rows x cols values into "
           r"its {}, leaving zeros or writing past it\): write rows: {}, cols: {} and {} values")


@pytest.mark.parametrize("text, match", [
    # parse_yml.cpp reads K, R and P into 9, 9 and 12 doubles whatever rows and cols say: these
    # were read here (K as 9 values, R and P not at all) and are not what ROS reads
    (CAMERA_YAML.replace("  rows: 3\n  cols: 3\n", "  rows: 1\n  cols: 9\n") + _R + _P,
     "camera_matrix says rows 1 x cols 9" + _NOT_3X.format(3, 3, 3, 3, 9, 3, 3, 9)),
    (CAMERA_YAML + _R + _P.replace("cols: 4, data: [30, 0, 15.5, 0, 0, 31, 11.5, 0, 0, 0, 1, 0]",
                                   "cols: 3, data: [30, 0, 15.5, 0, 31, 11.5, 0, 0, 1]"),
     "projection_matrix says rows 3 x cols 3" + _NOT_3X.format(3, 4, 3, 4, 12, 3, 4, 12)),
    (CAMERA_YAML + _R.replace("0, 0, 1]", "0, 1]") + _P,
     r"rectification_matrix says rows 3 x cols 3 = 9 values but its data holds 8"),
    (CAMERA_YAML + _R + _P.replace("data: [30,", "data: [fx,"),
     r"projection_matrix.data must be a list of numbers, got 'fx' at index 0"),
    (CAMERA_YAML + _R.replace(", data: [1, 0, 0, 0, 1, 0, 0, 0, 1]", "") + _P,
     r"missing field 'rectification_matrix.data'"),
])
def test_load_camera_info_yaml_refuses_k_r_p_of_another_shape_than_ros_reads(tmp_path, text,
                                                                             match):
    path = tmp_path / "camera.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="camera.yaml: " + match):
        load_camera_info_yaml(path)
    path.write_text(CAMERA_YAML + _R + _P)  # the calibrator's layout still reads
    assert load_camera_info_yaml(path).width == 32

# ---- issue 8: every encoding cv_bridge turns into rgb8, one decoding path for files --------------

def _rgb_scene(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth colour picture (demosaicing and 4:2:2 chroma are exact enough on it)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 9.0)
    g = 128 + 100 * np.cos(y / 7.0)
    b = 128 + 80 * np.sin((x + y) / 11.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)


def _mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Bayer raw image of ``pattern`` ('rggb', ...: the 2x2 tile row by row)."""
    out = np.empty(rgb.shape[:2], rgb.dtype)
    channel = {"r": 0, "g": 1, "b": 2}
    for i, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[dy::2, dx::2] = rgb[dy::2, dx::2, channel[pattern[i]]]
    return out


def _yuv422(rgb: np.ndarray, order: str) -> np.ndarray:
    """Packed 4:2:2 (H, W, 2) bytes, 'yuyv' (Y0 U Y1 V) or 'uyvy' (U Y0 V Y1): BT.601 video range
    (Y 16..235), what V4L2 cameras send and OpenCV's YUV2RGB_YUY2/UYVY expect."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = np.round(16 + 0.257 * r + 0.504 * g + 0.098 * b)
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    uu = np.round((u[:, 0::2] + u[:, 1::2]) / 2)
    vv = np.round((v[:, 0::2] + v[:, 1::2]) / 2)
    out = np.empty((rgb.shape[0], rgb.shape[1] * 2), np.uint8)
    if order == "yuyv":
        out[:, 0::4], out[:, 1::4], out[:, 2::4], out[:, 3::4] = y[:, 0::2], uu, y[:, 1::2], vv
    else:
        out[:, 0::4], out[:, 1::4], out[:, 2::4], out[:, 3::4] = uu, y[:, 0::2], vv, y[:, 1::2]
    return out.reshape(rgb.shape[0], rgb.shape[1], 2)


def _interior_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a[2:-2, 2:-2].astype(int) - b[2:-2, 2:-2].astype(int)).mean())


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("bits", [8, 16])
def test_bayer_encodings_demosaic_to_the_right_colours(pattern, bits):
    rgb = _rgb_scene()
    raw = _mosaic(rgb, pattern)
    if bits == 16:
        raw = raw.astype(np.uint16) * 257
    encoding = f"bayer_{pattern}{bits}"
    step, data = _pack(raw, 2, bits == 16)
    decoded = decode_image(encoding, *raw.shape, step, data, is_bigendian=bits == 16)
    out = to_rgb8(decoded, encoding)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert _interior_error(out, rgb) < 4.0
    # a wrong pattern swaps red and blue: the check above can fail
    wrong = {"rggb": "bggr", "bggr": "rggb", "gbrg": "grbg", "grbg": "gbrg"}[pattern]
    assert _interior_error(to_rgb8(decoded, f"bayer_{wrong}{bits}"), rgb) > 20.0


@pytest.mark.parametrize("encoding, order", [("yuv422", "uyvy"), ("yuv422_yuy2", "yuyv"),
                                             ("uyvy", "uyvy"), ("yuyv", "yuyv")])
def test_yuv422_encodings(encoding, order):
    """Packed 4:2:2 under its old names and the fourcc names of sensor_msgs since Iron
    (ros2/common_interfaces#214: "uyvy" is yuv422's byte order, "yuyv" yuv422_yuy2's)."""
    rgb = _rgb_scene()
    packed = _yuv422(rgb, order)
    step, data = _pack(packed, 4, False)
    decoded = decode_image(encoding, rgb.shape[0], rgb.shape[1], step, data)
    assert decoded.shape == (*rgb.shape[:2], 2)
    out = to_rgb8(decoded, encoding)
    assert _interior_error(out, rgb) < 4.0
    other = "yuyv" if order == "uyvy" else "uyvy"
    assert _interior_error(to_rgb8(decoded, other), rgb) > 20.0
    with pytest.raises(InputError, match=f"cannot convert a 3x2 {encoding} image"):
        to_rgb8(np.zeros((2, 3, 2), np.uint8), encoding)


def test_16bit_grey_is_scaled_never_clipped():
    grey = np.array([[0, 257, 32768], [65535, 1000, 4095]], dtype=np.uint16)
    out = to_rgb8(grey, "mono16")
    np.testing.assert_array_equal(out[..., 0], [[0, 1, 128], [255, 4, 16]])
    assert (out[..., 0] == out[..., 2]).all()
    # 51529 * 255 / 65535 = 200.502 -> 201; a 255 / 65536 scale gives 200.499 -> 200
    assert to_rgb8(np.array([[51529]], np.uint16), "mono16")[0, 0, 0] == 201


def test_read_image_file_16bit_grey_png_and_tiff_scaled_like_mono16(tmp_path):
    grey8 = _rgb_scene()[..., 1]
    grey16 = grey8.astype(np.uint16) * 257
    expected = np.repeat(grey8[:, :, None], 3, axis=2)
    for name in ("g16.png", "g16.tif"):
        assert cv2.imwrite(str(tmp_path / name), grey16)
        out = read_image_file(tmp_path / name)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(out, to_rgb8(grey16, "mono16"))


def test_read_image_file_colour_alpha_and_16bit_colour(tmp_path):
    rgb = _rgb_scene()
    cv2.imwrite(str(tmp_path / "c.png"), rgb[:, :, ::-1])
    np.testing.assert_array_equal(read_image_file(tmp_path / "c.png"), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((*rgb.shape[:2], 1), 7, np.uint8)], axis=2)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    np.testing.assert_array_equal(read_image_file(tmp_path / "a.png"), rgb)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb[:, :, ::-1].astype(np.uint16) * 257)
    np.testing.assert_array_equal(read_image_file(tmp_path / "c16.png"), rgb)


def test_read_image_file_errors(tmp_path):
    with pytest.raises(InputError, match="image not found"):
        read_image_file(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read image"):
        read_image_file(tmp_path / "junk.png")
    cv2.imwrite(str(tmp_path / "f.tif"), np.ones((4, 4), np.float32))
    with pytest.raises(InputError, match="only 8- and 16-bit"):
        read_image_file(tmp_path / "f.tif")


def test_png16_gray_pair_case_reads_like_its_8bit_copy(tmp_path):
    from io_cases import make_case_inputs

    d = make_case_inputs("png16-gray-pair", tmp_path)
    for n in (1, 2):
        grey16 = read_image_file(d / f"grey16_img{n}.png")
        reference = cv2.cvtColor(cv2.imread(str(d / f"img{n}.png")), cv2.COLOR_BGR2GRAY)
        np.testing.assert_array_equal(grey16[..., 0], reference)  # x257 scaled back exactly
        assert grey16.mean() < 250  # never a white picture
        grey8 = read_image_file(d / f"grey8_img{n}.jpg")
        assert np.abs(grey16.astype(int) - grey8).mean() < 3.0
        grey12 = read_image_file(d / f"grey12_img{n}.png")
        assert grey12.max() <= 16  # 12-bit data in 16 bits: dark, as cv_bridge shows it


def test_yuv422_bayer_case_bags_decode_like_rgb(tmp_path):
    pytest.importorskip("rosbags")
    from io_cases import make_case_inputs

    from mast3r_ros.replay.rosbag import BagSequence

    d = make_case_inputs("yuv422-bayer-encodings", tmp_path)
    frames = {name: list(BagSequence(d / name)) for name in
              ("usb_cam_yuyv_bag", "usb_cam_uyvy_bag", "bayer_rggb8_bag")}
    assert {len(f) for f in frames.values()} == {6}
    yuyv, uyvy, bayer = (frames[n] for n in
                         ("usb_cam_yuyv_bag", "usb_cam_uyvy_bag", "bayer_rggb8_bag"))
    for a, b, c in zip(yuyv, uyvy, bayer):
        assert a.rgb.shape == (120, 160, 3)
        np.testing.assert_array_equal(a.rgb, b.rgb)  # same pixels, other byte order
        assert _interior_error(a.rgb, c.rgb) < 12.0  # demosaiced Bayer: same picture


# ---- CameraInfo as image_geometry reads it ---------------------------------------------------

class _Roi:
    def __init__(self, x_offset, y_offset, width, height):
        self.x_offset, self.y_offset, self.width, self.height = x_offset, y_offset, width, height


def test_binning_and_roi_applied_like_image_geometry():
    # full calibration 640x480, fx=585 fy=585 cx=320 cy=240
    binned = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", binning_x=2, binning_y=2)
    assert (binned.width, binned.height) == (320, 240)
    np.testing.assert_allclose(binned.K, [[292.5, 0, 160], [0, 292.5, 120], [0, 0, 1]])
    # an odd size bins down, as image_geometry's integer division (the last column is dropped)
    odd = intrinsics_from_camera_info(641, 481, K, [], "plumb_bob", binning_x=2, binning_y=2)
    assert (odd.width, odd.height) == (320, 240)
    roi = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=_Roi(160, 120, 320, 240))
    assert (roi.width, roi.height) == (320, 240)
    np.testing.assert_allclose(roi.K, [[585, 0, 160], [0, 585, 120], [0, 0, 1]])
    # ROI shift first, then binning (image_geometry order); a mapping works too
    both = intrinsics_from_camera_info(
        640, 480, K, [], "plumb_bob", binning_x=2, binning_y=4,
        roi={"x_offset": 100, "y_offset": 40, "width": 400, "height": 400},
    )
    assert (both.width, both.height) == (200, 100)
    np.testing.assert_allclose(both.K, [[292.5, 0, 110], [0, 146.25, 50], [0, 0, 1]])
    # binning 0/1 and an all-zero ROI mean "none"
    same = intrinsics_from_camera_info(640, 480, K, [], "", binning_x=1, roi=_Roi(0, 0, 0, 0))
    assert (same.width, same.height) == (640, 480)
    np.testing.assert_allclose(same.K, np.reshape(K, (3, 3)))
    # a ROI with a zero width or height is no ROI either (documented: the full image)
    for half in (_Roi(0, 0, 320, 0), _Roi(0, 0, 0, 240)):
        full = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=half)
        assert (full.width, full.height) == (640, 480)
        np.testing.assert_allclose(full.K, np.reshape(K, (3, 3)))


@pytest.mark.parametrize("field", ["binning_x", "binning_y"])
@pytest.mark.parametrize("bad", ["a", None, 2.5, -2, True, 2**70, float("nan")])
def test_binning_that_is_not_a_whole_number_names_the_field(field, bad):
    """'a' and None were bare ValueError/TypeError from int(); 2.5 was truncated to 2 and -2
    taken as no binning (CameraInfo's binning is a uint32)."""
    with pytest.raises(InputError, match=f"CameraInfo {field} must be a whole number >= 0"):
        intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", **{field: bad})
    assert intrinsics_from_camera_info(640, 480, K, [], "plumb_bob",
                                       **{field: np.uint32(2)}).K[0, 0] in (292.5, 585.0)


def test_rectified_camera_info_with_a_roi_and_a_text_size_names_the_field():
    """A text width with a ROI was a bare ValueError from int() in the ROI check."""
    from mast3r_ros.core.image_codec import rectified_intrinsics_from_camera_info as rectified

    p = [585.0, 0, 320, 0, 0, 585.0, 240, 0, 0, 0, 1, 0]
    with pytest.raises(InputError, match="CameraInfo width must be a whole number of pixels"):
        rectified("640px", 480, p, None, roi=_Roi(0, 0, 640, 480))
    assert rectified(640, 480, p, None, roi=_Roi(0, 0, 640, 480)).width == 640


def test_roi_outside_the_image_refused():
    with pytest.raises(InputError, match="CameraInfo roi: 320x240 at \\(400, 0\\)"):
        intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=_Roi(400, 0, 320, 240))
    with pytest.raises(InputError, match="CameraInfo roi: 320x240 at \\(0, 300\\)"):  # too low
        intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=_Roi(0, 300, 320, 240))
    with pytest.raises(InputError, match="roi must have"):
        intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=object())


@pytest.mark.parametrize("model, counts", [
    ("plumb_bob", (0, 4, 5)), ("rational_polynomial", (0, 8, 12, 14)), ("equidistant", (0, 4)),
])
def test_distortion_models_and_counts_drivers_publish(model, counts):
    from mast3r_ros.core.geometry import undistort_pixels

    for n in counts:
        intr = intrinsics_from_camera_info(640, 480, K, [0.01] * n, model)
        assert intr.distortion_model == model and intr.dist.size == n
        px = np.array([[10.0, 20.0], [600.0, 400.0]])
        out = undistort_pixels(px, intr.K, intr.dist, intr.distortion_model)
        assert out.shape == (2, 2) and np.isfinite(out).all()
    with pytest.raises(InputError, match=f"CameraInfo D: {model} expects"):
        intrinsics_from_camera_info(640, 480, K, [0.01] * 3, model)


def test_equidistant_undistorted_through_fisheye_model():
    from mast3r_ros.core.geometry import undistort_pixels

    Km = np.reshape(K, (3, 3))
    d = np.array([0.1, -0.05, 0.01, -0.002])
    pts = np.array([[[0.3, -0.2, 1.0]], [[-0.5, 0.4, 1.0]]])
    fish, _ = cv2.fisheye.projectPoints(pts, np.zeros(3), np.zeros(3), Km, d)
    ideal = (Km @ pts.reshape(-1, 3).T).T
    ideal = ideal[:, :2] / ideal[:, 2:]
    out = undistort_pixels(fish.reshape(-1, 2), Km, d, "equidistant")
    np.testing.assert_allclose(out, ideal, atol=1e-3)
    wrong = undistort_pixels(fish.reshape(-1, 2), Km, d, "plumb_bob")
    assert np.abs(wrong - ideal).max() > 1.0


def test_camera_info_d_none_is_no_distortion():
    """D None was one NaN ("plumb_bob expects (0, 4, 5) distortion coefficients, got 1"); it is
    no distortion, as an empty D and as CameraIntrinsics' dist=None (OpenCV's distCoeffs=None)."""
    for model in ("plumb_bob", ""):
        intr = intrinsics_from_camera_info(640, 480, K, None, model)
        assert intr.distortion_model == "plumb_bob" and intr.dist.size == 0
        assert not intr.has_distortion


def test_unsupported_model_names_the_field():
    with pytest.raises(InputError, match="CameraInfo distortion_model: unsupported .*'kannala'"):
        intrinsics_from_camera_info(640, 480, K, [0.1] * 4, "kannala")


def test_camera_info_yaml_with_binning_and_roi(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text(CAMERA_YAML + "binning_x: 2\nbinning_y: 2\n")
    intr = load_camera_info_yaml(path)
    assert (intr.width, intr.height) == (16, 12)
    np.testing.assert_allclose(intr.K, [[15, 0, 7.75], [0, 15.5, 5.75], [0, 0, 1]])
    path.write_text(CAMERA_YAML + "roi: {x_offset: 8, y_offset: 4, width: 16, height: 12}\n")
    intr = load_camera_info_yaml(path)
    assert (intr.width, intr.height) == (16, 12)
    np.testing.assert_allclose(intr.K[:2, 2], [7.5, 7.5])
    path.write_text(CAMERA_YAML.replace("plumb_bob", "equidistant").replace(
        "cols: 5\n  data: [0.01, 0, 0, 0, 0]", "cols: 4\n  data: [0.01, 0, 0, 0]"))
    assert load_camera_info_yaml(path).distortion_model == "equidistant"
    # binning_x and binning_y are read each from its own key
    path.write_text(CAMERA_YAML + "binning_x: 2\nbinning_y: 1\n")
    intr = load_camera_info_yaml(path)
    assert (intr.width, intr.height) == (16, 24)
    np.testing.assert_allclose(intr.K, [[15, 0, 7.75], [0, 31, 11.5], [0, 0, 1]])
    # no distortion_model: plumb_bob, as camera_calibration_parsers reads it
    path.write_text(CAMERA_YAML.replace("distortion_model: plumb_bob\n", ""))
    intr = load_camera_info_yaml(path)
    assert intr.distortion_model == "plumb_bob" and intr.dist[0] == 0.01


@pytest.mark.parametrize("line", ['binning_x: ""\n', "binning_x:\n", "binning_x: null\n"])
def test_camera_info_yaml_with_an_empty_binning_is_unbinned_and_said(tmp_path, caplog, line):
    # camera_calibration_parsers never reads binning_x: ROS loads the file and publishes no
    # binning from it, so it is read as no binning here too, but no longer without a word
    path = tmp_path / "cam.yaml"
    path.write_text(CAMERA_YAML + line + "binning_y: 2\n")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        intr = load_camera_info_yaml(path)
    assert (intr.width, intr.height) == (32, 12)
    assert re.search(r"cam.yaml: binning_x is empty \((''|None)\): read as no binning, as ROS's "
                     r"camera_calibration_parsers \(which does not read binning_x\) would; write "
                     r"the factor", caplog.text), caplog.text


@pytest.mark.parametrize("value, shown", [("false", "False"), ("[]", r"\[\]"), ("{}", r"\{\}")])
def test_camera_info_yaml_refuses_a_binning_that_is_not_a_number(tmp_path, value, shown):
    # false, [] and {} were read as 0 (no binning), where true was refused
    path = tmp_path / "cam.yaml"
    path.write_text(CAMERA_YAML + f"binning_y: {value}\n")
    with pytest.raises(InputError, match=rf"cam.yaml: binning_y must be an integer \(0 or 1: no "
                                         rf"binning\), got {shown}$"):
        load_camera_info_yaml(path)

def test_camerainfo_binning_roi_case_bags(tmp_path):
    pytest.importorskip("rosbags")
    from io_cases import make_case_inputs

    from mast3r_ros.replay.rosbag import BagSequence
    from mast3r_ros.replay.synthetic import default_intrinsics

    d = make_case_inputs("camerainfo-binning-roi", tmp_path)
    for name in ("binned_bag", "roi_bag"):
        seq = BagSequence(d / name, depth_topic="/camera/aligned_depth_to_color/image_raw",
                          pose_frames="map:camera_optical")
        frame = next(iter(seq))  # before: "image is 320x240 but its intrinsics are for 640x480"
        assert frame.rgb.shape == (240, 320, 3)
        intr = frame.intrinsics
        assert (intr.width, intr.height) == (320, 240)
        assert frame.depth_m is not None and frame.map_from_cam is not None
        # the case renders its 320x240 images with default_intrinsics(320, 240): the K derived
        # from the 640x480 CameraInfo must be that camera (binning: to image_geometry's
        # cx / 2, which differs from the pixel-centre rescale by 0.25 px)
        np.testing.assert_allclose(intr.K, default_intrinsics(320, 240).K, atol=0.26)


def test_twelve_bit_pngs_of_one_folder_are_warned_about_once(tmp_path, caplog):
    """A TUM folder of 12-bit-in-16-bit PNGs: one warning for the folder, not one per frame."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((4, 6), 1000 + i, np.uint16))
    cv2.imwrite(str(tmp_path / "full.tif"), np.full((4, 6), 60000, np.uint16))
    with caplog.at_level("WARNING", logger="mast3r_ros.core.image_codec"):
        for i in range(3):
            assert read_image_file(tmp_path / f"{i}.png").max() <= 16
        read_image_file(tmp_path / "full.tif")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and warned[0].startswith(f"{tmp_path}{os.sep}*.png: "), warned
    assert "10/12-bit" in warned[0] and "rescale the files" in warned[0]


def test_low_bit_depth_warning_thresholds_are_4096_and_16384(caplog):
    """4095 fits in 12 bits (warned: scaled to at most 16/255); 16383 in 14 (warned: at most
    64/255; 13/14-bit data was not, and matched as poorly as 12-bit); 16384 needs 15 bits (not).
    ``max_bits=12`` keeps the 12-bit limit (16UC1: depth in mm has its own warning)."""
    with caplog.at_level("WARNING", logger="mast3r_ros.core.image_codec"):
        assert warn_low_bit_depth(np.array([[0, 4095]], np.uint16), "threshold-12bit", "fix")
        assert warn_low_bit_depth(np.array([[0, 4096]], np.uint16), "threshold-13bit", "fix")
        assert warn_low_bit_depth(np.array([[0, 16383]], np.uint16), "threshold-14bit", "fix")
        assert not warn_low_bit_depth(np.array([[0, 16384]], np.uint16), "threshold-15bit",
                                      "fix")
        assert not warn_low_bit_depth(np.array([[0, 9000]], np.uint16), "depth-mm", "fix",
                                      max_bits=12)
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in said] == ["threshold-12bit", "threshold-13bit",
                                               "threshold-14bit"]
    assert "below 4096 (10/12-bit sensor data?)" in said[0] and "at most 16/255" in said[0]
    for m in said[1:]:
        assert "below 16384 (13/14-bit sensor data?)" in m and "at most 64/255" in m, m


def test_a_14_bit_grey_png_is_warned_about_like_a_12_bit_one(tmp_path, caplog):
    """A 14-bit thermal or mono sensor's PNG (values < 16384 in 16 bits, the png16-gray-pair
    case's grey8 * 64): `pair` gave 6 matches against 108 for the 8-bit copy, without a word."""
    path = tmp_path / "thermal14.png"
    cv2.imwrite(str(path), (np.arange(64 * 48).reshape(48, 64) % 256).astype(np.uint16) * 64)
    with caplog.at_level("WARNING", logger="mast3r_ros.core.image_codec"):
        rgb = read_image_file(path, one_file=True)
    assert rgb.max() <= 64
    (said,) = [r.getMessage() for r in caplog.records]
    assert said.startswith(f"{path}: 16-bit pixel values that all stay below 16384 (13/14-bit")
    assert "rescale the file to the full 16-bit range" in said


def test_arguments_of_the_wrong_kind_are_input_errors():
    # each was an AttributeError / TypeError from inside numpy
    with pytest.raises(InputError, match="image height must be an int, got 2.0"):
        decode_image("rgb8", 2.0, 3, 9, bytes(18))
    assert decode_image("rgb8", np.uint32(2), 3, 9, bytes(18)).shape == (2, 3, 3)
    with pytest.raises(InputError, match="mono8 image must be a numpy array, got list"):
        to_rgb8([[0]], "mono8")
    with pytest.raises(InputError, match="16UC1 image must be a numpy array, got list"):
        depth_to_metres([[1000]], "16UC1")
    with pytest.raises(InputError, match="depth_scale must be a positive number"):
        depth_to_metres(np.ones((2, 2), np.uint16), "16UC1", "5000")
    with pytest.raises(InputError, match="format must be a string"):
        decode_compressed(None, b"abc")


def test_a_depth_scale_from_numpy_is_a_number():
    """A 0-d array (np.load of a calibration file) was a depth scale before the type check, which
    refused it with "must be a positive number ..., got 5000.0"; numpy scalars too."""
    raw = np.full((2, 2), 5000, np.uint16)
    for scale in (np.array(5000.0), np.array(5000), np.float32(5000), np.int64(5000), 5000):
        np.testing.assert_allclose(depth_to_metres(raw, "16UC1", scale), 1.0)
    for bad in (np.array(True), np.array("5000"), np.array([5000.0])):
        with pytest.raises(InputError, match="depth_scale must be a positive number"):
            depth_to_metres(raw, "16UC1", bad)


@pytest.mark.parametrize("value,words", [
    ([[1]], ("(H, W, 3) uint8", "list")),                 # AttributeError: no .ndim before
    (None, ("(H, W, 3) uint8", "NoneType")),
    (np.zeros((4, 5, 3), np.float32), ("(H, W, 3) uint8", "float32")),
])
def test_encode_image_refuses_what_is_not_an_rgb8_array_with_an_input_error(value, words):
    with pytest.raises(InputError) as err:
        encode_image(value)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_an_empty_image_file_is_said_to_be_empty(tmp_path):
    """A zero-byte JPEG was 'truncated or corrupt, or not an image format OpenCV decodes' (a
    fresh user's find): it is empty, which says what happened (a copy that never ran)."""
    from mast3r_ros.core.image_codec import read_image_file

    empty = tmp_path / "0.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"^cannot read image .*0\.jpg: the file is empty "
                                         r"\(0 bytes\)$"):
        read_image_file(empty)


def test_a_checkpoint_given_as_an_image_is_named(tmp_path):
    """`mast3r-ros pair a.png model.pth --checkpoint b.png` (the arguments swapped, the new
    user) said 'cannot read image model.pth: truncated or corrupt, or not an image format
    OpenCV decodes': it is named as the checkpoint it is, with --checkpoint to pass it as."""
    import torch

    from mast3r_ros.core.image_codec import read_image_file

    ckpt = tmp_path / "model.pth"
    torch.save({"model": {"w": torch.zeros(2)}}, ckpt)
    with pytest.raises(InputError, match=r"^cannot read image .*model\.pth: it is a PyTorch "
                                         r"checkpoint \(torch\.save\), not an image: a model "
                                         r"file given where an image goes \(arguments "
                                         r"swapped\?\); give it as --checkpoint"):
        read_image_file(ckpt)
    other = tmp_path / "notes.zip"  # a zip that is no checkpoint: the general words
    import zipfile

    with zipfile.ZipFile(other, "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(InputError, match="not an image format OpenCV decodes"):
        read_image_file(other)


def test_an_empty_camera_info_yaml_is_said_to_be_empty(tmp_path):
    """A fresh user's finding: an empty --camera-info file said 'expected a camera_info
    mapping, got NoneType'."""
    for text in ("", "# nothing yet\n"):
        path = tmp_path / "cam.yaml"
        path.write_text(text)
        with pytest.raises(InputError) as e:
            load_camera_info_yaml(path)
        assert str(e.value) == (f"camera_info YAML {path} is empty: give a camera_calibration "
                                "YAML (image_width, image_height, camera_matrix)")


def _rvl_nibbles(value: int) -> list:
    """One RVL value's nibbles: 3-bit groups, lowest first, the top bit set on all but the last."""
    out = []
    while True:
        low, value = value & 7, value >> 3
        out.append((8 if value else 0) | low)
        if not value:
            return out


def _rvl_words(nibbles: list) -> bytes:
    """Nibbles -> RVL stream: eight to a little-endian 32-bit word, the first in its high bits,
    the last word padded with zero nibbles."""
    nibbles = list(nibbles) + [0] * (-len(nibbles) % 8)
    return b"".join(struct.pack("<I", int("".join(f"{n:04b}" for n in nibbles[i:i + 8]), 2))
                    for i in range(0, len(nibbles), 8))


def _rvl_encode(depth: np.ndarray) -> bytes:
    """An RVL encoder written here from Wilson 2017's description, independent of the decoder:
    runs of zeros and non-zeros, each non-zero pixel as its zig-zag mapped difference to the
    previous non-zero one, every value in 3-bit groups (lowest first) with a 'more follows' bit,
    eight such nibbles to a little-endian 32-bit word, the first nibble in its high bits."""
    nibbles = []
    flat, previous, i = [int(v) for v in depth.reshape(-1)], 0, 0
    while i < len(flat):
        j = i
        while j < len(flat) and flat[j] == 0:
            j += 1
        k = j
        while k < len(flat) and flat[k] != 0:
            k += 1
        nibbles += _rvl_nibbles(j - i) + _rvl_nibbles(k - j)
        for value in flat[j:k]:
            nibbles += _rvl_nibbles(2 * (value - previous) if value >= previous
                                    else 2 * (previous - value) - 1)
            previous = value
        i = k
    return _rvl_words(nibbles)


def _rvl_message(depth: np.ndarray, a: float = 0.0, b: float = 0.0) -> bytes:
    """compressed_depth's rvl layout: its 12-byte header, width and height as uint32, RVL."""
    height, width = depth.shape
    return struct.pack("<iffII", 0, a, b, width, height) + _rvl_encode(depth)


@pytest.mark.parametrize("case", ["holes", "starts and ends non-zero", "all zero", "extremes"])
def test_decode_compressed_depth_rvl_round_trips(case):
    """'16UC1; compressedDepth rvl' (image_transport's compressed_depth, rvl format) decodes to
    the depth an independent encoder was given: zero runs, a difference chain carried across
    them, jumps 0 -> 65535 -> 1, and an image that ends in zeros or in depth."""
    rng = np.random.default_rng(3)
    depth = rng.integers(400, 4000, (37, 53)).astype(np.uint16)
    if case == "holes":
        depth[rng.random(depth.shape) < 0.3] = 0
        depth[5:9] = 0
        depth[-1, -7:] = 0
    elif case == "all zero":
        depth[:] = 0
    elif case == "extremes":
        depth[0, :4] = [65535, 1, 65535, 0]
        depth[-1, -1] = 65535
    out, encoding = decode_compressed("16UC1; compressedDepth rvl", _rvl_message(depth))
    assert (encoding, out.dtype, out.shape) == ("16UC1", np.uint16, depth.shape)
    np.testing.assert_array_equal(out, depth)


def test_decode_compressed_depth_rvl_32fc1_is_quantized_inverse_depth():
    """32FC1 in rvl is the PNG format's quantized inverse depth: depth = a / (v - b), 0 invalid."""
    a, b = 2.5, -10.0
    inverse = np.array([[0, 100, 101], [1000, 40, 0]], dtype=np.uint16)
    out, encoding = decode_compressed("32FC1; compressedDepth rvl", _rvl_message(inverse, a, b))
    assert encoding == "32FC1" and out.dtype == np.float32
    expected = np.where(inverse == 0, np.nan, a / (inverse.astype(np.float64) - b))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_decode_compressed_depth_rvl_damage_is_named():
    """A cut-short stream, a header size the stream does not fill, or no size at all is one
    InputError naming the format, not zeros or an IndexError."""
    depth = np.arange(1, 401, dtype=np.uint16).reshape(20, 20)
    data = _rvl_message(depth)
    fmt = "16UC1; compressedDepth rvl"
    with pytest.raises(InputError, match=r"compressedDepth rvl.*ends after \d+ of 20x20"):
        decode_compressed(fmt, data[:-40])
    with pytest.raises(InputError, match="not whole 32-bit words"):
        decode_compressed(fmt, data[:-1])
    bigger = struct.pack("<iffII", 0, 0, 0, 20, 21) + data[20:]
    with pytest.raises(InputError, match="compressedDepth rvl.*20x21"):
        decode_compressed(fmt, bigger)
    with pytest.raises(InputError, match="implausible size 0x20"):
        decode_compressed(fmt, struct.pack("<iffII", 0, 0, 0, 0, 20) + data[20:])
    with pytest.raises(InputError, match="malformed compressedDepth message.*width and height"):
        decode_compressed(fmt, data[:16])


def test_decode_compressed_depth_rvl_cut_anywhere_is_one_input_error():
    """A message cut at any byte (a recording stopped mid-write, a damaged bag) is one
    InputError naming the format and what is wrong: a cut inside a 32-bit word says so, a cut
    between words (or right after the size, no stream at all) says the stream ends before
    the image is full; never an IndexError from the run loop nor zeros for the missing depth."""
    depth = np.arange(1, 401, dtype=np.uint16).reshape(20, 20)
    depth.reshape(-1)[::4] = 0  # runs of 5 nibbles: some cut falls between a run's counts
    data = _rvl_message(depth)
    fmt = "16UC1; compressedDepth rvl"
    for cut in range(20, len(data)):
        with pytest.raises(InputError) as e:
            decode_compressed(fmt, data[:cut])
        want = ("not whole 32-bit words" if (cut - 20) % 4
                else "compressedDepth rvl'?: RVL stream ends after")
        assert re.search(want, str(e.value)), (cut, str(e.value))


def test_decode_compressed_depth_rvl_header_smaller_than_its_stream_is_named():
    """A header size smaller than the stream's pixels (another image's header, a corrupt one)
    is refused as runs that overrun the image, not an IndexError while the pixels are placed."""
    depth = np.arange(1, 401, dtype=np.uint16).reshape(20, 20)
    smaller = struct.pack("<iffII", 0, 0, 0, 20, 19) + _rvl_message(depth)[20:]
    with pytest.raises(InputError, match=r"compressedDepth rvl'?: RVL runs overrun the 20x19 "
                       "image at pixel 0"):
        decode_compressed("16UC1; compressedDepth rvl", smaller)


def test_decode_compressed_depth_rvl_runaway_value_is_called_corrupt():
    """A value of more nibbles than any uint16 image needs (corrupt bytes with their 'more
    follows' bits set) is called a corrupt stream: read on, its bits shifted past 64 made a
    negative pixel count ('ends after -9223372036854775805 of 4x4 pixels')."""
    nibbles = [8] * 21 + [7] + [1, 2, 2]  # a 22-nibble first value, then plausible ones
    nibbles += [0] * (-len(nibbles) % 8)
    stream = b"".join(struct.pack("<I", int("".join(f"{n:04b}" for n in nibbles[i:i + 8]), 2))
                      for i in range(0, len(nibbles), 8))
    with pytest.raises(InputError, match=r"compressedDepth rvl'?: corrupt RVL stream: a value "
                       r"of 22 nibbles \(at most 11\)"):
        decode_compressed("16UC1; compressedDepth rvl",
                          struct.pack("<iffII", 0, 0, 0, 4, 4) + stream)


def test_a_compressed_depth_message_cut_inside_its_header_says_so():
    """10 bytes of an rvl message read 'format '16UC1; compressedDepth rvl', 10 bytes (expected
    '16UC1; compressedDepth png' or '32FC1; compressedDepth png', or rvl)': its format is one
    of those, it is the message that is cut short. A format of another encoding still names
    the formats there are."""
    data = _rvl_message(np.arange(1, 401, dtype=np.uint16).reshape(20, 20))
    for fmt in ("16UC1; compressedDepth rvl", "32FC1; compressedDepth png"):
        with pytest.raises(InputError) as err:
            decode_compressed(fmt, data[:10])
        assert str(err.value) == (f"malformed compressedDepth message: format {fmt!r}, 10 "
                                  "bytes, cut short inside its 12-byte header")
    with pytest.raises(InputError) as err:
        decode_compressed("8UC1; compressedDepth rvl", data)
    assert str(err.value) == (
        f"malformed compressedDepth message: format '8UC1; compressedDepth rvl', {len(data)} "
        "bytes (expected a 16UC1 or 32FC1 format: '16UC1; compressedDepth png', '32FC1; "
        "compressedDepth png', or the same with rvl)")


@pytest.mark.parametrize("a, b", [(0.0, -10.0), (-2.5, -10.0), (2.5, 5.0), (float("nan"), -10.0),
                                  (2.5, float("inf")), (2.5, 1.0), (float("inf"), -10.0),
                                  (2.5, float("-inf"))])
@pytest.mark.parametrize("kind", ["png", "rvl"])
def test_a_32fc1_compressed_depth_header_no_plugin_writes_is_refused(a, b, kind):
    """a = 0 decoded every valid pixel as 0 m without a word; b >= 1 gives a value v = b an
    infinite depth and v < b a negative one (b = 1 exactly: v = 1 infinite); a = inf makes
    every depth infinite, b = -inf every one 0 m. The plugin writes a = q(q+1) > 0, b = 1 -
    a/max."""
    inverse = np.array([[0, 100], [1000, 40]], dtype=np.uint16)
    if kind == "png":
        data = struct.pack("<iff", 0, a, b) + cv2.imencode(".png", inverse)[1].tobytes()
    else:
        data = _rvl_message(inverse, a, b)
    with pytest.raises(InputError, match=r"compressedDepth message \(format '32FC1; "
                       r"compressedDepth .*'\): its header's inverse-depth quantization a="):
        decode_compressed(f"32FC1; compressedDepth {kind}", data)


def _rvl_decode_reference(data: bytes, width: int, height: int) -> np.ndarray:
    """A straightforward RVL decoder written here from Wilson 2017's description, a nibble and
    a pixel at a time, independent of `decode_rvl`, refusing (ValueError) what it must refuse:
    a size of zero, a stream not of whole 32-bit words, a value of more than 11 nibbles anywhere
    in it, a stream that ends before the image is full (a value cut short at the end is none),
    runs past the image's end, nibbles after the image's last value beyond its final word's
    zero padding, a difference chain leaving 0..65535 (image_transport's encoder writes
    neither; its DecompressRVL would ignore the one and wrap the other). The ValueError's
    message is a pattern `decode_rvl`'s message must match: how many pixels the
    stream held, the pixel its runs overran the image at."""
    if width <= 0 or height <= 0:
        raise ValueError("RVL depth of implausible size")
    if len(data) % 4:
        raise ValueError("RVL stream of .* is not whole 32-bit words")
    values, value, count, ends, nibbles = [], 0, 0, [], []
    for (word,) in struct.iter_unpack("<I", data):
        for shift in range(28, -1, -4):
            nibble = (word >> shift) & 0xF
            nibbles.append(nibble)
            value |= (nibble & 7) << (3 * count)
            count += 1
            if not nibble & 8:
                if count > 11:
                    raise ValueError(r"corrupt RVL stream: a value of \d+ nibbles")
                values.append(value)
                ends.append(len(nibbles) - 1)
                value, count = 0, 0
    size = width * height
    out = [0] * size
    at = pixel = previous = 0
    while pixel < size:
        if at + 2 > len(values):
            raise ValueError(f"RVL stream ends after {pixel} of {width}x{height} ")
        zeros, nonzeros = values[at:at + 2]
        at += 2
        pixel += zeros
        if pixel + nonzeros > size:
            raise ValueError(f"RVL runs overrun the {width}x{height} image at pixel {pixel}:")
        for _ in range(nonzeros):
            if at == len(values):
                raise ValueError(f"RVL stream ends after {pixel} of {width}x{height} ")
            positive = values[at]
            at += 1
            previous += (positive >> 1) ^ -(positive & 1)
            out[pixel] = previous
            pixel += 1
    tail = nibbles[ends[at - 1] + 1:]
    if len(tail) >= 8 or any(tail):
        raise ValueError(f"RVL stream runs on after the {width}x{height} image is full")
    for pixel, depth in enumerate(out):
        if not 0 <= depth <= 0xFFFF:
            raise ValueError(rf"corrupt RVL stream: the depth of pixel {pixel} \(row "
                             rf"{pixel // width}, column {pixel % width}\) decodes to {depth},")
    return np.array(out, np.uint16).reshape(height, width)


def _rvl_stream_message(stream: bytes, width: int, height: int) -> bytes:
    return struct.pack("<iffII", 0, 0, 0, width, height) + stream


def _rvl_fuzz(count: int, seed: int = 5):
    """``count`` damaged or made-up RVL streams (stream, width, height): encoded images with
    bytes flipped, cut, words inserted or appended, another size in the header; random bytes;
    random values (runs of random lengths, differences of any size); made-up runs that fill the
    image, of depths in range, one difference in half of them replaced by a random one."""
    rng = np.random.default_rng(seed)
    images = []
    for h, w, holes in ((3, 4, 0.0), (7, 9, 0.3), (12, 10, 0.6), (16, 21, 0.2), (5, 5, 1.0)):
        depth = rng.integers(1, 65536 if h == 3 else 5000, (h, w)).astype(np.uint16)
        depth[rng.random(depth.shape) < holes] = 0
        images.append((depth, _rvl_encode(depth)))
    for i in range(count):
        depth, stream = images[i % len(images)]
        h, w = depth.shape
        raw = bytearray(stream)
        kind = i % 9
        if kind == 0:
            for _ in range(int(rng.integers(1, 4))):
                raw[int(rng.integers(len(raw)))] ^= int(rng.integers(1, 256))
        elif kind == 1:
            raw = raw[:int(rng.integers(0, len(raw)))]
        elif kind == 2:
            at = 4 * int(rng.integers(0, len(raw) // 4 + 1))
            raw[at:at] = rng.integers(0, 256, 4 * int(rng.integers(1, 3)), np.uint8).tobytes()
        elif kind == 3:
            h, w = int(rng.integers(0, h + 3)), int(rng.integers(0, w + 3))
        elif kind == 4:
            raw += rng.integers(0, 256, 4 * int(rng.integers(1, 4)), np.uint8).tobytes()
        elif kind == 5:
            raw = bytearray(rng.integers(0, 256, int(rng.integers(0, 90)), np.uint8).tobytes())
        elif kind == 6:
            nibbles = []
            for _ in range(int(rng.integers(1, 12))):
                zeros, nonzeros = (int(v) for v in rng.integers(0, 2 * w, 2))
                nibbles += _rvl_nibbles(zeros) + _rvl_nibbles(nonzeros)
                for _ in range(nonzeros + int(rng.integers(-1, 2))):
                    nibbles += _rvl_nibbles(int(rng.integers(0, 1 << int(rng.integers(1, 33)))))
            raw = bytearray(_rvl_words(nibbles))
        else:  # made-up runs that fill the image exactly, of depths in 1..65535; in half of
            # them one difference replaced by a random one, which may leave 0..65535 (refused)
            values, left, previous = [], h * w, 0
            while left:
                for _ in range(2):  # zeros, then non-zeros
                    run = int(rng.integers(0, min(left, 2 * w) + 1))
                    values.append(run)
                    left -= run
                for depth in rng.integers(1, 1 << int(rng.integers(1, 17)), run):
                    delta, previous = int(depth) - previous, int(depth)
                    values.append(2 * delta if delta >= 0 else -2 * delta - 1)
            if rng.random() < 0.5 and len(values) > 2:
                values[int(rng.integers(2, len(values)))] = int(rng.integers(0, 1 << 18))
            nibbles = [n for v in values for n in _rvl_nibbles(v)]
            raw = bytearray(_rvl_words(nibbles))
        yield bytes(raw), w, h


def test_decode_rvl_agrees_with_a_reference_decoder_on_damaged_streams():
    """Thousands of damaged or made-up streams: each either decoded to what a straightforward
    nibble-and-pixel-at-a-time decoder gives, or refused by both, with one InputError naming
    the format and what the reference found (how many pixels the stream held, where its runs
    overran the image), not an IndexError, an overflow, or zeros. The array-wide decoder walks
    the run headers apart from the values; this holds it to the sequential reading."""
    fmt = "16UC1; compressedDepth rvl"
    decoded = 0
    for stream, width, height in _rvl_fuzz(4000):
        try:
            expected, refusal = _rvl_decode_reference(stream, width, height), None
        except ValueError as err:
            expected, refusal = None, str(err)
        message = _rvl_stream_message(stream, width, height)
        if expected is None:
            with pytest.raises(InputError, match=r"^compressedDepth format '16UC1; "
                               r"compressedDepth rvl': " + refusal):
                decode_compressed(fmt, message)
        else:
            out, _ = decode_compressed(fmt, message)
            np.testing.assert_array_equal(out, expected, err_msg=f"{stream.hex()} {width}x{height}")
            decoded += 1
    assert 400 < decoded < 3600, decoded  # both outcomes well represented


@pytest.mark.parametrize("holes", [0.0, 0.3, "alternating"])
def test_decode_rvl_round_trips_a_real_depth_frame(holes):
    """A 7-Scenes depth frame (640x480, a few % holes), with 30 % of its pixels zeroed, and
    with every other one zeroed (a run every 2 pixels), decodes to itself."""
    from mast3r_test_utils import shared_dir

    pngs = sorted((shared_dir() / "data").glob("*/depth/*.png"))
    if not pngs:
        pytest.skip(f"no depth PNGs under {shared_dir() / 'data'}")
    depth = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and (depth == 0).any()
    if holes == "alternating":
        flat = depth.reshape(-1)
        flat[0::2] = 0
        flat[1::2] = np.maximum(flat[1::2], 1)
    elif holes:
        depth[np.random.default_rng(0).random(depth.shape) < holes] = 0
    message = _rvl_stream_message(_rvl_encode(depth), depth.shape[1], depth.shape[0])
    out, _ = decode_compressed("16UC1; compressedDepth rvl", message)
    np.testing.assert_array_equal(out, depth)


def _rvl_values(*values: int) -> bytes:
    return _rvl_words([n for v in values for n in _rvl_nibbles(v)])


@pytest.mark.parametrize("stream, size, match", [
    # a 2x2 image of 4 non-zero pixels, its last 2 values cut short mid-code: their nibbles
    # all say 'more follows' to the end of the stream
    (_rvl_words([0, 4, 2, 2, 0x9, 0x8, 0x8, 0x8]), (2, 2),
     r"RVL stream ends after 2 of 2x2 = 4 pixels \(cut short or not RVL\)"),
    (_rvl_values(0, 5, 2, 2, 2, 2, 2), (2, 2), "RVL runs overrun the 2x2 image at pixel 0"),
    (_rvl_values(5, 0), (2, 2), "RVL runs overrun the 2x2 image at pixel 5"),  # zeros past it
    (_rvl_values(1, 2, 2, 2, 1 << 32, 1), (2, 2), "RVL runs overrun the 2x2 image at pixel "
     r"4294967299"),  # a count of 2**32 zeros: exact, not wrapped
    (_rvl_values(0, 4, 2, 2, 2, 2), (2, 3), "RVL stream ends after 4 of 2x3"),  # too few pixels
    (_rvl_values(0, 4, 2, 2, 2, 2), (1, 2), "RVL runs overrun the 1x2 image at pixel 0"),
    # a value short, in a whole word (padding nibbles would read as values 0)
    (_rvl_values(0, 7, 2, 2, 2, 2, 2, 2), (7, 1), "RVL stream ends after 6 of 7x1"),
    (_rvl_values(0, 7, 2, 2, 2, 2, 2, 2), (10, 1), "RVL stream ends after 6 of 10x1"),
    (_rvl_words([0, 1] + [0x8] * 11 + [1]), (1, 1),
     r"corrupt RVL stream: a value of 12 nibbles \(at most 11\)"),
    (_rvl_values(0, 1, 2) + _rvl_words([0x8] * 11 + [1]), (1, 1),  # even past the full image
     r"corrupt RVL stream: a value of 12 nibbles \(at most 11\)"),
    (b"", (1, 1), "RVL stream ends after 0 of 1x1"),
])
def test_decode_rvl_refuses_a_damaged_stream_naming_the_format(stream, size, match):
    """A stream ending mid-code, runs past the image's end, too few or too many pixels for the
    header's size, a value of more nibbles than any count or difference needs: one InputError
    naming the format and what is wrong, as the run-by-run decoder said it."""
    width, height = size
    with pytest.raises(InputError, match=r"^compressedDepth format '16UC1; compressedDepth "
                                         r"rvl': " + match):
        decode_compressed("16UC1; compressedDepth rvl", _rvl_stream_message(stream, *size))
    with pytest.raises(ValueError):
        _rvl_decode_reference(stream, width, height)


def test_decode_rvl_refuses_what_the_image_transport_decoder_would_wrap_or_ignore():
    """Values past the full image (beyond the final word's zero padding), and a difference
    chain that leaves 0..65535, which image_transport's DecompressRVL ignores and wraps modulo
    2**16 (an int stored in a uint16), were kept so here too; no encoder writes either, so both
    are refused now (stop 40's "known, not fixed"), as the reference decoder refuses them."""
    zigzag = lambda d: 2 * d if d >= 0 else -2 * d - 1  # noqa: E731
    fmt = "16UC1; compressedDepth rvl"
    wraps = _rvl_values(0, 3, zigzag(65535), zigzag(1), zigzag(-65537))
    with pytest.raises(InputError, match=r"the depth of pixel 1 \(row 0, column 1\) decodes to "
                                         r"65536, outside uint16"):
        decode_compressed(fmt, _rvl_stream_message(wraps, 3, 1))
    with pytest.raises(ValueError, match="decodes to 65536"):
        _rvl_decode_reference(wraps, 3, 1)
    runs_on = _rvl_values(0, 3, zigzag(65535), zigzag(-1), zigzag(-65534), 7, 9, 100, 1 << 30)
    with pytest.raises(InputError, match="runs on after the 3x1 image is full"):
        decode_compressed(fmt, _rvl_stream_message(runs_on, 3, 1))
    with pytest.raises(ValueError, match="runs on after the 3x1 image"):
        _rvl_decode_reference(runs_on, 3, 1)
    whole = _rvl_values(0, 3, zigzag(65535), zigzag(-1), zigzag(-65534))
    out, _ = decode_compressed(fmt, _rvl_stream_message(whole, 3, 1))
    np.testing.assert_array_equal(out, [[65535, 65534, 0]])
    np.testing.assert_array_equal(_rvl_decode_reference(whole, 3, 1), out)


def test_a_compressed_depth_message_of_its_header_alone_says_what_is_missing():
    """Exactly the 12-byte header, nothing after: a png message lacks its PNG, an rvl message
    its width and height -- neither is 'cut short inside its header' (the header is whole)."""
    header = struct.pack("<iff", 0, 0.0, 0.0)
    with pytest.raises(InputError) as err:
        decode_compressed("16UC1; compressedDepth png", header)
    assert str(err.value).endswith("12 bytes: its 12-byte header and no PNG after it")
    with pytest.raises(InputError) as err:
        decode_compressed("16UC1; compressedDepth rvl", header)
    assert "0 bytes after the 12-byte header, expected at least the 8 of width and height" \
        in str(err.value), str(err.value)


def test_an_rvl_image_of_max_pixels_is_decoded_and_one_more_refused(monkeypatch):
    """`rvl.MAX_PIXELS` is the largest image taken (16384 x 16384; lowered here to 8 x 8 so
    that the bound is tried without 512 MB of depth)."""
    from mast3r_ros.core.image_codec import rvl

    monkeypatch.setattr(rvl, "MAX_PIXELS", 64)
    depth = np.arange(64, dtype=np.uint16).reshape(8, 8)
    np.testing.assert_array_equal(rvl.decode_rvl(_rvl_encode(depth), 8, 8), depth)
    with pytest.raises(InputError, match="implausible size 65x1"):
        rvl.decode_rvl(_rvl_encode(np.arange(65, dtype=np.uint16)[None]), 65, 1)


def test_low_bit_depth_warning_of_each_pair_file_does_not_claim_said_once(tmp_path, caplog):
    """``pair``'s two 12-bit files are judged one by one: each warning names its file, so a
    trailing "(said once)" read as a contradiction when the second file's came right after the
    first's (png16-gray-pair's grey12 pair); a folder's warning says it covers its files."""
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.full((4, 6), 1000, np.uint16))
    (tmp_path / "seq").mkdir()
    cv2.imwrite(str(tmp_path / "seq" / "0.png"), np.full((4, 6), 1000, np.uint16))
    with caplog.at_level("WARNING", logger="mast3r_ros.core.image_codec"):
        read_image_file(tmp_path / "a.png", one_file=True)
        read_image_file(tmp_path / "b.png", one_file=True)
        read_image_file(tmp_path / "seq" / "0.png")
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(": ")[0] for m in said] == [
        str(tmp_path / "a.png"), str(tmp_path / "b.png"), f"{tmp_path / 'seq'}{os.sep}*.png"]
    assert not any("said once" in m for m in said[:2]), said
    assert said[2].endswith("(said once for these files)"), said[2]
