"""Pins from mutation audit 06p's sample of replay/pipeline.py (build-map's pipeline): the
reason of frames without a pose from an empty trajectory file (`poses_not_at_frames`' empty
branch returned None: no test reached it); a resumed run's progress starts at its recorded
frames, a fresh one at 0."""

import numpy as np

from mast3r_ros.core.progress_output import NoProgress

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.replay import pipeline
from mast3r_ros.replay.pipeline import poses_not_at_frames


def test_an_empty_trajectory_file_is_named_as_empty():
    frames = [1_000_000_000, 2_000_000_000]
    empty = np.zeros(0, np.int64)
    assert poses_not_at_frames(("traj.txt", empty), frames, frames, PoseAtStampConfig()) == (
        "traj.txt is empty (no 'timestamp tx ty tz qx qy qz qw' line): fill it, or pass "
        "--trajectory FILE")
    # a trajectory the user gave on the command line is not told to pass one
    said = poses_not_at_frames(("--trajectory t.txt", empty), frames, frames,
                               PoseAtStampConfig())
    assert said == ("--trajectory t.txt is empty (no 'timestamp tx ty tz qx qy qz qw' line): "
                    "fill it")


def test_progress_starts_at_initial_only_when_it_counts_some_items(monkeypatch):
    """`progress`' bar starts at ``initial`` with ``counts`` (a resumed run: its recorded
    frames are not counted again), at 0 without (`counts is not None` -> `is None` swapped
    them)."""
    started = []
    monkeypatch.setattr(pipeline, "progress_bar",
                        lambda total, desc, unit, initial: started.append(initial) or NoProgress())
    items = [1, 2, 3]
    assert list(pipeline.progress(items, 10, "frames", 4, lambda x: True, unit="frame")) == items
    assert list(pipeline.progress(items, 10, "frames", 4, unit="frame")) == items
    assert started == [4, 0]
