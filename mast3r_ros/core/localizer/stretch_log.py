"""When `localize` and the node log the distortion gate's mid-run reasons (a pose refused or
published degraded because the images look already rectified: `distortion_run_gate`'s
`SAID_AT_ONCE`), so that a state flapping every frame cannot flood a log.

`stretch_news` says when a frame begins a stretch of such a reason: a clean pose ends the
stretch, so a run flipping degraded / clean every frame began a stretch every other frame and
was logged at that rate (50 lines in 100 frames; 100 when it flipped between a refusal and a
degraded pose). `StretchLog` keeps the rule's first line at once (the first stretch, or the
first after a quiet ``interval_s``) and holds back the stretches that begin within
``interval_s`` of its key's last line, counting them: the next line of that key says how many,
and a key whose interval has ended with some held back gets a summary line. At most one line a
key (two keys) per ``interval_s``; every frame's reason is still in results.jsonl and on
/diagnostics. No ROS: the node passes its monotonic clock, `localize` the frame stamps.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple

from ..types import LocalizationResult
from .distortion_run_gate import SAID_AT_ONCE, stretch_news

#: a key's lines come at most this often (seconds of the clock given to `StretchLog.note`)
INTERVAL_S = 10.0


class StretchLines(NamedTuple):
    """What `StretchLog.note` says to log for one frame: ``reason``, the frame's reason (with
    the number of stretches held back since its key's last line) when it begins a stretch that
    is due, else ""; ``summaries``, a line for each other key whose interval ended with
    stretches held back."""

    reason: str
    summaries: List[str]


def _stretches(n: int) -> str:
    return f"{n} more stretch{'es' if n != 1 else ''} of it"


class StretchLog:
    """`stretch_news` with a clock (module docstring). ``interval_s`` > 0, seconds. Not
    thread-safe (the node calls it under its lock)."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = float(interval_s)
        self.said = ""  # the stretch so far (`stretch_news`'s)
        self._last: Dict[str, float] = {}  # key -> the time of its last line
        self._held: Dict[str, int] = {}  # key -> stretches begun since it, not logged

    def _due(self, key: str, now_s: float) -> bool:
        last = self._last.get(key)  # a clock gone backwards (a bag loop's stamps): due
        return last is None or not 0.0 <= now_s - last < self.interval_s

    def _said(self, key: str, now_s: float) -> str:
        """Mark a line of ``key`` said at ``now_s``; the words for what was held back since
        its last one ("" for none)."""
        held, last = self._held.pop(key, 0), self._last.get(key, now_s)
        self._last[key] = now_s
        ago = f" {now_s - last:.0f} s before" if now_s >= last else ""  # not across a loop
        return f"{_stretches(held)} since its last line{ago}, not logged one by one" if held \
            else ""

    def note(self, r: LocalizationResult, now_s: float) -> StretchLines:
        """What to log for ``r``, the next frame's result, at ``now_s`` (seconds, the clock of
        every call). Raises nothing."""
        news, self.said = stretch_news(r, self.said)
        key = self.said if news else ""
        reason = ""
        if news and self._due(key, now_s):
            held = self._said(key, now_s)
            reason = f"{r.reason} ({held})" if held else r.reason
        elif news:
            self._held[key] = self._held.get(key, 0) + 1
        summaries = [f"{k}: {self._said(k, now_s)}" for k in SAID_AT_ONCE
                     if k != key and self._held.get(k) and self._due(k, now_s)]
        return StretchLines(reason, summaries)

    def flush(self) -> List[str]:
        """The summary lines of every key with stretches held back, due or not (the end of a
        run, a deactivate); the stretch ends and the clock starts afresh: the next one is said
        at once."""
        out = [f"{k}: {_stretches(n)} after its last line, not logged one by one"
               for k, n in self._held.items() if n]
        self._held.clear()
        self._last.clear()
        self.said = ""
        return out
