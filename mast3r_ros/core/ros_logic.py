"""Every decision the ROS node makes, as plain functions and small classes without ROS.

The rclpy node (`mast3r_ros.ros.node`) is a thin adapter over this module, so all of its behaviour
is tested here without a ROS install:

* time: ``builtin_interfaces/Time`` (sec, nanosec) <-> integer nanoseconds, image age, the stamp
  of re-broadcast TF (now + transform_tolerance, as AMCL future-dates map->odom);
* TF algebra: ``map_from_base = map_from_cam @ cam_from_base`` and
  ``map_from_odom = map_from_base @ inv(odom_from_base)`` (REP-105), or map->base_frame when there
  is no odometry frame; 4x4 <-> (translation, quaternion x y z w);
* covariance: the camera-pose covariance of `LocalizationResult` carried to the base frame, in the
  ROS ``PoseWithCovariance`` layout;
* `TrackingState`: uninitialized / tracking / lost, priors, /initialpose, time going backwards (a
  bag loop), the map->odom held for re-broadcast;
* `DiagnosticsWindow`: the /diagnostics summary (levels 0..3 as ints, values as strings);
* keyframe markers as plain data; parameter descriptors derived from `config.param_specs`;
* message fields -> `Frame` (through `image_codec`), with the image-vs-CameraInfo size check.

Covariance convention (the one `mast3r_ros.core.pnp` documents and ROS uses for
``geometry_msgs/PoseWithCovariance``): the pose ``(R, p)`` of a frame in the map is perturbed as
``p' = p + dp`` and ``R' = exp([dtheta]_x) R``, with ``dp`` in metres and ``dtheta`` a rotation
vector in radians about the fixed *map* axes; the 6x6 matrix is ordered
``(x, y, z, rot_x, rot_y, rot_z)`` and flattened row-major into the message's 36 floats.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import math
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from . import image_codec
from .config import Config, ParamSpec, config_from_params, param_specs, validate_param
from .errors import ConfigError, InputError
from .geometry import invert_pose, make_pose
from .types import CameraIntrinsics, Frame

NS_PER_S = 1_000_000_000

# --------------------------------------------------------------------------------------------
# Time


def stamp_to_ns(sec: int, nanosec: int) -> int:
    """``builtin_interfaces/Time`` fields -> integer nanoseconds."""
    return int(sec) * NS_PER_S + int(nanosec)


def ns_to_stamp(stamp_ns: int) -> Tuple[int, int]:
    """Integer nanoseconds -> (sec, nanosec) with 0 <= nanosec < 1e9, as ``Time`` requires."""
    stamp_ns = int(stamp_ns)
    if stamp_ns < 0:
        raise InputError(f"a ROS stamp cannot be negative, got {stamp_ns} ns")
    return stamp_ns // NS_PER_S, stamp_ns % NS_PER_S


def image_age_s(stamp_ns: int, now_ns: int) -> float:
    """How old an image is, in seconds (negative when its stamp is in the future)."""
    return (int(now_ns) - int(stamp_ns)) / NS_PER_S


def is_stale(stamp_ns: int, now_ns: int, max_age_s: float) -> bool:
    """True when an image is older than ``max_age_s`` (0 disables the gate).

    A node clock at 0 (``use_sim_time`` before ``/clock`` arrives) never makes an image stale.
    """
    if max_age_s <= 0.0 or now_ns <= 0:
        return False
    return image_age_s(stamp_ns, now_ns) > max_age_s


def tf_stamp_ns(now_ns: int, transform_tolerance_s: float) -> int:
    """Stamp of a broadcast map->odom: now + transform_tolerance (AMCL's future-dating)."""
    return int(now_ns) + int(round(transform_tolerance_s * NS_PER_S))


# --------------------------------------------------------------------------------------------
# Poses and TF algebra


def matrix_to_tq(pose: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """4x4 pose -> (translation (3,), quaternion (x, y, z, w) with w >= 0), float64."""
    pose = _check_pose(pose, "pose")
    q = Rotation.from_matrix(pose[:3, :3]).as_quat()
    if q[3] < 0:
        q = -q
    return pose[:3, 3].copy(), q


def tq_to_matrix(translation: Sequence[float], quat_xyzw: Sequence[float]) -> np.ndarray:
    """(translation (3,), quaternion x y z w) -> 4x4 float64; the quaternion is normalised.

    Raises InputError for a non-finite value or a zero quaternion (an unset message field).
    """
    t = np.asarray(translation, dtype=np.float64).reshape(3)
    q = np.asarray(quat_xyzw, dtype=np.float64).reshape(4)
    if not (np.isfinite(t).all() and np.isfinite(q).all()):
        raise InputError(f"pose has non-finite values: t={t.tolist()}, q={q.tolist()}")
    norm = float(np.linalg.norm(q))
    if norm < 1e-6:
        raise InputError("pose quaternion is all zeros (an unset orientation); "
                         "expected a unit quaternion such as w=1")
    return make_pose(Rotation.from_quat(q / norm).as_matrix(), t)


def _check_pose(pose: np.ndarray, name: str) -> np.ndarray:
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise InputError(f"{name} must be a finite 4x4 matrix, got shape {pose.shape}")
    return pose


def map_from_base(map_from_cam: np.ndarray, cam_from_base: np.ndarray) -> np.ndarray:
    """Pose of the robot base in the map from the camera's pose and the base->camera TF."""
    return _check_pose(map_from_cam, "map_from_cam") @ _check_pose(cam_from_base, "cam_from_base")


def map_from_odom(map_from_base_: np.ndarray, odom_from_base: np.ndarray) -> np.ndarray:
    """The map->odom correction: ``map_from_base @ inv(odom_from_base)`` at the image stamp."""
    return _check_pose(map_from_base_, "map_from_base") @ invert_pose(
        _check_pose(odom_from_base, "odom_from_base"))


def prior_from_base_pose(map_from_base_: np.ndarray, cam_from_base: np.ndarray) -> np.ndarray:
    """A base pose (e.g. /initialpose) -> the camera prior ``map_from_cam``."""
    return _check_pose(map_from_base_, "map_from_base") @ invert_pose(
        _check_pose(cam_from_base, "cam_from_base"))


@dataclasses.dataclass(frozen=True)
class TfToPublish:
    """One transform to broadcast: ``parent_from_child`` (4x4) from ``parent`` to ``child``."""

    parent: str
    child: str
    parent_from_child: np.ndarray


def localization_tf(map_from_base_: np.ndarray, odom_from_base: Optional[np.ndarray],
                    map_frame: str, odom_frame: str, base_frame: str) -> TfToPublish:
    """The transform the node broadcasts for a localized base pose.

    With an odometry frame: map->odom = map_from_base @ inv(odom_from_base), so that odom->base
    (owned by the odometry source) keeps flowing and map->base comes out right (REP-105). With
    ``odom_frame`` empty: map->base_frame directly.
    """
    if not odom_frame:
        return TfToPublish(map_frame, base_frame, _check_pose(map_from_base_, "map_from_base"))
    if odom_from_base is None:
        raise InputError(f"odom_frame is '{odom_frame}' but no {odom_frame}->{base_frame} "
                         "transform was given")
    return TfToPublish(map_frame, odom_frame, map_from_odom(map_from_base_, odom_from_base))


# --------------------------------------------------------------------------------------------
# Covariance


def skew(v: Sequence[float]) -> np.ndarray:
    """3x3 cross-product matrix: ``skew(a) @ b == cross(a, b)``."""
    x, y, z = np.asarray(v, dtype=np.float64).reshape(3)
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def covariance_cam_to_base(cov_cam: np.ndarray, map_from_cam: np.ndarray,
                           cam_from_base: np.ndarray) -> np.ndarray:
    """Covariance of the camera pose -> covariance of the base pose (module convention).

    With ``p_base = p_cam + R_cam @ t`` (``t`` = base origin in the camera frame) and
    ``R_base = R_cam @ R_cb``, a map-axes rotation error ``dtheta`` moves the base origin by
    ``dtheta x r`` with the lever arm ``r = p_base - p_cam`` (map frame); the rotation error itself
    is unchanged. So ``cov_base = J cov_cam J^T`` with ``J = [[I, -[r]_x], [0, I]]``. A pure
    rotation between camera and base leaves the covariance unchanged because it is expressed in
    map axes. Returns a symmetric 6x6 float64 matrix.
    """
    cov = np.asarray(cov_cam, dtype=np.float64)
    if cov.shape != (6, 6):
        raise InputError(f"covariance must be 6x6, got {cov.shape}")
    map_from_cam = _check_pose(map_from_cam, "map_from_cam")
    lever = map_from_cam[:3, :3] @ _check_pose(cam_from_base, "cam_from_base")[:3, 3]
    J = np.eye(6)
    J[:3, 3:] = -skew(lever)
    out = J @ cov @ J.T
    return 0.5 * (out + out.T)


def sanitize_covariance(cov: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Symmetric positive semi-definite copy: eigenvalues below ``floor`` are raised to it.

    Raises InputError for a non-finite or non-6x6 matrix.
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (6, 6) or not np.isfinite(cov).all():
        raise InputError(f"covariance must be a finite 6x6 matrix, got shape {cov.shape}")
    sym = 0.5 * (cov + cov.T)
    w, V = np.linalg.eigh(sym)
    if w.min() >= floor:
        return sym
    out = (V * np.maximum(w, floor)) @ V.T
    return 0.5 * (out + out.T)


def covariance_to_list(cov: np.ndarray) -> List[float]:
    """6x6 -> the 36 floats of ``PoseWithCovariance.covariance`` (row-major)."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (6, 6):
        raise InputError(f"covariance must be 6x6, got {cov.shape}")
    return [float(v) for v in cov.reshape(36)]


def covariance_from_list(values: Sequence[float]) -> np.ndarray:
    """The 36 floats of ``PoseWithCovariance.covariance`` -> 6x6 float64."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != 36:
        raise InputError(f"a pose covariance has 36 values, got {arr.size}")
    return arr.reshape(6, 6).copy()


# Used when a successful result carries no covariance: 10 cm and 5 degrees, 1 sigma.
DEFAULT_COVARIANCE = np.diag([0.1 ** 2] * 3 + [math.radians(5.0) ** 2] * 3)


def base_pose_covariance(cov_cam: Optional[np.ndarray], map_from_cam: np.ndarray,
                         cam_from_base: np.ndarray) -> np.ndarray:
    """The covariance the node publishes for the base pose (PSD, symmetric, 6x6).

    A missing or non-finite camera covariance falls back to `DEFAULT_COVARIANCE`.
    """
    if cov_cam is None or not np.isfinite(np.asarray(cov_cam, dtype=np.float64)).all():
        cov_cam = DEFAULT_COVARIANCE
    return sanitize_covariance(covariance_cam_to_base(cov_cam, map_from_cam, cam_from_base))


# --------------------------------------------------------------------------------------------
# Tracking state


class Track(enum.Enum):
    UNINITIALIZED = "uninitialized"
    TRACKING = "tracking"
    LOST = "lost"


class StampCheck(enum.Enum):
    OK = "ok"
    DUPLICATE = "duplicate"    # same stamp as the last image: drop it
    BACKWARDS = "backwards"    # time went backwards (bag loop, clock reset): state was reset


class TrackingState:
    """What the node remembers between frames. Not thread-safe: the node holds a lock.

    * ``UNINITIALIZED`` until the first successful localization (and again after a reset or a new
      /initialpose); nothing is broadcast.
    * ``TRACKING`` after a success: the next frame's prior is the last map->odom carried forward
      by odometry (``map_from_odom @ odom_from_base(t) @ base_from_cam``).
    * ``LOST`` after ``lost_after_failures`` consecutive failures: global retrieval (no prior),
      while the last good map->odom keeps being re-broadcast so Nav2 keeps a TF tree.

    With no odometry frame, pass ``odom_from_base`` = identity: "odom" is then the base itself.
    """

    def __init__(self, lost_after_failures: int = 3) -> None:
        if lost_after_failures < 1:
            raise ValueError("lost_after_failures must be >= 1")
        self.lost_after_failures = int(lost_after_failures)
        self.epoch = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything (time jump, bag loop, configure).

        ``epoch`` counts resets: a result computed before one (inference runs unlocked) is stale.
        """
        self.epoch += 1
        self.track = Track.UNINITIALIZED
        self.last_stamp_ns: Optional[int] = None
        self.held_map_from_odom: Optional[np.ndarray] = None
        self.prior_map_from_odom: Optional[np.ndarray] = None
        self.prior_source = ""                  # "result" or "initialpose"
        self.consecutive_failures = 0
        self.last_tf_stamp_ns: Optional[int] = None
        self.global_requested = False
        self.last_failure_reason = ""

    # --- time ------------------------------------------------------------------------------
    def check_stamp(self, stamp_ns: int) -> StampCheck:
        """Classify the stamp of a new image; on BACKWARDS the state has been reset."""
        stamp_ns = int(stamp_ns)
        last = self.last_stamp_ns
        if last is not None and stamp_ns < last:
            self.reset()
            self.last_stamp_ns = stamp_ns
            return StampCheck.BACKWARDS
        if last is not None and stamp_ns == last:
            return StampCheck.DUPLICATE
        self.last_stamp_ns = stamp_ns
        return StampCheck.OK

    def clock_jumped_back(self, now_ns: int, tolerance_s: float,
                          threshold_s: float = 1.0) -> bool:
        """True (and the state reset) when the node clock fell well behind the last TF stamp.

        A bag restarted with ``--clock`` (or a sim reset) moves ``now`` back by more than
        ``threshold_s``; the held map->odom belongs to the old timeline and is dropped.
        """
        if self.last_tf_stamp_ns is None or now_ns <= 0:
            return False
        behind = self.last_tf_stamp_ns - tf_stamp_ns(now_ns, tolerance_s)
        if behind > int(threshold_s * NS_PER_S):
            self.reset()
            return True
        return False

    # --- priors ----------------------------------------------------------------------------
    def prior_map_from_cam(self, odom_from_base: np.ndarray, cam_from_base: np.ndarray,
                           has_odometry: bool = True) -> Optional[np.ndarray]:
        """The pose prior for the next frame, or None (global retrieval, or the localizer's own
        tracking).

        Without odometry the last result says nothing new about this frame, and as a prior it
        would also gate this frame's pose against a possibly wrong last one; only an
        /initialpose is passed on then.
        """
        if self.global_requested or self.prior_map_from_odom is None:
            return None
        if self.track is Track.LOST:
            return None
        if not has_odometry and self.prior_source != "initialpose":
            return None
        return self.prior_map_from_odom @ _check_pose(odom_from_base, "odom_from_base") @ \
            invert_pose(_check_pose(cam_from_base, "cam_from_base"))

    def request_global(self) -> None:
        """~/relocalize: the next frame ignores the prior and retrieves keyframes globally."""
        self.global_requested = True

    def take_global_request(self) -> bool:
        """True once after `request_global` (the frame that consumes it)."""
        requested, self.global_requested = self.global_requested, False
        return requested

    def set_initial_pose(self, map_from_base_: np.ndarray, odom_from_base: np.ndarray) -> None:
        """/initialpose: reset and use this base pose (carried by odometry) as the next prior.

        The held map->odom is dropped: the operator says it is wrong, and nothing is broadcast
        until a frame localizes against the map.
        """
        last_stamp = self.last_stamp_ns
        self.reset()
        self.last_stamp_ns = last_stamp
        self.prior_map_from_odom = map_from_odom(map_from_base_, odom_from_base)
        self.prior_source = "initialpose"

    # --- results ---------------------------------------------------------------------------
    def on_success(self, map_from_odom_: np.ndarray) -> None:
        self.track = Track.TRACKING
        self.held_map_from_odom = _check_pose(map_from_odom_, "map_from_odom").copy()
        self.prior_map_from_odom = self.held_map_from_odom
        self.prior_source = "result"
        self.consecutive_failures = 0

    def on_failure(self, reason: str) -> None:
        """A frame failed. Tracking becomes LOST after ``lost_after_failures`` in a row; an
        /initialpose prior that keeps failing is dropped the same way (global retrieval)."""
        self.consecutive_failures += 1
        self.last_failure_reason = reason
        if self.consecutive_failures < self.lost_after_failures:
            return
        if self.track is Track.TRACKING:
            self.track = Track.LOST
        elif self.track is Track.UNINITIALIZED:
            self.prior_map_from_odom = None

    # --- TF re-broadcast --------------------------------------------------------------------
    def next_tf_stamp_ns(self, now_ns: int, tolerance_s: float, fresh: bool) -> Optional[int]:
        """Stamp for broadcasting the held map->odom, or None when nothing should be sent.

        Stamps are now + tolerance and strictly increase (tf2 warns about repeated stamps and
        interpolates wrongly between out-of-order ones). A timer tick whose stamp would not be
        newer than the last is skipped (a paused sim clock); a fresh result then goes 1 ns after.
        """
        if self.held_map_from_odom is None:
            return None
        stamp = tf_stamp_ns(now_ns, tolerance_s)
        last = self.last_tf_stamp_ns
        if last is not None and stamp <= last:
            if not fresh:
                return None
            stamp = last + 1
        self.last_tf_stamp_ns = stamp
        return stamp


# --------------------------------------------------------------------------------------------
# Diagnostics

OK, WARN, ERROR, STALE = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class FrameRecord:
    """One processed (or dropped) image, for diagnostics.

    ``t_s`` monotonic wall seconds when handling ended; ``latency_s`` image stamp -> result (node
    clock); ``processing_s`` time spent in the localizer; ``error`` when an exception was caught.
    """

    t_s: float
    success: bool
    num_inliers: int = 0
    latency_s: float = float("nan")
    processing_s: float = float("nan")
    reason: str = ""
    error: bool = False
    dropped: bool = False
    timings_s: Tuple[Tuple[str, float], ...] = ()


@dataclasses.dataclass(frozen=True)
class DiagnosticsSummary:
    level: int
    message: str
    values: List[Tuple[str, str]]


def _fmt(v: float, digits: int = 3) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.{digits}f}"


def _stage_medians(recs: Sequence[FrameRecord]) -> List[Tuple[str, str]]:
    """Median time of each localizer stage over ``recs``, as ('time_<stage>_ms', value)."""
    stages: Dict[str, List[float]] = {}
    for r in recs:
        for name, seconds in r.timings_s:
            stages.setdefault(name, []).append(float(seconds))
    return [(f"time_{k}_ms", _fmt(1000.0 * float(np.median(v)), 1)) for k, v in stages.items()]


class DiagnosticsWindow:
    """Recent `FrameRecord`s -> a /diagnostics summary. Not thread-safe (the node locks)."""

    def __init__(self, window_s: float = 10.0, no_image_warn_s: float = 5.0) -> None:
        self.window_s = float(window_s)
        self.no_image_warn_s = float(no_image_warn_s)
        self.records: Deque[FrameRecord] = collections.deque()
        self.last_failure = ""
        self.last_error = ""
        self.last_error_t_s = -math.inf
        self.last_t_s: Optional[float] = None
        self.started_t_s: Optional[float] = None
        self.total = {"processed": 0, "localized": 0, "dropped": 0, "errors": 0}

    def start(self, t_s: float) -> None:
        """Mark activation: the no-image timer counts from here."""
        self.started_t_s = t_s

    def add(self, rec: FrameRecord) -> None:
        self.records.append(rec)
        self.last_t_s = rec.t_s
        if rec.dropped:
            self.total["dropped"] += 1
        else:
            self.total["processed"] += 1
            self.total["localized"] += int(rec.success)
        if not rec.success and rec.reason:
            self.last_failure = rec.reason
        if rec.error:
            self.total["errors"] += 1
            self.last_error = rec.reason
            self.last_error_t_s = rec.t_s
        self._trim(rec.t_s)

    def _trim(self, now_s: float) -> None:
        while self.records and self.records[0].t_s < now_s - self.window_s:
            self.records.popleft()

    def summary(self, now_s: float, track: Track, active: bool) -> DiagnosticsSummary:
        """Level, one-line message and key/values (all strings) for /diagnostics."""
        self._trim(now_s)
        recs = [r for r in self.records if not r.dropped]
        ok = [r for r in recs if r.success]
        started = now_s if self.started_t_s is None else self.started_t_s
        span = max(min(self.window_s, now_s - started), 1e-9)
        rate = len(recs) / span if recs else 0.0
        lat = [r.latency_s for r in recs if math.isfinite(r.latency_s)]
        proc = [r.processing_s for r in recs if math.isfinite(r.processing_s)]
        values = [
            ("state", track.value if active else "inactive"),
            ("rate_hz", _fmt(rate, 2)),
            ("success_rate", _fmt(len(ok) / len(recs), 2) if recs else "nan"),
            ("inliers", str(ok[-1].num_inliers) if ok else "0"),
            ("latency_s", _fmt(float(np.median(lat))) if lat else "nan"),
            ("processing_s", _fmt(float(np.median(proc))) if proc else "nan"),
            ("dropped_in_window", str(sum(r.dropped for r in self.records))),
            ("frames_processed", str(self.total["processed"])),
            ("frames_localized", str(self.total["localized"])),
            ("errors", str(self.total["errors"])),
            ("last_failure", self.last_failure or "none"),
        ]
        values += _stage_medians(recs)
        level, message = self._level(now_s, track, active, recs)
        return DiagnosticsSummary(level, message, values)

    def _level(self, now_s: float, track: Track, active: bool,
               recs: List[FrameRecord]) -> Tuple[int, str]:
        if not active:
            return STALE, "not active (configure and activate the lifecycle node)"
        if now_s - self.last_error_t_s <= self.window_s:
            return ERROR, f"inference error: {self.last_error}"
        marks = [t for t in (self.last_t_s, self.started_t_s) if t is not None]
        since = max(marks) if marks else None
        if since is not None and now_s - since > self.no_image_warn_s:
            return WARN, f"no images for {now_s - since:.1f} s: check the image topic and QoS"
        if track is Track.UNINITIALIZED:
            why = f" (last failure: {self.last_failure})" if self.last_failure else ""
            return WARN, f"not localized yet{why}"
        if track is Track.LOST:
            return WARN, f"lost, relocalizing globally (last failure: {self.last_failure})"
        if recs and not recs[-1].success:
            return WARN, f"tracking, last frame failed: {recs[-1].reason}"
        return OK, "tracking"


# --------------------------------------------------------------------------------------------
# Keyframe markers (rviz)


@dataclasses.dataclass(frozen=True)
class MarkerSpec:
    """A visualization_msgs/Marker as plain data. ``kind`` is 'arrow' or 'text'."""

    ns: str
    id: int
    kind: str
    position: Tuple[float, float, float]
    orientation_xyzw: Tuple[float, float, float, float]
    scale: Tuple[float, float, float]
    color_rgba: Tuple[float, float, float, float]
    text: str = ""


def keyframe_list(poses: Any, ids: Optional[Sequence[Any]] = None
                  ) -> List[Tuple[str, np.ndarray]]:
    """Keyframe poses as ``[(id, map_from_cam)]`` from a (K, 4, 4) array or (id, pose) pairs.

    ``ids`` (K,) names the rows of an array; without it they are numbered from 0.
    """
    if isinstance(poses, np.ndarray):
        if poses.size == 0:
            return []
        if poses.ndim != 3 or poses.shape[1:] != (4, 4):
            raise InputError(f"keyframe poses must be (K, 4, 4), got {poses.shape}")
        names = [str(i) for i in (ids if ids is not None else range(len(poses)))]
        if len(names) != len(poses):
            raise InputError(f"{len(names)} keyframe ids for {len(poses)} poses")
        return list(zip(names, (np.asarray(p, dtype=np.float64) for p in poses)))
    return [(str(k), np.asarray(p, dtype=np.float64)) for k, p in poses]


# The arrow marker points along its +x axis; a camera looks along its optical +z.
_X_TO_Z = Rotation.from_rotvec([0.0, -math.pi / 2, 0.0])


def keyframe_marker_specs(keyframes: Sequence[Tuple[str, np.ndarray]],
                          arrow_length_m: float = 0.3) -> List[MarkerSpec]:
    """One arrow (viewing direction) and one id label per keyframe ``(id, map_from_cam)``."""
    specs: List[MarkerSpec] = []
    for i, (kf_id, pose) in enumerate(keyframes):
        pose = _check_pose(pose, f"keyframe {kf_id} pose")
        rot = Rotation.from_matrix(pose[:3, :3]) * _X_TO_Z
        q = rot.as_quat()
        pos = tuple(float(v) for v in pose[:3, 3])
        specs.append(MarkerSpec("keyframes", i, "arrow", pos, tuple(float(v) for v in q),
                                (arrow_length_m, 0.04, 0.04), (0.1, 0.6, 1.0, 0.9)))
        label_pos = (pos[0], pos[1], pos[2] + 0.1)
        specs.append(MarkerSpec("keyframe_ids", i, "text", label_pos, (0.0, 0.0, 0.0, 1.0),
                                (0.0, 0.0, 0.08), (1.0, 1.0, 1.0, 0.9), str(kf_id)))
    return specs


def most_matched_keyframe(matches: Any) -> Optional[int]:
    """Manifest id of the keyframe with the most matches in ``last_matches`` (None if none)."""
    ids = getattr(matches, "keyframe_ids", None)
    if ids is None or len(ids) == 0:
        return None
    values, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
    return int(values[np.argmax(counts)])


def debug_image(query_rgb: np.ndarray, matches: Any, keyframe_rgb: Optional[np.ndarray] = None,
                keyframe_id: Optional[int] = None) -> np.ndarray:
    """The ~/matches picture: the query image with its matched pixels, inliers green, outliers red.

    ``matches`` has ``query_xy`` (N, 2) pixels and ``inliers`` (N,) bool (the localizer's
    ``last_matches``), or is None (no matches: the plain image with a note). With
    ``keyframe_rgb`` (the image of ``keyframe_id``) the keyframe is drawn to the right, scaled to
    the query's height, with a line for every match of that keyframe. Returns a new uint8 RGB
    image.
    """
    if keyframe_rgb is not None and matches is not None and keyframe_id is not None:
        return _debug_side_by_side(query_rgb, matches, keyframe_rgb, keyframe_id)
    out = np.ascontiguousarray(query_rgb, dtype=np.uint8).copy()
    if matches is None:
        cv2.putText(out, "no matches", (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
        return out
    xy = np.asarray(matches.query_xy, dtype=np.float64).reshape(-1, 2)
    inl = np.asarray(matches.inliers, dtype=bool).reshape(-1)
    if len(inl) != len(xy):
        inl = np.zeros(len(xy), dtype=bool)
    radius = max(2, int(round(min(out.shape[:2]) / 160)))
    for (x, y), good in zip(np.round(xy).astype(int), inl):
        cv2.circle(out, (int(x), int(y)), radius, (0, 255, 0) if good else (255, 0, 0), -1)
    text = f"{int(inl.sum())} inliers / {len(xy)} matches"
    cv2.putText(out, text, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
    return out


def _debug_side_by_side(query_rgb: np.ndarray, matches: Any, keyframe_rgb: np.ndarray,
                        keyframe_id: int) -> np.ndarray:
    h = query_rgb.shape[0]
    s = h / keyframe_rgb.shape[0]
    kf = cv2.resize(np.ascontiguousarray(keyframe_rgb, dtype=np.uint8),
                    (max(1, int(round(keyframe_rgb.shape[1] * s))), h))
    w = query_rgb.shape[1]
    out = np.ascontiguousarray(np.concatenate([query_rgb, kf], axis=1), dtype=np.uint8)
    sel = np.asarray(matches.keyframe_ids).reshape(-1) == keyframe_id
    q = np.asarray(matches.query_xy, np.float64).reshape(-1, 2)[sel]
    k = np.asarray(matches.keyframe_xy, np.float64).reshape(-1, 2)[sel] * s + [w, 0]
    inl = np.asarray(matches.inliers, bool).reshape(-1)[sel]
    step = max(1, len(q) // 300)  # a readable picture: at most ~300 lines
    for (x1, y1), (x2, y2), good in zip(q[::step], k[::step], inl[::step]):
        cv2.line(out, (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2))),
                 (0, 255, 0) if good else (255, 0, 0), 1, cv2.LINE_AA)
    text = f"{int(inl.sum())} inliers / {len(q)} matches with keyframe {keyframe_id}"
    cv2.putText(out, text, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
    return out


# --------------------------------------------------------------------------------------------
# Parameters

_ROS_TYPE = {bool: "bool", int: "integer", float: "double", str: "string"}


@dataclasses.dataclass(frozen=True)
class ParamDescriptorData:
    """What the node puts in ``rcl_interfaces/ParameterDescriptor`` for one parameter.

    ``type`` is 'bool', 'integer', 'double' or 'string'; ``lo``/``hi`` are set for ranged numbers
    (int for integers, float for doubles); ``choices_text`` goes to ``additional_constraints``.
    """

    name: str
    type: str
    default: Any
    description: str
    lo: Optional[float]
    hi: Optional[float]
    choices_text: str
    read_only: bool


def parameter_descriptor_data(spec: ParamSpec) -> ParamDescriptorData:
    """Descriptor data for a `ParamSpec` (no second list of parameters exists anywhere).

    Parameters are not read-only: a new value is checked when set and applied at the next
    configure (as the node's description of each says).
    """
    ros_type = _ROS_TYPE[spec.type]
    lo = hi = None
    if spec.lo is not None and spec.hi is not None:
        cast = int if spec.type is int else float
        lo, hi = cast(spec.lo), cast(spec.hi)
    choices = ""
    if spec.choices:
        choices = "one of: " + ", ".join(str(c) for c in spec.choices)
    description = spec.description
    if choices:
        description = f"{description} ({choices})"
    return ParamDescriptorData(spec.name, ros_type, spec.default, description, lo, hi, choices,
                               False)


def all_parameter_descriptors() -> List[ParamDescriptorData]:
    return [parameter_descriptor_data(s) for s in param_specs()]


def validate_node_config(cfg: Config) -> Config:
    """Checks only the node needs (the offline CLI has no frames or map_path parameter)."""
    node = cfg.node
    if not node.map_path:
        raise ConfigError("parameter 'map_path' is empty: pass the map folder written by "
                          "`mast3r-ros build-map` (launch argument map:=/path/to/map)")
    for name in ("map_frame", "base_frame", "odom_frame"):
        value = getattr(node, name)
        if value.startswith("/"):
            raise ConfigError(f"parameter '{name}' must not start with '/' (tf2 rejects it), "
                              f"got {value!r}")
        if name != "odom_frame" and not value:
            raise ConfigError(f"parameter '{name}' must not be empty")
    frames = [node.map_frame, node.base_frame] + ([node.odom_frame] if node.odom_frame else [])
    if len(set(frames)) != len(frames):
        raise ConfigError(f"parameters map_frame, odom_frame and base_frame must differ, got "
                          f"{node.map_frame!r}, {node.odom_frame!r}, {node.base_frame!r}")
    return cfg


def params_to_config(values: Mapping[str, Any], where: str = "ROS parameters") -> Config:
    """The node's parameter values ``{name: value}`` -> a validated `Config`.

    Names outside `param_specs` (``use_sim_time``, ``diagnostic_updater.*``) are ignored.
    Raises ConfigError naming the offending parameter.
    """
    names = {s.name for s in param_specs()}
    cfg = config_from_params({k: v for k, v in values.items() if k in names}, where=where)
    return validate_node_config(cfg)


def check_parameter_update(name: str, value: Any) -> Tuple[bool, str]:
    """Runtime ``ros2 param set`` check -> (accepted, reason); names not ours are accepted."""
    if name not in {s.name for s in param_specs()}:
        return True, ""
    try:
        validate_param(name, value, where="parameter update")
    except ConfigError as err:
        return False, str(err)
    return True, ""


# --------------------------------------------------------------------------------------------
# Messages -> Frame (fields only; works with rclpy messages and plain namespaces alike)


def _check_size(width: int, height: int, intrinsics: Optional[CameraIntrinsics],
                what: str) -> None:
    if intrinsics is not None and (intrinsics.width, intrinsics.height) != (width, height):
        raise InputError(
            f"{what} is {width}x{height} but the latest CameraInfo is "
            f"{intrinsics.width}x{intrinsics.height}: the image and camera_info topics belong "
            "to different streams or resolutions (check the remappings)")


def frame_from_image_fields(encoding: str, height: int, width: int, step: int, data: Any,
                            is_bigendian: bool, stamp_ns: int, frame_id: str,
                            intrinsics: Optional[CameraIntrinsics]) -> Frame:
    """``sensor_msgs/Image`` fields -> `Frame` (RGB uint8). Raises InputError on bad input."""
    _check_size(int(width), int(height), intrinsics, f"image ({encoding})")
    array = image_codec.decode_image(encoding, int(height), int(width), int(step), data,
                                     bool(is_bigendian))
    rgb = image_codec.to_rgb8(array, encoding)
    return Frame(rgb=rgb, intrinsics=intrinsics, stamp_ns=int(stamp_ns), frame_id=frame_id)


def frame_from_compressed_fields(fmt: str, data: Any, stamp_ns: int, frame_id: str,
                                 intrinsics: Optional[CameraIntrinsics]) -> Frame:
    """``sensor_msgs/CompressedImage`` fields -> `Frame`. Raises InputError on bad input."""
    array, encoding = image_codec.decode_compressed(fmt, data)
    height, width = array.shape[:2]
    _check_size(width, height, intrinsics, f"compressed image ({fmt})")
    rgb = image_codec.to_rgb8(array, encoding)
    return Frame(rgb=rgb, intrinsics=intrinsics, stamp_ns=int(stamp_ns), frame_id=frame_id)


def header_stamp_ns(msg: Any) -> int:
    """``msg.header.stamp`` -> nanoseconds."""
    return stamp_to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)


def intrinsics_from_camera_info_msg(info: Any) -> CameraIntrinsics:
    """``sensor_msgs/CameraInfo`` (or anything with its fields) -> `CameraIntrinsics`."""
    return image_codec.intrinsics_from_camera_info(int(info.width), int(info.height), info.k,
                                                   info.d, info.distortion_model)


def frame_from_image_msg(msg: Any, intrinsics: Optional[CameraIntrinsics]) -> Frame:
    """``sensor_msgs/Image`` -> `Frame`, stamped with the header stamp and frame id."""
    return frame_from_image_fields(msg.encoding, msg.height, msg.width, msg.step, msg.data,
                                   bool(msg.is_bigendian), header_stamp_ns(msg),
                                   msg.header.frame_id, intrinsics)


def frame_from_compressed_msg(msg: Any, intrinsics: Optional[CameraIntrinsics]) -> Frame:
    """``sensor_msgs/CompressedImage`` -> `Frame`."""
    return frame_from_compressed_fields(msg.format, msg.data, header_stamp_ns(msg),
                                        msg.header.frame_id, intrinsics)


def pose_fields_to_matrix(pose: Any) -> np.ndarray:
    """``geometry_msgs/Pose`` (position, orientation) -> 4x4."""
    p, o = pose.position, pose.orientation
    return tq_to_matrix((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))


def transform_fields_to_matrix(transform: Any) -> np.ndarray:
    """``geometry_msgs/Transform`` (translation, rotation) -> 4x4."""
    t, r = transform.translation, transform.rotation
    return tq_to_matrix((t.x, t.y, t.z), (r.x, r.y, r.z, r.w))


def initial_pose_to_map_from_base(msg: Any, map_frame: str) -> np.ndarray:
    """/initialpose (PoseWithCovarianceStamped) -> map_from_base; it must be in ``map_frame``."""
    frame = msg.header.frame_id.lstrip("/")
    if frame != map_frame:
        raise InputError(f"/initialpose is in frame '{msg.header.frame_id}' but poses are set in "
                         f"'{map_frame}' (set rviz's fixed frame to {map_frame})")
    return pose_fields_to_matrix(msg.pose.pose)
