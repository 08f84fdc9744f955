"""Keyframe pairs with a baseline or a turn, for the fits that need one (`with_baseline`).

Two keyframes taken from one place (the same frame added twice: a map written by an older
version, by a tool or by hand, or merge-maps ``--keep-duplicates``) see every point along the
same ray: their matches reproject the same under any focal length, so a focal fit on them
fits nothing (check-map's colour-focal note read "fit fx x0.577 ... match reprojection 0.0 px
against 0.0 px" for a map holding one frame twice). `focal._colour_focal_fit` scores and
confirms only the pairs `with_baseline` keeps."""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np

# camera centres closer than this (metres) are one place: no baseline. Keyframe selection
# keeps keyframes centimetres apart at least (or turned), a pose source's noise is well below
MIN_BASELINE_M = 1e-3
# ... unless turned by more than this (degrees): a pair turned in place reprojects through
# K R K^-1, which depends on the focal length (a panorama's self-calibration): kept
MIN_TURN_DEG = 0.5


def with_baseline(views: Sequence[Any], keys: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """The pairs (a, b) of ``keys`` whose views (``view.pose``: map_from_cam, 4x4, translation
    in metres) are `MIN_BASELINE_M` or more apart or turned by `MIN_TURN_DEG` or more from
    each other, in their order: those of one place and one direction, the same frame twice,
    are left out."""
    def pose(i: int) -> np.ndarray:
        return np.asarray(views[i].pose, np.float64)

    def kept(a: int, b: int) -> bool:
        pa, pb = pose(a), pose(b)
        if float(np.linalg.norm(pa[:3, 3] - pb[:3, 3])) >= MIN_BASELINE_M:
            return True
        cos = (float(np.trace(pa[:3, :3].T @ pb[:3, :3])) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))) >= MIN_TURN_DEG

    return [(a, b) for a, b in keys if kept(a, b)]
