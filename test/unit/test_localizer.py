import dataclasses
import os
import shutil
import types

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import Config, GateConfig, LocalizerConfig, MatchingConfig
from mast3r_ros.core.errors import CheckpointError, ConfigError, InputError, MapFormatError
from mast3r_ros.core.geometry import (
    backproject,
    make_pose,
    pose_error,
    sample_depth,
    transform_points,
)
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.types import Frame
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CAM = default_intrinsics(320, 240)
N_FRAMES = 24



pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def frames():
    return list(render_frames(N_FRAMES, CAM, seed=3))


@pytest.fixture(scope="module")
def map_dir(frames, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("loc") / "map")
    return write_map(path, [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
                            for f in frames[0::2]])


@pytest.fixture
def kf_map(map_dir):
    return KeyframeMap.load(map_dir)


def _queries(frames):
    return frames[1::2]


def _sift(**kw):
    return LocalizerConfig(matcher="sift", **kw)


def test_sift_end_to_end(kf_map, frames):
    loc = Localizer(kf_map, _sift())
    errs, hint = [], None
    for f in _queries(frames):
        r = loc.localize(f, hint=hint)  # the caller tracks: last success as the next hint
        assert r.success, r.reason
        assert r.matches is None  # only when asked for
        hint = r.map_from_cam
        errs.append(pose_error(r.map_from_cam, f.map_from_cam))
        assert r.covariance.shape == (6, 6) and r.num_inliers >= 30
        assert {"inference", "retrieval", "matching", "pnp", "total"} <= set(r.timings_s)
        assert len(r.keyframe_ids) == 2
    errs = np.array(errs)
    assert np.median(errs[:, 0]) < 0.015 and np.median(errs[:, 1]) < 0.5, errs
    assert errs[:, 0].max() < 0.05
    r = loc.localize(f, hint=hint, with_matches=True)
    dbg = r.matches
    assert dbg.query_xy.shape[0] == dbg.keyframe_xy.shape[0] == dbg.inliers.shape[0] > 0
    assert dbg.keyframe_index.shape == dbg.inliers.shape and dbg.keyframe_index.dtype == np.int64
    assert dbg.inliers.sum() == r.num_inliers
    ids = {loc.keyframe_map.keyframe(i).id for i in np.unique(dbg.keyframe_index)}
    assert ids <= set(r.keyframe_ids) and ids <= {k.id for k in kf_map.keyframes}
    assert loc.keyframe_poses().shape == (len(kf_map), 4, 4)
    assert loc.keyframe_map is kf_map
    loc.close()


def test_sift_keyframe_features_are_held_in_a_bounded_cache(kf_map, frames):
    """A robot touring a large map for days made the sift matcher hold every keyframe's
    features (about 2.5 MB each at 4000 features): the cache had no bound. It is an LRU cache
    bounded in bytes (the map's encoding_cache_mb by default), and what it evicts is recomputed
    the same."""
    from mast3r_ros.core.matchers.sift import SiftMatcher

    q = _queries(frames)[0]
    unbounded = SiftMatcher(kf_map, cache_mb=1e6)
    state = unbounded.query_state(q)
    everything = unbounded.correspond(q, state, range(len(kf_map)), {})
    assert len(unbounded._cache) == len(kf_map)
    per_keyframe = max(c.nbytes for c in unbounded._cache.values())
    assert SiftMatcher(kf_map).cache_bytes == int(kf_map.encoding_cache_mb * 2 ** 20)

    m = SiftMatcher(kf_map, cache_mb=3.5 * per_keyframe / 2 ** 20)
    for _ in range(2):                                   # a tour of the map, twice
        got = m.correspond(q, state, range(len(kf_map)), {})
        assert 3 <= len(m._cache) < len(kf_map) and m.cached_bytes <= m.cache_bytes
        assert m.cached_bytes == sum(c.nbytes for c in m._cache.values())
    for a, b in zip(everything, got):
        np.testing.assert_array_equal(a.points3d, b.points3d)
        np.testing.assert_array_equal(a.points2d, b.points2d)
    recent = list(m._cache)
    m.correspond(q, state, [recent[0]], {})              # a hit becomes the most recent
    assert list(m._cache)[-1] == recent[0]
    assert SiftMatcher(kf_map, cache_mb=0).correspond(q, state, [0], {})[0].points3d.shape == \
        everything[0].points3d.shape                     # 0: nothing kept, still served
    m.close()
    assert m.cached_bytes == 0 and not m._cache


def test_localizer_is_stateless(kf_map, frames):
    """The same frame with the same arguments gives the same pose, whatever came before."""
    qs = _queries(frames)
    loc = Localizer(kf_map, _sift())
    first = loc.localize(qs[5])
    for f in qs[:5]:
        loc.localize(f)
    again = loc.localize(qs[5])
    assert first.success and again.success
    np.testing.assert_array_equal(first.map_from_cam, again.map_from_cam)
    assert first.keyframe_ids == again.keyframe_ids
    assert not hasattr(loc, "reset") and not hasattr(loc, "tracking")


def test_hint_chooses_candidates_and_falls_back_to_retrieval(kf_map, frames):
    from mast3r_ros.core.retrieval import nearest_to_prior

    qs = _queries(frames)
    f, other = qs[2], qs[8]
    poses = kf_map.poses()
    loc = Localizer(kf_map, _sift())
    r = loc.localize(f, hint=f.map_from_cam)
    near = nearest_to_prior(poses, f.map_from_cam, 2, 3.0)
    assert r.success and r.keyframe_ids == tuple(kf_map.keyframe(i).id for i in near)
    # a hint at another place: its keyframes fail, the frame is retried with retrieval
    glob = loc.localize(f)
    wrong = loc.localize(f, hint=other.map_from_cam)
    assert set(nearest_to_prior(poses, other.map_from_cam, 2, 3.0)).isdisjoint(
        kf_map.keyframe_index(k) for k in glob.keyframe_ids)
    assert wrong.success and wrong.keyframe_ids == glob.keyframe_ids, wrong.reason
    np.testing.assert_array_equal(wrong.map_from_cam, glob.map_from_cam)
    # the same wrong guess as a prior is trusted: no retry, and it gates the jump
    assert not loc.localize(f, prior=other.map_from_cam).success
    # force_global ignores the hint
    forced = loc.localize(f, force_global=True, hint=other.map_from_cam)
    assert forced.keyframe_ids == glob.keyframe_ids
    with pytest.raises(InputError, match="hint"):
        loc.localize(f, hint=np.eye(3))


