"""Pin from mutation audit 06k on replay/rosbag/run_choice.py: the warning of a tf edge whose
header time jumps back under receive times names the span of the samples read, or 'none of
them' when none is (`stamps is not None` -> `is` said 'none of them' for a read run, and
failed on None.min() for an empty one)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from mast3r_ros.replay.rosbag.run_choice import _RunChoice


def _said(tmp_path, caplog, rows):
    bag = SimpleNamespace(_image_stamp="receive", _option_names={}, path=str(tmp_path / "b.db3"))
    samples = SimpleNamespace(stamps=(np.array([1, 2, 3], np.int64) * 10**9).tobytes())
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        _RunChoice._warn_tf_jump_under_receive(bag, "map", "odom", samples,
                                               np.array(rows, np.int64), 3)
    (said,) = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    return said


def test_the_span_of_the_samples_read_is_named(tmp_path, caplog):
    said = _said(tmp_path, caplog, [0, 1])
    assert "only 2 of its 3 samples" in said and "(t=1.000..2.000 s)" in said, said


def test_no_sample_read_is_said_as_none(tmp_path, caplog):
    said = _said(tmp_path, caplog, [])
    assert "only 0 of its 3 samples" in said and "(none of them)" in said, said
