"""Checkpoint reading without building a network: the constructor string's literals and the
reference defaults, the architecture inferred from official weight shapes, the state-dict checks,
the fingerprint and the small helpers that word the errors (`model.checkpoint`)."""

from __future__ import annotations

import argparse
import logging
import math
import pickle
import zipfile

import pytest
import torch

from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.model import checkpoint as ck
from mast3r_ros.core.model.checkpoint import (
    check_state_dict, fingerprint, infer_spec, load_checkpoint, parse_model_string,
    resolve_checkpoint, spec_from_kwargs, strip_wrapper_prefix,
)
from mast3r_ros.core.model.network import AsymmetricMASt3R
from mast3r_test_utils import OFFICIAL_MASt3R, TINY_SPEC

# ------------------------------------------------------------------ constructor string
def test_literals_lists_none_and_negative_numbers():
    cls, kw = parse_model_string("AsymmetricMASt3R(img_size=[512, 384], desc_conf_mode=None, "
                                 "a=-2, b=-0.5, c=(-inf, inf), d='x', e=True)")
    assert cls == "AsymmetricMASt3R"
    assert kw == {"img_size": (512, 384), "desc_conf_mode": None, "a": -2, "b": -0.5,
                  "c": (-math.inf, math.inf), "d": "x", "e": True}
    assert isinstance(kw["img_size"], tuple)


@pytest.mark.parametrize("text, what", [
    ("AsymmetricMASt3R(two_confs=-True)", "argument 'two_confs'"),  # -True is -1, not a bool
    ("AsymmetricMASt3R(a=-'x')", "argument 'a'"),
    ("AsymmetricMASt3R(**{'a': 1})", "'\\*\\*' arguments are not supported"),
    ("AsymmetricMASt3R(**kw)", "'\\*\\*' arguments are not supported"),
    ("AsymmetricMASt3R(1, a=2)", "positional arguments are not supported"),
    ("x.AsymmetricMASt3R(a=2)", "must look like 'ClassName"),
])
def test_refusals_name_what_is_wrong(text, what):
    with pytest.raises(CheckpointError, match=what):
        parse_model_string(text)


def test_reference_defaults_of_a_minimal_string():
    """What the reference constructors default to: RoPE100, MASt3R two_confs=False and its
    descriptor confidence = conf_mode (desc_conf_mode=None), conf_mode ('exp', 1, inf)."""
    spec = spec_from_kwargs(*parse_model_string("AsymmetricMASt3R()"))
    assert spec.arch == "mast3r" and spec.rope_freq == 100.0 and spec.desc_dim == 24
    assert spec.two_confs is False
    assert spec.desc_conf_mode == ("exp", 1, math.inf) == spec.conf_mode
    for text in ("AsymmetricMASt3R(conf_mode=('exp', 0, inf))",
                 "AsymmetricMASt3R(conf_mode=('exp', 0, inf), desc_conf_mode=None)"):
        spec = spec_from_kwargs(*parse_model_string(text))
        assert spec.conf_mode == spec.desc_conf_mode == ("exp", 0, math.inf), text
    spec = spec_from_kwargs(*parse_model_string(
        "AsymmetricMASt3R(conf_mode=('exp', 1, inf), desc_conf_mode=('exp', 0, inf))"))
    assert (spec.conf_mode, spec.desc_conf_mode) == (("exp", 1, math.inf), ("exp", 0, math.inf))
    assert spec_from_kwargs("AsymmetricMASt3R", {"pos_embed": "RoPE10"}).rope_freq == 10.0
    assert spec_from_kwargs("AsymmetricMASt3R", {"pos_embed": "RoPE"}).rope_freq == 100.0
    dust = spec_from_kwargs("AsymmetricCroCo3DStereo", {})
    assert (dust.arch, dust.desc_dim, dust.two_confs) == ("dust3r", 0, False)


