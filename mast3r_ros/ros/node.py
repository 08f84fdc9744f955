"""The ROS 2 lifecycle node ``mast3r_localizer`` (executable ``localizer_node``).

A thin adapter: it wires rclpy, tf2_ros and the message types to rclpy-free modules, each tested
without ROS: `mast3r_ros.core.message_fields` (messages in), `tracking` (state between frames, time
gates), `frames` (REP-105 TF and covariance), `diagnostics`, `debug_view`, `params`, `worker`, and
`conversions` (messages out), `admission` (what is refused at the boundary, stamps, throttled
errors), `shutdown` (publish gates, exit order), `bond_state` (Nav2's bond, on the wire by
`bond.NodeBond`) and `self_start` (parameter ``autostart``).

The per-frame path (admit, prepare, localize, publish) is the mixin `processing.FrameProcessing`;
what the executor-thread callbacks decide (TF tick, steady tick, /initialpose, a node clock that
jumps back) and the transitions' teardown is its subclass `executor_side.ExecutorSide`.

Threads. The image callback counts the image and stores it in a one-slot queue (an older one
waiting there is dropped); a worker thread (`worker.LatestMessageWorker`) decodes, looks up TF at
the image stamp, runs the localizer and publishes. `main` spins the node on a single-threaded
executor, which keeps serving TF, timers, /initialpose, ~/relocalize and diagnostics while the
GPU works; with one executor thread no entity is destroyed while rclpy takes from it (see
`shutdown` for why this removes the transition crash).

Lifecycle (Nav2 manages AMCL the same way):
  configure   read parameters into `Config`; start the inference thread, which loads the
              checkpoint and map and warms the model up (the executor thread waits, publishing
              /diagnostics); create TF and publishers; FAILURE with one error line naming the
              problem (the node stays up for a retry)
  activate    subscriptions (/initialpose from configure on: one sent while inactive is
              applied here, as AMCL), TF re-broadcast timer, ~/relocalize, frames to the inference
              thread, rviz markers, then the bond with Nav2's lifecycle manager
  deactivate  end the bond, stop taking frames (the frame in progress ends), then destroy them
  cleanup     stop the inference thread, release the model (GPU memory), TF, publishers
  shutdown / error   all of the above, from whatever state (from active too: on_shutdown
              alone runs then, and it ends the bond and the worker as deactivate would)
With parameter ``autostart`` the node requests configure, then activate, itself from a one-shot
steady timer once it spins (`self_start`: a respawned process needs no request from launch); a
transition requested from outside first cancels that. A ``change_state`` request the current
state has no transition for is answered ``success: false`` (rclpy raises and leaves it
unanswered; `executor_side.ExecutorSide._answer_change_state`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

import rclpy
from geometry_msgs.msg import PoseWithCovarianceStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo
from std_srvs.srv import Trigger
from tf2_ros import TransformException

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.config import (NODE_NAME, Config, every_node_only_names,
                                    misspelt_node_block_warnings)
from mast3r_ros.core.errors import Mast3rRosError
from mast3r_ros.core.image_stamp import node_image_stamp_note
from mast3r_ros.core.video_stream import LiveVideo
from mast3r_ros.ros import params, topics
from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros.bond import NodeBond
from mast3r_ros.ros.diagnostics import DiagnosticsSummary
from mast3r_ros.ros.diagnostics_publisher import DiagnosticsPublisher
from mast3r_ros.ros.executor_side import ExecutorSide
from mast3r_ros.ros.log_bridge import install_log_bridge
from mast3r_ros.ros.outputs import Outputs
from mast3r_ros.ros.shutdown import (end_process_if_worker_running, exit_steps, run_steps,
                                     spin_until_exit)
from mast3r_ros.ros.tf_client import TfClient
from mast3r_ros.ros.tracking import TrackingState
from mast3r_ros.ros.video_input import (VIDEO_TRANSPORTS, VideoReceipt, check_transport,
                                        reliability_note)
from mast3r_ros.ros.worker import LatestMessageWorker, WorkerStoppedError

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
DIAG_TASK = "localization"
WORKER_JOIN_TIMEOUT_S = 30.0   # deactivate/cleanup wait this long for a frame in inference
EXIT_JOIN_TIMEOUT_S = 1.0      # SIGINT/SIGTERM: the process ends within 2 s


class LocalizerNode(VideoReceipt, ExecutorSide, LifecycleNode):
    """Lifecycle node localizing a camera against a MASt3R keyframe map (see module docstring).

    Spin it on a single-threaded executor (as `main` does): transition callbacks destroy
    entities, which is only race-free when no other executor thread takes from them.
    """

    lookup_errors = (TransformException,)

    def __init__(self, node_name: str = NODE_NAME, *, ros_argv: Optional[Sequence[str]] = None,
                 **kwargs: Any) -> None:
        """``ros_argv``: the arguments rclpy was initialized with (default ``sys.argv``), read
        only to tell which parameter-file block an unknown key came from."""
        super().__init__(node_name, **kwargs)
        self._param_errors = params.declare_parameters(self, conv.parameter_descriptor_msg)
        # an override (files, -p) never declared is silently ignored by rclpy, so a misspelled
        # key is said here; rclpy only keeps them privately (params.parameter_override_names)
        given = params.parameter_override_names(self)
        if given is None:
            self.get_logger().debug("this rclpy does not expose the parameter overrides: "
                                    "misspelled parameter names are not reported")
        argv = list(sys.argv if ros_argv is None else ros_argv)
        if kwargs.get("use_global_arguments", True) is False:
            argv = []
        every_node = every_node_only_names(argv + list(kwargs.get("cli_args") or ()),
                                           self.get_fully_qualified_name())
        for line in params.unknown_parameter_warnings(given or (), every_node or ()):
            self.get_logger().warning(line)
        # a block keyed 'mast3r_localiser:' reaches no node, and rcl says nothing of it
        for line in misspelt_node_block_warnings(
                argv + list(kwargs.get("cli_args") or ()), self.get_fully_qualified_name()):
            self.get_logger().warning(line)

        # _lock, _tracking, _diag, _intrinsics, _info_topic, _errors, _warnings, _tf_timeline
        self._init_frame_path()
        for line in params.startup_error_lines(self._param_errors):  # also on /diagnostics
            self.get_logger().error(line)
        self._diag.parameter_errors = params.startup_errors_text(self._param_errors)
        self._active = False
        self._exiting = threading.Event()       # main() is stopping the process
        self._join_timeout_s = WORKER_JOIN_TIMEOUT_S
        self._worker_stopped = True             # False: a frame outlived the join timeout
        self._cfg: Optional[Config] = None
        self._localizer = None
        self._camera_info: Optional[CameraInfo] = None

        self._tf: Optional[TfClient] = None
        self._outputs: Optional[Outputs] = None
        self._image_sub = self._info_sub = self._initialpose_sub = None
        self._relocalize_srv = self._tf_timer = None
        self._worker = LatestMessageWorker(
            self._process, lambda: self._active, self._on_replaced, self._on_worker_error)

        self._diagnostics = DiagnosticsPublisher(self, DIAG_TASK, self._summary,
                                                 self._shutting_down, self._on_steady_tick)
        # Nav2's lifecycle-manager bond; a broken one is said on /diagnostics
        self._bond = NodeBond(self, self._shutting_down, self._bond_broken)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        add_pre_set = getattr(self, "add_pre_set_parameters_callback", None)  # Iron and later
        if add_pre_set is not None:             # `ros2 param set x 10` stored as 10.0
            add_pre_set(lambda updates: params.integers_as_doubles(
                updates, lambda name, value: Parameter(name, Parameter.Type.DOUBLE, value)))
        # autostart: configure -> activate by the node itself once it spins (ros/self_start.py)
        # a refused start value (-p autostart:=maybe) is WARN on /diagnostics while not active
        self._begin_self_start(self.get_parameter("autostart").value is True,
                               self._diagnostics.hardware_id, self._on_self_start_timer,
                               Clock(clock_type=ClockType.STEADY_TIME), self._param_errors)
        # a change_state that rclpy cannot run is answered success=false, not left unanswered
        service = getattr(self, "_service_change_state", None)   # rclpy's LifecycleNodeMixin
        if service is not None:
            serve = service.callback
            service.callback = lambda request, response: self._answer_change_state(
                serve, request, response, lambda: self._state_machine.current_state[1])
        how = ("it configures and activates itself once it spins (autostart)"
               if self._self_start.pending else
               "configure and activate it through its lifecycle services")
        self.get_logger().info(f"{self._diagnostics.hardware_id} created (unconfigured); {how}")

    def _shutting_down(self) -> bool:
        return self._exiting.is_set() or not self.context.ok()

    # ------------------------------------------------------------------ parameters
    def _on_set_parameters(self, updates: list) -> SetParametersResult:
        cfg = self._cfg
        # the parameters still hold their old values here: a set that changes nothing is
        # accepted while configured (`ros2 param load` of the node's own `ros2 param dump`)
        ok, reason = params.check_parameter_updates(
            updates, self._param_errors, configured=cfg is not None,
            current=lambda name: self.get_parameter(name).value)
        if not ok:  # rclpy wrote the refused value's type into a dynamic descriptor
            params.restore_descriptor_types(
                [p.name for p in updates], self.describe_parameter,
                lambda name: self.get_parameter(name).type_.value)
        if ok:                                  # a bad start-up value set right
            with self._lock:
                self._diag.parameter_errors = params.startup_errors_text(self._param_errors)
        if ok and cfg is not None:
            self._cfg = params.apply_live(cfg, updates)
            timer = self._tf_timer
            if timer is not None:               # tf_publish_rate takes effect at once
                period_ns = int(round(1e9 / self._cfg.node.tf_publish_rate))
                if timer.timer_period_ns != period_ns:
                    timer.timer_period_ns = period_ns
                    timer.reset()               # the new period counts from now
        return SetParametersResult(successful=ok, reason=reason)

    # ------------------------------------------------------------------ transitions
    def _guard(self, name: str, fn: Callable[[], TransitionCallbackReturn],
               undo: Optional[Callable[[], None]] = None) -> TransitionCallbackReturn:
        """Run a transition; exceptions are logged, said on /diagnostics and become FAILURE
        (never None, never raise): `executor_side.ExecutorSide._run_transition`."""
        return self._run_transition(name, fn, undo, FAILURE, SUCCESS)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._guard("configure", self._configure, self._teardown_configured)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._guard("activate", lambda: self._activate(state),
                           lambda: self._undo_activate(state))

    def _undo_activate(self, state: LifecycleState) -> None:
        """An activate that failed part-way (after the base class enabled the lifecycle
        publishers: the keyframe markers, the bond) leaves the node inactive: what it created is
        destroyed and the publishers are disabled again, as a deactivate would."""
        self._teardown_active()
        super().on_deactivate(state)

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
        # /initialpose from configure on, as nav2_amcl (executor_side._configure_subscribed)
        return self._configure_subscribed(
            lambda: self.create_subscription(PoseWithCovarianceStamped, "initialpose",
                                             self._on_initial_pose, 10),
            self._configure_load, SUCCESS)

    def _configure_load(self) -> TransitionCallbackReturn:
        try:
            cfg = params.read_config(lambda name: self.get_parameter(name).value,
                                     self._param_errors)
            check_transport(cfg.node.image_transport)  # a video one: its messages and PyAV
            # built and warmed up on the inference thread, which then runs every frame:
            # compiled CUDA graphs are per thread (ros/worker.py). Meanwhile this (executor)
            # thread waits and publishes /diagnostics every second: a TensorRT build or a
            # compile takes minutes, and the diagnostics timer cannot fire while we block it.
            self._worker.start()
            with self._lock:
                self._diag.configuring_since_s = time.monotonic()
            try:
                localizer = self._worker.call(lambda: self._load_localizer(cfg),
                                              heartbeat=self._diagnostics.publish_now,
                                              cancelled=self._shutting_down)
            finally:
                with self._lock:
                    self._diag.configuring_since_s = None
        except WorkerStoppedError:  # SIGTERM while the model loads: stop waiting, no traceback
            self.get_logger().info("configure cancelled: the process is shutting down")
            self._worker.stop(0.0)
            return FAILURE
        except Mast3rRosError as err:
            self.get_logger().error(f"configure failed: {err}")
            with self._lock:                    # ERROR on /diagnostics until configured
                self._diag.configure_error = str(err)
            self._stop_worker_after_failed_configure()
            return FAILURE
        self._cfg, self._localizer = cfg, localizer
        from mast3r_ros.core.localizer.pipeline import map_frame_mismatch  # loaded already

        with self._lock:  # logged by Localizer.from_config; on /diagnostics while configured
            self._diag.configure_error = ""
            self._diag.config_warning = map_frame_mismatch(cfg.node.map_frame,
                                                           localizer.keyframe_map) or ""
            self._diag.set_focal_tolerance(cfg.localizer.gates.max_focal_error)
        stamps_note = node_image_stamp_note(cfg.node.image_stamp, localizer.keyframe_map.manifest,
                                            cfg.node.map_path)
        if stamps_note:  # image_stamp other than the map's recording was read with: once
            self.get_logger().warning(stamps_note)
        self._tf = TfClient(self, self._shutting_down)
        self._outputs = Outputs(self, cfg.node.map_frame, cfg.node.publish_debug_image,
                                self._shutting_down)
        with self._lock:
            self._tracking = TrackingState(cfg.localizer.lost_after_failures,
                                           cfg.localizer.hint_max_age_s)
        n = cfg.node
        self.get_logger().info(
            f"configured: map '{n.map_path}' ({len(localizer.keyframe_map)} keyframes), "
            f"matcher {cfg.localizer.matcher}, device {cfg.model.device}, frames "
            f"{n.map_frame} -> {n.odom_frame or '(none)'} -> {n.base_frame}, "
            f"image transport {n.image_transport} ({n.image_reliability})")
        return SUCCESS

    def _load_localizer(self, cfg: Config):
        return params.load_localizer(cfg)  # its refusals' fixes in parameters, not flags

    def _stop_worker_after_failed_configure(self) -> None:
        # the load failed, so the thread is idle; only an older thread still in a frame
        # (a straggler of an earlier cleanup) could keep it: do not wait long for that
        if not self._worker.stop(min(self._join_timeout_s, 1.0)):
            self.get_logger().error("the inference thread did not stop after the failed "
                                    "configure")

    def _activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        n = self._cfg.node
        image_type, image_topic = topics.image_topic(n.image_transport)
        video = n.image_transport in VIDEO_TRANSPORTS
        self._image_sub = self.create_subscription(
            image_type, image_topic, self._on_video if video else self._on_image,
            topics.image_qos(n.image_transport, n.image_reliability))
        # a new decoder each activation: the stream is joined anew (video_input)
        self._video = (LiveVideo(topics.topic_name(self._image_sub),
                                 VIDEO_TRANSPORTS[n.image_transport][2]) if video else None)
        note = reliability_note(n.image_transport, n.image_reliability)
        if note:
            self.get_logger().warning(note)
        self._info_sub = self.create_subscription(CameraInfo, "camera_info",
                                                  self._on_camera_info, topics.camera_info())
        self._info_topic = topics.topic_name(self._info_sub)   # the worker never touches subs
        # the image topic's name (remapped) checked against image_rectified once per calibration
        self._image_topic = topics.topic_name(self._image_sub)  # what image warnings name
        self._intrinsics = mf.IntrinsicsCache(self._info_topic, image_topic=self._image_topic,
                                              clock=self._now)
        self._relocalize_srv = self.create_service(Trigger, "~/relocalize", self._on_relocalize)
        if n.publish_tf:
            self._tf_timer = self.create_timer(1.0 / n.tf_publish_rate, self._on_tf_timer)
        result = super().on_activate(state)
        # executor_side: worker, diagnostics, activation epoch; a base class that refused
        # leaves the node inactive, what was created above torn down
        if not self._finish_activation(result, SUCCESS, lambda: self._undo_activate(state),
                                       FAILURE):
            return result
        self._outputs.keyframes(self._localizer.keyframe_map,
                                max(self.get_clock().now().nanoseconds, 0))
        topic = topics.topic_name(self._image_sub)
        self.get_logger().info(f"active: localizing images from {topic}")
        self._bond.start(n.bond_heartbeat_period)  # as nav2_util's createBond on activate
        return result

    def begin_exit(self, join_timeout_s: float = EXIT_JOIN_TIMEOUT_S) -> None:
        """For main(): the process is ending. Publishing errors become silent and the worker
        is given ``join_timeout_s`` to finish its frame."""
        self._exiting.set()
        self._join_timeout_s = join_timeout_s

    def stop_worker(self) -> None:
        """For main(): stop the inference thread, giving its frame ``join_timeout_s``; the exit
        steps after it do not wait for the frame again (the process ends within 2 s)."""
        self._set_active(False)
        self._worker_stopped = self._worker.stop(self._join_timeout_s)
        self._join_timeout_s = 0.0

    @property
    def worker_running(self) -> bool:
        """For main(): the inference thread outlived its bounded join (still in a frame)."""
        return not self._worker_stopped

    def release_resources(self) -> None:
        """For main(): stop the worker and free the model before the node is destroyed."""
        self._teardown_configured()

    # ------------------------------------------------------------------ callbacks
    def _on_image(self, msg: Any) -> None:
        # processing: image_stamp 'receive' restamp (errors refused, not raised), count, offer
        self._receive_image(msg, self._worker.offer)

    def _on_video(self, msg: Any) -> None:
        # video_input: decoded here, every packet in order; its picture then as an image
        self._receive_video(msg, self._worker.offer)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_initial_pose(self, msg: PoseWithCovarianceStamped) -> None:
        self._receive_initial_pose(msg)     # executor_side: a stream's?, clock, odometry

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
        self._tf_tick()                     # executor_side: clock check, re-broadcast

    def _on_steady_tick(self) -> None:
        self._steady_tick()                 # executor_side: clock check, keyframe re-stamp

    def _on_self_start_timer(self) -> None:
        # executor_side: once, cancelled; rclpy's own transitions (callbacks, transition_event)
        self._self_start_tick(self.trigger_configure, self.trigger_activate, SUCCESS)

    # ------------------------------------------------------------------ diagnostics
    def _summary(self) -> DiagnosticsSummary:
        with self._lock:
            return self._diag.summary(time.monotonic(), self._tracking.track, self._active)


def _ignore_exit_signals() -> None:
    """A second SIGINT (Ctrl-C reaches the whole process group, and ros2 launch forwards one
    too) or a SIGTERM must not interrupt the exit steps with a KeyboardInterrupt traceback."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:  # not the main thread (embedded use): nothing to do
        pass


