"""build-map decodes only the frames of a bag (rosbag2, ROS 1) that may become keyframes, as
it does a TUM folder's (test_build_map_candidates): a frame's pose (tf at its header stamp,
or --trajectory) and whether depth is matched to it are known from the indexing pass, so an
image message is deserialized and decoded only when its frame is a keyframe candidate. Pinned
by counting decodes with a spy, and by comparing the map with the one the every-frame path
builds of the same bag, damaged messages included: identical keyframes, table and PNG bytes."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_build_map_candidates import _content  # noqa: E402
from test_build_map_unreadable import DEPTH, STAMPS, _mapping_bag  # noqa: E402

from mast3r_ros.core.types import UnreadableFrame  # noqa: E402
from mast3r_ros.replay import pipeline  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, depth, sequence  # noqa: E402

# keyframes 1.2 m apart: on the bag's path (0.5 m a frame) frames 0, 3, 6 and 9 of an intact bag
PARAMS = ("mast3r_localizer:\n  ros__parameters:\n"
          "    map_build: {min_translation_m: 1.2, min_rotation_deg: 180.0}\n")
POSES = ("--pose-frames", "map:camera_optical")


def _build(bag, out, monkeypatch, capsys, every_frame=False, extra=POSES):
    """Build with the sift matcher (depth needed); the stamps of the colour images decoded,
    the number of depth images decoded, the summary line. ``every_frame``: every frame
    decoded (the path of a source that cannot tell a frame's pose before decoding it)."""
    colour, depths = [], []
    frame_from = sequence.frame_from_image_message
    decode = depth.decode_image_message

    def colour_spy(msg, *a, **k):
        colour.append(sequence.header_stamp_ns(msg.header))
        return frame_from(msg, *a, **k)

    def depth_spy(msg, *a, **k):
        depths.append(sequence.header_stamp_ns(msg.header))
        return decode(msg, *a, **k)
    with monkeypatch.context() as m:
        m.setattr(sequence, "frame_from_image_message", colour_spy)
        m.setattr(depth, "decode_image_message", depth_spy)
        if every_frame:
            m.setattr(pipeline, "_candidate_frames", lambda *a, **k: None)
        params = out.parent / f"{out.name}.yaml"
        params.write_text(PARAMS)
        capsys.readouterr()
        rc = main(["build-map", bag, "--out", str(out), "--matcher", "sift", "--depth-topic",
                   DEPTH, "--params", str(params), "--log-level", "error", *extra])
        assert rc == 0, capsys.readouterr().err
    return colour, depths, capsys.readouterr().out


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


def test_only_the_keyframe_candidates_of_a_bag_are_decoded(tmp_path, monkeypatch, capsys):
    bag = _mapping_bag(tmp_path / "bag")
    colour, depths, summary = _build(bag, tmp_path / "lazy", monkeypatch, capsys)
    assert colour == depths == [STAMPS[k] for k in (0, 3, 6, 9)]
    assert ": 4 keyframes from 10 frames; " in summary
    assert _manifest(tmp_path / "lazy")["frames_not_read"] == {
        "count": 6, "of_frames": 10, "reason": "not keyframe candidates"}
    colour, depths, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert colour == depths == STAMPS
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
    assert "frames_not_read" not in _manifest(tmp_path / "every")


# by index: a JPEG cut short, a depth message cut short, an image and a depth message whose
# CDR is cut short (not deserializable), a depth of another size. Frame 3 is a candidate of
# the intact bag (decoded, unreadable: frame 4 is then one), frame 1 none (not decoded).
DAMAGE = [
    {"bad_colour": [3, 1]},
    {"bad_depth": [3, 5]},
    {"uncut": [3, 1]},
    {"uncut_depth": [3, 2]},
    {"depth_size": [3, 8], "bad_colour": [0]},
    {"uncut": [0, 1], "bad_colour": [2], "bad_depth": [7]},
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda d: "+".join(d))
def test_the_map_of_a_damaged_bag_is_the_one_every_frame_decoded_gives(tmp_path, monkeypatch,
                                                                       capsys, damage):
    bag = _mapping_bag(tmp_path / "bag", **damage)
    lazy, _, summary = _build(bag, tmp_path / "lazy", monkeypatch, capsys)
    every, _, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
    assert len(lazy) < len(every)
    lazy_m, every_m = _manifest(tmp_path / "lazy"), _manifest(tmp_path / "every")
    # the unreadable frames named are those decoded: a subset of the every-frame path's
    unread = lazy_m.get("unreadable_frames", {}).get("stamps_ns", [])
    assert set(unread) <= set(every_m["unreadable_frames"]["stamps_ns"])
    assert lazy_m["frames_not_read"]["count"] == 10 - len(lazy) - sum(
        1 for s in unread if s not in lazy)  # an image not deserializable is never decoded
    if unread:
        assert f"{len(unread)} unreadable, skipped; " in summary, summary


def test_poses_from_a_trajectory_file_select_the_candidates_of_a_bag(tmp_path, monkeypatch,
                                                                     capsys):
    """--trajectory FILE (no --pose-frames): the candidates are chosen by its poses."""
    bag = _mapping_bag(tmp_path / "bag", bad_colour=[3])
    traj = tmp_path / "traj.txt"
    traj.write_text("".join(f"{t * 1e-9:.9f} {0.5 * k} 0 0 0 0 0 1\n"
                            for k, t in enumerate(STAMPS)))
    extra = ("--trajectory", str(traj))
    lazy, _, _ = _build(bag, tmp_path / "lazy", monkeypatch, capsys, extra=extra)
    every, _, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True,
                         extra=extra)
    assert lazy == [STAMPS[k] for k in (0, 3, 4, 7)] and every == STAMPS
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")


