"""Fast reciprocal nearest-neighbour matching of dense descriptor (or 3-D point) maps.

Clean-room implementation of MASt3R's fast reciprocal matching (Leroy, Cabon & Revaud, *Grounding
Image Matching in 3D with MASt3R*, ECCV 2024, sec. 3.3; reference code: naver/mast3r
``mast3r/fast_nn.py``, ``fast_reciprocal_NNs``): start points on a sparse grid of image 1 walk
``p1 -> NN_2(p1) -> NN_1(NN_2(p1)) -> ...`` until the walk closes a cycle, i.e. reaches a pair of
mutual nearest neighbours. Only a few thousand pixels are ever queried, instead of the
``(H*W) x (H*W)`` similarity of an exhaustive mutual-NN search.

Results are identical to the reference algorithm (same start points, same iteration and stopping
rule, same tie-breaking: the earliest index wins), but much cheaper:

* only the needed direction is computed (the reference also computes a reverse NN per block);
* queries are de-duplicated before the GEMM and every answer is cached, so pixels visited again
  (walks merge into shared basins) are never searched twice;
* the similarity is tiled so that one tile stays in cache on CPU and at most
  ``block_size x block_size`` elements on any device.

Conventions: pixels are (x, y) = (column, row); the flat index of a pixel is ``y * W + x``.
Returned coordinates are int64 tensors of shape (N, 2) on the inputs' device, sorted by the image-1
flat index, then the image-2 flat index, without duplicates.

Modules: `reciprocal` (the public matchers `fast_reciprocal_matches`,
`fast_reciprocal_matches_batch`, `reciprocal_matches_3d`), `walk` (the walk on the torch search
and on the fused Triton search, incl. the fixed-shape `reciprocal_walk_fixed`), `search` (the
exact tiled nearest-neighbour search), `backend` (`resolve_nn_backend`: torch or the optional
Triton kernel of `core.nn_triton`, self-tested once per device), `checks` (parameter and map
checks, start points), `pixels` (flat indices to (x, y) results, `filter_border`) and
`brute_force` (`brute_force_mutual_nn`, the exhaustive baseline). Import the public names from
this package; private helpers from the submodule that defines them.
"""

from __future__ import annotations

from .backend import NN_BACKENDS, resolve_nn_backend
from .brute_force import brute_force_mutual_nn
from .checks import DISTANCES, IntPoints
from .pixels import Matches, filter_border
from .reciprocal import (
    fast_reciprocal_matches,
    fast_reciprocal_matches_batch,
    reciprocal_matches_3d,
)
from .walk import reciprocal_walk_fixed

__all__ = [
    "DISTANCES", "NN_BACKENDS", "IntPoints", "Matches", "brute_force_mutual_nn",
    "fast_reciprocal_matches", "fast_reciprocal_matches_batch", "filter_border",
    "reciprocal_matches_3d", "reciprocal_walk_fixed", "resolve_nn_backend",
]
