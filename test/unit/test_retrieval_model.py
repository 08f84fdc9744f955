"""Retrieval head: safe checkpoint loading, every head option, selection as the reference."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from retrieval_test_utils import head_state_dict, write_codebook, write_retrieval_checkpoint

from mast3r_ros.core.errors import CheckpointError, InputError
from mast3r_ros.core.retrieval_model import (AsmkRetriever, default_codebook_path,
                                             load_retrieval_head, local_features_numpy)


def test_fixture_selected_features_match_reference(rt, rt_out):
    head, ident = load_retrieval_head(str(rt / "ckpt.pth"), enc_dim=32)
    assert head.spec.prewhiten and head.spec.hdims == () and not head.spec.postwhiten
    assert len(ident) == 16
    for i in range(6):
        feats, attn, idx = local_features_numpy(head, rt_out[f"enc_out_{i}"])
        ref_idx = rt_out[f"idx_{i}"]
        assert feats.shape == rt_out[f"feats_{i}"].shape == (300, 32)
        assert set(idx.tolist()) == set(ref_idx.tolist())
        # rows matched by token index (order among exactly equal attention may differ)
        order = {t: r for r, t in enumerate(idx.tolist())}
        rows = [order[t] for t in ref_idx.tolist()]
        np.testing.assert_allclose(feats[rows], rt_out[f"feats_{i}"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(attn[rows], rt_out[f"attn_{i}"], rtol=0, atol=1e-6)
        assert np.all(np.diff(attn) <= 0)
        all_feats, all_attn = head.all_tokens(torch.from_numpy(rt_out[f"enc_out_{i}"]))
        np.testing.assert_allclose(all_feats.numpy(), rt_out[f"featall_{i}"], atol=1e-6)
        np.testing.assert_allclose(all_attn.numpy(), rt_out[f"attn_all_{i}"], atol=1e-6)
        g = head.global_descriptor(torch.from_numpy(rt_out[f"enc_out_{i}"])).numpy()
        np.testing.assert_allclose(g, rt_out[f"global_{i}"], atol=1e-6)


def _reference_formula(enc, sd, hdims, residual, postwhiten):
    """Section 12.3 evaluated plainly in float64 numpy (independent of the module)."""
    e = enc.astype(np.float64)
    x = (e - sd["prewhiten.m"].numpy()) @ sd["prewhiten.p"].numpy()
    x = x.astype(np.float32).astype(np.float64)
    h = x
    widths = [int(v) for v in hdims.split("_")] if hdims else []
    for i, _ in enumerate(widths):
        w = sd[f"projector.{3 * i}.weight"].double().numpy()
        b = sd[f"projector.{3 * i}.bias"].double().numpy()
        h = h @ w.T + b
        if i < len(widths) - 1:
            mu, var = h.mean(1, keepdims=True), h.var(1, keepdims=True)
            h = (h - mu) / np.sqrt(var + 1e-5) * sd[f"projector.{3 * i + 1}.weight"].double(
            ).numpy() + sd[f"projector.{3 * i + 1}.bias"].double().numpy()
            h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
    if residual:
        h = h + x
    attn = np.linalg.norm(h, axis=1)
    if postwhiten:
        h = (h - sd["postwhiten.m"].numpy()) @ sd["postwhiten.p"].numpy()
    return h, attn


@pytest.mark.parametrize("hdims,residual,postwhiten,nfeat,k", [
    ("48", False, None, 300, 192),          # projector only; nfeat > N -> all tokens
    ("64_32", True, 0, 50, 50),             # two layers, residual, post-whitening
    ("24", False, 1, -0.25, 48),            # fractional nfeat: int(0.25 * 192)
])
def test_head_options_follow_the_formula(tmp_path, hdims, residual, postwhiten, nfeat, k):
    sd = head_state_dict(32, hdims, prewhiten=True, postwhiten=postwhiten is not None, seed=3)
    path = write_retrieval_checkpoint(str(tmp_path / "r.pth"), 32, hdims=hdims,
                                      residual=residual, postwhiten=postwhiten, nfeat=nfeat,
                                      sd=sd, extra_args={"lr": 0.1, "unknown_future": "x"})
    head, _ = load_retrieval_head(path, enc_dim=32)
    enc = np.random.default_rng(0).standard_normal((192, 32)).astype(np.float32)
    feats, attn, idx = local_features_numpy(head, enc)
    ref_h, ref_attn = _reference_formula(enc, sd, hdims, residual, postwhiten is not None)
    assert len(idx) == k
    ref_idx = np.argsort(-ref_attn, kind="stable")[:k]
    assert set(idx.tolist()) == set(ref_idx.tolist())
    np.testing.assert_allclose(attn, ref_attn[idx], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats, ref_h[idx], rtol=1e-4, atol=1e-4)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_retrieval_head(str(tmp_path / "missing.pth"), 32)
    for field, value in (("featweights", "gem"), ("imsize", 224)):
        bad = write_retrieval_checkpoint(str(tmp_path / "f.pth"), 32, extra_args={field: value})
        with pytest.raises(CheckpointError, match=field):
            load_retrieval_head(bad, 32)
    p = write_retrieval_checkpoint(str(tmp_path / "r.pth"), 32)
    with pytest.raises(CheckpointError, match="shape"):
        load_retrieval_head(p, 64)  # a head for another backbone width
    sd = head_state_dict(32)
    sd["projector.0.weight"] = torch.zeros(4, 32)
    p = write_retrieval_checkpoint(str(tmp_path / "x.pth"), 32, sd=sd)
    with pytest.raises(CheckpointError, match="unexpected key"):
        load_retrieval_head(p, 32)
    for nfeat in (0, -2, 1.5, "300"):
        p = write_retrieval_checkpoint(str(tmp_path / "n.pth"), 32, nfeat=nfeat)
        with pytest.raises(CheckpointError, match="nfeat"):
            load_retrieval_head(p, 32)


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod."])
def test_a_head_saved_from_a_wrapped_model_loads_like_the_plain_one(tmp_path, prefix):
    """A retrieval head fine-tuned under DataParallel/DDP keeps 'module.' on every key: it
    was refused as "missing key 'prewhiten_m' ...: the args and the weights disagree", which
    sent the user to the args; the network's loader already strips it (ckpt-variants)."""
    sd = head_state_dict(32, "48", seed=5)
    plain = write_retrieval_checkpoint(str(tmp_path / "plain.pth"), 32, hdims="48", sd=sd)
    wrapped = write_retrieval_checkpoint(str(tmp_path / "ddp.pth"), 32, hdims="48",
                                         sd={prefix + k: v for k, v in sd.items()})
    (head_a, id_a), (head_b, id_b) = (load_retrieval_head(p, 32) for p in (plain, wrapped))
    assert id_a == id_b
    enc = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)
    for a, b in zip(local_features_numpy(head_a, enc), local_features_numpy(head_b, enc)):
        np.testing.assert_array_equal(a, b)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = str(tmp_path / "evil.pth")
    torch.save({"model": head_state_dict(32), "args": _RunsCode()}, path)
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        load_retrieval_head(path, 32)


