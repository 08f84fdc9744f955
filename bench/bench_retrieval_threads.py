#!/usr/bin/env python3
"""Retrieval's exact search on a loaded CPU: BLAS's own thread count (old) vs one BLAS thread
(new, `core.blas_threads.single_blas_thread`), side by side in one run.

Below ``scale.approx_threshold`` (2*10^4) keyframes `RetrievalIndex.search` is one (K, D) x (D,)
product with numpy plus a top-k. numpy's OpenBLAS splits the product over every core; on a
loaded machine its worker threads wait for cores, spinning. Timed per ``--sizes`` keyframes
(D = ``--dim``, 1024 as MASt3R's pooled descriptors), first as the machine is, then with
``--busy`` busy-loop processes added (a robot's ROS nodes, drivers, Nav2):

* ``search_old`` / ``search_new``: the whole `RetrievalIndex.search` without / with the limit
  (old = threadpoolctl's controller taken away: what the code did before), same indices asserted;
* the product alone done other ways, for the choice: ``blas`` (numpy as before), ``blas_1``
  (numpy inside the limit), ``einsum`` (numpy's own loop, no BLAS: not bit-equal to BLAS),
  ``torch`` (``torch.mv`` on torch's own threads, ``torch.get_num_threads()``), ``rows``
  (`sift.similarities`' fallback without threadpoolctl: row blocks below OpenBLAS's gemm
  threading threshold, to see whether that approach would serve here too).
* ``sift``: the SIFT matcher's descriptor product at 500 x 500 features (D 128, float32, the map
  check's): ``threaded`` (one call on BLAS's threads), ``rows`` (row blocks, its fallback
  without threadpoolctl), ``one_thread`` (one call on one BLAS thread, its default);
* ``pnp``: `solve_pnp` with per-point 3-D covariances on n correspondences, 20 % outliers,
  without / with the limit (same pose asserted, covariance to 1e-12 relative);
* ``live_products``: the largest per-frame products of PnP refinement and covariance
  (``F @ F.T`` with F (8, n), ``Fp @ F.T`` with Fp (24, n), float64; n = inliers), BLAS's thread
  count vs one thread, and ``Fp @ F.T`` in the row blocks (``FpFt_rows``), to see whether they
  suffer the same.

Variants are interleaved round by round, in a shuffled order (the same load for all). Prints
median [p90] ms and the ratio old/new per size and load.

    python bench/bench_retrieval_threads.py --json out.json
    python bench/bench_retrieval_threads.py --smoke          # seconds
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mast3r_ros.core import blas_threads  # noqa: E402
from mast3r_ros.core.retrieval_index import IndexParams, RetrievalIndex  # noqa: E402


def _busy(parent: int) -> None:
    """Spin until the bench's process is gone (killed too: no orphan left spinning)."""
    while os.getppid() == parent:
        pass


def _stats(t: List[float]) -> Dict[str, float]:
    return {"median_ms": statistics.median(t), "p90_ms": float(np.percentile(t, 90)),
            "max_ms": max(t)}


def interleaved(variants: Dict[str, Callable[[], object]], rounds: int
                ) -> Dict[str, Dict[str, float]]:
    """Each variant once per round, in a shuffled order (one warm-up round): the same load for
    all, and none always right after another (on a loaded machine a ~2 ms call is often
    descheduled for a whole time slice, in step with the round); median / p90 / max ms."""
    times: Dict[str, List[float]] = {k: [] for k in variants}
    order = np.random.default_rng(0)
    for r in range(-1, rounds):
        for name in order.permutation(list(variants)):
            fn = variants[name]
            t0 = time.perf_counter()
            fn()
            if r >= 0:
                times[name].append((time.perf_counter() - t0) * 1e3)
    return {k: _stats(v) for k, v in times.items()}


def _rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T`` in `sift.similarities`' row blocks (its fallback without threadpoolctl)."""
    from mast3r_ros.core.matchers import sift

    with _NoLimit():
        return sift.similarities(a, b)


class _NoLimit:
    """Swaps blas_threads' controller for False (the code before: no limit) while active."""

    def __enter__(self):
        self.saved, blas_threads._blas = blas_threads._controller(), False

    def __exit__(self, *exc):
        blas_threads._blas = self.saved


