"""Header time of a rosbag2's streams: which run each message belongs to, which run is read.

Runs: a bag whose header time jumps back (a simulator reset, a looped playback, a restarted driver)
holds several runs that share stamps. Every stream (the image, depth and CameraInfo topics, each
dynamic tf edge) counts its own jumps back in bag order, so a message belongs to run k when its
stream has gone back k - 1 times before it; the runs are the image stream's, and every other
stream's numbers are shifted to meet them where the two first coexist (`_RunCounter.finish`): a
stream that starts after a reset of the images (a depth driver restarted late) joins the images' run
under way, and one whose clock was reset before the camera started (a simulator reset, then the
camera driver) has its run under way at the first image as run 1; a stream's own jumps that the
images never see (a driver restarted with its own clock) do not split the images. A message stamped
below its run's latest one but followed at once (`RUN_LOOKAHEAD` messages) by stamps above it again
is not a jump but a reordered message of the same run (two swapped images; a map -> odom
re-broadcast stamped ahead, as AMCL and this node publish it, between results stamped at their
images' times), unless it goes back to its run's first stamp with the next one below the top (a
short recording looped: `run_labels`) or its receive times say its clock went back; a stream's
own run stamped ahead of the images' clock joins the run after it (`receive_times`); tf samples
are sorted by stamp, as tf2 does. Only one run is read: the longest (most images; the first of
equally long ones) unless ``run`` chooses one, so no frame is associated with depth, intrinsics
or a transform of another run, and tf is never interpolated across the jump.

`run_labels` labels one stream and `_RunCounter` every stream of a bag; `run_choice._RunChoice` (a
part of `BagSequence`) keeps the chosen run after the indexing pass and warns about images whose
header stamp is 0 or repeated.
"""

from __future__ import annotations

import array
import bisect
import collections
import logging
from collections.abc import Collection, Sequence
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .receive_times import clock_went_back, join_stamped_ahead, lone_first_ahead

log = logging.getLogger(__name__)


# A message below its run's latest stamp starts a new run only when none of the next this many
# messages of its stream climbs back above that stamp: a reordered message (a swapped pair, a
# map->odom re-broadcast stamped ahead between fresh ones stamped in the past) is followed at
# once by stamps past the top; after a clock reset or a loop the stream stays below it.
RUN_LOOKAHEAD = 4

# A header stamp read from the raw bytes of a message that cannot be deserialized is taken when
# within this of the stamp its receive time gives (a late message's delay is well under it; a
# damaged stamp, 32 random bits of seconds, is almost never within it).
HEADER_STAMP_WINDOW_NS = 1_000_000_000


def run_labels(stamps: Sequence[int], lookahead: int = RUN_LOOKAHEAD,
               received: Optional[Sequence[int]] = None) -> List[int]:
    """Run number (1-based) of each header stamp of one stream, in bag order; ``received``:
    the bag's receive time of each (int ns), when known.

    A stamp below the current run's highest one is a reordered message of that run when one of
    the next ``lookahead`` stamps of the stream rises above that highest stamp again, and the
    first message of a new run (a clock reset, a looped recording) when none does -- or when
    it goes back to the run's first stamp or before it and the stream's next stamp stays at or
    below the highest: a run shorter than ``lookahead`` frames replayed (a loop of a short
    recording, a reset to just before it) climbs past its top within the lookahead and was
    merged with the next run, while a late message is not older than its whole run and is
    followed at once by a stamp past the top. A run whose top is its first stamp (no stamp
    climbed above it yet) is ended so only when the lookahead comes back to that stamp (a
    loop replaying it): a tf edge whose first recorded message is stamped ahead of the next
    ones (a map -> odom re-broadcast at now + tolerance, as AMCL and this node publish it,
    recorded before the results stamped at image times) was split off as a run of its own,
    and the images, taking its run, had no pose at all. A drop that the lookahead climbs out of
    still starts a new run when the receive times say the clock went back
    (`receive_times.clock_went_back`: a reset by fewer than ``lookahead`` frame periods), and
    so does a stamp repeating the top when they say it was received a frame period or so
    after the message it repeats, the stream's offset staying raised (a reset by exactly one
    period); a repeat received with it (a message recorded twice) stays in the run.
    """
    labels: List[int] = []
    # climbs: the stamps that raised the run's top (late messages below it are not its steps)
    run, top, first, climbs, start = 1, None, None, 0, 0
    for i, stamp in enumerate(stamps):
        later = stamps[i + 1:i + 1 + lookahead]
        if top is not None and (stamp < top and (
                not any(t > top for t in later)
                or (stamp <= first and (not later or later[0] <= top)
                    and (climbs > 1 or top in later))
                or (received is not None
                    and clock_went_back(stamps, received, start, i, top, lookahead)))
                or (stamp == top and received is not None
                    and clock_went_back(stamps, received, start, i, top, lookahead))):
            run, top, first, climbs, start = run + 1, stamp, stamp, 1, i
        else:
            climbs += top is None or stamp > top
            top = stamp if top is None else max(top, stamp)
            first = stamp if first is None else first
        labels.append(run)
    return labels


