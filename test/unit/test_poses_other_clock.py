"""Ground truth on another clock than the frames (a motion-capture export in epoch seconds
beside rgb.txt in seconds since start): build-map said only the trajectory's range, 'outside
groundtruth.txt (t=1700000000.000..1700000001.500 s)'; it now gives the frames' range too and,
days away, names the two clocks."""

from __future__ import annotations

import re
import shutil

import numpy as np

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.pipeline import poses_not_at_frames

S = 1_000_000_000
RULE = PoseAtStampConfig()


def test_frames_days_away_from_the_poses_name_two_clocks():
    poses = ("gt.txt", np.arange(5) * S // 10 + 1_700_000_000 * S)
    frames = np.arange(5) * S // 10
    text = poses_not_at_frames(poses, frames, frames, RULE)
    assert "outside gt.txt (t=1700000000.000..1700000000.400 s)" in text, text
    assert "the frames are at t=0.000..0.400 s (19675.9 days away: the two are stamped by " \
           "different clocks" in text, text


def test_frames_a_little_outside_the_poses_get_no_clock_note():
    poses = ("gt.txt", np.arange(5) * S // 10 + 100 * S)
    frames = np.arange(5) * S // 10
    text = poses_not_at_frames(poses, frames, frames, RULE)
    assert text.endswith("the frames are at t=0.000..0.400 s"), text


def test_build_map_of_a_folder_whose_ground_truth_is_on_another_clock(tum, tmp_path, capsys):
    folder = tmp_path / "seq"
    shutil.copytree(tum[0], folder)
    gt = folder / "groundtruth.txt"
    gt.write_text(re.sub(r"^(\d+\.\d+)", lambda m: f"{float(m[1]) + 1.7e9:.6f}",
                         gt.read_text(), flags=re.M))
    capsys.readouterr()
    assert main(["build-map", str(folder), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--log-level", "warning"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert "days away: the two are stamped by different clocks" in line, line
