"""--out inside what a command reads, two gaps `out_source` left: an EuRoC camera folder given as
SOURCE (``mav0/cam0``) owned only itself, so ``--out mav0/run`` (or KITTI's ``00/run`` beside
``00/image_0``) wrote into the dataset; and merge-maps took an --out inside (or holding) one of
the maps it merges, writing into an input it was still reading. Both are refused in one line
(exit 2) before anything is read or written."""

from __future__ import annotations

import os

import pytest
from test_euroc_source import euroc_tree
from test_kitti_source import kitti_tree

from mast3r_ros.core.keyframes import write_map
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def _line(capsys):
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


@pytest.mark.parametrize("kind", ["euroc", "kitti"])
def test_out_beside_a_camera_folder_inside_its_dataset_is_refused(tmp_path, capsys, kind):
    if kind == "euroc":
        cam = euroc_tree(tmp_path)
        dataset = cam.parent  # mav0
    else:
        dataset = kitti_tree(tmp_path)  # sequences/00
        cam = dataset / "image_0"
    before = sorted(os.listdir(dataset))
    out = dataset / "run"
    assert main(["build-map", str(cam), "--out", str(out), "--matcher", "sift",
                 "--log-level", "error"]) == 2
    line = _line(capsys)
    assert f"--out {out} lies inside SOURCE's folder {dataset} ({cam})" in line, line
    assert sorted(os.listdir(dataset)) == before
    # the dataset folder itself as --out is SOURCE's dataset folder, not 'SOURCE itself'
    assert main(["localize", str(cam), "--map", str(tmp_path / "none"), "--out", str(dataset),
                 "--matcher", "sift", "--log-level", "error"]) == 2
    assert f"--out {dataset} is SOURCE's dataset folder {dataset}" in _line(capsys)


def test_out_beside_the_dataset_is_accepted_by_the_check(tmp_path):
    from mast3r_ros.replay.out_source import refuse_out_over_source

    cam = euroc_tree(tmp_path / "MH_01")
    refuse_out_over_source(str(cam), str(tmp_path / "MH_01_map"), "the map", "_map")


@pytest.fixture
def maps(tmp_path):
    cam = default_intrinsics(48, 36)
    frames = list(render_frames(4, cam, seed=0))
    a = write_map(str(tmp_path / "a"), [(f.rgb, cam, f.map_from_cam, f.stamp_ns, f.depth_m)
                                        for f in frames[0::2]])
    b = write_map(str(tmp_path / "b"), [(f.rgb, cam, f.map_from_cam, f.stamp_ns, f.depth_m)
                                        for f in frames[1::2]])
    return a, b


def _tree(path):
    return sorted(os.path.relpath(os.path.join(d, f), path)
                  for d, _, fs in os.walk(path) for f in fs)


@pytest.mark.parametrize("where", ["inside A", "inside B", "holds A"])
def test_merge_maps_out_inside_or_over_an_input_map_is_refused(maps, tmp_path, capsys, where):
    a, b = maps
    out = {"inside A": os.path.join(a, "merged"), "inside B": os.path.join(b, "sub", "m"),
           "holds A": str(tmp_path)}[where]
    trees = [_tree(a), _tree(b)]
    assert main(["merge-maps", a, b, "--out", out, "--overwrite", "--force",
                 "--log-level", "error"]) == 2
    line = _line(capsys)
    name = "B" if where == "inside B" else "A"
    verb = "holds" if where == "holds A" else "lies inside"
    assert f"--out {out} {verb} map {name} (" in line, line
    assert "write the merged map to a new folder outside both maps" in line, line
    assert [_tree(a), _tree(b)] == trees
