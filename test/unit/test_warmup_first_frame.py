"""Issue 9: after `Localizer.warmup`, the first live frame pays no one-time cost the later
frames do not (bench/bench_first_frame.py times it; these tests count the causes instead:
keyframe data loaded on first use, the query-camera check's pass over the map, lazy imports)."""

from __future__ import annotations

import dataclasses
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from mast3r_test_utils import TRITON_TEST_MIN
from test_localizer import (  # noqa: F401  (frames, map_dir: the fixtures, the sift map)
    CAM, PerfectEngine, _mast3r_cfg, frames, map_dir)

from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.config import GateConfig
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.localizer import warm as warm_mod
from mast3r_ros.core.matchers import sift as sift_mod
from mast3r_ros.core.types import CameraIntrinsics

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def mast3r_map(frames, tmp_path):  # noqa: F811
    """Four keyframes whose encodings are stored in the map: a second load reads them lazily
    from its encoding store, one keyframe at a time, as a real map's. Returns (path, engine):
    the stand-in engine's encodings name the images it prepared."""
    path = write_map(str(tmp_path / "small"), [
        (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0:8:2]])
    eng = PerfectEngine(frames)
    Localizer(KeyframeMap.load(path), _mast3r_cfg(max_keyframes=1), eng,
              image_size=224).close()  # computes and stores the encodings
    return path, eng


def _no_map_pass(monkeypatch):
    """Make the query-camera check's pass over the map's keyframes fail loudly."""
    def boom(self):
        raise AssertionError("the first frame read the map's cameras")
    monkeypatch.setattr(KeyframeMap, "cameras", boom)
    monkeypatch.setattr(KeyframeMap, "distortions", boom)


def test_mast3r_first_frame_after_warmup_uploads_no_encoding(mast3r_map, frames, monkeypatch):  # noqa: F811
    """The live frame's candidate (keyframe 3) is not the one the warm-up matched (keyframe
    0): its cached encoding was read and copied to the device on the first frame."""
    path, eng = mast3r_map
    # PerfectEngine's conf is 1 everywhere (the least confident network there is), which the
    # covariance reads as ~20 % of depth per point: its exact pose claims ~0.5 of the scene's
    # depth and would meet gates.max_position_sigma_ratio, which this warm-up test is not about
    loc = Localizer(KeyframeMap.load(path),
                    _mast3r_cfg(max_keyframes=1, gates=GateConfig(max_position_sigma_ratio=0.0)),
                    eng, image_size=224)
    assert loc.matcher.encodings.uploads == 0  # lazy: nothing copied before a frame needs it
    report = loc.warmup()
    assert report["preloaded_keyframes"] == 3  # keyframe 0 the path itself loaded
    uploads, modules = loc.matcher.encodings.uploads, set(sys.modules)
    _no_map_pass(monkeypatch)
    q = frames[7]  # nearest to keyframe 3 (frames[6])
    r = loc.localize(q, prior=q.map_from_cam)
    assert r.success and r.keyframe_ids == (3,), r.reason
    assert loc.matcher.encodings.uploads == uploads
    assert set(sys.modules) == modules  # no lazy import left for the first frame
    loc.close()


def test_sift_first_frame_after_warmup_extracts_no_keyframe_features(map_dir, frames,  # noqa: F811
                                                                      monkeypatch):
    """Neither with a prior (the nearest keyframes, mid-loop) nor without one (global
    retrieval re-ranks its top-k by SIFT matches): every keyframe of the small map has its
    features cached by the warm-up."""
    loc = Localizer(KeyframeMap.load(map_dir),
                    _sift_cfg(max_keyframes=2))
    report = loc.warmup()
    # the rest after those the path itself touched (matching, re-ranking the retrieval's top-k)
    assert 0 < report["preloaded_keyframes"] < len(loc.keyframe_map)
    assert sorted(loc.matcher._cache) == list(range(len(loc.keyframe_map)))
    _no_map_pass(monkeypatch)

    calls = []
    real = sift_mod.extract_sift
    monkeypatch.setattr(sift_mod, "extract_sift",
                        lambda rgb, n: calls.append(rgb.shape) or real(rgb, n))
    q = frames[13]
    loc.localize(q, prior=q.map_from_cam)
    loc.localize(frames[17])  # no prior: global retrieval and re-ranking
    assert len(calls) == 2, calls  # the two queries' own features only
    loc.close()


def _sift_cfg(**kw):
    from mast3r_ros.core.config import LocalizerConfig

    return LocalizerConfig(matcher="sift", **kw)


def test_the_preload_changes_no_result(map_dir, frames, monkeypatch):  # noqa: F811
    """Cached features are the same bits as features extracted on first use."""
    def run(preload):
        if not preload:
            monkeypatch.setattr(warm_mod, "PRELOAD_MAX_KEYFRAMES", 0)
        loc = Localizer(KeyframeMap.load(map_dir), _sift_cfg(max_keyframes=2))
        loc.warmup()
        out = [loc.localize(q, prior=q.map_from_cam if i % 2 else None)
               for i, q in enumerate(frames[9:14:2])]
        loc.close()
        return out
    new, old = run(True), run(False)
    assert [r.success for r in new] == [r.success for r in old] and any(r.success for r in new)
    for a, b in zip(new, old):
        assert a.keyframe_ids == b.keyframe_ids and a.num_inliers == b.num_inliers
        if a.success:
            assert np.array_equal(a.map_from_cam, b.map_from_cam)
            assert np.array_equal(a.covariance, b.covariance)


