"""Unit checks of the localizer's per-frame logic with hand-worked values: the acceptance gates at
their thresholds, `position_sigma_m`, the match debug record, the caller's pose and skew checks,
the candidate / retry flow (stub matcher and retrieval on a 4-keyframe map), the global retrieval
method choice, the matcher factory's arguments and the device cache of keyframe encodings.
Fast (no network, no SIFT features): the end-to-end paths are in test_localizer.py."""

import logging
import time
import types
from collections.abc import Sequence

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import (
    CovarianceConfig,
    GateConfig,
    LocalizerConfig,
    MatchingConfig,
    RetrievalConfig,
)
from mast3r_ros.core.errors import ConfigError, InputError, MapFormatError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer, position_sigma_m
from mast3r_ros.core.localizer.global_retrieval import GlobalRetrieval, _pooled_index
from mast3r_ros.core.retrieval_index import IndexParams
from mast3r_ros.core.localizer.matcher_factory import _make_matcher
from mast3r_ros.core.model.given_as import FLAGS
from mast3r_ros.core.localizer.query_checks import _checked_pose, _warn_ignored_skew
from mast3r_ros.core.localizer.results import _match_debug
from mast3r_ros.core.matchers.lazy_encodings import KeyframeEncodings
from mast3r_ros.core.pnp import PnPResult
from mast3r_ros.core.types import CameraIntrinsics, Correspondences, Frame
from mast3r_ros.replay.synthetic import default_intrinsics

CAM = default_intrinsics(64, 48)  # fx = fy = 52.5, cx = 31.5, cy = 23.5


@pytest.fixture(scope="module")
def tiny_map(tmp_path_factory):
    """Four keyframes 1 m apart along x, all looking along +z (ids 0..3)."""
    rng = np.random.default_rng(0)
    kfs = [(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), CAM,
            make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i, np.full((48, 64), 2.0, np.float32))
           for i in range(4)]
    return write_map(str(tmp_path_factory.mktemp("units") / "map"), kfs)


@pytest.fixture
def kf_map(tiny_map):
    return KeyframeMap.load(tiny_map)


def _sift(**kw):
    return LocalizerConfig(matcher="sift", **kw)


# ----------------------------------------------------------------------------- gates ---

def _res(n_in, n, rms=1.0, cov=None, pose=None):
    inl = np.zeros(n, bool)
    inl[:n_in] = True
    return PnPResult(True, np.eye(4) if pose is None else pose, inl, rms,
                     np.eye(6) * 1e-4 if cov is None else cov)


def _gate(kf_map, **gates):
    return Localizer(kf_map, _sift(gates=GateConfig(**gates)))._gate


def test_count_ratio_and_rms_gates_pass_at_their_thresholds(kf_map):
    """Each gate fails only *beyond* its limit ("fewer", "lower", "larger")."""
    gate = _gate(kf_map, min_inliers=30, min_inlier_ratio=0.0, max_reproj_rms_px=2.0)
    assert gate(_res(30, 100), 100, None) == ""
    assert gate(_res(29, 100), 100, None).startswith("too few inliers (29 < 30)")
    assert gate(_res(30, 100, rms=2.0), 100, None) == ""
    assert gate(_res(30, 100, rms=2.0001), 100, None).startswith("reprojection RMS too high")
    # the ratio is inliers over matches: 30 of 60 is exactly 0.5
    gate = _gate(kf_map, min_inliers=4, min_inlier_ratio=0.5)
    assert gate(_res(30, 60), 60, None) == ""
    assert gate(_res(29, 60), 60, None).startswith("inlier ratio too low (0.48 < 0.50)")


def test_position_sigma_gate_bounds_the_worst_axis_and_zero_disables_it(kf_map):
    cov = np.diag([1e-4, 4.0, 1e-4, 1e-6, 1e-6, 1e-6])  # 2 m along y: exactly the limit
    gate = _gate(kf_map, max_position_sigma_m=2.0)
    assert gate(_res(100, 100, cov=cov), 100, None) == ""
    assert gate(_res(100, 100, cov=cov * 1.01), 100, None).startswith("position too uncertain")
    nan = cov.copy()
    nan[0, 0] = np.nan  # not finite: never a pose to publish
    assert gate(_res(100, 100, cov=nan), 100, None).startswith(
        "position too uncertain (1 sigma nan")
    off = _gate(kf_map, max_position_sigma_m=0.0)
    assert off(_res(100, 100, cov=cov * 1e6), 100, None) == ""


def _at_depth(n, depth, far=0, far_depth=100.0):
    """(n + far, 3) map points in front of the identity pose: n at ``depth`` m, ``far`` at
    ``far_depth`` m (outliers, when the result's inlier mask marks only the first n)."""
    xy = np.linspace(-0.5, 0.5, n + far)
    z = np.r_[np.full(n, depth), np.full(far, far_depth)]
    return np.stack([xy, -xy, z], 1)


