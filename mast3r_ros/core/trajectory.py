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
``max_gap_s``); a tf edge published slower than ``max_gap_s`` is interpolated across up to 2.5
times its own median sample spacing (`tf_buffer.edge_max_gap_ns`, as tf2 interpolates it).
Stamps are integer nanoseconds. Before a trajectory file meets frame stamps, `check_stamp_units`
refuses one stamped in another time unit than the frames (milliseconds read as seconds), which
the rule would otherwise turn into one pose for every frame, or none.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from .config import PoseAtStampConfig
from .errors import InputError
from .geometry import finite_pose, nonfinite_entries
from .types import check_stamp_ns


def _stamps_array(stamps: Any, what: str) -> np.ndarray:
    """``stamps`` as (N,) int64 nanoseconds; `InputError` for floats (seconds, or ns that lost
    precision: casting would truncate them silently, 0.05 s -> 0 ns), bools, non-numbers, or
    integers outside int64 (a uint64 of 2**63 or more was wrapped to a negative stamp)."""
    a = np.asarray(stamps)
    if a.size and a.dtype == object and all(isinstance(v, (int, np.integer))
                                            and not isinstance(v, bool) for v in a.flat):
        values = [int(v) for v in a.flat]  # Python ints (numpy makes them objects past int64)
        bad = next((v for v in values if not -2 ** 63 <= v < 2 ** 63), None)
        if bad is not None:
            raise InputError(f"{what}: a stamp of {bad} ns lies outside int64 (|t| < 2**63 "
                             "ns, 292 years from 1970)")
        a = np.array(values, dtype=np.int64)
    if a.size and a.dtype.kind not in "iu":
        raise InputError(f"{what} must be integer nanoseconds, got a {a.dtype} array; convert "
                         "seconds with np.round(t * 1e9).astype(np.int64)")
    if a.size and a.dtype.kind == "u" and int(a.max()) >= 2 ** 63:  # astype would wrap it
        raise InputError(f"{what}: a stamp of {int(a.max())} ns lies outside int64 (|t| < "
                         "2**63 ns, 292 years from 1970): a negative stamp stored as uint64?")
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


def check_stamped_poses(stamps_ns: Any, poses: Any, what: str) -> Tuple[np.ndarray, np.ndarray]:
    """(N,) integer-nanosecond stamps and finite (N, 4, 4) poses -> (stamps (N,) as given,
    poses (N, 4, 4) float64); `InputError` starting with ``what`` (the caller) otherwise, with
    the expected shapes and what was given (text or ragged input included: numpy's bare
    ValueError named neither)."""
    try:
        with warnings.catch_warnings():  # numpy < 1.24 warns and makes an object array
            warnings.simplefilter("ignore")
            stamps = np.asarray(stamps_ns).reshape(-1)
    except ValueError:  # ragged nesting (numpy >= 1.24)
        stamps = None
    if stamps is not None and stamps.dtype == object and any(
            np.ndim(v) for v in stamps):  # ragged nesting (numpy < 1.24)
        stamps = None
    try:
        p = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError):
        p = None
    if (stamps is None or p is None or p.shape != (stamps.size, 4, 4)
            or not np.issubdtype(stamps.dtype, np.integer) or not np.isfinite(p).all()):
        given = (f"ragged stamps_ns ({type(stamps_ns).__name__})" if stamps is None
                 else f"{stamps.shape} {stamps.dtype}")
        given += (f" and poses that are not numbers ({type(poses).__name__})" if p is None
                  else f" and {p.shape}" + ("" if np.isfinite(p).all() else " not all finite"))
        raise InputError(
            f"{what} expects (N,) integer stamps_ns and finite (N, 4, 4) poses, got {given}; "
            "pass nanoseconds (np.round(t_s * 1e9).astype(np.int64)) and one 4x4 pose per "
            "stamp (np.stack)")
    return stamps, p


