"""Pins of the camera_calibration YAML reader (core/image_codec/camera_info_yaml.py) for the
survivors of mutation audit 2026-12-06g (docs/bench/mutation_cpu_2026-12-06g): the refusals
that name their field or file, the YAML error's place, binning and ROI read from the file, and
a rectified file's P. Each case names the change to the code it fails on."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from test_image_codec import CAMERA_YAML

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import load_camera_info_yaml

_RECT = "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
_PROJ = ("projection_matrix: {rows: 3, cols: 4, "
         "data: [30, 0, 15.5, 0, 0, 31, 11.5, 0, 0, 0, 1, 0]}\n")


def _write(tmp_path, text):
    path = tmp_path / "camera.yaml"
    path.write_text(text)
    return path


def _load(tmp_path, text, **kw):
    return load_camera_info_yaml(_write(tmp_path, text), **kw)


def _edit(old, new):
    assert old in CAMERA_YAML
    return CAMERA_YAML.replace(old, new, 1)


@pytest.mark.parametrize("line", ["camera_name:", "camera_name: [a, b]"])
def test_a_null_or_list_camera_name_is_refused(tmp_path, line):
    """_check_camera_name's raise or its call dropped, or its `and` -> `or`."""
    with pytest.raises(InputError, match="camera_name is (empty|a list)"):
        _load(tmp_path, _edit("camera_name: cam", line))


def test_a_misspelled_optional_field_is_named(tmp_path):
    """_refuse_misspelled_field's raise or call dropped, or its `not in` -> `in`."""
    with pytest.raises(InputError, match=r"unknown field 'binning_xx' \(did you mean 'binning_x'"):
        _load(tmp_path, CAMERA_YAML + "binning_xx: 2\n")


def test_a_projection_matrix_of_another_shape_is_refused(tmp_path):
    """_check_rectification_projection's or _check_stated_shape's call or the fixed-shape raise
    dropped; its size rows * cols as fixed[0] / fixed[1], fixed[1] ** 2 or fixed[0] ** 2."""
    bad = "projection_matrix: {rows: 4, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]}\n"
    with pytest.raises(InputError, match=r"projection_matrix says rows 4 x cols 3; ROS reads it "
                                         r"as a 3x4 .* write rows: 3, cols: 4 and 12 values"):
        _load(tmp_path, CAMERA_YAML + _RECT + bad)


def test_a_rectification_matrix_with_too_few_values_is_refused(tmp_path):
    """_check_rectification_projection's _check_stated_shape call dropped."""
    short = "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0]}\n"
    with pytest.raises(InputError, match="rectification_matrix says rows 3 x cols 3 = 9 values "
                                         "but its data holds 8"):
        _load(tmp_path, CAMERA_YAML + short + _PROJ)


def test_a_projection_matrix_without_data_is_refused(tmp_path):
    """{rows, cols} <= keys -> `<` skipped a mapping of exactly rows and cols."""
    with pytest.raises(InputError, match="missing field 'projection_matrix.data'"):
        _load(tmp_path, CAMERA_YAML + _RECT + "projection_matrix: {rows: 3, cols: 4}\n")


def test_a_nan_in_the_projection_matrix_is_read_as_ros_reads_it(tmp_path):
    """The .nan spellings dropped from _CPP_SPECIAL: yaml-cpp reads '.nan' as a number."""
    proj = _PROJ.replace("[30,", "[.nan,")
    assert _load(tmp_path, CAMERA_YAML + _RECT + proj).width == 32


def test_a_flat_camera_matrix_is_refused_as_a_list(tmp_path):
    """_yaml_matrix's not-a-mapping raise dropped (said 'has no rows or cols')."""
    text = CAMERA_YAML.replace("camera_matrix:\n  rows: 3\n  cols: 3\n  data:", "camera_matrix:")
    with pytest.raises(InputError, match="camera_matrix must be a mapping .* got a list"):
        _load(tmp_path, text)


def test_camera_matrix_data_that_is_no_list_is_refused(tmp_path):
    """_yaml_numbers' not-a-list raise dropped."""
    text = _edit("data: [30.0, 0, 15.5, 0, 31.0, 11.5, 0, 0, 1]", "data: 5")
    with pytest.raises(InputError, match="camera_matrix.data must be a list of numbers, got 5"):
        _load(tmp_path, text)


