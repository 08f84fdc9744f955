"""Edges of the KITTI odometry reader (`replay/kitti.py`) the main tests (test_kitti_source) did
not pin: what is a sequence folder, calib.txt and pose lines that must be refused, a pose file
written to a few digits, times.txt repeating a stamp or listing none."""

from __future__ import annotations

import numpy as np
import pytest
from test_kitti_source import P0, _cam0, _row, kitti_tree, refused_in_one_line

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.kitti import kitti_sequence
from mast3r_ros.replay.sources import open_source


def test_a_folder_lacking_calib_txt_or_any_camera_is_no_sequence(tmp_path):
    seq = kitti_tree(tmp_path)
    assert kitti_sequence(seq) == (seq, "image_0")
    (seq / "calib.txt").rename(seq / "calib.bak")
    assert kitti_sequence(seq) is None
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("times.txt", "calib.txt"):
        (bare / f).write_text((seq / "times.txt").read_text())
    assert kitti_sequence(bare) is None  # no image_N folder


@pytest.mark.parametrize("where, text, why", [
    ("calib.txt", f"P0: {_row(P0)} 7\n", "calib.txt:1: P0 must be 12 numbers .*got 13"),
    ("calib.txt", "P0: 1 2 3 nan 5 6 7 8 9 10 11 12\n", "calib.txt:1: P0 holds a non-finite"),
    ("poses", "".join(_row(_cam0(i)) + "\n" for i in range(5)),
     "holds 5 poses but .*times.txt lists 4 images"),
    ("poses", _row(_cam0(0)) + "\n" + _row(np.diag([2.0, 1, 1, 1])) + "\n",
     "00.txt:2: the pose's rotation block is no rotation"),
    ("poses", _row(_cam0(0)) + "\n" + _row(np.diag([1.0, 1, -1, 1])) + "\n",
     "00.txt:2: the pose's rotation block is no rotation"),  # a reflection
    ("times.txt", "0.0\n0.1\n0.1\n0.3\n", "times.txt:3: stamp 0.1 is not after"),
    ("times.txt", "\n", "times.txt lists no stamps"),
])
def test_more_bad_kitti_files_are_one_line_naming_file_and_line(tmp_path, where, text, why):
    refused_in_one_line(tmp_path, where, text, why)


def test_poses_written_to_five_digits_are_made_rotations(tmp_path):
    seq = kitti_tree(tmp_path)
    (tmp_path / "dataset" / "poses" / "00.txt").write_text(
        "".join(" ".join(f"{v:.5f}" for v in _cam0(i)[:3].ravel()) + "\n" for i in range(4)))
    for i, f in enumerate(open_source(str(seq))):
        rot = f.map_from_cam[:3, :3]
        np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(f.map_from_cam, _cam0(i), atol=1e-4)


def test_a_kitti_sequence_is_named_a_recording_only_with_times_calib_and_a_camera(tmp_path):
    from mast3r_ros.core.recordings import recording_kind

    seq = kitti_tree(tmp_path)
    assert recording_kind(str(seq)).startswith("a KITTI odometry sequence")
    for name in ("image_0", "image_2"):
        (seq / name).rename(seq / f"{name}_moved")
    assert recording_kind(str(seq)) == ""  # no camera folder
    (seq / "image_0_moved").rename(seq / "image_0")
    (seq / "calib.txt").unlink()
    assert recording_kind(str(seq)) == ""


def test_depth_scale_is_refused_for_a_kitti_sequence(tmp_path):
    from mast3r_ros.replay.sources import SourceOptions

    seq = kitti_tree(tmp_path)
    with pytest.raises(InputError, match=r"--depth-scale: .* is a KITTI odometry sequence "
                                         r"folder, which has no depth images"):
        open_source(str(seq), SourceOptions(depth_scale=1000.0))


def test_image_rectified_does_not_apply_to_a_kitti_camera_info_file(tmp_path):
    """image_rectified (a rosbag2's rectified stream) reads a file of P alone through P; for a
    KITTI sequence, as for a TUM folder, the file is read as written (refused here)."""
    from mast3r_ros.replay.sources import SourceOptions

    seq = kitti_tree(tmp_path)
    layout = tmp_path / "cam.yaml"
    layout.write_text("image_width: 62\nimage_height: 19\ncamera_name: cam\n"
                      "camera_matrix: {rows: 3, cols: 3, data: [0, 0, 0, 0, 0, 0, 0, 0, 0]}\n"
                      "distortion_model: plumb_bob\n"
                      "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n"
                      "projection_matrix: {rows: 3, cols: 4, data: ["
                      + ", ".join(_row(P0).split()) + "]}\n")
    with pytest.raises(InputError, match="projection_matrix is set"):
        open_source(str(seq), SourceOptions(camera_info=str(layout), image_rectified=True))


@pytest.mark.parametrize("gone", ["calib.txt", "times.txt"])
@pytest.mark.parametrize("given", ["", "image_2"])
def test_a_sequence_missing_calib_or_times_is_refused_naming_the_file(tmp_path, gone, given):
    """A KITTI sequence copied without calib.txt (or times.txt) said only 'neither a TUM RGB-D
    folder nor a rosbag2', naming neither KITTI nor the file to copy."""
    seq = kitti_tree(tmp_path)
    (seq / gone).unlink()
    with pytest.raises(InputError, match=rf"looks like a KITTI odometry sequence .*without its "
                                         rf"{gone}: copy {gone}") as err:
        open_source(str(seq / given) if given else str(seq))
    assert "\n" not in str(err.value)