def check_pose_rule(sync_tolerance_s: Any, pose_at_stamp: Any) -> PoseAtStampConfig:
    """The sequence readers' (TUM folders, bags) ``sync_tolerance_s`` and ``pose_at_stamp``
    (None: the defaults) checked alike -> the `PoseAtStampConfig` to use; `InputError` naming
    the one that is not a number of seconds >= 0 (text or None was a bare TypeError from '>=')
    or, for ``pose_at_stamp``, not a `PoseAtStampConfig` (a dict was an AttributeError)."""
    rule = PoseAtStampConfig() if pose_at_stamp is None else pose_at_stamp
    if not isinstance(rule, PoseAtStampConfig):
        raise InputError(f"pose_at_stamp must be a PoseAtStampConfig (e.g. PoseAtStampConfig("
                         f"tolerance_s=0.02, max_gap_s=0.1)) or None, got "
                         f"{type(pose_at_stamp).__name__}")
    for name, v in (("sync_tolerance_s", sync_tolerance_s),
                    ("pose_at_stamp's tolerance_s", rule.tolerance_s),
                    ("pose_at_stamp's max_gap_s", rule.max_gap_s)):
        number = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        if not (number and v >= 0):
            raise InputError(f"{name} must be >= 0 (a number of seconds), got {v!r}"
                             + ("" if number else f" ({type(v).__name__})"))
    return rule


def _duration_ns(value: Any, what: str) -> int:
    """A tolerance or gap: integer nanoseconds (`check_stamp_ns`) that are not negative."""
    value = check_stamp_ns(value, what)
    if value < 0:
        raise InputError(f"{what} must be >= 0 ns, got {value}; 0 takes only exact stamps")
    return value


def interpolate_pose(a_from_b0: np.ndarray, a_from_b1: np.ndarray, alpha: float) -> np.ndarray:
    """Pose between two 4x4 poses: linear in translation, slerp in rotation.

    ``alpha`` = 0 gives ``a_from_b0``, 1 gives ``a_from_b1``; returns a new 4x4 float64 matrix.
    Both poses are 4x4 arrays with rotation blocks (scipy projects a non-orthonormal block onto
    the nearest rotation). Raises `InputError` for a pose that is not a finite 4x4 matrix
    (`finite_pose`) or ``alpha`` outside [0, 1] (no extrapolation).
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"interpolate_pose: alpha must be in [0, 1] (0: the first pose, 1: the "
                         f"second), got {alpha}; it does not extrapolate")
    a_from_b0 = finite_pose(a_from_b0, "interpolate_pose: a_from_b0")
    a_from_b1 = finite_pose(a_from_b1, "interpolate_pose: a_from_b1")
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
    array: seconds), or a negative tolerance.
    """
    stamps = _stamps_array(stamps_ns, "nearest_indices: stamps_ns")
    query = _stamps_array(query_ns, "nearest_indices: query_ns")
    tolerance_ns = _duration_ns(tolerance_ns, "nearest_indices: tolerance_ns")
    if stamps.size == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    hi = np.clip(np.searchsorted(stamps, query), 0, stamps.size - 1)
    lo = np.clip(hi - 1, 0, stamps.size - 1)
    best = np.where(_ns_apart(stamps[hi], query) < _ns_apart(stamps[lo], query), hi, lo)
    # uint64 (numpy 1 compared it with an int as float64); 2**64 - 1 ns apart at most
    within = _ns_apart(stamps[best], query) <= np.uint64(min(tolerance_ns, 2 ** 64 - 1))
    return np.where(within, best, -1).astype(np.int64)


def stamp_steps(stamps_ns: Any) -> Tuple[np.ndarray, np.ndarray]:
    """The steps between consecutive int64 stamps (in the order given): (|t[k+1] - t[k]|
    (N-1,) uint64, t[k+1] < t[k] (N-1,) bool), exact over all of int64 (``np.diff`` wraps:
    a step from 2**63 - 1 ns back to -2**63 came out 1 ns forward)."""
    s = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
    return _ns_apart(s[1:], s[:-1]), s[1:] < s[:-1]


def _ns_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| of int64 stamps as uint64, exact over the whole int64 range (the int64
    difference of -2**63 and 0 overflows, and wrapped: 2**63 - 1 came out 1 ns from -2**63)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    au, bu = a.view(np.uint64), b.view(np.uint64)  # two's complement: the difference mod 2**64
    return np.where(a >= b, au - bu, bu - au)


