"""--pose-topic on the recordings a ROS user brings: a D435 + T265 rig (realsense-ros'
/camera/odom/sample), robot_localization's /odometry/filtered over a URDF on /tf_static,
ORB-SLAM3 / VINS-Fusion poses in ``world``, AMCL's sparse /amcl_pose; the REP-105 chain map ->
odom -> body -> camera composed in order; and bad streams (empty, one message, NaN or
unnormalised quaternions, stamps going back or repeated)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import MS, RGB, camera_info, header, image, pose, tf_message, write_bag  # noqa: E402
from test_rosbag_pose_topic import _pose_msg  # noqa: E402

from mast3r_ros.core.config import PoseAtStampConfig  # noqa: E402
from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.tf_buffer import TransformError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

IMAGES = "/camera/color/image_raw"
STAMPS = [1000 * MS + k * 100 * MS for k in range(8)]  # 30 fps thinned: 1.0 .. 1.7 s
# a mount that neither commutes with the motion nor is its own inverse
MOUNT = pose([0.3, -1.2, 0.7], [0.05, -0.02, 0.11])
URDF = pose([0.1, 0.2, -0.4], [0.2, 0.0, 0.3])


def _motion(t_ns: int) -> np.ndarray:
    """The body's pose in its stream's frame at ``t_ns``: turning about all axes as it moves."""
    s = (t_ns - 1000 * MS) * 1e-9
    return pose([0.4 * s, -0.7 * s, 1.1 * s], [1.5 * s, 0.2 + 0.3 * s, -0.5 * s])


def _rig(frame, statics, stream, images=STAMPS):
    """Images (``frame`` in their header) at ``images`` with a CameraInfo, /tf_static
    ``statics`` ((parent, child, 4x4)) and ``stream`` ((topic, stamp, message)): a bag's
    messages, sorted by receive time."""
    info = camera_info(900 * MS)
    info.header = header(900 * MS, frame)
    msgs = [("/camera/color/camera_info", 900 * MS, info)]
    msgs += [(IMAGES, t, image(t, "rgb8", RGB, frame_id=frame)) for t in images]
    if statics:
        msgs.append(("/tf_static", 0, tf_message([(p, c, 0, m) for p, c, m in statics])))
    msgs += list(stream)
    return sorted(msgs, key=lambda m: m[1])


def _stream(kind, topic, parent, child, stamps=STAMPS, motion=_motion):
    return [(topic, t, _pose_msg(kind, t, parent, child, motion(t))) for t in stamps]


def _seq(tmp_path, msgs, **kw):
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    return BagSequence(bag, **kw)


def _poses(seq):
    return [f.map_from_cam for f in seq]


def _check(got, want_at):
    assert len(got) == len(STAMPS)
    for t, p in zip(STAMPS, got):
        assert p is not None, t
        np.testing.assert_allclose(p, want_at(t), atol=1e-9)


# ---- 1. realistic recordings ------------------------------------------------------------


@pytest.mark.parametrize("topic,odom,body", [
    ("/camera/odom/sample", "camera_odom_frame", "camera_pose_frame"),
    ("/t265/odom/sample", "odom_frame", "t265_pose_frame")])
def test_a_d435_t265_rig_gives_the_colour_cameras_pose(tmp_path, topic, odom, body, caplog):
    """realsense-ros' T265 odometry (frame_id its odom frame, child its pose frame, the same
    edge on /tf: publish_odom_tf), the user's /tf_static from the T265 pose frame to the D435
    colour optical frame."""
    tf = [("/tf", t, tf_message([(odom, body, t, _motion(t))])) for t in STAMPS]
    msgs = _rig("d435_color_optical_frame", [(body, "d435_link", MOUNT),
                                             ("d435_link", "d435_color_optical_frame", URDF)],
                _stream("odometry", topic, odom, body) + tf)
    caplog.set_level("INFO")
    seq = _seq(tmp_path, msgs, pose_topic=topic)
    _check(_poses(seq), lambda t: _motion(t) @ MOUNT @ URDF)
    assert (f"8 transforms {odom} -> {body} on /tf not read: --pose-topic {topic} gives {body}'s "
            f"pose; /tf alone gives it in {odom}: --pose-frames {odom} without --pose-topic") in (
        caplog.text), caplog.text


def test_robot_localization_odometry_over_a_urdf(tmp_path):
    """/odometry/filtered: base_link in odom, the URDF (robot_state_publisher) on /tf_static."""
    msgs = _rig("camera_color_optical_frame",
                [("base_link", "camera_link", MOUNT),
                 ("camera_link", "camera_color_optical_frame", URDF),
                 ("base_link", "imu_link", pose([0, 0, 1], [0, 0, 0.1]))],
                _stream("odometry", "/odometry/filtered", "odom", "base_link"))
    seq = _seq(tmp_path, msgs, pose_topic="/odometry/filtered")
    _check(_poses(seq), lambda t: _motion(t) @ MOUNT @ URDF)


FOOT = pose([0.0, 0.0, 0.4], [0.0, 0.0, 0.07])


@pytest.mark.parametrize("footprint", [False, True])
def test_a_t265_mounted_by_the_urdf_as_a_child_of_base_link(tmp_path, footprint, caplog):
    """The URDF puts the T265 pose frame under base_link (base_link -> camera_pose_frame), as
    a robot's description does, base_link itself under base_footprint or the root; the
    odometry gives camera_pose_frame in camera_odom_frame."""
    urdf = [("base_link", "camera_pose_frame", MOUNT),
            ("base_link", "d435_color_optical_frame", URDF)]
    urdf += [("base_footprint", "base_link", FOOT)] if footprint else []
    msgs = _rig("d435_color_optical_frame", urdf,
                _stream("odometry", "/camera/odom/sample", "camera_odom_frame",
                        "camera_pose_frame"))
    caplog.set_level("INFO")
    seq = _seq(tmp_path, msgs, pose_topic="/camera/odom/sample")
    _check(_poses(seq), lambda t: _motion(t) @ np.linalg.inv(MOUNT) @ URDF)
    root = "base_footprint" if footprint else "base_link"
    assert (f"/tf_static base_link -> camera_pose_frame read the other way round, "
            f"camera_pose_frame -> {root}") in caplog.text


def test_a_t265_under_a_base_link_that_tf_moves_is_refused_naming_the_mount(tmp_path):
    """base_link moved by wheel odometry on /tf and the T265 under it: two sources would move
    the camera; refused, naming the mount left out."""
    urdf = [("base_link", "camera_pose_frame", MOUNT),
            ("base_link", "d435_color_optical_frame", URDF)]
    wheels = [("/tf", t, tf_message([("odom", "base_link", t, _motion(t))])) for t in STAMPS]
    msgs = _rig("d435_color_optical_frame", urdf,
                _stream("odometry", "/camera/odom/sample", "camera_odom_frame",
                        "camera_pose_frame") + wheels)
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    with pytest.raises(InputError) as err:
        BagSequence(bag, pose_topic="/camera/odom/sample")
    assert ("no tf of" in str(err.value) and "joins camera_pose_frame to d435_color_optical_frame"
            in str(err.value)), err.value
    assert ("; base_link -> camera_pose_frame on /tf_static is left out, the stream giving "
            "camera_pose_frame's pose): base_link is moved by /tf (from odom), so the stream and "
            "/tf would both move the camera: read /tf's motion alone, --pose-frames odom without "
            "--pose-topic, or name") in str(err.value), err.value


@pytest.mark.parametrize("kind", ["pose", "pose_cov"])
def test_an_orb_slam3_camera_pose_in_world(tmp_path, kind, caplog):
    """ORB-SLAM3's camera pose: the images' own frame in ``world``, no tf at all. The body is
    a guess nothing in the bag can check (a wrapper giving camera_link's pose, x forward, would
    turn every pose), so it is a WARNING naming TOPIC:BODY; given so, the same poses, no word."""
    msgs = _rig("camera_color_optical_frame", [],
                _stream(kind, "/orb_slam3/camera_pose", "world", "unused"))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    _check(_poses(BagSequence(bag, pose_topic="/orb_slam3/camera_pose")), _motion)
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "taken as those of camera_color_optical_frame, the images' frame, a guess no tf of " \
        "the bag can check: " in warned, warned
    assert "name it, --pose-topic /orb_slam3/camera_pose:FRAME (and record the /tf_static " \
        "joining it to camera_color_optical_frame); --pose-topic /orb_slam3/camera_pose:" \
        "camera_color_optical_frame keeps this reading without this warning" in warned, warned
    caplog.clear()
    spec = "/orb_slam3/camera_pose:camera_color_optical_frame"
    _check(_poses(BagSequence(bag, pose_topic=spec)), _motion)
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text


D435_TF = [("camera_link", "camera_color_frame", MOUNT),
           ("camera_color_frame", "camera_color_optical_frame", URDF)]


def test_a_camera_pose_guessed_beside_a_tf_tree_is_warned_about(tmp_path, caplog):
    """The same ORB-SLAM3 pose in a D435 bag, whose /tf_static joins the optical frame to
    camera_color_frame and camera_link: the guess may be wrong (the IMU's, the base's pose), so
    it is warned about, naming those frames and the option that confirms it; given as
    ``:camera_color_optical_frame`` it reads the same poses without a word."""
    msgs = _rig("camera_color_optical_frame", D435_TF,
                _stream("pose", "/orb_slam3/camera_pose", "world", "unused"))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    _check(_poses(BagSequence(bag, pose_topic="/orb_slam3/camera_pose")), _motion)
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "but /tf_static joins it to camera_color_frame, camera_link: " in warned, warned
    caplog.clear()
    spec = "/orb_slam3/camera_pose:camera_color_optical_frame"
    assert spec + " keeps this reading without this warning" in warned
    _check(_poses(BagSequence(bag, pose_topic=spec)), _motion)
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text


def test_an_imu_pose_in_world_with_its_body_given(tmp_path):
    """ORB-SLAM3 (IMU mode) / VINS-Fusion: the IMU's pose in world, ``:imu_link`` given, the
    camera joined to it by /tf_static (imu_link -> camera_link -> optical)."""
    msgs = _rig("camera_color_optical_frame",
                [("imu_link", "camera_link", MOUNT),
                 ("camera_link", "camera_color_optical_frame", URDF)],
                _stream("pose", "/orb_slam3/body_pose", "world", "unused"))
    seq = _seq(tmp_path, msgs, pose_topic="/orb_slam3/body_pose:imu_link")
    _check(_poses(seq), lambda t: _motion(t) @ MOUNT @ URDF)


@pytest.mark.parametrize("child", ["world", ""])
def test_vins_fusion_odometry_without_a_child_frame(tmp_path, child, caplog):
    """VINS-Fusion's /vins_estimator/odometry: frame_id world, child_frame_id world (or left
    empty); its pose is the IMU's: with ``:imu`` it reads; without, it is refused (child =
    frame_id) or the guess of the images' frame is warned about (empty)."""
    statics = [("imu", "camera_color_optical_frame", MOUNT)]
    msgs = _rig("camera_color_optical_frame", statics,
                _stream("odometry", "/vins_estimator/odometry", "world", child))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    seq = BagSequence(bag, pose_topic="/vins_estimator/odometry:imu")
    _check(_poses(seq), lambda t: _motion(t) @ MOUNT)
    caplog.set_level("INFO")
    if child:
        with pytest.raises(InputError, match="child_frame_id is 'world', its header frame_id too"):
            BagSequence(bag, pose_topic="/vins_estimator/odometry")
        return
    BagSequence(bag, pose_topic="/vins_estimator/odometry")
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert ("is a nav_msgs/msg/Odometry with an empty child_frame_id so its poses are taken as "
            "those of camera_color_optical_frame, the images' frame; but /tf_static joins it to "
            "imu: ") in warned, warned
    assert "name it, --pose-topic /vins_estimator/odometry:FRAME; --pose-topic " \
        "/vins_estimator/odometry:camera_color_optical_frame keeps this reading" in warned


