"""Inference shaped for localization: encode once, decode a query against cached encodings.

A keyframe map caches each keyframe's encoder output (`Encoding`); a live query is encoded once
and decoded against one or many keyframes in one batch, keyframe as view 1 (its pointmap comes
out in its own camera frame) and query as view 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..config import ModelConfig
from ..errors import ConfigError, InputError
from .checkpoint import CheckpointInfo, load_checkpoint, resolve_checkpoint
from .network import PATCH, AsymmetricMASt3R
from .preprocess import normalize, resize_crop

log = logging.getLogger(__name__)

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available else cpu; validates 'cuda' availability."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"device {name!r} is not a torch device (use auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available "
                          "(torch.cuda.is_available() is False); use device 'cpu'")
    return dev


@dataclasses.dataclass
class PreparedImage:
    """A network input: ``tensor`` (1, 3, H, W) normalised, on the engine device."""

    tensor: torch.Tensor
    true_shape: Tuple[int, int]  # (H, W) network pixels
    to_orig: np.ndarray  # 3x3: network pixel (x, y, 1) -> original pixel
    orig_size: Tuple[int, int]  # (W, H)
    rgb: np.ndarray  # (H, W, 3) uint8 network-resolution image (for pictures)


@dataclasses.dataclass
class Encoding:
    """Encoder output of one image (after enc_norm): ``feats`` (N, C), N = (H/16)*(W/16)."""

    feats: torch.Tensor
    true_shape: Tuple[int, int]

    def to_numpy(self) -> Dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (float16 features; no pickle needed to read them back)."""
        return {"feats": self.feats.detach().to("cpu", torch.float16).numpy(),
                "true_shape": np.asarray(self.true_shape, dtype=np.int64)}

    @staticmethod
    def from_numpy(d: Dict[str, np.ndarray], device) -> Encoding:
        shape = tuple(int(v) for v in np.asarray(d["true_shape"]).reshape(-1))
        feats = np.asarray(d["feats"])
        if len(shape) != 2 or feats.ndim != 2 or feats.shape[0] != (shape[0] // PATCH) * (
                shape[1] // PATCH):
            raise InputError(f"cached encoding has inconsistent shape {feats.shape} for "
                             f"image {shape}")
        return Encoding(torch.from_numpy(feats.astype(np.float32)).to(device), shape)


@dataclasses.dataclass
class PairPrediction:
    """Per-pixel outputs at network resolution (float32, on the engine device).

    View 1 = keyframe, view 2 = query. ``pts3d_1`` is in camera 1's optical frame (metres for the
    metric checkpoint); ``pts3d_2`` holds view-2 pixels' points *also in camera 1's frame*.
    Descriptor fields are None for DUSt3R; ``pts3d_2``/``conf_2`` are None when not requested.
    """

    pts3d_1: torch.Tensor
    conf_1: torch.Tensor
    desc_1: Optional[torch.Tensor]
    desc_conf_1: Optional[torch.Tensor]
    pts3d_2: Optional[torch.Tensor]
    conf_2: Optional[torch.Tensor]
    desc_2: Optional[torch.Tensor]
    desc_conf_2: Optional[torch.Tensor]

    def to_numpy(self) -> Dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in dataclasses.asdict(self).items()
                if v is not None}


