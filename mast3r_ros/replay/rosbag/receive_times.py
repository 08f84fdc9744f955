"""What a bag's receive (log) times tell about a jump back of header time (`runs`).

rosbag2 and ROS 1 bags record when each message was received; within one run of a stream its
receive time minus header stamp (its *offset*: the latency plus the offset between the clocks) is
nearly constant, whatever the clocks. A clock jumping back by J raises the offset of every later
message by J; a message received late raises only its own; a message stamped ahead lowers only its
own. Two rules of `runs` rest on it:

- `clock_went_back`: a drop below the run's top that is followed within the lookahead by a climb
  past it was taken for a reordered message; when the messages after it keep an offset raised by
  about the drop, it is a short jump back (a reset by fewer than ``RUN_LOOKAHEAD`` frame periods),
  which was merged with the run before it; so is a stamp repeating the top received a period
  or so after it, the offsets staying raised (a reset by exactly one period).
- `join_stamped_ahead`: a stream's own run whose top stamp is ahead of the reference (the
  images') clock, ended by a drop onto that clock while the reference itself did not jump, is no
  run but a part of the next one (a static-ish transform published with a future stamp
  before its clock settled); two or more such first messages were split off as a run the images
  took, so they had no pose.

What they cannot tell (`lone_first_ahead`): a run's first message followed by a short drop
(the stamps climbing past it within the lookahead) whose offset is below the next ones' by
about the drop is a message stamped ahead, or the last of a clock that went back right after
it: both look the same. It is read with the run, as stamped ahead, and said so.

`clock_went_back` compares offsets only where receive times tick with the header stamps at a
constant ratio (`receive_ratio`): 1 within `RATE_TOLERANCE` (a bag recorded in real time), or
another (a simulation recorded at 0.5x or 2x real time: offsets are then taken in the stamps'
scale; only where the consecutive differences keep that ratio, `RATIO_SPREAD`); a bag written
with made-up receive times, or a simulation whose speed wanders, keeps the stamp-only rules.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from typing import List, Optional, Tuple

# receive time must advance as header time does (or at one ratio to it) within this fraction,
# over the run before a drop, for the offsets to be compared (a simulation at 0.9x real time
# drifts 10 % a frame at ratio 1)
RATE_TOLERANCE = 0.05

# a stamp repeating its run's top starts a new run only when the offsets after it stay raised by
# more than this many of the run's stamp steps (a reset by one period raises them by one): at
# half a step, as for a drop, receive jitter of 15-30 % of a period let a stalled driver's
# re-sent frame pass for a reset in 3-7 % more of such streams than it did before
REPEAT_RISE = 0.75

# a ratio other than 1 is taken only where the consecutive differences' ratios lie within this
# fraction of their median (their median absolute deviation): a short stretch of a jittery
# real-time bag can look like a simulation at 0.7x
RATIO_SPREAD = 0.1


def clock_went_back(stamps: Sequence[int], received: Sequence[int], start: int, i: int,
                    top: int, lookahead: int) -> bool:
    """Whether stamp ``i`` (at or below ``top``, the highest stamp of its run, which began at
    ordinal ``start``) starts a new run by its receive times though a stamp climbs past ``top``
    within ``lookahead``: the median offset (receive time, in the stamps' scale, - stamp) of the
    ``lookahead`` messages after it exceeds that of the (up to) ``lookahead`` before it, in its
    run, by more than half the drop (``top`` - stamp) and half the median stamp step before
    it, plus what the clocks' rate difference drifts in between (O(``lookahead``): a stream
    reordered at every other message costs no more). A stamp equal to ``top`` (a reset by one
    frame period repeats it) is taken with the median of its run's rising steps, when its own
    receive time is over half that step after the message it repeats and the rise exceeds
    `REPEAT_RISE` steps: a message recorded twice (received together, or within a fraction of
    a period) stays in its run. The stamps' scale is `receive_ratio`'s; False when there are
    fewer than two messages on either side or no such scale."""
    before = range(max(start, i - lookahead), i)
    after = range(i + 1, min(len(stamps), i + 1 + lookahead))
    if len(before) < 2 or len(after) < 2 or i - start < 2:
        return False
    found = receive_ratio(stamps, received, start, before, after)
    if found is None:
        return False
    ratio, rate = found
    steps = [stamps[j + 1] - stamps[j] for j in before[:-1]]
    if stamps[i] == top:
        steps = [d for d in steps if d > 0]
        if not steps:
            return False
    step = statistics.median(steps)

    def offset(j: int) -> float:  # receive time - stamp, in the stamps' scale
        return received[j] - stamps[j] if ratio == 1 else (
            (received[j] - received[start]) / ratio - (stamps[j] - stamps[start]))

    rise = (statistics.median(offset(j) for j in after)
            - statistics.median(offset(j) for j in before))
    drift = abs(rate) * abs(stamps[after[-1]] - stamps[before[0]])
    if stamps[i] < top:
        return rise > max(top - stamps[i], step) / 2 + drift
    # a repeat: received over half a step after the message it repeats, the stream's offset
    # staying raised by most of a step (a duplicate within jitter of a stalled driver's
    # re-send must not pass for a reset)
    first = [j for j in before if stamps[j] == top]
    return (bool(first) and offset(i) - offset(first[-1]) > step / 2 + drift
            and rise > REPEAT_RISE * step + drift)


def receive_ratio(stamps: Sequence[int], received: Sequence[int], start: int, before: range,
                  after: range) -> Optional[Tuple[float, float]]:
    """(receive ns per stamp ns, the rate of the run's receive clock off it) where the receive
    times of the run before a drop (from ordinal ``start``; ``before``: the ordinals just before
    the drop, ``after``: those just after it, both non-empty) tick with their stamps at a
    constant ratio; None where they do not. 1 where the run's receive times span its stamps'
    within `RATE_TOLERANCE` (a bag recorded in real time: the rule as it was); else (a
    simulation recorded at another speed) the median ratio of consecutive receive-time and
    stamp differences (rising stamps) within ``before`` and within ``after``, taken only when
    it is off 1 by more than `RATE_TOLERANCE` (a jittery real-time bag says nothing, as
    before) and the run before the drop and each window span their stamps at it within
    `RATE_TOLERANCE` (a simulation whose speed wanders says nothing)."""
    i = before[-1] + 1
    span = stamps[i - 1] - stamps[start]
    if span <= 0:
        return None
    rate = (received[i - 1] - received[start]) / span - 1.0
    if abs(rate) <= RATE_TOLERANCE:
        return 1, rate
    pairs = list(before[:-1]) + list(after[:-1])
    ratios = [(received[j + 1] - received[j]) / (stamps[j + 1] - stamps[j])
              for j in pairs if stamps[j + 1] > stamps[j]]
    if len(ratios) < 3:
        return None
    ratio = statistics.median(ratios)
    if ratio <= 0 or abs(ratio - 1) <= RATE_TOLERANCE:  # real time, the run's span off it
        return None
    if statistics.median(abs(r / ratio - 1) for r in ratios) > RATIO_SPREAD:
        return None
    spans = [(start, i - 1), (before[0], i - 1), (after[0], after[-1])]
    rates = [(received[b] - received[a]) / ratio / (stamps[b] - stamps[a]) - 1.0
             for a, b in spans if stamps[b] > stamps[a]]
    if len(rates) < len(spans) or max(map(abs, rates)) > RATE_TOLERANCE:
        return None
    return ratio, max(rates, key=abs)


def join_stamped_ahead(received: Sequence[int], stamps: Sequence[int], labels: List[int],
                       ref_received: Sequence[int], ref_labels: Sequence[int],
                       ref_stamps: Sequence[int]) -> List[int]:
    """``labels`` (a stream's own run numbers, 1-based, rising by one at each jump, in bag order)
    with every run that ends stamped ahead joined to the run after it, the later numbers lowered
    to match. A run (ordinals s .. i - 1, the next run starting at i) ends stamped ahead when the
    reference stream (its receive times, sorted, run labels and stamps, int ns) was received
    before ``received[s]`` and made no jump of its own until ``received[i]``, and by the
    reference's offset at a message (that of its message received nearest in time) the run's top
    stamp is ahead of the reference's clock by more than half the drop at i (top - ``stamps[i]``)
    and more than twice as far as message i is off it: the stream went back onto the images'
    clock, not off it. Its messages on the clock before the top join too (a glitch stamped ahead
    in mid-stream split the edge as well). A run before the reference's first message is left
    alone: a run of a clock reset before the camera started looks the same."""
    if not ref_received or len(set(labels)) < 2:
        return labels

    def ahead(j: int) -> int:  # how far message j is stamped ahead of the reference's clock
        k = bisect.bisect_left(ref_received, received[j])
        near = [n for n in (k - 1, k) if 0 <= n < len(ref_received)]
        n = min(near, key=lambda n: abs(ref_received[n] - received[j]))
        return (ref_received[n] - ref_stamps[n]) - (received[j] - stamps[j])

    def reference_run(j: int) -> int:  # the reference's run when message j was received
        return ref_labels[max(bisect.bisect_right(ref_received, received[j]) - 1, 0)]

    starts = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
    joined = []
    for s, i in zip(starts, starts[1:]):
        top = max(range(s, i), key=stamps.__getitem__)
        joined.append(received[s] >= ref_received[0]
                      and reference_run(s) == reference_run(i)
                      and ahead(top) > max((stamps[top] - stamps[i]) / 2, 2 * abs(ahead(i))))
    if not any(joined):
        return labels
    out, run = list(labels), labels[0]
    for n, (s, e) in enumerate(zip(starts, starts[1:] + [len(labels)])):
        out[s:e] = [run] * (e - s)
        run += not (n < len(joined) and joined[n])
    return out


def lone_first_ahead(stamps: Sequence[int], received: Sequence[int], labels: Sequence[int],
                     lookahead: int = 4) -> List[Tuple[int, int, float]]:
    """(ordinal, drop, rise: ns) of the messages of one stream (header stamps and receive times,
    int ns, in bag order; ``labels``: `run_labels`' runs) that begin a run and were read in it
    though the next message drops below them, the offsets (receive time - stamp) of the (up to)
    ``lookahead`` messages after them raised by more than half that drop (the rise): a message
    stamped ahead of its clock (a re-broadcast at now + tolerance), or the last message of a
    clock that went back right after it. One message gives `clock_went_back` no run to
    compare, so nothing tells which; the caller says so. Only where the receive times of the
    messages after it tick with their stamps within `RATE_TOLERANCE` (made-up ones say
    nothing)."""
    out = []
    for s in range(len(stamps) - 1):
        if (s and labels[s] == labels[s - 1]) or labels[s + 1] != labels[s]:
            continue
        drop = stamps[s] - stamps[s + 1]
        after = [j for j in range(s + 1, min(len(stamps), s + 1 + lookahead))
                 if labels[j] == labels[s]]
        span = stamps[after[-1]] - stamps[after[0]]
        if drop <= 0 or span <= 0 or abs((received[after[-1]] - received[after[0]]) / span
                                         - 1) > RATE_TOLERANCE:
            continue  # receive times that do not tick with the stamps say nothing
        rise = statistics.median(received[j] - stamps[j] for j in after) - (received[s]
                                                                            - stamps[s])
        if rise > drop / 2:
            out.append((s, drop, rise))
    return out
