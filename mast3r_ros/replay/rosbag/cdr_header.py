"""The header stamp and frame_id of a serialized rosbag2 image message read from its first
bytes, for the indexing pass (`sequence.BagSequence._index`), which needs no more of most
image and depth messages: rosbags' full deserialization copies the message's pixel data
(~47 us for a 640x480 rgb8 Image, ~3 s over 20 minutes of 30 Hz colour and depth).

`header_only` reads ``std_msgs/Header`` (int32 sec, uint32 nanosec, string frame_id) at the
start of the CDR payload, after its 4-byte encapsulation header (0x00 0x00 big-endian, 0x00 0x01
little-endian), and walks the rest of the message's fields by their lengths (no copy) to
accept it only where rosbags would deserialize it (every string in bounds, NUL-terminated and
UTF-8, every sequence in bounds and within the typestore's maximum length, at most 3 bytes of
padding after the last field); anything else is None, and the caller deserializes the message
in full, as before (its error, its place kept: `undeserialized`). The types read so, each with
its fields in this order (`_FIELDS`), where the reader's definition of the type is rosbags'
Humble one field for field (`_same_definitions`; another definition: None):

* sensor_msgs/Image: header, uint32 height, uint32 width, string encoding, uint8 is_bigendian,
  uint32 step, uint8[] data;
* sensor_msgs/CompressedImage: header, string format, uint8[] data;
* ffmpeg_image_transport_msgs/FFMPEGPacket: header, int32 width, int32 height, string
  encoding, uint64 pts, uint8 flags, bool is_bigendian, uint8[] data;
* foxglove_msgs/CompressedVideo: builtin_interfaces/Time timestamp, string frame_id, uint8[]
  data, string format -- no Header, but its first two fields are a Header's bytes.

CameraInfo is not read so: the indexing pass needs its calibration, not its header alone.
"""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any, Dict, Optional, Tuple

from .topics import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE
from .video import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE, humble_typestore

HEADER_TYPE = "std_msgs/msg/Header"
TIME_TYPE = "builtin_interfaces/msg/Time"
# after the header (or CompressedVideo's timestamp and frame_id), each field's kind in order:
# a fixed-size number by its width in bytes, "s" a string, "b" a uint8[] sequence
_FIELDS: Dict[str, Tuple[Any, ...]] = {
    IMAGE_TYPE: (4, 4, "s", 1, 4, "b"),
    COMPRESSED_IMAGE_TYPE: ("s", "b"),
    FFMPEG_PACKET_TYPE: (4, 4, "s", 8, 1, 1, "b"),
    COMPRESSED_VIDEO_TYPE: ("b", "s"),
}
_HEAD = {"<": struct.Struct("<iI"), ">": struct.Struct(">iI")}
_U32 = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}


def _string_end(payload: memoryview, pos: int, order: str) -> Optional[Tuple[int, str]]:
    """(the position after, the text) of the CDR string at ``pos`` (4-aligned already), as
    rosbags reads it (length with its NUL, at least 1); None where rosbags would refuse it."""
    if pos + 4 > len(payload):
        return None
    size = _U32[order].unpack_from(payload, pos)[0]
    end = pos + 4 + size
    if size < 1 or end > len(payload) or payload[end - 1] != 0:
        return None
    try:
        return end, bytes(payload[pos + 4:end - 1]).decode()
    except UnicodeDecodeError:
        return None


def _fields_end(payload: memoryview, pos: int, fields: Tuple[Any, ...], order: str,
                longest: int) -> Optional[int]:
    """The position after ``fields`` (`_FIELDS`) from ``pos``, or None where a field is out
    of bounds or invalid as rosbags checks it (``longest``: its maximum sequence length)."""
    for kind in fields:
        if kind == "s" or kind == "b":
            pos = (pos + 3) & -4
            if kind == "s":
                read = _string_end(payload, pos, order)
                if read is None:
                    return None
                pos = read[0]
                continue
            if pos + 4 > len(payload):
                return None
            size = _U32[order].unpack_from(payload, pos)[0]
            pos += 4 + size
            if size > longest:
                return None
        else:
            pos = (pos + kind - 1) & -kind
            pos += kind
        if pos > len(payload):
            return None
    return pos


