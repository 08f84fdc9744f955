"""What the node remembers between frames, and its time gates (no rclpy).

* time gates: image age, stale images, the stamp of re-broadcast TF (now + transform_tolerance,
  as AMCL future-dates map->odom);
* `TrackingState`: the shared `mast3r_ros.core.tracker.Tracker` (lost after N failures, time
  going backwards) plus what only the node has: the map->odom prior carried by odometry,
  /initialpose, ~/relocalize requests, the map->odom TF held for re-broadcast and its stamps,
  the odometry gate's anchor (the last published pose) and a relocalized pose awaiting
  confirmation;
* `localize_frame`: the per-frame decision the node runs (plan -> localize -> judge -> settle),
  rclpy-free so that a simulation drives exactly what the node does.

Publishing rules (docs/ros_node.md, "Outages and the odometry gate"):

1. While odometry vouches for the last published pose (`odometry_gate.vouches`), the next frame
   is localized with that pose carried by odometry as its prior, and its pose is published only
   within `odometry_gate.tolerance` of it. A pose that jumps further is refused with a reason
   and the frame retried at once with global retrieval, under the same gate.
   Frames refused before the localizer (undecodable, wrong encoding, no TF) count as failures
   and age the gate through the elapsed time; they never move the anchor.
2. A pose found by global retrieval while not tracking (start-up, lost, ~/relocalize, or odometry
   no longer vouching after a long outage), or one jumping over ``confirm_jump_m`` /
   ``confirm_jump_deg`` while nothing vouches for the jump (no odometry or its gate off, while
   tracking), is published only once ``confirm_frames``
   consecutive frames agree under odometry (and, while odometry still vouches, with the gate).
   The agreement tolerance grows with the time between the two frames only up to what
   odometry vouches for (`odometry_gate.capped`): after a camera stall a pose far from the
   candidate starts the count over, while a slow camera (frames seconds apart) still confirms.
3. /initialpose: the operator's pose is the prior; the first pose localized around it is
   published at once (as AMCL trusts its initial pose). ~/relocalize: odometry no longer
   vouches; the next frame retrieves globally and rule 2 applies.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any, Optional, Tuple

import numpy as np

from mast3r_ros.core.config import TrackingConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import finite_pose, invert_pose
from mast3r_ros.core.message_fields import NS_PER_S, pose_to_matrix
from mast3r_ros.core.tracker import StampCheck, Track, Tracker, hint_fresh
from mast3r_ros.core.types import LocalizationResult

from . import odometry_gate as og
from .frames import TfToPublish, map_from_odom

# --------------------------------------------------------------------------------------------
# Time gates


def image_age_s(stamp_ns: int, now_ns: int) -> float:
    """How old an image is, in seconds (negative when its stamp is in the future); NaN while
    the node clock reads 0 or less (``use_sim_time`` before ``/clock`` arrives): no age."""
    if now_ns <= 0:
        return float("nan")
    return (int(now_ns) - int(stamp_ns)) / NS_PER_S


def is_stale(stamp_ns: int, now_ns: int, max_age_s: float) -> bool:
    """True when an image is older than ``max_age_s`` (0 disables the gate).

    A node clock at 0 (``use_sim_time`` before ``/clock`` arrives) never makes an image stale.
    """
    if max_age_s <= 0.0 or now_ns <= 0:
        return False
    return image_age_s(stamp_ns, now_ns) > max_age_s


def tf_stamp_ns(now_ns: int, transform_tolerance_s: float) -> int:
    """Stamp of a broadcast map->odom: now + transform_tolerance. Future-dated by the tolerance
    as AMCL's is, but from the clock's now (as slam_toolbox stamps its map->odom), not from the
    image's stamp (AMCL dates from the scan's): the re-broadcast between fixes carries it."""
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


@dataclasses.dataclass(frozen=True)
class Anchor:
    """The last published pose's odometry (``odom_from_base``, 4x4) and image stamp (ns)."""

    odom_from_base: np.ndarray
    stamp_ns: int


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A pose found by global retrieval, awaiting confirmation by later frames."""

    map_from_base: np.ndarray
    odom_from_base: np.ndarray
    stamp_ns: int
    count: int


@dataclasses.dataclass(frozen=True)
class FramePlan:
    """How one frame is localized and judged (`TrackingState.plan`).

    ``prior``/``hint`` (map_from_cam) and ``force_global`` go to ``Localizer.localize``;
    ``predicted`` is the base pose odometry predicts (None without an anchor), ``tol`` is set
    while odometry vouches (the gate applies), ``confirm`` says a pose from this plan needs
    confirmation, ``confirm_retry`` the same for the global retry, ``retry_global`` whether a
    first pose refused by the gate is retried with global retrieval. ``mode`` names the plan.
    """

    mode: str
    stamp_ns: int
    odom_from_base: np.ndarray
    cam_from_base: np.ndarray
    prior: Optional[np.ndarray]
    hint: Optional[np.ndarray]
    force_global: bool
    predicted: Optional[np.ndarray]
    tol: Optional[og.Tolerance]
    confirm: bool
    confirm_retry: bool
    retry_global: bool
    last_published: Optional[np.ndarray] = None  # map_from_base; mode "tracking" only
    confirm_jump: Tuple[float, float] = (0.0, 0.0)  # (m, deg) with last_published; 0: off
    has_odometry: bool = True  # an odometry frame is configured (messages only)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What `judge` makes of one localizer result: publish it, hold it as a candidate awaiting
    confirmation, or refuse it (``result`` then is a failure naming the reason), and whether the
    frame is retried with global retrieval."""

    publish: bool
    candidate: bool
    retry: bool
    result: LocalizationResult


