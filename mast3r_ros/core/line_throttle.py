"""A warning's lines per kind, at most one every ``interval_s``, with the number held back.

For the core's warnings that a source renews at every message, where keying them "once per
value" does not bound them: a CameraInfo whose K changes at every message (a driver that
republishes an auto-calibration, a counter in it) is a new calibration each time, and the
conversion's warnings about it (a principal point far outside the image, an image topic whose
name contradicts how it is read) were said once per calibration, so once per message. The first
line of a kind comes at once; later ones at most one every ``interval_s`` on ``clock``, saying
how many were held back since. ROS-free: the node passes its monotonic clock.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional


class LineThrottle:
    """When to say a warning of each kind (a str): `due`. ``interval_s`` > 0, seconds of
    ``clock`` (monotonic by default). Thread-safe. Remembers one entry per kind, so kinds
    must be a fixed few (not values of the data)."""

    def __init__(self, interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = float(interval_s)
        self._clock = clock
        self._state: Dict[str, List[float]] = {}  # kind -> [time of its last line, held back]
        self._lock = threading.Lock()

    def due(self, kind: str) -> Optional[int]:
        """None: hold this one back (counted); else say it now, with the returned number of
        lines of ``kind`` held back since its last one (0: none). A clock gone backwards (a
        bag's loop) makes it due."""
        now = float(self._clock())
        with self._lock:
            st = self._state.get(kind)
            if st is not None and 0.0 <= now - st[0] < self.interval_s:
                st[1] += 1
                return None
            held = 0 if st is None else int(st[1])
            self._state[kind] = [now, 0]
            return held

    @staticmethod
    def again(held: int, what: str) -> str:
        """The words a due line ends with: `` (N more <what> since, not logged one by one)``,
        or '' for none held back."""
        return f" ({held} more {what} since, not logged one by one)" if held else ""