def test_arch_follows_the_class_not_a_keyword(caplog):
    with caplog.at_level(logging.WARNING):
        spec = spec_from_kwargs("AsymmetricMASt3R", {"arch": "dust3r"})
    assert spec.arch == "mast3r" and "arch='dust3r'" in caplog.text


@pytest.mark.parametrize("cls, kwargs, what", [
    ("AsymmetricMASt3R", {"output_mode": "pts3d"}, "not supported for MASt3R"),
    ("AsymmetricCroCo3DStereo", {"output_mode": "pts3d+desc24"}, "not supported for DUSt3R"),
    ("AsymmetricCroCo3DStereo", {"head_type": "catmlp+dpt"}, "expected 'dpt'"),
    ("AsymmetricMASt3R", {"head_type": "dpt"}, "expected 'catmlp\\+dpt'"),
    # the network cannot run these (ModelSpec.validate): one CheckpointError, not a ValueError
    ("AsymmetricMASt3R", {"enc_embed_dim": 30, "enc_num_heads": 2}, "unsupported architecture"),
    ("AsymmetricMASt3R", {"dec_depth": 8}, "unsupported architecture.*dec_depth > 9"),
    ("AsymmetricMASt3R", {"depth_mode": ("exp", 0, math.inf)}, "unsupported architecture"),
])
def test_unsupported_kwargs_are_checkpoint_errors(cls, kwargs, what):
    with pytest.raises(CheckpointError, match=what):
        spec_from_kwargs(cls, kwargs)


@pytest.mark.parametrize("kwargs, what", [
    # a damaged constructor string: before, -32 passed the head-dim check (-32 % 2 == 0) and
    # torch ended the command with "Trying to create tensor with negative dimension" and a
    # traceback; 0 heads was a ZeroDivisionError, 32.0 a TypeError inside nn.Linear
    ({"enc_embed_dim": -32, "enc_num_heads": 2}, "enc_embed_dim must be a positive whole"),
    ({"dec_num_heads": 0}, "dec_num_heads must be a positive whole"),
    ({"enc_embed_dim": 32.0, "enc_num_heads": 2}, "enc_embed_dim must be a positive whole"),
    ({"enc_depth": -1}, "enc_depth must be a positive whole"),
    ({"dec_depth": True}, "dec_depth must be a positive whole"),
    ({"mlp_ratio": -4.0}, "mlp_ratio must be a positive number"),
])
def test_sizes_that_are_not_positive_whole_numbers_are_checkpoint_errors(kwargs, what):
    with pytest.raises(CheckpointError, match=f"unsupported architecture.*{what}"):
        spec_from_kwargs("AsymmetricMASt3R", kwargs)


# ------------------------------------------------------------------ architecture from shapes
def _shapes_only_state_dict(enc, enc_depth, dec, dec_depth, desc_dim=None):
    """Meta tensors with the official key names and shapes (no memory)."""
    def t(*shape):
        return torch.empty(shape, device="meta")
    sd = {"patch_embed.proj.weight": t(enc, 3, 16, 16), "decoder_embed.weight": t(dec, enc)}
    for i in range(enc_depth):
        sd[f"enc_blocks.{i}.norm1.weight"] = t(enc)
        sd[f"enc_blocks.{i}.attn.qkv.weight"] = t(3 * enc, enc)
    for i in range(dec_depth):
        sd[f"dec_blocks.{i}.norm1.weight"] = t(dec)
        sd[f"dec_blocks2.{i}.norm1.weight"] = t(dec)
    if desc_dim is not None:  # (desc + 1 confidence) channels per pixel of a 16x16 patch
        sd["downstream_head1.head_local_features.fc2.weight"] = t((desc_dim + 1) * 256,
                                                                  4 * (enc + dec))
    return sd


