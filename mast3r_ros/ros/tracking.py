"""What the node remembers between frames, and its time gates (no rclpy).

* time gates: image age, stale images, the stamp of re-broadcast TF (now + transform_tolerance,
  as AMCL future-dates map->odom);
* `TrackingState`: the shared `mast3r_ros.core.tracker.Tracker` (lost after N failures, time
  going backwards) plus what only the node has: the map->odom prior carried by odometry,
  /initialpose, ~/relocalize requests, the map->odom TF held for re-broadcast and its stamps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import finite_pose, invert_pose
from mast3r_ros.core.message_fields import NS_PER_S, pose_to_matrix
from mast3r_ros.core.tracker import StampCheck, Track, Tracker
from mast3r_ros.core.types import LocalizationResult

from .frames import TfToPublish, map_from_odom

# --------------------------------------------------------------------------------------------
# Time gates


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


def initial_pose_to_map_from_base(msg: Any, map_frame: str) -> np.ndarray:
    """/initialpose (PoseWithCovarianceStamped) -> map_from_base; it must be in ``map_frame``.

    Raises InputError for another frame or an unset orientation.
    """
    frame = msg.header.frame_id.lstrip("/")
    if frame != map_frame:
        raise InputError(f"/initialpose is in frame '{msg.header.frame_id}' but poses are set in "
                         f"'{map_frame}' (set rviz's fixed frame to {map_frame})")
    return pose_to_matrix(msg.pose.pose)


# --------------------------------------------------------------------------------------------
# Tracking state


class TrackingState:
    """The node's state between frames. Not thread-safe: the node holds a lock.

    * ``UNINITIALIZED`` until the first successful localization (and again after a reset or a new
      /initialpose); nothing is broadcast.
    * ``TRACKING`` after a success: the next frame's prior is the last map->odom carried forward
      by odometry (``map_from_odom @ odom_from_base(t) @ base_from_cam``); `hint` is the last
      camera pose (candidate selection only).
    * ``LOST`` after ``lost_after_failures`` consecutive failures: global retrieval (no prior,
      no hint), while the last good map->odom keeps being re-broadcast so Nav2 keeps a TF tree.

    With no odometry frame, pass ``odom_from_base`` = identity: "odom" is then the base itself.
    Raises ConfigError for ``lost_after_failures`` < 1.
    """

    def __init__(self, lost_after_failures: int = 3) -> None:
        self.tracker = Tracker(lost_after_failures)
        self.epoch = 0
        self._forget()

    # --- the shared tracker ----------------------------------------------------------------
    @property
    def track(self) -> Track:
        return self.tracker.track

    @property
    def last_stamp_ns(self) -> int | None:
        return self.tracker.last_stamp_ns

    @property
    def consecutive_failures(self) -> int:
        return self.tracker.consecutive_failures

    @property
    def last_failure_reason(self) -> str:
        return self.tracker.last_failure_reason

    def reset(self) -> None:
        """Forget everything (time jump, bag loop, configure).

        ``epoch`` counts resets: a result computed before one (inference runs unlocked) is stale.
        """
        self.tracker.reset()
        self._forget()

    def _forget(self) -> None:
        """Reset what only the node keeps (the tracker is reset by its caller)."""
        self.epoch += 1
        self.held_tf: TfToPublish | None = None
        self.prior_map_from_odom: np.ndarray | None = None
        self.prior_source = ""                  # "result" or "initialpose"
        self.last_tf_stamp_ns: int | None = None
        self.global_requested = False

    # --- time ------------------------------------------------------------------------------
    def check_stamp(self, stamp_ns: int) -> StampCheck:
        """Classify the stamp of a new image; on BACKWARDS the state has been reset."""
        check = self.tracker.check_stamp(stamp_ns)
        if check is StampCheck.BACKWARDS:
            self._forget()
        return check

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
                           has_odometry: bool = True) -> np.ndarray | None:
        """The pose prior for the next frame, or None (global retrieval, or the hint alone).

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
        return self.prior_map_from_odom @ finite_pose(odom_from_base, "odom_from_base") @ \
            invert_pose(finite_pose(cam_from_base, "cam_from_base"))

    def hint(self) -> np.ndarray | None:
        """The last successful ``map_from_cam`` while tracking (candidate selection), else None.

        None too while ~/relocalize is pending: that frame retrieves keyframes globally.
        """
        if self.global_requested:
            return None
        return self.tracker.hint()

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
        self.tracker.last_stamp_ns = last_stamp
        self.prior_map_from_odom = map_from_odom(map_from_base_, odom_from_base)
        self.prior_source = "initialpose"

    # --- results ---------------------------------------------------------------------------
    def on_success(self, result: LocalizationResult, tf: TfToPublish) -> None:
        """A frame localized; ``tf`` (map->odom, or map->base) is held for re-broadcast."""
        self.tracker.update(result)
        held = finite_pose(tf.parent_from_child, "parent_from_child").copy()
        self.held_tf = TfToPublish(tf.parent, tf.child, held)
        self.prior_map_from_odom = held
        self.prior_source = "result"

    def on_failure(self, result: LocalizationResult) -> None:
        """A frame failed. Tracking becomes LOST after ``lost_after_failures`` in a row; an
        /initialpose prior that keeps failing is dropped the same way (global retrieval)."""
        self.tracker.update(result)
        if (self.track is Track.UNINITIALIZED
                and self.consecutive_failures >= self.tracker.lost_after_failures):
            self.prior_map_from_odom = None

    # --- TF re-broadcast --------------------------------------------------------------------
    def next_tf_stamp_ns(self, now_ns: int, tolerance_s: float, fresh: bool) -> int | None:
        """Stamp for broadcasting the held TF, or None when nothing should be sent.

        Stamps are now + tolerance and strictly increase (tf2 warns about repeated stamps and
        interpolates wrongly between out-of-order ones). A timer tick whose stamp would not be
        newer than the last is skipped (a paused sim clock); a fresh result then goes 1 ns after.
        """
        if self.held_tf is None:
            return None
        stamp = tf_stamp_ns(now_ns, tolerance_s)
        last = self.last_tf_stamp_ns
        if last is not None and stamp <= last:
            if not fresh:
                return None
            stamp = last + 1
        self.last_tf_stamp_ns = stamp
        return stamp

    def rebroadcast(self, now_ns: int, tolerance_s: float
                    ) -> tuple[bool, tuple[TfToPublish, int] | None]:
        """One TF-timer tick -> (the clock jumped back and the state was reset, the held TF and
        its stamp to send, or None). See `clock_jumped_back` and `next_tf_stamp_ns`."""
        jumped = self.clock_jumped_back(now_ns, tolerance_s)
        stamp = self.next_tf_stamp_ns(now_ns, tolerance_s, fresh=False)
        if stamp is None or self.held_tf is None:
            return jumped, None
        return jumped, (self.held_tf, stamp)