def test_frames_drawn_one_at_a_time_are_the_frames_read_at_those_positions(tmp_path):
    """The bag's own contract, without build-map: positions drawn lazily give the frames
    a list of the same positions gives (depth late, an image not deserializable)."""
    bag = _mapping_bag(tmp_path / "bag", uncut=[4], bad_depth=[6],
                       depth_received={1: STAMPS[3] + 5})
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    want = [1, 2, 4, 6, 9]
    drawn = list(seq.frames_or_unreadable(iter(want)))
    listed = list(seq.frames_or_unreadable(want))
    assert [f.stamp_ns for f in drawn] == [STAMPS[k] for k in want]
    for a, b in zip(drawn, listed):
        assert type(a) is type(b) and a.stamp_ns == b.stamp_ns
        if isinstance(a, UnreadableFrame):
            assert a.reason == b.reason
        else:
            assert (a.rgb == b.rgb).all() and (a.depth_m == b.depth_m).all()
            assert (a.map_from_cam == b.map_from_cam).all()
    listed_poses = [seq.listed_pose_and_depth(k) for k in range(10)]
    assert all(has_depth for _, has_depth in listed_poses)
    for k, f in zip(want, drawn):  # the pose a frame is read with, its message's one included
        assert (listed_poses[k][0] == f.map_from_cam).all()


def _ros1_bag(path, bad_colour=()):
    """A ROS 1 .bag of ten rgb8 images 0.1 s apart with 16UC1 depth at their stamps and the
    camera 0.5 m further along tf each; ``bad_colour``: images whose data is cut short."""
    import numpy as np
    from test_ros1_bag import RGB, T1, H, W, _camera_info, _header, _tf, write_ros1_bag

    msgs = [("/tf_static", 1, _tf("base_link", "camera_optical", 0, [0.1, 0.0, 0.5])),
            ("/camera/color/camera_info", 1, _camera_info(STAMPS[0]))]
    for k, t in enumerate(STAMPS):
        msgs.append(("/tf", t, _tf("map", "base_link", t, [0.5 * k, 0.0, 0.0])))
        data = RGB.reshape(-1)[: 10 if k in bad_colour else None]
        msgs.append(("/camera/color/image_raw", t + 1, T1["sensor_msgs/msg/Image"](
            header=_header(t, seq=k), height=H, width=W, encoding="rgb8", is_bigendian=0,
            step=W * 3, data=data)))
        raw = np.full((H, W), 1000 + 10 * k, np.uint16)
        msgs.append((DEPTH, t + 2, T1["sensor_msgs/msg/Image"](
            header=_header(t, seq=k), height=H, width=W, encoding="16UC1", is_bigendian=0,
            step=W * 2, data=raw.view(np.uint8).reshape(-1))))
    return str(write_ros1_bag(path, msgs))


