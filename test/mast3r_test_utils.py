"""Helpers shared by tests and benchmarks: paths, tiny random-weight models and checkpoints.

Importable because test/conftest.py puts test/ on sys.path (bench/benchlib.py does the same).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
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
# The oldest Triton the kernel tests run on: compiled on CUDA, the 3.0 core.nn_triton requires;
# on the CPU, Triton's interpreter, which runs the kernels from 3.7 (3.1-3.6's interpreter stops
# on a nested jit function's constexpr arguments or on numpy 2 scalars; compiled kernels are not
# affected)
TRITON_TEST_MIN = "3.0" if torch.cuda.is_available() else "3.7"


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


# the constructor string of the official MASt3R ViT-L checkpoint (its args.model)
OFFICIAL_MASt3R = (
    "AsymmetricMASt3R(pos_embed='RoPE100', patch_embed_cls='ManyAR_PatchEmbed', "
    "img_size=(512, 512), head_type='catmlp+dpt', output_mode='pts3d+desc24', "
    "depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), enc_embed_dim=1024, "
    "enc_depth=24, enc_num_heads=16, dec_embed_dim=768, dec_depth=12, dec_num_heads=12, "
    "two_confs=True, desc_conf_mode=('exp', 0, inf))")

TINY_SPEC = ModelSpec(enc_embed_dim=32, enc_depth=2, enc_num_heads=2, dec_embed_dim=32,
                      dec_depth=10, dec_num_heads=2)


def write_checkpoint(path: str, model: AsymmetricMASt3R, layout: str = "official") -> None:
    """Write ``model`` in an accepted layout ('official', 'state_dict' or 'huggingface')."""
    sd = model.state_dict()
    text = model_string(model.spec)
    if layout == "huggingface":
        import pytest

        # optional (extra "hf"): only the huggingface layout needs it
        pytest.importorskip("safetensors", reason="safetensors is not installed (extra 'hf')")
        from safetensors.torch import save_file

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


# ------------------------------------------------------------------ descriptor-map pairs ---

@dataclasses.dataclass
class DescriptorPair:
    """Two dense descriptor maps where image 2 sees image 1 through a known similarity warp.

    ``desc1`` (H, W, D) and ``desc2`` (H, W, D) float32, unit rows (or multiples of ``1/q``
    when quantised); ``warp`` (2, 3) float64 maps an image-1 pixel (x, y, 1) to its image-2
    pixel; ``seen`` (H, W) bool marks the image-2 pixels whose content comes from inside image 1
    (the rest is an unrelated field: unmatched border)."""

    desc1: torch.Tensor
    desc2: torch.Tensor
    warp: np.ndarray
    seen: torch.Tensor

    def on_warp(self, xy1: torch.Tensor, xy2: torch.Tensor, tol_px: float = 1.5) -> torch.Tensor:
        """(N,) bool: the match (x1, y1) -> (x2, y2) lies within ``tol_px`` of the true warp."""
        p = xy1.double().cpu() @ torch.from_numpy(self.warp[:, :2]).T + torch.from_numpy(
            self.warp[:, 2])
        return torch.linalg.norm(p - xy2.double().cpu(), dim=1) <= tol_px


def _smooth_field(g: torch.Generator, d: int, h: int, w: int,
                  scales=((4, 1.0), (16, 1.0), (64, 0.7))) -> torch.Tensor:
    """(1, d, h, w) multi-scale smooth random field: bicubic upsampling of coarse noise."""
    import torch.nn.functional as F

    field = torch.zeros(1, d, h, w)
    for cell, amp in scales:
        coarse = torch.randn(1, d, h // cell + 3, w // cell + 3, generator=g)
        up = F.interpolate(coarse, scale_factor=cell, mode="bicubic", align_corners=False)
        field += amp * up[:, :, cell:cell + h, cell:cell + w]
    return field


def warped_descriptor_pair(h: int = 384, w: int = 512, d: int = 24, *, seed: int = 0,
                           angle_deg: float = 4.0, scale: float = 1.08,
                           shift_xy=(0.06, -0.04), noise: float = 0.15,
                           quantize: int = 0) -> DescriptorPair:
    """A realistic stand-in for MASt3R's ``desc_1``/``desc_2`` of one image pair.

    Image 1 is a smooth multi-scale random field (D channels, unit-normalised per pixel, like
    MASt3R's local features: smooth over a few pixels, distinctive over the image). Image 2 is
    image 1 seen through a similarity (rotation ``angle_deg`` about the centre, ``scale``, shift
    ``shift_xy`` as fractions of (W, H)) with bilinear resampling, per-pixel noise of relative
    size ``noise`` and, where the warp leaves image 1, an unrelated field (a border of
    unmatched pixels). The reciprocal walk then converges for most start points, most of them on
    the true warp, as with real weights (random network weights give a few dozen matches).

    ``quantize`` = q > 0 rounds every value to a multiple of 1/q (no renormalisation), so with
    small q every dot product is exact in float32 whatever the summation order (tests comparing
    search backends bit for bit; many ties then). Deterministic for a seed, CPU tensors.
    """
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    f1 = _smooth_field(g, d, h, w)
    other = _smooth_field(g, d, h, w)
    a, c = math.radians(angle_deg), ((w - 1) / 2, (h - 1) / 2)
    A = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    t = np.array(c) - A @ np.array(c) + np.array(shift_xy) * (w, h)
    warp = np.concatenate([A, t[:, None]], axis=1)  # image-1 pixel -> image-2 pixel
    inv = np.linalg.inv(A)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    p2 = torch.stack((xs, ys), -1) - torch.from_numpy(t)
    p1 = p2 @ torch.from_numpy(inv).T  # image-2 pixel -> image-1 position
    seen = ((p1[..., 0] >= 0) & (p1[..., 0] <= w - 1) & (p1[..., 1] >= 0)
            & (p1[..., 1] <= h - 1))
    grid = torch.stack((2 * p1[..., 0] / (w - 1) - 1, 2 * p1[..., 1] / (h - 1) - 1), -1)
    warped = F.grid_sample(f1, grid[None].float(), mode="bilinear", align_corners=True)
    f2 = torch.where(seen[None, None], warped, other)
    f2 = f2 + noise * f1.std() * torch.randn(f2.shape, generator=g)
    d1 = F.normalize(f1[0].permute(1, 2, 0), dim=-1)
    d2 = F.normalize(f2[0].permute(1, 2, 0), dim=-1)
    if quantize:
        d1, d2 = (torch.round(x * quantize) / quantize for x in (d1, d2))
    return DescriptorPair(d1.contiguous(), d2.contiguous(), warp, seen)


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

def keyframe_records(path) -> list:
    """The map's keyframe records (any format version; v3 keeps them out of manifest.json) as
    dicts of the fields these tests read."""
    from mast3r_ros.core.keyframes import KeyframeMap

    m = KeyframeMap.load(str(path), lazy=True)
    return [{"id": k.id, "stamp_ns": k.stamp_ns,
             "intrinsics": {"width": k.intrinsics.width, "height": k.intrinsics.height}}
            for k in m.keyframes]


def count_cpu_calls(monkeypatch) -> list:
    """A list that gets the shape of every tensor moved to the host with ``.cpu()``."""
    calls = []
    real = torch.Tensor.cpu

    def counting(self, *a, **kw):
        calls.append(tuple(self.shape))
        return real(self, *a, **kw)

    monkeypatch.setattr(torch.Tensor, "cpu", counting)
    return calls


def bench_script(name: str):
    """The module of bench/<name>.py, loaded by path (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
