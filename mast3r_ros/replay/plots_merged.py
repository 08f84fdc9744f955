"""The keyframe plot of a merged map (merge-maps' ``keyframes.png``): each source map's
keyframes in a colour of their own, the legend naming the sources. Apart from `plots` to keep
that module within its size; the same top-down view (`plots.plane_axes`, optical-axis arrows)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .plots import _camera_arrows, _finish_top_down, _pyplot, arrow_length, plane_axes

# one colour per source map, none of them plot_keyframes' green or the check's red
SOURCE_COLOURS = ("tab:blue", "tab:orange")


def source_labels(roles: Sequence[str], names: Sequence[str]) -> list:
    """Legend names of the source maps: 'A: NAME', NAME the folder's base name, or the path
    as given when two base names are the same (``maps/x/map`` and ``maps/y/map``)."""
    bases = [os.path.basename(os.path.normpath(str(n))) or str(n) for n in names]
    if len(set(bases)) < len(bases):
        bases = [str(n) for n in names]
    return [f"{role}: {base}" for role, base in zip(roles, bases)]


def plot_merged_keyframes(path: str, poses: np.ndarray, counts: Sequence[int],
                          names: Sequence[str], title: str = "") -> None:
    """Top-down view of a merged map's keyframes written to ``path`` (PNG): ``poses`` (N, 4, 4)
    float camera-to-map in map order, source A's ``counts[0]`` first, then B's ``counts[1]``
    (sum(counts) == N); each source drawn in its colour (`SOURCE_COLOURS`), with arrows along
    the optical axes, and named in the legend with its keyframe count (``names``: the source
    maps' paths, roles A, B). Raises ValueError when the counts do not add up to N."""
    poses = np.asarray(poses, np.float64)
    if sum(counts) != len(poses):
        raise ValueError(f"counts {list(counts)} do not add up to the {len(poses)} poses")
    plt = _pyplot()
    c = poses[:, :3, 3]
    axes = plane_axes(c)
    a, b = axes
    length = arrow_length(c, axes=axes)
    fig, ax = plt.subplots(figsize=(7, 6))
    labels = source_labels(["A", "B"][:len(counts)], names)
    start = 0
    for n, label, colour in zip(counts, labels, SOURCE_COLOURS):
        part = poses[start:start + n]
        start += n
        if not n:
            continue
        _camera_arrows(ax, part, axes, length, color=colour,
                       label=f"{label} ({n} keyframe{'' if n == 1 else 's'})")
        ax.plot(part[:, a, 3], part[:, b, 3], "o", color=colour, ms=3)
    _finish_top_down(fig, ax, axes, title or "merged map (top-down)", path)
