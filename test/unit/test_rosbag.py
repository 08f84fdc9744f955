"""Tests of the rosbag2 reader on tiny bags written into tmp_path (mcap and sqlite3)."""

from __future__ import annotations

import array
from pathlib import Path
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

# rosbags is a pip-only requirement: a ROS machine's `colcon test` runs without it
pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from mast3r_ros.core import message_fields  # noqa: E402
from mast3r_ros.core.config import PoseAtStampConfig  # noqa: E402
from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.sources import open_source  # noqa: E402

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
S = 1_000_000_000
MS = 1_000_000
W, H = 8, 6
STORAGES = [StoragePlugin.MCAP, StoragePlugin.SQLITE3]
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)


def header(stamp_ns: int, frame_id: str = "camera_optical"):
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // S, nanosec=stamp_ns % S)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def image(stamp_ns, encoding, array, bigendian=False, pad=0, frame_id="camera_optical"):
    dtype = array.dtype.newbyteorder(">" if bigendian else "<")
    rows = np.ascontiguousarray(array.astype(dtype)).reshape(array.shape[0], -1).view(np.uint8)
    data = np.concatenate([rows, np.zeros((rows.shape[0], pad), np.uint8)], axis=1)
    return T["sensor_msgs/msg/Image"](
        header=header(stamp_ns, frame_id), height=array.shape[0], width=array.shape[1],
        encoding=encoding, is_bigendian=int(bigendian), step=data.shape[1], data=data.reshape(-1),
    )


def compressed(stamp_ns, fmt, array):
    ok, buf = cv2.imencode(".jpg" if "jpeg" in fmt else ".png", array)
    assert ok
    return T["sensor_msgs/msg/CompressedImage"](
        header=header(stamp_ns), format=fmt, data=buf.reshape(-1)
    )


def camera_info(stamp_ns, fx=30.0, width=W, height=H):
    k = np.array([fx, 0, (width - 1) / 2, 0, fx, (height - 1) / 2, 0, 0, 1], dtype=np.float64)
    roi = T["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(stamp_ns), height=height, width=width, distortion_model="plumb_bob",
        d=np.array([0.01, 0, 0, 0, 0], dtype=np.float64), k=k, r=np.eye(3).reshape(-1),
        p=np.zeros(12), binning_x=0, binning_y=0, roi=roi,
    )


def tf_message(transforms):
    """transforms: (parent, child, stamp_ns, 4x4 parent_from_child)."""
    out = []
    for parent, child, stamp_ns, pose in transforms:
        q = Rotation.from_matrix(pose[:3, :3]).as_quat()
        transform = T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](*pose[:3, 3]),
            rotation=T["geometry_msgs/msg/Quaternion"](*q),
        )
        out.append(T["geometry_msgs/msg/TransformStamped"](
            header=header(stamp_ns, parent), child_frame_id=child, transform=transform
        ))
    return T["tf2_msgs/msg/TFMessage"](transforms=out)


def write_bag(path: Path, storage, messages, empty_topics=(), corrupt=(), bad_stamp=()) -> Path:
    """messages: (topic, bag_time_ns, msg); empty_topics: (topic, msgtype) without messages;
    corrupt: (topic, bag_time_ns) of messages written cut short (CDR that cannot be
    deserialized, its header stamp intact); bad_stamp: likewise, their header seconds
    overwritten too (2**31 - 1: a damaged stamp)."""
    writer = Writer(path, version=9, storage_plugin=storage)
    with writer:
        conns = {}
        for topic, msgtype in empty_topics:
            writer.add_connection(topic, msgtype, typestore=TS)
        for topic, bag_time, msg in messages:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            raw = bytes(TS.serialize_cdr(msg, msg.__msgtype__))
            if (topic, bag_time) in bad_stamp:
                raw = raw[:4] + (2 ** 31 - 1).to_bytes(4, "little") + raw[8:]
            writer.write(conns[topic], bag_time, raw[:30] if (topic, bag_time) in {
                *corrupt, *bad_stamp} else raw)
    return path


def pose(rotvec, t) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    out[:3, 3] = t
    return out


BASE_FROM_CAM = pose([-np.pi / 2, 0, -np.pi / 2], [0.1, 0, 0.5])
MAP_FROM_BASE_0 = pose([0, 0, 0], [0, 0, 0])
MAP_FROM_BASE_1 = pose([0, 0, 0.3], [0.3, 0, 0])
LATE = 500 * MS  # the bag receives messages long after their header stamps
SPARSE_TF = PoseAtStampConfig(max_gap_s=0.5)  # the tf below is sampled 0.3 s apart


