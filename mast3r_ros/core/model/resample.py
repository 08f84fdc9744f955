"""Pillow's 8-bit LANCZOS/BICUBIC resize, bit for bit, as torch integer ops on any device.

The reference preprocessing resizes with Pillow (`preprocess.resize_crop`: LANCZOS down,
BICUBIC up). On a robot that is 3-15 ms of one CPU core per frame (640x480 -> 512x384: 3.8 ms
on an idle x86 core here), on the critical path before the network. This module computes the
same pixels on the engine's device from the uploaded camera image, so the host only copies
bytes.

Pillow's algorithm (its documented convolution resampling, ``Resample.c``; these are the facts
the code below reproduces, the code is ours): separable, horizontal pass first, then vertical
(recent Pillow: vertical first when the height shrinks by more than twice what the width loses;
probed once, `_vertical_first`), each pass skipped when that dimension keeps its size; 8-bit
channels independently. For an
input of ``n`` samples resized to ``m``: ``scale = n / m``, ``filterscale = max(scale, 1)``,
``support = filter_support * filterscale`` (LANCZOS 3, BICUBIC 2); output sample ``i`` has
``center = (i + 0.5) * scale``, taps ``xmin = max(int(center - support + 0.5), 0)`` up to
``min(int(center + support + 0.5), n)`` (exclusive), weights ``filter((j + xmin - center + 0.5)
/ filterscale)`` (``* (1 / filterscale)`` in float64) normalised by their sum, then rounded to
22-bit fixed point (``int(w * 2**22 + 0.5)``, ``int(w * 2**22 - 0.5)`` for negative weights,
truncation toward zero). A pass sums ``2**21 + sum_j pixel_j * weight_j`` in integers and
keeps ``clamp(sum >> 22, 0, 255)``. LANCZOS is ``sinc(x) sinc(x / 3)`` on ``[-3, 3)``;
BICUBIC the Keys cubic with ``a = -0.5``. Verified against Pillow on random images of many
sizes in test/unit/test_resample.py (every pixel equal).

Integer arithmetic makes the result exact on every device: the sums are accumulated in int32
when 255 x (the largest sum of a sample's positive weights) + 2**21 stays below 2**31 (it does
for every ordinary size: the weights sum to 2**22 and their negative lobes are small), else in
int64.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Callable, Dict, Tuple

import numpy as np
import torch

PRECISION_BITS = 22  # Pillow's fixed point for 8-bit images: 32 - 8 - 2


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3)
    return 0.0


def _bicubic(x: float) -> float:
    a = -0.5
    if x < 0.0:
        x = -x
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


_FILTERS: Dict[str, Tuple[Callable[[float], float], float]] = {
    "lanczos": (_lanczos, 3.0), "bicubic": (_bicubic, 2.0)}


@functools.lru_cache(maxsize=64)
def taps(n_in: int, n_out: int, filt: str) -> Tuple[np.ndarray, np.ndarray]:
    """Pillow's fixed-point resampling taps for ``n_in`` samples resized to ``n_out``.

    Returns ``start`` (n_out,) int64, the first input sample of each output sample, and
    ``weights`` (n_out, K) int32, its K weights in 2**-22 units (zero past the sample's last
    tap; starts are clipped so that ``start + K <= n_in`` never reads past the input -- a clipped
    row's weights are shifted to match). ``filt``: "lanczos" or "bicubic". Raises ValueError for
    a size below 1 or an unknown filter.
    """
    if filt not in _FILTERS:
        raise ValueError(f"filter must be one of {sorted(_FILTERS)}, got {filt!r}")
    if n_in < 1 or n_out < 1:
        raise ValueError(f"sizes must be >= 1, got {n_in} -> {n_out}")
    fn, support0 = _FILTERS[filt]
    scale = float(n_in) / n_out
    filterscale = max(scale, 1.0)
    support = support0 * filterscale
    k = min(int(math.ceil(support)) * 2 + 1, n_in)
    ss = 1.0 / filterscale
    start = np.zeros(n_out, np.int64)
    weights = np.zeros((n_out, k), np.int32)
    one = float(1 << PRECISION_BITS)
    for i in range(n_out):
        center = (i + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in) - xmin
        w = [fn((j + xmin - center + 0.5) * ss) for j in range(xmax)]
        total = 0.0
        for v in w:  # in tap order, as Pillow sums
            total += v
        if total != 0.0:
            w = [v / total for v in w]
        fixed = [int(v * one - 0.5) if v < 0 else int(v * one + 0.5) for v in w]
        s = min(xmin, n_in - k)  # keep the K-wide window inside the input
        weights[i, xmin - s:xmin - s + xmax] = fixed
        start[i] = s
    return start, weights


@functools.lru_cache(maxsize=64)
def _acc_dtype(n_in: int, n_out: int, filt: str) -> torch.dtype:
    """int32 when no sum of a pass can leave it (the usual case), else int64."""
    w = taps(n_in, n_out, filt)[1].astype(np.int64)
    worst = 255 * int(np.clip(w, 0, None).sum(1).max()) + (1 << (PRECISION_BITS - 1))
    return torch.int32 if worst < 2 ** 31 else torch.int64


class _DeviceTaps:
    """`taps` as device tensors, cached per (sizes, filter, device, output slice): the
    (n * K,) input index of every tap (inside the input: `taps` clips the starts) and the (n, K)
    fixed-point weights."""

    def __init__(self) -> None:
        self._cache: Dict[Tuple, Tuple[torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()

    def get(self, n_in: int, n_out: int, filt: str, device: torch.device, sl: slice
            ) -> Tuple[torch.Tensor, torch.Tensor]:
        key = (n_in, n_out, filt, str(device), sl.start, sl.stop)
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                start, weights = taps(n_in, n_out, filt)
                start, weights = start[sl], weights[sl]
                idx = (start[:, None] + np.arange(weights.shape[1])[None, :]).reshape(-1)
                hit = (torch.from_numpy(idx).to(device),
                       torch.from_numpy(np.ascontiguousarray(weights)).to(device))
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[key] = hit
            return hit


_TAPS = _DeviceTaps()


def _pass(img: torch.Tensor, dim: int, n_out: int, filt: str, sl: slice) -> torch.Tensor:
    """One 1-D pass along ``dim`` (0 rows, 1 columns) of an (H, W, C) uint8 tensor, output
    samples ``sl`` of ``n_out`` only: one gather of every tap, an integer multiply and a sum
    over the K taps (a handful of launches whatever K; integer sums are exact in any order)."""
    n_in = img.shape[dim]
    idx, weights = _TAPS.get(n_in, n_out, filt, img.device, sl)
    n, k = weights.shape
    acc_dtype = _acc_dtype(n_in, n_out, filt)
    x = img.index_select(dim, idx).to(acc_dtype)  # (n * K, W, C) or (H, n * K, C)
    if dim == 0:
        x = x.view(n, k, *x.shape[1:]).mul_(weights.view(n, k, 1, 1))
    else:
        x = x.view(x.shape[0], n, k, x.shape[2]).mul_(weights.view(1, n, k, 1))
    acc = x.sum(dim=dim + 1, dtype=acc_dtype)
    acc.add_(1 << (PRECISION_BITS - 1))
    return acc.bitwise_right_shift_(PRECISION_BITS).clamp_(0, 255).to(torch.uint8)


def resize_crop_u8(img: torch.Tensor, resized: Tuple[int, int], box: Tuple[int, int, int, int],
                   upscale: bool) -> torch.Tensor:
    """Pillow's ``Image.resize(resized, BICUBIC if upscale else LANCZOS).crop(box)`` of an
    (H, W, 3) uint8 tensor, on its device, bit for bit.

    ``resized`` (W', H') and ``box`` (left, top, right, bottom) inside the resized image, as a
    `preprocess.ResizePlan` gives them; only the pixels inside ``box`` are computed (each output
    pixel depends on its own taps only). Returns an (bottom - top, right - left, 3) uint8 tensor
    on ``img``'s device. Raises ValueError for a box outside the resized image or a bad image.
    """
    if img.dim() != 3 or img.shape[2] != 3 or img.dtype != torch.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 tensor, got {tuple(img.shape)} "
                         f"{img.dtype}")
    w2, h2 = resized
    left, top, right, bottom = box
    if not (0 <= left < right <= w2 and 0 <= top < bottom <= h2):
        raise ValueError(f"crop box {box} is not inside the resized image {w2}x{h2}")
    h, w = img.shape[:2]
    filt = "bicubic" if upscale else "lanczos"
    if (w2, h2) == (w, h):  # Pillow: a resize to the same size is a copy
        return img[top:bottom, left:right].contiguous()
    if _vertical_first(w, h, w2, h2):  # newer Pillow: a much stronger vertical shrink first
        out = _pass(img, 0, h2, filt, slice(top, bottom))
        out = _pass(out, 1, w2, filt, slice(left, right)) if w2 != w else out[:, left:right]
        return out.contiguous()
    # horizontal pass first (on every input row: the vertical taps may read any of them)
    out = _pass(img, 1, w2, filt, slice(left, right)) if w2 != w else img[:, left:right]
    if h2 != h:
        out = _pass(out, 0, h2, filt, slice(top, bottom))
    else:
        out = out[top:bottom]
    return out.contiguous()


def _vertical_first(w: int, h: int, w2: int, h2: int) -> bool:
    """Whether Pillow runs the vertical pass first for this resize: recent Pillow does when the
    height shrinks by more than twice what the width loses (``h2 < h and h - h2 > 2 (w - w2)``),
    older Pillow never; which one is installed is probed once (`_pillow_orders_by_shrink`)."""
    return h2 < h and (h - h2) > 2 * (w - w2) and _pillow_orders_by_shrink()


@functools.lru_cache(maxsize=1)
def _pillow_orders_by_shrink() -> bool:
    """Probe the installed Pillow once: a tall random image whose two pass orders give different
    pixels, resized by Pillow and compared with the vertical-first result."""
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (90, 20, 3), dtype=np.uint8)
    want = np.asarray(Image.fromarray(rgb).resize((15, 25), Image.LANCZOS))
    t = torch.from_numpy(rgb)
    vfirst = _pass(_pass(t, 0, 25, "lanczos", slice(0, 25)), 1, 15, "lanczos", slice(0, 15))
    return bool(np.array_equal(vfirst.numpy(), want))