def _first_of_sorted(stamps: np.ndarray, poses: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The samples sorted stably by stamp, of equal stamps only the first given kept. Returns
    the inputs themselves (no copy) when they are sorted without a repeated stamp."""
    if stamps.size and np.any(stamps[1:] < stamps[:-1]):
        order = np.argsort(stamps, kind="stable")
        stamps, poses = stamps[order], poses[order]
    first = np.concatenate([[True], stamps[1:] != stamps[:-1]])
    if not first.all():  # later samples of a repeated stamp: dropped for every rule alike
        stamps, poses = stamps[first], poses[first]
    return stamps, poses


def lookup_samples(stamps_ns: np.ndarray, poses: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """A trajectory's samples as `poses_at_stamps` uses them: (N',) int64 stamps sorted, of
    equal stamps the first given kept, and their (N', 4, 4) float64 poses. Made once by a
    caller that looks up many times (a tf edge): `poses_at_stamps` then neither sorts nor
    copies the trajectory per call (one repeated stamp made every lookup copy all of it: 34 ms
    on an hour of tf at 100 Hz). Raises `InputError` as `poses_at_stamps` does."""
    stamps = _stamps_array(stamps_ns, "lookup_samples: stamps_ns")
    return _first_of_sorted(stamps, _pose_stack(poses, stamps.size, "lookup_samples: poses"))


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
    ``tolerance_ns``). Samples are sorted stably first and of equal stamps only the first
    given is kept, so it wins for every rule (an exact query, interpolation, nearest).
    Returns (poses (M, 4, 4) float64, NaN where unknown; valid (M,) bool).

    Raises `InputError` for stamps, ``tolerance_ns`` or ``max_gap_ns`` that are not integer
    nanoseconds (float stamps in seconds would otherwise be truncated to whole nanoseconds and
    all match each other), a negative ``tolerance_ns`` or ``max_gap_ns``, ``poses`` that are
    not one 4x4 pose per stamp, or a non-finite pose among the samples a query uses (naming
    its stamp; the others are not read, so a lookup costs no pass over the trajectory).
    """
    stamps = _stamps_array(stamps_ns, "poses_at_stamps: stamps_ns")
    poses = _pose_stack(poses, stamps.size, "poses_at_stamps: poses")
    stamps, poses = _first_of_sorted(stamps, poses)
    return poses_at_samples(stamps, poses, query_ns, tolerance_ns, max_gap_ns)


def poses_at_samples(stamps_ns: np.ndarray, poses: np.ndarray, query_ns: Any, tolerance_ns: int,
                     max_gap_ns: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
    """`poses_at_stamps` on samples made by `lookup_samples` ((N,) int64 stamps sorted, none
    repeated; (N, 4, 4) float64 poses, or any sequence whose ``poses[i]`` is sample i's 4x4
    float64 pose: a tf edge's compact samples), which are not checked again: a lookup costs
    O(M log N), no pass over the N samples (a tf edge of an hour at 100 Hz: 0.6 ms a lookup
    when every call sorted and checked them). ``query_ns``, ``tolerance_ns`` and
    ``max_gap_ns`` are checked as there; returns and raises as `poses_at_stamps`."""
    stamps = stamps_ns
    query = _stamps_array(query_ns, "poses_at_stamps: query_ns")
    tolerance_ns = _duration_ns(tolerance_ns, "poses_at_stamps: tolerance_ns")
    if max_gap_ns is not None:
        max_gap_ns = _duration_ns(max_gap_ns, "poses_at_stamps: max_gap_ns")
    out = np.full((query.size, 4, 4), np.nan)
    valid = np.zeros(query.size, dtype=bool)
    nearest = nearest_indices(stamps, query, tolerance_ns)
    his = np.searchsorted(stamps, query, side="left")

    def sample(i: int) -> np.ndarray:
        # only the samples used are checked: a whole-trajectory check made every lookup O(N)
        # (a bag's tf edge holds one sample per message: 17 ms a lookup in an hour at 100 Hz)
        pose = poses[i]  # read once: a tf edge's compact samples build the matrix per read
        if not np.isfinite(pose).all():  # interpolation would raise numpy's LinAlgError
            raise InputError(f"poses_at_stamps: the pose at stamp {stamps[i]} ns is not finite: "
                             f"{nonfinite_entries(pose)}; drop that sample from the "
                             "trajectory")
        return pose

    for m, (t, hi) in enumerate(zip(query, his)):
        if hi < stamps.size and stamps[hi] == t:
            out[m], valid[m] = sample(hi), True
        elif 0 < hi < stamps.size and (
            max_gap_ns is None or int(stamps[hi]) - int(stamps[hi - 1]) <= max_gap_ns
        ):  # Python ints: samples at -2**63 and 0 are 2**63 ns apart, outside int64
            alpha = (int(t) - int(stamps[hi - 1])) / (int(stamps[hi]) - int(stamps[hi - 1]))
            out[m], valid[m] = interpolate_pose(sample(hi - 1), sample(hi), float(alpha)), True
        elif nearest[m] >= 0:
            out[m], valid[m] = sample(nearest[m]), True
    return out, valid


def bracketing_gaps(stamps_ns: np.ndarray, query_ns: np.ndarray) -> np.ndarray:
    """For each query stamp, how far apart (ns) the two samples of the sorted ``stamps_ns``
    around it are: 0 at a sample, -1 before the first or after the last sample, at most
    2**63 - 1 (a wider gap, between stamps of opposite sign, is given as that). Returns (M,)
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
    gaps = _ns_apart(stamps[hi[inside]], stamps[hi[inside] - 1])
    out[inside] = np.minimum(gaps, np.uint64(2 ** 63 - 1)).astype(np.int64)
    return out


# Time units a stamp column is written in by mistake, with how many of them make a second.
_STAMP_UNITS = {1e3: "milliseconds", 1e6: "microseconds", 1e9: "nanoseconds"}
# The two time ranges "barely overlap" below this intersection-over-union, and a rescaled one
# "overlaps well" from this one on (a ground truth a little longer than the frames: ~0.9).
_BARELY, _WELL = 0.1, 0.5
# Unix time in seconds of a recording: 2000-02 .. 2103-02 (stamps in this range are taken to be
# epoch seconds when the frames' integer stamps could be the ones in another unit)
_EPOCH_S = (9.5e8, 4.2e9)


def _range_iou(a: Tuple[float, float], b: Tuple[float, float]) -> float:
    """Intersection over union of two time ranges (lo, hi); 0 when both are points."""
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(min(a[1], b[1]) - max(a[0], b[0]), 0.0) / union if union > 0 else 0.0


def _span_and_step(stamps_ns: Any) -> Optional[Tuple[Tuple[float, float], float]]:
    """((first, last) s, median spacing s) of the distinct stamps; None for fewer than two."""
    t = np.unique(np.asarray(stamps_ns, dtype=np.int64)) * 1e-9
    return ((float(t[0]), float(t[-1])), float(np.median(np.diff(t)))) if t.size > 1 else None


def format_time_range(lo_s: float, hi_s: float) -> str:
    """'a..b s' with millisecond decimals (epoch stamps stay readable), more where two
    different ends would print alike (up to nanoseconds)."""
    for digits in range(3, 10):
        lo, hi = f"{lo_s:.{digits}f}", f"{hi_s:.{digits}f}"
        if lo != hi or lo_s == hi_s:
            break
    return f"{lo}..{hi} s"


def stamp_unit_mismatch(trajectory_ns: Any, frames_ns: Any, integer_ns: bool = False,
                        frames_integer_ns: bool = False, frames_name: str = ""
                        ) -> Optional[str]:
    """Why a trajectory's stamps look like another time unit than the frames' (one clause with
    both time ranges and the fix), or None when they do not. ``integer_ns``: the trajectory
    file wrote its stamps as integers above 1e12, read as nanoseconds; 1e6 (1e3) times too
    small, they are then integer milliseconds (microseconds) as written, said with the
    integers themselves. ``frames_integer_ns``: so did the frames' stamp file ``frames_name``
    (a TUM rgb.txt); 1e6 (1e3) times smaller than a trajectory in epoch seconds (2000 to
    2100), the clause then names that file and its integers as the ones in milliseconds
    (microseconds); beside a trajectory of other stamps it names both readings.

    Both are integer-nanosecond stamps as read. The trajectory is taken to be in another unit
    when its time range and the frames' barely overlap (intersection over union < 0.1) while
    the trajectory's stamps scaled by 1e-3, 1e-6 or 1e-9 (or 1e3, 1e6, 1e9) overlap the frames'
    well (>= 0.5) and their median spacing comes closer to the frames' (a long ground truth of
    which the frames are an excerpt keeps its spacing, and so is not rescaled). Either needs
    two distinct stamps."""
    traj, frames = _span_and_step(trajectory_ns), _span_and_step(frames_ns)
    if traj is None or frames is None or _range_iou(traj[0], frames[0]) >= _BARELY:
        return None
    best: Optional[Tuple[float, float]] = None
    for per_s in list(_STAMP_UNITS) + [1.0 / u for u in _STAMP_UNITS]:
        scaled = (traj[0][0] / per_s, traj[0][1] / per_s)
        iou = _range_iou(scaled, frames[0])
        closer = abs(np.log10(traj[1] / per_s / frames[1])) < abs(np.log10(traj[1] / frames[1]))
        if iou >= _WELL and closer and (best is None or iou > best[1]):
            best = (per_s, iou)
    if best is None:
        return None
    per_s = best[0]
    written = _STAMP_UNITS.get(round(per_s * 1e9)) if integer_ns and per_s < 1 else None
    if written:  # integer milliseconds (epoch: 1403636579000) read as nanoseconds
        lo, hi = np.min(trajectory_ns), np.max(trajectory_ns)
        return (f"its stamps look like {written} written as integers ({lo}..{hi}), which are "
                f"read as nanoseconds (integers above 1e12), while the frames span "
                f"{format_time_range(*frames[0])}; convert them to seconds (divide by "
                f"{per_s * 1e9:.0f}) or to integer nanoseconds (multiply by {1 / per_s:.0f})")
    frames_written = _STAMP_UNITS.get(round(1e9 / per_s)) if frames_integer_ns else None
    lo, hi = (np.min(frames_ns), np.max(frames_ns)) if frames_written else (0, 0)
    # the frames are the ones off only when the trajectory is plainly in epoch seconds; else
    # either reading holds (a trajectory in ms beside integer ns of a boot clock, say)
    epoch = _EPOCH_S[0] <= traj[0][0] and traj[0][1] <= _EPOCH_S[1]
    if frames_written and per_s > 1 and epoch:  # rgb.txt in integer epoch ms, read as ns
        return (f"the frames' stamps{f' ({frames_name})' if frames_name else ''} look like "
                f"{frames_written} written as integers ({lo}..{hi}), which are read as "
                f"nanoseconds (integers above 1e12), while it spans "
                f"{format_time_range(*traj[0])}; convert the frames' stamps to seconds (divide "
                f"by {1e9 / per_s:.0f}) or to integer nanoseconds (multiply by {per_s:.0f})")
    ranges = (f"it spans {format_time_range(*traj[0])} while the frames span "
              f"{format_time_range(*frames[0])}")
    if per_s > 1:
        # a sparse trajectory in seconds of which the frames are a tiny excerpt at its start
        # (a pose every 2 s over 2000 s) looks the same: tell that user the way through
        excerpt = ("; if they are seconds already (the frames a short excerpt of a long "
                   "trajectory), keep only its poses around the frames' time range"
                   if traj[0][0] <= frames[0][0] and frames[0][1] <= traj[0][1] else "")
        frames_too = (f"; or, if they are seconds, the frames' stamps"
                      f"{f' ({frames_name})' if frames_name else ''} are {frames_written} "
                      f"written as integers ({lo}..{hi}), read as nanoseconds: convert those"
                      if frames_written else "")
        return (f"its stamps look like {_STAMP_UNITS[per_s]}: {ranges}; convert them to seconds "
                f"(divide by {per_s:.0f}; integers above 1e12 are read as nanoseconds)"
                f"{excerpt}{frames_too}")
    return (f"its stamps are {1 / per_s:.0f} times smaller than the frames', as if one of the two "
            f"were not in seconds: {ranges}; convert both to seconds (integers above 1e12 are "
            "read as nanoseconds)")


def check_stamp_units(trajectory_ns: Any, frames_ns: Any, name: str,
                      integer_ns: bool = False, frames_integer_ns: bool = False,
                      frames_name: str = "") -> None:
    """`InputError` ('NAME: its stamps look like milliseconds: ...', `stamp_unit_mismatch`,
    with ``integer_ns``, ``frames_integer_ns`` and ``frames_name``) when the stamps of the
    trajectory ``name`` and the frames' are in different time units: associated by stamp they
    would give every frame the pose of one end of the trajectory, or none."""
    why = stamp_unit_mismatch(trajectory_ns, frames_ns, integer_ns, frames_integer_ns,
                              frames_name)
    if why:
        raise InputError(f"{name}: {why}")


# frames closer than this (a camera above 1 kHz) are no camera's: their stamps are another unit
MIN_FRAME_PERIOD_NS = 1_000_000


def frame_spacing_unit_mismatch(frames_ns: Any, integer_ns: bool) -> Optional[str]:
    """Why frame stamps written as integers above 1e12 (read as nanoseconds, ``integer_ns``)
    look like another unit by their spacing alone, or None: a median spacing under
    `MIN_FRAME_PERIOD_NS` (1 ms, a camera above 1 kHz) while the same integers read as
    microseconds (or milliseconds) space the frames like a camera (1 ms to 10 s). Integer
    milliseconds or microseconds since the epoch exceed 1e12 and are read as nanoseconds;
    without a ground truth to compare with (`stamp_unit_mismatch`) nothing else tells."""
    if not integer_ns:
        return None
    stamps = np.unique(np.asarray(frames_ns, dtype=np.int64))
    if stamps.size < 2:
        return None
    step_ns = float(np.median(stamp_steps(stamps)[0]))
    if step_ns >= MIN_FRAME_PERIOD_NS:
        return None
    for per_s, unit in ((1e6, "microseconds"), (1e3, "milliseconds")):
        period_s = step_ns * 1e-9 * (1e9 / per_s)
        if 1e-3 <= period_s <= 10.0:
            return (f"its integer stamps ({stamps[0]}..{stamps[-1]}) are read as nanoseconds "
                    f"(integers above 1e12), which puts the frames {step_ns / 1e3:.3g} us "
                    f"apart (a {1e9 / step_ns:.0f} Hz camera); as {unit} they are "
                    f"{period_s * 1e3:.3g} ms apart: convert them to seconds (divide by "
                    f"{per_s:.0f}) or to integer nanoseconds (multiply by {1e9 / per_s:.0f})")
    return None


def overlapping_reset(stamps_ns: Any) -> Optional[int]:
    """Index of the last stamp before the one step back of ``stamps_ns`` (file order) when the
    two parts it splits them into overlap in time by at least two stamps of each -- two
    recordings across a clock reset (a simulator restarted) whose stamps sorting interleaves --
    else None: no step back, several (a file listed out of order), or one that a single swapped
    line, two runs apart in time (nothing interleaved) or lines written late explain (each
    part's stamps within the other's span fall in holes of it, longer than 1.5 of its median
    steps: a receive-order export, where a reset's second run falls between the first's
    samples or on them)."""
    s = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
    back = np.flatnonzero(stamp_steps(s)[1])
    if back.size != 1:
        return None
    i = int(back[0])
    before, after = s[:i + 1], s[i + 1:]
    # each part increases (one step back): its span is its first to its last stamp
    back_in = after[(after >= before[0]) & (after <= before[-1])]
    ahead_in = before[(before >= after[0]) & (before <= after[-1])]
    if back_in.size < 2 or ahead_in.size < 2:
        return None
    return None if _fill_holes(back_in, before) and _fill_holes(ahead_in, after) else i


def _fill_holes(inside: np.ndarray, part: np.ndarray) -> bool:
    """Whether every stamp of ``inside`` (within the span of ``part``, which increases) falls
    strictly inside a step of ``part`` longer than 1.5 of its median step: lines missing from
    ``part`` and written later, not the samples of another recording of the same time."""
    steps, back = stamp_steps(part)
    steps = steps[~back & (steps > 0)]
    if not steps.size:
        return False
    pos = np.searchsorted(part, inside, side="right")  # part[pos - 1] <= t < part[pos]
    if np.any(pos <= 0) or np.any(pos >= part.size) or np.any(part[pos - 1] == inside):
        return False  # on a sample of ``part`` (or at its end): no hole there
    return bool(np.all(_ns_apart(part[pos], part[pos - 1]) > 1.5 * float(np.median(steps))))


def clock_reset_note(stamps_ns: Any) -> str:
    """'; it goes back 12.300 s, once (t=20.000 -> 7.700 s): a clock reset ...' when stamps in
    file order go back exactly once, by more than 1 s and either 10 median forward steps or
    into the stamps before it (`overlapping_reset`: 20 frames at 5 Hz reset by 1.75 s) -- a
    recording across a clock reset (a simulator restarted), which sorting interleaves, not a
    file listed out of order (many small steps back); '' otherwise."""
    s = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
    apart, backwards = stamp_steps(s)
    back = np.flatnonzero(backwards)
    forward = apart[~backwards & (apart > 0)]
    if back.size != 1:
        return ""
    i = int(back[0])
    jump = int(s[i]) - int(s[i + 1])  # Python ints: up to 2**64 - 1 ns
    far = not forward.size or jump > 10 * float(np.median(forward))
    if jump <= 1_000_000_000 or not (far or overlapping_reset(s) is not None):
        return ""
    return (f"; it goes back {jump * 1e-9:.3f} s, once (t={s[i] * 1e-9:.3f} -> "
            f"{s[i + 1] * 1e-9:.3f} s): a clock reset (a simulator restarted?) between two "
            "recordings, whose frames the sorting interleaves -- split the folder there (rgb.txt, "
            "depth.txt and groundtruth.txt) into one folder per recording")
