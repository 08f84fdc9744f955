"""Message fields <-> numpy without ROS (`mast3r_ros.core.message_fields`).

Messages are plain namespaces here (rclpy messages carry ``data`` as ``array('B')``, rosbags
messages as numpy arrays; both are covered).
"""

from __future__ import annotations

import array
import logging
import math
import re
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.said_once import SaidOnce
from mast3r_ros.core.types import CameraIntrinsics
from robot_poses import random_pose, rz

def test_stamp_round_trip_and_layout():
    assert mf.stamp_to_ns(1, 250_000_000) == 1_250_000_000
    assert mf.ns_to_stamp(1_250_000_000) == (1, 250_000_000)
    assert mf.ns_to_stamp(0) == (0, 0)
    for ns in (1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789):
        sec, nsec = mf.ns_to_stamp(ns)
        assert 0 <= nsec < 1_000_000_000
        assert mf.stamp_to_ns(sec, nsec) == ns
    with pytest.raises(InputError):
        mf.ns_to_stamp(-1)


def test_quaternion_round_trip_and_hand_values():
    T = make_pose(rz(90.0), [1.0, 2.0, 3.0])
    t, q = mf.matrix_to_tq(T)
    s = math.sqrt(0.5)
    np.testing.assert_allclose(t, [1, 2, 3])
    np.testing.assert_allclose(q, [0, 0, s, s], atol=1e-12)     # x y z w
    np.testing.assert_allclose(mf.tq_to_matrix(t, q), T, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        P = random_pose(rng)
        t, q = mf.matrix_to_tq(P)
        assert q[3] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-12
        np.testing.assert_allclose(mf.tq_to_matrix(t, q), P, atol=1e-12)


def test_quaternion_is_normalised_and_zero_rejected():
    T = mf.tq_to_matrix([0, 0, 0], [0, 0, 2.0, 2.0])           # unnormalised 90 deg about z
    np.testing.assert_allclose(T[:3, :3], rz(90.0), atol=1e-12)
    with pytest.raises(InputError, match="all zeros"):
        mf.tq_to_matrix([0, 0, 0], [0, 0, 0, 0])
    with pytest.raises(InputError):
        mf.tq_to_matrix([0, float("nan"), 0], [0, 0, 0, 1])


def test_transform_fields():
    q = Rotation.from_euler("z", 45, degrees=True).as_quat()
    tf = NS(translation=NS(x=1.0, y=0.0, z=2.0), rotation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    np.testing.assert_allclose(mf.transform_to_matrix(tf), make_pose(rz(45), [1, 0, 2]),
                               atol=1e-12)


W, H = 8, 6
CAM = CameraIntrinsics(W, H, [[10.0, 0, 3.5], [0, 10.0, 2.5], [0, 0, 1]])


def header(sec=12, nanosec=345, frame_id="cam_optical"):
    return NS(stamp=NS(sec=sec, nanosec=nanosec), frame_id=frame_id)


def image_msg(encoding, pixels: np.ndarray, pad: int = 0, bigendian: bool = False,
              as_array: bool = False):
    h, w = pixels.shape[:2]
    arr = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<"))
    row = arr.reshape(h, -1).view(np.uint8)
    rows = np.concatenate([row, np.full((h, pad), 7, np.uint8)], axis=1)
    data = rows.tobytes()
    return NS(header=header(), height=h, width=w, encoding=encoding,
              is_bigendian=int(bigendian), step=rows.shape[1],
              data=array.array("B", data) if as_array else data)


def rgb_pattern(h=H, w=W) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 30, yy * 40, (xx + yy) * 10], axis=-1).astype(np.uint8)


def test_frame_from_color_encodings():
    rgb = rgb_pattern()
    cases = {
        "rgb8": rgb,
        "bgr8": rgb[:, :, ::-1],
        "8UC3": rgb[:, :, ::-1],
        "rgba8": np.concatenate([rgb, np.full((H, W, 1), 255, np.uint8)], axis=2),
        "bgra8": np.concatenate([rgb[:, :, ::-1], np.full((H, W, 1), 9, np.uint8)], axis=2),
    }
    for encoding, pixels in cases.items():
        for pad, as_array in ((0, False), (5, True)):
            msg = image_msg(encoding, np.ascontiguousarray(pixels), pad=pad, as_array=as_array)
            frame = mf.frame_from_image_message(msg, CAM)
            np.testing.assert_array_equal(frame.rgb, rgb, err_msg=encoding)
            assert frame.stamp_ns == 12_000_000_345 and frame.frame_id == "cam_optical"
            assert frame.intrinsics is CAM



