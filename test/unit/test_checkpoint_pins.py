"""Pins from a mutation audit of checkpoint loading: the identity (`checkpoint.fingerprint`)
keys the TensorRT engine cache and the encodings a keyframe map caches, so two checkpoints with
the same sampled values but other key names or tensor shapes must not share it; and the hint
for a folder of checkpoint files."""

from __future__ import annotations

import pytest
import torch

from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.model.checkpoint import fingerprint, require_checkpoint


def _sd():
    g = torch.Generator().manual_seed(0)
    return {"a.weight": torch.randn(4, 6, generator=g), "b.bias": torch.randn(5, generator=g)}


def test_identity_changes_with_a_key_name_a_shape_the_model_string_and_a_value():
    base = fingerprint(_sd(), "M")
    assert fingerprint(_sd(), "M") == base and len(base) == 16
    renamed = _sd()
    renamed["a.scale"] = renamed.pop("a.weight")  # sorted in the same place
    reshaped = _sd()
    reshaped["a.weight"] = reshaped["a.weight"].reshape(6, 4)  # same values, in order
    changed = _sd()
    changed["a.weight"][0, 1] += 1.0  # every value of a tensor this small is hashed
    for other, text in ((renamed, "M"), (reshaped, "M"), (_sd(), "N"), (changed, "M")):
        assert fingerprint(other, text) != base


def test_a_folder_of_three_checkpoint_files_names_them_all_and_no_more(tmp_path):
    for name in ("a.pth", "b.pt", "c.pth"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(CheckpointError) as e:
        require_checkpoint(str(tmp_path))
    assert "it holds a.pth, b.pt, c.pth: give one of these files" in str(e.value)
    assert "more" not in str(e.value)


def test_the_same_weights_get_one_id_in_every_file_layout(tmp_path):
    """The id keys a map's cached encodings: the same weights saved as the official
    {'model', 'args'} file (args.model with its kwargs in another order and a training-only
    one, as real files may list them: MAST3R_FACTS), a bare state dict, a DataParallel-wrapped
    Lightning dict and a Hugging Face folder got ids that differed with the file's string, so
    a map's encodings were recomputed. The id now hashes the architecture's canonical string;
    the full-content id likewise."""
    import argparse
    import dataclasses
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from mast3r_test_utils import TINY_SPEC, random_model, write_checkpoint

    from mast3r_ros.core.model.checkpoint import (load_checkpoint, model_string,
                                                  parse_model_string)
    from mast3r_ros.core.model.content_id import with_content_id

    spec = dataclasses.replace(TINY_SPEC, enc_embed_dim=64, enc_num_heads=1, dec_embed_dim=64,
                               dec_num_heads=1)  # 64-wide heads: as a bare file is read
    model = random_model(spec, 3)
    sd, text = model.state_dict(), model_string(spec)
    _, kwargs = parse_model_string(text)
    official = "AsymmetricMASt3R(landscape_only=False, " + ", ".join(
        f"{k}={v!r}" for k, v in reversed(list(kwargs.items()))) + ")"
    assert official != text
    torch.save({"model": sd, "args": argparse.Namespace(model=official)}, tmp_path / "o.pth")
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "l.pth")
    write_checkpoint(str(tmp_path / "s.pth"), model, "state_dict")
    paths = [tmp_path / "o.pth", tmp_path / "l.pth", tmp_path / "s.pth"]
    try:
        import safetensors  # noqa: F401  (extra 'hf')
        write_checkpoint(str(tmp_path / "hf"), model, "huggingface")
        paths.append(tmp_path / "hf")
    except ImportError:
        pass
    loaded = [load_checkpoint(str(p)) for p in paths]
    assert loaded[0][1].model_string == official  # the file's own string is still reported
    ids = {info.identity for _, info in loaded}
    assert len(ids) == 1, ids
    contents = {with_content_id(m, info).content_id for m, info in loaded}
    assert len(contents) == 1, contents