def test_relative_sigma_gate_bounds_sigma_by_the_inliers_median_depth(kf_map):
    """gates.max_position_sigma_ratio: a sigma over ratio x the inliers' median depth fails,
    whatever the absolute gate says; only the inliers' depth counts; 0 disables."""
    cov = np.diag([1e-4, 0.09, 1e-4, 1e-6, 1e-6, 1e-6])  # 0.3 m along y
    gate = _gate(kf_map, max_position_sigma_m=2.0, max_position_sigma_ratio=0.1)
    X = _at_depth(100, 2.5)  # 0.3 / 2.5 = 0.12 > 0.1: a wrong-consensus-like pose
    reason = gate(_res(100, 100, cov=cov), 100, None, X)
    # the ratio is compared with the setting, not the depth (was '... depth 2.5 m > 0.1')
    assert reason.startswith("position too uncertain for the distance to the scene (1 sigma "
                             "0.3 m is 0.12 x the inliers' median depth 2.5 m, over "
                             "gates.max_position_sigma_ratio 0.1)"), reason
    assert "raise gates.max_position_sigma_ratio" in reason
    assert gate(_res(100, 100, cov=cov), 100, None, _at_depth(100, 3.5)) == ""  # 0.086
    # 60 outliers 100 m away: the median of all points would be 100 m, the inliers' is 2.5 m
    assert gate(_res(40, 100, cov=cov), 100, None, _at_depth(40, 2.5, far=60)).startswith(
        "position too uncertain for the distance")
    # depth is along the camera's z: the same points seen from 1 m back along z are 3.5 m deep
    back = make_pose(np.eye(3), [0.0, 0.0, -1.0])
    assert gate(_res(100, 100, cov=cov, pose=back), 100, None, X) == ""
    nan = cov.copy()
    nan[1, 1] = np.nan
    assert _gate(kf_map, max_position_sigma_m=0.0, max_position_sigma_ratio=0.1)(
        _res(100, 100, cov=nan), 100, None, X).startswith(
        "position too uncertain for the distance to the scene (1 sigma nan")
    # inliers behind the camera: said so, not 'nan x the inliers' median depth -2.5 m'
    behind = _gate(kf_map, max_position_sigma_m=0.0, max_position_sigma_ratio=0.1)(
        _res(100, 100, cov=cov), 100, None, X * [1, 1, -1])
    assert "the inliers' median depth -2.5 m is not in front of the camera" in behind, behind
    assert "nan" not in behind, behind
    off = _gate(kf_map, max_position_sigma_m=0.0, max_position_sigma_ratio=0.0)
    assert off(_res(100, 100, cov=cov * 1e6), 100, None, X) == ""


def test_relative_sigma_gate_keeps_a_correct_near_field_pose_at_the_defaults(kf_map):
    """The default ratio's own derivation: a correctly matched frame 0.3 m from the scene, its
    covariance from the default model (the map's 1 cm / 1 deg keyframe poses dominate there),
    the fewest inliers the defaults accept (30) spread over 3 keyframes: never refused."""
    from mast3r_ros.core.localizer.pipeline import _uncertainty
    from mast3r_ros.core.pnp.covariance import pose_covariance
    from mast3r_ros.core.uncertainty import depth_point_covariance

    K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    cv, gate = CovarianceConfig(), _gate(kf_map)  # the default gates
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(25):
        u, v = rng.uniform(20, 620, 30), rng.uniform(20, 460, 30)
        z = rng.uniform(0.24, 0.36, 30)
        P = np.stack([(u - 319.5) / 525 * z, (v - 239.5) / 525 * z, z], 1)
        groups = np.arange(30) % 3
        kfs = [make_pose(Rotation.from_euler("y", a, degrees=True).as_matrix(), [0.03 * s,
                         0.015 * k, 0.0]) for k, (a, s) in enumerate(((10, 1), (-20, -1), (30, 1)))]
        S = np.concatenate([depth_point_covariance((P[groups == k] - T[:3, 3]) @ T[:3, :3], K, T,
                                                   cv.depth_sigma_k, cv.keyframe_pixel_sigma_px)
                            for k, T in enumerate(kfs)])
        order = np.concatenate([np.flatnonzero(groups == k) for k in range(3)])
        x = P[order, :2] / P[order, 2:] * 525 + [319.5, 239.5] + rng.normal(0, 1.0, (30, 2))
        cov = pose_covariance(np.eye(4), P[order], x, K, S, groups[order],
                              np.array([T[:3, 3] for T in kfs]), _uncertainty(cv))
        worst = max(worst, position_sigma_m(cov) / np.median(z))
        assert gate(_res(30, 30, cov=cov), 30, None, P[order]) == ""
    assert worst > 0.05  # the 1 cm keyframe term is felt: the check is not vacuous


def test_both_sigma_gates_take_one_eigen_decomposition_per_frame(kf_map, monkeypatch):
    """The absolute and the relative sigma gate judge the same worst-axis sigma: the per-frame
    gate computes it once (it was computed again inside the relative gate), and not at all
    with both gates off."""
    import mast3r_ros.core.localizer.pipeline as pipeline
    import mast3r_ros.core.localizer.results as results
    import mast3r_ros.core.pose_uncertainty as pose_uncertainty

    calls = []
    real = pose_uncertainty.position_sigma_m
    assert not hasattr(results, "position_sigma_m")  # the relative gate takes the sigma given
    for module in (pipeline, pose_uncertainty):
        monkeypatch.setattr(module, "position_sigma_m", lambda c: calls.append(1) or real(c))
    X = _at_depth(100, 2.5)
    gate = _gate(kf_map, max_position_sigma_m=2.0, max_position_sigma_ratio=0.5)
    assert gate(_res(100, 100), 100, None, X) == "" and len(calls) == 1
    both_off = _gate(kf_map, max_position_sigma_m=0.0, max_position_sigma_ratio=0.0)
    assert both_off(_res(100, 100), 100, None, X) == "" and len(calls) == 1


def test_jump_gates_at_their_thresholds_each_on_its_own_measure(kf_map):
    est = make_pose(np.eye(3), [0.5, 0.0, 0.0])
    gate = _gate(kf_map, max_jump_m=0.5, max_jump_deg=5.0)
    assert gate(_res(100, 100, pose=est), 100, np.eye(4)) == ""  # 0.5 m: not beyond 0.5 m
    far = make_pose(np.eye(3), [0.0, 0.0, 0.6])
    assert gate(_res(100, 100, pose=far), 100, np.eye(4)).startswith(
        "jump from the prior too large (0.60 m > 0.50 m)")
    # a 3 m translation is no rotation: the degree gate must not read metres
    gate = _gate(kf_map, max_jump_m=5.0, max_jump_deg=2.0)
    assert gate(_res(100, 100, pose=make_pose(np.eye(3), [3.0, 0, 0])), 100, np.eye(4)) == ""
    turned = make_pose(Rotation.from_euler("y", 10, degrees=True).as_matrix(), [0, 0, 0])
    assert gate(_res(100, 100, pose=turned), 100, np.eye(4)).startswith(
        "jump from the prior too large (10.0 deg > 2.0 deg)")
    at = make_pose(Rotation.from_euler("y", 2, degrees=True).as_matrix(), [0, 0, 0])
    assert gate(_res(100, 100, pose=at), 100, np.eye(4)) == ""  # 2 deg: not beyond 2 deg
    over = make_pose(Rotation.from_euler("y", 3, degrees=True).as_matrix(), [0, 0, 0])
    assert gate(_res(100, 100, pose=over), 100, np.eye(4)).startswith(
        "jump from the prior too large (3.0 deg > 2.0 deg)")
    # 0 disables each
    # (the down-axis gate, which a pose turned 170 deg fails, off too: test_upright_gate.py)
    off = _gate(kf_map, max_jump_m=0.0, max_jump_deg=0.0, max_down_axis_deg=0.0)
    wild = make_pose(Rotation.from_euler("x", 170, degrees=True).as_matrix(), [100.0, 0, 0])
    assert off(_res(100, 100, pose=wild), 100, np.eye(4)) == ""


