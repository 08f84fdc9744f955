"""Parallel, resumable keyframe encoding: 2 workers == 1 worker == Ray; a SIGKILLed worker's
build resumes to the same store."""

import os
import shutil
import signal
import socket
import sys
import tempfile

import numpy as np
import pytest

from mast3r_ros.core.encoding_store import EncodingStore
from mast3r_ros.core.errors import InputError
from mast3r_ros.replay import parallel_build as pb

NUM_KF = 23  # not a multiple of the shard size: the last shard is short


class FakeEncode:
    """Deterministic arrays of the map's per-keyframe shapes, from the index alone. With
    ``kill_flag`` set, the worker that reaches ``kill_at`` first SIGKILLs itself (once)."""

    def __init__(self, kill_at: int = -1, kill_flag: str = ""):
        self.kill_at, self.kill_flag = kill_at, kill_flag

    def __call__(self, i: int) -> dict:
        if i == self.kill_at and self.kill_flag and os.path.exists(self.kill_flag):
            os.unlink(self.kill_flag)
            os.kill(os.getpid(), signal.SIGKILL)
        rng = np.random.default_rng(i)
        g = rng.standard_normal(16).astype(np.float32)
        return {"feats": rng.standard_normal((12, 16)).astype(np.float16),
                "true_shape": np.array([48, 64], np.int64),
                "to_orig": np.eye(3) + i, "global": g / np.linalg.norm(g)}


def _arrays(staging, table):
    store = EncodingStore(str(staging), table, cache_mb=0)
    return [store.get(i) for i in range(len(store))]


def _same(a, b):
    assert len(a) == len(b) == NUM_KF
    for x, y in zip(a, b):
        assert set(x) == set(y)
        for k in x:
            assert x[k].dtype == y[k].dtype
            np.testing.assert_array_equal(x[k], y[k])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    staging = tmp_path_factory.mktemp("one")
    table = pb.build_encodings(NUM_KF, FakeEncode(), str(staging), workers=1, shard_size=5,
                               progress=False)
    return _arrays(staging, table)


def test_one_worker_matches_the_encode_function(reference):
    for i in (0, 22):
        for k, v in FakeEncode()(i).items():
            np.testing.assert_array_equal(reference[i][k], v)


