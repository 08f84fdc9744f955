"""Stopping the node without races, without ROS (`ros/shutdown.py`)."""

from __future__ import annotations

import threading

import pytest

from mast3r_ros.ros.shutdown import PublishGate, exit_steps, run_steps


def test_gate_publishes_until_closed():
    sent = []
    gate = PublishGate()
    assert gate.run(lambda: sent.append(1)) and gate.is_open
    gate.close()
    assert not gate.run(lambda: sent.append(2)) and not gate.is_open
    assert sent == [1]


def test_close_waits_for_a_publish_in_progress():
    gate = PublishGate()
    inside, release, closed = threading.Event(), threading.Event(), threading.Event()
    order = []

    def slow_publish():
        inside.set()
        release.wait(10.0)
        order.append("published")

    t = threading.Thread(target=gate.run, args=(slow_publish,))
    t.start()
    assert inside.wait(10.0)
    closer = threading.Thread(target=lambda: (gate.close(), order.append("closed"),
                                              closed.set()))
    closer.start()
    assert not closed.wait(0.2)                      # still publishing: close waits
    release.set()
    t.join(10.0)
    closer.join(10.0)
    assert order == ["published", "closed"]


def test_publish_errors_are_silent_only_while_shutting_down():
    exiting = threading.Event()
    gate = PublishGate(exiting.is_set)

    def fail():
        raise RuntimeError("Failed to publish: publisher's context is invalid")

    with pytest.raises(RuntimeError):
        gate.run(fail)                               # a real error while running is not hidden
    exiting.set()
    assert gate.run(fail) is False                   # at exit: caught and silent


def test_exit_steps_run_in_order_and_all_run():
    done, errors = [], []

    def step(name, fail=False):
        def run():
            done.append(name)
            if fail:
                raise RuntimeError(name)
        return run

    steps = exit_steps(stop_worker=step("worker"), release_node=step("release", fail=True),
                       shutdown_executor=step("executor"), destroy_node=step("node"),
                       shutdown_context=step("context"))
    failed = run_steps(steps, lambda name, err: errors.append((name, str(err))))
    assert done == ["worker", "release", "executor", "node", "context"]
    assert failed == ["release_node"] and errors == [("release_node", "release")]
    assert [name for name, _ in steps][0] == "stop_worker"     # worker before any destroy
    assert [name for name, _ in steps][-1] == "shutdown_context"


def test_spin_resumes_after_an_unexpected_error_and_stops_on_exit_signals():
    from mast3r_ros.ros.shutdown import spin_until_exit

    class External(Exception):
        """Stands for rclpy's ExternalShutdownException."""

    script = [RuntimeError("Transition is not registered"), RuntimeError("again"), External()]
    calls, errors = [], []

    def spin():
        calls.append(1)
        raise script.pop(0)

    spin_until_exit(spin, lambda: True, errors.append, (KeyboardInterrupt, External))
    assert len(calls) == 3 and [str(e) for e in errors] == ["Transition is not registered",
                                                             "again"]
    spin_until_exit(lambda: calls.append(2), lambda: True, errors.append)   # spin returns
    assert calls[-1] == 2
    ok = iter([True, False])
    spin_until_exit(lambda: (_ for _ in ()).throw(ValueError("x")), lambda: next(ok),
                    errors.append)                                   # context gone: stop
    assert str(errors[-1]) == "x"

    def interrupted():
        raise KeyboardInterrupt
    spin_until_exit(interrupted, lambda: True, errors.append)        # Ctrl-C ends it quietly


def test_at_exit_any_publish_error_is_dropped_but_never_an_interrupt():
    """While shutting down every exception from a publish is dropped (rclpy raises several
    types once its context is gone), but Ctrl-C still propagates and the gate stays usable."""
    gate = PublishGate(lambda: True)
    for err in (RuntimeError("context invalid"), ValueError("bad handle"), TypeError("None")):
        def fail(err=err):
            raise err
        assert gate.run(fail) is False

    def interrupted():
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        gate.run(interrupted)
    assert gate.run(lambda: None) is True          # the lock was released


def test_the_process_ends_at_once_only_while_the_inference_thread_is_in_a_frame(capsys,
                                                                               monkeypatch):
    """main()'s last step: a worker that outlived its join would run under the interpreter's
    and torch's/CUDA's exit handlers (an abort at exit); the process then ends via os._exit(0)
    after saying why and flushing. With the worker stopped, nothing happens."""
    from mast3r_ros.ros.shutdown import end_process_if_worker_running

    import logging

    flushed = []
    monkeypatch.setattr(logging, "shutdown", lambda: flushed.append(1))  # pytest's own handlers
    codes = []
    end_process_if_worker_running(False, exit_fn=codes.append)
    assert codes == [] and capsys.readouterr().err == ""
    end_process_if_worker_running(True, exit_fn=codes.append)
    assert codes == [0] and flushed == [1]
    assert "inference thread is still in a frame" in capsys.readouterr().err


def test_node_main_ends_the_process_after_every_exit_step():
    """The hard exit is main()'s last statement, after the exit steps and the log bridge and
    outside the try (an escaping exception keeps its traceback and status), given the node's
    `worker_running` (rclpy is not here: read from the source)."""
    import inspect

    from mast3r_ros.ros import shutdown

    src = (inspect.getsourcefile(shutdown) or "").replace("shutdown.py", "node.py")
    text = open(src, encoding="utf-8").read()
    main = text[text.index("\ndef main("):]
    call = "\n    end_process_if_worker_running(node is not None and node.worker_running)"
    assert main.index("run_steps(exit_steps(") < main.index("uninstall_log_bridge()") < \
        main.index("except KeyboardInterrupt:  # a second Ctrl-C") < main.index(call)
    assert "def worker_running(self) -> bool:" in text
