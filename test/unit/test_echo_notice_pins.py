"""The echo readers this stop added (`camera_info_echo.skip_echo_notices`, ROS 1's ``rostopic
echo``) at the edges test_camera_info_formats.py and test_camera_info_edges.py leave open: a
mutation audit's pins, each failing with one mutation of the reader those files let through."""

from __future__ import annotations

import logging

import pytest
from test_camera_info_formats import D5, ECHO, ECHO_ROS1, K, LOST, NOT_PUBLISHED, _refused, \
    _same, _write

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import intrinsics_from_camera_info, load_camera_info_yaml

NO_TYPE = "Could not determine the type for the passed topic\n"


def test_notices_after_a_byte_order_mark_are_skipped(tmp_path):
    """An echo saved through a tool that writes UTF-8 with a BOM (PowerShell's Out-File): the
    BOM sits before the first notice, which is still one."""
    path = tmp_path / "cam.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (NOT_PUBLISHED + ECHO).encode())
    _same(load_camera_info_yaml(path), intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))


def test_the_no_type_line_alone_is_refused_as_a_file_not_a_crash(tmp_path):
    """ros2cli's 'Could not determine the type' with no notice before it is no echo's output
    (it prints the not-published notice first): judged as any other file, one InputError."""
    with pytest.raises(InputError) as e:
        load_camera_info_yaml(_write(tmp_path, NO_TYPE))
    assert "cam.yaml" in str(e.value) and "nothing was publishing" not in str(e.value)


def test_the_skipped_notices_are_logged_by_kind_once_each(tmp_path, caplog):
    path = _write(tmp_path, NOT_PUBLISHED + LOST + LOST + ECHO)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        load_camera_info_yaml(path)
    said = [r.getMessage() for r in caplog.records if "printed before the message" in
            r.getMessage()]
    assert len(said) == 1, caplog.text
    assert said[0].endswith("(the topic was not published yet; a message lost)"), said


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"])
def test_every_ros_log_level_before_the_message_is_named_as_a_log_line(tmp_path, level):
    """rcutils' console format '[LEVEL] [stamp] [node]: ...', each severity it prints."""
    line = f"[{level}] [1718500617.123456789] [_ros2cli_4242]: something\n"
    _refused(_write(tmp_path, line + ECHO), "line 1 is a ROS log line", "2>&1")


def test_a_ros1_echo_with_a_negative_exponent_only_float_reads(tmp_path):
    """rostopic echo prints Python's float text: -2e-05 has no '.', a string to PyYAML's YAML
    1.1 unless the echo loader reads it (its first character '-' included)."""
    d = [0.1, -0.25, -2e-05, 0.002, 0.0]
    text = ECHO_ROS1.replace("D: [0.1, -0.25, 1e-05, 0.002, 0.0]",
                             "D: [0.1, -0.25, -2e-05, 0.002, 0.0]")
    assert text != ECHO_ROS1
    _same(load_camera_info_yaml(_write(tmp_path, text)),
          intrinsics_from_camera_info(640, 480, K, d, "plumb_bob"))


def test_a_ros1_echo_cut_before_its_size_is_refused_in_ros1s_words(tmp_path):
    """A ROS 1 message without height and width is still taken for an echo by its ``K`` (not
    for camera_calibration_parsers' layout, whose image_width it would be asked for)."""
    text = ECHO_ROS1.replace("height: 480\nwidth: 640\n", "")
    assert text != ECHO_ROS1
    _refused(_write(tmp_path, text), "missing field 'height', 'width'", "rostopic echo -n 1")


def test_a_ros1_noarr_echo_names_rostopics_option(tmp_path):
    """What ROS 1's ``rostopic echo --noarr`` prints for an array: told as --noarr, not ROS 2's
    --no-arr."""
    text = ECHO_ROS1.replace("K: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]",
                             "K: '<array type: float64, length: 9>'")
    assert text != ECHO_ROS1
    msg = _refused(_write(tmp_path, text), "CameraInfo K is", "echoed with --noarr",
                   "rostopic echo -n 1")
    assert "--no-arr" not in msg


def test_a_ros1_field_in_other_capitals_is_not_taken_for_the_field(tmp_path):
    """Only D, K, R, P are renamed: ``Width`` is no field of either message."""
    text = ECHO_ROS1.replace("binning_x: 0\n", "binning_x: 0\nWidth: 320\n")
    _refused(_write(tmp_path, text), "'Width' is not a field")


def test_a_cut_ros1_array_says_how_to_save_one_with_rostopic(tmp_path):
    text = ECHO_ROS1.replace("1.0, 0.0]\nbinning_x", "1.0]\nbinning_x")
    assert text != ECHO_ROS1
    msg = _refused(_write(tmp_path, text), "CameraInfo P must have 12 values, got 11")
    assert msg.endswith("save one message with 'rostopic echo -n 1 TOPIC > FILE'"), msg
