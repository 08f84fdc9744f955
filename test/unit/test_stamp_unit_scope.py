"""Where a TUM folder's own groundtruth.txt in another time unit is refused: only where its
poses are used. A folder with a groundtruth.txt in milliseconds was refused even with a correct
``--trajectory`` (build-map) or ``--groundtruth`` (localize), which override it; both worked
before the stamp-unit check. Expected values by hand: the demo map's 8 frames are at 0.0, 0.2,
..., 1.4 s, the query's at 0.1, 0.3, ..., 1.5 s (milliseconds read as seconds: 100..1500 s)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main

FIX = "convert them to seconds (divide by 1000; integers above 1e12 are read as nanoseconds)"
# said when the frames lie within the trajectory, as a sparse trajectory's excerpt does
EXCERPT = ("; if they are seconds already (the frames a short excerpt of a long trajectory), "
           "keep only its poses around the frames' time range")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return write_demo_sequences(str(tmp_path_factory.mktemp("seq")), num_frames=16, width=320,
                                height=240, seed=2)


def _ms_folder(src, dst):
    """A copy of the TUM folder ``src`` whose groundtruth.txt is in milliseconds; returns (the
    copy, the original groundtruth.txt in seconds, kept beside it as gt_s.txt)."""
    shutil.copytree(src, dst)
    gt_s = dst.parent / f"{dst.name}_gt_s.txt"
    shutil.copy(dst / "groundtruth.txt", gt_s)
    rows = [ln.split() for ln in open(gt_s, encoding="utf-8") if ln.strip() and ln[0] != "#"]
    (dst / "groundtruth.txt").write_text(
        "".join(f"{float(v[0]) * 1000:.3f} {' '.join(v[1:])}\n" for v in rows))
    return dst, str(gt_s)


def _errors(capsys):
    return [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]


def test_build_map_with_trajectory_ignores_the_folders_groundtruth(demo, tmp_path, capsys):
    src, gt_s = _ms_folder(demo[0], tmp_path / "ms")
    out = str(tmp_path / "map")
    assert main(["build-map", str(src), "--out", out, "--matcher", "sift", "--trajectory",
                 gt_s]) == 0, _errors(capsys)
    assert capsys.readouterr().out.startswith(f"map {out}: ")
    # without --trajectory the folder's poses are used: refused as before, in the same words
    assert main(["build-map", str(src), "--out", str(tmp_path / "m2"), "--matcher",
                 "sift"]) == 2
    assert _errors(capsys) == [
        f"mast3r-ros build-map: error: {src / 'groundtruth.txt'}: its stamps look like "
        f"milliseconds: it spans 0.000..1400.000 s while the frames span 0.000..1.400 s; "
        f"{FIX}{EXCERPT}"]


def test_localize_with_groundtruth_ignores_the_folders_groundtruth(demo, tmp_path, capsys):
    map_path = str(tmp_path / "map")
    assert main(["build-map", demo[0], "--out", map_path, "--matcher", "sift"]) == 0
    src, gt_s = _ms_folder(demo[1], tmp_path / "qms")
    run = tmp_path / "run"
    assert main(["localize", str(src), "--map", map_path, "--out", str(run), "--matcher",
                 "sift", "--groundtruth", gt_s]) == 0, _errors(capsys)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["frames"] == 8, metrics
    # without --groundtruth the metrics would use the folder's poses: refused (a missing map
    # would be said first: localize checks --map before it reads the folder's lists)
    assert main(["localize", str(src), "--map", map_path, "--out",
                 str(tmp_path / "run2"), "--matcher", "sift"]) == 2
    assert _errors(capsys) == [
        f"mast3r-ros localize: error: {src / 'groundtruth.txt'}: its stamps look like "
        f"milliseconds: it spans 100.000..1500.000 s while the frames span 0.100..1.500 s; "
        f"{FIX}"]


def test_tum_sequence_gives_no_pose_from_a_groundtruth_in_another_unit(demo, tmp_path):
    """The Python API: opening the folder works (a trajectory may be passed instead); its
    frames get no pose from the milliseconds, and `check_groundtruth_units` refuses them."""
    from mast3r_ros.replay.tum import TumSequence

    src, _ = _ms_folder(demo[1], tmp_path / "qms")
    seq = TumSequence(src)
    assert [f.map_from_cam for f in seq] == [None] * 8
    with pytest.raises(InputError) as err:
        seq.check_groundtruth_units()
    assert str(err.value) == (
        f"{src / 'groundtruth.txt'}: its stamps look like milliseconds: it spans "
        f"100.000..1500.000 s while the frames span 0.100..1.500 s; {FIX}")
    TumSequence(demo[1]).check_groundtruth_units()  # seconds and seconds: no error


def test_a_dropout_longer_than_the_frames_is_called_a_hole(demo, tmp_path, capsys):
    """Two frames at 5.166667 and 5.5 s inside a dropout of groundtruth.txt (poses at k/6 s for
    k = 1..99, 0.166667..16.5 s, none between k = 24, 4.0 s, and k = 40, 6.666667 s): the gap,
    2.666667 s, is longer than the frames' 0.333 s, and was refused as 'not covered'. It is a
    sixth of the trajectory's 16.333 s, so not another recording, and 16 of the poses' steps
    (0.167 s) wide: a hole in the poses (tracking lost), whose frames are rightly left out; the
    advice is the poses of that stretch, not a max_gap_s that would draw a line across it."""
    src = tmp_path / "ex"
    shutil.copytree(demo[0], src)
    rgb = sorted(os.listdir(src / "rgb"))[:2]
    depth = sorted(os.listdir(src / "depth"))[:2]
    (src / "rgb.txt").write_text(f"5.166667 rgb/{rgb[0]}\n5.500000 rgb/{rgb[1]}\n")
    (src / "depth.txt").write_text(f"5.166667 depth/{depth[0]}\n5.500000 depth/{depth[1]}\n")
    (src / "groundtruth.txt").write_text("".join(
        f"{k / 6:.6f} {0.01 * k} 0 0 0 0 0 1\n" for k in range(1, 100) if not 24 < k < 40))
    assert main(["build-map", str(src), "--out", str(tmp_path / "map"), "--matcher",
                 "sift"]) == 2
    assert _errors(capsys) == [
        "mast3r-ros build-map: error: no frame has a pose: 2 of these 2 frames are between two "
        f"poses of {src / 'groundtruth.txt'} more than pose_at_stamp.max_gap_s (0.100 s) apart "
        "(up to 2.667 s, its poses 0.167 s apart at the median) and farther than "
        "pose_at_stamp.tolerance_s (0.020 s) from both; that gap is a hole in the poses "
        "(2.667 s without one, where 9 in 10 of their steps are at most 0.167 s: tracking lost "
        "or recording paused), not sparse poses: the frames in it are left out, as they should "
        "be; to use them, supply the poses of that stretch (a larger pose_at_stamp.max_gap_s "
        "would draw a straight line across the hole, making up the motion in between)"]
