"""Parameter and input checks of the matchers, and their start points.

Descriptor or point maps (H, W, D) are checked and flattened to (H*W, D) rows in one compute dtype
(`_flatten`), rows holding a NaN/inf are found (`_invalid_rows`), the walk parameters and ints are
validated with errors naming the bad parameter (`_check_params`, `_check_int`), and the walks'
start points -- a grid or given (x, y) points -- become sorted unique flat image-1 indices
(`_start_indices`).
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
import torch

from ..errors import ConfigError, InputError

DISTANCES = ("dot", "l2")
_DEFAULT_MAX_ITER = 10

IntPoints = Union[torch.Tensor, np.ndarray]


def _compute_dtype(dtype: torch.dtype, name: str) -> torch.dtype:
    """float32/float64 are used as given; half precisions are searched in float32 (ties)."""
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    raise InputError(
        f"{name} must be a floating-point tensor (float16/bfloat16/float32/float64), got {dtype}"
    )


def _flatten(desc1: torch.Tensor, desc2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Check two (H, W, D) maps and return them as (H*W, D) in a common compute dtype."""
    for name, d in (("desc1", desc1), ("desc2", desc2)):
        if not isinstance(d, torch.Tensor) or d.dim() != 3:
            # a numpy map of the right shape read as "got (32, 40, 24)": name its type
            got = type(d).__name__ + (f" {tuple(d.shape)}" if hasattr(d, "shape") else "")
            fix = ("; wrap a numpy array with torch.from_numpy(a)"
                   if not isinstance(d, torch.Tensor) and hasattr(d, "shape") else "")
            raise InputError(f"{name} must be a torch.Tensor of shape (H, W, D), got {got}{fix}")
    if desc1.shape[2] == 0:
        raise InputError("desc1 and desc2 have D=0 channels: pass (H, W, D) maps with D >= 1")
    if desc1.shape[2] != desc2.shape[2]:
        raise InputError(
            f"descriptor sizes differ: desc1 has D={desc1.shape[2]}, desc2 has D={desc2.shape[2]}"
        )
    if desc1.device != desc2.device:
        raise InputError(f"desc1 is on {desc1.device} but desc2 on {desc2.device}; move one")
    dtype = torch.promote_types(
        _compute_dtype(desc1.dtype, "desc1"), _compute_dtype(desc2.dtype, "desc2")
    )
    flat1 = desc1.reshape(-1, desc1.shape[2]).to(dtype).contiguous()
    flat2 = desc2.reshape(-1, desc2.shape[2]).to(dtype).contiguous()
    return flat1, flat2


def _invalid_rows(flat: torch.Tensor, force: bool) -> Optional[torch.Tensor]:
    """Bool mask (N,) of rows holding a NaN/inf, or None when every row is finite (fast path).

    The fast path is one sum: a NaN or inf anywhere makes it NaN or inf, so a finite sum proves
    every entry finite (a sum that overflowed falls through to the row test). On the CPU at
    512 x 384 x 24 that is 0.3 ms instead of 44 ms for the (N, D) finiteness map."""
    if not force and bool(torch.isfinite(flat.sum())):
        return None
    invalid = ~torch.isfinite(flat).all(dim=1)
    if force or bool(invalid.any()):
        return invalid
    return None


def _check_params(
    subsample: int,
    max_iter: Optional[int],
    init_xy1: Optional[IntPoints],
    pixel_tol: float,
    dist: str,
    block_size: int,
) -> int:
    """Validate the walk parameters; return the effective iteration limit. Raises
    `ConfigError` (a ValueError) naming the bad parameter."""
    if dist not in DISTANCES:
        raise ConfigError(f"dist must be one of {DISTANCES}, got {dist!r}")
    _check_int(block_size, "block_size")
    if init_xy1 is None:
        _check_int(subsample, "subsample")
    if (isinstance(pixel_tol, bool) or not isinstance(pixel_tol, (int, float, np.number))
            or not pixel_tol >= 0):
        raise ConfigError(f"pixel_tol must be a number >= 0, got {pixel_tol!r}")
    if pixel_tol > 0 and init_xy1 is None:
        raise ConfigError(
            "pixel_tol > 0 needs explicit start points (init_xy1): the one-round tolerance test "
            "is only defined for given points (the reference crashes on a grid subsample)"
        )
    if pixel_tol > 0 and max_iter not in (None, 1):
        raise ConfigError(f"pixel_tol > 0 is a one-round test: max_iter must be 1, got {max_iter}")
    if max_iter is None:
        return 1 if init_xy1 is not None else _DEFAULT_MAX_ITER
    return _check_int(max_iter, "max_iter")


def _check_int(value: object, name: str) -> int:
    """``value`` as an int >= 1; `ConfigError` for a bool, float (2.5 was truncated to 2),
    string or a value below 1."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < 1):
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def _start_indices(
    hw1: Tuple[int, int], subsample: int, init_xy1: Optional[IntPoints], device: torch.device
) -> torch.Tensor:
    """Sorted unique flat start indices (int64) in image 1."""
    h, w = hw1
    if init_xy1 is None:
        s = int(subsample)
        if s // 2 >= h or s // 2 >= w:  # torch.arange rejects an empty range with step > 1
            return torch.zeros(0, dtype=torch.int64, device=device)
        ys = torch.arange(s // 2, h, s, device=device)
        xs = torch.arange(s // 2, w, s, device=device)
        return (ys[:, None] * w + xs[None, :]).reshape(-1)
    xy = torch.as_tensor(np.asarray(init_xy1) if not isinstance(init_xy1, torch.Tensor)
                         else init_xy1)
    if xy.dtype.is_floating_point or xy.dtype == torch.bool or xy.dim() != 2 or xy.shape[1] != 2:
        raise InputError(
            f"init_xy1 must be an integer array of shape (M, 2) holding (x, y), got "
            f"dtype {xy.dtype}, shape {tuple(xy.shape)}"
        )
    xy = xy.to(device=device, dtype=torch.int64)
    if xy.numel() and bool(((xy[:, 0] < 0) | (xy[:, 0] >= w) | (xy[:, 1] < 0) |
                            (xy[:, 1] >= h)).any()):
        raise InputError(f"init_xy1 holds points outside the {w}x{h} (W x H) image 1")
    return torch.unique(xy[:, 1] * w + xy[:, 0])
