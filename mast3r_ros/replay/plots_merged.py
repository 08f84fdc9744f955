"""The keyframe plot of a merged map (merge-maps' ``keyframes.png``): each source map's
keyframes in a colour of their own, the legend naming the sources. Apart from `plots` to keep
that module within its size; the same top-down view (`plots.plane_axes`, optical-axis arrows)."""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .plot_save import new_figure
from .plots import _camera_arrows, _finish_top_down, arrow_length, plane_axes

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
    (sum(counts) == N); each source drawn in its colour (`draw_by_source`), with arrows along
    the optical axes, and named in the legend with its keyframe count (``names``: the source
    maps' paths, roles A, B). Raises ValueError when the counts do not add up to N."""
    poses = np.asarray(poses, np.float64)
    c = poses[:, :3, 3]
    axes = plane_axes(c)
    fig, ax = new_figure((7, 6))
    draw_by_source(ax, poses, axes, arrow_length(c, axes=axes), counts,
                   source_labels(["A", "B"][:len(counts)], names))
    _finish_top_down(fig, ax, axes, title or "merged map (top-down)", path)


def draw_by_source(ax: Any, poses: np.ndarray, axes: Tuple[int, int], length: float,
                   counts: Sequence[int], labels: Sequence[str]) -> None:
    """Draw the keyframes ``poses`` (N, 4, 4) float camera-to-map, map order, on ``ax`` as
    merge-maps' keyframes.png and check-map --plot of a merged map both do: the first
    ``counts[0]`` in `SOURCE_COLOURS`[0] and named ``labels[0]`` in the legend with their count,
    the next ``counts[1]`` likewise, as dots with optical-axis arrows (``length`` metres) in the
    view's ``axes``. Raises ValueError when the counts do not add up to N or name more sources
    than there are colours."""
    if sum(counts) != len(poses):
        raise ValueError(f"counts {list(counts)} do not add up to the {len(poses)} poses")
    if len(counts) > len(SOURCE_COLOURS):
        raise ValueError(f"{len(counts)} sources, colours for {len(SOURCE_COLOURS)}")
    a, b = axes
    start = 0
    for n, label, colour in zip(counts, labels, SOURCE_COLOURS):
        part = poses[start:start + n]
        start += n
        if not n:
            continue
        _camera_arrows(ax, part, axes, length, color=colour,
                       label=f"{label} ({n} keyframe{'' if n == 1 else 's'})")
        ax.plot(part[:, a, 3], part[:, b, 3], "o", color=colour, ms=3)


def recorded_sources(manifest: Any, n: int) -> Optional[Tuple[List[int], List[str]]]:
    """(counts, labels) for `draw_by_source` from a merged map's manifest (its
    ``merged_from``: each source's ``role``, ``map`` path and ``keyframes`` count, A's first),
    ``n`` the map's keyframe count; None for a map that is no merge, or whose record does not
    say which keyframes came from which source (counts missing or not adding up to ``n``)."""
    sources = manifest.get("merged_from") if isinstance(manifest, dict) else None
    if not isinstance(sources, list) or not sources or len(sources) > len(SOURCE_COLOURS) \
            or not all(isinstance(s, dict) for s in sources):
        return None
    counts = [s.get("keyframes") for s in sources]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts) \
            or sum(counts) != n:
        return None
    roles = [str(s.get("role", "?")) for s in sources]
    return counts, source_labels(roles, [str(s.get("map", "?")) for s in sources])
