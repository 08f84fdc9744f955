"""`build-map --matcher sift --stereo-depth` on an EuRoC dataset without cam1 (or a KITTI
sequence without image_1) said "which is missing: leave --stereo-depth out"; done, the next run
said "the sift matcher takes its 3-D points from keyframe depth ...: pass --stereo-depth": each
message sent the user to the other. The advice to leave it out now says what that takes: the
mast3r matcher, whose points come from the network."""

from __future__ import annotations

import shutil

import pytest
from test_stereo_depth import euroc_stereo_tree, kitti_stereo_tree

from mast3r_ros.replay.cli import main


def _second_camera_gone(tmp_path, kind):
    if kind == "euroc":
        root, _ = euroc_stereo_tree(tmp_path, 2)
        shutil.rmtree(root / "mav0" / "cam1")
    else:
        root, _ = kitti_stereo_tree(tmp_path, 2)
        shutil.rmtree(root / "image_1")
    return root


def _no_second_camera_images(tmp_path, kind):
    if kind == "euroc":
        root, _ = euroc_stereo_tree(tmp_path, 2)
        for f in (root / "mav0" / "cam1" / "data").iterdir():
            f.unlink()
    else:
        root, _ = kitti_stereo_tree(tmp_path, 2)
        for f in (root / "image_1").iterdir():
            f.unlink()
    return root


@pytest.mark.parametrize("make", [_second_camera_gone, _no_second_camera_images])
@pytest.mark.parametrize("kind", ["euroc", "kitti"])
def test_leaving_stereo_depth_out_is_advised_with_the_matcher_it_needs(tmp_path, kind, make,
                                                                       capsys):
    root = make(tmp_path / "src", kind)
    assert main(["build-map", str(root), "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--stereo-depth", "--log-level", "error"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "leave --stereo-depth out" in err[0], err
    assert "--matcher mast3r" in err[0], err