class _RunCounter:
    """Run numbers of every stream's messages: `note` each message during the indexing pass
    (returns its ordinal in its stream), `finish`, then `run` (stream, ordinal), also during the
    second pass (the bag yields each stream's messages in the same order)."""

    def __init__(self) -> None:
        # header stamps (int ns): 8 B each, not a Python int of 36 B (3 M messages an hour)
        self._stamps: Dict[Any, array.array] = collections.defaultdict(lambda: array.array("q"))
        self._bag_ns: Dict[Any, array.array] = collections.defaultdict(lambda: array.array("q"))
        self._labels: Dict[Any, List[int]] = {}
        # stream -> the shift of its own run numbers onto the images' (`finish`)
        self.shifted: Dict[Any, int] = {}
        # stream -> (how many of its messages, the highest stamp among them) in runs before
        # the reference's first message (a shift below 0): not read with the images
        self.before_reference: Dict[Any, Tuple[int, int]] = {}
        # stream -> [(ordinal, stamp, drop ns, rise ns)]: a run's first message read in it
        # though it may be the last of a clock that went back (`lone_first_ahead`)
        self.lone_ahead: Dict[Any, List[Tuple[int, int, int, float]]] = {}
        self._received: Dict[Any, array.array] = {}  # stream -> receive times, after `finish`
        self._split: Dict[Any, array.array] = {}  # after `finish`: stamps of streams of 2+ runs
        # stream -> ordinals noted without a stamp; after `finish`: ordinal -> estimated stamp
        self._unknown: Dict[Any, List[int]] = collections.defaultdict(list)
        self._estimated: Dict[Any, Dict[int, int]] = {}
        # stream -> ordinal -> the header stamp read from the raw bytes of a message noted
        # without one; after `finish`: the ordinals whose estimate is that stamp
        self._read: Dict[Any, Dict[int, int]] = collections.defaultdict(dict)
        self._from_header: Dict[Any, set] = collections.defaultdict(set)

    def note(self, stream: Any, stamp_ns: Optional[int], bag_ns: int = 0,
             read_ns: Optional[int] = None) -> int:
        """Record one message of ``stream`` (header stamp and bag receive time, int ns). A
        stamp of None is unknown (an image or depth message that cannot be deserialized): such
        a message takes no part in finding the runs; `finish` puts it in a neighbour's
        (`estimated`), unless ``read_ns`` (its header stamp read from its raw bytes,
        `undeserialized.header_stamp_of_cdr`) is plausible (`_take_read_stamps`)."""
        stamps = self._stamps[stream]
        if stamp_ns is None:
            self._unknown[stream].append(len(stamps))
            if read_ns is not None:
                self._read[stream][len(stamps)] = int(read_ns)
        stamps.append(0 if stamp_ns is None else int(stamp_ns))
        self._bag_ns[stream].append(int(bag_ns))
        return len(stamps) - 1

    def noted(self, stream: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Before `finish`: the (header stamps, receive times) noted of ``stream``, int64 ns."""
        return tuple(np.frombuffer(kept.get(stream, array.array("q")), np.int64)
                     for kept in (self._stamps, self._bag_ns))  # type: ignore[return-value]

    def estimated(self, stream: Any) -> Dict[int, int]:
        """After `finish`: ordinal -> estimated header stamp (int ns) of each message of
        ``stream`` noted without one (`_place_unknown`)."""
        return self._estimated.get(stream, {})

    def from_header(self, stream: Any, ordinal: int) -> bool:
        """After `finish`: whether the `estimated` stamp of ``stream``'s message ``ordinal``
        is the header stamp read from its raw bytes (else its receive time's estimate)."""
        return ordinal in self._from_header.get(stream, ())

    def finish(self, reference: Any = None, keep_received: Collection = ()) -> None:
        """Label every stream's messages with the ``reference`` stream's runs (the images').
        Each stream counts its own jumps back; its numbers are then shifted so that they meet
        the reference's where the two streams first coexist: a stream that starts after the
        reference takes the reference's run under way when the bag received its first message,
        and a stream that started before takes run 1 for its own run under way at the
        reference's first message (its earlier runs, before a reset the reference never saw,
        fall below 1). "Under way" is the run of whichever of the two messages received around
        that moment has its receive time minus stamp nearer the other stream's (`_run_around`),
        so a message received just before the first of a new run still joins it; first, a
        stream's own run stamped ahead of the reference's clock joins the run after it
        (`receive_times.join_stamped_ahead`). Messages
        noted without a stamp are left out of all this, then placed (`_place_unknown`), but
        for those whose stamp was read from their bytes (`_take_read_stamps`). The receive
        times of the ``keep_received`` streams are kept for `received`, the others' dropped."""
        self._take_read_stamps()
        known: Dict[Any, Sequence[int]] = {}  # stream -> ordinals of its messages with a stamp
        streams: Dict[Any, Tuple[Sequence[int], Sequence[int]]] = {}
        for k, v in self._stamps.items():
            unknown = set(self._unknown.get(k, ()))
            if not unknown:  # the usual bag: its arrays as they are, no copy (3 M messages)
                known[k] = range(len(v))
                streams[k] = (self._bag_ns[k], v)
                continue
            known[k] = [i for i in range(len(v)) if i not in unknown]
            streams[k] = (array.array("q", (self._bag_ns[k][i] for i in known[k])),
                          [v[i] for i in known[k]])
        labels = {k: run_labels(stamps, received=bag) for k, (bag, stamps) in streams.items()}
        for k, (bag, stamps) in streams.items():
            lone = lone_first_ahead(stamps, bag, labels[k])
            if lone:
                self.lone_ahead[k] = [(known[k][o], stamps[o], d, r) for o, d, r in lone]
        ref = reference if labels.get(reference) else None
        for k, lab in labels.items():
            if ref is None or k == ref or not lab:
                continue
            lab = labels[k] = join_stamped_ahead(*streams[k], lab, streams[ref][0], labels[ref],
                                                 streams[ref][1])
            mine = (streams[k][0], lab, streams[k][1])
            theirs = (streams[ref][0], labels[ref], streams[ref][1])
            if mine[0][0] >= theirs[0][0]:  # starts after the reference: joins its run
                shift = _run_around(*theirs, mine[0][0], mine[2][0]) - lab[0]
            else:  # started before: its run under way at the reference's start is run 1
                shift = 1 - _run_around(*mine, theirs[0][0], theirs[2][0])
            if shift:
                labels[k] = [r + shift for r in lab]
                self.shifted[k] = shift
                early = [st for r, st in zip(labels[k], streams[k][1]) if r < 1]
                if early:
                    self.before_reference[k] = (len(early), max(early))
        for k in self._stamps:
            labels[k] = self._place_unknown(k, known[k], labels[k])
        self._split = {k: v for k, v in self._stamps.items() if len(set(labels[k])) > 1}
        self._stamps.clear()
        self._received = {k: self._bag_ns[k] for k in keep_received if k in self._bag_ns}
        self._bag_ns.clear()
        self._labels = labels

    def _take_read_stamps(self) -> None:
        """A message noted without a stamp but with one read from its raw bytes (`note`'s
        ``read_ns``) is taken as stamped so, a part of the runs as any other message, when
        that stamp is within `HEADER_STAMP_WINDOW_NS` of its receive time less the receive
        latency of the nearer-received of the messages before and after it that have a stamp
        (its receive time when none has); further off, the bytes are taken as damaged and it
        stays unknown (`_place_unknown`'s estimate). A receive-time estimate is off by the
        message's own delay: a depth message received late, after the next one, was estimated
        at the next frame's time, and that frame was skipped instead of its own."""
        for stream, reads in self._read.items():
            unknown = self._unknown.get(stream, [])
            stamps, bag = self._stamps[stream], self._bag_ns[stream]
            lost = set(unknown)
            for i, read in reads.items():
                near = [j for j in (_neighbour(i, -1, lost, len(stamps)),
                                    _neighbour(i, 1, lost, len(stamps))) if j is not None]
                ref = min(near, key=lambda j: abs(bag[j] - bag[i]), default=None)
                guess = bag[i] - (bag[ref] - stamps[ref]) if ref is not None else bag[i]
                if abs(read - guess) <= HEADER_STAMP_WINDOW_NS:
                    stamps[i] = read
                    self._from_header[stream].add(i)
            self._unknown[stream] = [i for i in unknown if i not in self._from_header[stream]]
            self._estimated[stream] = {i: stamps[i] for i in self._from_header[stream]}

    def _place_unknown(self, stream: Any, known: List[int], labels: List[int]) -> List[int]:
        """The run labels of all of ``stream``'s messages from those of its ``known`` ones
        (their ordinals, in order), placing each message noted without a stamp, and estimating
        its stamp (`estimated`). Its run is its previous known message's (the next one's for
        the first); between two runs (it sits at a clock reset) the run of whichever of the two
        the bag received nearer in time, the next (the new run) on a tie -- a guess: nothing
        else tells on which side of the reset it was taken. Its stamp: its receive time less
        the receive latency (receive time minus stamp) of the nearer-received of its known
        neighbours in that run (the earlier on a tie), clamped between the stamps of the
        messages before and after it in that run, so that it neither makes a jump back nor
        overtakes a neighbour (repeated or zero stamps: it takes theirs). No known message: run
        1, its receive time."""
        if not self._unknown.get(stream):
            return labels
        stamps, bag = self._stamps[stream], self._bag_ns[stream]
        full = [0] * len(stamps)
        for i, lab in zip(known, labels):
            full[i] = lab
        estimated: Dict[int, int] = {}
        for i in self._unknown[stream]:  # in ordinal order
            at = bisect.bisect_left(known, i)
            prev = known[at - 1] if at > 0 else None
            nxt = known[at] if at < len(known) else None
            if prev is None and nxt is None:
                full[i], estimated[i] = 1, bag[i]
                continue
            if prev is not None and nxt is not None and full[prev] != full[nxt]:
                side = prev if bag[i] - bag[prev] < bag[nxt] - bag[i] else nxt
            else:
                side = prev if prev is not None else nxt
            run = full[i] = full[side]
            near = [j for j in (prev, nxt) if j is not None and full[j] == run]
            ref = min(near, key=lambda j: abs(bag[j] - bag[i]))  # the earlier on a tie
            stamp = bag[i] - (bag[ref] - stamps[ref])
            # bounds: the message just before it in its run (known or placed), the next known
            before = stamps[i - 1] if i > 0 and full[i - 1] == run else None
            after = stamps[nxt] if nxt is not None and full[nxt] == run else None
            bounds = [b for b in (before, after) if b is not None]
            if len(bounds) == 2:
                lo, hi = min(bounds), max(bounds)  # swapped neighbours: between them all the same
                stamp = min(max(stamp, lo), hi)
            elif before is not None:
                stamp = max(stamp, before)
            elif after is not None:
                stamp = min(stamp, after)
            estimated[i] = stamps[i] = int(stamp)
        self._estimated.setdefault(stream, {}).update(estimated)
        return full

    def run(self, stream: Any, ordinal: int) -> int:
        labels = self._labels.get(stream, ())
        return labels[ordinal] if ordinal < len(labels) else 1

    def received(self, stream: Any, ordinal: int) -> Tuple[int, int]:
        """After `finish`, of a ``keep_received`` stream: (bag receive time in int ns, how
        many messages of ``stream`` before it the bag received at that same time) of its
        message ``ordinal``: where a read by time window (rosbags' ``messages(start=,
        stop=)``) finds it, in the bag's order."""
        received = self._received[stream]
        bag_ns, before = received[ordinal], ordinal
        while before > 0 and received[before - 1] == bag_ns:
            before -= 1
        return int(bag_ns), ordinal - before

    def stamps(self, stream: Any) -> np.ndarray:
        """The header stamps noted of ``stream`` (int64 ns, 0 for one unknown), in order; after
        `finish`, kept only for a stream of more than one run (else empty)."""
        kept = self._stamps if stream in self._stamps else self._split.get(stream)
        return np.frombuffer(kept if kept is not None else array.array("q"), np.int64)

    def runs_of(self, stream: Any, count: int) -> np.ndarray:
        """`run` of ordinals 0 .. ``count`` - 1 of ``stream``: (count,) int64."""
        labels = self._labels.get(stream, ())
        out = np.ones(count, np.int64)
        n = min(count, len(labels))
        out[:n] = labels[:n]
        return out


def _neighbour(i: int, step: int, lost: set, count: int) -> Optional[int]:
    """The ordinal nearest ``i`` in direction ``step`` (-1, 1) not in ``lost``; None."""
    j = i + step
    while 0 <= j < count and j in lost:
        j += step
    return j if 0 <= j < count else None


class _TfSamples:
    """The samples of one dynamic tf edge read in the indexing pass, every run's, in the order
    read (sample i: ordinal i of the edge's stream, `_RunCounter`), in compact columns
    (`array.array`, 8 B a number, 72 B a sample; a tuple with a 4x4 array took ~400 B):
    ``seq`` the sample's place among all tf samples read (int), ``stamps`` header stamps (int
    ns), ``tq`` translation x y z and quaternion x y z w as the message gave them (7 floats a
    sample; `TransformBuffer.add_dynamic_tq`)."""

    __slots__ = ("seq", "stamps", "tq")

    def __init__(self) -> None:
        self.seq, self.stamps, self.tq = array.array("q"), array.array("q"), array.array("d")

    def add(self, seq: int, stamp_ns: int, translation: np.ndarray, quat_xyzw: np.ndarray
            ) -> None:
        self.seq.append(seq)
        self.stamps.append(stamp_ns)
        self.tq.extend(translation.tolist())
        self.tq.extend(quat_xyzw.tolist())

    def columns(self, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples ``rows`` (indices): (stamps (n,) int64, translations (n, 3), quaternions
        (n, 4) float64), copies."""
        tq = np.frombuffer(self.tq, np.float64).reshape(-1, 7)[rows]
        return np.frombuffer(self.stamps, np.int64)[rows], tq[:, :3], tq[:, 3:]


def _run_around(bag_ns: Sequence[int], labels: Sequence[int], stamps: Sequence[int],
                at_bag_ns: int, stamp_ns: int) -> int:
    """The run of a stream (its messages' bag receive times, sorted, run labels and header
    stamps) under way for a message received at ``at_bag_ns`` and stamped ``stamp_ns``: of the
    stream's last message received at or before then and its first one after, the one whose
    receive time minus stamp is nearer the message's (the earlier on a tie). Within a run that
    difference is the latency plus the clocks' offset, nearly constant; a reset changes it by
    the jump, so neither a message received just before the first of a new run nor one
    stamped like the old run's (a reset repeats stamps) is put in the wrong run."""
    i = bisect.bisect_right(bag_ns, at_bag_ns)
    near = [j for j in (i - 1, i) if 0 <= j < len(labels)]
    offset = at_bag_ns - stamp_ns
    return labels[min(near, key=lambda j: abs(bag_ns[j] - stamps[j] - offset))]
