"""A depth camera's own stream whose extrinsic to the colour camera a bag carries on /tf only
(older drivers, `ros2 bag record` started after /tf_static was latched, a ROS 1 bag whose
robot_state_publisher put fixed transforms on /tf at a rate): it was refused as if nothing
placed the depth camera. Registered with the /tf transform when it stays one over every
sample, to the very depth /tf_static gives; refused, in one line, when it moves."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from scipy.spatial.transform import Rotation  # noqa: E402
from test_ros1_bag import T1, _header, write_ros1_bag  # noqa: E402
from test_rosbag import H, MS, W, pose  # noqa: E402
from test_rosbag_depth_frame import CAM, COLOR, DEPTH, _bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.tf_buffer import TransformBuffer  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

TOPIC = "/camera/depth/image_rect_raw"
# the depth camera 15 mm beside the colour camera, turned 2 deg: registration moves the depth
LINK_FROM_DEPTH = pose([0, 0.035, 0], [0.015, 0.002, 0])
DEPTH_MM = (900 + 40 * np.arange(W)[None, :] + 25 * np.arange(H)[:, None]).astype(np.uint16)
STAMPS = [t * MS for t in range(950, 1300, 50)]  # /tf at 20 Hz around the images


def _depths(bag, **kw):
    return [f.depth_m for f in BagSequence(bag, image_topic=CAM, depth_topic=TOPIC, **kw)]


def _tf_bag(path, which=("colour", "depth"), moved_mm=0.0, turned_deg=0.0):
    """The two optical frames' transforms to camera_link on /tf at 20 Hz (those not in
    ``which`` on /tf_static); the depth one moved along x by up to ``moved_mm`` and turned
    about y by up to ``turned_deg``."""
    static, tf = [], []
    for name, frame, m in (("colour", COLOR, np.eye(4)), ("depth", DEPTH, LINK_FROM_DEPTH)):
        if name not in which:
            static.append(("camera_link", frame, 0, m))
            continue
        for k, t in enumerate(STAMPS):
            shifted = m.copy()
            if name == "depth":
                part = k / (len(STAMPS) - 1)
                shifted = m @ pose([0, np.radians(turned_deg) * part, 0], [0, 0, 0])
                shifted[0, 3] += moved_mm * 1e-3 * part
            tf.append(("camera_link", frame, t, shifted))
    return _bag(path, TOPIC, DEPTH, depth_info_fx=20.0, static_tf=static or None, tf=tf,
                depth_mm=DEPTH_MM)


@pytest.mark.parametrize("which", [("colour", "depth"), ("depth",)])
def test_a_constant_tf_extrinsic_registers_the_depth_as_tf_static_does(tmp_path, caplog, which):
    """Both frames' transforms on /tf, or the depth's alone (the colour's on /tf_static: a
    chain of both kinds): registered, said once at INFO with how many samples, to the same
    depth as with /tf_static; was refused."""
    reference = _depths(_bag(tmp_path / "static", TOPIC, DEPTH, depth_info_fx=20.0, static_tf=[
        ("camera_link", COLOR, 0, np.eye(4)), ("camera_link", DEPTH, 0, LINK_FROM_DEPTH)],
        depth_mm=DEPTH_MM))
    with caplog.at_level(logging.INFO):
        depths = _depths(_tf_bag(tmp_path / "tf", which))
    assert len(depths) == 3 and (reference[0] > 0).mean() > 0.5
    for got, want in zip(depths, reference):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    said = [r.getMessage() for r in caplog.records if "registered to" in r.getMessage()]
    assert len(said) == 1 and f"with /tf, whose {len(STAMPS)} samples of the transform stay " \
        "within 1 mm and 0.1 deg (no /tf_static joins them) (15.1 mm apart)" in said[0], said


def test_a_tf_extrinsic_within_the_tolerance_is_registered_past_it_refused(tmp_path):
    """0.5 mm and 0.05 deg of drift over the recording (a calibration republished with
    rounding): still one extrinsic, registered; 1.5 mm, or 0.3 deg, is refused."""
    depths = _depths(_tf_bag(tmp_path / "tf", moved_mm=0.5, turned_deg=0.05))
    assert len(depths) == 3 and all((d > 0).mean() > 0.5 for d in depths)
    with pytest.raises(InputError, match=r"by up to 1\.5 mm and 0\.00 deg"):
        BagSequence(_tf_bag(tmp_path / "mm", moved_mm=1.5), image_topic=CAM, depth_topic=TOPIC)
    with pytest.raises(InputError, match=r"by up to 0\.0 mm and 0\.30 deg"):
        BagSequence(_tf_bag(tmp_path / "deg", turned_deg=0.3), image_topic=CAM,
                    depth_topic=TOPIC)


@pytest.mark.parametrize("which", [("colour", "depth"), ("depth",)])
def test_a_moving_tf_extrinsic_is_refused_in_one_line(tmp_path, which):
    """The depth frame moves 12 mm against the colour one over the recording: no fixed
    extrinsic, refused before a frame is read, naming both frames, how far it moved and the
    fix (was refused as having nothing to register with; now it would be taken)."""
    with pytest.raises(InputError) as err:
        BagSequence(_tf_bag(tmp_path / "tf", which, moved_mm=12.0), image_topic=CAM,
                    depth_topic=TOPIC)
    text = str(err.value)
    assert "\n" not in text
    for part in (TOPIC, f"joins '{DEPTH}' to '{COLOR}'", "moves during the recording",
                 "by up to 12.0 mm", "within 1 mm and 0.1 deg", "on /tf_static",
                 "aligned_depth_to_color"):
        assert part in text, (part, text)


def test_with_pose_frames_the_tf_already_read_registers_the_depth(tmp_path):
    """--pose-frames reads /tf in the indexing pass: the same extrinsic is taken from it."""
    reference = _depths(_tf_bag(tmp_path / "a"))
    depths = _depths(_tf_bag(tmp_path / "b"), pose_frames=f"camera_link:{COLOR}")
    for got, want in zip(depths, reference):
        np.testing.assert_array_equal(got, want)


def _ros1_tf(stamp_ns, children):
    """A ROS 1 tf2_msgs/TFMessage: camera_link -> each (child, xyz, quaternion xyzw)."""
    return T1["tf2_msgs/msg/TFMessage"](transforms=[T1["geometry_msgs/msg/TransformStamped"](
        header=_header(stamp_ns, "camera_link"), child_frame_id=child,
        transform=T1["geometry_msgs/msg/Transform"](
            translation=T1["geometry_msgs/msg/Vector3"](*map(float, xyz)),
            rotation=T1["geometry_msgs/msg/Quaternion"](*map(float, q))))
        for child, xyz, q in children])


def _ros1_bag(path, moved_mm=0.0, static=False):
    """A ROS 1 bag: colour images (fx 30), the depth camera's own 16UC1 stream and CameraInfo
    (fx 20), camera_link -> each optical frame on /tf at 20 Hz (robot_state_publisher's
    habit), or on /tf_static once with ``static``."""
    def info(t, fx, frame):
        k = [fx, 0, (W - 1) / 2, 0, fx, (H - 1) / 2, 0, 0, 1]
        p = np.zeros(12)
        p[[0, 1, 2, 4, 5, 6, 8, 9, 10]] = k
        roi = T1["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                     do_rectify=False)
        return T1["sensor_msgs/msg/CameraInfo"](
            header=_header(t, frame), height=H, width=W, distortion_model="plumb_bob",
            D=np.zeros(5), K=np.array(k), R=np.eye(3).reshape(-1), P=p, binning_x=0,
            binning_y=0, roi=roi)

    def img(t, frame, enc, a):
        return T1["sensor_msgs/msg/Image"](
            header=_header(t, frame), height=H, width=W, encoding=enc, is_bigendian=0,
            step=a.shape[1] * a.itemsize * (3 if a.ndim == 3 else 1),
            data=a.reshape(-1).view(np.uint8))

    msgs = []
    for i, t in enumerate((1000 * MS, 1100 * MS, 1200 * MS)):
        msgs += [(CAM, t, img(t, COLOR, "rgb8", np.zeros((H, W, 3), np.uint8))),
                 ("/camera/color/camera_info", t, info(t, 30.0, COLOR)),
                 (TOPIC, t + 1, img(t, DEPTH, "16UC1", DEPTH_MM + i)),
                 ("/camera/depth/camera_info", t + 1, info(t, 20.0, DEPTH))]
    xyz = LINK_FROM_DEPTH[:3, 3]
    for k, t in enumerate([0] if static else STAMPS):
        shift = [moved_mm * 1e-3 * k / (len(STAMPS) - 1), 0, 0]
        topic = "/tf_static" if static else "/tf"
        msgs.append((topic, t, _ros1_tf(t, [(COLOR, [0, 0, 0], [0, 0, 0, 1]), (
            DEPTH, xyz + shift, Rotation.from_matrix(LINK_FROM_DEPTH[:3, :3]).as_quat())])))
    return write_ros1_bag(path, msgs)


def test_a_ros1_bag_with_the_extrinsic_on_tf_is_registered_or_refused(tmp_path):
    """A ROS 1 bag: the /tf extrinsic registers its depth as /tf_static's does; moving, it is
    refused."""
    reference = _depths(_ros1_bag(tmp_path / "static.bag", static=True))
    depths = _depths(_ros1_bag(tmp_path / "tf.bag"))
    assert (reference[0] > 0).mean() > 0.5
    for got, want in zip(depths, reference):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    with pytest.raises(InputError, match="moves during the recording: by up to 8.0 mm"):
        BagSequence(_ros1_bag(tmp_path / "moved.bag", moved_mm=8.0), image_topic=CAM,
                    depth_topic=TOPIC)


def test_samples_between_composes_every_sample_of_a_chain():
    """Two time-varying edges that move together (a camera's two frames each published from
    odom, sampled 5 ns apart) give one transform between their frames at every sample inside
    both edges' spans; a static edge counts as it is; static edges alone give their one."""
    buf = TransformBuffer()

    def odom_from_link(t):
        return pose([0, 0, 0.3], [0.02 * t, 0.01 * t, 0])

    for t in (10, 20, 30):
        buf.add_dynamic("odom", "colour", t, odom_from_link(t))
        buf.add_dynamic("odom", "depth", t + 5, odom_from_link(t + 5) @ LINK_FROM_DEPTH)
    ir = pose([0, 0, 0], [0.05, 0, 0])
    buf.add_static("depth", "ir", ir)
    stamps, samples = buf.samples_between("colour", "ir")
    assert stamps.tolist() == [10, 15, 20, 25, 30, 35]
    inside = samples[1:5]  # at 10 depth is held at its first sample, at 35 colour at its last
    np.testing.assert_allclose(inside, np.broadcast_to(LINK_FROM_DEPTH @ ir, inside.shape),
                               atol=1e-9)
    assert not np.allclose(samples[0], LINK_FROM_DEPTH @ ir, atol=1e-6)
    one = TransformBuffer()
    one.add_static("a", "b", ir)
    only = one.samples_between("b", "a")
    assert only[0].tolist() == [0] and np.allclose(only[1][0], np.linalg.inv(ir))


