"""Where the indexing pass of ``build-map --max-frames N`` (and of ``localize --max-frames N``,
whose frames lie among the first ``stride * (N - 1) + 1``) may stop: `IndexStop`.

`BagSequence`'s indexing pass reads the headers of every message of its topics (the images,
depth, CameraInfo, /tf) before the first frame: minutes on a long bag. Only the first N frames
are read with ``--max-frames N``; the pass then stops once what those N frames take from the
bag is complete, so that they are the frames, stamps, depth, intrinsics and poses of the
whole pass (`IndexStop.reached`: every condition below, checked once the bag's receive time is
`MARGIN_S` past the receive time of the image RUN_LOOKAHEAD + 1 after the Nth):

- the images read show one run (`runs.run_labels` of their header stamps: a bag whose header
  time jumps back within them is read to the end, and its run chosen as without the cut);
- every topic the frames take stamped samples from (/tf, a ``--pose-topic``, the depth) that
  has messages has had one read (a stream received later than `MARGIN_S` after its stamps,
  a remote robot's /tf, is waited for, not taken as absent); every dynamic tf edge read so
  far (and a ``--pose-topic``'s, read as one) has a sample
  stamped past the Nth image's stamp plus the pose rule's tolerance and maximum gap (tf is
  interpolated across the Nth frame's stamp as from the whole bag; an edge that stopped
  publishing keeps the pass going to the end); the depth topic likewise, by its sync
  tolerance, and a depth topic none of whose messages was read yet keeps the pass going to
  its first (a depth stream started late: the whole pass finds it, and refuses no bag);
- the parent frame of ``--pose-frames`` ('map') is in a transform read, the edges read join
  it to the camera frame where that is in one (an edge of the chain on a second /tf
  publisher received late is waited for: /tf is waited for per topic, not per edge), and a
  ``--pose-topic`` has had a message (a map -> odom or odometry first published later is
  waited for; a frame only on a late /tf_static reads the bag to the end);
- a CameraInfo has been read where the intrinsics come from the bag, and the depth topic's
  CameraInfo where one is read (a CameraInfo published only later is still found);
- the /tf_static messages after the stop are read all the same (`read_statics_after`: few
  messages; a static transform recorded late still applies, as it does from the whole pass),
  unless the pass read as many as the bag's metadata lists (a latched /tf_static recorded once
  at the start): that read is no seek to them where the storage has no index by topic (a
  .db3 read every row's page from the stop to the end of the bag for it: ~0.4 GB of a
  30-minute 640x480 JPEG bag).

Not cut (the whole bag is indexed, as before): ``--run`` given (the run asked for may start
anywhere), a video topic (its frames begin at its first keyframe). A bag whose header time
jumps back only after the part read has its first run read, where the whole pass would choose
the longest: the part read shows no other run. An edge's median sample spacing, which widens
its interpolation gap (`tf_buffer.edge_max_gap_ns`), is taken over the samples read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any, Dict, Optional, Set, Tuple

from .opening import bag_label, bag_messages, progress_messages
from .runs import RUN_LOOKAHEAD, run_labels
from .topics import images_frame

log = logging.getLogger(__name__)

# Receive time read past the receive time of the last image the run labels look at, before the
# stop is considered: messages stamped at the Nth frame arrive within it (transport and
# recorder latency, tf broadcast late); the conditions above then decide.
MARGIN_S = 2.0


class IndexStop:
    """The stop of one indexing pass of the first ``max_frames`` frames (see the module
    docstring). `reached` is called before each message with its bag receive time (int ns);
    once True the message is not read and the pass ends (`read_statics_after` the rest's
    /tf_static). ``gave_up``: the part read showed a second run, so the bag is read whole."""

    def __init__(self, max_frames: int, tolerance_ns: int, pose_rule_ns: tuple) -> None:
        self.max_frames = int(max_frames)
        self._images_needed = self.max_frames + RUN_LOOKAHEAD + 1
        self._pose_past_ns = int(pose_rule_ns[0]) + int(pose_rule_ns[1])
        self._depth_past_ns = int(tolerance_ns)
        self._deadline_ns: Optional[int] = None  # receive time past which the stop is checked
        self._nth_stamp: Optional[int] = None
        self.gave_up = False
        self.stopped_at_ns: Optional[int] = None
        self.unread: Set[str] = set()  # topics with messages, none read yet: `expect`
        self.statics_left: Dict[str, int] = {}  # /tf_static topic -> listed, not read yet

    def expect(self, seq: Any, conns: list) -> None:
        """Wait for a message of each topic of ``conns`` with messages (the bag's metadata)
        that gives the frames stamped samples: /tf, the pose topic, the depth (not the images,
        counted; not the CameraInfo and /tf_static, judged on their own). Call `seen` with
        each message's topic."""
        own = {seq.image_topic, seq.camera_info_topic, seq.depth_info_topic}
        self.unread = {c.topic for c in conns if int(getattr(c, "msgcount", 0) or 0) > 0
                       and c.topic not in own and not c.topic.endswith("tf_static")}
        for topic in {c.topic for c in conns if c.topic.endswith("tf_static")}:
            listed = sum(int(getattr(c, "msgcount", 0) or 0) for c in conns if c.topic == topic)
            if listed > 0:  # 0: not counted in the metadata, read after the stop
                self.statics_left[topic] = listed

    def seen(self, topic: str) -> None:
        """A message of ``topic`` was read (`expect`)."""
        self.unread.discard(topic)
        if topic in self.statics_left:
            self.statics_left[topic] -= 1

    @classmethod
    def of(cls, seq: Any, max_frames: Optional[int]) -> Optional[IndexStop]:
        """The stop for `BagSequence` ``seq``, None where its pass reads the whole bag:
        ``max_frames`` None, a ``run`` asked for, or a video topic."""
        if max_frames is None or seq._run_wanted is not None or seq._is_video():
            return None
        return cls(max_frames, seq._tolerance_ns, seq._pose_rule_ns)

    def reached(self, seq: Any, bag_ns: int) -> bool:
        """Whether the pass of ``seq`` may stop before the message received at ``bag_ns``."""
        if self.gave_up:
            return False
        if self._deadline_ns is None:
            if len(seq._image_runs) < self._images_needed:
                return False
            self._deadline_ns = int(bag_ns) + round(MARGIN_S * 1e9)
            return False
        if bag_ns <= self._deadline_ns or not self._check(seq):
            return False
        self.stopped_at_ns = int(bag_ns)
        return True

    def _check(self, seq: Any) -> bool:
        if self._nth_stamp is None:
            first = [s for o, s in seq._image_runs[:self.max_frames]
                     if o not in seq._undeserialized]
            self._nth_stamp = max(first, default=0)
        if self.unread:  # a stream received later than the margin: nothing of it read yet
            return False
        if seq.camera_info_topic is not None and seq._override is None and not seq._info_runs:
            return False
        if seq.depth_info_topic is not None and seq._depth_info is None:
            return False
        if not self._pose_target_read(seq):
            return False
        past = self._nth_stamp + self._pose_past_ns
        if any(len(s.stamps) and s.stamps[-1] <= past for s in seq._tf_runs.values()):
            return False
        depth = [s for _, s in seq._depth_runs[-1:]]
        if seq.depth_topic is not None and not depth:
            return False  # a depth stream that starts late: its first message is waited for
        if depth and depth[0] <= self._nth_stamp + self._depth_past_ns:
            return False
        # last, once: every image read up to the stop, so a jump back anywhere in it counts
        readable = [s for o, s in seq._image_runs if o not in seq._undeserialized]
        if max(run_labels(readable), default=1) > 1:
            self.gave_up = True  # a run after the first: chosen from the whole bag
            return False
        return True

    @staticmethod
    def _pose_target_read(seq: Any) -> bool:
        """Whether the parent frame of ``--pose-frames`` ('map' of map:camera) is in a
        transform read so far and joined to the camera frame where that is in one
        (`_chain_read`), and a ``--pose-topic`` has had a message (True without either): a
        map -> odom (or odometry) first published after frame N (a localization node started
        late) is found by the whole pass, which then says when it is known; a pass cut before
        it said 'map' is not in the tree."""
        if getattr(seq, "_pose_stream", None) is not None and not seq._pose_messages:
            return False
        frames = getattr(seq, "_pose_frames", None)
        if not frames:
            return True
        dynamic = {f for edge in seq._tf_runs for f in edge}
        if not (frames[0] in dynamic or frames[0] in seq._tf.frames):
            return False
        return _chain_read(frames[0], frames[1] or images_frame(seq._frame_ids),
                           list(seq._tf_runs) + seq._tf.static_edges())

    def read_statics_after(self, seq: Any, reader: Any, conns: list, runs: Any) -> None:
        """Read the /tf_static messages of ``conns`` received from the stop on into ``seq``'s
        buffer (the indexing pass's own handling of them), and say at INFO where it stopped.
        A topic whose every message the metadata lists was read is not read again (a count
        of 0, unknown, is read)."""
        statics = [c for c in conns if c.topic.endswith("tf_static")
                   and self.statics_left.get(c.topic, 1) > 0]
        if statics:
            for conn, bag_ns, raw in bag_messages(reader, connections=statics,
                                                  start=self.stopped_at_ns):
                msg = seq._deserialize(reader, raw, conn.msgtype, conn.topic)
                seq._add_transforms(msg, static=True, runs=runs, bag_ns=bag_ns,
                                    topic=conn.topic)
        start = int(getattr(reader, "start_time", 0) or 0)
        log.info("%s: the indexing pass stopped %.1f s into the bag, past what the first %d "
                 "frames take (--max-frames: later runs of the bag, where its header time "
                 "jumps back, are not looked for; --run N reads the whole bag)",
                 bag_label(seq.path), (self.stopped_at_ns - start) * 1e-9, self.max_frames)


_KNOWN = re.compile(r"it is known from (-?[0-9.]+) s to (-?[0-9.]+) s")


def cut_pass_range(reason: str) -> str:
    """``reason`` (a tf edge's `ExtrapolationError` message, 'it is known from A s to B s')
    as said after a pass that `IndexStop` cut: B is the last sample read, not the edge's end,
    and an edge first published just before the stop (a map -> odom of a localization node
    started late) read as 'known from 6.000000 s to 6.000000 s'. It then reads 'it is first
    known at A s (the indexing pass, cut by --max-frames, read it up to B s)'."""
    return _KNOWN.sub(lambda m: (f"it is first known at {m.group(1)} s (the indexing pass, cut "
                                 f"by --max-frames, read it up to {m.group(2)} s)"), reason, 1)


def _chain_read(parent: str, camera: str, edges: list) -> bool:
    """Whether the (parent, child) tf ``edges`` read so far join ``parent`` to ``camera`` (the
    --pose-frames chain), or ``camera`` is in none of them ('' or a frame only a late
    /tf_static names: `IndexStop.read_statics_after` reads those after the stop). /tf is
    waited for per topic (`IndexStop.expect`), so without this an edge of the chain on a
    second /tf publisher received more than `MARGIN_S` late (odom -> base_link relayed from a
    remote robot beside a local map -> odom) was never read, and the frames lost the poses the
    whole pass gives them."""
    if not camera or camera == parent or not any(camera in e for e in edges):
        return True
    joined, grew = {parent}, True
    while grew:
        grew = False
        for a, b in edges:
            if (a in joined) != (b in joined):
                joined |= {a, b}
                grew = True
    return camera in joined


class _IndexStopped:
    """`BagSequence`'s indexing pass cut by `IndexStop` (a base class of it):
    ``BagSequence.__init__`` sets ``_max_frames`` (None: the whole bag)."""

    _max_frames: Optional[int] = None
    _index_cut: Optional[int] = None  # after a cut pass: the image topic's listed messages

    @property
    def frames_in_recording(self) -> int:
        """The recording's frame count: len() after a whole pass; after a cut one the image
        topic's message count in the bag's metadata (not told apart by run: the images past
        the cut are not read), or len() where the metadata gives none."""
        return len(self) if self._index_cut is None else max(self._index_cut, len(self))

    @property
    def frames_counted_in_bag(self) -> bool:
        """Whether `frames_in_recording` is the bag's image count from its metadata (a cut
        pass: every run's images, the one read not told apart), not the frames of the run read."""
        return self._index_cut is not None and self._index_cut > len(self)

    def _indexed_messages(self, reader: Any, conns: list, desc: str, runs: Any
                          ) -> Iterator[Tuple[Any, int, bytes]]:
        """`progress_messages` of ``conns``, ending where `IndexStop` allows (the rest's
        /tf_static then read)."""
        stop = IndexStop.of(self, self._max_frames)
        if stop is not None:
            stop.expect(self, conns)
        messages = progress_messages(reader, conns, desc)
        for item in messages:
            if stop is not None:
                if stop.reached(self, item[1]):
                    break
                stop.seen(item[0].topic)
            yield item
        else:
            return
        messages.close()  # its progress bar ended, rosbags' iterator closed
        stop.read_statics_after(self, reader, conns, runs)
        self._index_cut = sum(int(getattr(c, "msgcount", 0) or 0) for c in conns
                              if c.topic == self.image_topic)
