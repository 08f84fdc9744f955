"""``localize`` with a bad --map, --stride, --max-frames or checkpoint on a TUM folder printed
the folder's INFO line ("TUM folder ...: 50 images, ...") before its one error line: the map
and the frame options (and the mast3r checkpoint) were checked only after the folder's lists
were read (a rosbag2's map and options were checked before its indexing pass). They are now
checked before the lists are read, at the default log level too: a bad invocation prints one
line and exits 2. The camera file's own error still comes first (as before a rosbag2's map
check)."""

from __future__ import annotations

import os
import shutil

import pytest

from mast3r_ros.replay.cli import main


def _stderr(capsys, argv):
    rc = main(argv)  # the default --log-level info: INFO lines would show
    return rc, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("bad, said", [
    (["--map", "{tmp}/nomap"], "map folder not found: {tmp}/nomap"),
    (["--map", "{map}", "--stride", "0"], "--stride must be >= 1"),
    (["--map", "{map}", "--max-frames", "-1"], "--max-frames must be >= 0"),
    # the mast3r matcher's checkpoint missing: was said after the folder's lists were read
    (["--map", "{map}", "--matcher", "mast3r", "--checkpoint", "{tmp}/none.pth"],
     "checkpoint not found: {tmp}/none.pth"),
    # localize's warning that it ignores --depth-scale / --sync-tolerance came first
    (["--map", "{tmp}/nomap", "--depth-scale", "1000"], "map folder not found: {tmp}/nomap"),
    (["--map", "{map}", "--stride", "0", "--sync-tolerance", "0.01", "--depth-scale", "5"],
     "--stride must be >= 1"),
])
def test_a_bad_map_or_frame_option_is_one_line_before_the_tum_folder_is_read(
        tum, sift_map, tmp_path, capsys, bad, said):
    bad = [b.format(tmp=tmp_path, map=sift_map) for b in bad]
    run = str(tmp_path / "run")
    rc, err = _stderr(capsys, ["localize", tum[1], "--out", run, "--matcher", "sift"] + bad)
    # (a later --matcher wins: the checkpoint's case asks for mast3r)
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("mast3r-ros localize: error: ") and \
        said.format(tmp=tmp_path) in err[0], err
    assert not os.path.exists(run) and not os.path.exists(run + ".partial")


def test_the_folders_camera_file_is_still_said_before_the_map(tum, tmp_path, capsys):
    folder = str(tmp_path / "query")
    shutil.copytree(tum[1], folder)
    os.remove(os.path.join(folder, "camera.yaml"))
    rc, err = _stderr(capsys, ["localize", folder, "--map", str(tmp_path / "nomap"), "--out",
                               str(tmp_path / "run"), "--matcher", "sift"])
    assert rc == 2 and len(err) == 1 and "no camera intrinsics" in err[0], err


def test_the_ignored_depth_options_are_still_warned_of_once_the_map_is_taken(
        tum, sift_map, tmp_path, capsys):
    rc, err = _stderr(capsys, ["localize", tum[1], "--out", str(tmp_path / "run"), "--matcher",
                               "sift", "--map", sift_map, "--depth-scale", "1000",
                               "--max-frames", "1", "--log-level", "warning"])
    assert rc == 0, err
    assert len([ln for ln in err if "--depth-scale has no effect on localize" in ln]) == 1, err


def test_the_mast3r_matcher_without_a_checkpoint_is_said_before_the_source_is_read(
        tum, sift_map, tmp_path, capsys):
    """It was said by the engine, after a TUM folder's lists were read (its INFO line came
    first) and after a rosbag2's whole indexing pass."""
    rc, err = _stderr(capsys, ["localize", tum[1], "--out", str(tmp_path / "run"), "--map",
                               sift_map, "--matcher", "mast3r"])
    assert rc == 2 and len(err) == 1, err
    assert err[0] == ("mast3r-ros localize: error: matcher 'mast3r': the MASt3R network needs a "
                      "checkpoint: set the 'checkpoint' parameter (--checkpoint PATH); see "
                      "README: 'Model weights'; or use matcher 'sift'"), err


def test_a_tum_benchmark_sequence_without_camera_yaml_is_told_where_its_camera_is(
        tum, tmp_path, capsys):
    """A TUM RGB-D benchmark download ships no calibration file: the refusal named the layouts
    to write, not where this sequence's camera is given."""
    folder = str(tmp_path / "rgbd_dataset_freiburg1_xyz")
    shutil.copytree(tum[1], folder)
    os.remove(os.path.join(folder, "camera.yaml"))
    rc, err = _stderr(capsys, ["build-map", folder, "--out", str(tmp_path / "map"),
                               "--matcher", "sift"])
    assert rc == 2 and len(err) == 1 and "no camera intrinsics" in err[0], err
    assert "a TUM RGB-D benchmark sequence ships no calibration file: the benchmark's " \
        "'Intrinsic Camera Calibration of the Kinect' page gives it, fx = fy = 525.0, cx " \
        "319.5, cy 239.5" in err[0], err
