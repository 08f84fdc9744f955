"""--pose-topic: a bag whose motion is only in a pose topic (a VIO's nav_msgs/Odometry, a SLAM
system's PoseStamped / PoseWithCovarianceStamped, a TransformStamped) gives its frames the poses
the same bag gives with that motion on /tf; the body frame is joined to the camera's by
/tf_static; each way the topic cannot be read is refused in one line. Before, such a bag was
refused and told to convert its odometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag1 import Reader  # noqa: E402
from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_ros1_bag import T1, TS1, _header, _write_ros1_bag, write_ros1_bag  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, MS, RGB, SPARSE_TF, T, camera_info, compressed,  # noqa: E402
                         header, image, pose, rgbd_messages, tf_message, write_bag)

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

DEPTH = "/camera/depth/image_rect_raw"
H, W = RGB.shape[:2]


def _pose_msg(kind, stamp_ns, parent, child, parent_from_child):
    """``parent_from_child`` at ``stamp_ns`` as a message of ``kind`` (odometry, pose,
    pose_cov, transform), numbers as `tf_message` writes them."""
    (ts,) = tf_message([(parent, child, stamp_ns, parent_from_child)]).transforms
    v, q = ts.transform.translation, ts.transform.rotation
    p = T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=v.x, y=v.y, z=v.z),
                                    orientation=q)
    if kind == "transform":
        return ts
    if kind == "pose":
        return T["geometry_msgs/msg/PoseStamped"](header=ts.header, pose=p)
    with_cov = T["geometry_msgs/msg/PoseWithCovariance"](pose=p, covariance=np.zeros(36))
    if kind == "pose_cov":
        return T["geometry_msgs/msg/PoseWithCovarianceStamped"](header=ts.header, pose=with_cov)
    zero = T["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.0)
    return T["nav_msgs/msg/Odometry"](
        header=ts.header, child_frame_id=child, pose=with_cov,
        twist=T["geometry_msgs/msg/TwistWithCovariance"](
            twist=T["geometry_msgs/msg/Twist"](linear=zero, angular=zero),
            covariance=np.zeros(36)))


def _moved(msgs, kind="odometry", topic="/odom", parent=None, child=None, keep_tf=False):
    """``msgs`` with each /tf transform also (``keep_tf``) or only on ``topic`` as ``kind``,
    its frames renamed when ``parent`` / ``child`` are given."""
    out = []
    for name, t, m in msgs:
        if name == "/tf":
            (ts,) = m.transforms
            mat = _matrix(ts.transform)
            out.append((topic, t, _pose_msg(kind, t, parent or ts.header.frame_id,
                                            child or ts.child_frame_id, mat)))
            if not keep_tf:
                continue
        out.append((name, t, m))
    return out


def _matrix(transform):
    from scipy.spatial.transform import Rotation

    out = np.eye(4)
    r = transform.rotation
    out[:3, :3] = Rotation.from_quat([r.x, r.y, r.z, r.w]).as_matrix()
    v = transform.translation
    out[:3, 3] = [v.x, v.y, v.z]
    return out


def _poses(seq):
    return [f.map_from_cam for f in seq]


def _tf_poses(tmp_path):
    bag = write_bag(tmp_path / "tf_bag", StoragePlugin.MCAP, rgbd_messages())
    return _poses(BagSequence(bag, pose_frames="map:camera_optical", pose_at_stamp=SPARSE_TF))


def _assert_same(got, want):
    assert [p is None for p in got] == [p is None for p in want]
    assert sum(p is not None for p in want) == 3  # 1.4 s lies after the motion's last sample
    for a, b in zip(got, want):
        if b is not None:
            np.testing.assert_allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("kind,spec", [("odometry", "/odom"), ("transform", "/odom"),
                                       ("pose", "/odom:base_link"),
                                       ("pose_cov", "/odom:base_link")])
def test_a_pose_topic_gives_the_poses_tf_gives(tmp_path, kind, spec):
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, _moved(rgbd_messages(), kind))
    seq = BagSequence(bag, pose_topic=spec, pose_at_stamp=SPARSE_TF)
    _assert_same(_poses(seq), _tf_poses(tmp_path))
    # 1.4 s: as tf says it, naming the topic
    assert "map -> base_link (--pose-topic /odom) is not available at t=1.400000 s" in (
        seq.no_pose_reason), seq.no_pose_reason


def test_a_pose_stamped_without_a_body_frame_is_the_cameras_pose(tmp_path, caplog):
    msgs = _moved(rgbd_messages(), "pose", topic="/slam/camera_pose", child="camera_optical")
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    caplog.set_level("INFO")
    got = _poses(BagSequence(bag, pose_topic="/slam/camera_pose", pose_at_stamp=SPARSE_TF))
    want = _tf_poses(tmp_path)
    for a, b in zip(got, want):  # the message's pose is the camera's: no base_from_cam
        if b is not None:
            np.testing.assert_allclose(a, b @ np.linalg.inv(BASE_FROM_CAM), atol=1e-12)
    assert "poses are taken as those of camera_optical, the images' frame" in caplog.text
    # the /tf_static transform to the camera frame is left out (the stream gives its pose)
    assert "transform base_link -> camera_optical on /tf_static not read" in caplog.text


def test_the_pose_topic_wins_over_tf_to_the_same_body_frame(tmp_path):
    msgs = _moved(rgbd_messages(), keep_tf=True)  # /odom and /tf both
    msgs = [(n, t, m) if n != "/tf" else (n, t, tf_message([(
        "odom", "base_link", t, pose([0, 0, 1.0], [5, 5, 5]))])) for n, t, m in msgs]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    _assert_same(_poses(BagSequence(bag, pose_topic="/odom", pose_at_stamp=SPARSE_TF)),
                 _tf_poses(tmp_path))


def _refusal(tmp_path, msgs, **kw) -> str:
    bag = write_bag(tmp_path / "bad", StoragePlugin.MCAP, msgs)
    with pytest.raises(InputError) as err:
        BagSequence(bag, pose_at_stamp=SPARSE_TF, **kw)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_a_missing_or_wrong_topic_lists_the_bags_pose_topics(tmp_path):
    msgs = _moved(rgbd_messages())
    text = _refusal(tmp_path, msgs, pose_topic="/odometry")
    assert "--pose-topic /odometry: " in text and "has no such topic" in text
    assert text.endswith("its pose topics: /odom (nav_msgs/msg/Odometry)"), text
    text = _refusal(tmp_path / "b", msgs, pose_topic="/camera/color/camera_info")
    assert "is a sensor_msgs/msg/CameraInfo, not a pose" in text
    assert "/odom (nav_msgs/msg/Odometry)" in text


def test_a_body_frame_not_joined_to_the_camera_is_refused(tmp_path):
    msgs = [m for m in _moved(rgbd_messages()) if m[0] != "/tf_static"]
    text = _refusal(tmp_path, msgs, pose_topic="/odom")
    assert ("gives the pose of base_link in map, but no tf of" in text
            and "joins base_link to camera_optical" in text), text
    assert "its /tf_static holds nothing" in text
    other = [(n, t, tf_message([("base_link", "imu", 0, np.eye(4))]) if n == "/tf_static"
              else m) for n, t, m in _moved(rgbd_messages())]
    assert "its /tf_static holds base_link -> imu)" in _refusal(tmp_path / "b", other,
                                                                pose_topic="/odom")


def test_frames_that_change_within_the_stream_are_refused(tmp_path):
    msgs = _moved(rgbd_messages())
    last = [m for n, _, m in msgs if n == "/odom"][-1]
    last.header = header(1250 * MS, "map2")
    text = _refusal(tmp_path, msgs, pose_topic="/odom")
    assert "stamped t=1.250000 s has header.frame_id 'map2', the first one 'map'" in text, text


def test_an_odometry_that_names_its_frame_as_its_child_needs_the_body_given(tmp_path):
    msgs = _moved(rgbd_messages(), parent="world", child="world")  # as VINS-Mono publishes
    text = _refusal(tmp_path, msgs, pose_topic="/odom")
    assert "child_frame_id is 'world', its header frame_id too" in text
    assert "--pose-topic /odom:FRAME" in text
    seq = BagSequence(write_bag(tmp_path / "ok", StoragePlugin.MCAP, msgs),
                      pose_topic="/odom:base_link", pose_at_stamp=SPARSE_TF)
    _assert_same(_poses(seq), _tf_poses(tmp_path))


def test_pose_frames_must_reach_the_topics_frame(tmp_path):
    text = _refusal(tmp_path, _moved(rgbd_messages()), pose_topic="/odom",
                    pose_frames="odom:camera_optical")
    assert "whose poses are in map (its header.frame_id): no tf of" in text
    assert "give --pose-frames map:camera_optical" in text


def test_a_static_only_bag_is_told_to_pass_its_odometry_topic(tmp_path, capsys):
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, _moved(rgbd_messages()))
    capsys.readouterr()
    assert main(["build-map", str(bag), "--out", str(tmp_path / "m"), "--depth-topic", DEPTH,
                 "--matcher", "sift", "--log-level", "warning"]) == 2
    err = capsys.readouterr().err
    assert "pass --pose-topic /odom (its child frame joined to the camera's by /tf_static)" in err


def test_a_ros1_bag_reads_its_odometry_topic(tmp_path):
    tf_bag = _write_ros1_bag(tmp_path / "tf.bag")
    msgs = []
    with Reader(tf_bag) as reader:  # the same bag, its /tf as /odom
        for conn, t, raw in reader.messages():
            msg = TS1.deserialize_ros1(raw, conn.msgtype)
            if conn.topic != "/tf":
                msgs.append((conn.topic, t, msg))
                continue
            (ts,) = msg.transforms
            v, q = ts.transform.translation, ts.transform.rotation
            p = T1["geometry_msgs/msg/PoseWithCovariance"](
                pose=T1["geometry_msgs/msg/Pose"](
                    position=T1["geometry_msgs/msg/Point"](x=v.x, y=v.y, z=v.z),
                    orientation=q), covariance=np.zeros(36))
            zero = T1["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.0)
            msgs.append(("/camera/odom/sample", t, T1["nav_msgs/msg/Odometry"](
                header=_header(t, ts.header.frame_id), child_frame_id=ts.child_frame_id,
                pose=p, twist=T1["geometry_msgs/msg/TwistWithCovariance"](
                    twist=T1["geometry_msgs/msg/Twist"](linear=zero, angular=zero),
                    covariance=np.zeros(36)))))
    odom_bag = write_ros1_bag(tmp_path / "odom.bag", msgs)
    want = _poses(BagSequence(tf_bag, pose_frames="map:camera_optical"))
    got = _poses(BagSequence(odom_bag, pose_topic="/camera/odom/sample"))
    assert all(p is not None for p in want) and len(got) == len(want) == 2
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-12)


# ---- build-map end to end ---------------------------------------------------------------

CAM = "/cam/image/compressed"


def _path_bag(path, on_topic):
    """Eight JPEG frames 0.1 s apart with depth, the camera turning as it moves along x: its
    motion map -> base_link on /tf, or only on /odom (``on_topic``)."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 0, camera_info(900 * MS))]
    for k in range(8):
        t = 1000 * MS + k * 100 * MS
        msgs.append(("/tf", t, tf_message([("map", "base_link", t,
                                             pose([0, 0, 0.2 * k], [0.5 * k, 0.1 * k, 0]))])))
        msgs.append((CAM, t + 1, compressed(t, "jpeg", RGB[..., ::-1])))
        msgs.append((DEPTH, t + 2, image(t, "16UC1", np.full((H, W), 1000 + 10 * k, np.uint16))))
    msgs = _moved(msgs) if on_topic else msgs
    return str(write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])))