def rgbd_messages():
    """Images at 1.0, 1.1, 1.2, 1.4 s; CameraInfo at 0.9 s (fx 30) and 1.15 s (fx 31); depth at
    1.005 and 1.19 s written even later than the images; tf from 0.95 to 1.25 s."""
    msgs = []
    for i, t in enumerate([1000 * MS, 1100 * MS, 1200 * MS, 1400 * MS]):
        msgs.append(("/camera/color/image_raw", t + LATE, image(t, "rgb8", RGB // (i + 1))))
    for t, fx in [(900 * MS, 30.0), (1150 * MS, 31.0)]:
        msgs.append(("/camera/color/camera_info", t + LATE, camera_info(t, fx)))
        msgs.append(("/camera/depth/camera_info", t + LATE, camera_info(t, 50.0)))
    for t, mm in [(1005 * MS, 1000), (1190 * MS, 2000)]:
        depth = np.full((H, W), mm, np.uint16)
        depth[0, 0] = 0
        msgs.append(("/camera/depth/image_rect_raw", t + 2 * LATE, image(t, "16UC1", depth)))
    static = [("base_link", "camera_optical", 0, BASE_FROM_CAM)]
    msgs.append(("/tf_static", 0, tf_message(static)))
    for t, p in [(950 * MS, MAP_FROM_BASE_0), (1250 * MS, MAP_FROM_BASE_1)]:
        msgs.append(("/tf", t, tf_message([("map", "base_link", t, p)])))
    return sorted(msgs, key=lambda m: m[1])


@pytest.fixture(params=STORAGES, ids=["mcap", "sqlite3"])
def rgbd_bag(request, tmp_path):
    return write_bag(tmp_path / "bag", request.param, rgbd_messages())


def test_rgbd_bag_frames(rgbd_bag):
    seq = BagSequence(
        rgbd_bag, depth_topic="/camera/depth/image_rect_raw", pose_frames="map:camera_optical",
        pose_at_stamp=SPARSE_TF,
    )
    assert seq.image_topic == "/camera/color/image_raw"
    assert seq.camera_info_topic == "/camera/color/camera_info"  # same namespace as the image
    assert len(seq) == 4
    np.testing.assert_array_equal(seq.stamps_ns, [1000 * MS, 1100 * MS, 1200 * MS, 1400 * MS])
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == seq.stamps_ns.tolist()  # header stamps, not bag time
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.rgb, RGB // (i + 1))
        assert frame.frame_id == "camera_optical"
    assert [f.intrinsics.K[0, 0] for f in frames] == [30.0, 30.0, 31.0, 31.0]
    np.testing.assert_allclose(frames[0].intrinsics.dist, [0.01, 0, 0, 0, 0])
    assert np.isnan(frames[0].depth_m[0, 0]) and frames[0].depth_m.dtype == np.float32
    np.testing.assert_allclose(frames[0].depth_m[1:, 1:], 1.0)
    assert frames[1].depth_m is None and frames[3].depth_m is None
    np.testing.assert_allclose(frames[2].depth_m[1:, 1:], 2.0)
    # map_from_cam interpolated at 1.1 s between tf samples at 0.95 and 1.25 s
    map_from_base = pose([0, 0, 0.15], [0.15, 0, 0])
    np.testing.assert_allclose(frames[1].map_from_cam, map_from_base @ BASE_FROM_CAM, atol=1e-9)
    assert frames[3].map_from_cam is None  # 1.4 s is after the last tf sample


def test_recorded_frames_are_not_decoded(rgbd_bag, monkeypatch):
    """A resumed localize takes its recorded frames' results as they are: their image messages
    are neither decoded nor deserialized (``recorded``: stamp, CameraInfo and tf pose from the
    indexing pass; more in test_rosbag_recorded.py)."""
    from mast3r_ros.core.types import RecordedFrame
    from mast3r_ros.replay.rosbag import sequence

    seq = BagSequence(rgbd_bag, pose_frames="map:camera_optical", pose_at_stamp=SPARSE_TF)
    full = list(seq.frames_or_unreadable())
    real, decoded = sequence.frame_from_image_message, []

    def decode(msg, *a, **k):
        decoded.append(message_fields.header_stamp_ns(msg.header))
        return real(msg, *a, **k)

    monkeypatch.setattr(sequence, "frame_from_image_message", decode)
    got = list(seq.frames_or_unreadable(recorded={1000 * MS, 1200 * MS}))
    assert decoded == [1100 * MS, 1400 * MS]
    assert [type(f).__name__ for f in got] == ["RecordedFrame", "Frame"] * 2
    for f, g in zip(full, got):
        assert f.stamp_ns == g.stamp_ns and f.intrinsics == g.intrinsics
        np.testing.assert_array_equal(f.map_from_cam, g.map_from_cam)
    assert isinstance(got[2], RecordedFrame) and got[2].intrinsics.K[0, 0] == 31.0


def test_tf_gap_longer_than_max_gap_gives_no_pose(rgbd_bag):
    """The default rule interpolates across at most 0.1 s: tf 0.3 s apart gives a pose only to
    images within the 0.02 s tolerance of a sample (none here)."""
    seq = BagSequence(rgbd_bag, pose_frames="map:camera_optical")
    assert [f.map_from_cam for f in seq] == [None] * 4
    near = BagSequence(rgbd_bag, pose_frames="map:camera_optical",
                       pose_at_stamp=PoseAtStampConfig(tolerance_s=0.05))
    np.testing.assert_allclose(next(iter(near)).map_from_cam, MAP_FROM_BASE_0 @ BASE_FROM_CAM,
                               atol=1e-9)  # 1.0 s: the sample at 0.95 s, 0.05 s away


def test_iteration_is_repeatable_and_stoppable(rgbd_bag):
    seq = BagSequence(rgbd_bag, depth_topic="/camera/depth/image_rect_raw")
    first = next(iter(seq))
    assert first.map_from_cam is None  # no pose_frames
    assert len(list(seq)) == 4 and len(list(seq)) == 4


def test_pose_frames_parent_only_uses_header_frame(rgbd_bag):
    seq = BagSequence(rgbd_bag, pose_frames="map", sync_tolerance_s=0.1, pose_at_stamp=SPARSE_TF)
    frame = next(iter(seq))
    np.testing.assert_allclose(
        frame.map_from_cam, pose([0, 0, 0.05], [0.05, 0, 0]) @ BASE_FROM_CAM, atol=1e-9
    )


@pytest.mark.parametrize("pose_frames", ["camera_optical", "camera_optical:camera_optical"])
def test_pose_frames_naming_the_camera_frame_itself_is_refused(rgbd_bag, pose_frames):
    # a fresh user's `--pose-frames camera_optical` built a 1-keyframe map of identity poses
    seq = BagSequence(rgbd_bag, pose_frames=pose_frames, sync_tolerance_s=0.1,
                      pose_at_stamp=SPARSE_TF)
    with pytest.raises(InputError, match="is the camera frame itself .*identity: give the map "
                                         "frame first, e.g. --pose-frames map:camera_optical"):
        next(iter(seq))


def test_pose_frames_unknown_frame(rgbd_bag):
    seq = BagSequence(rgbd_bag, pose_frames="world:camera_optical")
    with pytest.raises(InputError, match="'world' is not in the transform tree"):
        next(iter(seq))


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_every_encoding(tmp_path, storage):
    """One topic whose messages use every raw encoding (with row padding and big-endian data),
    one CompressedImage topic (png, jpeg) and depth as 16UC1, 32FC1, png and compressedDepth."""
    grey = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    grey16 = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
    grey_rgb = np.repeat(grey[:, :, None], 3, axis=2)
    alpha = np.full((H, W, 1), 7, np.uint8)
    bgr = np.ascontiguousarray(RGB[:, :, ::-1])
    raw = [
        (lambda t: image(t, "rgb8", RGB, pad=2), RGB),
        (lambda t: image(t, "bgr8", bgr), RGB),
        (lambda t: image(t, "rgba8", np.concatenate([RGB, alpha], 2)), RGB),
        (lambda t: image(t, "bgra8", np.concatenate([bgr, alpha], 2), pad=4), RGB),
        (lambda t: image(t, "mono8", grey, pad=1), grey_rgb),
        (
            lambda t: image(t, "mono16", grey16, bigendian=True, pad=2),
            # cv_bridge's 16 -> 8 bit change: x 255/65535, rounded (issue 8)
            np.repeat(np.floor(grey16 * (255.0 / 65535.0) + 0.5).astype(np.uint8)[:, :, None],
                      3, axis=2),
        ),
        (lambda t: image(t, "8UC3", bgr), RGB),
        (lambda t: image(t, "8UC1", grey), grey_rgb),
    ]
    depth_mm = np.full((H, W), 1500, np.uint16)
    depth_m = np.full((H, W), 2.5, np.float32)
    depth_m[1, 2] = np.nan
    ok, png_mm = cv2.imencode(".png", depth_mm)
    compressed_depth = T["sensor_msgs/msg/CompressedImage"](
        header=header(S + 100 * MS), format="16UC1; compressedDepth png",
        data=np.concatenate([np.zeros(12, np.uint8), png_mm.reshape(-1)]),
    )
    stamps = [S + i * 100 * MS for i in range(len(raw))]
    msgs = [("/img", t, make(t)) for t, (make, _) in zip(stamps, raw)]
    msgs += [
        ("/img_c", S, compressed(S, "rgb8; png compressed bgr8", bgr)),
        ("/img_c", S + 100 * MS, compressed(S + 100 * MS, "jpeg", np.full((H, W, 3), 90, "u1"))),
        ("/depth", S, image(S, "16UC1", depth_mm, bigendian=True, pad=2)),
        ("/depth", S + 100 * MS, image(S + 100 * MS, "32FC1", depth_m, pad=4)),
        ("/depth_c", S, compressed(S, "16UC1; png compressed", depth_mm)),
        ("/depth_c", S + 100 * MS, compressed_depth),
    ]
    bag = write_bag(tmp_path / "bag", storage, sorted(msgs, key=lambda m: m[1]))
    intr = CameraIntrinsics(W, H, np.array([[10.0, 0, 3.5], [0, 10.0, 2.5], [0, 0, 1]]))

    frames = list(BagSequence(bag, image_topic="/img", depth_topic="/depth", camera_info=intr))
    assert len(frames) == len(raw)
    for frame, (_, expected) in zip(frames, raw):
        np.testing.assert_array_equal(frame.rgb, expected)
    np.testing.assert_allclose(frames[0].depth_m, 1.5)
    np.testing.assert_allclose(frames[1].depth_m[np.isfinite(frames[1].depth_m)], 2.5)
    assert np.isnan(frames[1].depth_m[1, 2]) and np.isfinite(frames[1].depth_m).sum() == H * W - 1

    png, jpeg = BagSequence(bag, image_topic="/img_c", depth_topic="/depth_c", camera_info=intr)
    np.testing.assert_array_equal(png.rgb, RGB)
    assert np.abs(jpeg.rgb.astype(int) - 90).max() <= 2
    np.testing.assert_allclose(png.depth_m, 1.5)
    np.testing.assert_allclose(jpeg.depth_m, 1.5)


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_auto_detection_skips_depth_by_encoding(tmp_path, storage):
    msgs = [
        ("/cam/image", S, image(S, "bgr8", RGB[:, :, ::-1])),
        ("/ir/image", S, image(S, "16UC1", np.ones((H, W), np.uint16))),
        ("/cam/camera_info", S, camera_info(S)),
    ]
    seq = BagSequence(write_bag(tmp_path / "bag", storage, msgs))
    assert seq.image_topic == "/cam/image" and seq.camera_info_topic == "/cam/camera_info"
    np.testing.assert_array_equal(next(iter(seq)).rgb, RGB)


def test_auto_detection_ambiguous(tmp_path):
    msgs = [
        ("/left/image_raw", S, image(S, "rgb8", RGB)),
        ("/right/image_raw/compressed", S, compressed(S, "jpeg", RGB)),
        ("/left/camera_info", S, camera_info(S)),
    ]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    match = "several image topics: /left/image_raw, /right/image_raw/compressed; choose one with "
    several = r" \(one camera a run; a map of several cameras: .* merge-maps\)$"
    with pytest.raises(InputError, match=match + r"BagSequence\(image_topic=\.\.\.\)" + several):
        BagSequence(bag)  # the API's keyword; the CLI's flag alone (no API hint in its line):
    with pytest.raises(InputError, match=match + "--image-topic" + several):
        open_source(str(bag))
    seq = BagSequence(bag, image_topic="/right/image_raw/compressed")
    assert seq.camera_info_topic == "/left/camera_info"  # the only one


def test_camera_info_ambiguous_and_missing(tmp_path):
    msgs = [
        ("/cam/image", S, image(S, "rgb8", RGB)),
        ("/a/camera_info", S, camera_info(S)),
        ("/b/camera_info", S, camera_info(S)),
    ]
    bag = write_bag(tmp_path / "bag", StoragePlugin.SQLITE3, msgs)
    with pytest.raises(InputError, match=r"several CameraInfo topics.*choose one with "
                                         r"BagSequence\(camera_info_topic=\.\.\.\)$"):
        BagSequence(bag)
    with pytest.raises(InputError, match="several CameraInfo topics.*choose one with "
                                         "--camera-info-topic$"):
        open_source(str(bag))
    seq = BagSequence(bag, camera_info_topic="/b/camera_info")
    assert seq.camera_info_topic == "/b/camera_info"
    bag2 = write_bag(tmp_path / "bag2", StoragePlugin.MCAP, msgs[:1])
    with pytest.raises(InputError, match=r"no intrinsics: pass a camera_info topic \(BagSequ"
                                         r"ence\(camera_info_topic=\.\.\.\)\) or a camera_in"
                                         r"fo YAML \(BagSequence\(camera_info=load_camera_inf"):
        BagSequence(bag2)
    with pytest.raises(InputError, match=r"no intrinsics: pass a camera_info topic \(--camera-"
                                         r"info-topic\) or a camera_info YAML \(--camera-info\)$"):
        open_source(str(bag2))


def test_wrong_topic_names(rgbd_bag):
    with pytest.raises(InputError, match=r"(?s)'/nope' is not in .*/tf \[tf2_msgs/msg/TFMessage\]"):
        BagSequence(rgbd_bag, image_topic="/nope")
    with pytest.raises(InputError, match="depth topic '/cam' is not in"):
        BagSequence(rgbd_bag, depth_topic="/cam")
    with pytest.raises(InputError, match="has type sensor_msgs/msg/CameraInfo, expected"):
        BagSequence(rgbd_bag, image_topic="/camera/color/camera_info")
    with pytest.raises(InputError, match="pose_frames must be"):
        BagSequence(rgbd_bag, pose_frames=":camera")


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_empty_bag_and_empty_topic(tmp_path, storage):
    empty = write_bag(tmp_path / "empty", storage, [])
    with pytest.raises(InputError, match="contains no messages"):
        BagSequence(empty)
    bag = write_bag(
        tmp_path / "bag", storage, [("/cam/camera_info", S, camera_info(S))],
        empty_topics=[("/cam/image", "sensor_msgs/msg/Image")],
    )
    with pytest.raises(InputError, match="image topic '/cam/image' has no messages"):
        BagSequence(bag, image_topic="/cam/image")
    with pytest.raises(InputError, match="no colour image topic"):
        BagSequence(bag)
    with pytest.raises(InputError, match="cannot open rosbag2"):
        BagSequence(tmp_path / "does_not_exist")


def test_size_mismatch(tmp_path):
    msgs = [
        ("/cam/image", S, image(S, "rgb8", RGB)),
        ("/cam/camera_info", S, camera_info(S, width=2 * W, height=2 * H)),
    ]
    seq = BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs))
    with pytest.raises(InputError, match=f"/cam/image at t=1.000000 s: image is {W}x{H} but"):
        list(seq)


@pytest.mark.parametrize("binning, roi, says", [
    ((2, 2), (0, 0, 0, 0), "binning 2x2"), ((1, 0), (0, 0, W // 2, H // 2), "roi")])
def test_size_mismatch_from_binning_or_roi_says_so(tmp_path, binning, roi, says):
    # a driver that publishes the binned (or cropped) size and K and also sets binning / roi:
    # the image_geometry reduction applies twice, which the error must name, not blame the topic
    info = camera_info(S)
    info.binning_x, info.binning_y = binning
    info.roi.x_offset, info.roi.y_offset, info.roi.width, info.roi.height = roi
    msgs = [("/cam/image", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, info)]
    seq = BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs))
    with pytest.raises(InputError, match=f"image is {W}x{H} but") as err:
        list(seq)
    assert says in str(err.value) and f"CameraInfo {W}x{H}" in str(err.value)


def test_frames_or_unreadable_skips_an_undecodable_image_and_its_depth(tmp_path):
    """``localize`` reads a bag through ``frames_or_unreadable``: an image message that cannot
    be decoded, or whose matched depth cannot, is an UnreadableFrame naming the topic and stamp,
    and the frames after it are still read; plain iteration still stops at it."""
    from mast3r_ros.core.types import UnreadableFrame

    bad = compressed(2 * S, "jpeg", RGB[..., ::-1])
    bad.data = bad.data[:20]  # a JPEG cut short
    bad_depth = image(3 * S, "16UC1", np.full((H, W), 1000, np.uint16))
    bad_depth.encoding = "nv16"  # not an encoding here
    msgs = [("/cam/image", S, compressed(S, "jpeg", RGB[..., ::-1])),
            ("/cam/image", 2 * S, bad),
            ("/cam/image", 3 * S, compressed(3 * S, "jpeg", RGB[..., ::-1])),
            ("/cam/image", 4 * S, compressed(4 * S, "jpeg", RGB[..., ::-1])),
            ("/cam/depth", 3 * S, bad_depth),
            ("/cam/camera_info", S, camera_info(S))]
    seq = BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(
        msgs, key=lambda m: m[1])), image_topic="/cam/image", depth_topic="/cam/depth")
    got = list(seq.frames_or_unreadable())
    assert [f.stamp_ns for f in got] == [S, 2 * S, 3 * S, 4 * S]
    kinds = [isinstance(f, UnreadableFrame) for f in got]
    assert kinds == [False, True, True, False], got
    assert got[1].reason.startswith("/cam/image at t=2.000000 s:"), got[1].reason
    assert "/cam/image at t=3.000000 s: its depth" in got[2].reason, got[2].reason
    with pytest.raises(InputError, match="/cam/image at t=2.000000 s"):
        list(seq)


def test_an_unreadable_bag_frame_keeps_its_pose_and_pose_frames_errors_are_raised(tmp_path):
    """An unreadable frame of a bag had no pose, so it dropped out of the recall's frames with
    ground truth (recall 100 % where the TUM folder gave 92 %); a --pose-frames error was
    swallowed as ten 'unreadable frames' (a regression review's finds)."""
    from mast3r_ros.core.types import UnreadableFrame

    msgs = rgbd_messages()
    for topic, _, msg in msgs:
        if topic == "/camera/color/image_raw" and msg.header.stamp.nanosec == 100_000_000:
            msg.encoding = "nv16"  # the 1.1 s image cannot be decoded
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    got = list(BagSequence(bag, pose_frames="map:camera_optical",
                           pose_at_stamp=SPARSE_TF).frames_or_unreadable())
    assert [isinstance(f, UnreadableFrame) for f in got] == [False, True, False, False]
    map_from_base = pose([0, 0, 0.15], [0.15, 0, 0])  # as test_rgbd_bag_frames, readable
    np.testing.assert_allclose(got[1].map_from_cam, map_from_base @ BASE_FROM_CAM, atol=1e-9)
    for bad in ("world:camera_optical", "camera_optical"):
        seq = BagSequence(bag, pose_frames=bad, sync_tolerance_s=0.1, pose_at_stamp=SPARSE_TF)
        with pytest.raises(InputError, match="not in the transform tree|camera frame itself"):
            next(iter(seq.frames_or_unreadable()))


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_an_image_message_that_cannot_be_deserialized_is_an_unreadable_frame(tmp_path, storage,
                                                                            caplog):
    """A message whose CDR cannot be deserialized stopped localize (its header stamp is
    unknown): it is an unreadable frame like an undecodable one, stamped from its bag receive
    time less the receive latency of the image nearest it, with its tf ground truth at that
    stamp; the frames after it are read. Plain iteration refuses it up front."""
    import logging

    from mast3r_ros.core.types import UnreadableFrame

    color = "/camera/color/image_raw"
    # the 1.2 s image (its depth at 1.19 s matched to it), received at 1.7 s, is cut short,
    # its header stamp damaged too (else read from its first bytes: below)
    bag = write_bag(tmp_path / "bag", storage, rgbd_messages(),
                    bad_stamp={(color, 1200 * MS + LATE)})
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, depth_topic="/camera/depth/image_rect_raw", pose_frames="map",
                          pose_at_stamp=SPARSE_TF)
    warned = [r.getMessage() for r in caplog.records if "cannot be deserialized" in
              r.getMessage()]
    assert len(warned) == 1 and "1 image message on /camera/color/image_raw" in warned[0]
    assert len(seq) == 4
    np.testing.assert_array_equal(seq.stamps_ns, [1000 * MS, 1100 * MS, 1200 * MS, 1400 * MS])
    got = list(seq.frames_or_unreadable())
    assert [isinstance(f, UnreadableFrame) for f in got] == [False, False, True, False]
    assert [f.stamp_ns for f in got] == seq.stamps_ns.tolist()
    bad = got[2]
    assert bad.reason.startswith(f"{color}: the message received at bag time 1.700000 s could "
                                 "not be deserialized: "), bad.reason
    assert "taken as t=1.200000 s" in bad.reason, bad.reason
    # rosbags' message ends in a full stop: embedded mid-sentence, it read 'offset 8. (its ...'
    assert ". (its header stamp" not in bad.reason and " (its header stamp" in bad.reason, \
        bad.reason
    assert ".)" not in warned[0], warned[0]
    # tf at 1.2 s (0.95 .. 1.25 s samples), the camera frame_id of the images before it
    np.testing.assert_allclose(bad.map_from_cam, pose([0, 0, 0.25], [0.25, 0, 0]) @
                               BASE_FROM_CAM, atol=1e-9)
    np.testing.assert_array_equal(got[3].rgb, RGB // 4)
    with pytest.raises(InputError, match="bag time 1.700000 s, cannot be deserialized") as e:
        iter(seq)  # plain iteration: refused before any frame
    assert ".;" not in str(e.value), e.value
    # the first image cut short: the image topic is still detected (from the next message),
    # the frame stamped by the next image's latency and posed by its frame_id
    bag = write_bag(tmp_path / "bag1", storage, rgbd_messages(),
                    corrupt={(color, 1000 * MS + LATE)})
    got = list(BagSequence(bag, pose_frames="map", pose_at_stamp=SPARSE_TF
                           ).frames_or_unreadable())
    assert [isinstance(f, UnreadableFrame) for f in got] == [True, False, False, False]
    assert got[0].stamp_ns == 1000 * MS and "bag time 1.500000 s" in got[0].reason
    np.testing.assert_allclose(got[0].map_from_cam, pose([0, 0, 0.05], [0.05, 0, 0]) @
                               BASE_FROM_CAM, atol=1e-9)


def test_a_stride_neither_deserializes_nor_decodes_the_images_it_skips(tmp_path, monkeypatch):
    """localize --stride took every Nth frame of all the bag's frames, each deserialized and
    decoded: a skipped message that cannot be (cut short, a broken JPEG) was an unreadable
    frame of the run. Only the frames taken are read now, the same frames as before."""
    from mast3r_ros.core.types import UnreadableFrame
    from mast3r_ros.replay.rosbag import sequence
    from mast3r_ros.replay.sources import frames_or_unreadable, select_frames

    broken = compressed(2 * S, "jpeg", RGB[..., ::-1])
    broken.data = broken.data[:20]  # a JPEG cut short, at a skipped position
    msgs = [("/cam/image", t * S, broken if t == 2 else compressed(t * S, "jpeg", RGB[..., ::-1]))
            for t in range(1, 8)]
    msgs += [("/cam/depth", t * S, image(t * S, "16UC1", np.full((H, W), 1000, np.uint16)))
             for t in range(1, 8)] + [("/cam/camera_info", S, camera_info(S))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]),
                    corrupt={("/cam/image", 4 * S)})  # cannot be deserialized, skipped too
    seq = BagSequence(bag, image_topic="/cam/image", depth_topic="/cam/depth")
    for stride in (1, 2, 3, 4):
        for most in (0, 1, 2, 3):
            old = [(f.stamp_ns, isinstance(f, UnreadableFrame))
                   for f in select_frames(seq.frames_or_unreadable(), stride, most)]
            new = [(f.stamp_ns, isinstance(f, UnreadableFrame))
                   for f in frames_or_unreadable(seq, stride, most)]
            assert new == old, (stride, most)
    decoded, depth = [], []
    real_frame, real_depth = sequence.frame_from_image_message, BagSequence._decode_depth
    monkeypatch.setattr(sequence, "frame_from_image_message",
                        lambda msg, *a, **k: decoded.append(msg.header.stamp.sec) or real_frame(
                            msg, *a, **k))
    monkeypatch.setattr(BagSequence, "_decode_depth",
                        lambda self, msg: depth.append(msg.header.stamp.sec) or real_depth(
                            self, msg))
    got = list(frames_or_unreadable(seq, 2, 0))
    assert [f.stamp_ns for f in got] == [S, 3 * S, 5 * S, 7 * S]
    assert not any(isinstance(f, UnreadableFrame) for f in got)
    assert decoded == [1, 3, 5, 7] and depth == [1, 3, 5, 7]
    np.testing.assert_allclose(got[1].depth_m[1:, 1:], 1.0)
    decoded.clear()
    assert [f.stamp_ns for f in frames_or_unreadable(seq, 3, 2)] == [S, 4 * S]
    assert decoded == [1]  # the 4 s image is unreadable, and nothing after it is read


