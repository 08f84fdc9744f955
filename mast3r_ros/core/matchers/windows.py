"""Coarse-to-fine window geometry of the MASt3R matcher: where full-resolution query windows of
the network's size are cut (Leroy, Cabon & Revaud, *Grounding Image Matching in 3D with MASt3R*,
ECCV 2024, sec. 3.4; reference code: naver/mast3r ``mast3r/utils/coarse_to_fine.py``,
``select_pairs_of_crops``), and whether a window's mapping to the captured image is a whole-pixel
shift (so that its pixels' undistorted twins can come from the captured grid's table,
`grid_undistort`). Re-exported by `matchers.mast3r`.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

def window_starts(length: int, win: int, overlap: float = 0.5) -> np.ndarray:
    """Start offsets of overlapping windows along one axis (the reference's ``_start_pos`` in
    naver/mast3r ``mast3r/utils/coarse_to_fine.py``)."""
    if length <= win:
        return np.zeros(1, dtype=np.int64)
    n = 2 + int((length - win - 1) // (win * (1 - overlap)))
    return np.round(np.linspace(0, length - win, n)).astype(np.int64)


def select_windows(image_size: Tuple[int, int], win_size: Tuple[int, int], xy: np.ndarray,
                   min_matches: int = 10, coverage: float = 0.9) -> List[Tuple[int, int]]:
    """Greedy choice of (x0, y0) windows of ``win_size`` (w, h) in an image of ``image_size``
    (W, H) covering ``coverage`` of the weight of the matches ``xy`` (N, 2), each match weighted
    ``exp(-2 |(p - centre) / size|^2)`` inside a window (the reference's weighting)."""
    (W, H), (w, h) = image_size, win_size
    wins = [(int(x), int(y)) for y in window_starts(H, h) for x in window_starts(W, w)]
    if not len(xy):
        return []
    wts = []
    for x0, y0 in wins:
        rel = (xy - [x0 + (w - 1) / 2, y0 + (h - 1) / 2]) / [w, h]
        inside = (np.abs(rel) <= 0.5).all(axis=1)
        wts.append(np.where(inside, np.exp(-2 * np.sum(rel ** 2, axis=1)), 0.0))
    wts = np.array(wts)  # (windows, matches)
    usable = (wts > 0).sum(axis=1) >= min_matches
    total = (wts * usable[:, None]).max(axis=0).sum()
    chosen: List[int] = []
    covered = np.zeros(len(xy))
    while total > 0 and covered.sum() < coverage * total:
        gain = [np.maximum(covered, wts[k]).sum() if usable[k] and k not in chosen else -1
                for k in range(len(wins))]
        k = int(np.argmax(gain))
        if gain[k] <= covered.sum():
            break
        chosen.append(k)
        covered = np.maximum(covered, wts[k])
    return [wins[k] for k in chosen]


def pixel_shift(to_orig: np.ndarray) -> Optional[np.ndarray]:
    """(2,) int64 ``(x0, y0)`` when the 3x3 homography ``to_orig`` is exactly a whole-pixel
    shift ``[[1, 0, x0], [0, 1, y0], [0, 0, 1]]`` (a coarse-to-fine window of the network's
    size: `plan_resize` leaves it unscaled), else None. Then ``apply_homography(to_orig, xy)``
    of integer pixels ``xy`` is exactly ``xy + (x0, y0)`` in float64 (sums of integers and
    products by 1 and 0, divided by 1)."""
    T = np.asarray(to_orig, np.float64)
    if T.shape != (3, 3) or not np.all(np.isfinite(T)):
        return None
    if not (np.array_equal(T[:, :2], _IDENTITY[:, :2]) and T[2, 2] == 1.0):
        return None
    off = T[:2, 2]
    if not np.array_equal(off, np.round(off)) or np.abs(off).max() >= 2.0 ** 31:
        return None
    return off.astype(np.int64)


_IDENTITY = np.eye(3)
