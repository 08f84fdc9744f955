"""`--stereo-depth` on what real EuRoC data and long runs bring and the plane test does not:
cam0 / cam1 images that do not pair 1:1 (a frame one camera dropped: paired by exact stamp,
the unpaired counted and left without depth, not given a neighbour's image, which is another
moment and so a wrong depth), rectification maps made once per dataset, build-map's progress
lines and a Ctrl-C in the middle of the stereo matching."""

from __future__ import annotations

import io
import logging
import sys

import cv2
import numpy as np
from test_progress_units import _Clock
from test_stereo_depth import (STEREO, T0, assert_depth_close, euroc_stereo_tree,
                               kitti_stereo_tree)

from mast3r_ros.core import progress_output
from mast3r_ros.replay import stereo_depth
from mast3r_ros.replay.sources import SourceOptions, open_source


def _drop_cam1_frame(root, index):
    """Remove cam1's image ``index`` from its data.csv (a frame cam1 dropped)."""
    csv = root / "mav0" / "cam1" / "data.csv"
    stamp = T0 + index * 50_000_000
    csv.write_text("".join(line + "\n" for line in csv.read_text().splitlines()
                           if not line.startswith(f"{stamp},")))


def test_cam1_is_paired_by_exact_stamp_and_the_unpaired_counted(tmp_path, caplog):
    """cam1 dropped frame 1: with a --sync-tolerance of 60 ms (wide enough for a ground truth
    of gaps) frame 1 was paired with cam1's frame 0, taken 50 ms earlier elsewhere, and got
    that pair's (wrong) depth; it now gets none, said in a warning that counts it."""
    root, depths = euroc_stereo_tree(tmp_path, 3)
    _drop_cam1_frame(root, 1)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        source = open_source(str(root), SourceOptions(stereo_depth=True, sync_tolerance_s=0.06))
    said = [r.getMessage() for r in caplog.records if "same stamp" in r.getMessage()]
    assert len(said) == 1 and "1 of 3 cam0 images have no cam1 image" in said[0], said
    assert source.listed_pose_and_depth(1)[1] is False
    assert source[1].depth_m is None
    for i in (0, 2):
        assert_depth_close(source[i].depth_m, depths[i], 0.25)


def test_no_cam1_image_of_a_cam0_stamp_names_the_exact_pairing(tmp_path):
    root, _ = euroc_stereo_tree(tmp_path, 1)
    csv = root / "mav0" / "cam1" / "data.csv"
    csv.write_text(csv.read_text().replace(f"{T0},", f"{T0 + 5_000_000},"))  # 5 ms off
    source = open_source(str(root), STEREO)
    reason = source.no_depth_reason()
    assert "by exact stamp" in reason and "\n" not in reason, reason


def test_rectification_maps_are_made_once_per_dataset_not_per_frame(tmp_path, monkeypatch):
    calls = []
    made = cv2.initUndistortRectifyMap
    monkeypatch.setattr(stereo_depth.cv2, "initUndistortRectifyMap",
                        lambda *a, **k: calls.append(1) or made(*a, **k))
    root, _ = euroc_stereo_tree(tmp_path, 3)
    source = open_source(str(root), STEREO)
    assert len(calls) == 2  # cam0's and cam1's
    assert all(f.depth_m is not None for f in source)
    assert len(calls) == 2


def _build(tmp_path, root, out):
    from mast3r_ros.replay.cli import main

    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n"
                      "    map_build: {min_translation_m: 0.01}\n")
    return main(["build-map", str(root), "--out", str(out), "--matcher", "sift",
                 "--stereo-depth", "--params", str(params)])


def test_a_stereo_build_shows_progress_off_a_terminal(tmp_path, monkeypatch):
    root, _ = euroc_stereo_tree(tmp_path / "src", 3, motion=3.0)
    monkeypatch.setattr(progress_output, "_clock", _Clock())
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)  # as under nohup: log lines, no bar
    assert _build(tmp_path, root, tmp_path / "map") == 0
    lines = [ln for ln in err.getvalue().splitlines() if "mast3r_ros.progress: build-map" in ln]
    assert any("3/3 frames" in ln for ln in lines), err.getvalue()[-2000:]


def test_ctrl_c_in_the_stereo_matching_leaves_no_map_and_no_partial_folder(tmp_path,
                                                                           monkeypatch):
    root, _ = euroc_stereo_tree(tmp_path / "src", 3, motion=3.0)
    done = []
    depth = stereo_depth.StereoDepth.depth

    def interrupted(self, left, right):
        if done:
            raise KeyboardInterrupt
        done.append(1)
        return depth(self, left, right)

    monkeypatch.setattr(stereo_depth.StereoDepth, "depth", interrupted)
    assert _build(tmp_path, root, tmp_path / "map") == 130
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("map")]  # no .partial


