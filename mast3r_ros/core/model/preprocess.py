"""Image preprocessing exactly as the reference ``load_images`` does for sizes 512 and 224
(384 follows the 512 rule with a 384-pixel long edge).

The result keeps the exact mapping between network pixels and original-image pixels
(``to_orig``, a 3x3 matrix acting on homogeneous (x, y, 1) with pixel centres at integers).
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import numpy as np
from PIL import Image

from ..errors import InputError
from ..types import rgb8_hint

PATCH = 16
# 512: the checkpoints' training size (long edge). 384: the same long-edge resize/crop at a
# smaller size (any multiple of 16 runs; fewer tokens, faster, coarser). 224: square crop.
SIZES = (512, 384, 224)


@dataclasses.dataclass(frozen=True)
class ResizePlan:
    """How one image becomes a network input: resize to ``resized`` then crop ``box``."""

    orig_size: Tuple[int, int]  # (W, H)
    resized: Tuple[int, int]  # (W', H')
    box: Tuple[int, int, int, int]  # (left, top, right, bottom) in the resized image
    upscale: bool  # BICUBIC (up or equal) vs LANCZOS (down)

    @property
    def net_size(self) -> Tuple[int, int]:
        """(W, H) of the network input."""
        return (self.box[2] - self.box[0], self.box[3] - self.box[1])

    def to_orig(self) -> np.ndarray:
        """3x3 float64: network pixel (x, y, 1) -> original pixel (pixel centres at integers)."""
        sx = self.resized[0] / self.orig_size[0]
        sy = self.resized[1] / self.orig_size[1]
        left, top = self.box[:2]
        return np.array([[1 / sx, 0, (left + 0.5) / sx - 0.5],
                         [0, 1 / sy, (top + 0.5) / sy - 0.5],
                         [0, 0, 1]], dtype=np.float64)


# Smallest short side accepted, before resizing: one network patch. Below it the network sees an
# upsampled blur of less than one patch of real pixels (an 8x8 image becomes 512x384 of a few
# colours), and a 5 px RANSAC threshold accepts almost any match on it.
MIN_SIDE_PX = PATCH
# Most elongated aspect ratio accepted (long side / short side), the limit enforced. MASt3R was
# trained on ratios up to 16:5 (TRAINED_ASPECT, 3.2:1, MAST3R_FACTS section 8.2), the advice;
# 4:1 leaves a margin for odd camera modes.
MAX_ASPECT = 4.0
TRAINED_ASPECT = 3.2


def plan_resize(width: int, height: int, size: int, square_ok: bool = False) -> ResizePlan:
    """The reference resize/crop for ``size`` 224 (square crop) or a long-edge size (512, 384).

    Raises `InputError` for an empty image, an image under `MIN_SIDE_PX` (16) px on its short
    side, one more elongated than `MAX_ASPECT` (4:1), or a ``size`` not in `SIZES`."""
    if width < 1 or height < 1:
        raise InputError(f"image must be non-empty, got {width}x{height}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size not in SIZES:
        raise InputError(f"network image size must be one of {SIZES}, got {size!r}")
    if min(width, height) < MIN_SIDE_PX:
        raise InputError(f"image {width}x{height} is under {MIN_SIDE_PX} px on its short side "
                         "(one network patch), too small for the network: pass a camera image "
                         f"of at least {MIN_SIDE_PX}x{MIN_SIDE_PX} px")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(f"image {width}x{height} is too elongated for the network (aspect "
                         f"{max(width, height) / min(width, height):.1f}:1, over the "
                         f"{MAX_ASPECT:g}:1 limit): crop it to at most {MAX_ASPECT:g}:1, best to "
                         f"{TRAINED_ASPECT:g}:1 or less (the most elongated MASt3R was trained "
                         "on)")
    s = max(width, height)
    long_edge = round(size * max(width / height, height / width)) if size == 224 else size
    w2, h2 = round(width * long_edge / s), round(height * long_edge / s)
    cx, cy = w2 // 2, h2 // 2
    if size == 224:
        half = min(cx, cy)
        box = (cx - half, cy - half, cx + half, cy + half)
    else:
        halfw, halfh = ((2 * cx) // PATCH) * 8, ((2 * cy) // PATCH) * 8
        if not square_ok and w2 == h2:
            halfh = 3 * halfw // 4
        box = (cx - halfw, cy - halfh, cx + halfw, cy + halfh)
    if box[2] - box[0] < PATCH or box[3] - box[1] < PATCH:
        raise InputError(f"image {width}x{height} is too small or too elongated for the network")
    return ResizePlan((width, height), (w2, h2), box, upscale=s <= long_edge)


def plan_for_image(rgb: np.ndarray, size: int) -> ResizePlan:
    """`plan_resize` for an (H, W, 3) uint8 RGB array; raises InputError for anything else."""
    if not isinstance(rgb, np.ndarray):
        fix = ("; a torch tensor: pass tensor.cpu().numpy() of (H, W, 3) uint8"
               if type(rgb).__name__ == "Tensor" else "")
        raise InputError(f"expected an (H, W, 3) uint8 RGB image (a numpy array), got "
                         f"{type(rgb).__name__} {getattr(rgb, 'shape', '')}{fix}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}; "
                         f"{rgb8_hint(rgb)}")
    return plan_resize(rgb.shape[1], rgb.shape[0], size)


def resize_crop(rgb: np.ndarray, size: int) -> Tuple[np.ndarray, ResizePlan]:
    """(H, W, 3) uint8 RGB -> the network-resolution uint8 image and its plan."""
    plan = plan_for_image(rgb, size)
    img = Image.fromarray(rgb)
    if plan.resized != plan.orig_size:
        img = img.resize(plan.resized, Image.BICUBIC if plan.upscale else Image.LANCZOS)
    img = img.crop(plan.box)
    return np.asarray(img), plan


def normalize(rgb_u8: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [-1, 1]: (v / 255 - 0.5) / 0.5."""
    return ((rgb_u8.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1).copy()


def normalize_table() -> np.ndarray:
    """(256,) float32: `normalize` of each uint8 value, ``table[v] = (v / 255 - 0.5) / 0.5``
    computed by `normalize` itself, so a lookup in it equals `normalize` bit for bit (the
    engine normalises on the device this way: `engine_io.normalize_on_device`)."""
    return normalize(np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, axis=2))[0, 0]


def load_rgb(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, EXIF orientation applied, alpha dropped.

    The same decoding as every other image file: ``core.image_codec.read_image_file`` (16-bit
    files scaled as cv_bridge scales them). Raises InputError for a missing or unreadable file.
    """
    from ..image_codec import read_image_file

    return read_image_file(path)
