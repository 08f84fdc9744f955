"""Matches as pixels: flat indices to (x, y), the sorted unique result, the border filter.

The flat index of a pixel is ``y * W + x``; a result is a pair of int64 (N, 2) (x, y) tensors
(`Matches`) sorted by the image-1 then the image-2 flat index, without duplicates
(`_unique_sorted_xy`), or empty (`_empty_result`). `filter_border` drops matches near an edge of
either image.
"""

from __future__ import annotations

from typing import Tuple, Union

import numpy as np
import torch

from ..errors import InputError

Matches = Tuple[torch.Tensor, torch.Tensor]


def _to_xy(flat: torch.Tensor, width: int) -> torch.Tensor:
    """(N,) flat indices -> (N, 2) int64 (x, y)."""
    return torch.stack((flat % width, torch.div(flat, width, rounding_mode="floor")), dim=1)


def _empty_result(
    device: torch.device, n1: int, ret_basin: bool
) -> Union[Matches, Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    e = torch.empty((0, 2), dtype=torch.int64, device=device)
    if ret_basin:
        return e, e.clone(), torch.full((n1 + 1,), -1, dtype=torch.int64, device=device)
    return e, e.clone()


def _unique_sorted_xy(f1: torch.Tensor, f2: torch.Tensor, w1: int, w2: int, n2: int) -> Matches:
    """Unique pairs sorted by image-1 then image-2 flat index, as (x, y) int64 (N, 2) each."""
    key = torch.unique(f1 * n2 + f2)
    return _to_xy(torch.div(key, n2, rounding_mode="floor"), w1), _to_xy(key % n2, w2)


def filter_border(
    xy1: torch.Tensor,
    xy2: torch.Tensor,
    hw1: Tuple[int, int],
    hw2: Tuple[int, int],
    border: int = 3,
) -> Matches:
    """Drop matches within ``border`` pixels of an edge of either image.

    xy1, xy2: (N, 2) (x, y) integer tensors; hw1, hw2: (H, W) of each image. A match is kept iff
    ``border <= x < W - border`` and ``border <= y < H - border`` in both images (the reference's
    3-pixel rule). Returns the kept rows of xy1 and xy2, order preserved (numpy arrays work
    too). Raises `InputError` unless xy1 and xy2 are both (N, 2) tensors or arrays.
    """
    for name, xy in (("xy1", xy1), ("xy2", xy2)):
        if not isinstance(xy, (torch.Tensor, np.ndarray)):
            raise InputError(f"filter_border: {name} must be an (N, 2) tensor or numpy array "
                             f"of (x, y), got {type(xy).__name__}; wrap a list with np.asarray")
    if tuple(xy1.shape) != tuple(xy2.shape) or xy1.ndim != 2 or xy1.shape[1] != 2:
        raise InputError(f"filter_border: xy1 and xy2 must both be (N, 2) matches, got "
                         f"{tuple(xy1.shape)} and {tuple(xy2.shape)}")
    keep = _inside(xy1, hw1, border) & _inside(xy2, hw2, border)
    return xy1[keep], xy2[keep]


def _inside(xy: torch.Tensor, hw: Tuple[int, int], border: int) -> torch.Tensor:
    h, w = int(hw[0]), int(hw[1])
    x, y = xy[:, 0], xy[:, 1]
    return (x >= border) & (x < w - border) & (y >= border) & (y < h - border)