def _amcl(stamps):
    return _stream("pose_cov", "/amcl_pose", "map", "", stamps=stamps)


AMCL_URDF = [("base_footprint", "base_link", pose([0, 0, 0], [0, 0, 0.05])),
             ("base_link", "camera_color_optical_frame", URDF)]


def test_amcl_pose_at_2_hz_is_interpolated_between_its_samples(tmp_path):
    """/amcl_pose (PoseWithCovarianceStamped, map, base_footprint given) at 2 Hz: each image
    between two samples 0.5 s apart gets the interpolated pose, as the same stream on /tf does
    (a 2 Hz edge is interpolated across 2.5 of its periods)."""
    amcl = [850 * MS + k * 500 * MS for k in range(5)]  # 0.85 .. 2.85 s
    msgs = _rig("camera_color_optical_frame", AMCL_URDF, _amcl(amcl))
    got = _poses(_seq(tmp_path, msgs, pose_topic="/amcl_pose:base_footprint"))
    tf = [("/tf", t, tf_message([("map", "base_footprint", t, _motion(t))])) for t in amcl]
    want = _poses(_seq(tmp_path / "tf", _rig("camera_color_optical_frame", AMCL_URDF, tf),
                       pose_frames="map"))
    assert all(p is not None for p in got)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_amcl_pose_beside_its_tf_reads_the_topic_and_names_the_tf_chain(tmp_path, caplog):
    """A navigation bag: AMCL's map -> odom on /tf (2 Hz), wheel odometry's odom ->
    base_footprint (20 Hz) and /amcl_pose. The topic gives base_footprint's pose (odometry's
    /tf edge to it is left out); the INFO line says --pose-frames map reads tf's chain at its
    rate instead."""
    amcl = [850 * MS + k * 500 * MS for k in range(5)]
    map_from_odom = pose([0.0, 0.0, 0.3], [1.0, 2.0, 0.0])
    tf = [("/tf", t, tf_message([("map", "odom", t, map_from_odom)])) for t in amcl]
    tf += [("/tf", t, tf_message([("odom", "base_footprint", t, pose([0, 0, 0.1], [0, 0, 0]))]))
           for t in range(900 * MS, 1800 * MS, 50 * MS)]
    msgs = _rig("camera_color_optical_frame", AMCL_URDF, _amcl(amcl) + tf)
    caplog.set_level("INFO")
    got = _poses(_seq(tmp_path, msgs, pose_topic="/amcl_pose:base_footprint"))
    tf_only = [("/tf", t, tf_message([("map", "base_footprint", t, _motion(t))])) for t in amcl]
    want = _poses(_seq(tmp_path / "tf", _rig("camera_color_optical_frame", AMCL_URDF, tf_only),
                       pose_frames="map"))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert ("18 transforms odom -> base_footprint on /tf not read: --pose-topic /amcl_pose gives "
            "base_footprint's pose; /tf alone gives it in map, through odom: --pose-frames map "
            "without --pose-topic reads it at /tf's rate") in caplog.text, caplog.text


