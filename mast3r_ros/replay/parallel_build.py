"""Parallel, resumable encoding of a map's keyframes (issue 11): local processes or a Ray cluster.

The keyframes ``0 .. K-1`` are cut into shards of consecutive indices. Workers run
``encode(index) -> {name: array}`` for every keyframe of a shard and hand the arrays back; the
driver (this process) writes each finished shard as encoding-store chunk files
(core/encoding_store.py) plus a small ``shard_<first>.json`` marker into a staging folder, each
file atomically, the marker last. A killed build therefore leaves only whole shards behind, and a
rerun with ``resume=True`` re-encodes only the shards without a valid marker. Workers never write
files, so a Ray cluster needs no shared file system. The staging folder lives inside the map's
temporary build folder, so a reader never sees a half-built map (the map writer renames the whole
folder only after its manifest is written).

``encode`` must be picklable (a module-level function or an object whose state is picklable,
e.g. a checkpoint path; load the network lazily on the first call, once per worker process).

Cores: each of N local workers runs torch with ``T = max(1, cores // N)`` threads, so workers and
intra-op threads never oversubscribe the cores, and (Linux, ``pin=None``, the default, whenever
2 <= N <= cores) worker j is pinned with ``os.sched_setaffinity`` to its own T cores
``cores[j*T:(j+1)*T]``: without pinning the scheduler migrates the workers' threads between cores
and, on a machine with other load, stacks two of them on one core (measured on 2 shared cores,
tiny network: 2 workers 1.61x one worker unpinned, 1.84x pinned; bench/bench_scale.py --build).
Pinning is skipped where it cannot help: one worker (it keeps the whole machine), more workers
than cores, systems without ``sched_setaffinity`` (macOS, Windows), Ray actors (Ray places them).
"cores" are the cores this process may run on (``os.sched_getaffinity``: a container's or
``taskset``'s limit), not the machine's.

Defaults (`default_workers`): one worker per GPU on a CUDA machine -- a 4-GPU server with 32 cores
gets 4 workers, worker j on ``cuda:j``-style scheduling, 8 torch threads each, pinned to cores
8j..8j+7 -- and, without CUDA, one worker per two cores: a 2-core laptop gets 1 worker with 2
threads, unpinned, leaving the machine responsive; ``--workers 2`` there gives each worker one
thread pinned to its own core, the fastest on small models (the 1.84x above).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import sys
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..core.encoding_store import (ChunkEntry, EncodingStoreWriter, StoreTable, _file_sha256,
                                   merge_tables)
from ..core.errors import InputError, Mast3rRosError
from ..core.fileio import atomic_write_json
from ..core.progress_output import NoProgress, ProgressLog, progress_bar
from .ray_connect import connect_ray

log = logging.getLogger(__name__)

EncodeFn = Callable[[int], Mapping[str, np.ndarray]]
Shard = Tuple[int, int]  # [first, stop)


class BuildInterrupted(Mast3rRosError):
    """A worker died (killed, out of memory) before the build finished; finished shards are
    kept in the staging folder, and the build continues from them with ``resume=True``."""


def default_workers(cores: Optional[int] = None, gpus: Optional[int] = None) -> int:
    """One worker per GPU with CUDA, else one per two cores (at least one)."""
    cores = len(available_cores()) if cores is None else cores
    if gpus is None:
        gpus = _cuda_count()
    return gpus if gpus > 0 else max(1, cores // 2)


def threads_per_worker(workers: int, cores: Optional[int] = None) -> int:
    """Torch intra-op threads for each of ``workers`` processes sharing ``cores``."""
    cores = len(available_cores()) if cores is None else cores
    return max(1, cores // max(1, workers))


def available_cores() -> List[int]:
    """The cores this process may run on (``os.sched_getaffinity``), else 0..cpu_count-1."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_sets(workers: int, threads: int, cores: Optional[Sequence[int]] = None
              ) -> Optional[List[List[int]]]:
    """Worker j's cores ``cores[j*threads:(j+1)*threads]``, or None when pinning does not
    apply: fewer than 2 workers, more workers than cores, or no ``os.sched_setaffinity``."""
    cores = available_cores() if cores is None else list(cores)
    if workers < 2 or workers > len(cores) or not hasattr(os, "sched_setaffinity"):
        return None
    per = max(1, min(threads, len(cores) // workers))
    return [cores[j * per:(j + 1) * per] for j in range(workers)]


def _cuda_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def make_shards(num_keyframes: int, shard_size: int) -> List[Shard]:
    """[first, stop) ranges of at most ``shard_size`` consecutive keyframe indices."""
    if shard_size < 1:
        raise InputError(f"shard_size must be >= 1, got {shard_size}")
    return [(a, min(a + shard_size, num_keyframes)) for a in range(0, num_keyframes, shard_size)]


# --------------------------------------------------------------------------- workers ---

_WORKER_ENCODE: Optional[EncodeFn] = None  # the encode function of this worker process


def _init_worker(threads: int, encode: Optional[EncodeFn] = None,
                 cores: Optional[List[List[int]]] = None, counter: Any = None) -> None:
    """Per worker process, once: thread count, core pinning (worker j takes ``cores[j]``, j
    drawn from the shared ``counter``), and the encode function unpickled once so that
    whatever it loads lazily (the network) is loaded once per process, not once per shard."""
    global _WORKER_ENCODE
    if cores and counter is not None:
        with counter.get_lock():
            j = counter.value
            counter.value += 1
        try:
            os.sched_setaffinity(0, cores[j % len(cores)])
        except OSError as e:  # a core taken away meanwhile: run unpinned
            log.info("build worker %d: not pinned to cores %s (%s)", j, cores[j % len(cores)], e)
    # torch reads these when the encode function first imports it; a torch imported already is
    # set directly. Not importing torch here keeps start-up cheap for functions that need none.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    _WORKER_ENCODE = encode


def _init_local_worker(*args: Any) -> None:
    """`_init_worker` of a local pool's process, which ignores SIGINT: the driver handles
    Ctrl-C and stops the workers (`_sigint_blocked`: SIGINT is blocked from the spawn on,
    ignored too should an encode function unblock it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid:
        import threading

        threading.Thread(target=_exit_with_parent, args=(parent.pid,), daemon=True,
                         name="exit-with-build").start()
    _init_worker(*args)


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """End this worker once its build is gone: a driver killed outright (SIGKILL, the OOM
    killer) left its workers blocked on the executor's queue for ever, each holding its
    network (host or GPU memory) beside the ``--resume`` that followed."""
    import time

    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def _encode_shard(encode: EncodeFn, shard: Shard) -> List[Dict[str, np.ndarray]]:
    return [{k: np.asarray(v) for k, v in encode(i).items()} for i in range(*shard)]


def _encode_shard_in_worker(shard: Shard) -> List[Dict[str, np.ndarray]]:
    assert _WORKER_ENCODE is not None, "worker started without an encode function"
    return _encode_shard(_WORKER_ENCODE, shard)


class _RayShardWorker:
    """A Ray actor holding one encode function (and so one loaded network) for many shards."""

    def __init__(self, encode: EncodeFn, threads: int):
        _init_worker(threads, encode)

    def encode(self, shard: Shard) -> Tuple[Shard, List[Dict[str, np.ndarray]]]:
        return shard, _encode_shard_in_worker(shard)


# -------------------------------------------------------------------------- staging ---

def _marker(staging: str, shard: Shard) -> str:
    return os.path.join(staging, f"shard_{shard[0]:06d}.json")


def _write_shard(staging: str, shard: Shard, records: Sequence[Mapping[str, np.ndarray]],
                 cast: Optional[Mapping[str, Any]]) -> StoreTable:
    writer = EncodingStoreWriter(staging, chunk_size=len(records), cast=cast,
                                 first_index=shard[0])
    for r in records:
        writer.append(r)
    table = writer.close()
    atomic_write_json(_marker(staging, shard), {
        "first": shard[0], "stop": shard[1],
        "chunks": [[c.file, c.first, c.count] for c in table.chunks],
        "files": table.files})
    return table


def resume_mismatch(build: str, old: Any, info: Mapping[str, Any]) -> str:
    """Why ``--resume`` refuses the unfinished build ``build`` whose recorded build info
    (checkpoint, image size, keyframe image checksums) ``old`` is not this run's ``info``: for
    other keyframes, how many each chose, so the settings can be put back rather than the
    encoded shards deleted."""
    fix = "rerun with --restart instead of --resume to delete it and start over"
    if not isinstance(old, dict) or not isinstance(old.get("images"), list) or any(
            old.get(k) != info.get(k) for k in ("identity", "image_size", "content_id")):
        return (f"--resume: the unfinished build in {build} encoded other keyframes or another "
                f"checkpoint; {fix}")
    a, b = old["images"], list(info["images"])
    same = sum(x == y for x, y in zip(a, b))
    return (f"--resume: the unfinished build in {build} encoded other keyframes: it chose "
            f"{len(a)}, this run {len(b)} ({same} the same, in order), so the source, "
            "--max-frames, --trajectory or the map_build settings (--params) differ from the "
            f"run that started it; resume with those, or {fix}")


def _finished_shard(staging: str, shard: Shard) -> Optional[StoreTable]:
    """The table of a shard finished by an earlier run, or None when it must be redone."""
    try:
        with open(_marker(staging, shard), encoding="utf-8") as fh:
            m = json.load(fh)
        chunks = tuple(ChunkEntry(str(f), int(a), int(c)) for f, a, c in m["chunks"])
        if (m["first"], m["stop"]) != shard or sum(c.count for c in chunks) != shard[1] - shard[0]:
            return None
        for c in chunks:
            if _file_sha256(os.path.join(staging, c.file))[0] != m["files"][c.file]["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return StoreTable(shard[1] - shard[0], chunks, m["files"])


def clear_markers(staging: str) -> None:
    """Delete the shard markers once the map's manifest lists the chunks (the commit step):
    what stays in ``staging`` is exactly the encoding store the returned table describes."""
    for name in os.listdir(staging):
        if name.startswith("shard_") and name.endswith(".json"):
            os.unlink(os.path.join(staging, name))


def _clean_temp_files(staging: str) -> None:
    for name in os.listdir(staging):
        if name.startswith(".tmp-"):
            os.unlink(os.path.join(staging, name))


# ---------------------------------------------------------------------------- driver ---

def build_encodings(num_keyframes: int, encode: EncodeFn, staging: str, *, workers: int = 1,
                    shard_size: int = 16, resume: bool = False,
                    cast: Optional[Mapping[str, Any]] = None, ray_address: Optional[str] = None,
                    threads: Optional[int] = None, progress: bool = True,
                    on_shard: Optional[Callable[[Shard], None]] = None,
                    pin: Optional[bool] = None) -> StoreTable:
    """Encode keyframes ``0 .. num_keyframes-1`` into an encoding store in ``staging``.

    ``workers`` local processes (1: in this process), or ``workers`` Ray actors when
    ``ray_address`` is given (``"auto"``, ``"HOST:6379"``, ``"ray://host:10001"``; a process
    that called ``ray.init`` already keeps that connection, which ``"local"`` names;
    `ray_connect.connect_ray`, whose `InputError` says what failed; one
    GPU per actor when the cluster has GPUs); each worker uses ``threads`` torch threads (default
    `threads_per_worker`). ``resume=True`` keeps the shards a killed run finished; otherwise
    ``staging`` must not hold shards yet. ``cast`` is `EncodingStoreWriter`'s on-disk dtypes.
    ``on_shard(shard)`` is called after each shard is on disk (logging, benchmarks).
    ``pin``: pin each local worker to its own cores (None: wherever `core_sets` applies, see
    the module doc; False: never).
    Returns the merged `StoreTable` (chunk files in ``staging``). Raises BuildInterrupted when a
    worker dies, InputError on bad arguments or a non-empty staging folder without ``resume``.
    """
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    os.makedirs(staging, exist_ok=True)
    shards = make_shards(num_keyframes, shard_size)
    done: Dict[Shard, StoreTable] = {}
    if resume:
        _clean_temp_files(staging)
        # each finished shard's chunks re-hashed (1.5 MB per ViT-L keyframe: minutes at
        # 10^4), shown as its own bar before the encoding bar
        check = progress_bar(len(shards), "--resume: checking encoded shards", "shard") \
            if progress else NoProgress()
        try:
            for s in shards:
                t = _finished_shard(staging, s)
                if t is not None:
                    done[s] = t
                check.update(1)
        finally:
            check.close()
        log.info("resuming: %d of %d shards already encoded", len(done), len(shards))
    elif any(n.startswith("shard_") for n in os.listdir(staging)):
        raise InputError(f"{staging} holds shards of an earlier build; pass resume=True (CLI: "
                         "--resume) or delete it")
    todo = [s for s in shards if s not in done]
    threads = threads or threads_per_worker(workers)
    bar = _progress(num_keyframes, sum(b - a for a, b in done), progress)
    runs: Iterator[Tuple[Shard, List[Dict[str, np.ndarray]]]] = iter(())
    try:
        runs = (_run_ray(encode, todo, workers, threads, ray_address) if ray_address
                else _run_local(encode, todo, workers, threads,
                                core_sets(workers, threads) if pin is not False else None))
        for shard, records in runs:
            done[shard] = _write_shard(staging, shard, records, cast)
            bar.update(shard[1] - shard[0])
            if on_shard is not None:
                on_shard(shard)
    finally:
        bar.close()
        close = getattr(runs, "close", None)
        if close is not None:  # a Ctrl-C here, not in the generator: stop its workers now
            close()
    return merge_tables(list(done.values())) if done else StoreTable(0, (), {})


def _progress(total: int, initial: int, enabled: bool) -> Any:
    """The keyframe-encoding bar, or log lines off a terminal (`progress_output.progress_bar`,
    the rule of every command's progress); nothing when not ``enabled``. The rate starts at the
    first encoded shard off a terminal (`ProgressLog.rate_after_first`): the workers' start-up
    (loading the network) is no keyframe's; a tqdm bar's rate is a moving average of recent
    updates, which forgets the start-up within a few updates."""
    if not enabled:
        return NoProgress()
    bar = progress_bar(total, "encoding keyframes", "keyframe", initial, leave=True)
    return bar.rate_after_first() if isinstance(bar, ProgressLog) else bar


def _run_local(encode: EncodeFn, todo: List[Shard], workers: int, threads: int,
               cores: Optional[List[List[int]]] = None
               ) -> Iterator[Tuple[Shard, List[Dict[str, np.ndarray]]]]:
    if workers == 1 or len(todo) <= 1:
        for shard in todo:
            yield shard, _encode_shard(encode, shard)
        return
    # spawn, not fork: a forked torch (or CUDA) runtime is unsafe in the child
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("i", 0) if cores else None
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx,
                                                  initializer=_init_local_worker,
                                                  initargs=(threads, encode, cores, counter))
    finished = False
    try:
        with _sigint_blocked():  # the workers start (spawn) in submit
            futures = {pool.submit(_encode_shard_in_worker, s): s for s in todo}
        for fut in concurrent.futures.as_completed(futures):
            yield futures[fut], fut.result()
        finished = True
    except concurrent.futures.process.BrokenProcessPool:
        raise BuildInterrupted("a build worker process died; finished shards are kept, "
                               "rerun with resume=True (CLI: --resume)") from None
    finally:
        if finished:
            pool.shutdown()
        else:
            _stop_pool(pool)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while it starts the worker processes: a spawned child
    inherits the blocked mask across exec and never sees a SIGINT (`_init_worker` then ignores
    it), so a terminal's Ctrl-C, which signals the whole process group, reaches only the driver
    -- it printed a KeyboardInterrupt traceback per worker (importing at spawn, or idle in the
    executor's queue). Blocked, not ignored: a Ctrl-C meanwhile is delivered here afterwards."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a pool the driver leaves early (Ctrl-C, an error): pending shards cancelled, the
    running ones' workers terminated (a shard's work is redone by --resume anyway), so the
    driver does not wait for shards nobody will write."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    # the executor's management thread: shutdown(wait=False) forgets it, so a later
    # shutdown(wait=True) does not join it, and on Python 3.10 it could still be closing its
    # wake-up pipe at interpreter exit while concurrent.futures' exit hook wrote to it
    # ("Exception ignored in: <module 'threading'> ... OSError: [Errno 9] Bad file descriptor")
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)
    if manager is not None:
        manager.join(10)  # quickly now its workers are gone


def _run_ray(encode: EncodeFn, todo: List[Shard], workers: int, threads: int, address: str
             ) -> Iterator[Tuple[Shard, List[Dict[str, np.ndarray]]]]:
    connect_ray(address)  # a no-op when build-map connected before reading the source
    import ray
    from ray.util import ActorPool

    gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    actor = ray.remote(num_cpus=threads, num_gpus=gpus)(_RayShardWorker)
    actors = [actor.remote(encode, threads) for _ in range(max(1, min(workers, len(todo))))]
    try:
        results = ActorPool(actors).map_unordered(lambda a, s: a.encode.remote(s), todo)
        while True:
            try:
                shard, records = next(results)
            except StopIteration:
                return
            except ray.exceptions.RayError as e:
                raise BuildInterrupted(f"a Ray worker failed: {e}; finished shards are kept, "
                                       "rerun with --resume") from None
            yield shard, records
    finally:
        for a in actors:
            ray.kill(a)
