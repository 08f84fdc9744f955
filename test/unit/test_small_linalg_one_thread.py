"""Small linear algebra on the per-frame and tf paths stays off OpenBLAS's threads.

numpy 1.21's wheels (Humble's numpy, Jetson's) bundle OpenBLAS 0.3.17, whose small LAPACK
solves and inverses wake its worker threads: on a loaded 2-core machine one 6x6
``np.linalg.inv`` took 17 ms instead of 0.009 ms, a (2000, 4, 4) stack 2.4 s instead of 10 ms
(numpy 2.4's OpenBLAS: no such cost). The localizer's focal / principal point / distortion fits
(`focal_gate`) ran theirs unlimited, so on the old stack the PnP stage of a SIFT frame took
435 ms instead of 123 ms (redkitchen, OpenCV PnP on both); tf lookups and a bag's
`samples_between` inverted 4x4 rigid transforms with LAPACK. Checked by where the calls run
and what they call, not by timing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from blas_test_utils import stand_in_limit
from mast3r_test_utils import pose

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import invert_poses, make_pose
from mast3r_ros.core.localizer import query_checks
from mast3r_ros.core.tf_buffer import TransformBuffer
from mast3r_ros.core.types import CameraIntrinsics

S = 1_000_000_000


def _rigid_stack(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.tile(np.eye(4), (n, 1, 1))
    out[:, :3, :3] = Rotation.from_rotvec(rng.normal(size=(n, 3))).as_matrix()
    out[:, :3, 3] = rng.normal(size=(n, 3)) * 3
    return out


def test_invert_poses_is_the_inverse_of_a_stack_and_of_one_pose():
    P = _rigid_stack(50, 0)
    np.testing.assert_allclose(invert_poses(P) @ P, np.broadcast_to(np.eye(4), P.shape),
                               atol=1e-12)
    np.testing.assert_allclose(invert_poses(P[3]), np.linalg.inv(P[3]), atol=1e-12)
    assert invert_poses(P[:0]).shape == (0, 4, 4)
    with pytest.raises(InputError, match=r"\(\.\.\., 4, 4\), got \(3, 3\)"):
        invert_poses(np.eye(3))


def _buffer() -> TransformBuffer:
    b = TransformBuffer()
    b.add_static("base_link", "camera_optical", pose([0.1, -0.2, 0.3], [0.05, 0, 0.4]))
    for i, P in enumerate(_rigid_stack(40, 1)):
        b.add_dynamic("odom", "base_link", (i + 1) * S // 10, P)
    b.add_dynamic("map", "odom", 0, pose([0, 0, 0.2], [1.0, 2.0, 0]))
    b.add_dynamic("map", "odom", 5 * S, pose([0, 0, 0.25], [1.1, 2.0, 0]))
    return b


def test_tf_lookups_invert_rigidly_not_with_lapack(monkeypatch):
    """`lookup` and `samples_between` give what a general inverse gives, without calling one."""
    buf = _buffer()
    # the reverse direction (the root 'map' is the common frame: its own inverse is the
    # identity) inverted by LAPACK as the reference
    want_one = np.linalg.inv(buf.lookup("map", "camera_optical", 2 * S))
    want_stamps, map_from_cam = buf.samples_between("map", "camera_optical")
    want = np.linalg.inv(map_from_cam)
    assert len(want_stamps) == 42  # the 40 odom samples and map -> odom's 2

    def refused(*a, **kw):
        raise AssertionError("np.linalg.inv called on the tf path")
    monkeypatch.setattr(np.linalg, "inv", refused)
    np.testing.assert_allclose(buf.lookup("camera_optical", "map", 2 * S), want_one, atol=1e-12)
    stamps, got = buf.samples_between("camera_optical", "map")
    np.testing.assert_array_equal(stamps, want_stamps)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_focal_gate_fits_run_on_one_blas_thread(monkeypatch):
    """The focal, principal point and distortion fits of every localized frame run inside
    `single_blas_thread` (a stand-in limit: with or without threadpoolctl)."""
    state, seen = stand_in_limit(monkeypatch), []
    for name in ("refitted_focal_scale", "refitted_principal_point", "refitted_distortion"):
        real = getattr(query_checks, name)

        def wrapped(*a, _name=name, _real=real, **kw):
            seen.append((_name, state["limit"]))
            return _real(*a, **kw)
        monkeypatch.setattr(query_checks, name, wrapped)
    K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    cam = CameraIntrinsics(640, 480, K)
    rng = np.random.default_rng(3)
    px = rng.uniform([0, 0], [639, 479], (300, 2))
    z = rng.uniform(1.0, 5.0, 300)
    X = np.stack([(px[:, 0] - 319.5) / 525.0 * z, (px[:, 1] - 239.5) / 525.0 * z, z], 1)
    reason, fit = query_checks.focal_gate(0.05, cam, make_pose(np.eye(3), np.zeros(3)), X, px,
                                          np.ones(300, bool), 2.0)
    assert reason == "" and fit is not None and fit.scale == pytest.approx(1.0, abs=1e-6)
    assert sorted(seen) == [("refitted_distortion", 1), ("refitted_focal_scale", 1),
                            ("refitted_principal_point", 1)]
    assert state["limit"] is None  # restored after the fits


def test_run_calibration_distances_run_on_one_blas_thread(monkeypatch):
    """`calibration_d2` (metrics.json's covariance rows and calibration.png: 8 small solves a
    frame) solves inside `single_blas_thread`, with the figures a plain solve gives."""
    from mast3r_ros.core.types import LocalizationResult
    from mast3r_ros.replay import metrics

    poses = _rigid_stack(4, 2)
    cov = np.diag([1e-4, 2e-4, 3e-4, 1e-3, 1e-3, 2e-3])
    gt = poses.copy()
    gt[:, :3, 3] += 0.01
    results = [LocalizationResult(success=True, stamp_ns=i, map_from_cam=p, covariance=cov)
               for i, p in enumerate(poses)]
    want = metrics.calibration_d2(results, gt, 0.0)
    state, seen = stand_in_limit(monkeypatch), []
    real = metrics.mahalanobis_sq

    def wrapped(*a, **kw):
        seen.append(state["limit"])
        return real(*a, **kw)
    monkeypatch.setattr(metrics, "mahalanobis_sq", wrapped)
    got = metrics.calibration_d2(results, gt, 0.0)
    assert seen == [1] * 8 and state["limit"] is None
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got[:, 0], 0.01 ** 2 * (1e4 + 0.5e4 + 1e4 / 3))