# ------------------------------------------------------------------ position_sigma_m ---

def test_position_sigma_is_the_sqrt_of_the_largest_position_eigenvalue():
    # position variances 0.04, 0.09, 0.25 m^2 (sigma 0.5 m worst), rotation block far larger
    cov = np.diag([0.04, 0.09, 0.25, 100.0, 100.0, 100.0])
    assert position_sigma_m(cov) == pytest.approx(0.5)
    # rotated: the worst axis is no diagonal entry (diag(1, 0.01) turned 45 deg has 0.505 on it)
    R = Rotation.from_euler("z", 45, degrees=True).as_matrix()
    cov = np.zeros((6, 6))
    cov[:3, :3] = R @ np.diag([1.0, 0.01, 0.0]) @ R.T
    assert cov[0, 0] == pytest.approx(0.505)
    assert position_sigma_m(cov) == pytest.approx(1.0)
    # an asymmetric block (rounding in a solver) counts as its symmetric part
    cov = np.zeros((6, 6))
    cov[0, 0] = cov[1, 1] = 1.0
    cov[0, 1] = 0.5  # symmetric part [[1, .25], [.25, 1]]: largest eigenvalue 1.25
    assert position_sigma_m(cov) == pytest.approx(np.sqrt(1.25))
    # a tiny negative eigenvalue from rounding is 0, not NaN
    assert position_sigma_m(np.diag([-1e-18] * 6)) == 0.0
    assert np.isnan(position_sigma_m(np.diag([np.inf, 1, 1, 1, 1, 1.0])))
    with pytest.raises(InputError, match="6x6"):
        position_sigma_m(np.eye(3))


# ----------------------------------------------------------------------- match debug ---

def test_match_debug_names_map_indices_keyframe_pixels_and_owns_its_inliers():
    a = Correspondences(7, np.ones((2, 3)), np.array([[1., 2], [3, 4]]),
                        np.array([[10., 20], [30, 40]]))
    b = Correspondences(9, np.ones((1, 3)), np.array([[5., 6]]), np.array([[50., 60]]))
    qxy = np.concatenate([a.points2d, b.points2d])
    inl = np.array([True, False, True])
    dbg = _match_debug(qxy, [5, 2], [a, b], inl)
    np.testing.assert_array_equal(dbg.keyframe_index, [5, 5, 2])  # cand[k], not k
    np.testing.assert_array_equal(dbg.keyframe_xy, [[10, 20], [30, 40], [50, 60]])
    np.testing.assert_array_equal(dbg.query_xy, qxy)
    inl[:] = False
    np.testing.assert_array_equal(dbg.inliers, [True, False, True])


# ------------------------------------------------------------------------ query checks ---

