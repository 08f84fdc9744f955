"""Progress off a terminal: with stderr redirected (nohup, systemd, CI, ``> log 2>&1``) a long
run printed nothing until it ended (85 s of silence for 4 MASt3R frames on a CPU): the bars
are drawn on a terminal only. Now every command's progress (`replay.pipeline.progress`, the
keyframe-encoding bar) writes a plain INFO line at a modest cadence there, through the one
`progress_output.progress_bar`; --log-level warning still silences it. A fake clock, no sleeps."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from mast3r_ros.core import progress_output
from mast3r_ros.replay import parallel_build
from mast3r_ros.replay.pipeline import progress


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(progress_output, "_clock", c)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # redirected: no terminal
    return c


def _run(clock, n, step_s, level=logging.INFO, **kw):
    logger = logging.getLogger("mast3r_ros")
    old = logger.level
    logger.setLevel(level)
    try:
        def items():
            for i in range(n):
                clock.t += step_s  # the work of item i
                yield i
        kw.setdefault("unit", "frame")
        return list(progress(items(), n, "localize", **kw))
    finally:
        logger.setLevel(old)


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "mast3r_ros.progress"]


def test_a_slow_run_off_a_terminal_logs_each_step(clock, caplog):
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    assert _run(clock, 4, 21.0) == [0, 1, 2, 3]  # 4 frames, 85 s: MASt3R on a CPU
    lines = _lines(caplog)
    assert lines[0] == "localize: 1/4 frames, 21.0 s/frame, ~63 s left", lines
    assert lines[1] == "localize: 2/4 frames, 21.0 s/frame, ~42 s left", lines
    assert len(lines) == 4 and lines[-1] == "localize: 4/4 frames, 21.0 s/frame", lines


def test_a_long_fast_run_logs_at_a_modest_cadence(clock, caplog):
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    _run(clock, 1000, 0.5)  # 500 s: a line each 30 s and at each 10 %, not one per frame
    lines = _lines(caplog)
    assert len(lines) == 20, lines
    assert lines[0] == "localize: 60/1000 frames, 2.0 frames/s, ~8 min left", lines
    assert lines[1] == "localize: 100/1000 frames, 2.0 frames/s, ~8 min left", lines


def test_a_short_run_writes_no_line(clock, caplog):
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    _run(clock, 50, 0.1)  # 5 s in all
    assert _lines(caplog) == []


def test_log_level_warning_silences_it(clock, caplog):
    caplog.set_level(logging.WARNING, logger="mast3r_ros")
    _run(clock, 4, 21.0, level=logging.WARNING)
    assert _lines(caplog) == []


def test_a_resumed_runs_recorded_frames_are_not_in_the_rate(clock, caplog):
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    logging.getLogger("mast3r_ros").setLevel(logging.INFO)
    bar = progress_output.ProgressLog(10, "localize", initial=5)
    clock.t += 12.0
    bar.update(1)
    assert _lines(caplog) == ["localize: 6/10 frames, 12.0 s/frame, ~48 s left"]


def test_the_keyframe_encoding_bar_takes_the_same_path(clock, caplog):
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    bar = parallel_build._progress(20, 0, True)
    clock.t += 40.0
    bar.update(16)
    assert _lines(caplog) == ["encoding keyframes: 16/20 keyframes, 2.5 s/keyframe, "
                              "~10 s left"]
