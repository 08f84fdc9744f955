"""`_Undeserialized`: what `BagSequence` says of, and makes from, the image and depth messages
of a rosbag2 that cannot be deserialized at all (their header stamps read from their first bytes
where those are intact, `header_stamp_of_cdr`, else estimated from the time the bag received
them: `runs._RunCounter.estimated`). A base class of `BagSequence`, which fills
``_undeserialized`` and ``_undeserialized_depth`` (ordinal on the topic -> (bag receive time
ns, the error)) in its indexing pass."""

from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple

from .cdr_header import head_stamp
from .opening import bag_label
from ...core.errors import InputError
from ...core.types import UnreadableFrame

log = logging.getLogger(__name__)


def header_stamp_of_cdr(raw: bytes) -> Optional[int]:
    """The ``header.stamp`` (int ns) of a serialized rosbag2 image or depth message
    (sensor_msgs/Image, CompressedImage: std_msgs/Header first), read from its first 12 bytes
    even when the rest cannot be deserialized (a message cut short): the 4-byte CDR
    encapsulation header (0x00 0x00 big-endian, 0x00 0x01 little-endian), then int32 sec and
    uint32 nanosec. None when the bytes cannot be that: fewer than 12, another encapsulation,
    nanosec >= 10^9. The caller checks that the stamp is plausible (`runs._RunCounter`)."""
    stamp = head_stamp(raw)
    if stamp is None or stamp[2] >= 1_000_000_000:
        return None
    return stamp[1] * 1_000_000_000 + stamp[2]


def _stamp_words(stamp: int, from_header: bool) -> str:
    """How an undeserialized message's stamp was found, for its frame's reason."""
    if from_header:
        return f"its header stamp t={stamp * 1e-9:.6f} s read from its first bytes"
    return f"its header stamp unknown, taken as t={stamp * 1e-9:.6f} s from that receive time"


class _Undeserialized:
    """The warnings and unreadable frames of messages that cannot be deserialized (needs the
    `BagSequence` attributes it reads: ``path``, ``image_topic``, ``depth_topic``,
    ``_undeserialized``, ``_undeserialized_depth``, ``_depth_by_ordinal``, ``_run_counter``,
    ``_pose_frames``, ``_pose``)."""

    def _warn_undeserialized(self) -> None:
        """Warn once, with the count and the first error, about the image messages that could
        not be deserialized. Their stamps are `_RunCounter.estimated` (`_place_unknown`): the
        header stamp of a message whose first bytes hold one near its receive time
        (`header_stamp_of_cdr`: a message cut short keeps them), else each
        is in the run of a readable neighbour, stamped from its bag receive time less that
        neighbour's receive latency (in the header clock, so a sim-time bag's wall-clock
        receive times do not reorder the frames), clamped between the stamps of the images
        around it in its run, so that it never splits a run nor overtakes a neighbour."""
        self._warn_lost(self._undeserialized, "image", self.image_topic,
                        "localize and build-map skip each as an unreadable frame (build-map "
                        "counts it so whether or not it is a keyframe candidate), stamped by "
                        "its first bytes where intact, else from its receive time")

    def _warn_undeserialized_depth(self) -> None:
        """As `_warn_undeserialized`, for the depth messages that could not be deserialized:
        each is stamped the same way, and the frames matched to that stamp are unreadable."""
        self._warn_lost(self._undeserialized_depth, "depth", self.depth_topic,
                        "each is stamped by its first bytes where intact, else from its receive "
                        "time, and the frame matched to it is skipped as an unreadable frame "
                        "(by build-map whether or not it is a keyframe candidate)")

    def _warn_lost(self, lost: Dict[int, Tuple[int, str]], kind: str, topic: Optional[str],
                   what_then: str) -> None:
        """One warning for the messages ``lost`` (ordinal -> (bag receive time ns, the error))
        of ``kind`` on ``topic``: their count, the first one's receive time and error, and
        ``what_then``; nothing when none."""
        if not lost:
            return
        (first_bag, first_err), n = next(iter(lost.values())), len(lost)
        log.warning("%s: %d %s message%s on %s cannot be deserialized (the first "
                    "received at bag time %.6f s: %s): %s", bag_label(self.path), n, kind,
                    "" if n == 1 else "s", topic, first_bag * 1e-9, first_err, what_then)

    def _lost_depth(self, ordinal: int, skip_unreadable: bool) -> InputError:
        """The error of the depth message ``ordinal`` (on the depth topic) that cannot be
        deserialized, for the frames matched to its estimated stamp; raised unless
        ``skip_unreadable`` (plain iteration stops at it)."""
        bag_ns, err = self._undeserialized_depth[ordinal]
        stamp = int(self._depth_by_ordinal[ordinal])
        read = self._run_counter.from_header(self.depth_topic, ordinal)
        lost = InputError(
            f"depth topic {self.depth_topic}: the message received at bag time "
            f"{bag_ns * 1e-9:.6f} s could not be deserialized: {err} "
            f"({_stamp_words(stamp, read)})")
        if not skip_unreadable:
            raise lost
        return lost

    def _undeserialized_frame(self, ordinal: int, frame_id: Optional[str]) -> UnreadableFrame:
        """The unreadable frame of the image message ``ordinal`` (on the image topic) that
        cannot be deserialized, at its estimated stamp; its pose from tf at that stamp for the
        camera ``frame_id`` of the images before it (the first readable one's; none known:
        no pose)."""
        bag_ns, err = self._undeserialized[ordinal]
        stamp = self._run_counter.estimated(self.image_topic)[ordinal]
        read = self._run_counter.from_header(self.image_topic, ordinal)
        reason = (f"{self.image_topic}: the message received at bag time {bag_ns * 1e-9:.6f} s "
                  f"could not be deserialized: {err} ({_stamp_words(stamp, read)})")
        camera_named = self._pose_frames is not None and bool(self._pose_frames[1])
        known = frame_id is not None or camera_named  # else no frame to look the pose up for
        return UnreadableFrame(stamp, reason, self._pose(frame_id or "", stamp) if known else None)
