"""Keyframe pairs with a baseline, for the fits that need one (`with_baseline`).

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


def with_baseline(views: Sequence[Any], keys: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """The pairs (a, b) of ``keys`` whose views' camera centres (``view.pose``: map_from_cam,
    translation in metres) are `MIN_BASELINE_M` or more apart, in their order."""
    def centre(i: int) -> np.ndarray:
        return np.asarray(views[i].pose, np.float64)[:3, 3]

    return [(a, b) for a, b in keys
            if float(np.linalg.norm(centre(a) - centre(b))) >= MIN_BASELINE_M]