def _keyframe_poses(out: Path):
    """{stamp ns: map_from_cam} of the map's keyframes."""
    table = np.load(out / "keyframe_table.npy")
    return {int(s): p for s, p in zip(table["stamp_ns"], table["map_from_cam"])}


def test_build_map_from_odometry_alone_gives_the_tf_maps_keyframe_poses(tmp_path, capsys):
    maps = {}
    for name, poses in (("tf", ["--pose-frames", "map:camera_optical"]),
                        ("odom", ["--pose-topic", "/odom"])):
        bag = _path_bag(tmp_path / f"{name}_bag", on_topic=name == "odom")
        capsys.readouterr()
        rc = main(["build-map", bag, "--out", str(tmp_path / name), "--matcher", "sift",
                   "--depth-topic", DEPTH, "--log-level", "error", *poses])
        assert rc == 0, capsys.readouterr().err
        maps[name] = _keyframe_poses(tmp_path / name)
    assert len(maps["odom"]) == 8 and maps["odom"].keys() == maps["tf"].keys()
    for key, want in maps["tf"].items():
        np.testing.assert_allclose(maps["odom"][key], want, atol=1e-12)


def test_localize_takes_its_ground_truth_from_the_pose_topic(tmp_path, capsys):
    tf_bag, odom_bag = (_path_bag(tmp_path / f"{n}_bag", on_topic=n == "odom")
                        for n in ("tf", "odom"))
    capsys.readouterr()
    assert main(["build-map", tf_bag, "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--depth-topic", DEPTH, "--log-level", "error", "--pose-frames",
                 "map:camera_optical"]) == 0, capsys.readouterr().err
    main(["localize", odom_bag, "--map", str(tmp_path / "map"), "--out", str(tmp_path / "run"),
          "--matcher", "sift", "--log-level", "error", "--pose-topic", "/odom"])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["frames_with_groundtruth"] == 8, metrics


