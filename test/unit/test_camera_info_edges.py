"""The echoed-CameraInfo and OpenCV FileStorage readers (`image_codec.camera_info_echo`,
`camera_info_opencv`) at the edges test_camera_info_formats.py leaves open: a mutation audit's
pins (each fails with one mutation of the readers that the other tests let through)."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from test_camera_info_formats import D5, ECHO, K, _block, _opencv, _refused, _same, _write

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import undistort_pixels
from mast3r_ros.core.image_codec import intrinsics_from_camera_info, load_camera_info_yaml
from mast3r_ros.core.image_codec.camera_info_echo import load_echoed_camera_info
from mast3r_ros.core.types import check_distortion

NO_ARR = {"d": "'<sequence type: double, length: 5>'", "k": "'<array type: double[9]>'",
          "r": "'<array type: double[9]>'", "p": "'<array type: double[12]>'"}


def _no_arr(text: str) -> str:
    """What ``ros2 topic echo --no-arr`` prints: every array and sequence left out."""
    lines, skip = [], False
    for line in text.splitlines(keepends=True):
        name = line.split(":")[0]
        if name in NO_ARR and line.rstrip().endswith(":"):
            lines.append(f"{name}: {NO_ARR[name]}\n")
            skip = True
        elif skip and line.startswith("- "):
            continue
        else:
            skip = False
            lines.append(line)
    return "".join(lines)


@pytest.mark.parametrize("edit, said", [
    (lambda t: t.replace("  x_offset: 0\n", "  x_offset: 0\n  x_offset: 8\n"),
     "roi.x_offset is given twice"),
    (lambda t: t.replace("distortion_model: plumb_bob\n", ""), "missing field 'distortion_model'"),
    (lambda t: t.replace("d:\n- 0.1\n- -0.25\n- 1.0e-05\n- 0.002\n- 0.0\n", ""),
     "missing field 'd'"),
    (lambda t: t.replace(_block("r", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
                         _block("r", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])),
     "r must have 9 values, got 8"),
    (_no_arr, "d is '<sequence type: double, length: 5>': the message was echoed with --no-arr"),
    (lambda t: t.replace("    nanosec: 444867328\n", "    nanosec: 444867328\n    sec: 0\n"),
     "header.stamp.sec is given twice"),
], ids=["nested-repeated-key", "no-distortion-model", "no-d", "r-8", "no-arr-output",
        "repeated-key-two-deep"])
def test_more_bad_echoed_camera_infos_are_refused_in_one_line(tmp_path, edit, said):
    text = edit(ECHO)
    assert text != ECHO
    _refused(_write(tmp_path, text), said)


@pytest.mark.parametrize("text, said", [
    ("---\n", "holds 0 YAML documents"),
    ("- 1\n- 2\n", "expected a CameraInfo message (a mapping), got list"),
])
def test_the_echo_reader_called_alone_refuses_no_message(tmp_path, text, said):
    with pytest.raises(InputError, match=re.escape(said)):
        load_echoed_camera_info(tmp_path / "cam.yaml", text)


def test_an_echoed_camera_info_without_a_header_reads(tmp_path):
    text = ECHO[ECHO.index("height:"):]
    _same(load_camera_info_yaml(_write(tmp_path, text)),
          intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))


def _far(caplog) -> list:
    return [r for r in caplog.records if "lies far outside" in r.getMessage()]


def test_the_echo_judges_the_principal_point_against_the_unbinned_image(tmp_path, caplog):
    """cx 900 on a 640-wide sensor binned 2x2 is within the half-image margin of the sensor
    (K is the sensor's): no warning; cx and cy taken the other way round, or the binned size,
    would warn. cy 900 is outside it: warned."""
    k = [525.0, 0.0, 900.0, 0.0, 525.0, 100.0, 0.0, 0.0, 1.0]
    text = ECHO.replace(_block("k", K), _block("k", k)).replace(
        "binning_x: 0\nbinning_y: 0", "binning_x: 2\nbinning_y: 2")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(_write(tmp_path, text))
    assert not _far(caplog), caplog.text
    k = [525.0, 0.0, 100.0, 0.0, 525.0, 900.0, 0.0, 0.0, 1.0]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(_write(tmp_path, ECHO.replace(_block("k", K), _block("k", k)),
                                     "far.yaml"))
    assert len(_far(caplog)) == 1 and "cy 900" in _far(caplog)[0].getMessage()


def _calibration(**extra) -> dict:
    return {"image_width": 640, "image_height": 480, "camera_matrix": np.array(K).reshape(3, 3),
            "distortion_coefficients": np.array(D5).reshape(-1, 1), **extra}


def test_an_opencv_calibration_without_distortion_is_plumb_bob_with_none(tmp_path):
    """An empty matrix (rows 0, cols 0: cv2.FileStorage's np.zeros((0, 0))) is no distortion,
    as OpenCV reads an empty distCoeffs."""
    cam = load_camera_info_yaml(_opencv(tmp_path, _calibration(
        distortion_coefficients=np.zeros((0, 0)))))
    assert cam.distortion_model == "plumb_bob" and cam.dist.size == 0


def test_opencv_sizes_given_as_reals_and_as_imagesize(tmp_path):
    """``image_width: 640.`` (a whole real, as cv::FileNode >> int reads it) and ``imageSize``
    (another tool's name) read as 640x480."""
    path = _opencv(tmp_path, _calibration())
    text = path.read_text().replace("image_width: 640", "image_width: 640.")
    cam = load_camera_info_yaml(_write(tmp_path, text, "real.yaml"))
    assert (cam.width, cam.height) == (640, 480)
    entries = {k: v for k, v in _calibration().items() if not k.startswith("image_")}
    cam = load_camera_info_yaml(_opencv(tmp_path, {**entries, "imageSize": [640, 480]},
                                        name="size.yaml"))
    assert (cam.width, cam.height) == (640, 480)


@pytest.mark.parametrize("entries, said", [
    (_calibration(image_size=[640, 480]), "gives both image_size and image_width/image_height"),
    ({**{k: v for k, v in _calibration().items() if not k.startswith("image_")},
      "image_size": [640, 480, 3]}, "image_size must be [width, height]"),
    (_calibration(fisheye_model="1"), "fisheye_model must be 0 or 1"),
    (_calibration(fisheye_model=1.5), "fisheye_model must be 0 or 1"),
    (_calibration(camera_matrix=np.array(K).reshape(1, 9)),
     "camera_matrix must be 3x3 (rows: 3, cols: 3), got 1x9"),
], ids=["two-sizes", "size-of-3", "fisheye-as-text", "fisheye-as-real", "K-1x9"])
def test_more_bad_opencv_calibrations_are_refused_in_one_line(tmp_path, entries, said):
    _refused(_opencv(tmp_path, entries), said)


def test_the_opencv_principal_point_is_judged_as_cx_cy(tmp_path, caplog):
    K2 = np.array([[525.0, 0, 900.0], [0, 525.0, 100.0], [0, 0, 1]])
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(_opencv(tmp_path, _calibration(camera_matrix=K2)))
    assert not _far(caplog), caplog.text


def test_an_opencv_4_file_saved_with_a_byte_order_mark_is_opencvs(tmp_path):
    path = _opencv(tmp_path, _calibration(), "%YAML:1.0")
    text = "\ufeff" + path.read_text()
    _same(load_camera_info_yaml(_write(tmp_path, text, "bom.yaml")),
          intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))


def test_a_ros_layout_under_a_yaml_1_1_directive_stays_the_ros_layout(tmp_path):
    """Only OpenCV's '%YAML:1.0' (no space) makes a file OpenCV's: a '%YAML 1.1' directive is
    YAML's own, which PyYAML reads."""
    from mast3r_ros.replay.synthetic import camera_yaml

    cam = intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob")
    _same(load_camera_info_yaml(_write(tmp_path, "%YAML 1.1\n---\n" + camera_yaml(cam))), cam)


def test_an_opencv_mapping_that_is_no_matrix_is_refused_as_such(tmp_path):
    path = _opencv(tmp_path, _calibration())
    text = path.read_text()
    i = text.index("camera_matrix: !!opencv-matrix")
    j = text.index("distortion_coefficients:")
    text = text[:i] + "camera_matrix:\n   fx: 525.\n   fy: 525.\n" + text[j:]
    _refused(_write(tmp_path, text, "map.yaml"),
             "camera_matrix must be the 3x3 camera matrix written as an !!opencv-matrix")


@pytest.mark.parametrize("model, count, rename", [
    ("plumb_bob", 8, "name the model 'rational_polynomial' if these are its k1 k2 p1 p2 k3 k4 k5 "
                     "k6"),
    ("plumb_bob", 14, "name the model 'rational_polynomial'"),
    ("plumb_bob", 3, None), ("equidistant", 5, None)])
def test_a_coefficient_count_of_the_other_opencv_model_says_to_rename_the_model(model, count,
                                                                                 rename):
    """`check_distortion` (a CameraInfo's D is read by OpenCV's count first, the test below):
    a count of the other OpenCV model says to rename the model; the refusal said only 'pass
    k1 k2 p1 p2 [k3]', a count the user cannot change."""
    with pytest.raises(InputError) as err:
        check_distortion(model, [0.01] * count, dist_field="CameraInfo D")
    text = str(err.value)
    assert f"{model} expects" in text and f"got {count}" in text
    if rename:
        assert rename in text
    else:
        assert "name the model" not in text
    if not rename:  # a count OpenCV does not read is refused from a CameraInfo too
        with pytest.raises(InputError, match=f"got {count}"):
            intrinsics_from_camera_info(640, 480, [500.0, 0, 320, 0, 500, 240, 0, 0, 1],
                                        [0.01] * count, model)


@pytest.mark.parametrize("count", [4, 5])
def test_a_short_rational_polynomial_d_is_read_as_image_geometry_reads_it(count, caplog,
                                                                          tmp_path):
    """image_geometry treats plumb_bob and rational_polynomial alike and hands D to OpenCV,
    which reads 4 or 5 coefficients as k1 k2 p1 p2 [k3] (k4 k5 k6 = 0: plumb_bob exactly); a
    D of zeros of any count is no distortion. Both were refused ('rational_polynomial expects
    (0, 8, 12, 14) distortion coefficients, got 5'), also a camera.yaml's five zeros."""
    k9 = [500.0, 0, 320, 0, 500, 240, 0, 0, 1]
    for zeros_count in (count, 3, 6):
        cam = intrinsics_from_camera_info(640, 480, k9, [0.0] * zeros_count,
                                          "rational_polynomial")
        assert cam.dist.size == 0 and not cam.has_distortion
    yaml = tmp_path / "camera.yaml"  # a TUM folder's, as camera_calibration_parsers writes it
    yaml.write_text("image_width: 640\nimage_height: 480\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
                    f"  data: {k9}\ndistortion_model: rational_polynomial\n"
                    f"distortion_coefficients:\n  rows: 1\n  cols: {count}\n"
                    f"  data: {[0] * count}\n")
    assert not load_camera_info_yaml(yaml).has_distortion
    d = [0.05, -0.02, 1e-3, -2e-3, 0.01][:count]
    with caplog.at_level(logging.INFO):
        cam = intrinsics_from_camera_info(640, 480, k9, d, "rational_polynomial")
    assert cam.distortion_model == "plumb_bob"
    np.testing.assert_array_equal(cam.dist, d)
    rational = intrinsics_from_camera_info(640, 480, k9, [*d, *[0.0] * (8 - count)],
                                           "rational_polynomial")
    px = np.array([[10.0, 20.0], [600.0, 450.0], [320.0, 10.0]])
    np.testing.assert_allclose(undistort_pixels(px, cam.K, cam.dist, cam.distortion_model),
                               undistort_pixels(px, rational.K, rational.dist,
                                                rational.distortion_model), atol=1e-9)
    assert any(f"rational_polynomial D of {count} coefficients read as k1 k2 p1 p2" in
               r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("count", [8, 12, 14])
def test_a_plumb_bob_d_of_a_rational_count_is_read_as_opencv_reads_it(count, caplog, tmp_path):
    """A driver publishing 8 coefficients named plumb_bob works in ROS: image_geometry hands D
    to OpenCV, which reads 8 (12, 14) as its rational model whatever the name. It was refused
    ('plumb_bob expects (0, 4, 5) distortion coefficients, got 8'), from the node's CameraInfo
    and from a camera_info YAML alike; now it is read as rational_polynomial, with one warning
    per process that names the mismatch and the fix."""
    from types import SimpleNamespace

    from mast3r_ros.core.image_codec import camera_info
    from mast3r_ros.core.message_fields import camera_info_to_intrinsics
    camera_info._warned_plumb_bob_counts.discard(count)
    k9 = [500.0, 0, 320, 0, 500, 240, 0, 0, 1]
    d = [0.05, -0.02, 1e-3, -2e-3, 0.01, 0.02, -0.01, 0.005, 1e-4, 0, 2e-4, 0, 1e-3, -1e-3][:count]
    rational = intrinsics_from_camera_info(640, 480, k9, d, "rational_polynomial")
    msg = SimpleNamespace(width=640, height=480, k=k9, d=d, distortion_model="plumb_bob",
                          binning_x=0, binning_y=0, roi=None, p=[0.0] * 12, r=None)
    yaml = tmp_path / "camera.yaml"
    yaml.write_text("image_width: 640\nimage_height: 480\ncamera_name: cam\ncamera_matrix:\n"
                    f"  rows: 3\n  cols: 3\n  data: {k9}\ndistortion_model: plumb_bob\n"
                    f"distortion_coefficients:\n  rows: 1\n  cols: {count}\n  data: {d}\n"
                    "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
                    "projection_matrix: {rows: 3, cols: 4, data: [500, 0, 320, 0, 0, 500, 240, 0,"
                    " 0, 0, 1, 0]}\n")
    with caplog.at_level(logging.WARNING):
        cams = [camera_info_to_intrinsics(msg), camera_info_to_intrinsics(msg),
                load_camera_info_yaml(yaml)]
    for cam in cams:
        assert cam.distortion_model == "rational_polynomial"
        np.testing.assert_array_equal(cam.dist, rational.dist)
    warned = [r.getMessage() for r in caplog.records
              if f"'plumb_bob' with {count} coefficients" in r.getMessage()]
    assert len(warned) == 1, warned  # once, not per message
    assert "set distortion_model: rational_polynomial" in warned[0]


def test_a_plumb_bob_d_of_8_undistorts_as_opencv_reads_8_coefficients():
    """image_geometry hands D to OpenCV whatever distortion_model says, and OpenCV reads 8
    coefficients as k1 k2 p1 p2 k3 k4 k5 k6: a CameraInfo naming them plumb_bob (refused
    before, 'plumb_bob expects (0, 4, 5)') undistorts the same pixels as the same D named
    rational_polynomial, and as cv2.undistortPoints given the 8; a count OpenCV does not read
    (6, 7, 9) is still refused."""
    import cv2

    k9 = [500.0, 0, 320, 0, 500, 240, 0, 0, 1]
    d8 = [-0.28, 0.09, 1e-3, -2e-3, 0.01, 0.05, -0.02, 0.004]
    named = intrinsics_from_camera_info(640, 480, k9, d8, "plumb_bob")
    right = intrinsics_from_camera_info(640, 480, k9, d8, "rational_polynomial")
    px = np.array([[0.0, 0.0], [639.0, 479.0], [320.0, 10.0], [5.0, 400.0], [321.0, 241.0]])
    got = undistort_pixels(px, named.K, named.dist, named.distortion_model)
    np.testing.assert_array_equal(got, undistort_pixels(px, right.K, right.dist,
                                                        right.distortion_model))
    K3 = np.array(k9).reshape(3, 3)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
    args = (px.reshape(-1, 1, 2), K3, np.array(d8))
    opencv = (cv2.undistortPointsIter(*args, None, K3, crit) if hasattr(
        cv2, "undistortPointsIter") else cv2.undistortPoints(*args, R=None, P=K3, criteria=crit))
    np.testing.assert_allclose(got, opencv.reshape(-1, 2), atol=1e-6)
    for n in (6, 7, 9):
        with pytest.raises(InputError, match=f"got {n}"):
            intrinsics_from_camera_info(640, 480, k9, d8[:n] + [0.01] * max(0, n - 8),
                                        "plumb_bob")
