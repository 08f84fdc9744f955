"""A long bag's indexing pass (every image, depth, CameraInfo and tf message read before the
first frame: minutes for a 20-minute recording) shows progress with an ETA, counted in the
messages of the topics it reads (the bag's metadata gives their total), as build-map's and
localize's frame bars do; without it a long build-map was silent until the pass ended. A fake
clock, no sleeps."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_build_map_unreadable import CAM, DEPTH, _mapping_bag  # noqa: E402
from test_progress_units import _Clock  # noqa: E402

from mast3r_ros.core import progress_output  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, opening  # noqa: E402


def _progress_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "mast3r_ros.progress"]


def test_the_indexing_pass_logs_its_progress_in_messages(tmp_path, monkeypatch, caplog):
    bag = _mapping_bag(tmp_path / "bag")  # 10 frames: 10 images, 10 depth, 10 tf, 2 more
    monkeypatch.setattr(progress_output, "_clock", _Clock())
    monkeypatch.setattr(progress_output, "_stderr_is_terminal", lambda: False)
    monkeypatch.setattr(opening, "PROGRESS_STEP", 8, raising=False)  # 4 updates, the last 0
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, pose_frames="map:camera_optical",
                      command="build-map")
    assert len(seq) == 10
    lines = _progress_lines(caplog)
    assert lines[0].startswith("build-map: reading bag: 8/32 messages, "), lines
    assert lines[0].endswith(" left"), lines  # an ETA
    assert lines[-1].startswith("build-map: reading bag: 32/32 messages, "), lines

