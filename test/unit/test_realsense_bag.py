"""A recording of Intel RealSense Viewer / librealsense's recorder (``rs-record``): a ROS 1 bag in
librealsense's own layout (`mast3r_ros.replay.rosbag.realsense`). It was unreadable: its infrared
stream made 'several image topics', its streams' CameraInfo 'several CameraInfo topics', and
every Image message of librealsense 2.3x+ (a float32 ``depth_units`` after ``data``) 'ROS1
message size mismatch'. Now its colour stream and calibration are read, depth (with the recorded
Depth Units) pixel for pixel when aligned, else registered to the colour image with the
recorded extrinsics, and build-map says it holds no poses."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag1 import Writer  # noqa: E402
from rosbags.typesys import Stores, get_types_from_msg, get_typestore  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

TS = get_typestore(Stores.ROS1_NOETIC)
TS.register(get_types_from_msg("bool is_recommended\nuint32 fps\nstring encoding",
                               "realsense_msgs/msg/StreamInfo"))
T = TS.types
S = 1_000_000_000
COLOUR = "/device_0/sensor_1/Color_0/image/data"
DEPTH = "/device_0/sensor_0/Depth_0/image/data"
RGB = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
K = (7.0, 7.5, 3.5, 2.5)  # fx fy cx cy


def _header(ns, seq=0):
    stamp = T["builtin_interfaces/msg/Time"](sec=ns // S, nanosec=ns % S)
    return T["std_msgs/msg/Header"](seq=seq, stamp=stamp, frame_id="")  # as librealsense: empty


def _info(w, h, k, model="Inverse Brown Conrady", d=(0.0,) * 5):
    """A CameraInfo as librealsense writes it: K and D, P and R zero, its distortion name."""
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    kk = np.zeros(9)
    kk[[0, 4, 2, 5, 8]] = [*k, 1]
    return T["sensor_msgs/msg/CameraInfo"](
        header=_header(0), height=h, width=w, distortion_model=model, D=np.array(d, float),
        K=kk, R=np.zeros(9), P=np.zeros(12), binning_x=0, binning_y=0, roi=roi)


def _image(ns, seq, array, encoding):
    return T["sensor_msgs/msg/Image"](
        header=_header(ns, seq), height=array.shape[0], width=array.shape[1], encoding=encoding,
        is_bigendian=0, step=array.shape[1] * array.itemsize * (array.shape[2] if array.ndim > 2
                                                                 else 1),
        data=np.ascontiguousarray(array).view(np.uint8).reshape(-1))


def _transform(x, w=1.0):
    return T["geometry_msgs/msg/Transform"](
        translation=T["geometry_msgs/msg/Vector3"](x=x, y=0.0, z=0.0),
        rotation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=w))


def write_realsense_bag(path, images=(RGB,) * 3, k=K, colour_sensor=1, colour_offset_m=0.015,
                        depth_units=0.001, depth_raw=1000, trailing=True, infrared=True,
                        colour_model="Inverse Brown Conrady", colour_d=(0.0,) * 5,
                        colour_encoding="rgb8", colour_w=1.0, depth_size=None, depth_k=None,
                        depth_model="Brown Conrady", depth_d=(0.0,) * 5, image_units=None):
    """A librealsense recording (file version 3): RGB Camera ``Color_0`` on ``sensor_<colour_
    sensor>``, Stereo Module ``Depth_0`` (mono16, ``depth_raw`` everywhere) and ``Infrared_1``
    (8UC1) on sensor_0, each stream's CameraInfo and extrinsic ``tf/0`` (colour
    ``colour_offset_m`` along x from depth), the 'Depth Units' option (None: not recorded; a
    tuple: one message per change);
    ``trailing``: each Image followed by librealsense's float32 depth_units (the option's
    first value, 0 without one; ``image_units``: the depth images' instead, frame n's
    ``image_units[n]``, and 0 after the other streams' images, as librealsense writes it);
    ``depth_size`` (w, h) and ``depth_k``: the depth camera's own (default the colour
    image's)."""
    h, w = images[0].shape[:2]
    dw, dh = depth_size or (w, h)
    colour = f"/device_0/sensor_{colour_sensor}/Color_0"
    msgs = [("/file_version", 1, T["std_msgs/msg/UInt32"](data=3)),
            ("/device_0/info", 1, T["diagnostic_msgs/msg/KeyValue"](key="Name",
                                                                    value="Intel RealSense")),
            (f"{colour}/info", 1, T["realsense_msgs/msg/StreamInfo"](
                is_recommended=True, fps=30, encoding="rgb8")),
            (f"{colour}/info/camera_info", 1, _info(w, h, k, colour_model, colour_d)),
            ("/device_0/sensor_0/Depth_0/info/camera_info", 1,
             _info(dw, dh, depth_k or k, depth_model, depth_d)),
            ("/device_0/sensor_0/Infrared_1/info/camera_info", 1,
             _info(w, h, k, "Brown Conrady")),
            ("/device_0/sensor_0/Depth_0/tf/0", 1, _transform(0.0)),
            ("/device_0/sensor_0/Infrared_1/tf/0", 1, _transform(0.0)),
            (f"{colour}/tf/0", 1, _transform(colour_offset_m, colour_w))]
    for n, units in enumerate(depth_units if isinstance(depth_units, tuple) else
                              () if depth_units is None else (depth_units,)):
        msgs.append(("/device_0/sensor_0/option/Depth Units/value", 1 + n * 150_000_000,
                     T["std_msgs/msg/Float32"](data=units)))
    base = 1_700_000_000 * S  # the device's clock in the headers; the bag's from 0
    for n, rgb in enumerate(images):
        t, bag_t = base + n * 100_000_000, (n + 1) * 100_000_000
        msgs.append((f"{colour}/image/data", bag_t, _image(t, n, rgb, colour_encoding)))
        msgs.append((DEPTH, bag_t + 1, _image(t + 1000, n,
                                              np.full((dh, dw), depth_raw, np.uint16), "mono16")))
        if infrared:
            msgs.append(("/device_0/sensor_0/Infrared_1/image/data", bag_t + 2,
                         _image(t + 1000, n, np.full((h, w), 90, np.uint8), "8UC1")))
    with Writer(path) as writer:
        conns = {}
        for topic, t, msg in sorted(msgs, key=lambda m: m[1]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            raw = bytes(TS.serialize_ros1(msg, msg.__msgtype__))
            if trailing and msg.__msgtype__ == "sensor_msgs/msg/Image":
                units = np.ravel(depth_units or 0.0)[0] if image_units is None else (
                    image_units[msg.header.seq] if topic == DEPTH else 0.0)
                raw += np.float32(units).tobytes()
            writer.write(conns[topic], t, raw)
    return str(path)


@pytest.mark.parametrize("trailing", [True, False])
def test_its_colour_stream_and_calibration_are_read(tmp_path, trailing):
    """Was 'several image topics' (Color_0 and Infrared_1), then 'several CameraInfo topics',
    and with librealsense's trailing depth_units every Image 'ROS1 message size mismatch'."""
    seq = BagSequence(write_realsense_bag(tmp_path / "rs.bag", trailing=trailing))
    assert seq.image_topic == COLOUR
    assert seq.camera_info_topic == "/device_0/sensor_1/Color_0/info/camera_info"
    frames = list(seq)
    assert len(frames) == 3
    for f in frames:
        np.testing.assert_array_equal(f.rgb, RGB)
        np.testing.assert_array_equal(f.intrinsics.K[[0, 1, 0, 1], [0, 1, 2, 2]], K)
        assert f.intrinsics.distortion_model == "plumb_bob" and not np.any(f.intrinsics.dist)


def test_trailing_bytes_are_still_refused_outside_a_realsense_recording(tmp_path):
    """Dropping 4 trailing bytes is librealsense's layout only: another bag's image message
    with bytes after it stays unreadable (a damaged message is not read as a whole one)."""
    bag = write_realsense_bag(tmp_path / "x.bag", infrared=False, colour_model="plumb_bob")
    from rosbags.rosbag1 import Reader

    other = tmp_path / "other.bag"
    with Reader(bag) as reader, Writer(other) as writer:
        conns = {}
        for conn, t, raw in reader.messages():
            if conn.topic == "/file_version":
                continue  # no longer librealsense's layout
            if conn.topic not in conns:
                conns[conn.topic] = writer.add_connection(conn.topic, conn.msgtype,
                                                          typestore=TS)
            writer.write(conns[conn.topic], t, raw)
    with pytest.raises(InputError, match="size mismatch"):
        list(BagSequence(other, image_topic=COLOUR,
                         camera_info_topic="/device_0/sensor_1/Color_0/info/camera_info"))


def test_brown_conrady_is_plumb_bob_and_an_inverse_model_is_refused(tmp_path):
    d = (0.1, -0.05, 0.001, 0.002, 0.01)
    seq = BagSequence(write_realsense_bag(tmp_path / "bc.bag", colour_model="Brown Conrady",
                                          colour_d=d))
    frame = next(iter(seq))
    assert frame.intrinsics.distortion_model == "plumb_bob"
    np.testing.assert_allclose(frame.intrinsics.dist, d)
    with pytest.raises(InputError, match="'Inverse Brown Conrady'.*--camera-info"):
        BagSequence(write_realsense_bag(tmp_path / "ibc.bag", colour_d=d))


def test_its_yuyv_colour_is_read_as_yuy2(tmp_path):
    """The colour camera's native YUYV (librealsense's name, not sensor_msgs') was refused as
    an unsupported encoding: it is YUY2's byte order."""
    yuyv = np.full((6, 8, 2), 128, np.uint8)
    yuyv[..., 0] = 200  # Y; U = V = 128: grey
    seq = BagSequence(write_realsense_bag(tmp_path / "yuyv.bag", images=(yuyv,) * 2,
                                          colour_encoding="YUYV"))
    import cv2

    want = cv2.cvtColor(yuyv, cv2.COLOR_YUV2RGB_YUY2)  # (200 - 16) * 1.164: 214 grey
    frames = list(seq)
    assert len(frames) == 2 and all(np.array_equal(f.rgb, want) for f in frames)


def test_unaligned_depth_is_registered_to_the_colour_stream(tmp_path):
    """A D435's depth is the depth camera's own stream, 15 mm from the colour camera with its
    own K and size: it was refused ('not aligned'); it is now registered to the colour image
    (a wall 1 m before the depth camera is 1 m before the colour camera, beside it)."""
    bag = write_realsense_bag(tmp_path / "rs.bag", depth_size=(10, 8),
                              depth_k=(6.0, 6.0, 4.6, 3.4))
    frames = list(BagSequence(bag, depth_topic=DEPTH))
    assert len(frames) == 3
    for f in frames:
        assert f.depth_m.shape == (6, 8) and (f.depth_m > 0).mean() > 0.9
        np.testing.assert_allclose(f.depth_m[f.depth_m > 0], 1.0, rtol=1e-5)


def test_unaligned_depth_without_its_calibration_is_refused_in_one_line(tmp_path):
    """Registering needs the depth camera's own calibration: one that cannot be read (a
    distortion model OpenCV has not) is refused naming it, with the fix."""
    bag = write_realsense_bag(tmp_path / "rs.bag", depth_model="Inverse Brown Conrady",
                              depth_d=(0.1, 0, 0, 0, 0))
    with pytest.raises(InputError) as err:
        BagSequence(bag, depth_topic=DEPTH)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1, msg
    assert ("depth stream /device_0/sensor_0/Depth_0 is not aligned to /device_0/sensor_1/"
            "Color_0 (the depth camera is 15.0 mm and 0.00 deg from the colour camera), and "
            "registering it needs its own calibration, /device_0/sensor_0/Depth_0/info/"
            "camera_info: ") in msg and "'Inverse Brown Conrady'" in msg
    assert "align_depth.enable true" in msg


def test_build_map_of_a_d435_recording_with_its_depth(tmp_path, tum, capsys):
    """``build-map BAG --depth-topic .../Depth_0/image/data --trajectory FILE --matcher sift``
    of a D435-style recording (depth at its own size and K, 15 mm away) builds a map from the
    registered depth, where it was refused."""
    import json

    from mast3r_ros.replay.sources import open_source

    frames = list(open_source(tum[0]))[:3]
    k = frames[0].intrinsics.K
    bag = write_realsense_bag(tmp_path / "rs.bag", images=[f.rgb for f in frames],
                              k=(k[0, 0], k[1, 1], k[0, 2], k[1, 2]), depth_size=(424, 240),
                              depth_k=(210.0, 210.0, 211.5, 119.5))
    traj = tmp_path / "traj.txt"  # the header stamps write_realsense_bag gives
    traj.write_text("".join(f"{1_700_000_000 + 0.1 * n:.9f} {0.2 * n} 0 0 0 0 0 1\n"
                            for n in range(3)))
    out = tmp_path / "map"
    assert main(["build-map", bag, "--out", str(out), "--depth-topic", DEPTH, "--trajectory",
                 str(traj), "--matcher", "sift", "--log-level", "error"]) == 0, \
        capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["keyframe_table"][
        "num_keyframes"] == 2
    import cv2

    depth = cv2.imread(str(out / "keyframes" / "000000_depth.png"), cv2.IMREAD_UNCHANGED)
    assert depth.shape == (240, 320) and (depth > 0).mean() > 0.9  # the colour image's
    assert len(np.unique(depth[depth > 0])) == 1  # the wall 1 m away, beside the colour camera


def test_aligned_depth_is_read_with_the_recorded_depth_units(tmp_path):
    """A D405's colour comes from its depth module, in the depth's frame (0.1 mm units): depth
    10000 is 1 m, not the 10 m REP-118's 1000 units per metre would make it."""
    bag = write_realsense_bag(tmp_path / "d405.bag", colour_sensor=0, colour_offset_m=0.0,
                              depth_units=0.0001, depth_raw=10000)
    seq = BagSequence(bag, depth_topic=DEPTH)
    assert seq.depth_units_per_m == 10000.0
    depth = [f.depth_m for f in seq]
    assert len(depth) == 3 and all(np.all(d == np.float32(1.0)) for d in depth)
    assert BagSequence(bag, depth_topic=DEPTH, depth_scale=1000.0).depth_units_per_m == 1000.0
    missing = write_realsense_bag(tmp_path / "nounits.bag", colour_sensor=0,
                                  colour_offset_m=0.0, depth_units=None)
    with pytest.raises(InputError, match="no 'Depth Units' option recorded.*--depth-scale"):
        BagSequence(missing, depth_topic=DEPTH)
    changed = write_realsense_bag(tmp_path / "changed.bag", colour_sensor=0,
                                  colour_offset_m=0.0, depth_units=(0.001, 0.0001))
    with pytest.raises(InputError, match=r"'Depth Units' of depth stream /device_0/sensor_0/"
                                         r"Depth_0 changed during the recording \(0.001 m, "
                                         r"0.0001 m;"):
        BagSequence(changed, depth_topic=DEPTH)
    assert BagSequence(changed, depth_topic=DEPTH, depth_scale=1000.0).depth_units_per_m == 1000


@pytest.mark.parametrize("w", [float("nan"), 0.0, 1e-300, 1e300])
def test_depth_with_no_usable_extrinsic_is_refused(tmp_path, w):
    """A colour extrinsic that is no rigid transform (NaN, a zero quaternion: scipy raised a
    bare ValueError; one of norm 1e-300, which scipy's normalisation squared to 0, the same;
    one of norm 1e300, whose square overflowed into an all-zero rotation: numpy's
    LinAlgError 'Singular matrix') leaves nothing to tell the depth aligned: refused as
    unknown."""
    bag = write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=0.0,
                              colour_w=w)
    with pytest.raises(InputError, match="not aligned .* as far as the recording tells"):
        BagSequence(bag, depth_topic=DEPTH)


