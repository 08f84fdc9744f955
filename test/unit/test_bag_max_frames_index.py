"""build-map --max-frames N on a long rosbag2: its indexing pass read the headers of the whole
bag before the first of the N frames was used (minutes on a long bag for a 20-frame try).
It now stops once what those N frames take is read (`rosbag.index_stop`): the frames, stamps,
depth, intrinsics and poses are those of the whole pass, and where the part read cannot tell
(a second run in it, --run) the whole bag is read as before."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, H, MS, RGB, S, W, camera_info, image, pose,  # noqa: E402
                         tf_message, write_bag)

from test_rosbag_pose_topic import _pose_msg  # noqa: E402

from mast3r_ros.replay.first_frames import FirstFrames  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.sources import SourceOptions, open_source  # noqa: E402

CAM, DEPTH, INFO = "/cam/image_raw", "/cam/depth", "/cam/camera_info"
FRAMES = 120  # 12 s at 10 Hz


def _bag(path, stamps=None, static_at=0, info_at=0, storage=StoragePlugin.MCAP, depth_from=0,
         map_from=None, odom_from=None, tf_late=0, depth_late=0, base_late=0):
    """Images 0.1 s apart from 1 s (or at ``stamps``), depth (received from ``depth_from`` on)
    and /tf at each image's stamp, received ``depth_late`` and ``tf_late`` ns after it; the
    camera's /tf_static received at ``static_at`` and the CameraInfo at ``info_at``.
    ``map_from``: /tf is odom -> base_link, and map -> odom is published only from then on (a
    localization node started late); odom -> base_link is then received ``base_late`` ns
    later still (a second /tf publisher, relayed late). ``odom_from``: the poses are on /odom
    (nav_msgs/Odometry map -> base_link) from then on, not on /tf."""
    stamps = [S + k * 100 * MS for k in range(FRAMES)] if stamps is None else stamps
    msgs = [("/tf_static", static_at, tf_message([("base_link", "camera_optical", 0,
                                                    BASE_FROM_CAM)])),
            (INFO, info_at, camera_info(info_at))]
    for k, t in enumerate(stamps):
        at = S + k * 100 * MS + 1  # received in order, whatever the stamp
        base = pose([0, 0, 0.01 * k], [0.1 * k, 0, 0])
        if odom_from is not None:
            if at >= odom_from:
                msgs.append(("/odom", at, _pose_msg("odometry", t, "map", "base_link", base)))
        elif map_from is None:
            msgs.append(("/tf", at + tf_late, tf_message([("map", "base_link", t, base)])))
        else:
            msgs.append(("/tf", at + tf_late + base_late,
                         tf_message([("odom", "base_link", t, base)])))
            if at >= map_from:
                msgs.append(("/tf", at + tf_late, tf_message([("map", "odom", t, np.eye(4))])))
        msgs.append((CAM, at + 1, image(t, "rgb8", RGB)))
        if at >= depth_from:
            msgs.append((DEPTH, at + 2 + depth_late,
                         image(t, "16UC1", np.full((H, W), 1000 + k, np.uint16))))
    return str(write_bag(path, storage, sorted(msgs, key=lambda m: m[1])))


def _open(bag, n, **kwargs):
    options = SourceOptions(pose_frames="map", depth_topic=DEPTH, max_frames=n, **kwargs)
    return open_source(bag, options)


def _whole(bag, n, **kwargs):
    """The first n frames as before: the whole bag indexed, then cut."""
    return FirstFrames(BagSequence(bag, depth_topic=DEPTH, pose_frames="map", **kwargs), n)


def _read(source):
    return [(f.stamp_ns, f.map_from_cam, f.depth_m, f.intrinsics.K) for f in
            source.frames_or_unreadable()]


def _same(a, b):
    assert len(a) == len(b)
    for (s1, p1, d1, k1), (s2, p2, d2, k2) in zip(a, b):
        assert s1 == s2 and np.array_equal(k1, k2)
        assert p1 is not None and np.array_equal(p1, p2)
        assert np.array_equal(d1, d2)


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3],
                         ids=["mcap", "sqlite3"])
def test_the_indexing_pass_stops_past_the_first_frames_with_the_same_frames(tmp_path, storage,
                                                                           caplog):
    bag = _bag(tmp_path / "bag", storage=storage)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        cut = _open(bag, 5)
    assert any("the indexing pass stopped" in r.getMessage() and "--run N reads the whole bag"
               in r.getMessage() for r in caplog.records)
    # read to a margin past frame 5 (+ the run lookahead), not the 120 images of the bag
    assert len(cut.source) < 60
    assert len(cut) == 5 and cut.of_frames == FRAMES  # the bag's count, from its metadata
    assert cut.manifest_record() == {"max_frames": 5, "frames": 5, "of_frames": FRAMES,
                                     "of_frames_from": "bag_metadata"}
    _same(_read(cut), _read(_whole(bag, 5)))


def test_a_tf_static_and_a_camera_info_recorded_late_still_apply(tmp_path):
    """The camera mount on /tf_static received after the stop is read all the same; a
    CameraInfo received late keeps the pass going until it is read."""
    bag = _bag(tmp_path / "bag", static_at=10 * S, info_at=8 * S)
    cut = _open(bag, 5)
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(_whole(bag, 5)))


def test_a_bag_whose_header_time_jumps_back_in_the_part_read_is_read_whole(tmp_path):
    """Images 1..8 then a reset to 0.5 s: the part read shows two runs, so the run is chosen
    from the whole bag (the longest, the second) as without the cut."""
    stamps = [S + k * 100 * MS for k in range(8)] + [S // 2 + k * 100 * MS
                                                     for k in range(FRAMES - 8)]
    bag = _bag(tmp_path / "bag", stamps=stamps)
    cut = _open(bag, 5)
    assert cut.source.run == 2 and len(cut.source) == FRAMES - 8
    _same(_read(cut), _read(_whole(bag, 5)))


def test_a_run_asked_for_reads_the_whole_bag(tmp_path):
    bag = _bag(tmp_path / "bag")
    cut = _open(bag, 5, run=1)
    assert len(cut.source) == FRAMES


def test_a_jump_back_while_the_pass_waits_for_a_late_camera_info_is_seen(tmp_path):
    """The images' runs are judged on every image read up to the stop: here the header time
    jumps back at 4 s, while the pass still waits for the CameraInfo received at 8 s."""
    stamps = [S + k * 100 * MS for k in range(40)] + [S // 2 + k * 100 * MS
                                                      for k in range(FRAMES - 40)]
    bag = _bag(tmp_path / "bag", stamps=stamps, info_at=8 * S)
    cut = _open(bag, 5)
    assert cut.source.run == 2 and len(cut.source) == FRAMES - 40
    _same(_read(cut), _read(_whole(bag, 5)))


def test_a_depth_topic_that_starts_late_is_waited_for(tmp_path):
    """Depth recorded only from 5 s on (the depth stream started late): the whole pass finds
    it and only the first frames have none. A pass cut before the first depth message read
    none, so the bag was refused as 'no depth within 0.020 s of any image: check the header
    stamps' -- stamps that were right. The pass now waits for a depth message as it does for
    a CameraInfo."""
    bag = _bag(tmp_path / "bag", depth_from=5 * S)
    cut, whole = _open(bag, 5), _whole(bag, 5)
    assert len(cut.source) < FRAMES  # still cut, past the first depth
    assert cut.source.no_depth_reason() is None
    assert whole.source.no_depth_reason() is None
    assert [(s, d is None) for s, _, d, _ in _read(cut)] == [(s, True) for s, *_ in
                                                               _read(whole)]


def test_a_map_frame_published_late_is_waited_for(tmp_path):
    """map -> odom only from 6 s on (the localization node started after the recording): the
    whole pass finds it and says the first frames' poses are not available at their stamps
    ('known from ...'). A pass cut before it read no 'map' at all, and the build was refused
    as "frame 'map' is not in the transform tree": the pass now waits for the frame that
    --pose-frames names."""
    bag = _bag(tmp_path / "bag", map_from=6 * S)
    cut, whole = _open(bag, 5), _whole(bag, 5)
    assert len(cut.source) < FRAMES  # still cut, past the first map -> odom
    assert [(s, p is None) for s, p, _, _ in _read(cut)] == [(s, True) for s, *_ in
                                                             _read(whole)]
    assert "map" in cut.source._tf.frames


def test_a_pose_topic_published_late_is_waited_for(tmp_path):
    """--pose-topic /odom whose first message comes at 6 s: likewise waited for (the cut pass
    said "frame 'map' is not in the transform tree ... known frames: []")."""
    bag = _bag(tmp_path / "bag", odom_from=6 * S)
    cut = open_source(bag, SourceOptions(pose_topic="/odom", depth_topic=DEPTH, max_frames=5))
    whole = FirstFrames(BagSequence(bag, depth_topic=DEPTH, pose_topic="/odom"), 5)
    assert len(cut.source) < FRAMES
    assert [(s, p is None) for s, p, _, _ in _read(cut)] == [(s, True) for s, *_ in
                                                             _read(whole)]


@pytest.mark.parametrize("late", ["tf_late", "depth_late"])
def test_a_tf_or_depth_stream_received_later_than_the_margin_is_waited_for(tmp_path, late):
    """/tf (or the depth) received 3 s after its stamp, more than `MARGIN_S`: at the margin
    none of it had been read, and an edge or depth never read was no reason to wait, so the
    pass stopped and the frames lost their poses (or depth). A topic that has messages is
    read until its first message at least, then judged by its stamps."""
    bag = _bag(tmp_path / "bag", **{late: 3 * S})
    cut = _open(bag, 5)
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(_whole(bag, 5)))


def test_an_edge_of_the_pose_chain_on_a_late_second_tf_publisher_is_waited_for(tmp_path):
    """map -> odom on /tf from the start, odom -> base_link on /tf too but received 6 s after
    its stamps (a second publisher, relayed from a remote robot): /tf was waited for as a
    topic, its first message read, so the pass stopped before any odom -> base_link and the
    frames had none of the poses the whole pass gives. The chain map -> camera is waited for."""
    bag = _bag(tmp_path / "bag", map_from=0, base_late=6 * S)
    cut = _open(bag, 5)
    assert len(cut.source) < FRAMES
    _same(_read(cut), _read(_whole(bag, 5)))


def test_a_cut_pass_says_its_count_is_the_bag_s_not_the_run_s(tmp_path, capsys):
    """Header time jumping back only after the part read (90 then 30 images): the whole pass
    reads the longest run and says 'of 90'; the cut one has only the bag's metadata count, 120
    over both runs, which it said as 'of 120' as if it were the run's. It says what it is."""
    import json

    from mast3r_ros.replay.run_notes import build_summary

    stamps = [S + k * 100 * MS for k in range(90)] + [S // 2 + k * 100 * MS for k in range(30)]
    bag = _bag(tmp_path / "bag", stamps=stamps)
    cut, whole = _open(bag, 5), _whole(bag, 5)
    assert whole.manifest_record() == {"max_frames": 5, "frames": 5, "of_frames": 90}
    assert cut.manifest_record()["of_frames_from"] == "bag_metadata"
    assert cut.cut_note() == ("only the first 5 of the ~120 frames in the bag (its count, not "
                              "told apart by run) are read (max_frames 5)")
    (tmp_path / "m").mkdir()
    manifest = {"max_frames": cut.manifest_record(), "keyframe_table": {"num_keyframes": 2}}
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    build_summary("m", str(tmp_path / "m"), 5)
    assert "from 5 frames (the first of ~120 in the bag, not told apart by run: --max-frames)" \
        in capsys.readouterr().out


def test_a_map_frame_published_late_is_said_first_known_not_a_zero_length_range(tmp_path):
    """The pass cut just after map -> odom's first sample said the frames' poses were not
    available as the edge was 'known from 6.000000 s to 6.000000 s', a zero-length range the
    bag does not have: it says when the edge is first known and where the cut pass read up
    to."""
    cut = _open(_bag(tmp_path / "bag", map_from=6 * S), 5)
    _read(cut)
    reason = cut.source.no_pose_reason
    assert "it is first known at 6.000000 s (the indexing pass, cut by --max-frames, read " \
        "it up to 6.000000 s)" in reason, reason
    assert "known from" not in reason, reason
    whole = _whole(_bag(tmp_path / "bag2", map_from=6 * S), 5)
    _read(whole)
    assert "known from 6.000000 s to 12.900000 s" in whole.source.no_pose_reason


def test_not_told_apart_by_run_is_worded_in_one_place():
    """'not told apart by run' (a cut pass's frame count is the bag's, every run's) was written
    out in first_frames.py and run_notes.py: one rewording would leave the other. The package's
    string literals (docstrings aside) hold it once: `first_frames.NOT_BY_RUN`."""
    import ast
    from pathlib import Path

    import mast3r_ros
    from mast3r_ros.replay.first_frames import NOT_BY_RUN

    assert NOT_BY_RUN == "not told apart by run"
    found = []
    for path in sorted(Path(mast3r_ros.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                  ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr)}
        found += [path.name for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str)
                  and id(n) not in docs and "told apart by run" in n.value]
    assert found == ["first_frames.py"], found
