"""`mast3r-ros merge-maps`' check of the frames two maps share: a keyframe of B that is a frame A
already holds (same stamp and image) is dropped as a duplicate (`map_build.merge_maps`), which
is right only when both copies say the same; copies whose depths differ by a scale mean the maps
were built with different depth units, and one of them is wrong."""

from __future__ import annotations

import logging
import math
from typing import Dict, List, Optional

import numpy as np

from ..core.keyframes import KeyframeMap

log = logging.getLogger(__name__)

# copies of one frame whose median depth ratio is further from 1 than this differ in scale (the
# 16-bit depth format's rounding, 1 cm at 100 units/m, stays well under it at indoor depths)
DEPTH_RATIO_TOLERANCE = 0.02
_MIN_PIXELS = 16  # pixels with depth in both copies needed to judge a ratio


def _depth_ratio(kept: Optional[np.ndarray], other: Optional[np.ndarray]) -> Optional[float]:
    """Median of ``other / kept`` over the pixels with depth in both; None when too few."""
    if kept is None or other is None or kept.shape != other.shape:
        return None
    both = np.isfinite(kept) & (kept > 0) & np.isfinite(other) & (other > 0)
    if int(both.sum()) < _MIN_PIXELS:
        return None
    return float(np.median(other[both] / kept[both]))


def warn_duplicates_with_other_depth(a: str, b: str, keep_duplicates: bool = False) -> int:
    """Warn (naming the maps) when keyframes of map ``b`` that are frames map ``a`` holds too
    (same stamp and image: the duplicates `merge_maps` drops) have depth at another scale than
    A's copies. Only keyframes whose stamps A has too are read. Returns how many differ."""
    ma, mb = KeyframeMap.load(a, lazy=True), KeyframeMap.load(b, lazy=True)
    by_stamp: Dict[int, List[int]] = {}
    for i, kf in enumerate(ma.keyframes):
        by_stamp.setdefault(int(kf.stamp_ns), []).append(i)
    ratios: List[float] = []
    for j, kf in enumerate(mb.keyframes):
        candidates = by_stamp.get(int(kf.stamp_ns), [])
        if not candidates:
            continue
        image = mb.image(j)
        same = next((i for i in candidates if ma.image(i).shape == image.shape
                     and np.array_equal(ma.image(i), image)), None)
        if same is None:
            continue
        ratio = _depth_ratio(ma.depth(same), mb.depth(j))
        if ratio is not None and abs(math.log(ratio)) > math.log1p(DEPTH_RATIO_TOLERANCE):
            ratios.append(ratio)
    if ratios:
        what = ("both copies are kept (--keep-duplicates), so the merged map holds both depths"
                if keep_duplicates else f"the merged map keeps {a}'s depth and drops {b}'s")
        spread = (f" (median; {min(ratios):.3g} to {max(ratios):.3g})"
                  if max(ratios) - min(ratios) > 1e-3 * max(ratios) else "")
        log.warning("%d keyframe(s) of %s are frames %s holds too, but with depth %.3g times "
                    "theirs%s: the maps were built with different depth scales (build-map "
                    "--depth-scale, or the sensor's depth unit); %s. Check each map's depth "
                    "(mast3r-ros check-map) and rebuild the wrong one",
                    len(ratios), b, a, float(np.median(ratios)), spread, what)
    return len(ratios)
