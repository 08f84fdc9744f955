"""The steps of `focal._log_argmin`'s scan of a factor (moved out of ``focal.py``, which
re-exports them): the first minimum over a grid, and its refinement in fine log steps."""

from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import numpy as np

_FOCAL_REFINE_STEP = 0.005  # the refinement's log step (0.5 %)


def _first_min(factors: np.ndarray, score: Callable[[float], float],
               many: Optional[Callable[[np.ndarray], np.ndarray]]) -> int:
    """The index of ``factors``' first minimum of ``score`` (or ``many``'s, all at once)."""
    if many is None:
        return min(range(len(factors)), key=lambda k: score(factors[k]))
    return int(np.argmin(many(factors)))


def _refined(best: float, step: float, score: Callable[[float], float],
             many: Optional[Callable[[np.ndarray], np.ndarray]]) -> Tuple[float, int]:
    """(the factor in `_FOCAL_REFINE_STEP` steps within ``step`` (log) of ``best`` that
    minimises ``score``, -1 / 1 when it is the lowest / highest of them, else 0)."""
    fine = np.exp(np.arange(math.log(best) - step, math.log(best) + step + 1e-9,
                            _FOCAL_REFINE_STEP))
    k = _first_min(fine, score, many)
    return float(fine[k]), -1 if k == 0 else 1 if k == len(fine) - 1 else 0
