"""The camera tracker shared by the offline CLI and the ROS node.

The localizer is stateless given ``(frame, prior, force_global)``; what is remembered between
frames lives here:

* ``UNINITIALIZED`` until the first successful frame (and again after `reset` or time going
  backwards);
* ``TRACKING`` after a success: `hint` is the last good ``map_from_cam``, which the localizer uses
  to choose candidate keyframes (not to gate the pose jump), while it is no older than
  ``hint_max_age_s`` by the frames' stamps: an older one says little of where the camera is now
  (a stride, a slow node, an outage), and its keyframes gave poses 20-50 cm off that passed
  every gate on real data, so the frame is localized by global retrieval instead;
* ``LOST`` after ``lost_after_failures`` consecutive failures while tracking: no hint, so the
  next frame is localized by global retrieval. A success returns to ``TRACKING``.

Failures before the first success leave the state ``UNINITIALIZED`` (there is nothing to lose).
Not thread-safe: callers that share a tracker between threads hold a lock.
"""

from __future__ import annotations

import enum
import math
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
    whole number (2.5, "3", True). ``hint_max_age_s`` (`LocalizerConfig.hint_max_age_s`): the
    oldest last success, in seconds of frame stamps, that `hint` still offers; 0: any age.
    Raises ConfigError for a negative, non-finite or non-number one.
    """

    def __init__(self, lost_after_failures: int = 3, hint_max_age_s: float = 1.0) -> None:
        if (isinstance(lost_after_failures, (bool, np.bool_))
                or not isinstance(lost_after_failures, (int, np.integer))
                or lost_after_failures < 1):
            raise ConfigError(f"lost_after_failures must be an int >= 1, got "
                              f"{lost_after_failures!r}")
        self.lost_after_failures = int(lost_after_failures)
        if (isinstance(hint_max_age_s, (bool, np.bool_))
                or not isinstance(hint_max_age_s, (int, float, np.integer, np.floating))
                or not math.isfinite(hint_max_age_s) or hint_max_age_s < 0):
            raise ConfigError(f"hint_max_age_s must be a finite number of seconds >= 0 (0: no "
                              f"limit), got {hint_max_age_s!r}")
        self.hint_max_age_s = float(hint_max_age_s)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is localized by global retrieval."""
        self.track = Track.UNINITIALIZED
        self.consecutive_failures = 0
        self.last_failure_reason = ""
        self.last_stamp_ns: Optional[int] = None
        self.last_map_from_cam: Optional[np.ndarray] = None
        self.last_success_ns: Optional[int] = None

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

    def hint(self, stamp_ns: Optional[int] = None) -> Optional[np.ndarray]:
        """The last successful ``map_from_cam`` (4x4 float64 copy) while TRACKING, else None;
        None too when it is older than ``hint_max_age_s`` at ``stamp_ns`` (the frame's stamp,
        integer ns; default the last stamp `check_stamp` took): `hint_fresh`."""
        if self.track is not Track.TRACKING or self.last_map_from_cam is None:
            return None
        stamp_ns = self.last_stamp_ns if stamp_ns is None else stamp_ns
        if not hint_fresh(self.last_success_ns, stamp_ns, self.hint_max_age_s):
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
            self.last_success_ns = int(result.stamp_ns)
            return
        self.consecutive_failures += 1
        self.last_failure_reason = result.reason
        if (self.track is Track.TRACKING
                and self.consecutive_failures >= self.lost_after_failures):
            self.track = Track.LOST


def hint_fresh(pose_stamp_ns: Optional[int], stamp_ns: Optional[int], max_age_s: float) -> bool:
    """Whether a pose found at ``pose_stamp_ns`` still hints where the camera is at
    ``stamp_ns``: at most ``max_age_s`` apart either way (a frame recorded out of order is
    as close); True with ``max_age_s`` 0 (no limit) or an unknown stamp."""
    if max_age_s <= 0 or pose_stamp_ns is None or stamp_ns is None:
        return True
    return abs(int(stamp_ns) - int(pose_stamp_ns)) <= round(max_age_s * 1e9)
