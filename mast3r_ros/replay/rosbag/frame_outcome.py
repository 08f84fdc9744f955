"""What a bag's image message becomes (no ROS): a `Frame`, an `UnreadableFrame` (with the
reason, under ``skip_unreadable``; else the `InputError` is raised) or a `RecordedFrame` (a frame
neither decoded nor its depth read: its pose and intrinsics only), and the intrinsics of a stamp
(the override, else the latest CameraInfo at or before it, else the first). A mixin of
`sequence.BagSequence`, which provides ``_override``, ``_infos``, ``_info_stamps``,
``camera_info_topic``, ``image_topic``, ``_pose``, ``_take_depth`` and ``_frame`` (the decoding,
kept in `sequence`, whose ``frame_from_image_message`` tests and benches watch).
"""

from __future__ import annotations

import collections
from typing import Any, Dict

import numpy as np

from ...core.errors import InputError
from ...core.message_fields import header_stamp_ns
from ...core.types import CameraIntrinsics, Frame, RecordedFrame, UnreadableFrame
from .drawn import _Recorded


class _FrameOutcome:
    """A frame, an unreadable one or a recorded one, from an image message (`BagSequence`)."""

    def _frame_intrinsics(self, stamp_ns: int) -> CameraIntrinsics:
        """The override, else the latest CameraInfo at or before the stamp, else the first."""
        if self._override is not None:
            return self._override
        if not self._infos:
            raise InputError(
                f"no CameraInfo message on {self.camera_info_topic}: pass a camera_info topic "
                "with messages or a camera_info YAML"
            )
        index = int(np.searchsorted(self._info_stamps, stamp_ns, side="right")) - 1
        return self._infos[max(index, 0)][1]

    def _frame_or_unreadable(self, msg: Any, depth_stamp: int,
                             depth_by_stamp: Dict[int, Any], remaining: collections.Counter,
                             skip_unreadable: bool) -> Frame | UnreadableFrame | RecordedFrame:
        if isinstance(msg, UnreadableFrame):  # an image message that cannot be deserialized
            self._take_depth(depth_stamp, depth_by_stamp, remaining)
            if not skip_unreadable:
                raise InputError(msg.reason)
            return msg
        # the pose first: a --pose-frames error is a setting's, raised, not one bad frame's;
        # an unreadable frame keeps its ground truth (recall counts it)
        if isinstance(msg, _Recorded):  # neither its image nor its depth read
            pose = self._pose(msg.frame_id, msg.stamp_ns)
            try:
                return RecordedFrame(msg.stamp_ns, self._frame_intrinsics(msg.stamp_ns), pose)
            except InputError as err:  # no CameraInfo: as it would be for the image
                return UnreadableFrame.from_error(msg.stamp_ns, err, pose)
        stamp = header_stamp_ns(msg.header)
        pose = self._pose(msg.header.frame_id, stamp)
        if not skip_unreadable:
            return self._frame(msg, depth_stamp, depth_by_stamp, remaining, pose)
        try:
            return self._frame(msg, depth_stamp, depth_by_stamp, remaining, pose)
        except InputError as err:
            return UnreadableFrame.from_error(stamp, err, pose)

    def _depth_error(self, stamp: int, depth_stamp: int, depth: InputError) -> InputError:
        """The error of the frame stamped ``stamp`` whose depth (at ``depth_stamp``) could not
        be read: ``depth``, the depth message's error."""
        return InputError(f"{self.image_topic} at t={stamp * 1e-9:.6f} s: its depth at "
                          f"t={depth_stamp * 1e-9:.6f} s: {depth}")
