"""A ROS 1 bag message record whose connection id names another connection than the one its
chunk's index lists it under, where both are asked for: rosbags yields it under the record's
connection (the index entry's is not given out), so the message was read as the other topic's
without a word. `opening.bag_messages` compares each message with the index entry it was read
for and refuses the bag in one line, as it refuses a record naming a connection not asked for."""

from __future__ import annotations

import collections
import struct

import pytest

from test_fuzz_reader_regressions import _refused, _ros1_bag, _ros1_records, _set_uint32


def _conns(data, records):
    out = {}
    for op, f in records:
        if op == 7:
            at, size = f["topic"]
            out[data[at:at + size].decode()] = struct.unpack_from("<I", data, f["conn"][0])[0]
    return out


@pytest.mark.parametrize("source, target", [
    ("/camera/color/image_raw", "/camera/color/camera_info"),
    ("/camera/color/camera_info", "/camera/color/image_raw")])
def test_a_record_relabelled_to_another_asked_connection_is_refused(tmp_path, source, target):
    data = _ros1_bag(tmp_path)
    records = _ros1_records(data)
    conns = _conns(data, records)
    record = next(f for op, f in records if op == 2 and struct.unpack_from(
        "<I", data, f["conn"][0])[0] == conns[source])
    data = _set_uint32(data, record["conn"][0], conns[target])
    _refused(tmp_path, data, rf"a message of topic {target} \(sensor_msgs/msg/\w+\) is "
                             rf"indexed under topic {source}'s connection: the file is "
                             r"damaged; copy it again, or 'rosbag reindex ")


def _fake_reader(yielded):
    """A one-file ROS 1 reader stand-in: two connections indexed at the same two times, and
    ``messages`` yielding ``yielded`` ((connection number, time) pairs) as given."""
    from types import SimpleNamespace

    inner = SimpleNamespace(indexes={})
    conns = {n: SimpleNamespace(id=n, topic=f"/t{n}", msgtype="std_msgs/msg/Empty", owner=inner)
             for n in (2, 3)}
    entry = collections.namedtuple("IndexData", "time chunk_pos offset")
    inner.indexes = {n: [entry(10, 0, 0), entry(20, 0, 0)] for n in conns}
    def messages(**kwargs):  # a generator, as rosbags' (bag_messages closes it)
        yield from [(conns[n], t, b"") for n, t in yielded]

    return SimpleNamespace(readers=[inner], paths=["x.bag"], messages=messages), list(
        conns.values())


@pytest.mark.parametrize("yielded", [
    [(2, 10), (3, 10), (2, 20), (3, 20)],
    [(3, 10), (2, 10), (3, 20), (2, 20)]])  # ties in either order: rosbags' versions differ
def test_messages_at_one_stamp_pass_in_any_order(yielded):
    from mast3r_ros.replay.rosbag.opening import bag_messages

    reader, conns = _fake_reader(yielded)
    assert [(m[0].id, m[1]) for m in bag_messages(reader, connections=conns)] == yielded


def test_a_relabelled_record_at_a_shared_stamp_names_the_entry_it_left():
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.rosbag.opening import bag_messages

    reader, conns = _fake_reader([(3, 10), (3, 10), (2, 20), (3, 20)])
    with pytest.raises(InputError, match=r"after 1 messages .* topic /t3 \(.*\) is indexed under "
                                         r"topic /t2's connection"):
        list(bag_messages(reader, connections=conns))
