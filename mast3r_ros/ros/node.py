"""The ROS 2 lifecycle node ``mast3r_localizer`` (executable ``localizer_node``).

A thin adapter: it wires rclpy, tf2_ros and the message types to rclpy-free modules, each tested
without ROS: `mast3r_ros.core.message_fields` (messages in), `tracking` (state between frames, time
gates), `frames` (REP-105 TF and covariance), `diagnostics`, `debug_view`, `params`, `worker`, and
`conversions` (messages out).

Threads. The image callback only stores the newest message in a one-slot queue (an older one
waiting there is dropped); a worker thread (`worker.LatestMessageWorker`) decodes, looks up TF at
the image stamp, runs the localizer and publishes. The executor (multi-threaded) keeps serving
TF, timers, /initialpose, ~/relocalize and diagnostics while the GPU works.

Lifecycle (Nav2 manages AMCL the same way):
  configure   read parameters into `Config`, load checkpoint and map, create TF and publishers;
              FAILURE with one error line naming the problem (the node stays up for a retry)
  activate    subscriptions, TF re-broadcast timer, ~/relocalize, worker thread, rviz markers
  deactivate  stop and destroy them
  cleanup     release the model (GPU memory), TF, publishers
  shutdown / error   all of the above, from whatever state
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PoseWithCovarianceStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo
from std_srvs.srv import Trigger
from tf2_ros import TransformException

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.config import NODE_NAME, Config
from mast3r_ros.core.errors import InputError, Mast3rRosError
from mast3r_ros.core.tracker import StampCheck
from mast3r_ros.core.types import Frame, LocalizationResult
from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros import params, topics
from mast3r_ros.ros.bond import NodeBond
from mast3r_ros.ros.diagnostics import DiagnosticsSummary, DiagnosticsWindow, FrameRecord
from mast3r_ros.ros.diagnostics_publisher import DiagnosticsPublisher
from mast3r_ros.ros.frames import TfToPublish, base_pose_covariance, localization_tf, map_from_base
from mast3r_ros.ros.outputs import Outputs
from mast3r_ros.ros.tf_client import TfClient
from mast3r_ros.ros.tracking import (
    TrackingState,
    image_age_s,
    initial_pose_to_map_from_base,
    is_stale,
    localize_frame,
)
from mast3r_ros.ros.worker import LatestMessageWorker

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
DIAG_TASK = "localization"
WORKER_JOIN_TIMEOUT_S = 30.0


class LocalizerNode(LifecycleNode):
    """Lifecycle node localizing a camera against a MASt3R keyframe map (see module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._param_errors = params.declare_parameters(self, conv.parameter_descriptor_msg)
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._lock = threading.Lock()           # guards _tracking and _diag
        self._tracking = TrackingState()
        self._diag = DiagnosticsWindow()
        self._active = False
        self._reset_pending = False
        self._cfg: Config | None = None
        self._localizer = None
        self._intrinsics = mf.IntrinsicsCache()
        self._camera_info: CameraInfo | None = None

        self._tf: TfClient | None = None
        self._outputs: Outputs | None = None
        self._image_sub = self._info_sub = self._initialpose_sub = None
        self._relocalize_srv = self._tf_timer = None
        self._worker = LatestMessageWorker(
            self._process, lambda: self._active, self._on_replaced, self._on_worker_error)

        self._diagnostics = DiagnosticsPublisher(self, DIAG_TASK, self._summary)
        self._bond = NodeBond(self)             # issue 10 (node2): Nav2's bond
        fqn = f"{self.get_namespace().rstrip('/')}/{self.get_name()}"
        self.get_logger().info(f"{fqn} created (unconfigured); configure and activate it "
                               "through its lifecycle services")

    # ------------------------------------------------------------------ parameters
    def _on_set_parameters(self, updates: list) -> SetParametersResult:
        ok, reason = params.check_parameter_updates(updates, self._param_errors)
        return SetParametersResult(successful=ok, reason=reason)

    # ------------------------------------------------------------------ transitions
    def _guard(self, name: str, fn: Callable[[], TransitionCallbackReturn],
               undo: Callable[[], None] | None = None) -> TransitionCallbackReturn:
        """Run a transition; exceptions are logged and become FAILURE (never None, never raise)."""
        try:
            result = fn()
            return result if isinstance(result, TransitionCallbackReturn) else FAILURE
        except Exception as err:  # noqa: BLE001 - a transition must always return
            self.get_logger().error(f"{name} failed: {err!r}\n{traceback.format_exc()}")
            if undo is not None:
                try:
                    undo()
                except Exception as undo_err:  # noqa: BLE001
                    self.get_logger().error(f"{name}: undoing it also failed: {undo_err!r}")
            return FAILURE

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._guard("configure", self._configure, self._teardown_configured)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._guard("activate", lambda: self._activate(state), self._teardown_active)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        def run() -> TransitionCallbackReturn:
            self._teardown_active()
            return super(LocalizerNode, self).on_deactivate(state)
        return self._guard("deactivate", run)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        def run() -> TransitionCallbackReturn:
            self._teardown_configured()
            self.get_logger().info("cleaned up: model and map released")
            return SUCCESS
        return self._guard("cleanup", run)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._guard("shutdown", lambda: self._teardown_configured() or SUCCESS)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error while in state '{state.label}': releasing everything")
        return self._guard("error", lambda: self._teardown_configured() or SUCCESS)

    def _configure(self) -> TransitionCallbackReturn:
        try:
            cfg = params.read_config(lambda name: self.get_parameter(name).value,
                                     self._param_errors)
            localizer = self._load_localizer(cfg)
        except Mast3rRosError as err:
            self.get_logger().error(f"configure failed: {err}")
            return FAILURE
        self._cfg, self._localizer = cfg, localizer
        self._tf = TfClient(self)
        self._outputs = Outputs(self, cfg.node.map_frame, cfg.node.publish_debug_image)
        with self._lock:
            self._tracking = TrackingState(cfg.localizer.lost_after_failures)
        n = cfg.node
        self.get_logger().info(
            f"configured: map '{n.map_path}' ({len(localizer.keyframe_map)} keyframes), "
            f"matcher {cfg.localizer.matcher}, device {cfg.model.device}, frames "
            f"{n.map_frame} -> {n.odom_frame or '(none)'} -> {n.base_frame}, "
            f"image transport {n.image_transport} ({n.image_reliability})")
        return SUCCESS

    def _load_localizer(self, cfg: Config):
        try:
            from mast3r_ros.core.localizer import Localizer
        except ImportError as err:
            raise Mast3rRosError(f"cannot import the localizer ({err}); is PyTorch installed "
                                 "for this Python?") from err
        return Localizer.from_config(cfg, cfg.node.map_path)

    def _activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        n = self._cfg.node
        sensor_group = MutuallyExclusiveCallbackGroup()
        control_group = MutuallyExclusiveCallbackGroup()
        sensor_qos = topics.sensor(n.image_reliability)
        image_type, image_topic = topics.image_topic(n.image_transport)
        self._image_sub = self.create_subscription(
            image_type, image_topic, self._on_image, sensor_qos, callback_group=sensor_group)
        self._info_sub = self.create_subscription(
            CameraInfo, "camera_info", self._on_camera_info, sensor_qos,
            callback_group=sensor_group)
        self._initialpose_sub = self.create_subscription(
            PoseWithCovarianceStamped, "initialpose", self._on_initial_pose, 10,
            callback_group=control_group)
        self._relocalize_srv = self.create_service(
            Trigger, "~/relocalize", self._on_relocalize, callback_group=control_group)
        if n.publish_tf:
            self._tf_timer = self.create_timer(1.0 / n.tf_publish_rate, self._on_tf_timer,
                                               callback_group=MutuallyExclusiveCallbackGroup())
        self._worker.start()
        with self._lock:
            self._diag.start(time.monotonic())
        result = super().on_activate(state)
        self._active = True
        self._outputs.keyframes(self._localizer.keyframe_map,
                                max(self.get_clock().now().nanoseconds, 0))
        topic = topics.topic_name(self._image_sub)
        self.get_logger().info(f"active: localizing images from {topic}")
        self._bond.start(n.bond_heartbeat_period)  # issue 10 (node2): as nav2_util on activate
        return result

    # ------------------------------------------------------------------ teardown
    def _teardown_active(self) -> None:
        self._active = False
        self._bond.stop()                       # issue 10 (node2): as nav2_util on deactivate
        if not self._worker.stop(WORKER_JOIN_TIMEOUT_S):
            self.get_logger().error(
                f"the inference thread did not stop within {WORKER_JOIN_TIMEOUT_S:.0f} s")
        for attr, destroy in (("_image_sub", self.destroy_subscription),
                              ("_info_sub", self.destroy_subscription),
                              ("_initialpose_sub", self.destroy_subscription),
                              ("_relocalize_srv", self.destroy_service),
                              ("_tf_timer", self.destroy_timer)):
            handle = getattr(self, attr)
            if handle is not None:
                destroy(handle)
                setattr(self, attr, None)

    def _teardown_configured(self) -> None:
        self._teardown_active()
        self._bond.close()                      # issue 10 (node2)
        tf, self._tf = self._tf, None
        if tf is not None:
            tf.close()
        outputs, self._outputs = self._outputs, None
        if outputs is not None:
            outputs.close()
        self._release_localizer()
        self._cfg = None
        self._camera_info = None
        self._intrinsics = mf.IntrinsicsCache()

    def _release_localizer(self) -> None:
        localizer, self._localizer = self._localizer, None
        if localizer is not None:
            try:
                localizer.close()
            except Exception as err:  # noqa: BLE001 - releasing must not stop the teardown
                self.get_logger().error(f"releasing the localizer failed: {err!r}")

    def release_resources(self) -> None:
        """For main(): stop the worker and free the model before the node is destroyed."""
        try:
            self._teardown_configured()
        except Exception as err:  # noqa: BLE001
            self.get_logger().error(f"teardown at exit failed: {err!r}")

    # ------------------------------------------------------------------ worker
    def _on_replaced(self) -> None:
        self._record(FrameRecord(time.monotonic(), False, dropped=True,
                                 reason="replaced by a newer image"))

    def _on_worker_error(self, err: Exception) -> None:
        self.get_logger().error(f"frame dropped, unexpected error: {err!r}\n"
                                f"{traceback.format_exc()}")
        self._record(FrameRecord(time.monotonic(), False, reason=repr(err), error=True))

    # ------------------------------------------------------------------ callbacks
    def _on_image(self, msg: Any) -> None:
        if self._active:
            self._worker.offer(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_initial_pose(self, msg: PoseWithCovarianceStamped) -> None:
        try:
            if not self._active:
                self.get_logger().warning("ignoring /initialpose: the node is not active")
                return
            n = self._cfg.node
            map_from_base = initial_pose_to_map_from_base(msg, n.map_frame)
            odom_from_base = self._tf.lookup(n.odom_frame or n.base_frame, n.base_frame,
                                             None, timeout_s=0.0)
        except (InputError, TransformException) as err:
            self.get_logger().warning(f"ignoring /initialpose: {err}")
            return
        except Exception as err:  # noqa: BLE001 - never let a callback end spin()
            self.get_logger().error(f"/initialpose handling failed: {err!r}")
            return
        with self._lock:
            self._tracking.set_initial_pose(map_from_base, odom_from_base)
        self._reset_pending = True
        x, y, z = map_from_base[:3, 3]
        self.get_logger().info(f"initial pose received ({x:.2f}, {y:.2f}, {z:.2f}): tracking "
                               "reset, the next image is localized around it")

    def _on_relocalize(self, request: Trigger.Request,
                       response: Trigger.Response) -> Trigger.Response:
        if not self._active:
            response.success = False
            response.message = "the node is not active"
            return response
        with self._lock:
            self._tracking.request_global()
        response.success = True
        response.message = "the next image is localized by global keyframe retrieval"
        self.get_logger().info("relocalize requested: global retrieval on the next image")
        return response

    def _on_tf_timer(self) -> None:
        try:
            if not self._active or self._tf is None:
                return
            n = self._cfg.node
            now_ns = self.get_clock().now().nanoseconds
            with self._lock:
                jumped, send = self._tracking.rebroadcast(now_ns, n.transform_tolerance)
            if jumped:
                self._reset_pending = True
                self.get_logger().warning("the clock jumped back (bag loop or sim reset): "
                                          "tracking reset, no TF until relocalized")
            if send is not None:
                self._send_tf(*send)
        except Exception as err:  # noqa: BLE001 - never let a timer end spin()
            self.get_logger().error(f"TF re-broadcast failed: {err!r}",
                                    throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ processing
    def _process(self, msg: Any) -> None:
        stamp_ns = self._admit(msg)
        if stamp_ns is None:
            return
        try:
            frame, cam_from_base, odom_from_base = self._prepare(msg)
        except (InputError, TransformException) as err:
            self._fail(stamp_ns, str(err))
            return
        outcome = self._localize(frame, cam_from_base, odom_from_base)
        if outcome is None:
            return
        result, processing_s = outcome
        if not result.success:
            self._fail(stamp_ns, result.reason or "localization failed",
                       processing_s=processing_s, timings=result.timings_s,
                       inliers=result.num_inliers)
            return
        self._publish_result(result, frame, cam_from_base, odom_from_base, processing_s)

    def _admit(self, msg: Any) -> int | None:
        """The image's header stamp (ns), or None for a duplicate or a stale image."""
        n = self._cfg.node
        stamp_ns = mf.header_stamp_ns(msg.header)
        self._handle_reset_request()
        with self._lock:
            last = self._tracking.last_stamp_ns
            check = self._tracking.check_stamp(stamp_ns)
        if check is StampCheck.BACKWARDS:
            self.get_logger().warning(
                f"image time went backwards ({last / 1e9:.3f} -> {stamp_ns / 1e9:.3f} s): bag "
                "loop or clock reset; tracking and TF buffer reset")
            self._reset_pending = True
            self._handle_reset_request()
        elif check is StampCheck.DUPLICATE:
            return None
        now_ns = self.get_clock().now().nanoseconds
        if is_stale(stamp_ns, now_ns, n.max_image_age_s):
            age = image_age_s(stamp_ns, now_ns)
            self._fail(stamp_ns, f"image is {age:.2f} s old (max_image_age_s "
                                 f"{n.max_image_age_s:.2f})", dropped=True)
            return None
        return stamp_ns

    def _localize(self, frame: Frame, cam_from_base: np.ndarray, odom_from_base: np.ndarray
                  ) -> tuple[LocalizationResult, float] | None:
        """(result, seconds in the localizer), or None when there is no result to use: an
        inference error (recorded), or a reset (/initialpose, time jump) during inference.
        A result that is not to be published (odometry gate, awaiting confirmation) comes back
        as a failure with its reason (`tracking.localize_frame`)."""
        n = self._cfg.node

        def localize(prior, force_global, hint):  # issue 10 (node2): the odometry gate
            return self._localizer.localize(frame, prior, force_global, hint=hint,
                                            with_matches=n.publish_debug_image)

        t0 = time.monotonic()
        try:
            outcome = localize_frame(self._tracking, localize, self._cfg.tracking,
                                     frame.stamp_ns, odom_from_base, cam_from_base,
                                     has_odometry=bool(n.odom_frame), lock=self._lock)
        except Exception as err:  # noqa: BLE001 - inference errors drop the frame, not the node
            self.get_logger().error(f"inference failed on the image at "
                                    f"{frame.stamp_ns / 1e9:.3f} s: {err!r}\n"
                                    f"{traceback.format_exc()}")
            self._fail(frame.stamp_ns, repr(err), error=True)
            return None
        processing_s = time.monotonic() - t0
        if outcome is None:
            return None
        return outcome.result, processing_s

    def _prepare(self, msg: Any) -> tuple[Frame, np.ndarray, np.ndarray]:
        """Message -> (Frame, cam_from_base, odom_from_base); InputError/TransformException."""
        n = self._cfg.node
        info = self._camera_info
        if info is None:
            raise InputError(f"no CameraInfo received yet on {topics.topic_name(self._info_sub)}")
        frame = mf.frame_from_image_message(msg, self._intrinsics(info))
        if not frame.frame_id:
            frame.frame_id = info.header.frame_id
        if not frame.frame_id:
            raise InputError("the image and its CameraInfo have an empty header.frame_id: the "
                             "camera frame is needed to look up the base->camera TF")
        cam_from_base = self._tf.lookup(frame.frame_id.lstrip("/"), n.base_frame,
                                        msg.header.stamp, n.tf_timeout_s)
        odom_from_base = self._tf.lookup(n.odom_frame or n.base_frame, n.base_frame,
                                         msg.header.stamp, n.tf_timeout_s)
        return frame, cam_from_base, odom_from_base

    def _handle_reset_request(self) -> None:
        """After a reset of the tracking state: forget the old timeline's TF too."""
        if not self._reset_pending:
            return
        self._reset_pending = False
        try:
            self._tf.clear()
        except Exception as err:  # noqa: BLE001
            self.get_logger().warning(f"clearing the TF buffer failed: {err!r}")

    def _publish_result(self, result: LocalizationResult, frame: Frame, cam_from_base: np.ndarray,
                        odom_from_base: np.ndarray, processing_s: float) -> None:
        n = self._cfg.node
        map_from_base_ = map_from_base(result.map_from_cam, cam_from_base)
        cov = base_pose_covariance(result.covariance, result.map_from_cam, cam_from_base)
        tf = localization_tf(map_from_base_, odom_from_base if n.odom_frame else None,
                             n.map_frame, n.odom_frame, n.base_frame)
        now_ns = self.get_clock().now().nanoseconds
        with self._lock:
            self._tracking.on_success(result, tf, odom_from_base if n.odom_frame else None)
            tf_stamp = (self._tracking.next_tf_stamp_ns(now_ns, n.transform_tolerance, True)
                        if n.publish_tf else None)
        self._outputs.pose(map_from_base_, cov, frame.stamp_ns)
        if tf_stamp is not None:
            self._send_tf(tf, tf_stamp)
        self._publish_matches(frame, result)
        self._record(FrameRecord(
            time.monotonic(), True, int(result.num_inliers),
            image_age_s(frame.stamp_ns, now_ns), processing_s,
            timings_s=tuple((k, float(v)) for k, v in result.timings_s.items())))

    def _send_tf(self, tf: TfToPublish, stamp_ns: int) -> None:
        client = self._tf
        if client is not None:
            client.send(tf, stamp_ns)

    def _publish_matches(self, frame: Frame, result: LocalizationResult) -> None:
        try:
            self._outputs.matches(frame, result.matches, self._localizer.keyframe_map)
        except Exception as err:  # noqa: BLE001 - a debug picture never costs a frame
            self.get_logger().warning(f"~/matches not published: {err!r}",
                                      throttle_duration_sec=10.0)

    def _fail(self, stamp_ns: int, reason: str, *, dropped: bool = False, error: bool = False,
              processing_s: float = float("nan"), timings: dict | None = None,
              inliers: int = 0) -> None:
        if not dropped:
            with self._lock:
                self._tracking.on_failure(LocalizationResult.failure(stamp_ns, reason))
        now_ns = self.get_clock().now().nanoseconds
        self._record(FrameRecord(
            time.monotonic(), False, int(inliers), image_age_s(stamp_ns, now_ns),
            processing_s, reason, error=error, dropped=dropped,
            timings_s=tuple((k, float(v)) for k, v in (timings or {}).items())))
        if not error:
            self.get_logger().warning(f"image at {stamp_ns / 1e9:.3f} s not localized: {reason}",
                                      throttle_duration_sec=5.0)

    def _record(self, rec: FrameRecord) -> None:
        with self._lock:
            self._diag.add(rec)

    # ------------------------------------------------------------------ diagnostics
    def _summary(self) -> DiagnosticsSummary:
        with self._lock:
            return self._diag.summary(time.monotonic(), self._tracking.track, self._active)


def main(args=None) -> None:
    """``ros2 run mast3r_ros localizer_node``: spin the node on a multi-threaded executor."""
    rclpy.init(args=args)
    node: LocalizerNode | None = None
    executor: MultiThreadedExecutor | None = None
    try:
        node = LocalizerNode()
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.release_resources()  # stop the worker before the context goes away
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
