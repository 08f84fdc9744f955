"""localize BAG --stride N read every image message of a ROS 1 bag or a rosbag2 (the frames
skipped were counted, not decoded, but their bytes were read: ~N times the reads of the
frames localized). A one-file ROS 1 bag (read by time from its index) and a .db3 with its
time index now read only the image and depth messages of the frames localized
(`drawn._frames_listed`), a resumed run's recorded frames not even those; the frames, their
stamps, depth, poses and the run's results are the same as reading the bag through gives."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.highlevel import AnyReader  # noqa: E402
from rosbags.rosbag1 import Writer  # noqa: E402
from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_bag_max_frames_index import _bag  # noqa: E402
from test_ros1_bag import MS, RGB, T1, TS1, H, S, W, _camera_info, _header, _tf  # noqa: E402

from mast3r_ros.core.types import RecordedFrame, UnreadableFrame  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, drawn, ros1_chunks  # noqa: E402
from mast3r_ros.replay.rosbag.sequence import BagSequence as _Seq  # noqa: E402

IMAGE, DEPTH, FRAMES = "/camera/color/image_raw", "/camera/depth/image_raw", 14


def _ros1_bag(path, compression=None):
    """FRAMES rgb8 images 0.1 s apart with 16UC1 depth and /tf at their stamps, in ~1 KB
    chunks (a frame's messages a chunk or two); image 6's data cut short (unreadable)."""
    writer = Writer(path)
    writer.chunk_threshold = 1024
    if compression:
        writer.set_compression(getattr(Writer.CompressionFormat, compression))
    msgs = [("/tf_static", 1, _tf("base_link", "camera_optical", 0, [0.1, 0.0, 0.5])),
            ("/camera/color/camera_info", 1, _camera_info(S))]
    for k in range(FRAMES):
        t = S + k * 100 * MS
        msgs.append(("/tf", t, _tf("map", "base_link", t, [0.5 * k, 0.0, 0.01 * k])))
        msgs.append((IMAGE, t + 1, T1["sensor_msgs/msg/Image"](
            header=_header(t, seq=k), height=H, width=W, encoding="rgb8", is_bigendian=0,
            step=W * 3, data=RGB.reshape(-1)[: 10 if k == 6 else None])))
        raw = np.full((H, W), 1000 + 10 * k, np.uint16)
        msgs.append((DEPTH, t + 2, T1["sensor_msgs/msg/Image"](
            header=_header(t, seq=k), height=H, width=W, encoding="16UC1", is_bigendian=0,
            step=W * 2, data=raw.view(np.uint8).reshape(-1))))
    with writer:
        conns = {}
        for topic, t, msg in msgs:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS1)
            writer.write(conns[topic], t, TS1.serialize_ros1(msg, msg.__msgtype__))
    return str(path)


def _counting(monkeypatch):
    """A list of the topics of the messages read from then on: a ROS 1 bag's (`ros1_chunks`)
    and a rosbag2's (rosbags' AnyReader)."""
    read = []
    ros1, ros2 = ros1_chunks._messages, AnyReader.messages

    def spy1(*a, **k):
        for item in ros1(*a, **k):
            read.append(item[0].topic)
            yield item

    def spy2(self, *a, **k):
        for item in ros2(self, *a, **k):
            read.append(item[0].topic)
            yield item
    monkeypatch.setattr(ros1_chunks, "_messages", spy1)
    monkeypatch.setattr(AnyReader, "messages", spy2)
    return read


def _read_through(monkeypatch):
    """Makes a list of positions read the bag through, as before `_frames_listed`."""
    monkeypatch.setattr(_Seq, "_frames_listed", lambda self, positions, recorded: self._frames(
        skip_unreadable=True, positions=positions, recorded=recorded), raising=False)


def _same(a, b):
    assert [type(f) for f in a] == [type(f) for f in b]
    assert [f.stamp_ns for f in a] == [f.stamp_ns for f in b]
    for x, y in zip(a, b):
        assert (x.map_from_cam == y.map_from_cam).all()
        if isinstance(x, UnreadableFrame):
            assert x.reason == y.reason
        elif not isinstance(x, RecordedFrame):
            assert (x.rgb == y.rgb).all() and (x.depth_m == y.depth_m).all()


@pytest.mark.parametrize("kind", ["ros1", "ros1_lz4", "sqlite3", "mcap", "db3_unindexed"])
def test_a_stride_reads_only_the_frames_it_takes(tmp_path, monkeypatch, kind):
    """An MCAP (rosbags reads a chunk whole for each message read by time) and a .db3 without
    its time index (a scan of every message's time for each) are read through as before."""
    if kind.startswith("ros1"):
        bag = _ros1_bag(tmp_path / "field.bag", "LZ4" if kind.endswith("lz4") else None)
        image = IMAGE
    else:
        bag = _bag(tmp_path / "bag", stamps=[S + k * 100 * MS for k in range(FRAMES)],
                   storage=StoragePlugin.MCAP if kind == "mcap" else StoragePlugin.SQLITE3)
        image = "/cam/image_raw"
    if kind == "db3_unindexed":
        db = sqlite3.connect(next(Path(bag).glob("*.db3")))
        db.execute("DROP INDEX timestamp_idx")
        db.commit()
        db.close()
    seq = BagSequence(bag, image_topic=image, depth_topic=DEPTH if kind.startswith("ros1")
                      else "/cam/depth", pose_frames="map:camera_optical")
    if kind.startswith("ros1"):
        with drawn._open_bag(seq.path) as reader:
            assert len(reader.readers[0].chunk_infos) > 5  # a few frames a chunk
    want = range(0, FRAMES, 3)
    recorded = {int(seq.stamps_ns[3])}  # a resumed run's: not read
    read = _counting(monkeypatch)
    frames = list(seq.frames_or_unreadable(want, recorded=recorded))
    # the image and depth of the frames read, the recorded one's neither (read through:
    # every image up to the one after the last frame's, 14)
    through = kind in ("mcap", "db3_unindexed")
    assert (read.count(image), len(read) - read.count(image)) == (
        (14, 13) if through else (4, 4)), read
    _read_through(monkeypatch)
    before = list(seq.frames_or_unreadable(want, recorded=recorded))
    _same(frames, before)
    assert [f.stamp_ns for f in frames] == [S + k * 100 * MS for k in want]
    assert isinstance(frames[1], RecordedFrame)
    if kind.startswith("ros1"):  # image 6 cut short: unreadable, read as before
        assert [isinstance(f, UnreadableFrame) for f in frames] == [0, 0, 1, 0, 0]


@pytest.mark.parametrize("kind", ["ros1", "ros1_lz4", "sqlite3"])
def test_a_resumed_run_at_stride_1_reads_only_the_frames_it_has_not_recorded(
        tmp_path, monkeypatch, kind):
    """localize --resume at stride 1 read every image message through, the recorded frames'
    too (not deserialized); read by time, their messages are not read at all."""
    from mast3r_ros.replay.sources import frames_or_unreadable
    if kind.startswith("ros1"):
        bag, image, depth = _ros1_bag(tmp_path / "field.bag", "LZ4" if "lz4" in kind
                                      else None), IMAGE, DEPTH
    else:
        stamps = [S + k * 100 * MS for k in range(FRAMES)]
        bag = _bag(tmp_path / "bag", stamps=stamps, storage=StoragePlugin.SQLITE3)
        image, depth = "/cam/image_raw", "/cam/depth"
    seq = BagSequence(bag, image_topic=image, depth_topic=depth,
                      pose_frames="map:camera_optical")
    recorded = {int(t) for t in seq.stamps_ns[:8]}  # the first 8 recorded by the run resumed
    read = _counting(monkeypatch)
    frames = list(frames_or_unreadable(seq, 1, 0, recorded=recorded))
    assert (read.count(image), read.count(depth)) == (FRAMES - 8, FRAMES - 8), read
    _read_through(monkeypatch)
    del read[:]
    before = list(frames_or_unreadable(seq, 1, 0, recorded=recorded))
    assert read.count(image) == FRAMES, read  # before: read through, the recorded ones too
    _same(frames, before)
    assert [isinstance(f, RecordedFrame) for f in frames] == [1] * 8 + [0] * (FRAMES - 8)


def _results(run):
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("timings_s", None)
    return rows


def test_localize_with_a_stride_reads_its_frames_alone_with_the_same_results(
        tmp_path, sift_map, monkeypatch):
    bag = _ros1_bag(tmp_path / "field.bag", "LZ4")

    def localize(out):
        assert main(["localize", bag, "--map", sift_map, "--out", str(out), "--matcher",
                     "sift", "--pose-frames", "map", "--stride", "3", "--log-level",
                     "warning"]) == 0
        return _results(out)
    read = _counting(monkeypatch)
    new = localize(tmp_path / "new")
    taken = read.count(IMAGE)
    _read_through(monkeypatch)
    del read[:]
    old = localize(tmp_path / "old")
    assert new == old and len(new) == len(range(0, FRAMES, 3))
    assert [r["stamp_ns"] for r in new] == [S + k * 100 * MS for k in range(0, FRAMES, 3)]
    # read through: every image up to the one after the last localized (12), all 14; now
    # the 5 localized alone (the indexing pass's reads, the same, aside)
    assert read.count(IMAGE) - taken == 14 - 5, read
