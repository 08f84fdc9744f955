"""What a localization result reports beyond the pose: the 1-sigma position uncertainty of its
covariance (`position_sigma_m`, also the ``gates.max_position_sigma_m`` gate's measure) and the
matches behind it (`MatchDebug`).
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from ..errors import InputError
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