def test_bare_official_shapes_give_the_official_architecture():
    """ViT-L encoder (1024 wide, 24 blocks), ViT-B decoder (768, 12), 24-dim descriptors:
    exactly what the official constructor string says, heads 64 wide (16 and 12)."""
    want = spec_from_kwargs(*parse_model_string(OFFICIAL_MASt3R))
    got = infer_spec(_shapes_only_state_dict(1024, 24, 768, 12, desc_dim=24), "f.pth")
    assert got == want
    assert (got.enc_num_heads, got.dec_num_heads, got.desc_dim) == (16, 12, 24)
    dust = infer_spec(_shapes_only_state_dict(1024, 24, 768, 12), "f.pth")
    assert dust.arch == "dust3r" and (dust.enc_depth, dust.dec_depth) == (24, 12)
    assert (dust.enc_num_heads, dust.dec_num_heads) == (16, 12)
    # ViT-B encoder with a 512-wide decoder of 10 blocks: heads 12 and 8
    small = infer_spec(_shapes_only_state_dict(768, 12, 512, 10, desc_dim=16))
    assert (small.enc_num_heads, small.dec_num_heads, small.enc_depth, small.dec_depth,
            small.desc_dim) == (12, 8, 12, 10, 16)


# ------------------------------------------------------------------ state dicts
@pytest.fixture(scope="module")
def meta_model():
    """The tiny network's keys and shapes, without its weights (`check_state_dict` reads only
    those)."""
    with torch.device("meta"):
        return AsymmetricMASt3R(TINY_SPEC)


def _weights(model):
    """A real state dict for ``model``: zeros, the DPT alias twins sharing one tensor."""
    sd = {k: torch.zeros(v.shape) for k, v in model.state_dict().items()}
    for a, b in ck._alias_pairs(sd).items():
        sd[b] = sd[a]
    return sd


def test_dpt_aliases_filled_from_either_name(meta_model):
    sd = _weights(meta_model)
    pairs = ck._alias_pairs(sd)  # the DPT's layer{i}_rn is also stored as layer_rn.{i - 1}
    head = "downstream_head{}.dpt.scratch."
    assert pairs == {head.format(h) + f"layer{i}_rn.weight":
                     head.format(h) + f"layer_rn.{i - 1}.weight"
                     for h in (1, 2) for i in range(1, 5)}
    for n, a in enumerate(pairs):
        sd[a].fill_(n + 1)
    for drop in (set(pairs), set(pairs.values())):  # keep only one name of each twin
        out = check_state_dict(meta_model, {k: v for k, v in sd.items() if k not in drop}, "f")
        assert out.keys() == sd.keys()
        for n, (a, b) in enumerate(pairs.items()):
            assert torch.all(out[a] == n + 1) and torch.all(out[b] == n + 1), (a, b)


def test_alias_twins_must_be_equal_in_shape_and_values(meta_model):
    sd = _weights(meta_model)
    a = "downstream_head1.dpt.scratch.layer2_rn.weight"
    b = "downstream_head1.dpt.scratch.layer_rn.1.weight"
    for twin in (sd[a][:, :-1], sd[a] + 1):
        with pytest.raises(CheckpointError, match="aliased DPT weights .*layer2_rn.* differ"):
            check_state_dict(meta_model, dict(sd, **{b: twin}), "f")


def test_mask_token_and_second_decoder_kept_when_present_filled_when_absent(meta_model):
    sd = _weights(meta_model)
    sd["mask_token"] = torch.full(sd["mask_token"].shape, 7.0)
    sd["dec_blocks2.0.mlp.fc1.weight"] = torch.ones(sd["dec_blocks.0.mlp.fc1.weight"].shape)
    out = check_state_dict(meta_model, sd, "f")
    assert torch.all(out["mask_token"] == 7) and torch.all(out["dec_blocks2.0.mlp.fc1.weight"] == 1)
    # a CroCo-pretrain file: no mask token (zeros), no second decoder (a copy of the first)
    sd = {k: v for k, v in sd.items() if k != "mask_token" and not k.startswith("dec_blocks2.")}
    sd["dec_blocks.0.mlp.fc1.weight"] = torch.full(sd["dec_blocks.0.mlp.fc1.weight"].shape, 3.0)
    out = check_state_dict(meta_model, sd, "f")
    assert torch.all(out["mask_token"] == 0) and torch.all(out["dec_blocks2.0.mlp.fc1.weight"] == 3)


