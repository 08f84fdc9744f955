"""The per-frame host work around the network on the MASt3R path (issue 9): the query is
normalised on the device from its uint8 crop, keyframe encodings reach the device as stored
(float16) and stay there in an LRU cache (``scale.device_cache_mb``), and the pooled retrieval
descriptor is taken on the device. Each test fails if the host work it guards comes back."""

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from mast3r_ros.core.config import Config, LocalizerConfig, MatchingConfig, param_specs
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.matchers import lazy_encodings
from mast3r_ros.core.matchers.lazy_encodings import KeyframeEncodings
from mast3r_ros.core.matchers.mast3r import pooled_descriptor_device
from mast3r_ros.core.model import engine as engine_mod
from mast3r_ros.core.model import engine_io
from mast3r_ros.core.model import preprocess
from mast3r_ros.core.model.engine import Encoding, normalize_on_device
from mast3r_ros.core.model.preprocess import normalize, normalize_table, resize_crop
from mast3r_ros.core.retrieval import pooled_descriptor
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


# ------------------------------------------------------------------ query normalisation ---

def test_device_normalisation_is_bit_identical_to_the_reference():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgb[:16, :16] = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)  # every value
    want = _bits(normalize(rgb))
    # the CPU's float32 arithmetic, and the table lookup other devices use, run here on the CPU
    for fn in (normalize_on_device, engine_io._normalize_lookup):
        got = fn(torch.from_numpy(rgb.copy()))
        assert got.dtype == torch.float32 and got.shape == (1, 3, 37, 53) and got.is_contiguous()
        np.testing.assert_array_equal(_bits(got[0].numpy()), want)
    # the table is the reference formula, value by value
    v = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(_bits(normalize_table()), _bits((v / 255.0 - 0.5) / 0.5))


def test_prepare_uploads_uint8_and_normalises_on_the_device(tiny_engine, monkeypatch):
    rgb = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    uploads = []
    real = engine_mod.to_device

    def spy(a, device):
        uploads.append(np.asarray(a).dtype)
        return real(a, device)

    def host_normalise(*_a, **_k):
        raise AssertionError("the query was normalised on the host")

    monkeypatch.setattr(engine_mod, "to_device", spy)
    monkeypatch.setattr(preprocess, "normalize", host_normalise)
    monkeypatch.setattr(engine_mod, "normalize", host_normalise, raising=False)
    prep = tiny_engine.prepare(rgb, 512)
    assert uploads == [np.uint8]  # one upload, of the uint8 crop
    monkeypatch.undo()
    net, plan = resize_crop(rgb, 512)
    assert prep.true_shape == (384, 512) and prep.orig_size == (640, 480)
    np.testing.assert_array_equal(prep.rgb, net)
    np.testing.assert_array_equal(prep.to_orig, plan.to_orig())
    assert prep.tensor.shape == (1, 3, 384, 512) and prep.tensor.device == tiny_engine.device
    np.testing.assert_array_equal(_bits(prep.tensor[0].numpy()), _bits(normalize(net)))


# ------------------------------------------------------------------ keyframe encodings ---

class _Lazy(Sequence):
    """A store-like lazy sequence (not a list: `KeyframeEncodings` caches it)."""

    def __init__(self, recs):
        self.recs, self.reads = recs, 0

    def __len__(self):
        return len(self.recs)

    def __getitem__(self, i):
        self.reads += 1
        return self.recs[i]


