"""Checkpoint loading: every accepted layout, safety against crafted files, clear refusals."""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import math
import os
import pickle
import re
import warnings
import zipfile

import pytest
import torch

from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.model.checkpoint import (
    load_checkpoint, model_string, parse_model_string, spec_from_kwargs,
)
from mast3r_test_utils import (OFFICIAL_MASt3R, TINY_SPEC, random_model, write_checkpoint,
                              write_tiny_checkpoint)

@pytest.fixture(scope="module")
def tiny():
    """The tiny network of `tiny_ckpt` (seed 0): that file is its official checkpoint."""
    return random_model(TINY_SPEC, seed=0)


@pytest.fixture(scope="module")
def tiny_official(tiny_ckpt):
    """``tiny`` in the official layout, for tests that only read the file: the session's
    `tiny_ckpt` (each write of the ~168 MB file cost ~1.5 s of CPU). Read only."""
    return tiny_ckpt


@pytest.fixture(scope="module")
def tiny_hf(tiny, tmp_path_factory):
    """``tiny`` as a Hugging Face folder, written once; `_hf_weights` copies it."""
    folder = tmp_path_factory.mktemp("hf_once") / "hf"
    write_checkpoint(str(folder), tiny, "huggingface")
    return folder


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------ model string
def test_parse_official_string():
    cls, kw = parse_model_string(OFFICIAL_MASt3R)
    assert cls == "AsymmetricMASt3R"
    assert kw["depth_mode"] == ("exp", -math.inf, math.inf)
    spec = spec_from_kwargs(cls, kw)
    assert (spec.enc_embed_dim, spec.dec_depth, spec.desc_dim, spec.two_confs) == (1024, 12, 24,
                                                                                  True)
    assert spec.desc_conf_mode == ("exp", 0, math.inf)


def test_parse_any_order_spacing_and_unknown_kwargs(caplog):
    text = ("AsymmetricMASt3R( enc_depth=24,dec_depth=12, freeze='encoder', landscape_only=False,"
            " new_thing=-3.5, output_mode='pts3d+desc24', two_confs=True )")
    with caplog.at_level(logging.WARNING):
        spec = spec_from_kwargs(*parse_model_string(text))
    assert spec.enc_depth == 24 and spec.dec_depth == 12
    assert "new_thing" in caplog.text and "freeze" not in caplog.text


def test_model_string_round_trip():
    for spec in (TINY_SPEC, dataclasses.replace(TINY_SPEC, arch="dust3r", desc_dim=0,
                                                two_confs=False)):
        assert spec_from_kwargs(*parse_model_string(model_string(spec))) == spec


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "AsymmetricMASt3R(enc_depth=__import__('os').getpid())",
    "AsymmetricMASt3R(enc_depth=(lambda: 1)())",
    "AsymmetricMASt3R(enc_depth=1+1)",
    "AsymmetricMASt3R(enc_depth=os.sep)",
    "AsymmetricMASt3R(**{'a': 1})",
    "AsymmetricMASt3R(1)",
    "not python at all (",
])
def test_model_string_never_evaluated(text):
    with pytest.raises(CheckpointError):
        parse_model_string(text)


def test_unknown_class_and_unsupported_heads():
    with pytest.raises(CheckpointError, match="unknown model class 'Evil'"):
        spec_from_kwargs("Evil", {})
    with pytest.raises(CheckpointError, match="head_type"):
        spec_from_kwargs("AsymmetricCroCo3DStereo", {"head_type": "linear"})
    with pytest.raises(CheckpointError, match="pos_embed"):
        spec_from_kwargs("AsymmetricMASt3R", {"pos_embed": "cosine"})


# ------------------------------------------------------------------ layouts
def _guess_warnings(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "attention heads" in r.getMessage()]


@pytest.mark.compat  # torch 2.1's torch.load (no safe_globals) reads every layout alike
@pytest.mark.parametrize("layout", ["official", "state_dict", "huggingface"])
def test_every_layout_loads_the_same_weights(tmp_path, tiny, layout, caplog, request):
    path = str(tmp_path / ("hf" if layout == "huggingface" else "ckpt.pth"))
    if layout == "official":
        path = request.getfixturevalue("tiny_official")
    elif layout == "huggingface":
        path = str(request.getfixturevalue("tiny_hf"))
    else:
        write_checkpoint(path, tiny, layout)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.model.checkpoint"):
        model, info = load_checkpoint(path)
    assert info.layout == layout and _same_weights(model, tiny)
    guesses = _guess_warnings(caplog)
    if layout == "state_dict":
        # No constructor string: heads inferred as 64 wide (official files), which is wrong for
        # the tiny network (16 wide): one warning names the file, the heads assumed and the fix
        assert (info.spec.enc_num_heads, info.spec.dec_num_heads) == (1, 1)
        assert len(guesses) == 1, guesses
        assert guesses[0].startswith(f"{path}: a bare state dict")
        assert "enc_num_heads=1, dec_num_heads=1" in guesses[0]
        assert "official checkpoint file" in guesses[0] and "config.json" in guesses[0]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.model.checkpoint"):
            model, info = load_checkpoint(path, bare_model_string=model_string(TINY_SPEC))
        assert not _guess_warnings(caplog)  # given, not guessed
    else:
        assert not guesses, guesses
    assert info.spec == TINY_SPEC


