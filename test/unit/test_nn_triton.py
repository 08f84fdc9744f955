"""The fused Triton nearest-neighbour kernel and the walk it serves, against the torch path.

Without a GPU the kernels run through Triton's CPU interpreter (test/conftest.py sets
TRITON_INTERPRET=1 before triton is imported); on a CUDA machine they run compiled on the GPU.
Data are small multiples of 1/8, so every product and sum is exact in float32 and both paths must
return identical indices whatever their summation order.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mast3r_test_utils import TRITON_TEST_MIN, warped_descriptor_pair

triton = pytest.importorskip("triton", minversion=TRITON_TEST_MIN)

from mast3r_ros.core import nn_triton  # noqa: E402
from mast3r_ros.core.config import MatchingConfig  # noqa: E402
from mast3r_ros.core.errors import ConfigError  # noqa: E402
from mast3r_ros.core.matching import (  # noqa: E402
    fast_reciprocal_matches, fast_reciprocal_matches_batch, resolve_nn_backend)
from mast3r_ros.core.matching.search import _nearest  # noqa: E402

DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if DEV.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("triton was imported before TRITON_INTERPRET=1 was set", allow_module_level=True)


def _eighths(shape, seed, lo=-4, hi=4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(lo, hi + 1, shape, generator=g).float() / 8).to(DEV)


def _torch_nn(q, t, bad=None):
    if bad is not None:
        t = t.masked_fill(bad[:, None], 0.0)
    return _nearest(q, t, dist="dot", block_size=64, target_bad=bad)


@pytest.fixture(params=[(False, False), (True, False), (True, True)],
                ids=["fma", "dot-ieee", "dot-tf32-screen"])
def variant(request, monkeypatch):
    use_dot, screen = request.param
    monkeypatch.setattr(nn_triton, "USE_DOT", use_dot)
    monkeypatch.setattr(nn_triton, "TF32_SCREEN", screen)
    return request.param


def _tf32(x: np.ndarray) -> np.ndarray:
    """float32 values truncated to TF32 (what the screen kernel multiplies)."""
    return (np.asarray(x, np.float32).view(np.int32) & np.int32(-8192)).view(np.float32)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _screen_trap(seed=0, d=24):
    """A query, a target t1 and a later target t2 where t2 scores higher (IEEE) but lower after
    TF32 truncation: a screen without its error margin would skip t2's tile and return t1."""
    rng = np.random.default_rng(seed)
    q = _unit(rng.standard_normal(d)).astype(np.float32)
    while True:
        base = _unit(q + 0.3 * rng.standard_normal(d))
        t1, t2 = (_unit(base + 2e-3 * rng.standard_normal(d)).astype(np.float32)
                  for _ in range(2))
        s1, s2 = float(q.astype(np.float64) @ t1), float(q.astype(np.float64) @ t2)
        a1 = float(_tf32(q).astype(np.float64) @ _tf32(t1))
        a2 = float(_tf32(q).astype(np.float64) @ _tf32(t2))
        if s2 > s1 + 1e-5 and a2 < a1 - 1e-5:
            return q, t1, t2


@pytest.mark.parametrize("q, t, d", [(5, 300, 24), (40, 1000, 24), (33, 259, 3)])
def test_indices_equal_torch(variant, q, t, d):
    """Q below the block, T not a multiple of the block or of the split, D = 24 and 3."""
    queries, targets = _eighths((q, d), 1), _eighths((t, d), 2)
    got = nn_triton.nearest(queries, targets)
    assert torch.equal(got.cpu(), _torch_nn(queries, targets).cpu())


@pytest.mark.parametrize("chunk_blocks", [1, 4])
def test_ties_first_index_wins(variant, monkeypatch, chunk_blocks):
    """Equal targets in one block, across blocks and across splits (a split every BLOCK_T
    targets) or across the blocks of one program (all in one split): the first index wins."""
    monkeypatch.setattr(nn_triton, "CHUNK_BLOCKS", chunk_blocks)
    n_t = 3 * nn_triton.BLOCK_T + 7
    targets = torch.zeros(n_t, 4, device=DEV)
    best = torch.tensor([1.0, 0.5, 0.0, 0.0], device=DEV)
    for j in (5, 6, nn_triton.BLOCK_T + 1, 2 * nn_triton.BLOCK_T + 3, n_t - 1):
        targets[j] = best
    targets[2] = torch.tensor([0.5, 1.0, 0.0, 0.0], device=DEV)  # wins for query 1 alone
    queries = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]],
                           device=DEV)
    got = nn_triton.nearest(queries, targets).cpu().tolist()
    # query 3 sees all-zero products: a tie over every target -> index 0
    assert got == [5, 2, 0] == _torch_nn(queries, targets).cpu().tolist()


