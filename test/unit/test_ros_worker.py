"""The node's newest-message worker thread, without ROS (`ros/worker.py`)."""

from __future__ import annotations

import threading
import time

import pytest

from mast3r_ros.ros.worker import LatestMessageWorker, WorkerStoppedError


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


def _busy_worker(first="first"):
    """A started worker in inference on the message ``first`` until the gate is set ->
    (worker, its Recorder, the gate)."""
    gate = threading.Event()
    rec = Recorder(block=gate)
    w = _worker(rec)
    w.start()
    w.offer(first)
    assert rec.started.wait(10.0)
    return w, rec, gate


def test_a_waiting_message_is_replaced_by_a_newer_one():
    w, rec, gate = _busy_worker()                      # the worker is busy with "first"
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


def _wait_until(cond, timeout_s=10.0):
    end = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_call_runs_on_the_thread_that_processes_frames():
    """The model is built and warmed up through `call` on the thread that then runs every frame:
    torch's compiled CUDA graphs are per thread (a warm-up on the executor thread recorded them
    again on the first live frames, or failed on torch < 2.13)."""
    threads = []
    rec = Recorder()
    w = LatestMessageWorker(lambda m: (threads.append(threading.current_thread()),
                                       rec.process(m)), lambda: True, rec.on_replaced,
                            rec.on_error)
    w.start()
    built_on = w.call(threading.current_thread)
    assert built_on is not threading.current_thread() and built_on.name == "mast3r_worker"
    with pytest.raises(KeyError, match="no such map"):
        w.call(lambda: {}["no such map"])      # the caller gets the exception
    w.offer("last")
    assert rec.done.wait(10.0)
    assert threads == [built_on] and w.running
    assert w.stop(10.0) and not w.running
    with pytest.raises(WorkerStoppedError):
        w.call(lambda: 1)


def test_call_beats_the_heartbeat_while_it_waits():
    rec, beats, gate = Recorder(), [], threading.Event()
    w = _worker(rec)
    w.start()

    def slow():
        gate.wait(10.0)
        return "model"

    def beat():
        beats.append(threading.current_thread())
        if len(beats) == 3:
            gate.set()
    assert w.call(slow, heartbeat=beat, heartbeat_period_s=0.01) == "model"
    assert len(beats) >= 3 and set(beats) == {threading.current_thread()}
    assert w.stop(10.0)


def test_pause_waits_for_the_frame_and_keeps_the_thread():
    gate, active = threading.Event(), [True]
    rec = Recorder(block=gate)
    w = _worker(rec, active=lambda: active[0])
    w.start()
    thread = w.call(threading.current_thread)
    w.offer("first")
    assert rec.started.wait(10.0)
    w.offer("waiting")
    active[0] = False                          # deactivate: inactive first, then pause
    assert not w.pause(0.05)                   # "first" is still in inference
    gate.set()
    assert w.pause(10.0)
    assert rec.seen == ["first"]               # "waiting" was dropped, not processed
    active[0] = True                           # activate again: the same thread goes on
    w.offer("last")
    assert rec.done.wait(10.0) and w.call(threading.current_thread) is thread
    assert w.stop(10.0)


def test_a_stop_that_times_out_is_not_forgotten_and_a_restart_works():
    """A frame outliving the join timeout: stop says False, and says it again on the second
    stop (main's exit steps stop twice), so the model is not freed under the frame."""
    w, rec, gate = _busy_worker("stuck")
    assert not w.stop(0.05)
    assert not w.stop(0.05)
    w.start()                                  # configure again meanwhile: a new thread
    new = w.call(threading.current_thread)
    gate.set()
    _wait_until(lambda: rec.seen == ["stuck"])  # the old thread ends its frame, then stops
    w.offer("last")
    assert rec.done.wait(10.0)
    assert rec.seen == ["stuck", "last"] and w.call(threading.current_thread) is new
    assert w.stop(10.0)
    _wait_until(lambda: not any(t.name == "mast3r_worker" and t.is_alive()
                                for t in threading.enumerate()))