def test_a_too_sparse_amcl_stream_says_its_samples_are_too_far_apart(tmp_path):
    """Three samples 0.6 s apart (too few to know the rate): the images between them get no
    pose (the one at 1.5 s, a sample's stamp, takes it), and the reason names the topic and
    how far apart its samples are."""
    msgs = _rig("camera_color_optical_frame", AMCL_URDF, _amcl([900 * MS, 1500 * MS, 2100 * MS]))
    seq = _seq(tmp_path, msgs, pose_topic="/amcl_pose:base_footprint",
               pose_at_stamp=PoseAtStampConfig())
    got = _poses(seq)
    assert [p is not None for p in got] == [t == 1500 * MS for t in STAMPS]
    reason = seq.no_pose_reason
    assert "map -> base_footprint (--pose-topic /amcl_pose)" in reason, reason
    assert "its samples around t are 0.600 s apart" in reason, reason
    assert seq.no_pose_gap_s == pytest.approx(0.6)


# ---- 3. REP-105: map -> odom (tf) -> body (topic) -> camera (tf_static) --------------------


def test_an_odom_stream_looked_up_from_map_composes_map_odom_body_camera(tmp_path):
    map_from_odom = pose([0.1, 0.9, -0.4], [3.0, -2.0, 0.5])  # a localizer's correction
    tf = [("/tf", t, tf_message([("map", "odom", t, map_from_odom)])) for t in STAMPS]
    msgs = _rig("camera_color_optical_frame", [("base_link", "camera_color_optical_frame",
                                                MOUNT)],
                _stream("odometry", "/odometry/filtered", "odom", "base_link") + tf)
    seq = _seq(tmp_path, msgs, pose_topic="/odometry/filtered", pose_frames="map")
    _check(_poses(seq), lambda t: map_from_odom @ _motion(t) @ MOUNT)
    # the transforms do not commute: another order would give another pose
    t = STAMPS[3]
    assert not np.allclose(map_from_odom @ _motion(t) @ MOUNT, _motion(t) @ map_from_odom @ MOUNT)
    assert not np.allclose(map_from_odom @ _motion(t) @ MOUNT, map_from_odom @ MOUNT @ _motion(t))