def retrieval_case(k: int, dim: int, rounds: int) -> Dict[str, object]:
    import torch

    rng = np.random.default_rng(k)
    db = rng.standard_normal((k, dim)).astype(np.float32)
    db /= np.linalg.norm(db, axis=1, keepdims=True)
    idx = RetrievalIndex.build(db, IndexParams(approx_threshold=10 ** 9))
    queries = db[rng.choice(k, 16)] + 0.05 * rng.standard_normal((16, dim)).astype(np.float32)
    qi = iter(range(10 ** 9))

    def q() -> np.ndarray:
        return queries[next(qi) % len(queries)]

    def old():
        with _NoLimit():
            return idx.search(q(), 10)

    tdb = torch.from_numpy(db)

    def limited():
        with blas_threads.single_blas_thread():
            return db @ q()

    res = interleaved({
        "search_old": old,
        "search_new": lambda: idx.search(q(), 10),
        "blas": lambda: db @ q(),
        "blas_1": limited,
        "einsum": lambda: np.einsum("kd,d->k", db, q()),
        "torch": lambda: torch.mv(tdb, torch.from_numpy(q())),
        "rows": lambda: _rows(db, q()[None]),
    }, rounds)
    return res


def check_same(k: int, dim: int) -> Dict[str, object]:
    """old and new return the same indices; the limited product is bit-equal / how far others
    are from numpy's BLAS product."""
    import torch

    rng = np.random.default_rng(k)
    db = rng.standard_normal((k, dim)).astype(np.float32)
    db /= np.linalg.norm(db, axis=1, keepdims=True)
    idx = RetrievalIndex.build(db, IndexParams(approx_threshold=10 ** 9))
    same, bit_equal, dev = True, True, {"einsum": 0.0, "torch": 0.0, "rows": 0.0}
    for x in db[rng.choice(k, 8)] + 0.05 * rng.standard_normal((8, dim)).astype(np.float32):
        with _NoLimit():
            before, ref = idx.search(x, 10), db @ x
        same &= bool(np.array_equal(before, idx.search(x, 10)))
        with blas_threads.single_blas_thread():
            bit_equal &= bool(np.array_equal(ref, db @ x))
        dev["einsum"] = max(dev["einsum"], float(np.abs(np.einsum("kd,d->k", db, x) - ref).max()))
        dev["torch"] = max(dev["torch"], float(np.abs(
            torch.mv(torch.from_numpy(db), torch.from_numpy(x)).numpy() - ref).max()))
        dev["rows"] = max(dev["rows"], float(np.abs(_rows(db, x[None])[:, 0] - ref).max()))
    assert same, "the limit changed the search's indices"
    return {"same_indices": same, "blas_1_bit_equal": bit_equal, "max_abs_diff": dev}


def live_products(n: int, rounds: int) -> Dict[str, object]:
    rng = np.random.default_rng(n)
    F = rng.standard_normal((8, n))
    Fp = rng.standard_normal((24, n))

    def one(fn):
        def run():
            with blas_threads.single_blas_thread():
                return fn()
        return run

    return interleaved({"FFt": lambda: F @ F.T, "FFt_1": one(lambda: F @ F.T),
                        "FpFt": lambda: Fp @ F.T, "FpFt_1": one(lambda: Fp @ F.T),
                        "FpFt_rows": lambda: _rows(Fp, F)}, rounds)


def sift_case(n: int, rounds: int) -> Dict[str, object]:
    rng = np.random.default_rng(n)
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True)
            for x in rng.random((2, n, 128), dtype=np.float32))

    def one():
        with blas_threads.single_blas_thread():
            return a @ b.T
    return interleaved({"threaded": lambda: a @ b.T, "rows": lambda: _rows(a, b),
                        "one_thread": one}, rounds)


