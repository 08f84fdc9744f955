"""build-map's map check of the keyframes it chose, before the map is committed
(`check_consistency`): concluded, settled (logged, or refused unless --force) and stored in the
manifest."""

from __future__ import annotations

import logging
from typing import Optional, Sequence, Tuple

from ..core.keyframes import MapWriter
from ..core.map_check import ConsistencyReport, KeyframeCheck, MapConsistencyError
from ..core.map_check.skipped_gap import note_skipped_gap

log = logging.getLogger("mast3r_ros.replay.pipeline")  # its lines, as before they moved here


def check_consistency(w: MapWriter, check: Optional[KeyframeCheck],
                      depth_units_per_m: Optional[float], force: bool,
                      pose_suspect: Optional[str] = None, other_clock: str = "",
                      skipped: Sequence[Tuple[int, str]] = ()) -> Optional[ConsistencyReport]:
    """The map check (`mast3r_ros.core.map_check`) of the chosen keyframes, fed to ``check`` as
    they were written (None: ``map_check.enabled`` is off, and so is this), concluded before the
    map is committed: its summary logged, its figures stored in the manifest (``consistency``).
    A map that fails the check is read back from the build folder to find the cause. Raises
    `MapConsistencyError` (one line: which keyframes, by how much, the likely cause and fix) for
    an inconsistent map unless ``force``. ``pose_suspect``: what else places the camera
    (`KeyframeCheck.report`), stored with the figures for check-map. ``other_clock``: a bag's
    note that its images and tf are stamped by different clocks (`BagSequence.other_clock`),
    added to the error: poses looked up a second or more away from each image's time fail the
    check as a wrong pose convention would. ``skipped``: (stamp ns, reason) of the frames
    the build skipped as unreadable, named in the refusal when the disagreeing keyframes
    straddle them (`note_skipped_gap`: the gap they widened is the likely cause)."""
    from .pipeline import keyframe_progress

    if check is None:
        return None
    report = check.report(w.keyframe_records(), depth_units_per_m=depth_units_per_m,
                          progress=keyframe_progress, pose_suspect=pose_suspect)
    if skipped:
        note_skipped_gap(report, [r["stamp_ns"] for r in w.records], [s for s, _ in skipped],
                         skipped[0][1])
    try:
        report.settle(force, log, "--force")
    except MapConsistencyError as err:
        if not other_clock:
            raise
        raise MapConsistencyError(f"{err}; but first: {other_clock}") from err
    manifest = report.to_manifest()
    manifest["forced"] = bool(force and not report.ok)
    manifest["depth_units_per_m"] = depth_units_per_m  # check-map words its fix with it
    manifest.update({k: v for k, v in (("pose_suspect", pose_suspect),  # named, and the
                     ("depth_source", getattr(check, "depth_source", None))) if v})  # stereo note
    w.set_manifest_field("consistency", manifest)
    return report
