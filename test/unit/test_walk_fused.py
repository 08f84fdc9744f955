"""The fused walk round (`matching.walk.FUSED_ROUNDS`, `core.walk_triton`): a round's
bookkeeping as two Triton kernels around the same two searches must give the torch round's walk
bit for bit -- every walker's xy1, xy2 and state, in order -- on the variable-shape walk (early
stop on the host) and the fixed-shape one (no host round trip), and launch fewer kernels.

Maps are small integers (many exact ties: the first index must win on both paths) or realistic
pairs; the search's chunk is cut to one tile so that Triton's CPU interpreter runs each search
in one pass (the same indices: `nn_triton` reduces the chunks by first maximum).
"""

from __future__ import annotations

import os

import pytest
import torch

from mast3r_test_utils import TRITON_TEST_MIN

pytest.importorskip("triton", minversion=TRITON_TEST_MIN)

from mast3r_ros.core import nn_triton  # noqa: E402
from mast3r_ros.core.matching import reciprocal_walk_fixed  # noqa: E402
from mast3r_ros.core.matching import walk as walk_mod  # noqa: E402

DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if DEV.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("triton was imported before TRITON_INTERPRET=1 was set", allow_module_level=True)


@pytest.fixture(autouse=True)
def _one_tile_chunks(monkeypatch):
    monkeypatch.setattr(nn_triton, "CHUNK_BLOCKS", 1)


def _both(fn, monkeypatch, *args):
    """fn(*args) with the torch round, then with the fused round: the two results."""
    out = []
    for fused in (False, True):
        monkeypatch.setattr(walk_mod, "FUSED_ROUNDS", fused)
        out.append(fn(*args))
    return out


def _maps(seed: int, b: int, n1: int, n2: int, d: int = 8, levels: int = 3):
    g = torch.Generator().manual_seed(seed)
    f1 = torch.randint(-levels, levels + 1, (b, n1, d), generator=g).float()
    f2 = torch.randint(-levels, levels + 1, (b, n2, d), generator=g).float()
    return f1.to(DEV), f2.to(DEV)


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert torch.equal(x, y)


@pytest.mark.parametrize("b", [1, 4])
def test_fused_rounds_same_walks_on_many_seeds(b, monkeypatch):
    """Variable and fixed-shape walks of 1, 2 and 8 rounds (walkers still walking at the limit
    included) on quantized maps of several shapes and seeds; the start points are left as they
    were."""
    still_walking = 0
    cases = [(40, 50, 2, (1, 2, 8)), (33, 17, 1, (8,)), (24, 130, 3, (2,))]
    for seed, (n1, n2, step, rounds) in enumerate(cases if b == 1 else cases[:1]):
        f1, f2 = _maps(seed + b, b, n1, n2, levels=seed + 1)
        start = torch.arange(0, n1, step, device=DEV)
        keep = start.clone()
        for it in rounds:
            _assert_same(*_both(walk_mod._fused_walk, monkeypatch, f1, f2, None, None, start,
                                it))
            fix = _both(reciprocal_walk_fixed, monkeypatch, f1, f2, start, it)
            _assert_same(*fix)
            still_walking += int(fix[1][3].sum())
            assert torch.equal(start, keep)
    assert still_walking > 0  # the round limit was hit


def test_fused_rounds_all_mutual_and_empty(monkeypatch):
    """Maps whose every start point is its own mutual nearest neighbour (image 2 = image 1 of
    distinct unit rows: every walk ends in round 1), and no start point at all."""
    g = torch.Generator().manual_seed(3)
    f1 = torch.nn.functional.normalize(torch.randn((2, 30, 8), generator=g), dim=-1).to(DEV)
    start = torch.arange(30, device=DEV)
    got = _both(lambda: walk_mod._fused_walk(f1, f1.clone(), None, None, start, 5), monkeypatch)
    _assert_same(*got)
    assert torch.equal(got[1][0], start.expand(2, 30)) and not got[1][2].any()
    fix = _both(lambda: reciprocal_walk_fixed(f1, f1.clone(), start, 3), monkeypatch)
    _assert_same(*fix)
    assert fix[1][2].all()
    empty = torch.zeros((0,), dtype=torch.int64, device=DEV)
    _assert_same(*_both(lambda: walk_mod._fused_walk(f1, f1, None, None, empty, 5),
                        monkeypatch))


def test_fused_rounds_non_finite_rows(monkeypatch):
    """The fixed-shape walk's non-finite rows (walkers that do not walk, rows that never win,
    a pair with no finite image-2 row) and the variable walk's flagged rows."""
    f1, f2 = _maps(5, 3, 40, 45)
    f1[0, 4, 2] = float("nan")
    f2[0, 7, 0] = float("inf")
    f2[2] = float("nan")
    start = torch.arange(0, 40, 2, device=DEV)
    _assert_same(*_both(lambda: reciprocal_walk_fixed(f1, f2, start, 6), monkeypatch))
    bad1 = ~torch.isfinite(f1).all(dim=2)
    bad2 = ~torch.isfinite(f2).all(dim=2)
    _assert_same(*_both(lambda: walk_mod._fused_walk(f1[:2], f2[:2], bad1[:2], bad2[:2],
                                                     start, 6), monkeypatch))


def test_fused_rounds_walk_run_in_pieces(monkeypatch):
    """`_FusedWalk.run` continued (as `fixed_matching` runs its first rounds, then the rest)
    equals the walk run at once, fused or not."""
    f1, f2 = _maps(9, 2, 50, 60, levels=2)
    start = torch.arange(0, 50, 2, device=DEV)

    def pieces():
        w = walk_mod._FusedWalk(f1, f2, None, None, start)
        w.run(1, until_idle=False)
        w.run(3, until_idle=False)
        return w.xy1, w.xy2, w.active

    once = _both(lambda: walk_mod._fused_walk(f1, f2, None, None, start, 4), monkeypatch)
    _assert_same(*once)
    for got in _both(pieces, monkeypatch):
        _assert_same(got, once[0])


def test_fused_rounds_launch_counts(monkeypatch):
    """A fixed-shape walk round launches the two searches (3 Triton kernels each) and two walk
    kernels, no torch kernel (20 before: gathers, compares, where, a sort and a sum per search);
    the same walks. Counted as bench/hotpath_counts.py counts a frame's."""
    import sys
    from pathlib import Path

    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import hotpath_counts as hc

    f1, f2 = _maps(2, 1, 40, 50)
    start = torch.arange(0, 40, 2, device=DEV)
    per_round, walks = {}, {}
    for fused in (False, True):
        monkeypatch.setattr(walk_mod, "FUSED_ROUNDS", fused)
        one, three = (hc.count(lambda n=n: reciprocal_walk_fixed(f1, f2, start, n))
                      for n in (1, 3))
        per_round[fused] = [(three[k] - one[k]) // 2 for k in ("kernels", "triton_launches")]
        walks[fused] = three["result"]
    assert per_round == {False: [20, 6], True: [0, 8]}
    _assert_same(walks[False], walks[True])
    assert int(walks[True][2].sum()) > 0
