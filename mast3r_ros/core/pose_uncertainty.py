"""How uncertain a localized pose is, as a length (`position_sigma_m`) and for the distance to
what it matched (`sigma_depth_ratio`), with the one threshold (`FAR_CLAIM_RATIO`) that both
localize's "poses uncertain for their distance" row (`replay.metrics.far_claims`) and the node's
/diagnostics (`ros.diagnostics`) judge by. numpy only: no torch, no rclpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError

# A pose whose 1-sigma position is over this fraction of the distance to what it matched (its
# 2-sigma region a tenth of it) is reported, not refused: a right pose with depth points claims
# up to ~0.07 closer than 1 m, with few low-confidence MASt3R matches up to 0.46. Setting
# gates.max_position_sigma_ratio to it refuses such poses (default 0.5).
FAR_CLAIM_RATIO = 0.05


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


def sigma_depth_ratio(result: Any) -> float:
    """A `LocalizationResult`'s 1-sigma position (`position_sigma_m` of its covariance, m) over
    its PnP inliers' median depth (``scene_depth_m``, m): dimensionless, NaN for a failed frame,
    one without a covariance, a depth that is not positive or a sigma that is not finite. Over
    `FAR_CLAIM_RATIO` it is a pose uncertain for its distance. The sigma is the result's
    ``position_sigma_m`` where the localizer computed it (for its gates), else computed here."""
    depth = float(getattr(result, "scene_depth_m", math.nan))
    if not result.success or result.covariance is None or not depth > 0:
        return math.nan
    sigma = getattr(result, "position_sigma_m", None)
    if sigma is None:
        sigma = position_sigma_m(result.covariance)
    return sigma / depth if math.isfinite(sigma) else math.nan
