#!/usr/bin/env python3
"""Which parts of the network make fp16/bf16 outputs differ from fp32: a CPU emulation.

No GPU needed. Half-precision CUDA inference under autocast is emulated in float32 by rounding:
every op outside autocast's fp32 list (layer_norm, softmax, norm, exp, ...) gets its float
inputs rounded to the half dtype (weights included, as autocast casts them), computes in
float32 (tensor cores accumulate in fp32), and has its output rounded to the half dtype;
attention follows flash attention (scores and softmax in fp32, the unnormalised probabilities
rounded to half before the PV product). Values beyond the half range become inf, as on the GPU.

Each network part (encoder, decoders, DPT trunk, DPT output convolutions, local-feature MLP)
is switched between emulated half and fp32, and the outputs are compared with plain fp32 on the
same inputs:

* ``pts3d_rel_p99/max``: the issue's per-pixel relative error |p - p_ref| / |p_ref|;
* ``pts3d_medrel_p99/max``: |p - p_ref| / median|p_ref| (not blown up by near-zero points);
* ``raw_d_abs_p99``: the error of the raw norm d = |xyz_raw| (pts3d = xyz/d * expm1(d), so for
  d >~ 1 the relative error of |pts3d| is about the absolute error of d);
* ``desc_max_abs``.

    python bench/precision_fp16.py --layers full --size 224          # ViT-L widths and depths
    python bench/precision_fp16.py --layers 8 --size 224 --dtype bf16  # fewer layers, faster

Weights are random (test helper ``random_model``): the raw-norm statistics are printed so one
can judge how far they are from a trained network's (d = log(1 + distance in m), about 0.3-3).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Dict

_REPO = Path(__file__).resolve().parents[1]
for _p in (str(_REPO), str(_REPO / "test")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

from mast3r_ros.core.model.network import ModelSpec, postprocess  # noqa: E402
from mast3r_ros.core.model.preprocess import normalize  # noqa: E402
from mast3r_test_utils import TINY_SPEC, random_model  # noqa: E402

# autocast's (CUDA) lower-precision ops and fp32 ops among those the network calls
_HALF_OPS = {F.linear, F.conv2d, F.conv_transpose2d, F.scaled_dot_product_attention,
             torch.matmul, torch.Tensor.__matmul__, torch.bmm, torch.addmm}
_FP32_OPS = {F.layer_norm, F.group_norm, F.softmax, F.log_softmax, torch.Tensor.norm,
             torch.norm, torch.linalg.norm, torch.linalg.vector_norm}


class AutocastEmulation(TorchFunctionMode):
    """CUDA autocast, dtype-faithful, on the CPU (see module doc).

    Tensors carry their real dtypes: while ``active``, autocast's lower-precision ops get their
    float inputs (weights included) cast to ``dtype``, compute in float32 on those values and
    round the result to ``dtype``; its fp32 ops get float32 inputs; every other op runs natively
    with the usual type promotion (CPU half elementwise ops compute in fp32 and round, as CUDA's
    do). While not ``active`` (a part kept fp32: autocast off) the lower-precision ops get
    float32 inputs.
    """

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype
        self.active = False

    @staticmethod
    def _cast(x, dtype):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            return x.to(dtype)
        if isinstance(x, (list, tuple)):
            return type(x)(AutocastEmulation._cast(v, dtype) for v in x)
        return x

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        f32 = torch.float32
        if func in _FP32_OPS or (func in _HALF_OPS and not self.active):
            return func(*self._cast(args, f32), **{n: self._cast(v, f32)
                                                   for n, v in kwargs.items()})
        if func not in _HALF_OPS:
            return func(*args, **kwargs)
        h = self.dtype
        # round to half, compute on those values in fp32 (fp32 accumulation), round the result
        a = self._cast(self._cast(args, h), f32)
        kw = {n: self._cast(self._cast(v, h), f32) for n, v in kwargs.items()}
        if func is F.scaled_dot_product_attention:  # as flash attention: P rounded before PV
            q, k, v = a[:3]
            s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            p = torch.exp(s - s.amax(-1, keepdim=True))
            return ((p.to(h).float() @ v) / p.sum(-1, keepdim=True)).to(h)
        return func(*a, **kw).to(h)


PARTS = ("encoder", "decoder", "dpt_trunk", "local_mlp")  # + "dpt_out": the last DPT conv


def _part_modules(model) -> Dict[str, list]:
    heads = (model.downstream_head1, model.downstream_head2)
    return {
        "encoder": [model.patch_embed, *model.enc_blocks, model.enc_norm],
        "decoder": [model.decoder_embed, *model.dec_blocks, *model.dec_blocks2, model.dec_norm],
        # DPT without its last 1x1 convolution
        "dpt_trunk": [m for h in heads for m in (h.dpt.act_postprocess, h.dpt.scratch,
                                                 *list(h.dpt.head)[:-1])],
        "dpt_out": [h.dpt.head[4] for h in heads],
        "local_mlp": [h.head_local_features for h in heads],
    }


@contextlib.contextmanager
def emulate(model, dtype: torch.dtype, half_parts):
    """Run ``model`` with the parts in ``half_parts`` emulated in ``dtype`` (others fp32)."""
    mode = AutocastEmulation(dtype)
    hooks = []
    for part, mods in _part_modules(model).items():
        on = part in half_parts
        for m in mods:
            state = {}

            def pre(_m, _a, on=on, state=state):
                state.setdefault("stack", []).append(mode.active)
                mode.active = on

            def post(_m, _a, _o, state=state):
                mode.active = state["stack"].pop()

            hooks += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        with mode:
            yield
    finally:
        for h in hooks:
            h.remove()


def _image(seed: int, hw):
    """Smooth random colour image (blurred noise, as bench_gpu.py), normalised, (1, 3, H, W)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (hw[0] // 16, hw[1] // 16, 3)).astype(np.uint8)
    rgb = np.kron(small, np.ones((16, 16, 1), np.uint8))
    return torch.from_numpy(normalize(rgb))[None]


@torch.inference_mode()
def run(model, img1, img2, dtype, half_parts, fp32_residual=True):
    """(raw head-1 dict, post-processed head-1 and head-2 dicts) of one pair."""
    hw = (img1.shape[2] // 16, img1.shape[3] // 16)
    model.fp32_residual = fp32_residual
    with emulate(model, dtype, half_parts):
        e1, e2 = model.encode(img1), model.encode(img2)
        tok1, tok2 = model.decode(e1, e2, hw)
        r1 = model.downstream_head1(tok1, hw)
        r2 = model.downstream_head2(tok2, hw, dense=False)
    r1 = {k: v.float() for k, v in r1.items()}
    return r1, postprocess(r1, model.spec), postprocess(r2, model.spec)


def compare(ref, got) -> Dict[str, float]:
    (rr, p1, p2), (gr, g1, g2) = ref, got
    a, b = p1["pts3d"].reshape(-1, 3), g1["pts3d"].reshape(-1, 3)
    err = torch.linalg.norm(a - b, dim=-1)
    na = torch.linalg.norm(a, dim=-1)
    rel = err / na.clamp(min=1e-12)
    medrel = err / na.median()
    d_ref = torch.linalg.norm(rr["dpt"][..., :3], dim=-1)
    d_got = torch.linalg.norm(gr["dpt"][..., :3], dim=-1)
    dd = (d_ref - d_got).abs().flatten()
    ok = torch.isfinite(rel)
    q = lambda t, p: float(torch.quantile(t[torch.isfinite(t)].flatten()[:1_000_000], p))  # noqa: E731
    desc = max(float((p1["desc"] - g1["desc"]).abs().max()),
               float((p2["desc"] - g2["desc"]).abs().max()))
    return {"pts3d_rel_p99": q(rel, 0.99), "pts3d_rel_max": float(rel[ok].max()),
            "pts3d_medrel_p99": q(medrel, 0.99), "pts3d_medrel_max": float(medrel[ok].max()),
            "raw_d_abs_p99": q(dd, 0.99), "raw_d_abs_max": float(dd.max()),
            "desc_max_abs": desc, "nonfinite": int((~ok).sum())}


# name -> (parts emulated in half, fp32 residual streams, DPT's last conv in fp32)
VARIANTS = {
    "before": (PARTS, False, False),  # the engine before this change: all in half
    "fp32_out": (PARTS, False, True),
    "fp32_residual": (PARTS, True, False),
    "now": (PARTS, True, True),  # fp32 residual streams + fp32 last DPT conv (the engine now)
    "now_encoder_half_only": (("encoder",), True, True),
    "now_decoder_half_only": (("decoder",), True, True),
    "now_dpt_half_only": (("dpt_trunk",), True, True),
    "now_fp32_dpt": (("encoder", "decoder", "local_mlp"), True, True),
    "now_fp32_decoder": (("encoder", "dpt_trunk", "local_mlp"), True, True),
}


def _layers(v: str) -> str:
    """--layers: 'full' or an encoder depth >= 1."""
    if v != "full" and not (v.isdigit() and int(v) >= 1):
        raise argparse.ArgumentTypeError(f"'full' or a number of layers >= 1, got {v!r}")
    return v


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="full", type=_layers,
                    help="'full' (24/12) or N: encoder N layers, decoders max(N, 10)")
    ap.add_argument("--size", default="224", choices=("224", "512"),
                    help="224 (224x224) or 512 (512x384)")
    ap.add_argument("--dtype", default="fp16", choices=("fp16", "bf16"))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--tiny", action="store_true",
                    help="the tests' tiny config (TINY_SPEC) instead of ViT-L widths")
    ap.add_argument("--median-distance", type=float, default=0.0,
                    help="scale the xyz rows of the DPTs' last convolution so the fp32 pointmap's "
                         "median distance is this many metres (random weights give ~200 m; a "
                         "trained network indoors 1-10 m); 0: leave the random weights as they are")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.manual_seed(0)
    spec = ModelSpec() if args.layers == "full" else dataclasses.replace(
        ModelSpec(), enc_depth=int(args.layers), dec_depth=max(10, int(args.layers)))
    spec = TINY_SPEC if args.tiny else spec
    hw = (224, 224) if args.size == "224" else (384, 512)
    dtype = torch.float16 if args.dtype == "fp16" else torch.bfloat16
    model = random_model(spec, seed=0)
    img1, img2 = _image(1, hw), _image(2, hw)
    t0 = time.perf_counter()
    ref = run(model, img1, img2, dtype, ())
    if args.median_distance > 0:  # d = |xyz_raw| is linear in the last conv's xyz rows
        d = torch.linalg.norm(ref[0]["dpt"][..., :3], dim=-1).median()
        k = math.log1p(args.median_distance) / float(d)
        with torch.no_grad():
            for h in (model.downstream_head1, model.downstream_head2):
                h.dpt.head[-1].weight[:3] *= k
                h.dpt.head[-1].bias[:3] *= k
        ref = run(model, img1, img2, dtype, ())
    d = torch.linalg.norm(ref[0]["dpt"][..., :3], dim=-1).flatten()
    n = torch.linalg.norm(ref[1]["pts3d"], dim=-1).flatten()
    out = {"spec": {"enc_depth": spec.enc_depth, "dec_depth": spec.dec_depth,
                    "enc_dim": spec.enc_embed_dim}, "hw": hw,
           "median_distance_calibrated": args.median_distance,
           "dtype": args.dtype, "weights": "random (seed 0)",
           "raw_d_quantiles": {str(p): float(torch.quantile(d, p))
                               for p in (0.0, 0.01, 0.5, 0.99, 1.0)},
           "pts3d_norm_quantiles": {str(p): float(torch.quantile(n, p))
                                    for p in (0.0, 0.01, 0.5, 0.99)},
           "fp32_pass_s": time.perf_counter() - t0, "variants": {}}
    print(json.dumps({k: v for k, v in out.items() if k != "variants"}), flush=True)
    for name in args.variants:
        t0 = time.perf_counter()
        parts, residual, out32 = VARIANTS[name]
        if not out32:
            parts = parts + ("dpt_out",)
        r = compare(ref, run(model, img1, img2, dtype, parts, residual))
        r["s"] = time.perf_counter() - t0
        out["variants"][name] = r
        print(f"{name:18s} " + " ".join(f"{k} {v:.2e}" for k, v in r.items()), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
