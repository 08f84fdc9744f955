"""Stopping the node without races (no rclpy): the publish gate and the order of the exit steps.

Why the node cannot crash on a transition (issue 10, item 1). rclpy's multi-threaded executor
takes from a timer or subscription on one thread while a transition callback on another destroys
it (``InvalidHandle: cannot use Destroyable because destruction was requested``). `main` spins the
node on a *single-threaded* executor instead: every callback, transition callbacks included, runs
on that one thread, and rclpy takes from an entity and runs its callback before it looks at the
next one, so nothing is taken while a transition destroys it. Nothing here needs executor
parallelism: inference runs on the node's own worker thread, and a TF lookup with a timeout on
that thread sleeps there while the executor thread fills the buffer. The worker touches no rclpy
entity except publishers, and those only through a `PublishGate`: closing it waits for a publish
in progress, and a publish after closing does nothing. Entities are destroyed on the executor
thread (in transition callbacks) or after the executor has stopped (in `main`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, List, Tuple, Type


class PublishGate:
    """Publishing from any thread, closable from another without a race.

    ``run(fn)`` calls ``fn()`` under a lock while the gate is open and returns True, or returns
    False once it is closed. ``close()`` waits for a ``run`` in progress, then closes. An
    exception from ``fn`` propagates, except while ``shutting_down()`` is true (the process is
    exiting and the context may already be gone, e.g. after SIGINT): then it is dropped silently.
    """

    def __init__(self, shutting_down: Callable[[], bool] = lambda: False) -> None:
        self._lock = threading.Lock()
        self._open = True
        self._shutting_down = shutting_down

    @property
    def is_open(self) -> bool:
        return self._open

    def run(self, fn: Callable[[], Any]) -> bool:
        with self._lock:
            if not self._open:
                return False
            try:
                fn()
            except Exception:
                if self._shutting_down():
                    return False
                raise
            return True

    def close(self) -> None:
        with self._lock:
            self._open = False


def spin_until_exit(spin: Callable[[], Any], ok: Callable[[], bool],
                    on_error: Callable[[Exception], None],
                    exit_exceptions: Tuple[Type[BaseException], ...] = (KeyboardInterrupt,)
                    ) -> None:
    """Run ``spin()`` until it returns, raises one of ``exit_exceptions`` (SIGINT's
    KeyboardInterrupt, rclpy's ExternalShutdownException after SIGTERM) or ``ok()`` turns
    false. Any other exception escaping the executor (rclpy lets a raw ``change_state`` with an
    unregistered transition escape ``spin()``, ROS_NOTES 1) goes to ``on_error`` and spinning
    resumes: one bad request must not end the robot's localization."""
    while ok():
        try:
            spin()
            return
        except exit_exceptions:
            return
        except Exception as err:  # noqa: BLE001 - reported, then spinning resumes
            on_error(err)


def run_steps(steps: Sequence[Tuple[str, Callable[[], Any]]],
              on_error: Callable[[str, Exception], None]) -> List[str]:
    """Run every exit step in order; a step that raises is reported to ``on_error(name, err)``
    and the next steps still run. Returns the names of the steps that failed."""
    failed = []
    for name, step in steps:
        try:
            step()
        except Exception as err:  # noqa: BLE001 - every step must get its chance
            failed.append(name)
            on_error(name, err)
    return failed


def exit_steps(*, stop_worker: Callable[[], Any], release_node: Callable[[], Any],
               shutdown_executor: Callable[[], Any], destroy_node: Callable[[], Any],
               shutdown_context: Callable[[], Any]) -> List[Tuple[str, Callable[[], Any]]]:
    """The order `main` stops things in: the worker first (it may be publishing; a bounded
    join), then the node's entities (publishers behind their gates), then the executor, the node
    and last the context. Pass the result to `run_steps`."""
    return [("stop_worker", stop_worker), ("release_node", release_node),
            ("shutdown_executor", shutdown_executor), ("destroy_node", destroy_node),
            ("shutdown_context", shutdown_context)]


def end_process_if_worker_running(worker_running: bool,
                                  exit_fn: Callable[[int], Any] = os._exit) -> None:
    """The last exit step of `main`: while the inference thread is still inside a frame (it
    outlived its bounded join: a Ctrl-C during configure, a frame slower than the timeout), the
    process ends at once with status 0 through ``exit_fn`` (`os._exit`), after one line on
    stderr and flushing stdout, stderr, the `logging` handlers and C's stdio buffers.

    Why: that thread is a daemon, so the interpreter would not wait for it, but its
    finalization (module teardown, then torch's and the CUDA driver's own exit handlers) would
    run under a thread still launching kernels or copying memory, which can end in an abort
    (``ros2 launch`` then reports the process as died). Nothing is lost by skipping them: every
    exit step before this one was run (one that failed was logged), and the OS frees the
    device memory. `main` calls it only on a normal exit, so an exception escaping the node
    keeps its traceback and exit status. Does nothing when ``worker_running`` is False.
    """
    if not worker_running:
        return
    try:
        sys.stderr.write("[WARN] localizer_node: the inference thread is still in a frame; "
                         "the process ends now without the interpreter's cleanup, which "
                         "would run under it\n")
    except Exception:  # noqa: BLE001 - a closed stderr must not stop the exit
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    logging.shutdown()
    try:  # C stdio too: rcutils' console output goes there (RCUTILS_LOGGING_USE_STDOUT=1)
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:  # noqa: BLE001 - no libc symbol lookup here: nothing more to flush
        pass
    exit_fn(0)
