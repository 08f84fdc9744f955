"""Parts of `Localizer.warmup` beyond running the per-frame path on the map's first keyframe
(`warm_pnp`: a PnP that surely runs) and the one-time costs a first live frame would otherwise
still pay (issue 9).

Found by timing frame 1 against frames 2..N after the warm-up (bench/bench_first_frame.py):

* **Keyframe data of other candidates.** The warm-up matches keyframes ``0..max_keyframes-1``;
  the first live frame's candidates are others, whose cached encodings (mast3r: read from the
  map's encoding store and copied to the device) or SIFT features (sift: extracted from the
  keyframe image) were loaded on that frame. `preload_keyframes` loads every keyframe of a
  small map (at most `PRELOAD_MAX_KEYFRAMES`, and only while the matcher's cache holds them
  without evicting any): the same bits later frames would load, so no result changes.
* **The long-walk branch of the matching.** With the Triton search the matching runs
  `fixed_matching.FIRST_ROUNDS` walk rounds (replayed as a CUDA graph on a GPU) and reruns a
  frame whose walks are longer eagerly with all rounds. The warm-up's frame (the first keyframe
  against itself) has short walks, so that branch's first run (its device allocations, the
  host copy) fell on the first live frame with a long walk. `long_walks_warmed` makes the
  warm-up's matching run it too (same matches).
* **The query-camera check.** `Localizer._check_query_camera` reads the map's cameras and
  distortions (`KeyframeMap.cameras` / ``distortions``, a pass over every keyframe) and
  undistorts a grid per map distortion on the first frame of each camera. The warm-up checks
  the map's first keyframe camera -- the live camera, normally -- when that check is silent by
  construction (it is a map camera; only its skew could warn, so not when it has one), so a
  live camera within the check's 0.5 % tolerance of it is not checked again.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, ContextManager

import numpy as np

from ..config import LocalizerConfig
from ..errors import Mast3rRosError
from ..geometry import undistort_pixels
from ..pnp import UncertaintyModel, solve_pnp
from ..types import CameraIntrinsics, Frame
from .query_checks import SKEW_IGNORED_PX, focal_gate

log = logging.getLogger(__name__)

# maps of at most this many keyframes get every keyframe's matching data loaded by the warm-up
# (mast3r: ~2 ms a keyframe at 512 on a GPU host; sift: one SIFT extraction, ~20-50 ms on a CPU)
PRELOAD_MAX_KEYFRAMES = 64


def preload_keyframes(matcher: Any, num_keyframes: int) -> int:
    """Load the matching data of every keyframe ``0..num_keyframes-1`` into ``matcher``'s cache
    (its ``preload``) when there are at most `PRELOAD_MAX_KEYFRAMES`; returns how many were
    loaded. A keyframe whose data fails to load (a corrupt chunk or image) stops the preload
    quietly: the frame that needs it raises the error, as without the warm-up."""
    preload = getattr(matcher, "preload", None)
    if preload is None or num_keyframes > PRELOAD_MAX_KEYFRAMES:
        return 0
    try:
        return int(preload(range(num_keyframes)))
    except Mast3rRosError as e:
        log.debug("warm-up preload stopped: %s", e)
        return 0


def long_walks_warmed(matcher: Any) -> ContextManager[Any]:
    """The context the warm-up runs ``matcher``'s matching in: for the mast3r matcher (a
    ``cfg`` with ``cuda_graph``) `fixed_matching.warming_longer_walks`, else a no-op."""
    cfg = getattr(matcher, "cfg", None)
    if cfg is None or not hasattr(cfg, "cuda_graph"):
        return contextlib.nullcontext()
    from ..matchers.fixed_matching import warming_longer_walks

    return warming_longer_walks()


def camera_check_is_silent(cam: CameraIntrinsics) -> bool:
    """Whether `Localizer._check_query_camera` of a map keyframe's own camera logs nothing:
    its intrinsics and distortion match a map camera exactly, so only a skew could warn
    (`query_checks._warn_ignored_skew`, the same formula)."""
    K = cam.K
    return bool(abs(K[0, 1]) * max(K[1, 2], cam.height - 1 - K[1, 2]) / K[1, 1]
                <= SKEW_IGNORED_PX)


def fabricated_pnp_problem(cam: CameraIntrinsics, n: int = 64):
    """(X (n, 3) camera-frame points 1-4 m in front, px (n, 2) their exact pixels) for the
    warm-up's PnP on a well-posed problem (seeded: the same every time)."""
    rng = np.random.default_rng(0)
    px = rng.uniform([0, 0], [cam.width - 1, cam.height - 1], (n, 2))
    z = rng.uniform(1.0, 4.0, n)
    K = cam.K
    X = np.column_stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z,
                         (px[:, 1] - K[1, 2]) / K[1, 1] * z, z])
    return X, px


def warm_pnp(frame: Frame, groups: int, config: LocalizerConfig, seed: int,
             uncertainty: UncertaintyModel) -> None:
    """PnP-RANSAC, refinement and covariance (with ``groups`` keyframes, ``config.pnp`` and
    ``seed`` as the live frames) on fabricated exact correspondences in front of ``frame``'s
    camera, and one undistortion (OpenCV is imported lazily); with points from depth and the
    focal gate on, the per-frame camera fits on the same points (`query_checks.focal_gate`)."""
    cam = frame.intrinsics
    K = cam.K
    X, px = fabricated_pnp_problem(cam)
    n = len(X)
    p = config.pnp
    plain = CameraIntrinsics(cam.width, cam.height, K)
    solve_pnp(X, px, plain, backend=p.backend, reproj_error_px=p.reproj_error_px,
              max_iterations=p.max_iterations, confidence=p.confidence, refine=p.refine,
              seed=seed, ransac_max_points=p.ransac_max_points,
              points_cov=np.broadcast_to(np.eye(3) * 1e-4, (n, 3, 3)),
              groups=np.arange(n) % max(groups, 1), group_centres=np.zeros((groups, 3)),
              uncertainty=uncertainty)
    try:
        undistort_pixels(px[:4], K, np.array([1e-3, 0.0, 0.0, 0.0, 0.0]))
    except ImportError:  # no OpenCV: distorted cameras fail anyway, with a clear error
        pass
    if config.points_from_depth and config.gates.max_focal_error > 0:
        # the per-frame camera fits (focal scale, principal point, residual distortion) the
        # live frames run after PnP: scipy's import and first least_squares cost the first live
        # frame ~150 ms otherwise; nothing is fed to the run's evidence (a pure function)
        focal_gate(config.gates.max_focal_error, plain, np.eye(4), X, px, np.ones(n, bool),
                   p.reproj_error_px)