def test_global_retrieval_finds_the_right_place(kf_map, frames):
    loc = Localizer(kf_map, _sift(max_keyframes=1))
    for f in _queries(frames)[::3]:
        r = loc.localize(f, force_global=True)
        assert r.success and len(r.keyframe_ids) == 1, r.reason
        assert pose_error(r.map_from_cam, f.map_from_cam)[0] < 0.05


@pytest.mark.parametrize("gates,reason", [
    (GateConfig(min_inliers=100000), "too few inliers"),
    (GateConfig(min_inlier_ratio=1.0), "inlier ratio too low"),
    (GateConfig(max_reproj_rms_px=0.01), "reprojection RMS too high"),
    (GateConfig(max_position_sigma_ratio=1e-6), "position too uncertain for the distance"),
])
def test_gates_turn_doubtful_poses_into_failures(kf_map, frames, gates, reason):
    loc = Localizer(kf_map, _sift(gates=gates))
    r = loc.localize(_queries(frames)[2])
    assert not r.success and r.reason.startswith(reason)
    assert r.map_from_cam is None and r.covariance is None and r.num_matches > 0


def test_prior_jump_gate(kf_map, frames):
    f = _queries(frames)[4]
    shifted = f.map_from_cam @ make_pose(np.eye(3), [0.05, 0, 0])
    loc = Localizer(kf_map, _sift(gates=GateConfig(max_jump_m=0.02)))
    r = loc.localize(f, prior=shifted)
    assert not r.success and "jump from the prior" in r.reason
    assert loc.localize(f, prior=f.map_from_cam).success
    turned = f.map_from_cam.copy()
    turned[:3, :3] = turned[:3, :3] @ Rotation.from_euler("x", 5, degrees=True).as_matrix()
    loc2 = Localizer(kf_map, _sift(gates=GateConfig(max_jump_deg=2.0)))
    r = loc2.localize(f, prior=turned)
    assert not r.success and "deg" in r.reason
    assert Localizer(kf_map, _sift()).localize(f, prior=shifted).success  # default 1 m gate
    assert loc.localize(f, hint=shifted).success  # a hint is not trusted for the jump gate


def test_bad_inputs_raise_and_hopeless_frames_fail(kf_map, frames):
    loc = Localizer(kf_map, _sift())
    f = _queries(frames)[0]
    with pytest.raises(InputError, match="intrinsics"):
        loc.localize(Frame(f.rgb, None, f.stamp_ns))
    with pytest.raises(InputError, match="prior"):
        loc.localize(f, prior=np.full((4, 4), np.nan))
    grey = Frame(np.full_like(f.rgb, 128), f.intrinsics, 7)
    r = loc.localize(grey)
    assert not r.success and r.reason and r.stamp_ns == 7


def test_sift_needs_map_depth_and_mast3r_needs_a_network(tmp_path, frames):
    f = frames[0]
    path = write_map(str(tmp_path / "nodepth"), [(f.rgb, f.intrinsics, f.map_from_cam, 0, None)])
    m = KeyframeMap.load(path)
    with pytest.raises(InputError, match="depth"):
        Localizer(m, _sift())
    with pytest.raises(ConfigError, match="checkpoint"):
        Localizer(m, LocalizerConfig(matcher="mast3r"))


@pytest.mark.parametrize("bad", [np.nan, 0.0])
def test_keyframes_without_valid_depth_give_failures_not_exceptions(tmp_path, frames, bad):
    f, q = frames[0], frames[1]
    path = write_map(str(tmp_path / "m"), [(f.rgb, f.intrinsics, f.map_from_cam, 0,
                                            np.full_like(f.depth_m, bad))])
    r = Localizer(KeyframeMap.load(path), _sift()).localize(q)
    assert not r.success and "too few" in r.reason


def test_from_config_errors(map_dir, tmp_path):
    loc = Localizer.from_config(dataclasses.replace(Config(), localizer=_sift()), map_dir)
    loc.close()
    with pytest.raises(ConfigError, match="checkpoint"):
        Localizer.from_config(Config(), map_dir)
    cfg = Config(model=dataclasses.replace(Config().model, checkpoint=str(tmp_path / "no.pth")))
    with pytest.raises(CheckpointError, match="not found"):
        Localizer.from_config(cfg, map_dir)
    with pytest.raises(MapFormatError):
        Localizer.from_config(Config(), str(tmp_path / "nomap"))


# ------------------------------------------------------------------ MASt3R matcher path ---