def test_tf_static_wins_and_a_second_value_on_tf_is_refused_where_tf_is_read(tmp_path):
    """/tf_static joins the frames and /tf repeats the depth frame's transform 5 mm off: read
    without --pose-frames, /tf_static's registers the depth (the bag's /tf is not read for
    it); where /tf is read (--pose-frames) the transform with two values is refused."""
    static = [("camera_link", COLOR, 0, np.eye(4)), ("camera_link", DEPTH, 0, LINK_FROM_DEPTH)]
    off = LINK_FROM_DEPTH.copy()
    off[0, 3] += 0.005
    both = _bag(tmp_path / "both", TOPIC, DEPTH, depth_info_fx=20.0, static_tf=static,
                tf=[("camera_link", DEPTH, t, off) for t in STAMPS], depth_mm=DEPTH_MM)
    only = _bag(tmp_path / "static", TOPIC, DEPTH, depth_info_fx=20.0, static_tf=static,
                depth_mm=DEPTH_MM)
    for got, want in zip(_depths(both), _depths(only)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(InputError, match="published both on /tf and /tf_static"):
        BagSequence(both, image_topic=CAM, depth_topic=TOPIC,
                    pose_frames=f"camera_link:{COLOR}")


def test_a_tf_extrinsic_that_changes_while_its_stamp_does_not_is_refused(tmp_path):
    """A publisher stamping every /tf message 0 (or one stamp): the depth frame moves 12 mm
    over the messages. Only the first sample of a stamp was read, so it was registered as a
    fixed extrinsic of one sample; every sample now counts (refused as moving). The same
    transform repeated at one stamp is still one extrinsic."""
    tf = [("camera_link", COLOR, 0, np.eye(4))]
    for k in range(4):
        m = LINK_FROM_DEPTH.copy()
        m[0, 3] += 0.004 * k
        tf.append(("camera_link", DEPTH, 0, m))
    with pytest.raises(InputError, match=r"moves during the recording: by up to 12\.0 mm"):
        BagSequence(_bag(tmp_path / "moving", TOPIC, DEPTH, depth_info_fx=20.0, tf=tf,
                         depth_mm=DEPTH_MM), image_topic=CAM, depth_topic=TOPIC)
    same = [("camera_link", COLOR, 0, np.eye(4))] + [
        ("camera_link", DEPTH, 0, LINK_FROM_DEPTH)] * 4
    reference = _depths(_tf_bag(tmp_path / "tf"))
    depths = _depths(_bag(tmp_path / "same", TOPIC, DEPTH, depth_info_fx=20.0, tf=same,
                          depth_mm=DEPTH_MM))
    for got, want in zip(depths, reference):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


@pytest.mark.parametrize("moving", [True, False])
def test_pose_frames_or_not_one_verdict_on_a_tf_extrinsic_at_one_stamp(tmp_path, moving):
    """The depth frame's transform published at one stamp (0) by every message, moving 12 mm
    over them or not: with --pose-frames the extrinsic came from the sequence's buffer, which
    keeps the first sample of a stamp, so the moving one was registered as fixed there and
    refused without --pose-frames; both now judge every sample, to one verdict."""
    tf = [("camera_link", COLOR, t, np.eye(4)) for t in STAMPS]
    for k in range(4):
        m = LINK_FROM_DEPTH.copy()
        m[0, 3] += 0.004 * k * moving
        tf.append(("camera_link", DEPTH, 0, m))
    bag = _bag(tmp_path / "b", TOPIC, DEPTH, depth_info_fx=20.0, tf=tf, depth_mm=DEPTH_MM)
    verdicts = []
    for pose_frames in (None, f"camera_link:{COLOR}"):
        try:
            BagSequence(bag, image_topic=CAM, depth_topic=TOPIC, pose_frames=pose_frames)
            verdicts.append("registered")
        except InputError as err:
            verdicts.append(str(err)[str(err).index("moves during"):])
    assert verdicts[0] == verdicts[1], verdicts
    assert verdicts[0].startswith("moves during the recording: by up to 12.0 mm") if moving \
        else verdicts[0] == "registered"


@pytest.mark.parametrize("which, moved_mm", [(("colour", "depth"), 0.0), (("depth",), 0.5),
                                             (("colour", "depth"), 12.0)])
def test_with_pose_frames_the_extrinsic_is_judged_without_a_second_tf_pass(tmp_path, monkeypatch,
                                                                          which, moved_mm):
    """--pose-frames reads every /tf sample in the indexing pass: the extrinsic's check took
    them from a second pass over the bag's /tf (~24 s an hour of 100 Hz /tf). It takes the
    first pass's now, to the same verdict and depth as without --pose-frames (which reads
    /tf for it only then)."""
    from mast3r_ros.replay.rosbag import tf_extrinsic

    passes = []
    read_tf = tf_extrinsic.read_tf
    monkeypatch.setattr(tf_extrinsic, "read_tf", lambda *a: passes.append(1) or read_tf(*a))
    bag = _tf_bag(tmp_path / "tf", which, moved_mm=moved_mm)
    outcomes = []
    for pose_frames in (None, f"camera_link:{COLOR}"):
        passes.clear()
        try:
            outcomes.append(_depths(bag, pose_frames=pose_frames))
        except InputError as err:
            outcomes.append(str(err))
        outcomes.append(len(passes))
    assert outcomes[1] == 1 and outcomes[3] == 0, outcomes  # the second pass: without only
    if moved_mm > 1:
        assert outcomes[0] == outcomes[2] and "by up to 12.0 mm" in outcomes[0], outcomes
    else:
        for got, want in zip(outcomes[2], outcomes[0]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("moved_mm", [0.0, 12.0])
def test_the_first_pass_judges_every_run_as_the_second_did(tmp_path, moved_mm):
    """A header clock reset mid-bag (two runs, the second read, being the longer): the depth
    frame's /tf transform moves ``moved_mm`` in the first run only. The extrinsic is judged
    on every run's samples with --pose-frames too (the indexing pass's, kept past the run's
    choice), as the second pass and the read without --pose-frames judge it."""
    from rosbags.rosbag2 import StoragePlugin
    from test_rosbag import image, tf_message, write_bag
    from test_rosbag_depth_frame import RGB, _info

    msgs = []
    for count, at_ms, moved in ((2, 0, moved_mm), (3, 5000, 0.0)):
        for i in range(count):
            t, bag_t = (1000 + 100 * i) * MS, (1000 + at_ms + 100 * i) * MS
            m = LINK_FROM_DEPTH.copy()
            m[0, 3] += moved * 1e-3 * i
            msgs.append(("/tf", bag_t - 1, tf_message([("camera_link", COLOR, t, np.eye(4)),
                                                       ("camera_link", DEPTH, t, m)])))
            msgs.append((CAM, bag_t, image(t, "rgb8", RGB, frame_id=COLOR)))
            msgs.append(("/camera/color/camera_info", bag_t, _info(t, 30.0, COLOR)))
            msgs.append((TOPIC, bag_t + 1, image(t, "16UC1", DEPTH_MM, frame_id=DEPTH)))
            msgs.append(("/camera/depth/camera_info", bag_t + 1, _info(t, 20.0, DEPTH)))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    outcomes = []
    for pose_frames in (None, f"camera_link:{COLOR}"):
        try:
            seq = BagSequence(bag, image_topic=CAM, depth_topic=TOPIC, pose_frames=pose_frames)
            outcomes.append(f"{len(seq)} frames, registered={seq._depth_source is not None}")
            assert seq._tf_every is None  # every run's samples released once judged
        except InputError as err:
            outcomes.append(str(err)[str(err).index("moves during"):])
    assert outcomes[0] == outcomes[1], outcomes
    assert outcomes[0].startswith("moves during the recording: by up to 12.0 mm") if moved_mm \
        else outcomes[0] == "3 frames, registered=True", outcomes
