"""`mast3r-ros check-map MAP --record`: the check's lens-distortion figure written into the
map's manifest (``consistency.distortion``), the figure `localize` and the node read to tell
rectified query images given the raw camera's D from a map whose images were bent alike
(`localizer.distortion_run_gate.map_images_right`: refused, instead of only marked degraded).

A map built before the figure existed (or copied from one) has none; build-map records it
with every map it writes, and check-map computes it but wrote it nowhere but ``--json``, so
such a map's run could only ever mark its poses "published, degraded". The update is the
manifest alone, written atomically (the old manifest or the new one, never a part), from the
manifest the check read, after the check has read every file of the map (a damaged map is
refused before); a manifest changed on disk meanwhile (a build into the same folder) is
refused rather than overwritten.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from ..core.errors import InputError

# the manifest field the figure goes in, under ``consistency``
FIELD = "distortion"


def check_can_record(map_path: str) -> None:
    """`InputError` before the check when the manifest of the map folder ``map_path`` (opened
    as a map already: a missing one is the map's own refusal) cannot be replaced, its folder
    taking no new file (permissions, a read-only mount, ``chattr +i``): the check's minutes
    spent for nothing otherwise. Probed by creating and removing a temporary file there, as
    the atomic write does. The fix is said for ``--record``, a switch: not "choose another"."""
    import tempfile

    from ..core.keyframes.layout import MANIFEST

    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=map_path)
    except OSError as e:
        raise InputError(f"--record: cannot replace {MANIFEST} in the map folder {map_path} "
                         f"({e.strerror or e}): nothing checked; run check-map without "
                         "--record, or --record a copy of the map in a folder you can write "
                         "to") from None
    os.close(fd)
    os.unlink(probe)


def record_distortion(map_path: str, manifest: Dict[str, Any],
                      figure: Optional[Dict[str, Any]]) -> str:
    """Write ``figure`` (`ConsistencyReport.distortion`, JSON-ready) as the map's
    ``consistency.distortion``, the rest of ``manifest`` (the one the check read) as it was;
    returns the line check-map prints. Nothing is written when ``figure`` is None (no keyframe
    pair could be fitted: the line says so) or equals the recorded one. `InputError` when the
    manifest on disk no longer reads as ``manifest`` (changed since the check read it, or
    unreadable now); the write is `fileio.atomic_write_json`'s."""
    from ..core.fileio import atomic_write_json
    from ..core.keyframes.layout import MANIFEST

    path = os.path.join(map_path, MANIFEST)
    if figure is None:
        return (f"{map_path}: nothing recorded: no keyframe pair could be fitted for the lens "
                "distortion (too few matches with depth), so the map has no figure to record; "
                "a run against it marks rectified-looking poses degraded instead of refusing "
                "them")
    try:
        with open(path, "rb") as fh:
            now = json.loads(fh.read().decode("utf-8-sig"))
    except (OSError, ValueError) as e:
        raise InputError(f"--record: {path} cannot be read again ({e}): nothing recorded; check "
                         "the map and run check-map --record again") from None
    if now != manifest:
        raise InputError(f"--record: {path} changed while the map was checked (rebuilt or "
                         "replaced?): nothing recorded; run check-map --record again")
    consistency = manifest.get("consistency")
    consistency = dict(consistency) if isinstance(consistency, dict) else {}
    if consistency.get(FIELD) == figure:
        return f"{map_path}: its manifest already records this distortion figure: unchanged"
    was = "replaced" if FIELD in consistency else "added"
    consistency[FIELD] = figure
    atomic_write_json(path, {**manifest, "consistency": consistency})
    k1 = figure.get("k1")
    said = (f"k1 {k1:+.3f} over {figure.get('frames_used')} keyframe pairs"
            if isinstance(k1, (int, float)) else
            f"no verdict: {figure.get('frames_fitted')} keyframe pairs fitted, too few")
    return (f"{map_path}: recorded its lens-distortion figure ({said}) in {MANIFEST} "
            f"(consistency.{FIELD}, {was})")