def test_frame_from_an_image_with_a_ros1_frame_id_is_in_the_tf2_frame(caplog):
    # '/cam_optical' was kept on the Frame (only the node's TF lookup stripped it), so the
    # node's ~/matches image went out in a frame tf2 (RViz) refuses; tf2 strips a leading '/'
    # from the transforms it is given, so the frame is 'cam_optical'
    msg = image_msg("rgb8", rgb_pattern())
    msg.header.frame_id = "/cam_optical"  # warned about once per process: no other test has it
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        frames = [mf.frame_from_image_message(msg, CAM) for _ in range(3)]
    assert [f.frame_id for f in frames] == ["cam_optical"] * 3
    [record] = caplog.records  # once per frame id, not per image
    assert record.getMessage() == (
        "image header frame_id '/cam_optical' starts with '/' (ROS 1's global prefix), which tf2 "
        "refuses: read as the frame 'cam_optical'; set the camera driver's frame id to "
        "'cam_optical'")
    msg.header.frame_id = " cam_optical"  # white space is kept: another frame to tf2
    assert mf.frame_from_image_message(msg, CAM).frame_id == " cam_optical"

def test_frame_from_grey_encodings():
    grey = rgb_pattern()[:, :, 0]
    for encoding in ("mono8", "8UC1"):
        frame = mf.frame_from_image_message(image_msg(encoding, grey, pad=3), CAM)
        np.testing.assert_array_equal(frame.rgb, np.repeat(grey[:, :, None], 3, axis=2))
    wide = grey.astype(np.uint16) * 256 + 17
    for encoding in ("mono16", "16UC1"):
        for bigendian in (False, True):
            msg = image_msg(encoding, wide, pad=2, bigendian=bigendian)
            frame = mf.frame_from_image_message(msg, CAM)
            # cv_bridge's 16 -> 8 bit change: x 255/65535, rounded (issue 8), not >> 8
            expected = np.floor(wide * (255.0 / 65535.0) + 0.5).astype(np.uint8)
            np.testing.assert_array_equal(frame.rgb[:, :, 1], expected, err_msg=encoding)


def test_frame_rejects_bad_images():
    with pytest.raises(InputError, match="unsupported image encoding"):
        mf.frame_from_image_message(image_msg("nv16", rgb_pattern()[:, :, :2].copy()), CAM)
    with pytest.raises(InputError):
        mf.frame_from_image_message(image_msg("32FC1", np.ones((H, W), np.float32)), CAM)
    short = image_msg("rgb8", rgb_pattern())
    short.data = short.data[:-10]
    with pytest.raises(InputError, match="bytes"):
        mf.frame_from_image_message(short, CAM)
    big = image_msg("rgb8", rgb_pattern(H * 2, W * 2))
    with pytest.raises(InputError, match="CameraInfo"):
        mf.frame_from_image_message(big, CAM)


def compressed_msg(fmt: str, bgr_or_grey: np.ndarray, ext: str, as_array: bool = False):
    ok, buf = cv2.imencode(ext, bgr_or_grey)
    assert ok
    data = buf.tobytes()
    return NS(header=header(), format=fmt, data=array.array("B", data) if as_array else data)


def test_frame_from_compressed():
    rgb = rgb_pattern()
    for as_array in (False, True):
        png = compressed_msg("rgb8; png compressed bgr8", rgb[:, :, ::-1].copy(), ".png",
                             as_array)
        np.testing.assert_array_equal(mf.frame_from_image_message(png, CAM).rgb, rgb)
    flat = np.zeros((H, W, 3), np.uint8)
    flat[:] = (200, 100, 50)                              # RGB; JPEG keeps flat colour closely
    jpg = compressed_msg("jpeg", flat[:, :, ::-1].copy(), ".jpg")
    frame = mf.frame_from_image_message(jpg, CAM)
    assert frame.stamp_ns == 12_000_000_345 and frame.frame_id == "cam_optical"
    assert np.abs(frame.rgb.astype(int) - flat).max() <= 3
    grey = rgb[:, :, 1].copy()
    mono = compressed_msg("mono8; png compressed mono8", grey, ".png")
    np.testing.assert_array_equal(mf.frame_from_image_message(mono, CAM).rgb[:, :, 2], grey)
    mono_jpg = compressed_msg("mono8; jpeg compressed mono8", np.full((H, W), 90, np.uint8),
                              ".jpg")
    assert np.abs(mf.frame_from_image_message(mono_jpg, CAM).rgb.astype(int) - 90).max() <= 2
    deep = compressed_msg("16UC1; png compressed", grey.astype(np.uint16) * 256, ".png")
    expected = np.floor(grey.astype(np.uint16) * 256 * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(mf.frame_from_image_message(deep, CAM).rgb[:, :, 0], expected)


def test_compressed_rejects_bad_input():
    with pytest.raises(InputError, match="cannot decode"):
        mf.frame_from_image_message(NS(header=header(), format="jpeg", data=b"not a jpeg"), CAM)
    big = compressed_msg("png", rgb_pattern(H * 2, W * 2), ".png")
    with pytest.raises(InputError, match="CameraInfo"):
        mf.frame_from_image_message(big, CAM)


def test_camera_info_to_intrinsics():
    info = NS(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1],
              d=array.array("d", [0.1, 0.0, 0.0, 0.0, 0.0]), distortion_model="plumb_bob",
              header=header())
    cam = mf.camera_info_to_intrinsics(info)
    assert (cam.width, cam.height) == (W, H) and cam.has_distortion
    np.testing.assert_allclose(cam.K, CAM.K)
    info.k = [0.0] * 9
    with pytest.raises(InputError, match="uncalibrated"):
        mf.camera_info_to_intrinsics(info)


