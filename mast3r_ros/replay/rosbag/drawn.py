"""build-map's frames of a bag drawn one at a time (`_DrawnFrames`, a base of
`sequence.BagSequence`): a frame's pose and depth from the indexing pass alone
(`listed_pose_and_depth`), and the frames at positions decided one frame at a time, each
decoded only when drawn (`_frames_drawn`), as `BagSequence.frames_or_unreadable` gives them:
from a rosbag2 that rosbags reads by time window without scanning it (`seeks_by_time`), or a
one-file ROS 1 bag (its index in memory: `ros1_chunks.reads_by_time`), only those frames'
messages are read, each by its receive time."""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReader

from ...core.errors import InputError
from ...core.types import Frame, RecordedFrame, UnreadableFrame
from .opening import _open_bag, bag_messages, numbered_messages
from .ros1_chunks import reads_by_time
from .sqlite_open import time_indexed


_MCAP_MAGIC = b"\x89MCAP0\r\n"


class _Recorded(NamedTuple):
    """A recorded image message (``frames_or_unreadable(recorded=...)``) queued in place of its
    frame: its header stamp (int ns) and frame_id, both from the indexing pass."""

    stamp_ns: int
    frame_id: str


class _ChunkWindows:
    """Reads of one time window from rosbags' MCAP reader at the cost of the chunks in it.

    rosbags (0.9 to 0.11) answers ``messages(start=, stop=)`` on an indexed MCAP file by
    testing every chunk of the file in Python (~0.15 us a chunk, per call), so that reading
    build-map's keyframe candidates one at a time cost (candidates x chunks): quadratic in a
    recording's length (a 20-minute bag of raw 640x480 colour and depth holds ~50 000 chunks
    of rosbags' 1 MiB; ``ros2 bag record``'s are of the same order). `narrowed` hands each MCAP
    storage only the chunks whose time range meets the window while it is read (the chunks'
    times tested at once, in numpy), the whole list restored after; rosbags applies its own
    test to those, so the messages read are the same. A storage without such a chunk list
    (sqlite3, another rosbags) is left as it is."""

    def __init__(self, reader: AnyReader) -> None:
        self._lists: list = []  # (storage, its chunks, their start times, their end times)
        for bag in getattr(reader, "readers", None) or []:
            for storage in getattr(getattr(bag, "storage", None), "storages", None) or []:
                chunks = getattr(storage, "chunks", None)
                if not isinstance(chunks, list) or not chunks:
                    continue  # no chunk index: rosbags scans the file (`seeks_by_time`)
                try:
                    starts = np.array([c.message_start_time for c in chunks], np.int64)
                    ends = np.array([c.message_end_time for c in chunks], np.int64)
                except (AttributeError, TypeError, ValueError, OverflowError):
                    continue  # another rosbags' chunk records: its own test alone
                self._lists.append((storage, chunks, starts, ends))

    @contextlib.contextmanager
    def narrowed(self, start_ns: int, stop_ns: int) -> Iterator[None]:
        """While open, each MCAP storage lists the chunks meeting [start_ns, stop_ns) (int
        ns, bag receive time), as rosbags' test takes them; at least one (an empty list
        would make rosbags scan the whole file)."""
        for storage, chunks, starts, ends in self._lists:
            keep = np.flatnonzero((starts < stop_ns) & (ends >= start_ns)).tolist()
            storage.chunks = [chunks[i] for i in keep] or chunks[:1]
        try:
            yield
        finally:
            for storage, chunks, _, _ in self._lists:
                storage.chunks = chunks


def seeks_by_time(path: Path) -> bool:
    """Whether rosbags reads the rosbag2 at ``path`` (a folder or one storage file) by time
    window without reading what lies outside it: sqlite3 (its messages' timestamp index) and
    MCAP with a chunk index in its summary (chunks outside the window are skipped). An MCAP
    without one is scanned whole on every such read, and a file-compressed bag (``.zstd``)
    is not known before rosbags decompresses it: False for them, and for anything else."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    storage = [p for p in files if p.suffix in (".mcap", ".db3", ".zstd")]
    return bool(storage) and all(p.suffix == ".db3" or (p.suffix == ".mcap" and
                                                        _mcap_has_chunk_index(p))
                                 for p in storage)


def _sqlite3_only(path: Path) -> bool:
    """Whether the rosbag2 at ``path`` (a folder or one storage file) is stored in sqlite3
    files (.db3) alone."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    storage = [p for p in files if p.suffix in (".mcap", ".db3", ".zstd")]
    return bool(storage) and all(p.suffix == ".db3" for p in storage)


