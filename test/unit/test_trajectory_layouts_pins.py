"""Pins on the trajectory layout refusals (test_trajectory_layouts.py) that no test held: each
test here failed on a hand mutant of tum_trajectory.py and passes on the code."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.tum import read_tum_trajectory
from mast3r_ros.replay.tum_trajectory import _read_rows

ROWS = "1.0 0.5 0 0 0 0 0.70710678 0.70710678\n2.0 0.6 0 0 0 0 0.70710678 0.70710678\n"


def test_a_header_naming_no_whole_quaternion_is_not_judged(tmp_path):
    """Only a header naming each of w, x, y, z once is an order: one with a component twice
    (a typo, 'qz qz') says nothing of the order and the file reads as TUM's."""
    path = tmp_path / "traj.txt"
    path.write_text("# timestamp tx ty tz qx qy qz qz\n" + ROWS, encoding="utf-8")
    stamps, poses = read_tum_trajectory(path)
    assert stamps.tolist() == [10**9, 2 * 10**9]
    np.testing.assert_allclose(poses[0, :3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-7)


def test_the_kitti_hint_is_for_12_columns_of_a_trajectory_only(tmp_path):
    path = tmp_path / "traj.txt"
    path.write_text("1.0 " + "0 " * 12 + "\n", encoding="utf-8")  # 13 columns: no KITTI row
    with pytest.raises(InputError) as err:
        read_tum_trajectory(path)
    assert "(13 columns)" in str(err.value) and "KITTI" not in str(err.value), str(err.value)
    listing = tmp_path / "rgb.txt"  # an image list of 12 columns is no KITTI pose file
    listing.write_text(" ".join(["1.0"] * 12) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        _read_rows(listing, 2, "timestamp filename")
    assert "(12 columns)" in str(err.value) and "KITTI" not in str(err.value), str(err.value)


def test_an_image_list_header_is_not_judged_as_a_trajectory_header(tmp_path):
    """The quaternion-order and EuRoC checks are the trajectory's: an rgb.txt whose comment
    happens to name such columns reads as before."""
    listing = tmp_path / "rgb.txt"
    listing.write_text("# timestamp qw qx qy qz p_RS_R_x\n1.0 rgb/1.png\n", encoding="utf-8")
    stamps, rows = _read_rows(listing, 2, "timestamp filename")
    assert stamps.tolist() == [10**9] and rows == [["rgb/1.png"]]


def test_a_tiny_but_nonzero_quaternion_is_not_called_all_zero(tmp_path):
    path = tmp_path / "traj.txt"
    path.write_text("1.0 0 0 0 0 0 0 0.0001\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_tum_trajectory(path)
    said = str(err.value)
    assert "norm 0.000100 instead of 1 (qx qy qz qw): write unit quaternions" in said, said
    assert "all zero" not in said


@pytest.mark.parametrize("header", [
    "#field.header.stamp field.pose.position.x field.pose.position.y field.pose.position.z "
    "field.pose.orientation.w field.pose.orientation.x field.pose.orientation.y "
    "field.pose.orientation.z\n",  # rostopic echo -p's names, dot-separated
    "#timestamp;tx;ty;tz;qw;qx;qy;qz\n",  # a spreadsheet's CSV with semicolons
], ids=["dotted-names", "semicolons"])
def test_w_first_is_told_in_dotted_names_and_semicolon_headers(tmp_path, header):
    path = tmp_path / "traj.txt"
    path.write_text(header + ROWS, encoding="utf-8")
    with pytest.raises(InputError, match=r"names the quaternion components in the order "
                                         r"w x y z"):
        read_tum_trajectory(path)
