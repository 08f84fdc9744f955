"""A ROS 1 bag whose topics were written with different latencies (an image 0.3 s late, /tf
0.05 s late: messages stamped with their sensor's time, written as they arrived) interleaves
its chunks in bag-time order. rosbags keeps one chunk and read (and decompressed) a chunk again
each time the merged order came back to it: a whole pass over images and /tf read ~1.7x the
file. `opening.bag_messages` reads each chunk once (`ros1_chunks`): the same messages in the
same order as rosbags' ``messages`` gives them."""

from __future__ import annotations

import collections

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag1 import Writer  # noqa: E402
from rosbags.rosbag1 import reader as ros1_reader  # noqa: E402
from test_ros1_bag import MS, T1, TS1, _header, _tf  # noqa: E402

from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, opening, ros1_chunks  # noqa: E402

IMAGE = "/camera/color/image_raw"
W, H = 16, 12


def _image(t, k):
    data = np.random.default_rng(k).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return T1["sensor_msgs/msg/Image"](header=_header(t, seq=k), height=H, width=W,
                                       encoding="rgb8", is_bigendian=0, step=W * 3,
                                       data=data.reshape(-1))


def _late_bag(path, compression=None, frames=20):
    """Images every 100 ms written 300 ms after their stamp, /tf every 20 ms written 50 ms
    after, each written as it 'arrived' (its stamp + latency) with its stamp as its bag time,
    in ~2 KB chunks: bag-time order goes back and forth between chunks ~3 frames apart."""
    events = [(t + 300 * MS, "image", t, k) for k, t in
              enumerate(1000 * MS + 100 * MS * i for i in range(frames))]
    events += [(t + 50 * MS, "tf", t, k) for k, t in
               enumerate(950 * MS + 20 * MS * i for i in range(5 * frames + 10))]
    writer = Writer(path)
    writer.chunk_threshold = 2048
    if compression:
        writer.set_compression(getattr(Writer.CompressionFormat, compression))
    with writer:
        static = _tf("base_link", "camera_optical", 0, [0.1, 0.0, 0.5])
        conns = {"/tf_static": writer.add_connection("/tf_static", static.__msgtype__,
                                                     typestore=TS1)}
        writer.write(conns["/tf_static"], 900 * MS, TS1.serialize_ros1(static,
                                                                       static.__msgtype__))
        for _, kind, t, k in sorted(events):
            msg = (_image(t, k) if kind == "image" else
                   _tf("map", "base_link", t, [0.01 * k, 0.0, 0.0]))
            topic = IMAGE if kind == "image" else "/tf"
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS1)
            writer.write(conns[topic], t, TS1.serialize_ros1(msg, msg.__msgtype__))
    return path


def _counting_reads(monkeypatch):
    """A Counter of chunk reads (by the chunk's size and first bytes) from then on, of bags
    opened from then on: every chunk read goes through its compression's decompressor, which
    rosbags binds to each chunk when it opens a bag."""
    reads: collections.Counter = collections.Counter()
    for name, decompress in list(ros1_reader.decompressors.items()):
        def counting(data, decompress=decompress):
            reads[len(data), bytes(data[:64])] += 1
            return decompress(data)
        monkeypatch.setitem(ros1_reader.decompressors, name, counting)
    return reads


@pytest.mark.parametrize("compression", [None, "LZ4", "BZ2"])
def test_a_pass_over_images_and_tf_reads_each_chunk_once(tmp_path, monkeypatch, compression):
    bag = _late_bag(tmp_path / "late.bag", compression)
    reads = _counting_reads(monkeypatch)
    with opening._open_bag(bag) as reader:
        conns = [c for c in reader.connections if c.topic in (IMAGE, "/tf")]
        own = [(c.id, t, raw) for c, t, raw in reader.messages(connections=conns)]
        chunks = len(reader.readers[0].chunk_infos)
    assert sum(reads.values()) > chunks  # rosbags read some again
    reads.clear()
    with opening._open_bag(bag) as reader:
        conns = [c for c in reader.connections if c.topic in (IMAGE, "/tf")]
        got = [(c.id, t, raw) for c, t, raw in opening.bag_messages(reader, connections=conns)]
    assert got == own  # rosbags' messages, its order
    assert len(got) == 20 + 110 and chunks > 10
    assert sum(reads.values()) == len(reads) == chunks, sorted(reads.values())


