"""Fast reciprocal nearest-neighbour matching of dense descriptor (or 3-D point) maps.

Import the public names from this package; the private helpers live in `reciprocal`.
"""

from __future__ import annotations

from .reciprocal import (
    DISTANCES,
    NN_BACKENDS,
    IntPoints,
    Matches,
    brute_force_mutual_nn,
    fast_reciprocal_matches,
    fast_reciprocal_matches_batch,
    filter_border,
    reciprocal_matches_3d,
    reciprocal_walk_fixed,
    resolve_nn_backend,
)

__all__ = [
    "DISTANCES", "NN_BACKENDS", "IntPoints", "Matches", "brute_force_mutual_nn",
    "fast_reciprocal_matches", "fast_reciprocal_matches_batch", "filter_border",
    "reciprocal_matches_3d", "reciprocal_walk_fixed", "resolve_nn_backend",
]