def test_checked_pose_refuses_a_non_rigid_pose_and_returns_float64():
    assert _checked_pose(None, "prior") is None
    with pytest.raises(InputError, match="hint must be a finite 4x4 rigid"):
        _checked_pose(np.eye(3), "hint")
    with pytest.raises(InputError, match="prior"):
        _checked_pose(np.diag([2.0, 2.0, 2.0, 1.0]), "prior")  # scaled: not rigid
    pose = [[1, 0, 0, 0.1234567890123], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    out = _checked_pose(pose, "prior")
    assert out.dtype == np.float64 and out[0, 3] == 0.1234567890123


def _skew_cam(skew, fx=1000.0, fy=500.0, cx=320.0, cy=100.0, w=640, h=480):
    return CameraIntrinsics(w, h, np.array([[fx, skew, cx], [0, fy, cy], [0, 0, 1.0]]))


def _skew_warnings(caplog, cam):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        _warn_ignored_skew(cam)
    return [r.getMessage() for r in caplog.records if "skew" in r.getMessage()]


def test_skew_shift_is_skew_times_the_farthest_row_over_fy(caplog):
    """shift = |skew| * max(cy, h - 1 - cy) / fy: with cy 100 of 480 rows the farthest row is
    379 px from cy; fy (500), not fx (1000), divides; the columns (cx 320 of 640) do not count."""
    skew = 0.52 * 500 / 379  # shift 0.52 px > 0.5 px
    (msg,) = _skew_warnings(caplog, _skew_cam(skew))
    assert "up to 0.5 px" in msg
    assert len(_skew_warnings(caplog, _skew_cam(-skew))) == 1  # the sign does not matter
    assert not _skew_warnings(caplog, _skew_cam(0.48 * 500 / 379))  # 0.48 px: negligible
    # exactly 0.5 px (skew 0.5, the farthest row 400 px from cy, fy 400) is not "over" 0.5
    exact = dict(fx=400.0, fy=400.0, cx=200.0, cy=0.0, w=401, h=401)
    assert not _skew_warnings(caplog, _skew_cam(0.5, **exact))
    assert len(_skew_warnings(caplog, _skew_cam(0.5001, **exact))) == 1


# --------------------------------------------------------- query camera vs the map ---

def _cam(fx, fy=None, cx=32.0, cy=24.0, w=64, h=48):
    return CameraIntrinsics(w, h, np.array([[fx, 0, cx], [0, fx if fy is None else fy, cy],
                                            [0, 0, 1.0]]))


def _mismatch_warnings(caplog, loc, *cams):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        for cam in cams:
            loc._check_query_camera(cam)
    return [r.getMessage() for r in caplog.records if "query camera" in r.getMessage()]


def _camera_loc(kf_map, rows):
    loc = Localizer(kf_map, _sift())
    loc._map_cameras = np.array(rows, np.float64)  # (w, h, fx, fy, cx, cy) per map camera
    return loc


def test_camera_mismatch_is_relative_to_fx_and_passes_at_three_percent(kf_map, caplog):
    loc = _camera_loc(kf_map, [[64, 48, 100.0, 100.0, 32.0, 24.0]])
    assert not _mismatch_warnings(caplog, loc, _cam(103.0, 103.0))  # 3/100: not beyond 3 %
    assert len(_mismatch_warnings(caplog, loc, _cam(104.0, 104.0))) == 1  # 103.5: "same" as 103
    # any one of fx, fy, cx, cy off is enough; cx 4 px of fx 100 is 4 %
    assert "differs by 4 %" in _mismatch_warnings(caplog, loc, _cam(100.0, cx=36.0))[0]
    # the same size only: a 48x64 (portrait) camera is not this one
    assert not _mismatch_warnings(caplog, loc, _cam(150.0, w=48, h=64))


def test_camera_mismatch_names_the_closest_map_camera(kf_map, caplog):
    loc = _camera_loc(kf_map, [[64, 48, 200.0, 200.0, 32.0, 24.0],
                               [64, 48, 100.0, 100.0, 32.0, 24.0]])
    (msg,) = _mismatch_warnings(caplog, loc, _cam(110.0))
    assert "differs by 10 %" in msg and "(closest: fx 100.0, fy 100.0" in msg


def test_checked_cameras_are_told_apart_by_size_and_remembered_64_most_recent(kf_map, caplog):
    loc = _camera_loc(kf_map, [[64, 48, 100.0, 100.0, 32.0, 24.0],
                               [32, 24, 100.0, 100.0, 32.0, 24.0]])
    a, b = _cam(120.0), _cam(130.0)
    assert len(_mismatch_warnings(caplog, loc, a, b, a, b)) == 2  # each once
    # a K within 0.5 % of fx of a checked one (a driver's jitter) is that camera: 0.4 of 120
    assert not _mismatch_warnings(caplog, loc, _cam(120.4))
    # the same K on a camera of another size is another camera, checked on its own
    assert len(_mismatch_warnings(caplog, loc, _cam(120.0, w=32, h=24))) == 1
    # 63 more cameras (fx 1 % apart): `a`, used again in between, is still remembered
    others = [_cam(140.0 * 1.01 ** k) for k in range(63)]
    msgs = _mismatch_warnings(caplog, loc, *others[:30], a, *others[30:], a)
    assert len(msgs) == 63 and len(loc._cameras_checked) == 64
    # ...while b, the least recently used, has been forgotten: checked (and warned) again
    assert len(_mismatch_warnings(caplog, loc, b)) == 1


# -------------------------------------------------------------- candidates and retries ---

class _StubMatcher:
    """20 exact correspondences of the query pose per candidate (``fail``: none); records the
    candidate lists it was asked for."""

    name = "stub"

    def __init__(self, kf_map, query_pose, fail=(), rerank=None):
        self.kf_map, self.pose, self.fail, self.calls = kf_map, query_pose, set(fail), []
        if rerank is not None:
            self.rerank = rerank

    def query_state(self, frame):
        return None

    def correspond(self, frame, state, cand, timings):
        self.calls.append(list(cand))
        t0 = time.perf_counter()  # the time it took, as a matcher: within localize's total
        time.sleep(1e-4)
        timings["matching"] = timings.get("matching", 0.0) + time.perf_counter() - t0
        rng = np.random.default_rng(len(self.calls))
        out = []
        for i in cand:
            if i in self.fail:  # one (here empty) Correspondences per candidate, in order
                out.append(Correspondences(self.kf_map.keyframe(i).id, np.zeros((0, 3)),
                                           np.zeros((0, 2)), np.zeros((0, 2))))
                continue
            px = rng.uniform([0, 0], [63, 47], (20, 2))
            z = rng.uniform(1.0, 3.0, 20)
            K = CAM.K
            Xc = np.column_stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z,
                                  (px[:, 1] - K[1, 2]) / K[1, 1] * z, z])
            Xw = Xc @ self.pose[:3, :3].T + self.pose[:3, 3]
            out.append(Correspondences(self.kf_map.keyframe(i).id, Xw, px, px + 1.0))
        return out

    def close(self):
        pass


class _StubRetrieval:
    def __init__(self, order):
        self.order = np.asarray(order, np.int64)

    def rank(self, frame, state, top_k):
        return self.order[:top_k]


def _stub_loc(kf_map, order, fail=(), rerank=None, pose=None, **cfg):
    cfg.setdefault("gates", GateConfig(min_inliers=10, max_position_sigma_m=0.0))
    loc = Localizer(kf_map, _sift(**cfg))
    pose = kf_map.poses()[1] if pose is None else pose
    loc.matcher = _StubMatcher(kf_map, pose, fail, rerank)
    loc.retrieval = _StubRetrieval(order)
    return loc, Frame(np.zeros((48, 64, 3), np.uint8), CAM, 5), pose


def test_a_prior_outside_the_map_falls_back_to_retrieval(kf_map):
    """`nearest_to_prior`: an empty list means the prior is outside the map and the caller
    falls back to retrieval; with a prior there is no second attempt, so the first must."""
    loc, f, pose = _stub_loc(kf_map, [1, 2, 0, 3],
                             gates=GateConfig(min_inliers=10, max_jump_m=0.0, max_jump_deg=0.0,
                                              max_position_sigma_m=0.0))
    far = make_pose(np.eye(3), [100.0, 0, 0])
    r = loc.localize(f, prior=far)
    assert r.success, r.reason
    assert loc.matcher.calls == [[1, 2]]  # retrieval's best and its nearest companion
    np.testing.assert_allclose(r.map_from_cam, pose, atol=1e-6)


def test_a_prior_chooses_the_candidates_over_a_hint(kf_map):
    loc, f, _ = _stub_loc(kf_map, [0, 1, 2, 3])
    loc.localize(f, prior=kf_map.poses()[3], hint=kf_map.poses()[0])
    assert loc.matcher.calls[0][0] == 3  # the prior's nearest keyframe


