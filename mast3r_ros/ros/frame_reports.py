"""What the node says about its frames and its errors (no rclpy): unexpected exceptions (a
traceback, then throttled one-liners, `admission.ErrorThrottle`), frame failures' warnings
throttled by kind, each frame's record on /diagnostics, and the tilted-pose warning of a
configuration (said at its third tilted pose published). A mixin of `processing.FrameProcessing`,
which provides ``_lock``, ``_diag``, ``_errors``, ``_warnings``, ``_tilted`` (set by its
``_init_frame_path``), ``_now`` (its monotonic clock: tests and the soak bench set
`processing`'s ``time``), ``_shutting_down()`` and ``get_logger``.
"""

from __future__ import annotations

import traceback
import weakref
from typing import Any, Iterable, Optional

from mast3r_ros.ros import admission
from mast3r_ros.ros.diagnostics import FrameRecord
from mast3r_ros.ros.frames import one_line


class FrameReports:
    """The node's reports of frames and errors: to the log (throttled) and /diagnostics."""

    def _report_error(self, what: str, err: BaseException, stamp_ns: Optional[int] = None,
                      frame: bool = True) -> None:
        """An unexpected exception: a traceback the first time, then throttled one-liners;
        always counted in /diagnostics (ERROR while active, for its window), as a frame's
        outcome when ``frame`` (else an error outside the frames: the executor, the TF timer).
        Silent once the process is exiting."""
        if self._shutting_down():
            return
        now = self._now()
        where = f" (image at {stamp_ns / 1e9:.3f} s)" if stamp_ns is not None else ""
        report = self._errors.report(admission.error_key(what, err), now,
                                     site=admission.error_site(what, err))
        if report.traceback:
            tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
            self.get_logger().error(f"{what}{where}: {err!r}\n{tb}")
        elif report.line:
            self.get_logger().error(f"{what}{where}: {err!r} (again, {report.repeats} more "
                                    "since the last report; traceback above)")
        if frame:
            self._record(FrameRecord(now, False, reason=f"{what}: {err!r}", error=True))
        else:
            with self._lock:
                self._diag.note_error(now, f"{what}: {err!r}")

    def _warn_throttled(self, kind: str, text: str, at_once: bool = False) -> None:
        """Log ``text`` as a warning through the per-``kind`` throttle (with the count held back
        since its last line), or ``at_once`` (uncounted); nothing while shutting down."""
        report = None if at_once else self._warnings.report(kind, self._now())
        if (report is None or report.line) and not self._shutting_down():
            again = f" ({report.repeats} more like it since)" if report and report.repeats else ""
            self.get_logger().warning(f"{text}{again}")

    def _say_stretches(self, summaries: Iterable[str]) -> None:
        """Log `StretchLog`'s summary lines (the degraded stretches held back), unthrottled:
        it says at most one a reason every 10 s and one more at a deactivate."""
        for line in summaries:
            self._warn_throttled("", line, at_once=True)

    def _record(self, rec: FrameRecord) -> None:
        with self._lock:
            self._diag.add(rec)

    def _count_tilted(self, tilt: str, localizer: Any) -> None:
        """Count a published pose's ``tilt`` (`tilted_base_doubt`, '' when level): said at a
        configuration's (its localizer's: config_warning is cleared at cleanup) third tilted
        pose, not for one wrong pose; the poses are published all the same. Only poses that
        were published count: one dropped by a reset or a deactivate did not."""
        held, count = self._tilted
        self._tilted = (weakref.ref(localizer),
                        (count if held() is localizer else 0) + bool(tilt))
        if tilt and self._tilted[1] == 3:
            self.get_logger().warning(tilt)
            with self._lock:  # on /diagnostics too, until cleanup (one line there)
                self._diag.config_warning = "; ".join(filter(None, (self._diag.config_warning,
                                                                    one_line(tilt))))
