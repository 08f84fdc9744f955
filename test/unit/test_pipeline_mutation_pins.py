"""Localizer pins from the 2026-12-06e mutation audit of core/localizer/pipeline.py (these
survived test_localizer_units.py and the other localizer unit tests): the absolute position
sigma gate on its own, a query camera checked again when only its skew or its distortion
changed, the warm-up of a one-keyframe map, `from_config`'s warm-up and refusals, the frame's
retrieval time. Fast: sift matcher, a 64x48 map, no network."""

import dataclasses
import logging

import numpy as np
import pytest

from mast3r_ros.core.config import Config, GateConfig, LocalizerConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.pnp import PnPResult
from mast3r_ros.core.types import CameraIntrinsics, Frame
from mast3r_ros.replay.synthetic import default_intrinsics

CAM = default_intrinsics(64, 48)  # fx = fy = 52.5, cx = 31.5, cy = 23.5, no distortion


def _write(path, n, depth=True):
    rng = np.random.default_rng(0)
    kfs = [(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), CAM,
            make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((48, 64), 2.0, np.float32) if depth else None)
           for i in range(n)]
    return write_map(str(path), kfs)


@pytest.fixture(scope="module")
def two_kf_map(tmp_path_factory):
    return KeyframeMap.load(_write(tmp_path_factory.mktemp("pins") / "map", 2))


def _loc(kf_map, **gates):
    return Localizer(kf_map, LocalizerConfig(matcher="sift", gates=GateConfig(**gates)))


def test_the_absolute_sigma_gate_alone_refuses_a_pose_over_its_limit_below_a_metre(two_kf_map):
    # gates.max_position_sigma_ratio off: max_position_sigma_m 0.5 alone still bounds sigma
    # (the sigma was computed only for a limit over 1 m then: every such pose passed)
    gate = _loc(two_kf_map, max_position_sigma_m=0.5, max_position_sigma_ratio=0.0)._gate
    cov = np.diag([1e-4, 0.36, 1e-4, 1e-6, 1e-6, 1e-6])  # 0.6 m along y
    inl = np.ones(100, bool)
    res = PnPResult(True, np.eye(4), inl, 1.0, cov)
    assert gate(res, 100, None).startswith("position too uncertain (1 sigma 0.6 m > 0.5 m")
    ok = PnPResult(True, np.eye(4), inl, 1.0, cov / 4)  # 0.3 m
    assert gate(ok, 100, None) == ""


def _warnings(caplog, loc, *cams, words):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        for cam in cams:
            loc._check_query_camera(cam)
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


def test_the_same_camera_with_a_skew_is_checked_again(two_kf_map, caplog):
    # a skew of 5 moves pixels by 2.2 px: warned about even after the camera without it
    skewed = CameraIntrinsics(64, 48, np.array([[52.5, 5.0, 31.5], [0, 52.5, 23.5], [0, 0, 1]]))
    loc = _loc(two_kf_map)
    assert len(_warnings(caplog, loc, CAM, skewed, words="skew K[0,1] = 5")) == 1


def test_the_same_k_with_another_distortion_is_checked_again(two_kf_map, caplog):
    # the map's camera is undistorted; both query calibrations move pixels by over 1.5 px,
    # and the second (k1 -0.1 after -0.3) is another calibration, warned about on its own
    a = CameraIntrinsics(64, 48, CAM.K, np.array([-0.3, 0.1, 0.0, 0.0, 0.0]), "plumb_bob")
    b = CameraIntrinsics(64, 48, CAM.K, np.array([-0.1, 0.0, 0.0, 0.0, 0.0]), "plumb_bob")
    loc = _loc(two_kf_map)
    msgs = _warnings(caplog, loc, a, b, a, words="distortion (")
    assert len(msgs) == 2 and "[-0.1, 0, 0, 0, 0]" in msgs[1]


def test_a_one_keyframe_map_is_warmed_up(tmp_path):
    loc = _loc(KeyframeMap.load(_write(tmp_path / "map", 1)))
    report = loc.warmup()
    assert report["keyframe_batches"] == [1]


def _sift_config(**kw):
    return dataclasses.replace(Config(), localizer=LocalizerConfig(matcher="sift", **kw))


def test_from_config_warms_the_localizer_up_when_configured(tmp_path):
    path = _write(tmp_path / "map", 2)
    with Localizer.from_config(_sift_config(warmup=True), path) as loc:
        assert loc.warmup_report["keyframe_batches"] == [1, 2]
    with Localizer.from_config(_sift_config(warmup=False), path) as loc:
        assert loc.warmup_report == {}