def test_a_failed_prior_is_not_retried_but_a_failed_hint_is(kf_map):
    loc, f, _ = _stub_loc(kf_map, [1, 0], fail={3, 2})
    r = loc.localize(f, prior=kf_map.poses()[3])  # its keyframes 3 and 2 give nothing
    assert not r.success and loc.matcher.calls == [[3, 2]]
    loc.matcher.calls.clear()
    r = loc.localize(f, hint=kf_map.poses()[3])  # the same as a hint: retrieval's 1, 0 work
    assert loc.matcher.calls == [[3, 2], [1, 0]] and r.success, r.reason


def test_the_jump_gate_reads_the_callers_prior_not_the_hint(kf_map):
    loc, f, pose = _stub_loc(kf_map, [1, 2], gates=GateConfig(min_inliers=10, max_jump_m=0.2,
                                                              max_position_sigma_m=0.0))
    shifted = pose @ make_pose(np.eye(3), [0.3, 0.0, 0.0])
    r = loc.localize(f, prior=shifted)
    assert not r.success and r.reason.startswith("jump from the prior too large (0.30 m > 0.20 m)")
    assert loc.localize(f, hint=shifted).success


def test_a_retry_with_the_same_candidates_is_not_run_and_keeps_the_first_reason(kf_map):
    loc, f, _ = _stub_loc(kf_map, [3, 2], fail={3, 2})
    r = loc.localize(f, hint=kf_map.poses()[3])
    assert loc.matcher.calls == [[3, 2]]  # retrieval offers {3, 2} again: not matched twice
    assert not r.success and r.reason != "no new candidates" and r.num_matches == 0


def test_retrieval_candidates_are_reranked_and_cut_to_max_keyframes(kf_map):
    loc, f, _ = _stub_loc(kf_map, [0, 1, 2, 3], rerank=lambda frame, state, order: order[::-1],
                          retrieval_top_k=4)
    r = loc.localize(f)
    assert loc.matcher.calls == [[3, 2]]  # reranked best first, max_keyframes 2
    assert r.keyframe_ids == (kf_map.keyframe(3).id, kf_map.keyframe(2).id)


def test_result_fields_count_matches_over_all_candidates(kf_map):
    loc, f, pose = _stub_loc(kf_map, [1, 2])
    r = loc.localize(f, with_matches=True)
    assert r.success and r.num_matches == 40 and r.num_inliers == 40
    assert r.inlier_ratio == 1.0
    assert r.keyframe_ids == (1, 2)
    np.testing.assert_array_equal(r.matches.keyframe_index, [1] * 20 + [2] * 20)
    assert r.timings_s["total"] >= r.timings_s["matching"] > 0
    poses = loc.keyframe_poses()
    poses[:] = 0
    np.testing.assert_array_equal(loc.keyframe_poses(), kf_map.poses())


@pytest.mark.parametrize("order, fail", [([0, 1], {0}), ([1, 2], {2})])
def test_keyframe_pose_error_moves_the_camera_rigidly_with_its_keyframe(kf_map, order, fail):
    """All inliers from one keyframe B (the other candidate gives none): a keyframe pose error
    (dt, dtheta) moves its points rigidly about B's centre c_B, so the camera moves with them:
    dc = dt + dtheta x (c - c_B). The covariance gains sigma_t^2 I + sigma_r^2 [d]x [d]x^T on the
    position block (d = c - c_B) and sigma_r^2 I on the rotation block, sigma_r in radians.
    B first or second, candidates not 0, 1, ...: the centre is the candidate's own."""
    pose = make_pose(np.eye(3), [1.0, 0.0, -2.0])  # 2 m behind keyframe 1 (c_B = (1, 0, 0))

    def cov(sigma_m, sigma_deg):
        loc, f, _ = _stub_loc(kf_map, order, fail=fail, pose=pose,
                              covariance=CovarianceConfig(map_pose_sigma_m=sigma_m,
                                                          map_pose_sigma_deg=sigma_deg))
        r = loc.localize(f)
        assert r.success and loc.matcher.calls == [order], r.reason
        return r.covariance

    d = np.array([0.0, 0.0, -2.0])
    dx = np.array([[0, -d[2], d[1]], [d[2], 0, -d[0]], [-d[1], d[0], 0]])
    s_t, s_r = 0.01, np.radians(1.0)
    want = np.zeros((6, 6))
    want[:3, :3] = s_t ** 2 * np.eye(3) + s_r ** 2 * dx @ dx.T  # diag(1.318e-3, 1.318e-3, 1e-4)
    want[:3, 3:] = -s_r ** 2 * dx
    want[3:, :3] = want[:3, 3:].T
    want[3:, 3:] = s_r ** 2 * np.eye(3)
    np.testing.assert_allclose(cov(0.01, 1.0) - cov(0.0, 0.0), want, atol=1e-7)


def test_warmup_leaves_the_matchers_random_stream_as_it_found_it(kf_map):
    """Later results must not depend on whether the warm-up ran (`Localizer.warmup`)."""
    loc, _, _ = _stub_loc(kf_map, [0, 1])
    m = loc.matcher
    m.rng = np.random.default_rng(5)
    plain = m.correspond

    def drawing(frame, state, cand, timings):
        m.rng.random(7)  # as the mast3r matcher's random max_matches subsets
        return plain(frame, state, cand, timings)

    m.correspond = drawing
    report = loc.warmup()
    assert report["keyframe_batches"] == [1, 2] and m.calls == [[0], [0, 1]]
    np.testing.assert_array_equal(m.rng.random(3), np.random.default_rng(5).random(3))


def test_warmup_batches_never_exceed_the_map(kf_map):
    loc = Localizer(kf_map, _sift(max_keyframes=6))
    assert loc.warmup_batches() == [1, 2, 3, 4]
    loc.engine = types.SimpleNamespace(_padded_batch=lambda k: 1 if k == 1 else 4,
                                       close=lambda: None)
    assert loc.warmup_batches() == [1, 2]  # the first count of each padded size


