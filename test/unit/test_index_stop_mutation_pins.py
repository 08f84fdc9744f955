"""Pins of `rosbag.index_stop` (build-map --max-frames' cut indexing pass) that the mutation
audit of 2026-12-06 found untested: each condition of the stop decides in its own bag. A /tf
edge or a depth topic received seconds after its stamps (a batched or delayed publisher),
and a depth CameraInfo received late, keep the pass going until the first frames have what
the whole pass gives them; a pass that gave up (a second run) is not checked again."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_bag_max_frames_index import _read, _same  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, H, MS, RGB, S, W, camera_info, image, pose,  # noqa: E402
                         tf_message, write_bag)

from mast3r_ros.replay.first_frames import FirstFrames  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.rosbag.index_stop import IndexStop  # noqa: E402
from mast3r_ros.replay.sources import SourceOptions, open_source  # noqa: E402

CAM, INFO = "/cam/image_raw", "/cam/camera_info"
DEPTH, DEPTH_INFO = "/cam/depth/image_raw", "/cam/depth/camera_info"
FRAMES = 80  # 8 s at 10 Hz
LAG = 2600 * MS  # first read before the stop's margin ends (3.9 s), behind the 5th frame
NOT_BEGUN = 3500 * MS  # first received past that margin


def _bag(path, tf_lag=0, depth_lag=0, depth_info_at=None, odom_lag=None, depth_at=(0,),
         static=True):
    """Images 0.1 s apart from 1 s, received at their stamps; /tf stamped 50 ms before each
    image (so a frame's pose is interpolated from the samples around it) received ``tf_lag``
    late (``odom_lag``: the pose on odom -> base_link, a map -> odom received that late); depth
    at each image's stamp plus each of ``depth_at`` (ms) received ``depth_lag`` late; the
    depth's CameraInfo at ``depth_info_at`` (None: no such topic). ``static`` False: no
    /tf_static, the /tf pose is the camera's own (map -> camera_optical)."""
    child = "base_link" if static else "camera_optical"
    msgs = [(INFO, 0, camera_info(0))]
    if static:
        msgs.append(("/tf_static", 0, tf_message([("base_link", "camera_optical", 0,
                                                   BASE_FROM_CAM)])))
    if depth_info_at is not None:
        msgs.append((DEPTH_INFO, depth_info_at, camera_info(depth_info_at)))
    for k in range(FRAMES):
        t = S + k * 100 * MS
        moving = pose([0, 0, 0.01 * k], [0.1 * k, 0, 0])
        if odom_lag is None:
            msgs.append(("/tf", t - 50 * MS + tf_lag,
                         tf_message([("map", child, t - 50 * MS, moving)])))
        else:
            msgs.append(("/tf", t - 50 * MS, tf_message([("odom", "base_link", t - 50 * MS,
                                                          moving)])))
            msgs.append(("/tf", t - 50 * MS + odom_lag, tf_message(
                [("map", "odom", t - 50 * MS, pose([0, 0, 0], [0, 0.01 * k, 0]))])))
        msgs.append((CAM, t + 1, image(t, "rgb8", RGB)))
        for j, ms in enumerate(depth_at):
            msgs.append((DEPTH, t + ms * MS + 2 + depth_lag,
                         image(t + ms * MS, "16UC1", np.full((H, W), 1000 + 10 * k + j,
                                                             np.uint16))))
    return str(write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])))


def _cut_and_whole(bag, n=5):
    cut = open_source(bag, SourceOptions(pose_frames="map", depth_topic=DEPTH, max_frames=n))
    whole = FirstFrames(BagSequence(bag, depth_topic=DEPTH, pose_frames="map"), n)
    return cut, whole


def test_a_tf_edge_received_late_keeps_the_pass_until_it_passes_the_last_frame(tmp_path):
    """At the stop's margin the /tf read reaches only ~1 s of stamps: the pass reads on until
    a sample past the 5th frame's stamp plus the pose rule (tolerance + gap), so each of the
    5 frames is interpolated as from the whole bag (the check dropped, or the rule's sum
    taken as a difference, left the last frames without a pose)."""
    cut, whole = _cut_and_whole(_bag(tmp_path / "bag", tf_lag=LAG))
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(whole))


