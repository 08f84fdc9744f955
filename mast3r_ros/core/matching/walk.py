"""The reciprocal walk ``p1 -> NN_2(p1) -> NN_1(NN_2(p1)) -> ...`` from image-1 start points.

`_walk` runs it on the torch search (`search._CachedNN`: masked walkers, compacted searches, at
most two host round trips a round; optional basin map);
`_fused_walk` runs the same steps for B pairs at once on the fused Triton search
(`core.nn_triton.nn_search`, imported lazily) through `_FusedWalk` (the walk's state, run a
number of rounds at a time), and `reciprocal_walk_fixed` is its fixed-shape form without host
round trips (CUDA-graph capturable) for `matchers.fixed_matching`. With `FUSED_ROUNDS` a fused
walk round's bookkeeping runs in two Triton kernels (`core.walk_triton`) instead of torch ops.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import torch

from .search import _CachedNN

# A fused walk round: `_FusedWalk` runs a round's bookkeeping (the walkers' updates, each
# search's cache misses) as two Triton kernels (`core.walk_triton`) instead of 20 torch kernels,
# around the same two searches: the same caches and walks bit for bit, 8 launches a round
# instead of 26 (bench/hotpath_counts.py). Off until a GPU has timed both (bench_matching.py's
# ``-fused`` variants, docs/gpu.md): its queries come in walker order, not sorted by row, and
# its kernels run one program per pair.
FUSED_ROUNDS = False


def _walk(
    nn12: _CachedNN, nn21: _CachedNN, start: torch.Tensor, max_iter: int, ret_basin: bool
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Iterate p1 -> NN_2 -> NN_1 from start; return (xy1, xy2, active, basin) flat indices.

    start (P,) int64 sorted distinct image-1 rows (`checks._start_indices`). Same steps as the
    reference's loop in ``fast_reciprocal_NNs`` (naver/mast3r ``mast3r/fast_nn.py``): a point
    stops when its image-2 NN repeats (unless the basin is recorded) or when its
    back-projection returns to where it was; points still active after max_iter rounds are not
    converged.

    Every walker stays in place (masked, not compacted); only the rows a search needs are
    compacted, on the device (`_CachedNN.misses`). Host round trips (the CUDA syncs of the
    torch search): one per search of a data-dependent size, the "anyone still walking?" test
    riding on the image-1 one: none for round 1's image-1 search (the start points), so
    2 * rounds - 1, and one more when the walk ends before ``max_iter``. Fewer is not free:
    each search's size depends on the previous search's results. Padding the image-2 search
    to its known bound (it has at most as many new rows as the image-1 search before it)
    would save the second round trip but search ~8 % more rows on warped 512x384 pairs
    (``docs/bench/matchperf_cpu_2026-12-05/walk_work.json``: rounds 2-3 search ~60 % fewer
    image-2 rows than image-1 rows), and a row costs a pass over the whole target map
    (memory-bound on a GPU), more than a round trip.
    """
    n1 = nn12.source.shape[0]
    xy1, xy2 = start, torch.full_like(start, -1)
    active = torch.ones_like(start, dtype=torch.bool)
    basin = torch.full((n1 + 1,), -1, dtype=torch.int64, device=start.device) if ret_basin else None
    for n_iter in range(1, max_iter + 1):
        if n_iter == 1:
            nn12.search(start)  # every walker, distinct, nothing cached: no round trip
        else:
            todo, n_active = nn12.misses(xy1, active)
            if n_active == 0:
                break
            nn12.search(todo)
        new2 = torch.where(active, nn12.cache[xy1], xy2)
        # a point whose image-2 NN repeats stops (unless the basin is recorded): its NN_1 is
        # cached (its xy2 was looked up in the previous round), so it adds no search
        go = active if ret_basin else active & (new2 != xy2)
        nn21.search(nn21.misses(new2, active)[0])
        back = torch.where(go, nn21.cache[new2.clamp(min=0)], xy1)
        if basin is not None:  # inactive walkers write the spare last entry, reset below
            basin[torch.where(active, xy1, n1)] = back
        active = go & (back != xy1)
        xy1, xy2 = back, new2
    if basin is not None:
        basin[n1] = -1
    return xy1, xy2, active, basin


