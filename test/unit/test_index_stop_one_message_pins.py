"""Pin of `rosbag.index_stop`'s wait for a stamped stream by its message count (build-map
--max-frames' cut indexing pass) at its boundary, left by the mutation audits 2026-12-06h and
-06i: a tf topic of exactly one message, received past the stop's margin, is waited for like
one of many (the bag's metadata lists a message; `msgcount > 0` -> `> 1` stopped the pass
without it, so the frame that one sample poses lost its pose)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_bag_max_frames_index import _read  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, MS, RGB, S, camera_info, image, pose,  # noqa: E402
                         tf_message, write_bag)

from mast3r_ros.replay.first_frames import FirstFrames  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.sources import SourceOptions, open_source  # noqa: E402

CAM, INFO = "/cam/image_raw", "/cam/camera_info"
FRAMES = 80  # 8 s at 10 Hz
LATE = 3500 * MS  # received past the stop's margin (2 s past the 5th frame's lookahead)


def test_a_tf_topic_of_one_message_received_late_is_waited_for(tmp_path):
    """map -> odom on /tf_static, one /remote/tf message odom -> camera_optical stamped at the
    first image and received 3.5 s late; /tf map -> marker (another edge) on time. At the
    margin 'map' is known, the camera is in no edge read and /tf has samples past the frames,
    so only /remote/tf's one listed message holds the pass (an edge of one sample then keeps
    it going to the end, as one that stopped publishing does): the first frame is posed by
    that sample as from the whole pass. With `> 1` the pass stopped at the margin and the
    frames raised 'camera_optical is not in the transform tree'."""
    msgs = [(INFO, 0, camera_info(0)),
            ("/tf_static", 0, tf_message([("map", "odom", 0, BASE_FROM_CAM)])),
            ("/remote/tf", S + LATE, tf_message([("odom", "camera_optical", S,
                                                  pose([0, 0, 0.01], [0.1, 0, 0]))]))]
    for k in range(FRAMES):
        t = S + k * 100 * MS
        msgs.append(("/tf", t, tf_message([("map", "marker", t, pose([0, 0, 0], [k, 0, 0]))])))
        msgs.append((CAM, t + 1, image(t, "rgb8", RGB)))
    bag = str(write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])))
    cut = open_source(bag, SourceOptions(pose_frames="map", max_frames=5))
    whole = FirstFrames(BagSequence(bag, pose_frames="map"), 5)
    got, want = _read(cut), _read(whole)
    assert [g[0] for g in got] == [w[0] for w in want]
    assert want[0][1] is not None and np.array_equal(got[0][1], want[0][1])
    assert [g[1] is None for g in got[1:]] == [w[1] is None for w in want[1:]]
