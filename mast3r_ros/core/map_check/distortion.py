"""Map check evidence on the keyframes' lens distortion: the residual radial ``k1`` their pairs
fit (`map_distortion`).

A wrong distortion passes the rest of the map check: rectified images given with the raw
camera's D (undistorted twice), or distorted images given with D zero, bend every keyframe's
rays alike, and the depth and matches of neighbouring keyframes still agree within the
check's thresholds. Each pair (a, b) of keyframes whose verified matches have depth at a
(`measure._Matches`) is one measurement: a's matched pixels lifted with a's depth and pose
(its distortion removed) are the points, b's matched pixels (its distortion removed) where
they are seen, and `pnp.distortion.refitted_distortion` fits b's pose, a focal scale and a
residual radial ``k1`` -- with the points' own rays in a bent by the same ``k1`` (its
``keyframes``: both images are the same lens's). The pairs' fits are combined and judged as a
run's frames are (`distortion_evidence.RunDistortionEvidence`: the same tolerance, sigma
floor and diagnoses), and worded for the map (``subject`` "map"). Pairs of one place and one
direction (`baseline.with_baseline`) fit nothing and are left out; only pairs whose two
keyframes have one camera (size, K, D, within `camera_key.same_camera`) are fitted, and the
camera with the most pairs is judged (a merged map of several cameras: that one).

Figures: docs/bench/distortion_map_check_cpu_2026-12-07zd.
"""

from __future__ import annotations

import types
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..camera_key import CameraKey, camera_key, same_camera
from ..distortion_evidence import RunDistortionEvidence, distortion_fit, radial_judged
from ..geometry import invert_pose, undistort_pixels
from ..pnp.distortion import refitted_distortion
from .baseline import with_baseline
from .measure import _lift, _View

# the fit's inlier threshold after its robust round, as a fraction of the working image width
# (3.2 px at the check's 320 px): the matches are verified with a fundamental matrix already
REPROJ_FRAC = 0.01
# ... and at least this (working px)
MIN_REPROJ_PX = 2.0
# pairs fitted at most, spread over the map (each a least-squares fit of ~10 ms)
MAX_PAIRS = 200


def _camera_px(v: _View) -> Tuple[np.ndarray, int, int]:
    """(K (3x3), width, height) of ``v``'s camera in camera pixels (its K is at working px:
    pixel centres map as x' = s (x + 0.5) - 0.5)."""
    s = v.scale
    K = v.cam.K.astype(np.float64).copy()
    K[0, 0] /= s
    K[1, 1] /= s
    K[0, 2] = (K[0, 2] + 0.5) / s - 0.5
    K[1, 2] = (K[1, 2] + 0.5) / s - 0.5
    return K, int(v.width_px), max(1, round(v.cam.height / s))


def _camera_groups(views: List[_View]) -> List[int]:
    """Each view's camera as an index into the distinct calibrations among ``views``: one
    `camera_key.same_camera` as an earlier view's (within float round-trips and a driver's
    jitter in the last digits, which exact bytes split into many) is its group."""
    firsts: List[CameraKey] = []
    out = []
    for v in views:
        key = camera_key(v.cam)
        out.append(next((i for i, k in enumerate(firsts) if same_camera(k, key)), len(firsts)))
        if out[-1] == len(firsts):
            firsts.append(key)
    return out


def pair_distortion(va: _View, vb: _View, m: Any) -> Optional[Tuple[float, float, int]]:
    """(k1, sigma, points) that pair (a, b)'s matches ``m`` (`measure._Matches`, working px,
    depth in metres at a) fit (module docstring), or None when it cannot be judged (too few
    matches with depth at a, `refitted_distortion`'s own reasons)."""
    ok = np.isfinite(m.da) & (m.da > 0)
    if not ok.any():
        return None
    Xa = _lift(m.xa[ok], m.da[ok], va.cam)                   # a's camera frame, metres
    X = Xa @ va.pose[:3, :3].T + va.pose[:3, 3]              # map frame
    xb = np.asarray(m.xb[ok], np.float64)
    xu = (undistort_pixels(xb, vb.cam.K, vb.cam.dist, vb.cam.distortion_model)
          if vb.cam.has_distortion else xb)
    thr = max(MIN_REPROJ_PX, REPROJ_FRAC * vb.cam.width)
    return refitted_distortion(vb.pose, X, xu, np.ones(len(X), bool), vb.cam.K, thr,
                               keyframes=(invert_pose(va.pose)[None], np.zeros(len(X), int)),
                               keyframe_scale=False)  # a pair's points: k1 sigma 0.040 -> 0.066


def map_distortion(views: List[_View], matches: Dict[Tuple[int, int], Any]
                   ) -> Optional[RunDistortionEvidence]:
    """The keyframe pairs' residual distortion evidence (module docstring), worded for a map,
    or None when no pair could be fitted (no matches with depth, fisheye cameras with a
    nonzero D: `distortion_evidence.radial_judged`)."""
    group = _camera_groups(views)
    keys = with_baseline(views, [k for k, m in matches.items() if m is not None
                                 and group[k[0]] == group[k[1]]
                                 and radial_judged(views[k[0]].cam)])
    by_camera: Dict[int, List[Tuple[int, int]]] = {}
    for k in keys:
        by_camera.setdefault(group[k[0]], []).append(k)
    if not by_camera:
        return None
    keys = max(by_camera.values(), key=len)
    keys = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, MAX_PAIRS).astype(int))]
    ev = RunDistortionEvidence(subject="map")
    for a, b in keys:
        fit = pair_distortion(views[a], views[b], matches[(a, b)])
        K, w, h = _camera_px(views[b])
        d = distortion_fit(fit, K, w, h, views[b].cam.distortion_model, views[b].cam.dist)
        ev.add(types.SimpleNamespace(distortion=d))
    return ev if len(ev) else None
