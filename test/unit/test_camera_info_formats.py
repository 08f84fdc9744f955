"""``--camera-info`` takes, besides camera_calibration_parsers' layout, a CameraInfo message
saved with ``ros2 topic echo`` and an OpenCV FileStorage YAML. Both failed before ("expected a
single document in the stream, but found another document" for the echo's ``---`` line; "while
scanning a directive ... found ':'" for OpenCV 4's ``%YAML:1.0``, "could not determine a
constructor for the tag ...opencv-matrix" for OpenCV 5's file)."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import intrinsics_from_camera_info, load_camera_info_yaml

K = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]
D5 = [0.1, -0.25, 1e-05, 0.002, 0.0]


def _block(name: str, values) -> str:
    return f"{name}:\n" + "".join(f"- {v}\n" for v in values)


# what `ros2 topic echo /camera/color/camera_info --once` prints on Humble and Jazzy
# (rosidl_runtime_py.message_to_yaml: block lists of Python floats, then a '---' line)
ECHO = (
    "header:\n  stamp:\n    sec: 1718500617\n    nanosec: 444867328\n"
    "  frame_id: camera_color_optical_frame\n"
    "height: 480\nwidth: 640\ndistortion_model: plumb_bob\n"
    "d:\n- 0.1\n- -0.25\n- 1.0e-05\n- 0.002\n- 0.0\n"
    + _block("k", K) + _block("r", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    + _block("p", [525.0, 0.0, 319.5, 0.0, 0.0, 525.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0])
    + "binning_x: 0\nbinning_y: 0\n"
    "roi:\n  x_offset: 0\n  y_offset: 0\n  height: 0\n  width: 0\n  do_rectify: false\n"
    "---\n")
# the same with --flow-style (its mappings stay in block style: rosidl_runtime_py's own
# representer gives them no flow style)
ECHO_FLOW = (
    "header:\n  stamp:\n    sec: 1718500617\n    nanosec: 444867328\n"
    "  frame_id: camera_color_optical_frame\n"
    "height: 480\nwidth: 640\ndistortion_model: plumb_bob\n"
    "d: [0.1, -0.25, 1.0e-05, 0.002, 0.0]\n"
    "k: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]\n"
    "r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]\n"
    "p: [525.0, 0.0, 319.5, 0.0, 0.0, 525.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]\n"
    "binning_x: 0\nbinning_y: 0\n"
    "roi:\n  x_offset: 0\n  y_offset: 0\n  height: 0\n  width: 0\n  do_rectify: false\n"
    "---\n")


def _write(tmp_path, text: str, name: str = "cam.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path, *fragments: str) -> str:
    """Assert the file is refused in one line naming it and each fragment; return the line."""
    with pytest.raises(InputError) as err:
        load_camera_info_yaml(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text, text
    for fragment in fragments:
        assert fragment in text, text
    return text


def _same(cam, expected) -> None:
    assert (cam.width, cam.height, cam.distortion_model) == (
        expected.width, expected.height, expected.distortion_model)
    np.testing.assert_array_equal(cam.K, expected.K)
    np.testing.assert_array_equal(cam.dist, expected.dist)


# --------------------------------------------------------------------------------------------
# ros2 topic echo


@pytest.mark.parametrize("text", [ECHO, ECHO_FLOW, ECHO[:-len("---\n")]],
                         ids=["block", "flow-style", "no-trailer"])
def test_an_echoed_camera_info_reads_as_the_message(tmp_path, caplog, text):
    path = _write(tmp_path, text)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path)
    _same(cam, intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))
    said = [r for r in caplog.records if "ros2 topic echo" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO, caplog.text
    assert str(path) in said[0].getMessage()


def test_an_echoed_camera_info_applies_binning_and_roi_as_the_node_does(tmp_path):
    """The fields go through the node's own CameraInfo reader: ROI offset, then binning, as
    image_geometry applies them (here a 320x240 crop at (100, 60), binned 2x2)."""
    from types import SimpleNamespace

    from mast3r_ros.core.message_fields import camera_info_to_intrinsics

    text = ECHO.replace("binning_x: 0\nbinning_y: 0", "binning_x: 2\nbinning_y: 2").replace(
        "  x_offset: 0\n  y_offset: 0\n  height: 0\n  width: 0",
        "  x_offset: 100\n  y_offset: 60\n  height: 240\n  width: 320")
    cam = load_camera_info_yaml(_write(tmp_path, text))
    roi = SimpleNamespace(x_offset=100, y_offset=60, height=240, width=320, do_rectify=False)
    msg = SimpleNamespace(width=640, height=480, k=K, d=D5, distortion_model="plumb_bob",
                          binning_x=2, binning_y=2, roi=roi)
    _same(cam, camera_info_to_intrinsics(msg))
    assert (cam.width, cam.height) == (160, 120)
    np.testing.assert_allclose(cam.K[:2, 2], [(319.5 - 100) / 2, (239.5 - 60) / 2])


def _k_lines(n: int) -> str:
    return _block("k", K[:n] if n <= 9 else K + [0.0] * (n - 9))


@pytest.mark.parametrize("edit, said", [
    (lambda t: t.replace(_block("k", K), _k_lines(8)), "K must have 9 values"),
    (lambda t: t.replace(_block("k", K), _k_lines(10)), "K must have 9 values"),
    (lambda t: t.replace("- 0.0\n- 1.0\n- 0.0\nbinning_x", "- 0.0\n- 1.0\nbinning_x"),
     "p must have 12 values, got 11"),
    (lambda t: t.replace(_block("k", K), ""), "missing field 'k'"),
    (lambda t: t.replace("width: 640\n", ""), "missing field 'width'"),
    (lambda t: t + ECHO, "holds 2 YAML documents"),  # saved without --once
    (lambda t: "source_timestamp: 1718500617444867328\nreceived_timestamp: 1718500617445\n"
               "publication_sequence_number: 3\nreception_sequence_number: 3\n---\n" + t,
     "holds 2 YAML documents"),  # -v: message_info first
    (lambda t: t.replace("binning_x", "K: [1.0]\nbinning_x"),
     ("holds K and k", "rostopic echo -n 1")),  # an array in both spellings: no echo's
    (lambda t: t.replace("d:\n- 0.1\n- -0.25\n- 1.0e-05\n- 0.002\n- 0.0\n",
                         "d: array('d', [0.1, -0.25, 1e-05, 0.002, 0.0])\n"),
     "Python's text of an array"),
    (lambda t: t.replace(_block("k", K), "k: '<array type: double[9]>'\n"), "with --no-arr"),
    (lambda t: t.replace("height: 480\n", "height: 480\nheight: 240\n"),
     "height is given twice (lines 6 and 7)"),
    (lambda t: t.replace("- 0.002\n- 0.0\n", "- 0.002\n- 0.0\n- 0.0\n"),
     "plumb_bob expects (0, 4, 5) distortion coefficients, got 6"),
    (lambda t: t.replace("- 525.0\n- 0.0\n- 319.5\n- 0.0\n- 525.0\n",
                         "- 525.0\n- 0.0\n- '319.5'\n- 0.0\n- 525.0\n", 1),
     "k[2] must be a number"),
    (lambda t: t.replace("width: 640", "width: 640.5"), "width must be a whole number"),
], ids=["k-8", "k-10", "p-11", "no-k", "no-width", "two-messages", "message-info",
        "ros1-and-ros2-names", "python-repr", "no-arr", "repeated-key",
        "6-coefficients-named-plumb_bob", "quoted-number", "fractional-width"])
def test_a_bad_echoed_camera_info_is_refused_in_one_line(tmp_path, edit, said):
    text = edit(ECHO)
    assert text != ECHO
    _refused(_write(tmp_path, text), *((said,) if isinstance(said, str) else said))


# what ROS 1's `rostopic echo -n 1 /camera/rgb/camera_info` prints (genpy's YAML: D, K, R, P
# in capitals as flow lists of Python's float text, 1e-05 without a '.'; header.seq, stamp
# secs/nsecs; strings quoted; bools in Python's words), then a '---' line
ECHO_ROS1 = (
    "header: \n  seq: 1520\n  stamp: \n    secs: 1718500617\n    nsecs: 444867328\n"
    '  frame_id: "camera_rgb_optical_frame"\n'
    'height: 480\nwidth: 640\ndistortion_model: "plumb_bob"\n'
    "D: [0.1, -0.25, 1e-05, 0.002, 0.0]\n"
    "K: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]\n"
    "R: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]\n"
    "P: [525.0, 0.0, 319.5, 0.0, 0.0, 525.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]\n"
    "binning_x: 0\nbinning_y: 0\n"
    "roi: \n  x_offset: 0\n  y_offset: 0\n  height: 0\n  width: 0\n  do_rectify: False\n"
    "---\n")


@pytest.mark.parametrize("text", [ECHO_ROS1, ECHO_ROS1[:-len("---\n")],
                                  ECHO_ROS1.replace("\n", "\r\n")],
                         ids=["rostopic-echo", "no-trailer", "crlf"])
def test_a_ros1_rostopic_echo_reads_as_the_message(tmp_path, caplog, text):
    """Refused before ("'K' is not a field ... rename K to k"): the same message in ROS 1's
    names, read by the same reader."""
    path = _write(tmp_path, text)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path)
    _same(cam, intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))
    said = [r.getMessage() for r in caplog.records if "rostopic echo" in r.getMessage()]
    assert len(said) == 1 and str(path) in said[0] and "ROS 1" in said[0], caplog.text


def test_a_ros1_echo_applies_binning_and_roi_as_the_ros2_one(tmp_path):
    roi = ("  x_offset: 100\n  y_offset: 60\n  height: 240\n  width: 320", "  x_offset: 0\n"
           "  y_offset: 0\n  height: 0\n  width: 0")
    ros1 = ECHO_ROS1.replace("binning_x: 0\nbinning_y: 0", "binning_x: 2\nbinning_y: 2")
    ros2 = ECHO.replace("binning_x: 0\nbinning_y: 0", "binning_x: 2\nbinning_y: 2")
    cam1 = load_camera_info_yaml(_write(tmp_path, ros1.replace(roi[1], roi[0]), "ros1.yaml"))
    cam2 = load_camera_info_yaml(_write(tmp_path, ros2.replace(roi[1], roi[0]), "ros2.yaml"))
    _same(cam1, cam2)
    assert (cam1.width, cam1.height) == (160, 120)


@pytest.mark.parametrize("edit, said", [
    (lambda t: t + t, ("holds 2 YAML documents", "ROS 1's 'rostopic echo' (without -n 1",
                       "rostopic echo -n 1 TOPIC > FILE")),
    (lambda t: t.replace("K: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]\n", ""),
     ("missing field 'K'", "'rostopic echo' prints every field")),
    (lambda t: t.replace("1.0, 0.0]\nbinning_x", "1.0]\nbinning_x"),
     "CameraInfo P must have 12 values, got 11"),
    (lambda t: "".join(line for line in t.splitlines(keepends=True)
                       if line[:3] not in ("D: ", "K: ", "R: ", "P: ")),
     ("missing field 'D', 'K'", "rostopic echo -n 1")),  # --noarr leaves the arrays out
    (lambda t: t.replace("height: 480\n", "height: 480\nfx: 525.0\n"),
     ("'fx' is not a field", "saved by 'rostopic echo'", "D, K, R, P")),
], ids=["two-messages", "no-K", "P-11", "noarr", "unknown-field"])
def test_a_bad_ros1_echo_is_refused_in_ros1s_words(tmp_path, edit, said):
    text = edit(ECHO_ROS1)
    assert text != ECHO_ROS1
    _refused(_write(tmp_path, text), *((said,) if isinstance(said, str) else said))


NOT_PUBLISHED = "WARNING: topic [/camera/color/camera_info] does not appear to be published yet\n"
LOST = "A message was lost!!!\n\ttotal count change:1\n\ttotal count: 1---\n"


@pytest.mark.parametrize("notices", [NOT_PUBLISHED, LOST, NOT_PUBLISHED + LOST + LOST,
                                     LOST.replace("\t", "    ")],
                         ids=["not-published", "message-lost", "all", "tabs-as-spaces"])
@pytest.mark.parametrize("echo", [ECHO, ECHO_FLOW], ids=["block", "flow-style"])
def test_the_notices_ros2_topic_echo_prints_before_the_message_are_skipped(tmp_path, caplog,
                                                                           notices, echo):
    """Before: 'not valid YAML' (the lost-message notice's tabs) or "'WARNING' is not a field"
    (the not-published one reads as a key)."""
    path = _write(tmp_path, notices + echo)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path)
    _same(cam, intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))
    said = [r.getMessage() for r in caplog.records if "printed before the message" in
            r.getMessage()]
    assert len(said) == 1 and str(path) in said[0], caplog.text


def test_after_skipped_notices_errors_name_the_files_own_lines(tmp_path):
    text = NOT_PUBLISHED + LOST + ECHO.replace("height: 480\n", "height: 480\nheight: 240\n")
    _refused(_write(tmp_path, text), "height is given twice (lines 10 and 11)")


@pytest.mark.parametrize("text, said", [
    (NOT_PUBLISHED + "Could not determine the type for the passed topic\n",
     ("holds no message", "nothing was publishing the topic", "--once")),
    (LOST, ("holds no message, only what 'ros2 topic echo' printed before one",)),
    ("[WARN] [1718500617.123456789] [_ros2cli_4242]: New publisher discovered on topic "
     "'/camera/color/camera_info', offering incompatible QoS. No messages will be sent to it. "
     "Last incompatible policy: DURABILITY_QOS_POLICY\n" + ECHO,
     ("line 1 is a ROS log line", "2>&1", "stdout only")),
    ("Subscribed to /camera/color/camera_info\n" + ECHO, ("is not valid YAML", "line 2")),
    (ECHO.replace("binning_x", NOT_PUBLISHED.rstrip() + "\nbinning_x"),
     ("'WARNING' is not a field",)),  # within the message: not a notice before it
], ids=["no-publisher", "only-a-notice", "ros-log-line", "other-line", "notice-inside"])
def test_other_lines_before_or_in_the_message_stay_one_clear_error(tmp_path, text, said):
    _refused(_write(tmp_path, text), *said)


def test_the_ros_layout_with_a_trailer_is_refused_as_before(tmp_path):
    """Only a message is read past its '---' line: a camera_calibration_parsers file with one
    keeps its error (the layout's behaviour is unchanged)."""
    from mast3r_ros.replay.synthetic import camera_yaml

    cam = intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob")
    _refused(_write(tmp_path, camera_yaml(cam) + "---\n"),
             "is not valid YAML", "expected a single document")


def test_a_ros_layout_file_with_message_field_names_stays_the_ros_layout(tmp_path):
    """Keys of one's own in a camera_calibration_parsers file (ROS ignores them) that a
    CameraInfo message also has do not make it an echo: its image_width / camera_matrix say
    which file it is, and it reads as it did."""
    from mast3r_ros.replay.synthetic import camera_yaml

    cam = intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob")
    extra = "header:\n  frame_id: cam\nwidth: 320\nheight: 240\nk: [1, 2, 3]\n"
    _same(load_camera_info_yaml(_write(tmp_path, camera_yaml(cam) + extra)), cam)


# --------------------------------------------------------------------------------------------
# OpenCV FileStorage


def _opencv(tmp_path, entries: dict, header: str = "", name: str = "ocv.yaml"):
    """Write ``entries`` with cv2.FileStorage (numpy arrays become !!opencv-matrix, lists of
    ints a sequence); ``header`` replaces the first line ('%YAML:1.0' is OpenCV 4's, '%YAML
    1.2' OpenCV 5's)."""
    fs = cv2.FileStorage(str(tmp_path / name), cv2.FILE_STORAGE_WRITE)
    for key, value in entries.items():
        if isinstance(value, list):
            fs.startWriteStruct(key, cv2.FILE_NODE_SEQ)
            for v in value:
                fs.write("", v)
            fs.endWriteStruct()
        else:
            fs.write(key, value)
    fs.release()
    path = tmp_path / name
    if header:
        lines = path.read_text().splitlines(keepends=True)
        assert lines[0].startswith("%YAML")
        path.write_text(header + "\n" + "".join(lines[1:]))
    return path


def _calibration(d=D5, **extra) -> dict:
    """As OpenCV's calibration sample (camera_calibration.cpp) writes it (D as Nx1)."""
    return {"image_width": 640, "image_height": 480, "flags": 0, "fisheye_model": 0,
            "camera_matrix": np.array(K).reshape(3, 3),
            "distortion_coefficients": np.array(d, dtype=np.float64).reshape(-1, 1),
            "avg_reprojection_error": 0.21, **extra}


@pytest.mark.parametrize("header", ["", "%YAML:1.0", "%YAML 1.2"],
                         ids=["as-written", "opencv4-header", "opencv5-header"])
def test_an_opencv_calibration_reads_with_cv2(tmp_path, caplog, header):
    path = _opencv(tmp_path, _calibration(), header)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path)
    _same(cam, intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))
    said = [r for r in caplog.records if "OpenCV FileStorage" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO, caplog.text


@pytest.mark.parametrize("names", [("K", "D"), ("cameraMatrix", "distCoeffs")])
def test_other_tools_key_names_and_image_size(tmp_path, names):
    k_key, d_key = names
    path = _opencv(tmp_path, {"image_size": [640, 480], k_key: np.array(K).reshape(3, 3),
                              d_key: np.array([D5])})  # 1x5, as cv2.calibrateCamera returns
    _same(load_camera_info_yaml(path), intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))


