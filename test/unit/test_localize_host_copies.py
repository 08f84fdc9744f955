"""Issue 9, the host work of a frame (docs/bench/host_cpu_2026-12-06): the copies and rebuilds
cut from `Localizer.localize` give the same bits as the code before them, pinned here against
that code written out."""

from types import SimpleNamespace

import numpy as np
import pytest

from mast3r_ros.core.localizer.results import _pooled
from mast3r_ros.core.matchers.mast3r import FusedMatches, Mast3rMatcher
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.core.uncertainty import pointmap_point_covariance


def test_one_candidates_rows_go_to_pnp_as_they_are_several_concatenated():
    a, b = np.arange(12.0).reshape(4, 3), np.ones((2, 3))
    assert _pooled([a], (0, 3)) is a  # was np.concatenate([a]): a copy of every row
    assert np.array_equal(_pooled([a, b], (0, 3)), np.concatenate([a, b]))
    empty = _pooled([], (0, 3, 3))
    assert empty.shape == (0, 3, 3) and empty.dtype == np.float64


def _fused(n: int, seed: int = 0) -> FusedMatches:
    rng = np.random.default_rng(seed)
    cam = np.column_stack([rng.uniform(-1, 1, (n, 2)), rng.uniform(0.5, 4, n)])
    return FusedMatches(np.zeros(n, np.int64), rng.integers(0, 64, (n, 2)),
                        rng.integers(0, 48, (n, 2)), cam, cam + 1.0, rng.uniform(1, 9, n))


def _matcher() -> SimpleNamespace:
    K = np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]])
    kf = SimpleNamespace(id=7, intrinsics=CameraIntrinsics(640, 480, K),
                         map_from_cam=np.eye(4))
    return SimpleNamespace(kf_map=SimpleNamespace(keyframes=[kf]), points_source="pointmap",
                           kf_undistort_table=None, undistort_table=None, conf_alpha=0.2,
                           enc_set=SimpleNamespace(to_orig=[np.diag([10.0, 10.0, 1.0])]))


def _pair_before(m: FusedMatches, q_to_orig: np.ndarray):
    """`Mast3rMatcher._pair` before the cut (pointmap points, no tables): every row gathered."""
    from mast3r_ros.core.geometry import apply_homography

    kf_xy = apply_homography(np.diag([10.0, 10.0, 1.0]), m.xy1)
    q_xy = apply_homography(q_to_orig, m.xy2)
    ok = np.isfinite(m.pts3d_cam).all(axis=1) & (m.pts3d_cam[:, 2] > 0)
    cov = pointmap_point_covariance(m.pts3d_cam[ok], m.conf[ok], 0.2)
    return m.pts3d_map[ok], q_xy[ok], kf_xy[ok], cov


@pytest.mark.parametrize("bad", [None, "nan", "behind", "inf"])
def test_a_pairs_valid_rows_are_not_copied_and_the_result_is_unchanged(bad):
    m = _fused(50)
    if bad == "nan":
        m.pts3d_cam[3, 1] = np.nan
    elif bad == "behind":
        m.pts3d_cam[[5, 9], 2] = -1.0
    elif bad == "inf":
        m.pts3d_cam[[0, 49], [0, 2]] = (-np.inf, np.inf)  # z = inf is "in front" but not finite
    q = np.diag([1.25, 1.25, 1.0])
    c = Mast3rMatcher._pair(_matcher(), 0, m, q)
    X, x, kx, cov = _pair_before(m, q)
    for got, want in ((c.points3d, X), (c.points2d, x), (c.keyframe_xy, kx),
                      (c.points3d_cov, cov)):
        assert got.tobytes() == want.tobytes()
    assert c.keyframe_id == 7 and len(c) == 50 - {None: 0, "nan": 1, "behind": 2, "inf": 2}[bad]
    # every row valid (the usual frame): the fused rows themselves, no gathered copy
    assert np.shares_memory(c.points3d, m.pts3d_map) == (bad is None)


@pytest.mark.parametrize("conf", [
    np.random.default_rng(1).uniform(0.2, 30.0, 500),
    np.array([1.0, 0.0, -3.0, 5e-324, 1e300, 2.5]),
    np.array([np.inf, 2.0, np.nan, 1.5]),  # sigma 0, NaN: the product's NaN off the diagonal
])
def test_point_covariances_are_the_product_with_the_identity_bit_for_bit(conf):
    p = np.random.default_rng(2).normal(size=(len(conf), 3)) * 2.0
    scale = float(np.mean(np.linalg.norm(p, axis=1)))
    sigma = 0.2 * scale / np.maximum(conf, 1.0)
    want = (sigma ** 2)[:, None, None] * np.eye(3)[None]  # the formula before issue 9's fill
    got = pointmap_point_covariance(p, conf, 0.2)
    assert got.shape == (len(conf), 3, 3) and got.tobytes() == want.tobytes()


def test_an_infinite_point_variance_keeps_the_products_nan_off_the_diagonal():
    with np.errstate(over="ignore", invalid="ignore"):
        huge = pointmap_point_covariance(np.full((2, 3), 1e200), np.ones(2))  # sigma^2 = inf
    assert np.isnan(huge[:, 0, 1]).all() and np.isinf(huge[:, 0, 0]).all()