class PerfectEngine:
    """Stands in for `Mast3rEngine` with a perfect 'network' for the synthetic scene.

    pts3d_1 is the keyframe's exact metric pointmap (from the rendered depth) and descriptors are
    lifted world coordinates, so that the dot product of a view-1 and a view-2 descriptor is
    ``-|w1 - w2|^2 / 2``: fast reciprocal matching then pairs pixels that see the same point.
    ``scale`` multiplies the predicted pointmap (a network with the wrong metric scale).
    """

    identity = "perfect-engine"
    has_descriptors = True
    device = torch.device("cpu")

    def __init__(self, frames, scale=1.0):
        self.frames = list(frames)
        self.keys = {f.rgb.tobytes(): i for i, f in enumerate(self.frames)}
        self.entries = []  # (frame index, x0, y0, width, height) of every prepared image
        self.scale = scale

    def _find(self, rgb):
        """Frame index and offset of an image or of a crop of one (coarse-to-fine windows)."""
        if rgb.tobytes() in self.keys:
            return self.keys[rgb.tobytes()], 0, 0
        row = rgb[0].tobytes()
        for i, f in enumerate(self.frames):
            for y in range(f.rgb.shape[0] - rgb.shape[0] + 1):
                x = f.rgb[y].tobytes().find(row)
                if x >= 0 and x % 3 == 0 and np.array_equal(
                        f.rgb[y:y + rgb.shape[0], x // 3:x // 3 + rgb.shape[1]], rgb):
                    return i, x // 3, y
        raise AssertionError("unknown image")

    def prepare(self, rgb, size):
        from mast3r_ros.core.model.preprocess import resize_crop

        net, plan = resize_crop(rgb, size)
        i, x0, y0 = self._find(rgb)
        self.entries.append((i, x0, y0, rgb.shape[1], rgb.shape[0], size))
        return types.SimpleNamespace(true_shape=net.shape[:2], to_orig=plan.to_orig(),
                                     key=len(self.entries) - 1)

    def encode(self, prep):
        from mast3r_ros.core.model.engine import Encoding

        h, w = prep.true_shape
        feats = torch.zeros(((h // 16) * (w // 16), 4))
        feats[0, 0] = prep.key
        return Encoding(feats, (h, w))

    def _points(self, enc):
        """(camera, world) pointmaps of a prepared image, computed once per image, crop and
        size (a keyframe's are asked for again at every decode; the callers copy them)."""
        from mast3r_ros.core.model.preprocess import plan_resize

        entry = self.entries[int(enc.feats[0, 0])]
        h, w = enc.true_shape
        cache = self.__dict__.setdefault("_points_cache", {})
        if (entry, h, w) in cache:
            return cache[entry, h, w]
        i, x0, y0, w0, h0, size = entry
        f = self.frames[i]
        xy = np.stack(np.meshgrid(np.arange(w), np.arange(h)), -1).reshape(-1, 2).astype(float)
        # apply_homography(to_orig, xy), per column by broadcasting: its (N, 2) @ (2, 3)
        # product took ~0.2 s on a 512x384 grid, this ~0.03 s
        H = plan_resize(w0, h0, size).to_orig()
        p = xy[:, :1] * H[:, 0] + xy[:, 1:] * H[:, 1] + H[:, 2]
        orig = p[:, :2] / p[:, 2:3] + [x0, y0]
        z = sample_depth(f.depth_m, orig)
        cam = backproject(orig, z, f.intrinsics.K).reshape(h, w, 3)
        cache[entry, h, w] = cam, transform_points(f.map_from_cam, cam)
        return cache[entry, h, w]

    @staticmethod
    def _desc(world, first):
        n2 = -0.5 * np.sum(world ** 2, axis=-1, keepdims=True)
        one = np.ones_like(n2)
        d = np.concatenate([world, one, n2] if first else [world, n2, one], axis=-1)
        return torch.from_numpy(d)

    def decode(self, view1, view2):
        from mast3r_ros.core.model.engine import PairPrediction

        _, w2 = self._points(view2)
        out = []
        for e in view1:
            cam1, w1 = self._points(e)
            hw = cam1.shape[:2]
            out.append(PairPrediction(
                torch.from_numpy(cam1 * self.scale).float(), torch.ones(hw), self._desc(w1, True),
                torch.full(hw, 2.0), None, None, self._desc(w2, False),
                torch.full(w2.shape[:2], 2.0)))
        return out

    def close(self):
        pass


def _mast3r_cfg(subsample=16, **kw):
    # subsample 16 keeps fast matching cheap on CPU; accuracy then follows from ~100-300 matches
    return LocalizerConfig(matcher="mast3r", matching=MatchingConfig(subsample=subsample), **kw)


@pytest.fixture
def small_map(frames, tmp_path):
    """Four keyframes along the start of the loop (the MASt3R tests pay per keyframe)."""
    return write_map(str(tmp_path / "small"), [
        (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0:8:2]])


@pytest.mark.parametrize("source", ["pointmap", "depth"])
def test_mast3r_path_with_a_perfect_pointmap(small_map, frames, source):
    """Plumbing of the MASt3R path (network pixels -> original pixels, keyframe camera -> map):
    with exact pointmaps the only error left is the network-pixel quantisation of the matches."""
    m = KeyframeMap.load(small_map)
    loc = Localizer(m, _mast3r_cfg(points_source=source, max_keyframes=1,
                                   gates=GateConfig(min_inliers=12)),
                    PerfectEngine(frames), image_size=224)
    assert m.encoding_keys() == [("perfect-engine", 224)]  # computed and cached in the map
    errs = []
    for f in frames[1:6:2]:
        r = loc.localize(f)
        assert r.success, r.reason
        errs.append(pose_error(r.map_from_cam, f.map_from_cam))
    errs = np.array(errs)
    assert errs[:, 0].max() <= 0.01 and errs[:, 1].max() <= 0.3, errs


def test_closing_a_mast3r_localizer_releases_the_matching_graphs(small_map, frames,
                                                                  monkeypatch):
    """Cleanup releases the model's device memory: the process-wide CUDA graphs of the
    matching (static buffers, memory pool) go with it."""
    from mast3r_ros.core.matchers import fixed_matching

    runner = fixed_matching._GraphRunner()
    monkeypatch.setattr(fixed_matching, "_RUNNER", runner)
    loc = Localizer(KeyframeMap.load(small_map), _mast3r_cfg(max_keyframes=1),
                    PerfectEngine(frames), image_size=224)
    runner.graphs["key"] = fixed_matching._Captured(None, {}, torch.zeros(1), torch.zeros(1))
    loc.close()
    assert not runner.graphs


def test_mast3r_pointmap_confidence_filter(small_map, frames):
    """The perfect engine's pointmap confidence is 1: a higher threshold drops every match."""
    m = KeyframeMap.load(small_map)
    strict = MatchingConfig(subsample=16, min_pointmap_conf=1.5)
    loc = Localizer(m, LocalizerConfig(matcher="mast3r", max_keyframes=1, matching=strict,
                                       gates=GateConfig(min_inliers=12)),
                    PerfectEngine(frames), image_size=224)
    r = loc.localize(frames[3])
    assert not r.success and r.num_matches == 0, r


def test_mast3r_coarse_to_fine(small_map, frames):
    m = KeyframeMap.load(small_map)
    cfg = LocalizerConfig(matcher="mast3r", max_keyframes=1, gates=GateConfig(min_inliers=12),
                          matching=MatchingConfig(subsample=16, coarse_to_fine=True))
    eng = PerfectEngine(frames)
    loc = Localizer(m, cfg, eng, image_size=224)
    n_before = len(eng.entries)
    f = frames[3]
    r = loc.localize(f, with_matches=True)
    assert r.success, r.reason
    windows = [e for e in eng.entries[n_before:] if e[3:5] == (224, 224) and e[1:3] != (0, 0)]
    assert windows, "no full-resolution windows were matched"
    t, rot = pose_error(r.map_from_cam, f.map_from_cam)
    assert t <= 0.01 and rot <= 0.3
    assert (r.matches.query_xy[:, 0] > 224).any()  # pixels from a shifted window


@pytest.mark.parametrize("crop", [(0, 30, 320, 180), (40, 0, 160, 240)])
def test_mast3r_query_with_another_aspect_ratio_localizes(small_map, frames, crop):
    """A query camera of another aspect ratio than the map's (issue 8: a 4:3 map, a 16:9 or a
    2:3 query): decoded against the 4:3 keyframe encodings as it is, localized like the rest."""
    from mast3r_ros.core.types import CameraIntrinsics

    x0, y0, w, h = crop
    f = frames[3]
    K = f.intrinsics.K.copy()
    K[0, 2] -= x0
    K[1, 2] -= y0
    query = Frame(np.ascontiguousarray(f.rgb[y0:y0 + h, x0:x0 + w]), CameraIntrinsics(w, h, K),
                  f.stamp_ns)
    loc = Localizer(KeyframeMap.load(small_map),
                    _mast3r_cfg(max_keyframes=1, gates=GateConfig(min_inliers=12)),
                    PerfectEngine(frames), image_size=512)
    r = loc.localize(query)
    assert r.success, r.reason
    t_err, r_err = pose_error(r.map_from_cam, f.map_from_cam)
    assert t_err <= 0.01 and r_err <= 0.3, (t_err, r_err)


def test_window_selection():
    from mast3r_ros.core.matchers.mast3r import select_windows, window_starts

    np.testing.assert_array_equal(window_starts(1280, 512), [0, 256, 512, 768])
    np.testing.assert_array_equal(window_starts(384, 384), [0])
    np.testing.assert_array_equal(window_starts(480, 384), [0, 96])
    rng = np.random.default_rng(0)
    left = rng.uniform([10, 10], [300, 470], (200, 2))  # matches only in the left part
    wins = select_windows((1280, 480), (512, 384), left)
    assert wins and all(x0 == 0 for x0, _ in wins)
    assert select_windows((1280, 480), (512, 384), left[:5]) == []  # < 10 matches per window
    assert select_windows((1280, 480), (512, 384), np.zeros((0, 2))) == []


def test_mast3r_depth_scale_check(small_map, frames):
    m = KeyframeMap.load(small_map)
    loc = Localizer(m, _mast3r_cfg(points_source="depth", max_keyframes=1),
                    PerfectEngine(frames, scale=1.5), image_size=224)
    r = loc.localize(frames[1])
    assert not r.success and r.num_matches == 0


# ------------------------------------------------------------- random-weight MASt3R ---

def test_random_weight_mast3r_end_to_end(small_map, frames, tiny_ckpt):
    from mast3r_ros.core.model.engine import Mast3rEngine

    cfg = Config(model=dataclasses.replace(Config().model, checkpoint=tiny_ckpt, device="cpu",
                                           image_size=224),
                 localizer=_mast3r_cfg(max_keyframes=1))
    loc = Localizer.from_config(cfg, small_map)
    for f in frames[1:4:2]:
        r = loc.localize(f)
        assert r.success or r.reason
        if r.success:  # random weights: whatever passes the gates must not be far off
            assert pose_error(r.map_from_cam, f.map_from_cam)[0] <= 0.5
        assert r.timings_s["inference"] > 0
    loc.close()
    assert loc.engine is None
    keys = KeyframeMap.load(small_map).encoding_keys()
    assert [k[1] for k in keys] == [224]
    # cached now: a second localizer loads them without recomputing
    Localizer.from_config(cfg, small_map, recompute_encodings=False).close()
    other = Mast3rEngine.from_checkpoint(tiny_ckpt)
    other.identity = "another-checkpoint"
    m = KeyframeMap.load(small_map)
    with pytest.raises(MapFormatError, match="not for checkpoint another-checkpoint"):
        Localizer(m, cfg.localizer, other, image_size=224, recompute_encodings=False)
    Localizer(m, cfg.localizer, other, image_size=224).close()  # recomputed, stored apart
    keys2 = KeyframeMap.load(small_map).encoding_keys()
    assert sorted(keys2) == sorted(keys + [("another-checkpoint", 224)])
    assert os.path.isdir(os.path.join(small_map, "encodings"))


def test_a_localizer_runs_at_the_size_its_engine_was_configured_for(small_map, tiny_ckpt,
                                                                    tmp_path):
    """Mast3rEngine.from_config(cfg.model) with model.image_size 224, then Localizer(map,
    cfg.localizer, engine) from Python: the localizer ran at its own default, 512 -- the
    engine's compiled graphs (or TensorRT engines) for another shape, the map's 224 encodings
    unused and 512 ones computed. It takes the engine's size now, and refuses another."""
    from mast3r_ros.core.model.engine import Mast3rEngine

    path = str(tmp_path / "map")
    shutil.copytree(small_map, path)
    model = dataclasses.replace(Config().model, checkpoint=tiny_ckpt, device="cpu",
                                image_size=224)
    cfg = _mast3r_cfg(max_keyframes=1)
    with Localizer(KeyframeMap.load(path), cfg, Mast3rEngine.from_config(model)) as loc:
        assert loc.matcher.image_size == 224
    engine = Mast3rEngine.from_config(model)
    try:
        with pytest.raises(ConfigError, match=r"image_size 512 but the engine was configured "
                                              r"for 224 \(model.image_size"):
            Localizer(KeyframeMap.load(path), cfg, engine, image_size=512)
    finally:
        engine.close()
    plain = Mast3rEngine.from_checkpoint(tiny_ckpt)   # no configured size: the default, 512
    with Localizer(KeyframeMap.load(path), cfg, plain) as loc:
        assert loc.matcher.image_size == 512


def test_covariance_model_shapes_the_covariance_not_the_pose(kf_map, frames):
    """The keyframe pose error is shared by all points of a keyframe: with it the position sigma
    cannot fall below a fraction of map_pose_sigma_m however many matches; without it (and with
    exact 3-D points) the covariance is the pixel-only one. The pose is the same either way."""
    from mast3r_ros.core.config import CovarianceConfig

    f = _queries(frames)[3]
    full = Localizer(kf_map, _sift()).localize(f)
    bare = Localizer(kf_map, _sift(covariance=CovarianceConfig(
        depth_sigma_k=0.0, map_pose_sigma_m=0.0, map_pose_sigma_deg=0.0))).localize(f)
    assert full.success and bare.success
    np.testing.assert_array_equal(full.map_from_cam, bare.map_from_cam)
    sig_full = np.sqrt(np.diag(full.covariance))
    sig_bare = np.sqrt(np.diag(bare.covariance))
    assert np.all(sig_full[:3] > 0.5 * 0.01) and np.all(sig_full[3:] > 0.5 * np.radians(1.0))
    assert np.all(sig_full > 2 * sig_bare), (sig_full, sig_bare)


# ------------------------------------------------------------------------------ warm-up ---

def test_warmup_runs_the_whole_path_once_per_keyframe_batch(small_map, frames, monkeypatch):
    """Issue 9: the first live frame must not pay for lazy initialisation, so the warm-up runs
    inference, retrieval, matching for every keyframe count the live path can decode (eager:
    1..max_keyframes), PnP-RANSAC, refinement and covariance -- and leaves the matcher's random
    stream as it found it."""
    from mast3r_ros.core.localizer import pipeline as loc_mod
    from mast3r_ros.core.localizer import warm as warm_mod
    from mast3r_ros.core.pnp import solve as pnp_solve

    eng = PerfectEngine(frames)
    loc = Localizer(KeyframeMap.load(small_map), _mast3r_cfg(max_keyframes=3), eng,
                    image_size=224)
    calls = {"decode": [], "encode": [], "rank": [], "ransac": [], "covariance": [],
             "solve": []}

    def spy(obj, name, key, what=lambda a, out: out):
        fn = getattr(obj, name)

        def wrapped(*a, **kw):
            out = fn(*a, **kw)
            calls[key].append(what(a, out))
            return out
        monkeypatch.setattr(obj, name, wrapped)

    spy(eng, "decode", "decode", lambda a, out: len(a[0]))
    spy(eng, "encode", "encode")
    spy(loc.retrieval, "rank", "rank")
    # patched where solve_pnp looks them up (core/pnp/solve.py imports them by name)
    spy(pnp_solve, "_ransac_poselib", "ransac")
    spy(pnp_solve, "_ransac_opencv", "ransac")
    spy(pnp_solve, "_covariance_f", "covariance")  # what solve_pnp computes it with
    spy(loc_mod, "solve_pnp", "solve")
    spy(warm_mod, "solve_pnp", "solve")  # the fabricated problem's (localizer/warm.py)
    state = loc.matcher.rng.bit_generator.state
    report = loc.warmup()
    assert report["keyframe_batches"] == [1, 2, 3] == loc.warmup_batches()
    assert calls["decode"] == [1, 2, 3]
    assert len(calls["encode"]) == 1 and len(calls["rank"]) == 1
    # one PnP per batch on the keyframe's own matches (a perfect engine: they solve) + the
    # fabricated one; RANSAC, refinement and covariance all ran
    assert len(calls["solve"]) == 4 and all(r.success for r in calls["solve"]), calls["solve"]
    assert len(calls["ransac"]) == 4 and len(calls["covariance"]) == 4
    assert loc.matcher.rng.bit_generator.state == state


def test_warmup_batches_follow_the_engine_padding(small_map, frames):
    eng = PerfectEngine(frames)
    loc = Localizer(KeyframeMap.load(small_map), _mast3r_cfg(max_keyframes=8), eng,
                    image_size=224)
    assert loc.warmup_batches() == [1, 2, 3, 4]  # eager: every count, capped by the map's 4
    # a compiled engine warmed for batches 1 and 4 pads 2..4 to 4: one frame per padded size
    eng._padded_batch = lambda k: 1 if k == 1 else 4
    assert loc.warmup_batches() == [1, 2]


def test_from_config_warms_up_unless_disabled(map_dir, monkeypatch, caplog):
    cfg = dataclasses.replace(Config(), localizer=_sift(max_keyframes=2))
    loc = Localizer.from_config(cfg, map_dir)
    assert loc.warmup_report["keyframe_batches"] == [1, 2]
    loc.close()
    off = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, warmup=False))
    loc = Localizer.from_config(off, map_dir)
    assert loc.warmup_report == {}
    loc.close()

    def broken(self):
        raise RuntimeError("no warm-up today")
    monkeypatch.setattr(Localizer, "warmup", broken)  # an optimisation: the localizer still runs
    loc = Localizer.from_config(cfg, map_dir)
    assert "no warm-up today" in caplog.text and loc.warmup_report == {}
    loc.close()


def test_warmup_on_a_corrupt_map_raises_the_map_error(map_dir, tmp_path, caplog):
    """A map error met by the warm-up (a keyframe image or encoding chunk that fails its
    checksum) is the error the first frame would meet: raised as is, not a 'warm-up failed'
    warning followed by the same error."""
    import shutil

    broken = str(tmp_path / "map")
    shutil.copytree(map_dir, broken)
    full = os.path.join(broken, "keyframes", "000000.png")
    data = bytearray(open(full, "rb").read())
    data[-20] ^= 0xFF  # same size: the map opens, the first read fails its checksum
    open(full, "wb").write(bytes(data))
    cfg = dataclasses.replace(Config(), localizer=_sift(max_keyframes=2))
    with caplog.at_level("WARNING"), pytest.raises(MapFormatError,
                                                   match="checksum mismatch.*000000.png"):
        Localizer.from_config(cfg, broken)
    assert "warm-up failed" not in caplog.text


def test_a_map_written_with_force_is_warned_about_at_every_start(sift_map, tmp_path, caplog):
    """build-map --force writes a map that failed its consistency check; localizing against it
    gave confident poses 1.5 m off without a word (a fresh user's find)."""
    import json
    import logging
    import shutil

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.localizer import Localizer

    path = str(tmp_path / "forced")
    shutil.copytree(sift_map, path)
    mpath = tmp_path / "forced" / "manifest.json"
    m = json.loads(mpath.read_text())
    m["consistency"] = dict(m.get("consistency") or {}, forced=True,
                            message="map inconsistent: depth is x10 the size the poses fit")
    mpath.write_text(json.dumps(m))
    cfg = Config()
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift",
                                                                 warmup=False))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        Localizer.from_config(cfg, path).close()
    assert any("written with --force" in r.getMessage() and "x10" in r.getMessage()
               for r in caplog.records), caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        Localizer.from_config(cfg, sift_map).close()
    assert not any("--force" in r.getMessage() for r in caplog.records)


def test_a_query_camera_calibrated_otherwise_than_the_map_is_warned_about_once(kf_map, frames,
                                                                              caplog):
    """A fresh user's query camera.yaml with fx 525 instead of 585: every frame localized, 24 cm
    off with a 13x overconfident covariance, without a word."""
    from mast3r_ros.core.types import CameraIntrinsics

    loc = Localizer(kf_map, _sift())
    q = _queries(frames)[0]
    K = q.intrinsics.K.copy()
    K[0, 0] *= 0.9
    K[1, 1] *= 0.9
    wrong = dataclasses.replace(q, intrinsics=CameraIntrinsics(CAM.width, CAM.height, K))
    with caplog.at_level("WARNING", logger="mast3r_ros.core.localizer"):
        loc.localize(q)                                   # the map's own camera: silent
        assert not caplog.records
        loc.localize(wrong)
        loc.localize(wrong)                               # said once per camera
    (rec,) = [r for r in caplog.records if "query camera" in r.getMessage()]
    msg = rec.getMessage()
    assert f"query camera {CAM.width}x{CAM.height} (fx {K[0, 0]:.1f}" in msg
    assert "differs by 10 % from every map keyframe camera of that size" in msg
    np.testing.assert_allclose(kf_map.cameras(), [[CAM.width, CAM.height, CAM.K[0, 0],
                                                   CAM.K[1, 1], CAM.K[0, 2], CAM.K[1, 2]]])
    # another size is another camera (or a resized stream): not compared
    small = render_frames(1, default_intrinsics(160, 120), seed=3)
    caplog.clear()
    with caplog.at_level("WARNING", logger="mast3r_ros.core.localizer"):
        loc.localize(next(iter(small)))
    assert not [r for r in caplog.records if "query camera" in r.getMessage()]


def test_a_query_camera_with_skew_is_warned_that_the_skew_is_ignored(kf_map, frames, caplog):
    """CameraInfo's K has no skew and OpenCV/poselib ignore K[0,1]: a calibration with a skew of
    3 px was solved as if it were 0 without a word. Now said once; a negligible skew is not."""
    from mast3r_ros.core.types import CameraIntrinsics

    loc = Localizer(kf_map, _sift())
    q = _queries(frames)[0]
    tiny, skewed = q.intrinsics.K.copy(), q.intrinsics.K.copy()
    tiny[0, 1] = 1e-3
    skewed[0, 1] = 3.0
    with caplog.at_level("WARNING", logger="mast3r_ros.core.localizer"):
        loc.localize(dataclasses.replace(q, intrinsics=CameraIntrinsics(CAM.width, CAM.height,
                                                                        tiny)))
        assert not [r for r in caplog.records if "skew" in r.getMessage()]
        for _ in range(2):
            loc.localize(dataclasses.replace(
                q, intrinsics=CameraIntrinsics(CAM.width, CAM.height, skewed)))
    (rec,) = [r for r in caplog.records if "skew" in r.getMessage()]
    shift = 3.0 * max(CAM.K[1, 2], CAM.height - 1 - CAM.K[1, 2]) / CAM.K[1, 1]
    assert "K[0,1] = 3," in rec.getMessage() and f"up to {shift:.1f} px" in rec.getMessage()


def test_a_query_camera_whose_k_jitters_is_checked_once(kf_map, frames, caplog):
    """A driver whose K moves by a few thousandths each frame made each frame a new camera: up
    to 64 warnings, and after 64 cameras no camera was ever checked again."""
    from mast3r_ros.core.types import CameraIntrinsics

    loc = Localizer(kf_map, _sift())
    q = _queries(frames)[0]
    rng = np.random.default_rng(0)
    with caplog.at_level("WARNING", logger="mast3r_ros.core.localizer"):
        for _ in range(80):
            K = q.intrinsics.K.copy()
            K[0, 0] *= 0.9 * (1 + rng.uniform(-1e-3, 1e-3))
            K[1, 1] *= 0.9 * (1 + rng.uniform(-1e-3, 1e-3))
            loc._check_query_camera(CameraIntrinsics(CAM.width, CAM.height, K))
        assert len([r for r in caplog.records if "query camera" in r.getMessage()]) == 1
        assert len(loc._cameras_checked) == 1
        caplog.clear()
        K = q.intrinsics.K.copy()
        K[0, 0] *= 1.2  # another wrong calibration, after all that jitter: still said
        loc._check_query_camera(CameraIntrinsics(CAM.width, CAM.height, K))
    assert [r for r in caplog.records if "differs by 20 %" in r.getMessage()]


def test_window_selection_boundaries():
    """One 512x384 window over a 512x384 image, centre (255.5, 191.5): it is usable with
    exactly min_matches=10 matches inside, where inside is |p - centre| / size <= 0.5 per axis
    (x scaled by the width 512, y by the height 384)."""
    from mast3r_ros.core.matchers.mast3r import select_windows

    c = np.array([255.5, 191.5])

    def pick(*extra):
        return select_windows((512, 384), (512, 384), np.array([c] * 9 + list(extra)))

    assert pick() == []  # 9 < 10
    assert pick(c) == [(0, 0)]
    assert pick(c + [256.0, 0.0]) == [(0, 0)]  # x on the edge: rel 0.5
    assert pick(c - [0.0, 192.0]) == [(0, 0)]  # y on the edge
    assert pick(c + [256.5, 0.0]) == []
    assert pick(c + [0.0, 192.5]) == []
    assert pick(c + [200.0, 0.0]) == [(0, 0)]  # 200 / 512 (x by the width, not 200 / 384)


def test_the_mast3r_refusals_offer_sift_only_for_a_map_with_depth(tmp_path, frames):
    """A new user's finding: localize with the mast3r matcher and no checkpoint said "... or
    use matcher 'sift'" on a map built from colour images only, which sift then refused (it
    takes its 3-D points from keyframe depth). Sift is offered only where it can run."""
    from mast3r_ros.core.matchers.mast3r import Mast3rMatcher

    f = frames[0]
    without = write_map(str(tmp_path / "nodepth"), [(f.rgb, f.intrinsics, f.map_from_cam, 0,
                                                     None)])
    with_depth = write_map(str(tmp_path / "depth"), [(f.rgb, f.intrinsics, f.map_from_cam, 0,
                                                      f.depth_m)])
    cfg = dataclasses.replace(Config(), localizer=LocalizerConfig(matcher="mast3r"))
    no_head = types.SimpleNamespace(has_descriptors=False)
    for path, depth in ((without, False), (with_depth, True)):
        m = KeyframeMap.load(path)
        with pytest.raises(ConfigError) as no_ckpt:
            Localizer.from_config(cfg, path)
        with pytest.raises(ConfigError) as no_engine:
            Localizer(m, LocalizerConfig(matcher="mast3r"))
        with pytest.raises(CheckpointError) as dust3r:
            Mast3rMatcher(m, no_head, MatchingConfig(), 512)
        for e in (no_ckpt, no_engine, dust3r):
            msg = str(e.value)
            assert "checkpoint" in msg, msg
            assert msg.endswith("; or use matcher 'sift'") == depth, msg
            assert (f"the sift matcher is no way round it: map {path} has keyframes without "
                    "depth" in msg) != depth, msg
    with pytest.raises(InputError, match="keyframes without depth"):  # as the message says
        Localizer(KeyframeMap.load(without), _sift())


def _same_result(a, b) -> None:
    """Two `LocalizationResult`s equal bit for bit (the timings aside)."""
    for f in dataclasses.fields(a):
        if f.name == "timings_s":
            continue
        u, v = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(u) and u is not None:
            u, v = dataclasses.astuple(u), dataclasses.astuple(v)
            for x, y in zip(u, v):
                if isinstance(x, tuple) and any(isinstance(e, (str, tuple)) for e in x):
                    assert x == y, f.name  # a camera_key.CameraKey (size, model, K, D)
                else:
                    assert np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True), f.name
        elif isinstance(u, np.ndarray):
            assert np.array_equal(u, v, equal_nan=True), f.name
        else:
            assert u == v or (u != u and v != v), (f.name, u, v)


