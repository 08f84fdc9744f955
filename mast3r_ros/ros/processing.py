"""The worker thread's per-frame path of the node (no rclpy): admit, prepare, localize, publish
or fail. A mixin of `node.LocalizerNode`, kept apart so that the node module holds the
lifecycle and the callbacks only; every decision it takes lives in an rclpy-free module:

* `admission`: zero/repeated stamps, image size before decoding, the CameraInfo's size and the
  network's patch grid (refused with a reason, counted in /diagnostics), the throttle of
  unexpected exceptions (one traceback, then one line per interval), when to clear the TF
  buffer (never on a reset, only when a lookup fails after time went backwards);
* `tracking`: stale images, the held map->odom, and `tracking.localize_frame`, which decides
  what is published (prior from odometry, the odometry gate, confirmation of a relocalized pose);
  `frames`: REP-105 poses and covariance.

What reaches the tracker's failure path (`TrackingState.on_failure`: lost after N in a row, a
confirmation under way starts over): every frame with a valid new stamp that does not end in a
published pose - refused at the boundary (size, encoding, undecodable data, no or mismatched
CameraInfo, empty frame_id), no TF at its stamp, an inference error, a localizer failure, a pose
the odometry gate refuses or one awaiting confirmation. Not counted: zero or repeated stamps (the
same image again, or a driver bug: nothing about localization), stamps further ahead of the node
clock than max_image_age_s (a clock not synchronised) and stale images (the node fell behind).
The gate's tolerance grows with the time between image stamps, so a frame that is refused,
dropped or never arrives widens it all the same.

It runs on the worker thread only (but for its entry, the image callback's
`FrameProcessing._receive_image`: the restamp of parameter ``image_stamp``, the arrival count, the
hand-over to the worker) and touches no rclpy entity except the publishers behind
their `shutdown.PublishGate` (TF lookups read the buffer, which the executor thread fills).
The node passes tf2's exception type in ``lookup_errors``, so the path is tested without ROS.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, Optional, TYPE_CHECKING, Tuple, Type

import numpy as np

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.image_stamp import restamp_on_receipt
from mast3r_ros.core.localizer.stretch_log import StretchLog
from mast3r_ros.core.pose_uncertainty import sigma_depth_ratio
from mast3r_ros.core.repeated_image import RepeatedImageCheck
from mast3r_ros.core.said_once import SaidOnce, without_numbers
from mast3r_ros.ros.initial_pose_rate import InitialPoseStream
from mast3r_ros.core.tracker import StampCheck
from mast3r_ros.core.types import Frame, LocalizationResult
from mast3r_ros.ros import admission
from mast3r_ros.ros.diagnostics import DiagnosticsWindow, FrameRecord
from mast3r_ros.ros.frames import (
    TfToPublish,
    base_pose_covariance,
    localization_tf,
    map_from_base,
    optical_frame_doubt,
    planar_covariance,
    planar_pose,
    tilted_base_doubt,
)
from mast3r_ros.ros.frame_failures import (RepeatedImage, TfUnavailable, base_sigma_gate,
                                           tf_failure_reason)
from mast3r_ros.ros.frame_reports import FrameReports
from mast3r_ros.ros.image_watch import ImageWatch
from mast3r_ros.ros.tracking import TrackingState, image_age_s, is_stale, localize_frame

if TYPE_CHECKING:
    from mast3r_ros.ros.outputs import Outputs


class FrameProcessing(FrameReports, ImageWatch):
    """The per-frame methods of `node.LocalizerNode` (which provides ``_cfg``, ``_lock``,
    ``_tracking``, ``_diag``, ``_tf``, ``_outputs``, ``_localizer``, ``_camera_info``,
    ``_intrinsics``, ``_info_topic``, ``_errors``, ``_warnings``, ``_tf_timeline``, ``_active``,
    ``_shutting_down()``, ``get_logger`` and ``get_clock``; the path's own state from
    `_init_frame_path`)."""

    # Exceptions of a TF lookup that fails (the node sets tf2_ros.TransformException).
    lookup_errors: Tuple[Type[BaseException], ...] = ()

    def _init_frame_path(self, tracking: Optional[TrackingState] = None,
                         info_topic: str = "camera_info") -> None:
        """The per-frame path's own state, as the node's ``__init__`` sets it (and the hosts
        that run this path without rclpy: tests, `bench/bench_soak.py`): ``_lock``,
        ``_tracking`` (``tracking``, default `TrackingState()`), ``_diag``, ``_intrinsics``,
        ``_info_topic``, ``_errors``, ``_warnings``, ``_tf_timeline``, ``_image_topic`` and
        ``_bayer`` (the image watch, `image_watch.ImageWatch`)."""
        self._lock = threading.Lock()  # guards _tracking and _diag
        self._tracking = tracking if tracking is not None else TrackingState()
        self._diag = DiagnosticsWindow()
        self._intrinsics = mf.IntrinsicsCache(clock=self._now)
        self._info_topic = info_topic
        self._errors = admission.ErrorThrottle()  # unexpected exceptions
        # frame failures, by kind: a line every 5 s at most; a warning has no traceback, so
        # none comes back after 5 min (that would be a line out of turn)
        self._warnings = admission.ErrorThrottle(line_interval_s=5.0,
                                                 traceback_interval_s=math.inf)
        self._tf_timeline = admission.TfTimeline()
        # the last image's pixels: the same again under a new stamp is a frozen driver's
        # (core/repeated_image.py), refused as a failed frame (the node goes lost)
        self._repeats = RepeatedImageCheck()
        # the distortion gate's mid-run reasons: said once a stretch of them, a line a reason
        # every 10 s at most (a state flapping every frame: the count held back since)
        self._stretch_log = StretchLog()
        # counts activations and deactivations (`_set_active`): a frame carries the one it was
        # admitted under and publishes only while it is still the node's
        self._activation = 0
        self._pending_initial_pose = None  # /initialpose while inactive, applied at activate
        self._initialpose_stream = InitialPoseStream(clock=self._now)  # a topic remapped on it
        self._info_frames_said = SaidOnce()  # (image, CameraInfo) frame pairs warned about
        self._optical_said = SaidOnce()  # image frames warned about as not optical
        # mono8 images of the subscription sampled for raw Bayer mosaics: said once a topic and
        # activation (`image_watch`); the node names its topic at activate
        self._image_topic = "image"
        self._watch_images()
        # tilted poses of a configuration: (a weak reference to its localizer, the count); not
        # by id(), which a localizer loaded after cleanup freed the last one often reuses
        self._tilted: Tuple[Any, int] = (lambda: None, 0)

    # ------------------------------------------------------------------ activation
    def _set_active(self, active: bool) -> None:
        """Start (activate) or stop (deactivate, cleanup, exit) taking frames. Either way a
        new activation epoch begins: a frame admitted before it (one that outlived a
        deactivate's wait, still in inference when the node is activated again) publishes
        nothing, counts nothing in the tracking and is recorded as dropped
        (`_drop_deactivated`). The frozen-driver check forgets the last image: after a
        reactivation or a new configuration (fresh tracking, nothing published yet) a camera
        standing still (a noise-free simulated one) was refused every frame until it moved.
        An activation judges its images anew (`image_watch`) and says its first degraded pose
        at once; the degraded stretches held back before it are said (`StretchLog.flush`)."""
        with self._lock:
            self._activation += 1
            self._active = active
            # a new object, not a reset: the worker may be checking a frame with the old one
            self._repeats = RepeatedImageCheck()
            held = self._stretch_log.flush()  # its first degraded pose is said
            if active:  # its images judged anew: often another camera (`image_watch`)
                self._watch_images()
        self._say_stretches(held)

    def _current(self, activation: int) -> bool:
        """Under ``_lock``: a frame admitted in ``activation`` may still change the state and
        publish (the node is active, in that same activation)."""
        return self._active and self._activation == activation

    def _drop_deactivated(self, stamp_ns: int) -> None:
        """A frame whose activation ended during its inference: dropped, said on /diagnostics
        (``last_failure``, a dropped frame) and in a throttled warning."""
        self._fail(stamp_ns, "the node was deactivated during its inference (nothing published)",
                   dropped=True, kind="deactivated")

    # ------------------------------------------------------------------ worker
    def _on_replaced(self) -> None:
        self._record(FrameRecord(time.monotonic(), False, dropped=True,
                                 reason="replaced by a newer image"))

    def _on_worker_error(self, err: Exception) -> None:
        self._report_error("frame dropped, unexpected error", err)

    def _now(self) -> float:
        """The node's monotonic clock, for `frame_reports` too (tests and the soak bench set
        this module's ``time``)."""
        return time.monotonic()

    # ------------------------------------------------------------------ image callback
    def _receive_image(self, msg: Any, offer: Callable[[Any], Any]) -> None:
        """The image callback (executor thread): with parameter ``image_stamp`` 'receive' (the
        configuration's) ``msg.header.stamp`` becomes the node clock's now, here and not when
        the worker takes the frame; the arrival is counted; while active ``offer(msg)`` hands
        it to the worker. Never raises an Exception: an image that cannot be restamped (a clock
        past what the stamp holds: `restamp_on_receipt` raises `InputError`; anything else the
        message or clock raises) is refused or counted as an error, logged (throttled) and said
        on /diagnostics, as any bad frame, and not offered (its own stamp is the one 'receive'
        replaces)."""
        cfg = self._cfg
        try:
            restamp_on_receipt(msg.header, cfg.node.image_stamp if cfg else "header",
                               self.get_clock().now().nanoseconds)
        except InputError as err:
            self._note_arrival(-1)
            self._record(FrameRecord(time.monotonic(), False, reason=str(err), dropped=True,
                                     refused=True))
            self._warn_throttled("restamp", f"image not localized: {err}")
            return
        except Exception as err:  # noqa: BLE001 - out of the callback it would end spin()
            self._note_arrival(-1)
            self._report_error("image dropped, restamping it (image_stamp receive) failed", err)
            return
        try:
            stamp_ns = mf.header_stamp_ns(msg.header)
        except Exception:  # noqa: BLE001 - a malformed stamp is refused by the worker
            stamp_ns = -1
        self._note_arrival(stamp_ns)
        if self._active:
            offer(msg)

    def _note_arrival(self, stamp_ns: int) -> None:
        with self._lock:
            self._diag.note_arrival(time.monotonic(), stamp_ns)

    # ------------------------------------------------------------------ processing
    def _process(self, msg: Any) -> None:
        # one frame, one config and one model: read once, so a cleanup / configure meanwhile
        # (this thread outliving its stop) never mixes two of them within a frame
        cfg, localizer = self._cfg, self._localizer
        with self._lock:  # the activation the frame is admitted under
            activation, active = self._activation, self._active
        if cfg is None or localizer is None or not active:
            return
        stamp_ns = self._admit(msg, cfg)
        if stamp_ns is None:
            return
        try:
            frame, cam_from_base, odom_from_base = self._prepare(msg, cfg)
        except RepeatedImage as err:
            self._fail(stamp_ns, str(err), dropped=err.dropped, refused=not err.dropped,
                       kind="repeated", activation=activation)
            return
        except InputError as err:
            self._fail(stamp_ns, str(err), refused=True, kind="refused", activation=activation)
            return
        except TfUnavailable as err:
            self._fail(stamp_ns, str(err), activation=activation)
            return
        outcome = self._localize(frame, cam_from_base, odom_from_base, cfg, localizer,
                                 activation)
        # a cleanup during inference (a frame that outlived the teardown's wait), and any
        # configure and activate after it, make the result the old configuration's: neither
        # published (with the new map's publishers and TF) nor counted in the new tracking
        if self._localizer is not localizer:
            return
        if outcome is None:
            with self._lock:
                ended = not self._current(activation)
            if ended:
                self._drop_deactivated(stamp_ns)
            return
        result, processing_s, epoch = outcome
        if not result.success:
            self._fail(stamp_ns, result.reason or "localization failed",
                       processing_s=processing_s, timings=result.timings_s,
                       inliers=result.num_inliers, epoch=epoch, focal_fit=result.focal_fit,
                       activation=activation, camera=frame.intrinsics)
            return
        self._publish_result(result, frame, cam_from_base, odom_from_base, processing_s, cfg,
                             localizer, epoch, activation)

    def _admit(self, msg: Any, cfg: Config) -> Optional[int]:
        """The image's header stamp (ns), or None for a zero, negative, repeated, stale, future
        (further ahead of the node clock than max_image_age_s) or malformed one (fields
        ``builtin_interfaces/Time`` cannot hold, refused like a zero stamp), and for every image
        while the node clock reads 0 (``use_sim_time`` before the first ``/clock``:
        `admission.clock_refusal`)."""
        try:
            stamp_ns = mf.header_stamp_ns(msg.header)
        except InputError as err:
            reason = f"header.stamp is malformed: {err}"
            self._record(FrameRecord(time.monotonic(), False, reason=reason, dropped=True,
                                     refused=True))
            self._warn_throttled("stamp_malformed", f"image not localized: {reason}")
            return None
        now_ns = self.get_clock().now().nanoseconds
        kind, why = admission.clock_refusal(now_ns)   # use_sim_time before the first /clock
        if kind:
            self._fail(stamp_ns, why, dropped=True, refused=True, kind=kind)
            return None
        max_age = cfg.node.max_image_age_s
        # before the tracker sees it: a stamp on another clock is no time jump of the camera's
        kind, why = admission.future_stamp_refusal(stamp_ns, now_ns, max_age)
        if kind:
            self._fail(stamp_ns, why, dropped=True, refused=True, kind=kind)
            return None
        check = None
        with self._lock:
            last = self._tracking.last_stamp_ns
            if stamp_ns > 0:  # a zero or negative stamp is refused below, no time jump
                check = self._tracking.check_stamp(stamp_ns)
        kind, why = admission.stamp_refusal(stamp_ns, check is StampCheck.DUPLICATE)
        if kind:
            self._fail(stamp_ns, why, dropped=True, refused=True, kind=kind)
            return None
        if check is StampCheck.BACKWARDS:
            reason = (f"image time went backwards ({last / 1e9:.3f} -> {stamp_ns / 1e9:.3f} s)")
            with self._lock:
                self._diag.note_reset(time.monotonic(), reason)
            self._tf_timeline.on_backwards()
            # throttled as the frame failures are: a bag loop says it each time, but a driver
            # whose stamps step back now and then (two publishers on one topic) would say it
            # at the frame rate for as long as it runs
            self._warn_throttled("time_backwards", f"{reason}: bag loop or clock reset; "
                                 "tracking reset (the TF buffer is kept)")
        if is_stale(stamp_ns, now_ns, max_age):
            age = image_age_s(stamp_ns, now_ns)
            self._fail(stamp_ns, admission.stale_reason(age, max_age), dropped=True,
                       kind="stale")
            return None
        return stamp_ns

    def _localize(self, frame: Frame, cam_from_base: np.ndarray, odom_from_base: np.ndarray,
                  cfg: Config, localizer: Any, activation: Optional[int] = None
                  ) -> Optional[Tuple[LocalizationResult, float, int]]:
        """(result, seconds in the localizer, the tracking epoch it belongs to), or None when
        there is no result to use: an inference error (recorded, and a failure for the
        tracker), a reset (/initialpose, time jump) during inference, dropped unrecorded, or
        the end of ``activation`` (deactivate) before or during it, the tracking untouched (a
        reset after it is caught where the result is applied: `_publish_result`, `_fail`).
        The publishing rules (odometry gate, confirmation of a relocalized pose, the global
        retry) are `tracking.localize_frame`'s: a pose that is not to be published comes back
        as a failure naming the reason, as does one whose published (base) position sigma is
        over ``gates.max_position_sigma_m`` (`base_sigma_gate`)."""
        n = cfg.node
        max_sigma_m = cfg.localizer.gates.max_position_sigma_m

        def localize(prior: Optional[np.ndarray], force_global: bool,
                     hint: Optional[np.ndarray]) -> LocalizationResult:
            return base_sigma_gate(localizer.localize(frame, prior, force_global, hint=hint,
                                                      with_matches=n.publish_debug_image),
                                   cam_from_base, max_sigma_m, n.two_d_mode)

        t0 = time.monotonic()
        try:
            current = (None if activation is None else
                       lambda: self._current(activation))
            outcome = localize_frame(self._tracking, localize, cfg.tracking,
                                     frame.stamp_ns, odom_from_base, cam_from_base,
                                     has_odometry=bool(n.odom_frame), lock=self._lock,
                                     current=current)
        except Exception as err:  # noqa: BLE001 - inference errors drop the frame, not the node
            self._report_error("inference failed", err, frame.stamp_ns)
            with self._lock:
                if activation is None or self._current(activation):
                    self._tracking.on_failure(LocalizationResult.failure(frame.stamp_ns,
                                                                         repr(err)))
            return None
        processing_s = time.monotonic() - t0
        if outcome is None:
            return None
        return outcome.result, processing_s, outcome.epoch

    def _prepare(self, msg: Any, cfg: Config) -> Tuple[Frame, np.ndarray, np.ndarray]:
        """Message -> (Frame, cam_from_base, odom_from_base). Raises InputError for an image
        refused at the boundary (size before decoding, CameraInfo, encoding) and
        `TfUnavailable` (from one of ``lookup_errors``) for TF not available at the image
        stamp."""
        n = cfg.node
        info = self._camera_info
        if info is None:
            raise InputError(f"no CameraInfo received yet on {self._info_topic}")
        intrinsics = self._intrinsics(info, rectified=n.image_rectified)
        camera_size = (intrinsics.width, intrinsics.height)
        why = admission.image_size_refusal(admission.message_image_size(msg),
                                           n.max_image_pixels, cfg.model.image_size, camera_size,
                                           info)
        if not why:
            frame = mf.frame_from_image_message(msg, intrinsics, topic=self._image_topic,
                                                bayer_watch=self._bayer)
            h, w = frame.rgb.shape[:2]
            why = admission.image_size_refusal((w, h), n.max_image_pixels,
                                               cfg.model.image_size, camera_size, info)
        if why:
            raise InputError(why)
        repeats = self._repeats  # one object: activate may put a new one in place meanwhile
        repeated = repeats.check(frame.rgb, frame.stamp_ns)  # never localized
        if repeated:  # dropped the first repeats (a driver faster than its sensor), then failed
            raise RepeatedImage(repeated if repeats.frozen else repeats.dropped_reason(),
                                dropped=not repeats.frozen)
        info_frame = mf.header_frame_name(str(info.header.frame_id))  # as tf2 names it
        if not frame.frame_id:
            frame.frame_id = info_frame
        elif info_frame and info_frame != frame.frame_id and (said := self._info_frames_said.say(
                (without_numbers(frame.frame_id), without_numbers(info_frame)))) is not None:
            # once a pair (numbers and hex tags aside), a few new pairs one by one (ids tagged
            # anew each frame: `SaidOnce.say`), a line every 5 s at most; not a refusal
            self._warn_throttled(
                "camera_info_frame",
                f"the CameraInfo on {self._info_topic} is of frame '{info_frame}', the images "
                f"of '{frame.frame_id}': if it is another camera's calibration (a depth or "
                "other camera's camera_info remapped here), every pose is wrong; remap "
                f"camera_info to the image's own CameraInfo topic{said}")
        if not frame.frame_id:
            raise InputError("the image and its CameraInfo have an empty header.frame_id: the "
                             "camera frame is needed to look up the base->camera TF")
        # tf_timeout_s is the frame's whole wait: the two lookups share one deadline (each
        # waiting the full timeout held a frame up to twice as long as configured)
        deadline = time.monotonic() + n.tf_timeout_s
        started = self._tf_timeline.lookup_started()
        odometry = False
        try:
            cam_from_base = self._tf.lookup(frame.frame_id, n.base_frame,
                                            msg.header.stamp, n.tf_timeout_s)
            odometry = True
            odom_from_base = self._tf.lookup(n.odom_frame or n.base_frame, n.base_frame,
                                             msg.header.stamp,
                                             max(deadline - time.monotonic(), 0.0))
        except self.lookup_errors as err:
            if self._tf_timeline.after_lookup(False, started):
                self._tf.clear()  # once a jump back: stamps stepping back every other frame
                self._warn_throttled("tf_cleared", "TF at the image stamp not found after "
                                     "time went backwards: TF buffer cleared (old timeline)")
            far = admission.far_from_clock_note(mf.header_stamp_ns(msg.header),
                                                self.get_clock().now().nanoseconds)
            raise TfUnavailable((f"{far}: " if far else "") + tf_failure_reason(
                err, odometry, frame.frame_id, n.base_frame, n.odom_frame)) from err
        self._tf_timeline.after_lookup(True, started)
        doubt = optical_frame_doubt(cam_from_base, frame.frame_id, n.base_frame)
        # once a frame (its numbers and hex tags aside), a few new ones one by one (`SaidOnce.say`:
        # a frame_id tagged anew each image), a line every 5 s at most; not a refusal
        said = self._optical_said.say(without_numbers(frame.frame_id)) if doubt else None
        if said is not None:
            self._warn_throttled("optical_frame", doubt + said)
        return frame, cam_from_base, odom_from_base

    def _publish_result(self, result: LocalizationResult, frame: Frame, cam_from_base: np.ndarray,
                        odom_from_base: np.ndarray, processing_s: float, cfg: Config,
                        localizer: Any, epoch: Optional[int] = None,
                        activation: Optional[int] = None) -> None:
        """Publish a frame's pose (and TF) and hold it. Dropped, as a reset during inference
        drops it, when the tracking state was reset since the frame was planned (``epoch``):
        /initialpose or the TF timer's clock-jump reset between `_localize` and here would
        otherwise be overwritten by a pose from the old timeline. Dropped and recorded when
        the frame's ``activation`` ended (`_drop_deactivated`). The check, the held state and
        the pose and TF publish share one hold of ``_lock``: a deactivate (`_set_active`)
        comes before or after all of them, never in between."""
        n = cfg.node
        odom = odom_from_base if n.odom_frame else None
        map_from_base_ = map_from_base(result.map_from_cam, cam_from_base)
        cov = base_pose_covariance(result.covariance, result.map_from_cam, cam_from_base)
        tf = prior_tf = localization_tf(map_from_base_, odom, n.map_frame, n.odom_frame,
                                       n.base_frame)
        # not for a camera that is the base (z forward), nor after optical_frame_doubt's cause
        tilt = (without_numbers(frame.frame_id) not in self._optical_said
                and frame.frame_id != n.base_frame
                and tilted_base_doubt(map_from_base_, n.map_frame, n.base_frame, n.two_d_mode))
        if n.two_d_mode:  # published in the plane; the next frame's prior stays 6-DoF
            map_from_base_ = planar_pose(map_from_base_)
            cov = planar_covariance(cov)
            tf = localization_tf(map_from_base_, odom, n.map_frame, n.odom_frame, n.base_frame)
        now_ns = self.get_clock().now().nanoseconds
        outputs, news = self._outputs, None
        with self._lock:
            if epoch is not None and self._tracking.epoch != epoch:
                return                  # reset meanwhile: the old timeline's pose
            ended = activation is not None and not self._current(activation)
            if not ended:
                news = self._stretch_log.note(result, self._now())
                self._tracking.on_success(result, tf, odom, prior=prior_tf.parent_from_child)
                tf_stamp = (self._tracking.next_tf_stamp_ns(now_ns, n.transform_tolerance,
                                                            True) if n.publish_tf else None)
                if outputs is not None:  # publishing is rcl_publish: microseconds
                    outputs.pose(map_from_base_, cov, frame.stamp_ns)
                    if tf_stamp is not None:
                        self._send_tf(tf, tf_stamp)
        if ended:
            self._drop_deactivated(frame.stamp_ns)
            return
        if news and news.reason:  # a pose published degraded: once a stretch, as localize
            self._warn_throttled("", f"image at {frame.stamp_ns / 1e9:.3f} s: {news.reason}",
                                 at_once=True)
        self._say_stretches(news.summaries if news else ())
        self._count_tilted(tilt, localizer)  # a pose published: not one dropped above
        if outputs is None:
            return
        self._publish_matches(outputs, frame, result, localizer)
        self._record(FrameRecord(
            time.monotonic(), True, int(result.num_inliers),
            image_age_s(frame.stamp_ns, now_ns), processing_s, result.reason,  # a mark
            timings_s=tuple((k, float(v)) for k, v in result.timings_s.items()),
            focal_fit=result.focal_fit, sigma_depth_ratio=sigma_depth_ratio(result),
            camera=frame.intrinsics))

    def _send_tf(self, tf: TfToPublish, stamp_ns: int) -> None:
        client = self._tf
        if client is not None:
            client.send(tf, stamp_ns)

    def _publish_matches(self, outputs: Outputs, frame: Frame, result: LocalizationResult,
                         localizer: Any) -> None:
        try:
            outputs.matches(frame, result.matches, localizer.keyframe_map)
        except Exception as err:  # noqa: BLE001 - a debug picture never costs a frame
            self.get_logger().warning(f"~/matches not published: {err!r}",
                                      throttle_duration_sec=10.0)

    def _fail(self, stamp_ns: int, reason: str, *, dropped: bool = False, refused: bool = False,
              kind: str = "failed", processing_s: float = float("nan"),
              timings: Optional[dict] = None, inliers: int = 0,
              epoch: Optional[int] = None, focal_fit: Optional[FocalFit] = None,
              activation: Optional[int] = None, camera: Any = None) -> None:
        """A frame not localized: a failure for the tracker unless ``dropped``; recorded (with
        the focal scale its inliers fit, ``focal_fit``, and the frame's ``camera``, for
        /diagnostics) and warned about.
        With ``epoch`` (a localizer result's), nothing at all once the state was reset since:
        the failure belongs to the old timeline (see `_publish_result`). With ``activation``
        (the frame's) ended, it is dropped instead (`_drop_deactivated`)."""
        news = None  # the first of a stretch of the mid-run refusals: said at once
        if not dropped:
            with self._lock:
                if epoch is not None and self._tracking.epoch != epoch:
                    return
                ended = activation is not None and not self._current(activation)
                if not ended:
                    failed = LocalizationResult.failure(stamp_ns, reason)
                    self._tracking.on_failure(failed)
                    news = self._stretch_log.note(failed, self._now())
            if ended:
                self._drop_deactivated(stamp_ns)
                return
        now_ns = self.get_clock().now().nanoseconds
        self._record(FrameRecord(
            time.monotonic(), False, int(inliers), image_age_s(stamp_ns, now_ns),
            processing_s, reason, dropped=dropped, refused=refused,
            timings_s=tuple((k, float(v)) for k, v in (timings or {}).items()),
            focal_fit=focal_fit, camera=camera))
        said = news.reason if news else ""  # with the stretches held back since its last line
        self._warn_throttled(kind, f"image at {stamp_ns / 1e9:.3f} s not localized: "
                             f"{said or reason}", at_once=bool(said))
        self._say_stretches(news.summaries if news else ())