# ------------------------------------------------------------------ fingerprint
def test_fingerprint_covers_text_keys_and_values_not_key_order_or_storage_dtype():
    g = torch.Generator().manual_seed(0)
    sd = {"b": torch.randn(4000, generator=g), "a": torch.randn(3, 5, generator=g)}
    base = fingerprint(sd, "S")
    assert len(base) == 16 and int(base, 16) >= 0
    assert fingerprint(dict(reversed(list(sd.items()))), "S") == base
    assert fingerprint(sd, "T") != base  # same weights, another architecture string
    later = dict(sd, b=sd["b"].clone())
    later["b"][1:] += 1  # every value but the first
    assert fingerprint(later, "S") != base
    renamed = {"c" if k == "a" else k: v for k, v in sd.items()}
    assert fingerprint(renamed, "S") != base
    # bfloat16 weights (numpy has no bfloat16) are fingerprinted through float32, as they are
    # loaded: the same values in float32 are the same network
    bf = {k: v.to(torch.bfloat16) for k, v in sd.items()}
    assert fingerprint(bf, "S") == fingerprint({k: v.float() for k, v in bf.items()}, "S")


# ------------------------------------------------------------------ helpers of the errors
@pytest.mark.parametrize("n, text", [
    (1, "1 byte"), (2, "2 bytes"), (999_999, "999999 bytes"), (10**6, "1.0 MB"),
    (2_345_678, "2.3 MB"), (10**9, "1.00 GB"),
    (2_681_000_000, "2.68 GB")])
def test_size_text(n, text):
    assert ck._size_text(n) == text