def test_bad_rows_never_win(variant):
    queries, targets = _eighths((20, 24), 3), _eighths((500, 24), 4)
    torch_ref = _torch_nn(queries, targets)
    bad = torch.zeros(500, dtype=torch.bool, device=DEV)
    bad[torch_ref[:10]] = True  # the winners of the first 10 queries become invalid
    targets = targets.clone()
    targets[bad] = float("nan")
    targets[torch_ref[0]] = float("inf")
    got = nn_triton.nearest(queries, targets, bad)
    assert not bad[got].any()
    assert torch.equal(got.cpu(), _torch_nn(queries, targets, bad).cpu())


def _ieee_nearest(queries, targets, bad=None):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nn_triton, "TF32_SCREEN", False)
        mp.setattr(nn_triton, "USE_DOT", True)
        return nn_triton.nearest(queries, targets, bad)


def test_tf32_screen_keeps_the_ieee_winner_and_its_margin_matters(monkeypatch):
    """t2 beats t1 in IEEE float32 but not in TF32: the screen must still search t2's tile (its
    margin), and without the margin it would not (so the screen does skip tiles)."""
    q, t1, t2 = _screen_trap()
    rng = np.random.default_rng(1)
    n_t = 5 * nn_triton.BLOCK_T + 9
    far = -_unit(q + 0.2 * rng.standard_normal((n_t, q.size))).astype(np.float32)  # scores < 0
    targets = torch.from_numpy(far.copy())
    targets[7], targets[n_t - 3] = torch.from_numpy(t1), torch.from_numpy(t2)
    queries = torch.from_numpy(q)[None].to(DEV)
    targets = targets.to(DEV)
    monkeypatch.setattr(nn_triton, "CHUNK_BLOCKS", 2)  # t1 and t2 in different splits
    assert _ieee_nearest(queries, targets).tolist() == [n_t - 3]
    assert nn_triton.TF32_SCREEN and nn_triton.USE_DOT
    assert nn_triton.nearest(queries, targets).tolist() == [n_t - 3]
    monkeypatch.setattr(nn_triton, "SCREEN_C", 0.0)  # no margin: t2's tile is skipped
    assert nn_triton.nearest(queries, targets).tolist() == [7]


@pytest.mark.parametrize("bound_bytes", [None, 1], ids=["one-launch", "query-chunks"])
def test_tf32_screen_per_pair_and_query_bounds(monkeypatch, bound_bytes):
    """Two pairs in one launch, the trap of the margin test at other tiles in each pair and in
    a second query block of pair 1 (padding rows past its count): each pair's stored per-tile
    bounds must be the ones its search reads -- with the margin both return t2, without it the
    screen skips exactly t2's tile in each pair and both return t1. ``query-chunks``: a bound
    budget of one query block per launch (pair 1's queries span two launches)."""
    if bound_bytes is not None:
        monkeypatch.setattr(nn_triton, "SCREEN_BOUND_BYTES", bound_bytes)
    q, t1, t2 = _screen_trap()
    rng = np.random.default_rng(2)
    n_t = 6 * nn_triton.BLOCK_T + 5
    tgt = np.stack([-_unit(q + 0.2 * rng.standard_normal((n_t, q.size))) for _ in range(2)])
    tgt = tgt.astype(np.float32)
    pos = {0: (7, 4 * nn_triton.BLOCK_T + 3), 1: (5 * nn_triton.BLOCK_T + 1, 130)}
    for b, (i1, i2) in pos.items():
        tgt[b, i1], tgt[b, i2] = t1, t2
    src = torch.from_numpy(np.tile(q, (2, 40, 1))).to(DEV)
    tgt_t = torch.from_numpy(tgt).transpose(1, 2).contiguous().to(DEV)
    qidx = torch.arange(40, device=DEV).repeat(2, 1).contiguous()
    n_q = torch.tensor([3, 36], device=DEV)  # pair 1 spans two query blocks
    monkeypatch.setattr(nn_triton, "CHUNK_BLOCKS", 2)  # 4 splits

    def search():
        out = torch.full((2, 40), -1, dtype=torch.int64, device=DEV)
        nn_triton.nn_search(src, tgt_t, qidx, n_q, out)
        return out.cpu()

    for c, which in ((nn_triton.SCREEN_C, 1), (0.0, 0)):
        monkeypatch.setattr(nn_triton, "SCREEN_C", c)
        out = search()
        for b, n in ((0, 3), (1, 36)):
            assert out[b, :n].tolist() == [pos[b][which]] * n, (c, b)
            assert (out[b, n:] == -1).all()


