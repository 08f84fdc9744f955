"""The ROS 2 lifecycle node ``mast3r_localizer`` (executable ``localizer_node``).

A thin adapter: every decision lives in `mast3r_ros.core.ros_logic` (tested without ROS); this file
wires it to rclpy, tf2_ros and the message types.

Threads. The image callback only stores the newest message in a one-slot queue (an older one
waiting there is dropped); a worker thread decodes, looks up TF at the image stamp, runs the
localizer and publishes. The executor (multi-threaded) keeps serving TF, timers, /initialpose,
~/relocalize and diagnostics while the GPU works.

Lifecycle (Nav2 manages AMCL the same way):
  configure   read parameters into `Config`, load checkpoint and map, create TF and publishers;
              FAILURE with one error line naming the problem (the node stays up for a retry)
  activate    subscriptions, TF re-broadcast timer, ~/relocalize, worker thread, rviz markers
  deactivate  stop and destroy them
  cleanup     release the model (GPU memory), TF, publishers
  shutdown / error   all of the above, from whatever state
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from typing import Any, Callable, Dict, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger
from tf2_ros import Buffer, TransformBroadcaster, TransformException, TransformListener
from visualization_msgs.msg import MarkerArray

from mast3r_ros.core import ros_logic as rl
from mast3r_ros.core.config import NODE_NAME, Config
from mast3r_ros.core.errors import InputError, Mast3rRosError
from mast3r_ros.ros import conversions as conv

try:  # the ros/diagnostics package; fall back to a plain /diagnostics publisher without it
    from diagnostic_updater import Updater
except ImportError:  # pragma: no cover - depends on the install
    Updater = None

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
DIAG_TASK = "localization"
WORKER_JOIN_TIMEOUT_S = 30.0


def _descriptor(d: rl.ParamDescriptorData) -> ParameterDescriptor:
    desc = ParameterDescriptor(description=d.description, read_only=d.read_only,
                               additional_constraints=d.choices_text)
    if d.lo is not None and d.type == "integer":
        desc.integer_range = [IntegerRange(from_value=int(d.lo), to_value=int(d.hi), step=1)]
    elif d.lo is not None and d.type == "double":
        desc.floating_point_range = [
            FloatingPointRange(from_value=float(d.lo), to_value=float(d.hi), step=0.0)]
    return desc


def _qos_latched() -> QoSProfile:
    """AMCL's pose QoS: reliable, transient local, depth 1 (late subscribers get the last one)."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _qos_sensor(reliability: str) -> QoSProfile:
    """Sensor-data style, depth 1: a slow model drops stale frames instead of queueing them."""
    rel = (ReliabilityPolicy.RELIABLE if reliability == "reliable"
           else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=rel,
                      durability=DurabilityPolicy.VOLATILE)


def _topic(sub: Any) -> str:
    """Resolved topic name of a subscription (``topic_name``), else the name it was given."""
    try:
        return str(sub.topic_name)
    except Exception:  # noqa: BLE001 - only for log messages
        return str(getattr(sub, "topic", "?"))


def _keyframes(localizer: Any):
    """``[(id, map_from_cam)]`` of the localizer's map, ids from the map's records."""
    kf_map = getattr(localizer, "kf_map", None)
    records = getattr(kf_map, "keyframes", None)
    ids = [kf.id for kf in records] if records is not None else None
    poses = localizer.keyframe_poses()
    if ids is not None and len(ids) != len(poses):
        ids = None
    return rl.keyframe_list(poses, ids)