def test_truncated_checkpoint_is_one_complete_line(tmp_path):
    path = write_retrieval_checkpoint(str(tmp_path / "r.pth"), 32)
    with open(path, "rb") as fh:
        data = fh.read()
    with open(path, "wb") as fh:
        fh.write(data[:100])
    with pytest.raises(CheckpointError) as err:
        load_retrieval_head(path, 32)
    assert str(err.value) == (
        f"{path}: cannot read the retrieval checkpoint (100 bytes, a zip archive cut short: its "
        "central directory, the table of contents at its end, is missing); the file is truncated "
        "or not a checkpoint: download or copy it again")


def test_codebook_default_name_rule():
    assert default_codebook_path(os.path.join("d", "X_retrieval_trainingfree.pth")) == \
        os.path.join("d", "X_retrieval_codebook.pkl")
    assert default_codebook_path("ckpt.pth") == "_codebook.pkl"


def test_retriever_api_build_save_load_query(tmp_path):
    rng = np.random.default_rng(0)
    ck = write_retrieval_checkpoint(str(tmp_path / "m_retrieval_trainingfree.pth"), 32,
                                    nclusters=16)
    write_codebook(str(tmp_path / "m_retrieval_codebook.pkl"),
                   rng.standard_normal((16, 32)).astype(np.float32), 16)
    r = AsmkRetriever.from_files(ck, enc_dim=32)  # codebook found by the naming rule
    encs = [rng.standard_normal((192, 32)).astype(np.float32) for _ in range(4)]
    index = r.build_index(encs)
    index.save(str(tmp_path / "asmk.npz"))
    from mast3r_ros.core.asmk import AsmkIndex

    loaded = AsmkIndex.load(str(tmp_path / "asmk.npz"))
    assert loaded.identity == r.identity
    s = r.scores(loaded, encs[2])
    assert s.shape == (4,) and s.dtype == np.float64 and int(np.argmax(s)) == 2
    np.testing.assert_array_equal(s, r.scores(index, encs[2]))
    # batched codebook searches (build_index, build-map) = one search per keyframe
    one_by_one = [r.database_vector(e) for e in encs]
    for batch in (1, 3, 64):
        for a, b in zip(r.database_vectors(encs, batch), one_by_one, strict=True):
            np.testing.assert_array_equal(a.words, b.words)
            np.testing.assert_array_equal(a.codes, b.codes)
    assert r.database_vectors([], 2) == []
    ids, best = r.top_k(loaded, encs[2], 3)  # numpy/faiss on the CPU
    np.testing.assert_array_equal(ids, np.argsort(-s, kind="stable")[:3])
    np.testing.assert_array_equal(best, s[ids])
    loaded.backend = "torch"  # what 'auto' picks on a GPU; the same ops here on the CPU
    np.testing.assert_array_equal(r.top_k(loaded, encs[2], 3)[0], ids)
    np.testing.assert_allclose(r.top_k(loaded, encs[2], 3)[1], best, rtol=1e-12, atol=0)
    with pytest.raises(CheckpointError, match="nclusters"):
        write_codebook(str(tmp_path / "other.pkl"),
                       rng.standard_normal((16, 32)).astype(np.float32), "16")
        AsmkRetriever.from_files(ck, str(tmp_path / "other.pkl"), enc_dim=32)
    with pytest.raises(InputError, match="expects encoder tokens"):
        r.local_features(np.zeros((10, 8), np.float32))


