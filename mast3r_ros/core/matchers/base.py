"""What the `Localizer` needs from a pair matcher (`mast3r.Mast3rMatcher`, `sift.SiftMatcher`)."""

from __future__ import annotations

from typing import Any, Dict, List, Protocol, Sequence

import numpy as np

from ..types import Correspondences, Frame


class PairMatcher(Protocol):
    """Matches a query frame against keyframes of one `KeyframeMap`.

    ``query_state`` does the per-frame work once (features / encoder); ``correspond`` returns
    one `Correspondences` per entry of ``indices`` (map-list indices), in the order of
    ``indices``, and adds its stage times (seconds) to ``timings`` ("inference", "matching",
    "features"); ``global_descriptors`` (K, D) and ``query_descriptor`` (D,) are unit-norm
    float32 retrieval descriptors. An optional ``rerank(frame, state, order) -> list``
    re-orders retrieval candidates.
    """

    name: str

    def global_descriptors(self) -> np.ndarray:
        """(K, D) float32 unit-norm retrieval descriptors of the map's keyframes, map-list
        order."""
        ...

    def query_state(self, frame: Frame) -> Any:
        """The per-frame work on the query, done once (features, encoder output)."""
        ...

    def query_descriptor(self, frame: Frame, state: Any) -> np.ndarray:
        """(D,) float32 unit-norm retrieval descriptor of the query, comparable with
        `global_descriptors`."""
        ...

    def correspond(self, frame: Frame, state: Any, indices: Sequence[int],
                   timings: Dict[str, float]) -> List[Correspondences]:
        """One `Correspondences` per entry of ``indices`` (map-list indices), in that order:
        ``points3d`` in the map frame (metres), ``points2d`` original (distorted) query
        pixels."""
        ...

    def close(self) -> None:
        """Release caches (keyframe features or encodings)."""
        ...


def add_time(timings: Dict[str, float], stage: str, seconds: float) -> None:
    """Accumulate ``seconds`` under ``stage`` (a frame may run a stage several times)."""
    timings[stage] = timings.get(stage, 0.0) + seconds


# the refusal of the mast3r matcher without a checkpoint (the engine's, and localize's before it
# reads a recording), completed by `sift_alternative`
NO_CHECKPOINT = ("the MASt3R network needs a checkpoint: set the 'checkpoint' parameter "
                 "(--checkpoint PATH); see README: 'Model weights'")


def sift_alternative(kf_map: Any) -> str:
    """The tail of a refusal of the mast3r matcher (no checkpoint, a checkpoint without a
    descriptor head) on ``kf_map`` (a `KeyframeMap`): "; or use matcher 'sift'" when every
    keyframe has depth, which the sift matcher takes its 3-D points from; else why sift is no
    way out either (a map built from images without depth), so the checkpoint is the fix."""
    if kf_map.has_depth():
        return "; or use matcher 'sift'"
    return (f"; the sift matcher is no way round it: map {kf_map.path} has keyframes without "
            "depth (a map built from images only), and sift takes its 3-D points from depth")