def test_depth_matches_across_an_exposure_difference_between_the_cameras(tmp_path):
    """EuRoC's cameras expose each on its own: cam1 1.6 times as bright (clipped) as cam0."""
    root, depths = euroc_stereo_tree(tmp_path, 2)
    for png in sorted((root / "mav0" / "cam1" / "data").glob("*.png")):
        image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        cv2.imwrite(str(png), np.clip(image * 1.6, 0, 255).astype(np.uint8))
    for frame, want in zip(open_source(str(root), STEREO), depths):
        valid = frame.depth_m > 0
        err = np.abs(frame.depth_m[valid] / want[valid] - 1)
        assert valid.mean() > 0.32 and np.percentile(err, 95) < 0.012, (
            valid.mean(), np.percentile(err, 95))


def test_a_sensor_yaml_of_another_key_order_gives_the_same_depth(tmp_path):
    """Real sensor.yaml files differ in key order (rate_hz, resolution after the intrinsics,
    T_BS last): read as a mapping, the pair's depth is the same."""
    root, depths = euroc_stereo_tree(tmp_path, 1)
    for cam in ("cam0", "cam1"):
        path = root / "mav0" / cam / "sensor.yaml"
        lines = path.read_text().splitlines()
        t_bs = [ln for ln in lines if ln.startswith(("T_BS", "  "))]
        rest = [ln for ln in lines if ln not in t_bs]
        first = [ln for ln in rest if ln.startswith(("intrinsics", "distortion"))]
        path.write_text("\n".join(first + [ln for ln in rest if ln not in first] + t_bs) + "\n")
        assert path.read_text().startswith("intrinsics") and "resolution" in path.read_text()
    assert_depth_close(open_source(str(root), STEREO)[0].depth_m, depths[0], 0.25)


def test_a_listed_but_missing_cam1_image_costs_its_frame_depth_not_the_frame(tmp_path, caplog):
    """cam1/data.csv lists frame 1's image, but the file is gone: the whole cam0 frame was
    skipped as unreadable ('image not found: .../cam1/data/...'), though the code meant a
    missing cam1 image to cost only its frame's depth, as an unpaired stamp does."""
    root, depths = euroc_stereo_tree(tmp_path, 3)
    gone = root / "mav0" / "cam1" / "data" / f"{T0 + 50_000_000}.png"
    gone.unlink()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        source = open_source(str(root), STEREO)
    said = [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]
    assert len(said) == 1 and "3 cam1 images (stereo) listed, 1 missing" in said[0], said
    assert "they get no depth" in said[0] and "unreadable" not in said[0], said
    assert source.listed_pose_and_depth(1)[1] is False
    frames = list(source.frames_or_unreadable())
    assert all(hasattr(f, "rgb") for f in frames), frames  # none unreadable
    assert frames[1].depth_m is None and frames[1].rgb.shape == (160, 320, 3)
    for i in (0, 2):
        assert_depth_close(frames[i].depth_m, depths[i], 0.25)


def test_no_cam1_file_there_is_the_reason_for_no_depth_not_the_pairing(tmp_path):
    """Every cam1 image listed but none there: the reason says the files are missing (it was
    None, and each frame then unreadable), not that the stamps do not pair."""
    root, _ = euroc_stereo_tree(tmp_path, 2)
    for png in (root / "mav0" / "cam1" / "data").glob("*.png"):
        png.unlink()
    reason = open_source(str(root), STEREO).no_depth_reason()
    assert reason is not None and "2 listed in its data.csv are missing" in reason, reason
    assert "by exact stamp" not in reason and "\n" not in reason, reason


def test_a_missing_kitti_right_image_costs_its_frame_depth_not_the_frame(tmp_path, caplog):
    """image_1/000001.png is gone (times.txt lists 3 images): the whole image_0 frame was
    skipped as unreadable, as EuRoC's cam0 frame was for a missing cam1 file; it now gets no
    depth, counted in the warning, and the other frames keep theirs."""
    seq, depths = kitti_stereo_tree(tmp_path, 3)
    (seq / "image_1" / "000001.png").unlink()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        source = open_source(str(seq), STEREO)
    said = [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]
    assert len(said) == 1 and "3 image_1 images (stereo, one a line) listed, 1 missing" \
        in said[0], said
    assert "they get no depth" in said[0] and "unreadable" not in said[0], said
    assert source.listed_pose_and_depth(1)[1] is False and source.no_depth_reason() is None
    frames = list(source.frames_or_unreadable())
    assert all(hasattr(f, "rgb") for f in frames), frames  # none unreadable
    assert frames[1].depth_m is None and frames[1].rgb.shape[:2] == (160, 320)
    assert_depth_close(frames[0].depth_m, depths[0], 0.5)
    assert (frames[2].depth_m > 0).mean() > 0.5  # 6 m away: SGBM's error is above 1% there


def test_no_kitti_right_image_there_is_the_reason_for_no_depth(tmp_path):
    """image_1/ is there but empty: the reason says its images are missing (it was None, and
    every frame then unreadable)."""
    seq, _ = kitti_stereo_tree(tmp_path, 2)
    for png in (seq / "image_1").glob("*.png"):
        png.unlink()
    reason = open_source(str(seq), STEREO).no_depth_reason()
    assert reason is not None and "none of the 2 image_1 images" in reason, reason
    assert str(seq / "image_1") in reason and "\n" not in reason, reason
