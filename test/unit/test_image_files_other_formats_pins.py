"""Pin of `image_codec.files.check_image_file_intact`'s first test, left by the mutation audit
2026-12-06i: only a file with a JPEG or PNG signature is handed to Pillow. A BMP whose 32-bit
bitfields masks Pillow does not support ('Unsupported BMP bitfields layout', an OSError from
``Image.open``) but OpenCV decodes is read as before; with the signature test dropped every
file went through Pillow first, and this one was refused as a 'PNG file ... truncated or
corrupt'."""

from __future__ import annotations

import struct

import cv2
import numpy as np

from mast3r_ros.core.image_codec.files import check_image_file_intact, read_image_file


def _bmp_odd_bitfields(path, w=8, h=4):
    """A 32-bit BI_BITFIELDS BMP with red, green, blue masks 0xff00, 0xff0000, 0xff000000."""
    pixels = (np.arange(w * h * 4) % 256).astype(np.uint8).tobytes()
    offset = 14 + 40 + 12
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    path.write_bytes(head + info + struct.pack("<III", 0xFF00, 0xFF0000, 0xFF000000) + pixels)
    return path


def test_a_file_without_a_jpeg_or_png_signature_is_left_to_opencv(tmp_path):
    path = _bmp_odd_bitfields(tmp_path / "odd.bmp")
    assert check_image_file_intact(path) is None
    if cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is None:
        return  # an OpenCV without 32-bit bitfields BMPs: its own refusal, not Pillow's
    rgb = read_image_file(path)
    assert rgb.shape == (4, 8, 3) and rgb.dtype == np.uint8
