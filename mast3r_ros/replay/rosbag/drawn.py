"""build-map's frames of a bag drawn one at a time (`_DrawnFrames`, a base of
`sequence.BagSequence`): a frame's pose and depth from the indexing pass alone
(`listed_pose_and_depth`), and the frames at positions decided one frame at a time, each
decoded only when drawn (`_frames_drawn`), as `BagSequence.frames_or_unreadable` gives them."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any, Dict, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReader

from ...core.errors import InputError
from ...core.types import Frame, UnreadableFrame
from .opening import _open_bag, numbered_messages


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

    def _frames_drawn(self, positions: Iterator[int]) -> Iterator[Frame | UnreadableFrame]:
        """`frames_or_unreadable` at ``positions`` drawn one at a time (ascending): the next
        position is drawn only once the frame before it has been consumed, so a caller may
        decide it from that frame (build-map's keyframe candidates). Each frame is the one
        `frames_or_unreadable` gives at its position: the image messages read meanwhile are
        held undeserialized until their position is passed, and a depth message until no
        position left is matched to it, decoded only when a frame drawn takes it (once)."""
        stamps = self.stamps_ns
        depth_of = self._depth_matches(stamps)  # per position: its depth stamp, -1 none
        last_use: Dict[int, int] = {}  # depth stamp -> the last position matched to it
        for i, d in enumerate(depth_of.tolist()):
            if d >= 0:
                last_use[d] = i
        images: Dict[int, Tuple[int, Any, bytes]] = {}  # position -> (ordinal, conn, raw)
        depth_raw: Dict[int, Tuple[int, Any, bytes]] = {}  # depth stamp -> its message, raw
        depth: Dict[int, Any] = {}  # depth stamp -> decoded depth, or its InputError
        topics = [t for t in (self.image_topic, self.depth_topic) if t is not None]
        with _open_bag(self.path) as reader:
            conns = [c for t in topics for c in reader.topics[t].connections]
            messages = numbered_messages(reader, conns)
            position = -1  # of the last image of the run read, in stamps_ns
            for want in positions:
                d = int(depth_of[want]) if 0 <= want < len(stamps) else -1
                while want not in images or (d >= 0 and d not in depth_raw and d not in depth):
                    item = next(messages, None)
                    if item is None:  # only if the bag changed between the two passes
                        break
                    conn, ordinal, raw = item
                    if self._run_counter.run(conn.topic, ordinal) != self._run_label:
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
                       else self._deserialize(reader, raw, conn.msgtype, conn.topic))
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
        msg = self._deserialize(reader, raw, conn.msgtype, conn.topic)
        try:
            return self._decode_depth(msg)
        except InputError as err:
            return err
