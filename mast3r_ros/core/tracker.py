"""The one camera tracker of the offline pipeline and the node (what is remembered between frames).

* ``UNINITIALIZED`` until the first success (and again after `Tracker.reset` or time going
  backwards);
* ``TRACKING`` after a success: `Tracker.hint` is the last successful ``map_from_cam``, which the
  localizer uses to choose candidate keyframes;
* ``LOST`` after ``lost_after_failures`` consecutive failures: no hint (global retrieval) until the
  next success.
"""

from __future__ import annotations

import enum
from typing import Optional

import numpy as np

from .types import LocalizationResult


class Track(enum.Enum):
    UNINITIALIZED = "uninitialized"
    TRACKING = "tracking"
    LOST = "lost"


class StampCheck(enum.Enum):
    OK = "ok"
    DUPLICATE = "duplicate"    # same stamp as the last image
    BACKWARDS = "backwards"    # time went backwards (bag loop, clock reset): state was reset


class Tracker:
    """Tracking state across frames. Not thread-safe: the caller serialises access."""

    def __init__(self, lost_after_failures: int = 3) -> None:
        if lost_after_failures < 1:
            raise ValueError(f"lost_after_failures must be >= 1, got {lost_after_failures}")
        self.lost_after_failures = int(lost_after_failures)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is localized by global retrieval."""
        self.track = Track.UNINITIALIZED
        self.consecutive_failures = 0
        self.last_failure_reason = ""
        self.last_stamp_ns: Optional[int] = None
        self.last_map_from_cam: Optional[np.ndarray] = None

    def check_stamp(self, stamp_ns: int) -> StampCheck:
        """Classify the stamp of a new image; on BACKWARDS the state has been reset."""
        stamp_ns = int(stamp_ns)
        last = self.last_stamp_ns
        if last is not None and stamp_ns < last:
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
        """A success -> TRACKING; ``lost_after_failures`` consecutive failures -> LOST."""
        if result.success and result.map_from_cam is not None:
            self.track = Track.TRACKING
            self.consecutive_failures = 0
            self.last_map_from_cam = np.array(result.map_from_cam, dtype=np.float64)
            return
        self.consecutive_failures += 1
        self.last_failure_reason = result.reason
        if self.consecutive_failures >= self.lost_after_failures and \
                self.track is Track.TRACKING:
            self.track = Track.LOST
