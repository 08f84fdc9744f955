"""Behaviour of `core.pnp` pinned where a one-token change survived the PnP tests (mutation
audit 2026-12-07, second part): the backend a name resolves to without poselib, and the
RANSAC backends' 'no pose' when they report no inliers."""

import numpy as np
import pytest

from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.pnp import ransac as pnp_ransac


def test_backend_names_resolve_without_poselib(monkeypatch):
    """Without poselib, 'poselib' is refused by name and 'opencv' / 'auto' give 'opencv'
    (``backend == 'poselib'`` -> ``!=`` refused 'opencv' and let 'poselib' through)."""
    monkeypatch.setattr(pnp_ransac, "_poselib", None)
    assert pnp_ransac.resolve_backend("opencv") == "opencv"
    assert pnp_ransac.resolve_backend("auto") == "opencv"
    with pytest.raises(ConfigError, match="poselib is not installed"):
        pnp_ransac.resolve_backend("poselib")
    with pytest.raises(ConfigError, match="auto, poselib or opencv"):
        pnp_ransac.resolve_backend("magsac")


def test_poselib_reporting_no_inliers_gives_no_pose(monkeypatch):
    """poselib returns some pose even when it counts no inliers: that is no pose (the frame
    fails with 'PnP-RANSAC found no pose', not with a refinement of an arbitrary pose)."""
    class _Pose:
        Rt = np.hstack([np.eye(3), np.zeros((3, 1))])

    class _Stub:
        @staticmethod
        def estimate_absolute_pose(x, X, cam, ransac, bundle):
            return _Pose(), {"num_inliers": 0}

    monkeypatch.setattr(pnp_ransac, "_poselib", _Stub)
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    X = np.random.default_rng(0).normal(size=(8, 3)) + [0, 0, 5]
    args = (X, np.zeros((8, 2)), K, (640, 480), 2.0, 100, 0.999, 0)
    assert pnp_ransac._ransac_poselib(*args) is None
    _Stub.estimate_absolute_pose = staticmethod(lambda *a: (_Pose(), {"num_inliers": 5}))
    pose = pnp_ransac._ransac_poselib(*args)
    assert pose is not None and np.allclose(pose, np.eye(4))


def test_focal_scale_of_points_behind_the_camera_is_not_judged():
    """A pose with map points behind the camera: the focal fit cannot be judged, (1.0, inf),
    by `focal_scale` and by `refitted_focal_scale` alike (its ``return (1, inf, None)`` ->
    ``return None`` raised a TypeError out of both, failing the frame with an exception)."""
    from mast3r_ros.core.pnp.focal import focal_scale, refitted_focal_scale

    rng = np.random.default_rng(1)
    X = rng.uniform([-1, -1, 1], [1, 1, 3], (12, 3))
    X[0, 2] = -2.0  # one point behind
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    xu = rng.uniform([0, 0], [640, 480], (12, 2))
    assert focal_scale(np.eye(4), X, xu, K) == (1.0, float("inf"))
    inliers = np.ones(12, dtype=bool)
    assert refitted_focal_scale(np.eye(4), X, xu, inliers, K, 4.0) == (1.0, float("inf"))


def test_focal_fit_from_a_pose_metres_off_in_depth_is_judged():
    """Only the log-scale's own step counts as the fit diverging (beyond e**3), not the
    translation's: a far scene (20-40 m) fitted from a pose 5 m off along the optical axis
    still gives fx x1.1 (the divergence check reading the z step instead, ``st[6]`` ->
    ``st[5]``, survived the audit: it left this fit not judged)."""
    from mast3r_ros.core.geometry import make_pose
    from mast3r_ros.core.pnp.focal import focal_scale

    rng = np.random.default_rng(0)
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    z = rng.uniform(20, 40, 80)
    X = np.column_stack([rng.uniform(-0.5, 0.5, 80) * z, rng.uniform(-0.4, 0.4, 80) * z, z])
    xu = X[:, :2] / X[:, 2:] * 550.0 + K[:2, 2]  # fx, fy x1.1
    s, sigma = focal_scale(make_pose(np.eye(3), [0, 0, -5.0]), X, xu, K)
    assert abs(s - 1.1) < 1e-6 and sigma < 1e-6, (s, sigma)
