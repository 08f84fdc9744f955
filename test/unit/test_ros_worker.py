"""The node's newest-message worker thread, without ROS (`ros/worker.py`)."""

from __future__ import annotations

import threading

from mast3r_ros.ros.worker import LatestMessageWorker


class Recorder:
    def __init__(self, block: threading.Event | None = None) -> None:
        self.seen, self.replaced, self.errors = [], 0, []
        self.block = block
        self.started = threading.Event()
        self.done = threading.Event()

    def process(self, msg):
        self.started.set()
        if self.block is not None:
            self.block.wait(10.0)
        if msg == "boom":
            raise RuntimeError("boom")
        self.seen.append(msg)
        if msg == "last":
            self.done.set()

    def on_replaced(self):
        self.replaced += 1

    def on_error(self, err):
        self.errors.append(repr(err))


def _worker(rec: Recorder, active=lambda: True) -> LatestMessageWorker:
    return LatestMessageWorker(rec.process, active, rec.on_replaced, rec.on_error)


def test_a_waiting_message_is_replaced_by_a_newer_one():
    gate = threading.Event()
    rec = Recorder(block=gate)
    w = _worker(rec)
    w.start()
    w.offer("first")
    assert rec.started.wait(10.0)                      # the worker is busy with "first"
    w.offer("stale")
    w.offer("last")                                    # replaces "stale" in the one slot
    gate.set()
    assert rec.done.wait(10.0)
    assert rec.seen == ["first", "last"] and rec.replaced == 1
    assert w.stop(10.0)


def test_errors_are_reported_and_the_worker_carries_on():
    rec = Recorder()
    w = _worker(rec)
    w.start()
    w.offer("boom")
    assert rec.started.wait(10.0)
    for _ in range(1000):                              # until "boom" has left the slot
        if rec.errors:
            break
        threading.Event().wait(0.01)
    w.offer("last")
    assert rec.done.wait(10.0)
    assert rec.errors == ["RuntimeError('boom')"] and rec.seen == ["last"]
    assert w.stop(10.0)


def test_inactive_worker_skips_messages_and_stop_drains():
    rec = Recorder()
    w = _worker(rec, active=lambda: False)
    w.offer("queued before start")                     # dropped by start()
    w.start()
    w.offer("ignored")
    assert w.stop(10.0)
    w.offer("after stop")
    w.drain()
    assert rec.seen == [] and rec.errors == []
    w.stop(10.0)                                       # stopping twice is harmless
