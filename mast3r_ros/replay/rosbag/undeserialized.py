"""`_Undeserialized`: what `BagSequence` says of, and makes from, the image and depth messages
of a rosbag2 that cannot be deserialized at all (their header stamps unknown, estimated from the
time the bag received them: `runs._RunCounter.estimated`). A base class of `BagSequence`, which
fills ``_undeserialized`` and ``_undeserialized_depth`` (ordinal on the topic -> (bag receive
time ns, the error)) in its indexing pass."""

from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple

from ...core.errors import InputError
from ...core.types import UnreadableFrame

log = logging.getLogger(__name__)


class _Undeserialized:
    """The warnings and unreadable frames of messages that cannot be deserialized (needs the
    `BagSequence` attributes it reads: ``path``, ``image_topic``, ``depth_topic``,
    ``_undeserialized``, ``_undeserialized_depth``, ``_depth_by_ordinal``, ``_run_counter``,
    ``_pose_frames``, ``_pose``)."""

    def _warn_undeserialized(self) -> None:
        """Warn once, with the count and the first error, about the image messages that could
        not be deserialized. Their stamps are `_RunCounter.estimated` (`_place_unknown`): each
        is in the run of a readable neighbour, stamped from its bag receive time less that
        neighbour's receive latency (in the header clock, so a sim-time bag's wall-clock
        receive times do not reorder the frames), clamped between the stamps of the images
        around it in its run, so that it never splits a run nor overtakes a neighbour."""
        self._warn_lost(self._undeserialized, "image", self.image_topic,
                        "localize and build-map skip each as an unreadable frame, stamped from "
                        "its receive time")

    def _warn_undeserialized_depth(self) -> None:
        """As `_warn_undeserialized`, for the depth messages that could not be deserialized:
        each is stamped the same way, and the frames matched to that stamp are unreadable."""
        self._warn_lost(self._undeserialized_depth, "depth", self.depth_topic,
                        "each is stamped from its receive time, and the frame matched to it is "
                        "skipped as an unreadable frame")

    def _warn_lost(self, lost: Dict[int, Tuple[int, str]], kind: str, topic: Optional[str],
                   what_then: str) -> None:
        """One warning for the messages ``lost`` (ordinal -> (bag receive time ns, the error))
        of ``kind`` on ``topic``: their count, the first one's receive time and error, and
        ``what_then``; nothing when none."""
        if not lost:
            return
        (first_bag, first_err), n = next(iter(lost.values())), len(lost)
        log.warning("rosbag2 %s: %d %s message%s on %s cannot be deserialized (the first "
                    "received at bag time %.6f s: %s): %s", self.path, n, kind,
                    "" if n == 1 else "s", topic, first_bag * 1e-9, first_err, what_then)

    def _lost_depth(self, ordinal: int, skip_unreadable: bool) -> InputError:
        """The error of the depth message ``ordinal`` (on the depth topic) that cannot be
        deserialized, for the frames matched to its estimated stamp; raised unless
        ``skip_unreadable`` (plain iteration stops at it)."""
        bag_ns, err = self._undeserialized_depth[ordinal]
        stamp = int(self._depth_by_ordinal[ordinal])
        lost = InputError(
            f"depth topic {self.depth_topic}: the message received at bag time "
            f"{bag_ns * 1e-9:.6f} s could not be deserialized: {err} (its header stamp unknown, "
            f"taken as t={stamp * 1e-9:.6f} s from that receive time)")
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
        reason = (f"{self.image_topic}: the message received at bag time {bag_ns * 1e-9:.6f} s "
                  f"could not be deserialized: {err} (its header stamp unknown, taken as "
                  f"t={stamp * 1e-9:.6f} s from that receive time)")
        camera_named = self._pose_frames is not None and bool(self._pose_frames[1])
        known = frame_id is not None or camera_named  # else no frame to look the pose up for
        return UnreadableFrame(stamp, reason, self._pose(frame_id or "", stamp) if known else None)