def test_matching_only_warmup_runs_the_counts_the_padding_grouped_away(kf_map, monkeypatch):
    """With CUDA-graph matching one graph per keyframe count: the counts whose frames the
    warm-up did not run (padded into a larger batch) are matched once more, and only those."""
    from mast3r_ros.core.matchers import fixed_matching

    loc = Localizer(kf_map, _sift(max_keyframes=4))
    loc.matcher = types.SimpleNamespace(cfg=types.SimpleNamespace(cuda_graph=True))
    loc.engine = types.SimpleNamespace(device="cuda", close=lambda: None)
    monkeypatch.setattr(fixed_matching, "uses_cuda_graphs", lambda cfg, device: True)
    assert loc._matching_only_batches([1, 4]) == [2, 3]
    monkeypatch.setattr(fixed_matching, "uses_cuda_graphs", lambda cfg, device: False)
    assert loc._matching_only_batches([1, 4]) == []


# ------------------------------------------------------------------- global retrieval ---

class _Named:
    def __init__(self, name, desc=None):
        self.name, self._desc = name, desc

    def global_descriptors(self):
        return self._desc

    def query_descriptor(self, frame, state):
        raise AssertionError("the thumbnail method takes no matcher descriptor from mast3r")


def test_retrieval_method_falls_back_to_what_the_matcher_and_map_can_serve(kf_map, caplog):
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        r = GlobalRetrieval(kf_map, _Named("sift"), RetrievalConfig(method="pooled"))
    assert r.method == "thumbnail" and "needs the mast3r matcher" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        r = GlobalRetrieval(kf_map, _Named("sift"), RetrievalConfig(method="asmk"))
    assert r.method == "thumbnail" and "retrieval.method 'asmk'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        assert GlobalRetrieval(kf_map, _Named("sift"), RetrievalConfig()).method == "thumbnail"
    assert not caplog.records  # 'auto' falls back silently
    desc = np.eye(4, 8, dtype=np.float32)
    r = GlobalRetrieval(kf_map, _Named("mast3r", desc), RetrievalConfig())
    assert r.method == "pooled"  # mast3r's own descriptor, over the matcher's descriptors


def test_thumbnail_retrieval_with_the_mast3r_matcher_uses_the_thumbnail(kf_map):
    r = GlobalRetrieval(kf_map, _Named("mast3r"), RetrievalConfig(method="thumbnail"))
    assert r.method == "thumbnail"
    f = Frame(KeyframeMap.load(kf_map.path).image(2), CAM, 0)
    assert int(r.rank(f, None, 1)[0]) == 2  # the keyframe's own image ranks it first


class _Asmk:
    num_images, nbytes, device = 4, 1e6, "?"

    def __init__(self):
        self.moved_to = []

    def to(self, device):
        self.moved_to.append(device)


def _asmk_parts(has_index=True, built_on=""):
    asmk = _Asmk()
    engine = types.SimpleNamespace(device="cuda:1", identity="ckpt-id",
                                   info=types.SimpleNamespace(content_id="c-running"))
    retriever = types.SimpleNamespace(identity="ret-id")
    asked = []

    def load_asmk(ret_id, eng_id, size):
        asked.append((ret_id, eng_id, size))
        return asmk if has_index else None

    kf_map = types.SimpleNamespace(load_asmk=load_asmk, path="m", version=2,
                                   pooled_index=lambda ident, size: f"pooled {ident} {size}",
                                   thumbnail_index=lambda: "thumbnails",
                                   asmk_content_id=lambda *key: built_on,
                                   encodings_content_id=lambda *key: built_on,
                                   index_params_or_defaults=IndexParams)
    return kf_map, engine, retriever, asmk, asked


def test_auto_retrieval_is_asmk_where_the_map_has_its_index_scored_on_the_configured_device():
    kf_map, engine, retriever, asmk, asked = _asmk_parts()
    r = GlobalRetrieval(kf_map, _Named("mast3r"), RetrievalConfig(), engine, 384, retriever)
    assert r.method == "asmk" and r.asmk is asmk and asked == [("ret-id", "ckpt-id", 384)]
    assert asmk.moved_to == ["cuda:1"]  # device 'auto': the engine's
    r = GlobalRetrieval(kf_map, _Named("mast3r"), RetrievalConfig(device="cpu"), engine, 384,
                        retriever)
    assert asmk.moved_to == ["cuda:1", "cpu"]


def test_asmk_without_an_engine_or_index_falls_back_to_pooled_from_the_map(caplog):
    kf_map, engine, retriever, asmk, _ = _asmk_parts(has_index=False)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        r = GlobalRetrieval(kf_map, _Named("mast3r"), RetrievalConfig(method="asmk"), engine,
                            512, retriever)
    assert r.method == "pooled" and "has no ASMK index" in caplog.text
    assert r.index == "pooled ckpt-id 512"  # a v2 map's own pooled index for this checkpoint
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        r = GlobalRetrieval(kf_map, _Named("sift"), RetrievalConfig(method="asmk"), None, 512,
                            retriever)
    assert r.method == "thumbnail" and "needs the mast3r matcher" in caplog.text
    assert r.index == "thumbnails"


def test_pooled_index_comes_from_a_v2_map_else_from_the_matcher():
    desc = np.eye(3, 8, dtype=np.float32)
    engine = types.SimpleNamespace(identity="ck")
    v2 = types.SimpleNamespace(version=2, pooled_index=lambda ident, size: ("map", ident, size),
                               encodings_content_id=lambda ident, size: "")
    assert _pooled_index(v2, _Named("mast3r", desc), engine, 224) == ("map", "ck", 224)
    # built with the map's index settings (a v1 map's build_config.yaml), not the defaults
    hnsw = IndexParams(index_type="hnsw", approx_threshold=2, hnsw_m=16)
    v1 = types.SimpleNamespace(version=1, pooled_index=lambda ident, size: ("map", ident, size),
                               index_params_or_defaults=lambda: hnsw)
    built = _pooled_index(v1, _Named("mast3r", desc), engine, 224)
    assert built != ("map", "ck", 224) and int(built.search(desc[2], 1)[0]) == 2
    assert built.params == hnsw
    none = types.SimpleNamespace(version=2, pooled_index=lambda ident, size: None,
                                 encodings_content_id=lambda ident, size: None,
                                 index_params_or_defaults=IndexParams)
    assert int(_pooled_index(none, _Named("mast3r", desc), engine, 224).search(desc[1], 1)[0]) == 1


