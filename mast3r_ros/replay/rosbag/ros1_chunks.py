"""A ROS 1 bag's messages with each chunk read once (`chunk_kept_messages`).

rosbags' ROS 1 reader (0.9 to 0.11) yields the messages asked for in bag-time order, merged
from the per-connection indexes, and keeps one decompressed chunk: each time the next message
lies in another chunk than the last one's, it reads (and decompresses) that chunk again. In a
bag whose bag times are not quite in write order (an image written with a bag time a few ms
later than that of /tf messages written after it), a chunk that ends with such an image (the
large write that fills it) is read for the /tf before the image, then the next chunk for the
/tf written after it, then the first again for the image, then the next again: localize's
indexing pass over a 3.5 GB bag read 5.9 GB (`bench/bench_ros1_chunks.py`). Here each chunk
read is kept until the messages asked for in it are all yielded (the chunk's count of them,
from the bag's chunk records; or once bag time passes the chunk's end), up to `KEEP_BYTES` of
decompressed chunks (the least recently used dropped past that, to be read again if needed):
the same messages, in the same order, read once a chunk.

Only for a one-file ROS 1 bag read by a rosbags whose reader holds what this uses (its index
entries, chunk records and file); anything else (a rosbag2, another rosbags) is left to
rosbags' own ``messages`` (None here)."""

from __future__ import annotations

import collections
import heapq
import io
import os
from collections.abc import Iterator
from typing import Any, List, Optional, Tuple

try:  # rosbags' ROS 1 reader and its record helpers (0.9 to 0.11 name them so)
    from rosbags.rosbag1 import reader as _ros1
    _HELPERS = all(hasattr(_ros1, n) for n in ("Header", "RecordType", "ReaderError",
                                               "read_uint32", "read_bytes"))
except ImportError:  # pragma: no cover - rosbags without a ROS 1 reader
    _ros1, _HELPERS = None, False

# decompressed chunks kept at once, at most (bytes): a ROS 1 chunk is 768 KiB (rosbag record)
# or 1 MiB (rosbags) by default, so ~100 of them: seconds of a recording's bag time, the spread
# of its topics' latencies
KEEP_BYTES = 128 * 2**20


def _ros1_reader(reader: Any, asked: Optional[List[Any]]) -> Any:
    """The rosbags ROS 1 reader of ``reader`` (an open ``AnyReader``) that owns every asked
    connection, or None (several files, a rosbag2, another rosbags, not open)."""
    readers = getattr(reader, "readers", None)
    if not _HELPERS or not isinstance(readers, list) or len(readers) != 1:
        return None
    one = readers[0]
    if not isinstance(one, _ros1.Reader) or getattr(one, "bio", None) is None:
        return None
    if not all(isinstance(getattr(one, n, None), t) for n, t in (
            ("indexes", dict), ("chunks", dict), ("chunk_infos", list),
            ("connections", list))):
        return None
    if asked and any(getattr(c, "owner", None) is not one for c in asked):
        return None
    return one


def chunk_kept_messages(reader: Any, connections: Optional[List[Any]] = None,
                        start: Optional[int] = None, stop: Optional[int] = None
                        ) -> Optional[Iterator[Tuple[Any, int, bytes]]]:
    """``reader.messages(connections=, start=, stop=)`` of a one-file ROS 1 bag (module
    docstring) with each chunk read once: (connection, bag time ns, raw bytes), the same
    tuples in the same order as rosbags', its errors raised as its reader raises them. None
    where rosbags' own ``messages`` must be used."""
    one = _ros1_reader(reader, connections)
    if one is None:
        return None
    if not connections:
        connections = one.connections
    try:
        indexes = [one.indexes[c.id] for c in connections]
    except (KeyError, AttributeError, TypeError):
        return None
    return _messages(one, connections, indexes, start, stop)


def _left_per_chunk(one: Any, connections: List[Any]) -> collections.Counter:
    """How many messages of ``connections`` each chunk holds (by its position in the file),
    from the bag's chunk records."""
    ids = {c.id for c in connections}
    left: collections.Counter = collections.Counter()
    for info in one.chunk_infos:
        left[info.pos] = sum(n for conn, n in info.connection_counts.items() if conn in ids)
    return left


class _Kept:
    """The decompressed chunks kept (position -> stream over its bytes), least recently used
    first, with their end times (bag time ns past their last message) and how many of their
    messages asked for are not yet yielded."""

    def __init__(self, one: Any, connections: List[Any]) -> None:
        self.one = one
        self.streams: collections.OrderedDict = collections.OrderedDict()
        self.sizes: dict = {}
        self.size = 0
        self.left = _left_per_chunk(one, connections)
        self.ends = {info.pos: info.end_time for info in one.chunk_infos}

    def stream(self, pos: int, time_ns: int) -> io.BytesIO:
        """The decompressed chunk at ``pos`` (a stream over its bytes): kept, or read now
        (rosbags' errors for a chunk it cannot read), for a message at bag time ``time_ns``."""
        stream = self.streams.get(pos)
        if stream is not None:
            self.streams.move_to_end(pos)
            return stream
        for done in [p for p in self.streams if self.ends.get(p, 0) <= time_ns]:
            self._drop(done)  # bag time is past its last message: nothing more of it comes
        record = self.one.chunks[pos]
        self.one.bio.seek(record.datapos)
        data = record.decompressor(_ros1.read_bytes(self.one.bio, record.datasize))
        stream = self.streams[pos] = io.BytesIO(data)  # no copy of ``data``
        self.sizes[pos] = len(data)
        self.size += len(data)
        while self.size > KEEP_BYTES and len(self.streams) > 1:
            self._drop(next(iter(self.streams)))
        return stream

    def _drop(self, pos: int) -> None:
        self.streams.pop(pos).close()
        self.size -= self.sizes.pop(pos)

    def yielded(self, pos: int) -> None:
        """One message of the chunk at ``pos`` yielded (or passed over, before ``start``): a
        chunk with none left to yield is dropped."""
        self.left[pos] -= 1
        if self.left[pos] <= 0 and pos in self.streams:
            self._drop(pos)


def _messages(one: Any, connections: List[Any], indexes: List[list], start: Optional[int],
              stop: Optional[int]) -> Iterator[Tuple[Any, int, bytes]]:
    by_id = {c.id: c for c in one.connections}
    kept = _Kept(one, connections)
    header_of, uint32 = _ros1.Header.read, _ros1.read_uint32
    msgdata, connection_op = _ros1.RecordType.MSGDATA, _ros1.RecordType.CONNECTION
    try:
        for entry in heapq.merge(*indexes):
            if start is not None and entry.time < start:
                kept.yielded(entry.chunk_pos)  # never read: done with
                continue
            if stop is not None and entry.time >= stop:
                return
            stream = kept.stream(entry.chunk_pos, entry.time)
            stream.seek(entry.offset)
            while True:  # connection records may precede the message's
                header = header_of(stream)
                op = header.get_uint8("op")
                if op != connection_op:
                    break
                stream.seek(uint32(stream), os.SEEK_CUR)
            if op != msgdata:
                raise _ros1.ReaderError("Expected to find message data.")
            raw = _ros1.read_bytes(stream, uint32(stream))
            connection = by_id[header.get_uint32("conn")]
            if entry.time != header.get_time("time"):  # a damaged chunk or index: refused
                raise _ros1.ReaderError("a message's time is not its index entry's")
            # done with before the yield: a chunk whose last message this is goes now
            kept.yielded(entry.chunk_pos)
            yield connection, entry.time, raw
    finally:
        for pos in list(kept.streams):
            kept._drop(pos)