def _fused_walk(
    flat1: torch.Tensor, flat2: torch.Tensor, bad1: Optional[torch.Tensor],
    bad2: Optional[torch.Tensor], start: torch.Tensor, max_iter: int,
    live: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The walk of `_walk` (no basin) for B pairs at once, searched by `nn_triton.nn_search`.

    flat1 (B, N1, D), flat2 (B, N2, D) float32; bad1 (B, N1) / bad2 (B, N2) bool or None;
    start (P,) flat image-1 indices, the same for every pair. Returns xy1, xy2, active (B, P).

    Same steps and results as `_walk` (each pair's walk is independent), but every walker stays
    in place (masked, not compacted) and each round's cache misses are compacted on the device
    (one sort; not de-duplicated), their count handed to the kernel as a device tensor:
    one host round trip per round after the first (the "anyone still walking?" test,
    `_FusedWalk.run`), one kernel pair per direction and round for all B pairs.

    ``live`` (B, P) bool, given: the walkers that walk at all (the others stay inactive), and the
    walk is free of host round trips: all ``max_iter`` rounds run (a round without walkers hands
    the kernels a query count of 0 on the device and they return at once), so the sequence of
    device operations has a fixed shape (CUDA-graph capturable, `reciprocal_walk_fixed`).
    """
    walk = _FusedWalk(flat1, flat2, bad1, bad2, start, live)
    walk.run(max_iter, until_idle=live is None)
    return walk.xy1, walk.xy2, walk.active


def _target_norms(targets_t: torch.Tensor) -> Optional[torch.Tensor]:
    """The TF32 screen's target norms of a (B, D, T) channel-major map (`nn_triton.bound_norms`),
    or None where the screen does not run (`nn_search` then needs none). A norm kernel that
    cannot compile turns the screen off, as a failing screen in `nn_search` does."""
    from .. import nn_triton

    if not nn_triton.screen_runs(targets_t.device, targets_t.shape[1]):
        return None
    try:
        return nn_triton.bound_norms(targets_t)
    except Exception as e:  # noqa: BLE001  compile failures take many Triton-specific forms
        nn_triton._disable_screen(e)
        return None


class _FusedWalk:
    """The state of `_fused_walk`'s walk of B pairs, run a number of rounds at a time.

    Everything a round reads but does not change is prepared once here, not per search:
    the zeroed invalid rows, the channel-major copies, the byte flags, the searches' work
    buffers (allocated by the first search of each direction), and the TF32 screen's
    target norms (`_target_norms`: one pass over each map per walk instead of one per search,
    2 * max_iter in the fixed-shape walk). ``xy1``, ``xy2``, ``active`` (B, P) hold where each
    walker is; `run` continues the walk. A round after which no walker is active changes
    nothing, so a walk run in pieces equals the walk run at once.
    """

    def __init__(self, flat1: torch.Tensor, flat2: torch.Tensor, bad1: Optional[torch.Tensor],
                 bad2: Optional[torch.Tensor], start: torch.Tensor,
                 live: Optional[torch.Tensor] = None) -> None:
        n_b, n1, _ = flat1.shape
        n2, n_p = flat2.shape[1], start.shape[0]
        if bad1 is not None:
            flat1 = flat1.masked_fill(bad1[..., None], 0.0)
        if bad2 is not None:
            flat2 = flat2.masked_fill(bad2[..., None], 0.0)
        self.flat1, self.flat2 = flat1.contiguous(), flat2.contiguous()
        # the kernels read the flags as bytes: converted once here, not in each search
        self.u1, self.u2 = (None if b is None else b.to(torch.uint8).contiguous()
                            for b in (bad1, bad2))
        self.t1 = self.flat1.transpose(1, 2).contiguous()
        self.t2 = self.flat2.transpose(1, 2).contiguous()
        self.tn1, self.tn2 = _target_norms(self.t1), _target_norms(self.t2)
        dev = flat1.device
        self.c12 = torch.full((n_b, n1), -1, dtype=torch.int64, device=dev)
        self.c21 = torch.full((n_b, n2), -1, dtype=torch.int64, device=dev)
        self.xy1 = start.expand(n_b, n_p).contiguous()
        self.xy2 = torch.full_like(self.xy1, -1)
        self.active = torch.ones_like(self.xy1, dtype=torch.bool)
        if live is not None:  # idle walkers get a valid xy2: every lookup gathers at every walker
            self.xy2.masked_fill_(~live, 0)
            self.active = live.clone()
        self.w12: dict = {}  # each direction's search work buffers (`nn_search` ``scratch``)
        self.w21: dict = {}
        self.rounds = 0
        self.fused = FUSED_ROUNDS and n_b > 0 and n_p > 0
        if self.fused:  # its kernels update the walkers in place: never `start` itself
            if self.xy1.data_ptr() == start.data_ptr():
                self.xy1 = self.xy1.clone()
            walkers = functools.partial(torch.empty, (n_b, n_p), device=dev)
            self.new2, self.go = walkers(dtype=torch.int64), walkers(dtype=torch.bool)
            self.q1, self.q2 = walkers(dtype=torch.int64), walkers(dtype=torch.int64)
            # int64 like the counts the unfused round hands the search (the same kernels)
            self.nq1, self.nq2 = (torch.empty((n_b,), dtype=torch.int64, device=dev)
                                  for _ in range(2))
            self.count = torch.empty((1,), dtype=torch.int32, device=dev)  # active walkers
            self.prepared = False  # q1 / nq1 hold the next round's image-1 queries

    def _lookup(self, cache, src, tgt_t, tgt_bad, tgt_norms, idx, need, n_src, scratch=None):
        from ..nn_triton import nn_search

        # the walkers' cache misses first, sentinels last; a row two walkers miss is searched
        # twice (the same result written twice): de-duplicating it took a second sort and five
        # more ops a search for < 0.5 % of the rows (docs/bench/hotpath_ops_cpu_2026-12-05)
        miss = need & (cache.gather(1, idx) < 0)
        srt = torch.sort(torch.where(miss, idx, n_src), dim=1).values
        nn_search(src, tgt_t, srt, miss.sum(1), cache, tgt_bad, target_norms=tgt_norms,
                  scratch=scratch)
        return cache.gather(1, idx)

    def run(self, n_rounds: int, *, until_idle: bool) -> None:
        """``n_rounds`` more rounds; ``until_idle``: stop early once no walker is active (one
        host round trip per round but the first and the last), else run them all (no host
        round trip). The walk's first round is not tested: walks that end in one round are
        rare (a start point that is its own mutual nearest neighbour stops, the others walk
        on), and an idle second round changes nothing, so the test would cost a host round
        trip on nearly every walk to save a few empty launches on the odd one."""
        if self.fused:
            self._run_fused(n_rounds, until_idle)
            return
        n1, n2 = self.flat1.shape[1], self.flat2.shape[1]
        for i in range(n_rounds):
            xy1, xy2, active = self.xy1, self.xy2, self.active
            new2 = torch.where(active, self._lookup(self.c12, self.flat1, self.t2, self.u2,
                                                    self.tn2, xy1, active, n1, self.w12), xy2)
            go = active & (new2 != xy2)  # stops when the image-2 NN repeats
            back = torch.where(go, self._lookup(self.c21, self.flat2, self.t1, self.u1,
                                                self.tn1, new2, go, n2, self.w21), xy1)
            self.active = go & (back != xy1)  # ... or when the walk returns where it was
            self.xy1, self.xy2 = back, new2
            self.rounds += 1
            if until_idle and 1 < self.rounds and i < n_rounds - 1 and not bool(
                    self.active.any()):
                break

    def _run_fused(self, n_rounds: int, until_idle: bool) -> None:
        """`run` with `FUSED_ROUNDS`: per round the image-1 search, `walk_triton.walk_mid`,
        the image-2 search, `walk_triton.walk_step` (which also lists the next round's queries
        and counts the active walkers for the test)."""
        from ..nn_triton import nn_search
        from ..walk_triton import walk_mid, walk_step

        st = (self.xy1, self.xy2, self.active, self.c12, self.c21, self.new2, self.go)
        if not self.prepared:
            walk_step(*st, self.q1, self.nq1, self.count, finish=False)
            self.prepared = True
        for i in range(n_rounds):
            nn_search(self.flat1, self.t2, self.q1, self.nq1, self.c12, self.u2,
                      target_norms=self.tn2, scratch=self.w12)
            walk_mid(*st, self.q2, self.nq2, self.count)
            nn_search(self.flat2, self.t1, self.q2, self.nq2, self.c21, self.u1,
                      target_norms=self.tn1, scratch=self.w21)
            walk_step(*st, self.q1, self.nq1, self.count, finish=True)
            self.rounds += 1
            if until_idle and 1 < self.rounds and i < n_rounds - 1 and not bool(self.count):
                break


def reciprocal_walk_fixed(
    flat1: torch.Tensor, flat2: torch.Tensor, start: torch.Tensor, max_iter: int
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every walker of the Triton walk of B pairs, fixed shapes, no host round trip.

    flat1 (B, N1, D), flat2 (B, N2, D) float32 (contiguous or not) on CUDA (or CPU under
    ``TRITON_INTERPRET=1``), N1, N2 > 0; start (P,) int64 flat image-1 start indices, the same
    for every pair, P > 0; max_iter >= 1: the rounds run. Returns ``xy1``, ``xy2`` (B, P) int64
    flat indices where each walker ended, ``converged`` (B, P) bool and ``walking`` (B, P) bool:
    the walkers still walking after the ``max_iter`` rounds (never converged ones). A walk of
    ``max_iter`` rounds after which no walker walks has ended: more rounds change nothing, so
    its result is that of any larger ``max_iter`` (`matchers.fixed_matching` runs a few rounds
    first and the rest only when a walker still walks).

    The converged walkers of a pair are exactly the pairs `fast_reciprocal_matches` (grid start
    points, "dot", ``nn_backend="triton"``) reports, with repeats (walks that merged). Rows
    holding a NaN/inf are handled on the device, as the variable-shape path does on the host: a
    walker starting on such an image-1 pixel does not walk (the host path drops its start
    point), such pixels never win a search, and a pair whose image-2 map has no finite row has
    no walker. Every operation is asynchronous (no ``nonzero``, ``unique``, ``item``, boolean
    indexing), so the sequence of kernels can be captured as one CUDA graph.
    """
    bad1 = ~torch.isfinite(flat1).all(dim=2)
    bad2 = ~torch.isfinite(flat2).all(dim=2)
    live = ~(bad1[:, start] | bad2.all(dim=1, keepdim=True))  # one negation, not two
    walk = _FusedWalk(flat1, flat2, bad1, bad2, start, live)
    walk.run(int(max_iter), until_idle=False)
    return walk.xy1, walk.xy2, live & ~walk.active, walk.active
