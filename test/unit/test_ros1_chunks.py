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
    # uncompressed, the first chunk (it holds /tf_static, not asked for) is not read whole:
    # its messages asked for are read alone (`_FileSpan`)
    whole = chunks - (compression is None)
    assert sum(reads.values()) == len(reads) == whole, sorted(reads.values())


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


def test_a_closed_bags_kept_chunk_goes_with_its_file_though_its_connections_live(tmp_path):
    """A window's last decompressed chunk (`ros1_chunks._LAST`, as big as the bag's chunks)
    and its chunk records (`_INFOS`) go when the bag is closed, though the caller keeps its
    connections (rosbags' ``Connection.owner`` holds the reader): none kept per closed bag."""
    import gc
    bag = _late_bag(tmp_path / "late.bag", "LZ4", frames=4)
    gc.collect()
    before = len(ros1_chunks._LAST), len(ros1_chunks._INFOS)
    kept = []
    for _ in range(3):
        with opening._open_bag(bag) as reader:
            conns = [c for c in reader.connections if c.topic == IMAGE]
            got = list(opening.bag_messages(reader, connections=conns, start=1000 * MS,
                                            stop=1001 * MS))
            assert len(got) == 1
            kept += conns
            assert len(ros1_chunks._LAST) > before[0]  # kept while open, for the next window
    gc.collect()
    assert kept and (len(ros1_chunks._LAST), len(ros1_chunks._INFOS)) == before


def test_a_rosbag2_or_a_stand_in_is_left_to_rosbags(tmp_path):
    from types import SimpleNamespace
    assert ros1_chunks.chunk_kept_messages(SimpleNamespace(readers=[object()])) is None
    assert ros1_chunks.chunk_kept_messages(SimpleNamespace()) is None
    bag = _late_bag(tmp_path / "late.bag", frames=2)
    with opening._open_bag(bag) as reader:
        stray = SimpleNamespace(id=1, owner=object())
        assert ros1_chunks.chunk_kept_messages(reader, connections=[stray]) is None
        assert ros1_chunks.chunk_kept_messages(reader) is not None


def _field_bag(path, compression=None):
    """A field recording's shape, small: 4.8 KB images every 100 ms (bag time 30 ms after
    their stamp) with their CameraInfo, /tf every 500 ms (5 ms after), /tf_static once, in
    ~8 KB chunks: two images a chunk, /tf in one chunk of three or so."""
    from test_ros1_bag import _camera_info
    events = [(t + 30 * MS, "image", t, k) for k, t in
              enumerate(1000 * MS + 100 * MS * i for i in range(30))]
    events += [(t + 5 * MS, "tf", t, k) for k, t in
               enumerate(1000 * MS + 500 * MS * i for i in range(6))]
    writer = Writer(path)
    writer.chunk_threshold = 8192
    if compression:
        writer.set_compression(getattr(Writer.CompressionFormat, compression))
    with writer:
        conns = {}

        def write(topic, t, msg):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS1)
            writer.write(conns[topic], t, TS1.serialize_ros1(msg, msg.__msgtype__))
        write("/tf_static", 900 * MS, _tf("base_link", "camera_optical", 0, [0.1, 0.0, 0.5]))
        for bag_ns, kind, t, k in sorted(events):
            if kind == "tf":
                write("/tf", bag_ns, _tf("map", "base_link", t, [0.01 * k, 0.0, 0.0]))
                continue
            data = np.random.default_rng(k).integers(0, 256, 40 * 40 * 3, dtype=np.uint8)
            write(IMAGE, bag_ns, T1["sensor_msgs/msg/Image"](
                header=_header(t, seq=k), height=40, width=40, encoding="rgb8",
                is_bigendian=0, step=120, data=data))
            write("/camera/color/camera_info", bag_ns, _camera_info(t))
    return path


