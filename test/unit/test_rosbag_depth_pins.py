"""Pins of the rosbag depth association and of a resumed run's recorded frames
(replay/rosbag/depth.py, sequence.py) that a hand mutation audit found untested: each test
names the change to the code it fails on. The bag is `test_rosbag_recorded`'s: ten images,
the one at 1.7 s cut short, depth late and shared by some images, a depth message at 2.5 s
that no image takes."""

from __future__ import annotations

import collections

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import H, MS, RGB, W, camera_info, image, write_bag  # noqa: E402
from test_rosbag_recorded import (BAD, CAM, DEPTH, DEPTHS, INFO, STAMPS, _bag,  # noqa: E402
                                  _same, _watch)

from mast3r_ros.core.types import UnreadableFrame  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


@pytest.fixture
def seq(tmp_path):
    return BagSequence(_bag(tmp_path / "bag"), image_topic=CAM, depth_topic=DEPTH,
                       pose_frames="map", sync_tolerance_s=0.06)


def test_positions_out_of_range_take_no_frame_and_no_depth(seq, monkeypatch):
    """Positions past the end (or negative) are no frame: nothing raised, and no depth
    decoded for them (was: ``i <= len`` raised IndexError; without ``0 <=``, -1 took the last
    image's depth)."""
    _, decoded = _watch(monkeypatch)
    got = list(seq.frames_or_unreadable(positions=[-1, 2, len(seq)]))
    assert [f.stamp_ns for f in got] == [STAMPS[2]]
    assert decoded == [1250 * MS] and decoded.read == decoded


def test_a_depth_message_the_indexing_pass_did_not_see_is_read(seq, monkeypatch):
    """A depth message past those indexed (the bag grew since) is deserialized whatever its
    stamp, and decoded if a frame takes it: the frames are those of a plain run (was: read as
    one no frame takes, the frames after it without depth; or an IndexError at the first one
    past the index with ``ordinal > len``)."""
    plain = list(seq.frames_or_unreadable())
    seq._depth_by_ordinal = seq._depth_by_ordinal[:3]  # the 4th depth message on: not indexed
    _, decoded = _watch(monkeypatch)
    got = list(seq.frames_or_unreadable())
    _same(plain, got, set())
    assert decoded.read == DEPTHS  # 2.5 s too: its stamp is unknown until it is read
    assert decoded == DEPTHS[:-1]  # ... but no frame takes it


def test_a_second_depth_message_at_a_stamp_decoded_already_is_not_deserialized(tmp_path,
                                                                               monkeypatch):
    """Two depth messages with one header stamp (a driver resending it): the first is decoded
    and held until its image takes it; the second is not even deserialized (was, with the
    ``stamp not in depth_by_stamp`` test of `_depth_wanted` dropped)."""
    depth = np.full((H, W), 900, np.uint16)
    msgs = [(INFO, 900 * MS, camera_info(900 * MS)),
            (DEPTH, 1000 * MS, image(1000 * MS, "16UC1", depth)),
            (DEPTH, 1010 * MS, image(1000 * MS, "16UC1", depth * 2)),
            (CAM, 1020 * MS, image(1000 * MS, "rgb8", RGB))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    resent = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH)
    _, decoded = _watch(monkeypatch)
    [frame] = list(resent.frames_or_unreadable())
    np.testing.assert_allclose(frame.depth_m, 0.9)  # the first of the two
    assert decoded == decoded.read == [1000 * MS]


def test_take_depth_releases_a_depth_once_its_last_frame_took_it(seq):
    """`_take_depth` hands the decoded depth to each frame matched to it and drops it after
    the last one: held no longer than needed (was kept to the end of the iteration with
    ``remaining < 0``, every decoded depth in memory at once)."""
    depth = np.zeros((H, W), np.float32)
    held, remaining = {5: depth}, collections.Counter({5: 2})
    assert seq._take_depth(5, held, remaining) is depth and 5 in held
    assert seq._take_depth(5, held, remaining) is depth and held == {}
    assert seq._take_depth(5, held, remaining) is None  # released
    assert seq._take_depth(-1, {-1: depth}, collections.Counter()) is None  # no depth matched


def test_a_bad_image_at_a_recorded_stamp_holds_back_no_frame(seq, monkeypatch):
    """A recorded image message that cannot be deserialized waits for no depth: it comes out
    as soon as the frames before it have (was: waiting for the depth of its estimated stamp,
    which is not decoded for a recorded frame, it held back every later frame, read and kept
    in memory, to the end of the bag)."""
    deserialized, _ = _watch(monkeypatch)
    frames = seq.frames_or_unreadable(recorded={int(seq.stamps_ns[BAD])})
    for frame in frames:
        if isinstance(frame, UnreadableFrame):
            break
    assert frame.stamp_ns == seq.stamps_ns[BAD]
    assert STAMPS[9] not in deserialized  # the image after the next one: not read yet
    frames.close()


def test_a_recorded_frame_without_camera_info_keeps_its_pose(seq):
    """Were there no CameraInfo for the run read (the reader refuses such a bag up front, or
    takes another run's: simulated here), a recorded frame is the unreadable frame a plain run
    gives, with its ground truth pose: recall counts it (was: no pose)."""
    seq._infos = []
    plain = list(seq.frames_or_unreadable())
    assert all(isinstance(f, UnreadableFrame) and f.map_from_cam is not None for f in plain)
    got = list(seq.frames_or_unreadable(recorded={STAMPS[0], STAMPS[8]}))
    for k in (0, 8):
        assert isinstance(got[k], UnreadableFrame) and got[k].reason == plain[k].reason
        np.testing.assert_array_equal(got[k].map_from_cam, plain[k].map_from_cam)
