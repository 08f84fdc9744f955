"""build-map's second pass over a rosbag2 reads only the messages of the frames it draws (its
keyframe candidates): sqlite3 and an MCAP with a chunk index are read by each message's
receive time (rosbags' ``messages(start=, stop=)``), so the image and depth messages between
two candidates are not even read, and the frames are those a list of the same positions
gives. A recording rosbags cannot read by time without scanning it whole (an MCAP without a
chunk index) is read through as before (a ROS 1 bag is read by time from its index:
`test_ros1_chunks`)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.highlevel import AnyReader  # noqa: E402
from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_build_map_bag_candidates import _build  # noqa: E402
from test_build_map_candidates import _content  # noqa: E402
from test_build_map_unreadable import CAM, DEPTH, STAMPS, _mapping_bag  # noqa: E402
from test_rosbag import (H, MS, RGB, TS, W, camera_info, compressed, image, pose,  # noqa: E402
                         tf_message, write_bag)

from mast3r_ros.core.types import UnreadableFrame  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, drawn  # noqa: E402


def _counting(monkeypatch):
    """A list that grows by one per message rosbags' AnyReader yields from then on."""
    read = []
    messages = AnyReader.messages

    def spy(self, *a, **k):
        for item in messages(self, *a, **k):
            read.append(item[0].topic)
            yield item
    monkeypatch.setattr(AnyReader, "messages", spy)
    return read


def _same_frames(drawn_frames, listed):
    assert [f.stamp_ns for f in drawn_frames] == [f.stamp_ns for f in listed]
    for a, b in zip(drawn_frames, listed):
        assert type(a) is type(b)
        if isinstance(a, UnreadableFrame):
            assert a.reason == b.reason
        else:
            assert (a.rgb == b.rgb).all() and (a.depth_m == b.depth_m).all()
            assert (a.map_from_cam == b.map_from_cam).all()


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3],
                         ids=["mcap", "sqlite3"])
def test_only_the_drawn_frames_messages_are_read(tmp_path, monkeypatch, storage):
    # depth 3 received with depth 4 (the same bag time: told apart by their order), image 5
    # not deserializable (not read at all), depth 7's data cut short (its frame unreadable)
    bag = _mapping_bag(tmp_path / "bag", uncut=[5], bad_depth=[7],
                       depth_received={3: STAMPS[4] + 2}, storage=storage)
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    assert drawn.seeks_by_time(seq.path)
    want = [3, 4, 5, 7, 8]
    listed = list(seq.frames_or_unreadable(want))
    read = _counting(monkeypatch)
    frames = list(seq.frames_or_unreadable(iter(want)))
    _same_frames(frames, listed)
    assert [f.stamp_ns for f in frames] == [STAMPS[k] for k in want]
    assert isinstance(frames[2], UnreadableFrame) and isinstance(frames[3], UnreadableFrame)
    # 4 images (5 is known undeserializable: neither it nor its depth read) and 5 depth
    # messages (depth 4 found second of the two at its receive time): nothing else
    assert sorted(read) == sorted(["/cam/image/compressed"] * 4 + [DEPTH] * 5), read


@pytest.mark.parametrize("storage,seeks", [(StoragePlugin.MCAP, True),
                                           (StoragePlugin.SQLITE3, True),
                                           (StoragePlugin.MCAP, False)],
                         ids=["mcap", "sqlite3", "read_through"])
def test_a_sim_time_bag_from_stamp_0_reads_the_depth_stamped_0(tmp_path, monkeypatch, capsys,
                                                               storage, seeks):
    """A sim-time bag starting at t=0 (Gazebo, Isaac): its first image and depth are stamped
    exactly 0 ns, a depth stamp like any other (-1 means none), so that frame is a keyframe
    candidate read with its depth, and the map is the one every frame decoded gives."""
    stamps = [k * 100 * MS for k in range(10)]
    bag = _mapping_bag(tmp_path / "bag", storage=storage, stamps=stamps)
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    assert drawn.seeks_by_time(seq.path) and seq.stamps_ns[0] == 0
    if not seeks:  # read through (`_frames_read`), as an MCAP without a chunk index is
        monkeypatch.setattr(drawn, "_mcap_has_chunk_index", lambda path: False)
    colour, depths, summary = _build(bag, tmp_path / "lazy", monkeypatch, capsys)
    assert colour == depths == [stamps[k] for k in (0, 3, 6, 9)], (colour, depths)
    assert ": 4 keyframes from 10 frames; " in summary, summary
    _build(bag, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3],
                         ids=["mcap", "sqlite3"])
def test_of_two_depth_messages_at_one_stamp_the_first_is_drawn(tmp_path, storage):
    """A depth stamp sent twice (a driver's repeat): a frame drawn takes the first message
    at that stamp, as the frames listed take it, not the second (5 m deep)."""
    bag = _mapping_bag(tmp_path / "bag", storage=storage, repeated_depth=[0, 4])
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    assert drawn.seeks_by_time(seq.path)
    listed = list(seq.frames_or_unreadable([0, 4, 6]))
    frames = list(seq.frames_or_unreadable(iter([0, 4, 6])))
    _same_frames(frames, listed)
    assert [float(f.depth_m.max()) for f in frames] == pytest.approx([1.0, 1.04, 1.06])


