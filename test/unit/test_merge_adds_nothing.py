"""merge-maps A B where B adds nothing (a copy of A, or a map of some of A's frames: every
keyframe of B one A already holds at the same pose) wrote C, a copy of A, with only the INFO
line counting the copies dropped, which reads as a merge done. It still writes C (the documented
merge: B's copies dropped, A's stores kept whole; a merge of merges relies on it), and a line
now says plainly that B added nothing and C is a copy of A (at INFO, as the count: nothing is
lost, so no warning; shown at the default --log-level info). --keep-duplicates, a new frame in
B, or copies at other poses (their own warning: not one frame) say nothing of it."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.map_merge import merge_maps
from mast3r_ros.replay.synthetic import default_intrinsics

W, H = 32, 24
CAM = default_intrinsics(W, H)


def _t(x):
    m = np.eye(4)
    m[0, 3] = x
    return m


def _frames(xs, first=0):
    return [(np.random.default_rng(first + i).integers(0, 256, (H, W, 3), dtype=np.uint8), CAM,
             _t(x), 1000 + first + i, None) for i, x in enumerate(xs)]


@pytest.fixture
def maps(tmp_path):
    a = write_map(str(tmp_path / "a"), _frames([0.0, 1.0, 2.0]))
    copy = str(tmp_path / "a_copy")
    shutil.copytree(a, copy)
    part = write_map(str(tmp_path / "part"), _frames([1.0, 2.0], first=1))  # A's last two
    return a, copy, part


def _said(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.INFO and "adds nothing" in r.getMessage()]


def test_a_copy_of_a_or_some_of_its_frames_is_said_to_add_nothing(maps, tmp_path, caplog):
    a, copy, part = maps
    for b, n in ((copy, 3), (part, 2)):
        out = str(tmp_path / f"c{n}")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="mast3r_ros"):
            assert merge_maps(a, b, out) == 3
        assert _said(caplog) == [
            f"merge-maps: {b} adds nothing to {a}: each of its {n} keyframes is a frame {a} "
            f"already holds at the same pose (same stamp and image), so {out} is a copy of {a} "
            "(its keyframes and stores; --keep-duplicates merges B's copies too)"]
        assert [k.stamp_ns for k in KeyframeMap.load(out).keyframes] == [1000, 1001, 1002]


def test_the_command_line_shows_it_at_its_default_log_level(maps, tmp_path, capsys):
    a, copy, _ = maps
    capsys.readouterr()
    assert main(["merge-maps", a, copy, "--out", str(tmp_path / "c")]) == 0
    out, err = capsys.readouterr()
    assert f"[INFO] mast3r_ros.replay.map_merge: merge-maps: {copy} adds nothing to {a}" in err, err
    assert f"map {tmp_path / 'c'}: 3 keyframes" in out, out


def test_keep_duplicates_a_new_frame_or_copies_elsewhere_say_nothing_of_it(maps, tmp_path,
                                                                          caplog):
    a, copy, _ = maps
    more = write_map(str(tmp_path / "more"), _frames([1.0, 2.0, 3.0], first=1))  # one new
    moved = [(rgb, cam, _t(0.5) @ pose, stamp, d) for rgb, cam, pose, stamp, d in _frames(
        [0.0, 1.0, 2.0])]  # A's frames 0.5 m away: not in one frame
    apart = write_map(str(tmp_path / "apart"), moved)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        assert merge_maps(a, copy, str(tmp_path / "dup"), keep_duplicates=True) == 6
        assert merge_maps(a, more, str(tmp_path / "c")) == 4
        assert merge_maps(a, apart, str(tmp_path / "d"), force=True) == 3
    assert _said(caplog) == [], _said(caplog)
    assert any("not in one frame" in r.getMessage() for r in caplog.records)