def _mcap_has_chunk_index(path: Path) -> bool:
    """Whether the MCAP file's summary section (its footer's summary start, to the footer or
    the summary offsets) holds a Chunk Index record (opcode 0x08); False if unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(-37, os.SEEK_END)  # footer record (opcode, length, 2 offsets, crc), magic
            footer = f.read(37)
            if footer[-8:] != _MCAP_MAGIC or footer[0] != 0x02:
                return False
            summary_start = int.from_bytes(footer[9:17], "little")
            if not summary_start:  # no summary section
                return False
            f.seek(summary_start)
            while True:
                head = f.read(9)
                if len(head) < 9 or head[0] in (0x02, 0x0E):  # footer, summary offsets
                    return False
                if head[0] == 0x08:
                    return True
                f.seek(int.from_bytes(head[1:9], "little"), os.SEEK_CUR)
    except OSError:
        return False


class _DrawnFrames:
    """Mixin of `sequence.BagSequence`: reads its indexing pass's tables (image ordinals and
    stamps, frame ids, depth matches, run labels, undeserialized messages) and its frame
    assembly (`_frame_or_unreadable`, `_deserialize`, `_decode_depth`)."""

    def listed_pose_and_depth(self, index: int) -> Tuple[Optional[np.ndarray], bool]:
        """Frame ``index``'s (``map_from_cam`` 4x4 float64 from tf at its header stamp, or
        None; whether a depth message is matched to that stamp) from the indexing pass alone,
        its image message neither deserialized nor decoded: what build-map selects keyframe
        candidates by before it decodes a frame (`build_frames._candidate_frames`). The pose is
        the one iteration gives the frame (for an image message that cannot be deserialized:
        its `frames_or_unreadable` frame's, at its estimated stamp; None without
        ``pose_frames``), and is noted as iteration notes it (`no_pose_count`). ``index``
        0-based into `stamps_ns`. Raises what iteration raises for a ``pose_frames`` that
        cannot give poses (`InputError`, `TransformError`)."""
        ordinal = int(self._image_ordinals[index])
        stamp = int(self._image_stamps[index])
        frame_id = self._frame_id_at(ordinal) if self._frame_ids else None
        if ordinal in self._undeserialized:
            pose = self._undeserialized_frame(ordinal, frame_id).map_from_cam
        else:
            pose = self._pose(frame_id or "", stamp)
        return pose, bool(self._depth_matches(np.array([stamp], np.int64))[0] >= 0)

    def listed_unreadable(self, index: int) -> Optional[UnreadableFrame]:
        """Frame ``index``'s `UnreadableFrame` (as `frames_or_unreadable` gives it: its stamp,
        reason and pose) when the indexing pass already found that it cannot be read: its image
        message, or the depth message matched to it (the first at that stamp in the run read),
        cannot be deserialized; else None (readable, or not known before it is decoded).
        build-map counts such a frame among the unreadable ones even when it is no keyframe
        candidate (`build_frames._candidate_frames`), not among the frames not read. Raises
        what iteration raises for a ``pose_frames`` that cannot give poses."""
        ordinal = int(self._image_ordinals[index])
        frame_id = self._frame_id_at(ordinal) if self._frame_ids else None
        if ordinal in self._undeserialized:
            return self._undeserialized_frame(ordinal, frame_id)
        if not self._undeserialized_depth:
            return None
        stamp = int(self._image_stamps[index])
        d = int(self._depth_matches(np.array([stamp], np.int64))[0])
        depth_ordinal = self._lost_depth_of_run().get(d) if d >= 0 else None
        if depth_ordinal is None:
            return None
        lost = self._lost_depth(depth_ordinal, True)
        return UnreadableFrame.from_error(stamp, self._depth_error(stamp, d, lost),
                                          self._pose(frame_id or "", stamp))

    def _lost_depth_of_run(self) -> Dict[int, int]:
        """Depth stamp -> the ordinal of the depth message that cannot be deserialized and is
        the first at that stamp in the run read: the one iteration takes for the frames
        matched to that stamp (`_frames`, `_frames_sought`, `_frames_read`). Cached."""
        cached = getattr(self, "_lost_depth_cache", None)
        if cached is None:
            by_ordinal = np.asarray(self._depth_by_ordinal, dtype=np.int64)
            runs = self._run_counter.runs_of(self.depth_topic, len(by_ordinal))
            in_run = runs == self._run_label
            cached = {}
            for ordinal in sorted(self._undeserialized_depth):
                if ordinal >= len(by_ordinal) or not in_run[ordinal]:
                    continue
                stamp = int(by_ordinal[ordinal])
                first = np.flatnonzero(in_run & (by_ordinal == stamp))
                if first.size and int(first[0]) == ordinal:
                    cached[stamp] = ordinal
            self._lost_depth_cache = cached
        return cached

    def _frames_drawn(self, positions: Iterator[int]) -> Iterator[Frame | UnreadableFrame]:
        """`frames_or_unreadable` at ``positions`` drawn one at a time (ascending): the next
        position is drawn only once the frame before it has been consumed, so a caller may
        decide it from that frame (build-map's keyframe candidates). Each frame is the one
        `frames_or_unreadable` gives at its position, its depth decoded once for all the
        frames drawn that take it. A rosbag2 whose storage finds messages by time (sqlite3,
        MCAP with a chunk index: `seeks_by_time`) or a one-file ROS 1 bag
        (`ros1_chunks.reads_by_time`: an uncompressed chunk's message read alone, a compressed
        chunk decompressed once for the messages drawn in it) is read only at the messages
        drawn (`_frames_sought`); any other recording is read through up to each
        (`_frames_read`)."""
        with _open_bag(self.path) as reader:
            draw = (self._frames_sought if self._sought(reader) and not self._is_video()
                    else self._frames_read)  # a video: in order
            yield from draw(reader, positions, *self._depth_last_use())

    def _frames_listed(self, positions: List[int], recorded: FrozenSet[int]
                       ) -> Iterator[Frame | UnreadableFrame | RecordedFrame]:
        """`frames_or_unreadable` at ``positions`` (ascending, some skipped: localize's
        --stride; or none, a resumed run's at stride 1), the frames at a ``recorded`` stamp
        `RecordedFrame`: from a one-file ROS 1 bag or a sqlite3 rosbag2, read by time as
        `_frames_drawn` reads them, only the messages of the frames read are read
        (`_frames_sought`); any other recording is read through as before
        (`sequence.BagSequence._frames`), the frames the same: a video
        topic, a split ROS 1 bag, a .db3 without its time index (each message read by time
        would scan every message's time: `sqlite_open.time_indexed`), and an MCAP (rosbags
        reads a whole chunk, ~1 MiB, for each message read by time: at --stride 10 of
        640x480 JPEG and depth, 3.5x the bytes of reading the file through,
        `bench/bench_localize_stride_reads.py`)."""
        ros1 = str(self.path).lower().endswith(".bag")
        if not self._is_video() and (ros1 or _sqlite3_only(self.path)):
            with _open_bag(self.path) as reader:
                if self._sought(reader) and (ros1 or time_indexed(reader)):
                    yield from self._frames_sought(reader, iter(positions),
                                                   *self._depth_last_use(), recorded)
                    return
        yield from self._frames(skip_unreadable=True, positions=positions, recorded=recorded)

    def _sought(self, reader: AnyReader) -> bool:
        """Whether ``reader`` (of this bag, open) reads a message by its receive time alone:
        a rosbag2 that `seeks_by_time`, a one-file ROS 1 bag (`ros1_chunks.reads_by_time`)."""
        return bool((getattr(reader, "is2", False) and seeks_by_time(self.path))
                    or reads_by_time(reader))

    def _depth_last_use(self) -> Tuple[np.ndarray, Dict[int, int]]:
        """Per position its depth stamp (-1: none), and depth stamp -> the last position
        matched to it."""
        depth_of = self._depth_matches(self.stamps_ns)
        last_use: Dict[int, int] = {}
        for i, d in enumerate(depth_of.tolist()):
            if d >= 0:
                last_use[d] = i
        return depth_of, last_use

    def _frames_sought(self, reader: AnyReader, positions: Iterator[int],
                       depth_of: np.ndarray, last_use: Dict[int, int],
                       recorded: FrozenSet[int] = frozenset()
                       ) -> Iterator[Frame | UnreadableFrame | RecordedFrame]:
        """`_frames_drawn` reading each frame's image message and its depth message (the
        first of the run read at the depth stamp matched, as `_frames_read` takes it) by its
        receive time alone (`_message_at`): no other message's bytes are read, and of an MCAP
        file's chunk index only the chunks in each message's window are looked at
        (`_ChunkWindows`). A frame at a ``recorded`` stamp (a resumed run's) reads none."""
        stamps = self.stamps_ns
        first_depth: Dict[int, int] = {}  # depth stamp -> its first ordinal in the run read
        if self.depth_topic is not None:
            runs = self._run_counter.runs_of(self.depth_topic, len(self._depth_by_ordinal))
            for ordinal in np.flatnonzero(runs == self._run_label).tolist():
                first_depth.setdefault(int(self._depth_by_ordinal[ordinal]), ordinal)
        depth: Dict[int, Any] = {}  # depth stamp -> decoded depth, or its InputError
        windows = _ChunkWindows(reader)
        for want in positions:
            if not 0 <= want < len(depth_of):
                return
            d = int(depth_of[want])
            ordinal = int(self._image_ordinals[want])
            frame_id = self._frame_id_at(ordinal) if self._frame_ids else None
            if ordinal in self._undeserialized:  # unreadable whatever its depth: none read
                msg = self._undeserialized_frame(ordinal, frame_id)
            elif recorded and int(stamps[want]) in recorded:  # takes no depth either
                msg, d = _Recorded(int(stamps[want]), self._frame_id_at(ordinal)), -1
            else:
                found = self._message_at(reader, self.image_topic, ordinal, windows)
                if found is None:  # only if the bag changed between the two passes
                    return
                msg = self._receive_restamped(self._deserialize(
                    reader, found[1], found[0].msgtype, found[0].topic), found[0].topic, ordinal)
                if d >= 0 and d not in depth and d in first_depth:
                    depth_ordinal = first_depth[d]
                    if depth_ordinal in self._undeserialized_depth:
                        depth[d] = self._lost_depth(depth_ordinal, True)
                    elif (found := self._message_at(reader, self.depth_topic, depth_ordinal,
                                                    windows)) is not None:
                        depth[d] = self._drawn_depth(reader, depth_ordinal, *found)
            yield self._frame_or_unreadable(msg, d, {d: depth[d]} if d in depth else {},
                                            collections.Counter({d: 1}), True)
            for s in [s for s in depth if last_use.get(s, -1) <= want]:
                del depth[s]

    def _message_at(self, reader: AnyReader, topic: str, ordinal: int,
                    windows: Optional[_ChunkWindows] = None) -> Optional[Tuple[Any, bytes]]:
        """(connection, raw bytes) of ``topic``'s message ``ordinal`` (as the indexing pass
        numbered them), read by its receive time alone (``windows``: the reader's, to look
        only at the MCAP chunks in that time); None if the bag no longer has it."""
        bag_ns, rank = self._run_counter.received(topic, ordinal)
        with windows.narrowed(bag_ns, bag_ns + 1) if windows else contextlib.nullcontext():
            messages = bag_messages(reader, connections=reader.topics[topic].connections,
                                    start=bag_ns, stop=bag_ns + 1)
            try:
                for k, (conn, _, raw) in enumerate(messages):
                    if k == rank:
                        return conn, raw
                return None
            finally:
                messages.close()

    def _of_run_read(self, video: Any, reader: AnyReader, conn: Any, ordinal: int,
                     raw: Any) -> Any:
        """A message of a pass over the bag as the frames take it: on a video image topic, fed
        to ``video`` (every packet, in order) and returned decoded; None for a packet before
        the first keyframe or a message of a run other than the one read (`_run_label`); else
        ``raw`` as read. Both passes (`_frames_read`, `sequence.BagSequence._frames`)."""
        if video and conn.topic == self.image_topic:
            raw = self._feed_video(video, reader, conn, ordinal, raw)
            if ordinal < self._video_first_key:
                return None
        if self._run_counter.run(conn.topic, ordinal) != self._run_label:
            return None
        return raw

    def _frames_read(self, reader: AnyReader, positions: Iterator[int],
                     depth_of: np.ndarray, last_use: Dict[int, int]
                     ) -> Iterator[Frame | UnreadableFrame]:
        """`_frames_drawn` reading the bag through: the image messages read meanwhile are
        held undeserialized until their position is passed, and a depth message until no
        position left is matched to it."""
        stamps = self.stamps_ns
        images: Dict[int, Tuple[int, Any, bytes]] = {}  # position -> (ordinal, conn, raw)
        depth_raw: Dict[int, Tuple[int, Any, bytes]] = {}  # depth stamp -> its message, raw
        depth: Dict[int, Any] = {}  # depth stamp -> decoded depth, or its InputError
        topics = [t for t in (self.image_topic, self.depth_topic) if t is not None]
        conns = [c for t in topics for c in reader.topics[t].connections]
        messages = numbered_messages(reader, conns)
        video = self._video_decoder()  # every packet of a video decoded, in order
        position = -1  # of the last image of the run read, in stamps_ns
        for want in positions:
            d = int(depth_of[want]) if 0 <= want < len(stamps) else -1
            while want not in images or (d >= 0 and d not in depth_raw and d not in depth):
                item = next(messages, None)
                if item is None:  # only if the bag changed between the two passes
                    break
                conn, ordinal, raw = item
                raw = self._of_run_read(video, reader, conn, ordinal, raw)
                if raw is None:
                    continue
                if conn.topic == self.image_topic:
                    position += 1
                    if position >= want:
                        images[position] = (ordinal, conn, raw)
                    continue
                stamp = (int(self._depth_by_ordinal[ordinal])
                         if ordinal < len(self._depth_by_ordinal) else None)
                if (stamp is not None and last_use.get(stamp, -1) >= want
                        and stamp not in depth_raw and stamp not in depth):
                    depth_raw[stamp] = (ordinal, conn, raw)  # the first at its stamp
            if want not in images:
                return
            if d in depth_raw:
                depth[d] = self._drawn_depth(reader, *depth_raw.pop(d))
            ordinal, conn, raw = images.pop(want)
            frame_id = self._frame_id_at(ordinal) if self._frame_ids else None
            msg = (self._undeserialized_frame(ordinal, frame_id)
                   if ordinal in self._undeserialized
                   else self._receive_restamped(self._deserialize(
                       reader, raw, conn.msgtype, conn.topic), conn.topic, ordinal))
            yield self._frame_or_unreadable(msg, d, {d: depth[d]} if d in depth else {},
                                            collections.Counter({d: 1}), True)
            for p in [p for p in images if p <= want]:
                del images[p]
            for s in [s for s in (*depth_raw, *depth) if last_use.get(s, -1) <= want]:
                depth_raw.pop(s, None)
                depth.pop(s, None)

    def _drawn_depth(self, reader: AnyReader, ordinal: int, conn: Any, raw: bytes) -> Any:
        """The depth message ``ordinal`` (on the depth topic) decoded, or the `InputError`
        that makes the frames matched to it unreadable (as `_frames` keeps it)."""
        if ordinal in self._undeserialized_depth:
            return self._lost_depth(ordinal, True)
        msg = self._receive_restamped(self._deserialize(reader, raw, conn.msgtype, conn.topic),
                                      conn.topic, ordinal)
        try:
            return self._decode_depth(msg)
        except InputError as err:
            return err
