"""Metric 6-DoF localization of a camera frame against a keyframe map (`Localizer`).

Modules: `pipeline` (the `Localizer`: candidates, matching, pose, gates, warm-up; its docstring
describes the per-frame path), `global_retrieval` (`GlobalRetrieval`: candidates without a pose
guess), `matcher_factory` (the pair matcher a config names), `query_checks` (a caller's poses
and the query camera's skew), `results` (`position_sigma_m`, the match debug record), `warm`
(the warm-up's parts beyond the per-frame path: keyframe preload, camera check, a fabricated
PnP). Import the public names from this package.
"""

from __future__ import annotations

from .global_retrieval import GlobalRetrieval
from .pipeline import CAMERA_MISMATCH_REL, Localizer
from .query_checks import SKEW_IGNORED_PX
from ..pose_uncertainty import position_sigma_m

__all__ = [
    "CAMERA_MISMATCH_REL", "SKEW_IGNORED_PX", "GlobalRetrieval", "Localizer", "position_sigma_m",
]