@pytest.mark.parametrize("source,model,crop,c2f,kf_dist", [
    ("pointmap", "plumb_bob", None, False, False),
    ("depth", "rational_polynomial", None, False, True),
    ("pointmap", "equidistant", (40, 0, 160, 240), False, False),
    ("pointmap", "plumb_bob", None, True, False)])
def test_mast3r_undistort_table_gives_the_same_results(small_map, frames, monkeypatch, tmp_path,
                                                       source, model, crop, c2f, kf_dist):
    """A distorted query camera (issue 9): the matcher's per-camera table of undistorted grid
    pixels (core/grid_undistort.py) changes no bit of ``Localizer.localize``'s results against
    solve_pnp undistorting the matched pixels itself (the table switched off), over frames, a
    change of the camera's coefficients between frames (a new CameraInfo), a query of another
    aspect ratio and coarse-to-fine windows (their pixels looked up in a table of the captured
    image's pixel grid, `mast3r.pixel_shift`); with ``kf_dist`` distorted keyframe cameras too,
    whose stored-depth points come from the keyframes' table. An equidistant camera is left to
    solve_pnp (cv2.fisheye undistorts faster than a lookup)."""
    from mast3r_ros.core.localizer import pipeline as loc_mod
    from mast3r_ros.core.types import CameraIntrinsics

    dists = {"plumb_bob": [[-0.02, 0.01, 1e-4, -1e-4, 0.0], [-0.03, 0.01, 0, 0, 0]],
             "rational_polynomial": [[-0.02, 0.01, 1e-4, -1e-4, 0, 0.01, 0, 0],
                                     [-0.01, 0.0, 0, 0, 0, 0.01, 0, 0]],
             "equidistant": [[0.01, -0.005, 0, 0], [0.02, 0, 0, 0]]}[model]
    seen = []
    served = model != "equidistant"  # `mast3r._table_pays`
    orig = loc_mod.solve_pnp

    def spy(X, *a, x_undistorted=None, **kw):
        seen.append((x_undistorted is not None, len(X)))
        return orig(X, *a, x_undistorted=x_undistorted, **kw)
    monkeypatch.setattr(loc_mod, "solve_pnp", spy)
    matching = MatchingConfig(subsample=16, coarse_to_fine=c2f, max_matches=150)
    runs, eng = [], PerfectEngine(frames)  # one engine: the map caches its encodings' keys
    if kf_dist:
        def distorted(f):
            c = f.intrinsics
            return CameraIntrinsics(c.width, c.height, c.K, dist=np.array([0.02, -0.01, 0, 0, 0]),
                                    distortion_model="plumb_bob")
        small_map = write_map(str(tmp_path / "distorted"), [
            (f.rgb, distorted(f), f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0:8:2]])
    for table in (True, False):
        loc = Localizer(KeyframeMap.load(small_map),
                        LocalizerConfig(matcher="mast3r", points_source=source, max_keyframes=2,
                                        matching=matching, gates=GateConfig(min_inliers=12)),
                        eng, image_size=224, seed=3)
        if not table:
            loc.matcher.undistort_table = loc.matcher.kf_undistort_table = None
        out = []
        for i, f in enumerate(frames[1:8:2]):
            x0, y0, w, h = crop or (0, 0, f.intrinsics.width, f.intrinsics.height)
            K = f.intrinsics.K.copy()
            K[0, 2] -= x0
            K[1, 2] -= y0
            cam = CameraIntrinsics(w, h, K, dist=np.array(dists[i // 2], float),
                                   distortion_model=model)
            q = Frame(np.ascontiguousarray(f.rgb[y0:y0 + h, x0:x0 + w]), cam, f.stamp_ns)
            out.append(loc.localize(q, with_matches=True))
        runs.append(out)
        if table:  # one table per CameraInfo (of its network grid, or with windows of its
            assert len(loc.matcher.undistort_table) == 2 * served  # captured grid)
            assert len(loc.matcher.kf_undistort_table) == int(kf_dist)  # one camera, one size
    # the table was used (all pairs, coarse-to-fine windows included) but for equidistant,
    # whose cv2.fisheye undistortion is cheaper than a lookup ...
    # (with coarse-to-fine: but on a frame whose coarse matches place no window, fewer than
    # the 4 x 10 the windows need, left to solve_pnp) ...
    used = [u for u, _ in seen]
    assert any(used[:4]) == served and not any(used[4:])
    assert all(u or not served or (c2f and n < 40) for u, n in seen[:4]), seen
    # ... and changed nothing
    assert sum(r.success for r in runs[0]) >= 2, [r.reason for r in runs[0]]
    for a, b in zip(*runs):
        _same_result(a, b)


def test_a_localized_frame_reports_its_inliers_median_depth(kf_map, frames):
    """scene_depth_m: the PnP inliers' median depth in the query camera, what the run summary
    weighs the position sigma against (metrics.far_claims); NaN without a PnP pose (a frame a gate
    refuses after PnP keeps its depth)."""
    loc = Localizer(kf_map, _sift())
    f = _queries(frames)[3]
    r = loc.localize(f, with_matches=True)
    assert r.success, r.reason
    xy = r.matches.query_xy[r.matches.inliers]
    z = f.depth_m[np.round(xy[:, 1]).astype(int), np.round(xy[:, 0]).astype(int)]
    assert r.scene_depth_m == pytest.approx(np.median(z[z > 0]), rel=0.05)
    black = dataclasses.replace(f, rgb=np.zeros_like(f.rgb))
    assert np.isnan(loc.localize(black).scene_depth_m)
    loc.close()


def test_a_localized_frame_measures_its_inliers_median_depth_once(kf_map, frames, monkeypatch):
    """The inliers' median depth is computed once a frame: the result's scene_depth_m and the
    gates.max_position_sigma_ratio gate (on by default) read the same number. Each computed it
    (a copy of the inlier rows and a median, twice on every localized frame)."""
    from mast3r_ros.core.localizer import pipeline, results

    calls, real = [], results.inlier_median_depth

    def counted(map_from_cam, points3d):
        calls.append(len(points3d))
        return real(map_from_cam, points3d)

    monkeypatch.setattr(pipeline, "inlier_median_depth", counted)
    monkeypatch.setattr(results, "inlier_median_depth", counted)
    loc = Localizer(kf_map, _sift())
    assert loc.config.gates.max_position_sigma_ratio > 0
    f = _queries(frames)[3]
    r = loc.localize(f)
    assert r.success and np.isfinite(r.scene_depth_m), r.reason
    assert len(calls) == 1, calls
    # the gate judges that same depth: a ratio just under sigma / depth refuses, naming it
    loc.close()
    ratio = r.scene_depth_m
    loc = Localizer(kf_map, _sift(gates=GateConfig(max_position_sigma_ratio=1e-6)))
    refused = loc.localize(f)
    assert not refused.success and f"median depth {ratio:.3g} m" in refused.reason, refused.reason
    loc.close()


def test_a_localized_frames_position_sigma_is_computed_once_and_carried(kf_map, frames,
                                                                         monkeypatch):
    """The pose's 1-sigma position (`position_sigma_m`, an eigen-decomposition, ~19 us) was
    computed by the sigma gates (on by default) and again by the node's /diagnostics
    (`sigma_depth_ratio`, every localized frame) and localize's summary. Now once a frame,
    carried on the result; the ratio is bit-identical to computing it from the covariance."""
    from mast3r_ros.core import pose_uncertainty
    from mast3r_ros.core.localizer import pipeline

    calls, real = [], pose_uncertainty.position_sigma_m

    def counted(covariance):
        calls.append(1)
        return real(covariance)

    for module in (pipeline, pose_uncertainty):   # the gates read pose_uncertainty's
        monkeypatch.setattr(module, "position_sigma_m", counted)
    loc = Localizer(kf_map, _sift())
    g = loc.config.gates
    assert g.max_position_sigma_m > 0 and g.max_position_sigma_ratio > 0
    r = loc.localize(_queries(frames)[3])
    loc.close()
    assert r.success, r.reason
    ratio = pose_uncertainty.sigma_depth_ratio(r)       # what the node and far_claims read
    assert len(calls) == 1, calls
    assert r.position_sigma_m == real(r.covariance)     # bit-identical, not approx
    assert ratio == real(r.covariance) / r.scene_depth_m
    # a result without it (a resumed run's frame, one made by hand) computes it, the same
    bare = dataclasses.replace(r, position_sigma_m=None)
    assert pose_uncertainty.sigma_depth_ratio(bare) == ratio and len(calls) == 2
