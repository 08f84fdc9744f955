"""A failing map check beside frames the build skipped (unreadable: a JPEG cut short, a frame
of another resolution than the calibration): no keyframe is taken from a skipped frame, so a
run of them widens the gap between two keyframes, and two keyframes further apart than the
selection allows may disagree (less overlap, more occlusion) where the poses and depth are
right. The refusal then named a pose or depth cause and said nothing of the skipped frames,
which build-map had only warned about, one line each, among many.

`note_skipped_gap` adds them to the report's message (build-map's refusal and check-map's,
the manifest's and --json's ``message``) when they are the likely cause: every pair that
disagrees spans at least one skipped frame (a wrong depth unit or pose convention makes pairs
without one disagree too: then they are not named)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..trajectory import format_time_range
from .records import INCONSISTENT
from .report import ConsistencyReport


def skipped_gap_note(report: ConsistencyReport, keyframe_stamps_ns: Sequence[int],
                     skipped_ns: Sequence[int], reason: str = "") -> str:
    """'N of the M frames the build skipped ... lie between the keyframes that disagree
    (t=a..b s) ...' for an inconsistent ``report`` whose every disagreeing pair (``a``, ``b``
    index ``keyframe_stamps_ns``, the keyframes' stamps) spans one of ``skipped_ns`` (the
    skipped frames' stamps; ``reason`` the first one's, from its warning); '' otherwise."""
    bad = [p for p in report.pairs if p.ok is False]
    if report.verdict != INCONSISTENT or not bad or not len(skipped_ns):
        return ""
    stamps = [int(s) for s in keyframe_stamps_ns]
    if any(max(p.a, p.b) >= len(stamps) for p in bad):  # not this map's keyframes
        return ""
    spans = [(min(stamps[p.a], stamps[p.b]), max(stamps[p.a], stamps[p.b])) for p in bad]
    inside = sorted({int(s) for s in skipped_ns if any(lo < s < hi for lo, hi in spans)})
    if not inside or any(not any(lo < s < hi for s in inside) for lo, hi in spans):
        return ""
    at = (f"t={inside[0] * 1e-9:.3f} s" if len(inside) == 1 else
          f"t={format_time_range(inside[0] * 1e-9, inside[-1] * 1e-9)}")
    n, of = len(inside), len(set(map(int, skipped_ns)))
    which = "the frame" if of == 1 else f"{n} of the {of} frames" if n < of else \
        f"the {n} frames"
    why = f" (the first: {reason})" if reason else ""
    return (f"{which} the build skipped as unreadable{why} lie{'s' if n == 1 else ''} between "
            f"the keyframes that disagree ({at}): no "
            "keyframe was taken from them, and the wider gap they leave between keyframes is "
            "the likely cause; make them readable and build again")


def note_skipped_gap(report: ConsistencyReport, keyframe_stamps_ns: Sequence[int],
                     skipped_ns: Sequence[int], reason: str = "") -> str:
    """`skipped_gap_note`, also added to ``report.message`` ('; ' before it); returns it."""
    note = skipped_gap_note(report, keyframe_stamps_ns, skipped_ns, reason)
    if note:
        report.message = f"{report.message}; but first: {note}"
    return note


def note_recorded_skipped_gap(report: ConsistencyReport, keyframe_stamps_ns: Sequence[int],
                              manifest: Any) -> str:
    """`note_skipped_gap` with the frames a written map's build skipped, from its manifest's
    ``unreadable_frames`` (``stamps_ns``, the ``first`` one's ``reason``); '' without a
    usable record (none skipped, a map built before the stamps were recorded, a merged map:
    its sources' records are not in its keyframes' order)."""
    record = manifest.get("unreadable_frames") if isinstance(manifest, Mapping) else None
    stamps = record.get("stamps_ns") if isinstance(record, Mapping) else None
    if not isinstance(stamps, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in stamps):
        return ""
    first = record.get("first")
    reason = first.get("reason") if isinstance(first, Mapping) else ""
    return note_skipped_gap(report, keyframe_stamps_ns, stamps,
                            reason if isinstance(reason, str) else "")
