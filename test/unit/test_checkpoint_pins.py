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
