"""Pins found by the 2026-12-05 mutation audit of the day's changes (bench/mutate.py): each test
fails on a mutant that the tests before it let pass (docs/bench/mutation_cpu_2026-12-05b)."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError, MapFormatError
from mast3r_ros.core.image_codec import load_camera_info_yaml
from mast3r_ros.core.keyframes import KeyframeMap

from test_map_load import _edit, v2  # noqa: F401  (v2: the fixture)

# ------------------------------------------------------------------ manifest (v2 records) ---


@pytest.mark.parametrize("field, index", [("K", 2), ("dist", 0)])
def test_a_v2_record_with_nan_intrinsics_is_refused_as_non_finite(v2, field, index):  # noqa: F811
    """Only 'map_from_cam' skips `_numbers`' finiteness test (it is said with the keyframe's
    id and stamp); K and dist holding NaN stay refused as non-finite fields."""
    def put_nan(m):
        intr = m["keyframes"][0]["intrinsics"]
        intr[field] = list(intr[field]) or [0.0]
        intr[field][index] = float("nan")
    _edit(v2, put_nan)
    with pytest.raises(MapFormatError, match=rf"keyframes\[0\]\.intrinsics: field '{field}' has "
                                             "non-finite values"):
        KeyframeMap.load(v2)


# -------------------------------------------------------- sensor.yaml without sensor_type ---

def test_intrinsics_and_resolution_alone_get_the_sensor_type_hint(tmp_path):
    """The two keys alone (nothing else in the file) are an ASL camera missing its type line."""
    p = tmp_path / "sensor.yaml"
    p.write_text("intrinsics: [458.6, 457.3, 367.2, 248.4]\nresolution: [752, 480]\n")
    with pytest.raises(InputError, match="no 'sensor_type: camera' line"):
        load_camera_info_yaml(p)


def test_a_camera_calibration_yaml_without_image_width_is_not_called_an_asl_sensor(tmp_path):
    """No 'intrinsics' / 'resolution': the camera_calibration reader's own refusal stands."""
    p = tmp_path / "camera.yaml"
    p.write_text("image_height: 480\ncamera_name: c\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
                 "  data: [500, 0, 320, 0, 500, 240, 0, 0, 1]\ndistortion_model: plumb_bob\n"
                 "distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0, 0, 0, 0, 0]\n")
    with pytest.raises(InputError) as err:
        load_camera_info_yaml(p)
    assert "image_width" in str(err.value) and "sensor_type" not in str(err.value)


# ------------------------------------------------------------------ /initialpose at its stamp ---

def _initialpose_host(stamp_msg):
    from test_ros_clock_jumps import OdometryAtStamps, _host, _initialpose

    host = _host(odom_frame="odom")
    host._tf = OdometryAtStamps()                   # odom x 0.2 m at 20 s, the latest 0.5 m
    host._tf.odom_from_base[:3, 3] = [0.5, 0.0, 0.0]
    msg = _initialpose(yaw_deg=0.0)
    msg.header.stamp = stamp_msg
    host._initial_pose(msg)
    return host


def test_initialpose_odometry_at_its_stamp_is_looked_at_without_a_wait():
    """The executor thread never waits for TF: the lookup at the stamp has timeout 0."""
    from types import SimpleNamespace as NS

    host = _initialpose_host(NS(sec=20, nanosec=0))
    assert host._tf.lookups == [("odom", "base_link", (20, 0), 0.0)]
    np.testing.assert_allclose(host._tracking.held_tf.parent_from_child[:3, 3], [0.8, 2.0, 0])


def test_initialpose_with_a_malformed_stamp_takes_the_latest_odometry():
    """A stamp `stamp_to_ns` refuses (sec a float) is not looked up: the latest odometry."""
    from types import SimpleNamespace as NS

    host = _initialpose_host(NS(sec=20.0, nanosec=0))
    assert [s for _, _, s, _ in host._tf.lookups if s is not None] == []
    np.testing.assert_allclose(host._tracking.held_tf.parent_from_child[:3, 3], [0.5, 2.0, 0])


# ------------------------------------------------------------------ activation ---

def test_an_activation_starts_the_worker_and_the_diagnostics_window():
    """`_begin_activation`: the worker runs, the window holds only this activation's frames
    (from now), and frames are taken (a new activation epoch)."""
    from test_ros_teardown import Host

    host = Host()
    host._active = False
    host._diag.started_t_s = -1.0
    host._diag.records.append("a frame of the last activation")
    epoch = host._activation
    host._begin_activation()
    assert host.events == ["worker.start"]
    assert host._diag.started_t_s > 0 and len(host._diag.records) == 0
    assert host._active and host._activation == epoch + 1


