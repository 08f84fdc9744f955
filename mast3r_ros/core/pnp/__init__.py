"""PnP-RANSAC, refinement and covariance (transitional: the module moved to `linearise`)."""

from __future__ import annotations

from . import linearise  # noqa: F401
from .linearise import (  # noqa: F401
    MIN_POINTS, RANSAC_MAX_POINTS, RANSAC_MIN_ITERATIONS, REFINE_MAX_STEPS, PnPResult,
    UncertaintyModel, _covariance_f, _jacobian, _perturb, _ransac_opencv, _ransac_poselib,
    _refine_inliers, _skew, _so3_exp, point_jacobian, pose_covariance, poselib_available,
    refine_pose, reprojection_residuals, resolve_backend, solve_pnp,
)