class LocalizerNode(LifecycleNode):
    """Lifecycle node localizing a camera against a MASt3R keyframe map (see module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._param_errors: Dict[str, str] = {}
        self._declare_parameters()
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._lock = threading.Lock()           # guards _tracking and _diag
        self._tracking = rl.TrackingState()
        self._diag = rl.DiagnosticsWindow()
        self._active = False
        self._reset_pending = False
        self._cfg: Optional[Config] = None
        self._localizer = None
        self._intrinsics_cache: tuple = (None, None)
        self._camera_info: Optional[CameraInfo] = None

        self._tf_buffer: Optional[Buffer] = None
        self._tf_listener: Optional[TransformListener] = None
        self._tf_broadcaster: Optional[TransformBroadcaster] = None
        self._pose_pub = self._keyframes_pub = self._matches_pub = None
        self._image_sub = self._info_sub = self._initialpose_sub = None
        self._relocalize_srv = self._tf_timer = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._worker: Optional[threading.Thread] = None

        self._setup_diagnostics()
        fqn = f"{self.get_namespace().rstrip('/')}/{self.get_name()}"
        self.get_logger().info(f"{fqn} created (unconfigured); configure and activate it "
                               "through its lifecycle services")

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        """One declare_parameter per name (Humble ignores YAML for declare_parameters prefixes).

        A YAML/CLI value of the wrong type or out of range would make declare_parameter raise and
        kill the node; it is recorded instead, the default is declared, and configure fails with
        the reason until a valid value is set.
        """
        for d in rl.all_parameter_descriptors():
            try:
                self.declare_parameter(d.name, d.default, _descriptor(d))
            except Exception as err:  # noqa: BLE001 - rclpy raises several exception types here
                self._param_errors[d.name] = f"parameter '{d.name}': {err}"
                self.declare_parameter(d.name, d.default, _descriptor(d), ignore_override=True)

    def _on_set_parameters(self, params) -> SetParametersResult:
        for p in params:
            ok, reason = rl.check_parameter_update(p.name, p.value)
            if not ok:
                return SetParametersResult(successful=False, reason=reason)
        for p in params:
            self._param_errors.pop(p.name, None)
        return SetParametersResult(successful=True)

    def _read_config(self) -> Config:
        if self._param_errors:
            raise Mast3rRosError("invalid parameter values from the parameter file or command "
                                 "line: " + "; ".join(self._param_errors.values()))
        values = {d.name: self.get_parameter(d.name).value
                  for d in rl.all_parameter_descriptors()}
        return rl.params_to_config(values)

    # ------------------------------------------------------------------ transitions
    def _guard(self, name: str, fn: Callable[[], TransitionCallbackReturn],
               undo: Optional[Callable[[], None]] = None) -> TransitionCallbackReturn:
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
        return self._guard("shutdown", lambda: self._teardown_all() or SUCCESS)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error while in state '{state.label}': releasing everything")
        return self._guard("error", lambda: self._teardown_all() or SUCCESS)

    def _configure(self) -> TransitionCallbackReturn:
        try:
            cfg = self._read_config()
            localizer = self._load_localizer(cfg)
        except Mast3rRosError as err:
            self.get_logger().error(f"configure failed: {err}")
            return FAILURE
        self._cfg, self._localizer = cfg, localizer
        self._tf_buffer = Buffer(cache_time=Duration(seconds=10.0))
        self._tf_listener = TransformListener(self._tf_buffer, self, spin_thread=False)
        self._tf_broadcaster = TransformBroadcaster(self)
        self._pose_pub = self.create_lifecycle_publisher(
            PoseWithCovarianceStamped, "~/pose", _qos_latched())
        self._keyframes_pub = self.create_lifecycle_publisher(
            MarkerArray, "~/keyframes", _qos_latched())
        if cfg.node.publish_debug_image:
            self._matches_pub = self.create_lifecycle_publisher(Image, "~/matches", 1)
        with self._lock:
            self._tracking.reset()
        n = cfg.node
        self.get_logger().info(
            f"configured: map '{n.map_path}' ({len(_keyframes(localizer))} keyframes), "
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
        qos = _qos_sensor(n.image_reliability)
        if n.image_transport == "compressed":
            self._image_sub = self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, qos,
                callback_group=sensor_group)
        else:
            self._image_sub = self.create_subscription(
                Image, "image", self._on_image, qos, callback_group=sensor_group)
        self._info_sub = self.create_subscription(
            CameraInfo, "camera_info", self._on_camera_info, qos, callback_group=sensor_group)
        self._initialpose_sub = self.create_subscription(
            PoseWithCovarianceStamped, "initialpose", self._on_initial_pose, 10,
            callback_group=control_group)
        self._relocalize_srv = self.create_service(
            Trigger, "~/relocalize", self._on_relocalize, callback_group=control_group)
        if n.publish_tf:
            self._tf_timer = self.create_timer(1.0 / n.tf_publish_rate, self._on_tf_timer,
                                               callback_group=MutuallyExclusiveCallbackGroup())
        self._start_worker()
        with self._lock:
            self._diag.start(time.monotonic())
        result = super().on_activate(state)
        self._active = True
        self._publish_keyframes()
        self.get_logger().info(f"active: localizing images from {_topic(self._image_sub)}")
        return result

    # ------------------------------------------------------------------ teardown
    def _teardown_active(self) -> None:
        self._active = False
        self._stop_worker()
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
        if self._tf_listener is not None:
            self._tf_listener.unregister()
        if self._tf_broadcaster is not None:
            self.destroy_publisher(self._tf_broadcaster.pub_tf)
        self._tf_buffer = self._tf_listener = self._tf_broadcaster = None
        for attr in ("_pose_pub", "_keyframes_pub", "_matches_pub"):
            pub = getattr(self, attr)
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
                setattr(self, attr, None)
        self._release_localizer()
        self._cfg = None
        self._camera_info = None
        self._intrinsics_cache = (None, None)

    def _teardown_all(self) -> None:
        self._teardown_configured()

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
            self._teardown_all()
        except Exception as err:  # noqa: BLE001
            self.get_logger().error(f"teardown at exit failed: {err!r}")

    # ------------------------------------------------------------------ worker
    def _start_worker(self) -> None:
        self._stop.clear()
        self._drain_queue()
        self._worker = threading.Thread(target=self._worker_loop, name="mast3r_worker",
                                        daemon=True)
        self._worker.start()

    def _stop_worker(self) -> None:
        self._stop.set()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=WORKER_JOIN_TIMEOUT_S)
            if worker.is_alive():
                self.get_logger().error(
                    f"the inference thread did not stop within {WORKER_JOIN_TIMEOUT_S:.0f} s")
        self._drain_queue()

    def _drain_queue(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if self._stop.is_set():
                break
            if not self._active:
                continue
            try:
                self._process(msg)
            except Exception as err:  # noqa: BLE001 - the worker must survive any frame
                self.get_logger().error(f"frame dropped, unexpected error: {err!r}\n"
                                        f"{traceback.format_exc()}")
                self._record(rl.FrameRecord(time.monotonic(), False, reason=repr(err),
                                            error=True))

    # ------------------------------------------------------------------ callbacks
    def _on_image(self, msg: Any) -> None:
        if not self._active:
            return
        try:
            self._queue.put_nowait(msg)
            return
        except queue.Full:
            pass
        try:
            self._queue.get_nowait()
            self._record(rl.FrameRecord(time.monotonic(), False, dropped=True,
                                        reason="replaced by a newer image"))
        except queue.Empty:
            pass
        try:
            self._queue.put_nowait(msg)
        except queue.Full:
            pass

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_initial_pose(self, msg: PoseWithCovarianceStamped) -> None:
        try:
            if not self._active:
                self.get_logger().warning("ignoring /initialpose: the node is not active")
                return
            n = self._cfg.node
            map_from_base = conv.initial_pose_to_map_from_base(msg, n.map_frame)
            odom_from_base = self._odom_from_base(None, timeout_s=0.0)
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
            if not self._active or self._tf_broadcaster is None:
                return
            n = self._cfg.node
            now_ns = self.get_clock().now().nanoseconds
            with self._lock:
                jumped = self._tracking.clock_jumped_back(now_ns, n.transform_tolerance)
                stamp = self._tracking.next_tf_stamp_ns(now_ns, n.transform_tolerance,
                                                        fresh=False)
                held = self._tracking.held_map_from_odom
            if jumped:
                self._reset_pending = True
                self.get_logger().warning("the clock jumped back (bag loop or sim reset): "
                                          "tracking reset, no TF until relocalized")
            if stamp is not None and held is not None:
                self._send_tf(held, stamp)
        except Exception as err:  # noqa: BLE001 - never let a timer end spin()
            self.get_logger().error(f"TF re-broadcast failed: {err!r}",
                                    throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ processing
    def _process(self, msg: Any) -> None:
        n = self._cfg.node
        stamp_ns = rl.header_stamp_ns(msg)
        self._handle_reset_request()
        with self._lock:
            last = self._tracking.last_stamp_ns
            check = self._tracking.check_stamp(stamp_ns)
        if check is rl.StampCheck.BACKWARDS:
            self.get_logger().warning(
                f"image time went backwards ({last / 1e9:.3f} -> {stamp_ns / 1e9:.3f} s): bag "
                "loop or clock reset; tracking and TF buffer reset")
            self._reset_pending = True
            self._handle_reset_request()
        elif check is rl.StampCheck.DUPLICATE:
            return
        now_ns = self.get_clock().now().nanoseconds
        if rl.is_stale(stamp_ns, now_ns, n.max_image_age_s):
            age = rl.image_age_s(stamp_ns, now_ns)
            self._fail(stamp_ns, f"image is {age:.2f} s old (max_image_age_s "
                                 f"{n.max_image_age_s:.2f})", dropped=True)
            return
        try:
            frame, cam_from_base, odom_from_base = self._prepare(msg)
        except (InputError, TransformException) as err:
            self._fail(stamp_ns, str(err))
            return
        with self._lock:
            prior = self._tracking.prior_map_from_cam(odom_from_base, cam_from_base,
                                                      has_odometry=bool(n.odom_frame))
            force_global = self._tracking.take_global_request()
            epoch = self._tracking.epoch
        t0 = time.monotonic()
        try:
            result = self._localizer.localize(frame, prior=prior, force_global=force_global)
        except Exception as err:  # noqa: BLE001 - inference errors drop the frame, not the node
            self.get_logger().error(f"inference failed on the image at {stamp_ns / 1e9:.3f} s: "
                                    f"{err!r}\n{traceback.format_exc()}")
            self._fail(stamp_ns, repr(err), error=True)
            return
        processing_s = time.monotonic() - t0
        with self._lock:
            stale_result = self._tracking.epoch != epoch
        if stale_result:
            return  # /initialpose or a reset arrived during inference: the result is outdated
        if not result.success:
            self._fail(stamp_ns, result.reason or "localization failed",
                       processing_s=processing_s, timings=result.timings_s,
                       inliers=result.num_inliers)
            return
        self._publish_result(result, frame, cam_from_base, odom_from_base, processing_s)

    def _prepare(self, msg: Any):
        """Message -> (Frame, cam_from_base, odom_from_base); InputError/TransformException."""
        n = self._cfg.node
        info = self._camera_info
        if info is None:
            raise InputError(f"no CameraInfo received yet on {_topic(self._info_sub)}")
        intrinsics = self._intrinsics(info)
        if isinstance(msg, CompressedImage):
            frame = conv.frame_from_compressed_msg(msg, intrinsics)
        else:
            frame = conv.frame_from_image_msg(msg, intrinsics)
        if not frame.frame_id:
            frame.frame_id = info.header.frame_id
        if not frame.frame_id:
            raise InputError("the image and its CameraInfo have an empty header.frame_id: the "
                             "camera frame is needed to look up the base->camera TF")
        cam_from_base = self._lookup(frame.frame_id.lstrip("/"), n.base_frame,
                                     msg.header.stamp, n.tf_timeout_s)
        odom_from_base = self._odom_from_base(msg.header.stamp, n.tf_timeout_s)
        return frame, cam_from_base, odom_from_base

    def _intrinsics(self, info: CameraInfo):
        key = (info.width, info.height, tuple(info.k), tuple(info.d), info.distortion_model)
        cached_key, cached = self._intrinsics_cache
        if key != cached_key:
            cached = conv.intrinsics_from_camera_info_msg(info)
            self._intrinsics_cache = (key, cached)
        return cached

    def _lookup(self, target: str, source: str, stamp_msg: Any, timeout_s: float) -> np.ndarray:
        """``target_from_source`` at the stamp (None: latest), waiting up to ``timeout_s``."""
        if target == source:
            return np.eye(4)
        when = Time() if stamp_msg is None else Time.from_msg(stamp_msg)
        ts = self._tf_buffer.lookup_transform(target, source, when,
                                              timeout=Duration(seconds=timeout_s))
        return conv.transform_fields_to_matrix(ts.transform)

    def _odom_from_base(self, stamp_msg: Any, timeout_s: float) -> np.ndarray:
        n = self._cfg.node
        if not n.odom_frame:
            return np.eye(4)
        return self._lookup(n.odom_frame, n.base_frame, stamp_msg, timeout_s)

    def _handle_reset_request(self) -> None:
        if not self._reset_pending:
            return
        self._reset_pending = False
        self._localizer.reset()
        try:
            self._tf_buffer.clear()  # static transforms survive a clear
        except Exception as err:  # noqa: BLE001
            self.get_logger().warning(f"clearing the TF buffer failed: {err!r}")

    def _publish_result(self, result: Any, frame: Any, cam_from_base: np.ndarray,
                        odom_from_base: np.ndarray, processing_s: float) -> None:
        n = self._cfg.node
        map_from_base = rl.map_from_base(result.map_from_cam, cam_from_base)
        cov = rl.base_pose_covariance(result.covariance, result.map_from_cam, cam_from_base)
        tf = rl.localization_tf(map_from_base, odom_from_base if n.odom_frame else None,
                                n.map_frame, n.odom_frame, n.base_frame)
        now_ns = self.get_clock().now().nanoseconds
        with self._lock:
            self._tracking.on_success(tf.parent_from_child)
            tf_stamp = (self._tracking.next_tf_stamp_ns(now_ns, n.transform_tolerance, True)
                        if n.publish_tf else None)
        self._pose_pub.publish(conv.pose_with_covariance_msg(
            map_from_base, cov, frame.stamp_ns, n.map_frame))
        if tf_stamp is not None:
            self._send_tf(tf.parent_from_child, tf_stamp)
        if self._matches_pub is not None:
            self._publish_matches(frame)
        self._record(rl.FrameRecord(
            time.monotonic(), True, int(result.num_inliers),
            rl.image_age_s(frame.stamp_ns, now_ns), processing_s,
            timings_s=tuple((k, float(v)) for k, v in result.timings_s.items())))

    def _send_tf(self, parent_from_child: np.ndarray, stamp_ns: int) -> None:
        n = self._cfg.node
        child = n.odom_frame or n.base_frame
        tf = rl.TfToPublish(n.map_frame, child, parent_from_child)
        broadcaster = self._tf_broadcaster
        if broadcaster is not None:
            broadcaster.sendTransform(conv.transform_msg(tf, stamp_ns))

    def _publish_matches(self, frame: Any) -> None:
        try:
            matches = getattr(self._localizer, "last_matches", None)
            kid = rl.most_matched_keyframe(matches)
            kf_rgb = None
            if kid is not None:
                kf_map = self._localizer.kf_map
                index = [kf.id for kf in kf_map.keyframes].index(kid)
                kf_rgb = kf_map.image(index)
            rgb = rl.debug_image(frame.rgb, matches, kf_rgb, kid)
            self._matches_pub.publish(conv.image_msg(rgb, frame.stamp_ns, frame.frame_id))
        except Exception as err:  # noqa: BLE001 - a debug picture never costs a frame
            self.get_logger().warning(f"~/matches not published: {err!r}",
                                      throttle_duration_sec=10.0)

    def _publish_keyframes(self) -> None:
        n = self._cfg.node
        specs = rl.keyframe_marker_specs(_keyframes(self._localizer))
        now_ns = self.get_clock().now().nanoseconds
        self._keyframes_pub.publish(conv.marker_array_msg(specs, n.map_frame, max(now_ns, 0)))

    def _fail(self, stamp_ns: int, reason: str, *, dropped: bool = False, error: bool = False,
              processing_s: float = float("nan"), timings: Optional[dict] = None,
              inliers: int = 0) -> None:
        if not dropped:
            with self._lock:
                self._tracking.on_failure(reason)
        now_ns = self.get_clock().now().nanoseconds
        self._record(rl.FrameRecord(
            time.monotonic(), False, int(inliers), rl.image_age_s(stamp_ns, now_ns),
            processing_s, reason, error=error, dropped=dropped,
            timings_s=tuple((k, float(v)) for k, v in (timings or {}).items())))
        if not error:
            self.get_logger().warning(f"image at {stamp_ns / 1e9:.3f} s not localized: {reason}",
                                      throttle_duration_sec=5.0)

    def _record(self, rec: rl.FrameRecord) -> None:
        with self._lock:
            self._diag.add(rec)

    # ------------------------------------------------------------------ diagnostics
    def _setup_diagnostics(self) -> None:
        """Diagnostics run in every lifecycle state (STALE when not active); created once."""
        self._diag_name = f"{self.get_name()}: {DIAG_TASK}"
        self._updater = None
        self._diag_pub = None
        if Updater is not None:
            try:
                self._updater = Updater(self, period=1.0)
            except TypeError:  # diagnostic_updater < 3 has no period argument
                self._updater = Updater(self)
            self._updater.setHardwareID("mast3r_ros")
            self._updater.add(DIAG_TASK, self._fill_diagnostics)
        else:
            self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
            self.create_timer(1.0, self._publish_diagnostics)

    def _summary(self) -> rl.DiagnosticsSummary:
        with self._lock:
            return self._diag.summary(time.monotonic(), self._tracking.track, self._active)

    def _fill_diagnostics(self, stat):
        s = self._summary()
        stat.summary(bytes([s.level]), s.message)
        for key, value in s.values:
            stat.add(key, value)
        return stat

    def _publish_diagnostics(self) -> None:
        try:
            msg = conv.diagnostic_array(self._summary(), self._diag_name, "mast3r_ros",
                                        self.get_clock().now().nanoseconds)
            self._diag_pub.publish(msg)
        except Exception as err:  # noqa: BLE001 - never let a timer end spin()
            self.get_logger().error(f"diagnostics failed: {err!r}", throttle_duration_sec=10.0)


def main(args=None) -> None:
    """``ros2 run mast3r_ros localizer_node``: spin the node on a multi-threaded executor."""
    rclpy.init(args=args)
    node: Optional[LocalizerNode] = None
    executor: Optional[MultiThreadedExecutor] = None
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