@pytest.mark.parametrize("model", ["AsymmetricMASt3R(enc_depth=24)",
                                   "AsymmetricCroCo3DStereo (enc_depth=24)"])
def test_a_network_checkpoint_is_named_as_such(tmp_path, model):
    """A MASt3R or DUSt3R network given as the retrieval head is told apart by its
    constructor string's class, both by the loader and by the file-kind check."""
    import argparse

    from mast3r_ros.core.retrieval_model import checkpoint_kind

    path = str(tmp_path / "net.pth")
    torch.save({"model": {}, "args": argparse.Namespace(model=model)}, path)
    assert checkpoint_kind(path) == "network"
    with pytest.raises(CheckpointError, match="is a MASt3R network checkpoint, not a "
                                              "retrieval head: pass it as --checkpoint"):
        load_retrieval_head(path, 32)
    # a string that only mentions a network is not one
    torch.save({"model": {}, "args": argparse.Namespace(model="MyHead('MASt3R features')")},
               path)
    assert checkpoint_kind(path) is None


def test_a_checkpoint_or_a_folder_given_as_the_codebook_is_named_as_such(tmp_path):
    """`--codebook tiny.pth` read "not a readable pickle (UnpicklingError ...); the file is
    truncated or corrupt", `--codebook DIR` "codebook not found: DIR" (a fresh user's finds)."""
    from mast3r_ros.core.retrieval_model import check_retrieval_files

    ck = write_retrieval_checkpoint(str(tmp_path / "r.pth"), 32)
    with pytest.raises(CheckpointError) as e:
        check_retrieval_files(ck, ck)
    assert str(e.value) == (
        f"codebook {ck} is a PyTorch checkpoint (.pth, a zip archive), not the ASMK codebook "
        "(*_retrieval_codebook.pkl, a pickle): pass the codebook file (--codebook, or "
        "codebook= in Python)")
    with pytest.raises(CheckpointError) as e:
        check_retrieval_files(ck, str(tmp_path))
    assert str(e.value) == (f"codebook {tmp_path} is a folder, not a file: pass the "
                            "*_retrieval_codebook.pkl file (--codebook, or codebook= in Python)")
    for cb in (ck, str(tmp_path)):  # the loader says the same
        with pytest.raises(CheckpointError, match="is a (PyTorch checkpoint|folder)"):
            AsmkRetriever.from_files(ck, cb, enc_dim=32)


def test_top_k_refuses_a_negative_or_non_integer_k_and_gives_none_for_zero(tmp_path):
    """top_k(index, enc, -1) gave two empty arrays without a word (a sign error upstream
    would have read as 'no similar keyframe')."""
    rng = np.random.default_rng(0)
    ck = write_retrieval_checkpoint(str(tmp_path / "m_retrieval_trainingfree.pth"), 32,
                                    nclusters=16)
    write_codebook(str(tmp_path / "m_retrieval_codebook.pkl"),
                   rng.standard_normal((16, 32)).astype(np.float32), 16)
    r = AsmkRetriever.from_files(ck, enc_dim=32)
    encs = [rng.standard_normal((192, 32)).astype(np.float32) for _ in range(3)]
    index = r.build_index(encs)
    for k in (-1, 2.5, True, "3"):
        with pytest.raises(InputError, match="top_k: k must be an integer >= 0"):
            r.top_k(index, encs[0], k)
    ids, best = r.top_k(index, encs[0], 0)                 # the docstring's ids (<= k,)
    assert ids.shape == (0,) and ids.dtype == np.int64 and best.shape == (0,)
    assert r.top_k(index, encs[0], np.int64(5))[0].shape == (3,)   # at most the index's size
