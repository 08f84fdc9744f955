"""PnP-RANSAC backends: poselib's LO-RANSAC when installed, else OpenCV's USAC (MAGSAC++).

`resolve_backend` turns ``pnp.backend`` into a backend name; `_ransac_poselib` and
`_ransac_opencv` each return a ``cam_from_map`` hypothesis (or None) from the random subset of at
most ``RANSAC_MAX_POINTS`` correspondences that `solve.solve_pnp` draws. The solvers and their
references: the package docstring (`core.pnp`). OpenCV is imported only when its solver runs.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..errors import ConfigError
from ..geometry import make_pose

# RANSAC hypothesises on at most this many correspondences (`solve_pnp`; `PnPConfig`)
RANSAC_MAX_POINTS = 512
# poselib's RANSAC draws at least this many samples (its adaptive count, x3, decides above it:
# ~115 at 40 % outliers). 100 before issue 9's host work; 50 saves ~0.4 ms at <= 25 % outliers
# and gave the same inliers after refinement on 180 of 180 fabricated MASt3R-like frames.
RANSAC_MIN_ITERATIONS = 50

try:  # optional dependency: measured 2-4x more accurate than OpenCV's solvers on our data
    import poselib as _poselib
except ImportError:  # pragma: no cover - depends on the environment
    _poselib = None


def poselib_available() -> bool:
    """True when poselib imports (pnp.backend 'auto' then uses it)."""
    return _poselib is not None


def resolve_backend(backend: str) -> str:
    """'auto' -> 'poselib' when installed else 'opencv'. Raises ConfigError for 'poselib'
    without poselib installed or a name other than auto, poselib and opencv."""
    if backend == "auto":
        return "poselib" if _poselib is not None else "opencv"
    if backend == "poselib" and _poselib is None:
        raise ConfigError("pnp.backend is 'poselib' but poselib is not installed: "
                          "`pip install poselib` or set pnp.backend to 'auto' or 'opencv'")
    if backend not in ("poselib", "opencv"):
        raise ConfigError(f"pnp.backend must be auto, poselib or opencv, got {backend!r}")
    return backend


def _ransac_poselib(X: np.ndarray, x: np.ndarray, K: np.ndarray, size: Tuple[int, int],
                    thr: float, iters: int, conf: float, seed: int):
    # A pinhole model is invariant to shifting pixels and principal point alike, so the OpenCV
    # pixel convention can be passed as is (no +0.5 needed).
    cam = {"model": "PINHOLE", "width": int(size[0]), "height": int(size[1]),
           "params": [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]}
    ransac = {"max_reproj_error": float(thr), "max_iterations": int(iters),
              "min_iterations": min(RANSAC_MIN_ITERATIONS, int(iters)), "success_prob": float(conf),
              "seed": int(seed)}
    # no final bundle adjustment of the subset's inliers (poselib's default: up to 100 LM
    # iterations, ~0.5 ms): `_refine_inliers` refines on all matches right after, from the
    # locally optimised RANSAC pose. Measured on 200 fabricated MASt3R-like frames: the same
    # pose errors (mean 0.968 vs 0.969 mm); the refinement lands on another neighbouring fixed
    # point in 5-10 % of the frames, where drawing another RANSAC subset does so in 30-45 %.
    pose, info = _poselib.estimate_absolute_pose(x, X, cam, ransac, {"max_iterations": 0})
    if not info.get("num_inliers", 0):
        return None
    Rt = np.asarray(pose.Rt, dtype=np.float64)
    return make_pose(Rt[:, :3], Rt[:, 3])


def _ransac_opencv(X: np.ndarray, x: np.ndarray, K: np.ndarray, thr: float, iters: int,
                   conf: float, seed: int):
    import cv2

    # ``seed`` is not used: USAC keeps its own generator in a fixed state (cv::setRNGSeed does
    # not reach it; seeds 0, 1, 2, 3 and 2**31 + 1 gave bit-identical poses), so this backend is
    # deterministic whatever the seed, and only ``solve_pnp``'s subset draw follows it
    ok, rvec, tvec, inl = cv2.solvePnPRansac(
        X, x, K, None, iterationsCount=int(iters), reprojectionError=float(thr),
        confidence=float(conf), flags=cv2.USAC_MAGSAC)
    if not ok or inl is None or not len(inl):
        return None
    return make_pose(cv2.Rodrigues(rvec)[0], tvec.reshape(3))