# ---- 4. bad streams ---------------------------------------------------------------------

ODOM_RIG = [("base_link", "camera_color_optical_frame", MOUNT)]


def _odom_bag(tmp_path, stream, empty=False):
    msgs = _rig("camera_color_optical_frame", ODOM_RIG, stream)
    return write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs,
                     empty_topics=[("/odom", "nav_msgs/msg/Odometry")] if empty else ())


def test_an_empty_pose_topic_is_refused(tmp_path):
    bag = _odom_bag(tmp_path, [], empty=True)
    with pytest.raises(InputError, match="holds no nav_msgs/msg/Odometry message on it"):
        BagSequence(bag, pose_topic="/odom")


def test_a_pose_topic_of_one_message_says_so(tmp_path):
    """One message (a SLAM system that published its first pose only): the image at its stamp
    gets it, the others none, and the reason says the stream holds one sample."""
    bag = _odom_bag(tmp_path, _stream("odometry", "/odom", "odom", "base_link",
                                      stamps=[STAMPS[2]]))
    seq = BagSequence(bag, pose_topic="/odom")
    got = _poses(seq)
    assert [p is not None for p in got] == [t == STAMPS[2] for t in STAMPS]
    np.testing.assert_allclose(got[2], _motion(STAMPS[2]) @ MOUNT, atol=1e-9)
    assert "odom -> base_link (--pose-topic /odom) is not available" in seq.no_pose_reason


