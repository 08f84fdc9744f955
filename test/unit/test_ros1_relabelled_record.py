"""A ROS 1 bag message record whose connection id names another connection than the one its
chunk's index lists it under, where both are asked for: rosbags yields it under the record's
connection (the index entry's is not given out), so the message was read as the other topic's
without a word. `opening.bag_messages` compares each message with the index entry it was read
for and refuses the bag in one line, as it refuses a record naming a connection not asked for."""

from __future__ import annotations

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