@pytest.mark.parametrize("count, fisheye, model", [
    (4, 0, "plumb_bob"), (5, 0, "plumb_bob"), (8, 0, "rational_polynomial"),
    (12, 0, "rational_polynomial"), (14, 0, "rational_polynomial"), (4, 1, "equidistant")])
def test_the_distortion_model_follows_opencvs_count(tmp_path, count, fisheye, model):
    d = [0.01 * (i + 1) for i in range(count)]
    cam = load_camera_info_yaml(_opencv(tmp_path, _calibration(d, fisheye_model=fisheye)))
    assert cam.distortion_model == model
    np.testing.assert_array_equal(cam.dist, d)


@pytest.mark.parametrize("entries, said", [
    (_calibration([0.1, 0.2, 0.3]), "holds 3 coefficients; OpenCV's models have 4 or 5"),
    (_calibration([0.1] * 6), "holds 6 coefficients"),
    (_calibration(D5, fisheye_model=1),
     "distortion_coefficients: equidistant expects (0, 4) distortion coefficients, got 5"),
    (_calibration(D5, fisheye_model=2), "fisheye_model must be 0 or 1"),
    ("%YAML:1.0\n---\nCamera.fx: 525.0\nCamera.fy: 525.0\nCamera.width: 640\n",  # ORB-SLAM's
     "an ORB-SLAM settings file without Camera.height (ORB-SLAM2 reads the size from the "
     "images): add 'Camera.width: W' and 'Camera.height: H'"),  # read: test_camera_info_orbslam
    ({k: v for k, v in _calibration().items() if k != "distortion_coefficients"},
     "found image_width, image_height, flags, fisheye_model, camera_matrix, "
     "avg_reprojection_error; expected"),
    ({k: v for k, v in _calibration().items() if k != "image_height"}, "not recognised"),
    (_calibration(K=np.eye(3)), "gives both camera_matrix and K"),
    (_calibration(camera_matrix=np.hstack([np.array(K).reshape(3, 3), np.zeros((3, 1))])),
     "camera_matrix must be 3x3 (rows: 3, cols: 3), got 3x4"),
    (_calibration(distortion_coefficients=np.zeros((2, 3))), "one row or one column"),
    (_calibration(camera_matrix=525.0), "camera_matrix must be the 3x3 camera matrix written "
                                        "as an !!opencv-matrix"),
    (_calibration(image_width=640.5), "image_width must be a whole number of pixels, got 640.5"),
    (_calibration(camera_matrix=np.zeros((3, 3))), "K is all zeros"),
    (_calibration([0.1, np.nan, 0.0, 0.0, 0.0]),
     "distortion_coefficients: distortion coefficient 1 is nan"),
], ids=["3-coefficients", "6-coefficients", "fisheye-5", "fisheye-2", "orb-slam-keys",
        "no-distortion", "no-height", "two-names", "K-3x4", "D-2x3", "K-a-number",
        "fractional-width", "zero-K", "nan-coefficient"])
