"""Per-point 3-D uncertainty of map points, for the pose covariance (`pnp.pose_covariance`).

Two sources of 3-D points, two models (both return (N, 3, 3) float64 map-frame covariances, m^2):

* **Stored depth** (`depth_point_covariance`): a point back-projected from a keyframe pixel
  ``(u, v)`` and depth ``z`` is ``p = z K^-1 (u, v, 1)``. Its error has two independent parts,
  propagated to first order (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., ch. 5,
  ``Sigma_p = J Sigma J^T``):

  - depth noise along the ray, ``sigma_z = depth_sigma_k * z^2``: the random error of
    structured-light/stereo depth grows with the square of the distance (Khoshelham & Elberink,
    "Accuracy and resolution of Kinect depth data", Sensors 12(2), 2012: ~4 cm at 5 m, i.e.
    ``k ~ 1.6e-3 / m``; Nguyen, Izadi & Lovell, 3DIMPVT 2012, fit the same quadratic);
  - the keyframe keypoint's own localisation error ``sigma_px`` (pixels), lateral, scaled by
    ``z / f``.

* **Predicted pointmap** (`pointmap_point_covariance`): MASt3R's confidence ``conf`` (> 1) comes
  from the confidence-weighted regression loss ``conf * err - alpha * log(conf)`` (DUSt3R,
  Wang et al., CVPR 2024; MASt3R keeps it). For a fixed error that loss is minimised at
  ``conf = alpha / err``, so the network's expected 3-D error is ``err ~ alpha / conf`` in the
  normalised pointmap units (the mean distance of the pair's points to the origin). The
  documented assumption here: that relation carries over to the metric output, so
  ``sigma = alpha * scale / conf`` metres per axis (isotropic), ``scale`` the mean distance of the
  keyframe's matched points to its camera, ``alpha = 0.2`` the training value.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError


def depth_point_covariance(points_cam: np.ndarray, K: np.ndarray, map_from_cam: np.ndarray,
                           depth_sigma_k: float, pixel_sigma_px: float) -> np.ndarray:
    """(N, 3, 3) map-frame covariance of points back-projected from stored depth.

    ``points_cam`` (N, 3) keyframe-camera points (metres, z > 0), ``K`` 3x3 keyframe intrinsics,
    ``map_from_cam`` the keyframe pose (4x4), ``depth_sigma_k`` (1/m) in ``sigma_z = k z^2``,
    ``pixel_sigma_px`` the keyframe keypoint noise (pixels). See the module docstring. Raises
    `InputError` when a point has z <= 0 (or NaN).
    """
    p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    z = p[:, 2]
    if np.any(~(z > 0)):
        raise InputError("depth_point_covariance: points must lie in front of the camera (z > 0)")
    ray = p / z[:, None]  # dp/dz
    sz = depth_sigma_k * z ** 2
    S = (sz ** 2)[:, None, None] * ray[:, :, None] * ray[:, None, :]
    S[:, 0, 0] += (pixel_sigma_px * z / K[0, 0]) ** 2  # dp/du = z / fx e_x
    S[:, 1, 1] += (pixel_sigma_px * z / K[1, 1]) ** 2
    R = np.asarray(map_from_cam, dtype=np.float64)[:3, :3]
    return R @ S @ R.T


def pointmap_point_covariance(points_cam: np.ndarray, conf: np.ndarray,
                              alpha: float = 0.2) -> np.ndarray:
    """(N, 3, 3) isotropic covariance of MASt3R pointmap points from their confidence.

    ``points_cam`` (N, 3) keyframe-camera points (metres), ``conf`` (N,) pointmap confidence
    (> 1; a value below 1 counts as 1, so 0 gives no infinite sigma), ``alpha`` the
    confidence-loss weight. ``sigma = alpha * mean(|p|) / conf`` (module docstring; an isotropic
    covariance is invariant to the frame, so it is also map-frame).
    Raises `InputError` when ``points_cam`` and ``conf`` differ in length.
    """
    p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    c = np.asarray(conf, dtype=np.float64).reshape(-1)
    if len(c) != len(p):
        raise InputError(f"pointmap_point_covariance: {len(p)} points but {len(c)} confidences")
    if not len(p):
        return np.zeros((0, 3, 3))
    scale = float(np.mean(np.linalg.norm(p, axis=1)))
    sigma = alpha * scale / np.maximum(c, 1.0)
    s2 = sigma ** 2
    if not np.isfinite(s2).all():  # inf * 0 is NaN off the diagonal: the product says so
        return s2[:, None, None] * np.eye(3)[None]
    # s2 * 1 on the diagonal and s2 * 0 = +0.0 off it (s2 >= 0): the same bits as the
    # product with the identity, written into zeros (3x cheaper a frame, issue 9)
    out = np.zeros((len(s2), 3, 3))
    out.reshape(-1, 9)[:, ::4] = s2[:, None]
    return out