@pytest.mark.parametrize("seed, bound_bytes", [(0, None), (1, None), (0, 1)])
def test_tf32_screen_equals_ieee_on_dense_near_ties(seed, bound_bytes, monkeypatch):
    """Unit descriptors with hundreds of targets within 1e-4 of each other (far below the TF32
    error): screened and plain IEEE searches return the same indices (also with the queries
    screened in chunks of one block, ``bound_bytes=1``)."""
    if bound_bytes is not None:
        monkeypatch.setattr(nn_triton, "SCREEN_BOUND_BYTES", bound_bytes)
    rng = np.random.default_rng(seed)
    q = _unit(rng.standard_normal((70, 24))).astype(np.float32)
    t = _unit(rng.standard_normal((900, 24)))
    t[::3] = _unit(q[rng.integers(0, 70, 300)] + 1e-4 * rng.standard_normal((300, 24)))
    queries, targets = torch.from_numpy(q).to(DEV), torch.from_numpy(t.astype(np.float32)).to(DEV)
    assert torch.equal(nn_triton.nearest(queries, targets).cpu(),
                       _ieee_nearest(queries, targets).cpu())


def test_tf32_screen_negative_best_scores_bad_rows_and_ragged_end():
    """Every valid score negative: a zeroed bad row (score 0) and the zero-padded columns past
    the last target must not enter the lower bound or win (one query, T % BLOCK_T != 0)."""
    rng = np.random.default_rng(4)
    q = _unit(rng.standard_normal((1, 24))).astype(np.float32)
    n_t = 3 * nn_triton.BLOCK_T + 17
    t = -_unit(q + 0.4 * rng.standard_normal((n_t, 24))).astype(np.float32)
    bad = np.zeros(n_t, bool)
    bad[[5, 200]] = True
    t[bad] = 0.0
    queries, targets = torch.from_numpy(q).to(DEV), torch.from_numpy(t).to(DEV)
    badt = torch.from_numpy(bad).to(DEV)
    for flags in (badt, None):
        want = _ieee_nearest(queries, targets, flags)
        assert torch.equal(nn_triton.nearest(queries, targets, flags).cpu(), want.cpu())
    assert not bad[int(nn_triton.nearest(queries, targets, badt)[0])]


@pytest.mark.parametrize("scale", [2.0 ** -80, 2.0 ** -130])
def test_tf32_screen_tiny_norms(scale):
    """Rows so small that their squares underflow (and subnormal components): never screened
    away wrongly -- the trap of the margin test, scaled down."""
    q, t1, t2 = _screen_trap()
    rng = np.random.default_rng(1)
    n_t = 2 * nn_triton.BLOCK_T + 9
    targets = torch.from_numpy(-_unit(q + 0.2 * rng.standard_normal((n_t, q.size))))
    targets = targets.float()
    targets[7], targets[n_t - 3] = torch.from_numpy(t1), torch.from_numpy(t2)
    queries = (torch.from_numpy(q)[None] * scale).to(DEV)
    targets = targets.to(DEV)
    assert _ieee_nearest(queries, targets).tolist() == [n_t - 3]
    assert nn_triton.nearest(queries, targets).tolist() == [n_t - 3]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # interpreter
def test_tf32_screen_with_unflagged_nan_inf_rows():
    """Non-finite rows not flagged bad (NaN whose payload truncation turns into inf, inf, NaN
    queries): the screen never skips because of them and agrees with the plain IEEE search."""
    rng = np.random.default_rng(3)
    q = _unit(rng.standard_normal((12, 24))).astype(np.float32)
    t = _unit(rng.standard_normal((400, 24))).astype(np.float32)
    t[5, 3] = np.array([0x7F800001], np.int32).view(np.float32)[0]  # NaN -> inf if truncated
    t[9, 0] = np.inf
    t[200] = np.nan
    q[4, 2] = np.nan
    q[6, 1] = -np.inf
    queries, targets = torch.from_numpy(q).to(DEV), torch.from_numpy(t).to(DEV)
    assert torch.equal(nn_triton.nearest(queries, targets).cpu(),
                       _ieee_nearest(queries, targets).cpu())


