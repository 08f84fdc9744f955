"""The engine's data on the device: the host->device copy (`to_device`), the normalisation of
a uint8 image there (`normalize_on_device`), and the records the engine takes and gives --
`PreparedImage` (a network input), `Encoding` (encoder output, what a map caches per keyframe)
and `PairPrediction` (the heads' per-pixel outputs of one pair).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from ..errors import InputError
from .network import PATCH
from .preprocess import normalize_table


def to_device(a: np.ndarray, device) -> torch.Tensor:
    """A copy of the array ``a`` on ``device``, dtype kept: one host->device copy of its bytes
    (on the CPU one memcpy), never aliasing ``a`` -- which may be read-only (an encoding-store
    record, a PIL image's buffer) and is only read."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(np.ascontiguousarray(a))
    return t.to(device, copy=True)


def normalize_on_device(rgb_u8: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 tensor -> (1, 3, H, W) float32 in [-1, 1] on its device, bit-identical
    to `preprocess.normalize` (``(v / 255 - 0.5) / 0.5`` in float32).

    On the CPU the same float32 operations (torch divides float32 there as numpy does: the
    correctly rounded quotient). Elsewhere a lookup in `preprocess.normalize_table` (numpy's
    result for each of the 256 values, copied to the device once), because CUDA divides a
    tensor by a host scalar as a multiplication by its reciprocal, which differs from the
    quotient in the last bit for 126 of the 256 values of v / 255 (float32 v * (1 / 255)
    against v / 255, computed with numpy); the lookup is exact on every device and backend.
    """
    if rgb_u8.device.type == "cpu":
        return _normalize_arithmetic(rgb_u8)
    return _normalize_lookup(rgb_u8)


def _normalize_arithmetic(rgb_u8: torch.Tensor) -> torch.Tensor:
    x = rgb_u8.permute(2, 0, 1).contiguous().to(torch.float32)  # transpose the 1-byte values
    return x.div_(255.0).sub_(0.5).div_(0.5)[None]


_TABLES: Dict[str, torch.Tensor] = {}  # device -> `normalize_table` there (1 KB each)


def _normalize_lookup(rgb_u8: torch.Tensor) -> torch.Tensor:
    key = str(rgb_u8.device)
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = torch.from_numpy(normalize_table()).to(rgb_u8.device)
    return table[rgb_u8.permute(2, 0, 1).int()][None].contiguous()


@dataclasses.dataclass
class PreparedImage:
    """A network input: ``tensor`` (1, 3, H, W) float32 normalised to [-1, 1]
    (`preprocess.normalize`), on the engine device; ``image_u8`` the (H, W, 3) uint8
    network-resolution image it was made from, a numpy array or a tensor on the device (read it
    as `rgb`)."""

    tensor: torch.Tensor
    true_shape: Tuple[int, int]  # (H, W) network pixels
    to_orig: np.ndarray  # 3x3: network pixel (x, y, 1) -> original pixel
    orig_size: Tuple[int, int]  # (W, H)
    image_u8: Any  # (H, W, 3) uint8 network-resolution image: np.ndarray or device tensor

    @property
    def rgb(self) -> np.ndarray:
        """The (H, W, 3) uint8 network-resolution image on the host (for pictures; copied from
        the device on first use when it was resized there)."""
        if isinstance(self.image_u8, torch.Tensor):
            self.image_u8 = self.image_u8.cpu().numpy()
        return self.image_u8


@dataclasses.dataclass
class Encoding:
    """Encoder output of one image (after enc_norm): ``feats`` (N, C), N = (H/16)*(W/16),
    on the engine device. float32 from `Mast3rEngine.encode`; a map's cached keyframe
    encodings (`from_numpy`) stay in their stored dtype (float16), half the device bytes, and
    `Mast3rEngine.decode` casts them to float32 on the device -- exactly the values the host
    conversion gave (every float16 is a float32). ``true_shape`` is the image's (H, W) in
    network pixels. ``identity``: the `CheckpointInfo.identity` of the network that encoded it
    (`Mast3rEngine.encode` sets it; None: unknown, as for `from_numpy`): a decode by another
    network is refused instead of decoding its features into garbage."""

    feats: torch.Tensor
    true_shape: Tuple[int, int]  # (H, W) network pixels
    identity: Optional[str] = None

    def to_numpy(self) -> Dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (float16 features; no pickle needed to read them back)."""
        return {"feats": self.feats.detach().to("cpu", torch.float16).numpy(),
                "true_shape": np.asarray(self.true_shape, dtype=np.int64)}

    @staticmethod
    def from_numpy(d: Dict[str, np.ndarray], device) -> Encoding:
        """The `Encoding` of ``to_numpy``'s arrays (``feats`` (N, C), ``true_shape`` (2,)):
        the feature bytes are copied to ``device`` as they are stored (float16: half the bytes
        of float32, no conversion on the host). Raises InputError when N does not fit the
        image size, a key missing or a true_shape that is not whole numbers."""
        keys = ("feats", "true_shape")
        if not isinstance(d, Mapping):
            raise InputError(f"cached encoding must be a mapping of {' and '.join(keys)} (what "
                             f"Encoding.to_numpy gives), got {type(d).__name__}")
        missing = [k for k in keys if k not in d]
        if missing:
            raise InputError(f"cached encoding is missing {', '.join(missing)}: "
                             "Encoding.from_numpy takes the arrays Encoding.to_numpy gives "
                             "(feats (N, C), true_shape (2,)); encode the image again")
        try:
            given = np.asarray(d["true_shape"]).reshape(-1).tolist()
            shape = tuple(int(v) for v in given)
            if given != list(shape):  # 32.5 or '32': int() made a whole number of it
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"cached encoding true_shape must be the image's (H, W) in network "
                             f"pixels, got {d['true_shape']!r:.80}") from None
        feats = np.asarray(d["feats"])
        if len(shape) != 2 or feats.ndim != 2 or feats.shape[0] != (shape[0] // PATCH) * (
                shape[1] // PATCH):
            raise InputError(f"cached encoding has inconsistent shape {feats.shape} for "
                             f"image {shape}")
        if feats.dtype.kind != "f":  # torch.from_numpy refused text and objects, bare
            raise InputError(f"cached encoding feats must be floating point (to_numpy stores "
                             f"float16), got {feats.dtype}; encode the image again")
        return Encoding(to_device(feats, device), shape)

    def check(self, enc_dim: int, what: str, identity: Optional[str] = None) -> None:
        """Raise `InputError` (naming ``what``) unless ``feats`` is a floating (N, ``enc_dim``)
        tensor (any device) with N = (H/16)*(W/16) of ``true_shape`` (H, W), and, when both
        are known, the encoding's ``identity`` is ``identity`` (the decoding network's)."""
        if identity is not None and self.identity is not None and self.identity != identity:
            raise InputError(f"{what} was encoded by another checkpoint (identity "
                             f"{self.identity[:16]}) than the one decoding it ({identity[:16]}): "
                             "one network's features decode into garbage with another's "
                             "decoder; encode the image again with this engine")
        f = self.feats
        if not isinstance(f, torch.Tensor):
            raise InputError(f"{what}.feats must be a torch tensor (engine.encode or "
                             f"Encoding.from_numpy make one), got {type(f).__name__}")
        shape = tuple(self.true_shape) if isinstance(self.true_shape, (tuple, list)) else ()
        if len(shape) != 2 or not all(isinstance(v, (int, np.integer)) and v >= PATCH
                                      for v in shape):
            raise InputError(f"{what}.true_shape must be the image's (H, W) in network pixels, "
                             f"got {self.true_shape!r}")
        n = (int(shape[0]) // PATCH) * (int(shape[1]) // PATCH)
        if f.ndim != 2 or tuple(f.shape) != (n, enc_dim) or not f.is_floating_point():
            raise InputError(f"{what}.feats is {tuple(f.shape)} {f.dtype}, but this network's "
                             f"encoding of a {shape[0]}x{shape[1]} image is ({n}, {enc_dim}) "
                             "floating point: was it encoded by another checkpoint or at "
                             "another size?")


@dataclasses.dataclass
class PairPrediction:
    """Per-pixel outputs at network resolution (float32, on the engine device), the heads of
    MASt3R (Leroy, Cabon & Revaud, *Grounding Image Matching in 3D with MASt3R*, ECCV 2024).

    View 1 = keyframe, view 2 = query; H, W are each view's own network pixels
    (`Encoding.true_shape`). ``pts3d_*`` (H, W, 3): ``pts3d_1`` in camera 1's optical frame
    (metres for the metric checkpoint); ``pts3d_2`` holds view-2 pixels' points *also in
    camera 1's frame*. ``conf_*`` (H, W) pointmap confidence ``conf_mode[1] + exp(.)`` (> 1 for
    the official checkpoints). ``desc_*`` (H, W, D) unit-norm local descriptors (D =
    ``ModelSpec.desc_dim``, 24 for MASt3R); ``desc_conf_*`` (H, W) their confidence
    ``desc_conf_mode[1] + exp(.)`` (> 0 for the official MASt3R checkpoints). Descriptor fields
    are None for DUSt3R; ``pts3d_2``/``conf_2`` are None when not requested.
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
        """The set fields as host numpy arrays, by field name (None fields left out)."""
        return {k: v.detach().cpu().numpy() for k, v in dataclasses.asdict(self).items()
                if v is not None}
