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
    # the first shard's line has no rate yet: its 40 s are start-up as much as encoding
    # (test_the_encoding_rate_starts_at_the_first_encoded_shard)
    assert _lines(caplog) == ["encoding keyframes: 16/20 keyframes"]


def test_the_encoding_rate_starts_at_the_first_encoded_shard(clock, caplog):
    """A fresh user's finding: build-map --workers 2's first encoding line said "20/180
    keyframes, 1.6 keyframes/s, ~2 min left" and the build ended ~15 s later: the rate counted
    the workers' start-up (loading the network). Now the rate is measured from the first
    encoded shard on (its keyframes not counted), once over LOG_MIN_GAP_S; before that the line
    gives the count alone. Two workers (A, B), 12.5 s of start-up, a 20-keyframe shard each
    4 s each: 10 keyframes/s."""
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    bar = parallel_build._progress(180, 0, True)
    start = clock.t
    done = sorted([12.5 + 4 * k for k in range(5)] + [12.6 + 4 * k for k in range(4)])
    for t in done:
        clock.t = start + t
        bar.update(20)
    assert _lines(caplog) == [
        "encoding keyframes: 20/180 keyframes",  # 12.5 s: start-up, no rate yet
        "encoding keyframes: 140/180 keyframes, 10.0 keyframes/s, ~4 s left"]  # 24.5 s


def test_a_burst_of_first_shards_gives_no_rate_until_it_is_measured(caplog):
    """Workers started together finish their first shards together: a line due just after the
    first shard (here 0.5 s) would have said 40 keyframes/s. Until LOG_MIN_GAP_S has passed
    since the first shard, the line has no rate."""
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    now = [0.0]
    bar = progress_output.ProgressLog(180, "encoding keyframes", "keyframe",
                                      clock=lambda: now[0], rate_after_first=True)
    now[0] = 9.5
    bar.update(20)  # the first shard, before any line is due
    now[0] = 10.0
    bar.update(20)  # its twin, 0.5 s later: a line is due
    assert _lines(caplog) == ["encoding keyframes: 40/180 keyframes"]
    assert bar.line(19.4) == "encoding keyframes: 40/180 keyframes"
    assert bar.line(19.5) == "encoding keyframes: 40/180 keyframes, 2.0 keyframes/s, ~70 s left"
    now[0] = 0.0
    plain = progress_output.ProgressLog(180, "localize", clock=lambda: now[0])
    now[0] = 10.0
    plain.update(20)  # other bars: the rate counts from the start, as before
    assert plain.line(10.0) == "localize: 20/180 frames, 2.0 frames/s, ~80 s left"