def test_a_depth_topic_received_late_keeps_the_pass_until_it_passes_the_last_frame(tmp_path):
    """Depth 15 ms before and 5 ms after each image (both within the 20 ms sync tolerance),
    received late: the pass reads on until a depth past the 5th frame's stamp plus the
    tolerance, so that frame takes the nearer one after it, as from the whole bag (the check
    dropped, or the tolerance subtracted, gave it the one 15 ms before)."""
    cut, whole = _cut_and_whole(_bag(tmp_path / "bag", depth_lag=LAG, depth_at=(-15, 5)))
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(whole))


@pytest.mark.parametrize("late, static", [("tf_lag", True), ("tf_lag", False),
                                          ("depth_lag", True)])
def test_a_tf_or_depth_none_of_whose_messages_is_read_by_the_margin_keeps_the_pass(tmp_path,
                                                                                   late, static):
    """Every /tf or depth message received 3.5 s after its stamp: none is read when the
    stop's margin ends, so its conditions (on the samples read) had nothing to wait for, and
    the pass stopped with no pose (a TransformError) or no depth for any frame (a map without
    depth, one warning) where the whole pass has them. The topic's message count in the bag's
    metadata now keeps the pass going until one is read (/tf_static's do not count: a bag
    may have none)."""
    cut, whole = _cut_and_whole(_bag(tmp_path / "bag", static=static, **{late: NOT_BEGUN}))
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(whole))


def test_a_depth_camera_info_received_late_is_read_before_the_stop(tmp_path):
    """The depth's own CameraInfo (its calibration, `_check_depth_registered`) received at
    6 s, long past the stop's margin: the pass reads on until it has it."""
    cut, whole = _cut_and_whole(_bag(tmp_path / "bag", depth_info_at=6 * S))
    assert cut.source.depth_info_topic == DEPTH_INFO
    assert len(cut.source) < FRAMES
    assert cut.source._depth_info is not None
    assert whole.source._depth_info is not None


class _Seq:
    """What `IndexStop` reads of a `BagSequence`: 12 images of which 6 then 6 after a jump
    back of the header time (two runs), with nothing else to wait for."""

    camera_info_topic = depth_info_topic = depth_topic = _pose_frames = None
    _override = _depth_info = None
    _info_runs: list = []
    _tf_runs: dict = {}
    _depth_runs: list = []
    _undeserialized: dict = {}

    def __init__(self):
        stamps = [S + k * 100 * MS for k in range(6)] + [k * 100 * MS for k in range(6)]
        self._image_runs = list(enumerate(stamps))


def test_a_pass_that_gave_up_is_not_checked_again(monkeypatch):
    """Once the part read showed a second run the whole bag is read: later messages do not
    run the check again (its run labels are over every image read: quadratic on a long bag)."""
    stop, seq = IndexStop(2, 0, (0, 0)), _Seq()
    assert not stop.reached(seq, 0)  # 12 images >= 2 + lookahead + 1: the margin starts
    assert not stop.reached(seq, 3 * S) and stop.gave_up
    calls = []
    monkeypatch.setattr(IndexStop, "_check", lambda self, s: calls.append(1) or True)
    assert not stop.reached(seq, 4 * S) and calls == []


def test_a_second_tf_edge_received_late_within_the_margin_is_read(tmp_path):
    """map -> odom received 1.5 s after its stamps, odom -> base_link at once: when the 5th
    frame's lookahead images are read the map -> odom edge is not read yet, and only the
    stop's 2 s margin (in receive time) lets it arrive (the margin dropped or subtracted: no
    frame had a pose in map)."""
    cut, whole = _cut_and_whole(_bag(tmp_path / "bag", odom_lag=1500 * MS))
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(whole))


def test_more_first_frames_than_the_margin_holds_are_all_read(tmp_path):
    """--max-frames 40 at 10 Hz: the margin (2 s, 20 images) starts only once the 40th image
    and its lookahead are read, not at the first message (40 frames, not ~20)."""
    cut, whole = _cut_and_whole(_bag(tmp_path / "bag"), n=40)
    assert len(cut) == 40 and len(cut.source) < FRAMES
    _same(_read(cut), _read(whole))