@dataclasses.dataclass(frozen=True)
class FrameOutcome:
    """`localize_frame`'s answer: publish ``result`` or fail with ``result.reason``."""

    publish: bool
    result: LocalizationResult
    attempts: int
    mode: str
    epoch: int = 0      # ``state.epoch`` the frame was planned in (a reset since: stale)


def _refused(result: LocalizationResult, reason: str) -> LocalizationResult:
    """A failure carrying ``result``'s statistics and timings, and no pose."""
    return dataclasses.replace(result, success=False, map_from_cam=None, covariance=None,
                               reason=reason)


def judge(plan: FramePlan, result: LocalizationResult, attempt: int) -> Verdict:
    """Judge one localizer result for ``plan`` (attempt 0 = as planned, 1 = the global retry).

    Pure: the state is changed by `TrackingState.settle` and the node's success/failure calls.
    """
    if not result.success:
        # a plain failure is not retried: with the prior, the localizer already searched the
        # keyframes around where odometry puts the robot (and a retry doubles the inference)
        return Verdict(False, False, False, result)
    can_retry = plan.retry_global and attempt == 0
    if plan.tol is not None and plan.predicted is not None:
        map_from_base_ = result.map_from_cam @ plan.cam_from_base
        dt, dr = og.difference(plan.predicted, map_from_base_)
        if not plan.tol.admits(dt, dr):
            reason = (f"pose is {dt:.2f} m / {dr:.1f} deg from where odometry puts the robot "
                      f"since the last published pose (tolerance {plan.tol.text()})")
            if attempt > 0:
                reason += "; global retrieval disagrees too"
            return Verdict(False, False, can_retry, _refused(result, reason))
    confirm = plan.confirm_retry if attempt > 0 else plan.confirm
    if plan.last_published is not None:
        # nothing vouches for a jump (no odometry, or its gate off): a pose farther from the last
        # published one than any frame-to-frame motion (confirm_jump_m / _deg: 1 m / 45 deg;
        # handheld redkitchen at 3 Hz moves 0.14 m / 7.8 deg at most) needs confirming, as one
        # found by global retrieval does: one mirrored frame between good ones was published
        # 2.8 m / 174 deg off; a robot really carried elsewhere is published a frame later
        dt, dr = og.difference(plan.last_published, result.map_from_cam @ plan.cam_from_base)
        jump_m, jump_deg = plan.confirm_jump
        confirm = confirm or 0 < jump_m < dt or 0 < jump_deg < dr
    if confirm:
        return Verdict(False, True, False, result)
    return Verdict(True, False, False, result)


