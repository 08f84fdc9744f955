"""Ctrl-C during a parallel build: the terminal signals the whole process group, the workers
too; the build must stop at once with the driver's one line, no traceback of any worker (one
per worker importing at spawn, one of an idle worker in the executor's call_queue.get)."""

import os
import signal
import subprocess
import sys
import time

import pytest
from test_parallel_build import FakeEncode


class FirstShardOnly(FakeEncode):
    """The first shard (keyframes 0-4) is quick, the others never end (in a test's time)."""

    def __call__(self, i: int) -> dict:
        time.sleep(0.01 if i < 5 else 120)
        return super().__call__(i)


_DRIVER = """
import sys
sys.path.insert(0, sys.argv[2])
from test_build_interrupt import FirstShardOnly
from test_parallel_build import NUM_KF
from mast3r_ros.replay.parallel_build import build_encodings

print("started", flush=True)
try:
    build_encodings(NUM_KF, FirstShardOnly(), sys.argv[1], shard_size=5, workers=2, threads=1,
                    progress=False, on_shard=lambda s: print("shard", flush=True))
except KeyboardInterrupt:
    sys.stderr.write("build: interrupted\\n")
    sys.exit(130)
"""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups: POSIX")
@pytest.mark.parametrize("when", ["started", "shard"])
def test_ctrl_c_stops_a_parallel_build_without_worker_tracebacks(tmp_path, when):
    """``when``: the signal comes as the workers start (importing) or once a shard is on disk
    (one worker idle, one mid-shard: the driver must not wait for that shard)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(tmp_path / "staging"),
                             os.path.dirname(__file__)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        while proc.stdout.readline().strip() != when.encode():
            assert proc.poll() is None, proc.stderr.read().decode()
        if when == "started":
            time.sleep(0.3)  # the workers are being spawned and import
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines() == ["build: interrupted"], err


def test_a_stopped_pool_has_no_thread_left_at_exit():
    """`_stop_pool` returns once the executor's management thread has ended: it called
    shutdown(wait=False) first, which forgets that thread, so the later shutdown(wait=True)
    joined nothing and the thread could still be closing its wake-up pipe at interpreter exit,
    where Python 3.10's concurrent.futures exit hook writes to it (CI, under load:
    "Exception ignored in: <module 'threading'> ... OSError: [Errno 9] Bad file descriptor"
    after the build's one line)."""
    import concurrent.futures
    import multiprocessing

    from mast3r_ros.replay.parallel_build import _stop_pool

    pool = concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"))
    running = pool.submit(time.sleep, 60)
    while not running.running():
        time.sleep(0.01)
    manager = pool._executor_manager_thread
    _stop_pool(pool)
    assert not manager.is_alive()
