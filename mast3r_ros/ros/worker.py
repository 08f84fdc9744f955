"""The node's inference thread: the newest message only, processed off the executor (no rclpy).

The image callback `offer`s each message to a one-slot queue; a message still waiting there is
replaced (a slow model drops stale frames instead of queueing them). One worker thread takes
messages and runs ``process``; the executor meanwhile keeps serving TF, timers and services.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Optional


class LatestMessageWorker:
    """One-slot queue plus one worker thread.

    ``process(msg)`` runs on the worker thread while ``is_active()``; an exception it raises goes
    to ``on_error(err)`` and the worker carries on. ``on_replaced()`` is called (on the offering
    thread) when a waiting message is dropped for a newer one.
    """

    def __init__(self, process: Callable[[Any], None], is_active: Callable[[], bool],
                 on_replaced: Callable[[], None], on_error: Callable[[Exception], None],
                 name: str = "mast3r_worker") -> None:
        self._process = process
        self._is_active = is_active
        self._on_replaced = on_replaced
        self._on_error = on_error
        self._name = name
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def offer(self, msg: Any) -> None:
        """Queue ``msg``, replacing one still waiting. Never blocks."""
        try:
            self._queue.put_nowait(msg)
            return
        except queue.Full:
            pass
        try:
            self._queue.get_nowait()
            self._on_replaced()
        except queue.Empty:
            pass
        try:
            self._queue.put_nowait(msg)
        except queue.Full:
            pass

    def start(self) -> None:
        """Drop anything queued and start the thread (daemon)."""
        self._stop.clear()
        self.drain()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float) -> bool:
        """Stop the thread (waiting up to ``timeout_s``) and drop anything queued.

        Returns False when the thread is still running after ``timeout_s`` (a frame in
        inference); called from the worker thread itself it does not wait.
        """
        self._stop.set()
        thread, self._thread = self._thread, None
        stopped = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout_s)
            stopped = not thread.is_alive()
        self.drain()
        return stopped

    def drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if self._stop.is_set():
                break
            if not self._is_active():
                continue
            try:
                self._process(msg)
            except Exception as err:  # noqa: BLE001 - the worker must survive any frame
                self._on_error(err)
