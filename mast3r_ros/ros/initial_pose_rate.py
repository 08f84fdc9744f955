"""An /initialpose that is an operator's click, and one of a stream (no rclpy).

RViz's "2D Pose Estimate" sends one pose a click: the node resets its tracking around it and
says so in one info line (`executor_side.ExecutorSide._initial_pose`). A pose topic remapped
onto /initialpose (an EKF's or AMCL's output, a bag replaying one, a second localizer) sends
one every few milliseconds: each one reset the tracking, so a frame in inference, planned
before the reset, published nothing (its result is dropped), and each one logged a line: the
node never localized and flooded its log.

The decision: nobody clicks `STREAM_POSES` poses within `STREAM_WINDOW_S` seconds. From the
`STREAM_POSES`-th pose received within such a window on, the poses are a stream's and are
ignored (not applied: no reset, no info line) until fewer than `STREAM_POSES` poses have come
in the last `STREAM_WINDOW_S` (the ignored ones count: a stream that goes on stays ignored);
the next pose is then a click again. A correction clicked right after a wrong click is applied
(two poses within a second). The ignored poses are said in one warning at most every 5 s with
the number held back (the node's throttle of its /initialpose refusals) and on /diagnostics
(``last_initialpose_ignored``).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Deque

STREAM_POSES = 5      # poses within STREAM_WINDOW_S that no operator clicks
STREAM_WINDOW_S = 5.0


class InitialPoseStream:
    """Tells an /initialpose of a stream from a click (see the module): `refuse`. Thread-safe;
    ``clock``: seconds, monotonic (the node's)."""

    def __init__(self, poses: int = STREAM_POSES, window_s: float = STREAM_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.poses, self.window_s, self._clock = int(poses), float(window_s), clock
        self._times: Deque[float] = collections.deque()
        self._lock = threading.Lock()

    def refuse(self) -> str:
        """A pose received now: '' to apply it (a click), else why it is ignored."""
        now = float(self._clock())
        with self._lock:
            if self._times and now < self._times[-1]:  # a clock gone back: start over
                self._times.clear()
            self._times.append(now)
            while self._times and now - self._times[0] >= self.window_s:
                self._times.popleft()
            if len(self._times) < self.poses:
                return ""
            if len(self._times) > self.poses:  # bounded: the window's last `poses` only
                self._times.popleft()
        return (f"{self.poses} poses within {self.window_s:g} s, faster than anyone clicks "
                "rviz's 2D Pose Estimate: a pose topic remapped onto /initialpose (an EKF's or "
                "AMCL's output, a bag replaying one)? Not applied (each would reset the "
                f"tracking); a pose is applied again once fewer than {self.poses} came in "
                f"{self.window_s:g} s")