def test_localize_reads_no_query_depth_from_a_bag(tmp_path, caplog):
    """A bag's undecodable depth message cost its image the frame in localize, which uses no
    query depth (TUM folders were already read without it; a regression review's find)."""
    import logging

    from mast3r_ros.replay.sources import SourceOptions, open_source

    bad_depth = image(S, "16UC1", np.full((H, W), 1000, np.uint16))
    bad_depth.encoding = "nv16"
    msgs = [("/cam/image", S, compressed(S, "jpeg", RGB[..., ::-1])),
            ("/cam/depth", S, bad_depth), ("/cam/camera_info", S, camera_info(S))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        seq = open_source(str(bag), SourceOptions(image_topic="/cam/image",
                                                  depth_topic="/cam/depth", read_depth=False),
                          PoseAtStampConfig())
    (frame,) = list(seq.frames_or_unreadable())
    assert frame.depth_m is None and frame.stamp_ns == S
    assert any("--depth-topic /cam/depth is not read" in r.getMessage() for r in caplog.records)
    seq = open_source(str(bag), SourceOptions(image_topic="/cam/image", depth_topic="/cam/depth"),
                      PoseAtStampConfig())  # build-map: read, and its frame unreadable
    with pytest.raises(InputError, match="nv16"):
        list(seq)
    (frame,) = list(seq.frames_or_unreadable())
    assert "nv16" in frame.reason and frame.stamp_ns == S


def test_uncalibrated_camera_info(tmp_path):
    info = camera_info(S)
    info.k[:] = 0.0
    msgs = [("/cam/image", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, info)]
    with pytest.raises(InputError, match="CameraInfo on /cam/camera_info.*uncalibrated"):
        BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs))