def test_a_drawn_position_past_the_end_ends_the_frames(tmp_path):
    bag = _mapping_bag(tmp_path / "bag")
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    assert [f.stamp_ns for f in seq.frames_or_unreadable(iter([8, 10, 11]))] == [STAMPS[8]]


def test_an_mcap_without_a_chunk_index_is_read_through(tmp_path, monkeypatch):
    """rosbags scans an MCAP without a chunk index whole on every read by time: such a
    file is read once, through, as before, and gives the same frames."""
    bag = _mapping_bag(tmp_path / "bag", depth_received={3: STAMPS[4] + 2})
    seq = BagSequence(bag, image_topic="/cam/image/compressed", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    mcap = next(seq.path.glob("*.mcap"))
    assert drawn._mcap_has_chunk_index(mcap)
    listed = list(seq.frames_or_unreadable([2, 6]))
    monkeypatch.setattr(drawn, "_mcap_has_chunk_index", lambda path: False)
    assert not drawn.seeks_by_time(seq.path)
    read = _counting(monkeypatch)
    _same_frames(list(seq.frames_or_unreadable(iter([2, 6]))), listed)
    assert len(read) > 4  # every image and depth message up to frame 6's


def test_a_chunk_index_is_found_only_in_an_mcap_summary(tmp_path):
    magic = b"\x89MCAP0\r\n"

    def footer(summary_start):
        return (b"\x02" + (20).to_bytes(8, "little") + summary_start.to_bytes(8, "little")
                + bytes(12) + magic)
    header = magic + b"\x01" + (4).to_bytes(8, "little") + bytes(4)
    chunk_index = b"\x08" + (3).to_bytes(8, "little") + b"abc"
    stats = b"\x0b" + (2).to_bytes(8, "little") + b"xy"
    cases = {"no_summary.mcap": (header + footer(0), False),
             "stats_only.mcap": (header + stats + footer(len(header)), False),
             "indexed.mcap": (header + stats + chunk_index + footer(len(header)), True),
             "cut.mcap": (header + stats[:5], False),
             # a chunk index only after the summary offsets (0x0e) ends the summary; the
             # last record not a footer (0x02): no summary start to trust
             "after_offsets.mcap": (header + stats + b"\x0e" + (1).to_bytes(8, "little")
                                    + b"z" + chunk_index + footer(len(header)), False),
             "no_footer.mcap": (header + stats + chunk_index
                                + b"\x03" + footer(len(header))[1:], False)}
    for name, (data, indexed) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert drawn._mcap_has_chunk_index(tmp_path / name) is indexed, name
    assert not drawn.seeks_by_time(tmp_path / "no_summary.mcap")
    assert drawn.seeks_by_time(tmp_path / "indexed.mcap")
    (tmp_path / "office.bag").write_bytes(b"#ROSBAG V2.0\n")
    assert not drawn.seeks_by_time(tmp_path / "office.bag")
    folder = tmp_path / "zstd_bag"
    folder.mkdir()
    (folder / "metadata.yaml").write_text("{}")
    (folder / "bag_0.mcap.zstd").write_bytes(b"")
    assert not drawn.seeks_by_time(folder)


def test_each_drawn_message_looks_at_the_mcap_chunks_of_its_time_alone(tmp_path, monkeypatch):
    """rosbags tests every chunk of an MCAP file in Python for each read by time: build-map's
    candidates, read one at a time, cost (candidates x chunks), quadratic in a recording's
    length. A heavy topic nothing reads (a point cloud) makes one chunk per frame here; each
    message drawn is read with the chunks of its window alone, and the frames are the same."""
    from rosbags.rosbag2.storage_mcap import McapReader
    stamps = [k * 100 * MS for k in range(1, 13)]
    cloud = TS.types["std_msgs/msg/ByteMultiArray"]
    layout = TS.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, np.eye(4))])),
            ("/cam/camera_info", 0, camera_info(900 * MS))]
    for k, t in enumerate(stamps):
        msgs += [("/tf", t, tf_message([("map", "base_link", t, pose([0, 0, 0], [k, 0, 0]))])),
                 (CAM, t + 1, compressed(t, "jpeg", RGB[..., ::-1])),
                 (DEPTH, t + 2, image(t, "16UC1", np.full((H, W), 1000, np.uint16))),
                 ("/points", t + 3, cloud(layout=layout, data=np.zeros(2**20, np.uint8)))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, pose_frames="map:camera_optical")
    assert drawn.seeks_by_time(seq.path)
    listed = list(seq.frames_or_unreadable([0, 5, 11]))
    looked_at, messages = [], McapReader.messages

    def spy(self, connections, start=None, stop=None):
        looked_at.append(len(self.chunks))
        return messages(self, connections, start, stop)
    monkeypatch.setattr(McapReader, "messages", spy)
    frames = list(seq.frames_or_unreadable(iter([0, 5, 11])))
    _same_frames(frames, listed)
    with drawn._open_bag(seq.path) as reader:
        chunks = len(reader.readers[0].storage.storages[0].chunks)
    assert chunks >= 12 and len(looked_at) == 6, (chunks, looked_at)  # 3 images, 3 depth
    assert max(looked_at) <= 2, looked_at
