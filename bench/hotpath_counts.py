#!/usr/bin/env python3
"""Benchmark (CPU proxy for a GPU): host-side work of a frame's matching, counted, not timed.

On a GPU a 512x384 frame's matching is bound by kernel launches and host round trips, not by
arithmetic; both are device-independent counts that a CPU run measures exactly. `OpCounter`
counts, while a callable runs:

* ``aten_ops``: aten operators dispatched (`TorchDispatchMode`), the Triton launches' own
  host work excluded (under ``TRITON_INTERPRET=1`` the interpreter copies tensors around);
  ``sorts`` among them;
* ``syncs``: operations that make the host wait for the device -- aten ops whose output size or
  value the host needs (``nonzero``, ``unique``, ``item``, ``masked_select``, ...) and tensor
  reads on the host (``.cpu()``, ``.item()``, ``.tolist()``, ``bool(t)``, ...; ``.numpy()``
  is not one: it needs a host tensor). A blocking upload (a copy from pageable host memory,
  which on CUDA synchronizes the stream) is not seen on a CPU: test/gpu/test_cuda_syncs.py
  checks the fixed path's with CUDA's sync debug mode;
* ``nn_search`` calls and Triton kernel launches;
* ``kernels``: the dispatched ops that launch a device kernel (`NO_KERNEL`, `MAYBE_COPY`: views,
  allocations, conversions that return their input are none; a CUDA graph holds one node per
  kernel) and ``bytes_out``, the bytes they write.

`fixed_phases` splits a K=1 frame's fixed path into its phases; `host_finish_bench` times the
host work after the one transfer (selection, per-pair views, pixels, points), previous vs now.

Run as a script it prints, side by side in one process, the previous and the current
fixed-shape matching of a frame (`matchers.fixed_matching`, the path CUDA frames replay as a
graph; its counts do not depend on the image size), and the variable-shape Triton path, on
realistic pairs (bench/realistic_pairs.py) through Triton's CPU interpreter, with whether the
rows are identical:

    python bench/hotpath_counts.py --json out.json
    python bench/hotpath_counts.py --localize   # and whole frames, first after warm-up vs again
    python bench/hotpath_counts.py --host-only  # the host finish alone (numpy; no Triton)
    python bench/hotpath_counts.py --fused-rounds  # "now" with walk.FUSED_ROUNDS on
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is first imported

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

_REPO = Path(__file__).resolve().parents[1]
for _p in (str(_REPO), str(_REPO / "test"), str(_REPO / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

LOG = logging.getLogger("hotpath_counts")
# aten ops whose output size the host needs (a read of a value, ``item`` / ``bool`` -> aten
# ``_local_scalar_dense``, is counted once, as the host read)
SYNC_ATEN = frozenset(("nonzero", "unique", "_unique", "_unique2", "unique_dim",
                       "unique_consecutive", "masked_select"))
HOST_READS = frozenset(("cpu", "item", "tolist", "__bool__", "__int__", "__float__",
                        "__index__"))
KERNELS = ("_target_norm_kernel", "_screen_kernel", "_nn_partial_kernel", "_nn_reduce_kernel")
WALK_KERNELS = ("_walk_mid_kernel", "_walk_step_kernel")  # core.walk_triton (fused rounds)
# aten ops that launch no device kernel (views, metadata, allocations, host scalars): every
# other dispatched op counts as one kernel launch ("kernels"; a CUDA graph replays each as a
# node, so the count is the graph's size too; sort and a few others launch more than one)
NO_KERNEL = frozenset((
    "empty", "empty_like", "empty_strided", "new_empty", "view", "_unsafe_view",
    "unsqueeze", "squeeze", "slice", "select", "expand", "transpose", "t", "permute", "unbind",
    "split", "chunk", "narrow", "as_strided", "alias", "detach", "lift_fresh", "scalar_tensor",
    "resolve_conj", "resolve_neg", "_local_scalar_dense", "is_nonzero", "set_", "unfold",
    "_reshape_alias", "view_as"))
MAYBE_COPY = frozenset(("to", "_to_copy", "contiguous", "reshape", "flatten", "type_as"))


class _Dispatch(TorchDispatchMode):
    def __init__(self, owner: OpCounter) -> None:
        super().__init__()
        self.owner = owner

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        o = self.owner
        if not o.paused:
            name = func.overloadpacket.__name__
            o.counts["aten_ops"] += 1
            o.counts["sorts"] += name == "sort"
            o.counts["syncs"] += name in SYNC_ATEN
            o.ops[name] += 1
        out = func(*args, **(kwargs or {}))
        if not o.paused and name not in NO_KERNEL and not _no_copy(name, args, out):
            o.counts["kernels"] += 1
            o.counts["bytes_out"] += sum(t.numel() * t.element_size()
                                         for t in _tensors(out))
        return out


def _tensors(out):
    return [t for t in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(t, torch.Tensor)]


def _no_copy(name: str, args, out) -> bool:
    """A conversion / ``contiguous`` / ``reshape`` that returned its input's storage (a view or
    the input itself: no kernel); these ops copy otherwise."""
    if name not in MAYBE_COPY or not args or not isinstance(args[0], torch.Tensor):
        return False
    src = args[0].untyped_storage().data_ptr()
    return all(t.untyped_storage().data_ptr() == src for t in _tensors(out))


class _Function(TorchFunctionMode):
    def __init__(self, owner: OpCounter) -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        o = self.owner
        name = getattr(func, "__name__", "")
        out = func(*args, **kwargs)
        if o.paused:
            return out
        if name in HOST_READS:
            o.counts["syncs"] += 1
            o.reads[name] += 1
        return out


class OpCounter:
    """Context manager counting what the module docstring lists; ``counts`` after exit."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter(
            {k: 0 for k in ("aten_ops", "kernels", "bytes_out", "sorts", "syncs", "nn_search",
                            "triton_launches")})
        self.ops: collections.Counter = collections.Counter()
        self.reads: collections.Counter = collections.Counter()
        self.paused = 0
        self._stack = contextlib.ExitStack()

    def _patch_triton(self) -> None:
        from mast3r_ros.core.matching.backend import _triton_error

        if _triton_error() is not None:
            return
        from mast3r_ros.core import nn_triton, walk_triton

        counter = self

        class _Launch:
            def __init__(self, kernel):
                self.kernel = kernel

            def __getitem__(self, grid):
                counter.counts["triton_launches"] += 1
                launch = self.kernel[grid]

                def run(*a, **kw):
                    counter.paused += 1
                    try:
                        return launch(*a, **kw)
                    finally:
                        counter.paused -= 1
                return run

        real_search = nn_triton.nn_search

        def search(*a, **kw):
            counter.counts["nn_search"] += 1
            return real_search(*a, **kw)

        for mod, names in ((nn_triton, KERNELS), (walk_triton, WALK_KERNELS)):
            for n in names:
                self._stack.enter_context(_patched(mod, n, _Launch(getattr(mod, n))))
        self._stack.enter_context(_patched(nn_triton, "nn_search", search))

    def __enter__(self) -> OpCounter:
        self._patch_triton()
        self._stack.enter_context(_Function(self))
        self._stack.enter_context(_Dispatch(self))
        return self

    def __exit__(self, *exc) -> bool:
        self._stack.close()
        return False


