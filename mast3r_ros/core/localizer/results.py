"""What a localization result reports beyond the pose: the 1-sigma position uncertainty of its
covariance (`position_sigma_m`, also the ``gates.max_position_sigma_m`` gate's measure), the
matches behind it (`MatchDebug`) and, for a frame short of correspondences, whether the query
image lacked features (`_no_match_reason`).
"""

from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np

from ..errors import InputError
from ..pnp import MIN_POINTS
from ..types import Correspondences, MatchDebug


def position_sigma_m(covariance: np.ndarray) -> float:
    """1-sigma position uncertainty in metres along the worst axis of a 6x6 pose covariance
    (`core.pnp` convention, position block first: sqrt of the largest eigenvalue of its 3x3
    position block); NaN when the block is not finite. Raises `InputError` unless 6x6."""
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.shape != (6, 6):
        raise InputError(f"position_sigma_m takes a 6x6 pose covariance, got shape {cov.shape}")
    block = cov[:3, :3]
    if not np.isfinite(block).all():
        return float("nan")
    return float(np.sqrt(max(float(np.linalg.eigvalsh(0.5 * (block + block.T))[-1]), 0.0)))


def _match_debug(query_xy: np.ndarray, cand: Sequence[int], corrs: List[Correspondences],
                 inliers: np.ndarray) -> MatchDebug:
    """The pooled matches of one PnP call; ``corrs[k]`` belongs to map-list index ``cand[k]``."""
    if not corrs:
        return MatchDebug(query_xy, np.zeros((0, 2)), np.zeros(0, np.int64), inliers.copy())
    return MatchDebug(query_xy, np.concatenate([c.keyframe_xy for c in corrs]),
                      np.concatenate([np.full(len(c), i, np.int64) for i, c in zip(cand, corrs)]),
                      inliers.copy())


def _no_match_reason(matcher: Any, state: Any, reason: str, need: int, solved: bool) -> str:
    """The reason of a frame with fewer correspondences than ``need`` (PnP's minimum, or
    ``gates.min_inliers`` when larger), saying which side lacked them where the matcher counts
    the query's features (sift): a dark, blank, overexposed or blurred image (a lens cap, lights
    off) failed as 'too few correspondences (0 < 6)', as a frame of a place the map does not
    hold does, and a near-blank one with 15 keypoints as that or 'too few inliers'. When PnP ran
    (``solved``: its own reason, e.g. 'too few inliers') the reason is kept, with the count."""
    count = getattr(matcher, "query_feature_count", None)
    n = count(state) if count is not None else None
    if n is None:
        return reason
    if n < need and not solved:
        gate = ", gates.min_inliers" if need > MIN_POINTS else ""
        return (f"too few features in the query image ({n} < {need} {matcher.name} "
                f"keypoints{gate}: dark, overexposed, blank or out of focus?)")
    return f"{reason}; the query image has {n} {matcher.name} keypoints"
