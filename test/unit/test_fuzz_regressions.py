"""Inputs bench/fuzz_inputs.py found escaping as another exception than the package's own
(cv2.error, ValueError, TypeError, UnicodeDecodeError, MemoryError): each is now an
`InputError` that says what is wrong, plus a bounded seeded fuzz run of the message decoders."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import (decode_compressed, decode_image, read_image_file,
                                         to_rgb8)

REPO = Path(__file__).resolve().parents[2]


def _png_stating(width: int, height: int, dtype=np.uint8) -> bytes:
    """A valid small PNG whose IHDR (CRC fixed) states ``width`` x ``height``."""
    data = bytearray(cv2.imencode(".png", np.zeros((6, 8), dtype))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("encoding, width, height, step", [
    ("nv24", 0, 0, 4), ("nv24", 0, 10, 2), ("nv12", 0, 4, 0), ("rgb8", 0, 0, 0),
    ("bgr8", 4, 0, 12)])
def test_an_image_without_pixels_is_refused(encoding, width, height, step):
    # nv24 was a ValueError (reshape) or a cv2.error (cvtColor of an empty array)
    planes = {"nv24": 3, "nv12": 1.5}.get(encoding, 1)
    array = decode_image(encoding, height, width, step, bytes(int(step * height * planes)))
    with pytest.raises(InputError, match="has no pixels .*width or height 0"):
        to_rgb8(array, encoding)


@pytest.mark.parametrize("fmt", ["png", "16UC1; compressedDepth png"])
def test_a_compressed_png_stating_over_opencvs_pixel_limit_is_refused(fmt):
    # was cv2.error "pixels <= CV_IO_MAX_IMAGE_PIXELS" from imdecode
    png = _png_stating(70000, 70000, np.uint16 if "Depth" in fmt else np.uint8)
    data = bytes(12) + png if "Depth" in fmt else png
    with pytest.raises(InputError, match=r"header states a size over OpenCV's limit of 2\*\*30"):
        decode_compressed(fmt, data)


def test_an_image_file_stating_over_opencvs_pixel_limit_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png_stating(70000, 70000))
    with pytest.raises(InputError, match=r"cannot decode image .*big\.png: its header states"):
        read_image_file(path)


def test_a_tum_depth_png_stating_over_opencvs_pixel_limit_is_refused(tmp_path):
    from test_image_codec import CAMERA_YAML  # 32x24

    from mast3r_ros.replay.tum import TumSequence

    (tmp_path / "camera.yaml").write_text(CAMERA_YAML)
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    cv2.imwrite(str(tmp_path / "rgb" / "1.png"), np.zeros((24, 32, 3), np.uint8))
    (tmp_path / "depth" / "1.png").write_bytes(_png_stating(70000, 70000, np.uint16))
    (tmp_path / "rgb.txt").write_text("1.0 rgb/1.png\n")
    (tmp_path / "depth.txt").write_text("1.0 depth/1.png\n")
    seq = TumSequence(tmp_path)
    with pytest.raises(InputError, match=r"cannot decode depth image .*: its header states"):
        seq[0]


@pytest.mark.parametrize("name", ["euroc", "kalibr"])
def test_a_distortion_model_that_is_not_a_name_is_refused(tmp_path, name):
    # a mapping or list was a TypeError (unhashable) looking it up among the models
    from mast3r_ros.core.image_codec import load_camera_info_yaml

    if name == "euroc":
        from test_camera_info_euroc import RADTAN, SENSOR
        text = SENSOR.format(model="{model: radtan}", coeffs=RADTAN)
    else:
        from test_camera_info_kalibr import CAMCHAIN, RADTAN
        text = CAMCHAIN.format(model="[radtan]", coeffs=RADTAN)
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="distortion_model .* has no sensor_msgs/CameraInfo"):
        load_camera_info_yaml(path)