def test_official_file_structure(tiny_official):
    """{'model', 'args'} with an argparse.Namespace, DPT alias keys both present."""
    path = tiny_official
    if hasattr(torch.serialization, "safe_globals"):  # torch >= 2.4
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, weights_only=True)
    else:  # the file was written just above
        obj = torch.load(path, weights_only=False)
    assert set(obj) == {"model", "args"} and isinstance(obj["args"], argparse.Namespace)
    sd = obj["model"]
    a = "downstream_head1.dpt.scratch.layer3_rn.weight"
    b = "downstream_head1.dpt.scratch.layer_rn.2.weight"
    assert a in sd and b in sd and torch.equal(sd[a], sd[b])


def test_identity_depends_on_weights(tmp_path, tiny_official):
    p1, p2 = tiny_official, str(tmp_path / "b.pth")
    write_checkpoint(p2, random_model(TINY_SPEC, seed=4))
    i1, i1b, i2 = load_checkpoint(p1)[1], load_checkpoint(p1)[1], load_checkpoint(p2)[1]
    assert i1.identity == i1b.identity != i2.identity


def test_restricted_unpickler_path(tiny_official, tiny):
    """The torch < 2.4 path (no safe_globals) loads official files too."""
    model, _ = load_checkpoint(tiny_official, force_restricted_unpickler=True)
    assert _same_weights(model, tiny)


def test_dust3r_checkpoint_loads(tmp_path):
    path = write_tiny_checkpoint(str(tmp_path / "d.pth"), arch="dust3r")
    model, info = load_checkpoint(path)
    assert info.spec.arch == "dust3r" and not info.spec.has_descriptors
    assert not any("head_local_features" in k for k in model.state_dict())


def test_crocopretrain_without_second_decoder_copies_first(tmp_path, tiny):
    sd = {k: v for k, v in tiny.state_dict().items() if not k.startswith("dec_blocks2.")}
    path = str(tmp_path / "c.pth")
    torch.save({"model": sd, "args": argparse.Namespace(model=model_string(TINY_SPEC))}, path)
    model, _ = load_checkpoint(path)
    assert torch.equal(model.dec_blocks2[3].mlp.fc1.weight, tiny.dec_blocks[3].mlp.fc1.weight)


# ------------------------------------------------------------------ refusals
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("restricted", [False, True])
def test_malicious_pickle_never_runs(tmp_path, tiny, restricted):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": tiny.state_dict(), "args": _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="refused to unpickle") as err:
        load_checkpoint(str(path), force_restricted_unpickler=restricted)
    assert not marker.exists()
    # torch's reason, without its advice to re-run with weights_only=False
    assert "system" in _one_line(err) and "weights_only" not in str(err.value)
    # A legacy (non-zip) pickle stream with the same payload is refused as well -- as such, not
    # as a truncated download (torch's weights-only reader stops at the protocol-4 FRAME opcode,
    # before the global), and without torch's warning about the pickle protocol.
    legacy = tmp_path / "evil_legacy.pth"
    with open(legacy, "wb") as fh:
        pickle.dump({"args": _Evil(marker)}, fh, protocol=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(str(legacy), force_restricted_unpickler=restricted)
    assert not marker.exists()
    text = _one_line(err)
    assert text.startswith(f"{legacy}: refused to unpickle (") and "truncated" not in text
    assert "outside a plain checkpoint" in text and "weights_only" not in text
    assert not [str(w.message) for w in caught if "pickle protocol" in str(w.message)]


def test_refusal_names_the_unpicklers_reason_not_torchs_advice(tmp_path):
    """A protocol-2 pickle of a checkpoint-like dict holding a numpy array: torch >= 2.6 puts
    two lines of weights_only advice before the unpickler's reason; the one-line refusal quotes
    the reason (the global it refused)."""
    import argparse

    import numpy as np

    path = tmp_path / "pk_p2.pth"
    with open(path, "wb") as fh:
        pickle.dump({"model": {"a": np.zeros(10)}, "args": argparse.Namespace(model="x")}, fh,
                    protocol=2)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    text = _one_line(err)
    assert text.startswith(f"{path}: refused to unpickle (")
    reason = text.split("refused to unpickle (", 1)[1].split("):", 1)[0]
    assert "global" in reason.lower() and "PyTorch 2.6" not in reason, reason


@pytest.mark.parametrize("protocol", [2, 4])
def test_harmless_plain_pickle_is_named_not_called_crafted(tmp_path, protocol):
    """The ASMK codebook .pkl (or any pickle.dump of plain data) given as a checkpoint says what
    it is and where it goes, with no talk of crafted code; the file is still not loaded."""
    import numpy as np

    from retrieval_test_utils import write_codebook

    cb = write_codebook(str(tmp_path / "x_retrieval_codebook.pkl"),
                        np.eye(4, 8, dtype=np.float32), protocol=protocol)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(cb)
    text = _one_line(err)
    assert text.startswith(f"{cb}: this is an ASMK codebook (a plain pickle), not a PyTorch "
                           "checkpoint: pass it as --codebook"), text
    assert "crafted" not in text and "refused" not in text
    plain = tmp_path / "plain.pkl"
    with open(plain, "wb") as fh:
        pickle.dump({"a": 1}, fh, protocol=protocol)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(plain))
    text = _one_line(err)
    assert text.startswith(f"{plain}: a plain Python pickle (pickle.dump of a dict), not a "
                           "PyTorch checkpoint"), text
    assert "crafted" not in text and "refused" not in text and "codebook" not in text