def head_stamp(raw: Any) -> Optional[Tuple[str, int, int]]:
    """(byte order '<' or '>', int32 sec, uint32 nanosec) from the first 12 bytes of CDR
    bytes ``raw`` whose message starts with a std_msgs/Header: the 4-byte encapsulation header
    (0x00 0x00 big-endian, 0x00 0x01 little-endian), then the stamp. None for fewer than 12
    bytes or another encapsulation; nanosec is not range-checked (rosbags does not)."""
    head = bytes(raw[:12])
    if len(head) < 12 or head[0] != 0 or head[1] not in (0, 1):
        return None
    order = "<" if head[1] == 1 else ">"
    return (order, *_HEAD[order].unpack_from(head, 4))


def read_header(raw: Any, msgtype: str, longest: int = 2 ** 32 - 1
                ) -> Optional[Tuple[int, int, str]]:
    """(header.stamp.sec, header.stamp.nanosec, header.frame_id) of the CDR bytes ``raw`` of a
    ``msgtype`` message (one of `_FIELDS`: for CompressedVideo its ``timestamp`` and
    ``frame_id``), exactly as rosbags' ``deserialize_cdr`` gives them; None where the bytes
    are not such a message as rosbags would read it (an unknown encapsulation, a length out
    of bounds, a string not NUL-terminated or not UTF-8, more than 3 bytes after the last
    field, a sequence longer than ``longest``) or ``msgtype`` is another type."""
    fields = _FIELDS.get(msgtype)
    stamp = head_stamp(raw) if fields is not None and len(raw) >= 16 else None
    if stamp is None:
        return None
    order, sec, nanosec = stamp
    payload = memoryview(raw)[4:]
    read = _string_end(payload, 8, order)
    if read is None:
        return None
    end = _fields_end(payload, read[0], fields, order, longest)
    if end is None or len(payload) - end > 3:
        return None
    return sec, nanosec, read[1]


def _fields(typestore: Any, name: str) -> Any:
    """The fields of ``name`` in ``typestore`` (rosbags' ``fielddefs``: (consts, fields))."""
    return typestore.fielddefs[name][1]


def _same_definitions(typestore: Any, msgtype: str) -> bool:
    """Whether ``typestore`` defines ``msgtype`` (and Header, Time) field for field as rosbags'
    Humble typestore (`video.humble_typestore`): what `read_header` takes it to be."""
    ref = humble_typestore()
    try:
        return all(_fields(typestore, n) == _fields(ref, n)
                   for n in (msgtype, HEADER_TYPE, TIME_TYPE))
    except (AttributeError, KeyError, IndexError, TypeError):
        return False


class HeaderReader:
    """Reads the header of a message of one bag reader (rosbags ``AnyReader``) without
    deserializing it: `header_only`. Checks once per type that the reader's definitions are
    the ones `read_header` knows; a ROS 1 bag (another serialization) is never read so."""

    def __init__(self, reader: Any) -> None:
        self._is2 = bool(getattr(reader, "is2", False))
        self._typestore = getattr(reader, "typestore", None)
        self._longest = int(getattr(self._typestore, "max_sequence_length", 2 ** 32 - 1))
        self._known: Dict[str, bool] = {}
        #: messages read by `header_only` (for tests and benches)
        self.read = 0

    def header_only(self, raw: Any, msgtype: str) -> Optional[Any]:
        """A stand-in for the message ``raw`` of ``msgtype`` holding its ``header`` alone
        (``header.stamp.sec``, ``.nanosec``, ``header.frame_id``: `read_header`), or None
        where it cannot be read so (deserialize it in full)."""
        known = self._known.get(msgtype)
        if known is None:
            known = self._known[msgtype] = (self._is2 and msgtype in _FIELDS
                                            and _same_definitions(self._typestore, msgtype))
        read = read_header(raw, msgtype, self._longest) if known else None
        if read is None:
            return None
        self.read += 1
        stamp = SimpleNamespace(sec=read[0], nanosec=read[1])
        return SimpleNamespace(header=SimpleNamespace(stamp=stamp, frame_id=read[2]))