@pytest.mark.parametrize("field, value, match", [
    ("width", W + 0.7, rf"CameraInfo width must be a whole number of pixels, got {W + 0.7}"),
    ("height", True, r"CameraInfo height must be a whole number of pixels, got True"),
    ("binning_x", 2.5, r"CameraInfo binning_x must be a whole number >= 0 .*got 2.5"),
    # read with 'or 0': an empty string or False was taken as no binning without a word
    ("binning_y", "", r"CameraInfo binning_y must be a whole number >= 0 .*got ''"),
    ("binning_x", False, r"CameraInfo binning_x must be a whole number >= 0 .*got False"),
    ("roi", NS(x_offset=1.7, y_offset=0, width=4, height=4),
     r"CameraInfo roi.x_offset must be a whole number >= 0 of pixels \(uint32\), got 1.7"),
])
def test_camera_info_integer_fields_of_untyped_messages_are_not_truncated(field, value, match):
    """A duck-typed CameraInfo's integer fields were read with int(): a width of 8.7 became 8,
    True a height of 1, binning 2.5 became 2, an roi offset 1.7 became 1, all without a word."""
    info = NS(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1], d=[],
              distortion_model="plumb_bob", header=header())
    setattr(info, field, value)
    with pytest.raises(InputError, match=match):
        mf.camera_info_to_intrinsics(info)
    with pytest.raises(InputError, match=match):
        mf.camera_info_reduction(info)
    setattr(info, field, np.uint32(2) if field == "binning_x" else None)  # numpy ints are read
    if field in ("binning_x", "roi"):
        assert mf.camera_info_to_intrinsics(info).width == (W // 2 if field == "binning_x" else W)


@pytest.mark.parametrize("field, value, match", [
    # '30' was read as 30.0 without a word; 'a' raised numpy's bare ValueError, None a TypeError
    ("k", ["10", 0, 3.5, 0, 10.0, 2.5, 0, 0, 1], r"CameraInfo k\[0\] must be a number, got str "
                                                r"'10'; k holds 9 numbers \(K, row-major 3x3\)"),
    ("k", ["a"] * 9, r"CameraInfo k\[0\] must be a number, got str 'a'"),
    ("k", None, r"CameraInfo k must be a sequence of 9 numbers \(K, row-major 3x3\), got "
                r"NoneType None"),
    ("d", [True, 0, 0, 0, 0], r"CameraInfo d\[0\] must be a number, got bool True; d holds the "
                              r"distortion coefficients"),
    ("d", "00000", r"CameraInfo d must be a sequence of the distortion coefficients, numbers "
                   r"\(empty for none\), got str '00000'"),
    ("p", [10.0, 0, 3.5, 0, 0, 10.0, 2.5, 0, 0, 0, "1", 0], r"CameraInfo p\[10\] must be a number"),
    ("r", "identity", r"CameraInfo r must be a sequence of 9 numbers \(R, row-major 3x3\)"),
])
def test_camera_info_array_fields_of_untyped_messages_are_numbers(field, value, match):
    info = NS(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1], d=[0.0] * 5,
              p=[10.0, 0, 3.5, 0, 0, 10.0, 2.5, 0, 0, 0, 1, 0], r=[1.0, 0, 0, 0, 1, 0, 0, 0, 1],
              distortion_model="plumb_bob", header=header())
    rectified = field in ("p", "r")
    ok = mf.camera_info_to_intrinsics(info, rectified)
    setattr(info, field, value)
    with pytest.raises(InputError, match=match):
        mf.camera_info_to_intrinsics(info, rectified)
    with pytest.raises(InputError, match=match):
        mf.IntrinsicsCache()(info, rectified)
    # what rclpy (numpy float64, array.array('d')) and rosbags (numpy) give is read as before
    typed = np.asarray(ok.K.reshape(-1) if field == "k" else [0.0] * 5)
    if field in ("k", "d"):
        setattr(info, field, typed if field == "k" else array.array("d", typed))
        np.testing.assert_allclose(mf.camera_info_to_intrinsics(info).K, ok.K)


@pytest.mark.parametrize("value", [None, b"plumb_bob", 5])
def test_camera_info_distortion_model_of_untyped_messages_is_a_string(value):
    # was str()-ed first: None was refused as "unsupported distortion model 'None'" and
    # b'plumb_bob' as "unsupported distortion model \"b'plumb_bob'\"", neither saying the type
    info = NS(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1], d=[0.0] * 5,
              distortion_model=value, header=header())
    with pytest.raises(InputError, match=rf"CameraInfo distortion_model must be a string, got "
                                         rf"{re.escape(repr(value))} \({type(value).__name__}\); "
                                         r"supported: plumb_bob, rational_polynomial"):
        mf.camera_info_to_intrinsics(info)
    info.distortion_model = np.str_("plumb_bob")
    assert mf.camera_info_to_intrinsics(info).distortion_model == "plumb_bob"