def test_the_no_ground_truth_hint_does_not_ask_for_pose_frames_beside_a_pose_topic():
    from types import SimpleNamespace as NS

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    source = NS(tf_topics=["/tf_static"], stamps_ns=np.array([1]))
    hint = no_groundtruth_hint(source, NS(pose_frames=None, pose_topic="/odom"))
    assert "pass --pose-frames map" not in hint, hint
    assert "--pose-topic" in hint


def test_a_pose_topic_given_with_a_tum_folder_is_refused(tmp_path):
    from mast3r_ros.replay.sources import SourceOptions, open_source

    (tmp_path / "rgb.txt").write_text("# timestamp filename\n")
    with pytest.raises(InputError, match="--pose-topic: options for a rosbag2, but .* is a TUM"):
        open_source(str(tmp_path), SourceOptions(pose_topic="/odom"))


@pytest.mark.parametrize("spec", ["", ":base_link", "/odom:", "/odom:a:b"])
def test_a_malformed_pose_topic_is_refused_before_the_bag_is_read(tmp_path, spec):
    with pytest.raises(InputError, match="--pose-topic must be 'TOPIC' or 'TOPIC:BODY_FRAME'"):
        BagSequence(tmp_path / "no_bag", pose_topic=spec)


@pytest.mark.parametrize("spec,fix", [("odom", "--pose-topic /odom"),
                                      ("odom/:base_link", "--pose-topic /odom:base_link")])
def test_a_pose_topic_typed_without_its_slash_is_named_as_recorded(tmp_path, spec, fix):
    """`--pose-topic odom` said only 'has no such topic; its pose topics: /odom (...)'."""
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, _moved(rgbd_messages()))
    with pytest.raises(InputError, match=f"but /odom is .*: pass {fix}$"):
        BagSequence(bag, pose_topic=spec, pose_at_stamp=SPARSE_TF)
