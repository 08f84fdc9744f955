"""An image message of a rosbag2 that cannot be deserialized (corrupt CDR): it takes no part in
finding the bag's runs, and is placed in a readable neighbour's run with a stamp clamped between
its neighbours'; plain iteration refuses a run holding one before reading any frame (a
regression review's finds on the change that made it a failed frame of localize's; build-map
skips it as localize does: test_build_map_unreadable.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import MS, RGB, S, camera_info, image, write_bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.types import UnreadableFrame  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

CAM = "/cam/image"
DEPTH = "/cam/depth"


def _bag(path, images, corrupt, depth=False, bad_stamp=False):
    """``images``: (header stamp, bag receive time) ns of each image, in bag order; ``corrupt``:
    receive times of the images written cut short (``bad_stamp``: their header stamp damaged
    too, so that it is estimated, not read). ``depth``: a depth image at each stamp."""
    msgs = [("/cam/camera_info", 0, camera_info(images[0][0]))]
    for stamp, bag_ns in images:
        msgs.append((CAM, bag_ns, image(stamp, "rgb8", RGB)))
        if depth:
            msgs.append((DEPTH, bag_ns + 1, image(stamp, "16UC1",
                                                  np.full(RGB.shape[:2], 1000, np.uint16))))
    cut = {(CAM, b) for b in corrupt}
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]),
                     corrupt=set() if bad_stamp else cut, bad_stamp=cut if bad_stamp else set())


@pytest.mark.parametrize("stamp", [0, 5 * S], ids=["zero", "repeated"])
@pytest.mark.parametrize("offset", [50 * MS, 10 * MS, 90 * MS], ids=["mid", "early", "late"])
def test_a_bad_image_among_unstamped_ones_splits_no_run(tmp_path, stamp, offset):
    """zero-header-stamp with image 10 cut short: stamped +0.1 s (or negative, when nearer the
    next image), it made the next image's stamp a jump back: 2 runs, half the frames read."""
    images = [(stamp, S + k * 100 * MS) for k in range(20)]
    images[10] = (stamp, S + 9 * 100 * MS + offset)  # received nearer the one before or after
    bag = _bag(tmp_path / "bag", images, corrupt=[images[10][1]])
    seq = BagSequence(bag, image_topic=CAM)
    assert [c for c, _, _ in seq.runs] == [20] and len(seq) == 20
    assert seq.stamps_ns.tolist() == [stamp] * 20
    got = list(seq.frames_or_unreadable())
    assert [i for i, f in enumerate(got) if isinstance(f, UnreadableFrame)] == [10]
    assert got[10].stamp_ns == stamp


def test_a_bad_image_never_overtakes_the_next_one(tmp_path):
    """Receive latency jittering by more than a frame period: the nearest image's latency (50
    ms) stamped the bad one 40 ms after the next image, a step back for localize."""
    stamps = [k * 100 * MS + S for k in range(6)]
    received = [s + 50 * MS for s in stamps]
    received[2] = stamps[2] + 190 * MS  # the bad one, nearer the 50 ms image before it
    received[3:] = [s + lat * MS for s, lat in zip(stamps[3:], (400, 350, 300))]  # late ones
    bag = _bag(tmp_path / "bag", list(zip(stamps, received)), corrupt=[received[2]],
               bad_stamp=True)
    seq = BagSequence(bag, image_topic=CAM)
    assert len(seq.runs) == 1 and len(seq) == 6
    assert seq.stamps_ns[2] == stamps[3]  # 1.34 s estimated, clamped to the next image's
    assert np.all(np.diff(seq.stamps_ns) >= 0)
    # its header stamp intact (a message cut short): read, not estimated
    bag = _bag(tmp_path / "read", list(zip(stamps, received)), corrupt=[received[2]])
    assert BagSequence(bag, image_topic=CAM).stamps_ns.tolist() == stamps
    # within its bounds, the estimate stands: receive time less the nearer image's latency
    received[2] = stamps[2] + 60 * MS
    bag = _bag(tmp_path / "ok", list(zip(stamps, received)), corrupt=[received[2]],
               bad_stamp=True)
    assert BagSequence(bag, image_topic=CAM).stamps_ns[2] == stamps[2] + 10 * MS


def _reset_images():
    """Two runs of 10 images 0.1 s apart, stamps 1.0 .. 1.9 s, the second received 1 s after
    the first (its clock reset), the bag's receive times 0.1 s apart throughout."""
    return [(S + k * 100 * MS, 2 * S + (k + 10 * run) * 100 * MS)
            for run in (0, 1) for k in range(10)]


