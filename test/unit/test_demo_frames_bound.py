"""`mast3r-ros demo --frames N` is refused before any work when the scene would not fit the free
space of --out's file system, or its frames (all held in memory while rendering) the memory
available: ``--frames 1000000000`` rendered until the disk was full (~0.6 MB a 640x480 frame).
"""

from __future__ import annotations

import collections

import pytest

from mast3r_ros.replay import demo
from mast3r_ros.replay.cli import main

Usage = collections.namedtuple("Usage", "total used free")


@pytest.fixture
def no_work(monkeypatch):
    """The demo's work (render, build, localize) fails the test if it starts."""
    def started(*a, **k):
        raise AssertionError("the demo started working")

    monkeypatch.setattr(demo, "demo_data", started)
    monkeypatch.setattr(demo, "_run_demo", started)


def _line(capsys):
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def test_a_billion_frames_are_refused_in_one_line_naming_the_estimate_and_free_space(
        tmp_path, capsys, no_work):
    out = tmp_path / "d" / "e"
    assert main(["demo", "--out", str(out), "--frames", "1000000000"]) == 2
    line = _line(capsys)
    assert line.startswith("mast3r-ros demo: error: --frames 1000000000: "), line
    # 1e9 x (640 x 480 x 5 B + 2 kB): up to 1.5 PB, at most the free space of tmp_path's disk
    assert "takes up to 1.5 PB" in line and "at 640x480" in line, line
    assert f"the file system of --out {out} has " in line and " free; " in line, line
    assert not (tmp_path / "d").exists()


def test_the_scene_estimate_is_checked_against_the_free_space_of_out(
        tmp_path, capsys, monkeypatch, no_work):
    need = demo.scene_bytes(60, 640, 480)  # the default demo
    assert need == 60 * (640 * 480 * 5 + 2048)
    asked = []

    def usage(path):
        asked.append(path)
        return Usage(10**12, 0, need - 1)

    monkeypatch.setattr(demo.shutil, "disk_usage", usage)
    assert main(["demo", "--out", str(tmp_path / "new" / "d")]) == 2
    assert asked == [str(tmp_path)]  # the nearest folder that exists
    line = _line(capsys)
    assert "--frames 60: the demo scene at 640x480 takes up to 92.3 MB (1.5 MB a frame)" in line
    assert "has 92.3 MB free" in line, line
    # a byte more and the check passes: the demo starts
    monkeypatch.setattr(demo.shutil, "disk_usage", lambda path: Usage(10**12, 0, need))
    with pytest.raises(AssertionError, match="started working"):
        demo.run_demo(str(tmp_path / "new" / "d"), demo.Config(), 60, 640, 480, 0)


def test_frames_that_would_not_fit_the_memory_available_are_refused(
        tmp_path, capsys, monkeypatch, no_work):
    monkeypatch.setattr(demo.shutil, "disk_usage", lambda path: Usage(10**15, 0, 10**15))
    need = 20000 * 640 * 480 * 7
    monkeypatch.setattr(demo, "available_memory", lambda: need - 1)
    assert main(["demo", "--out", str(tmp_path / "d"), "--frames", "20000"]) == 2
    line = _line(capsys)
    assert line.startswith("mast3r-ros demo: error: --frames 20000: the renderer keeps every "
                           "frame in memory"), line
    assert "43.0 GB at 640x480, but 43.0 GB of memory is available" in line, line
    monkeypatch.setattr(demo, "available_memory", lambda: None)  # unknown: not checked
    with pytest.raises(AssertionError, match="started working"):
        demo.run_demo(str(tmp_path / "d"), demo.Config(), 20000, 640, 480, 0)


def test_available_memory_reads_this_machine():
    avail = demo.available_memory()
    assert avail is None or avail > 0


def test_a_scene_already_rendered_is_reused_without_a_free_space_check(
        tmp_path, capsys, monkeypatch):
    small = ["--frames", "8", "--width", "64", "--height", "48", "--log-level", "warning"]
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out), *small]) == 0
    capsys.readouterr()
    monkeypatch.setattr(demo.shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
    assert main(["demo", "--out", str(out), "--overwrite", *small]) == 0  # reused: no new space
    assert main(["demo", "--out", str(out), "--overwrite", *small[:1], "10", *small[2:]]) == 2
    assert "--frames 10: the demo scene at 64x48 takes up to" in _line(capsys)
