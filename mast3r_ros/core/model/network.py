"""The MASt3R / DUSt3R network (asymmetric CroCo ViT with DPT and local-feature heads).

Written from the architecture facts (ViT encoder with RoPE2D, two cross-attending decoders,
DPT pts3d+conf heads, MASt3R's MLP descriptor head). Module and parameter names reproduce the
official state-dict keys so the official checkpoints load with ``strict=True``.

Sources: MASt3R (Leroy, Cabon & Revaud, *Grounding Image Matching in 3D with MASt3R*, ECCV
2024), DUSt3R (Wang, Leroy, Cabon, Chidlovskii & Revaud, *DUSt3R: Geometric 3D Vision Made
Easy*, CVPR 2024), CroCo v2 (Weinzaepfel et al., *CroCo v2: Improved Cross-view Completion
Pre-training for Stereo Matching and Optical Flow*, ICCV 2023), DPT (Ranftl, Bochkovskiy &
Koltun, *Vision Transformers for Dense Prediction*, ICCV 2021), rotary position embeddings
(Su et al., *RoFormer*, 2021; 2-D as in CroCo v2).

Token order is row-major over the 16x16 patch grid; positions are integer (y, x) per token.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

PATCH = 16
DPT_LAYER_DIMS = (96, 192, 384, 768)
DPT_FEATURE_DIM = 256
DPT_LAST_DIM = 128
LN_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Architecture hyper-parameters (the official constructor kwargs we use)."""

    arch: str = "mast3r"  # 'mast3r' (AsymmetricMASt3R) or 'dust3r' (AsymmetricCroCo3DStereo)
    enc_embed_dim: int = 1024
    enc_depth: int = 24
    enc_num_heads: int = 16
    dec_embed_dim: int = 768
    dec_depth: int = 12
    dec_num_heads: int = 12
    mlp_ratio: float = 4.0
    rope_freq: float = 100.0
    img_size: Tuple[int, int] = (512, 512)
    desc_dim: int = 24  # 0 for DUSt3R
    two_confs: bool = True
    depth_mode: Tuple = ("exp", -math.inf, math.inf)
    conf_mode: Tuple = ("exp", 1, math.inf)
    desc_conf_mode: Tuple = ("exp", 0, math.inf)
    norm_im2_in_dec: bool = True

    @property
    def has_descriptors(self) -> bool:
        """True for MASt3R (a local-feature head: descriptors), False for DUSt3R."""
        return self.arch == "mast3r"

    def validate(self) -> None:
        """Raise ValueError on a configuration the network cannot run."""
        for name in ("enc_embed_dim", "enc_depth", "enc_num_heads", "dec_embed_dim",
                     "dec_depth", "dec_num_heads"):  # a damaged string: not torch's traceback
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive whole number, got {v!r}")
        if (isinstance(self.mlp_ratio, bool) or not isinstance(self.mlp_ratio, (int, float))
                or not 0 < self.mlp_ratio < math.inf):
            raise ValueError(f"mlp_ratio must be a positive number, got {self.mlp_ratio!r}")
        for dim, heads, what in ((self.enc_embed_dim, self.enc_num_heads, "encoder"),
                                 (self.dec_embed_dim, self.dec_num_heads, "decoder")):
            if dim % heads or (dim // heads) % 4:
                raise ValueError(f"{what}: embed dim {dim} / {heads} heads must give a head dim "
                                 "divisible by 4 (RoPE2D)")
        if self.dec_depth <= 9:
            raise ValueError(f"DPT heads need dec_depth > 9, got {self.dec_depth}")
        for name, mode in (("depth_mode", self.depth_mode), ("conf_mode", self.conf_mode),
                           ("desc_conf_mode", self.desc_conf_mode)):
            if mode[0] != "exp":
                raise ValueError(f"{name} {mode[0]!r} is not supported (only 'exp')")
        if self.depth_mode[1:] != (-math.inf, math.inf):
            raise ValueError(f"depth_mode must be unbounded, got {self.depth_mode}")
        if self.arch == "mast3r" and self.desc_dim <= 0:
            raise ValueError("MASt3R needs desc_dim > 0")


# --------------------------------------------------------------------------------- RoPE 2D
class RopeTables:
    """cos/sin of one token grid for every head dimension, built once per forward pass.

    Layout along the head dimension d: [y-half | x-half], each half [u | v] of size d/4 with the
    same angles, so a whole head vector rotates with ``t * cos + rotate_pairs(t) * sin``.
    Shapes (B, 1, N, d); casts to other dtypes (autocast) are made once and kept.
    """

    def __init__(self, cos: torch.Tensor, sin: torch.Tensor):
        self._by_dtype = {cos.dtype: (cos, sin)}

    def get(self, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        if dtype not in self._by_dtype:
            cos, sin = self._by_dtype[torch.float32]
            self._by_dtype[dtype] = (cos.to(dtype), sin.to(dtype))
        return self._by_dtype[dtype]


class RoPE2D(nn.Module):
    """Rotary embedding over (y, x): first half of each head vector encodes y, second half x.

    Within each half of size D, dimension i pairs with i + D/2 ("rotate half"); frequencies
    base^(-2j/D). Angles are computed in float32 (as the reference's table) and cast to the
    tensor's dtype.
    """

    def __init__(self, freq: float = 100.0):
        super().__init__()
        self.base = freq

    def tables(self, pos: torch.Tensor, head_dim: int) -> RopeTables:
        """pos (B, N, 2) int64 (y, x) -> tables for head vectors of size ``head_dim``."""
        half = head_dim // 2
        inv = 1.0 / (self.base ** (torch.arange(0, half, 2, device=pos.device).float() / half))
        ang_y = pos[..., 0, None].float() * inv
        ang_x = pos[..., 1, None].float() * inv
        ang = torch.cat((ang_y, ang_y, ang_x, ang_x), dim=-1)[:, None]
        return RopeTables(ang.cos(), ang.sin())

    @staticmethod
    def apply(t: torch.Tensor, tables: RopeTables) -> torch.Tensor:
        """Rotate t (..., B, H, N, d) by the tables (B, 1, N, d)."""
        cos, sin = tables.get(t.dtype)
        t4 = t.unflatten(-1, (2, 2, t.shape[-1] // 4))
        rot = torch.cat((-t4[..., 1:2, :], t4[..., 0:1, :]), dim=-2).flatten(-3)
        return t * cos + rot * sin

    def forward(self, t: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """t (B, H, N, d), pos (B, N, 2) int64 (y, x) -> rotated t."""
        return self.apply(t, self.tables(pos, t.shape[-1]))


# ------------------------------------------------------------------------------- blocks
class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, out: Optional[int] = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out or dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    b, t, c = x.shape
    return x.view(b, t, n, c // n).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, rope: RoPE2D):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rope = rope

    def forward(self, x: torch.Tensor, rt: RopeTables) -> torch.Tensor:
        b, t, c = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        qk = self.rope.apply(qkv[:2], rt)  # q and k rotated together: fewer kernel launches
        return self.proj(_merge(F.scaled_dot_product_attention(qk[0], qk[1], qkv[2])))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, rope: RoPE2D):
        super().__init__()
        self.num_heads = num_heads
        self.projq = nn.Linear(dim, dim)
        self.projk = nn.Linear(dim, dim)
        self.projv = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.rope = rope

    def forward(self, x, y, xrt: RopeTables, yrt: RopeTables):
        n = self.num_heads
        q = self.rope.apply(_heads(self.projq(x), n), xrt)
        k = self.rope.apply(_heads(self.projk(y), n), yrt)
        v = _heads(self.projv(y), n)
        return self.proj(_merge(F.scaled_dot_product_attention(q, k, v)))


def _ln(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=LN_EPS)


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, rope: RoPE2D):
        super().__init__()
        self.norm1 = _ln(dim)
        self.attn = Attention(dim, num_heads, rope)
        self.norm2 = _ln(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, rt: RopeTables):
        x = x + self.attn(self.norm1(x), rt)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, rope: RoPE2D,
                 norm_mem: bool = True):
        super().__init__()
        self.norm1 = _ln(dim)
        self.attn = Attention(dim, num_heads, rope)
        self.cross_attn = CrossAttention(dim, num_heads, rope)
        self.norm2 = _ln(dim)
        self.norm3 = _ln(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm_y = _ln(dim) if norm_mem else nn.Identity()

    def forward(self, x, y, xrt: RopeTables, yrt: RopeTables):
        x = x + self.attn(self.norm1(x), xrt)
        y_ = self.norm_y(y)
        x = x + self.cross_attn(self.norm2(x), y_, xrt, yrt)
        return x + self.mlp(self.norm3(x))


def run_fp32(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` in float32 with autocast off (the module's weights must be float32).

    Used for the DPT's last 1x1 convolution: its raw output d = |xyz| becomes the pointmap
    through expm1, so an fp16 rounding of d (2^-11 relative: 2e-3 at d = 4) is a relative
    error of |pts3d| of the same size. Costs one 1x1 convolution to 4 channels in fp32.
    """
    with torch.autocast(x.device.type, enabled=False):
        return module(x.float())


# ------------------------------------------------------------------------------- DPT head
class ResidualConvUnit(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.out_conv = nn.Conv2d(c, c, 1)
        self.resConfUnit1 = ResidualConvUnit(c)
        self.resConfUnit2 = ResidualConvUnit(c)

    def forward(self, x, skip=None):
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class _Scratch(nn.Module):
    def __init__(self, in_dims: Sequence[int], c: int):
        super().__init__()
        convs = [nn.Conv2d(d, c, 3, padding=1, bias=False) for d in in_dims]
        self.layer1_rn, self.layer2_rn, self.layer3_rn, self.layer4_rn = convs
        # The official files hold these convolutions twice, under both names (shared storage).
        self.layer_rn = nn.ModuleList(convs)
        self.refinenet1 = FusionBlock(c)
        self.refinenet2 = FusionBlock(c)
        self.refinenet3 = FusionBlock(c)
        self.refinenet4 = FusionBlock(c)


class _Interpolate(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class DPT(nn.Module):
    """Dense prediction transformer adapter: 4 hooked token maps -> (B, out, H, W)."""

    def __init__(self, token_dims: Sequence[int], out_channels: int):
        super().__init__()
        self.scratch = _Scratch(DPT_LAYER_DIMS, DPT_FEATURE_DIM)
        f, last = DPT_FEATURE_DIM, DPT_LAST_DIM
        self.head = nn.Sequential(
            nn.Conv2d(f, last, 3, padding=1), _Interpolate(), nn.Conv2d(last, last, 3, padding=1),
            nn.ReLU(), nn.Conv2d(last, out_channels, 1))
        ld = DPT_LAYER_DIMS
        self.act_postprocess = nn.ModuleList([
            nn.Sequential(nn.Conv2d(token_dims[0], ld[0], 1),
                          nn.ConvTranspose2d(ld[0], ld[0], 4, 4)),
            nn.Sequential(nn.Conv2d(token_dims[1], ld[1], 1),
                          nn.ConvTranspose2d(ld[1], ld[1], 2, 2)),
            nn.Sequential(nn.Conv2d(token_dims[2], ld[2], 1)),
            nn.Sequential(nn.Conv2d(token_dims[3], ld[3], 1),
                          nn.Conv2d(ld[3], ld[3], 3, stride=2, padding=1)),
        ])

    def forward(self, tokens: Sequence[torch.Tensor], hw: Tuple[int, int]) -> torch.Tensor:
        """Raw (B, out, H, W); the last 1x1 convolution (``head[-1]``) runs in float32."""
        h, w = hw
        s = self.scratch
        layers = []
        for tok, post, rn in zip(tokens, self.act_postprocess, s.layer_rn):
            x = tok.transpose(1, 2).reshape(tok.shape[0], tok.shape[2], h, w)
            layers.append(rn(post(x)))
        l1, l2, l3, l4 = layers
        p4 = s.refinenet4(l4)[:, :, : l3.shape[2], : l3.shape[3]]
        p3 = s.refinenet3(p4, l3)
        p2 = s.refinenet2(p3, l2)
        x = s.refinenet1(p2, l1)
        *body, last = self.head
        for m in body:
            x = m(x)
        return run_fp32(last, x)


class Head(nn.Module):
    """One view's head: DPT (pts3d + conf) and, for MASt3R, the MLP local-feature head."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        d = spec.dec_depth
        self.hooks = (0, d * 2 // 4, d * 3 // 4, d)
        dims = (spec.enc_embed_dim,) + (spec.dec_embed_dim,) * 3
        self.dpt = DPT(dims, 4)
        self.desc_dim = spec.desc_dim if spec.has_descriptors else 0
        if self.desc_dim:
            idim = spec.enc_embed_dim + spec.dec_embed_dim
            out = (self.desc_dim + int(spec.two_confs)) * PATCH * PATCH
            self.head_local_features = Mlp(idim, 4 * idim, out)

    def forward(self, tokens: Sequence[torch.Tensor], hw: Tuple[int, int],
                dense: bool = True) -> Dict[str, torch.Tensor]:
        """Raw (pre-activation) channels, channel-last: 'dpt' (B,H,W,4), 'local' (B,H,W,D+1)."""
        out = {}
        if dense:
            out["dpt"] = self.dpt([tokens[i] for i in self.hooks], hw).permute(0, 2, 3, 1)
        if self.desc_dim:
            x = torch.cat((tokens[0], tokens[-1]), dim=-1)
            x = self.head_local_features(x)
            b, n, c = x.shape
            x = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
            out["local"] = F.pixel_shuffle(x, PATCH).permute(0, 2, 3, 1)
        return out


class PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, PATCH)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.proj(img).flatten(2).transpose(1, 2)


def token_positions(hw: Tuple[int, int], batch: int, device) -> torch.Tensor:
    """(B, h*w, 2) int64 (y, x) positions of the patch grid, row-major."""
    h, w = hw
    y, x = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                          indexing="ij")
    return torch.stack((y.reshape(-1), x.reshape(-1)), dim=-1)[None].expand(batch, -1, -1)


# ------------------------------------------------------------------------------- network
class AsymmetricMASt3R(nn.Module):
    """Encoder + two decoders + two heads. Also serves DUSt3R-dpt (``spec.arch == 'dust3r'``)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        spec.validate()
        self.spec = spec
        rope = RoPE2D(spec.rope_freq)
        e, d = spec.enc_embed_dim, spec.dec_embed_dim
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.patch_embed = PatchEmbed(e)
        self.enc_blocks = nn.ModuleList(
            [EncoderBlock(e, spec.enc_num_heads, spec.mlp_ratio, rope)
             for _ in range(spec.enc_depth)])
        self.enc_norm = _ln(e)
        self.decoder_embed = nn.Linear(e, d)
        mk = lambda: nn.ModuleList(  # noqa: E731
            [DecoderBlock(d, spec.dec_num_heads, spec.mlp_ratio, rope, spec.norm_im2_in_dec)
             for _ in range(spec.dec_depth)])
        self.dec_blocks = mk()
        self.dec_blocks2 = mk()
        self.dec_norm = _ln(d)
        self.downstream_head1 = Head(spec)
        self.downstream_head2 = Head(spec)
        # Keep the encoder's and decoders' residual streams in float32 under autocast (the
        # matmuls still run in fp16/bf16; only the additions, read by fp32 LayerNorms, are
        # fp32): rounding each of 24 + 12 residual additions to fp16 is the largest share of
        # the fp16 pts3d error (bench/precision_fp16.py). A no-op in fp32.
        self.fp32_residual = True

    def fp32_modules(self) -> List[nn.Module]:
        """Modules whose weights stay float32 when the engine stores the rest in fp16/bf16:
        each DPT's last 1x1 convolution (it runs with autocast off: `run_fp32`) and the
        LayerNorms (autocast runs them in fp32 anyway; fp32 weights keep them exact and let them
        take the fp32 residual stream on any device). 0.25 M of 689 M parameters."""
        heads = [h.dpt.head[-1] for h in (self.downstream_head1, self.downstream_head2)]
        return heads + [m for m in self.modules() if isinstance(m, nn.LayerNorm)]

    # -- encoder -----------------------------------------------------------------------
    def encode(self, img: torch.Tensor) -> torch.Tensor:
        """img (B, 3, H, W) normalised to [-1, 1], H and W multiples of 16 -> (B, N, enc_dim)."""
        b, _, h, w = img.shape
        if h % PATCH or w % PATCH:
            raise ValueError(f"image size {w}x{h} must be a multiple of {PATCH}")
        x = self.patch_embed(img)
        if self.fp32_residual:
            x = x.float()
        pos = token_positions((h // PATCH, w // PATCH), b, img.device)
        rt = self.enc_blocks[0].attn.rope.tables(pos, self.spec.enc_embed_dim //
                                                 self.spec.enc_num_heads)
        for blk in self.enc_blocks:
            x = blk(x, rt)
        return self.enc_norm(x)

    # -- decoder -----------------------------------------------------------------------
    def decode(self, enc1: torch.Tensor, enc2: torch.Tensor, hw: Tuple[int, int],
               hw2: Optional[Tuple[int, int]] = None
               ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Cross-attending decoders; returns the dec_depth+1 token lists handed to the heads.

        ``enc1`` (B, h*w, C) on the token grid ``hw`` (h, w); ``enc2`` (B, h2*w2, C) on ``hw2``
        (default ``hw``). The views may differ in size: cross-attention takes token sets of
        different lengths, and each view's rotary positions come from its own grid.
        """
        head_dim = self.spec.dec_embed_dim // self.spec.dec_num_heads
        rope = self.dec_blocks[0].attn.rope
        rt1 = rope.tables(token_positions(hw, enc1.shape[0], enc1.device), head_dim)
        # views of one size share one grid: one set of rotary tables serves every attention
        rt2 = rt1 if hw2 is None or tuple(hw2) == tuple(hw) else rope.tables(
            token_positions(hw2, enc2.shape[0], enc2.device), head_dim)
        f1, f2 = self.decoder_embed(enc1), self.decoder_embed(enc2)
        if self.fp32_residual:
            f1, f2 = f1.float(), f2.float()
        out1, out2 = [enc1], [enc2]
        for blk1, blk2 in zip(self.dec_blocks, self.dec_blocks2):
            f1, f2 = blk1(f1, f2, rt1, rt2), blk2(f2, f1, rt2, rt1)
            out1.append(f1)
            out2.append(f2)
        out1[-1] = self.dec_norm(out1[-1])
        out2[-1] = self.dec_norm(out2[-1])
        return out1, out2

    # -- heads -------------------------------------------------------------------------
    def heads(self, tok1, tok2, hw_tokens: Tuple[int, int], dense2: bool = True,
              hw_tokens2: Optional[Tuple[int, int]] = None
              ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Raw head outputs in float32 (autocast off for the final activations); view 2 on its
        own token grid ``hw_tokens2`` (default ``hw_tokens``)."""
        r1 = self.downstream_head1(tok1, hw_tokens)
        r2 = self.downstream_head2(tok2, hw_tokens2 or hw_tokens, dense=dense2)
        return postprocess(r1, self.spec), postprocess(r2, self.spec)

    def forward(self, img1: torch.Tensor, img2: torch.Tensor):
        """Full pair inference: view 1 and view 2 of equal size -> (pred1, pred2) dicts."""
        hw = (img1.shape[2] // PATCH, img1.shape[3] // PATCH)
        tok1, tok2 = self.decode(self.encode(img1), self.encode(img2), hw)
        return self.heads(tok1, tok2, hw)


def postprocess(raw: Dict[str, torch.Tensor], spec: ModelSpec) -> Dict[str, torch.Tensor]:
    """Apply the output activations in float32: pts3d (expm1 of the norm), conf, desc, desc_conf.

    DUSt3R's 'exp' modes (naver/dust3r ``dust3r/heads/postprocess.py``, ``reg_dense_depth`` and
    ``reg_dense_conf``): pts3d ``xyz / |xyz| * expm1(|xyz|)``, conf ``conf_mode[1] + exp(c)``;
    desc unit-normalised, desc_conf ``desc_conf_mode[1] + exp(c)`` (MASt3R's second
    confidence; naver/mast3r ``mast3r/catmlp_dpt_head.py``).
    """
    out = {}
    if "dpt" in raw:
        x = raw["dpt"].float()
        xyz = x[..., :3]
        d = xyz.norm(dim=-1, keepdim=True)
        out["pts3d"] = xyz / d.clamp(min=1e-8) * torch.expm1(d)
        out["conf"] = spec.conf_mode[1] + x[..., 3].exp().clamp(
            max=spec.conf_mode[2] - spec.conf_mode[1])
    if "local" in raw:
        x = raw["local"].float()
        desc = x[..., : spec.desc_dim]
        out["desc"] = desc / desc.norm(dim=-1, keepdim=True)
        if spec.two_confs:
            m = spec.desc_conf_mode
            out["desc_conf"] = m[1] + x[..., spec.desc_dim].exp().clamp(max=m[2] - m[1])
        elif "conf" in out:
            out["desc_conf"] = out["conf"].clone()
    return out