class TrackingState:
    """The node's state between frames. Not thread-safe: the node holds a lock.

    * ``UNINITIALIZED`` until the first successful localization (and again after a reset or a new
      /initialpose); nothing is broadcast, except the operator's pose after an /initialpose.
    * ``TRACKING`` after a success.
    * ``LOST`` after ``lost_after_failures`` consecutive failures, while the last good map->odom
      keeps being re-broadcast so Nav2 keeps a TF tree.

    How each frame is localized follows `plan` (the module docstring's publishing rules), not
    the track alone: while odometry vouches for the last published pose, that pose carried
    forward by odometry (``map_from_odom @ odom_from_base(t) @ base_from_cam``) is the frame's
    prior and hint, in every track, LOST included (mode ``odometry``: an outage ends with a
    pose localized where odometry puts the robot); once it no longer vouches, the frame is
    localized by global retrieval (mode ``global``: no prior; the carried pose, where there is
    one, only as a hint for candidate selection) and must be confirmed.

    With no odometry frame, pass ``odom_from_base`` = identity: "odom" is then the base itself.
    Raises ConfigError for ``lost_after_failures`` < 1 or a bad ``hint_max_age_s`` (the oldest
    last pose that still chooses keyframes in mode ``tracking``; `core.tracker.Tracker`).
    """

    def __init__(self, lost_after_failures: int = 3, hint_max_age_s: float = 1.0) -> None:
        self.tracker = Tracker(lost_after_failures, hint_max_age_s)
        self.epoch = 0
        self._forget()

    # --- the shared tracker ----------------------------------------------------------------
    @property
    def track(self) -> Track:
        return self.tracker.track

    @property
    def last_stamp_ns(self) -> Optional[int]:
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
        self.held_tf: Optional[TfToPublish] = None
        self.prior_map_from_odom: Optional[np.ndarray] = None
        self.prior_source = ""                  # "result" or "initialpose"
        self.last_tf_stamp_ns: Optional[int] = None
        self.last_tf_clock_ns: Optional[int] = None  # the node clock when it was stamped
        self.global_requested = False
        self.anchor: Optional[Anchor] = None
        self.candidate: Optional[Candidate] = None

    # --- time ------------------------------------------------------------------------------
    def check_stamp(self, stamp_ns: int) -> StampCheck:
        """Classify the stamp of a new image; on BACKWARDS the state has been reset."""
        check = self.tracker.check_stamp(stamp_ns)
        if check is StampCheck.BACKWARDS:
            self._forget()
        return check

    def clock_jumped_back(self, now_ns: int, threshold_s: float = 1.0) -> bool:
        """True (and the state reset) when the node clock fell well behind the clock reading
        the last TF was stamped at.

        A bag restarted with ``--clock`` (or a sim reset) moves ``now`` back by more than
        ``threshold_s``; the held map->odom belongs to the old timeline and is dropped. Clock
        readings are compared, not TF stamps: a lowered ``transform_tolerance`` (a live
        parameter) moves the stamps back, not the clock.
        """
        if self.last_tf_clock_ns is None or now_ns <= 0:
            return False
        if self.last_tf_clock_ns - int(now_ns) > int(threshold_s * NS_PER_S):
            self.reset()
            return True
        return False

    # --- relocalize requests ---------------------------------------------------------------
    def request_global(self) -> None:
        """~/relocalize: the next frame ignores the prior and retrieves keyframes globally."""
        self.global_requested = True

    def take_global_request(self) -> bool:
        """True once after `request_global` (the frame that consumes it)."""
        requested, self.global_requested = self.global_requested, False
        return requested

    def set_initial_pose(self, map_from_base_: np.ndarray, odom_from_base: np.ndarray,
                         hold: Optional[TfToPublish] = None) -> None:
        """/initialpose: reset and use this base pose (carried by odometry) as the next prior.

        The held map->odom is replaced by ``hold`` (the operator's pose as the transform the
        node broadcasts, `frames.localization_tf`), re-broadcast until a frame localizes, as
        AMCL keeps a map->odom on /tf after an initial pose: Nav2's map->base_link lookups do
        not fail while the first frame localizes (a second or more on a Jetson; never, if the
        pose is far off). Without ``hold`` (``publish_tf`` off) nothing is held. The TF stamps
        keep increasing across the reset (tf2 refuses a stamp older than the last).
        """
        last_stamp, last_tf = self.last_stamp_ns, (self.last_tf_stamp_ns, self.last_tf_clock_ns)
        self.reset()
        self.tracker.last_stamp_ns = last_stamp
        self.last_tf_stamp_ns, self.last_tf_clock_ns = last_tf
        self.prior_map_from_odom = map_from_odom(map_from_base_, odom_from_base)
        self.prior_source = "initialpose"
        if hold is not None:
            held = finite_pose(hold.parent_from_child, "parent_from_child").copy()
            self.held_tf = TfToPublish(hold.parent, hold.child, held)

    # --- results ---------------------------------------------------------------------------
    def on_success(self, result: LocalizationResult, tf: TfToPublish,
                   odom_from_base: Optional[np.ndarray] = None,
                   prior: Optional[np.ndarray] = None) -> None:
        """A frame's pose was published; ``tf`` (map->odom, or map->base) is held for
        re-broadcast. ``odom_from_base`` (None without odometry) at ``result.stamp_ns`` anchors
        the odometry gate of the next frames. ``prior`` (4x4, the same transform as ``tf``):
        what the next frames' prior is carried from when it differs from what is published
        (``two_d_mode`` publishes the pose in the plane; the prior keeps its 6 DoF); default
        ``tf``'s. Raises InputError for a non-finite pose."""
        self.tracker.update(result)
        held = finite_pose(tf.parent_from_child, "parent_from_child").copy()
        self.held_tf = TfToPublish(tf.parent, tf.child, held)
        self.prior_map_from_odom = held if prior is None else finite_pose(prior, "prior").copy()
        self.prior_source = "result"
        self.candidate = None
        self.anchor = None if odom_from_base is None else Anchor(
            finite_pose(odom_from_base, "odom_from_base").copy(), int(result.stamp_ns))

    def on_failure(self, result: LocalizationResult) -> None:
        """A frame failed (in the localizer, at the gate, or refused before it: undecodable,
        unsupported encoding, no TF). Tracking becomes LOST after ``lost_after_failures`` in a
        row; an /initialpose prior that keeps failing is dropped the same way (global
        retrieval). A pose awaiting confirmation needs consecutive frames, so any failure but
        the frame that made it a candidate starts the confirmation over."""
        if self.candidate is not None and self.candidate.stamp_ns != int(result.stamp_ns):
            self.candidate = None
        self.tracker.update(result)
        if (self.track is Track.UNINITIALIZED
                and self.consecutive_failures >= self.tracker.lost_after_failures):
            self.prior_map_from_odom = None

    # --- the per-frame decision -------------------------------------------------------------
    def plan(self, stamp_ns: int, odom_from_base: np.ndarray, cam_from_base: np.ndarray,
             cfg: TrackingConfig, has_odometry: bool = True) -> FramePlan:
        """How to localize and judge the frame at ``stamp_ns`` (consumes a ~/relocalize request).

        See the module docstring for the rules. Raises InputError for a non-finite pose.
        """
        odom = finite_pose(odom_from_base, "odom_from_base")
        cam_from_base = finite_pose(cam_from_base, "cam_from_base")
        base_from_cam = invert_pose(cam_from_base)
        stamp_ns = int(stamp_ns)
        common = dict(stamp_ns=stamp_ns, odom_from_base=odom, cam_from_base=cam_from_base,
                      has_odometry=has_odometry)
        if self.take_global_request():
            self.anchor = None          # the operator says the pose is suspect
            self.candidate = None
            return FramePlan("relocalize", prior=None, hint=None, force_global=True,
                             predicted=None, tol=None, confirm=True, confirm_retry=True,
                             retry_global=False, **common)
        predicted = None
        if self.prior_map_from_odom is not None:
            predicted = self.prior_map_from_odom @ odom
        tracking = self.track is Track.TRACKING
        if (self.track is Track.UNINITIALIZED and self.prior_source == "initialpose"
                and predicted is not None):
            return FramePlan("initialpose", prior=predicted @ base_from_cam, hint=None,
                             force_global=False, predicted=None, tol=None, confirm=False,
                             confirm_retry=False, retry_global=False, **common)
        if tracking and (not has_odometry or cfg.odom_gate_translation_m <= 0.0):
            # no odometry to bound the jump (or the gate is off): the hint (and with odometry
            # the prior) select keyframes, and the localizer's own gates judge the pose
            prior = predicted @ base_from_cam if has_odometry and predicted is not None else None
            # a jump awaiting confirmation (`judge`) is where the next frame looks first: a robot
            # carried elsewhere is confirmed there (the last success's keyframes chose a wrong
            # pose between the two places, 48 cm off, on the redkitchen data); a wrong jump's
            # keyframes fail and the localizer retries with global retrieval
            # either only while it is fresh (`hint_max_age_s`): an older pose's keyframes are
            # where the camera was (a node at seconds a frame), so retrieval chooses instead
            hint = (self.candidate.map_from_base @ base_from_cam if self.candidate is not None
                    else self.tracker.hint(stamp_ns))
            if self.candidate is not None and not hint_fresh(
                    self.candidate.stamp_ns, stamp_ns, self.tracker.hint_max_age_s):
                hint = None
            return FramePlan("tracking", prior=prior, hint=hint,
                             force_global=False, predicted=None, tol=None, confirm=False,
                             confirm_retry=False, retry_global=False,
                             last_published=predicted,
                             confirm_jump=(cfg.confirm_jump_m, cfg.confirm_jump_deg), **common)
        tol = None
        if has_odometry and predicted is not None and self.anchor is not None:
            distance, turned = og.odometry_motion(self.anchor.odom_from_base, odom)
            t = og.tolerance(cfg, distance, turned,
                             (stamp_ns - self.anchor.stamp_ns) / NS_PER_S)
            tol = t if og.vouches(cfg, t) else None
        if tol is not None:
            prior = predicted @ base_from_cam
            return FramePlan("odometry", prior=prior, hint=prior, force_global=False,
                             predicted=predicted, tol=tol, confirm=False,
                             confirm_retry=not tracking, retry_global=True, **common)
        hint = predicted @ base_from_cam if (has_odometry and predicted is not None) else None
        return FramePlan("global", prior=None, hint=hint, force_global=False,
                         predicted=None, tol=None, confirm=True, confirm_retry=True,
                         retry_global=False, **common)

    def settle(self, plan: FramePlan, verdict: Verdict, cfg: TrackingConfig
               ) -> Tuple[bool, LocalizationResult]:
        """Count a candidate pose towards confirmation -> (publish, result or failure).

        The caller then publishes (and calls `on_success`) or fails the frame (`on_failure`).
        """
        if not verdict.candidate:
            return verdict.publish, verdict.result
        result = verdict.result
        map_from_base_ = result.map_from_cam @ plan.cam_from_base
        count = 1
        c = self.candidate
        if c is not None and c.stamp_ns < plan.stamp_ns:
            expected = og.carry(c.map_from_base, c.odom_from_base, plan.odom_from_base)
            distance, turned = og.odometry_motion(c.odom_from_base, plan.odom_from_base)
            agreement = og.agreement_config(cfg)
            # capped at what odometry vouches for: after a camera stall the tolerance grown
            # with the time (metres after minutes) would admit any pose, while frames that
            # come seconds apart (a slow camera) must still be able to agree
            tol = og.capped(agreement, og.tolerance(agreement, distance, turned,
                                                    (plan.stamp_ns - c.stamp_ns) / NS_PER_S))
            if tol.admits(*og.difference(expected, map_from_base_)):
                count = c.count + 1
        if count >= cfg.confirm_frames:
            self.candidate = None
            return True, result
        self.candidate = Candidate(map_from_base_, plan.odom_from_base.copy(), plan.stamp_ns,
                                   count)
        what = "pose found by global retrieval"
        if plan.last_published is not None:
            what = ("pose {:.2f} m / {:.1f} deg from the last published one (nothing vouches for "
                    "the jump)").format(*og.difference(plan.last_published, map_from_base_))
        under = " under odometry" if plan.has_odometry else ""  # none to agree under
        return False, _refused(result, f"{what} awaits confirmation ({count} of "
                                       f"{cfg.confirm_frames} consecutive frames agree{under})")

    # --- TF re-broadcast --------------------------------------------------------------------
    def next_tf_stamp_ns(self, now_ns: int, tolerance_s: float, fresh: bool) -> Optional[int]:
        """Stamp for broadcasting the held TF, or None when nothing should be sent.

        Stamps are now + tolerance and strictly increase (tf2 warns about repeated stamps and
        interpolates wrongly between out-of-order ones). A timer tick whose stamp would not be
        newer than the last is skipped (a paused sim clock); a fresh result then goes 1 ns after.
        Nothing is sent while the clock reads 0 or less (``use_sim_time`` before the first
        ``/clock``): the stamp would be ``tolerance_s`` after 1970. A held TF (/initialpose) is
        sent from the first tick after the clock starts.
        """
        if self.held_tf is None or now_ns <= 0:
            return None
        stamp = tf_stamp_ns(now_ns, tolerance_s)
        last = self.last_tf_stamp_ns
        if last is not None and stamp <= last:
            if not fresh:
                return None
            stamp = last + 1
        self.last_tf_stamp_ns, self.last_tf_clock_ns = stamp, int(now_ns)
        return stamp

    def rebroadcast(self, now_ns: int, tolerance_s: float
                    ) -> Tuple[bool, Optional[Tuple[TfToPublish, int]]]:
        """One TF-timer tick -> (the clock jumped back and the state was reset, the held TF and
        its stamp to send, or None). See `clock_jumped_back` and `next_tf_stamp_ns`."""
        jumped = self.clock_jumped_back(now_ns)
        stamp = self.next_tf_stamp_ns(now_ns, tolerance_s, fresh=False)
        if stamp is None or self.held_tf is None:
            return jumped, None
        return jumped, (self.held_tf, stamp)