def test_a_bad_opencv_calibration_is_refused_in_one_line(tmp_path, entries, said):
    path = _write(tmp_path, entries) if isinstance(entries, str) else _opencv(tmp_path, entries)
    _refused(path, said)


def test_an_opencv_file_opencv_cannot_parse_names_its_line(tmp_path):
    path = _write(tmp_path, "%YAML:1.0\n---\nimage_width: 640\ncamera_matrix: !!opencv-matrix\n"
                            "   rows: 3\n   cols: 3\n   dt: d\n   data: [ 525., 0. 319.5 ]\n")
    _refused(path, "read as an OpenCV FileStorage YAML", "cannot parse: line")


def test_a_ros_layout_under_an_opencv_header_is_not_guessed(tmp_path):
    """A %YAML:1.0 line makes the file OpenCV's: its {rows, cols, data} mappings are no
    !!opencv-matrix, refused as such (ROS's parser refuses that line too)."""
    from mast3r_ros.replay.synthetic import camera_yaml

    cam = intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob")
    _refused(_write(tmp_path, "%YAML:1.0\n---\n" + camera_yaml(cam)),
             "camera_matrix must be the 3x3 camera matrix written as an !!opencv-matrix")


# --------------------------------------------------------------------------------------------
# the CLI


def _echo_of(cam) -> str:
    """``ros2 topic echo`` of the CameraInfo of ``cam`` (unbinned, no ROI)."""
    k = cam.K.reshape(-1).tolist()
    p = [*k[0:3], 0.0, *k[3:6], 0.0, *k[6:9], 0.0]
    return ECHO.replace(_block("k", K), _block("k", k)).replace(
        "height: 480\nwidth: 640", f"height: {cam.height}\nwidth: {cam.width}").replace(
        "distortion_model: plumb_bob\nd:\n- 0.1\n- -0.25\n- 1.0e-05\n- 0.002\n- 0.0\n",
        f"distortion_model: {cam.distortion_model}\n" + (
            _block("d", cam.dist.tolist()) if cam.dist.size else "d: []\n")).replace(
        _block("p", [525.0, 0.0, 319.5, 0.0, 0.0, 525.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]),
        _block("p", p))


