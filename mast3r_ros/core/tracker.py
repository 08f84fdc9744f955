"""The camera tracker shared by the offline CLI and the ROS node.

The localizer is stateless given ``(frame, prior, force_global)``; what is remembered between
frames lives here:

* ``UNINITIALIZED`` until the first successful frame (and again after `reset` or time going
  backwards);
* ``TRACKING`` after a success: `hint` is the last good ``map_from_cam``, which the localizer uses
  to choose candidate keyframes (not to gate the pose jump);
* ``LOST`` after ``lost_after_failures`` consecutive failures while tracking: no hint, so the
  next frame is localized by global retrieval. A success returns to ``TRACKING``.

Failures before the first success leave the state ``UNINITIALIZED`` (there is nothing to lose).
Not thread-safe: callers that share a tracker between threads hold a lock.
"""

from __future__ import annotations

import enum
from typing import Optional

import numpy as np

from .errors import ConfigError, InputError
from .types import LocalizationResult, check_stamp_ns


class Track(enum.Enum):
    """Tracking state of a `Tracker` (module docstring)."""

    UNINITIALIZED = "uninitialized"
    TRACKING = "tracking"
    LOST = "lost"


class StampCheck(enum.Enum):
    """What `Tracker.check_stamp` says about a new frame's stamp."""

    OK = "ok"
    DUPLICATE = "duplicate"    # same stamp as the last frame: drop it
    BACKWARDS = "backwards"    # time went backwards (bag loop, clock reset): state was reset


class Tracker:
    """Tracking state of one camera: lost after N failures, reset, time going backwards.

    ``lost_after_failures`` (>= 1, `LocalizerConfig.lost_after_failures`) consecutive failed
    frames turn ``TRACKING`` into ``LOST``. Raises ConfigError for a value below 1 or not a
    whole number (2.5, "3", True).
    """

    def __init__(self, lost_after_failures: int = 3) -> None:
        if (isinstance(lost_after_failures, (bool, np.bool_))
                or not isinstance(lost_after_failures, (int, np.integer))
                or lost_after_failures < 1):
            raise ConfigError(f"lost_after_failures must be an int >= 1, got "
                              f"{lost_after_failures!r}")
        self.lost_after_failures = int(lost_after_failures)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is localized by global retrieval."""
        self.track = Track.UNINITIALIZED
        self.consecutive_failures = 0
        self.last_failure_reason = ""
        self.last_stamp_ns: Optional[int] = None
        self.last_map_from_cam: Optional[np.ndarray] = None

    def check_stamp(self, stamp_ns: int, reset_on_backwards: bool = True) -> StampCheck:
        """Classify the stamp (integer ns) of a new frame against the last one.

        ``DUPLICATE``: the same stamp again (drop the frame; nothing changes). ``BACKWARDS``: an
        earlier stamp; the state has been reset and this stamp is remembered -- unless
        ``reset_on_backwards`` is False (frames of one run of a recording whose clock resets
        were split off already, so an earlier stamp is a frame recorded out of order): then
        nothing changes and the later stamp stays the last. ``OK``: remembered.

        Raises `InputError` for a stamp that is not an integer (float seconds were truncated to
        whole nanoseconds: 1.1 s and 1.2 s became 1 ns, the second frame a DUPLICATE).
        """
        stamp_ns = check_stamp_ns(stamp_ns, "Tracker.check_stamp: stamp_ns")
        last = self.last_stamp_ns
        if last is not None and stamp_ns < last:
            if not reset_on_backwards:
                return StampCheck.BACKWARDS
            self.reset()
            self.last_stamp_ns = stamp_ns
            return StampCheck.BACKWARDS
        if last is not None and stamp_ns == last:
            return StampCheck.DUPLICATE
        self.last_stamp_ns = stamp_ns
        return StampCheck.OK

    def hint(self) -> Optional[np.ndarray]:
        """The last successful ``map_from_cam`` (4x4 float64 copy) while TRACKING, else None."""
        if self.track is not Track.TRACKING or self.last_map_from_cam is None:
            return None
        return self.last_map_from_cam.copy()

    def update(self, result: LocalizationResult) -> None:
        """Account for one localized frame: a success tracks, N failures in a row lose track.

        Raises `InputError` for a successful result without a 4x4 ``map_from_cam`` (the hint
        it would give is refused by `Localizer.localize`)."""
        if result.success:
            pose = np.asarray(result.map_from_cam, dtype=np.float64)
            if result.map_from_cam is None or pose.shape != (4, 4):
                raise InputError(f"Tracker.update: a successful result needs its 4x4 "
                                 f"map_from_cam, got {result.map_from_cam!r}")
            self.track = Track.TRACKING
            self.consecutive_failures = 0
            self.last_map_from_cam = pose.copy()
            return
        self.consecutive_failures += 1
        self.last_failure_reason = result.reason
        if (self.track is Track.TRACKING
                and self.consecutive_failures >= self.lost_after_failures):
            self.track = Track.LOST
