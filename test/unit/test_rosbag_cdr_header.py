"""The indexing pass reads an image message's header from its CDR bytes (`cdr_header`), the
same as rosbags' deserialization gives, and deserializes in full what is not such bytes."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import MS, RGB, S, camera_info, image, write_bag  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence, sequence  # noqa: E402
from mast3r_ros.replay.rosbag.cdr_header import HeaderReader, read_header  # noqa: E402
from mast3r_ros.replay.rosbag.video import humble_typestore  # noqa: E402

TS = humble_typestore()  # Humble's types and the two video types
T = TS.types
FRAME_IDS = ["", "c", "camera_color_optical_frame" * 12, "kamera_\u00fc_\u5149"]
TYPES = ["sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage",
         "ffmpeg_image_transport_msgs/msg/FFMPEGPacket", "foxglove_msgs/msg/CompressedVideo"]


def _message(msgtype: str, frame_id: str, n: int, sec: int = 1_700_000_000,
             nanosec: int = 999_999_999):
    """A ``msgtype`` message with header (sec, nanosec, frame_id) and ``n`` data bytes."""
    stamp = T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    head = T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)
    data = np.arange(n, dtype=np.uint8)
    if msgtype == TYPES[0]:
        return T[msgtype](header=head, height=1, width=n, encoding="mono8", is_bigendian=0,
                          step=n, data=data)
    if msgtype == TYPES[1]:
        return T[msgtype](header=head, format="jpeg", data=data)
    if msgtype == TYPES[2]:
        return T[msgtype](header=head, width=4, height=2, encoding="libx264", pts=2 ** 40 + 3,
                          flags=1, is_bigendian=False, data=data)
    return T[msgtype](timestamp=stamp, frame_id=frame_id, data=data, format="h264")


def _raw(msg, little: bool) -> bytes:
    return bytes(TS.serialize_cdr(msg, msg.__msgtype__, little_endian=little))


def _rosbags_header(raw: bytes, msgtype: str):
    msg = TS.deserialize_cdr(raw, msgtype)
    head = NS(stamp=msg.timestamp, frame_id=msg.frame_id) if msgtype == TYPES[3] else msg.header
    return head.stamp.sec, head.stamp.nanosec, head.frame_id


@pytest.mark.parametrize("little", [True, False], ids=["le", "be"])
@pytest.mark.parametrize("msgtype", TYPES)
def test_the_header_read_is_rosbags_own_for_each_type_and_byte_order(msgtype, little):
    for frame_id in FRAME_IDS:
        for n in (0, 1, 3, 6):  # every padding after a field
            for sec, nanosec in ((1_700_000_000, 999_999_999), (-5, 0)):
                raw = _raw(_message(msgtype, frame_id, n, sec, nanosec), little)
                assert raw[1] == int(little)
                got = read_header(raw, msgtype)
                assert got == _rosbags_header(raw, msgtype) == (sec, nanosec, frame_id)
                assert type(got[2]) is str


@pytest.mark.parametrize("little", [True, False], ids=["le", "be"])
@pytest.mark.parametrize("msgtype", TYPES)
def test_bytes_rosbags_would_refuse_are_not_read(msgtype, little):
    """Every cut of a message, and a message one byte or four bytes too long, is read only
    where rosbags reads it too, the same (where it is not, rosbags deserializes it in full;
    refused here and read by an older rosbags is safe, so only rosbags' refusals are pinned)."""
    raw = _raw(_message(msgtype, "cam", 5), little)
    for cut in [raw[:k] for k in range(len(raw))] + [raw + b"\0", raw + b"\0" * 4]:
        got = read_header(cut, msgtype)
        try:
            expected = _rosbags_header(cut, msgtype)
        except Exception:  # noqa: BLE001 - rosbags refuses it: so must the header reader
            expected = None
        assert got == expected or (got is None and len(cut) < len(raw)), len(cut)
    assert read_header(raw[:-1], msgtype) is None  # truncated: deserialized in full, refused
    assert read_header(raw + b"\0" * 4, msgtype) is None  # not padding: another message
    assert read_header(raw + b"\0", msgtype) == _rosbags_header(raw + b"\0", msgtype)


def test_strings_and_encapsulations_rosbags_refuses_are_not_read():
    raw = bytearray(_raw(_message(TYPES[0], "cam", 4), True))
    assert read_header(bytes(raw), TYPES[0]) == (1_700_000_000, 999_999_999, "cam")
    for at, byte in [(16, 0xFF),  # frame_id not UTF-8
                     (19, ord("x")),  # frame_id not NUL-terminated
                     (12, 0),  # frame_id's length 0 (no NUL)
                     (1, 2), (0, 1)]:  # another encapsulation (PL_CDR), none
        bad = bytearray(raw)
        bad[at] = byte
        assert read_header(bytes(bad), TYPES[0]) is None, at
        with pytest.raises(Exception):  # noqa: B017 - rosbags refuses each too
            TS.deserialize_cdr(bytes(bad), TYPES[0])
    assert read_header(bytes(raw), "sensor_msgs/msg/CameraInfo") is None  # not read so


def test_another_definition_of_the_type_or_a_ros1_bag_is_deserialized_in_full():
    raw = _raw(_message(TYPES[0], "cam", 4), True)
    reader = NS(is2=True, typestore=TS)
    assert HeaderReader(reader).header_only(raw, TYPES[0]).header.frame_id == "cam"
    assert HeaderReader(NS(is2=False, typestore=TS)).header_only(raw, TYPES[0]) is None
    other = NS(fielddefs={**TS.fielddefs, TYPES[0]: ([], TS.fielddefs[TYPES[0]][1][:-1])})
    assert HeaderReader(NS(is2=True, typestore=other)).header_only(raw, TYPES[0]) is None
    short = NS(fielddefs=TS.fielddefs, max_sequence_length=3)  # rosbags' limit: 4 bytes refused
    assert HeaderReader(NS(is2=True, typestore=short)).header_only(raw, TYPES[0]) is None


def test_the_indexing_pass_deserializes_no_image_for_its_header(tmp_path, monkeypatch):
    """Of 6 colour and 6 depth images the indexing pass deserializes the first depth message
    alone (its encoding); the stamps and frame_ids are the headers', a message cut short is
    still an undeserializable one."""
    msgs = [("/cam/camera_info", 0, camera_info(1 * S))]
    for i in range(6):
        t = S + i * 100 * MS
        msgs.append(("/cam/image", t, image(t, "rgb8", RGB, frame_id=f"cam_\u00fc{i % 2}")))
        msgs.append(("/cam/depth", t + 1, image(t, "16UC1", np.full(RGB.shape[:2], 900,
                                                                     np.uint16))))
    bag = write_bag(tmp_path / "b", StoragePlugin.MCAP, msgs, corrupt={("/cam/image", S + 4e8)})
    calls = []
    real = sequence.bag_deserialize
    monkeypatch.setattr(sequence, "bag_deserialize",
                        lambda r, raw, t: calls.append(t) or real(r, raw, t))
    seq = BagSequence(bag, image_topic="/cam/image", depth_topic="/cam/depth")
    assert calls.count("sensor_msgs/msg/Image") == 2  # the first depth, the one cut short
    assert seq._headers.read == 5 + 5
    assert list(seq._undeserialized) == [4]
    assert [seq._frame_id_at(o) for o in (0, 1, 2, 3, 5)] == [f"cam_\u00fc{i % 2}"
                                                              for i in (0, 1, 2, 3, 5)]
    frames = list(seq.frames_or_unreadable())
    assert [f.stamp_ns for f in frames] == [S + i * 100 * MS for i in range(6)]


def test_the_stamp_of_the_first_12_bytes_is_read_once_for_both_readers():
    """read_header and the undeserialized-message stamp read the same first 12 bytes; the
    latter alone refuses a nanosec out of range (rosbags gives it as it is)."""
    import struct

    from mast3r_ros.replay.rosbag.cdr_header import head_stamp
    from mast3r_ros.replay.rosbag.undeserialized import header_stamp_of_cdr

    for enc, order in ((b"\x00\x01\x00\x00", "<"), (b"\x00\x00\x00\x00", ">")):
        raw = enc + struct.pack(order + "iI", 7, 250) + b"\x00" * 8
        assert head_stamp(raw) == (order, 7, 250) and header_stamp_of_cdr(raw) == 7_000_000_250
        wild = enc + struct.pack(order + "iI", 7, 10 ** 9)
        assert head_stamp(wild) == (order, 7, 10 ** 9) and header_stamp_of_cdr(wild) is None
    assert head_stamp(b"\x00\x01\x00\x00" + b"\x00" * 7) is None  # 11 bytes
    assert head_stamp(b"\x00\x02\x00\x00" + b"\x00" * 8) is None  # another encapsulation
