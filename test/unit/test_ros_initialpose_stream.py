"""/initialpose at an operator's pace and from a stream, through the node's subscription
callback (`ExecutorSide._receive_initial_pose`), without ROS.

Before: every /initialpose was applied: a pose topic remapped onto /initialpose (30 Hz) gave an
info line and a tracking reset per message (300 lines and 300 resets in 10 s), and a frame in
inference, planned before each reset, published nothing. Now a click is one reset and one
line, a stream is ignored after its first poses, in warnings at most every 5 s with the count,
and is said on /diagnostics; the poses are applied again once the stream stops."""

from __future__ import annotations

import pytest
from test_ros_clock_jumps import _host, _initialpose

from mast3r_ros.ros import processing
from mast3r_ros.ros.initial_pose_rate import STREAM_POSES, STREAM_WINDOW_S


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(processing.time, "monotonic", lambda: now[0])
    return now


def _resets(host):
    return dict(host.summary().values)["resets"]


def test_clicks_are_one_reset_and_one_line_each(clock):
    host = _host()
    for i in range(6):  # a click every 2 s, a correction 0.5 s after the first
        host._receive_initial_pose(_initialpose(x=float(i)))
        clock[0] += 0.5 if i == 0 else 2.0
    assert [lvl for lvl, _ in host.logger.lines] == ["info"] * 6
    assert all(t.startswith("initial pose received") for _, t in host.logger.lines)
    assert _resets(host) == "6"


def test_a_stream_remapped_onto_initialpose_is_bounded(clock):
    host = _host()
    for _ in range(300):  # 30 Hz for 10 s
        host._receive_initial_pose(_initialpose())
        clock[0] += 1 / 30
    infos = [t for lvl, t in host.logger.lines if lvl == "info"]
    warnings = [t for lvl, t in host.logger.lines if lvl == "warning"]
    assert len(infos) == STREAM_POSES - 1          # its first poses looked like clicks
    assert _resets(host) == str(STREAM_POSES - 1)  # and nothing after them reset the tracking
    assert 1 <= len(warnings) <= 10 / 5 + 1, warnings
    assert "remapped onto /initialpose" in warnings[0]
    assert "more like it since" in warnings[-1]    # the count of what was not printed
    assert "remapped onto /initialpose" in dict(host.summary().values)[
        "last_initialpose_ignored"]
    clock[0] += STREAM_WINDOW_S  # the stream stopped: the next pose is a click again
    n = len(host.logger.lines)
    host._receive_initial_pose(_initialpose(x=3.0))
    assert host.logger.lines[n:] == [("info", host.logger.lines[n][1])]
    assert host.logger.lines[n][1].startswith("initial pose received (3.00")


def test_a_stream_while_inactive_is_not_kept_line_by_line(clock):
    host = _host()
    host._active = False
    for _ in range(100):
        host._receive_initial_pose(_initialpose())
        clock[0] += 0.01
    infos = [t for lvl, t in host.logger.lines if lvl == "info"]
    assert len(infos) == STREAM_POSES - 1 and "kept" in infos[0]


def test_the_nodes_subscription_goes_through_the_stream_check():
    """node.py needs rclpy (not here): its /initialpose callback is read instead; it must call
    `_receive_initial_pose` (the stream check), not `_initial_pose` directly."""
    import ast
    from pathlib import Path

    src = Path(processing.__file__).with_name("node.py").read_text()
    cls = next(n for n in ast.parse(src).body
               if isinstance(n, ast.ClassDef) and n.name == "LocalizerNode")
    callback = next(n for n in cls.body
                    if isinstance(n, ast.FunctionDef) and n.name == "_on_initial_pose")
    called = [ast.unparse(n.func) for n in ast.walk(callback) if isinstance(n, ast.Call)]
    assert called == ["self._receive_initial_pose"], called
