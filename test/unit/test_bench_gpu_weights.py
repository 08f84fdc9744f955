"""bench_gpu.py's ``weights_mib`` (the engine's weight bytes in the GPU report) counts the DPT's
tied convolutions once: it deduplicated ``state_dict()`` tensors by object id, but each name's
tensor is detached anew, so the ``layer_rn``/``layerN_rn`` aliases were counted twice (+16 % on
the tiny network)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_gpu import weights_mib  # noqa: E402
from mast3r_test_utils import TINY_SPEC, random_model  # noqa: E402
from mast3r_ros.core.model.precision import cast_model  # noqa: E402


def test_tied_weights_counted_once():
    model = random_model(TINY_SPEC, seed=0)
    want = sum(p.numel() * p.element_size() for p in model.parameters())  # tied: once
    assert weights_mib(model) == want / 2**20
    half = cast_model(model, torch.device("cpu"), torch.float16)  # tied tensors stay tied
    assert weights_mib(half) < 0.6 * weights_mib(model)
