"""Pins on the input conversions (CameraInfo, raw/compressed images), each derived from the ROS
conventions they implement (sensor_msgs/CameraInfo and RegionOfInterest as image_geometry applies
them, cv_bridge's encodings), for behaviour a hand mutation of the code changed without any other
test failing."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import intrinsics_from_camera_info
from mast3r_ros.core.said_once import SaidOnce

K = [585.0, 0.0, 320.0, 0.0, 585.0, 240.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("roi", [{"x_offset": 320, "y_offset": 0, "width": 320, "height": 240},
                                 {"x_offset": 0, "y_offset": 240, "width": 320, "height": 240},
                                 {"x_offset": 0, "y_offset": 0, "width": 640, "height": 480}])
def test_roi_reaching_the_last_column_or_row_fits(roi):
    """A RegionOfInterest is a subwindow of the full (unbinned) image: x_offset + width may equal
    the image width (its last column is the image's last), and y_offset + height its height."""
    cam = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=roi)
    assert (cam.width, cam.height) == (roi["width"], roi["height"])
    np.testing.assert_allclose(cam.K[:2, 2], [320.0 - roi["x_offset"], 240.0 - roi["y_offset"]])


@pytest.mark.parametrize("roi", [{"x_offset": 321, "y_offset": 0, "width": 320, "height": 240},
                                 {"x_offset": 0, "y_offset": 241, "width": 320, "height": 240},
                                 {"x_offset": 0, "y_offset": 0, "width": 641, "height": 480},
                                 {"x_offset": 0, "y_offset": 0, "width": 640, "height": 481}])
def test_roi_one_pixel_past_the_image_refused(roi):
    """One column (or row) past the calibrated image is no subwindow of it: refused, naming it."""
    with pytest.raises(InputError, match="does not fit the calibrated 640x480 image"):
        intrinsics_from_camera_info(640, 480, K, [], "plumb_bob", roi=roi)


def test_roi_mapping_without_offsets_has_offset_zero():
    """RegionOfInterest's fields default to 0, so a mapping that leaves out x_offset and
    y_offset is a window at the top-left corner: K unshifted."""
    cam = intrinsics_from_camera_info(640, 480, K, [], "plumb_bob",
                                      roi={"width": 320, "height": 240})
    assert (cam.width, cam.height) == (320, 240)
    np.testing.assert_allclose(cam.K, np.reshape(K, (3, 3)))


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2", "uyvy", "yuyv"])
def test_packed_yuv422_of_odd_height_converts(encoding):
    """4:2:2 shares chroma between two pixels of one row: only the width must be even. A 4x3
    image (odd height) converts like any other (as cv_bridge's cvtColor does)."""
    from mast3r_ros.core.image_codec import to_rgb8

    packed = np.full((3, 4, 2), 128, np.uint8)  # Y = 128, U = V = 128 (no chroma): grey
    out = to_rgb8(packed, encoding)
    assert out.shape == (3, 4, 3)
    assert np.ptp(out) <= 1 and abs(int(out[0, 0, 0]) - 130) <= 2  # (128 - 16) * 255 / 219


@pytest.mark.parametrize("dtype, scale, encoding", [(np.uint8, 1, "bgra8"),
                                                    (np.uint16, 257, "bgra16")])
def test_compressed_png_with_alpha_decodes_in_bgra_order(dtype, scale, encoding):
    """OpenCV decodes a PNG with alpha (a CompressedImage of 'png' format from any encoder) in
    BGRA order, as it decodes colour in BGR, at 8 or 16 bits: a red pixel with alpha must come
    out red, not blue."""
    import cv2

    from mast3r_ros.core.image_codec import decode_compressed, to_rgb8

    bgra = np.zeros((2, 3, 4), dtype)
    bgra[..., 2], bgra[..., 3] = 200 * scale, 255 * scale  # red, opaque
    bgra[1, 2] = np.array((10, 20, 30, 40)) * scale
    ok, png = cv2.imencode(".png", bgra)
    assert ok
    out, got = decode_compressed("png", png.tobytes())
    assert got == encoding
    rgb = to_rgb8(out, got)
    np.testing.assert_array_equal(rgb[0, 0], (200, 0, 0))
    np.testing.assert_array_equal(rgb[1, 2], (30, 20, 10))


