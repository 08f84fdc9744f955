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

An uncompressed chunk that holds messages not asked for (a /tf pass: every chunk holds images
too) is not read whole: each message asked for is read alone, from the file (`_FileSpan`),
so a pass over /tf reads the /tf records, not the images between them; a compressed chunk
can only be decompressed whole. A read of a time window (``start=``: build-map's frames
drawn by receive time, `drawn._frames_sought`) starts at the window in each connection's
index (binary search, not a walk from the bag's start) and keeps the last compressed chunk
it read for the next window (`_LAST`): an image and its depth share one.

Only for a one-file ROS 1 bag read by a rosbags whose reader holds what this uses (its index
entries, chunk records and file); anything else (a rosbag2, another rosbags) is left to
rosbags' own ``messages`` (None here)."""

from __future__ import annotations

import bisect
import collections
import heapq
import io
import operator
import os
import weakref
from collections.abc import Iterator
from typing import Any, Dict, List, Optional, Tuple

try:  # rosbags' ROS 1 reader and its record helpers (0.9 to 0.11 name them so)
    from rosbags.rosbag1 import reader as _ros1
    _HELPERS = all(hasattr(_ros1, n) for n in ("Header", "RecordType", "ReaderError",
                                               "read_uint32", "read_bytes"))
    _NONE = _ros1.decompressors.get("none") if _HELPERS else None  # rosbags' own, at import
except ImportError:  # pragma: no cover - rosbags without a ROS 1 reader
    _ros1, _HELPERS, _NONE = None, False, None

# decompressed chunks kept at once, at most (bytes): a ROS 1 chunk is 768 KiB (rosbag record)
# or 1 MiB (rosbags) by default, so ~100 of them: seconds of a recording's bag time, the spread
# of its topics' latencies
KEEP_BYTES = 128 * 2**20
# per open ROS 1 reader, keyed by its open file (``bio``, which rosbags drops at ``close``: a
# closed bag's connections hold their reader, ``Connection.owner``, not its file): its chunk
# records by position, and the last compressed chunk a window read (``start=``) decompressed,
# (position, stream), for the next window's
_INFOS: weakref.WeakKeyDictionary[Any, Dict[int, Any]] = weakref.WeakKeyDictionary()
_LAST: weakref.WeakKeyDictionary[Any, Tuple[int, io.BytesIO]] = weakref.WeakKeyDictionary()


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


def reads_by_time(reader: Any) -> bool:
    """Whether ``reader`` (an open ``AnyReader``) is a one-file ROS 1 bag that
    `chunk_kept_messages` reads by time window from its index, reading only the messages in
    the window (the chunks they lie in, when compressed)."""
    return _ros1_reader(reader, None) is not None


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


def _infos(one: Any) -> Dict[int, Any]:
    """The bag's chunk records (``ChunkInfo``) by their chunk's position; cached per open
    file of the reader."""
    infos = _INFOS.get(one.bio)
    if infos is None:
        infos = _INFOS[one.bio] = {info.pos: info for info in one.chunk_infos}
    return infos


def _uncompressed(record: Any) -> bool:
    """Whether the chunk ``record`` (rosbags' ``Chunk``) is stored uncompressed: its
    decompressor is rosbags' 'none' one (the one it binds when it opens a bag)."""
    return record.decompressor is _NONE or record.decompressor is _ros1.decompressors.get(
        "none")


class _FileSpan:
    """``read`` and ``seek`` (from the current place) over the file bytes [pos, end) of an
    uncompressed chunk, through the reader's buffered file (its buffer's size, a few KiB, or
    the record's, whichever is more): one message's record read without its chunk."""

    def __init__(self, bio: Any, pos: int, end: int) -> None:
        self.bio, self.pos, self.end = bio, pos, end

    def read(self, size: int) -> bytes:
        size = max(0, min(size, self.end - self.pos))
        self.bio.seek(self.pos)
        data = self.bio.read(size)
        self.pos += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_CUR:  # pragma: no cover - the record parser seeks forward only
            raise ValueError("a record span seeks from its current place only")
        self.pos += offset
        return self.pos


class _Kept:
    """The decompressed chunks kept (position -> stream over its bytes), least recently used
    first, with their end times (bag time ns past their last message) and how many of their
    messages asked for are not yet yielded."""

    def __init__(self, one: Any, connections: List[Any], window: bool) -> None:
        self.one = one
        self.streams: collections.OrderedDict = collections.OrderedDict()
        self.sizes: dict = {}
        self.size = 0
        self.ids = {c.id for c in connections}
        self.infos = _infos(one)
        self.left: Dict[int, int] = {}  # position -> messages asked for not yet yielded
        self.alone: Dict[int, bool] = {}  # position -> its messages read alone (`_FileSpan`)
        self.window = window

    def _count(self, pos: int) -> None:
        """Note the messages asked for in the chunk at ``pos`` (its chunk record's counts),
        and whether they are read alone: an uncompressed chunk holding others too."""
        counts = self.infos[pos].connection_counts
        self.left[pos] = wanted = sum(n for conn, n in counts.items() if conn in self.ids)
        self.alone[pos] = (wanted < sum(counts.values())
                           and _uncompressed(self.one.chunks[pos]))

    def record(self, pos: int, offset: int, time_ns: int) -> Any:
        """A stream at the record at ``offset`` of the chunk at ``pos`` (for a message at bag
        time ``time_ns``): the chunk decompressed and kept, or the file (`_FileSpan`)."""
        if pos not in self.alone:
            self._count(pos)
        if self.alone[pos]:
            record = self.one.chunks[pos]
            return _FileSpan(self.one.bio, record.datapos + offset,
                             record.datapos + record.datasize)
        stream = self.stream(pos, time_ns)
        stream.seek(offset)
        return stream

    def stream(self, pos: int, time_ns: int) -> io.BytesIO:
        """The decompressed chunk at ``pos`` (a stream over its bytes): kept, or read now
        (rosbags' errors for a chunk it cannot read), for a message at bag time ``time_ns``."""
        stream = self.streams.get(pos)
        if stream is not None:
            self.streams.move_to_end(pos)
            return stream
        last = _LAST.get(self.one.bio) if self.window else None
        if last is not None and last[0] == pos:
            return last[1]  # the last window's: not counted among those kept (never closed)
        for done in [p for p in self.streams if self.infos[p].end_time <= time_ns]:
            self._drop(done)  # bag time is past its last message: nothing more of it comes
        record = self.one.chunks[pos]
        self.one.bio.seek(record.datapos)
        data = record.decompressor(_ros1.read_bytes(self.one.bio, record.datasize))
        stream = io.BytesIO(data)  # no copy of ``data``
        if self.window:  # kept for the next window instead
            _LAST[self.one.bio] = (pos, stream)
            return stream
        self.streams[pos] = stream
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
        if pos not in self.left:
            self._count(pos)
        self.left[pos] -= 1
        if self.left[pos] <= 0 and pos in self.streams:
            self._drop(pos)


def _from(index: list, start: Optional[int]) -> Iterator[Any]:
    """The entries of a connection's sorted ``index`` from bag time ``start`` on (binary
    search: the entries before it are not walked)."""
    if start is None:
        return iter(index)
    first = bisect.bisect_left(index, start, key=operator.attrgetter("time"))
    return (index[k] for k in range(first, len(index)))


def _messages(one: Any, connections: List[Any], indexes: List[list], start: Optional[int],
              stop: Optional[int]) -> Iterator[Tuple[Any, int, bytes]]:
    by_id = {c.id: c for c in one.connections}
    kept = _Kept(one, connections, window=start is not None)
    header_of, uint32 = _ros1.Header.read, _ros1.read_uint32
    msgdata, connection_op = _ros1.RecordType.MSGDATA, _ros1.RecordType.CONNECTION
    try:
        for entry in heapq.merge(*(_from(index, start) for index in indexes)):
            if stop is not None and entry.time >= stop:
                return
            stream = kept.record(entry.chunk_pos, entry.offset, entry.time)
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