def test_a_camera_info_with_p_but_no_k_in_a_bag_names_image_rectified(tmp_path):
    """K all zero with P set: read with P when image_rectified is set; else one error naming P,
    image_rectified and --camera-info (no second --camera-info hint after it)."""
    info = camera_info(S)
    info.k[:] = 0.0
    info.p[:] = [28.0, 0, 14.5, 0, 0, 29.0, 11.0, 0, 0, 0, 1, 0]
    msgs = [("/cam/image_raw", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, info)]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    with pytest.raises(InputError) as e:
        BagSequence(bag)
    text = str(e.value)
    assert text.startswith("CameraInfo on /cam/camera_info at t=1.000000 s: CameraInfo K is all "
                           "zeros but P is set (fx 28 fy 29 cx 14.5 cy 11)"), text
    assert "set image_rectified: true" in text and text.count("--camera-info") == 1, text
    (frame,) = list(BagSequence(bag, image_rectified=True))
    assert frame.intrinsics.K[0, 0] == 28.0 and not np.any(frame.intrinsics.dist)


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_reads_a_bare_storage_file(tmp_path, storage):
    bag = write_bag(tmp_path / "bag", storage, rgbd_messages())
    (storage_file,) = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    (bag / "metadata.yaml").unlink()
    assert len(BagSequence(storage_file)) == 4


def _as_rclpy(msg):
    """The same fields as an rclpy message carries them (lists, ``array('B')`` data)."""
    fields = {}
    for name in msg.__dataclass_fields__:
        value = getattr(msg, name)
        if name == "data":
            value = array.array("B", bytes(value))
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif hasattr(value, "__dataclass_fields__") and name != "__msgtype__":
            value = _as_rclpy(value)
        fields[name] = value
    return NS(**fields)


@pytest.mark.parametrize("kind", ["raw", "compressed"])
def test_bag_reader_and_node_read_the_same_fields_into_the_same_frame(tmp_path, kind):
    bgr = RGB[:, :, ::-1].copy()
    msg = (image(1000 * MS, "bgr8", bgr, pad=3) if kind == "raw"
           else compressed(1000 * MS, "bgr8; png compressed bgr8", bgr))
    info = camera_info(900 * MS)
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP,
                    [("/cam/info", 0, info), ("/cam/image", 1, msg)])
    (from_bag,) = list(BagSequence(bag))
    node_msg, node_info = _as_rclpy(msg), _as_rclpy(info)
    assert isinstance(node_msg.data, array.array) and isinstance(node_info.k, list)
    from_node = message_fields.frame_from_image_message(
        node_msg, message_fields.IntrinsicsCache()(node_info))
    np.testing.assert_array_equal(from_bag.rgb, RGB)
    np.testing.assert_array_equal(from_node.rgb, from_bag.rgb)
    assert (from_node.stamp_ns, from_node.frame_id) == (from_bag.stamp_ns, from_bag.frame_id)
    a, b = from_node.intrinsics, from_bag.intrinsics
    assert (a.width, a.height, a.distortion_model) == (b.width, b.height, b.distortion_model)
    np.testing.assert_array_equal(a.K, b.K)
    np.testing.assert_array_equal(a.dist, b.dist)


