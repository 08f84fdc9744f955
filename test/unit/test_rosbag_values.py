"""The rosbag2 reader's association rules checked against hand-worked values: CameraInfo at or
before an image, depth shared by images and sorted by stamp, run boundaries, tf frame names and
gaps, topic choice and the constructor's argument checks. Tiny mcap bags, as test_rosbag.py
writes them."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (  # noqa: E402
    MS,
    RGB,
    H,
    S,
    W,
    camera_info,
    image,
    write_bag,
)

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, run_labels  # noqa: E402

MCAP = StoragePlugin.MCAP
INTR = CameraIntrinsics(W, H, np.array([[10.0, 0, 3.5], [0, 10.0, 2.5], [0, 0, 1]]))


def bag_of(tmp_path, msgs, name="bag"):
    """msgs (topic, bag_time_ns, msg) written in the given order (their bag times ascending)."""
    return write_bag(tmp_path / name, MCAP, msgs)


def colour(t, frame_id="camera_optical"):
    return image(t, "rgb8", RGB, frame_id=frame_id)


def depth16(t, mm):
    return image(t, "16UC1", np.full((H, W), mm, np.uint16))


# ---- runs ----------------------------------------------------------------------------------------

def test_run_labels_look_exactly_run_lookahead_messages_ahead():
    """RUN_LOOKAHEAD is 4: a stamp below the top is a reordered message when one of the next 4
    climbs above the top (50 followed by 51, 52, 53, 101: the 4th climbs), a reset when none of
    them does (50 followed by 51 ... 54, and 101 only 5th). Climbing means strictly above: 12
    after 9 under a top of 12 does not."""
    from mast3r_ros.replay.rosbag import RUN_LOOKAHEAD

    assert RUN_LOOKAHEAD == 4
    assert run_labels([0, 100, 50, 51, 52, 53, 101]) == [1] * 7
    assert run_labels([0, 100, 50, 51, 52, 53, 54, 101]) == [1, 1, 2, 2, 2, 2, 2, 2]
    assert run_labels([10, 12, 9, 12]) == [1, 1, 2, 2]
    assert run_labels([0, 100, 50, 101], lookahead=1) == [1, 1, 1, 1]
    assert run_labels([0, 100, 50, 51, 101], lookahead=1) == [1, 1, 2, 2, 2]


def test_the_run_warning_names_each_runs_stamps_and_the_jumps(tmp_path, caplog):
    """Images stamped 1.0, 1.1, 1.2 s, then (clock reset) 0.5, 0.6 s, then 0.2 s... three runs
    of 3, 2 and 1 images: runs (count, first, last stamp), jumps said as '2 times', run 1 read."""
    stamps = [1000, 1100, 1200, 500, 600, 200]
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", 1 + k, colour(t * MS)) for k, t in enumerate(stamps)]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs))
    assert seq.runs == [(3, 1000 * MS, 1200 * MS), (2, 500 * MS, 600 * MS), (1, 200 * MS, 200 * MS)]
    assert seq.run == 1 and seq.stamps_ns.tolist() == [1000 * MS, 1100 * MS, 1200 * MS]
    (warn,) = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert "jumps back 2 times" in warn and "holds 3 runs" in warn
    assert ("(1: 3 images t=1.000..1.200 s, 2: 2 images t=0.500..0.600 s, "
            "3: 1 images t=0.200..0.200 s)") in warn
    last = BagSequence(bag_of(tmp_path, msgs, "again"), run=3)
    assert last.stamps_ns.tolist() == [200 * MS]


def test_a_run_the_bag_does_not_have_is_refused(tmp_path):
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1, colour(S)),
            ("/cam/image", 2, colour(S + 100 * MS))]
    bag = bag_of(tmp_path, msgs)
    assert BagSequence(bag, run=1).stamps_ns.tolist() == [S, S + 100 * MS]
    with pytest.raises(InputError, match=r"--run 2: rosbag2 .* has only one run \(header time "
                                         r"never jumps back\)"):
        BagSequence(bag, run=2)


def test_unstamped_images_of_another_run_are_not_warned_about(tmp_path, caplog):
    """Run 1: images at 1.0, 1.1, 1.2 s; run 2: two images stamped 0. Run 1 (the longer) is
    read, and none of its images is unstamped: no 'does not stamp' warning."""
    msgs = [("/cam/camera_info", 0, camera_info(0))]
    msgs += [("/cam/image", 1 + k, colour(t)) for k, t in enumerate([S, S + 100 * MS,
                                                                     S + 200 * MS, 0, 0])]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs))
    assert seq.run == 1 and [c for c, _, _ in seq.runs] == [3, 2]
    assert not [r for r in caplog.records if "does not stamp" in r.getMessage()]
