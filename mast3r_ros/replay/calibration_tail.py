"""The covariance tail test of the metrics table: too many frames beyond the 3-sigma bound.

`metrics.calibration_verdict` judged a covariance's tail only by its 95th-percentile squared
Mahalanobis distance against the chi^2(3) 95 % bound, more than 3x off in sigma. A run whose
tail is heavy but not that far out passed it: the half-occluded redkitchen query (SIFT) put 13 %
of its published positions (6 of 46) beyond the 3-sigma bound, two of them wrong poses 17-23 cm
off at 5 and 9 sigma, and its p95 test read 2.6x -- no verdict, as if the covariance could be
trusted. A calibrated covariance leaves 0.27 % of frames beyond 3 sigma; 13 % is overconfident
however far out the 95th percentile lies.

"3 sigma" of a 3-D error is the bound with a 1-D 3 sigma's probability: d^2 beyond the chi^2(3)
99.73 % quantile, 14.16 (a Mahalanobis distance of 3.76), not d > 3, which a calibrated
covariance exceeds in 2.9 % of frames (evalrun.py's count: 20 % for the same run).

`tail_clause` names that tail when it is both heavy (more than `TAIL_EXCESS` times the
calibrated fraction) and not chance (a binomial probability of at most `TAIL_P_VALUE` for that
many frames beyond the bound out of those judged): one frame of 40 beyond 3 sigma is neither.
"""

from __future__ import annotations

import math

import numpy as np

P_BEYOND_3SIGMA = 0.0026997960632601866  # 2 * scipy.stats.norm.sf(3): outside +-3 sigma
CHI2_3DOF_3SIGMA = 14.156413609126675  # scipy.stats.chi2.ppf(1 - P_BEYOND_3SIGMA, 3)
TAIL_EXCESS = 10.0  # a fraction beyond 3 sigma this many times the calibrated one is heavy
TAIL_P_VALUE = 1e-3  # ... and named only when a calibrated covariance would rarely give it


def count_beyond_3sigma(d2: np.ndarray) -> int:
    """How many of the finite squared Mahalanobis distances ``d2`` (3-D, any shape) exceed the
    3-sigma bound `CHI2_3DOF_3SIGMA` (NaN: no distance, not counted)."""
    v = np.asarray(d2, dtype=np.float64)
    return int(np.count_nonzero(v[np.isfinite(v)] > CHI2_3DOF_3SIGMA))


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(K >= k) for K ~ Binomial(n, p), 0 <= p < 1 (1.0 for k <= 0, 0.0 for k > n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    # summed from k upwards: the terms fall off fast for p far below k / n (no cancellation)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp
            + (n - i) * lq for i in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in logs))


def tail_clause(beyond: int, frames: int) -> str:
    """'' unless ``beyond`` of ``frames`` judged frames beyond the 3-sigma bound are a heavy
    tail (module docstring); else e.g. '20 % of frames beyond 3 sigma (0.27 % if calibrated)'."""
    if frames <= 0 or beyond <= 0:
        return ""
    fraction = beyond / frames
    if fraction <= TAIL_EXCESS * P_BEYOND_3SIGMA:
        return ""
    if binomial_tail(beyond, frames, P_BEYOND_3SIGMA) > TAIL_P_VALUE:
        return ""
    return (f"{100 * fraction:.0f} % of frames beyond 3 sigma "
            f"({100 * P_BEYOND_3SIGMA:.2g} % if calibrated)")