def test_asmk_and_pooled_indexes_of_other_weights_are_not_used(caplog):
    """The map's ASMK and pooled indexes were built on encodings of other weights with the same
    sampled id (a sparse fine-tune): not used; the pooled index is built from the matcher's
    (recomputed) descriptors instead."""
    kf_map, engine, retriever, asmk, asked = _asmk_parts(built_on="c-earlier")
    desc = np.eye(3, 8, dtype=np.float32)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        r = GlobalRetrieval(kf_map, _Named("mast3r", desc), RetrievalConfig(method="asmk"),
                            engine, 512, retriever)
    assert r.method == "pooled" and asked == [] and "built on encodings of other weights" in \
        caplog.text and "c-earlier" in caplog.text
    assert r.index != "pooled ckpt-id 512" and int(r.index.search(desc[2], 1)[0]) == 2
    kf_map, *_ = _asmk_parts(built_on="c-running")  # the same weights: used
    assert _pooled_index(kf_map, _Named("mast3r", desc), engine, 512) == "pooled ckpt-id 512"


# -------------------------------------------------------------------- matcher factory ---

def test_factory_passes_the_configured_sift_settings(kf_map):
    cfg = _sift(matching=MatchingConfig(sift_ratio=0.6, sift_max_features=123),
                covariance=CovarianceConfig(depth_sigma_k=2e-3, keyframe_pixel_sigma_px=0.7))
    m = _make_matcher(kf_map, cfg, None, 512, True, 0, 1.0)
    assert (m.ratio, m.max_features, m.depth_sigma_k, m.pixel_sigma_px) == (0.6, 123, 2e-3, 0.7)
    with pytest.raises(ConfigError, match="matcher must be"):
        _make_matcher(kf_map, LocalizerConfig(matcher="orb"), None, 512, True, 0, 1.0)
    # the Python caller who forgot the engine was told to set 'checkpoint' (--checkpoint)
    with pytest.raises(ConfigError, match=r"needs a network: pass the engine, .*Mast3rEngine"
                                          r".from_checkpoint\(path\)"):
        _make_matcher(kf_map, LocalizerConfig(matcher="mast3r"), None, 512, True, 0, 1.0)


def test_factory_passes_the_configured_mast3r_settings(kf_map, monkeypatch):
    from mast3r_ros.core.matchers import mast3r

    seen = {}

    def fake(*a, **kw):
        seen.update(args=a, kw=kw)
        return "matcher"

    monkeypatch.setattr(mast3r, "Mast3rMatcher", fake)
    cfg = LocalizerConfig(matcher="mast3r", points_source="depth", max_scale_error=0.3,
                          covariance=CovarianceConfig(depth_sigma_k=2e-3, pointmap_conf_alpha=0.4,
                                                      keyframe_pixel_sigma_px=0.7))
    engine = object()
    assert _make_matcher(kf_map, cfg, engine, 384, False, 7, 64.0) == "matcher"
    assert seen["args"] == (kf_map, engine, cfg.matching, 384, "depth", 0.3, False, 7)
    assert seen["kw"] == dict(depth_sigma_k=2e-3, pixel_sigma_px=0.7, conf_alpha=0.4,
                              device_cache_mb=64.0, given=FLAGS)


# -------------------------------------------------------------- device encodings cache ---

class _Lazy(Sequence):
    def __init__(self, recs):
        self.recs = recs

    def __len__(self):
        return len(self.recs)

    def __getitem__(self, i):
        return self.recs[i]


def _records(n, c=32):
    rng = np.random.default_rng(0)
    return [{"feats": rng.standard_normal((12, c)).astype(np.float16),  # 48x64: 3x4 tokens
             "true_shape": np.array([48, 64], np.int64)} for _ in range(n)]


def test_device_cache_capacity_is_mib_and_counts_the_stored_bytes():
    recs = _records(3)
    one = 12 * 32 * 2  # float16: 768 bytes
    enc = KeyframeEncodings(_Lazy(recs), "cpu", "m", device_cache_mb=1.0)
    assert enc.capacity_bytes == 2 ** 20
    enc[0], enc[1]
    assert enc.cached_bytes == 2 * one and enc.uploads == 2
    # a cache of exactly two keyframes holds two, not one
    two = KeyframeEncodings(_Lazy(recs), "cpu", "m", device_cache_mb=2 * one / 2 ** 20)
    two[0], two[1], two[1], two[0]
    assert two.uploads == 2 and two.cached_bytes == 2 * one
    two[2]  # evicts the least recently used (1; 0 was used last), keeps 0
    assert two.cached_bytes == 2 * one
    two[0]
    assert two.uploads == 3
    two[1]
    assert two.uploads == 4
    # one keyframe exactly fills a cache of its size
    exact = KeyframeEncodings(_Lazy(recs), "cpu", "m", device_cache_mb=one / 2 ** 20)
    exact[0], exact[0]
    assert exact.uploads == 1


def test_device_cache_indexing_negative_and_slices():
    recs = _records(3)
    enc = KeyframeEncodings(_Lazy(recs), "cpu", "m")
    a = enc[-1]
    assert enc[2] is a and enc.uploads == 1  # -1 is keyframe 2, one cache entry
    assert [e is enc[i] for i, e in zip((0, 2), enc[0:3:2])] == [True, True]
    assert len(enc[1:]) == 2
    # out of range is an IndexError, as for a list-backed (v1) map: -4 of 3 was keyframe 2
    for bad in (-4, 3):
        with pytest.raises(IndexError):
            enc[bad]
        with pytest.raises(IndexError):
            KeyframeEncodings(list(recs), "cpu", "m")[bad]
    assert enc.uploads == 3  # keyframes 0, 1, 2 once each; nothing for the bad indices


def test_an_encoding_without_its_fields_is_a_map_error():
    enc = KeyframeEncodings(_Lazy([{"feats": np.zeros((12, 4), np.float16)}]), "cpu", "mapX")
    with pytest.raises(MapFormatError, match="mapX"):
        enc[0]


@pytest.mark.parametrize("seed", [-1, 2**64, "x", 1.5, False])
def test_localizer_refuses_a_bad_seed_naming_it(kf_map, seed):
    # was accepted, then failed every frame as "PnP-RANSAC found no pose" (poselib) or raised
    # from the matcher's random generator
    with pytest.raises(ConfigError, match=r"Localizer: seed must be an integer 0 <= seed < 2"):
        Localizer(kf_map, _sift(), seed=seed)
    assert Localizer(kf_map, _sift(), seed=np.uint64(2**64 - 1)).seed == 2**64 - 1


