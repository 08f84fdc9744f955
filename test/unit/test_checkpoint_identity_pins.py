"""Pins from a mutation audit of the checkpoint identity (`checkpoint.fingerprint`): it keys
the TensorRT engine cache and the encodings a keyframe map caches, so two checkpoints with the
same sampled values but other key names or tensor shapes must not share it."""

from __future__ import annotations

import torch

from mast3r_ros.core.model.checkpoint import fingerprint


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
