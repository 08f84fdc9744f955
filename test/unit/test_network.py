"""The network: official state-dict layout, reference equivalence, portrait and odd grids."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mast3r_test_utils import TINY_SPEC, random_model
from mast3r_ros.core.model.network import AsymmetricMASt3R, ModelSpec, RoPE2D

from mast3r_test_utils import shared_dir

DUST3R = ModelSpec(arch="dust3r", desc_dim=0, two_confs=False)


def _meta_state(spec: ModelSpec):
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in AsymmetricMASt3R(spec).state_dict().items()}


@pytest.mark.parametrize("spec,tsv,nkeys,nparams", [
    (ModelSpec(), "mast3r_vitl_state_dict.tsv", 1017, 688_638_856),
    (DUST3R, "dust3r_vitl_state_dict.tsv", 1009, 571_171_208),
])
def test_full_size_state_dict_matches_official_layout(spec, tsv, nkeys, nparams):
    state = _meta_state(spec)
    assert len(state) == nkeys
    # DPT alias keys share storage: count each tensor once, as the official totals do.
    with torch.device("meta"):
        n = sum(p.numel() for p in AsymmetricMASt3R(spec).parameters())
    assert n == nparams
    path = shared_dir() / "reference" / tsv
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]
    official = {r[0]: tuple(int(x) for x in r[1].split("x")) for r in rows}
    assert state == official


def test_rope_rotates_by_position_and_preserves_norm():
    rope = RoPE2D(100.0)
    t = torch.randn(1, 2, 3, 8)
    pos0 = torch.zeros(1, 3, 2, dtype=torch.long)
    assert torch.allclose(rope(t, pos0), t)  # position 0 is the identity
    pos = torch.tensor([[[0, 1], [2, 3], [5, 0]]])
    out = rope(t, pos)
    assert torch.allclose(out.norm(dim=-1), t.norm(dim=-1), atol=1e-5)
    # Relative property: <R(p) q, R(p) k> is independent of a shared shift of both positions.
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    p1, p2 = torch.tensor([[[1, 2]]]), torch.tensor([[[4, 7]]])
    d1 = (rope(q, p1) * rope(k, p2)).sum()
    d2 = (rope(q, p1 + 3) * rope(k, p2 + 3)).sum()
    assert torch.allclose(d1, d2, atol=1e-5)
    # y (first half) and x (second half) are rotated independently.
    only_x = rope(t, torch.tensor([[[0, 4], [0, 4], [0, 4]]]))
    assert torch.allclose(only_x[..., :4], t[..., :4])
    assert not torch.allclose(only_x[..., 4:], t[..., 4:])


def test_spec_validation_errors():
    with pytest.raises(ValueError, match="dec_depth"):
        AsymmetricMASt3R(dataclasses.replace(TINY_SPEC, dec_depth=8))
    with pytest.raises(ValueError, match="divisible by 4"):
        AsymmetricMASt3R(dataclasses.replace(TINY_SPEC, enc_embed_dim=36, enc_num_heads=6))


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return random_model(TINY_SPEC, seed=1)


@pytest.mark.parametrize("hw", [(64, 48), (48, 64), (80, 48)])
def test_output_shapes_landscape_portrait_and_odd_grid(tiny_model, hw):
    h, w = hw  # (80, 48): token grid 5x3, odd -> DPT's top-left crop path
    img = torch.rand(1, 3, h, w) * 2 - 1
    with torch.inference_mode():
        p1, p2 = tiny_model(img, img.flip(-1))
    assert p1["pts3d"].shape == (1, h, w, 3) and p2["pts3d"].shape == (1, h, w, 3)
    assert p1["desc"].shape == (1, h, w, 24)
    assert torch.allclose(p1["desc"].norm(dim=-1), torch.ones(1, h, w), atol=1e-5)
    assert (p1["conf"] > 1).all() and (p1["desc_conf"] > 0).all()


def test_portrait_is_processed_natively(tiny_model):
    """A portrait image gives a portrait pointmap, not a transposed landscape one."""
    img = torch.rand(1, 3, 64, 32) * 2 - 1
    with torch.inference_mode():
        p1, _ = tiny_model(img, img)
        t1, _ = tiny_model(img.transpose(2, 3).contiguous(), img.transpose(2, 3).contiguous())
    assert p1["pts3d"].shape == (1, 64, 32, 3)
    assert t1["pts3d"].shape == (1, 32, 64, 3)
    assert not torch.allclose(p1["conf"], t1["conf"].transpose(1, 2))


def test_image_size_must_be_multiple_of_16(tiny_model):
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_model.encode(torch.zeros(1, 3, 40, 48))


def test_equals_reference_outputs(ref_fixtures):
    """fp32 CPU outputs equal the reference implementation's on the tiny fixture checkpoint."""
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.core.model.preprocess import load_rgb

    d = ref_fixtures / "mast3r_tiny"
    eng = Mast3rEngine.from_checkpoint(str(d / "ckpt.pth"), device="cpu")
    i1, i2 = eng.prepare(load_rgb(str(d / "img1.png"))), eng.prepare(load_rgb(str(d / "img2.png")))
    inter = np.load(d / "intermediates.npz")
    with torch.inference_mode():
        e1 = eng.model.encode(i1.tensor)
    np.testing.assert_allclose(e1[0].numpy(), inter["enc_out_1"], atol=2e-5)
    out = eng.pair(i1, i2).to_numpy()
    ref = np.load(d / "outputs.npz")
    for v in ("1", "2"):
        assert np.abs(out[f"desc_{v}"] - ref[f"desc_{v}"]).max() <= 1e-5
        for k in (f"conf_{v}", f"desc_conf_{v}"):
            assert (np.abs(out[k] - ref[k]) / np.abs(ref[k])).max() <= 5e-5, k
        p, r = out[f"pts3d_{v}"], ref[f"pts3d_{v}"]
        rel = np.linalg.norm(p - r, axis=-1) / np.maximum(np.linalg.norm(r, axis=-1), 1e-12)
        assert rel.max() <= 1e-4
