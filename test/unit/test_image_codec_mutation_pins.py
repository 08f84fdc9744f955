"""Pins of the image and CameraInfo readers that the 2026-12-06d mutation audit found untested:
each a property a user depends on (the pixels, their order, the camera model), not wording."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import decode_image, to_rgb8


def test_a_strided_uint8_array_is_read_as_its_bytes():
    # a message's data handed over as a numpy view (every other byte of a bigger buffer) is read
    # as the bytes it shows, not refused by memoryview's C-contiguous cast with a TypeError
    rgb = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    spread = np.zeros(2 * rgb.size, np.uint8)
    spread[::2] = rgb.reshape(-1)
    out = decode_image("rgb8", 2, 4, 12, spread[::2])
    np.testing.assert_array_equal(out, rgb)


def test_an_rgb8_image_without_pixels_is_refused():
    # the conversion-free path too: an empty rgb8 message (a driver before its first frame)
    with pytest.raises(InputError, match="has no pixels"):
        to_rgb8(np.zeros((0, 4, 3), np.uint8), "rgb8")


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.float32])
def test_an_array_of_wider_items_is_refused_not_read_as_bytes(dtype):
    # np.array([10, 20, ...]) of int64 would be read as 10, 0, 0, ... (its bytes): the pixels
    # scrambled without a word
    values = np.arange(2 * 4 * 3).astype(dtype)
    with pytest.raises(InputError, match="items are not bytes"):
        decode_image("rgb8", 2, 4, 12, values)


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2", "uyvy", "yuyv"])
def test_an_odd_width_yuv422_image_is_refused_by_its_own_check(encoding):
    # refused here, not left to OpenCV: 4.5 (Humble's) converts an odd width without complaint,
    # the last pixel's chroma read from beyond the row
    with pytest.raises(InputError, match="the width must be even"):
        to_rgb8(np.full((2, 3, 2), 128, np.uint8), encoding)


K640 = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]


def test_a_one_pixel_wide_roi_moves_the_principal_point():
    # a ROI of width 1 is a crop like any other (image_geometry): read as the full image, the
    # principal point stayed 100 px off for the streamed crop
    from mast3r_ros.core.image_codec import intrinsics_from_camera_info

    cam = intrinsics_from_camera_info(640, 480, K640, [], "plumb_bob", roi=(100, 40, 1, 400))
    assert (cam.width, cam.height) == (1, 400)
    np.testing.assert_allclose(cam.K, [[500, 0, 220], [0, 500, 200], [0, 0, 1]])


def test_a_rectified_stream_with_a_one_pixel_wide_roi_is_refused():
    from mast3r_ros.core.image_codec.camera_info import rectified_intrinsics_from_camera_info

    p = [500.0, 0.0, 320.0, 0.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    with pytest.raises(InputError, match="region of interest on a rectified stream"):
        rectified_intrinsics_from_camera_info(640, 480, p, None, roi=(0, 0, 1, 480))


def test_binning_that_leaves_no_pixel_and_a_p_without_fy_say_so():
    # refused in the CameraInfo's own terms, not as a CameraIntrinsics of width 0 / fy 0
    from mast3r_ros.core.image_codec import intrinsics_from_camera_info
    from mast3r_ros.core.image_codec.camera_info import rectified_intrinsics_from_camera_info

    with pytest.raises(InputError, match="binning_x/binning_y 8x1 leaves no pixel"):
        intrinsics_from_camera_info(4, 480, K640, [], "plumb_bob", binning_x=8)
    with pytest.raises(InputError, match="binning_x/binning_y 1x8 leaves no pixel"):
        intrinsics_from_camera_info(640, 4, K640, [], "plumb_bob", binning_y=8)
    p = [500.0, 0.0, 320.0, 0.0, 0.0, 0.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    with pytest.raises(InputError, match="P has no positive focal length"):
        rectified_intrinsics_from_camera_info(640, 480, p)


def test_a_rectified_stream_of_a_stereo_rectification_is_refused():
    # R rotates the rectified camera away from the image's frame_id (a stereo pair's left
    # camera, P's Tx zero): read, every pose came out in the rotated frame without a word
    from mast3r_ros.core.image_codec.camera_info import rectified_intrinsics_from_camera_info

    c, s = np.cos(np.radians(2.0)), np.sin(np.radians(2.0))
    r = [c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c]
    p = [500.0, 0.0, 320.0, 0.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    with pytest.raises(InputError, match="R is not the identity"):
        rectified_intrinsics_from_camera_info(640, 480, p, r)
    assert rectified_intrinsics_from_camera_info(640, 480, p, np.eye(3).ravel()).width == 640


def test_a_16_bit_png_with_alpha_is_read_as_bgra16():
    # compressed_image_transport's PNG of a bgra16 / rgba16 image: its colour read, not refused
    import cv2

    from mast3r_ros.core.image_codec import decode_compressed

    bgra = np.random.default_rng(5).integers(0, 65536, (3, 4, 4), dtype=np.uint16)
    ok, png = cv2.imencode(".png", bgra)
    assert ok
    image, encoding = decode_compressed("bgra16; png compressed bgra16", png.tobytes())
    assert encoding == "bgra16"
    np.testing.assert_array_equal(image, bgra)
    np.testing.assert_array_equal(to_rgb8(image, encoding)[..., 0],
                                  to_rgb8(bgra[..., 2].copy(), "mono16")[..., 0])