def test_two_workers_give_the_same_arrays(tmp_path, reference):
    table = pb.build_encodings(NUM_KF, FakeEncode(), str(tmp_path), workers=2, shard_size=5,
                               progress=False)
    _same(_arrays(tmp_path, table), reference)
    pb.clear_markers(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted(table.files)

def test_a_second_build_without_resume_is_refused(tmp_path):
    pb.build_encodings(4, FakeEncode(), str(tmp_path), shard_size=5, progress=False)
    with pytest.raises(InputError, match="resume"):
        pb.build_encodings(4, FakeEncode(), str(tmp_path), shard_size=5, progress=False)


def test_killed_worker_resumes_to_the_same_arrays(tmp_path, reference):
    kill_at = int(np.random.default_rng(11).integers(1, NUM_KF))
    flag = tmp_path / "kill"
    flag.write_text("")
    staging = tmp_path / "staging"
    with pytest.raises(pb.BuildInterrupted):
        pb.build_encodings(NUM_KF, FakeEncode(kill_at, str(flag)), str(staging), workers=2,
                           shard_size=5, progress=False)
    assert not flag.exists()  # the kill happened
    # a half-written file of the dead run is not taken for a finished shard
    (staging / ".tmp-leftover.npy").write_bytes(b"junk")
    table = pb.build_encodings(NUM_KF, FakeEncode(), str(staging), workers=2, shard_size=5,
                               resume=True, progress=False)
    assert not (staging / ".tmp-leftover.npy").exists()
    _same(_arrays(staging, table), reference)


def test_resume_redoes_a_corrupt_shard_only(tmp_path, reference):
    calls = []

    def encode(i):
        calls.append(i)
        return FakeEncode()(i)

    pb.build_encodings(NUM_KF, FakeEncode(), str(tmp_path), shard_size=5, progress=False)
    chunk = tmp_path / "chunk_000010.npy"
    chunk.write_bytes(chunk.read_bytes()[:-4] + b"xxxx")
    table = pb.build_encodings(NUM_KF, encode, str(tmp_path), shard_size=5, resume=True,
                               progress=False)
    assert calls == list(range(10, 15))
    _same(_arrays(tmp_path, table), reference)


def test_resume_redoes_a_shard_whose_marker_a_hard_stop_cut_short(tmp_path, reference):
    """As localize --resume drops a cut last results.jsonl line, a build's cut marker only
    redoes its shard: the resume is not refused."""
    calls = []

    def encode(i):
        calls.append(i)
        return FakeEncode()(i)

    pb.build_encodings(NUM_KF, FakeEncode(), str(tmp_path), shard_size=5, progress=False)
    marker = tmp_path / "shard_000005.json"
    marker.write_bytes(marker.read_bytes()[:-7])
    table = pb.build_encodings(NUM_KF, encode, str(tmp_path), shard_size=5, resume=True,
                               progress=False)
    assert calls == list(range(5, 10))
    _same(_arrays(tmp_path, table), reference)


def test_defaults_share_the_cores():
    assert pb.default_workers(cores=2, gpus=0) == 1
    assert pb.default_workers(cores=64, gpus=4) == 4
    assert pb.threads_per_worker(2, cores=2) == 1
    assert pb.threads_per_worker(4, cores=64) == 16
    assert pb.threads_per_worker(4, cores=2) == 1
    assert pb.make_shards(7, 3) == [(0, 3), (3, 6), (6, 7)]


def test_core_sets_pin_workers_where_it_helps():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no sched_setaffinity on this system")
    assert pb.core_sets(2, 1, cores=[0, 1]) == [[0], [1]]           # 2-core laptop, --workers 2
    assert pb.core_sets(4, 8, cores=range(32)) == [list(range(8 * j, 8 * j + 8))
                                                   for j in range(4)]  # 4-GPU server, 32 cores
    assert pb.core_sets(1, 2, cores=[0, 1]) is None                 # one worker keeps them all
    assert pb.core_sets(3, 1, cores=[0, 1]) is None                 # more workers than cores


class AffinityEncode:
    def __call__(self, i: int) -> dict:
        return {"cores": np.array(sorted(os.sched_getaffinity(0)), np.int64)}


def test_workers_are_pinned_by_default(tmp_path):
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs sched_setaffinity and 2 cores")
    table = pb.build_encodings(6, AffinityEncode(), str(tmp_path / "a"), workers=2, shard_size=1,
                               progress=False)
    seen = [EncodingStore(str(tmp_path / "a"), table).get(i)["cores"] for i in range(6)]
    assert all(len(c) == 1 for c in seen), seen  # each worker on its own single core
    table = pb.build_encodings(2, AffinityEncode(), str(tmp_path / "b"), workers=2, shard_size=1,
                               progress=False, pin=False)
    seen = [EncodingStore(str(tmp_path / "b"), table).get(i)["cores"] for i in range(2)]
    assert all(len(c) == len(os.sched_getaffinity(0)) for c in seen)


def test_local_ray_gives_the_same_arrays(tmp_path, reference, monkeypatch):
    """A Ray of its own, even beside a cluster that a killed ``ray start --head`` left recorded
    in Ray's ``ray_current_cluster`` file: a bare ``ray.init()`` joined that address (and then
    refused ``num_cpus``, or waited on the dead head node). The recorded file here is a stale
    one in this test's own Ray temp folder (RAY_TMPDIR), never the user's."""
    # Loopback only: Ray turns _node_ip_address="127.0.0.1" into the machine's routable address
    # (and binds its servers there) unless it believes it is a single-machine install; and it
    # must not report usage statistics. Both are read from the environment, also by the Ray
    # processes this test starts.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    from ray._private import ray_constants

    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # a new instance turns token mode on in os.environ and writes ~/.ray/auth_token if missing
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp = tempfile.mkdtemp(prefix="rp")  # short: Ray's socket paths must fit
    try:
        monkeypatch.setenv("RAY_TMPDIR", temp)
        os.makedirs(os.path.join(temp, "ray"))
        with open(os.path.join(temp, "ray", "ray_current_cluster"), "w") as fh:
            fh.write(f"127.0.0.1:{_closed_port()}")  # a head node killed without `ray stop`
        # the test module must be importable by Ray's worker processes
        ray.init(address="local", num_cpus=2, include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(
                     p for p in sys.path if p)}})
        try:
            assert ray.util.get_node_ip_address() == "127.0.0.1"
            table = pb.build_encodings(NUM_KF, FakeEncode(), str(tmp_path), shard_size=5,
                                       ray_address="local", workers=2, threads=1,
                                       progress=False)
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    _same(_arrays(tmp_path, table), reference)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_DRIVER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from test_parallel_build import FakeEncode, NUM_KF
from mast3r_ros.replay.parallel_build import build_encodings

class Slow(FakeEncode):
    def __call__(self, i):
        time.sleep(0.02)
        return super().__call__(i)

print("started", flush=True)
build_encodings(NUM_KF, Slow(), sys.argv[1], shard_size=5, resume=True, progress=False)
"""


def test_build_killed_at_a_random_time_resumes_to_the_same_arrays(tmp_path, reference):
    import subprocess
    import time

    staging = tmp_path / "staging"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(staging),
                             os.path.dirname(__file__)], env=env, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"started"
    time.sleep(float(np.random.default_rng(5).uniform(0.0, 0.5)))  # the build takes ~0.5 s
    proc.kill()  # SIGKILL
    proc.wait()
    table = pb.build_encodings(NUM_KF, FakeEncode(), str(staging), shard_size=5, resume=True,
                               progress=False)
    _same(_arrays(staging, table), reference)