@pytest.mark.parametrize("nearer", ["tie", "next", "previous"])
def test_a_bad_image_at_a_clock_reset_joins_the_run_it_was_received_nearer(tmp_path, nearer):
    """bag-time-jump with the first image of run 2 cut short: stamped from the last image of
    run 1's latency it made runs of 11 and 9 images, not 10 and 10. Now it is left out of
    the run detection and joins the nearer-received neighbour's run (the new one on a tie),
    stamped no later than that run's next image."""
    images = _reset_images()
    shift = {"tie": 0, "next": 30 * MS, "previous": -30 * MS}[nearer]
    images[10] = (images[10][0], images[10][1] + shift)
    bag = _bag(tmp_path / "bag", images, corrupt=[images[10][1]], depth=True, bad_stamp=True)
    counts = [11, 9] if nearer == "previous" else [10, 10]
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, run=2)
    assert [c for c, _, _ in seq.runs] == counts and len(seq) == counts[1]
    assert np.all(np.diff(seq.stamps_ns) > 0)
    if nearer == "previous":  # at the end of run 1: 2.97 s less run 1's 1 s latency
        first = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, run=1)
        assert first.stamps_ns[-1] == S + 970 * MS
        got = list(first.frames_or_unreadable())
        assert isinstance(got[-1], UnreadableFrame) and len(got) == 11
        return
    # run 2's first frame: its receive time less the next image's latency (2 s)
    assert seq.stamps_ns[0] == images[10][1] - 2 * S
    got = list(seq.frames_or_unreadable())
    assert [isinstance(f, UnreadableFrame) for f in got] == [True] + [False] * 9
    assert [f.stamp_ns for f in got] == seq.stamps_ns.tolist()
    assert all(f.depth_m is not None for f in got[1:])
    # --stride's positions index stamps_ns of the run read, the bad frame counted
    strided = list(seq.frames_or_unreadable(positions=[0, 3, 6, 9]))
    assert [f.stamp_ns for f in strided] == seq.stamps_ns[[0, 3, 6, 9]].tolist()
    assert isinstance(strided[0], UnreadableFrame)


def test_plain_iteration_refuses_a_run_with_a_bad_image_before_any_frame(tmp_path):
    """Plain iteration raised only on reaching the bad message, after its caller (build-map,
    then) had worked on every frame before it; a bad message in another run does not
    matter."""
    images = _reset_images()
    bag = _bag(tmp_path / "bag", images, corrupt=[images[15][1]])
    assert len(list(BagSequence(bag, image_topic=CAM, run=1))) == 10
    seq = BagSequence(bag, image_topic=CAM, run=2)
    with pytest.raises(InputError) as err:
        iter(seq)
    text = str(err.value)
    assert CAM in text and "(run 2)" in text and "bag time 3.500000 s" in text, text
    assert "cannot be deserialized" in text, text
    assert len(list(seq.frames_or_unreadable())) == 10  # localize, build-map read the run


@pytest.mark.parametrize("nearer", ["next", "previous"])
def test_a_bad_image_whose_header_stamp_is_intact_is_placed_by_it(tmp_path, nearer):
    """A message cut short keeps its first bytes: its header stamp, read from them, places it
    as any message is placed (run 2's first image, whichever image it was received nearer),
    where the receive-time guess put one received nearer run 1's last image into run 1."""
    images = _reset_images()
    shift = {"next": 30 * MS, "previous": -30 * MS}[nearer]
    images[10] = (images[10][0], images[10][1] + shift)
    bag = _bag(tmp_path / "bag", images, corrupt=[images[10][1]], depth=True)
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, run=2)
    assert [c for c, _, _ in seq.runs] == [10, 10]
    assert seq.stamps_ns.tolist() == [s for s, _ in images[10:]]
    got = list(seq.frames_or_unreadable())
    assert [isinstance(f, UnreadableFrame) for f in got] == [True] + [False] * 9
    assert got[0].reason.endswith(f"(its header stamp t={S * 1e-9:.6f} s read from its first "
                                  "bytes)"), got[0].reason


def test_the_warning_names_the_first_message_that_cannot_be_deserialized(tmp_path, caplog):
    """Two corrupt image messages: one warning with their count and the first one's receive
    time (the one a user looks at first), not the last's."""
    import logging

    images = [(S + k * 100 * MS, S + k * 100 * MS + MS) for k in range(6)]
    bag = _bag(tmp_path / "bag", images, corrupt=[images[1][1], images[4][1]])
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(str(bag))
    (warned,) = [r.getMessage() for r in caplog.records
                 if "cannot be deserialized" in r.getMessage()]
    assert f"2 image messages on {CAM} cannot be deserialized (the first received at bag time " \
           "1.101000 s: " in warned, warned