def _info(**over):
    from types import SimpleNamespace as NS

    f = dict(width=640, height=480, k=list(K), d=[], distortion_model="plumb_bob",
             binning_x=0, binning_y=0, roi=NS(x_offset=0, y_offset=0, width=0, height=0),
             r=[1.0, 0, 0, 0, 1, 0, 0, 0, 1], p=[585.0, 0, 320, 0, 0, 585.0, 240, 0, 0, 0, 1, 0])
    f.update(over)
    return NS(**f)


def test_camera_info_reduction_names_binning_on_one_axis_and_ignores_a_full_roi():
    """What the 'image does not fit its CameraInfo' errors name: binning on y alone reduces the
    image (image_geometry divides fy, cy and the height); a ROI that is the whole (non-square)
    image reduces nothing."""
    from types import SimpleNamespace as NS

    from mast3r_ros.core.message_fields import camera_info_reduction

    assert camera_info_reduction(_info(binning_y=2)) == "CameraInfo 640x480 with binning 1x2"
    assert camera_info_reduction(_info(binning_x=2)) == "CameraInfo 640x480 with binning 2x1"
    assert camera_info_reduction(_info(roi=NS(x_offset=0, y_offset=0, width=640,
                                              height=480))) == ""
    assert camera_info_reduction(_info(roi=NS(x_offset=0, y_offset=0, width=480, height=480))) \
        == "CameraInfo 640x480 with roi 480x480 at (0, 0)"


def test_rectified_principal_point_warning_reads_cy_from_p(caplog):
    """P is row-major 3x4: cy is P[6] (P[5] is fy). A long-focal rectified camera (fy = 2000 on
    a 480-row image) with its principal point in the image is not warned about; a cy far below
    the image is."""
    from mast3r_ros.core.message_fields import IntrinsicsCache

    tele = [2000.0, 0, 320, 0, 0, 2000.0, 240, 0, 0, 0, 1, 0]
    with caplog.at_level("WARNING"):
        IntrinsicsCache("cam")(_info(p=tele), rectified=True)
    assert "principal point" not in caplog.text
    far = [585.0, 0, 320, 0, 0, 585.0, 4800, 0, 0, 0, 1, 0]
    with caplog.at_level("WARNING"):
        IntrinsicsCache("cam")(_info(p=far), rectified=True)
    assert "principal point (cx 320, cy 4800)" in caplog.text


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_file_exif_orientation_applied(tmp_path, suffix):
    """read_image_file applies the EXIF orientation (as the reference load_images does with
    PIL's exif_transpose): a 4x2 picture stored with orientation 6 (rotate 90 degrees clockwise
    to show) is read 16 wide and 32 high, its stored top-left corner at the top right."""
    from PIL import Image, ImageOps

    from mast3r_ros.core.image_codec import read_image_file

    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"o6{suffix}"
    Image.fromarray(stored).save(path, exif=exif, quality=100)
    out = read_image_file(path)
    assert out.shape == (32, 16, 3)
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert int(out[2, 13, 0]) > 200 and int(out[2, 2, 0]) < 60
    np.testing.assert_allclose(out.astype(int), shown.astype(int), atol=30)


P_RECT = [585.0, 0, 320, 0, 0, 585.0, 240, 0, 0, 0, 1, 0]


@pytest.mark.parametrize("roi", [{"x_offset": 0, "y_offset": 0, "width": 320, "height": 240},
                                 {"x_offset": 0, "y_offset": 0, "width": 640, "height": 240}])
def test_rectified_roi_at_the_origin_smaller_than_the_image_refused(roi):
    """A ROI on a rectified stream is refused unless it is the whole image, also one at (0, 0):
    its size alone makes it a crop (image_geometry maps it through the rectification)."""
    from mast3r_ros.core.image_codec import rectified_intrinsics_from_camera_info

    with pytest.raises(InputError, match="region of interest on a rectified stream"):
        rectified_intrinsics_from_camera_info(640, 480, P_RECT, None, roi=roi)


