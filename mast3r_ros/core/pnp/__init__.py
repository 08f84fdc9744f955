"""Metric camera pose from 2-D/3-D correspondences: PnP-RANSAC, refinement and covariance.

`solve_pnp` runs a robust solver (poselib when installed, else OpenCV's USAC with MAGSAC++ scoring;
never plain RANSAC, which breaks down at the outlier rates learned matchers produce) on a random
subset of at most ``ransac_max_points`` correspondences, then refines the pose on *all* inliers at
the threshold by damped Gauss-Newton steps on the reprojection error alternating with re-scoring,
until the inlier set is stable, and returns a 6x6 covariance.

Solvers: poselib (V. Larsson et al., *PoseLib -- minimal solvers for camera pose estimation*,
github.com/PoseLib/PoseLib; LO-RANSAC around the P3P solver Lambda Twist, Persson & Nordberg,
ECCV 2018), OpenCV ``solvePnPRansac`` with ``USAC_MAGSAC`` (MAGSAC++, Barath, Noskova,
Ivashechkin & Matas, CVPR 2020); refinement by Levenberg-Marquardt / damped Gauss-Newton
(Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., App. 6).

Cost (issue 9: the host part of a frame must fit in a few ms beside the GPU): every per-point
quantity is computed on coordinate rows ((3, N) / (8, N) arrays, contiguous along N), every sum
over points is a (8, n) x (n, k) product; no per-point small matrices, no Python loop over points.
In `solve_pnp` one projection of all correspondences per trial pose serves as the trial's cost,
the re-scoring and the next linearisation, whose Jacobian rows are combinations of eight
camera-frame rows (`_Rows`); the covariance reuses the last of them, and its keyframe-pose term
needs only each keyframe's share of the normal matrix (`_covariance_f`).

Covariance convention (also `LocalizationResult.covariance`): the state is the camera pose in the
map frame, ``map_from_cam = (R, c)``, perturbed as ``R' = exp([dtheta]_x) R`` and ``c' = c + dc``
with ``dc`` (metres) and ``dtheta`` (a rotation vector in radians about the *map* axes). The matrix
is ordered ``(dc_x, dc_y, dc_z, dtheta_x, dtheta_y, dtheta_z)`` -- the order and frame of ROS
``geometry_msgs/PoseWithCovariance``.

Covariance model (`pose_covariance`; what limits the pose, not only the pixel residuals):

1. per correspondence, the residual covariance ``A_i = sigma_px^2 I + J_X,i Sigma_X,i J_X,i^T``:
   query keypoint noise plus the 3-D point's own covariance (`Correspondences.points3d_cov`,
   from `core.uncertainty`, a sensor model) projected into the query image, first order
   (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., ch. 5). ``sigma_px^2`` is
   estimated per frame from what the residuals leave over once the 3-D part is accounted for,
   ``(sum |r_i|^2 - sum tr(J_X,i Sigma_X,i J_X,i^T)) / (2n - 6)`` -- a one-component
   variance-component estimate (Foerstner & Wrobel, *Photogrammetric Computer Vision*, 2016,
   ch. 4) -- or given; either way floored at an ad-hoc (1/12 px)^2 = 1/144 px^2 (sigma of
   0.083 px, not the 1/12 px^2 variance of pixel quantisation) so that a perfect fit does not
   claim infinite certainty;
2. propagated through the estimator actually used -- unweighted Gauss-Newton/LM on the inliers,
   so that poses do not depend on the model -- as the sandwich
   ``H^-1 (sum J_i^T A_i J_i) H^-1``, ``H = J^T J`` (first-order propagation through the
   normal equations; it equals ``(J^T W J)^-1`` when all ``A_i`` are equal);
3. the correlated part no per-point model captures: every point of one keyframe shares that
   keyframe's pose error (the map was built from an estimated trajectory). A keyframe pose error
   ``xi_k`` (same convention, covariance ``diag(sigma_m^2 I, sigma_rad^2 I)``) moves its points
   by ``dX_i = [I, -[X_i - c_k]_x] xi_k``, hence the pose by
   ``G_k xi_k, G_k = -H^-1 sum_{i in k} J_i^T J_X,i [I, -[X_i - c_k]_x]``, adding
   ``G_k Sigma_kf G_k^T`` (first-order propagation through the estimator, H&Z ch. 5). With a
   single keyframe this is the rigid transfer of the keyframe's error to the query -- it does not
   shrink with the number of matches, which is what the per-point model alone gets wrong.
4. optionally (``view_angle_sigma_ratio`` > 0), a point error the keyframe's points share that
   shows the more, the more the query's view of them differs from the keyframe's: with
   ``theta`` the mean angle between the query's and the keyframe's rays to the inliers and
   ``d`` the distance to their centroid, a rotation of sigma ``ratio * theta`` about the axes
   across the line of sight, pivoting at the centroid, and a position sigma of
   ``ratio * theta * d`` in every direction (`covariance._view_angle_cov`);
5. with ``model_selection_draws`` > 0 (`solve_pnp` only; the localizer's default 32), on frames
   whose inliers span a narrow depth band (under ``model_selection_depth_band``; the
   localizer's default 0.125), RANSAC's choice of the inliers: RANSAC and the refinement re-run
   on bootstrap draws of the matches' image cells, and the data part of items 1-2 replaced,
   direction by direction, by the larger of it and the draws' pose spread, scaled up for the
   few draws (`model_selection`).

Without per-point covariances and keyframe groups the model reduces to the pixel-only
``sigma^2 (J^T J)^-1``, ``sigma^2`` from the residuals.

Modules: `ransac` (backends and PnP-RANSAC), `linearise` (residuals, Jacobians, the coordinate
rows `_Rows`), `refine` (Levenberg-Marquardt and the refine/re-score fixed point), `covariance`
(`UncertaintyModel`, `pose_covariance`), `model_selection` (item 5), `solve` (`solve_pnp`,
`PnPResult`). Import the public names from this package; private ones from the submodule that
defines them (and patch them in the submodule that looks them up: `solve` for the backends,
`_refine_inliers` and `_covariance_f`; `model_selection` for its draws' backends).
"""

from __future__ import annotations

from .covariance import UncertaintyModel, pose_covariance
from .linearise import point_jacobian, reprojection_residuals
from .ransac import RANSAC_MAX_POINTS, RANSAC_MIN_ITERATIONS, poselib_available, resolve_backend
from .refine import MIN_POINTS, REFINE_MAX_STEPS, refine_pose
from .solve import PnPResult, check_seed, solve_pnp

__all__ = [
    "MIN_POINTS", "PnPResult", "RANSAC_MAX_POINTS", "RANSAC_MIN_ITERATIONS", "REFINE_MAX_STEPS",
    "UncertaintyModel", "check_seed", "point_jacobian", "pose_covariance", "poselib_available",
    "refine_pose", "reprojection_residuals", "resolve_backend", "solve_pnp",
]
