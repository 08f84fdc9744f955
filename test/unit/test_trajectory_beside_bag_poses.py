"""build-map --trajectory (localize --groundtruth) beside --pose-topic or --pose-frames: the bag
was read for its poses ('poses from /camera/odom/sample' at INFO) and the file's taken instead,
without a word -- a T265 bag's map built from a trajectory 1 s off was refused as 'no pose
convention or depth scale explains it'. Both given are now refused in one line, before the
bag is read."""

from __future__ import annotations

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag_pose_topic import _path_bag  # noqa: E402

from mast3r_ros.replay.cli import main  # noqa: E402


@pytest.mark.parametrize("command, file_option", [("build-map", "--trajectory"),
                                                  ("localize", "--groundtruth")])
@pytest.mark.parametrize("bag_option, value", [("--pose-topic", "/camera/odom/sample"),
                                               ("--pose-frames", "odom:camera_optical")])
def test_a_trajectory_file_beside_the_bags_poses_is_refused(tmp_path, capsys, command,
                                                             file_option, bag_option, value):
    gt = tmp_path / "gt.txt"
    gt.write_text("1.0 0 0 0 0 0 0 1\n")
    where = ["--map", str(tmp_path / "nomap")] if command == "localize" else []
    bag = _path_bag(tmp_path / "bag", on_topic=True)
    rc = main([command, bag, *where, "--out", str(tmp_path / "out"),
               "--matcher", "sift", file_option, str(gt), bag_option, value])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1, err
    assert (f"{file_option} {gt} and {bag_option} {value} both give the poses: pass one "
            f"({file_option} would be read and the bag's poses left unread)") in err[0], err
