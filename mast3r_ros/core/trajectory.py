"""The pose of a sampled trajectory at a given stamp: ONE rule for every reader.

Ground truth of a TUM folder, ``--trajectory`` / ``--groundtruth`` files and every time-varying
edge of the transform buffer (tf in a rosbag2) use `poses_at_stamps`:

1. a query equal to a sample's stamp takes that sample;
2. a query between two samples at most ``max_gap_ns`` apart is interpolated (translation linear,
   rotation slerp, `interpolate_pose`);
3. otherwise the nearest sample within ``tolerance_ns`` is taken (this covers the ends of the
   trajectory and gaps longer than ``max_gap_ns``);
4. otherwise there is no pose.

The offline tools read both numbers from the config section ``pose_at_stamp`` (``tolerance_s``,
``max_gap_s``). Stamps are integer nanoseconds.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import InputError
from .types import check_stamp_ns


def _stamps_array(stamps: Any, what: str) -> np.ndarray:
    """``stamps`` as (N,) int64 nanoseconds; `InputError` for floats (seconds, or ns that lost
    precision: casting would truncate them silently, 0.05 s -> 0 ns), bools or non-numbers."""
    a = np.asarray(stamps)
    if a.size and a.dtype.kind not in "iu":
        raise InputError(f"{what} must be integer nanoseconds, got a {a.dtype} array; convert "
                         "seconds with np.round(t * 1e9).astype(np.int64)")
    return a.astype(np.int64, copy=False).reshape(-1)


def _pose_stack(poses: Any, count: int, what: str) -> np.ndarray:
    """``poses`` as (count, 4, 4) float64 (one 4x4 for one stamp, as the reshape took it);
    `InputError` for another shape."""
    try:
        p = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be (N, 4, 4) poses, got {type(poses).__name__}") from None
    if p.size == 0 and count == 0:
        return p.reshape(0, 4, 4)
    if p.shape == (4, 4) and count == 1:
        return p.reshape(1, 4, 4)
    if p.shape != (count, 4, 4):
        raise InputError(f"{what} must be ({count}, 4, 4): one 4x4 pose per stamp, got shape "
                         f"{p.shape}")
    return p


def interpolate_pose(a_from_b0: np.ndarray, a_from_b1: np.ndarray, alpha: float) -> np.ndarray:
    """Pose between two 4x4 poses: linear in translation, slerp in rotation.

    ``alpha`` = 0 gives ``a_from_b0``, 1 gives ``a_from_b1``; returns a new 4x4 float64 matrix.
    Both poses are 4x4 arrays with rotation blocks (scipy projects a non-orthonormal block onto
    the nearest rotation).
    """
    a_from_b0 = np.asarray(a_from_b0, dtype=np.float64)
    a_from_b1 = np.asarray(a_from_b1, dtype=np.float64)
    out = np.eye(4)
    r0 = Rotation.from_matrix(a_from_b0[:3, :3])
    r1 = Rotation.from_matrix(a_from_b1[:3, :3])
    delta = (r0.inv() * r1).as_rotvec()
    out[:3, :3] = (r0 * Rotation.from_rotvec(alpha * delta)).as_matrix()
    out[:3, 3] = (1.0 - alpha) * a_from_b0[:3, 3] + alpha * a_from_b1[:3, 3]
    return out


def nearest_indices(stamps_ns: np.ndarray, query_ns: np.ndarray, tolerance_ns: int) -> np.ndarray:
    """For each query stamp, the index of the nearest of the sorted ``stamps_ns`` within
    ``tolerance_ns`` (ties go to the earlier sample), else -1. Returns (M,) int64.

    Also the association of depth images with colour images by header stamp.

    Raises `InputError` for stamps or a tolerance that are not integer nanoseconds (a float
    array: seconds).
    """
    stamps = _stamps_array(stamps_ns, "nearest_indices: stamps_ns")
    query = _stamps_array(query_ns, "nearest_indices: query_ns")
    tolerance_ns = check_stamp_ns(tolerance_ns, "nearest_indices: tolerance_ns")
    if stamps.size == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    hi = np.clip(np.searchsorted(stamps, query), 0, stamps.size - 1)
    lo = np.clip(hi - 1, 0, stamps.size - 1)
    best = np.where(np.abs(stamps[hi] - query) < np.abs(stamps[lo] - query), hi, lo)
    return np.where(np.abs(stamps[best] - query) <= tolerance_ns, best, -1).astype(np.int64)


def poses_at_stamps(
    stamps_ns: np.ndarray,
    poses: np.ndarray,
    query_ns: np.ndarray,
    tolerance_ns: int,
    max_gap_ns: Optional[int],
) -> Tuple[np.ndarray, np.ndarray]:
    """Poses of a trajectory ((N,) int stamps in any order, (N, 4, 4) poses) at (M,) query stamps.

    The rule is the module's (exact sample, else interpolation across a gap of at most
    ``max_gap_ns`` — ``None``: any gap, as tf2 —, else the nearest sample within
    ``tolerance_ns``). Samples are sorted stably first, so among equal stamps the first given
    wins. Returns (poses (M, 4, 4) float64, NaN where unknown; valid (M,) bool).

    Raises `InputError` for stamps, ``tolerance_ns`` or ``max_gap_ns`` that are not integer
    nanoseconds (float stamps in seconds would otherwise be truncated to whole nanoseconds and
    all match each other) or ``poses`` that are not one 4x4 pose per stamp.
    """
    stamps = _stamps_array(stamps_ns, "poses_at_stamps: stamps_ns")
    poses = _pose_stack(poses, stamps.size, "poses_at_stamps: poses")
    query = _stamps_array(query_ns, "poses_at_stamps: query_ns")
    tolerance_ns = check_stamp_ns(tolerance_ns, "poses_at_stamps: tolerance_ns")
    if max_gap_ns is not None:
        max_gap_ns = check_stamp_ns(max_gap_ns, "poses_at_stamps: max_gap_ns")
    if stamps.size and np.any(stamps[1:] < stamps[:-1]):
        order = np.argsort(stamps, kind="stable")
        stamps, poses = stamps[order], poses[order]
    out = np.full((query.size, 4, 4), np.nan)
    valid = np.zeros(query.size, dtype=bool)
    nearest = nearest_indices(stamps, query, tolerance_ns)
    his = np.searchsorted(stamps, query, side="left")
    for m, (t, hi) in enumerate(zip(query, his)):
        if hi < stamps.size and stamps[hi] == t:
            out[m], valid[m] = poses[hi], True
        elif 0 < hi < stamps.size and (
            max_gap_ns is None or stamps[hi] - stamps[hi - 1] <= max_gap_ns
        ):
            alpha = (t - stamps[hi - 1]) / (stamps[hi] - stamps[hi - 1])
            out[m], valid[m] = interpolate_pose(poses[hi - 1], poses[hi], float(alpha)), True
        elif nearest[m] >= 0:
            out[m], valid[m] = poses[nearest[m]], True
    return out, valid


def bracketing_gaps(stamps_ns: np.ndarray, query_ns: np.ndarray) -> np.ndarray:
    """For each query stamp, how far apart (ns) the two samples of the sorted ``stamps_ns``
    around it are: 0 at a sample, -1 before the first or after the last sample. Returns (M,)
    int64. Says why `poses_at_stamps` gave no pose: a query inside the trajectory lies in a gap
    longer than ``max_gap_ns`` (and farther than ``tolerance_ns`` from both samples). Raises
    `InputError` for stamps that are not integer nanoseconds."""
    stamps = _stamps_array(stamps_ns, "bracketing_gaps: stamps_ns")
    query = _stamps_array(query_ns, "bracketing_gaps: query_ns")
    out = np.full(query.shape, -1, dtype=np.int64)
    if stamps.size == 0:
        return out
    hi = np.searchsorted(stamps, query, side="left")
    at = (hi < stamps.size) & (stamps[np.minimum(hi, stamps.size - 1)] == query)
    inside = (hi > 0) & (hi < stamps.size) & ~at
    out[at] = 0
    out[inside] = stamps[hi[inside]] - stamps[hi[inside] - 1]
    return out