def test_a_number_yaml_cpp_does_not_read_is_refused_naming_its_index(tmp_path):
    """_yaml_numbers' raise dropped, or `and` -> `or` (Python's float() reads '1_000')."""
    text = _edit("[30.0, 0, 15.5", "[1_000, 0, 15.5")
    with pytest.raises(InputError, match="camera_matrix.data must be a list of numbers, got "
                                         "1000 at index 0"):
        _load(tmp_path, text)


def test_a_camera_matrix_stated_1x9_is_refused(tmp_path):
    """The fixed-shape raise dropped (rows x cols = 9 matches the data)."""
    text = _edit("  rows: 3\n  cols: 3\n", "  rows: 1\n  cols: 9\n")
    with pytest.raises(InputError, match=r"camera_matrix says rows 1 x cols 9; ROS reads it as a "
                                         r"3x3 .* write rows: 3, cols: 3 and 9 values"):
        _load(tmp_path, text)


def test_a_repeated_key_names_both_lines(tmp_path):
    """The line numbers' `+ 1` -> `+ 2` / `+ 0`."""
    with pytest.raises(InputError, match=r"image_width is given twice \(lines 1 and 13\)"):
        _load(tmp_path, CAMERA_YAML + "image_width: 32\n")


def test_a_yaml_error_names_its_line_and_the_tab(tmp_path):
    """_yaml_error_text's `is None` -> `is not None`, `not problem` -> `problem` (PyYAML's
    whole text, '<unicode string>'), the tab hint's `in` -> `not in`."""
    with pytest.raises(InputError) as err:
        _load(tmp_path, "image_width: 32\n\timage_height: 24\n")
    text = str(err.value)
    assert "is not valid YAML: line 2, column 1:" in text
    assert text.endswith("; YAML indents with spaces, not tabs")
    assert "unicode string" not in text


def test_a_yaml_error_without_a_place_is_said_in_one_line(tmp_path):
    """The placeless error's return -> None ('not valid YAMLNone') and `+` -> `-`."""
    with pytest.raises(InputError, match=r"is not valid YAML: unacceptable character") as err:
        _load(tmp_path, "image_width: 32\x01\n")
    assert "\n" not in str(err.value)


def test_a_file_of_only_comments_is_empty(tmp_path):
    """The empty-document raise dropped (said it is no mapping)."""
    with pytest.raises(InputError, match="camera_info YAML .* is empty: give a camera_calibration"):
        _load(tmp_path, "# nothing here\n")


def test_a_map_manifest_is_named_as_such(tmp_path):
    """The manifest raise dropped (said 'missing field image_width')."""
    with pytest.raises(InputError, match="is a keyframe map's manifest .* --map"):
        _load(tmp_path, '{"format": "mast3r_ros_keyframe_map", "version": 1}\n')


@pytest.mark.parametrize("key", ["/robot/mast3r_localizer", "mast3r_localizer"])
def test_a_parameter_file_without_ros__parameters_is_named(tmp_path, key):
    """The node name's rsplit(...)[-1] -> [-2] (an IndexError) / [0]."""
    with pytest.raises(InputError, match=f"is a ROS parameter file \\(key '{key}'\\)"):
        _load(tmp_path, f"{key}:\n  map: m\n")


@pytest.mark.parametrize("line, what", [
    ("distortion_model:", "distortion_model is empty"),
    ("distortion_coefficients:", "distortion_coefficients is empty"),
])
def test_an_empty_distortion_field_is_refused_naming_it(tmp_path, line, what):
    """The null distortion_model / distortion_coefficients raises dropped."""
    text = CAMERA_YAML.split("distortion_model:")[0] + (
        "distortion_model: plumb_bob\n" + line + "\n" if "coeff" in line else line + "\n"
        "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n")
    with pytest.raises(InputError, match=what):
        _load(tmp_path, text)


def test_distortion_without_data_and_cols_0_is_none(tmp_path):
    """The absent data's np.zeros(0) -> zeros(1) (refused: 1x0 against 1 value)."""
    text = CAMERA_YAML.split("distortion_coefficients:")[0] + (
        "distortion_coefficients: {rows: 1, cols: 0}\n")
    assert not np.any(_load(tmp_path, text).dist)


def test_a_whole_float_binning_and_a_roi_without_offsets_are_read(tmp_path):
    """_yaml_int's float branch returns None or is dropped (binning_x: 2.0 refused); a missing
    roi offset's default 0 -> 1."""
    cam = _load(tmp_path, CAMERA_YAML + "binning_x: 2.0\n")
    assert cam.width == 16 and cam.K[0, 0] == pytest.approx(15.0)
    cam = _load(tmp_path, CAMERA_YAML + "roi: {width: 16, height: 12}\n")
    assert (cam.width, cam.height) == (16, 12)
    assert cam.K[0, 2] == pytest.approx(15.5) and cam.K[1, 2] == pytest.approx(11.5)


