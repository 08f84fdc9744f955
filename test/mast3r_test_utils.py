"""Helpers shared by tests and benchmarks: paths, tiny random-weight models and checkpoints.

Importable because test/conftest.py puts test/ on sys.path (bench/benchlib.py does the same).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from mast3r_ros.core.fileio import atomic_write_bytes
from mast3r_ros.core.model.checkpoint import _alias_pairs, model_string, parse_model_string
from mast3r_ros.core.model.network import AsymmetricMASt3R, ModelSpec

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``shared/`` beside the checkout (``../shared``), or $MAST3R_ROS_SHARED."""
    env = os.environ.get("MAST3R_ROS_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def fixtures_dir() -> Path:
    env = os.environ.get("MAST3R_ROS_FIXTURES")
    return Path(env) if env else shared_dir() / "reference" / "fixtures"


def pose(rotvec, translation) -> np.ndarray:
    """4x4 float64 pose from a rotation vector (rad) and a translation (m)."""
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    out[:3, 3] = translation
    return out


def random_model(spec: ModelSpec, seed: int = 0) -> AsymmetricMASt3R:
    """A model with random but distinct weights in every tensor (decoders and LayerNorms too)."""
    g = torch.Generator().manual_seed(seed)
    model = AsymmetricMASt3R(spec)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            elif ".norm" in name or name.startswith(("enc_norm", "dec_norm")):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = max(1, p[0].numel()) if p.dim() > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
    return model.eval()


TINY_SPEC = ModelSpec(enc_embed_dim=32, enc_depth=2, enc_num_heads=2, dec_embed_dim=32,
                      dec_depth=10, dec_num_heads=2)


def write_checkpoint(path: str, model: AsymmetricMASt3R, layout: str = "official") -> None:
    """Write ``model`` in an accepted layout ('official', 'state_dict' or 'huggingface')."""
    sd = model.state_dict()
    text = model_string(model.spec)
    if layout == "huggingface":
        from safetensors.torch import save_file  # optional: only the huggingface layout needs it

        os.makedirs(path, exist_ok=True)
        first = {}
        for k, v in sd.items():  # safetensors refuses shared storage: keep one alias name
            if not any(k == b for b in _alias_pairs(sd).values()):
                first[k] = v.contiguous().clone()
        save_file(first, os.path.join(path, "model.safetensors"))
        _, kwargs = parse_model_string(text)
        cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
        with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as fh:
            json.dump(cfg, fh)
        return
    obj: Any = sd if layout == "state_dict" else {
        "model": sd, "args": argparse.Namespace(model=text)}
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def write_tiny_checkpoint(path: str, seed: int = 0, arch: str = "mast3r",
                          layout: str = "official") -> str:
    """Write a tiny random-weight checkpoint (dims 32, dec_depth 10; ~42 M parameters because
    the DPT head widths are fixed) in an official layout. For tests and benchmarks."""
    spec = dataclasses.replace(TINY_SPEC, arch=arch, desc_dim=24 if arch == "mast3r" else 0,
                               two_confs=arch == "mast3r")
    write_checkpoint(path, random_model(spec, seed), layout)
    return path


def scale_pointmaps(model: AsymmetricMASt3R, img: torch.Tensor, median_m: float = 3.0
                    ) -> float:
    """Rescale the xyz rows of both DPTs' last convolution so ``img`` paired with itself gives
    an fp32 pointmap of median distance ``median_m`` metres; returns the factor applied.

    Random weights give pointmaps hundreds to thousands of metres away (raw norm d = 5-8; a
    trained network indoors: 1-10 m, d = 0.7-2.4). pts3d = xyz/d * expm1(d), so the relative
    error of a far point is about the absolute error of d, which grows with d: fp16 figures
    on such a model overstate what a trained one gives. Only the last linear map changes.
    """
    with torch.inference_mode():
        d = torch.linalg.norm(model(img, img)[0]["pts3d"], dim=-1).median()
        # expm1 is monotone: the median raw norm maps to the median distance
        k = math.log1p(median_m) / math.log1p(float(d))
        for h in (model.downstream_head1, model.downstream_head2):
            h.dpt.head[-1].weight[:3] *= k
            h.dpt.head[-1].bias[:3] *= k
    return k