def test_a_frame_of_an_ended_activation_is_not_localized_at_all():
    """`tracking.localize_frame` with ``current()`` false before planning: no inference is run
    for it (the model's time goes to the next activation's frames), None, the state untouched."""
    from test_ros_tracking import CFG, S

    from mast3r_ros.ros import tracking

    st = tracking.TrackingState()
    calls = []
    out = tracking.localize_frame(st, lambda *a: calls.append(a), CFG, S, np.eye(4), np.eye(4),
                                  current=lambda: False)
    assert out is None and calls == []
    assert st.epoch == tracking.TrackingState().epoch and st.held_tf is None


# ------------------------------------------------------------------ EuRoC stereo pairing ---

def test_euroc_cam1_images_pair_with_cam0_by_exact_stamp_not_the_sync_tolerance(tmp_path):
    """cam1's image is the one of cam0's exact stamp (the cameras are triggered together):
    3 ms off, within --sync-tolerance (5 ms), no longer pairs; the same stamp does."""
    from test_stereo_depth import euroc_stereo_tree

    from mast3r_ros.replay.sources import SourceOptions, open_source

    root, _ = euroc_stereo_tree(tmp_path)
    csv = root / "mav0" / "cam1" / "data.csv"
    head, *rows = csv.read_text().splitlines()
    shifted = [f"{int(s) + off},{name}" for (s, name), off in
               zip((r.split(",") for r in rows), (3_000_000, 0))]
    csv.write_text("\n".join([head, *shifted]) + "\n")
    source = open_source(str(root), SourceOptions(stereo_depth=True, sync_tolerance_s=0.005))
    assert source[0].depth_m is None and source[1].depth_m is not None


def test_euroc_cameras_of_two_sizes_are_named_each_with_its_size(tmp_path):
    from test_stereo_depth import H, euroc_stereo_tree

    from mast3r_ros.replay.sources import SourceOptions, open_source

    root, _ = euroc_stereo_tree(tmp_path, 1, cam1_size=(300, H))
    with pytest.raises(InputError) as err:
        open_source(str(root), SourceOptions(stereo_depth=True))
    msg = str(err.value).replace("\\", "/")
    assert f"cam1/sensor.yaml is for 300x{H} images but " in msg, msg
    assert f"cam0/sensor.yaml for 320x{H}" in msg, msg


# ------------------------------------------------------------------ KITTI folder hint ---

def test_the_kitti_hint_is_empty_where_it_would_be_a_guess(tmp_path):
    """'' (not None, not a hint) for a folder with times.txt but no image_N/, one with only
    image_2/ (too common a name to guess from), and a whole sequence (read, not hinted)."""
    from test_kitti_source import kitti_tree

    from mast3r_ros.replay.kitti import kitti_folder_hint

    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "times.txt").write_text("0.0\n")
    bare = tmp_path / "bare"
    (bare / "image_2").mkdir(parents=True)
    seq = kitti_tree(tmp_path / "seq")
    assert [kitti_folder_hint(p) for p in (lone, bare, bare / "image_2", seq)] == [""] * 4


def test_stereo_depth_is_refused_for_a_rosbag2_before_the_bag_is_opened(tmp_path):
    """A folder with metadata.yaml is a rosbag2 to `open_source`: --stereo-depth is refused as
    such (its depth is --depth-topic's), before rosbags reads the (here unreadable) bag."""
    from mast3r_ros.replay.sources import SourceOptions, open_source

    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "metadata.yaml").write_text("not: a bag\n")
    with pytest.raises(InputError, match=r"is a rosbag2: drop it \(its depth is --depth-topic's\)"):
        open_source(str(bag), SourceOptions(stereo_depth=True))


# ------------------------------------------------------------------ activation ends late ---

def _ended_after_localizing(localizer=None):
    """A fake node whose activation ends (deactivate, activate) after the frame's inference
    returned and before its result is applied: the window `_publish_result` / `_fail` close."""
    from test_ros_processing import Host

    host = Host(localizer=localizer)
    localize = host._localize

    def then_reactivated(*args):
        outcome = localize(*args)
        host._set_active(False)
        host._set_active(True)
        return outcome

    host._localize = then_reactivated
    return host