class Mast3rEngine:
    """The network on a device, with autocast on CUDA (fp16/bf16) and fp32 on CPU."""

    def __init__(self, model: AsymmetricMASt3R, device: torch.device, precision: str = "fp32",
                 info: Optional[CheckpointInfo] = None):
        if precision not in _DTYPES:
            raise ConfigError(f"precision must be one of {list(_DTYPES)}, got {precision!r}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cuda":
            # Frame sizes are fixed per camera: let cuDNN pick the fastest head convolutions.
            torch.backends.cudnn.benchmark = True
        self.precision = precision if self.device.type == "cuda" else "fp32"
        if precision != self.precision:
            log.info("precision %s applies to CUDA only; running fp32 on %s", precision,
                     self.device)
        self.info = info
        self.identity = info.identity if info else "unsaved-model"

    @classmethod
    def from_checkpoint(cls, path: str, device: str = "cpu", precision: str = "fp32"
                        ) -> Mast3rEngine:
        dev = resolve_device(device)
        model, info = load_checkpoint(path, device="cpu")
        return cls(model, dev, precision, info)

    @classmethod
    def from_config(cls, model_cfg: ModelConfig) -> Mast3rEngine:
        """The engine a config names: its checkpoint (``~`` and ``$VARS`` expanded), device and
        precision. The one way the CLI, the localizer and ``pair`` build an engine.

        Raises `ConfigError` when no checkpoint is configured, `CheckpointError` when it cannot
        be loaded.
        """
        if not model_cfg.checkpoint:
            raise ConfigError("the MASt3R network needs a checkpoint: set the 'checkpoint' "
                              "parameter (--checkpoint PATH); see README: 'Model weights'")
        return cls.from_checkpoint(resolve_checkpoint(model_cfg.checkpoint), model_cfg.device,
                                   model_cfg.precision)

    @property
    def has_descriptors(self) -> bool:
        return self.model.spec.has_descriptors

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=_DTYPES[self.precision])

    # -- public API ------------------------------------------------------------------
    def prepare(self, rgb: np.ndarray, size: int = 512) -> PreparedImage:
        """(H, W, 3) uint8 RGB -> network input per the reference preprocessing."""
        net, plan = resize_crop(rgb, size)
        t = torch.from_numpy(normalize(net))[None].to(self.device)
        return PreparedImage(t, (net.shape[0], net.shape[1]), plan.to_orig(), plan.orig_size, net)

    @torch.inference_mode()
    def encode(self, img: PreparedImage) -> Encoding:
        with self._autocast():
            feats = self.model.encode(img.tensor)[0]
        return Encoding(feats, img.true_shape)

    @torch.inference_mode()
    def decode(self, view1: Sequence[Encoding], view2: Encoding, *, pts3d_2: bool = False
               ) -> List[PairPrediction]:
        """Decode ``view2`` against every encoding of ``view1``, in one batch per view-1 size.

        The views may differ in size (a query camera of another resolution or aspect ratio than
        the map's): each prediction's view-1 fields are on view 1's network grid, view-2 fields
        on view 2's. Keyframes of equal size are stacked into one batch; the predictions come
        back in ``view1`` order. ``pts3d_2=False`` skips view 2's DPT head (the localizer does
        not need it).
        """
        groups: Dict[Tuple[int, int], List[int]] = {}
        for i, e in enumerate(view1):
            groups.setdefault(tuple(e.true_shape), []).append(i)
        out: List[Optional[PairPrediction]] = [None] * len(view1)
        for idx in groups.values():
            for i, p in zip(idx, self._decode_batch([view1[i] for i in idx], view2, pts3d_2)):
                out[i] = p
        return out  # type: ignore[return-value]

    def _decode_batch(self, view1: Sequence[Encoding], view2: Encoding, pts3d_2: bool
                      ) -> List[PairPrediction]:
        """One batch: every ``view1`` encoding has the same size (view 2's may differ)."""
        s1, s2 = view1[0].true_shape, view2.true_shape
        hw1, hw2 = (s1[0] // PATCH, s1[1] // PATCH), (s2[0] // PATCH, s2[1] // PATCH)
        e1 = torch.stack([e.feats.to(self.device) for e in view1])
        e2 = view2.feats.to(self.device)[None].expand(len(view1), -1, -1)
        with self._autocast():
            if hw1 == hw2:  # the usual case: the call the compiled/exported backends know
                tok1, tok2 = self.model.decode(e1, e2, hw1)
                r1, r2 = self.model.heads(tok1, tok2, hw1, dense2=pts3d_2)
            else:
                tok1, tok2 = self.model.decode(e1, e2, hw1, hw2)
                r1, r2 = self.model.heads(tok1, tok2, hw1, dense2=pts3d_2, hw_tokens2=hw2)
        return [PairPrediction(
            r1["pts3d"][i], r1["conf"][i], _get(r1, "desc", i), _get(r1, "desc_conf", i),
            _get(r2, "pts3d", i), _get(r2, "conf", i), _get(r2, "desc", i),
            _get(r2, "desc_conf", i)) for i in range(len(view1))]

    def pair(self, img1: PreparedImage, img2: PreparedImage) -> PairPrediction:
        """Full two-view inference (both encoders, both heads)."""
        return self.decode([self.encode(img1)], self.encode(img2), pts3d_2=True)[0]

    def close(self) -> None:
        """Drop the weights and give cached CUDA memory back."""
        self.model = None  # type: ignore[assignment]
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _get(d: Dict[str, torch.Tensor], key: str, i: int) -> Optional[torch.Tensor]:
    return d[key][i] if key in d else None