def main(args=None) -> None:
    """``ros2 run mast3r_ros localizer_node``: spin the node on a single-threaded executor.

    SIGINT (KeyboardInterrupt) and SIGTERM (rclpy shuts the context down: spin returns or raises
    ExternalShutdownException) end it the same way, without a traceback, in the order of
    `shutdown.exit_steps`: the worker first (bounded join), then the node's entities, the
    executor, the node and the context. Any other exception escaping the executor is logged
    (throttled) and spinning resumes (`shutdown.spin_until_exit`).
    """
    node: Optional[LocalizerNode] = None
    executor: Optional[SingleThreadedExecutor] = None
    uninstall_log_bridge = None
    try:
        rclpy.init(args=args)
        try:
            node = LocalizerNode(ros_argv=sys.argv if args is None else args)
            # the library's `logging` lines (warm-up, "TensorRT engines built", ...) to /rosout
            uninstall_log_bridge = install_log_bridge(node.get_logger())
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            spin_until_exit(executor.spin, rclpy.ok, node.report_executor_error,
                            (KeyboardInterrupt, ExternalShutdownException))
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            _ignore_exit_signals()
            if node is not None:
                node.begin_exit()
            log = logging.getLogger(__name__)
            run_steps(exit_steps(
                stop_worker=lambda: node is not None and node.stop_worker(),
                release_node=lambda: node is not None and node.release_resources(),
                shutdown_executor=lambda: executor is not None and executor.shutdown(1.0),
                destroy_node=lambda: node is not None and node.destroy_node(),
                shutdown_context=rclpy.try_shutdown),
                lambda name, err: log.warning("exit step %s failed: %r", name, err))
            if uninstall_log_bridge is not None:
                uninstall_log_bridge()
    except KeyboardInterrupt:  # a second Ctrl-C before the exit steps ignored it
        pass
    # reached only on a normal exit: an exception escaping above keeps its traceback and status
    end_process_if_worker_running(node is not None and node.worker_running)


if __name__ == "__main__":
    main()
