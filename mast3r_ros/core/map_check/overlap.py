"""Do two maps that are to be merged agree where they overlap? (``merge-maps``)

The map check compares keyframes with their neighbours in recording order, so on a merged map it
never compares a keyframe of one map with one of the other (but for the one pair at the seam):
two maps of one place in different frames (two SLAM sessions never aligned), or of two places
whose frames both start at the origin, merge without a word, and localization then jumps
between them. `check_across` makes the same two measurements (depth and verified matches, see
the package docstring) on the cross pairs whose views the poses put closest: each keyframe of
the second map with the keyframe of the first whose look-at point (the camera centre plus the
optical axis times a typical depth) is nearest to its own, the ``max_pairs`` nearest of those,
and of those the pairs whose cameras are within twice the typical depth of each other (further
apart, a camera sees the other's scene only through walls, and occluded points would read as
disagreement).
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.spatial import cKDTree

from ..config import MapCheckConfig
from ..errors import InputError
from .measure import _match, _measure, _prepare
from .records import KeyframeRecord, MapRecords
from .report import PairFigures, _pct, _px

AGREE, DISAGREE, APART, NO_DEPTH = "agree", "disagree", "apart", "no depth"

# A cross pair agrees when the map check's rules pass it and at least this fraction of its
# depth points agree (the map check's neighbours need 0.5: occlusion between views further
# apart). The maps agree when more than half of the judged pairs do. On 7-Scenes redkitchen
# (two recordings, SIFT maps): aligned, 8 of 8 pairs agree (92-100 % of depth); the second
# map moved 10 cm, 5 of 8; 20 cm, 1 of 8; 40 cm or turned 5 deg, none.
CROSS_MIN_DEPTH_AGREE = 0.8


@dataclasses.dataclass
class OverlapReport:
    """`check_across`'s verdict: ``agree`` (more than half the judged cross pairs agree, by the
    map check's rules and `CROSS_MIN_DEPTH_AGREE`), ``disagree`` (pairs were judged and at most
    half agree: not one frame, or not one place), ``apart`` (no cross pair could be
    judged: no cameras near each other, or their views share no depth or features), ``no
    depth`` (neither map has depth: not measured).
    ``pairs`` the figures of the pairs measured, ``labels`` their (first, second) keyframe
    labels, ``look_m`` the typical depth used for the look-at points (metres)."""

    verdict: str
    pairs: List[PairFigures]
    labels: List[Tuple[str, str]]
    look_m: float

    @property
    def judged(self) -> int:
        return sum(p.ok is not None for p in self.pairs)

    @property
    def agreeing(self) -> int:
        return sum(bool(p.ok) for p in self.pairs)

    def first_disagreement(self) -> str:
        """'keyframes A / B: depth within tolerance at X %, median reprojection Y px' of the
        first judged pair that disagrees ('' when none does), for messages."""
        for p, (ka, kb) in zip(self.pairs, self.labels):
            if p.ok is False:
                return (f"keyframes {ka} / {kb}: depth within tolerance at "
                        f"{_pct(p.depth_agree)}, median reprojection {_px(p.reproj_px)}")
        return ""


def _look_at(poses: np.ndarray, depth_m: float) -> np.ndarray:
    """(N, 3) points ``depth_m`` ahead of each camera (optical +z, REP-103) in the map."""
    return poses[:, :3, 3] + depth_m * poses[:, :3, 2]


def _poses(records: Sequence[KeyframeRecord]) -> np.ndarray:
    """(N, 4, 4) map_from_cam of every record; a `MapRecords` gives them from the map's
    keyframe table without reading an image."""
    if isinstance(records, MapRecords):
        kfs = records.map.keyframes
        poses = [np.asarray(kfs[i].map_from_cam, np.float64) for i in range(len(kfs))]
    else:
        poses = [np.asarray(r.map_from_cam, np.float64) for r in records]
    for i, pose in enumerate(poses):
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise InputError(f"keyframe {i}: map_from_cam must be a finite 4x4 matrix, got "
                             f"shape {pose.shape}")
    return np.stack(poses)


def _typical_depth(records: Sequence[KeyframeRecord], samples: int = 5) -> Optional[float]:
    """The median valid depth (metres) over up to ``samples`` keyframes spread over the map."""
    picks = np.unique(np.linspace(0, len(records) - 1, min(samples, len(records))).round())
    depths = [np.asarray(records[int(i)].depth_m, np.float32) for i in picks
              if records[int(i)].depth_m is not None]
    valid = [d[np.isfinite(d) & (d > 0)] for d in depths]
    valid = [v for v in valid if v.size]
    return float(np.median(np.concatenate(valid))) if valid else None


def check_across(first: Sequence[KeyframeRecord], second: Sequence[KeyframeRecord],
                 cfg: MapCheckConfig, max_pairs: int = 8) -> OverlapReport:
    """Compare ``second``'s keyframes with ``first``'s on the ``max_pairs`` cross pairs whose
    look-at points are nearest (see the module docstring); each figure as in `check_keyframes`
    (``PairFigures.a`` indexes ``first``, ``b`` ``second``). Only the keyframes of those pairs
    are read past their poses (and the depth of up to 5 keyframes of each map for the typical
    depth). Verdict ``no depth`` when neither map has depth: nothing can be measured. Raises
    `InputError` for a keyframe without a finite 4x4 pose."""
    if not len(first) or not len(second):
        return OverlapReport(APART, [], [], 0.0)
    pa, pb = _poses(first), _poses(second)
    look = _typical_depth(first) or _typical_depth(second)
    if look is None:  # both measurements need depth on one side at least
        return OverlapReport(NO_DEPTH, [], [], 0.0)
    dist, nearest = cKDTree(_look_at(pa, look)).query(_look_at(pb, look))
    order = np.argsort(dist, kind="stable")[:max_pairs]
    # cameras further apart than twice the typical depth see one place only through walls
    # (occluded points would count as disagreeing): such pairs are apart, not measured
    near = np.linalg.norm(pa[nearest[order], :3, 3] - pb[order, :3, 3], axis=1) <= 2 * look
    chosen = [(int(nearest[j]), int(j)) for j in order[near]]
    orb = cv2.ORB_create(nfeatures=cfg.max_features)
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    views, matches, labels = [], {}, []
    for a, b in chosen:
        va, vb = _prepare(first[a], a, cfg, orb), _prepare(second[b], b, cfg, orb)
        views += [va, vb]
        matches[(len(views) - 2, len(views) - 1)] = _match(va, vb, cfg, bf)
        labels.append((va.label, vb.label))
    pairs = _measure(views, [v.pose for v in views], matches, cfg)
    for f, (a, b) in zip(pairs, chosen):  # indices into the inputs, not the views list
        f.a, f.b = a, b
    for f in pairs:  # the nearest views of one place in one frame agree closely
        if f.ok and f.depth_points and f.depth_agree < CROSS_MIN_DEPTH_AGREE:
            f.ok = False
    judged = sum(f.ok is not None for f in pairs)
    agreeing = sum(bool(f.ok) for f in pairs)
    verdict = (APART if not judged else AGREE if 2 * agreeing > judged else DISAGREE)
    return OverlapReport(verdict, pairs, labels, look)
