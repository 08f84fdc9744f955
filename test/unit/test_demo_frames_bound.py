"""`mast3r-ros demo --frames N` is refused before any work when the scene would not fit the free
space of --out's file system: ``--frames 1000000000`` rendered until the disk was full (~0.6 MB
a 640x480 frame). The frames are written as they are rendered, so memory sets no bound.
"""

from __future__ import annotations

import collections
import errno

import pytest

from mast3r_ros.replay import demo, synthetic
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


def test_the_frame_count_is_not_bounded_by_memory_the_renderer_no_longer_holds(
        tmp_path, monkeypatch, no_work):
    """20000 frames at 640x480 (43 GB as a list of frames) start when the disk has room: the
    scene is written as it is rendered, one frame in memory (the next test)."""
    monkeypatch.setattr(demo.shutil, "disk_usage", lambda path: Usage(10**15, 0, 10**15))
    with pytest.raises(AssertionError, match="started working"):
        demo.run_demo(str(tmp_path / "d"), demo.Config(), 20000, 640, 480, 0)


def test_the_demo_scene_is_written_as_it_is_rendered(tmp_path):
    """Each rendered frame is on disk before the next is rendered: the renderer collected every
    frame in a list first (7 bytes a pixel: 2.1 GB for 1000 frames at 640x480), which the demo
    had to check against the memory available."""
    written = []

    def watch(frames, n):
        assert n == 7
        for k, f in enumerate(frames):
            # frames rendered so far, minus the one being handed over, are on disk
            written.append((k, sum(len(list((tmp_path / s / "rgb").glob("*.png")))
                                   for s in ("map", "query") if (tmp_path / s / "rgb").is_dir())))
            yield f

    map_dir, query_dir = synthetic.write_demo_sequences(str(tmp_path), 7, 64, 48, 0, watch)
    assert written == [(k, k) for k in range(7)]
    # the even frames make the map, the odd ones the queries, as before
    rows = [(tmp_path / s / "groundtruth.txt").read_text().splitlines()[1:]
            for s in ("map", "query")]
    assert [len(r) for r in rows] == [4, 3]
    stamps = sorted(float(line.split()[0]) for r in rows for line in r)
    assert [float(line.split()[0]) for line in rows[0]] == stamps[0::2]
    assert [float(line.split()[0]) for line in rows[1]] == stamps[1::2]


def test_a_scene_already_rendered_is_reused_without_a_free_space_check(
        tmp_path, capsys, monkeypatch):
    small = ["--frames", "8", "--width", "128", "--height", "96", "--log-level", "warning"]
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out), *small]) == 0
    capsys.readouterr()
    # run again: --overwrite is named for what it does here (it said "to replace it", read as
    # rendering the scene again)
    assert main(["demo", "--out", str(out), *small]) == 2
    assert (f"already exists: {out} (pass --overwrite to replace only its map and run, reusing "
            "its rendered scene where --frames, --width, --height and --seed match, or choose "
            "another --out)") in _line(capsys)
    monkeypatch.setattr(demo.shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
    assert main(["demo", "--out", str(out), "--overwrite", *small]) == 0  # reused: no new space
    assert main(["demo", "--out", str(out), "--overwrite", *small[:1], "10", *small[2:]]) == 2
    assert "--frames 10: the demo scene at 128x96 takes up to" in _line(capsys)


def test_a_read_only_out_is_named_so_not_taken_for_a_lack_of_space(
        tmp_path, capsys, monkeypatch, no_work):
    """`demo --out d` on a read-only file system (a tmpfs mounted ro: 1 MB free) said "the demo
    scene takes up to 92.3 MB ... has 1.0 MB free; render fewer --frames", where no --frames
    could be written: the folder is checked before the space."""
    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(demo.shutil, "disk_usage", lambda path: Usage(2**20, 0, 2**20))
    monkeypatch.setattr("mast3r_ros.core.fileio.tempfile.mkstemp", read_only)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 2
    line = _line(capsys)
    assert f"--out {tmp_path / 'd'}: cannot write in the folder {tmp_path} (Read-only file " \
           "system)" in line, line


@pytest.mark.parametrize("frames", ["4", "2"])
def test_too_few_frames_to_localize_any_are_refused_naming_the_minimum(
        tmp_path, capsys, no_work, frames):
    """`demo --frames 4` was accepted and localized none of its 2 held-out frames (views 90
    degrees apart, at every seed tried): refused before any work, naming the minimum (5)."""
    assert demo.MIN_FRAMES == 5
    assert main(["demo", "--out", str(tmp_path / "d"), "--frames", frames]) == 2
    line = _line(capsys)
    assert line.startswith(f"mast3r-ros demo: error: --frames must be >= 5, got {frames}: "), line
    assert "none localizes" in line, line
    assert not (tmp_path / "d").exists()