class _CountingRetrieval(_StubRetrieval):
    def __init__(self, order):
        super().__init__(order)
        self.ranked = 0

    def rank(self, frame, state, top_k):
        self.ranked += 1
        return super().rank(frame, state, top_k)


def test_force_global_ignores_a_prior_and_a_hint_for_the_candidates(kf_map):
    """(The prior still gates the jump: 2 m from keyframe 1's pose, that frame fails.)"""
    loc, f, _ = _stub_loc(kf_map, [1, 2])
    for guess in ({"prior": kf_map.poses()[3]}, {"hint": kf_map.poses()[3]}):
        loc.matcher.calls.clear()
        r = loc.localize(f, force_global=True, **guess)
        assert loc.matcher.calls == [[1, 2]], guess  # retrieval's, not the pose's 3, 2
        assert r.success == ("hint" in guess), r.reason


def test_a_failed_global_frame_is_ranked_once_and_not_retried(kf_map):
    loc, f, _ = _stub_loc(kf_map, [3, 2], fail={3, 2})
    loc.retrieval = _CountingRetrieval([3, 2])
    r = loc.localize(f)
    assert not r.success and loc.matcher.calls == [[3, 2]] and loc.retrieval.ranked == 1


def test_retrieval_candidates_keep_the_best_and_its_nearest_companions(kf_map):
    """`pose_consistent_subset`: the second-ranked keyframe 3 m from the best one is passed
    over for the third-ranked one 1 m from it."""
    loc, f, _ = _stub_loc(kf_map, [0, 3, 1], retrieval_top_k=3)
    assert loc.localize(f).success
    assert loc.matcher.calls == [[0, 1]]


@pytest.mark.parametrize("method", ["auto", "asmk"])
def test_retrieval_without_a_checkpoint_uses_the_matchers_own_descriptor(method, caplog):
    """The default retrieval (method auto, no retrieval.checkpoint) with an engine: no ASMK
    retriever is loaded; the matcher's own descriptor serves (thumbnail for sift), and an
    explicit 'asmk' says why at WARNING (``not cfg.checkpoint`` -> ``cfg.checkpoint`` tried to
    load a retriever from an empty path: mutation audit)."""
    kf_map = types.SimpleNamespace(thumbnail_index=lambda: "thumbnail index")
    cfg = types.SimpleNamespace(method=method, checkpoint="", codebook="", device="auto")
    with caplog.at_level(logging.WARNING):
        gr = GlobalRetrieval(kf_map, types.SimpleNamespace(name="sift"), cfg,
                             engine=types.SimpleNamespace())
    assert (gr.method, gr.index, gr.asmk) == ("thumbnail", "thumbnail index", None)
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said == ([] if method == "auto" else
                    ["retrieval.method 'asmk': no retrieval.checkpoint is configured; using "
                     "'thumbnail' retrieval instead"])


def test_a_frame_retrieval_ranks_no_keyframe_for_fails_saying_so(kf_map):
    """Retrieval ranking nothing (no keyframe in reach of it): a failed result naming it, the
    matcher not called, the hint's retry too (its own failure kept). The return of "no
    candidate keyframes" made None survived every test (mutation audit): a TypeError."""
    loc, f, _ = _stub_loc(kf_map, [])
    r = loc.localize(f)
    assert not r.success and r.reason == "no candidate keyframes", r.reason
    assert loc.matcher.calls == []
    loc, f, _ = _stub_loc(kf_map, [], fail={0, 1, 2, 3})
    r = loc.localize(f, hint=kf_map.poses()[3])  # the hint's keyframes fail, retrieval: none
    assert not r.success and loc.matcher.calls and r.reason != "no candidate keyframes"


def test_relative_sigma_reason_below_the_default_says_so(kf_map):
    """A user's ratio below the default: redkitchen at 0.001 failed right poses (1 cm off, 0.5 %
    of their depth) saying 'a frame matched right is far more certain', which they were."""
    cov = np.diag([1e-4, 1e-4, 1e-4, 1e-6, 1e-6, 1e-6])  # 1 cm
    X = _at_depth(100, 1.9)
    low = _gate(kf_map, max_position_sigma_m=2.0, max_position_sigma_ratio=0.001)
    reason = low(_res(100, 100, cov=cov), 100, None, X)
    assert "a ratio below its default 0.5 may fail frames matched right too" in reason, reason
    assert "towards 0.5" in reason, reason
    # right poses claim 0.005 here: the model's figure is a bound, not a range they fall in
    assert "claim up to ~0.07 from 1 m on" in reason, reason
    assert "far more certain" not in reason, reason
    at_default = _gate(kf_map, max_position_sigma_m=0.0, max_position_sigma_ratio=0.5)
    reason = at_default(_res(100, 100, cov=cov * 1e4), 100, None, X)  # 1 m sigma at 1.9 m
    assert "a frame matched right is far more certain" in reason and "default" not in reason


def test_one_candidates_rows_reach_pnp_as_the_matcher_gave_them(kf_map, monkeypatch):
    """Issue 9's host cut in `Localizer._pose` itself: with one candidate keyframe its
    correspondences go to solve_pnp as they are, not copied by a concatenation of one array
    (`results._pooled` alone was pinned: `_pose` going back to np.concatenate passed)."""
    import mast3r_ros.core.localizer.pipeline as pipeline

    loc, f, _ = _stub_loc(kf_map, [1])
    given, seen = [], {}
    correspond, solve = loc.matcher.correspond, pipeline.solve_pnp

    def kept(*a):
        out = correspond(*a)
        given.extend(out)
        return out

    def spy(X, x, *a, **k):
        seen.update(X=X, x=x)
        return solve(X, x, *a, **k)
    loc.matcher.correspond = kept
    monkeypatch.setattr(pipeline, "solve_pnp", spy)
    r = loc.localize(f)
    assert r.success and len(given) == 1, (r.reason, given)
    assert seen["X"] is given[0].points3d and seen["x"] is given[0].points2d
