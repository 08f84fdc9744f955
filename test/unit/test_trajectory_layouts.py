"""Trajectory files of other layouts than TUM's, as datasets and exporters write them: a header
naming the quaternion w first, EuRoC's ground-truth CSV, KITTI's 3x4 pose rows. Both quaternion
orders are unit quaternions, so only the header can tell them apart."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.tum import read_tum_trajectory

# a camera turned 90 degrees about z: x y z w = 0 0 0.7071 0.7071; w first, 0.7071 0 0 0.7071
WXYZ_ROWS = "1.0 0.5 0 0 0.70710678 0 0 0.70710678\n2.0 0.6 0 0 0.70710678 0 0 0.70710678\n"


def _refusal(path) -> str:
    with pytest.raises(InputError) as err:
        read_tum_trajectory(path)
    return str(err.value)


@pytest.mark.parametrize("header", [
    "# timestamp tx ty tz qw qx qy qz\n",
    "timestamp tx ty tz qw qx qy qz\n",  # the column header without its '#'
    "# time x y z q_w q_x q_y q_z\n",
    "#timestamp,x,y,z,qw,qx,qy,qz\n# written by an exporter\n",
], ids=["comment", "column-header", "underscored", "commas"])
def test_a_header_naming_w_first_is_refused(tmp_path, header):
    """Read as x y z w before, without a word: every rotation 90 degrees off about another
    axis (here about x instead of z)."""
    path = tmp_path / "traj.txt"
    path.write_text(header + WXYZ_ROWS, encoding="utf-8")
    said = _refusal(path)
    assert said.startswith(f"{path}:1: its header '") and "order w x y z" in said, said
    assert "'timestamp tx ty tz qx qy qz qw' (w last): reorder the columns" in said


@pytest.mark.parametrize("header", [
    "# ground truth trajectory\n# file: 'rgbd_dataset_freiburg1_xyz.bag'\n"
    "# timestamp tx ty tz qx qy qz qw\n",
    "timestamp tx ty tz qx qy qz qw\n",
    "#field.header.stamp field.pose.position.x field.pose.position.y field.pose.position.z "
    "field.pose.orientation.x field.pose.orientation.y field.pose.orientation.z "
    "field.pose.orientation.w\n",
    "# poses\n",
], ids=["tum", "column-header", "rostopic-csv-names", "no-names"])
def test_headers_in_tum_order_read_as_before(tmp_path, header):
    path = tmp_path / "traj.txt"
    path.write_text(header + WXYZ_ROWS.replace("0.70710678 0 0 0.70710678",
                                               "0 0 0.70710678 0.70710678"), encoding="utf-8")
    stamps, poses = read_tum_trajectory(path)
    assert stamps.tolist() == [1 * 10**9, 2 * 10**9]
    np.testing.assert_allclose(poses[0, :3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-7)


def test_a_header_after_the_first_pose_is_a_comment_only(tmp_path):
    """Only the lines before the first pose are its header."""
    path = tmp_path / "traj.txt"
    path.write_text("1.0 0 0 0 0 0 0 1\n# timestamp tx ty tz qw qx qy qz\n2.0 0 0 0 0 0 0 1\n",
                    encoding="utf-8")
    assert read_tum_trajectory(path)[0].size == 2


EUROC_HEADER = ("#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], "
                "q_RS_y [], q_RS_z [], v_RS_R_x [m s^-1], v_RS_R_y [m s^-1], v_RS_R_z [m s^-1]\n")
EUROC_ROW = "1403636579758555392,4.688319,-1.786938,0.783338,0.534108,-0.153029,-0.827383,-0.082152"


@pytest.mark.parametrize("sep", [",", " "], ids=["csv", "commas-replaced"])
def test_euroc_ground_truth_is_named(tmp_path, sep):
    """An EuRoC data.csv given as --groundtruth was refused for its commas only; with the
    commas replaced (the fix that message suggested) and the columns cut to eight, its
    q_RS w x y z were read as x y z w without a word."""
    path = tmp_path / "data.csv"
    path.write_text(EUROC_HEADER.replace(",", sep) + EUROC_ROW.replace(",", sep) + "\n",
                    encoding="utf-8")
    said = _refusal(path)
    assert said.startswith(f"{path}:1: an EuRoC ground-truth CSV"), said
    assert "quaternion w first" in said and "evo_traj euroc" in said


def test_a_kitti_pose_file_is_named(tmp_path):
    path = tmp_path / "00.txt"
    path.write_text("1 0 0 0.1 0 1 0 0.2 0 0 1 0.3\n", encoding="utf-8")
    said = _refusal(path)
    assert "(12 columns: a KITTI pose file (a 3x4 matrix per line, no timestamp)?" in said, said
    assert "times.txt" in said
    # a fresh user passed poses/01.txt to localize --groundtruth beside its sequence folder,
    # which reads it itself (the EuRoC CSV's refusal already said so)
    assert "or leave it out: a KITTI sequence folder given as SOURCE reads its poses/NN.txt" \
        in said, said


@pytest.mark.parametrize("quat, said", [
    ("0 0 0 0.98", "norm 0.980000 instead of 1 (qx qy qz qw): write unit quaternions (each "
                   "divided by its norm), or check the columns"),
    ("0 0 0 0", "norm 0.000000 instead of 1 (qx qy qz qw): all zero, no rotation at all"),
], ids=["norm-0.98", "zero"])
def test_a_quaternion_off_unit_norm_says_what_to_do(tmp_path, quat, said):
    """The refusal named the norm only, with no word of the fix."""
    path = tmp_path / "traj.txt"
    path.write_text(f"1.0 0 0 0 {quat}\n", encoding="utf-8")
    assert said in _refusal(path)


# SLAM output starting at its first camera, written w first: 'qw qx qy qz' = 1 0 0 0 first
W_FIRST_FROM_IDENTITY = ("1.0 0 0 0 1 0 0 0\n"
                         "1.1 0.05 0 0.01 0.99996192 0 0.00872654 0\n")


def test_a_w_first_identity_start_is_warned_about(tmp_path, caplog):
    """No header: read as x y z w without a word, every pose turned 180 degrees about x. The
    first pose exactly at the origin with qx qy qz qw = 1 0 0 0 is the identity written w
    first: a warning names the order and the column fix (read as written: a camera converted
    from OpenGL's axes starts there too)."""
    path = tmp_path / "traj.txt"
    path.write_text(W_FIRST_FROM_IDENTITY, encoding="utf-8")
    with caplog.at_level("WARNING"):
        _, poses = read_tum_trajectory(path)
    np.testing.assert_allclose(poses[0, :3, :3], np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    (said,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said.startswith(f"{path}:1: the first pose is the origin turned exactly 180 degrees "
                           "about x (qx qy qz qw = 1 0 0 0)"), said
    assert "'timestamp tx ty tz qw qx qy qz', move qw to the last column ('timestamp tx ty tz " \
           "qx qy qz qw'" in said, said


@pytest.mark.parametrize("rows", [
    "1.0 0 0 0 0 0 0 1\n2.0 0.1 0 0 0 0 0 1\n",  # the identity in TUM order
    "1.0 0.2 0 0 1 0 0 0\n2.0 0.3 0 0 1 0 0 0\n",  # the turn, but not at the origin
    "1.0 0 0 0 0.9998477 0.0174524 0 0\n",  # at the origin, 2 degrees short of the turn
    "1.0 0 0 0 1 0 0 0.0001\n",  # a hair off the turn about another axis than x
], ids=["tum-identity", "off-origin", "not-exact", "not-exact-w"])
def test_other_first_poses_are_not_warned_about(tmp_path, caplog, rows):
    path = tmp_path / "traj.txt"
    path.write_text(rows, encoding="utf-8")
    with caplog.at_level("WARNING"):
        read_tum_trajectory(path)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_w_first_identity_written_with_a_negative_w_is_warned_about_too(tmp_path, caplog):
    """qw qx qy qz = -1 0 0 0 is the identity as well (q and -q are one rotation)."""
    path = tmp_path / "traj.txt"
    path.write_text("1.0 0 0 0 -1 0 0 0\n2.0 0.1 0 0 -1 0 0 0\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        read_tum_trajectory(path)
    (said,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "(qx qy qz qw = -1 0 0 0)" in said, said


@pytest.mark.parametrize("text", [
    "# color images\n# timestamp filename\n1305031102.175304 rgb/1305031102.175304.png\n",
    "1305031102.160407 depth/1305031102.160407.png\n",
    "1305031102.175304 rgb/1305031102.175304.png 1305031102.160407 depth/1305031102.160407.png\n",
], ids=["rgb.txt", "depth.txt", "associate-pairs"])
def test_an_image_list_given_as_a_trajectory_is_named(tmp_path, text):
    """`--trajectory rgb.txt` said only "expected 'timestamp tx ...', got ... (2 columns)"."""
    path = tmp_path / "rgb.txt"
    path.write_text(text)
    msg = _refusal(path)
    assert "this is an image list ('timestamp path'" in msg, msg
    assert "not a trajectory ('timestamp tx ty tz qx qy qz qw'): pass the sequence's " \
        "groundtruth.txt" in msg, msg


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


@pytest.mark.parametrize("command,option", [("localize", "--groundtruth"),
                                            ("build-map", "--trajectory")])
@pytest.mark.parametrize("given", ["rgb.txt", "image", "camera.yaml"])
def test_an_image_list_or_an_image_names_the_option_given(tum, sift_map, tmp_path, capsys,
                                                          command, option, given):
    """`localize --groundtruth rgb.txt` said "leave --trajectory (--groundtruth) out", an
    option localize has not; an image given as the file ended "save it as UTF-8"; a camera
    YAML said "--groundtruth (and --trajectory) take". The refusal now names the option typed,
    and says an image is no trajectory."""
    from mast3r_ros.replay.cli import main

    source = tum[1] if command == "localize" else tum[0]
    path = f"{source}/{given}"
    if given == "image":
        path = str(tmp_path / "gt.png")
        (tmp_path / "gt.png").write_bytes(PNG)
    extra = ["--map", sift_map] if command == "localize" else []
    capsys.readouterr()
    assert main([command, source, "--out", str(tmp_path / "out"), "--matcher", "sift",
                 option, path, "--log-level", "error", *extra]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    other = "--trajectory" if option == "--groundtruth" else "--groundtruth"
    assert other not in line and "UTF-8;" not in line and "save it" not in line, line
    if given == "image":
        assert "it is a PNG image" in line and "an image is not a trajectory" in line, line
    elif given == "camera.yaml":
        assert f"not a trajectory; {option} takes a TUM trajectory file" in line, line
    else:
        assert f"leave {option} out" in line, line


def test_a_short_numeric_row_is_not_taken_for_an_image_list(tmp_path):
    path = tmp_path / "traj.txt"
    path.write_text("1.0 0.5\n")
    assert "image list" not in _refusal(path)


_RECORD = ('{"stamp_ns": 1305031102175304000, "success": false, "reason": "'
           + "x" * 1900 + '", "focal_fit": null}\n')


@pytest.mark.parametrize("text,said", [
    (_RECORD * 2, "is a JSON file (a localize run's results.jsonl or metrics.json, or a map's "
                  "manifest.json), not a TUM trajectory; --groundtruth takes the recording's "
                  "groundtruth.txt"),
    ('{\n  "frames": 49,\n  "camera_focal": null\n}\n', "is a JSON file"),
    ("/**/mast3r_localizer:\n  ros__parameters:\n    gates:\n      max_focal_error: 0.05\n",
     "is a node parameters YAML (a run's config.yaml, --params), not a TUM trajectory; "
     "--groundtruth takes the recording's groundtruth.txt"),
    ("1305031102.1 " + "9" * 300 + "\n", "expected 'timestamp tx ty tz qx qy qz qw'"),
    ("x" * 300 + " 1 2 3 4 5 6 7\n", "is not a number"),
], ids=["results.jsonl", "metrics.json", "config.yaml", "long-row", "long-stamp"])
def test_a_run_output_given_as_ground_truth_is_named_in_one_short_line(tmp_path, text, said):
    """`localize --groundtruth RUN/results.jsonl` exited with a 2039-character line quoting the
    whole first record and blaming commas."""
    from mast3r_ros.replay.tum_trajectory import read_tum_trajectory_and_unit

    path = tmp_path / "results.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_tum_trajectory_and_unit(path, "--groundtruth")
    msg = str(err.value)
    assert said in msg and "\n" not in msg and len(msg) < len(str(path)) + 400, msg
    assert "x" * 81 not in msg and "9" * 81 not in msg, msg
