"""How the engine stores its weights for a precision: which parameters stay float32
(`fp32_parameter_names`), the cast copy of a model (`cast_model`) and the bytes each storage
policy takes (`weight_bytes`).

Precision (fp16/bf16, CUDA only; CPU and fp32 are plain fp32): the weights are stored in the
compute dtype (`cast_model`, once at construction: 1.38 GB for ViT-L instead of 2.75 GB fp32
plus the 1.38 GB of half copies autocast caches during a forward -- `weight_bytes`), and every
forward still runs under autocast, so the ops autocast keeps in fp32 (LayerNorm, softmax inside
attention, norms, exp) still compute in fp32. Kept in fp32, from the CPU emulation of fp16
(`bench/precision_fp16.py`; per-pixel pts3d error on random ViT-L weights at 224, p99 / max):

* the residual streams of the encoder and decoders (`AsymmetricMASt3R.fp32_residual`): the
  matmuls run in half, the 24 + 12 residual additions in fp32 -- the largest single share
  (1.16e-2 / 3.9e-2 -> 8.6e-3 / 1.6e-2); elementwise, so cheap;
* the LayerNorm weights (0.25 M parameters): exact, and they take the fp32 stream on any device;
* each DPT's last 1x1 convolution (`network.run_fp32`, weights fp32): its raw norm d becomes the
  pointmap through expm1, so an fp16 rounding of d is a relative error of |pts3d| of the same
  size (2^-11 d); 4 output channels, negligible cost;
* the final activations (`network.postprocess`): the norm/expm1 of pts3d, exp of the
  confidences (fp16 overflows at 11.1), the descriptor normalisation; element-wise.

The rest (patch embedding, attention and MLP matmuls, the DPT trunk, the local-feature MLP) runs
in half: keeping any one of them in fp32 removes less of the remaining error than its share of
the time (the encoder alone in fp16 already gives 1.1e-2 max on random weights). The RoPE tables
are computed in fp32 from integer positions and cast to the head dtype once per forward.
"""

from __future__ import annotations

from typing import Dict, List

import torch

from ..errors import ConfigError
from .network import AsymmetricMASt3R, ModelSpec

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def fp32_parameter_names(model: AsymmetricMASt3R) -> List[str]:
    """State-dict names of the parameters `cast_model` keeps in float32
    (``model.fp32_modules()``)."""
    keep = {id(m) for m in model.fp32_modules()}
    return sorted(f"{name}.{p}" if name else p for name, m in model.named_modules()
                  if id(m) in keep for p, _ in m.named_parameters(recurse=True))


def weight_bytes(spec: ModelSpec, precision: str) -> Dict[str, int]:
    """GPU bytes of the weights under each storage policy, counted on the meta device (the
    network is never allocated): for the full ViT-L this is the arithmetic of the 3 GB budget.

    Returns ``params`` (count, tied tensors once), ``fp32_params`` (kept float32 by
    `cast_model`), and bytes: ``fp32_weights`` (all float32, the fp32 engine), ``stored``
    (this engine for ``precision`` on CUDA: fp16/bf16 except the fp32-kept ones), and
    ``fp32_plus_autocast_copies`` (the previous policy: float32 weights plus the half copies
    autocast caches of every matmul/convolution weight while a forward runs).
    """
    if precision not in _DTYPES:
        raise ConfigError(f"precision must be one of {list(_DTYPES)}, got {precision!r}")
    with torch.device("meta"):
        model = AsymmetricMASt3R(spec)
    keep = set(fp32_parameter_names(model))
    half = torch.empty((), dtype=_DTYPES[precision]).element_size()
    autocast_cast = {f"{mn}.{pn}" if mn else pn
                     for mn, m in model.named_modules()
                     if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))
                     for pn, _ in m.named_parameters(recurse=False)}
    seen, n, n32, stored, cast = set(), 0, 0, 0, 0
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen or not t.is_floating_point():
            continue
        seen.add(id(t))
        n += t.numel()
        n32 += t.numel() if name in keep else 0
        stored += t.numel() * (4 if name in keep or precision == "fp32" else half)
        cast += t.numel() * half if name in autocast_cast and precision != "fp32" else 0
    return {"params": n, "fp32_params": n32, "fp32_weights": 4 * n, "stored": stored,
            "fp32_plus_autocast_copies": 4 * n + cast}


def cast_model(model: AsymmetricMASt3R, device: torch.device, dtype: torch.dtype
               ) -> AsymmetricMASt3R:
    """A copy of ``model`` on ``device`` with its floating-point weights in ``dtype`` except
    `fp32_parameter_names` (kept float32), in eval mode; ``model`` itself is left as it was.

    Built on the meta device and filled tensor by tensor, so the device holds only the cast
    copy (never an fp32 copy first) and the host no second model. Tied tensors (the DPT's
    ``layer_rn``/``layerN_rn`` aliases) stay tied.
    """
    keep = set(fp32_parameter_names(model))
    with torch.device("meta"):
        out = type(model)(model.spec)
    done: Dict[int, torch.Tensor] = {}  # source tensor -> its copy (tied names share one)
    sd = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) not in done:
            want = dtype if t.is_floating_point() and name not in keep else t.dtype
            done[id(t)] = t.detach().to(device=device, dtype=want, copy=True)
        sd[name] = done[id(t)]
    out.load_state_dict(sd, strict=True, assign=True)
    out.requires_grad_(False)
    out.fp32_residual = getattr(model, "fp32_residual", True)
    return out.eval()
