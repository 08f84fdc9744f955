"""Pin from mutation audit 06k on replay/rosbag/run_choice.py: the warning of images stamped 0
or repeating a stamp counts the images of the run read only (the images it counts,
`r == keep and o not in guessed` -> `or`, #122, survived: no test bag had such images in a run
not read, and with it a bag whose other run repeats a stamp was warned of images read)."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import MS, S, camera_info  # noqa: E402
from test_rosbag_values import bag_of, colour  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def _read(tmp_path, caplog, name, **kw):
    """Run 1: images stamped 1.0 .. 1.3 s; run 2 (header time jumps back): 0.5, 0.5, 0.6 s."""
    msgs = [("/cam/camera_info", 0, camera_info(S))]
    msgs += [("/cam/image", (k + 1) * S, colour(t * MS))
             for k, t in enumerate([1000, 1100, 1200, 1300, 500, 500, 600])]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs, name), **kw)
    return seq, [r.getMessage() for r in caplog.records if "repeat the previous" in r.getMessage()]


def test_a_stamp_repeated_in_the_run_not_read_is_not_said(tmp_path, caplog):
    seq, said = _read(tmp_path, caplog, "first")
    assert seq.run == 1 and seq.stamps_ns.tolist() == [t * MS for t in (1000, 1100, 1200, 1300)]
    assert not said, said


def test_a_stamp_repeated_in_the_run_read_is_counted_in_that_run(tmp_path, caplog):
    seq, said = _read(tmp_path, caplog, "second", run=2)
    assert seq.stamps_ns.tolist() == [500 * MS, 500 * MS, 600 * MS]
    assert len(said) == 1 and "1 of 3 repeat the previous image's stamp" in said[0], said
