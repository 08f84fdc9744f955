"""The gates a PnP pose must pass (`gate_reason`) and what a localization result reports
beyond the pose: its 1-sigma position uncertainty
(`core.pose_uncertainty.position_sigma_m`, the ``gates.max_position_sigma_m`` gate's measure) as
a fraction of the distance to the scene (`relative_sigma_reason`, the
``gates.max_position_sigma_ratio`` gate), the matches behind it (`MatchDebug`) and, for a frame
short of correspondences, whether the query image lacked features (`_no_match_reason`).
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .. import pose_uncertainty
from ..config.sections import GateConfig
from ..geometry import pose_error
from ..pnp import MIN_POINTS, PnPResult
from ..types import Correspondences, MatchDebug


def inlier_median_depth(map_from_cam: np.ndarray, points3d: np.ndarray) -> float:
    """Median depth (metres, the query camera's z) of the (N, 3) map-frame ``points3d`` seen from
    the 4x4 ``map_from_cam``; NaN when there are none."""
    P = np.asarray(points3d, dtype=np.float64).reshape(-1, 3)
    if not len(P):
        return float("nan")
    T = np.asarray(map_from_cam, dtype=np.float64)
    return float(np.median((P - T[:3, 3]) @ T[:3, 2]))  # z of R^T (P - t): R's third column


def relative_sigma_reason(max_ratio: float, sigma: float, map_from_cam: np.ndarray,
                          points3d: np.ndarray, depth: Optional[float] = None) -> str:
    """The ``gates.max_position_sigma_ratio`` failure reason, "" when the pose passes.

    A pose fails when its 1-sigma position uncertainty ``sigma`` (metres: `position_sigma_m`
    of its covariance, the worst axis, which the caller has for the absolute gate too) is
    more than ``max_ratio`` times the median depth of its inliers ``points3d`` ((N, 3), map
    frame, metres) in the query camera of ``map_from_cam`` (4x4): the covariance itself says
    the camera could be anywhere in a region a sizeable fraction of its distance to what it
    sees, which a correctly matched frame never claims (`GateConfig.max_position_sigma_ratio`
    derives the default). Scale-free, so it holds indoors and for far outdoor scenes alike,
    where the absolute ``gates.max_position_sigma_m`` must stay loose. A non-finite sigma or a
    median depth that is not positive fails too. ``max_ratio`` 0 (or no inliers) disables
    it. ``depth``: that median depth where the caller has it (`inlier_median_depth` of the
    same points: the localizer's ``scene_depth_m``), not computed again."""
    if not max_ratio > 0 or not len(points3d):
        return ""
    if depth is None:
        depth = inlier_median_depth(map_from_cam, points3d)
    if sigma <= max_ratio * depth:  # NaN and a depth <= 0 fail
        return ""
    if not depth > 0:  # the inliers lie behind the camera: no ratio to state
        return (f"position too uncertain for the distance to the scene (1 sigma {sigma:.3g} m; "
                f"the inliers' median depth {depth:.3g} m is not in front of the camera, "
                "gates.max_position_sigma_ratio): the pose puts what it matched behind it")
    head = (f"position too uncertain for the distance to the scene (1 sigma {sigma:.3g} m is "
            f"{sigma / depth:.3g} x the inliers' median depth {depth:.3g} m, over "
            f"gates.max_position_sigma_ratio {max_ratio:.3g}): ")
    default = GateConfig.max_position_sigma_ratio
    if max_ratio < default:  # the user's own ratio, below what a right pose is bounded by
        return head + (f"a ratio below its default {default:.3g} may fail frames matched "
                       "right too (with depth points they claim up to ~0.07 from 1 m on, "
                       "0.14 at 0.2 m): raise "
                       f"gates.max_position_sigma_ratio towards {default:.3g} (or 0 to disable)")
    return head + ("a frame matched right is far more certain; raise "
                   "gates.max_position_sigma_ratio (or 0 to disable) for scenes closer than ~5 x "
                   "covariance.map_pose_sigma_m, or MASt3R pointmap matches of low confidence "
                   "fewer than 30")


def gate_reason(g: GateConfig, res: PnPResult, n: int, prior: Optional[np.ndarray],
                X: Optional[np.ndarray] = None, *, depth: Optional[float] = None,
                sigma: Optional[float] = None) -> str:
    """The first of the gates ``g`` (``gates.*``) the PnP result ``res`` of ``n`` matches fails
    ("" if none); ``prior``: the caller's pose for the jump gates; ``X`` (n, 3): the map points
    PnP had; ``depth``: their inliers' median depth (``scene_depth_m``), else computed from X;
    ``sigma``: `position_sigma_m` of ``res.covariance`` (the localizer's, computed once a frame
    for the result too), else computed here when a sigma gate is on."""
    ratio = res.num_inliers / max(n, 1)
    if res.num_inliers < g.min_inliers:
        return f"too few inliers ({res.num_inliers} < {g.min_inliers})"
    if ratio < g.min_inlier_ratio:
        return f"inlier ratio too low ({ratio:.2f} < {g.min_inlier_ratio:.2f})"
    if res.reproj_rms_px > g.max_reproj_rms_px:
        return (f"reprojection RMS too high ({res.reproj_rms_px:.2f} px > "
                f"{g.max_reproj_rms_px:.2f} px)")
    # the worst axis's 1 sigma, once for both sigma gates (None: no covariance, or both off)
    if sigma is None and res.covariance is not None and (
            g.max_position_sigma_m > 0 or g.max_position_sigma_ratio > 0):
        sigma = pose_uncertainty.position_sigma_m(res.covariance)
    if g.max_position_sigma_m > 0 and sigma is not None:
        # a pose PnP accepts on an 8-pixel image, or on matches that all lie on a line,
        # can be kilometres uncertain: not a pose to hand to Nav2
        if not sigma <= g.max_position_sigma_m:  # NaN fails too
            return (f"position too uncertain (1 sigma {sigma:.3g} m > "
                    f"{g.max_position_sigma_m:.3g} m, gates.max_position_sigma_m)")
    if X is not None and sigma is not None:
        reason = relative_sigma_reason(g.max_position_sigma_ratio, sigma, res.map_from_cam,
                                       X[res.inliers], depth)
        if reason:
            return reason
    if prior is not None:
        dt, dr = pose_error(prior, res.map_from_cam)
        if g.max_jump_m > 0 and dt > g.max_jump_m:
            return f"jump from the prior too large ({dt:.2f} m > {g.max_jump_m:.2f} m)"
        if g.max_jump_deg > 0 and dr > g.max_jump_deg:
            return (f"jump from the prior too large ({dr:.1f} deg > "
                    f"{g.max_jump_deg:.1f} deg)")
    return ""


def _pooled(parts: List[np.ndarray], empty: Tuple[int, ...]) -> np.ndarray:
    """The rows of ``parts`` (the candidates' arrays, in order) as one array: with one
    candidate that array itself, not a copy (solve_pnp and the gates only read it); none: an
    empty float64 array of shape ``empty``."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(empty)


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
