"""CUDA checks of the host path (issue 9; skipped without a GPU): the query resized (Pillow's
arithmetic, `model.resample`) and normalised on the device equals `preprocess.normalize` of
Pillow's resize bit for bit, and keyframe encodings cached as float16 on
the device decode exactly as the former host conversion did, for fp32 and fp16 engines."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mast3r_ros.core.model.engine import Encoding, Mast3rEngine
from mast3r_ros.core.model.preprocess import normalize, resize_crop
from mast3r_test_utils import TINY_SPEC, random_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_prepare_on_cuda_is_bit_identical_to_the_host_normalisation():
    eng = Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cuda"), "fp32")
    rgb = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    rgb[:16, :16] = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    assert eng.resize_on_device  # the CUDA default: Pillow's resize on the device
    prep = eng.prepare(rgb, 512)
    want = normalize(resize_crop(rgb, 512)[0])
    got = prep.tensor[0].cpu().numpy()
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("w, h, size", [(640, 480, 512), (1920, 1080, 512), (1000, 1334, 384),
                                        (640, 480, 224), (224, 224, 512)])
def test_device_resize_equals_pillow_on_cuda(w, h, size):
    from mast3r_ros.core.model.resample import resize_crop_u8

    rgb = np.random.default_rng(w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    rgb[: h // 4] = 255
    want, plan = resize_crop(rgb, size)
    got = resize_crop_u8(torch.from_numpy(rgb).cuda(), plan.resized, plan.box, plan.upscale)
    np.testing.assert_array_equal(got.cpu().numpy(), want)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cached_float16_encodings_decode_as_the_host_conversion(precision):
    eng = Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cuda"), precision)
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (384, 512, 3), dtype=np.uint8) for _ in range(3)]
    q = eng.encode(eng.prepare(imgs[0], 512))
    arrays = [eng.encode(eng.prepare(im, 512)).to_numpy() for im in imgs[1:]]
    host = [Encoding(torch.from_numpy(a["feats"].astype(np.float32)).cuda(),
                     tuple(a["true_shape"])) for a in arrays]
    dev = [Encoding.from_numpy(a, "cuda") for a in arrays]
    assert dev[0].feats.dtype == torch.float16 and dev[0].feats.is_cuda
    for a, b in zip(eng.decode(host, q), eng.decode(dev, q)):
        for name, v in dataclasses.asdict(a).items():
            if v is not None:
                assert torch.equal(v, getattr(b, name)), name