def _second_run():
    """A second run after a clock reset: received 10 s later, header stamps from 1.0 s again;
    3 images (darker), depth 3 m, the robot elsewhere (tf 1 m further along x)."""
    shift = pose([0, 0, 0], [1.0, 0, 0])
    msgs = []
    for i, t in enumerate([1000 * MS, 1100 * MS, 1200 * MS]):
        msgs.append(("/camera/color/image_raw", 10 * S + t + LATE,
                     image(t, "rgb8", RGB // (i + 5))))
    msgs.append(("/camera/color/camera_info", 10 * S + 900 * MS + LATE,
                 camera_info(900 * MS, 40.0)))
    msgs.append(("/camera/depth/image_rect_raw", 10 * S + 1005 * MS + 2 * LATE,
                 image(1005 * MS, "16UC1", np.full((H, W), 3000, np.uint16))))
    for t, p in [(950 * MS, MAP_FROM_BASE_0), (1250 * MS, MAP_FROM_BASE_1)]:
        msgs.append(("/tf", 10 * S + t, tf_message([("map", "base_link", t, shift @ p)])))
    return msgs


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_header_time_jumping_back_splits_the_bag_into_runs(tmp_path, storage, caplog):
    """Issue 8 (bag-time-jump): nothing is associated or interpolated across the reset."""
    bag = write_bag(tmp_path / "bag", storage,
                    sorted(rgbd_messages() + _second_run(), key=lambda m: m[1]))
    kw = dict(depth_topic="/camera/depth/image_rect_raw", pose_frames="map:camera_optical",
              pose_at_stamp=SPARSE_TF, camera_info_topic="/camera/color/camera_info")
    with caplog.at_level("WARNING"):
        seq = BagSequence(bag, **kw)
    (warn,) = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert "2 runs" in warn and "1: 4 images" in warn and "2: 3 images" in warn
    assert "reading run 1 only" in warn and "--run" in warn
    assert seq.run == 1 and len(seq) == 4 and [c for c, _, _ in seq.runs] == [4, 3]
    frames = list(seq)
    np.testing.assert_array_equal(frames[1].rgb, RGB // 2)
    np.testing.assert_allclose(frames[0].depth_m[1:, 1:], 1.0)  # not run 2's 3 m
    assert [f.intrinsics.K[0, 0] for f in frames] == [30.0, 30.0, 31.0, 31.0]
    map_from_base = pose([0, 0, 0.15], [0.15, 0, 0])  # run 1's tf only
    np.testing.assert_allclose(frames[1].map_from_cam, map_from_base @ BASE_FROM_CAM, atol=1e-9)

    caplog.clear()
    with caplog.at_level("INFO"):
        second = list(BagSequence(bag, run=2, **kw))
    # the run was chosen by the user: the runs are listed at INFO, not warned of
    (said,) = [r for r in caplog.records if "jumps back" in r.getMessage()]
    assert said.levelname == "INFO" and "reading run 2 only, as asked" in said.getMessage()
    assert len(second) == 3
    np.testing.assert_array_equal(second[0].rgb, RGB // 5)
    np.testing.assert_allclose(second[0].depth_m, 3.0)
    assert [f.intrinsics.K[0, 0] for f in second] == [40.0] * 3
    np.testing.assert_allclose(second[1].map_from_cam,
                               pose([0, 0, 0], [1.0, 0, 0]) @ map_from_base @ BASE_FROM_CAM,
                               atol=1e-9)
    for bad in (3, 0):
        with pytest.raises(InputError, match="run"):
            BagSequence(bag, run=bad, **kw)


def test_equally_long_runs_are_not_called_the_longest(tmp_path, caplog):
    """Two runs of 3 images each: run 1 is read, and the warning says why without 'the
    longest'; the wording for one longest run and for a tie among some runs as well."""
    from mast3r_ros.replay.rosbag.run_choice import _why_this_run

    first = [m for m in _second_run() if m[1] >= 10 * S]
    first = [(topic, t - 10 * S + 100 * MS, msg) for topic, t, msg in first]  # received earlier
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP,
                    sorted(first + _second_run(), key=lambda m: m[1]))
    with caplog.at_level("WARNING"):
        seq = BagSequence(bag)
    (warn,) = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert seq.run == 1 and [c for c, _, _ in seq.runs] == [3, 3]
    assert "longest" not in warn
    assert warn.endswith("reading run 1 only, the first: both are equally long (3 images each); "
                         "choose another with --run N (to map every run: build-map each with "
                         "--run N, then join the maps with merge-maps)")
    assert _why_this_run([4, 3], False) == "the longest; choose another with --run N"
    assert _why_this_run([2, 5, 5], False) == ("the first of the longest (runs 2, 3, 5 images "
                                               "each); choose another with --run N")
    assert _why_this_run([2, 2, 2], False).startswith("the first: all are equally long (2 ")
    assert _why_this_run([2, 2], True) == "as asked (--run)"


def test_depth_scale_overrides_rep118(rgbd_bag):
    seq = BagSequence(rgbd_bag, depth_topic="/camera/depth/image_rect_raw", depth_scale=10000.0)
    assert seq.depth_units_per_m == 10000.0
    np.testing.assert_allclose(next(iter(seq)).depth_m[1:, 1:], 0.1)  # 1000 units of 0.1 mm
    assert BagSequence(rgbd_bag, depth_topic="/camera/depth/image_rect_raw").depth_units_per_m \
        == 1000.0
    with pytest.raises(InputError, match="depth scale"):
        BagSequence(rgbd_bag, depth_topic="/camera/depth/image_rect_raw", depth_scale=0.0)


def test_a_rectified_image_topic_takes_p_not_k_and_d(tmp_path):
    """image_proc's image_rect is published beside the raw camera's CameraInfo: K and D describe
    the unrectified image (undistorting the rectified one again would bend it); P is its
    projection (image_geometry's rectified model)."""
    info = camera_info(S)
    info.p[:] = [28.0, 0, 14.5, 0, 0, 29.0, 11.0, 0, 0, 0, 1, 0]
    msgs = [("/cam/image_rect", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, info)]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    (raw,) = list(BagSequence(bag))
    (rect,) = list(BagSequence(bag, image_rectified=True))
    assert raw.intrinsics.K[0, 0] == 30.0 and np.any(raw.intrinsics.dist)
    np.testing.assert_array_equal(rect.intrinsics.K, [[28, 0, 14.5], [0, 29, 11], [0, 0, 1]])
    assert not np.any(rect.intrinsics.dist)


@pytest.mark.parametrize("topic, rectified, d, p, warned", [
    # image_proc's rectified stream read with the raw camera's K and D: undistorted twice
    ("/cam/image_rect", False, None, None, "set image_rectified: true"),
    ("/cam/image_rect_color/compressed", False, None, None, "set image_rectified: true"),
    # the raw, distorted stream read with P and no distortion
    ("/cam/image_raw", True, None, None, "set image_rectified: false"),
    ("/cam/image_rect", True, None, None, ""),
    ("/cam/image_raw", False, None, None, ""),
    ("/cam/image", False, None, None, ""),                     # the name does not say
    # a driver's image_rect_raw whose CameraInfo is already the rectified model (D 0, P = K)
    ("/cam/infra1/image_rect_raw", False, [0.0] * 5, "K", ""),
    ("/cam/image_rect", False, [0.0] * 5, None, "P's fx fy cx cy 28 29"),  # P is not K
])
def test_an_image_topic_whose_name_contradicts_image_rectified_is_warned_about(
        tmp_path, caplog, topic, rectified, d, p, warned):
    """A bag's image_rect read without image_rectified took K and D, the raw camera's, and
    undistorted the rectified pixels again: the map it gave was refused as inconsistent with
    'check the poses ... and the depth unit', the rectification never named. Said once."""
    import logging

    info = camera_info(S)
    info.p[:] = [28.0, 0, 14.5, 0, 0, 29.0, 11.0, 0, 0, 0, 1, 0]
    if d is not None:
        info.d[:] = d
    if p == "K":
        info.p[:] = np.hstack([info.k.reshape(3, 3), np.zeros((3, 1))]).reshape(-1)
    compressed_topic = topic.endswith("/compressed")
    msgs = [(topic, S + i, compressed(S + i, "rgb8; png compressed bgr8", RGB)
             if compressed_topic else image(S + i, "rgb8", RGB)) for i in range(3)]
    msgs += [("/cam/camera_info", S + i, camera_info(S + i)) for i in range(3)]
    for _, _, m in msgs[3:]:
        m.p[:], m.d[:] = info.p, info.d
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        frames = list(BagSequence(bag, image_rectified=rectified))
    said = [r.getMessage() for r in caplog.records if "by its name" in r.getMessage()]
    assert len(frames) == 3
    if warned:
        assert len(said) == 1 and warned in said[0] and topic in said[0], said
    else:
        assert said == []


def test_unstamped_images_are_warned_about_once(tmp_path, caplog):
    """A driver leaving header.stamp at 0: the node refuses such frames, the offline reader
    localized them into a trajectory of identical stamps without a word (a fresh user's find)."""
    import logging

    msgs = [("/cam/image", S + i, image(0, "rgb8", RGB)) for i in range(3)]
    msgs.append(("/cam/camera_info", S, camera_info(0)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs))
    warned = [r.getMessage() for r in caplog.records if "does not stamp" in r.getMessage()]
    assert len(warned) == 1 and "3 of 3 images have header stamp 0: the camera" in warned[0]
    assert "repeat" not in warned[0]  # '... and 0 repeat the previous' read oddly
    assert len(seq) == 3
    repeated = [("/cam/image", S + i, image(S, "rgb8", RGB)) for i in range(2)]
    repeated.append(("/cam/camera_info", S, camera_info(S)))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(write_bag(tmp_path / "rep", StoragePlugin.MCAP, repeated))
    (warned,) = [r.getMessage() for r in caplog.records if "reuses earlier" in r.getMessage()]
    assert "1 of 2 repeat the previous image's stamp: the camera" in warned
    assert "does not stamp" not in warned  # it stamps: a repeat is not a zero
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(write_bag(tmp_path / "ok", StoragePlugin.MCAP, rgbd_messages()))
    assert not [r for r in caplog.records if "does not stamp" in r.getMessage()]


@pytest.mark.parametrize("zeros, repeats, causes, not_said", [
    (0, 10, ["reuses earlier stamps"], "does not stamp"),
    (10, 0, ["does not stamp its images"], "reuses"),
    (5, 5, ["does not stamp its images", "reuses earlier stamps"], None)])
def test_many_unstamped_images_name_zeros_and_repeats_as_their_own_causes(
        tmp_path, caplog, zeros, repeats, causes, not_said):
    """10 of 20 images repeating the previous stamp were blamed on 'a driver that does not
    stamp its images': it does stamp them, it reuses stamps (or a republisher does)."""
    import logging

    stamps = [S + i * 10**8 for i in range(20 - zeros)]
    for k in range(repeats):  # every second image: the previous image's stamp again
        stamps[2 * k + 1] = stamps[2 * k]
    stamps = [0] * zeros + stamps  # first (later ones would read as a clock reset)
    msgs = [("/cam/image", S + i, image(t, "rgb8", RGB)) for i, t in enumerate(stamps)]
    msgs.append(("/cam/camera_info", S, camera_info(S)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs))
    (warned,) = [r.getMessage() for r in caplog.records if "ground truth can" in r.getMessage()]
    assert all(c in warned for c in causes) and (not not_said or not_said not in warned), warned


def test_run_labels_tell_a_reorder_from_a_clock_reset():
    from mast3r_ros.replay.rosbag import run_labels

    assert run_labels([1, 2, 4, 3, 5, 6]) == [1] * 6                 # two swapped images
    # map->odom as AMCL / this node publish it: re-broadcasts stamped ahead (+100) between
    # results stamped at their images' times
    assert run_labels([100, 200, 150, 300, 250, 400, 350, 500]) == [1] * 8
    assert run_labels([10, 11, 12, 14, 10, 11, 12]) == [1, 1, 1, 1, 2, 2, 2]  # a reset
    # a stream's last message below the top: a reset (a run 2 of one depth image must not be
    # associated with run 1's images), even if it was only reordered
    assert run_labels([9, 11, 12, 14, 9]) == [1, 1, 1, 1, 2]
    assert run_labels([5, 6, 1, 2, 3, 4, 5, 6, 7, 1, 2]) == [1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3]
    assert run_labels([]) == []


@pytest.mark.parametrize("storage", STORAGES, ids=["mcap", "sqlite3"])
def test_reordered_images_and_tf_stay_one_run(tmp_path, storage, caplog):
    """A fresh user's bags: two images recorded out of order, or one swapped pair of tf
    messages, were taken for a clock reset -- the bag was split into runs, the depth (which never
    'jumped') was dropped with run 1, and the tf edge was cut: build-map said '43 frames had no
    pose' with exit 0."""
    msgs = rgbd_messages()
    # the bag receives the 1.2 s image before the 1.1 s one, and the tf at 1.25 s before 0.95 s
    swapped = []
    for topic, t, msg in msgs:
        stamp = getattr(getattr(msg, "header", None), "stamp", None)
        if topic == "/camera/color/image_raw" and stamp.nanosec == 100 * MS:
            t += 150 * MS
        if topic == "/tf" and msg.transforms[0].header.stamp.nanosec == 950 * MS:
            t += 400 * MS
        swapped.append((topic, t, msg))
    for t in (1350 * MS, 1450 * MS, 1550 * MS):  # the edge goes on after the swapped pair
        swapped.append(("/tf", t + 100 * MS, tf_message([("map", "base_link", t,
                                                          MAP_FROM_BASE_1)])))
    bag = write_bag(tmp_path / "bag", storage, sorted(swapped, key=lambda m: m[1]))
    with caplog.at_level("WARNING"):
        seq = BagSequence(bag, depth_topic="/camera/depth/image_rect_raw",
                          pose_frames="map:camera_optical", pose_at_stamp=SPARSE_TF)
    assert not [r for r in caplog.records if "jumps back" in r.getMessage()]
    assert seq.runs == [] or len(seq.runs) == 1
    assert sorted(seq.stamps_ns.tolist()) == [1000 * MS, 1100 * MS, 1200 * MS, 1400 * MS]
    frames = {f.stamp_ns: f for f in seq}
    assert len(frames) == 4
    np.testing.assert_allclose(frames[1000 * MS].depth_m[1:, 1:], 1.0)  # depth kept
    np.testing.assert_allclose(frames[1200 * MS].depth_m[1:, 1:], 2.0)
    map_from_base = pose([0, 0, 0.15], [0.15, 0, 0])  # interpolated across the swapped tf
    np.testing.assert_allclose(frames[1100 * MS].map_from_cam, map_from_base @ BASE_FROM_CAM,
                               atol=1e-9)


# ---------------------------------------------- why frames got no pose from tf (--pose-frames) ---

def test_frames_without_a_pose_from_tf_are_counted_with_the_reason(rgbd_bag):
    """The ExtrapolationError of a frame tf gives no pose was logged at debug level only; the
    sequence now keeps the count, the first reason (a tf gap's first) and the gap."""
    seq = BagSequence(rgbd_bag, pose_frames="map:camera_optical")  # max_gap_s 0.1, tf 0.3 apart
    assert (seq.no_pose_count, seq.no_pose_reason, seq.no_pose_gap_s) == (0, None, None)
    assert [f.map_from_cam for f in seq] == [None] * 4
    list(seq)  # iterating again counts each image once
    assert seq.no_pose_count == 4 and seq.no_pose_gap_s == pytest.approx(0.3)
    assert seq.no_pose_reason.startswith("transform map -> base_link is not available at "
                                         "t=1.000000 s"), seq.no_pose_reason
    assert "its samples around t are 0.300 s apart" in seq.no_pose_reason
    sparse = BagSequence(rgbd_bag, pose_frames="map:camera_optical", pose_at_stamp=SPARSE_TF)
    list(sparse)
    assert sparse.no_pose_count == 1 and sparse.no_pose_gap_s is None  # 1.4 s: after the tf
    assert "t=1.400000 s: it is known from 0.950000 s to 1.250000 s" in sparse.no_pose_reason


def sparse_tf_bag(path: Path, offset_ns: int) -> Path:
    """Images at 10 Hz from 1.0 s + ``offset_ns``, map -> base_link on /tf at 50 Hz from 0.98 to
    2.02 s, moving 5 m/s, with a hole of 0.16 s after every third sample (at 1.0, 1.2, ... 2.0 s
    +- 20 ms only: its own spacing 0.02 s, its gaps more than the default
    pose_at_stamp.max_gap_s of 0.1 s): with offset 0 every other image is at a tf sample, the
    others in a hole; with 50 ms every image is in a hole, 30 ms from the nearest sample."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/camera/color/camera_info", 0, camera_info(900 * MS))]
    for k in range(6):
        for t in (S + k * 200 * MS + d * MS for d in (-20, 0, 20)):
            msgs.append(("/tf", t, tf_message([("map", "base_link", t,
                                                pose([0, 0, 0], [5 * t / S, 0, 0]))])))
    for k in range(10):
        t = S + k * 100 * MS + offset_ns
        msgs.append(("/camera/color/image_raw", t, image(t, "rgb8", RGB)))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


def test_build_map_of_a_bag_with_one_invalid_tf_sample_skips_only_the_frame_in_its_gap(
        tmp_path, capsys):
    """map -> base_link at 10 Hz with the 1.3 and 1.4 s samples' quaternions NaN (a driver
    glitch): build-map refused the whole bag; now those samples are dropped with a warning
    naming them, as tf2 drops them, and the images at 1.3 and 1.4 s fall in the 0.3 s gap they
    left (two lost messages: more than 2.5 x the edge's 0.1 s spacing), skipped as any frame in
    a tf gap, the reason saying why the gap is there. (One such sample alone is a lost message
    of the edge: interpolated across, as tf2 does.)"""
    from mast3r_ros.replay.cli import main

    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/camera/color/camera_info", 0, camera_info(900 * MS))]
    for k in range(10):
        t = S + k * 100 * MS
        tf = tf_message([("map", "base_link", t, pose([0, 0, 0], [0.1 * k, 0, 0]))])
        if k in (3, 4):
            tf.transforms[0].transform.rotation.w = float("nan")
        msgs.append(("/tf", t, tf))
        msgs.append(("/camera/color/image_raw", t + MS, image(t, "rgb8", RGB)))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    assert main(["build-map", str(bag), "--out", str(tmp_path / "map"), "--pose-frames",
                 "map:camera_optical"]) == 0
    err = capsys.readouterr().err
    assert ("ignoring an invalid transform map -> base_link on /tf stamped t=1.300000 s "
            "(received at bag time 1.300000 s), as tf2 does: pose has non-finite values") in err
    (warned,) = [ln for ln in err.splitlines() if "had no pose" in ln]
    assert "] mast3r_ros.replay.pipeline: 2 frames had no pose and were skipped: " in warned, \
        warned
    assert "transform map -> base_link is not available at t=1.300000 s" in warned, warned
    assert "samples around t are 0.300 s apart); 2 invalid tf samples were ignored, as tf2 " \
           "ignores them (map -> base_link: 2, the first stamped t=1.300000 s" in warned, warned


def test_build_map_names_the_tf_gap_and_max_gap_s(tmp_path, capsys):
    """map -> base_link at 50 Hz with holes of 0.16 s, pose_at_stamp.max_gap_s 0.1 s: build-map
    said '5 frames had no pose and were skipped' without a reason, and when no frame had a pose
    told the user to pass the --pose-frames they had passed. Both now name the tf gap and the
    --params fix, which then builds the map."""
    from mast3r_ros.replay.cli import main

    some = str(sparse_tf_bag(tmp_path / "some", 0))
    out = str(tmp_path / "map")
    assert main(["build-map", some, "--out", out, "--pose-frames", "map:camera_optical"]) == 0
    (warned,) = [ln for ln in capsys.readouterr().err.splitlines() if "had no pose" in ln]
    assert "5 frames had no pose and were skipped: transform map -> base_link is not available " \
           "at t=1.100000 s" in warned, warned
    assert warned.endswith("its samples around t are 0.160 s apart); to interpolate across gaps "
                           "up to 0.160 s, set 'pose_at_stamp: max_gap_s: 0.16' (under "
                           "ros__parameters) in a --params YAML"), warned
    none = str(sparse_tf_bag(tmp_path / "none", 50 * MS))
    argv = ["build-map", none, "--out", str(tmp_path / "map2"), "--pose-frames",
            "map:camera_optical"]
    assert main(argv) == 2
    (error,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert error.startswith("mast3r-ros build-map: error: no frame has a pose: transform map -> "
                            "base_link is not available at t=1.050000 s"), error
    assert "set 'pose_at_stamp: max_gap_s: 0.16'" in error and "--pose-frames" not in error
    params = tmp_path / "params.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    pose_at_stamp:\n"
                      "      max_gap_s: 0.2\n")
    assert main(argv + ["--params", str(params)]) == 0
    assert "had no pose" not in capsys.readouterr().err


def test_localize_without_ground_truth_says_where_it_could_come_from(rgbd_bag):
    """localize on a bag with /tf but no --pose-frames printed 'evaluated against ground truth
    0' and nothing else (a fresh user's find)."""
    from mast3r_ros.replay.cli import no_groundtruth_hint

    seq = BagSequence(rgbd_bag)
    assert seq.tf_topics and set(seq.tf_topics) == {"/tf", "/tf_static"}
    hint = no_groundtruth_hint(seq, NS(pose_frames=None))
    assert "is read without --pose-frames, so its frames take no pose from its tf: pass " \
           "--pose-frames map:camera_optical (the map frame, then the camera optical frame" \
           in hint, hint
    other = no_groundtruth_hint(seq, NS(pose_frames="map:camera_optical"))
    assert "none covers their stamps" in other and "--groundtruth FILE" in other
    # zero-header-stamp case: no stamp to match, whatever the source has
    zero = NS(stamps_ns=np.zeros(3, np.int64), tf_topics=["/tf"])
    assert no_groundtruth_hint(zero, NS(pose_frames=None)).startswith(
        "no frame was evaluated: every image has header stamp 0, so no ground truth")


def test_a_bag_camera_info_with_a_far_principal_point_is_warned_once(tmp_path, caplog):
    """Bag CameraInfo went through a fresh conversion per message without the principal-point
    check the node and camera_info YAML files have: it is converted once per calibration and
    warned about then, naming the topic."""
    msgs = [m for m in rgbd_messages() if m[0] != "/camera/color/camera_info"]
    for t in (900 * MS, 1150 * MS, 1300 * MS):  # the same calibration three times
        info = camera_info(t)
        info.k[2] = 3 * W  # cx far right of the 8-wide image: K of another resolution
        msgs.append(("/camera/color/camera_info", t + LATE, info))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    with caplog.at_level("WARNING"):
        frames = list(BagSequence(bag, camera_info_topic="/camera/color/camera_info"))
    said = [r.getMessage() for r in caplog.records if "principal point" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("CameraInfo on /camera/color/camera_info: "), said
    assert frames and all(f.intrinsics.K[0, 2] == 3 * W for f in frames)


def test_build_map_of_a_bag_without_pose_frames_names_them_before_reading_a_frame(
        rgbd_bag, tmp_path, capsys, monkeypatch):
    """build-map of a bag with tf but no --pose-frames decoded every image and then said
    '--pose-frames map:camera_optical', a placeholder: minutes on a long bag, and not the
    bag's frames. It now stops before any image is decoded, naming the tf tree's root and the
    images' frame_id; a bag without tf is pointed to --trajectory."""
    from mast3r_ros.replay.cli import main
    from mast3r_ros.replay.rosbag import sequence

    def no_decoding(*a, **k):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(sequence, "frame_from_image_message", no_decoding)
    argv = ["build-map", str(rgbd_bag), "--out", str(tmp_path / "map"), "--depth-topic",
            "/camera/depth/image_rect_raw"]
    assert main(argv) == 2
    (error,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert "no frame has a pose: rosbag2" in error and "is read without --pose-frames" in error
    assert "pass --pose-frames map:camera_optical (the map frame, then" in error, error
    no_tf = [m for m in rgbd_messages() if not m[0].startswith("/tf")]
    bare = write_bag(tmp_path / "no_tf", StoragePlugin.MCAP, no_tf)
    assert main(["build-map", str(bare), "--out", str(tmp_path / "map2"), "--depth-topic",
                 "/camera/depth/image_rect_raw"]) == 2
    assert "has no tf (tf2_msgs/msg/TFMessage) to take poses from: pass the camera's poses " \
           "as a TUM trajectory, --trajectory FILE" in capsys.readouterr().err


def test_build_map_without_pose_frames_of_a_bag_whose_tf_has_two_roots_names_both(
        tmp_path, capsys):
    """A tf of two trees (map -> base_link -> camera_optical, and an odometry tree whose root a
    ROS 1 bag wrote as '/odom'): no root can be the one suggested, so the line says MAP and
    names both roots as tf2 knows them; the images' ROS 1 frame_id '/camera_optical' is
    suggested as tf2 names it too (a leading '/' is refused there)."""
    from mast3r_ros.replay.cli import main

    msgs = [m if m[0] != "/camera/color/image_raw" else
            (m[0], m[1], image(m[2].header.stamp.sec * S + m[2].header.stamp.nanosec, "rgb8",
                               m[2].data.reshape(H, W, 3), frame_id="/camera_optical"))
            for m in rgbd_messages()]
    msgs.append(("/tf", 1000 * MS, tf_message([("/odom", "imu", 1000 * MS, np.eye(4))])))
    bag = write_bag(tmp_path / "two_roots", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    argv = ["build-map", str(bag), "--out", str(tmp_path / "map"), "--depth-topic",
            "/camera/depth/image_rect_raw"]
    assert main(argv) == 2
    (error,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert ("pass --pose-frames MAP:camera_optical (the map frame, then the camera optical "
            "frame the images' header names; the roots of its tf tree: map, odom), or "
            "--trajectory FILE") in error, error


@pytest.mark.parametrize("fmt", ["16UC1; compressedDepth rvl", "16UC1; compressedDepth png"])
def test_plain_iteration_names_the_depth_message_it_cannot_decode(tmp_path, fmt):
    """Plain iteration (``build-map``'s, then) stops at a depth message that cannot be decoded
    (a garbage RVL or PNG compressedDepth): the line said only 'compressedDepth format ...:
    corrupt RVL stream: ...', not which topic or message; it names both now, as the unreadable
    frame of ``frames_or_unreadable`` (``localize``, ``build-map``) does."""
    import struct

    garbage = T["sensor_msgs/msg/CompressedImage"](
        header=header(3 * S), format=fmt,
        data=np.frombuffer(struct.pack("<iff", 0, 0.0, 0.0) + struct.pack("<II", W, H)
                           + bytes(range(200, 240)), np.uint8))
    msgs = [("/cam/image", t * S, compressed(t * S, "jpeg", RGB[..., ::-1])) for t in (1, 3, 4)]
    msgs += [("/cam/depth/compressedDepth", 3 * S, garbage),
             ("/cam/camera_info", S, camera_info(S))]
    seq = BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(
        msgs, key=lambda m: m[1])), image_topic="/cam/image",
        depth_topic="/cam/depth/compressedDepth")
    with pytest.raises(InputError) as err:
        list(seq)
    msg = str(err.value)
    assert msg.startswith("depth topic /cam/depth/compressedDepth: "), msg
    assert msg.endswith(" (the depth message stamped t=3.000000 s)"), msg
    assert f"format '{fmt}'" in msg and "\n" not in msg, msg
    got = list(seq.frames_or_unreadable())  # that frame unreadable, named once
    assert got[1].reason.startswith("/cam/image at t=3.000000 s: its depth at t=3.000000 s: "
                                    "depth topic /cam/depth/compressedDepth: "), got[1].reason
    assert f"format '{fmt}'" in got[1].reason and "depth message stamped" not in got[1].reason


def test_tf_poses_are_bit_identical_to_each_message_s_matrix_added_in_bag_order(tmp_path):
    """The reader keeps each tf edge as columns of translations and quaternions (`_TfSamples`,
    then `TransformBuffer.add_dynamic_tq`), not one 4x4 array per message: every image's pose
    is still the one a buffer filled with each message's matrix, one message at a time in bag
    order, gives -- bit for bit -- with a clock reset (only the run read is kept), reordered
    and repeated stamps, and quaternions a little off unit length."""
    from mast3r_ros.core.message_fields import tq_to_matrix
    from mast3r_ros.core.tf_buffer import TransformBuffer

    rng = np.random.default_rng(3)
    msgs, kept_tf = [], []
    bag_ns = 10 * S
    for run, (t0, n_images) in enumerate([(5 * S, 10), (1 * S, 15)]):  # reset: run 2 read
        span = n_images * 50 * MS
        tf = [("map", "odom", t) for t in range(t0 - 100 * MS, t0 + span + 100 * MS, 50 * MS)]
        tf += [("odom", "base_link", t) for t in range(t0 - 100 * MS, t0 + span + 100 * MS,
                                                          20 * MS)]
        tf.sort(key=lambda e: e[2])
        tf[5], tf[6] = tf[6], tf[5]  # received out of order
        tf.insert(9, tf[8][:2] + (tf[8][2],))  # the same stamp again (another pose)
        for parent, child, t in tf:
            q = rng.normal(size=4)
            q *= (1 + rng.normal(0, 1e-4)) / np.linalg.norm(q)
            tr = rng.normal(size=3)
            transform = T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](*tr.tolist()),
                rotation=T["geometry_msgs/msg/Quaternion"](*q.tolist()))
            stamped = T["geometry_msgs/msg/TransformStamped"](
                header=header(t, parent), child_frame_id=child, transform=transform)
            bag_ns += MS
            msgs.append(("/tf", bag_ns, T["tf2_msgs/msg/TFMessage"](transforms=[stamped])))
            if run == 1:
                kept_tf.append((parent, child, t, tq_to_matrix(tr.tolist(), q.tolist())))
        msgs.append(("/camera/color/camera_info", bag_ns, camera_info(t0)))
        for i in range(n_images):
            bag_ns += MS
            msgs.append(("/camera/color/image_raw", bag_ns, image(t0 + i * 50 * MS, "rgb8", RGB)))
    msgs.append(("/tf_static", 0, tf_message([("base_link", "camera_optical", 0,
                                                BASE_FROM_CAM)])))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    seq = BagSequence(bag, pose_frames="map:camera_optical")
    assert seq.run == 2 and len(seq) == 15
    ref = TransformBuffer()
    ref.add_static("base_link", "camera_optical", seq.transforms.lookup(
        "base_link", "camera_optical", 0))
    for parent, child, t, m in kept_tf:
        ref.add_dynamic(parent, child, t, m)
    frames = list(seq)
    assert len(frames) == 15
    for frame in frames:
        want = ref.lookup("map", "camera_optical", frame.stamp_ns, *seq._pose_rule_ns)
        assert frame.map_from_cam.tobytes() == want.tobytes()


def _tf_bag(path: Path, messages: int) -> Path:
    """``messages`` /tf messages 10 ms apart, each with map -> odom and odom -> base_link, an
    image every 10th, one CameraInfo, the static camera mount."""
    ident = T["geometry_msgs/msg/Transform"](
        translation=T["geometry_msgs/msg/Vector3"](0.1, 0.2, 0.3),
        rotation=T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0))
    msgs = [("/camera/color/camera_info", S, camera_info(S)),
            ("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)]))]
    for k in range(messages):
        t = S + k * 10 * MS
        edges = [T["geometry_msgs/msg/TransformStamped"](
            header=header(t, p), child_frame_id=c, transform=ident)
            for p, c in (("map", "odom"), ("odom", "base_link"))]
        msgs.append(("/tf", t, T["tf2_msgs/msg/TFMessage"](transforms=edges)))
        if k % 10 == 0:
            msgs.append(("/camera/color/image_raw", t, image(t, "rgb8", RGB)))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


def test_reading_a_bag_s_tf_costs_little_memory_a_sample(tmp_path, monkeypatch):
    """An offline read keeps every tf sample of a bag (an hour of 100 Hz odometry and five
    50 Hz edges: 1.26 M). A tuple with a 4x4 array per message held ~560 B a sample at the end
    of the indexing pass, the run's samples then copied into the buffer's lists peaked at
    ~800 and kept ~460 (tracemalloc, growth from 2 000 to 10 000 samples, so that fixed costs
    cancel): ~1 GB at the peak for that hour. Now columns throughout: ~100 B, ~195, ~75. (The
    bag reader's own index of the bag's messages, rosbags', comes on top during the pass.)

    Each size is measured twice and the smaller taken: tracemalloc counts every allocation of
    the process, and a one-off growth of a process-wide table in one window skews it. Each
    read interns ~250 names anew (rosbags compiles the bag's message types), and when the
    worker's earlier tests had left the interned-string dict just short of full, it grew to
    3.8 MB in the 10 000 samples' read: +480 B a sample (or -480 in the 2 000's, hiding as
    much). A cost of the samples recurs in both measurements; that growth, once in ~87 000
    new names, cannot."""
    import gc
    import tracemalloc

    from mast3r_ros.replay.rosbag import run_choice

    real = run_choice._RunChoice._choose_run
    at_choice = {}

    def choose_run(self):
        gc.collect()
        at_choice["held"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        real(self)
        at_choice["peak"] = tracemalloc.get_traced_memory()[1]

    monkeypatch.setattr(run_choice._RunChoice, "_choose_run", choose_run)

    def cost(bag):
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            seq = BagSequence(bag, pose_frames="map:camera_optical")
            seq.transforms.lookup("map", "camera_optical", 2 * S)
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0]
            return np.array([at_choice["held"], at_choice["peak"], kept]) - base
        finally:
            tracemalloc.stop()

    bags = {n: _tf_bag(tmp_path / f"bag{n}", n) for n in (5000, 1000)}
    costs = {n: [] for n in bags}
    for _ in range(2):  # the first of each also pays the first read's one-off costs
        for n, bag in bags.items():
            costs[n].append(cost(bag))
    held, peak, kept = (np.min(costs[5000], axis=0) - np.min(costs[1000], axis=0)) / (
        2 * (5000 - 1000))
    assert held < 200 and peak < 350 and kept < 200, (held, peak, kept)
