"""nv21 / nv12 / nv24 raw images (sensor_msgs' semi-planar YUV encodings, which camera_ros
publishes from libcamera's NV21 / NV24 and cv_bridge refuses): were refused as unsupported.
Each frame is built independently, from a known RGB picture through OpenCV's own RGB -> I420,
and laid out as libcamera does (``step`` the luma stride, the chroma plane after the luma's
``height`` rows; nv24's chroma rows 2 * step apart)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import decode_image, to_rgb8

H, W = 6, 10
RNG = np.random.default_rng(7)
# 2x2 blocks of one colour: 4:2:0 chroma loses nothing, so RGB -> YUV -> RGB comes back within
# OpenCV's rounding
RGB = np.repeat(np.repeat(RNG.integers(0, 256, (H // 2, W // 2, 3), dtype=np.uint8), 2, 0), 2, 1)


def _planes(rgb: np.ndarray):
    h, w = rgb.shape[:2]
    flat = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).ravel()  # Y, then U, then V, planar
    q = h * w // 4
    return (flat[:h * w].reshape(h, w), flat[h * w:h * w + q].reshape(h // 2, w // 2),
            flat[h * w + q:].reshape(h // 2, w // 2))


def _padded(rows: np.ndarray, stride: int) -> bytes:
    out = np.full((rows.shape[0], stride), 0xEE, np.uint8)  # padding a reader must drop
    out[:, :rows.shape[1]] = rows
    return out.tobytes()


def _semi_planar(encoding: str, rgb: np.ndarray, step: int) -> bytes:
    y, u, v = _planes(rgb)
    if encoding == "nv24":  # 4:4:4: every pixel its own U, V (here each 2x2 block's)
        u, v = (np.repeat(np.repeat(c, 2, 0), 2, 1) for c in (u, v))
        chroma, stride = np.stack([u, v], -1), 2 * step
    else:
        chroma, stride = np.stack([v, u] if encoding == "nv21" else [u, v], -1), step
    return _padded(y, step) + _padded(chroma.reshape(chroma.shape[0], -1), stride)


@pytest.mark.parametrize("step", [W, W + 6])
@pytest.mark.parametrize("encoding", ["nv21", "nv12", "nv24"])
def test_semi_planar_yuv_decodes_to_the_rgb_it_was_made_from(encoding, step):
    data = _semi_planar(encoding, RGB, step)
    array = decode_image(encoding, H, W, step, data)
    rgb = to_rgb8(array, encoding)
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - RGB).max() <= 2, encoding
    # one formula for all three (OpenCV's BT.601 video range): nv24 of the same samples gives
    # nv21's bits, not cv2's YUV2RGB (full range, off by up to 34 levels here)
    nv21 = to_rgb8(decode_image("nv21", H, W, W, _semi_planar("nv21", RGB, W)), "nv21")
    np.testing.assert_array_equal(rgb, nv21)


def test_nv24_keeps_per_pixel_chroma():
    """4:4:4 is not 4:2:0: two neighbours of different colour stay different (a reader that
    subsampled nv24's chroma, or read it as nv21, would blend them)."""
    rgb = RNG.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    y, u, v = (cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., i] for i in (0, 2, 1))
    # OpenCV's RGB2YCrCb is full range; map to BT.601 video range as NV encoders write
    y = np.round(16 + y.astype(float) * 219 / 255).astype(np.uint8)
    u, v = (np.round(128 + (c.astype(float) - 128) * 224 / 255).astype(np.uint8) for c in (u, v))
    data = y.tobytes() + np.stack([u, v], -1).tobytes()
    got = to_rgb8(decode_image("nv24", 3, 5, 5, data), "nv24")
    assert np.abs(got.astype(int) - rgb).max() <= 3


def test_semi_planar_errors_name_what_is_wrong():
    with pytest.raises(InputError, match="nv21 image cannot be read: 2x2 pixels share"):
        decode_image("nv21", H, W - 1, W, bytes(200))
    data = _semi_planar("nv21", RGB, W)
    with pytest.raises(InputError, match=r"nv21 image data has 89 bytes, expected .*= 90"):
        decode_image("nv21", H, W, W, data[:-1])
    with pytest.raises(InputError, match=r"nv24 .*chroma plane after it \(6 rows of 20 bytes"):
        decode_image("nv24", H, W, W, _semi_planar("nv24", RGB, W)[:-1])
    with pytest.raises(InputError, match=r"nv12 image must be \(H \* 3 / 2, W\)"):
        to_rgb8(np.zeros((8, W), np.uint8), "nv12")


@pytest.mark.parametrize("encoding", ["nv21", "nv12", "nv24"])
def test_a_last_chroma_row_without_its_padding_is_read(encoding):
    """A buffer that ends at the last chroma pixel (its row's padding left out, as a driver
    may size it) was refused as short: the chroma plane starts where the luma plane ends, so
    nothing else fits; one byte less is still refused, naming both lengths."""
    step = W + 6
    full = _semi_planar(encoding, RGB, step)
    pad = (2 if encoding == "nv24" else 1) * step - (2 if encoding == "nv24" else 1) * W
    want = to_rgb8(decode_image(encoding, H, W, step, full), encoding)
    for cut in (1, pad):
        got = to_rgb8(decode_image(encoding, H, W, step, full[:-cut]), encoding)
        np.testing.assert_array_equal(got, want)
    with pytest.raises(InputError, match=rf"{encoding} image data has {len(full) - pad - 1} "
                                         rf"bytes, expected .*= {len(full)}, or "
                                         rf"{len(full) - pad} without the last row's padding"):
        decode_image(encoding, H, W, step, full[:-pad - 1])


@pytest.mark.parametrize("encoding", ["nv21", "nv12", "nv24"])
def test_a_luma_plane_padded_to_more_rows_is_refused_not_misread(encoding):
    """A driver that pads the luma plane to a multiple of rows (1080 -> 1088) puts the chroma
    plane after the padding rows; sensor_msgs/Image cannot say so, and the chroma was read
    from the padding (wrong colours, no word). Whole extra rows are refused as ambiguous;
    bytes after the chroma plane that are no whole row are still read as trailing."""
    step = W + 6
    data = _semi_planar(encoding, RGB, step)
    luma, chroma = data[:H * step], data[H * step:]
    padded = luma + bytes(2 * step) + chroma  # two padding rows between the planes
    with pytest.raises(InputError, match=rf"{encoding} image data has {len(padded)} bytes: "
                                         rf"2 whole rows of {step} bytes more .*cannot say "
                                         "where it starts"):
        decode_image(encoding, H, W, step, padded)
    want = to_rgb8(decode_image(encoding, H, W, step, data), encoding)
    got = to_rgb8(decode_image(encoding, H, W, step, data + bytes(5)), encoding)
    np.testing.assert_array_equal(got, want)


def test_unpadded_short_data_names_one_length_and_an_empty_image_any_trailing_bytes():
    """Rows without padding (step = width): a short buffer names the one length it needs, no
    'without the last row's padding' alternative equal to it. A 0x0 image of step 0 with
    bytes after it is empty (no whole-row test by a zero step)."""
    data = _semi_planar("nv12", RGB, W)
    with pytest.raises(InputError) as err:
        decode_image("nv12", H, W, W, data[:-1])
    assert str(err.value).endswith(f"= {len(data)}") and "padding" not in str(err.value)
    assert decode_image("nv12", 0, 0, 0, bytes(4)).shape == (0, 0)