@contextlib.contextmanager
def _patched(obj: Any, name: str, value: Any):
    saved = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, saved)


def count(fn: Callable[[], Any]) -> Dict[str, Any]:
    """One counted call of ``fn``: ``{"result": ..., **counts}`` (`OpCounter`)."""
    with OpCounter() as c:
        result = fn()
    return {"result": result, **c.counts}


# -------------------------------------------------------- the previous behaviour (frozen) ---

@contextlib.contextmanager
def previous():
    """Within it the matching runs as before this round (walk_prev.py: `fused_lookup_prev`,
    `upload_poses_prev`)."""
    from walk_prev import fused_lookup_prev, upload_poses_prev

    from mast3r_ros.core.matchers import fixed_matching
    from mast3r_ros.core.matching import walk

    with _patched(walk._FusedWalk, "_lookup", fused_lookup_prev), \
            _patched(fixed_matching, "_upload_poses", upload_poses_prev), \
            _patched(walk, "FUSED_ROUNDS", False):
        yield


# ------------------------------------------------------------------------------ the bench ---

def realistic_preds(k: int, hw, seed: int = 1) -> List[SimpleNamespace]:
    """K `PairPrediction`-like records of realistic pairs (realistic_pairs.py) of (H, W)."""
    from realistic_pairs import fabricate_pair, make_scene

    h, w = hw
    kfs, query = make_scene(k, camera=(4 * w, 4 * h), seed=seed)
    to = np.diag([4.0, 4.0, 1.0])
    g = torch.Generator().manual_seed(seed)
    out = []
    for j, kf in enumerate(kfs):
        p = fabricate_pair(kf, query, to, to, (h, w), 24, seed=seed + j)
        out.append(SimpleNamespace(**{f: p[f] for f in ("desc_1", "desc_2", "desc_conf_1",
                                                         "desc_conf_2", "conf_1")},
                                   pts3d_1=torch.randn((h, w, 3), generator=g)))
    return out