@pytest.mark.parametrize("field, value", [("height", H + 0.7), ("width", True), ("step", 3.9),
                                          ("height", "2")])
def test_image_sizes_of_untyped_messages_are_not_truncated(field, value):
    """A duck-typed Image's height 2.7 was read as 2 rows (int()), a width of True as 1."""
    msg = image_msg("rgb8", rgb_pattern())
    setattr(msg, field, value)
    with pytest.raises(InputError, match=rf"sensor_msgs/Image {field} must be a whole number "
                                         rf">= 0 \(uint32\), got {value!r}"):
        mf.decode_image_message(msg)
    setattr(msg, field, np.uint32(getattr(image_msg("rgb8", rgb_pattern()), field)))
    assert mf.decode_image_message(msg)[0].shape == (H, W, 3)


@pytest.mark.parametrize("value", ["0", "1", 2, 255, -1, 0.5, None, b"\x00"])
def test_is_bigendian_of_untyped_messages_is_0_or_1(value):
    """A duck-typed Image's is_bigendian was read with bool(): the string "0" (or 2, 0.5) made
    little-endian 16-bit data big-endian, each pixel byte-swapped without a word."""
    pixels = (np.arange(H * W, dtype=np.uint16) * 257 + 1).reshape(H, W)
    msg = image_msg("mono16", pixels)
    msg.is_bigendian = value
    with pytest.raises(InputError, match=r"sensor_msgs/Image is_bigendian must be 0 or 1 "
                                         rf"\(uint8: 1 for big-endian 16/32-bit data\), got "
                                         rf"{re.escape(repr(value))}$"):
        mf.decode_image_message(msg)
    for little in (0, np.uint8(0), False, 0.0):
        msg.is_bigendian = little
        np.testing.assert_array_equal(mf.decode_image_message(msg)[0], pixels)
    big = image_msg("mono16", pixels, bigendian=True)
    for flag in (1, np.uint8(1), True):
        big.is_bigendian = flag
        np.testing.assert_array_equal(mf.decode_image_message(big)[0], pixels)


@pytest.mark.parametrize("value", [b"rgb8", None, ["rgb8"]])
def test_image_encoding_of_untyped_messages_is_a_string(value):
    # b'rgb8' was refused as an "unsupported image encoding b'rgb8'" (a name spelt right), a
    # list raised a bare TypeError (unhashable)
    msg = image_msg("rgb8", rgb_pattern())
    msg.encoding = value
    with pytest.raises(InputError, match=r"sensor_msgs/Image encoding must be a string \('rgb8', "
                                         rf"'mono16', ...\), got {type(value).__name__} "):
        mf.decode_image_message(msg)


@pytest.mark.parametrize("data, words", [
    (np.array([10, 20, 30, 40] * 12, dtype=np.int64),
     "got a int64 array, whose items are not bytes"),
    (np.array([10.0, 20, 30, 40] * 12), "got a float64 array, whose items are not bytes"),
    (array.array("H", [10, 20, 30, 40] * 12), r"got array of 2-byte items \('H'\)"),
])
def test_image_data_of_untyped_messages_is_bytes(data, words):
    # an int64 array's 8 bytes per value were read as pixel bytes: [10, 20, ...] decoded as
    # 10, 0, 0, ... without a word (the byte count was large enough)
    msg = NS(header=header(), height=H, width=W, encoding="mono8", is_bigendian=0, step=W,
             data=data)
    with pytest.raises(InputError, match=r"image data must be a bytes-like buffer of uint8 "
                                         rf"\(the message's uint8\[\]\), {words}"):
        mf.decode_image_message(msg)
    with pytest.raises(InputError, match="image data must be a bytes-like buffer of uint8"):
        mf.decode_image_message(NS(header=header(), format="png", data=data))
    msg.data = np.asarray(data, dtype=np.uint8)
    np.testing.assert_array_equal(mf.decode_image_message(msg)[0].reshape(-1), msg.data)