@pytest.mark.parametrize("offset_m, said", [(1e300, "inf mm"), (0.6, "600.0 mm")])
def test_an_extrinsic_of_1e300_m_is_refused_as_unaligned_without_a_numpy_warning(
        tmp_path, offset_m, said):
    """The colour extrinsic 1e300 m off: the offset's norm overflowed, numpy's RuntimeWarning
    printed two lines on the CLI's stderr before the one-line refusal; registered, every depth
    pixel would have gone nowhere without a word. 0.6 m: no two cameras of one device."""
    import warnings

    bag = write_realsense_bag(tmp_path / "rs.bag", colour_sensor=0, colour_offset_m=offset_m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=f"not aligned .*: the depth camera is {said} from "
                                             "the colour camera .*damaged extrinsic"):
            BagSequence(bag, depth_topic=DEPTH)


def test_build_map_says_a_realsense_recording_holds_no_poses(tmp_path, capsys):
    bag = write_realsense_bag(tmp_path / "rs.bag")
    assert main(["build-map", bag, "--out", str(tmp_path / "map"), "--log-level",
                 "error"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a RealSense recording (librealsense's rosbag), " \
        "which holds no camera poses: pass the colour camera's poses as a TUM trajectory, " \
        "--trajectory FILE" in err, err


def test_a_recording_without_a_colour_stream_names_its_streams(tmp_path):
    bag = write_realsense_bag(tmp_path / "rs.bag")
    from rosbags.rosbag1 import Reader

    grey = tmp_path / "grey.bag"
    with Reader(bag) as reader, Writer(grey) as writer:
        conns = {}
        for conn, t, raw in reader.messages():
            if "Color_0" in conn.topic:
                continue
            if conn.topic not in conns:
                conns[conn.topic] = writer.add_connection(conn.topic, conn.msgtype,
                                                          typestore=TS)
            writer.write(conns[conn.topic], t, raw)
    with pytest.raises(InputError, match="RealSense recording without a colour stream .*"
                                         "Infrared_1/image/data.*"):
        BagSequence(grey)


def test_localize_reads_a_realsense_recording(tmp_path, tum, sift_map, capsys):
    """``mast3r-ros localize BAG --map MAP`` of a RealSense recording of the query frames."""
    import json

    from mast3r_ros.replay.sources import open_source

    frames = list(open_source(tum[1]))[:3]
    k = frames[0].intrinsics.K
    bag = write_realsense_bag(tmp_path / "rs.bag", images=[f.rgb for f in frames],
                              k=(k[0, 0], k[1, 1], k[0, 2], k[1, 2]))
    run = tmp_path / "run"
    assert main(["localize", bag, "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--log-level", "error"]) == 0, capsys.readouterr().err
    lines = (run / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3 and any(json.loads(x).get("success") for x in lines)


def test_pose_frames_on_a_realsense_recording_says_it_holds_no_poses(tmp_path):
    """--pose-frames on such a recording was refused as "pose_frames='map' needs tf, but ROS 1
    bag ... has no tf2_msgs/msg/TFMessage topic", which says neither why nor what to pass."""
    with pytest.raises(InputError, match=r"pose_frames='map' \(--pose-frames\) needs tf, but ROS 1 "
                       r"bag .*rs\.bag is a RealSense recording .*, which holds no camera poses: "
                       r"pass the colour camera's poses as a TUM trajectory, --trajectory FILE"):
        BagSequence(write_realsense_bag(tmp_path / "rs.bag"), pose_frames="map")


def test_the_bag_summary_line_says_no_depth_and_no_poses_in_words(tmp_path, caplog):
    """The INFO line ended 'depth from -, poses from -', which read as a topic named '-'."""
    bag = write_realsense_bag(tmp_path / "rs.bag", colour_offset_m=0.0)
    with caplog.at_level("INFO", logger="mast3r_ros.replay.rosbag.sequence"):
        BagSequence(bag)
        BagSequence(bag, depth_topic=DEPTH)
    said = [r.getMessage() for r in caplog.records if " images on " in r.getMessage()]
    assert len(said) == 2, said
    assert said[0].endswith("camera_info, no depth read, no poses from tf (--pose-frames)")
    assert said[1].endswith(f"camera_info, depth from {DEPTH}, no poses from tf (--pose-frames)")