def _dropped_as_deactivated(host):
    values = dict(host.summary().values)
    assert "deactivated during its inference" in values["last_failure"], values
    assert host._diag.total["dropped"] == 1 and host._diag.total["processed"] == 0
    assert host._tracking.held_tf is None and host._tracking.consecutive_failures == 0
    assert host._outputs.poses == [] and host._tf.sent == []


def test_a_pose_whose_activation_ended_after_inference_is_dropped_not_published():
    from test_ros_processing import image, stamp

    host = _ended_after_localizing()
    host._process(image(stamp(0)))
    _dropped_as_deactivated(host)


def test_a_failure_whose_activation_ended_after_inference_is_dropped_not_counted():
    from test_ros_processing import Localizer, image, stamp

    from mast3r_ros.core.types import LocalizationResult

    class Failing(Localizer):
        def localize(self, frame, *a, **k):
            super().localize(frame, *a, **k)
            return LocalizationResult.failure(frame.stamp_ns, "too few inliers")

    host = _ended_after_localizing(Failing())
    host._process(image(stamp(0)))
    _dropped_as_deactivated(host)


def test_an_inactive_node_ignores_a_frame_without_a_word():
    """A frame reaching an inactive node (the worker's last offer after a deactivate) is not
    processed: no inference, nothing recorded, no warning."""
    from test_ros_processing import Host, image, stamp

    host = Host()
    host._set_active(False)
    host._process(image(stamp(0)))
    assert host._localizer.calls == 0 and len(host._diag.records) == 0
    assert host.logger.lines == [] and host._tf.lookups == []


def test_a_missing_camera_tf_is_named_as_such_with_an_odometry_frame_set():
    from mast3r_ros.ros.processing import tf_failure_reason

    why = tf_failure_reason(LookupError("gone"), False, "camera_optical", "base_link", "odom")
    assert "the TF base_link -> camera_optical at the image stamp" in why and "odom" not in why


def test_each_localized_frame_sends_its_tf_while_the_clock_stands_still():
    """A frame's result is fresh: with the node clock paused (sim time) its TF still goes out,
    1 ns after the last one, where a timer tick would be skipped."""
    from test_ros_processing import Host, image, stamp

    host = Host()
    host._process(image(stamp(0)))
    host._process(image(stamp(1)))
    assert host._outputs.poses == [stamp(0), stamp(1)]
    assert len(host._tf.sent) == 2 and host._tf.sent[1] == host._tf.sent[0] + 1


# ------------------------------------------------------------------ RealSense depth ---

def test_realsense_depth_at_the_colour_pose_with_another_k_is_not_aligned(tmp_path, monkeypatch):
    """Extrinsics equal is half of 'aligned': the depth's CameraInfo must also repeat the
    colour's K (a depth stream of its own lens at the same place is not the colour's grid): it
    is registered (`_depth_source` set), not read pixel for pixel."""
    import test_realsense_bag as rs

    from mast3r_ros.replay.rosbag import BagSequence

    info = rs._info

    def colour_fx_off(w, h, k, model="Inverse Brown Conrady", d=(0.0,) * 5):
        return info(w, h, (k[0] * 1.2, k[1] * 1.2, k[2], k[3]) if model == "None" else k,
                    model, d)

    monkeypatch.setattr(rs, "_info", colour_fx_off)
    bag = rs.write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=0.0,
                                 colour_model="None")
    assert BagSequence(bag, depth_topic=rs.DEPTH)._depth_source is not None


def test_a_zero_depth_units_value_is_not_a_change_of_units(tmp_path):
    """Only positive finite 'Depth Units' values are units: a 0 beside 0.001 reads 0.001."""
    import test_realsense_bag as rs

    from mast3r_ros.replay.rosbag import BagSequence

    bag = rs.write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=0.0,
                                 depth_units=(0.0, 0.001))
    assert BagSequence(bag, depth_topic=rs.DEPTH).depth_units_per_m == 1000.0


def test_a_t265_pose_stream_is_named_as_not_the_colour_cameras_poses():
    from mast3r_ros.replay.rosbag.realsense import no_pose_reason

    pose = "/device_0/sensor_0/Pose_0/pose/transform/data"
    why = no_pose_reason("rs.bag", {pose: 1, "/file_version": 1})
    assert f"(its pose stream {pose} is a T265's own pose" in why and "--trajectory FILE" in why
    assert "T265" not in no_pose_reason("rs.bag", {"/file_version": 1})