def test_the_preload_keeps_to_small_maps_and_the_cache(map_dir, frames, monkeypatch):  # noqa: F811
    monkeypatch.setattr(warm_mod, "PRELOAD_MAX_KEYFRAMES", 5)  # a map over it: none
    loc = Localizer(KeyframeMap.load(map_dir), _sift_cfg(max_keyframes=2))
    assert loc.warmup()["preloaded_keyframes"] == 0
    loc.close()
    monkeypatch.undo()
    # a cache of room for ~3 keyframes: the preload stops before it would evict one
    loc = Localizer(KeyframeMap.load(map_dir), _sift_cfg(max_keyframes=2))
    one = loc.matcher._keyframe(0).nbytes
    loc.matcher.cache_bytes = int(3.5 * one)
    loc.matcher.close()
    loc.warmup()
    assert loc.matcher.cached_bytes <= loc.matcher.cache_bytes
    assert 0 in loc.matcher._cache and 1 in loc.matcher._cache  # the path's, not evicted
    loc.close()


def test_mast3r_preload_stops_before_the_device_cache_evicts(mast3r_map, frames):  # noqa: F811
    path, eng = mast3r_map
    loc = Localizer(KeyframeMap.load(path), _mast3r_cfg(max_keyframes=1), eng, image_size=224)
    enc = loc.matcher.encodings
    one = enc[0].feats.numel() * enc[0].feats.element_size()
    enc.capacity_bytes = 2 * one
    assert enc.preload(range(4)) == 2 and sorted(enc._cache) == [0, 1]  # keyframe 2 would evict
    assert enc.cached_bytes == 2 * one
    loc.close()


def test_a_skewed_map_camera_is_left_for_the_live_frame_to_warn_about():
    """The warm-up records the map camera as checked only when its check is silent; a skew
    would warn, and that warning is the live frame's (about the query camera)."""
    K = CAM.K.copy()
    assert warm_mod.camera_check_is_silent(CAM)
    K[0, 1] = 2.0
    assert not warm_mod.camera_check_is_silent(CameraIntrinsics(CAM.width, CAM.height, K))


def test_warmup_runs_the_matchings_long_walk_branch(mast3r_map, monkeypatch):
    """With the Triton search a frame whose walks outlast `fixed_matching.FIRST_ROUNDS` is
    matched again eagerly with all rounds (outside the CUDA graph on a GPU). The warm-up's
    frame has short walks, so that branch ran first on a live frame (its allocations and host
    copy with it); the warm-up now runs it for each keyframe count, with the same matches."""
    pytest.importorskip("triton", minversion=TRITON_TEST_MIN)  # 3.0: the fused search
    import torch

    from mast3r_ros.core.matchers import fixed_matching

    path, eng = mast3r_map
    cfg = _mast3r_cfg(max_keyframes=2)
    cfg = dataclasses.replace(cfg, matching=dataclasses.replace(cfg.matching,
                                                                nn_backend="triton"))
    real_decode = eng.decode  # float32 descriptors: the fixed-shape path serves them
    monkeypatch.setattr(eng, "decode", lambda v1, v2: [dataclasses.replace(
        p, desc_1=p.desc_1.float(), desc_2=p.desc_2.float()) for p in real_decode(v1, v2)])
    loc = Localizer(KeyframeMap.load(path), cfg, eng, image_size=224)
    calls = []

    def spy(*a, rounds=None, **kw):  # the walks' rows, none kept, status "walks ended"
        calls.append(rounds)  # (the Triton interpreter is too slow for 224 maps here)
        return torch.zeros((2, 13), dtype=torch.float64)
    monkeypatch.setattr(fixed_matching, "device_pack", spy)
    report = loc.warmup()
    assert report["keyframe_batches"] == [1, 2]
    first = fixed_matching.FIRST_ROUNDS
    assert calls == [first, None, first, None]  # K = 1, 2: the all-rounds branch after each
    loc.close()


def test_warming_longer_walks_gives_the_same_rows():
    """`fixed_matching.warming_longer_walks` only adds the eager all-rounds pass."""
    pytest.importorskip("triton", minversion=TRITON_TEST_MIN)  # 3.0: the fused search
    import torch

    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.matchers import fixed_matching

    g = torch.Generator().manual_seed(0)
    d = torch.nn.functional.normalize(torch.randn((2, 8, 8, 16), generator=g), dim=-1)
    c = torch.ones((8, 8))
    pred = SimpleNamespace(desc_1=d[0], desc_2=d[1], desc_conf_1=c, desc_conf_2=c, conf_1=c,
                           pts3d_1=torch.randn((8, 8, 3), generator=g))
    cfg = MatchingConfig(subsample=2, border_px=0, min_desc_conf=0.0, min_pointmap_conf=0.0,
                         nn_backend="triton")
    plain = fixed_matching.fixed_rows([pred], np.eye(4)[None], cfg, graphs=False)
    with fixed_matching.warming_longer_walks():
        warmed = fixed_matching.fixed_rows([pred], np.eye(4)[None], cfg, graphs=False)
    np.testing.assert_array_equal(plain, warmed)
    assert (plain[:, 0] > 0).sum() > 0
