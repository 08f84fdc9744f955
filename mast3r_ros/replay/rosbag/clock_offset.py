"""Whether a bag's images are stamped by another clock than its tf, measured from receive times.

The recorder stamps each message with its own clock when it receives it; a stream's receive
time minus its header stamp (its *offset*) is its latency plus the offset of its publisher's
clock from the recorder's. Images and tf stamped by one clock differ in offset by their
latencies only (tens of ms); images stamped by a camera's hardware clock (realsense2_camera with
``global_time_enabled: false``: seconds since the camera booted; a GigE/USB3 Vision driver's
device timestamps), by a computer whose clock is not synchronised with the one publishing tf,
or in a simulator's time against a wall-clock tf, differ by that clock offset: seconds to
decades. Each image is compared with the tf sample the bag received nearest to it, so a
simulation recorded at another speed or a clock reset seen by both streams says nothing; and
with the tf edge whose clock is nearest the images', so an edge published post-dated by design
(AMCL's or slam_toolbox's map -> odom, ``transform_tolerance`` up to 1 s ahead) or an arm driver
on its own clock does not count while another edge (odom -> base_link) is on the images' clock.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

from ...core.image_stamp import RECEIVE_COST

#: images stamped more than this apart from tf (beyond the two streams' latencies) are on
#: another clock: latency differences are tens of ms, at most a few hundred on a slow link
OTHER_CLOCK_S = 1.0
# an image with no tf sample received within this of it is not compared (a tf gap)
_NEAR_NS = 5_000_000_000
# images compared, evenly spread (the median of a few hundred is as good as of all)
_COMPARED = 400
# receive times say something only where they advance with the stamps, at a median ratio of
# consecutive steps within this factor of 1 (a simulation recorded at 0.5x or 2x passes; a bag
# written with made-up receive times, all 0 or the message's ordinal, does not)
_TICK_FACTOR = 10.0

Edge = Tuple[str, str]
# a stamp below this (1980) is of a clock that started near 0: a device's time since boot, a
# simulator's sim time; ROS time is epoch time
_NEAR_ZERO_NS = 315_532_800 * 1_000_000_000


class ClockOffset(NamedTuple):
    """`image_clock_offset`'s measure (int ns): ``offset`` the images' stamps are behind the tf
    clock (negative: ahead), of ``edge`` (parent, child); the median receive time minus stamp
    of the images (``image_offset``) and of the edge's samples compared (``tf_offset``), and
    the median stamps of each (``image_stamp``, ``tf_stamp``)."""

    offset: int
    edge: Edge
    image_offset: int
    tf_offset: int
    image_stamp: int
    tf_stamp: int


def image_clock_offset(image_stamps: np.ndarray, image_received: np.ndarray,
                       tf: Dict[Edge, Tuple[np.ndarray, np.ndarray]]) -> Optional[ClockOffset]:
    """The `ClockOffset` of the dynamic tf edge whose clock is nearest the images': offset =
    the median, over the images (header stamps and receive times, (N,) int ns, in bag order;
    stamp 0, unstamped, skipped), of the image's receive time minus stamp less that of the
    sample of the edge (``tf``: (parent, child) -> (stamps, receive times), int ns) received
    nearest to it, within 5 s. Only streams whose receive times advance with their stamps
    (`_ticks`: a bag written with made-up ones says nothing) are compared. None when no image
    has such a sample."""
    image_stamps = np.asarray(image_stamps, np.int64)
    image_received = np.asarray(image_received, np.int64)
    keep = np.flatnonzero(image_stamps != 0)
    if keep.size > _COMPARED:
        keep = keep[np.linspace(0, keep.size - 1, _COMPARED).astype(np.int64)]
    if not keep.size or not _ticks(image_stamps[keep], image_received[keep]):
        return None
    at_rx, img_off = image_received[keep], image_received[keep] - image_stamps[keep]
    best: Optional[ClockOffset] = None
    for edge, (stamps, received) in tf.items():
        stamps, received = np.asarray(stamps, np.int64), np.asarray(received, np.int64)
        if not _ticks(stamps, received):
            continue
        order = np.argsort(received, kind="stable")
        rx, st = received[order], stamps[order]
        after = np.minimum(np.searchsorted(rx, at_rx), rx.size - 1)
        before = np.maximum(after - 1, 0)
        near = np.where(np.abs(rx[before] - at_rx) <= np.abs(rx[after] - at_rx), before, after)
        close = np.abs(rx[near] - at_rx) <= _NEAR_NS
        if not close.any():
            continue
        tf_off = rx[near[close]] - st[near[close]]
        found = ClockOffset(int(np.median(img_off[close] - tf_off)), edge,
                            int(np.median(img_off[close])), int(np.median(tf_off)),
                            int(np.median(image_stamps[keep][close])),
                            int(np.median(st[near[close]])))
        if best is None or abs(found.offset) < abs(best.offset):
            best = found
    return best


def _ticks(stamps: np.ndarray, received: np.ndarray) -> bool:
    """Whether a stream's receive times (int ns, in bag order) advance with its header stamps:
    the median ratio of their consecutive steps, where the stamps rise, within `_TICK_FACTOR`
    of 1. False for fewer than two such steps."""
    steps = np.diff(stamps)
    rising = steps > 0
    if rising.sum() < 2:
        return False
    ratio = float(np.median(np.diff(received)[rising] / steps[rising]))
    return 1.0 / _TICK_FACTOR <= ratio <= _TICK_FACTOR


def _span(ns: int) -> str:
    """'42.500 s', '3.0 h', '20428.2 days' for a positive duration in ns."""
    s = ns * 1e-9
    if s >= 86_400 * 2:
        return f"{s / 86_400:.1f} days"
    if s >= 7_200:
        return f"{s / 3_600:.1f} h"
    return f"{s:.3f} s"


_HOST_TIME = ("stamp the images with ROS time (realsense2_camera: global_time_enabled: true; "
              "another driver: its host/system-time setting instead of device timestamps)")


def _cause_and_fix(found: ClockOffset) -> str:
    """'likely cause: ...; fix: ...' by which clock starts near 0 (`_NEAR_ZERO_NS`)."""
    image_zero, tf_zero = (abs(s) < _NEAR_ZERO_NS for s in (found.image_stamp, found.tf_stamp))
    if image_zero and not tf_zero:
        return ("likely cause: the image stamps count from near 0 while tf is in epoch (ROS) "
                "time: the camera's hardware clock, its time since boot (realsense2_camera with "
                "global_time_enabled false; a GigE/USB3 Vision driver's device timestamps, e.g. "
                "Spinnaker, Arena), or a simulator's sim time against a tf published on wall "
                f"time; fix: {_HOST_TIME}, or run every node with the same use_sim_time")
    if tf_zero and not image_zero:
        return ("likely cause: tf counts from near 0 (sim time, or a controller's own clock) "
                "while the images are in epoch (ROS) time; fix: run every node with the same "
                "use_sim_time, or have tf stamped with ROS time")
    return ("likely cause: the camera's computer and the tf publisher's have unsynchronised "
            "clocks (no chrony/PTP), or the driver stamps with the camera's own hardware clock "
            "(realsense2_camera with global_time_enabled false; device timestamps of a "
            "GigE/USB3 Vision driver); fix: synchronise the computers (chrony, PTP), or "
            f"{_HOST_TIME}")


def other_clock_note(label: str, image_topic: str, found: ClockOffset,
                     restamp: Optional[str] = "image_stamp") -> str:
    """What a user is told when `image_clock_offset` says the images are more than
    `OTHER_CLOCK_S` off tf's clock ('' when they are not): the offset measured, the likely
    cause and the fix, one line; the fix for the bag as recorded: ``restamp`` (how the caller
    names the option, e.g. ``--image-stamp``) receive, with its cost (None: the images are
    read so already)."""
    if abs(found.offset) <= OTHER_CLOCK_S * 1e9:
        return ""
    side = "behind" if found.offset > 0 else "ahead of"
    parent, child = found.edge
    return (f"{label}: the images on {image_topic} and the tf are stamped by different clocks: "
            f"the image stamps are {_span(abs(found.offset))} {side} the tf clock ({parent} -> "
            f"{child}), measured from the bag's receive times (receive time minus header "
            f"stamp: images {found.image_offset * 1e-9:.3f} s, tf {found.tf_offset * 1e-9:.3f} "
            "s; one clock gives a few tens of ms, the latency), so each image's pose is looked "
            f"up {_span(abs(found.offset))} away from its time (none, or the wrong one); "
            f"{_cause_and_fix(found)}; then record again"
            + (f"; or read this bag with {restamp} receive ({RECEIVE_COST})" if restamp else ""))
