"""Camera calibration file readers, pins from the 2026-12-06e mutation audit (these survived
their readers' tests): an ORB-SLAM settings file with one fractional side, an OpenCV
calibration matrix whose type OpenCV does not know or that is empty, a `ros2 topic echo` file
with two messages, a tag no YAML loader constructs, or a principal point far off; and from
the 2026-12-06g audit: a rectified echo with a long focal, stray lines, a size alone, an
OpenCV calibration's far principal point, its size refusals and OpenCV's error text."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("cv2")

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.image_codec import load_camera_info_yaml  # noqa: E402

ORBSLAM2 = ("%YAML:1.0\nCamera.fx: 517.3\nCamera.fy: 516.5\nCamera.cx: 318.6\nCamera.cy: 255.3\n"
            "Camera.k1: 0.26\nCamera.k2: -0.95\nCamera.p1: -0.005\nCamera.p2: 0.0026\n"
            "Camera.width: {w}\nCamera.height: {h}\n")
OPENCV = ("%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\n"
          "camera_matrix: !!opencv-matrix\n   rows: {rows}\n   cols: {cols}\n   dt: {dt}\n"
          "   data: [ {data} ]\n"
          "distortion_coefficients: !!opencv-matrix\n   rows: 5\n   cols: 1\n   dt: d\n"
          "   data: [ 0.1, -0.25, 0., 0., 0. ]\n")
K9 = "525., 0., 319.5, 0., 525., 239.5, 0., 0., 1."


def _refused(tmp_path, text: str, says: str) -> None:
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_camera_info_yaml(path)
    assert str(err.value).startswith(str(path)) and says in str(err.value), str(err.value)


@pytest.mark.parametrize("w, h", [(640, 480.5), (640.5, 480)])
def test_an_orbslam_size_with_one_fractional_side_is_refused(tmp_path, w, h):
    _refused(tmp_path, ORBSLAM2.format(w=w, h=h),
             f"Camera.width and Camera.height must be whole pixels, got {w:g}x{h:g}")


def test_the_orbslam_settings_above_read_with_whole_sides(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text(ORBSLAM2.format(w=640, h=480))
    cam = load_camera_info_yaml(path)
    assert (cam.width, cam.height) == (640, 480)


def test_an_opencv_matrix_of_a_type_opencv_does_not_know_is_refused(tmp_path):
    # rows x cols match the data, but 'z' is no OpenCV element type: mat() raises
    _refused(tmp_path, OPENCV.format(rows=3, cols=3, dt="z", data=K9),
             "camera_matrix must be the 3x3 camera matrix written as an !!opencv-matrix")


def test_an_empty_opencv_camera_matrix_is_said_to_be_0x0(tmp_path):
    _refused(tmp_path, OPENCV.format(rows=0, cols=0, dt="d", data=""),
             "camera_matrix must be 3x3 (rows: 3, cols: 3), got 0x0")


# what `ros2 topic echo /camera/camera_info --once` prints (block lists), cx / cy as {cx} / {cy}
ECHO = ("header:\n  stamp:\n    sec: 1718500617\n    nanosec: 444867328\n"
        "  frame_id: camera_color_optical_frame\nheight: 480\nwidth: 640\n"
        "distortion_model: plumb_bob\nd:\n- 0.1\n- -0.25\n- 0.0\n- 0.0\n- 0.0\n"
        "k:\n- 525.0\n- 0.0\n- {cx}\n- 0.0\n- 525.0\n- {cy}\n- 0.0\n- 0.0\n- 1.0\n"
        "r:\n- 1.0\n- 0.0\n- 0.0\n- 0.0\n- 1.0\n- 0.0\n- 0.0\n- 0.0\n- 1.0\n"
        "p:\n- 525.0\n- 0.0\n- {cx}\n- 0.0\n- 0.0\n- 525.0\n- {cy}\n- 0.0\n- 0.0\n- 0.0\n"
        "- 1.0\n- 0.0\nbinning_x: 0\nbinning_y: 0\nroi:\n  x_offset: 0\n  y_offset: 0\n"
        "  height: 0\n  width: 0\n  do_rectify: false\n---\n")
CENTRED = ECHO.format(cx=319.5, cy=239.5)


def test_an_echo_of_two_messages_names_the_lines_they_start_on(tmp_path):
    # each document's first line (1-based): the second message starts after the first
    first_lines = CENTRED.count("\n")
    _refused(tmp_path, CENTRED + CENTRED,
             f"holds 2 YAML documents (at lines 1, {first_lines + 1})")


def test_an_echo_value_with_a_tag_no_loader_constructs_is_refused(tmp_path):
    # '- !1.0': a lost space made the value a tag
    _refused(tmp_path, CENTRED.replace("- -0.25\n", "- !0.25\n"), "is not a message's YAML")


def test_an_echoed_principal_point_far_off_the_image_is_warned_about(tmp_path, caplog):
    path = tmp_path / "cam.yaml"
    for cx, warned in ((319.5, False), (1500.0, True)):
        path.write_text(ECHO.format(cx=cx, cy=239.5))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
            cam = load_camera_info_yaml(path)
        assert cam.K[0, 2] == cx
        said = [r.getMessage() for r in caplog.records if "principal point" in r.getMessage()]
        assert bool(said) == warned and (not said or f"cx {cx:g}" in said[0]), said


# camera_calibration's layout; {k} is camera_matrix's mapping, {p} projection_matrix's data
ROS_LAYOUT = ("image_width: 640\nimage_height: 480\ncamera_name: cam\n"
              "camera_matrix: {k}\ndistortion_model: plumb_bob\n"
              "distortion_coefficients: {{rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}}\n"
              "rectification_matrix: {{rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}}\n"
              "projection_matrix: {{rows: 3, cols: 4, data: [{p}]}}\n")
K_MAP = "{rows: 3, cols: 3, data: [525, 0, 319.5, 0, 525, 239.5, 0, 0, 1]}"
P_DATA = "525, 0, 319.5, 0, 0, 525, 239.5, 0, 0, 0, 1, 0"


def test_a_camera_matrix_without_rows_and_cols_is_refused_as_ros_does(tmp_path):
    _refused(tmp_path, ROS_LAYOUT.format(k="{data: [525, 0, 319.5, 0, 525, 239.5, 0, 0, 1]}",
                                         p=P_DATA),
             "camera_matrix has no rows or cols, which ROS's camera_calibration_parsers needs")


def test_a_missing_image_height_is_named(tmp_path):
    text = ROS_LAYOUT.format(k=K_MAP, p=P_DATA).replace("image_height: 480\n", "")
    _refused(tmp_path, text, "missing field 'image_height'")


def test_a_rectified_streams_principal_point_far_off_the_image_is_warned_about(tmp_path,
                                                                               caplog):
    # K all zeros, P set, read as the rectified stream: P's cx (1500) is the one judged
    path = tmp_path / "cam.yaml"
    path.write_text(ROS_LAYOUT.format(k="{rows: 3, cols: 3, data: [0, 0, 0, 0, 0, 0, 0, 0, 0]}",
                                      p=P_DATA.replace("319.5", "1500")))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path, rectified=True)
    assert cam.K[0, 2] == 1500.0
    said = [r.getMessage() for r in caplog.records if "principal point" in r.getMessage()]
    assert len(said) == 1 and "cx 1500" in said[0], said


def test_a_namespaced_node_key_is_named_a_parameter_file(tmp_path):
    _refused(tmp_path, "/robot1/mast3r_localizer:\n  map_path: /maps/lab\n",
             "is a ROS parameter file (key '/robot1/mast3r_localizer')")


def test_a_camera_matrix_cy_far_off_the_image_is_warned_about(tmp_path, caplog):
    path = tmp_path / "cam.yaml"
    path.write_text(ROS_LAYOUT.format(k=K_MAP.replace("239.5", "1500"), p=P_DATA))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert load_camera_info_yaml(path).K[1, 2] == 1500.0
    said = [r.getMessage() for r in caplog.records if "principal point" in r.getMessage()]
    assert len(said) == 1 and "cy 1500" in said[0], said


def test_an_image_width_given_as_a_list_is_refused_naming_it(tmp_path):
    text = ROS_LAYOUT.format(k=K_MAP, p=P_DATA).replace("image_width: 640", "image_width: [640]")
    _refused(tmp_path, text, "image_width must be an integer number of pixels, got [640]")


# pins of the 2026-12-06g mutation audit (these survived the echo reader's tests)
def test_a_rectified_echo_with_a_long_focal_is_not_warned_about(tmp_path, caplog):
    """K all zeros, P with fx = fy = 900 (over 1.5 x the height) and a centred principal point:
    P's cy is judged, not its fy (P's 3x3 taken as p[:4] + p[4:7] or p[:3] + p[3:7])."""
    k_block = CENTRED[CENTRED.index("\nk:\n"):CENTRED.index("\nr:\n")]
    text = CENTRED.replace(k_block, "\nk:\n" + "- 0.0\n" * 8 + "- 0.0")
    text = text.replace("p:\n- 525.0", "p:\n- 900.0").replace("- 0.0\n- 525.0\n- 239.5",
                                                              "- 0.0\n- 900.0\n- 239.5")
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path, rectified=True)
    assert cam.K[1, 1] == 900.0 and cam.K[1, 2] == 239.5
    assert not [r for r in caplog.records if "principal point" in r.getMessage()]


@pytest.mark.parametrize("text, says", [
    # a stray word after the message is a second document, not dropped (every scalar document
    # was dropped with the null ones: `and` -> `or`)
    (CENTRED + "end\n", "holds 2 YAML documents (at lines 1, 57)"),
    # a count line is skipped only after 'A message was lost!!!' (started as if after one)
    ("  total count: 3\n" + CENTRED, "is not valid YAML"),
    # width and height alone are an echo missing its other fields (`<=` -> `<` wanted a third)
    ("width: 640\nheight: 480\n", "missing field 'distortion_model', 'd', 'k' of the echoed "
                                  "CameraInfo message"),
])
def test_echo_files_with_a_stray_line_or_only_a_size_are_refused(tmp_path, text, says):
    _refused(tmp_path, text, says)


@pytest.mark.parametrize("cx, cy", [("1500.", "239.5"), ("319.5", "1500.")])
def test_an_opencv_principal_point_far_off_the_image_is_warned_about(tmp_path, caplog, cx, cy):
    """cx or cy of an OpenCV calibration far off its 640x480 image is warned about naming both
    (the check dropped, or K[0, 2] / K[1, 2] read from another cell)."""
    path = tmp_path / "cam.yaml"
    path.write_text(OPENCV.format(rows=3, cols=3, dt="d",
                                  data=K9.replace("319.5", cx).replace("239.5", cy)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(path)
    said = [r.getMessage() for r in caplog.records if "principal point" in r.getMessage()]
    assert len(said) == 1 and f"(cx {float(cx):g}, cy {float(cy):g})" in said[0], said


@pytest.mark.parametrize("edit, says", [
    # image_size with one of image_width / image_height (`or` -> `and` wanted both)
    (lambda t: t.replace("image_height: 480\n", "image_size: [640, 480]\n"),
     "gives both image_size and image_width/image_height: keep one"),
    # data that is no list is said so (not "holds 0")
    (lambda t: t.replace("data: [ 525., 0., 319.5, 0., 525., 239.5, 0., 0., 1. ]", "data: 5"),
     "= 9 values but its data holds no list"),
    # rows given as a list: no number (not '')
    (lambda t: t.replace("rows: 3\n   cols: 3", "rows: [3]\n   cols: 3"),
     "camera_matrix.rows must be a whole number from 0 to 64, got 'no number'"),
])
def test_opencv_sizes_it_cannot_read_are_refused_saying_why(tmp_path, edit, says):
    text = edit(OPENCV.format(rows=3, cols=3, dt="d", data=K9))
    assert text != OPENCV.format(rows=3, cols=3, dt="d", data=K9)
    _refused(tmp_path, text, says)


def test_an_opencv_error_without_a_parse_line_is_told_in_one_line():
    """An OpenCV error that names no parsed line (other OpenCV versions' FileStorage failures)
    is its code's name and message (it was None)."""
    import cv2

    from mast3r_ros.core.image_codec.camera_info_opencv import _cv_error_text

    err = cv2.error("OpenCV(4.5.4) /io/persistence.cpp:505: error: (-2:Unspecified error) "
                    "Input file is invalid in function 'open'\n")
    assert _cv_error_text(err) == "Unspecified error: Input file is invalid in function 'open'"
