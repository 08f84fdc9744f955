"""Pins of the camera_info YAML reader (core/image_codec/camera_info_yaml.py) that a hand
mutation audit found untested: how ROS's yaml-cpp reads a scalar's text as an integer or a
double (base prefixes, the int and uint32 ranges, signs, exponents, trailing space), and the
reader's own binning keys. Each case names the change to the code it fails on."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from test_image_codec import CAMERA_YAML

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import load_camera_info_yaml

_NOT_READ = r"which ROS's camera_calibration_parsers \(yaml-cpp\) does not read as an {}integer"


def _load(tmp_path, old, new):
    assert old in CAMERA_YAML
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace(old, new, 1))
    return load_camera_info_yaml(path)


@pytest.mark.parametrize("text", [
    "0x20", "0X20",  # hex, either case of the prefix (was a ValueError for 'X')
    "040",  # octal: a leading 0, as a C++ stream with the base detected reads it
    '"32\\n"', '"32\\r"', "'32 '",  # C's isspace after the digits (was refused for \n, \r)
    "4294967295",  # the largest uint32 is read as a number (was refused as out of range) ...
])
def test_image_width_texts_yaml_cpp_reads(tmp_path, text):
    path = tmp_path / "camera.yaml"
    path.write_text(CAMERA_YAML.replace("image_width: 32", f"image_width: {text}"))
    if text == "4294967295":  # ... and then refused for what it is, a far principal point
        with pytest.raises(InputError, match="principal point"):
            load_camera_info_yaml(path)
        return
    assert load_camera_info_yaml(path).width == 32


@pytest.mark.parametrize("old, new, unsigned", [
    ("image_width: 32", "image_width: 09", True),  # 9 is no octal digit (was a ValueError)
    ("image_width: 32", "image_width: -0", True),  # '-' refused for unsigned, even for 0
    ("image_width: 32", "image_width: 4294967296", True),  # past uint32
    ("  rows: 1\n", "  rows: 2147483648\n", False),  # past int32
    ("  rows: 1\n", "  rows: -2147483649\n", False),
])
def test_integer_texts_yaml_cpp_refuses(tmp_path, old, new, unsigned):
    with pytest.raises(InputError, match=_NOT_READ.format("unsigned " if unsigned else "")):
        _load(tmp_path, old, new)


@pytest.mark.parametrize("rows", ["2147483647", "-2147483648"])
def test_the_int32_bounds_are_read_as_rows(tmp_path, rows):
    """The ends of as<int>'s range are numbers (then refused for contradicting the data),
    not texts ROS cannot read (was, with the range's ends left out)."""
    with pytest.raises(InputError, match=rf"distortion_coefficients says rows {rows} x cols 5"):
        _load(tmp_path, "  rows: 1\n", f"  rows: {rows}\n")


def test_doubles_as_calibrators_write_them(tmp_path):
    """Signs, a bare fraction and exponents (either sign, either case) are numbers to yaml-cpp
    (were refused: the sign, '.25', 'e-3' dropped from the pattern)."""
    cam = _load(tmp_path, "[0.01, 0, 0, 0, 0]", "[-1.5e-3, .25, +1E+2, 2e1, -0]")
    np.testing.assert_array_equal(cam.dist, [-1.5e-3, 0.25, 100.0, 20.0, 0.0])


@pytest.mark.parametrize("inf", [".inf", ".Inf", ".INF", "-.INF"])
def test_yaml_infinity_is_read_as_a_number(tmp_path, inf):
    """yaml-cpp reads each spelling of YAML's infinity as a double: refused for its value (a
    non-finite coefficient), not as a text ROS cannot read (was, for '.INF')."""
    with pytest.raises(InputError, match="distortion coefficient 0 is -?inf"):
        _load(tmp_path, "[0.01, 0", f"[{inf}, 0")


def test_a_white_space_binning_is_empty(tmp_path, caplog):
    """``binning_x: " "`` is left empty, as ``""`` is: no binning, with the warning (was
    refused as not an integer)."""
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        cam = _load(tmp_path, "camera_name: cam\n", 'camera_name: cam\nbinning_x: " "\n')
    assert (cam.width, cam.height) == (32, 24)
    assert "binning_x is empty (' ')" in caplog.text


def test_binning_texts(tmp_path):
    """A signed binning text reads as its number (was refused); a fraction is refused (was
    truncated: 2.5 read as 2)."""
    cam = _load(tmp_path, "camera_name: cam\n", 'camera_name: cam\nbinning_x: "+2"\n')
    assert (cam.width, cam.height) == (16, 24)
    with pytest.raises(InputError, match=r"binning_x must be an integer .*, got 2.5$"):
        _load(tmp_path, "camera_name: cam\n", "camera_name: cam\nbinning_x: 2.5\n")


def test_r_and_p_without_cols_are_warned_of_not_read(tmp_path, caplog):
    """rectification_matrix without ``cols`` is not checked as a matrix (its rows read with no
    cols to go with them) but warned of, as one missing (was refused: 'cols must be an
    integer, got None')."""
    r = "rectification_matrix: {rows: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
    p = ("projection_matrix: {rows: 3, cols: 4, "
         "data: [30, 0, 15.5, 0, 0, 31, 11.5, 0, 0, 0, 1, 0]}\n")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        cam = _load(tmp_path, "camera_name: cam\n", "camera_name: cam\n" + r + p)
    assert cam.width == 32
    assert "rectification_matrix missing or not a {rows, cols, data} mapping" in caplog.text


@pytest.mark.parametrize("old, new, named", [
    ("image_width: 32\n", "image_width: 16\nimage_width: 32\n", "image_width"),
    ("  cols: 5\n", "  cols: 5\n  cols: 4\n", "distortion_coefficients.cols"),
    ("distortion_model: plumb_bob\n", "distortion_model: equidistant\n"
     "distortion_model: plumb_bob\n", "distortion_model"),
])
def test_a_key_given_twice_is_refused(tmp_path, old, new, named):
    """ROS's yaml-cpp reads the first of a repeated key (its map lookup returns the first
    match), PyYAML the last: the file was read here as another camera than ROS reads (the
    audit's mutant of `_node` taking the first showed it; width 16 in ROS, 32 here)."""
    with pytest.raises(InputError, match=rf"camera.yaml: {named} is given twice \(lines \d+ "
                                         rf"and \d+\); ROS's camera_calibration_parsers "
                                         r"\(yaml-cpp\) reads the first, this reader would "
                                         r"read the last: keep one"):
        _load(tmp_path, old, new)