def compare(name: str, fn: Callable[[], Any], same: Callable[[Any, Any], bool]) -> Dict:
    """``fn`` counted previous vs now (now, previous, now: the first call of a path compiles
    nothing on the CPU, but the second now-call checks the counts repeat)."""
    now = count(fn)
    with previous():
        prev = count(fn)
    again = count(fn)
    keys = [k for k in now if k != "result"]
    res = {"path": name, "prev": {k: prev[k] for k in keys}, "now": {k: now[k] for k in keys},
           "repeatable": all(now[k] == again[k] for k in keys),
           "identical": bool(same(now["result"], prev["result"]))}
    LOG.info("%-34s %s", name, "  ".join(f"{k} {prev[k]} -> {now[k]}" for k in keys)
             + f"  identical {res['identical']}")
    return res


def run_bench(k_values=(1, 4), hw=(48, 64), seed: int = 1) -> List[Dict]:
    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.matchers import fixed_matching
    from mast3r_ros.core.matchers.mast3r import _match_and_fuse_walks

    cfg = MatchingConfig(nn_backend="triton", max_matches=10**6, cuda_graph="off")
    rows_equal = np.array_equal

    def fused_equal(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    out = []
    for k in k_values:
        preds = realistic_preds(k, hw, seed)
        poses = np.stack([np.eye(4)] * k)
        out.append(compare(f"fixed path, K={k}", lambda p=preds, t=poses: fixed_matching
                           .fixed_rows(p, t, cfg, graphs=False), rows_equal))
        out.append(compare(f"variable Triton path, K={k}", lambda p=preds, t=poses:
                           _match_and_fuse_walks(p, t, cfg, np.random.default_rng(0)),
                           fused_equal))
    return out


def localize_counts(frames: int = 3, keyframes: int = 2, size: int = 224) -> List[Dict]:
    """Whole `Localizer.localize` frames on the CPU (tiny random-weight checkpoint, the torch
    search; `localizer.warmup` on): the first live frame after the warm-up, then the same
    frame again, then others, each with its prior. A first frame that dispatched other ops or
    waited more often than its repeat would take a branch the warm-up did not cover."""
    import dataclasses
    import tempfile

    from mast3r_test_utils import TINY_SPEC, random_model, write_checkpoint

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.keyframes import write_map
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    with tempfile.TemporaryDirectory(prefix="hotpath_") as tmp:
        ck = os.path.join(tmp, "random.pth")
        write_checkpoint(ck, random_model(TINY_SPEC, seed=0))
        fr = list(render_frames(2 * frames + 4, default_intrinsics(640, 480), seed=0))
        mp = write_map(os.path.join(tmp, "map"), [(f.rgb, f.intrinsics, f.map_from_cam,
                                                    f.stamp_ns, f.depth_m) for f in fr[0::2]])
        base = Config()
        cfg = dataclasses.replace(
            base, model=dataclasses.replace(base.model, checkpoint=ck, device="cpu",
                                            image_size=size),
            localizer=dataclasses.replace(base.localizer, max_keyframes=keyframes,
                                          prior_radius_m=100.0, warmup=True))
        loc = Localizer.from_config(cfg, mp)
        queries = fr[3::2]
        out = []
        for i, f in enumerate([queries[0]] + queries[:frames]):
            got = count(lambda f=f: loc.localize(f, prior=f.map_from_cam))
            got.pop("result")
            out.append({"frame": "first" if i == 0 else f"query {i - 1}", **got})
            LOG.info("localize %-8s %s", out[-1]["frame"], "  ".join(
                f"{k} {v}" for k, v in got.items() if k not in ("nn_search", "triton_launches")))
        loc.close()
    return out


def fixed_phases(hw=(48, 64), seed: int = 1) -> Dict[str, Dict[str, int]]:
    """The fixed path's K=1 frame split by phase (eager on the CPU; on CUDA all but the first
    row replay as graph nodes): ``outside_graph`` the static buffers' refill (`_stack_into`:
    the six maps and the poses), ``walk_setup`` the start points, the finiteness masks and the
    walk's prepared copies, ``walk_round`` one walk round (there are `FIRST_ROUNDS`),
    ``after_walk`` the fusion and extraction (keys, sort, filters, point lookup and transform,
    the packed rows), by difference of whole `device_pack` calls of 1 and 2 rounds."""
    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.matchers import fixed_matching as fm
    from mast3r_ros.core.matching import walk
    from mast3r_ros.core.matching.checks import _start_indices

    cfg = MatchingConfig(nn_backend="triton", max_matches=10**6, cuda_graph="off")
    preds, poses = realistic_preds(1, hw, seed), np.eye(4)[None]
    prm = fm._params(cfg)
    bufs = fm._new_buffers(preds, torch.device("cpu"))
    fm.fixed_rows(preds, poses, cfg, graphs=False)

    def counted(fn):
        with OpCounter() as c, torch.inference_mode():
            fn()
        return dict(c.counts)

    def setup():  # `reciprocal_walk_fixed` with its rounds left out
        k, h1, w1, d = bufs["desc_1"].shape
        start = _start_indices((h1, w1), prm.subsample, None, torch.device("cpu"))
        with _patched(walk._FusedWalk, "run", lambda *a, **kw: None):
            walk.reciprocal_walk_fixed(bufs["desc_1"].reshape(k, -1, d),
                                       bufs["desc_2"].reshape(k, -1, d), start, 1)

    out = {"outside_graph": counted(lambda: fm._stack_into(bufs, preds, poses)),
           "walk_setup": counted(setup)}
    one, two = (counted(lambda n=n: fm.device_pack(**bufs, prm=prm, rounds=n)) for n in (1, 2))
    out["walk_round"] = {k: two[k] - one[k] for k in one}
    out["after_walk"] = {k: one[k] - out["walk_setup"][k] - out["walk_round"][k] for k in one}
    out["graph_total"] = {k: one[k] + (fm._first_rounds(prm) - 1) * out["walk_round"][k]
                          for k in one}
    for name, c in out.items():
        LOG.info("fixed path K=1 %-14s %s", name, "  ".join(f"{k} {v}" for k, v in c.items()
                                                          if k not in ("syncs",)))
    return out


def packed_rows(k: int, walkers: int = 3072, seed: int = 0) -> np.ndarray:
    """(K * walkers, 13) rows as `fixed_matching.device_pack` gives them before the host
    filter (status row dropped): sorted by slot, ~97 % kept (512x384 realistic pairs keep
    ~3050 of 3072 walkers), not-kept rows at slot 0 with arbitrary values, pixels on a
    512x384 grid, points in front of the camera but a few non-finite."""
    rng = np.random.default_rng(seed)
    n = k * walkers
    h = rng.normal(size=(n, 13))
    h[:, 0] = rng.random(n) < 0.97
    h[:, 1] = np.repeat(np.arange(k), walkers)
    h[:, 1][h[:, 0] == 0] = 0
    h[:, 2:6] = rng.integers(0, 384, (n, 4))
    h[:, 8] = np.abs(h[:, 8]) + 0.5
    h[rng.random(n) < 0.01, 6] = np.nan
    h[:, 12] = 1 + 4 * rng.random(n)
    return h


def host_finish(host: np.ndarray, k: int, select: Callable, pair: Callable) -> List[Any]:
    """The host side of a K-pair frame after the one transfer: `fixed_matching.fixed_rows`'s
    filter, `_select_rows`, and per pair `FusedMatches.pair` and the array work of
    `Mast3rMatcher._pair` (pointmap points: pixels through a homography, finite points in
    front, their covariances)."""
    from mast3r_ros.core.config import MatchingConfig
    from mast3r_ros.core.geometry import apply_homography
    from mast3r_ros.core.uncertainty import pointmap_point_covariance

    to = np.diag([1.25, 1.25, 1.0])
    fused = select(host[host[:, 0] > 0], k, MatchingConfig(), np.random.default_rng(0))
    out = []
    for j in range(k):
        m = pair(fused, j)
        kf_xy, q_xy = apply_homography(to, m.xy1), apply_homography(to, m.xy2)
        ok = np.isfinite(m.pts3d_cam).all(axis=1) & (m.pts3d_cam[:, 2] > 0)
        out.append((m.pts3d_map[ok], q_xy[ok], kf_xy[ok],
                    pointmap_point_covariance(m.pts3d_cam[ok], m.conf[ok])))
    return out


def host_finish_bench(k_values=(1, 4), repeats: int = 200) -> List[Dict]:
    """`host_finish` previous (walk_prev.py) vs now, alternated: median microseconds, peak
    bytes allocated (tracemalloc) and whether the outputs are identical."""
    import time
    import tracemalloc

    from walk_prev import pair_prev, select_rows_prev

    from mast3r_ros.core.matchers.mast3r import FusedMatches, _select_rows

    ways = {"prev": (select_rows_prev, pair_prev), "now": (_select_rows, FusedMatches.pair)}
    res = []
    for k in k_values:
        host = packed_rows(k)
        got = {w: host_finish(host, k, *f) for w, f in ways.items()}
        same = all(np.array_equal(a, b, equal_nan=True) for x, y in zip(got["prev"], got["now"])
                   for a, b in zip(x, y))
        times: Dict[str, List[float]] = {w: [] for w in ways}
        for _ in range(repeats):
            for w, f in ways.items():
                t = time.perf_counter()
                host_finish(host, k, *f)
                times[w].append(time.perf_counter() - t)
        peak = {}
        for w, f in ways.items():
            tracemalloc.start()
            host_finish(host, k, *f)
            peak[w] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        r = {"k": k, "rows": int(len(host)), "identical": bool(same), **{
            f"{w}_us": round(float(np.median(times[w])) * 1e6, 1) for w in ways},
             **{f"{w}_peak_bytes": peak[w] for w in ways}}
        LOG.info("host finish K=%d (%d rows)  median %.0f -> %.0f us  peak alloc %d -> %d "
                 "bytes  identical %s", k, r["rows"], r["prev_us"], r["now_us"],
                 peak["prev"], peak["now"], same)
        res.append(r)
    return res


def main(argv: Optional[List[str]] = None) -> int:
    from benchlib import environment, write_json

    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", type=int, nargs=2, default=(48, 64), metavar=("H", "W"),
                   help="descriptor grid (fixed-path counts do not depend on it)")
    p.add_argument("--localize", action="store_true",
                   help="also whole Localizer.localize frames (tiny checkpoint, torch search)")
    p.add_argument("--host-only", action="store_true",
                   help="only the host finish after the transfer (numpy; no Triton)")
    p.add_argument("--fused-rounds", action="store_true",
                   help="the current path with walk.FUSED_ROUNDS on (a round's bookkeeping as "
                        "two Triton kernels; the previous path is as before)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.fused_rounds:
        from mast3r_ros.core.matching import walk

        walk.FUSED_ROUNDS = True
    res = {**environment(torch.device("cpu")), "hw": list(args.size),
           "fused_rounds": bool(args.fused_rounds),
           "host_finish": host_finish_bench()}
    if not args.host_only:  # the rest runs the Triton search (its CPU interpreter here)
        res["phases"] = fixed_phases(tuple(args.size))
        res["paths"] = run_bench(hw=tuple(args.size), seed=args.seed)
    if args.localize:
        res["localize"] = localize_counts()
    write_json(args.json, res)
    return 0 if all(r["identical"] and r.get("repeatable", True)
                    for r in res.get("paths", []) + res["host_finish"]) else 1


if __name__ == "__main__":
    sys.exit(main())