# --------------------------------------------------------------------------------------------
# The per-frame decision

LocalizeFn = Callable[[Optional[np.ndarray], bool, Optional[np.ndarray]], LocalizationResult]


def localize_frame(state: TrackingState, localize: LocalizeFn, cfg: TrackingConfig,
                   stamp_ns: int, odom_from_base: np.ndarray, cam_from_base: np.ndarray, *,
                   has_odometry: bool = True, lock: Any = None,
                   current: Optional[Callable[[], bool]] = None) -> Optional[FrameOutcome]:
    """Localize one frame under the publishing rules (module docstring) -> the outcome.

    ``localize(prior, force_global, hint)`` runs the localizer (outside ``lock``, which guards
    ``state``; inference is slow). None when the state was reset meanwhile (/initialpose, time
    jump): the result belongs to the old timeline. The caller then publishes ``result`` and
    calls ``state.on_success(result, tf, odom_from_base)``, or calls ``state.on_failure``,
    under ``lock`` and only while ``state.epoch`` is still the outcome's ``epoch``: a reset
    between this return and that call (``lock`` is released in between) makes it stale too.
    ``current()`` (checked under ``lock`` before planning and before settling) false: None
    too, ``state`` untouched (the node's frame of an activation that has ended).
    """
    guard = lock if lock is not None else contextlib.nullcontext()
    with guard:
        if current is not None and not current():
            return None
        plan = state.plan(stamp_ns, odom_from_base, cam_from_base, cfg, has_odometry)
        epoch = state.epoch
    def attempt(prior, force_global, hint) -> LocalizationResult:
        result = localize(prior, force_global, hint)
        if int(result.stamp_ns) != plan.stamp_ns:   # the frame's stamp keys the candidate
            result = dataclasses.replace(result, stamp_ns=plan.stamp_ns)
        return result

    verdict = judge(plan, attempt(plan.prior, plan.force_global, plan.hint), 0)
    attempts = 1
    if verdict.retry:
        verdict = judge(plan, attempt(None, True, None), 1)
        attempts = 2
    with guard:
        if state.epoch != epoch or (current is not None and not current()):
            return None
        publish, result = state.settle(plan, verdict, cfg)
    return FrameOutcome(publish, result, attempts, plan.mode, epoch)