@pytest.mark.parametrize("r", [[1.0, 0, 0, 1], [1.0, 0, 0, 0, 1, 0, 0, 0, 1, 0]])
def test_rectified_r_of_another_size_refused(r):
    """CameraInfo's R is a row-major 3x3: 4 or 10 values are a malformed message, not an
    identity (an empty R is an unset one)."""
    from mast3r_ros.core.image_codec import rectified_intrinsics_from_camera_info

    with pytest.raises(InputError, match="R must have 9 values"):
        rectified_intrinsics_from_camera_info(640, 480, P_RECT, r)
    assert rectified_intrinsics_from_camera_info(640, 480, P_RECT, []).width == 640


def test_compressed_depth_of_a_colour_png_refused():
    """compressed_depth's PNG is one 16-bit channel (the depth, or the quantized inverse depth):
    a 16-bit colour PNG behind the 12-byte header is no depth image and is refused as such."""
    import struct

    import cv2

    from mast3r_ros.core.image_codec import decode_compressed

    ok, png = cv2.imencode(".png", np.full((2, 3, 3), 1000, np.uint16))
    assert ok
    with pytest.raises(InputError, match="compressedDepth PNG must be 16-bit grey"):
        decode_compressed("16UC1; compressedDepth png",
                          struct.pack("<iff", 0, 0, 0) + png.tobytes())


def test_low_bit_depth_warning_skips_an_empty_image(monkeypatch, caplog):
    """An empty 16-bit image says nothing about its bit depth: no error (max() of nothing) and
    no judgement used up, so the stream's first real 12-bit image is still warned about."""
    from mast3r_ros.core.image_codec import raw

    monkeypatch.setattr(raw, "_LOW_BIT_DEPTH_CHECKED", SaidOnce())
    assert raw.warn_low_bit_depth(np.zeros((0, 4), np.uint16), "cam mono16", "fix") is False
    with caplog.at_level("WARNING"):
        assert raw.warn_low_bit_depth(np.full((2, 4), 4095, np.uint16), "cam mono16", "fix")
    assert "below 4096" in caplog.text


@pytest.mark.parametrize("frame, words", [(" camera", "white space around it"),
                                          ("camera\t", "white space around it"),
                                          ("/camera", "must not start with '/'"),
                                          ("  ", "must not be empty"),
                                          (b"camera", "is a string")])
def test_frame_id_problem_names_each_kind_of_bad_name(frame, words):
    """A TF frame name with white space on either side is another frame to tf2 than the name it
    looks like; a leading '/' tf2 rejects. Each is named; a plain name has no problem."""
    from mast3r_ros.core.message_fields import frame_id_problem

    assert words in frame_id_problem(frame)
    assert frame_id_problem("camera_optical") == ""


@pytest.mark.parametrize("fmt", ["compressedDepth png", "; compressedDepth png",
                                 "32FC3; compressedDepth png"])
def test_compressed_depth_without_its_depth_encoding_refused(fmt):
    """compressed_depth's format starts with the depth's encoding (16UC1 or 32FC1), which says
    whether the PNG holds the depth or its quantized inverse: without it (or with another one)
    the message is malformed, not decoded by guess."""
    import struct

    import cv2

    from mast3r_ros.core.image_codec import decode_compressed

    ok, png = cv2.imencode(".png", np.full((2, 3), 1000, np.uint16))
    assert ok
    with pytest.raises(InputError, match="malformed compressedDepth message"):
        decode_compressed(fmt, struct.pack("<iff", 0, 2.5, -10.0) + png.tobytes())


@pytest.mark.parametrize("call", ["mono8 of uint16", "mono16 of uint8", "16UC1 depth of float"])
def test_array_of_another_dtype_than_its_encoding_refused(call):
    """An encoding says the pixel type (mono8: uint8, mono16/16UC1: uint16): an array of another
    dtype is refused naming both, not converted (a uint16 image read as mono8 was scaled down
    to near black; a uint8 one read as mono16 kept 8-bit values)."""
    from mast3r_ros.core.image_codec import depth_to_metres, to_rgb8

    with pytest.raises(InputError, match=r"must be \(H, W\) uint(8|16), got \(2, 2\)"):
        if call == "mono8 of uint16":
            to_rgb8(np.full((2, 2), 300, np.uint16), "mono8")
        elif call == "mono16 of uint8":
            to_rgb8(np.full((2, 2), 200, np.uint8), "mono16")
        else:
            depth_to_metres(np.full((2, 2), 1.5, np.float32), "16UC1")
