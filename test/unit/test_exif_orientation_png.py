"""`exif_orientation` reads the tag without decoding a PNG's pixels.

A TUM folder's colour PNGs (TUM RGB-D's own format) of the calibration's size each went
through `exif_orientation` (4598be21), whose Pillow ``getexif()`` decodes a whole PNG to look
for an eXIf chunk after the image data: every frame was decoded twice (640x480: 6.5 -> 13.4 ms
a frame read). A PNG without an eXIf chunk is now answered from its bytes; one with it is read
as before."""

from __future__ import annotations

import numpy as np
from PIL import Image, PngImagePlugin

from mast3r_ros.core.image_codec.files import exif_orientation


def test_a_png_s_orientation_is_read_without_decoding_its_pixels(tmp_path, monkeypatch):
    plain, turned = tmp_path / "plain.png", tmp_path / "turned.png"
    pixels = Image.fromarray(np.arange(16 * 32 * 3, dtype=np.uint8).reshape(16, 32, 3))
    pixels.save(plain)
    exif = Image.Exif()
    exif[0x0112] = 3
    pixels.save(turned, exif=exif)
    decoded = []
    real = PngImagePlugin.PngImageFile.load

    def load(self, *a, **k):
        decoded.append(self.filename)
        return real(self, *a, **k)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", load)
    assert exif_orientation(plain) == 1
    assert exif_orientation(turned) == 3
    assert decoded == [], decoded