def test_a_ros1_bag_decodes_only_its_candidates_and_builds_the_same_map(tmp_path, monkeypatch,
                                                                       capsys):
    bag = _ros1_bag(tmp_path / "office.bag", bad_colour=[3, 5])
    lazy, _, _ = _build(bag, tmp_path / "lazy", monkeypatch, capsys)
    every, _, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert lazy == [STAMPS[k] for k in (0, 3, 4, 7)] and every == STAMPS
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
    assert _manifest(tmp_path / "lazy")["frames_not_read"]["count"] == 6


def _two_run_bag(path):
    """A bag whose header time jumps back: run 1 of four frames, then run 2 of ten (the
    longest, read by default) stamped as run 1 was, the camera 0.5 m further each frame
    (and 10 m off in run 1, its images in another camera frame, 1 m off the other); the JPEGs
    of run 2's frames 3 and 5 cut short."""
    from rosbags.rosbag2 import StoragePlugin
    from test_rosbag import (BASE_FROM_CAM, MS, RGB, S, camera_info, compressed, image, pose,
                             tf_message, write_bag)
    import numpy as np

    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM),
                                          ("base_link", "old_optical", 0,
                                           pose([0, 0, 0], [0, 1, 0]))])),
            ("/cam/camera_info", 0, camera_info(900 * MS))]
    for run, (frames, offset, bag0) in enumerate([(4, 10.0, 0), (10, 0.0, 20 * S)]):
        for k, t in enumerate(STAMPS[:frames]):
            msgs.append(("/tf", bag0 + t, tf_message([("map", "base_link", t,
                                                       pose([0, 0, 0], [0.5 * k + offset, 0,
                                                                        0]))])))
            jpeg = compressed(t, "jpeg", RGB[..., ::-1])
            jpeg.header.frame_id = "camera_optical" if run else "old_optical"
            if run and k in (3, 5):
                jpeg.data = jpeg.data[:20]
            msgs.append(("/cam/image/compressed", bag0 + t + 1, jpeg))
            msgs.append((DEPTH, bag0 + t + 2, image(t, "16UC1", np.full(RGB.shape[:2],
                                                                           1000 + 10 * k,
                                                                           np.uint16))))
    return str(write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])))


@pytest.mark.parametrize("run", [None, 1])
def test_a_bag_of_two_runs_decodes_the_candidates_of_the_run_read(tmp_path, monkeypatch,
                                                                  capsys, run):
    bag = _two_run_bag(tmp_path / "bag")
    extra = (*POSES, *(("--run", str(run)) if run else ()))
    lazy, _, _ = _build(bag, tmp_path / "lazy", monkeypatch, capsys, extra=extra)
    every, _, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True,
                         extra=extra)
    assert every == STAMPS[:4 if run else 10]
    assert lazy == ([STAMPS[k] for k in (0, 3)] if run else
                    [STAMPS[k] for k in (0, 3, 4, 7)])
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")


def test_the_pose_listed_is_the_pose_read_in_the_run_read(tmp_path):
    """Without a camera frame named, each frame's pose is looked up for its header frame_id
    as the indexing pass read it: of its own message, in the run read (not of the message at
    its position counted from the bag's first run)."""
    bag = _two_run_bag(tmp_path / "bag")
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map")
    frames = list(seq.frames_or_unreadable())
    assert len(frames) == 10
    for k, f in enumerate(frames):
        assert (seq.listed_pose_and_depth(k)[0] == f.map_from_cam).all(), k


