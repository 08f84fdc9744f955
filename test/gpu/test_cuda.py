"""CUDA checks (skipped without a GPU): fp32 equals CPU, fp16/bf16 autocast stays close,
matching on the GPU gives the CPU's matches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mast3r_ros.core.matching import fast_reciprocal_matches
from mast3r_test_utils import TINY_SPEC, random_model
from mast3r_ros.core.model.engine import Mast3rEngine, PreparedImage
from mast3r_ros.core.model.preprocess import normalize

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _img(seed: int, hw=(384, 512)) -> tuple:
    rgb = np.random.default_rng(seed).integers(0, 255, (*hw, 3), dtype=np.uint8)
    return rgb, torch.from_numpy(normalize(rgb))[None]


def _prep(engine, rgb, t):
    return PreparedImage(t.to(engine.device), rgb.shape[:2], np.eye(3),
                         (rgb.shape[1], rgb.shape[0]), rgb)


@pytest.fixture(scope="module")
def outputs():
    torch.backends.cuda.matmul.allow_tf32 = False  # strict fp32 for the comparison
    torch.backends.cudnn.allow_tf32 = False
    model = random_model(TINY_SPEC, seed=0)
    (r1, t1), (r2, t2) = _img(1), _img(2)
    res = {}
    for dev, prec in (("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "fp16"), ("cuda", "bf16")):
        eng = Mast3rEngine(model, torch.device(dev), prec)
        res[(dev, prec)] = eng.pair(_prep(eng, r1, t1), _prep(eng, r2, t2))
        model = model.cpu()
    return res


def _rel_pts(a, b):
    return (torch.linalg.norm(a.cpu() - b.cpu(), dim=-1) / torch.linalg.norm(b.cpu(), dim=-1))


def test_cuda_fp32_equals_cpu(outputs):
    c, g = outputs[("cpu", "fp32")], outputs[("cuda", "fp32")]
    desc = float((g.desc_1.cpu() - c.desc_1).abs().max())
    pts = float(_rel_pts(g.pts3d_1, c.pts3d_1).median())
    conf = float(((g.conf_1.cpu() - c.conf_1).abs() / c.conf_1).max())
    msg = (f"cuda fp32 vs cpu: desc max abs {desc:.3g}, pts3d rel median {pts:.3g}, "
           f"conf rel max {conf:.3g}")
    assert desc < 1e-3, msg
    assert pts < 1e-3, msg
    assert conf < 1e-2, msg


@pytest.mark.parametrize("prec", ["fp16", "bf16"])
def test_autocast_close_to_fp32(outputs, prec):
    c, g = outputs[("cpu", "fp32")], outputs[("cuda", prec)]
    for name in ("pts3d_1", "conf_1", "desc_1", "desc_conf_1", "desc_2"):
        t = getattr(g, name)
        assert t.dtype == torch.float32, f"{prec} {name}: dtype {t.dtype}"
        bad = int((~torch.isfinite(t)).sum())
        assert bad == 0, f"{prec} {name}: {bad} non-finite values"
    cos = (g.desc_1.cpu() * c.desc_1).sum(-1)
    rel = _rel_pts(g.pts3d_1, c.pts3d_1)
    print(f"{prec} vs cpu fp32: desc cosine median {float(cos.median()):.5f}, pts3d rel p99 "
          f"{float(torch.quantile(rel.flatten(), 0.99)):.3g} max {float(rel.max()):.3g}")
    assert cos.median() > 0.99, f"{prec}: desc cosine median {float(cos.median()):.5f}"


def test_matching_on_cuda_equals_cpu(outputs):
    c = outputs[("cpu", "fp32")]
    xy1, xy2 = fast_reciprocal_matches(c.desc_1, c.desc_2)
    g1, g2 = fast_reciprocal_matches(c.desc_1.cuda(), c.desc_2.cuda())
    assert g1.device.type == "cuda"
    assert torch.equal(g1.cpu(), xy1) and torch.equal(g2.cpu(), xy2)