def _rectified(tmp_path, p, extra=""):
    k0 = _edit("[30.0, 0, 15.5, 0, 31.0, 11.5, 0, 0, 1]", "[0, 0, 0, 0, 0, 0, 0, 0, 0]")
    proj = f"projection_matrix: {{rows: 3, cols: 4, data: {p}}}\n"
    return _load(tmp_path, k0 + proj + extra, rectified=True)


def test_a_rectified_file_s_binning_applies_to_each_axis(tmp_path):
    """binning[0] / binning[1] of the rectified read swapped or out of range; the absent
    rectification_matrix's `or {}` -> `and {}` (an AttributeError)."""
    cam = _rectified(tmp_path, "[60, 0, 15.5, 0, 0, 60, 11.5, 0, 0, 0, 1, 0]",
                     "binning_x: 2\nbinning_y: 1\n")
    assert (cam.width, cam.height) == (16, 24)
    assert cam.K[0, 0] == pytest.approx(30.0) and cam.K[1, 1] == pytest.approx(60.0)


def test_a_rectified_file_s_principal_point_is_p_s(tmp_path, caplog):
    """P's cx, cy for the far-principal-point warning: [0, 1, 2, 4, 5, 6] -> 6 as 5 or 7, or
    k[2] / k[5] read as k[1] / k[4] (fy = 60 read as cy warned; cx, cy = 100 named wrong)."""
    caplog.set_level(logging.WARNING)
    _rectified(tmp_path, "[60, 0, 15.5, 0, 0, 60, 11.5, 0, 0, 0, 1, 0]", _RECT)
    assert "principal point" not in caplog.text
    _rectified(tmp_path, "[60, 0, 100, 0, 0, 60, 100, 0, 0, 0, 1, 0]", _RECT)
    assert "principal point (cx 100, cy 100)" in caplog.text


def test_a_folder_is_refused_naming_its_camera_yaml(tmp_path):
    """The folder raise dropped, or `path / 'camera.yaml'` -> `*` (a TypeError)."""
    (tmp_path / "camera.yaml").write_text(CAMERA_YAML)
    with pytest.raises(InputError, match=r"is a folder: give the calibration file itself \(.*"
                                         r"camera.yaml\)"):
        load_camera_info_yaml(tmp_path)


def test_a_missing_file_and_a_non_utf8_file_are_refused(tmp_path):
    """The OSError and UnicodeDecodeError raises dropped (a NameError on `data`)."""
    with pytest.raises(InputError, match="cannot read camera_info YAML .*: No such file"):
        load_camera_info_yaml(tmp_path / "absent.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"camera_name: caf\xe9\n")
    with pytest.raises(InputError, match=r"is not a UTF-8 text file \(byte 16"):
        load_camera_info_yaml(path)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="POSIX device")
def test_a_device_is_refused():
    """refuse_device's call dropped (/dev/null read as an empty file)."""
    with pytest.raises(InputError, match="is a device, not a file"):
        load_camera_info_yaml("/dev/null")


def test_a_zero_image_width_is_read_then_refused_as_a_size(tmp_path):
    """uint32's low end 0 -> 1 said ROS cannot read 0 (yaml-cpp reads it; the size is what is
    wrong)."""
    with pytest.raises(InputError, match="image size must be positive, got 0x24"):
        _load(tmp_path, _edit("image_width: 32", "image_width: 0"))


def test_an_opencv_matrix_tag_inside_a_list_is_told_as_opencv(tmp_path):
    """_has_tag's sequence branch -> None (said PyYAML cannot construct the tag). The file goes
    to OpenCV's reader: OpenCV 4.6+ parses it and finds no camera keys; OpenCV 4.5 (the compat
    leg's, Humble's) cannot parse a file without the ``%YAML:1.0`` line and says so."""
    text = "cams:\n  - !!opencv-matrix\n    rows: 1\n    cols: 1\n    dt: d\n    data: [1.0]\n"
    with pytest.raises(InputError, match="an OpenCV FileStorage YAML whose keys are not "
                                         "recognised: found cams|read as an OpenCV FileStorage "
                                         "YAML .*which OpenCV cannot parse"):
        _load(tmp_path, text)
