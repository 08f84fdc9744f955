"""Pins of the network's parts the reference-equivalence test cannot see: `ModelSpec.validate`'s
boundaries (the reference's own asserts), and what runs only off the fixture's path."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from mast3r_test_utils import TINY_SPEC, random_model

from mast3r_ros.core.model.network import AsymmetricMASt3R


@pytest.mark.parametrize("changes, says", [
    (dict(dec_depth=9), "dec_depth > 9"),                 # the reference asserts dec_depth > 9
    (dict(desc_dim=0), "desc_dim > 0"),
    (dict(enc_embed_dim=36, enc_num_heads=6), "divisible by 4"),   # head dim 6
    (dict(dec_embed_dim=24, dec_num_heads=4), "divisible by 4"),   # head dim 6
])
def test_a_spec_the_network_cannot_run_is_refused(changes, says):
    with pytest.raises(ValueError, match=says):
        dataclasses.replace(TINY_SPEC, **changes).validate()


def test_the_smallest_specs_it_can_run_are_taken():
    dataclasses.replace(TINY_SPEC, dec_depth=10).validate()
    dataclasses.replace(TINY_SPEC, arch="dust3r", desc_dim=0).validate()
    dataclasses.replace(TINY_SPEC, enc_embed_dim=8, enc_num_heads=2).validate()   # head dim 4
    AsymmetricMASt3R(dataclasses.replace(TINY_SPEC, enc_embed_dim=8, enc_num_heads=2))


@pytest.fixture(scope="module")
def tiny_model():
    return random_model(TINY_SPEC, seed=1)


@pytest.mark.parametrize("h, w", [(48, 40), (40, 48), (40, 40)])
def test_an_image_whose_width_or_height_is_not_a_multiple_of_16_is_refused(tiny_model, h, w):
    """Either side: the patch embedding would drop the last columns (rows) silently."""
    with pytest.raises(ValueError, match=f"image size {w}x{h} must be a multiple of 16"):
        tiny_model.encode(torch.zeros(1, 3, h, w))


def test_postprocess_of_a_zero_point_is_the_origin_not_nan():
    """xyz / |xyz| * expm1(|xyz|) at xyz = 0 is 0 (its limit), not 0 / 0."""
    from mast3r_ros.core.model.network import postprocess

    raw = torch.zeros(1, 2, 2, 4)
    raw[0, 0, 0, :3] = torch.tensor([0.3, 0.0, -0.4])
    out = postprocess({"dpt": raw}, TINY_SPEC)
    assert torch.isfinite(out["pts3d"]).all()
    assert torch.equal(out["pts3d"][0, 1], torch.zeros(2, 3))
    torch.testing.assert_close(out["pts3d"][0, 0, 0],
                               torch.tensor([0.3, 0.0, -0.4]) / 0.5 * torch.expm1(
                                   torch.tensor(0.5)))
    torch.testing.assert_close(out["conf"], TINY_SPEC.conf_mode[1] + raw[..., 3].exp())


def test_a_mast3r_head_with_one_confidence_takes_the_pointmaps_as_the_descriptors():
    """two_confs False: the descriptors' confidence is the pointmap confidence (the reference's
    single-confidence head), a copy of it."""
    from mast3r_ros.core.model.network import postprocess

    spec = dataclasses.replace(TINY_SPEC, two_confs=False)
    raw = {"dpt": torch.randn(1, 2, 2, 4), "local": torch.randn(1, 2, 2, spec.desc_dim)}
    out = postprocess(raw, spec)
    torch.testing.assert_close(out["desc_conf"], out["conf"])
    assert out["desc_conf"].data_ptr() != out["conf"].data_ptr()
    torch.testing.assert_close(out["desc"].norm(dim=-1), torch.ones(1, 2, 2))


def test_the_decoders_residual_stream_stays_float32_under_autocast(tiny_model):
    """Each decoder block's output (the residual stream the heads read) is float32 under
    autocast, only its matmuls run in the low precision: rounding every residual addition was
    the largest share of the fp16 pointmap error. (bf16 on the CPU stands in for CUDA's fp16.)"""
    enc = tiny_model.encode(torch.zeros(1, 3, 32, 48))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tok1, tok2 = tiny_model.decode(enc, enc, (2, 3))
        assert tiny_model.decoder_embed(enc).dtype == torch.bfloat16   # autocast is on
    assert {t.dtype for t in tok1[1:] + tok2[1:]} == {torch.float32}


@pytest.mark.parametrize("two_confs", [True, False])
def test_the_local_feature_head_outputs_a_confidence_channel_only_with_two_confs(two_confs):
    """(desc_dim + two_confs) channels a pixel, 16 x 16 pixels a token: the reference's layout,
    so a one-confidence MASt3R checkpoint's head loads."""
    spec = dataclasses.replace(TINY_SPEC, two_confs=two_confs)
    head = AsymmetricMASt3R(spec).downstream_head1.head_local_features
    assert head.fc2.out_features == (spec.desc_dim + two_confs) * 16 * 16
