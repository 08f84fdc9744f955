"""check-map's progress lines counted keyframes but said 'frames' ('map check: keyframes: 12/50
frames'): `map_check` called the progress wrapper without a unit and it defaulted to "frame".
The map check now passes unit="keyframe" in each of its loops, and `pipeline.progress` and
`progress_output.progress_bar` take no default unit, so that every caller says what it counts."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check.records import KeyframeRecord
from mast3r_ros.core.map_check import check_keyframes
from mast3r_ros.core.progress_output import progress_bar
from mast3r_ros.replay.pipeline import progress
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


@pytest.fixture(scope="module")
def records():
    frames = render_frames(8, default_intrinsics(120, 90), indices=range(0, 8, 2))
    return [KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns)
            for f in frames]


def _spy(calls):
    def spy(it, total, desc, unit="frame (no unit passed)"):
        calls.append((desc, unit))
        return it
    return spy


@pytest.mark.parametrize("depth_factor", [1.0, 1.5])  # 1.5: a failing map, diagnosed too
def test_every_map_check_loop_counts_keyframes(records, depth_factor):
    calls = []
    recs = [KeyframeRecord(r.rgb, r.depth_m * np.float32(depth_factor), r.intrinsics,
                           r.map_from_cam, r.stamp_ns) if i % 2 else r
            for i, r in enumerate(records)]
    check_keyframes(recs, Config().map_check, progress=_spy(calls))
    assert calls and all(unit == "keyframe" for _, unit in calls), calls
    assert ("map check: keyframes", "keyframe") in calls


def test_the_progress_wrappers_take_no_default_unit():
    for fn in (progress, progress_bar):
        assert inspect.signature(fn).parameters["unit"].default is inspect.Parameter.empty
