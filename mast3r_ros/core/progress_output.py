"""When and how progress is shown: the bars of build-map, localize, check-map, merge-maps,
retrieve and the demo, build-map's keyframe-encoding and ASMK-index bars, a localizer's encoding
of a map's missing keyframe encodings, and export's stage line.

One rule for all of them: progress is INFO output. On a terminal it is a live bar on stderr
(tqdm); off a terminal (``nohup``, systemd, CI, ``> log 2>&1``, or a terminal 0 columns wide) it
is a plain INFO log line at a modest cadence (`ProgressLog`: ``localize: 12/50 frames, 2.3
s/frame, ~87 s left``), so a long run is not silent until it ends. Either is shown only while
the package's INFO lines are (the CLI's ``--log-level debug`` or ``info``, the default);
``--log-level warning`` or ``error`` silences it with them, as many tools' ``--quiet`` does.
From Python, progress is shown once the ``mast3r_ros`` logger is enabled for INFO
(``logging.basicConfig(level=logging.INFO)``).
`progress_bar` picks the one of the three (bar, log lines, nothing) for every command."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from typing import Any, Callable, Optional

log = logging.getLogger("mast3r_ros.progress")

LOG_MIN_GAP_S = 10.0  # no log line sooner than this after the start or the previous line
LOG_EVERY_S = 30.0  # a line at least this often while items complete
LOG_STEP = 0.1  # else a line at each 10 % of the total (at least LOG_MIN_GAP_S apart)

_clock: Callable[[], float] = time.monotonic  # tests replace it with a fake clock


def _info_shown() -> bool:
    return logging.getLogger("mast3r_ros").isEnabledFor(logging.INFO)


def _stderr_is_terminal() -> bool:
    """stderr is a terminal a bar can be drawn on: a tty, and not one that reports a width of
    0 columns (a pty opened without a size: ``docker run -t`` from a script or CI, ``script
    -c``, Python's ``pty``), on which tqdm draws an empty bar, so nothing showed while a build
    ran; such a terminal gets the log lines. A tty whose size cannot be read (a stand-in stream
    without a file descriptor) counts as a terminal."""
    try:
        if not sys.stderr.isatty():
            return False
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):  # no descriptor, or no size to read
        return True


def progress_shown() -> bool:
    """Whether progress is drawn as a live bar now (module docstring): stderr a terminal and
    the ``mast3r_ros`` logger enabled for INFO."""
    return _stderr_is_terminal() and _info_shown()


def progress_logged() -> bool:
    """Whether progress is written as `ProgressLog` lines now: stderr not a terminal and the
    ``mast3r_ros`` logger enabled for INFO."""
    return not _stderr_is_terminal() and _info_shown()


def _duration(s: float) -> str:
    if s < 90:
        return f"{max(1, round(s))} s"
    if s < 90 * 60:
        return f"{round(s / 60)} min"
    return f"{s / 3600:.1f} h"


class ProgressLog:
    """tqdm's ``update`` / ``close`` as INFO log lines, for a stderr that is no terminal.

    A line (``desc: n/total units, rate, ~ETA left``) is written when at least `LOG_MIN_GAP_S`
    passed since the start or the previous line and either a further 10 % of ``total`` is done
    or `LOG_EVERY_S` passed; a run shorter than `LOG_MIN_GAP_S` writes none. ``total`` None:
    every `LOG_EVERY_S`, without the ETA. ``initial`` items count as done but not in the rate (a
    resumed run's recorded frames). ``rate_after_first``: the rate (and ETA) is measured from the
    first update on, its items not counted, and shown once that span is `LOG_MIN_GAP_S` long
    (before: the count alone) -- for work whose start-up is no item's (build-map's workers
    loading the network: the first encoding line said 1.6 keyframes/s, ~2 min left, of a
    build done 15 s later; workers started together finish their first shards together, so a
    shorter span overstates the rate). Times are seconds of ``clock`` (default
    `time.monotonic`)."""

    def __init__(self, total: Optional[int], desc: str, unit: str = "frame", initial: int = 0,
                 clock: Optional[Callable[[], float]] = None,
                 rate_after_first: bool = False) -> None:
        self.total = total if total else None
        self.desc, self.unit = desc, unit
        self.n = self._logged_n = initial
        self._counted = 0
        self._clock = clock or _clock
        self._start = self._last = self._clock()
        self._after_first = rate_after_first
        self._first: Optional[float] = None  # time of the first update (rate_after_first)
        self._first_n = 0  # items of the first update, not in that rate

    def rate_after_first(self) -> ProgressLog:
        """Measure the rate from the first update on (the class doc's ``rate_after_first``)."""
        self._after_first = True
        return self

    def _step(self, n: int) -> int:
        return math.floor(n / (self.total * LOG_STEP)) if self.total else 0

    def update(self, n: int = 1) -> None:
        """``n`` more items done; writes a line when one is due (class doc)."""
        self.n += n
        self._counted += n
        now = self._clock()
        if self._first is None:
            self._first, self._first_n = now, n
        since = now - self._last
        if since < LOG_MIN_GAP_S:
            return
        if since < LOG_EVERY_S and self._step(self.n) <= self._step(self._logged_n):
            return
        self._last, self._logged_n = now, self.n
        log.info("%s", self.line(now))

    def line(self, now: float) -> str:
        """The progress line at time ``now``."""
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        done += f" {self.unit}s"
        if self._after_first:
            span = now - self._first if self._first is not None else 0.0
            if span < LOG_MIN_GAP_S or self._counted <= self._first_n:
                return f"{self.desc}: {done}"
            per = span / (self._counted - self._first_n)
        else:
            per = (now - self._start) / max(self._counted, 1)
        rate = (f"{per:.1f} s/{self.unit}" if per >= 1
                else f"{1 / max(per, 1e-9):.1f} {self.unit}s/s")
        if self.total and self.n < self.total:
            return f"{self.desc}: {done}, {rate}, ~{_duration(per * (self.total - self.n))} left"
        return f"{self.desc}: {done}, {rate}"

    def close(self) -> None:
        pass


class NoProgress:
    """`progress_bar`'s display when progress is not shown: ``update`` and ``close`` do nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: Optional[int], desc: str, unit: str, initial: int = 0,
                 leave: bool = False) -> Any:
    """The progress display for every long command (module docstring), an object with tqdm's
    ``update(n)`` and ``close()``: a tqdm bar on stderr when `progress_shown`, a `ProgressLog`
    when `progress_logged`, else one that shows nothing. ``total`` items (None: unknown) of
    ``unit`` (singular: "frame", "keyframe", "image"; no default, each caller says it),
    ``initial`` of them done already."""
    if progress_shown():
        from tqdm import tqdm

        # no monitor thread: a Ctrl-C as the program exits interrupted its atexit join and
        # printed a traceback after the work was done (the bars refresh on each update anyway)
        tqdm.monitor_interval = 0
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                    leave=leave, dynamic_ncols=True)
    if progress_logged():
        return ProgressLog(total, desc, unit, initial)
    return NoProgress()