def test_an_undeserializable_image_that_is_no_candidate_is_counted_unreadable(
        tmp_path, monkeypatch, capsys):
    """Frames 1 and 2 are no candidates, and their image messages cannot be deserialized:
    the indexing pass found them damaged, so they are unreadable (in unreadable_frames, in
    check-map's note), as the every-frame path counts them, not among the frames not read."""
    bag = _mapping_bag(tmp_path / "bag", uncut=[1, 2])
    lazy, _, summary = _build(bag, tmp_path / "lazy", monkeypatch, capsys)
    every, _, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
    assert lazy == [STAMPS[k] for k in (0, 3, 6, 9)]
    manifest = _manifest(tmp_path / "lazy")
    assert manifest["unreadable_frames"]["stamps_ns"] == \
        _manifest(tmp_path / "every")["unreadable_frames"]["stamps_ns"] == STAMPS[1:3]
    assert manifest["frames_not_read"]["count"] == 4  # 4, 5, 7 and 8: not known damaged
    assert "(2 unreadable, skipped; 4 not read: not keyframe candidates)" in summary, summary
    capsys.readouterr()
    assert main(["check-map", str(tmp_path / "lazy")]) == 0
    out = capsys.readouterr().out
    assert "built with 2 of 10 frames unreadable" in out and "; 4 frames not read" in out, out


def test_an_undeserializable_depth_of_a_frame_that_is_no_candidate_is_counted_unreadable(
        tmp_path, monkeypatch, capsys):
    """Frames 1 and 2 are no candidates, and the depth messages matched to them cannot be
    deserialized: the indexing pass found their depth damaged, so the frames are unreadable
    (the every-frame path's reason and stamps), not among the frames not read -- as for an
    image message that cannot be deserialized."""
    bag = _mapping_bag(tmp_path / "bag", uncut_depth=[1, 2])
    lazy, lazy_depth, summary = _build(bag, tmp_path / "lazy", monkeypatch, capsys)
    every, _, _ = _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
    assert lazy == [STAMPS[k] for k in (0, 3, 6, 9)] and len(lazy_depth) == 4
    manifest = _manifest(tmp_path / "lazy")
    assert manifest["unreadable_frames"] == _manifest(tmp_path / "every")["unreadable_frames"]
    assert manifest["unreadable_frames"]["stamps_ns"] == STAMPS[1:3]
    assert manifest["frames_not_read"]["count"] == 4  # 4, 5, 7 and 8: not known damaged
    assert "(2 unreadable, skipped; 4 not read: not keyframe candidates)" in summary, summary
    seq = BagSequence(bag, depth_topic=DEPTH, pose_frames="map:camera_optical")
    listed = seq.listed_unreadable(1)
    assert isinstance(listed, UnreadableFrame) and listed.stamp_ns == STAMPS[1]
    assert "its depth at" in listed.reason and "could not be deserialized" in listed.reason
    assert listed.map_from_cam is not None
    assert seq.listed_unreadable(0) is None and seq.listed_unreadable(3) is None
    frames = list(seq.frames_or_unreadable())
    assert listed.reason == frames[1].reason and (listed.map_from_cam ==
                                                  frames[1].map_from_cam).all()


def test_a_bag_read_through_draws_the_frames_of_the_run_read(tmp_path, monkeypatch):
    """A bag without a time index is read through when frames are drawn (`_frames_read`);
    which of its messages belong to the run read was untested there (the two-run bag is
    read by time): dropping that rule there drew run 1's images at run 2's positions."""
    from test_bag_drawn_reads import _same_frames

    from mast3r_ros.replay.rosbag import drawn

    bag = _two_run_bag(tmp_path / "bag")
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map")
    listed = list(seq.frames_or_unreadable([0, 2, 3, 6, 9]))
    monkeypatch.setattr(drawn, "_mcap_has_chunk_index", lambda path: False)
    assert not drawn.seeks_by_time(seq.path)
    _same_frames(list(seq.frames_or_unreadable(iter([0, 2, 3, 6, 9]))), listed)