def test_screen_that_cannot_compile_falls_back_to_ieee_once(monkeypatch, caplog):
    """A Triton that cannot build the screened kernels: one warning, then the IEEE kernel."""
    calls = []

    class Broken:
        def __getitem__(self, grid):
            def launch(*a, **k):
                calls.append(grid)
                raise RuntimeError("PassManager::run failed\n(details)")
            return launch

    monkeypatch.setattr(nn_triton, "_screen_kernel", Broken())
    monkeypatch.setattr(nn_triton, "_SCREEN_BROKEN", None)
    queries, targets = _eighths((20, 24), 7), _eighths((300, 24), 8)
    want = _ieee_nearest(queries, targets)
    with caplog.at_level("WARNING", logger="mast3r_ros.core.nn_triton"):
        assert torch.equal(nn_triton.nearest(queries, targets).cpu(), want.cpu())
        assert torch.equal(nn_triton.nearest(queries, targets).cpu(), want.cpu())
    assert len(calls) == 1  # not retried
    assert nn_triton._SCREEN_BROKEN == "RuntimeError: PassManager::run failed"
    warns = [r for r in caplog.records if "TF32 screen" in r.getMessage()]
    assert len(warns) == 1 and "plain IEEE" in warns[0].getMessage()


def test_nn_search_gathers_writes_cache_and_ignores_past_count():
    src, tgt = _eighths((2, 50, 8), 5), _eighths((2, 300, 8), 6)
    qidx = torch.tensor([[3, 7, 49, 0], [10, 11, 0, 0]], device=DEV)
    n_q = torch.tensor([3, 2], device=DEV)
    out = torch.full((2, 50), -1, dtype=torch.int64, device=DEV)
    nn_triton.nn_search(src, tgt.transpose(1, 2).contiguous(), qidx, n_q, out)
    for b, rows in ((0, [3, 7, 49]), (1, [10, 11])):
        want = _torch_nn(src[b, rows], tgt[b])
        assert torch.equal(out[b, rows].cpu(), want.cpu())
    written = (out >= 0).sum(1).cpu().tolist()
    assert written == [3, 2]  # entries past n_q (row 0 of pair 0) untouched


@pytest.mark.parametrize("seed, q", [(0, 8), (3, 4)])
def test_walk_equals_torch_on_synthetic_pair(seed, q):
    pair = warped_descriptor_pair(16, 24, seed=seed, quantize=q, angle_deg=6.0)
    d1, d2 = pair.desc1.to(DEV), pair.desc2.to(DEV)
    want = fast_reciprocal_matches(d1, d2, subsample=2, nn_backend="torch")
    got = fast_reciprocal_matches(d1, d2, subsample=2, nn_backend="triton")
    assert len(want[0]) > 30
    assert all(torch.equal(a.cpu(), b.cpu()) for a, b in zip(got, want))


def test_walk_with_nan_pixels_and_init_points():
    pair = warped_descriptor_pair(12, 16, seed=2, quantize=8)
    d1, d2 = pair.desc1.clone(), pair.desc2.clone()
    d2[3:6, 4:9] = float("nan")
    d1[0, :] = float("inf")
    d1, d2 = d1.to(DEV), d2.to(DEV)
    for kw in ({"subsample": 2, "max_iter": 3}, {"init_xy1": np.array([[1, 1], [5, 7], [9, 2]]),
                                                 "pixel_tol": 3.0}):
        want = fast_reciprocal_matches(d1, d2, nn_backend="torch", **kw)
        got = fast_reciprocal_matches(d1, d2, nn_backend="triton", **kw)
        assert all(torch.equal(a.cpu(), b.cpu()) for a, b in zip(got, want)), kw


def test_batched_walk_equals_single_walks():
    # 8 x 12 maps (12 x 16 before): the batch equals the single walks whatever the size
    pairs = [warped_descriptor_pair(8, 12, seed=s, quantize=8, angle_deg=5.0 * s)
             for s in range(3)]
    maps = [(p.desc1.to(DEV), p.desc2.to(DEV)) for p in pairs]
    got = fast_reciprocal_matches_batch(maps, subsample=2, nn_backend="triton")
    for (a, b), (x1, x2) in zip(maps, got):
        w1, w2 = fast_reciprocal_matches(a, b, subsample=2, nn_backend="torch")
        assert torch.equal(x1.cpu(), w1.cpu()) and torch.equal(x2.cpu(), w2.cpu())
    assert fast_reciprocal_matches_batch([], nn_backend="triton") == []


def test_backend_resolution_and_errors(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_nn_backend("torch", cpu) == "torch"
    assert resolve_nn_backend("auto", cpu) == "torch"  # auto never interprets on the CPU
    assert resolve_nn_backend("triton", DEV, "l2") == "torch"  # l2: torch search
    assert resolve_nn_backend("triton", DEV, "dot", torch.float64) == "torch"
    with pytest.raises(ConfigError, match="nn_backend must be one of"):
        resolve_nn_backend("cuda", cpu)
    with pytest.raises(ConfigError, match="nn_backend must be one of"):
        fast_reciprocal_matches(torch.zeros(2, 2, 3), torch.zeros(2, 2, 3), nn_backend="fast")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ConfigError, match="runs on CUDA tensors"):
        resolve_nn_backend("triton", cpu)
    assert MatchingConfig().nn_backend == "auto"


