"""A frozen camera driver: the same pixels again under a new stamp.

A driver that stalls (a USB camera that stopped streaming, a decoder stuck on its last picture)
may go on publishing its last image with fresh stamps while the robot moves. Localized, such a
frame gives the pose of where the camera *was*, confidently (the match is perfect), under a
stamp that says *now*: redkitchen's query frames replaced by their first one were published
0.7 m off at the median, 1.27 m at worst, under ~1 cm sigmas (docs/bench/honesty_cpu_2026-12-07z).
A real camera never repeats an image bit for bit (sensor noise), so an image identical to the
previous one is never localized, with a reason that says what it likely is. `localize` refuses
every repeat; the node drops the first `DROPPED_REPEATS` of an image (a driver publishing faster
than its sensor: no failure for its tracking, which needs consecutive frames) and fails the
rest. A noise-free simulated camera standing still repeats its image too; the reason says so,
and the pose it would give is the one already published.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

REASON_PREFIX = "image identical to the previous frame's"
# a driver publishing faster than its sensor sends an image twice or three times in a row: the
# node drops that many repeats (no failure for the tracking, which would otherwise never confirm
# a pose between alternating failures); more in a row is a frozen driver, a failure
DROPPED_REPEATS = 2
# rows compared first (every this many): a real camera's next image differs in nearly every
# row, so the whole image is compared only when these are equal
ROW_STRIDE = 16


class RepeatedImageCheck:
    """Tells an image whose pixels equal the previous image's (a frozen driver).

    `check` takes each frame's (H, W, 3) uint8 ``rgb`` and its ``stamp_ns`` (int nanoseconds)
    in arrival order and returns "" for a new image, else the failure reason: how long and how
    many frames the image has been unchanged since its first stamp. Only exact equality counts
    (every `ROW_STRIDE`-th row against a copy of the previous image's, then, only where those
    are equal, the whole image against the previous one: 0.1-0.2 ms a 1920x1080 frame where a
    BLAKE2b digest of it took 7-20 ms on this project's 2-core CI machine), so no real camera's
    frame is ever refused; `reset` forgets the last image (a new run, a reset clock). The
    previous image is kept by reference (an image changed in place after its check is
    compared as it is then). Not thread-safe: one caller at a time."""

    def __init__(self) -> None:
        self._last: Optional[np.ndarray] = None
        self._rows: Optional[np.ndarray] = None
        self._first_stamp_ns = 0
        self._repeats = 0
        self._head = REASON_PREFIX

    @property
    def repeats(self) -> int:
        """How many times in a row the last image has been repeated (0: a new image)."""
        return self._repeats

    @property
    def frozen(self) -> bool:
        """True once the last image has been repeated more than `DROPPED_REPEATS` times in a
        row: no longer a driver publishing faster than its sensor."""
        return self._repeats > DROPPED_REPEATS

    def reset(self) -> None:
        """Forget the last image: the next one is never a repeat."""
        self._last = self._rows = None
        self._repeats = 0

    def check(self, rgb: np.ndarray, stamp_ns: int) -> str:
        """"" when ``rgb`` differs from the previous image checked, else the reason to refuse
        it (the previous image's stamp, the count of repeats and the time since)."""
        a = np.asarray(rgb)
        rows = a[::ROW_STRIDE]
        last = self._last
        same = (last is not None and last.shape == a.shape and last.dtype == a.dtype
                and np.array_equal(rows, self._rows) and np.array_equal(a, last))
        if not same:
            self._last, self._rows = a, rows.copy()
            self._first_stamp_ns, self._repeats = int(stamp_ns), 0
            return ""
        self._repeats += 1
        since_s = (int(stamp_ns) - self._first_stamp_ns) * 1e-9
        self._head = (f"{REASON_PREFIX} (the image first seen at t="
                      f"{self._first_stamp_ns * 1e-9:.3f} s, repeated {self._repeats}x over "
                      f"{since_s:.2f} s under new stamps)")
        return (f"{self._head}: a frozen camera driver re-sending its last image? not localized, "
                "since its pose would be where the camera was then, not now (a noise-free "
                "simulated camera standing still repeats its image too)")

    def dropped_reason(self) -> str:
        """The reason for the repeat `check` has just named while not yet `frozen` (the node
        drops it): its first words as `check`'s, then what it likely is -- a driver publishing
        faster than its sensor, not the frozen driver `check`'s own wording suspects."""
        return (f"{self._head}: dropped, not localized: a driver publishing faster than its "
                f"sensor? (more than {DROPPED_REPEATS} repeats in a row are a frozen driver's "
                "failures)")