def _ros1_echo_of(cam) -> str:
    """ROS 1's ``rostopic echo -n 1`` of the CameraInfo of ``cam`` (unbinned, no ROI)."""
    k = cam.K.reshape(-1).tolist()
    p = [*k[0:3], 0.0, *k[3:6], 0.0, *k[6:9], 0.0]
    return ('header: \n  seq: 7\n  stamp: \n    secs: 1\n    nsecs: 0\n  frame_id: "cam"\n'
            f'height: {cam.height}\nwidth: {cam.width}\n'
            f'distortion_model: "{cam.distortion_model}"\nD: {cam.dist.tolist()}\nK: {k}\n'
            f"R: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]\nP: {p}\n"
            "binning_x: 0\nbinning_y: 0\nroi: \n  x_offset: 0\n  y_offset: 0\n  height: 0\n"
            "  width: 0\n  do_rectify: False\n---\n")


def test_localize_takes_each_format_and_localizes_as_with_the_ros_layout(tmp_path, tum,
                                                                       sift_map):
    """The same camera as an echoed CameraInfo (ROS 2's, with the notices echo prints before
    it, ROS 1's), and as an OpenCV file gives the run the camera (results.jsonl records it per
    frame) and poses of TUM's camera.yaml; so does a TUM folder whose camera.yaml is one."""
    import json
    import shutil
    from pathlib import Path

    from mast3r_ros.replay.cli import main

    ros = Path(tum[1]) / "camera.yaml"
    cam = load_camera_info_yaml(ros)
    files = {"ros": ros, "echo": _write(tmp_path, _echo_of(cam), "echo.yaml"),
             "echo-notices": _write(tmp_path, NOT_PUBLISHED + LOST + _echo_of(cam), "n.yaml"),
             "ros1": _write(tmp_path, _ros1_echo_of(cam), "ros1.yaml"),
             "opencv": _opencv(tmp_path, {"image_width": cam.width, "image_height": cam.height,
                                          "camera_matrix": cam.K,
                                          "distortion_coefficients": np.zeros((5, 1))})}
    assert not np.any(cam.dist)  # the OpenCV file's zeros are the same camera
    query = tmp_path / "query_ros1"  # its camera.yaml saved by rostopic echo
    shutil.copytree(tum[1], query)
    (query / "camera.yaml").write_text(_ros1_echo_of(cam), encoding="utf-8")
    runs = {}
    for name, path in [*files.items(), ("tum-ros1", None)]:
        out = tmp_path / f"run_{name}"
        camera = ["--camera-info", str(path)] if path else []
        assert main(["localize", str(query) if name == "tum-ros1" else tum[1], "--map",
                     sift_map, "--out", str(out), "--matcher", "sift", "--max-frames", "2",
                     "--log-level", "warning"] + camera) == 0, name
        lines = (out / "results.jsonl").read_text().splitlines()
        runs[name] = [{k: v for k, v in json.loads(line).items() if k in ("camera", "success",
                                                                          "map_from_cam")}
                      for line in lines]
    assert len(runs["ros"]) == 2 and all("camera" in r for r in runs["ros"])
    assert all(run == runs["ros"] for run in runs.values()), runs


