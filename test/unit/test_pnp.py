import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import pnp
from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.geometry import invert_pose, make_pose, pose_error, transform_points
from mast3r_ros.core.types import CameraIntrinsics

BACKENDS = ["opencv"] + (["poselib"] if pnp.poselib_available() else [])
CAM = CameraIntrinsics(640, 480, [[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])


def _scene(seed, n=400, cam=CAM):
    """Map points seen by a camera at a random pose, their exact pixels, and the pose."""
    rng = np.random.default_rng(seed)
    map_from_cam = make_pose(Rotation.random(random_state=seed).as_matrix(),
                             rng.uniform(-2, 2, 3))
    px = rng.uniform([0, 0], [cam.width - 1, cam.height - 1], (n, 2))
    z = rng.uniform(1.0, 6.0, n)
    K = cam.K
    pts_cam = np.stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z, (px[:, 1] - K[1, 2]) / K[1, 1] * z,
                        z], 1)
    return transform_points(map_from_cam, pts_cam), px, map_from_cam, rng


@pytest.mark.parametrize("backend", BACKENDS)
def test_perfect_correspondences(backend):
    X, x, T, _ = _scene(0)
    res = pnp.solve_pnp(X, x, CAM, backend=backend, reproj_error_px=2.0)
    assert res.success and res.num_inliers == len(X)
    t, r = pose_error(res.map_from_cam, T)
    assert t <= 1e-3 and r <= 0.05
    assert res.reproj_rms_px < 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_half_outliers_and_pixel_noise(backend):
    X, x, T, rng = _scene(1, n=600)
    x = x + rng.normal(0, 1.0, x.shape)
    bad = rng.permutation(len(X))[: len(X) // 2]
    x[bad] = rng.uniform([0, 0], [639, 479], (len(bad), 2))
    res = pnp.solve_pnp(X, x, CAM, backend=backend, reproj_error_px=4.0)
    assert res.success
    t, r = pose_error(res.map_from_cam, T)
    assert t <= 0.01 and r <= 0.5, (t, r)
    truth = np.ones(len(X), bool)
    truth[bad] = False
    assert np.mean(res.inliers[truth]) > 0.95
    assert np.mean(res.inliers[~truth]) < 0.1
    assert 0.5 < res.reproj_rms_px < 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_distorted_pixels_are_undistorted_first(backend):
    import cv2

    cam = CameraIntrinsics(640, 480, CAM.K, [-0.25, 0.08, 0.001, -0.002, 0.0])
    X, _, T, _ = _scene(2, cam=cam)
    cam_from_map = invert_pose(T)
    rvec = cv2.Rodrigues(cam_from_map[:3, :3])[0]
    x, _ = cv2.projectPoints(X, rvec, cam_from_map[:3, 3], cam.K, cam.dist)
    res = pnp.solve_pnp(X, x.reshape(-1, 2), cam, backend=backend, reproj_error_px=2.0)
    assert res.success
    t, r = pose_error(res.map_from_cam, T)
    assert t <= 2e-3 and r <= 0.05
    # ignoring the distortion gives a visibly worse pose: the undistortion is doing the work
    plain = pnp.solve_pnp(X, x.reshape(-1, 2), CAM, backend=backend, reproj_error_px=50.0)
    assert not plain.success or pose_error(plain.map_from_cam, T)[0] > 10 * t


@pytest.mark.parametrize("backend", BACKENDS)
def test_too_few_or_invalid_points_fail_as_results(backend):
    X, x, _, _ = _scene(3, n=5)
    res = pnp.solve_pnp(X, x, CAM, backend=backend)
    assert not res.success and "too few" in res.reason and res.map_from_cam is None
    X, x, _, _ = _scene(3, n=50)
    X[6:] = np.nan
    res = pnp.solve_pnp(X, x, CAM, backend=backend)
    assert res.success and not res.inliers[6:].any()
    res = pnp.solve_pnp(np.zeros((0, 3)), np.zeros((0, 2)), CAM, backend=backend)
    assert not res.success and res.inliers.shape == (0,)
    with pytest.raises(InputError):
        pnp.solve_pnp(np.zeros((3, 3)), np.zeros((4, 2)), CAM)


def test_backend_resolution():
    assert pnp.resolve_backend("opencv") == "opencv"
    assert pnp.resolve_backend("auto") == ("poselib" if pnp.poselib_available() else "opencv")
    with pytest.raises(ConfigError):
        pnp.resolve_backend("ransac")


def test_refinement_converges_from_a_perturbed_pose():
    X, x, T, _ = _scene(4)
    start = make_pose(Rotation.from_rotvec([0.02, -0.01, 0.015]).as_matrix() @ T[:3, :3],
                      T[:3, 3] + [0.05, -0.03, 0.02])
    out = pnp.refine_pose(start, X, x, CAM.K)
    t, r = pose_error(out, T)
    assert t < 1e-6 and r < 1e-5


def test_jacobian_matches_finite_differences():
    X, _, T, _ = _scene(5, n=20)
    J = pnp._jacobian(T, X, CAM.K)
    num = np.zeros_like(J)
    for k in range(6):
        d = np.zeros(6)
        d[k] = 1e-6
        rp, _ = pnp.reprojection_residuals(invert_pose(pnp._perturb(T, d)), X, np.zeros((20, 2)),
                                           CAM.K)
        rm, _ = pnp.reprojection_residuals(invert_pose(pnp._perturb(T, -d)), X, np.zeros((20, 2)),
                                           CAM.K)
        num[:, k] = ((rp - rm) / 2e-6).reshape(-1)
    np.testing.assert_allclose(J, num, rtol=1e-4, atol=1e-3)


def test_covariance_predicts_the_actual_scatter():
    """The 6x6 covariance (map-frame centre, map-frame rotation vector) matches Monte Carlo."""
    X, x0, T, rng = _scene(6, n=150)
    errs, covs = [], []
    for _ in range(40):
        res = pnp.solve_pnp(X, x0 + rng.normal(0, 1.0, x0.shape), CAM, backend="opencv",
                            reproj_error_px=6.0)
        assert res.success
        E = res.map_from_cam
        dtheta = Rotation.from_matrix(E[:3, :3] @ T[:3, :3].T).as_rotvec()
        errs.append(np.concatenate([E[:3, 3] - T[:3, 3], dtheta]))
        covs.append(res.covariance)
    emp = np.cov(np.array(errs).T)
    pred = np.mean(covs, axis=0)
    assert pred.shape == (6, 6) and np.allclose(pred, pred.T)
    assert np.all(np.linalg.eigvalsh(pred) > 0)
    ratio = np.diag(emp) / np.diag(pred)
    assert np.all((ratio > 0.4) & (ratio < 2.5)), ratio