def pnp_case(n: int, rounds: int) -> Dict[str, object]:
    """`solve_pnp` (backend auto: poselib where installed; RANSAC on 512 points, refinement
    and covariance on all ``n``, with per-point 3-D covariances: the (24, n) x (n, 8) product)
    without / with the limit; the same pose asserted, the covariance to 1e-12 of its largest
    entry (BLAS on 2 threads sums some products in another order: last-bit differences)."""
    from mast3r_ros.core.pnp import solve_pnp
    from mast3r_ros.core.types import CameraIntrinsics

    cam = CameraIntrinsics(640, 480, [[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    rng = np.random.default_rng(n)
    px = rng.uniform([0, 0], [639, 479], (n, 2))
    z = rng.uniform(0.5, 5.0, n)
    X = np.stack([(px[:, 0] - 319.5) / 525.0 * z, (px[:, 1] - 239.5) / 525.0 * z, z], 1)
    X += 0.005 * z[:, None] * rng.standard_normal((n, 3))
    out = rng.random(n) < 0.2
    px[out] = rng.uniform([0, 0], [639, 479], (int(out.sum()), 2))
    cov = np.broadcast_to(np.eye(3) * 1e-4, (n, 3, 3)) * (z ** 2)[:, None, None]

    def solve():
        return solve_pnp(X, px, cam, points_cov=cov)

    def old():
        with _NoLimit():
            return solve()

    a, b = old(), solve()
    assert a.success and np.array_equal(a.map_from_cam, b.map_from_cam)
    rel = float(np.abs(a.covariance - b.covariance).max() / np.abs(a.covariance).max())
    assert rel < 1e-12, f"the limit changed the covariance by {rel:.1e} of its largest entry"
    res: Dict[str, object] = dict(interleaved({"pnp_old": old, "pnp_new": solve}, rounds))
    res["same"] = {"pose_bit_equal": True, "inliers": a.num_inliers,
                   "covariance_bit_equal": bool(np.array_equal(a.covariance, b.covariance)),
                   "covariance_max_diff_rel": rel}
    return res


def _ratio(a: Dict[str, float], b: Dict[str, float], key: str) -> float:
    return a[key] / b[key]


def _blas_info() -> List[Dict[str, object]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: lib.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                      "num_threads", "threading_layer", "architecture")}
            for lib in threadpool_info()]  # not filepath: no machine paths in the notes


def run_load(label: str, sizes: List[int], dim: int, rounds: int, live_n: List[int]
             ) -> Dict[str, object]:
    out: Dict[str, object] = {"load_average_before": os.getloadavg()}
    for k in sizes:
        r = max(5, rounds * 6000 // k) if k > 2000 else rounds
        res = retrieval_case(k, dim, r)
        out[f"K{k}"] = res
        o, n = res["search_old"], res["search_new"]
        print(f"[{label}] K={k:>6} rounds={r:>4}  " + "  ".join(
            f"{v} {s['median_ms']:.3f} [{s['p90_ms']:.2f}]" for v, s in res.items())
            + f"  | old/new median {_ratio(o, n, 'median_ms'):.1f}x, p90 "
            f"{_ratio(o, n, 'p90_ms'):.1f}x", flush=True)
    for n_pts in live_n:
        res = live_products(n_pts, rounds)
        out[f"live_n{n_pts}"] = res
        print(f"[{label}] live products n={n_pts}: " + "  ".join(
            f"{v} {s['median_ms']:.3f} [{s['p90_ms']:.2f}]" for v, s in res.items())
            + "  | own/1-thread median [p90] " + ", ".join(
                f"{v} {_ratio(res[v], res[v + '_1'], 'median_ms'):.1f}x "
                f"[{_ratio(res[v], res[v + '_1'], 'p90_ms'):.1f}x]" for v in ("FFt", "FpFt")),
            flush=True)
    res = sift_case(500, rounds)
    out["sift_n500"] = res
    print(f"[{label}] SIFT product 500 x 500: " + "  ".join(
        f"{v} {s['median_ms']:.3f} [{s['p90_ms']:.2f}]" for v, s in res.items()), flush=True)
    for n_pts in live_n:
        res = pnp_case(n_pts, max(5, rounds // 4))
        out[f"pnp_n{n_pts}"] = res
        o, n = res["pnp_old"], res["pnp_new"]
        print(f"[{label}] solve_pnp n={n_pts}: old {o['median_ms']:.2f} [{o['p90_ms']:.2f}]  "
              f"new {n['median_ms']:.2f} [{n['p90_ms']:.2f}]  | old/new median "
              f"{_ratio(o, n, 'median_ms'):.1f}x, p90 {_ratio(o, n, 'p90_ms'):.1f}x  "
              f"same: {json.dumps(res['same'])}", flush=True)
    out["load_average_after"] = os.getloadavg()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 2000, 20000])
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=200, help="timed rounds at <= 2000 keyframes "
                    "(fewer above: rounds * 6000 / K, at least 5)")
    ap.add_argument("--busy", type=int, default=2, help="busy-loop processes of the loaded pass")
    ap.add_argument("--live-n", type=int, nargs="*", default=[1000, 5000, 20000],
                    help="inlier counts of the live-path products")
    ap.add_argument("--smoke", action="store_true", help="small sizes, few rounds")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    if args.smoke:
        args.sizes, args.dim, args.rounds, args.live_n = [200, 2000], 64, 5, [1000]
    import torch

    out: Dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "blas": _blas_info(),
                    "env": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS",
                                                           "OMP_NUM_THREADS")}},
        "args": {k: v for k, v in vars(args).items() if k != "json"},  # no machine paths
        "check": check_same(args.sizes[-1], args.dim)}
    print("machine:", json.dumps(out["machine"]), "\ncheck:", json.dumps(out["check"]))
    out["as_is"] = run_load("as is", args.sizes, args.dim, args.rounds, args.live_n)
    procs = [multiprocessing.Process(target=_busy, args=(os.getpid(),), daemon=True)
             for _ in range(args.busy)]
    for p in procs:
        p.start()
    try:
        time.sleep(0.5)
        out[f"busy_{args.busy}"] = run_load(f"+{args.busy} busy", args.sizes, args.dim,
                                            args.rounds, args.live_n)
    finally:
        for p in procs:
            p.terminate()
            p.join()
    if args.json:
        from mast3r_ros.core.fileio import atomic_write_json

        atomic_write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
