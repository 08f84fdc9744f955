#!/usr/bin/env python3
"""Memory and lookup time of `core.tf_buffer.TransformBuffer` filled as a bag's tf fills it.

An offline read of a rosbag2 (`mast3r-ros localize` / `build-map` with ``--pose-frames``) keeps
every tf sample of the run it reads. This fills a buffer as ``--seconds`` of such a bag would
(``odom -> base_link`` at 100 Hz, five edges at 50 Hz: ``map -> odom``, a pan-tilt head
``base_link -> pan -> tilt`` and two wheels; the camera's static mount ``tilt -> camera_link ->
camera_optical``), stamps jittered by up to 1 ms, and prints side by side for

* ``prev``: the buffer at ``--prev-rev`` (read from git history, `frozen_package`): 4x4 arrays
  in Python lists, filled with `add_dynamic` of each message's matrix;
* ``matrix``: the current buffer, filled the same way (`add_dynamic`);
* ``tq``: the current buffer filled as the bag reader fills it (`add_dynamic_tq`: each edge's
  translations and quaternions as the messages gave them),

the bytes a sample costs (``tracemalloc``: after the fill, and after the first lookup, which
sorts each edge once and, in ``prev``, stacked a second copy of it), that extrapolated to an
hour, and the time of one ``map -> camera_optical`` lookup (four time-varying edges, each
interpolated; CPU time). It checks that every lookup of the three is the same array bit for bit, and
exits 1 if not.

    python bench/bench_tf_buffer.py                  # 300 s of tf (105 000 samples)
    python bench/bench_tf_buffer.py --seconds 60 --lookups 500
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.dirname(_HERE), _HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402

from frozen_package import FrozenPackageError, load_frozen_module  # noqa: E402
from mast3r_ros.core.message_fields import tq_to_matrix  # noqa: E402
from mast3r_ros.core.tf_buffer import TransformBuffer  # noqa: E402

# the buffer before its samples were stored compactly
PREV_REV = "1836908"
# (parent, child, rate Hz) of the time-varying edges; the lookup needs the first four
EDGES = [("map", "odom", 50), ("odom", "base_link", 100), ("base_link", "pan", 50),
         ("pan", "tilt", 50), ("base_link", "wheel_left", 50), ("base_link", "wheel_right", 50)]
STATICS = [("tilt", "camera_link"), ("camera_link", "camera_optical")]
HOUR_SAMPLES = 3600 * sum(rate for _, _, rate in EDGES)
T0_NS = 1_700_000_000 * 10**9  # epoch stamps, as a real bag's: Python ints of 32 B


def messages(seconds: float, seed: int = 0):
    """The bag's tf in receive order: (parent, child, stamp ns, (3,) t, (4,) q) per message
    (q as a message gives it: unit within float noise)."""
    rng = np.random.default_rng(seed)
    out = []
    for parent, child, rate in EDGES:
        n = int(seconds * rate)
        stamps = T0_NS + np.arange(n, dtype=np.int64) * (10**9 // rate) + rng.integers(
            -10**6, 10**6, n)
        t = np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0)
        q = rng.normal(0, 1, (n, 4))
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        q += rng.normal(0, 1e-9, q.shape)
        out += [(parent, child, s, a, b) for s, a, b in zip(stamps, t, q)]
    out.sort(key=lambda m: m[2])  # received in stamp order, about
    return out


def fill(kind: str, buffer_cls, msgs, matrices):
    buf = buffer_cls()
    for parent, child in STATICS:
        buf.add_static(parent, child, np.eye(4))
    if kind == "tq":  # as the bag reader: each edge's columns at once, after the indexing pass
        for parent, child, _ in EDGES:
            rows = [m for m in msgs if m[1] == child]
            buf.add_dynamic_tq(parent, child, np.array([m[2] for m in rows]),
                               np.stack([m[3] for m in rows]), np.stack([m[4] for m in rows]))
    else:  # one message at a time, its stamp a fresh numpy integer as a deserialized one
        for (parent, child, stamp, _, _), pose in zip(msgs, matrices):
            buf.add_dynamic(parent, child, stamp, pose)
    return buf


def measure(kind: str, buffer_cls, msgs, matrices, queries):
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    buf = fill(kind, buffer_cls, msgs, matrices)
    gc.collect()
    filled = tracemalloc.get_traced_memory()[0] - base
    first = buf.lookup("map", "camera_optical", int(queries[0]))
    gc.collect()
    looked = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del first
    return filled / len(msgs), looked / len(msgs), buf


def time_lookups(bufs, queries, rounds: int = 7):
    """Per buffer: the CPU seconds of one lookup (the fastest of ``rounds`` rounds, the
    buffers taking turns in each: the machine may be shared) and the lookups' results."""
    best = {name: float("inf") for name in bufs}
    for buf in bufs.values():  # warm
        for q in queries[:20]:
            buf.lookup("map", "camera_optical", int(q))
    for batch in np.array_split(queries, rounds):
        for name, buf in bufs.items():
            t0 = time.process_time()
            for q in batch:
                buf.lookup("map", "camera_optical", int(q))
            best[name] = min(best[name], (time.process_time() - t0) / len(batch))
    outs = {name: [buf.lookup("map", "camera_optical", int(q)) for q in queries]
            for name, buf in bufs.items()}
    return best, outs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="bag length to fill (s)")
    ap.add_argument("--lookups", type=int, default=2000, help="lookups timed per variant")
    ap.add_argument("--prev-rev", default=PREV_REV, help="commit of the previous buffer")
    args = ap.parse_args(argv)
    variants = {"matrix": TransformBuffer, "tq": TransformBuffer}
    try:
        prev = load_frozen_module(args.prev_rev, "mast3r_ros/core/tf_buffer.py", "tf_buffer_prev")
        variants = {"prev": prev.TransformBuffer, **variants}
    except FrozenPackageError as e:
        print(f"bench_tf_buffer.py: WARNING: the previous buffer cannot be read ({e}): "
              "timing the current one alone", file=sys.stderr)
    msgs = messages(args.seconds)
    matrices = np.stack([tq_to_matrix(m[3], m[4]) for m in msgs])  # the reader's, before
    rng = np.random.default_rng(1)
    queries = rng.integers(T0_NS + 10**7, T0_NS + int((args.seconds - 0.1) * 1e9), args.lookups)
    edges = ", ".join(f"{p}->{c} {r} Hz" for p, c, r in EDGES)
    print(f"{len(msgs)} tf samples ({args.seconds:g} s of {edges}); an hour: {HOUR_SAMPLES} "
          "samples")
    print(f"{'variant':8} {'B/sample':>9} {'B/sample':>12} {'MB/hour':>8} {'lookup':>9}")
    print(f"{'':8} {'filled':>9} {'1st lookup':>12} {'(max)':>8} {'(us)':>9}")
    mem, bufs = {}, {}
    for name, cls in variants.items():
        filled, looked, bufs[name] = measure(name, cls, msgs, matrices, queries)
        mem[name] = (filled, looked)
    per, outs = time_lookups(bufs, queries)
    for name, (filled, looked) in mem.items():
        print(f"{name:8} {filled:9.1f} {looked:12.1f} "
              f"{max(filled, looked) * HOUR_SAMPLES / 1e6:8.0f} {per[name] * 1e6:9.1f}")
    ref = next(iter(outs.values()))
    same = all(all(np.array_equal(a, b) for a, b in zip(ref, out)) for out in outs.values())
    if "prev" in mem:
        print(f"tq vs prev: {max(mem['prev']) / max(mem['tq']):.1f}x less memory, lookup "
              f"{per['tq'] / per['prev']:.2f}x the time")
    print(f"lookups bit-identical across {', '.join(outs)}: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
