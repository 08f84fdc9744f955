"""Inputs bench/fuzz_inputs.py's reader targets (``ros1_bag``, ``params``, ``euroc``,
``kitti``; ``realsense`` and ``stereo_depth``'s are in test_realsense_bag / test_stereo_depth)
found ending in a traceback, a hang or a wrong read: each is now a one-line
`Mast3rRosError` that says what is wrong."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("body, anchor, line", [
    # an alias of its own mapping: a RecursionError in _flatten
    ("    gates: &g\n      min_inliers: 10\n      inner: *g\n", "g", 6),
    # aliases each doubling the one before: walked 2**N times (26 levels: a hang)
    ("    l0: &l0 {a: 1}\n    l1: &l1 {a: *l0, b: *l0}\n    l2: {a: *l1, b: *l1}\n", "l0", 5),
    # a plain alias, and a merge key: read, though rcl refuses the file
    ("    map_frame: &f world\n    odom_frame: *f\n", "f", 5),
])
def test_a_params_file_with_a_yaml_alias_is_refused_as_rcl_refuses_it(tmp_path, body, anchor,
                                                                      line):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    max_keyframes: 3\n" + body)
    with pytest.raises(ConfigError, match=rf"p\.yaml: YAML alias '\*{anchor}' at line {line}: "
                                          r"ROS 2's parameter parser refuses aliases"):
        load_config_yaml(str(path))


def test_a_params_merge_key_alias_is_refused_and_an_anchor_alone_is_read(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("common: &c\n  ros__parameters:\n    max_keyframes: 3\n"
                    "/**/mast3r_localizer:\n  <<: *c\n")
    with pytest.raises(ConfigError, match=r"YAML alias '\*c' at line 5"):
        load_config_yaml(str(path))
    path.write_text("/**:\n  ros__parameters: &p\n    max_keyframes: 3\n")  # rcl reads it
    assert load_config_yaml(str(path)).localizer.max_keyframes == 3


def _ros1_records(data: bytes) -> list:
    """[(op code, {field name: (value offset, size)})] of a ROS 1 bag's records, in file order
    (bench/fuzz_readers.ros1_fields walks them)."""
    import sys

    sys.path[:0] = [str(REPO / "bench")]
    try:
        from fuzz_readers import ros1_fields
    finally:
        del sys.path[0]
    out: list = []
    for name, _, at, size in ros1_fields(data):
        if name == "<header_len>":
            out.append([None, {}])
        if name == "op":
            out[-1][0] = data[at]
        out[-1][1].setdefault(name, (at, size))
    return out


def _set_uint32(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + struct.pack("<I", value) + data[at + 4:]


def _ros1_bag(tmp_path, compression=None) -> bytes:
    pytest.importorskip("rosbags")
    t1 = pytest.importorskip("test_ros1_bag")
    if compression is None:
        return t1._write_ros1_bag(tmp_path / "good.bag").read_bytes()
    from rosbags.rosbag1 import Writer
    writer = Writer(tmp_path / "good.bag")
    writer.set_compression(getattr(Writer.CompressionFormat, compression))
    with writer:  # the image and its CameraInfo, as test_ros1_bag writes them
        for topic, msg in (("/camera/color/image_raw", t1.T1["sensor_msgs/msg/Image"](
                header=t1._header(t1.S), height=t1.H, width=t1.W, encoding="rgb8",
                is_bigendian=0, step=t1.W * 3, data=t1.RGB.reshape(-1))),
                ("/camera/color/camera_info", t1._camera_info(t1.S))):
            conn = writer.add_connection(topic, msg.__msgtype__, typestore=t1.TS1)
            writer.write(conn, t1.S, t1.TS1.serialize_ros1(msg, msg.__msgtype__))
    return (tmp_path / "good.bag").read_bytes()


def _refused(tmp_path, data: bytes, match: str) -> None:
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.sources import frames_or_unreadable, open_source

    bag = tmp_path / "bad.bag"
    bag.write_bytes(data)
    with pytest.raises(InputError, match=match) as err:
        list(frames_or_unreadable(open_source(str(bag))))
    assert "\n" not in str(err.value)


def test_a_ros1_bag_with_an_index_count_past_its_chunk_is_refused_when_opened(tmp_path):
    # was rosbags' bare AssertionError (read_index_data) out of open_source
    data = _ros1_bag(tmp_path)
    at, _ = next(f["count"] for op, f in _ros1_records(data) if op == 4)  # an IndexData record
    data = _set_uint32(data, at, struct.unpack_from("<I", data, at)[0] + 1)
    _refused(tmp_path, data, r"cannot open ROS 1 bag .*bad\.bag: its records are damaged "
                             r"\(AssertionError: no detail\); .*'rosbag reindex ")


def test_a_ros1_message_record_with_a_damaged_header_length_is_refused_when_read(tmp_path):
    # was rosbags.rosbag1's ReaderError ("Header could not be read"), not rosbag2's, uncaught
    data = _ros1_bag(tmp_path)
    messages = [f for op, f in _ros1_records(data) if op == 2]
    data = _set_uint32(data, messages[2]["<header_len>"][0], 0x80000000)
    _refused(tmp_path, data, r"cannot read ROS 1 bag .*bad\.bag after \d+ messages of those "
                             r"asked for: its records are damaged \(ReaderError: Header could "
                             r"not be read from file\); copy it again, or 'rosbag reindex ")


def test_a_ros1_message_record_naming_another_connection_is_refused(tmp_path):
    # the image topic's first message record named the tf_static connection: read as a
    # TFMessage where an Image was asked for, an AttributeError ('no attribute format')
    data = _ros1_bag(tmp_path)
    records = _ros1_records(data)
    conns = {}
    for op, f in records:
        if op == 7:
            at, size = f["topic"]
            conns[data[at:at + size].decode()] = struct.unpack_from("<I", data, f["conn"][0])[0]
    image = next(f for op, f in records if op == 2 and struct.unpack_from(
        "<I", data, f["conn"][0])[0] == conns["/camera/color/image_raw"])
    data = _set_uint32(data, image["conn"][0], conns["/tf_static"])
    _refused(tmp_path, data, r"a message of topic /tf_static \(tf2_msgs/msg/TFMessage\) is "
                             r"indexed under topic /camera/color/image_raw's connection: the "
                             r"file is damaged")


@pytest.mark.parametrize("compression, at, raised", [
    ("BZ2", 40, "OSError"), ("LZ4", 0, "RuntimeError")])
def test_a_ros1_bag_whose_compressed_chunk_is_damaged_is_refused_when_read(
        tmp_path, compression, at, raised):
    # was bz2's OSError ("Invalid data stream") / lz4's RuntimeError (LZ4F_decompress failed)
    data = _ros1_bag(tmp_path, compression)
    chunk = next(f for op, f in _ros1_records(data) if op == 5)
    start = chunk["<header_len>"][0] + 4 + struct.unpack_from("<I", data,
                                                              chunk["<header_len>"][0])[0] + 4
    data = data[:start + at] + bytes(8) + data[start + at + 8:]
    _refused(tmp_path, data, rf"its records are damaged \({raised}: ")


_KITTI_CAMERA = ("image_width: 62\nimage_height: 19\ncamera_matrix: {rows: 3, cols: 3, data: "
                 "[35.9, 0, 30.3, 0, 35.9, 9.3, 0, 0, 1]}\ndistortion_model: plumb_bob\n"
                 "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n"
                 "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
                 "projection_matrix: {rows: 3, cols: 4, data: [35.9, 0, 30.3, 0, 0, 35.9, 9.3, "
                 "0, 0, 0, 1, 0]}\n")


@pytest.mark.parametrize("p2, camera_info, says", [
    # K's last row 0 0 0: numpy's LinAlgError (Singular matrix) out of open_source
    ("35.9 0 30.3 2.2691 0 35.9 9.3 0 0 0 0 0", False, r"P2's left 3x3 .* is no camera matrix"),
    # a negative fx, its intrinsics from --camera-info: read, camera 2 placed 6 cm right of
    # camera 0 instead of left
    ("-35.9 0 30.3 2.2691 0 35.9 9.3 0 0 0 1 0", True, r"P2's left 3x3 .* is no camera matrix"),
    # fx 1e-320 with --camera-info: an infinite offset, every frame's pose NaN (numpy 1.21's
    # inverse of that K gives NaN, 2.x's inf: refused either way)
    ("1e-320 0 30.3 2.2691 0 35.9 9.3 0 0 0 1 0", True,
     r"P2 places the camera at \[(inf|nan), "),
])
def test_a_kitti_calib_whose_p_is_no_camera_matrix_is_refused(tmp_path, p2, camera_info, says):
    from test_kitti_source import kitti_tree

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.sources import SourceOptions, frames_or_unreadable, open_source

    seq = kitti_tree(tmp_path)
    calib = seq / "calib.txt"
    calib.write_text("".join(f"P2: {p2}\n" if line.startswith("P2:") else line + "\n"
                             for line in calib.read_text().splitlines()))
    opts = SourceOptions()
    if camera_info:
        (tmp_path / "cam.yaml").write_text(_KITTI_CAMERA)
        opts = SourceOptions(camera_info=str(tmp_path / "cam.yaml"))
    with pytest.raises(InputError, match=r"calib\.txt: " + says):
        list(frames_or_unreadable(open_source(str(seq / "image_2"), opts)))


@pytest.mark.parametrize("stamp", ["1403636579763555584²", "١٤٠٣٦٣٦٥٧٩٧٦٣٥٥٥٥٨٤"])
def test_an_euroc_stamp_of_other_than_ascii_digits_is_refused_naming_its_line(tmp_path, stamp):
    # '²' passed str.isdigit() and int() raised a bare ValueError; Arabic-Indic digits were
    # read as the number
    from test_euroc_source import euroc_tree

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.sources import open_source

    cam = euroc_tree(tmp_path, frames=3)
    lines = (cam / "data.csv").read_text(encoding="utf-8").splitlines()
    name = lines[2].split(",")[1]
    lines[2] = f"{stamp},{name}"
    (cam / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"data\.csv:3: timestamp .* is not integer "
                                         r"nanoseconds"):
        open_source(str(tmp_path))


@pytest.mark.parametrize("value, says", [
    ("!!int '3.0'", r"line 3: !!int '3\.0' is no value of that type \(ValueError: "),
    ("!!timestamp 2001-99-99", r"line 3: !!timestamp '2001-99-99' is no value of that type"),
])
def test_a_params_value_its_tag_cannot_construct_is_refused_naming_its_line(tmp_path, value,
                                                                            says):
    # was PyYAML's bare ValueError out of load_config_yaml (a traceback from the CLI)
    path = tmp_path / "p.yaml"
    path.write_text(f"/**:\n  ros__parameters:\n    max_keyframes: {value}\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: " + says):
        load_config_yaml(str(path))


@pytest.mark.parametrize("line, says", [
    # YAML 1.1 numbers PyYAML read (10.5, 3, 90) and rcl reads as strings: the node refuses
    ("prior_radius_m: 1_0.5", r"'prior_radius_m' must be float, got str '1_0\.5': ROS 2 reads "
                              r"a number with '_' or ':' as a string"),
    ("max_keyframes: 0b11", r"'max_keyframes' must be int, got str '0b11'"),
    ("max_keyframes: 1:30", r"'max_keyframes' must be int, got str '1:30'"),
    # y / n, strings to PyYAML, are bools to rcl
    ("map_frame: y", r"'map_frame' must be str, got bool True: quote it \(YAML and ROS 2 read "
                     r"unquoted y, n, yes"),
    # 1e3 and inf, strings to PyYAML, are doubles to rcl (strtod): the node refuses the file
    ("map_frame: 1e3", r"'map_frame' is 1e3, which ROS 2 reads as a number \(a double\), but a "
                       r"string: quote it \('1e3'\)"),
    ("odom_frame: inf", r"'odom_frame' is inf, which ROS 2 reads as a number"),
    # quoted, an exponent form is a string to rcl too: was read as the double 5.0
    ("tf_publish_rate: '5e0'", r"'tf_publish_rate' must be float, got str '5e0': write 5e0 "
                               r"without quotes"),
])
def test_a_params_scalar_is_typed_as_rcl_types_it(tmp_path, line, says):
    path = tmp_path / "p.yaml"
    path.write_text(f"/**:\n  ros__parameters:\n    {line}\n")
    with pytest.raises(ConfigError, match=says):
        load_config_yaml(str(path))


def test_params_y_and_n_are_bools_and_hex_and_octal_ints_as_for_rcl(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    warmup: n\n    max_keyframes: 0x3\n"
                    "    retrieval_top_k: 010\n    map_frame: 1:30\n")  # 1:30 was the int 90
    cfg = load_config_yaml(str(path))
    assert cfg.localizer.warmup is False and cfg.localizer.max_keyframes == 3
    assert cfg.localizer.retrieval_top_k == 8 and cfg.node.map_frame == "1:30"


@pytest.mark.parametrize("frame", ["y", "N", "1_000", "1:30", "0b1", "1e3", "inf", "0x1p3"])
def test_a_config_dumped_reads_back_with_frame_names_rcl_would_retype(tmp_path, frame):
    from mast3r_ros.core.config import Config, config_from_params, dump_config_yaml

    cfg = config_from_params({"map_frame": frame}, base=Config())
    dump_config_yaml(cfg, str(tmp_path / "config.yaml"))
    assert load_config_yaml(str(tmp_path / "config.yaml")).node.map_frame == frame


@pytest.mark.parametrize("name, count", [("params", 200), ("ros1_bag", 40), ("euroc", 30),
                                         ("kitti", 30), ("realsense", 10),
                                         ("stereo_depth", 10), ("realsense_units", 15),
                                         ("tf_extrinsic", 6), ("euroc_cam1", 10)])
def test_a_bounded_seeded_fuzz_of_the_readers_escapes_nothing(tmp_path, name, count):
    """bench/fuzz_inputs.py's reader targets, seed 0, a few inputs each (the script runs
    thousands): every one read (and what it read checked) or refused with a package error."""
    import logging

    from test_fuzz_regressions import run_seeded_fuzz

    pytest.importorskip("rosbags")
    logging.disable(logging.CRITICAL)
    try:  # stereo_depth: no build-map (seconds)
        run_seeded_fuzz(name, {"tmp": tmp_path, "cli_share": 0.0}, count)
    finally:
        logging.disable(logging.NOTSET)


def test_a_ros1_bag_whose_type_name_is_no_name_is_refused_when_opened(tmp_path):
    # rosbags makes a Python class of each type name: '0f/tfMessage' was its SyntaxError
    t1 = pytest.importorskip("test_ros1_bag")
    data = t1._write_ros1_bag(tmp_path / "good.bag", "tf/msg/tfMessage").read_bytes()
    assert b"type=tf/tfMessage" in data
    _refused(tmp_path, data.replace(b"type=tf/tfMessage", b"type=0f/tfMessage"),
             r"cannot open ROS 1 bag .*bad\.bag: a message type's name in it is no type name "
             r"\('class 0f__msg__tfMessage:': .*\); the file is damaged")


@pytest.mark.parametrize("sensor", ["cam0", "vicon0"])
def test_an_euroc_sensor_yaml_giving_t_bs_twice_is_refused(tmp_path, sensor):
    # the first T_BS was read where PyYAML (EuRoC's own Python tools) reads the last
    from test_euroc_source import euroc_tree

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.sources import open_source

    euroc_tree(tmp_path, frames=3, gt="vicon0")
    path = tmp_path / "mav0" / sensor / "sensor.yaml"
    path.write_text(path.read_text() + "T_BS:\n  cols: 4\n  rows: 4\n  data: [1, 0, 0, 0, 0, 1, 0, "
                    "0, 0, 0, 1, 0, 0, 0, 0, 1]\n")
    with pytest.raises(InputError, match=rf"{sensor}/sensor\.yaml:\d+: 'T_BS' is given twice "
                                         r"\(lines 2 and \d+\)"):
        open_source(str(tmp_path))


def test_an_euroc_t_bs_of_nested_lists_says_so_not_a_node_repr(tmp_path):
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.euroc import read_t_bs

    path = tmp_path / "sensor.yaml"
    path.write_text("T_BS:\n  data: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n")
    with pytest.raises(InputError, match=r"sensor\.yaml:2: T_BS data holds a list, not a number "
                                         r"\(data is one flat list of 16 numbers\)$"):
        read_t_bs(path)
