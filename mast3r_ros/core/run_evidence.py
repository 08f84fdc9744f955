"""A run's frames' measurements of one quantity, combined robustly (no rclpy, no scipy at import).

Each frame that passed the other gates measures some property of the query camera from its own
inliers (the focal scale, `focal_evidence`; the principal point offset) with a first-order
sigma. One frame's measurement is weak; `combine_measurements` takes the frames together with
statistics that hold when some frames went wrong and when the sigmas understate the scatter:

1. **Robust centre.** The median ``m`` of the values over the frames, not weighted: a frame
   whose fit went wrong (a pose on the wrong keyframe, inliers on one wall) comes with a sigma
   as wrong as its value, often a small one, so weights are no guard against it. Counting
   frames, up to half of them can be wrong.
2. **Scatter check.** Each frame's normalised residual ``z = (y - m) / sigma``; with sigmas
   that are right ``|z|`` has the half-normal median 0.6745, so ``k = max(1, 1.4826 median
   |z|)`` is how much the sigmas understate the scatter (a robust Birge ratio). Frames with
   ``|z| > OUTLIER_Z * k`` are outliers and left out.
3. **Combination.** The inverse-variance mean of the others, sigma ``1 / sqrt(sum w)`` scaled
   by the Birge ratio ``sqrt(chi2 / (n - 1))`` when over 1; ``consistent`` is the chi^2 test of
   the kept frames about that mean at `CONSISTENCY_P`.

The verdict (how far from the expected value is too far) is the caller's: `interval_outside`
tests the ``significance``-sigma interval against a band. `RunFits` is the bookkeeping the
run-level evidences (focal, principal point, distortion) share: the frames' fits of one
calibration as they come.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
from typing import Any, List, Optional, Sequence

import numpy as np

from .camera_key import CameraKey, same_camera

log = logging.getLogger(__name__)

# fewest frames whose fit is observable before a value is combined (and a verdict given)
MIN_FRAMES = 5
# a frame this many (robust) sigmas from the median is left out
OUTLIER_Z = 5.0
# the chi^2 test of the kept frames: below this p-value they are called inconsistent
CONSISTENCY_P = 1e-3


@dataclasses.dataclass(frozen=True)
class Combined:
    """`combine_measurements` of one ``quantity`` (its name, for messages): ``value`` and
    ``sigma`` (None below `MIN_FRAMES` judged frames), ``frames_judged`` frames with a finite
    value and a finite positive sigma, ``frames_used`` of them combined (the others
    ``frames_outliers``), ``chi2_per_dof`` of the used ones about ``value`` (None for one
    frame) and ``consistent`` its test."""

    quantity: str
    value: Optional[float]
    sigma: Optional[float]
    frames_judged: int
    frames_used: int
    frames_outliers: int
    chi2_per_dof: Optional[float]
    consistent: Optional[bool]


def combine_measurements(values: Sequence[float], sigmas: Sequence[float],
                         quantity: str = "value") -> Combined:
    """Combine frames' ``values`` (N,) with their ``sigmas`` (N,) (module docstring). Frames
    with a non-finite value or a non-finite or non-positive sigma (not observable) are not
    judged. `ValueError` for arrays of other lengths."""
    y = np.asarray(values, np.float64).ravel()
    sig = np.asarray(sigmas, np.float64).ravel()
    if y.shape != sig.shape:
        raise ValueError(f"combine_measurements ({quantity}): {len(y)} values but {len(sig)} "
                         "sigmas")
    ok = np.isfinite(y) & np.isfinite(sig) & (sig > 0)
    y, sig = y[ok], sig[ok]
    n = len(y)
    if n < MIN_FRAMES:
        return Combined(quantity, None, None, n, 0, 0, None, None)
    w = 1.0 / sig ** 2
    m = float(np.median(y))
    z = np.abs(y - m) / sig
    k = max(1.0, 1.4826 * float(np.median(z)))
    keep = z <= OUTLIER_Z * k
    y, w = y[keep], w[keep]
    used = len(y)
    mean = float(np.sum(w * y) / np.sum(w))
    sigma = float(1.0 / np.sqrt(np.sum(w)))
    dof = used - 1
    c2 = float(np.sum(w * (y - mean) ** 2))
    ratio = c2 / dof if dof else None
    if ratio is not None and ratio > 1.0:
        sigma *= math.sqrt(ratio)
    # chi^2 sf(x; k) = Q(k / 2, x / 2); imported here: core.types imports focal_evidence, and
    # --help loads no scipy (scipy.stats alone took 1-4 s)
    from scipy.special import gammaincc

    consistent = bool(gammaincc(dof / 2, c2 / 2) >= CONSISTENCY_P) if dof else None
    return Combined(quantity, mean, sigma, n, used, n - used, ratio, consistent)


def consistent_note(consistent: Optional[bool], chi2_per_dof: Optional[float],
                    verdict_key: str) -> Optional[str]:
    """metrics.json's ``consistent_note`` beside ``consistent`` (a `Combined`'s, or a report's
    values): what the chi^2 test says, in words, and that the camera's verdict is
    ``verdict_key``'s, not this one's. None without a test (fewer than `MIN_FRAMES` frames, or
    one used). Without it, ``consistent: false`` read as 'the camera is wrong' on a healthy
    run (redkitchen's focal chi2/dof 9.3, ``fx_off: false``)."""
    if consistent is None or chi2_per_dof is None:
        return None
    said = f"not a verdict on the camera: '{verdict_key}' is (false = not shown to be wrong)"
    if consistent:
        return f"the frames scatter as their own sigmas say (chi^2 test); {said}"
    return (f"the frames scatter {scatter_factor(chi2_per_dof):.1f}x their own sigmas "
            f"(chi2_per_dof {chi2_per_dof:.1f}; chi^2 test, p < {CONSISTENCY_P:g}): the "
            f"combined sigma is widened by that factor; {said}")


def scatter_factor(chi2_per_dof: float) -> float:
    """How many times their own sigmas the frames scatter: the Birge ratio sqrt(chi2/dof)."""
    return math.sqrt(max(chi2_per_dof, 0.0))


def scatter_words(consistent: Optional[bool], chi2_per_dof: Optional[float]) -> str:
    """The metrics table's words for frames that failed the chi^2 test ('' when they passed or
    were not tested), as metrics.json's ``consistent_note`` says it."""
    if consistent is not False or chi2_per_dof is None:
        return ""
    return f"frames scatter {scatter_factor(chi2_per_dof):.1f}x their sigmas, sigma widened"


def interval_outside(c: Combined, low: float, high: float, significance: float) -> bool:
    """Whether the whole ``significance``-sigma interval of ``c`` lies below ``low`` or above
    ``high`` (False without a value, or with fewer than `MIN_FRAMES` frames used)."""
    if c.value is None or c.sigma is None or c.frames_used < MIN_FRAMES:
        return False
    lo, hi = c.value - significance * c.sigma, c.value + significance * c.sigma
    return lo > high or hi < low


_said_untied: List[bool] = []  # `say_untied`'s: said in this process


def say_untied(n: int, what: str) -> None:
    """Say once per process (a WARNING) that ``n`` camera fits recorded without their camera
    were ``what`` ("left out of", "dropped from") a run's evidence beside fits of a known
    camera. Raises nothing."""
    if _said_untied:
        return
    _said_untied.append(True)
    log.warning("%d camera fit(s) recorded without their camera (a results.jsonl line without "
                "'camera', or a FocalFit made without camera=) cannot be tied to a camera: %s "
                "the run's camera evidence, never combined with a known camera's fits (said "
                "once)", n, what)


class RunFits:
    """The frames' fits of one calibration as they come, the bookkeeping of the run-level
    evidences (`focal_evidence.RunFocalEvidence`, `principal_point_evidence`,
    `distortion_evidence`'s): ``camera`` the calibration the fits kept are about (None before
    the first) in the values the subclass's figures use, ``camera_key`` all of its values
    (`camera_key.CameraKey`: size, K, distortion model and coefficients; None where not given),
    ``frames_restarted`` the fits dropped since it changed. A subclass says when its values are
    the same (`_same_camera`) and what a fit's row is (`_take`'s ``row``); a change of any value
    of the key (`camera_key.same_camera`: a D differing only in k2 or p1 kept the old camera's
    fits) is a new calibration too. A fit without a key (a results.jsonl line without its
    ``camera``, a `FocalFit` made without ``camera``) cannot be tied to a camera and is never
    combined with fits that have one: left out beside them, or dropped when the first key comes
    (``untied_fits`` counts them; said once, `say_untied`); fits all without a key are
    combined on their values alone. ``max_frames`` > 0 keeps only the most recent ones. Not
    thread-safe (the node locks)."""

    def __init__(self, max_frames: int = 0) -> None:
        self.camera: Any = None
        self.camera_key: Optional[CameraKey] = None
        self.frames_restarted = 0  # fits dropped since the camera changed
        self.untied_fits = 0  # fits without a key left out or dropped beside a known camera
        self._fits: collections.deque = collections.deque(maxlen=max_frames or None)

    def _same_camera(self, camera: Any) -> bool:
        """Whether ``camera`` is the calibration of the fits kept (``self.camera``, not None)."""
        raise NotImplementedError

    def use_camera(self, camera: Any, key: Optional[CameraKey] = None) -> None:
        """Make ``camera`` (with ``key``, its `camera_key.CameraKey`, where known) the
        calibration the fits are about: one not `_same_camera` as the fits kept, or whose key
        is not `camera_key.same_camera` as theirs, drops them (``frames_restarted``). `_take`
        does this with each fit; a gate does it for a frame without one too, so that a new
        calibration is never judged by the old one's fits. A ``key`` where the fits kept have
        none drops them too: they cannot be tied to it (they took the key of the first fit
        with one, and were judged as its camera's)."""
        if key is not None and self.camera_key is None and self._fits:
            self.untied_fits += len(self._fits)
            say_untied(len(self._fits), "dropped from")
            self.frames_restarted += len(self._fits)
            self._fits.clear()
            self.camera, self.camera_key = camera, key
        elif self.camera is not None and not (self._same_camera(camera)
                                              and same_camera(self.camera_key, key)):
            self.frames_restarted += len(self._fits)
            self._fits.clear()
            self.camera, self.camera_key = camera, key
        elif self.camera is None:
            self.camera, self.camera_key = camera, key
        elif self.camera_key is None:  # no fit kept yet (above): the calibration's key
            self.camera_key = key

    def _take(self, camera: Any, row: tuple, key: Optional[CameraKey] = None) -> None:
        """Keep ``row`` (one frame's fit) under ``camera`` and ``key`` (`use_camera`: one under
        another calibration drops the fits kept first and is the new calibration); a fit
        without a ``key`` where the calibration has one is left out (``untied_fits``: it was
        compared on the subclass's few values alone and judged as that camera's)."""
        if key is None and self.camera_key is not None:
            self.untied_fits += 1
            say_untied(1, "left out of")
            return
        self.use_camera(camera, key)
        self._fits.append(row)

    def _columns(self, n: int) -> List[Sequence[float]]:
        """The fits kept as ``n`` columns (each a sequence of N values; empty without fits)."""
        return list(zip(*self._fits)) if self._fits else [[] for _ in range(n)]

    def clear(self) -> None:
        """Drop the fits kept and the calibration (``frames_restarted`` stays)."""
        self._fits.clear()
        self.camera = self.camera_key = None

    def __len__(self) -> int:
        return len(self._fits)