def test_from_config_passes_on_the_reason_a_map_is_refused(tmp_path):
    # the sift matcher needs the map's depth: that is the error, not one of the clean-up after
    path = _write(tmp_path / "map", 2, depth=False)
    with pytest.raises(InputError, match="depth"):
        Localizer.from_config(_sift_config(warmup=False), path)


def test_a_frame_reports_its_retrieval_time(two_kf_map):
    rgb = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    result = _loc(two_kf_map).localize(Frame(rgb, CAM, 5))
    assert {"inference", "retrieval", "total"} <= set(result.timings_s)
    assert 0.0 <= result.timings_s["retrieval"] <= result.timings_s["total"]


def test_the_same_coefficients_under_another_model_are_checked_again(two_kf_map, caplog):
    # four coefficients read as plumb_bob, then as equidistant (fisheye): another camera model,
    # warned about on its own against the map's undistorted camera
    d = np.array([-0.3, 0.1, 0.0, 0.0])
    a = CameraIntrinsics(64, 48, CAM.K, d, "plumb_bob")
    b = CameraIntrinsics(64, 48, CAM.K, d, "equidistant")
    msgs = _warnings(caplog, _loc(two_kf_map), a, b, words="distortion (")
    assert len(msgs) == 2 and msgs[1].startswith("the query camera 64x48's distortion "
                                                 "(equidistant"), msgs


# pins of the 2026-12-06g mutation audit
def test_a_frame_reports_its_pnp_time_whether_it_localizes_or_not(tmp_path, two_kf_map):
    """The pnp stage is timed on a frame refused after PnP (too few features) and on one that
    localizes (PnP and the focal check), and within the frame's total (its add_time dropped;
    the focal check's `perf_counter() - t0` as `+`)."""
    import cv2

    rgb = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    refused = _loc(two_kf_map).localize(Frame(rgb, CAM, 5))
    assert not refused.success and "pnp" in refused.timings_s
    cam = default_intrinsics(160, 120)
    rng = np.random.default_rng(0)
    imgs = [cv2.resize(rng.integers(0, 255, (15, 20, 3), dtype=np.uint8), (160, 120),
                       interpolation=cv2.INTER_CUBIC) for _ in range(2)]  # smooth blobs
    kfs = [(imgs[i], cam, make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((120, 160), 2.0, np.float32)) for i in range(2)]
    loc = Localizer(KeyframeMap.load(write_map(str(tmp_path / "map"), kfs)),
                    LocalizerConfig(matcher="sift"))
    result = loc.localize(Frame(imgs[0], cam, 5))
    assert result.success and result.focal_fit is not None
    assert 0.0 < result.timings_s["pnp"] <= result.timings_s["total"]


def test_from_config_builds_the_network_for_the_maps_camera_on_a_one_keyframe_map(tmp_path,
                                                                               monkeypatch):
    """The engine is shaped (compiled / built) for the map's camera, read from keyframe 0: a
    one-keyframe map works (keyframe 0 -> 1 failed on it with an IndexError)."""
    from mast3r_ros.core.errors import ConfigError
    from mast3r_ros.core.model.engine import Mast3rEngine

    asked = {}

    def fake(model_cfg, **kw):
        asked.update(kw)
        raise ConfigError("no checkpoint in this test")

    monkeypatch.setattr(Mast3rEngine, "from_config", fake)
    cfg = dataclasses.replace(Config(), localizer=LocalizerConfig(matcher="mast3r",
                                                                  max_keyframes=3))
    with pytest.raises(ConfigError, match="^matcher 'mast3r': no checkpoint in this test"):
        Localizer.from_config(cfg, _write(tmp_path / "map", 1))
    assert asked == {"warmup_batches": (1, 3), "camera_size": (64, 48)}


def test_cuda_graph_warm_up_matches_every_keyframe_count_from_one(two_kf_map, monkeypatch):
    """With the matching replayed as CUDA graphs, the warm-up matches each count 1..max_keyframes
    it did not localize (a count of 0 keyframes is no batch: range from 0 matched nothing)."""
    from types import SimpleNamespace

    from mast3r_ros.core.matchers import fixed_matching

    monkeypatch.setattr(fixed_matching, "uses_cuda_graphs", lambda cfg, device: True)
    loc = _loc(two_kf_map)
    loc.matcher = SimpleNamespace(cfg=SimpleNamespace(cuda_graph=True))
    loc.engine = SimpleNamespace(device="cuda")
    assert loc._matching_only_batches([1]) == [2]
    assert loc._matching_only_batches([]) == [1, 2]