def test_the_indexing_pass_reads_each_chunk_once_and_gives_the_same_poses(tmp_path,
                                                                          monkeypatch):
    bag = _late_bag(tmp_path / "late.bag")
    cam = CameraIntrinsics(W, H, [20.0, 0, 7.5, 0, 20.0, 5.5, 0, 0, 1])
    before = list(BagSequence(bag, image_topic=IMAGE, camera_info=cam,
                              pose_frames="map:camera_optical"))
    reads = _counting_reads(monkeypatch)
    seq = BagSequence(bag, image_topic=IMAGE, camera_info=cam, pose_frames="map:camera_optical")
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == [f.stamp_ns for f in before]
    assert len(frames) == 20
    for a, b in zip(frames, before):
        assert (a.rgb == b.rgb).all()
        assert np.allclose(a.map_from_cam, b.map_from_cam)
    with opening._open_bag(bag) as reader:
        chunks = len(reader.readers[0].chunk_infos)
    # the indexing pass (images, /tf, /tf_static) and the frames' pass (images): each chunk
    # read once a pass
    assert sum(reads.values()) <= 2 * chunks and set(reads.values()) <= {1, 2}, reads.values()


@pytest.mark.parametrize("keep", [1, 2**20])
def test_past_the_bytes_kept_a_chunk_is_read_again_and_the_messages_are_the_same(
        tmp_path, monkeypatch, keep):
    bag = _late_bag(tmp_path / "late.bag")
    monkeypatch.setattr(ros1_chunks, "KEEP_BYTES", keep)
    with opening._open_bag(bag) as reader:
        own = [(c.id, t, raw) for c, t, raw in reader.messages()]
        chunks = len(reader.readers[0].chunk_infos)
    reads = _counting_reads(monkeypatch)
    with opening._open_bag(bag) as reader:
        got = [(c.id, t, raw) for c, t, raw in opening.bag_messages(reader)]
    assert got == own
    assert (sum(reads.values()) > chunks) == (keep == 1), (sum(reads.values()), chunks)


def test_a_window_of_bag_time_gives_rosbags_messages(tmp_path):
    bag = _late_bag(tmp_path / "late.bag")
    with opening._open_bag(bag) as reader:
        conns = [c for c in reader.connections if c.topic in (IMAGE, "/tf")]
        for start, stop in [(1200 * MS, 1700 * MS), (None, 1100 * MS), (2500 * MS, None),
                            (1234 * MS, 1234 * MS)]:
            own = [(c.id, t, raw) for c, t, raw in
                   reader.messages(connections=conns, start=start, stop=stop)]
            got = [(c.id, t, raw) for c, t, raw in opening.bag_messages(
                reader, connections=conns, start=start, stop=stop)]
            assert got == own, (start, stop)


def test_a_rosbag2_or_a_stand_in_is_left_to_rosbags(tmp_path):
    from types import SimpleNamespace
    assert ros1_chunks.chunk_kept_messages(SimpleNamespace(readers=[object()])) is None
    assert ros1_chunks.chunk_kept_messages(SimpleNamespace()) is None
    bag = _late_bag(tmp_path / "late.bag", frames=2)
    with opening._open_bag(bag) as reader:
        stray = SimpleNamespace(id=1, owner=object())
        assert ros1_chunks.chunk_kept_messages(reader, connections=[stray]) is None
        assert ros1_chunks.chunk_kept_messages(reader) is not None