def test_calls_queued_when_the_worker_stops_fail_in_their_callers():
    gate = threading.Event()
    rec = Recorder()
    w = _worker(rec)
    w.start()
    w.call(lambda: None)
    errors, running = [], threading.Event()

    def first():
        running.set()
        gate.wait(10.0)

    def second():
        try:
            w.call(lambda: "never")
        except WorkerStoppedError as err:
            errors.append(err)
    t1 = threading.Thread(target=lambda: w.call(first))
    t1.start()
    assert running.wait(10.0)                   # "first" is on the worker, none queued
    t2 = threading.Thread(target=second)
    t2.start()
    _wait_until(lambda: len(w._calls) == 1)
    assert not w.stop(0.05)                    # "first" is running
    gate.set()
    t1.join(10.0)
    t2.join(10.0)
    assert len(errors) == 1 and "stopped before the call ran" in str(errors[0])


def test_the_node_builds_its_localizer_through_the_worker():
    """node.py needs rclpy (not here): its _configure is read instead. The localizer must be
    built inside self._worker.call(...) with a heartbeat, never on the executor thread."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "mast3r_ros" / "ros" / "node.py"
    cls = next(n for n in ast.parse(src.read_text()).body
               if isinstance(n, ast.ClassDef) and n.name == "LocalizerNode")
    # _configure subscribes /initialpose, then runs _configure_load, which loads
    configure = next(n for n in cls.body
                     if isinstance(n, ast.FunctionDef) and n.name == "_configure_load")
    calls = [n for n in ast.walk(configure) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "call"]
    assert len(calls) == 1 and ast.unparse(calls[0].func) == "self._worker.call"
    inner = ast.unparse(calls[0].args[0])
    assert "self._load_localizer(cfg)" in inner
    assert [k.arg for k in calls[0].keywords] == ["heartbeat", "cancelled"]
    loads = [n for n in ast.walk(configure) if isinstance(n, ast.Attribute)
             and n.attr == "_load_localizer"]
    assert len(loads) == 1  # not called anywhere else in configure


def test_every_thread_still_in_a_frame_is_waited_for_not_only_the_last():
    """Two cleanups that each timed out on a frame, with a configure between: the second stop
    joined only the newest thread and said True, so the model was closed under the first
    (a regression review's find)."""
    gates = [threading.Event(), threading.Event()]
    started = [threading.Event(), threading.Event()]
    seen = []

    def process(msg):
        started[msg].set()
        gates[msg].wait(10.0)
        seen.append(msg)
    w = LatestMessageWorker(process, lambda: True, lambda: None, lambda err: None)
    for k in (0, 1):
        w.start()
        w.offer(k)
        assert started[k].wait(10.0)
        assert not w.stop(0.05)
    gates[1].set()                              # the newer frame ends, the older one not yet
    assert not w.stop(2.0) and seen == [1]
    gates[0].set()
    assert w.stop(10.0) and sorted(seen) == [0, 1]


def test_pause_after_stop_returns_at_once_and_a_straggler_does_not_clear_the_new_busy_flag():
    gate, slow_started = threading.Event(), threading.Event()
    second = threading.Event()
    rec = []

    def process(msg):
        rec.append(msg)
        if msg == "slow":
            slow_started.set()
            gate.wait(10.0)
        elif msg == "second":
            second.set()
            time.sleep(1.5)
    w = LatestMessageWorker(process, lambda: True, lambda: None, lambda err: None)
    w.start()
    w.offer("slow")
    assert slow_started.wait(10.0)
    assert not w.stop(0.01)
    t0 = time.monotonic()
    assert w.pause(30.0) and time.monotonic() - t0 < 1.0  # no thread: nothing to wait for
    w.start()
    w.offer("second")
    assert second.wait(10.0)
    gate.set()                                  # the straggler ends while "second" runs
    time.sleep(0.05)
    assert not w.pause(0.01)                    # "second" is still in inference
    assert w.pause(10.0) and w.stop(10.0)


def test_a_cancelled_call_stops_waiting():
    """SIGTERM during a minutes-long load: the node stops waiting (the load runs on)."""
    gate, beats = threading.Event(), []
    w = LatestMessageWorker(lambda m: None, lambda: True, lambda: None, lambda err: None)
    w.start()
    with pytest.raises(WorkerStoppedError, match="cancelled"):
        w.call(lambda: gate.wait(10.0), heartbeat=lambda: beats.append(1),
               heartbeat_period_s=0.01, cancelled=lambda: len(beats) >= 2)
    gate.set()
    assert w.stop(10.0)


def test_start_drops_a_message_offered_before_it():
    rec = Recorder()
    w = _worker(rec)
    w.offer("from before the activation")
    w.start()
    w.offer("last")                            # nothing waiting: not a replacement
    assert rec.done.wait(10.0)
    assert rec.seen == ["last"] and rec.replaced == 0
    assert w.stop(10.0)


def test_starting_a_running_worker_keeps_its_one_thread():
    w = LatestMessageWorker(lambda m: None, lambda: True, lambda: None, lambda err: None,
                            name="mast3r_worker_start_twice")
    w.start()
    first = w.call(threading.current_thread)
    w.start()
    assert w.call(threading.current_thread) is first
    assert sum(t.name == "mast3r_worker_start_twice" for t in threading.enumerate()) == 1
    assert w.stop(10.0)


def test_call_pause_and_stop_from_the_worker_thread_do_not_wait_for_themselves():
    """From inside a frame, `call` runs at once and `pause` does not wait for the frame it is
    called from; `stop` from the worker does not join itself."""
    results, done = {}, threading.Event()
    w = None

    def process(msg):
        results["call"] = w.call(lambda: "inline")
        t0 = time.monotonic()
        results["pause"] = w.pause(30.0)
        results["pause_s"] = time.monotonic() - t0
        done.set()
    w = LatestMessageWorker(process, lambda: True, lambda: None, lambda err: None)
    w.start()
    w.offer("frame")
    assert done.wait(10.0)
    assert results["call"] == "inline" and results["pause"] is True
    assert results["pause_s"] < 10.0
    assert w.call(lambda: w.stop(30.0)) is True       # runs on the worker: no self-join
    _wait_until(lambda: not w.running)
    assert w.stop(10.0)


def test_pause_stop_and_drain_drop_the_waiting_message():
    """Each drops the message waiting in the slot, even when pause or stop times out on the
    frame in inference: a later offer replaces nothing, and the dropped one is never run."""
    for drop in ("pause", "stop"):
        w, rec, gate = _busy_worker()
        w.offer("waiting")
        if drop == "pause":
            assert not w.pause(0.0)            # "first" is in inference: no wait, but dropped
        else:
            assert not w.stop(0.0)
        w.offer("last")
        assert rec.replaced == 0, drop
        gate.set()
        if drop == "pause":
            assert rec.done.wait(10.0)
        assert w.stop(10.0)                    # the stopped thread ends after "first"
        assert rec.seen == (["first", "last"] if drop == "pause" else ["first"]), drop
    rec = Recorder()
    w = _worker(rec)
    w.offer("waiting")
    w.drain()
    w.offer("next")
    assert rec.replaced == 0


def test_stop_waits_at_most_timeout_s_in_all_for_several_stuck_threads():
    """Five stopped threads still in a frame: stop(0.5) gives up after 0.5 s in all, not
    0.5 s per thread (2.5 s). The bound between them is wide so that a loaded machine's late
    wake-ups cannot fail it."""
    gates = [threading.Event() for _ in range(5)]
    started = [threading.Event() for _ in range(5)]

    def process(k):
        started[k].set()
        gates[k].wait(10.0)
    w = LatestMessageWorker(process, lambda: True, lambda: None, lambda err: None)
    for k in range(5):
        w.start()
        w.offer(k)
        assert started[k].wait(10.0)
        assert not w.stop(0.0)
    t0 = time.monotonic()
    assert not w.stop(0.5)
    elapsed = time.monotonic() - t0
    for g in gates:
        g.set()
    assert w.stop(10.0)
    assert 0.5 <= elapsed < 2.0


def test_an_inactive_worker_consults_is_active_and_skips_the_frame():
    rec, consulted, active = Recorder(), threading.Event(), [False]

    def is_active():
        consulted.set()
        return active[0]
    w = _worker(rec, active=is_active)
    w.start()
    w.offer("while inactive")
    assert consulted.wait(10.0)                # the frame left the slot, unprocessed
    w.call(lambda: None)                       # the worker has moved on
    active[0] = True
    w.offer("last")
    assert rec.done.wait(10.0)
    assert rec.seen == ["last"]
    assert w.stop(10.0)


def test_a_call_that_exits_hands_systemexit_to_the_caller_and_the_worker_goes_on():
    import sys
    w = LatestMessageWorker(lambda m: None, lambda: True, lambda: None, lambda err: None)
    w.start()
    deadline = time.monotonic() + 10.0
    with pytest.raises(SystemExit):
        w.call(lambda: sys.exit(3), heartbeat_period_s=0.01,
               cancelled=lambda: time.monotonic() > deadline)
    assert w.running and w.call(lambda: 7) == 7
    assert w.stop(10.0)


def test_pause_returns_when_the_frame_ends_not_at_its_timeout():
    w, rec, gate = _busy_worker()
    timer = threading.Timer(0.1, gate.set)
    timer.start()
    t0 = time.monotonic()
    assert w.pause(30.0)
    assert time.monotonic() - t0 < 10.0
    timer.join(10.0)
    assert w.stop(10.0)


def test_a_call_queued_behind_a_frame_runs_before_the_next_waiting_frame():
    """Frames arriving faster than inference always refill the slot: a call that waited for
    a free slot would never run."""
    gate, order = threading.Event(), []
    first_started, done = threading.Event(), threading.Event()

    def process(msg):
        if msg == "first":
            first_started.set()
            gate.wait(10.0)
        order.append(msg)
        if msg == "last":
            done.set()
    w = LatestMessageWorker(process, lambda: True, lambda: None, lambda err: None)
    w.start()
    w.offer("first")
    assert first_started.wait(10.0)
    w.offer("last")
    caller = threading.Thread(target=lambda: w.call(lambda: order.append("call")))
    caller.start()
    _wait_until(lambda: len(w._calls) == 1)
    gate.set()
    caller.join(10.0)
    assert done.wait(10.0)
    assert order == ["first", "call", "last"]
    assert w.stop(10.0)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_lost_to_a_base_exception_is_not_running_and_start_restarts_it():
    """process() lets a BaseException (SystemExit) end the thread; the node's activate calls
    start() to restart a lost one, which needs `running` to see that it is gone."""
    rec = Recorder()

    def process(msg):
        if msg == "exit":
            raise SystemExit(1)
        rec.process(msg)
    w = LatestMessageWorker(process, lambda: True, rec.on_replaced, rec.on_error)
    w.start()
    w.offer("exit")
    _wait_until(lambda: not w.running)
    w.start()
    w.offer("last")
    assert rec.done.wait(10.0) and rec.seen == ["last"]
    assert w.stop(10.0)


def test_a_call_queued_when_stop_begins_fails_even_if_the_thread_ends_in_time():
    """stop() while a call runs and a second one waits: the waiting one never runs (its caller
    gets WorkerStoppedError), also when the running one ends within stop's timeout."""
    gate, running, ran = threading.Event(), threading.Event(), []
    w = LatestMessageWorker(lambda m: None, lambda: True, lambda: None, lambda err: None)
    w.start()
    errors = []

    def second():
        try:
            w.call(lambda: ran.append("second"))
        except WorkerStoppedError as err:
            errors.append(err)
    t1 = threading.Thread(target=lambda: w.call(lambda: (running.set(), gate.wait(10.0))))
    t1.start()
    assert running.wait(10.0)
    t2 = threading.Thread(target=second)
    t2.start()
    _wait_until(lambda: len(w._calls) == 1)
    stopped = []
    stopper = threading.Thread(target=lambda: stopped.append(w.stop(10.0)))
    stopper.start()
    _wait_until(lambda: not w.running)         # stop has begun: the generation has moved on
    gate.set()
    for t in (t1, t2, stopper):
        t.join(10.0)
    assert stopped == [True] and ran == [] and len(errors) == 1