@pytest.mark.parametrize("compression", [None, "LZ4"])
def test_each_pass_and_window_gives_rosbags_messages_on_a_field_shaped_bag(tmp_path,
                                                                          compression):
    bag = _field_bag(tmp_path / "field.bag", compression)
    image_at = 1000 * MS + 100 * MS * 7 + 30 * MS  # image 7's bag time
    with opening._open_bag(bag) as reader:
        assert len(reader.readers[0].chunk_infos) > 10
        for topics in [{"/tf"}, {"/tf", "/tf_static"}, {IMAGE}, {IMAGE, "/tf"}, None]:
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            for start, stop in [(None, None), (1200 * MS, 2700 * MS), (image_at, image_at + 1),
                                (image_at + 1, image_at + 2), (None, 1500 * MS)]:
                own = [(c.id, t, raw) for c, t, raw in
                       reader.messages(connections=conns, start=start, stop=stop)]
                got = [(c.id, t, raw) for c, t, raw in opening.bag_messages(
                    reader, connections=conns, start=start, stop=stop)]
                assert got == own, (topics, start, stop)
                if topics is None and start == image_at:  # the image and its CameraInfo
                    assert len(own) == 2


def _counted_file(reader):
    """Swaps the ROS 1 reader's file for one that counts the bytes read from the file (the
    buffered reads included); returns the count (a list of one int)."""
    import io
    read = [0]

    class Counting(io.FileIO):
        def readinto(self, b):
            n = super().readinto(b)
            read[0] += n or 0
            return n
    one = reader.readers[0]
    one.bio.close()
    one.bio = io.BufferedReader(Counting(str(one.path), "rb"))
    return read


def test_a_tf_pass_over_an_uncompressed_bag_reads_the_tf_records_not_the_images(tmp_path):
    """A chunk that holds /tf holds images too: the /tf records are read alone, not their
    chunks (whose images were read before and dropped); a compressed chunk is decompressed
    whole (the LZ4 leg of the test above gives the same messages)."""
    bag = _field_bag(tmp_path / "field.bag")
    with opening._open_bag(bag) as reader:
        own = [(c.id, t, raw) for c, t, raw in reader.messages(
            connections=reader.topics["/tf"].connections)]
        one = reader.readers[0]
        with_tf = [info.pos for info in one.chunk_infos
                   if any(c.topic == "/tf" for c in one.connections
                          if c.id in info.connection_counts)]
        chunk_bytes = sum(one.chunks[pos].datasize for pos in with_tf)
        read = _counted_file(reader)
        got = [(c.id, t, raw) for c, t, raw in opening.bag_messages(
            reader, connections=reader.topics["/tf"].connections)]
    assert got == own and len(got) == 6
    assert len(with_tf) == 6 and chunk_bytes > 6 * 9000
    # one buffer's read (8 KiB at most) a /tf message, no chunk whole: less than its chunks
    assert read[0] <= 6 * 8192 < chunk_bytes, (read[0], chunk_bytes)


def test_frames_drawn_from_a_ros1_bag_read_only_their_messages(tmp_path, monkeypatch):
    """build-map's keyframe candidates, drawn one at a time (`drawn._frames_drawn`): each
    frame's image and depth message is read by its bag time from the bag's index, as a
    rosbag2's are (the bag was read through up to each before), and the frames are those a
    list of the same positions gives (an image cut short among them)."""
    from test_build_map_bag_candidates import DEPTH, _ros1_bag
    bag = _ros1_bag(tmp_path / "office.bag", bad_colour=[5])
    seq = BagSequence(bag, image_topic="/camera/color/image_raw", depth_topic=DEPTH,
                      pose_frames="map:camera_optical")
    want = [1, 5, 8]
    listed = list(seq.frames_or_unreadable(want))
    read, messages = [], ros1_chunks._messages

    def spy(*args):
        for item in messages(*args):
            read.append(item[0].topic)
            yield item
    monkeypatch.setattr(ros1_chunks, "_messages", spy)
    frames = list(seq.frames_or_unreadable(iter(want)))
    assert [f.stamp_ns for f in frames] == [f.stamp_ns for f in listed]
    for a, b in zip(frames, listed):
        assert type(a) is type(b)
        assert getattr(a, "reason", None) == getattr(b, "reason", None)
        if hasattr(a, "rgb"):
            assert (a.rgb == b.rgb).all() and (a.depth_m == b.depth_m).all()
            assert (a.map_from_cam == b.map_from_cam).all()
    assert sorted(read) == sorted(["/camera/color/image_raw"] * 3 + [DEPTH] * 3), read
