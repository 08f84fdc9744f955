"""A failing map's cause worded for where its depth came from (`worded_for_depth`).

The diagnosis (`diagnose._diagnose`, `focal`) words the colour images' focal fit for a sensor's
depth: a depth camera not registered to the colour one (``colour_focal``: "register the depth
... depth_image_proc's register"; ``focal_length`` near 1: `focal.UNREGISTERED_NOTE`). Depth
computed from the images themselves (EuRoC/KITTI ``--stereo-depth``, `focal.DEPTH_STEREO`) is
registered to them by construction: no depth camera or registration applies, and the fit
points at the calibration or the poses instead (as `focal.colour_focal_note` says of a map that
passes)."""

from __future__ import annotations

import dataclasses
from typing import Optional

from .focal import DEPTH_STEREO, UNREGISTERED_NOTE
from .records import _Cause

# where `focal._colour_focal`'s words turn to the depth camera (its ``what``)
_SENSOR_CLAUSE = "; the depth is a depth camera's not registered to the colour camera"
STEREO_CLAUSE = ("; the depth was computed from these same images (--stereo-depth: registered "
                 "to them by construction), so no separate sensor explains it")
STEREO_FIX = ("check the calibration's fx, fy (and the baseline) and the poses (the camera's "
              "extrinsics to the body the ground truth tracks, EuRoC's T_BS), whose errors the "
              "fit can absorb, and build the map again with any change; or, the error "
              "accepted, raise map_check.max_reproj_frac or pass --force")


def worded_for_depth(cause: _Cause, depth_source: Optional[str]) -> _Cause:
    """``cause`` as it is, or for `DEPTH_STEREO` depth without the depth camera: a
    ``colour_focal`` cause's figures kept ("the images fit fx, fy x...") with `STEREO_CLAUSE`
    and `STEREO_FIX`; any other's fix without `UNREGISTERED_NOTE`."""
    if depth_source != DEPTH_STEREO:
        return cause
    if cause.name == "colour_focal" and _SENSOR_CLAUSE in cause.what:
        figures = cause.what.split(_SENSOR_CLAUSE)[0].replace("the colour images fit",
                                                              "the images fit", 1)
        return dataclasses.replace(cause, what=figures + STEREO_CLAUSE, fix=STEREO_FIX)
    return dataclasses.replace(cause, fix=cause.fix.replace(UNREGISTERED_NOTE, ""))