@pytest.mark.parametrize("offset_m, aligned", [(0.00007, True), (0.00015, False)])
def test_realsense_streams_within_a_tenth_of_a_millimetre_are_one_frame(tmp_path, offset_m,
                                                                         aligned):
    import test_realsense_bag as rs

    from mast3r_ros.replay.rosbag import BagSequence

    bag = rs.write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=offset_m)
    seq = BagSequence(bag, depth_topic=rs.DEPTH)  # aligned: pixel for pixel; else registered
    assert seq.depth_units_per_m == 1000.0 and (seq._depth_source is None) == aligned


@pytest.mark.parametrize("angle_rad, aligned", [(0.00007, True), (0.00015, False)])
def test_realsense_streams_within_a_tenth_of_a_milliradian_are_one_frame(tmp_path, monkeypatch,
                                                                         angle_rad, aligned):
    import test_realsense_bag as rs

    from mast3r_ros.replay.rosbag import BagSequence

    transform = rs._transform

    def turned(x, w=1.0):  # colour_w carries the colour's turn about z (others: w 1)
        if w == 1.0:
            return transform(x, w)
        return rs.T["geometry_msgs/msg/Transform"](
            translation=rs.T["geometry_msgs/msg/Vector3"](x=x, y=0.0, z=0.0),
            rotation=rs.T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=np.sin(w / 2),
                                                          w=np.cos(w / 2)))

    monkeypatch.setattr(rs, "_transform", turned)
    bag = rs.write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=0.0,
                                 colour_w=angle_rad)
    seq = BagSequence(bag, depth_topic=rs.DEPTH)  # aligned: pixel for pixel; else registered
    assert seq.depth_units_per_m == 1000.0 and (seq._depth_source is None) == aligned


def test_realsense_message_helpers_at_their_edges():
    """The trailing float32 of exactly 4 bytes leaves an empty message, 3 bytes hold none;
    Kannala-Brandt4 with exactly its 4 coefficients is equidistant; a topic outside the
    layout has no extrinsics; a reader whose topics cannot be listed is no RealSense one."""
    import test_realsense_bag as rs

    from mast3r_ros.replay.rosbag import realsense

    assert realsense.strip_depth_units(b"\x00" * 4) == b""
    assert realsense.strip_depth_units(b"\x00" * 3) is None
    kb4 = realsense.standard_camera_info(rs._info(8, 6, rs.K, "Kannala Brandt4",
                                                  (0.1, 0.2, 0.3, 0.4)))
    assert kb4.distortion_model == "equidistant" and list(kb4.D) == [0.1, 0.2, 0.3, 0.4]
    assert realsense.extrinsic_topics({rs.DEPTH: 1}, "/camera/depth/image_raw") == {}

    class Damaged:
        is2 = False

        @property
        def topics(self):
            raise RuntimeError("index damaged")

    assert realsense.reader_is_realsense(Damaged()) is False


def test_realsense_depth_whose_calibration_cannot_be_read_is_not_aligned(tmp_path, monkeypatch):
    """A depth CameraInfo of a model no reader takes is 'calibration unknown': not aligned, and
    not registered either (registering needs it): the one-line refusal."""
    import test_realsense_bag as rs

    from mast3r_ros.replay.rosbag import BagSequence

    info = rs._info

    def depth_unreadable(w, h, k, model="Inverse Brown Conrady", d=(0.0,) * 5):
        if model == "Brown Conrady":
            model, d = "Modified Brown Conrady", (0.1, 0.0, 0.0, 0.0, 0.0)
        return info(w, h, k, model, d)

    monkeypatch.setattr(rs, "_info", depth_unreadable)
    bag = rs.write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=0.0)
    with pytest.raises(InputError, match="not aligned .*registering it needs its own calibration"):
        BagSequence(bag, depth_topic=rs.DEPTH)


# ------------------------------------------------------------------ stereo depth ---

def test_zero_and_negative_disparities_are_no_depth():
    from mast3r_ros.replay.stereo_depth import depth_from_disparity

    got = depth_from_disparity(np.array([[0.0, -1.0, 2.0, 0.5]], np.float32), 10.0)
    assert got.dtype == np.float32 and got.tolist() == [[0.0, 0.0, 5.0, 20.0]]