def test_truncated_plain_pickle_is_truncated_not_refused(tmp_path, tiny):
    """A plain pickle.dump file cut short fails in torch's weights-only reader exactly as a
    whole one does ('Unsupported operand'): only a whole pickle is called refused."""
    data = pickle.dumps({"model": {"w": list(range(1000))}}, protocol=4)
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    text = _one_line(err)
    assert text.startswith(f"{path}: cannot read the checkpoint (") and "truncated" in text
    assert "refused" not in text and "crafted" not in text


def _with_data_pkl(src, dst, data):
    """A copy of the torch.save archive ``src`` at ``dst`` with its data.pkl record replaced."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
        for item in zi.infolist():
            zo.writestr(item, data if item.filename.endswith("/data.pkl") else zi.read(item))


# GLOBAL os.system, BINUNICODE 'true', TUPLE1, REDUCE, STOP: built from opcodes, never loaded
_CALLS_OS_SYSTEM = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R."


def test_damaged_or_cut_checkpoint_is_not_called_crafted(tmp_path):
    """A torch.save archive whose data.pkl is garbage ("Unsupported operand 103" in torch's
    reader) and a legacy torch.save file cut in half (a global's name cut short) are damaged,
    said in our words; a whole pickle naming os.system is still refused as crafted."""
    good = tmp_path / "good.pth"
    torch.save({"w": torch.zeros(2)}, good)
    damaged = tmp_path / "damaged.pth"
    _with_data_pkl(good, damaged, b"\x80\x02garbage")
    legacy = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(legacy.read_bytes()[: legacy.stat().st_size // 2])
    for path, found in ((damaged, "a torch.save zip archive with a damaged record"),
                        (cut, "a legacy torch.save file, not a zip archive, that cannot be "
                              "read to its end")):
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(str(path))
        assert _one_line(err) == (
            f"{path}: cannot read the checkpoint ({path.stat().st_size} bytes, {found}); the "
            "file is truncated or not a checkpoint: download or copy it again")
    evil_zip = tmp_path / "evil_zip.pth"
    _with_data_pkl(good, evil_zip, _CALLS_OS_SYSTEM)
    evil_plain = tmp_path / "evil_plain.pth"
    evil_plain.write_bytes(_CALLS_OS_SYSTEM)
    for path in (evil_zip, evil_plain):
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(str(path))
        text = _one_line(err)
        assert text.startswith(f"{path}: refused to unpickle (") and "os.system" in text, text
        assert "crafted to run code" in text and "truncated" not in text


def test_truncated_file(tmp_path, tiny):
    buf = io.BytesIO()
    torch.save({"model": tiny.state_dict(), "args": argparse.Namespace(
        model=model_string(TINY_SPEC))}, buf)
    path = tmp_path / "trunc.pth"
    half = len(buf.getvalue()) // 2
    path.write_bytes(buf.getvalue()[:half])
    with pytest.raises(CheckpointError, match="truncated") as err:
        load_checkpoint(str(path))
    assert zipfile.is_zipfile(io.BytesIO(buf.getvalue()))
    # one complete line in our words (torch's miniz text ran on for three sentences): the
    # size, what was found, what to do
    assert _one_line(err) == (
        f"{path}: cannot read the checkpoint ({half / 1e6:.1f} MB, a zip archive cut short: its "
        "central directory, the table of contents at its end, is missing); the file is truncated "
        "or not a checkpoint: download or copy it again")


@pytest.mark.parametrize("data, size", [
    (b"P", "1 byte"),  # torch's weights-only reader fails: no "crafted to run code" scare
    (b"hello, not a checkpoint " * 10, "240 bytes"),  # a bare KeyError: its type is named
])
def test_unreadable_files_are_not_called_crafted(tmp_path, data, size):
    path = tmp_path / "x.pth"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    head, tail = f"{path}: cannot read the checkpoint ({size}, ", ("); the file is truncated or "
                                                                   "not a checkpoint: download "
                                                                   "or copy it again")
    text = _one_line(err)
    assert text.startswith(head) and text.endswith(tail)
    reason = text[len(head):-len(tail)]  # torch's words differ between versions
    assert " " in reason and "weights_only" not in reason and "." not in reason


def test_missing_file_points_to_readme(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*README.*with --checkpoint"):
        load_checkpoint(str(tmp_path / "nope.pth"))
    with pytest.raises(CheckpointError, match="not found.*README.*as CKPT") as err:
        load_checkpoint(str(tmp_path / "nope.pth"), passed_as="as CKPT")
    assert "--checkpoint" not in str(err.value)


def test_wrong_architecture_names_first_offender(tmp_path, tiny):
    sd = tiny.state_dict()
    bigger = model_string(dataclasses.replace(TINY_SPEC, enc_embed_dim=64))
    path = str(tmp_path / "w.pth")
    torch.save({"model": sd, "args": argparse.Namespace(model=bigger)}, path)
    # the declared architecture and the weights' disagree: both named (test_checkpoint_parsing)
    with pytest.raises(CheckpointError, match="says enc_embed_dim=64 but its weights are of "
                                              "enc_embed_dim=32"):
        load_checkpoint(path)
    missing = {k: v for k, v in sd.items() if k != "enc_norm.bias"}
    torch.save({"model": missing, "args": argparse.Namespace(model=model_string(TINY_SPEC))},
               path)
    with pytest.raises(CheckpointError, match="missing key 'enc_norm.bias'"):
        load_checkpoint(path)
    extra = dict(sd, **{"enc_blocks.9.norm1.weight": torch.zeros(32)})
    torch.save({"model": extra, "args": argparse.Namespace(model=model_string(TINY_SPEC))},
               path)
    with pytest.raises(CheckpointError, match="unexpected key 'enc_blocks.9.norm1.weight'"):
        load_checkpoint(path)


def test_diverging_dpt_aliases_refused(tmp_path, tiny):
    sd = {k: v.clone() for k, v in tiny.state_dict().items()}
    sd["downstream_head2.dpt.scratch.layer_rn.0.weight"] += 1
    path = str(tmp_path / "a.pth")
    torch.save({"model": sd, "args": argparse.Namespace(model=model_string(TINY_SPEC))}, path)
    with pytest.raises(CheckpointError, match="aliased DPT weights"):
        load_checkpoint(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="expected"):
        load_checkpoint(str(path))
    # a foreign model's weights: the message names the file
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    assert _one_line(err).startswith(f"{path}: the state dict has no 'patch_embed.proj.weight'"
                                     ": not a MASt3R/DUSt3R model")
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(str(hf))


# ------------------------------------------------------------------ issue 8: variants, bad files
def _wrapped(sd):
    return {"module." + k: v for k, v in sd.items()}


@pytest.mark.parametrize("layout", ["official", "state_dict", "huggingface"])
def test_ddp_module_prefix_stripped_with_a_note(tmp_path, tiny, layout, caplog):
    from mast3r_ros.core.model import network

    class _Wrapper(torch.nn.Module):  # what DataParallel / DDP save: every key "module."
        def __init__(self, inner):
            super().__init__()
            self.module = inner
            self.spec = inner.spec

    path = str(tmp_path / ("hf" if layout == "huggingface" else "ddp.pth"))
    if layout == "huggingface":
        write_checkpoint(path, tiny, layout)
        from safetensors.torch import load_file, save_file

        st = os.path.join(path, "model.safetensors")
        save_file(_wrapped(load_file(st)), st)
    else:
        assert isinstance(tiny, network.AsymmetricMASt3R)
        write_checkpoint(path, _Wrapper(tiny), layout)
    with caplog.at_level(logging.INFO, logger="mast3r_ros.core.model.checkpoint"):
        model, info = load_checkpoint(path, bare_model_string=model_string(TINY_SPEC))
    assert _same_weights(model, tiny) and info.spec == TINY_SPEC
    assert any("DataParallel/DDP" in r.getMessage() for r in caplog.records)


def test_partial_module_prefix_is_not_stripped(tmp_path, tiny):
    sd = dict(tiny.state_dict())
    sd["module.enc_norm.bias"] = sd.pop("enc_norm.bias")
    path = str(tmp_path / "p.pth")
    torch.save({"model": sd, "args": argparse.Namespace(model=model_string(TINY_SPEC))}, path)
    with pytest.raises(CheckpointError, match="missing key 'enc_norm.bias'"):
        load_checkpoint(path)


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and text.strip()
    return text


def test_empty_file_refused_like_a_truncated_one(tmp_path, tiny):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pth: cannot read the checkpoint "
                                              r"\(empty file, 0 bytes\); the file is truncated"
                       ) as err:
        load_checkpoint(str(empty))
    _one_line(err)
    one_byte = tmp_path / "one.pth"
    one_byte.write_bytes(b"\x80")
    with pytest.raises(CheckpointError, match="one.pth: cannot read the checkpoint .*truncated"
                       ) as err:
        load_checkpoint(str(one_byte))
    _one_line(err)
    empty_dict = tmp_path / "emptydict.pth"
    torch.save({}, empty_dict)
    with pytest.raises(CheckpointError, match="expected"):
        load_checkpoint(str(empty_dict))


@pytest.mark.parametrize("error", [IndexError(), RuntimeError(""), KeyError(""), ValueError(" ")])
def test_reader_errors_with_empty_messages_are_one_clean_line(tmp_path, tiny_official,
                                                              monkeypatch, error):
    import shutil

    from mast3r_ros.core.model import checkpoint

    path = str(tmp_path / "c.pth")
    shutil.copyfile(tiny_official, path)  # the file's name is in the message

    def broken(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(checkpoint, "load_torch_file", broken)
    with pytest.raises(CheckpointError, match=r"c.pth: cannot read the checkpoint \(.*\): "
                       f"{type(error).__name__}.* " r"\(the file's records are whole: copying"
                       ) as err:  # intact as written: no 'download it again'
        load_checkpoint(path)
    text = _one_line(err)
    assert "()" not in text and "truncated" not in text


@pytest.mark.parametrize("data, begins", [
    (b"# color images\n# timestamp filename\n0.000000 rgb/frame-000000.color.png\n",
     "# color images"),  # a TUM rgb.txt given as --checkpoint (a fresh user's find)
    ("\ufeffmodel: tiny\r\nsize: 224\r\n".encode("utf-8"), "model: tiny"),  # BOM, CRLF YAML
])
def test_a_text_file_given_as_checkpoint_is_named_as_text(tmp_path, data, begins):
    """Before: 'cannot read the checkpoint (73 bytes, Unsupported operand 35); the file is
    truncated or not a checkpoint: download or copy it again' (35 is '#'), and downloading
    rgb.txt again does not help."""
    path = tmp_path / "rgb.txt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    assert _one_line(err) == (
        f"{path}: cannot read the checkpoint: this is a text file (it begins {begins!r}), not a "
        "torch.save checkpoint; give the checkpoint file (.pth) itself")


def test_a_binary_file_with_line_breaks_is_not_called_text(tmp_path):
    """A NUL or another control byte means binary (a cut-off archive), whatever its newlines."""
    path = tmp_path / "x.pth"
    path.write_bytes(b"PK\x03\x04\x00\x00 cut\nshort\n")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    assert "text file" not in _one_line(err) and "download or copy it again" in _one_line(err)


LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4b5a6d3c0e8f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3\n"
               b"size 2754910000\n")


def test_a_git_lfs_pointer_given_as_checkpoint_is_named_a_failed_download(tmp_path):
    """A clone without git-lfs (or a 'raw' link) gives the 131-byte pointer: the text-file
    wording ('give the checkpoint file (.pth) itself') sent the user to the file they gave;
    the fix is to fetch the real one."""
    path = tmp_path / "MASt3R.pth"
    path.write_bytes(LFS_POINTER)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    assert _one_line(err) == (
        f"{path}: cannot read the checkpoint: this is a Git LFS pointer, a small text file "
        "standing in for the checkpoint (2.75 GB): the download fetched the pointer, not the "
        "file; fetch the real file (`git lfs pull` in the clone it came from) or download it "
        "again")


@pytest.mark.parametrize("data, begins", [
    (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n", "<!DOCTYPE html>"),
    (b"\n  <HTML lang=en><body>404 Not Found</body></HTML>", "<HTML lang=en><body>404 Not Found"
     "</body></HTML>"),  # one line, upper case, after blank space
])
def test_an_html_page_saved_as_checkpoint_is_named_a_failed_download(tmp_path, data, begins):
    """wget/curl of a link that needs a login or is gone saves the web page as the .pth."""
    path = tmp_path / "MASt3R.pth"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    assert _one_line(err) == (
        f"{path}: cannot read the checkpoint: this is an HTML page (it begins {begins!r}), not "
        "a checkpoint: the download failed and saved a web page (an error, login or redirect "
        "page) in its place; download the file again")


@pytest.mark.parametrize("prefix", ["_orig_mod.", "module._orig_mod.", "_orig_mod.module.",
                                    "model."])
@pytest.mark.parametrize("layout", ["official", "state_dict"])
def test_compile_and_wrapper_prefixes_stripped(tmp_path, tiny, prefix, layout, caplog):
    # torch.compile saves every key under '_orig_mod.' (with DDP: both prefixes, either order);
    # a training wrapper holding the network as .model (Lightning) under 'model.'
    sd = {prefix + k: v for k, v in tiny.state_dict().items()}
    path = str(tmp_path / "p.pth")
    torch.save({"model": sd, "args": argparse.Namespace(model=model_string(TINY_SPEC))}
               if layout == "official" else sd, path)
    with caplog.at_level(logging.INFO, logger="mast3r_ros.core.model.checkpoint"):
        model, info = load_checkpoint(path, bare_model_string=model_string(TINY_SPEC))
    assert _same_weights(model, tiny) and info.spec == TINY_SPEC
    assert any("prefix removed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("prefix", ["", "model."])
def test_state_dict_nested_under_state_dict_loads(tmp_path, tiny, prefix):
    # a training framework's checkpoint (PyTorch Lightning): {'state_dict': ..., 'epoch': ...}
    sd = {prefix + k: v for k, v in tiny.state_dict().items()}
    path = str(tmp_path / "lightning.ckpt")
    torch.save({"state_dict": sd, "epoch": 3, "global_step": 10}, path)
    model, _ = load_checkpoint(path, bare_model_string=model_string(TINY_SPEC))
    assert _same_weights(model, tiny)


def test_a_dict_of_other_things_names_its_keys(tmp_path):
    path = str(tmp_path / "opt.pth")
    torch.save({"optimizer": {"lr": 0.1}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="'optimizer', 'epoch'"):
        load_checkpoint(path)


def test_args_saved_as_a_dict_give_the_constructor_string(tmp_path, tiny):
    # a training script that saved vars(args) (or a config dict) instead of the Namespace
    path = str(tmp_path / "d.pth")
    torch.save({"model": tiny.state_dict(), "args": {"model": model_string(TINY_SPEC)}}, path)
    model, info = load_checkpoint(path)
    assert _same_weights(model, tiny) and info.spec == TINY_SPEC and info.layout == "official"


def test_load_checkpoint_device_checked_before_reading(tiny_ckpt):
    """`load_checkpoint`'s ``device`` was handed to ``nn.Module.to`` after reading the file:
    'auto' (the config default everywhere else) or 'gpu' failed with torch's "Expected one of
    cpu, cuda, ipu, ..." and 'cuda' on a machine without it with an AssertionError, after the
    whole checkpoint was read. It is resolved first (`resolve_device`): 'auto' works, anything
    unavailable is a `ConfigError` naming it."""
    from mast3r_ros.core.errors import ConfigError

    model, _ = load_checkpoint(tiny_ckpt, device="auto")
    assert next(model.parameters()).device.type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="'gpu' is not a torch device"):
        load_checkpoint(tiny_ckpt, device="gpu")
    with pytest.raises(ConfigError, match="'gpu'"):  # before the (missing) file is looked at
        load_checkpoint(tiny_ckpt + ".missing", device="gpu")


# ------------------------------------------------------------------ training scripts' layouts
@pytest.mark.parametrize("extra", [{}, {"args": None}, {"args": argparse.Namespace(lr=1e-4)},
                                   {"epoch": 3, "optimizer": {"param_groups": [{"lr": 0.1}]}}])
def test_weights_under_model_without_a_constructor_string_load_as_a_bare_state_dict(
        tmp_path, tiny, extra, caplog):
    """A fine-tuning script's {'model': state_dict, 'epoch': ..., 'optimizer': ...} without
    'args' (or with args that have no 'model'): before, "has 'model' but no args.model
    constructor string", no way out, while the same weights saved bare loaded. Read now as the
    bare state dict it holds: the heads guessed with the warning, or given."""
    path = str(tmp_path / "finetuned.pth")
    torch.save({"model": tiny.state_dict(), **extra}, path)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.model.checkpoint"):
        model, info = load_checkpoint(path)
    assert _same_weights(model, tiny) and info.layout == "state_dict"
    assert len(_guess_warnings(caplog)) == 1
    model, info = load_checkpoint(path, bare_model_string=model_string(TINY_SPEC))
    assert _same_weights(model, tiny) and info.spec == TINY_SPEC


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict"])
def test_args_beside_weights_under_another_key_give_the_constructor_string(tmp_path, tiny, key,
                                                                           caplog):
    """{'state_dict': ..., 'args': Namespace(model=...)} had its args ignored: the heads were
    guessed 64 wide (wrong for this network: 16) under a warning that said the file had no
    'args'; {'model_state_dict': ...} (the PyTorch tutorials' name) was refused."""
    path = str(tmp_path / "c.pth")
    torch.save({key: {"module." + k: v for k, v in tiny.state_dict().items()},
                "args": argparse.Namespace(model=model_string(TINY_SPEC)), "epoch": 2}, path)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.model.checkpoint"):
        model, info = load_checkpoint(path)
    assert _same_weights(model, tiny) and info.spec == TINY_SPEC and info.layout == "official"
    assert not _guess_warnings(caplog)


def _hf_weights(tmp_path, tiny, weights, tiny_hf):
    """A copy of ``tiny_hf`` (the tests delete or add files in it)."""
    import shutil

    folder = tmp_path / "hf"
    shutil.copytree(tiny_hf, folder)
    if weights == "pytorch_model.bin":  # huggingface_hub < 0.20 wrote a torch.save state dict
        (folder / "model.safetensors").unlink()
        torch.save(tiny.state_dict(), folder / weights)
    return folder


@pytest.mark.parametrize("weights", ["model.safetensors", "pytorch_model.bin"])
def test_a_huggingface_weights_file_given_itself_is_read_with_its_config(tmp_path, tiny,
                                                                        weights, caplog,
                                                                        tiny_hf):
    """--checkpoint hf/model.safetensors (the file, not its folder) was read as a bare state
    dict: config.json beside it ignored, heads guessed (wrong here) with advice to use the
    folder; a folder of config.json + pytorch_model.bin (older huggingface_hub) was refused as
    'no model.safetensors beside a model.safetensors'. Both read as the Hugging Face checkpoint
    they are now."""
    folder = _hf_weights(tmp_path, tiny, weights, tiny_hf)
    for path in (folder, folder / weights):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.model.checkpoint"):
            model, info = load_checkpoint(str(path))
        assert _same_weights(model, tiny) and info.spec == TINY_SPEC, path
        assert info.layout == "huggingface" and not _guess_warnings(caplog)


def test_a_safetensors_file_without_a_config_is_a_bare_state_dict(tmp_path, tiny, tiny_hf):
    folder = _hf_weights(tmp_path, tiny, "model.safetensors", tiny_hf)
    (folder / "config.json").unlink()
    model, info = load_checkpoint(str(folder / "model.safetensors"),
                                  bare_model_string=model_string(TINY_SPEC))
    assert _same_weights(model, tiny) and info.layout == "state_dict"
    # the folder itself names what is missing, as it is
    with pytest.raises(CheckpointError, match=r"\(no config.json beside a model.safetensors\)"):
        load_checkpoint(str(folder))


def test_a_huggingface_folder_without_weights_names_both_weight_files(tmp_path, tiny,
                                                                      tiny_hf):
    folder = _hf_weights(tmp_path, tiny, "model.safetensors", tiny_hf)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"\(no model.safetensors or pytorch_model.bin "
                                              r"beside a config.json\)"):
        load_checkpoint(str(folder))


def _torchscript(path):
    with warnings.catch_warnings():  # torch >= 2.10 calls TorchScript deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.trace(torch.nn.Linear(2, 2).eval(), torch.zeros(1, 2)), path)


def _numpy_archive(path):
    import numpy as np

    np.savez(path, pts3d=np.zeros(3))  # the name ends in .npz: written as given


@pytest.mark.parametrize("name, write, kind", [
    ("mast3r_traced.pth", _torchscript,
     "a TorchScript module (torch.jit.save / torch.jit.trace: a compiled program)"),
    ("weights.npz", _numpy_archive, "a NumPy array file (.npy / .npz)"),
    ("encoder.onnx", lambda p: open(p, "wb").write(b"\x08\x08\x12\x07pytorch\x1a\x032.1" * 9),
     "an ONNX model (what `mast3r-ros export` writes)"),
    ("mast3r.engine", lambda p: open(p, "wb").write(b"ftrt\x00\x00\x00\x00" + bytes(range(256))),
     "a TensorRT engine (the 'tensorrt' backend builds its engines from the checkpoint and "
     "caches them itself)"),
])
def test_a_model_in_another_format_is_named_not_called_truncated(tmp_path, name, write, kind):
    """A TorchScript module, a .npz, `export`'s ONNX model or a TensorRT engine given as
    --checkpoint gave torch's words ("Unsupported operand 8", "Cannot use weights_only=True
    with TorchScript archives", "[enforce fail at inline_container.cc:180]") and "the file is
    truncated or not a checkpoint: download or copy it again": downloading does not help. They
    are named (already before the work: `require_checkpoint`), and the .pth asked for."""
    from mast3r_ros.core.model.checkpoint import require_checkpoint
    from mast3r_ros.core.retrieval_model import load_retrieval_head

    path = str(tmp_path / name)
    write(path)
    expected = (f"{path}: cannot read the checkpoint: this is {kind}, not a PyTorch checkpoint; "
                "--checkpoint (the 'checkpoint' parameter) takes the PyTorch checkpoint (.pth, "
                "or a Hugging Face folder) it was made from (README: 'Model weights')")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "looks like a TorchScript archive" kept quiet
        for check in (require_checkpoint, load_checkpoint):
            with pytest.raises(CheckpointError) as err:
                check(path)
            assert _one_line(err) == expected
    with pytest.raises(CheckpointError, match=f"this is {re.escape(kind)}, not a PyTorch "
                                              "retrieval checkpoint; give the retrieval "
                                              "checkpoint .pth file"):
        load_retrieval_head(path, 32)


@pytest.mark.parametrize("name, data, kind", [
    ("b.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4, "a JPEG"),
    ("b.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "a PNG"),
])
def test_an_image_given_as_the_checkpoint_is_named_not_called_truncated(tmp_path, name, data,
                                                                        kind):
    """`pair a.png --checkpoint b.png model.pth` (the arguments swapped, the new user): the
    image given as --checkpoint read "cannot read the checkpoint (53047 bytes, Unsupported
    operand 255); the file is truncated or not a checkpoint: download or copy it again",
    which sends one to download an image again. It is named as an image, already before the
    work (`require_checkpoint`)."""
    from mast3r_ros.core.model.checkpoint import require_checkpoint

    path = str(tmp_path / name)
    open(path, "wb").write(data)
    expected = (f"{path}: cannot read the checkpoint: this is {kind} image, not a PyTorch "
                "checkpoint: an image given where the checkpoint goes (arguments swapped?); "
                "give the checkpoint .pth file (README: 'Model weights')")
    for check in (require_checkpoint, load_checkpoint):
        with pytest.raises(CheckpointError) as err:
            check(path)
        assert _one_line(err) == expected


@pytest.mark.parametrize("text, what", [
    ("AsymmetricMASt3R(enc_embed_dim=32", "is not a constructor call"),  # cut short
    ("", "is not a constructor call"),
    ("Foo()", "unknown model class 'Foo'"),
    ("AsymmetricMASt3R(enc_embed_dim=-32, enc_num_heads=2)", "enc_embed_dim must be a positive"),
])
def test_a_damaged_constructor_string_names_the_file_and_the_fix(tmp_path, text, what):
    """Before: 'mast3r-ros: error: model string is not a constructor call: ...' named neither the
    checkpoint nor what to do; the user had to guess which file (a retrieval head, a codebook
    and the network may all be given) held the string."""
    path = tmp_path / "damaged.pth"
    torch.save({"model": {"a": torch.zeros(1)}, "args": argparse.Namespace(model=text)}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    line = _one_line(err)
    assert line.startswith(f"{path}: its constructor string (args.model): ") and what in line
    assert line.endswith("use the official MASt3R or DUSt3R checkpoint (README: 'Model weights')")


def test_a_huggingface_config_of_an_unknown_class_names_the_config(tmp_path):
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text('{"_class_name": "Evil"}')
    torch.save({"a": torch.zeros(1)}, hf / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(hf))
    line = _one_line(err)
    assert line.startswith(f"{hf / 'config.json'}: its constructor arguments: ")
    assert "unknown model class 'Evil'" in line and "README: 'Model weights'" in line


@pytest.mark.parametrize("obj, got", [
    ({"args": argparse.Namespace(model="AsymmetricMASt3R()")}, "a dict with keys 'args'"),
    ([1, 2, 3], "list"),
])
def test_a_file_without_weights_says_what_to_give(tmp_path, obj, got):
    """A checkpoint saved without its weights ({'args'} only) or a torch.save of something else
    said 'expected {'model', 'args'} or a state dict of tensors, got ...' and stopped: no fix."""
    path = tmp_path / "x.pth"
    torch.save(obj, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path))
    assert _one_line(err) == (
        f"{path}: expected {{'model', 'args'}} or a state dict of tensors, got {got}: no MASt3R "
        "or DUSt3R weights in it; use the official MASt3R or DUSt3R checkpoint "
        "(README: 'Model weights')")


def test_an_onnx_export_folder_is_named_as_its_single_file_is(tmp_path):
    """`mast3r-ros export onnx_512/` (export's own output folder as the checkpoint) said "is a
    folder but not a Hugging Face checkpoint"; one encoder.onnx was already named an ONNX
    model. The folder is now named an ONNX export folder, and the .pth asked for."""
    from mast3r_ros.core.model.checkpoint import require_checkpoint

    folder = tmp_path / "onnx_512"
    folder.mkdir()
    for name in ("encoder.onnx", "decoder.onnx", "manifest.json"):
        (folder / name).write_bytes(b"x")
    expected = (f"{folder} is an ONNX export folder (what `mast3r-ros export` writes), not a "
                "PyTorch checkpoint; --checkpoint (the 'checkpoint' parameter) takes the "
                "PyTorch checkpoint (.pth, or a Hugging Face folder) it was made from "
                "(README: 'Model weights')")
    for check in (require_checkpoint, load_checkpoint):
        with pytest.raises(CheckpointError) as err:
            check(str(folder))
        assert _one_line(err) == expected
