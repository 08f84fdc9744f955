"""A consistent map's colour-focal note (`colour_focal_note`) and how closely its keyframe pairs
fix the factor it and the failing map's ``colour_focal`` cause state (`factor_spread`).

The colour focal fit (`focal._colour_focal_fit`) decides with the factor that minimises the
median over the pairs of each pair's median match reprojection. That factor is fragile: the
pairs' own best factors spread widely (7-Scenes redkitchen, 14 pairs: x0.81 to x0.94, the
middle half x0.87 to x0.91: its depth camera is not its colour camera moved, a focal scale
explains the pairs only roughly), the median curve has two dips of about equal depth (x0.86 and
x0.91), and which pair is the median is decided by a few ORB/SIFT matches, so re-saving the
same JPEGs moved it from x0.908 to x0.860 (quality 95) or x0.864 (quality 100). The factor
stated is the one that minimises the mean over the pairs instead (every pair weighs in: x0.878 to
x0.900 over those re-encodings), with its uncertainty: the standard deviation of that factor
over the pairs resampled with replacement (`RESAMPLES` draws of a fixed seed: the same map says
the same), about 0.01 there; two decimals and that +- are all that is stated
(docs/bench/colour_focal_spread_cpu_2026-12-11e).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

# the spread's grid: log steps of this (the scan's refinement step) ...
SPREAD_STEP = 0.005
# ... this far either side of the scan's factor (|log|)
SPREAD_HALF_WIDTH = 0.15
# draws of the pairs (with replacement) for the factor's standard deviation
RESAMPLES = 200
# fewer pairs than this give the factor without an uncertainty ("too few to tell its
# uncertainty": a standard deviation of two draws says nothing)
MIN_SPREAD_PAIRS = 3

# a consistent map's colour focal fit (`colour_focal_note`) said when this far from 1: the
# scan's refinement steps are 0.5 %, and a few % is a calibration's usual error
NOTE_FOCAL_OFF = 0.05
# `colour_focal_note`'s ``depth_source`` for depth computed from the map's own images
# (EuRoC/KITTI ``--stereo-depth``): registered to them by construction, no depth camera's
DEPTH_STEREO = "stereo"
# where the user docs say why a note needs no action, and what else (a heading of that page)
NOTE_SECTION = "docs/maps.md: 'The colour-focal note'"


@dataclasses.dataclass(frozen=True)
class FactorSpread:
    """The colour focal factor stated (``factor``: the mean over ``pairs`` keyframe pairs of
    their median reprojection is least there), its standard deviation over the pairs resampled
    (``sigma``; None below `MIN_SPREAD_PAIRS`)."""

    factor: float
    sigma: Optional[float]
    pairs: int

    def factor_words(self) -> str:
        """'x0.90 +-0.01' (two decimals, the +- rounded up), 'x0.90' without a sigma."""
        return f"x{self.factor:.2f}" + ("" if self.sigma is None else
                                         f" +-{math.ceil(self.sigma * 100 - 1e-9) / 100:.2f}")

    def fx_words(self, fx: float) -> str:
        """'527 +-6 px' of the given ``fx`` (px) times the factor, '527 px' without a sigma."""
        return f"{fx * self.factor:.0f}" + ("" if self.sigma is None else
                                            f" +-{math.ceil(fx * self.sigma - 1e-9):.0f}") + " px"

    def over(self) -> str:
        """'over 14 keyframe pairs'; 'over 2 keyframe pairs, too few to tell its uncertainty'
        below `MIN_SPREAD_PAIRS`."""
        s = "s" if self.pairs != 1 else ""
        return f"over {self.pairs} keyframe pair{s}" + (
            ", too few to tell its uncertainty" if self.sigma is None else "")


def factor_spread(gs: np.ndarray, curves: np.ndarray) -> FactorSpread:
    """`FactorSpread` of ``curves`` (P, G): each pair's median reprojection (px; inf where a
    factor gives no camera) at each factor of ``gs`` (G,), increasing. The factor minimising
    the mean over the pairs (the first such), and the standard deviation of that minimiser over
    `RESAMPLES` draws of P pairs with replacement (seed 0), floored at one grid step."""
    gs = np.asarray(gs, np.float64)
    c = np.where(np.isfinite(curves), curves, 1e12)  # no camera's K: never the least
    p = len(c)
    best = float(gs[int(np.argmin(c.mean(axis=0)))])
    if p < MIN_SPREAD_PAIRS:
        return FactorSpread(best, None, p)
    draws = np.random.default_rng(0).integers(0, p, (RESAMPLES, p))
    counts = np.stack([np.bincount(d, minlength=p) for d in draws]).astype(np.float64)
    boot = gs[np.argmin(counts @ c, axis=1)]
    return FactorSpread(best, max(float(np.std(boot)), SPREAD_STEP * best), p)


def spread_grid(g: float) -> np.ndarray:
    """(G,) factors around the scan's ``g``: `SPREAD_STEP` log steps out to
    `SPREAD_HALF_WIDTH`, ``g`` itself among them."""
    n = int(round(SPREAD_HALF_WIDTH / SPREAD_STEP))
    return g * np.exp(np.arange(-n, n + 1) * SPREAD_STEP)


@dataclasses.dataclass(frozen=True)
class FocalNote:
    """`colour_focal_note`'s words: ``text`` the figures and advice (the manifest's
    ``consistency.note``, check-map's ``note:`` line and JSON), ``brief`` what a map build logs,
    ``action`` whether the user should change something (the build warns, else says it at info)."""

    text: str
    brief: str
    action: bool


def colour_focal_note(views: List[Any], matches: Dict[Tuple[int, int], Any],
                      pairs: List[Any], cfg: Any,
                      depth_source: Optional[str] = None) -> Optional[FocalNote]:
    """For a map that passed the check: a `FocalNote` when its images fit fx, fy more than
    `NOTE_FOCAL_OFF` off the given ones by `focal._colour_focal`'s rules (the factor stated and
    judged: `factor_spread`'s, with its +-), else None. 7-Scenes' redkitchen: x0.90 +-0.01 (fx
    about 526 px, not 585) over 14 pairs: its published K is the depth camera's, the depth
    unregistered. Sensor depth: no action (the given K fits the depth, queries take the same K;
    the colour K alone breaks the depth: `NOTE_SECTION`, docs/bench/
    focal_advice_cpu_2026-12-06zj). `DEPTH_STEREO` depth (computed from these images): no depth
    camera explains the fit: a warning naming where fx, fy are given."""
    from .focal import _colour_focal_fit  # here: focal imports this module

    fit = _colour_focal_fit(views, matches, pairs, cfg)
    if fit is None or abs(math.log(fit[5].factor)) <= math.log(1.0 + NOTE_FOCAL_OFF):
        return None
    _, fx, at_g, base, _, spread = fit
    figures = (f"fit fx, fy {spread.factor_words()} the given ones (fx {spread.fx_words(fx)}, "
               f"not {fx:.4g}; {spread.over()}): match reprojection {at_g:.1f} px against "
               f"{base:.1f} px")
    if depth_source == DEPTH_STEREO:
        text = (f"the images {figures}; the map passes, but its depth was computed from these "
                "same images (--stereo-depth: registered to them by construction), so no "
                "separate sensor explains it: check the calibration's fx, fy (EuRoC: "
                "cam0/sensor.yaml's intrinsics; KITTI: calib.txt's P0 or P2; the images fit "
                f"about {fx * spread.factor:.0f} px), its baseline and the poses' extrinsics "
                f"(EuRoC's T_BS), and build the map again with any change ({NOTE_SECTION})")
        return FocalNote(text, text, True)
    return FocalNote(
        f"the colour images {figures}; the given K fits the depth and the map passes: no action "
        f"needed, keep it for the map and its queries ({NOTE_SECTION})",
        f"the colour images fit fx {spread.fx_words(fx)} ({spread.factor_words()}), not "
        f"{fx:.4g}, but the given K fits the depth: no action needed ({NOTE_SECTION})",
        False)