def test_header_stamp_and_pose_fields():
    assert mf.header_stamp_ns(header(sec=3, nanosec=7)) == 3_000_000_007
    q = Rotation.from_euler("z", 90, degrees=True).as_quat()
    pose = NS(position=NS(x=1.0, y=2.0, z=0.5), orientation=NS(x=q[0], y=q[1], z=q[2], w=q[3]))
    np.testing.assert_allclose(mf.pose_to_matrix(pose), make_pose(rz(90), [1, 2, 0.5]),
                               atol=1e-12)
    # geometry_msgs order x, y, z, w: (sin 45, 0, 0, cos 45) is 90 degrees about x, not y
    s = np.sqrt(0.5)
    pose.orientation = NS(x=s, y=0.0, z=0.0, w=s)
    np.testing.assert_allclose(mf.pose_to_matrix(pose)[:3, :3],
                               [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
    pose.orientation = NS(x=0.0, y=0.0, z=0.0, w=0.0)
    with pytest.raises(InputError, match="all zeros"):
        mf.pose_to_matrix(pose)


def test_decode_image_message_tells_the_kinds_apart():
    rgb = rgb_pattern()
    arr, enc = mf.decode_image_message(image_msg("rgb8", rgb))
    assert enc == "rgb8" and not mf.is_compressed(image_msg("rgb8", rgb))
    np.testing.assert_array_equal(arr, rgb)
    png = compressed_msg("png", rgb[:, :, ::-1].copy(), ".png")
    arr, enc = mf.decode_image_message(png)
    assert enc == "bgr8" and mf.is_compressed(png)
    np.testing.assert_array_equal(arr[:, :, ::-1], rgb)


def test_frame_carries_depth_and_pose_when_given():
    depth = np.full((H, W), 1.5, np.float32)
    pose = make_pose(rz(10), [1, 2, 3])
    frame = mf.frame_from_image_message(image_msg("rgb8", rgb_pattern()), CAM, depth_m=depth,
                                        map_from_cam=pose)
    assert frame.depth_m is depth and frame.map_from_cam is pose
    assert mf.frame_from_image_message(image_msg("rgb8", rgb_pattern()), None).intrinsics is None


def test_intrinsics_cache_converts_again_only_on_change():
    info = NS(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1],
              d=array.array("d", [0.0] * 5), distortion_model="plumb_bob", header=header())
    cache = mf.IntrinsicsCache()
    first = cache(info)
    assert cache(NS(**vars(info))) is first              # same fields, another message
    info.k = [12.0, 0, 3.5, 0, 12.0, 2.5, 0, 0, 1]
    second = cache(info)
    assert second is not first and second.K[0, 0] == 12.0
    info.k = [0.0] * 9
    with pytest.raises(InputError, match="uncalibrated"):
        cache(info)
    # a failed conversion leaves the last good one cached
    assert cache(NS(**{**vars(info), "k": second.K.reshape(-1).tolist()})) is second


def test_intrinsics_cache_converts_again_when_binning_or_roi_change():
    """A driver that moves its ROI or changes binning at runtime can keep the published image
    size: the cached principal point must not outlive the change (a fresh reviewer found it
    did: the pose came out biased, silently)."""
    def info(roi_xy, binning=0):
        return NS(width=2 * W, height=2 * H, k=[10.0, 0, 7.5, 0, 10.0, 5.5, 0, 0, 1],
                  d=array.array("d", [0.0] * 5), distortion_model="plumb_bob", header=header(),
                  binning_x=binning, binning_y=binning,
                  roi=NS(x_offset=roi_xy[0] if roi_xy else 0,
                         y_offset=roi_xy[1] if roi_xy else 0, width=W if roi_xy else 0,
                         height=H if roi_xy else 0, do_rectify=bool(roi_xy)))
    cache = mf.IntrinsicsCache()
    a = cache(info((0, 0)))
    b = cache(info((W // 2, H // 2)))  # the same W x H image, another window
    assert (a.width, a.height) == (b.width, b.height) == (W, H)
    assert b.K[0, 2] == pytest.approx(a.K[0, 2] - W // 2)
    assert b.K[1, 2] == pytest.approx(a.K[1, 2] - H // 2)
    assert cache(info((0, 0))).K[0, 2] == a.K[0, 2]
    c = cache(info(None, binning=2))  # full frame binned 2x2: W x H again
    assert (c.width, c.height) == (W, H) and c.K[0, 0] == pytest.approx(5.0)
    only_y = info(None, binning=2)  # then binning_y alone changes: fy and cy with it
    only_y.binning_y = 1
    d = cache(only_y)
    assert d.height == 2 * H and d.K[1, 1] == pytest.approx(10.0) and d.K[0, 0] == c.K[0, 0]


def _rect_info(**over):
    f = dict(width=W, height=H, k=[10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1],
             d=np.array([0.1, -0.05, 0.0, 0.0, 0.01]), distortion_model="plumb_bob",
             header=header(), binning_x=0, binning_y=0,
             roi=NS(x_offset=0, y_offset=0, width=0, height=0, do_rectify=False),
             r=np.eye(3).reshape(-1), p=np.array([9.0, 0, 3.0, 0, 0, 9.5, 2.0, 0, 0, 0, 1, 0]))
    f.update(over)
    return NS(**f)


def test_rectified_streams_use_p_without_distortion():
    """parameter image_rectified: image_geometry's rectified model (P, no distortion); the
    CameraInfo beside image_rect is the raw camera's (K, D)."""
    info = _rect_info()
    raw = mf.camera_info_to_intrinsics(info)
    rect = mf.camera_info_to_intrinsics(info, rectified=True)
    assert raw.K[0, 0] == 10.0 and np.any(raw.dist)
    np.testing.assert_array_equal(rect.K, [[9.0, 0, 3.0], [0, 9.5, 2.0], [0, 0, 1]])
    assert not np.any(rect.dist)
    binned = mf.camera_info_to_intrinsics(_rect_info(width=2 * W, height=2 * H, binning_x=2,
                                                     binning_y=2), rectified=True)
    assert binned.K[0, 0] == 4.5 and (binned.width, binned.height) == (W, H)
    only_x = mf.camera_info_to_intrinsics(_rect_info(width=2 * W, binning_x=2), rectified=True)
    assert (only_x.width, only_x.height) == (W, H) and only_x.K[1, 1] == 9.5
    # an unset (all-zero) R and a ROI that is the whole image are no rectification / no ROI
    full = NS(x_offset=0, y_offset=0, width=W, height=H, do_rectify=False)
    for over in (dict(r=np.zeros(9)), dict(roi=full)):
        same = mf.camera_info_to_intrinsics(_rect_info(**over), rectified=True)
        np.testing.assert_array_equal(same.K, rect.K)
    cache = mf.IntrinsicsCache()  # rclpy's numpy-array fields, and the flag in the key
    assert cache(info).K[0, 0] == 10.0
    assert cache(info, rectified=True).K[0, 0] == 9.0
    assert cache(info).K[0, 0] == 10.0


@pytest.mark.parametrize("over, words", [
    (dict(r=np.array([0, -1.0, 0, 1, 0, 0, 0, 0, 1])), "R is not the identity"),
    (dict(p=np.array([9.0, 0, 3.0, -0.9, 0, 9.5, 2.0, 0, 0, 0, 1, 0])), "fourth column"),
    (dict(p=np.array([9.0, 0, 3.0, 0, 0, 9.5, 2.0, 0.7, 0, 0, 1, 0])), "fourth column"),  # Ty
    (dict(p=np.array([9.0, 0, 3.0, 0, 0, 9.5, 2.0, 0, 0, 0, 1, 0.1])), "fourth column"),  # Tz
    (dict(p=np.zeros(12)), "no positive focal length"),
    (dict(p=np.array([9.0, 0, 3.0, 0, 0, 0, 2.0, 0, 0, 0, 1, 0])), "no positive focal length"),
    (dict(r=Rotation.from_euler("y", 1, degrees=True).as_matrix().reshape(-1)),
     "R is not the identity"),  # a 1 degree rectifying rotation is still one
    (dict(p=np.zeros(9)), "P must have 12 values"),
    (dict(roi=NS(x_offset=1, y_offset=0, width=4, height=4, do_rectify=True)),
     "region of interest"),
])
def test_rectified_streams_refuse_what_would_put_the_pose_elsewhere(over, words):
    with pytest.raises(InputError, match=words):
        mf.camera_info_to_intrinsics(_rect_info(**over), rectified=True)


def test_twelve_bit_data_in_16_bit_images_is_warned_once_per_stream(caplog, monkeypatch):
    """A 12-bit camera publishing mono16 gives pictures at most 16/255 bright after cv_bridge's
    scaling (kept): one warning per frame_id and encoding says so and how to fix it; full-range
    16-bit data and 8-bit data say nothing."""
    from mast3r_ros.core.image_codec import raw
    from mast3r_ros.core.message_fields import frame_from_image_message

    monkeypatch.setattr(raw, "_LOW_BIT_DEPTH_CHECKED", SaidOnce())

    def msg(values, encoding="mono16", frame_id="cam12"):
        a = np.asarray(values, dtype="<u2" if encoding.endswith("16") else np.uint8)
        return NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding=encoding,
                  height=a.shape[0], width=a.shape[1], step=a.shape[1] * a.itemsize,
                  is_bigendian=0, data=a.tobytes())

    twelve = np.arange(24).reshape(4, 6) * 170  # max 3910 < 4096
    with caplog.at_level("WARNING", logger="mast3r_ros.core.image_codec"):
        frames = [frame_from_image_message(msg(twelve), None) for _ in range(3)]
        assert frames[0].rgb.max() <= 16  # cv_bridge's scaling, unchanged
        assert len(caplog.records) == 1, caplog.text
        text = caplog.records[0].getMessage()
        assert "mono16 images of frame_id 'cam12'" in text and "10/12-bit" in text
        assert "full 16-bit range" in text
        frame_from_image_message(msg(twelve, frame_id="other"), None)
        assert len(caplog.records) == 2  # another stream: its own warning
        frame_from_image_message(msg(twelve * 16, frame_id="full"), None)  # 16-bit range
        frame_from_image_message(msg(np.full((4, 6), 200), "mono8", "eight"), None)
        assert len(caplog.records) == 2, caplog.text
    # each stream is judged on its first 16-bit image (no per-frame pass over the pixels),
    # known by its frame_id without numbers (a driver's counter in it is still one stream)
    assert set(raw._LOW_BIT_DEPTH_CHECKED) == {
        "mono16 images of frame_id 'cam#'", "mono16 images of frame_id 'other'",
        "mono16 images of frame_id 'full'"}


@pytest.mark.parametrize("stamp", [12.5, 1.7, 2.0, True, "5"])
def test_ns_to_stamp_refuses_what_is_not_integer_nanoseconds(stamp):
    """A float was truncated as nanoseconds: 12.5 (seconds, most likely) became (0, 12)."""
    with pytest.raises(InputError, match="integer number of nanoseconds"):
        mf.ns_to_stamp(stamp)


def test_ns_to_stamp_takes_numpy_integers_and_refuses_what_time_cannot_hold():
    assert mf.ns_to_stamp(np.int64(1_250_000_000)) == (1, 250_000_000)
    last = (2**31 - 1) * mf.NS_PER_S + mf.NS_PER_S - 1
    assert mf.ns_to_stamp(last) == (2**31 - 1, mf.NS_PER_S - 1)
    with pytest.raises(InputError, match="int32"):
        mf.ns_to_stamp(last + 1)                         # sec 2**31 does not fit Time.sec
    with pytest.raises(InputError, match="negative"):
        mf.ns_to_stamp(np.int64(-1))


@pytest.mark.parametrize("sec,nanosec,words", [
    (1.9, 0, ("sec", "integer")),                        # was truncated to 1 s
    (1, 0.5, ("nanosec", "integer")),
    (True, 0, ("sec", "integer")),
    (1, -1, ("nanosec", "unsigned")),
    (2**31, 0, ("sec", "int32")),
    (-2**31 - 1, 0, ("sec", "int32")),
])
def test_stamp_to_ns_refuses_fields_builtin_interfaces_time_cannot_hold(sec, nanosec, words):
    with pytest.raises(InputError) as err:
        mf.stamp_to_ns(sec, nanosec)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_stamp_to_ns_takes_numpy_integers_and_the_int32_range():
    assert mf.stamp_to_ns(np.int32(3), np.uint32(7)) == 3_000_000_007
    assert type(mf.stamp_to_ns(np.int32(3), np.uint32(7))) is int
    assert mf.stamp_to_ns(2**31 - 1, 999_999_999) == 2**31 * mf.NS_PER_S - 1
    assert mf.stamp_to_ns(-2**31, 0) == -2**31 * mf.NS_PER_S


def test_header_stamp_with_nanosec_past_a_second_is_carried():
    """A driver's rounding (nanosec 1e9 or more) is carried into the seconds, as before: a
    recording holding one such stamp was refused whole, naming no bag (a regression review's
    find)."""
    assert mf.header_stamp_ns(header(sec=3, nanosec=1_000_000_000)) == 4 * mf.NS_PER_S
    assert mf.stamp_to_ns(1, 2_500_000_000) == 3_500_000_000


def _scaled():
    T = make_pose(rz(30.0), [1.0, 2.0, 3.0])
    T[:3, :3] *= 1.5
    return T


def _bottom_row():
    T = np.eye(4)
    T[3] = [1, 0, 0, 1]
    return T


@pytest.mark.parametrize("pose,words", [
    (np.diag([1.0, 1, -1, 1]), ("rigid", "determinant -1")),   # scipy's ValueError before
    (_scaled(), ("rigid", "not orthonormal")),                  # accepted before
    (_bottom_row(), ("rigid", "last row [1.0, 0.0, 0.0, 1.0]")),  # ignored before
])
def test_matrix_to_tq_refuses_a_pose_that_is_not_rigid(pose, words):
    with pytest.raises(InputError) as err:
        mf.matrix_to_tq(pose)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_matrix_to_tq_takes_a_pose_rigid_within_the_projects_tolerance():
    T = make_pose(rz(30.0), [1.0, 2.0, 3.0])
    T[:3, :3] *= 1 + 1e-6                                   # float drift of composed poses
    t, q = mf.matrix_to_tq(T)
    np.testing.assert_allclose(t, [1, 2, 3])
    assert abs(np.linalg.norm(q) - 1) < 1e-12


def test_a_near_zero_quaternion_is_told_by_its_norm():
    """[0, 0, 0, 1e-7] was told 'all zeros'."""
    with pytest.raises(InputError) as err:
        mf.tq_to_matrix([0, 0, 0], [0, 0, 0, 1e-7])
    msg = str(err.value)
    assert "norm" in msg and "1e-07" in msg and "near zero" in msg and "all zeros" not in msg


@pytest.mark.parametrize("t,q,words", [
    ([0, 0, 0], [0, 0, 1], ("quaternion", "(x, y, z, w)", "got 3")),     # numpy ValueError
    ([0, 0, 0], [0, 0, 0, 0, 1], ("quaternion", "(x, y, z, w)", "got 5")),
    ([0, 0], [0, 0, 0, 1], ("translation", "(x, y, z)", "got 2")),
    ([0, 0, 0], ["a", 0, 0, 1], ("quaternion", "(x, y, z, w)", "numbers")),
])
def test_tq_of_another_length_is_an_input_error_naming_the_layout(t, q, words):
    with pytest.raises(InputError) as err:
        mf.tq_to_matrix(t, q)
    assert all(w in str(err.value) for w in words), str(err.value)


@pytest.mark.parametrize("given, name", [("/map", "map"), (" /map ", "map"), ("/ /map", "map"),
                                         ("//map", "map"), ("\t/map\n", "map"), ("/", ""),
                                         ("map", "map"), ("a/b", "a/b")])
def test_tf2_frame_name_is_what_a_legacy_map_frame_was_meant_as(given, name):
    from mast3r_ros.core.message_fields import frame_id_problem, tf2_frame_name

    assert tf2_frame_name(given) == name
    assert not name or frame_id_problem(name) == ""


def test_a_16uc1_image_given_as_colour_is_warned_about_as_depth_once(monkeypatch, caplog):
    """A depth topic passed as the image topic (16UC1, REP-118's depth encoding) read as a dark
    grey picture with no word (depth in mm mostly exceeds 4096, so the 10/12-bit warning is
    silent too): every frame failed 'too few features in the query image'."""
    from types import SimpleNamespace as NS

    from mast3r_ros.core import message_fields
    from mast3r_ros.core.message_fields import frame_from_image_message

    monkeypatch.setattr(message_fields, "_DEPTH_ENCODED_FRAME_IDS", SaidOnce())

    def msg(encoding, frame_id="cam"):
        a = np.full((4, 6), 2500, dtype="<u2")
        a[0, 0] = 9000
        return NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding=encoding,
                  height=4, width=6, step=12, is_bigendian=0, data=a.tobytes())

    with caplog.at_level("WARNING", logger="mast3r_ros.core.message_fields"):
        for _ in range(3):
            frame_from_image_message(msg("16UC1"), None)
        frame_from_image_message(msg("mono16", "grey"), None)  # a grey camera: no warning
    warned = [r.getMessage() for r in caplog.records if "REP-118" in r.getMessage()]
    assert len(warned) == 1, caplog.text
    assert "frame_id 'cam'" in warned[0] and "depth topic" in warned[0]


def test_a_rectified_read_is_not_refused_for_a_malformed_k_it_does_not_use():
    """The image-topic name check (`rectification_mismatch`) reads K and D, which a rectified
    read does not: a malformed K there gives no warning and no refusal of its own."""
    info = NS(width=8, height=6, binning_x=0, binning_y=0, roi=None, distortion_model="plumb_bob",
              k=["x"] * 9, d=[0.1, 0, 0, 0, 0], r=[1.0, 0, 0, 0, 1, 0, 0, 0, 1],
              p=[28.0, 0, 4, 0, 0, 29.0, 3, 0, 0, 0, 1, 0])
    cam = mf.IntrinsicsCache("/cam/camera_info", image_topic="/cam/image_raw")(
        info, rectified=True)
    assert cam.K[0, 0] == 28.0
    assert mf.rectification_mismatch("/cam/image_raw", info, True) == ""


def test_an_image_topic_name_is_checked_against_the_models_of_k_d_and_p():
    """`rectification_mismatch`: image_color and image_mono are raw streams as image_raw is; a
    non-zero D alone, or a P off K by more than 1e-3 px alone, makes the two models differ; a
    P of zeros (never rectified) is left to the conversion."""
    k = [28.0, 0, 14.5, 0, 29.0, 11.0, 0, 0, 1]
    p_is_k = [28.0, 0, 14.5, 0, 0, 29.0, 11.0, 0, 0, 0, 1, 0]

    def info(d=(0.0,) * 5, p=p_is_k):
        return NS(k=list(k), d=list(d), p=list(p))

    distorted = info(d=(0.1, 0, 0, 0, 0))
    for topic in ("/cam/image_color", "/cam/image_mono", "/cam/image_raw"):
        why = mf.rectification_mismatch(topic, distorted, True)
        assert why.startswith(f"image topic {topic} is the unrectified image by its name"), why
        assert "(D [0.1, 0.0, 0.0, 0.0, 0.0])" in why
    assert mf.rectification_mismatch("/cam/image_raw", info(), True) == ""
    off = list(p_is_k)
    off[2] = 14.5 + 0.01  # cx 0.01 px off
    assert "P's fx fy cx cy 28 29 14.51 11" in mf.rectification_mismatch(
        "/cam/image_rect", info(p=off), False)
    assert mf.rectification_mismatch("/cam/image_raw", info(p=[0.0] * 12), True) == ""


def test_13_bit_data_is_warned_about_as_mono16_but_not_as_16uc1(monkeypatch, caplog):
    """`warn_low_bit_depth`'s 13/14-bit line is for grey cameras: 16UC1 (depth in mm, up to
    8.19 m below 8192) is warned about up to 12 bits only."""
    from mast3r_ros.core.image_codec import raw
    from mast3r_ros.core.message_fields import frame_from_image_message

    monkeypatch.setattr(raw, "_LOW_BIT_DEPTH_CHECKED", SaidOnce())
    a = (np.arange(24).reshape(4, 6) * 340).astype("<u2")  # max 7820 < 8192: 13-bit

    def msg(encoding, frame_id):
        return NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding=encoding,
                  height=4, width=6, step=12, is_bigendian=0, data=a.tobytes())

    with caplog.at_level("WARNING", logger="mast3r_ros.core.image_codec"):
        frame_from_image_message(msg("16UC1", "depth13"), None)
        frame_from_image_message(msg("mono16", "grey13"), None)
    low = [r.getMessage() for r in caplog.records if "16-bit pixel values" in r.getMessage()]
    assert len(low) == 1 and "grey13" in low[0] and "13/14-bit" in low[0], low