@pytest.mark.parametrize("text, said", [
    (ECHO + ECHO, "holds 2 YAML documents"),
    ("%YAML:1.0\n---\nfx: 525.0\n", "keys are not recognised: found fx"),
])
def test_a_bad_camera_info_file_exits_2_with_one_line(tmp_path, capsys, text, said):
    from mast3r_ros.replay.cli import main

    path = _write(tmp_path, text)
    out = tmp_path / "run"
    assert main(["localize", str(tmp_path), "--map", str(tmp_path / "no_map"), "--out",
                 str(out), "--camera-info", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert str(path) in line and said in line, line
    assert not out.exists()


def test_a_tum_folder_without_camera_yaml_names_every_file_it_can_hold(tmp_path, tum, sift_map,
                                                                      capsys):
    """The missing camera.yaml (and the hint for a folder of images) asked for "a ROS
    camera_info YAML", though camera.yaml may be any of the files --camera-info takes."""
    import shutil

    from mast3r_ros.replay.cli import main

    query = tmp_path / "query"
    shutil.copytree(tum[1], query)
    (query / "camera.yaml").unlink()
    images = tmp_path / "images"  # a folder of images: no rgb.txt, no camera.yaml
    shutil.copytree(query / "rgb", images)
    for source, said in ((query, f"{query / 'camera.yaml'} does not exist"),
                         (images, "write rgb.txt")):
        assert main(["localize", str(source), "--map", sift_map, "--out",
                     str(tmp_path / "run"), "--matcher", "sift"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        for fragment in (said, "camera_calibration_parsers' layout", "'ros2 topic echo --once'",
                         "'rostopic echo -n 1'", "OpenCV FileStorage"):
            assert fragment in line, line


def test_the_echo_reader_called_alone_names_broken_yaml(tmp_path):
    """`load_camera_info_yaml` hands it only YAML that parses; a direct caller's broken text
    is an InputError naming the file too, not PyYAML's own exception."""
    from mast3r_ros.core.image_codec.camera_info_echo import load_echoed_camera_info

    with pytest.raises(InputError, match=r"cam\.yaml is not valid YAML: .*expected ','"):
        load_echoed_camera_info(tmp_path / "cam.yaml", "k: [1, 2\n")
