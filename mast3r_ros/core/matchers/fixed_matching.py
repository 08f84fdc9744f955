"""Fixed-shape, host-sync-free matching of the K keyframe pairs of one frame (Triton path).

`matchers.mast3r.match_and_fuse` runs this when the nearest-neighbour search is the fused Triton
kernel (``matching.nn_backend``, `core.matching.resolve_nn_backend`): the whole device part of a
frame's matching -- the K reciprocal walks (`core.matching.reciprocal_walk_fixed`:
`FIRST_ROUNDS` rounds, no "anyone still walking?" test), the de-duplication and sort of the
converged (slot, xy1, xy2) keys, the border and confidence filters, the lookup of the keyframe's
``pts3d`` and their transform to the map frame -- is a fixed sequence of kernels on tensors of
fixed shapes, ending in ONE (K * P + 1, 13) float64 array (P walkers per pair, one row per
walker, sorted by slot, then image-1, then image-2 flat index; duplicates, unconverged walkers
and filtered matches flagged in column 0; then a status row: does a walker still walk?). That
array comes to the host in one transfer, where the kept rows are selected and the
``max_matches`` subsets drawn from ``rng`` exactly as the variable-shape path does
(`matchers.mast3r._select_rows`), so the matches, their order and the random stream are
identical. Walks on realistic 512x384 pairs end within 4-5 rounds, so rounds up to
``max_iter`` (10) would only launch kernels that find nothing to do (4 of 10 rounds skipped:
about 40 % of the device part's launches); a frame whose walks are longer (the status row says
so) is matched again eagerly with all ``max_iter`` rounds: the same matches either way. That
eager branch has its own one-time costs on a GPU (the caching allocator's blocks for its
shapes on the frame's stream, the host copy); the localizer's warm-up runs it once per keyframe
count (`warming_longer_walks`), so the first live frame with a long walk does not pay them.

On CUDA (``matching.cuda_graph: auto``) that device part is captured once per key (shapes, K,
input dtypes, device, walk and filter parameters) as a `torch.cuda.CUDAGraph` and replayed:
the frame's inputs are copied into static buffers, one replay, one copy to a pinned host buffer.
The first call of a key runs the computation eagerly on a side stream (compiling the Triton
kernels, which cannot compile during a capture), captures, replays and checks the replay against
the eager result; any failure (capture, replay, mismatch) logs one warning and matching runs
eagerly from then on, until `release_graphs`. The graphs are process-wide (at most
`_MAX_GRAPHS`, least recently used dropped first); `release_graphs` (the mast3r matcher's
``close``, i.e. the node's cleanup) drops them, so the device memory their buffers and pool hold
goes back with the model's. The graphs share one memory pool per device: a replay may overwrite
another graph's output, which is safe because each output is copied to the host right after its
replay and no two replays run at the same time (one lock).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from typing import Any, Dict, Iterator, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from ..matching import reciprocal_walk_fixed, resolve_nn_backend
from ..matching.checks import _check_params, _compute_dtype, _start_indices
from ..matching.pixels import _inside

log = logging.getLogger(__name__)

CUDA_GRAPH_MODES = ("auto", "off")
_MAX_GRAPHS = 16  # distinct keys kept (LRU); a camera has one shape, K takes max_keyframes values
_FIELDS = ("desc_1", "desc_2", "desc_conf_1", "desc_conf_2", "conf_1", "pts3d_1")
# Walk rounds the fixed-shape path runs first (and the CUDA graph holds); the rest of
# ``max_iter`` only when a walker still walks after them (then eagerly). None: all ``max_iter``
# rounds at once (the previous behaviour; bench/bench_matching.py times both). Realistic
# 512x384 pairs end in 4-5 rounds (docs/bench/matchperf_cpu_2026-12-05).
FIRST_ROUNDS: Optional[int] = 6


_WARMING = threading.local()  # .on: `warming_longer_walks` is active on this thread


@contextlib.contextmanager
def warming_longer_walks() -> Iterator[None]:
    """While active (on this thread), every `fixed_rows` call also runs the eager all-rounds
    branch a frame whose walks outlast `FIRST_ROUNDS` takes, even when its walks ended: the
    same rows (a walk that ended is unchanged by more rounds), at the cost of one more eager
    pass. `Localizer.warmup` runs its matching under it, so that branch's one-time costs are
    paid at start-up, not by the first live frame that takes it."""
    before = getattr(_WARMING, "on", False)
    _WARMING.on = True
    try:
        yield
    finally:
        _WARMING.on = before


class _Params(NamedTuple):
    subsample: int
    max_iter: int
    border_px: int
    min_desc_conf: float
    min_pointmap_conf: float


def eligible(preds: Sequence[Any], cfg: Any) -> bool:
    """True when `match_and_fuse` takes this module's fixed-shape path for ``preds``: the
    search resolves to the Triton kernel and every prediction has the same shapes, on one
    device (float32/half descriptors; float64 always uses the torch search)."""
    if not preds:
        return False
    d = preds[0].desc_1
    if d is None or preds[0].desc_2 is None:
        return False
    try:
        dtype = torch.promote_types(_compute_dtype(d.dtype, "desc_1"),
                                    _compute_dtype(preds[0].desc_2.dtype, "desc_2"))
    except Exception:  # noqa: BLE001  the variable-shape path raises the proper error
        return False
    if resolve_nn_backend(cfg.nn_backend, d.device, "dot", dtype) != "triton":
        return False
    first = tuple((tuple(getattr(preds[0], f).shape), getattr(preds[0], f).device)
                  for f in _FIELDS)
    return all(tuple((tuple(getattr(p, f).shape), getattr(p, f).device) for f in _FIELDS)
               == first and p.desc_1.dtype != torch.float64 and p.desc_2.dtype != torch.float64
               for p in preds)


def uses_cuda_graphs(cfg: Any, device: torch.device) -> bool:
    """True when frames on ``device`` with matching config ``cfg`` replay CUDA graphs (so a
    warm-up should run every keyframe count once): ``cuda_graph: auto``, a CUDA device, the
    Triton search, and no earlier capture failure in this process."""
    device = torch.device(device)
    return (getattr(cfg, "cuda_graph", "auto") == "auto" and device.type == "cuda"
            and _RUNNER.broken is None
            and resolve_nn_backend(cfg.nn_backend, device, "dot", torch.float32) == "triton")


def _params(cfg: Any) -> _Params:
    max_iter = _check_params(cfg.subsample, cfg.max_iter, None, 0.0, "dot", 1)
    return _Params(int(cfg.subsample), max_iter, int(cfg.border_px), float(cfg.min_desc_conf),
                   float(cfg.min_pointmap_conf))


def _first_rounds(prm: _Params) -> int:
    """The walk rounds run first (`FIRST_ROUNDS`, at most ``max_iter``)."""
    return prm.max_iter if FIRST_ROUNDS is None else max(1, min(int(FIRST_ROUNDS),
                                                                prm.max_iter))


def device_pack(desc_1: torch.Tensor, desc_2: torch.Tensor, desc_conf_1: torch.Tensor,
                desc_conf_2: torch.Tensor, conf_1: torch.Tensor, pts3d_1: torch.Tensor,
                map_from_cam: torch.Tensor, prm: _Params,
                rounds: Optional[int] = None) -> torch.Tensor:
    """The fixed-shape device part of `match_and_fuse` (module docstring); no host sync.

    Inputs stacked over the K pairs, on one device: ``desc_1`` (K, H1, W1, D) and ``desc_2``
    (K, H2, W2, D) float32; ``desc_conf_1``, ``conf_1`` (K, H1, W1) and ``desc_conf_2``
    (K, H2, W2) float32; ``pts3d_1`` (K, H1, W1, 3) float32 (keyframe camera frame, metres);
    ``map_from_cam`` (K, 4, 4) float64. Needs at least one start point and H2 * W2 > 0.

    Returns (K * P, 13) float64 rows ``keep, slot, x1, y1, x2, y2, cx, cy, cz, mx, my, mz,
    conf`` (``c*`` camera-frame point, ``m*`` map-frame point, ``conf`` = ``conf_1`` at xy1):
    one row per walker, sorted by key (slot, image-1 flat index, image-2 flat index) with the
    not-kept rows (``keep == 0``: unconverged, repeated, near a border, below a confidence
    threshold) where they fall; such rows hold arbitrary values in the other columns. Then
    one status row (K * P + 1 rows in all): its column 0 is 1.0 when fewer than ``max_iter``
    walk rounds ran (``rounds``; None: ``max_iter``) and a walker still walks after them (the
    rows are then not the walk's result: run it again with all ``max_iter`` rounds), else 0.0.
    """
    k_n, h1, w1, d = desc_1.shape
    h2, w2 = desc_2.shape[1:3]
    n1, n2 = h1 * w1, h2 * w2
    dev = desc_1.device
    start = _start_indices((h1, w1), prm.subsample, None, dev)
    n_rounds = prm.max_iter if rounds is None else max(1, min(int(rounds), prm.max_iter))
    xy1, xy2, conv, walking = reciprocal_walk_fixed(desc_1.reshape(k_n, n1, d),
                                                    desc_2.reshape(k_n, n2, d), start, n_rounds)
    more = walking.any() if n_rounds < prm.max_iter else torch.zeros((), dtype=torch.bool,
                                                                      device=dev)
    sentinel = k_n * n1 * n2  # above every key: unconverged walkers sort last
    slot = torch.arange(k_n, device=dev)[:, None]
    key = torch.where(conv, (slot * n1 + xy1) * n2 + xy2, sentinel).reshape(-1)
    key = torch.sort(key).values
    first = torch.ones_like(key, dtype=torch.bool)
    first[1:] = key[1:] != key[:-1]
    valid = first & (key < sentinel)
    key = torch.where(valid, key, 0)  # a harmless pixel for the lookups of dropped rows
    # keys are >= 0: remainder is the exact x - floor(x / n) * n, one kernel instead of two
    f12, f2 = torch.div(key, n2, rounding_mode="floor"), torch.remainder(key, n2)
    s, f1 = torch.div(f12, n1, rounding_mode="floor"), torch.remainder(f12, n1)
    y1 = torch.div(f1, w1, rounding_mode="floor")
    y2 = torch.div(f2, w2, rounding_mode="floor")
    xy1 = torch.stack((torch.remainder(f1, w1), y1), 1)
    xy2 = torch.stack((torch.remainder(f2, w2), y2), 1)
    (x1, y1), (x2, y2) = xy1.unbind(1), xy2.unbind(1)
    # the same expressions, in the same dtypes, as `mast3r._match_and_fuse_walks`
    dc1 = desc_conf_1[s, y1, x1].float()
    dc2 = desc_conf_2[s, y2, x2].float()
    pc1 = conf_1[s, y1, x1].float()
    keep = (valid & _inside(xy1, (h1, w1), prm.border_px) & _inside(xy2, (h2, w2), prm.border_px)
            & (torch.minimum(dc1, dc2) >= prm.min_desc_conf) & (pc1 >= prm.min_pointmap_conf))
    pts = pts3d_1[s, y1, x1].float().double()
    T = map_from_cam[s]
    R, t = T[:, :3, :3], T[:, :3, 3]
    pts_map = (R[:, :, 0] * pts[:, 0:1] + R[:, :, 1] * pts[:, 1:2]) + R[:, :, 2] * pts[:, 2:3] + t
    # one cat writes the rows (promoting bool, int64 and float32 to float64: exact), a fill
    # and a copy the status row: 3 kernels, not 9 (conversions, two cats, a pad)
    out = torch.empty((key.shape[0] + 1, 13), dtype=torch.float64, device=dev)
    torch.cat([keep[:, None], s[:, None], xy1, xy2, pts, pts_map, pc1[:, None]], dim=1,
              out=out[:-1])
    out[-1].zero_()
    out[-1, 0] = more
    return out


def _stack_into(bufs: Dict[str, torch.Tensor], preds: Sequence[Any],
                map_from_cam: np.ndarray) -> None:
    """Copy the K predictions' fields (converted to float32) and poses into static buffers."""
    for f in _FIELDS:
        ts = [getattr(p, f) for p in preds]
        buf = bufs[f]
        if all(t.dtype == buf.dtype for t in ts):
            torch.stack(ts, out=buf)
        else:
            buf.copy_(torch.stack([t.to(buf.dtype) for t in ts]))
    _upload_poses(bufs["map_from_cam"], map_from_cam)


def _upload_poses(buf: torch.Tensor, map_from_cam: np.ndarray) -> None:
    """Copy the (K, 4, 4) float64 poses into ``buf`` without a host wait: on CUDA a copy from
    pageable memory synchronizes the stream (the host would wait for the decode queued before
    it, then queue the matching); from pinned memory, ``non_blocking``, it is queued like a
    kernel (the caching host allocator keeps the pinned block until the copy has run)."""
    src = torch.from_numpy(np.ascontiguousarray(map_from_cam, np.float64).reshape(buf.shape))
    if buf.is_cuda:
        buf.copy_(src.pin_memory(), non_blocking=True)
    else:
        buf.copy_(src)


def _new_buffers(preds: Sequence[Any], device: torch.device) -> Dict[str, torch.Tensor]:
    k_n = len(preds)
    bufs = {f: torch.empty((k_n, *getattr(preds[0], f).shape), dtype=torch.float32,
                           device=device) for f in _FIELDS}
    bufs["map_from_cam"] = torch.empty((k_n, 4, 4), dtype=torch.float64, device=device)
    return bufs


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal arrays, NaN equal to NaN (dropped rows may hold NaN points)."""
    return a.shape == b.shape and bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())


class _Captured(NamedTuple):
    graph: Any
    bufs: Dict[str, torch.Tensor]
    out: torch.Tensor
    host: torch.Tensor  # pinned


class _GraphRunner:
    """CUDA graphs of `device_pack` keyed by shapes, K, dtypes, device and parameters."""

    def __init__(self) -> None:
        self.graphs: collections.OrderedDict[Tuple, _Captured] = collections.OrderedDict()
        self.pools: Dict[str, Any] = {}
        self.broken: Optional[str] = None  # why graphs are off for this process
        self.lock = threading.Lock()
        self.n_captures = 0
        self.n_replays = 0
        self.n_longer_walks = 0  # frames whose walks outlasted the graph's rounds

    def key(self, preds: Sequence[Any], prm: _Params) -> Tuple:
        p0 = preds[0]
        return (str(p0.desc_1.device), len(preds), prm, _first_rounds(prm),
                tuple((tuple(getattr(p0, f).shape), str(getattr(p0, f).dtype))
                      for f in _FIELDS))

    def run(self, preds: Sequence[Any], map_from_cam: np.ndarray, prm: _Params
            ) -> Optional[np.ndarray]:
        """The packed rows on the host, or None when graphs are off (run eagerly)."""
        if self.broken is not None:
            return None
        with self.lock:
            try:
                key = self.key(preds, prm)
                cap = self.graphs.get(key)
                if cap is None:
                    cap = self._capture(preds, map_from_cam, prm)
                    self.graphs[key] = cap
                    while len(self.graphs) > _MAX_GRAPHS:
                        self.graphs.popitem(last=False)
                else:
                    self.graphs.move_to_end(key)
                    _stack_into(cap.bufs, preds, map_from_cam)
                    cap.graph.replay()
                    self.n_replays += 1
                cap.host.copy_(cap.out, non_blocking=True)
                torch.cuda.current_stream(cap.out.device).synchronize()
                h = cap.host.numpy()
                self.n_longer_walks += bool(h[-1, 0] > 0)
                h = _all_rounds_if_needed(h, cap.bufs, prm)
                return h[h[:, 0] > 0]  # a copy (the pinned buffer is the next frame's)
            except Exception as e:  # noqa: BLE001  a capture can fail in many driver-specific ways
                self.broken = f"{type(e).__name__}: {e}"
                self.graphs.clear()
                log.warning("CUDA graph of the matching failed (%s); matching runs eagerly from "
                            "now on (matching.cuda_graph: off silences this)", self.broken)
                return None

    def release(self) -> int:
        """Drop every graph, its buffers and the memory pools, and forget a failed capture;
        returns how many graphs were dropped. The next `run` captures again."""
        with self.lock:
            n = len(self.graphs)
            self.graphs.clear()
            self.pools.clear()
            self.broken = None
        return n

    def _capture(self, preds: Sequence[Any], map_from_cam: np.ndarray, prm: _Params
                 ) -> _Captured:
        dev = preds[0].desc_1.device
        bufs = _new_buffers(preds, dev)
        _stack_into(bufs, preds, map_from_cam)
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        rounds = _first_rounds(prm)
        with torch.cuda.stream(side):  # compiles the Triton kernels; warms the allocator
            ref = device_pack(**bufs, prm=prm, rounds=rounds)
        torch.cuda.current_stream(dev).wait_stream(side)
        pool = self.pools.get(str(dev))
        if pool is None:
            pool = self.pools[str(dev)] = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"):
            out = device_pack(**bufs, prm=prm, rounds=rounds)
        graph.replay()
        if not _same(out, ref):
            raise RuntimeError("the replayed graph differs from the eager computation")
        self.n_captures += 1
        log.info("captured the matching of %d keyframe pair(s) as a CUDA graph (%d rows)",
                 len(preds), out.shape[0])
        host = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
        return _Captured(graph, bufs, out, host)


_RUNNER = _GraphRunner()


def release_graphs() -> int:
    """Drop the captured matching graphs (their static buffers, pinned host buffers and memory
    pools) and forget a failed capture: a localizer's ``close`` (the node's cleanup) gives their
    device memory back, and the next configure captures afresh (a capture that failed once, e.g.
    out of memory, is tried again). Returns how many graphs were dropped. Another localizer in
    the same process recaptures its graphs on its next frame."""
    return _RUNNER.release()


def fixed_rows(preds: Sequence[Any], map_from_cam: np.ndarray, cfg: Any,
               graphs: Optional[bool] = None) -> np.ndarray:
    """The packed (K * P, 13) float64 rows of `device_pack` on the host (its status row
    dropped), in one transfer (two for a frame whose walks outlast `FIRST_ROUNDS` rounds).

    ``preds``: K `PairPrediction` for which `eligible` holds; ``map_from_cam`` (K, 4, 4)
    float64; ``cfg`` a `MatchingConfig`. ``graphs``: None = `uses_cuda_graphs`; True/False
    forces the choice (a capture that fails falls back to eager with one warning). Returns a
    (0, 13) array when the walk has no start point or image 2 no pixel.
    """
    prm = _params(cfg)
    h1, w1 = preds[0].desc_1.shape[:2]
    h2, w2 = preds[0].desc_2.shape[:2]
    s = prm.subsample
    if s // 2 >= h1 or s // 2 >= w1 or h2 * w2 == 0:
        return np.zeros((0, 13))
    dev = preds[0].desc_1.device
    with torch.inference_mode():
        if graphs is None:
            graphs = uses_cuda_graphs(cfg, dev)
        if graphs:
            host = _RUNNER.run(preds, map_from_cam, prm)
            if host is not None:
                return host
        bufs = _new_buffers(preds, dev)
        _stack_into(bufs, preds, map_from_cam)
        host = device_pack(**bufs, prm=prm, rounds=_first_rounds(prm)).cpu().numpy()
        return _all_rounds_if_needed(host, bufs, prm)


def _all_rounds_if_needed(host: np.ndarray, bufs: Dict[str, torch.Tensor], prm: _Params
                          ) -> np.ndarray:
    """The rows of ``host`` (`device_pack` of `FIRST_ROUNDS` rounds, on the host) without its
    status row; when it says a walker still walks, those of all ``max_iter`` rounds instead,
    run eagerly on ``bufs`` (also when `warming_longer_walks` is active: the same rows)."""
    if host[-1, 0] > 0 or (getattr(_WARMING, "on", False) and _first_rounds(prm) < prm.max_iter):
        host = device_pack(**bufs, prm=prm).cpu().numpy()
    return host[:-1]
