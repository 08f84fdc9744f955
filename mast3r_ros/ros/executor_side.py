"""What the node's executor-thread callbacks decide (no rclpy): the TF re-broadcast tick, the
steady one-second tick, /initialpose, a node clock that jumps back seen by any of them, and the
teardown of the transitions (deactivate, cleanup, shutdown, error; `main` at exit).

A mixin of `node.LocalizerNode` over `processing.FrameProcessing` (the state it shares with the
worker thread: ``_lock``, ``_tracking``, ``_diag``, ``_tf_timeline``, ``_tf``, ``_outputs``,
``_cfg``, ``_active``, ``get_clock``, ``get_logger``, ``lookup_errors``; for the teardown also
``_bond``, ``_worker``, ``_exiting``, ``_join_timeout_s``, ``_worker_stopped``, ``_localizer``,
``_camera_info``, the activate-time entities ``_image_sub``, ``_info_sub``,
``_relocalize_srv``, ``_tf_timer``, ``_video`` (`video_input`), the configure-time
``_initialpose_sub`` and rclpy's ``destroy_subscription``, ``destroy_service``,
``destroy_timer``; for parameter ``autostart`` ``_self_start`` and its one-shot
``_self_start_timer`` from ``create_timer``). The node's callbacks only call these methods, so
the wiring is tested without ROS (test_ros_clock_jumps, test_ros_teardown,
test_ros_self_start); test/ros runs the same through rclpy.

A node clock that jumps back more than a second (``ros2 bag play --loop --clock`` with
``use_sim_time``, a simulator reset) resets the tracking (its held map->odom is the old
timeline's), clears the TF buffer as tf2 does (`admission.TfTimeline.after_clock`) and stamps the
latched ~/keyframes on the new timeline; it is said in one warning.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Optional

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.errors import InputError
from mast3r_ros.ros import params
from mast3r_ros.ros.diagnostics import ERROR, WARN
from mast3r_ros.ros.frames import localization_tf, planar_pose
from mast3r_ros.ros.processing import FrameProcessing
from mast3r_ros.ros.self_start import SELF_START_DELAY_S, SelfStart, refused_change_state_line
from mast3r_ros.ros.tracking import initial_pose_to_map_from_base

JUMP = "the clock jumped back (bag loop or sim reset)"


@dataclasses.dataclass(frozen=True)
class ClockJump:
    """What a node clock reading found: ``reset`` (the tracking held a TF of the old timeline
    and was reset), ``cleared`` (the TF buffer was cleared). Falsy when neither."""

    reset: bool = False
    cleared: bool = False

    def __bool__(self) -> bool:
        return self.reset or self.cleared


class ExecutorSide(FrameProcessing):
    """The executor thread's callbacks of `node.LocalizerNode`, without rclpy (see module)."""

    _self_start: Optional[SelfStart] = None      # the node sets its own (parameter autostart)
    _self_start_timer: Any = None

    # ------------------------------------------------------------------ clock
    def _check_clock(self, now_ns: int) -> ClockJump:
        """A node clock reading (integer ns) of the executor thread: when it jumped back, the
        tracking is reset, the TF buffer cleared and the latched ~/keyframes stamped ``now_ns``.
        Logs nothing (the caller says it once, `clock_jump_warning`)."""
        with self._lock:
            reset = self._tracking.clock_jumped_back(now_ns)
            if reset:
                self._diag.note_reset(time.monotonic(), "the clock jumped back")
        cleared = self._tf_timeline.after_clock(now_ns)
        if cleared and self._tf is not None:
            self._tf.clear()
        elif reset:  # the timeline saw the jump first: suspect the buffer (after_lookup)
            self._tf_timeline.on_backwards()
        jump = ClockJump(reset, cleared)
        outputs = self._outputs
        if jump and outputs is not None:
            outputs.restamp_keyframes(now_ns)
        return jump

    def _on_clock_reading(self, now_ns: int) -> bool:
        """`_check_clock`, warning once when the clock jumped back; True then."""
        jump = self._check_clock(now_ns)
        if jump:  # a line every 5 s at most: two /clock sources jump back every other tick
            self._warn_throttled("clock_jump", clock_jump_warning(jump))
        return bool(jump)

    # ------------------------------------------------------------------ timers
    def _tf_tick(self) -> None:
        """The TF timer (node clock, ``tf_publish_rate``): a clock jump back is seen first,
        then the held map->odom is re-broadcast stamped now + transform_tolerance, sent in
        the same hold of ``_lock`` as its stamp is taken, as a frame's TF is: a frame's TF
        stamped meanwhile would otherwise go out before this older-stamped one. Never raises
        (an error is logged, throttled, and said on /diagnostics)."""
        try:
            if not self._active or self._tf is None:
                return
            n = self._cfg.node
            now_ns = self.get_clock().now().nanoseconds
            self._on_clock_reading(now_ns)  # a jump back resets the tracking first
            with self._lock:
                jumped, send = self._tracking.rebroadcast(now_ns, n.transform_tolerance)
                if jumped:  # not after _on_clock_reading's reset: only a clock read meanwhile
                    self._diag.note_reset(time.monotonic(), "the clock jumped back")
                if send is not None:  # None after a jump: the reset dropped the held TF
                    self._send_tf(*send)
            if jumped:
                self._tf_timeline.on_backwards()
        except Exception as err:  # noqa: BLE001 - never let a timer end spin()
            self._report_error("TF re-broadcast failed", err, frame=False)

    def _steady_tick(self) -> None:
        """Every second on the steady clock (the diagnostics timer), while active: keyframe
        markers published at activate while the node clock read 0 (``use_sim_time`` before
        /clock) are published again stamped once it runs, and a clock that jumped back is seen
        with ``publish_tf`` off too (a timer on the node clock would wait for /clock as well,
        and exists only with ``publish_tf``)."""
        outputs = self._outputs
        if self._active and outputs is not None:
            now_ns = self.get_clock().now().nanoseconds
            if not self._on_clock_reading(now_ns):
                outputs.restamp_keyframes(now_ns)

    # ------------------------------------------------------------------ /initialpose
    def _receive_initial_pose(self, msg: Any) -> None:
        """The subscription's /initialpose: `_initial_pose`, unless it is one of a stream
        (`initial_pose_rate`: a pose topic remapped onto it), ignored in the throttled warning
        of the refusals. Never raises."""
        why = self._initialpose_stream.refuse()
        if why:
            self._ignore_initial_pose(why, "stream")
            return
        self._initial_pose(msg)

    def _initial_pose(self, msg: Any) -> None:
        """/initialpose (``geometry_msgs/PoseWithCovarianceStamped`` in ``map_frame``): reset
        the tracking around the operator's base pose, carried by odometry from its stamp
        (`_initial_pose_odometry`), and hold
        it as the broadcast map->odom (``publish_tf``) until a frame localizes.

        A clock jump back is seen first: the state is reset now, not at the next TF tick (which
        would drop the operator's pose with the old timeline), and the odometry is then read
        from the buffer the jump cleared, never the old timeline's. Refused with one warning,
        also said on /diagnostics (WARN for its window while active; `_ignore_initial_pose`):
        inactive, another frame, no odometry TF yet. Never raises.

        Received while configured but not active (an rviz click before Nav2's lifecycle manager
        activates the node), a pose in ``map_frame`` is kept, the latest one, and applied when
        the node is activated (`_apply_pending_initial_pose`), as nav2_amcl does; one info line
        says so. Unconfigured, it is ignored (the subscription exists from configure on)."""
        if not self._active:
            self._keep_initial_pose(msg)
            return
        jump = ClockJump()
        try:
            n = self._cfg.node
            map_from_base = initial_pose_to_map_from_base(msg, n.map_frame)
            jump = self._check_clock(self.get_clock().now().nanoseconds)
            odom_from_base = self._initial_pose_odometry(msg)
            odom = odom_from_base if n.odom_frame else None
            hold = (localization_tf(planar_pose(map_from_base) if n.two_d_mode else
                                    map_from_base, odom, n.map_frame, n.odom_frame, n.base_frame)
                    if n.publish_tf else None)
        except (InputError, *self.lookup_errors) as err:
            after = (f" ({JUMP} just before it: {_done(jump)}; send the pose again once the "
                     "new timeline's TF arrives)" if jump else "")
            self._ignore_initial_pose(f"{err}{after}", "input" if isinstance(err, InputError)
                                      else "tf")
            return
        except Exception as err:  # noqa: BLE001 - never let a callback end spin()
            self._report_error("/initialpose handling failed", err, frame=False)
            return
        with self._lock:
            self._tracking.set_initial_pose(map_from_base, odom_from_base, hold)
            self._diag.note_reset(time.monotonic(), "/initialpose received")
        x, y, z = map_from_base[:3, 3]
        line = (f"initial pose received ({x:.2f}, {y:.2f}, {z:.2f}): tracking reset, the next "
                "image is localized around it")
        if not jump:
            self.get_logger().info(line)
        elif jump.cleared:
            self.get_logger().warning(f"{line}; {JUMP} just before it: {_done(jump)}, the pose "
                                      "is set on the new timeline")
        else:
            self.get_logger().warning(f"{line}; {JUMP} just before it: its odometry, from the "
                                      "TF buffer, may still be the old timeline's (set the "
                                      "pose again if the robot is misplaced)")

    def _keep_initial_pose(self, msg: Any) -> None:
        """/initialpose while not active: kept for activate when configured and in
        ``map_frame`` (a later one replaces it), else ignored with the reason."""
        cfg = self._cfg
        if cfg is None:
            self._ignore_initial_pose("the node is not configured", "unconfigured")
            return
        try:
            map_from_base = initial_pose_to_map_from_base(msg, cfg.node.map_frame)
        except InputError as err:
            self._ignore_initial_pose(str(err), "input")
            return
        except Exception as err:  # noqa: BLE001 - never let a callback end spin()
            self._report_error("/initialpose handling failed", err, frame=False)
            return
        replaced = self._pending_initial_pose is not None
        self._pending_initial_pose = msg
        x, y, z = map_from_base[:3, 3]
        self.get_logger().info(
            f"initial pose received while the node is not active ({x:.2f}, {y:.2f}, {z:.2f}): "
            f"kept{' (replacing the one kept before)' if replaced else ''}, applied when the "
            "node is activated")

    def _apply_pending_initial_pose(self) -> None:
        """At activate (the node active): the /initialpose kept while inactive, if any, is
        handled as one received now (`_initial_pose`; its odometry is looked up at its stamp,
        else the latest, as for any /initialpose). Never raises."""
        msg, self._pending_initial_pose = self._pending_initial_pose, None
        if msg is not None:
            self._initial_pose(msg)

    def _initial_pose_odometry(self, msg: Any) -> Any:
        """odom_frame -> base_frame (4x4) for an /initialpose: at its header stamp, where the
        operator's pose holds (AMCL carries the pose from its stamp by odometry too), else the
        latest (a zero or malformed stamp, one older than the TF buffer or on another clock:
        some rviz2 releases stamp it with the system clock). Identity without an
        odometry frame. Raises one of ``lookup_errors`` when there is no odometry at all."""
        n = self._cfg.node
        target = n.odom_frame or n.base_frame
        try:
            stamped = n.odom_frame and mf.header_stamp_ns(msg.header) > 0
        except InputError:
            stamped = False
        if stamped:
            try:
                return self._tf.lookup(target, n.base_frame, msg.header.stamp, timeout_s=0.0)
            except self.lookup_errors:
                pass
        return self._tf.lookup(target, n.base_frame, None, timeout_s=0.0)

    def _ignore_initial_pose(self, why: str, kind: str) -> None:
        """An /initialpose refused: a warning, and the value ``last_initialpose_ignored``
        with WARN on /diagnostics for its window (an operator's click, not a fault of the
        node): someone watching /diagnostics, not the log, sees why the robot did not move.
        The warning goes through the per-``kind`` throttle (``unconfigured``, ``input``: its
        frame or values, ``tf``: no odometry, ``stream``: a stream's): the first at once, then
        a line every 5 s at most with the number held back. /diagnostics takes each."""
        text = f"ignoring /initialpose: {why}"
        self._warn_throttled(f"initialpose_{kind}", text)
        with self._lock:
            self._diag.note(time.monotonic(), "initialpose_ignored", WARN, text)

    def _bond_broken(self, text: str) -> None:
        """For `bond.NodeBond`: a bond with Nav2's lifecycle manager that broke (a warning in
        the log already). ERROR on /diagnostics for its window, value ``last_bond_failure``:
        the lifecycle manager takes a lost bond as this node being down and brings the
        managed stack down (reset, or respawn), whatever the node itself still does."""
        with self._lock:
            self._diag.note(time.monotonic(), "bond_failure", ERROR,
                            f"{text} (Nav2's lifecycle manager takes the node as down)")

    def _teardown_problem(self, text: str) -> None:
        """A frame in inference that outlived a transition's wait: logged as an error, and
        ERROR on /diagnostics for its window (the node is not active then), value
        ``last_teardown_problem``."""
        self.get_logger().error(text)
        with self._lock:
            self._diag.note(time.monotonic(), "teardown_problem", ERROR, text)

    # ------------------------------------------------------------------ executor errors
    def report_executor_error(self, err: Exception) -> None:
        """For main(): an exception that escaped the executor (logged throttled, on
        /diagnostics; it spins on)."""
        self._report_error("the executor raised (spinning on)", err, frame=False)

    # ------------------------------------------------------------------ transitions
    def _run_transition(self, name: str, fn: Callable[[], Any],
                        undo: Optional[Callable[[], None]], failure: Any, success: Any) -> Any:
        """Run the lifecycle transition ``name`` (``fn()`` returns rclpy's
        TransitionCallbackReturn) -> its result, or ``failure`` (rclpy's FAILURE) when it raised
        or returned anything else: rclpy neither logs an exception of a transition callback nor
        survives a None (ROS_NOTES 1). Never raises. An exception is logged with its traceback,
        ``undo()`` runs (its own error logged too), and /diagnostics says it (ERROR while not
        active: `DiagnosticsWindow.configure_error` for configure, ``transition_error`` for the
        others) until a later transition returns ``success`` (rclpy's SUCCESS).

        Only ``success`` clears it, and not that of ``name`` 'error': a result that is neither
        (rclpy's ERROR: the base class's on_activate) sends rclpy into its error processing,
        whose on_error succeeding only releases the configuration (-> unconfigured), so the
        error that led there stays said (the transition's own text, else '<name> returned
        ERROR'). A shutdown that succeeded, or an on_error that failed (rclpy then finalizes
        the node, ROS_NOTES 1), is said as the node's end (finalized: it cannot be configured
        again)."""
        outside = self._self_start.note_transition(name) if self._self_start else ""
        with self._lock:
            said = self._diag.transition_error
            if outside:
                self._diag.autostart = self._self_start.status
        if outside:
            self.get_logger().info(outside)
        try:
            result = fn()
        except Exception as err:  # noqa: BLE001 - a transition must always return
            self.get_logger().error(f"{name} failed: {err!r}\n{traceback.format_exc()}")
            with self._lock:
                if name == "configure":         # ERROR on /diagnostics until configured
                    self._diag.configure_error = f"{err!r} (traceback in the log)"
                else:                           # ERROR while not active, until one succeeds
                    self._diag.transition_error = (f"{name} failed: {err!r} (traceback in "
                                                   "the log)")
            if undo is not None:
                try:
                    undo()
                except Exception as undo_err:  # noqa: BLE001
                    self.get_logger().error(f"{name}: undoing it also failed: {undo_err!r}")
            return failure
        if not isinstance(result, type(failure)):
            return failure
        with self._lock:
            if result == success:
                if name != "error":
                    self._diag.transition_error = ""
                self._diag.finalized = self._diag.finalized or name == "shutdown"
            elif result != failure:             # ERROR: rclpy's on_error follows
                if self._diag.transition_error == said:   # not said by the transition itself
                    self._diag.transition_error = (f"{name} returned {result!r} (rclpy's "
                                                   "on_error released the configuration)")
            elif name == "error":               # rclpy finalizes the node
                self._diag.finalized = True
        return result

    # ------------------------------------------------------------------ configure
    def _configure_subscribed(self, subscribe: Callable[[], Any], configure: Callable[[], Any],
                              success: Any) -> Any:
        """Configure (``configure()`` returns rclpy's TransitionCallbackReturn) with /initialpose
        subscribed first (``subscribe()`` creates the subscription), as nav2_amcl subscribes it
        at configure: a pose sent while the model loads waits in the subscription's queue and,
        the node then inactive, is kept for activate (`_initial_pose`). Any result but
        ``success`` (rclpy's SUCCESS), or an exception (raised on), destroys it again."""
        self._initialpose_sub = subscribe()
        result = None
        try:
            result = configure()
            return result
        finally:
            if result != success:
                self._destroy_entity("_initialpose_sub", self.destroy_subscription)

    # ------------------------------------------------------------------ activate
    def _begin_activation(self) -> None:
        """The end of activate, once its entities exist and the lifecycle publishers are
        enabled: the inference thread runs (restarted if it was lost; a frame left waiting is
        dropped), /diagnostics' window starts, and frames are taken in a new activation epoch
        (a frame of an earlier activation still in inference publishes nothing); an
        /initialpose kept while inactive is applied."""
        self._worker.start()
        with self._lock:
            self._diag.start(time.monotonic())
        self._set_active(True)
        self._apply_pending_initial_pose()

    def _finish_activation(self, result: Any, success: Any, undo: Callable[[], None],
                           failure: Any) -> bool:
        """Activate's step after the lifecycle base class's on_activate returned ``result``:
        ``success`` (rclpy's SUCCESS) begins the activation (`_begin_activation`) and returns
        True. Anything else (FAILURE, ERROR: the node does not become active) returns False
        without marking the node active: the refusal is logged and said on /diagnostics, and
        ``undo()`` destroys what activate created, as after an activate that raised
        (`_run_transition`; its own error logged). ``failure`` (rclpy's FAILURE) leaves the
        node inactive; any other result sends rclpy into its error processing (on_error, the
        configuration released: unconfigured), which the log line and /diagnostics say. Never
        raises from ``undo``; the caller returns ``result``."""
        if result == success:
            self._begin_activation()
            return True
        why = f"activate failed: the lifecycle base class's on_activate returned {result!r}"
        then = ("the node stays inactive" if result == failure else
                "rclpy's on_error follows: the configuration is released (unconfigured), "
                "configure the node again")
        self.get_logger().error(f"{why}; {then}")
        with self._lock:
            self._diag.transition_error = f"{why}; {then}"
        try:
            undo()
        except Exception as undo_err:  # noqa: BLE001 - a transition must always return
            self.get_logger().error(f"activate: undoing it also failed: {undo_err!r}")
        return False

    def _self_start_tick(self, configure: Callable[[], Any], activate: Callable[[], Any],
                         success: Any) -> None:
        """The one-shot timer of parameter ``autostart`` fired: it is cancelled, and the node
        configures, then activates, itself (`self_start.SelfStart.run`; ``configure`` and
        ``activate`` are rclpy's ``trigger_configure`` / ``trigger_activate``, ``success``
        its SUCCESS). What became of it is logged and is the /diagnostics value ``autostart``;
        a transition that could not be requested is ERROR there while the node is not active
        (``transition_error``), as a failed one is. Never raises."""
        timer = self._self_start_timer
        if timer is not None:
            try:
                timer.cancel()
            except Exception as err:  # noqa: BLE001 - run() is once only anyway
                self.get_logger().debug(f"cancelling the autostart timer failed: {err!r}")
        if self._self_start is None:
            return
        lines = self._self_start.run(configure, activate, lambda r: r == success,
                                     self._shutting_down)
        for level, line in lines:
            (self.get_logger().error if level == "error" else self.get_logger().info)(line)
        with self._lock:
            self._diag.autostart = self._self_start.status
            if self._self_start.request_error:
                self._diag.transition_error = self._self_start.request_error

    def _begin_self_start(self, enabled: bool, node_name: str, on_timer: Callable[[], None],
                          steady_clock: Any, errors: Optional[Mapping[str, str]] = None
                          ) -> None:
        """At start-up, parameter ``autostart`` (``enabled``): `SelfStart` for ``node_name``
        (fully qualified), its /diagnostics value, and when enabled the one-shot timer that
        calls ``on_timer`` (`_self_start_tick`) on ``steady_clock`` (rclpy's STEADY_TIME
        Clock: `self_start.SELF_START_DELAY_S` says why not the node's clock). A start value
        of autostart refused (in ``errors``, `params.declare_parameters`' start-up errors:
        ``-p autostart:=maybe``) is named in that value and is WARN while the node is not
        active (`DiagnosticsWindow.autostart_refused`)."""
        errors = errors or {}
        self._self_start = SelfStart(enabled, node_name)
        with self._lock:
            self._diag.autostart = params.refused_start_status(self._self_start.status,
                                                               "autostart", errors)
            self._diag.autostart_refused = errors.get("autostart", "")
        if self._self_start.pending:
            self._self_start_timer = self.create_timer(SELF_START_DELAY_S, on_timer,
                                                       clock=steady_clock)

    def _answer_change_state(self, serve: Callable[[Any, Any], Any], request: Any,
                             response: Any, state: Callable[[], str]) -> Any:
        """The ``change_state`` service callback: rclpy's own (``serve``), whose exception
        (RCLError for a transition the current state lacks: Nav2's lifecycle_manager
        configuring a node that configured itself) becomes ``success: false`` and one error
        line (`self_start.refused_change_state_line`) instead of an unanswered request that
        leaves the caller waiting for ever. ``state()``: the node's state label now. Never
        raises an Exception."""
        try:
            return serve(request, response)
        except Exception as err:  # noqa: BLE001 - the caller must get an answer
            try:
                now = state()
            except Exception:  # noqa: BLE001
                now = "unknown"
            t = request.transition
            name = f"{t.id}" + (f" ('{t.label}')" if t.label else "")
            start = self._self_start
            bring_up = start.status if start is not None and start.ran_transition else ""
            self.get_logger().error(refused_change_state_line(name, now, err, bring_up))
            response.success = False
            return response

    # ------------------------------------------------------------------ teardown
    def _teardown_active(self) -> bool:
        """Stop taking frames (the one in inference is waited for, bounded), then destroy what
        activate created. Runs on the executor thread (a transition) or after the executor
        stopped (main). The bond ends first, as nav2_util's destroyBond on deactivate. Returns
        False when the frame in inference outlived the wait."""
        self._bond.stop()
        self._set_active(False)     # a frame in inference now publishes nothing (processing)
        paused = self._worker.pause(self._join_timeout_s)
        if not paused and not self._exiting.is_set():
            self._teardown_problem(
                f"the frame in inference did not end within {self._join_timeout_s:.0f} s")
        for attr, destroy in (("_image_sub", self.destroy_subscription),
                              ("_info_sub", self.destroy_subscription),
                              ("_relocalize_srv", self.destroy_service),
                              ("_tf_timer", self.destroy_timer)):
            self._destroy_entity(attr, destroy)
        # the video decoder goes with its subscription: a packet rclpy still hands over (taken
        # in the executor's last wait) is dropped, not decoded and counted while inactive
        self._video = None
        return paused

    def _destroy_entity(self, attr: str, destroy: Callable[[Any], Any]) -> None:
        """Destroy the entity held in ``attr`` (None afterwards); an error is logged."""
        handle = getattr(self, attr)
        if handle is not None:
            setattr(self, attr, None)
            try:
                destroy(handle)
            except Exception as err:  # noqa: BLE001 - the others (and the model) go still
                self.get_logger().error(f"destroying {attr[1:]} failed: {err!r}")

    def _teardown_configured(self) -> None:
        """Release what configure and activate made (cleanup, shutdown, error, and `main` at
        exit): the worker is stopped (bounded), then the bond, TF and publishers go (a frame
        still in inference after the wait finds their publish gates closed and publishes
        nothing), then the model, unless its thread is still in a frame. Each step runs when
        the one before it failed (logged); /diagnostics stops reporting the configuration."""
        paused = self._teardown_active()
        # the inference thread ends with the model it runs; if a frame is still in inference
        # after the timeout, the model is not freed under it (the process exit frees it). A
        # pause that already waited its timeout is not waited for a second time.
        self._worker_stopped = self._worker.stop(self._join_timeout_s if paused else 0.0)
        if not self._worker_stopped and not self._exiting.is_set():
            self._teardown_problem(
                f"the inference thread did not stop within {self._join_timeout_s:.0f} s; "
                "its model is left to the process exit")
        # /initialpose is subscribed while configured (as nav2_amcl): a pose kept while
        # inactive goes with the configuration
        self._destroy_entity("_initialpose_sub", self.destroy_subscription)
        self._pending_initial_pose = None
        self._bond.close()                      # stop (above) and its publisher
        tf, self._tf = self._tf, None
        if tf is not None:
            for problem in tf.close():          # never raises: the model is released below
                self.get_logger().error(problem)
        outputs, self._outputs = self._outputs, None
        if outputs is not None:
            try:
                outputs.close()
            except Exception as err:  # noqa: BLE001 - the model is released below all the same
                self.get_logger().error(f"destroying the publishers failed: {err!r}")
        self._release_localizer()
        self._cfg = None
        self._camera_info = None
        self._intrinsics = mf.IntrinsicsCache(clock=self._now)
        with self._lock:                        # the configuration's warning goes with it
            self._diag.cleaned_up()

    def _release_localizer(self) -> None:
        localizer, self._localizer = self._localizer, None
        if localizer is not None and self._worker_stopped:
            try:
                localizer.close()
            except Exception as err:  # noqa: BLE001 - releasing must not stop the teardown
                self.get_logger().error(f"releasing the localizer failed: {err!r}")


def clock_jump_warning(jump: ClockJump) -> str:
    """The one warning line for a node clock that jumped back."""
    parts = [JUMP + ":"]
    if jump.reset:
        parts.append("tracking reset, no TF until relocalized;")
    parts.append("TF buffer cleared (old timeline)" if jump.cleared else
                 "the TF buffer is cleared if a lookup fails")
    return " ".join(parts)


def _done(jump: ClockJump) -> str:
    return ", ".join(what for what, done in (("tracking reset", jump.reset),
                                             ("TF buffer cleared", jump.cleared)) if done)
