"""check-map's progress lines counted keyframes but said 'frames' ('map check: keyframes: 12/50
frames'): the map check's progress callable (three arguments) was `pipeline.progress`, whose
unit defaulted to "frame". check-map and build-map's check now pass `keyframe_progress`, and
`pipeline.progress` and `progress_output.progress_bar` take no default unit, so that every
caller says what it counts. A fake clock, no sleeps."""

from __future__ import annotations

import inspect
import io
import sys

from mast3r_ros.core import progress_output
from mast3r_ros.core.progress_output import progress_bar
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.pipeline import progress


class _Clock:
    """11 s later at each reading: every update is due a line."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        self.t += 11.0
        return self.t


def test_check_maps_progress_lines_count_keyframes(sift_map, monkeypatch):
    monkeypatch.setattr(progress_output, "_clock", _Clock())
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)  # redirected: log lines, no bar
    assert main(["check-map", sift_map]) == 0
    lines = [ln.split("mast3r_ros.progress: ", 1)[1] for ln in err.getvalue().splitlines()
             if "mast3r_ros.progress: " in ln]
    # the checksum pass over the map's other files first (counting files), then the check
    files = [m for m in lines if m.startswith("check-map: checking files: ")]
    check = [m for m in lines if m not in files]
    assert all(" files, " in m for m in files), files
    assert check and all(m.startswith("map check: keyframes: ") for m in check), lines
    assert all(" keyframes, " in m and " frames" not in m for m in check), lines


def test_the_progress_wrappers_take_no_default_unit():
    for fn in (progress, progress_bar):
        assert inspect.signature(fn).parameters["unit"].default is inspect.Parameter.empty