def _records(n, hw=(48, 64), c=32, seed=0):
    rng = np.random.default_rng(seed)
    n_tok = (hw[0] // 16) * (hw[1] // 16)
    return [{"feats": rng.standard_normal((n_tok, c)).astype(np.float16),
             "true_shape": np.asarray(hw, np.int64)} for _ in range(n)]


def test_keyframe_encodings_stay_on_the_device_between_frames():
    recs = _records(3)
    one = recs[0]["feats"].nbytes
    cached = KeyframeEncodings(_Lazy(recs), "cpu", "m", device_cache_mb=4 * one / 2 ** 20)
    for _ in range(5):  # five frames against the same two keyframes
        encs = cached[0], cached[1]
    assert cached.uploads == 2 and cached.cached_bytes == 2 * one
    assert all(e.feats.dtype == torch.float16 for e in encs)  # as stored: half the bytes
    np.testing.assert_array_equal(encs[0].feats.numpy(), np.asarray(recs[0]["feats"]))
    # 0 disables the cache: every frame copies every candidate again
    bypass = KeyframeEncodings(_Lazy(recs), "cpu", "m", device_cache_mb=0)
    for _ in range(5):
        bypass[0], bypass[1]
    assert bypass.uploads == 10 and bypass.cached_bytes == 0
    # least recently used goes first when full (room for two)
    lru = KeyframeEncodings(_Lazy(recs), "cpu", "m", device_cache_mb=2 * one / 2 ** 20)
    lru[0], lru[1], lru[0], lru[2], lru[0]
    assert lru.uploads == 3
    lru[1]
    assert lru.uploads == 4


def test_default_device_cache_holds_many_vit_l_keyframes_at_512():
    per_kf = 768 * 1024 * 2  # 512x384 -> 32x24 tokens of 1024 float16 channels
    mb = Config().scale.device_cache_mb
    assert lazy_encodings.DEFAULT_DEVICE_CACHE_MB == mb
    assert int(mb * 2 ** 20) // per_kf >= 100


def test_cached_float16_decodes_bit_identical_to_the_host_conversion(tiny_engine):
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    q = tiny_engine.encode(tiny_engine.prepare(imgs[0], 224))
    arrays = [tiny_engine.encode(tiny_engine.prepare(im, 224)).to_numpy() for im in imgs[1:]]
    # the previous path: float32 on the host, then to the device
    host = [Encoding(torch.from_numpy(a["feats"].astype(np.float32)), tuple(a["true_shape"]))
            for a in arrays]
    dev = [Encoding.from_numpy(a, "cpu") for a in arrays]
    assert dev[0].feats.dtype == torch.float16
    for a, b in zip(tiny_engine.decode(host, q, pts3d_2=True),
                    tiny_engine.decode(dev, q, pts3d_2=True)):
        for name, v in dataclasses.asdict(a).items():
            if v is not None:
                assert torch.equal(v, getattr(b, name)), name


# --------------------------------------------------------------------- pooled retrieval ---

@pytest.mark.parametrize("shape", [(12, 32), (768, 1024)])
def test_pooled_descriptor_on_the_device_equals_the_host_one(shape):
    feats = torch.from_numpy(np.random.default_rng(3).standard_normal(shape).astype(np.float32))
    got = pooled_descriptor_device(feats)
    want = pooled_descriptor(feats.numpy())
    assert got.dtype == np.float32 and got.shape == (shape[1],)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pooled_descriptor_device(feats.half()),
                               pooled_descriptor(feats.half().numpy()), rtol=0, atol=1e-6)


def test_query_descriptor_moves_only_the_pooled_vector(tiny_engine, monkeypatch):
    from mast3r_ros.core.matchers.mast3r import Mast3rMatcher, _Mast3rQuery

    feats = torch.randn(12, 32)
    moved = []
    real = torch.Tensor.cpu

    def spy(t, *a, **k):
        moved.append(t.numel())
        return real(t, *a, **k)

    monkeypatch.setattr(torch.Tensor, "cpu", spy)
    state = _Mast3rQuery(None, Encoding(feats, (48, 64)))
    got = Mast3rMatcher.query_descriptor(None, None, state)
    monkeypatch.undo()
    assert moved == [32]
    np.testing.assert_allclose(got, pooled_descriptor(feats.numpy()), atol=1e-6)


# ------------------------------------------------------------------------ config wiring ---

@pytest.fixture(scope="module")
def two_kf_map(tmp_path_factory):
    cam = default_intrinsics(160, 120)
    frames = list(render_frames(3, cam, seed=5))
    path = str(tmp_path_factory.mktemp("host") / "map")
    write_map(path, [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
                     for f in frames[:2]])
    return path, frames


def test_device_cache_mb_reaches_the_matcher_and_serves_repeated_frames(two_kf_map, tiny_ckpt):
    assert "scale.device_cache_mb" in {s.name for s in param_specs()}  # the node declares it
    path, frames = two_kf_map
    loc_cfg = LocalizerConfig(matcher="mast3r", matching=MatchingConfig(subsample=16),
                              max_keyframes=2, warmup=False)
    cfg = Config(model=dataclasses.replace(Config().model, checkpoint=tiny_ckpt, device="cpu",
                                           image_size=224), localizer=loc_cfg)
    # the engines share one read of the checkpoint (each read ~1 s of CPU; the wiring tested
    # is the config's, not the loading)
    with engine_mod.one_checkpoint_load():
        Localizer.from_config(cfg, path).close()  # computes and stores the encodings (v3)
        uploads = {}
        for mb in (3.0, 0.0):
            c = dataclasses.replace(cfg, scale=dataclasses.replace(cfg.scale,
                                                                   device_cache_mb=mb))
            loc = Localizer.from_config(c, path, recompute_encodings=False)
            enc = loc.matcher.encodings
            assert enc.capacity_bytes == int(mb * 2 ** 20)
            assert not isinstance(loc.matcher.enc_set.per_keyframe, list)  # lazy: cache used
            for _ in range(2):  # a repeated frame: served from the cache, or uploaded again
                loc.matcher.correspond(frames[2], loc.matcher.query_state(frames[2]), [0, 1],
                                       {})
            uploads[mb] = enc.uploads
            loc.close()
        assert uploads == {3.0: 2, 0.0: 4}
        # a map opened directly gets the config's default
        loc = Localizer(KeyframeMap.load(path, lazy=True), loc_cfg,
                        engine_mod.Mast3rEngine.from_checkpoint(tiny_ckpt), image_size=224,
                        recompute_encodings=False)
        assert loc.matcher.encodings.capacity_bytes == int(
            Config().scale.device_cache_mb * 2 ** 20)
        loc.close()
