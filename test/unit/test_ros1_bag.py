"""A ROS 1 ``.bag`` given as SOURCE: rosbags reads it, and its messages keep ROS 1's field
names (CameraInfo ``D``, ``K``, ``R``, ``P``), which the reader must take as ROS 2's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag1 import Writer  # noqa: E402
from rosbags.typesys import Stores, get_types_from_msg, get_typestore  # noqa: E402

from mast3r_ros.core import message_fields  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

TS1 = get_typestore(Stores.ROS1_NOETIC)  # its store has no tf2_msgs: a bag carries the definition
for _tf_type in ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage"):  # tf: before tf2 (TUM's bags)
    TS1.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", _tf_type))
T1 = TS1.types
S, MS = 1_000_000_000, 1_000_000
W, H = 8, 6
RGB = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
K = [30.0, 0, 3.5, 0, 31.0, 2.5, 0, 0, 1]
D = [0.01, -0.002, 0, 0, 0]


def _header(stamp_ns, frame_id="camera_optical", seq=0):
    stamp = T1["builtin_interfaces/msg/Time"](sec=stamp_ns // S, nanosec=stamp_ns % S)
    return T1["std_msgs/msg/Header"](seq=seq, stamp=stamp, frame_id=frame_id)


def _camera_info(stamp_ns):
    roi = T1["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                 do_rectify=False)
    p = np.zeros(12)
    p[[0, 1, 2, 4, 5, 6, 8, 9, 10]] = K
    return T1["sensor_msgs/msg/CameraInfo"](
        header=_header(stamp_ns), height=H, width=W, distortion_model="plumb_bob",
        D=np.array(D), K=np.array(K), R=np.eye(3).reshape(-1), P=p, binning_x=0, binning_y=0,
        roi=roi)


def _tf(parent, child, stamp_ns, xyz, tf_type="tf2_msgs/msg/TFMessage"):
    q = Rotation.from_rotvec([0, 0, 0.1]).as_quat()
    transform = T1["geometry_msgs/msg/Transform"](
        translation=T1["geometry_msgs/msg/Vector3"](*xyz),
        rotation=T1["geometry_msgs/msg/Quaternion"](*q))
    return T1[tf_type](transforms=[T1["geometry_msgs/msg/TransformStamped"](
        header=_header(stamp_ns, parent), child_frame_id=child, transform=transform)])


def _write_ros1_bag(path: Path, tf_type: str = "tf2_msgs/msg/TFMessage") -> Path:
    msgs = [("/tf_static", 1, _tf("base_link", "camera_optical", 0, [0.1, 0.0, 0.5], tf_type))]
    for i, t in enumerate([1000 * MS, 1100 * MS]):
        msgs.append(("/camera/color/image_raw", t, T1["sensor_msgs/msg/Image"](
            header=_header(t, seq=i), height=H, width=W, encoding="rgb8", is_bigendian=0,
            step=W * 3, data=RGB.reshape(-1))))
        msgs.append(("/camera/color/camera_info", t, _camera_info(t)))
    for t, x in [(950 * MS, 0.0), (1050 * MS, 0.1), (1150 * MS, 0.2)]:
        msgs.append(("/tf", t, _tf("map", "base_link", t, [x, 0.0, 0.0], tf_type)))
    return write_ros1_bag(path, msgs)


def write_ros1_bag(path: Path, msgs) -> Path:
    """A ROS 1 .bag at ``path`` of ``msgs``, (topic, bag time ns, message of `T1`), written in
    bag-time order (a connection per topic, as first met); returns ``path``."""
    with Writer(path) as writer:
        conns = {}
        for topic, t, msg in sorted(msgs, key=lambda m: m[1]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS1)
            writer.write(conns[topic], t, TS1.serialize_ros1(msg, msg.__msgtype__))
    return path


@pytest.mark.parametrize("tf_type", ["tf2_msgs/msg/TFMessage", "tf/msg/tfMessage"])
def test_a_ros1_bag_reads_with_its_camera_info(tmp_path, tf_type):
    """Failed with an AttributeError ('sensor_msgs__msg__CameraInfo' object has no attribute
    'k'; build-map printed a traceback): a ROS 1 bag's CameraInfo is read as the same ROS 2
    message, K and D included, and its tf gives poses, tf2's or (bags recorded before tf2,
    the TUM RGB-D dataset's) tf's tf/tfMessage, whose bags were refused as having no tf."""
    seq = BagSequence(_write_ros1_bag(tmp_path / "office.bag", tf_type),
                      pose_frames="map:camera_optical")
    frames = list(seq)
    assert len(frames) == 2 and seq.camera_info_topic == "/camera/color/camera_info"
    for frame in frames:
        np.testing.assert_array_equal(frame.rgb, RGB)
        np.testing.assert_array_equal(frame.intrinsics.K.reshape(-1), K)
        np.testing.assert_array_equal(frame.intrinsics.dist, D)
        assert frame.map_from_cam is not None
    np.testing.assert_allclose(frames[1].map_from_cam[0, 3] - frames[0].map_from_cam[0, 3], 0.1,
                               atol=1e-9)


def test_ros1_camera_info_fields_read_in_capitals():
    """The conversion itself, on the message rosbags gives: rectified (P, R) and not (K, D)."""
    info = _camera_info(0)
    cam = message_fields.camera_info_to_intrinsics(info)
    np.testing.assert_array_equal(cam.K.reshape(-1), K)
    assert cam.distortion_model == "plumb_bob" and cam.dist.tolist() == D
    rect = message_fields.camera_info_to_intrinsics(info, rectified=True)
    np.testing.assert_array_equal(rect.K.reshape(-1), K)
    assert not np.any(rect.dist)


def test_a_ros1_bag_cut_short_or_never_closed_says_rosbag_reindex(tmp_path):
    """A cut .bag was 'cannot open rosbag2 X.bag: Bag index looks damaged ...' with no word of
    what to do; a '.bag.active' (rosbag record stopped hard) 'neither a TUM RGB-D folder nor a
    rosbag2: it is a file'."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.sources import open_source

    full = _write_ros1_bag(tmp_path / "office.bag").read_bytes()
    cut = tmp_path / "cut.bag"
    cut.write_bytes(full[:len(full) // 2])
    with pytest.raises(InputError) as err:
        open_source(str(cut))
    said = str(err.value)
    assert said.startswith(f"cannot open ROS 1 bag {cut}: ") and "rosbag2" not in said, said
    assert said.endswith(f"'rosbag reindex {cut}' (ROS 1) rebuilds its index)"), said
    active = tmp_path / "office.bag.active"
    active.write_bytes(full[:len(full) // 2])
    with pytest.raises(InputError) as err:
        open_source(str(active))
    assert str(err.value) == (
        f"{active} is a ROS 1 recording that was never closed (rosbag record stopped hard): "
        f"rebuild its index with 'rosbag reindex {active}' (ROS 1), rename it to .bag and "
        "pass that as SOURCE")


def test_a_ros1_bag_is_named_so_in_its_messages(tmp_path, caplog):
    """A ROS 1 bag's log lines and errors called it 'rosbag2 X.bag' (only the open error said
    'ROS 1 bag'): every message names the recording by its kind (`opening.bag_label`)."""
    import logging

    from mast3r_ros.core.errors import InputError

    bag = _write_ros1_bag(tmp_path / "office.bag")
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        BagSequence(bag, pose_frames="map:camera_optical")
    said = [r.getMessage() for r in caplog.records if str(bag) in r.getMessage()]
    assert said and all(m.startswith(f"ROS 1 bag {bag}: ") for m in said), said
    with pytest.raises(InputError) as err:
        BagSequence(bag, image_topic="/nope")
    assert f"in ROS 1 bag {bag}" in str(err.value) and "rosbag2" not in str(err.value)


def test_a_ros1_bag_map_records_its_kind_as_rosbag1(tmp_path):
    """The map manifest's ``recording`` said 'rosbag2' for a ROS 1 ``.bag`` (the same reader
    reads both); it says 'rosbag1', and a rosbag2 stays 'rosbag2'."""
    from mast3r_ros.replay.pipeline import FirstFrames, _recording_kind

    seq = BagSequence(_write_ros1_bag(tmp_path / "office.bag", "tf2_msgs/msg/TFMessage"),
                      pose_frames="map:camera_optical")
    assert _recording_kind(seq) == "rosbag1"
    assert _recording_kind(FirstFrames(seq, 1)) == "rosbag1"
    seq.path = tmp_path / "office_ros2"  # a rosbag2's folder, read by the same class
    assert _recording_kind(seq) == "rosbag2"
