"""The node bringing itself up: parameter ``autostart`` (no rclpy).

With ``autostart: true`` the node configures itself, then activates itself once configure
succeeded, from a one-shot timer that fires when its executor first spins (`SELF_START_DELAY_S`):
rclpy's ``trigger_configure`` / ``trigger_activate`` run the same transition callbacks, state
machine and ``transition_event`` messages as a ``change_state`` request does (rclpy's
``LifecycleNodeMixin.__change_state`` serves both; ROS_NOTES 1).

Why not launch's lifecycle events. ``localize.launch.py`` used to emit a ``ChangeState``
(configure) at every start of the process, for ``use_respawn``. launch_ros sends it as a
service request once ``wait_for_service`` says the node's ``change_state`` exists
(``LifecycleNode._call_change_state``), and after a crash the dead process's service may still
be discovered (a crashed participant stays in the DDS graph until its lease runs out; rclpy
issue #1191: ``wait_for_service`` returned True for a server that was gone): the request then
goes to nobody, the new process never sees it (``rmw_qos_profile_services_default`` is
VOLATILE: nothing is kept for a late server), launch_ros waits for its answer without a timeout,
and the node stayed unconfigured for good. Not reproduced here (no ROS install); read from the
sources named. A node that configures itself needs no message. ``autostart`` false (the
default, and what the launch file gives the node under Nav2's lifecycle manager) changes
nothing: the node waits for transitions from outside.

Never a double bring-up: a transition requested from outside (a lifecycle manager,
``ros2 lifecycle set``) before the timer fires cancels the node's own, which is said once
(`SelfStart.note_transition`); one requested after it, which rclpy raises on (a transition the
state lacks), is answered ``success: false`` with the reason (`refused_change_state_line`,
``ExecutorSide._answer_change_state``). A configure that fails leaves the node unconfigured and
up, as a failed configure requested from outside does: the configure itself logs why and says
it on /diagnostics; `SelfStart.run` adds what to do next and nothing retries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, List, Tuple

# One-shot timer period: the first executor spin after it fires it (nothing waits for it). The
# timer runs on a steady clock: on the node's clock under use_sim_time it would wait for the
# first /clock (a bag not yet playing, a paused simulation), and the model would then load while
# the bag plays.
SELF_START_DELAY_S = 0.1


def refused_change_state_line(transition: str, state: str, err: BaseException,
                              bring_up: str) -> str:
    """The error line of a ``change_state`` request that rclpy could not run (``transition``:
    its id and label as received; ``state``: the node's state label; ``err``: what rclpy
    raised, RCLError 'Transition is not registered' for a transition the state lacks). rclpy
    (Humble 3.3, Jazzy 7.1) lets that exception out of the service callback unanswered, so the
    caller (Nav2's lifecycle_manager, launch's ChangeState) would wait for ever; the node
    answers ``success: false`` instead, as rclcpp does, and says so. ``bring_up``: what the
    node's own bring-up (parameter autostart) became, `SelfStart.status`, when it ran any
    transition (configured and activated itself, or configured and failed to activate: the
    usual cause under a lifecycle manager, which is told to set autostart false); '' when it
    ran none."""
    line = (f"change_state: rclpy could not run transition {transition} (state now "
            f"'{state}'; {err!r}): answered success=false")
    if bring_up:
        line += (f"; the node ran its own bring-up first (parameter autostart true; "
                 f"{bring_up}): when a lifecycle manager drives the node, set autostart false "
                 "(launch argument autostart:=false)")
    return line


class SelfStart:
    """One bring-up of the node by itself (module docstring); not thread-safe (the executor
    thread calls it).

    ``enabled``: the ``autostart`` parameter when the node started; ``node_name``: the node's
    fully qualified name, for the commands its lines give. ``status`` is the /diagnostics
    value ``autostart``: 'off', 'pending', then what became of it.
    """

    def __init__(self, enabled: bool, node_name: str = "/mast3r_localizer") -> None:
        self.enabled = bool(enabled)
        self.node_name = node_name
        self.status = "pending" if self.enabled else "off"
        self.pending = self.enabled
        self.request_error = ""  # a transition that could not be requested (/diagnostics)
        self.ran_transition = False  # `run` requested a transition and rclpy ran it
        self._running = False

    def note_transition(self, name: str) -> str:
        """A transition callback (``name``: configure, activate, ...) is about to run. Not one
        of `run`'s and the bring-up still pending: the lifecycle is driven from outside, the
        bring-up is cancelled and the line to log (info) is returned, once; else ''."""
        if self._running or not self.pending:
            return ""
        self.pending = False
        self.status = (f"not run: {name} was requested from outside first (a lifecycle manager "
                       "or ros2 lifecycle set drives the node)")
        line = (f"autostart: {name} was requested from outside before the node configured "
                "itself: the node leaves its lifecycle to whoever requested it")
        # configure is what a lifecycle manager sends first; a shutdown (or another transition)
        # typed by hand is no sign of one
        if name == "configure":
            line += " (set autostart false when a lifecycle manager drives the node)"
        return line

    def run(self, configure: Callable[[], Any], activate: Callable[[], Any],
            succeeded: Callable[[Any], bool], shutting_down: Callable[[], bool]
            ) -> List[Tuple[str, str]]:
        """The bring-up, once (later calls, or after `note_transition` cancelled it: nothing):
        ``configure()``, then ``activate()`` when ``succeeded`` says configure did (rclpy's
        ``trigger_configure`` / ``trigger_activate``, each returning the transition's
        TransitionCallbackReturn; once configure returned, whatever its result,
        `ran_transition` is True). Returns the lines to log, ``(level, text)`` with level
        'info' or 'error'; sets `status`. Never raises: a transition that cannot even be
        requested (rclpy raises RCLError for one the state machine does not allow) is an
        error line too. A failure while ``shutting_down()`` (a signal during the model load)
        is said at info level."""
        if not self.pending:
            return []
        self.pending = False
        self._running = True
        step = "configure"
        try:
            result = configure()
            self.ran_transition = True
            if succeeded(result):
                step = "activate"
                result = activate()
                if succeeded(result):
                    self.status = "done: configured and activated"
                    return [("info", "autostart: configured and activated")]
            if shutting_down():
                self.status = f"stopped: the process is shutting down ({step})"
                return [("info", f"autostart: {step} stopped: the process is shutting down")]
            left = ("unconfigured" if step == "configure" else
                    "inactive, or unconfigured when rclpy's error processing ran")
            self.status = f"{step} failed: the node stays {left}"
            return [("error", f"autostart: {step} failed ({result!r}; the reason is logged "
                              f"above and in config_error on /diagnostics): the node stays "
                              f"{left} and nothing retries; fix the cause, then `ros2 "
                              f"lifecycle set {self.node_name} {step}`"
                              + (" and `activate`" if step == "configure" else ""))]
        except Exception as err:  # noqa: BLE001 - a timer callback must not end spin()
            self.status = f"{step} could not be requested: {err!r}"
            self.request_error = f"autostart: {self.status}"
            return [("error", f"autostart: {step} could not be requested ({err!r}): the node "
                              f"stays as it is; `ros2 lifecycle get {self.node_name}` says "
                              "its state")]
        finally:
            self._running = False
