"""Pins from mutation audit 06k on replay/rosbag/run_choice.py: the warning about streams whose
header time goes back before the first image names three of them, then 'and N more'. 06j left
`early[:3]` -> `early[:2]` (no test bag had three such streams); 06k's run of the rest of the
file adds the count's `3` -> 2 / 4."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import BASE_FROM_CAM, MS, S, camera_info, pose, tf_message  # noqa: E402
from test_rosbag_values import bag_of, colour  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

EDGES = ("a", "b", "c", "d")


def _early_warning(tmp_path, caplog, edges):
    """Each of ``edges`` (map -> X, besides map -> base_link) published from before a reset
    (stamps 0.1..0.4 s at bag time 1..4 s) and after it (the same stamps at bag 10..13 s), the
    camera started after it (bag 11.5 and 12.5 s): each edge's messages before the reset go
    back before the first image."""
    children = ("base_link",) + edges
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 11 * S, camera_info(100 * MS))]
    for start in (1, 10):
        msgs += [("/tf", (start + k) * S,
                  tf_message([("map", c, (k + 1) * 100 * MS, pose([0, 0, 0], [0, 0, 0]))
                              for c in children])) for k in range(4)]
    msgs += [("/cam/image", 11 * S + S // 2, colour(150 * MS)),
             ("/cam/image", 12 * S + S // 2, colour(250 * MS))]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(bag_of(tmp_path, sorted(msgs, key=lambda m: m[1])), pose_frames="map")
    (warn,) = [r.getMessage() for r in caplog.records
               if "goes back before the first image" in r.getMessage()]
    return warn


def test_three_streams_that_go_back_before_the_first_image_are_each_named(tmp_path, caplog):
    warn = _early_warning(tmp_path, caplog, EDGES[:2])
    for child in ("base_link", "a", "b"):
        assert f"tf map -> {child} (4 messages up to t=0.400 s)" in warn, warn
    assert " more goes back" not in warn and "more" not in warn.split(" goes back")[0], warn


def test_a_fourth_stream_is_counted_not_named(tmp_path, caplog):
    warn = _early_warning(tmp_path, caplog, EDGES[:3])
    named = warn.split(" goes back")[0]
    assert sum(f"tf map -> {c} (" in named for c in ("base_link",) + EDGES[:3]) == 3, warn
    assert named.endswith("up to t=0.400 s) and 1 more"), warn
