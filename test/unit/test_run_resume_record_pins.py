"""Pins from mutation audit 06j on replay/run_resume.py's `result_from_record` (what a resumed
localize reads back of results.jsonl): a frame's scene depth is kept (the summary's poses
uncertain for their distance count it), and a line of an older run without ``unreadable`` is
a readable frame, as `localize_run.result_record` documents."""

from __future__ import annotations

import json
import math

import numpy as np

from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay.localize_run import result_record
from mast3r_ros.replay.run_resume import result_from_record


def _line(result):
    return json.loads(json.dumps(result_record(result)))


def test_a_resumed_frame_keeps_its_scene_depth():
    line = _line(LocalizationResult(True, 1, np.eye(4), scene_depth_m=7.5))
    assert result_from_record(line).scene_depth_m == 7.5
    line = _line(LocalizationResult(True, 1, np.eye(4)))  # none: null in the file
    assert line["scene_depth_m"] is None
    assert math.isnan(result_from_record(line).scene_depth_m)


def test_an_older_line_without_unreadable_is_a_readable_frame():
    line = _line(LocalizationResult(True, 1, np.eye(4)))
    line.pop("unreadable")
    assert result_from_record(line).unreadable is False