def _with_quaternion(msgs, at_ns, xyzw):
    for _, t, m in msgs:
        if t == at_ns:
            q = m.pose.pose.orientation
            q.x, q.y, q.z, q.w = xyzw
    return msgs


def test_a_nan_quaternion_drops_that_sample_as_tf2_does(tmp_path, caplog):
    stream = _with_quaternion(_stream("odometry", "/odom", "odom", "base_link"), STAMPS[3],
                              (np.nan, 0.0, 0.0, 1.0))
    seq = BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")
    got = _poses(seq)
    # the image at the dropped sample's stamp is interpolated between its neighbours
    assert all(p is not None for p in got)
    assert "ignoring an invalid transform odom -> base_link on /odom" in caplog.text


def test_an_unnormalised_quaternion_is_normalised_as_the_tf_reader_does(tmp_path):
    """A quaternion of norm 2 (a publisher that forgot to normalise): read as its unit
    quaternion, as a /tf transform is read (`message_fields.transform_to_tq`)."""
    stream = _stream("odometry", "/odom", "odom", "base_link")
    for _, _, m in stream:
        q = m.pose.pose.orientation
        q.x, q.y, q.z, q.w = 2 * q.x, 2 * q.y, 2 * q.z, 2 * q.w
    _check(_poses(BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")),
           lambda t: _motion(t) @ MOUNT)


def test_repeated_stamps_keep_the_first_sample_as_tf_does(tmp_path):
    stream = _stream("odometry", "/odom", "odom", "base_link")
    again = _pose_msg("odometry", STAMPS[4], "odom", "base_link", pose([1, 1, 1], [9, 9, 9]))
    stream.append(("/odom", STAMPS[4] + 1, again))  # the same stamp, another pose
    _check(_poses(BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")),
           lambda t: _motion(t) @ MOUNT)


def test_repeated_stamps_are_warned_about_once_counting_them(tmp_path, caplog):
    """tf2 warns for each (TF_REPEATED_DATA); the reader kept the first without a word: now
    one warning for the stream, counting them, and none for /tf's own samples."""
    stream = _stream("odometry", "/odom", "odom", "base_link")
    for k in (2, 4, 4):
        again = _pose_msg("odometry", STAMPS[k], "odom", "base_link", pose([1, 1, 1], [9, 9, 9]))
        stream.append(("/odom", STAMPS[k] + 1 + len(stream), again))
    _check(_poses(BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")),
           lambda t: _motion(t) @ MOUNT)
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert ("--pose-topic /odom: 3 of its 11 messages repeat an earlier message's stamp (the "
            "first at t=1.200000 s) and are ignored") in warned, warned
    assert "TF_REPEATED_DATA" in warned


def test_a_stream_of_zero_quaternions_says_all_its_messages_are_invalid(tmp_path):
    """Every orientation zero (a publisher that never set it): the error named 8 'invalid tf
    samples'; it names the pose topic and its messages, all of them."""
    stream = _stream("odometry", "/odom", "odom", "base_link")
    for t in STAMPS:
        _with_quaternion(stream, t, (0.0, 0.0, 0.0, 0.0))
    seq = BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")
    with pytest.raises(TransformError) as err:
        _poses(seq)
    assert ("--pose-topic /odom: all its 8 messages had an invalid pose (a zero or NaN "
            "orientation quaternion, or a non-finite position)") in str(err.value)
    assert "tf sample" not in str(err.value)


def test_stamps_received_out_of_order_are_read_by_stamp(tmp_path):
    """A pose published late (received after the next one): read in stamp order, as tf is."""
    stream = _stream("odometry", "/odom", "odom", "base_link")
    (a, ta, ma), (b, tb, mb) = stream[3], stream[4]
    stream[3], stream[4] = (a, ta, mb), (b, tb, ma)  # 1.4 s received at 1.3 s, 1.3 s at 1.4 s
    _check(_poses(BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")),
           lambda t: _motion(t) @ MOUNT)


def test_a_stream_whose_header_time_jumps_back_alone_says_what_is_not_read(tmp_path, caplog):
    """The stream's stamps jump back 10 s midway (a VIO restarted on another clock), the
    images' do not: its messages after the jump fall in another run and are not read, as /tf's
    are -- now with a warning that says so, where the frames after it lost their pose without
    a word."""
    images = [20_000 * MS + k * 100 * MS for k in range(8)]
    stream = [("/odom", t, _pose_msg("odometry", t - (10_000 * MS if k >= 4 else 0), "odom",
                                     "base_link", _motion(t))) for k, t in enumerate(images)]
    msgs = _rig("camera_color_optical_frame", ODOM_RIG, stream, images=images)
    got = _poses(_seq(tmp_path, msgs, pose_topic="/odom"))
    assert [p is not None for p in got] == [k < 4 for k in range(8)]
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert ("--pose-topic /odom: 4 of its 8 messages are not read: its header time jumps from "
            "t=20.300000 s back to t=10.400000 s (message 5)") in warned, warned


def test_a_stream_whose_time_went_back_before_the_images_is_warned_about_once(tmp_path, caplog):
    """Five messages stamped ahead (30 s) received before the first image, then the stream's
    clock at the images' (20 s): the run choice's warning says so; the stream's own warning,
    for messages after the images' run, does not repeat it."""
    images = [20_000 * MS + k * 100 * MS for k in range(8)]
    ahead = [("/odom", 19_000 * MS + k * 100 * MS, _pose_msg(
        "odometry", 30_000 * MS + k * 100 * MS, "odom", "base_link", np.eye(4)))
        for k in range(5)]
    stream = ahead + [("/odom", t, _pose_msg("odometry", t, "odom", "base_link", _motion(t)))
                      for t in images]
    msgs = _rig("camera_color_optical_frame", ODOM_RIG, stream, images=images)
    got = _poses(_seq(tmp_path, msgs, pose_topic="/odom"))
    assert all(p is not None for p in got)
    (warned,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "goes back before the first image" in warned, warned



def _both_jump(tmp_path, name, restarts, run, caplog):
    """Images whose header time jumps back 10 s after 4 frames (a clock reset: 2 runs of 4) and
    an /odom stream that jumps back with them, and also before each ordinal in ``restarts`` (a
    restart of its own), both received in order; read with ``run``: (poses, WARNING lines)."""
    frame, t0 = "camera_color_optical_frame", 20_000 * MS
    info = camera_info(900 * MS)
    info.header = header(900 * MS, frame)
    msgs = [("/camera/color/camera_info", 900 * MS, info),
            ("/tf_static", 0, tf_message([(p, c, 0, m) for p, c, m in ODOM_RIG]))]
    for k in range(8):
        got = t0 + k * 100 * MS  # the bag's receive clock goes on
        image_t = got - (10_000 * MS if k >= 4 else 0)
        odom_t = got - sum(10_000 * MS for r in (4, *restarts) if k >= r)
        msgs.append(("/odom", got, _pose_msg("odometry", odom_t, "odom", "base_link",
                                             _motion(image_t))))
        msgs.append((IMAGES, got + MS, image(image_t, "rgb8", RGB, frame_id=frame)))
    bag = write_bag(tmp_path / name, StoragePlugin.MCAP, msgs)
    caplog.clear()
    poses = _poses(BagSequence(bag, pose_topic="/odom", run=run))
    return poses, [r.getMessage() for r in caplog.records
                   if r.levelname == "WARNING" and "/odom" in r.getMessage()]


def test_a_stream_that_jumps_back_with_the_images_is_no_warning(tmp_path, caplog):
    """Images and /odom both jump back at a clock reset (2 runs): run 1 read, the stream's
    messages of run 2 are not read, and that is the images' jump, said at INFO by the run
    choice (--run given) -- not the stream's own jump 'where the images' does not' (a mutant
    of `len(self.runs) > 1` as `> 2` said that)."""
    for run in (1, 2):
        poses, warned = _both_jump(tmp_path, f"bag{run}", (), run, caplog)
        assert len(poses) == 4 and all(p is not None for p in poses), run
        assert warned == [], warned


def test_a_stream_restarting_inside_one_of_the_images_runs_is_warned_about(tmp_path, caplog):
    """The same bag with /odom also jumping back on its own before message 3 (a VIO restarted
    in run 1): run 1's last two frames get no pose from it, which was said only when the images
    had a single run."""
    poses, warned = _both_jump(tmp_path, "bag", (2,), 1, caplog)
    assert [p is not None for p in poses] == [True, True, False, False]
    assert len(warned) == 1 and ("--pose-topic /odom: 6 of its 8 messages are not read: its "
                                 "header time jumps from t=20.100000 s back to t=10.200000 s "
                                 "(message 3), where the images' does not") in warned[0], warned