def test_bench_matching_smoke(tmp_path):
    """bench/bench_matching.py --smoke runs end to end (both backends agree on exact data).
    Its ``main`` in this process, as test_bench_matching_progress.py runs it: a subprocess
    imported torch and started Triton's interpreter again for the same run."""
    import json
    import sys

    from mast3r_test_utils import REPO, bench_script

    if str(REPO / "bench") not in sys.path:  # bench_matching imports benchlib
        sys.path.insert(0, str(REPO / "bench"))
    out = tmp_path / "bench.json"
    assert bench_script("bench_matching").main(["--smoke", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["backends"] == ["torch", "triton", "triton-ieee"]
    assert all(p["jaccard"] == 1.0 and p["identical"] and p["screen_identical"]
               and p["screen_broken"] is None for p in res["pairs"])
    row = res["match_and_fuse_K2_per_pair"]
    assert row["triton-fixed-ieee"]["identical_to_torch"] and row["triton"]["identical_to_torch"]
    assert res["match_and_fuse_K2_per_pair"]["jaccard"] == 1.0
    # the fused walk rounds (walk.FUSED_ROUNDS) timed beside the current path, same matches
    assert row["triton-fused"]["identical_to_torch"] and row["triton-fixed-fused"][
        "identical_to_torch"]
    assert all(r["identical"] for r in row["fused_over_new"].values())
    assert set(row["fused_over_new"]) == {"triton", "triton-fixed"}


@pytest.mark.parametrize("screen", [True, False], ids=["tf32-screen", "ieee"])
def test_search_reads_no_target_tile_past_the_map(monkeypatch, screen):
    """A map of fewer targets than a split's chunk (BLOCK_T * CHUNK_BLOCKS: 4096) reads its own
    tiles only: 300 targets are 3 tiles of 128, and a block of queries read 32 (the whole chunk,
    29 of them empty) per kernel before, which Triton's interpreter ran in full (the matching
    tests' main cost). Counted through the tile loader under the interpreter; the same indices."""
    if DEV.type != "cpu":
        pytest.skip("counts the tile loads of Triton's CPU interpreter")
    monkeypatch.setattr(nn_triton, "TF32_SCREEN", screen)
    rng = np.random.default_rng(6)
    q = _unit(rng.standard_normal((20, 24))).astype(np.float32)
    t = _unit(rng.standard_normal((300, 24))).astype(np.float32)
    real, loads = nn_triton._target_tile, []

    def counted(*a):
        loads.append(1)
        return real(*a)

    monkeypatch.setattr(nn_triton, "_target_tile", counted)
    got = nn_triton.nearest(torch.from_numpy(q), torch.from_numpy(t))
    n_tiles = -(-300 // nn_triton.BLOCK_T)
    # the target norms (one per tile), the screen (one per tile), the live tiles of the search
    assert 0 < len(loads) <= (3 if screen else 1) * n_tiles
    assert torch.equal(got, torch.from_numpy(np.argmax(q @ t.T, axis=1)))


def test_no_screen_kernel_is_launched_where_tf32_cores_are_missing(monkeypatch):
    """`tf32_cores` False (a GPU before compute capability 8.0): the search runs the plain IEEE
    kernel only, with the same indices."""
    rng = np.random.default_rng(5)
    q = _unit(rng.standard_normal((30, 24))).astype(np.float32)
    t = _unit(rng.standard_normal((300, 24))).astype(np.float32)
    queries, targets = torch.from_numpy(q).to(DEV), torch.from_numpy(t).to(DEV)
    screened = nn_triton.nearest(queries, targets).cpu()

    real, launched = nn_triton._screen_kernel, []

    class Spy:
        def __getitem__(self, grid):
            launched.append(grid)
            return real[grid]

    monkeypatch.setattr(nn_triton, "_screen_kernel", Spy())
    monkeypatch.setattr(nn_triton, "tf32_cores", lambda device: False)
    assert torch.equal(nn_triton.nearest(queries, targets).cpu(), screened)
    assert launched == []
    monkeypatch.setattr(nn_triton, "tf32_cores", lambda device: True)
    assert torch.equal(nn_triton.nearest(queries, targets).cpu(), screened)
    assert launched  # the spy sees the screen where it runs