def test_whole_pickle_tells_archives_and_whole_pickles_from_cut_or_foreign_bytes(tmp_path):
    from mast3r_ros.core.model.file_format import pickle_is_whole

    zpath = tmp_path / "a.pth"
    torch.save({"x": torch.zeros(3)}, zpath)
    assert zipfile.is_zipfile(zpath) and pickle_is_whole(str(zpath))
    damaged = tmp_path / "d.pth"  # the archive is whole, its data.pkl record is garbage
    with zipfile.ZipFile(zpath) as zi, zipfile.ZipFile(damaged, "w") as zo:
        for item in zi.infolist():
            zo.writestr(item, b"\x80\x02garbage" if item.filename.endswith("/data.pkl")
                        else zi.read(item))
    assert not pickle_is_whole(str(damaged))
    legacy, legacy_cut = tmp_path / "l.pth", tmp_path / "lc.pth"
    torch.save({"x": torch.zeros(3)}, legacy, _use_new_zipfile_serialization=False)
    legacy_cut.write_bytes(legacy.read_bytes()[: legacy.stat().st_size // 2])
    assert pickle_is_whole(str(legacy)) and not pickle_is_whole(str(legacy_cut))
    data = pickle.dumps({"model": list(range(100))}, protocol=4)
    whole, cut, junk = tmp_path / "w.pkl", tmp_path / "c.pkl", tmp_path / "j.bin"
    whole.write_bytes(data)
    cut.write_bytes(data[: len(data) // 2])
    junk.write_bytes(b"\xff\x00not a pickle")
    assert pickle_is_whole(str(whole))
    assert not pickle_is_whole(str(cut)) and not pickle_is_whole(str(junk))


def test_reader_reason_is_one_sentence_with_the_type_when_bare():
    assert ck._reader_reason(RuntimeError("bad zip. More text. And more")) == "bad zip"
    assert ck._reader_reason(KeyError(101)) == "KeyError: 101"
    assert ck._reader_reason(ValueError("")) == "ValueError"
    err = pickle.UnpicklingError("Weights only load failed. Please file an issue\n"
                                 "WeightsUnpickler error: Unsupported global: GLOBAL os.system")
    assert ck._reader_reason(err) == "Unsupported global: GLOBAL os.system"
    # a failed c10 check: its reason, not its place and condition ("... alloc_cpu.cpp:117] data")
    assert ck._reader_reason(RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you "
        "tried to allocate 2705326080 bytes.")) == ("DefaultCPUAllocator: not enough memory: you "
                                                   "tried to allocate 2705326080 bytes")
    assert ck._reader_reason(RuntimeError("[enforce fail at a.cpp:9] ptr != nullptr. ")
                             ) == "ptr != nullptr"


def test_module_prefix_removed_as_often_as_every_key_has_it():
    sd = {"module.module.a": 1, "module.module.b": 2}
    assert strip_wrapper_prefix(sd, "f") == {"a": 1, "b": 2}
    assert strip_wrapper_prefix({"module.a": 1, "b": 2}, "f") == {"module.a": 1, "b": 2}
    assert strip_wrapper_prefix({"b": 2, "module.a": 1}, "f") == {"b": 2, "module.a": 1}
    assert strip_wrapper_prefix({}, "f") == {}


def test_resolve_checkpoint_expands_home_and_variables(monkeypatch):
    monkeypatch.setenv("HOME", "/home/robot")
    monkeypatch.setenv("WEIGHTS", "/data/w")
    assert resolve_checkpoint("~/m.pth") == "/home/robot/m.pth"
    assert resolve_checkpoint("$WEIGHTS/m.pth") == "/data/w/m.pth"
    assert resolve_checkpoint("${WEIGHTS}/m.pth") == "/data/w/m.pth"
    assert resolve_checkpoint("") is None and resolve_checkpoint(None) is None


# ------------------------------------------------------------------ files refused before a build
def test_a_retrieval_checkpoint_is_named_as_such(tmp_path):
    path = tmp_path / "r.pth"
    torch.save({"model": {"w": torch.zeros(2)},
                "args": argparse.Namespace(nclusters=16, imsize=512)}, path)
    with pytest.raises(CheckpointError, match="is a MASt3R retrieval checkpoint, not the "
                                              "network: pass it as --retrieval-checkpoint"):
        load_checkpoint(str(path))
    # args without the constructor string: the weights are read as a bare state dict
    torch.save({"model": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(CheckpointError, match="has no 'patch_embed.proj.weight': not a "
                                              "MASt3R/DUSt3R model"):
        load_checkpoint(str(path))


def test_a_huggingface_folder_config_must_be_an_object(tmp_path):
    folder = _hf_folder(tmp_path / "hf")
    (tmp_path / "hf" / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="config.json: expected a JSON object"):
        load_checkpoint(folder)


def _hf_folder(path, **config):
    pytest.importorskip("safetensors")
    import json

    from safetensors.torch import save_file

    path.mkdir()
    save_file({"w": torch.zeros(2)}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def test_a_huggingface_config_names_its_class_or_the_output_mode_tells_it(tmp_path, caplog):
    """``_class_name`` picks the class (and, like every ``_`` key, is no constructor argument:
    no 'unknown argument' warning); without it, descriptors in output_mode mean MASt3R."""
    _, kw = parse_model_string(ck.model_string(TINY_SPEC))
    mast3r = {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}
    dust3r = dict(mast3r, head_type="dpt", output_mode="pts3d")
    for k in ("two_confs", "desc_conf_mode"):
        dust3r.pop(k)
    cases = [("a", dict(mast3r, _class_name="AsymmetricMASt3R", _diffusers_version="x"),
              "mast3r"), ("b", mast3r, "mast3r"),
             ("c", dict(dust3r, _class_name="AsymmetricCroCo3DStereo"), "dust3r"),
             ("d", dust3r, "dust3r")]
    for name, config, arch in cases:
        with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.model.checkpoint"):
            sd, spec, layout, _ = ck._read_huggingface(_hf_folder(tmp_path / name, **config))
        assert (spec.arch, layout, set(sd)) == (arch, "huggingface", {"w"}), name
        assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_a_folder_without_the_huggingface_files_names_the_checkpoint_in_it(tmp_path):
    (tmp_path / "MASt3R.pth").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="no config.json .*it holds MASt3R.pth: give "
                                              "that file"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "MASt3R.pth").unlink()
    with pytest.raises(CheckpointError, match="give the checkpoint file \\(.pth\\) instead"):
        load_checkpoint(str(tmp_path))


def test_a_patch_size_other_than_16_is_refused_not_ignored(tmp_path):
    """patch_size was ignored: a patch-8 file ran as patch 16, or was refused for a weight shape
    'the architecture in the file needs' though the file said 8. 16, as a number or a pair, is
    what every official file says and passes without a warning."""
    for ok in (16, (16, 16)):
        assert spec_from_kwargs("AsymmetricMASt3R", {"patch_size": ok}).arch == "mast3r"
    with pytest.raises(CheckpointError, match="patch_size=8 is not supported.*16-pixel"):
        spec_from_kwargs("AsymmetricMASt3R", {"patch_size": 8})
    path = tmp_path / "patch8.pth"
    text = OFFICIAL_MASt3R.replace("img_size", "patch_size=8, img_size")
    torch.save({"model": {"patch_embed.proj.weight": torch.zeros(4, 3, 8, 8)},
                "args": argparse.Namespace(model=text)}, path)
    with pytest.raises(CheckpointError, match=r"patch8\.pth: its constructor string.*patch_size=8"):
        ck.load_checkpoint(str(path))
    # a bare state dict: the patch read from the patch embedding's kernel
    sd = _shapes_only_state_dict(32, 2, 32, 10, desc_dim=24)
    sd["patch_embed.proj.weight"] = torch.empty((32, 3, 8, 8), device="meta")
    with pytest.raises(CheckpointError, match="bare.pth: its weights' shapes.*patch_size=8"):
        ck.infer_spec(sd, "bare.pth")
    assert ck.infer_spec(_shapes_only_state_dict(32, 2, 32, 10, desc_dim=24)).desc_dim == 24


def test_a_declared_architecture_the_weights_do_not_fit_names_both_sides():
    """A constructor string (or config.json) that disagrees with whole weights: before, the
    first missing or misshapen key and 'the file is for another architecture', no fix; now the
    fields that differ, as declared and as the weights' shapes show them, and 'download it
    again' (load_checkpoint end to end: test_checkpoint's test_wrong_architecture_...)."""
    import dataclasses

    from mast3r_ros.core.model.checkpoint_arch import config_weights_mismatch

    tiny = dataclasses.replace(TINY_SPEC, desc_dim=24, two_confs=True)
    with torch.device("meta"):
        sd = AsymmetricMASt3R(tiny).state_dict()
    # one name of each DPT alias pair, as safetensors stores them (meta tensors: no torch.equal)
    sd = {k: v for k, v in sd.items() if k not in ck._alias_pairs(sd).values()}
    said = dataclasses.replace(tiny, dec_depth=12)
    err = CheckpointError("first key")
    got = str(config_weights_mismatch(err, sd, said, "official", "edited.pth"))
    assert got.startswith("edited.pth: its constructor string (args.model) says dec_depth=12 but "
                          "its weights are of dec_depth=10: ") and "download" in got
    got = str(config_weights_mismatch(err, sd, said, "huggingface", "hf"))
    assert got.startswith("hf: its config.json says dec_depth=12 but its weights are of "
                          "dec_depth=10")
    # a bare state dict declares nothing; weights that are no whole network: the first key
    assert config_weights_mismatch(err, sd, said, "state_dict", "x.pth") is err
    cut = {k: v for k, v in sd.items() if k != "enc_norm.bias"}
    assert config_weights_mismatch(err, cut, said, "official", "x.pth") is err
    assert config_weights_mismatch(err, sd, tiny, "official", "x.pth") is err  # no difference