def _euroc_cams():
    from test_stereo_depth import CALIB, CAM1_IN_CAM0, H, W, _k

    from mast3r_ros.core.types import CameraIntrinsics

    cams = [CameraIntrinsics(W, H, _k(CALIB[c][0]), np.array(CALIB[c][1]), "plumb_bob")
            for c in ("cam0", "cam1")]
    return cams, np.linalg.inv(CAM1_IN_CAM0)


def test_an_euroc_cam1_left_of_cam0_is_refused():
    """cam1 beside cam0 but to its left (x < 0 in cam0's frame): SGBM searches the other way."""
    from mast3r_ros.replay.stereo_depth import euroc_stereo

    (cam0, cam1), cam1_from_cam0 = _euroc_cams()
    mirrored = cam1_from_cam0.copy()
    mirrored[:3, 3] *= -1
    with pytest.raises(InputError, match=r"not beside it to its right \(\+x\)"):
        euroc_stereo(cam0, cam1, mirrored, ("cam0/sensor.yaml", "cam1/sensor.yaml"))


def test_euroc_z_factor_is_each_cam0_pixels_rectified_ray_in_cam0s_z():
    """The back-map's z conversion, checked against cv2.undistortPoints' normalised rectified
    rays (no P): z in cam0 per z in the rectified frame is ray . R1[:, 2] at every pixel."""
    import cv2
    from test_stereo_depth import H, W

    from mast3r_ros.replay.stereo_depth import euroc_stereo

    (cam0, cam1), cam1_from_cam0 = _euroc_cams()
    sd = euroc_stereo(cam0, cam1, cam1_from_cam0, ("a", "b"))
    k0, k1 = np.asarray(cam0.K, float), np.asarray(cam1.K, float)
    r1 = cv2.stereoRectify(k0, cam0.dist, k1, cam1.dist, (W, H), cam1_from_cam0[:3, :3],
                           cam1_from_cam0[:3, 3].reshape(3, 1), flags=cv2.CALIB_ZERO_DISPARITY,
                           alpha=0)[0]
    u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    xy = cv2.undistortPoints(np.stack([u.ravel(), v.ravel()], 1).reshape(-1, 1, 2), k0,
                             cam0.dist, R=r1).reshape(H, W, 2)
    want = np.concatenate([xy, np.ones((H, W, 1))], axis=-1) @ r1[:, 2]
    np.testing.assert_allclose(sd._rectify[2][2], want, rtol=1e-5)


def test_a_kitti_calib_without_the_right_cameras_p_is_refused(tmp_path):
    from test_stereo_depth import kitti_stereo_tree

    from mast3r_ros.replay.sources import SourceOptions, open_source

    seq, _ = kitti_stereo_tree(tmp_path, 1)
    calib = seq / "calib.txt"
    calib.write_text("".join(line + "\n" for line in calib.read_text().splitlines()
                             if not line.startswith("P1:")))
    with pytest.raises(InputError, match=r"has no P1, the projection matrix of image_1"):
        open_source(str(seq), SourceOptions(stereo_depth=True))


def test_stereo_depth_of_rgb_images_is_that_of_their_grey_images():
    import cv2

    from mast3r_ros.replay.stereo_depth import StereoDepth

    rng = np.random.default_rng(0)
    left = cv2.resize(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8), (160, 96))
    right = np.roll(left, -6, axis=1)
    sd = StereoDepth((160, 96), 60.0, "right")
    grey = [cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in (left, right)]
    assert np.array_equal(sd.depth(left, right), sd.depth(*grey))


def test_a_stereo_frame_decodes_its_left_image_once(tmp_path, monkeypatch):
    """The depth reuses the left image just read for the frame (not decoded a second time)."""
    from test_stereo_depth import euroc_stereo_tree

    from mast3r_ros.replay.sources import SourceOptions, open_source
    from mast3r_ros.replay.stereo_depth import StereoFrames

    root, _ = euroc_stereo_tree(tmp_path)
    source = open_source(str(root), SourceOptions(stereo_depth=True))
    mro = type(source).__mro__
    base = mro[mro.index(StereoFrames) + 1]
    reads = []
    real = base._read_rgb

    def counted(self, path):
        reads.append(path)
        return real(self, path)

    monkeypatch.setattr(base, "_read_rgb", counted)
    frames = [source[0], source[1]]
    assert all(f.depth_m is not None for f in frames)
    assert len(reads) == 2 and reads[0] != reads[1]
