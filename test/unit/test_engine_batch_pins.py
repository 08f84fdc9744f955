"""Pins from a mutation audit of the K-keyframe decode of `Mast3rEngine`: which batch size a
compiled engine pads K keyframes to (the smallest warmed size that holds them, so that no new
graph is compiled live), and that an eager engine never pads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mast3r_ros.core.model.engine import Mast3rEngine, PreparedImage
from mast3r_test_utils import TINY_SPEC, random_model


@pytest.fixture(scope="module")
def engine(one_torch_thread):
    return Mast3rEngine(random_model(TINY_SPEC), torch.device("cpu"))


def test_a_compiled_engine_pads_to_the_smallest_warmed_batch_that_holds_k(engine,
                                                                          monkeypatch):
    monkeypatch.setattr(engine, "_batches", [1, 2, 4])
    assert [engine._padded_batch(k) for k in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 5]  # eager
    monkeypatch.setattr(engine, "compile", "default")
    assert [engine._padded_batch(k) for k in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, 5]


def test_warmed_batches_stay_sorted_across_warmups(engine, monkeypatch):
    """A second warm-up with smaller batches (the node warms K=4 at start, a later map 1 and
    2): K=1 must pad to 1, not to the 4 warmed first."""
    monkeypatch.setattr(engine, "_batches", [])
    engine.warmup([(32, 32)], [4])
    engine.warmup([(32, 32)], [2, 1, 2])
    assert engine._batches == [1, 2, 4]
    monkeypatch.setattr(engine, "compile", "default")
    assert engine._padded_batch(1) == 1


def test_a_padded_batch_gives_one_prediction_per_keyframe_equal_to_eager(engine, monkeypatch):
    """K = 3 keyframes run padded to a warmed batch of 4: 3 predictions come back, each the
    eager one of its keyframe (the padding row is dropped, whatever it holds)."""
    g = torch.Generator().manual_seed(0)
    encs = [engine.encode(PreparedImage(torch.rand((1, 3, 32, 32), generator=g) * 2 - 1,
                                        (32, 32), np.eye(3), (32, 32),
                                        np.zeros((32, 32, 3), np.uint8))) for _ in range(4)]
    want = engine.decode(encs[:3], encs[3])
    monkeypatch.setattr(engine, "compile", "default")  # eager graphs, the compiled padding
    monkeypatch.setattr(engine, "_batches", [4])
    got = engine.decode(encs[:3], encs[3])
    assert len(got) == 3
    for a, b in zip(got, want):
        torch.testing.assert_close(a.pts3d_1, b.pts3d_1, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a.desc_2, b.desc_2, rtol=1e-5, atol=1e-5)


def test_tensorrt_engines_are_built_for_the_largest_warmed_keyframe_batch(tiny_ckpt,
                                                                         monkeypatch):
    """The engines have one fixed batch K: built for the smallest, a localizer decoding
    max_keyframes would run ceil(n / K) batches instead of one."""
    from mast3r_ros.core.config import ModelConfig
    from mast3r_ros.core.model import tensorrt_backend as tb

    asked = []

    def fake_trt(path, device="cuda", *, size, net_shape, keyframe_batch=1, cache_dir=""):
        asked.append((size, keyframe_batch, cache_dir))
        raise KeyboardInterrupt  # stop here: only the arguments are checked
    monkeypatch.setattr(tb.TensorRTEngine, "from_checkpoint", staticmethod(fake_trt))
    cfg = ModelConfig(checkpoint=tiny_ckpt, backend="tensorrt", image_size=384,
                      engine_cache="/c")
    with pytest.raises(KeyboardInterrupt):
        Mast3rEngine.from_config(cfg, warmup_batches=(1, 4, 2))
    assert asked == [(384, 4, "/c")]
