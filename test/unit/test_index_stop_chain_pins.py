"""Pins of `rosbag.index_stop`'s pose conditions (build-map --max-frames' cut indexing pass)
that the mutation audit 2026-12-06i found untested: the waits that decide alone where the
--pose-frames chain is split between /tf_static and a late or early /tf. Each bag's frames
from the cut pass must be those of the whole pass, and the pass must still be cut."""

from __future__ import annotations

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_bag_max_frames_index import _read, _same  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, MS, RGB, S, camera_info, image, pose,  # noqa: E402
                         tf_message, write_bag)

from mast3r_ros.replay.first_frames import FirstFrames  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.sources import SourceOptions, open_source  # noqa: E402

CAM, INFO = "/cam/image_raw", "/cam/camera_info"
FRAMES = 80  # 8 s at 10 Hz
LATE = 3500 * MS  # received past the stop's margin (2 s past the 5th frame's lookahead)
AFTER = S + FRAMES * 100 * MS + 500 * MS  # received after the last image


def _bag(path, dynamic, statics, static_at=0, images=FRAMES, empty_topics=()):
    """``images`` images 0.1 s apart from 1 s, received at their stamps; each (parent, child,
    lag) of ``dynamic`` on /tf, stamped 50 ms before each of 80 image times (a moving pose)
    and received ``lag`` after its stamp; ``statics`` (parent, child) on one /tf_static message
    received at ``static_at``; ``empty_topics`` (topic, type) recorded without a message."""
    msgs = [(INFO, 0, camera_info(0)),
            ("/tf_static", static_at, tf_message([(p, c, 0, BASE_FROM_CAM) for p, c in statics]))]
    for k in range(FRAMES):
        t = S + k * 100 * MS
        for j, (parent, child, lag) in enumerate(dynamic):
            msgs.append(("/tf", t - 50 * MS + lag, tf_message(
                [(parent, child, t - 50 * MS, pose([0, 0, 0.01 * k], [0.1 * k, 0.01 * j, 0]))])))
        if k < images:
            msgs.append((CAM, t + 1, image(t, "rgb8", RGB)))
    return str(write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]),
                         empty_topics=empty_topics))


def _cut_same_as_whole(bag, n=5, images=FRAMES):
    cut = open_source(bag, SourceOptions(pose_frames="map", max_frames=n))
    whole = FirstFrames(BagSequence(bag, pose_frames="map"), n)
    assert len(cut.source) < images  # the pass was cut
    _same(_read(cut), _read(whole))
    return cut


def test_a_camera_frame_named_only_by_a_late_tf_static_still_cuts_the_pass(tmp_path):
    """/tf map -> base_link on time, base_link -> camera_optical only on a /tf_static received
    after the last image: the camera is in no edge read at the stop, so the chain does not hold
    the pass (`read_statics_after` reads that static after it) and the frames are posed as from
    the whole pass. `_chain_read`'s `return True` as None / False / dropped, or its `or`s as
    `and`, waited for a join read only with that static: the whole bag was indexed."""
    _cut_same_as_whole(_bag(tmp_path / "bag", [("map", "base_link", 0)],
                            [("base_link", "camera_optical")], static_at=AFTER))


def test_a_late_tf_is_waited_for_where_the_map_is_static_and_the_camera_on_it(tmp_path):
    """map -> odom on /tf_static, odom -> camera_optical on a /tf received 3.5 s late: 'map' is
    known and the camera is in no edge read at the margin, so only /tf's message count in the
    bag's metadata (`IndexStop.expect` / `unread`) holds the pass until /tf is read
    (`self.unread = ...` or `_check`'s `return False` on it dropped: no frame had a pose)."""
    _cut_same_as_whole(_bag(tmp_path / "bag", [("odom", "camera_optical", LATE)],
                            [("map", "odom")]))


def test_a_pose_frames_parent_on_a_late_tf_is_waited_for_where_the_camera_is_unjoined(
        tmp_path):
    """/tf odom -> base_link on time and map -> odom received 3.5 s late; base_link ->
    camera_optical only on a /tf_static received after the last image: /tf has been read and
    the camera is in no edge read, so only 'map' not yet read holds the pass
    (`_pose_target_read`'s `return False` for it dropped: the frames had no pose, 'map' not in
    the tree)."""
    _cut_same_as_whole(_bag(tmp_path / "bag", [("odom", "base_link", 0), ("map", "odom", LATE)],
                            [("base_link", "camera_optical")], static_at=AFTER))


def test_a_tf_topic_recorded_without_messages_does_not_hold_the_pass(tmp_path):
    """Every transform on /tf_static (a robot standing still) and a /tf recorded without a
    message: the bag's metadata lists /tf with 0 messages, which is not waited for
    (`msgcount > 0` -> `>= 0` waited for a message never read: the whole bag was indexed)."""
    _cut_same_as_whole(_bag(tmp_path / "bag", [], [("map", "base_link"),
                                                   ("base_link", "camera_optical")],
                            empty_topics=[("/tf", "tf2_msgs/msg/TFMessage")]))


def test_a_cut_pass_that_read_every_image_does_not_count_the_frames_from_the_metadata(
        tmp_path):
    """12 images (the 5 frames' lookahead is 10) and /tf for 8 s: the pass stops past the last
    image, so the run read is all of the bag's images and its count is said as the run's, not
    as the bag's '~12, not told apart by run' (`_index_cut > len(self)` -> `>=`)."""
    bag = _bag(tmp_path / "bag", [("map", "base_link", 0)], [("base_link", "camera_optical")],
               images=12)
    cut = open_source(bag, SourceOptions(pose_frames="map", max_frames=5))
    assert cut.source._index_cut == len(cut.source) == 12  # cut, after every image
    assert cut.source.frames_in_recording == 12
    assert cut.source.frames_counted_in_bag is False
    assert cut.of_bag is False
