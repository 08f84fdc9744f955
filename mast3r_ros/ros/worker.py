"""The node's inference thread: the newest message only, processed off the executor (no rclpy).

The image callback `offer`s each message to a one-slot queue; a message still waiting there is
replaced (a slow model drops stale frames instead of queueing them). One worker thread takes
messages and runs ``process``; the executor meanwhile keeps serving TF, timers and services.

The thread lives from configure to cleanup, and everything that runs the model runs on it: the
model is built and warmed up there (`call`), then the frames are processed there. torch keeps
compiled CUDA graphs per thread ('reduce-overhead': ``torch/_inductor/cudagraph_trees.py`` holds
its trees in a ``threading.local``), so a warm-up on the executor thread followed by inference
on a thread started at activate recorded the graphs again on the first live frames -- or, on
torch before 2.13, failed with an AssertionError (pytorch/pytorch#123177).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any, Deque, List, Optional

_EMPTY = object()


class _Call:
    """One `LatestMessageWorker.call`: the function, then its result or exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: Optional[BaseException] = None


class WorkerStoppedError(RuntimeError):
    """`LatestMessageWorker.call` on a worker that is not running or stopped before the call
    ran."""


class LatestMessageWorker:
    """One-slot queue plus one long-lived worker thread.

    ``process(msg)`` runs on the worker thread while ``is_active()``; an exception it raises goes
    to ``on_error(err)`` and the worker carries on. ``on_replaced()`` is called (on the offering
    thread) when a waiting message is dropped for a newer one. `call` runs any function on the
    same thread (the model's construction and warm-up) and returns its result.
    """

    def __init__(self, process: Callable[[Any], None], is_active: Callable[[], bool],
                 on_replaced: Callable[[], None], on_error: Callable[[Exception], None],
                 name: str = "mast3r_worker") -> None:
        self._process = process
        self._is_active = is_active
        self._on_replaced = on_replaced
        self._on_error = on_error
        self._name = name
        self._cv = threading.Condition()
        self._slot: Any = _EMPTY
        self._calls: Deque[_Call] = collections.deque()
        self._busy_gen: Optional[int] = None  # the generation whose process() is running
        self._gen = 0               # bumped by stop(): a thread serves only its generation
        self._thread: Optional[threading.Thread] = None
        self._stragglers: List[threading.Thread] = []  # stopped threads still in a frame

    @property
    def running(self) -> bool:
        """True while the worker thread is alive and not told to stop."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def offer(self, msg: Any) -> None:
        """Queue ``msg``, replacing one still waiting. Never blocks (beyond a short lock)."""
        with self._cv:
            replaced = self._slot is not _EMPTY
            self._slot = msg
            self._cv.notify_all()
        if replaced:
            self._on_replaced()

    def start(self) -> None:
        """Start the thread (daemon) unless it is running; drops anything queued."""
        with self._cv:
            self._slot = _EMPTY
            if self.running:
                return
            self._thread = threading.Thread(target=self._loop, args=(self._gen,),
                                            name=self._name, daemon=True)
            self._thread.start()

    def call(self, fn: Callable[[], Any], *, heartbeat: Optional[Callable[[], None]] = None,
             heartbeat_period_s: float = 1.0,
             cancelled: Optional[Callable[[], bool]] = None) -> Any:
        """Run ``fn()`` on the worker thread, wait for it and return its result (or raise its
        exception). From the worker thread itself ``fn`` runs at once. While waiting,
        ``heartbeat()`` (if given) is called every ``heartbeat_period_s`` on the waiting thread:
        the node publishes /diagnostics from it while a model loads for minutes. Raises
        `WorkerStoppedError` when the thread is not running, is stopped before ``fn`` ran, or
        ``cancelled()`` (checked every period) turns true -- SIGTERM during a long load: the
        caller stops waiting; ``fn`` runs on to its end on the worker thread."""
        if threading.current_thread() is self._thread:
            return fn()
        job = _Call(fn)
        with self._cv:
            if not self.running:
                raise WorkerStoppedError("the inference thread is not running")
            self._calls.append(job)
            self._cv.notify_all()
        period = heartbeat_period_s if heartbeat is not None or cancelled is not None else None
        while not job.done.wait(period):
            if cancelled is not None and cancelled():
                raise WorkerStoppedError("cancelled while the inference thread was busy")
            if heartbeat is not None:
                heartbeat()
        if job.error is not None:
            raise job.error
        return job.result

    def pause(self, timeout_s: float) -> bool:
        """Drop a waiting message and wait up to ``timeout_s`` for a frame in ``process`` to
        finish (deactivate: the caller has made ``is_active()`` false first). The thread keeps
        running. Returns False when a frame is still in ``process`` after ``timeout_s``; called
        from the worker thread itself it does not wait."""
        end = time.monotonic() + timeout_s
        with self._cv:
            self._slot = _EMPTY
            if self._thread is None or threading.current_thread() is self._thread:
                return True
            while self._busy_gen == self._gen:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def stop(self, timeout_s: float) -> bool:
        """Stop the thread (waiting up to ``timeout_s``) and drop anything queued; calls not
        yet run raise `WorkerStoppedError` in their callers.

        Returns False when the thread is still running after ``timeout_s`` (a frame in
        inference); called from the worker thread itself it does not wait.
        """
        with self._cv:
            self._gen += 1          # an old thread still in a frame ends after it, even if
            self._slot = _EMPTY     # start() has begun a new one meanwhile
            self._cv.notify_all()
            if self._thread is not None:
                # remembered before the join: a Ctrl-C during it must not forget the thread
                self._stragglers.append(self._thread)
                self._thread = None
            threads = list(self._stragglers)
        end = time.monotonic() + timeout_s
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join(timeout=max(0.0, end - time.monotonic()))
        with self._cv:
            # a later stop() waits again for every thread still in a frame, not only the newest
            self._stragglers = [t for t in self._stragglers if t.is_alive() and t is not me]
            stopped = not self._stragglers
        self._fail_calls()
        return stopped

    def drain(self) -> None:
        """Drop a waiting message."""
        with self._cv:
            self._slot = _EMPTY

    def _fail_calls(self) -> None:
        with self._cv:
            calls, self._calls = list(self._calls), collections.deque()
        for job in calls:
            job.error = WorkerStoppedError("the inference thread stopped before the call ran")
            job.done.set()

    def _loop(self, gen: int) -> None:
        while True:
            with self._cv:
                while self._gen == gen and not self._calls and self._slot is _EMPTY:
                    self._cv.wait()
                if self._gen != gen:
                    break
                if self._calls:
                    job, msg = self._calls.popleft(), _EMPTY
                else:
                    job, msg, self._slot = None, self._slot, _EMPTY
                    if not self._is_active():
                        continue
                    self._busy_gen = gen
            if job is not None:
                try:
                    job.result = job.fn()
                except BaseException as err:  # noqa: BLE001 - handed to the caller
                    job.error = err
                job.done.set()
                continue
            try:
                self._process(msg)
            except Exception as err:  # noqa: BLE001 - the worker must survive any frame
                self._on_error(err)
            finally:
                with self._cv:
                    if self._busy_gen == gen:  # a straggler's end is not the new thread's
                        self._busy_gen = None
                    self._cv.notify_all()
