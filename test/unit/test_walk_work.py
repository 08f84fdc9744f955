"""Work the Triton walk no longer does, with the same matches: the TF32 screen's target norms
once per walk instead of once per search (`matching.walk._FusedWalk`), and the fixed-shape
path's rounds after every walk ended (`fixed_matching.FIRST_ROUNDS`: the rest run only for a
frame whose walks are longer). Checked against the previous behaviour (norms per search, all
``max_iter`` rounds) on random, warped and realistic (bench/realistic_pairs.py) descriptor maps,
not quantized: both run the same kernels on the same values, so they must agree bit for bit.

Without a GPU the kernels run through Triton's CPU interpreter (test/conftest.py).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mast3r_test_utils import TRITON_TEST_MIN, warped_descriptor_pair

pytest.importorskip("triton", minversion=TRITON_TEST_MIN)

from mast3r_ros.core import nn_triton  # noqa: E402
from mast3r_ros.core.config import MatchingConfig  # noqa: E402
from mast3r_ros.core.matchers import fixed_matching  # noqa: E402
from mast3r_ros.core.matchers.mast3r import _match_and_fuse_walks  # noqa: E402
from mast3r_ros.core.matching import fast_reciprocal_matches, reciprocal_walk_fixed  # noqa: E402
from mast3r_ros.core.matching import walk as walk_mod  # noqa: E402

DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if DEV.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("triton was imported before TRITON_INTERPRET=1 was set", allow_module_level=True)

H, W = 12, 16
CFG = MatchingConfig(subsample=2, border_px=0, min_desc_conf=0.0, min_pointmap_conf=0.0,
                     max_matches=10**6, nn_backend="triton")


class _Spy:
    """Stands in for a Triton kernel: counts its launches, runs the real one."""

    def __init__(self, real):
        self.real, self.launches = real, 0

    def __getitem__(self, grid):
        self.launches += 1
        return self.real[grid]


def _previous(mp: pytest.MonkeyPatch) -> None:
    """The behaviour before: all max_iter rounds, the norms computed by every search."""
    mp.setattr(fixed_matching, "FIRST_ROUNDS", None)
    mp.setattr(walk_mod, "_target_norms", lambda t: None)


def _desc(kind: str, k: int):
    """K (desc_1, desc_2) float32 pairs of (H, W, 24): iid random unit rows, a warped smooth
    field, or a realistic pair of a rendered room (`realistic_pairs.fabricate_pair`)."""
    if kind == "random":
        g = torch.Generator().manual_seed(1)
        return [tuple(torch.nn.functional.normalize(torch.randn((H, W, 24), generator=g), dim=-1)
                      for _ in range(2)) for _ in range(k)]
    if kind == "warped":
        return [(p.desc1, p.desc2) for p in (warped_descriptor_pair(
            H, W, seed=s, angle_deg=(-4.0, 3.0)[s % 2], scale=(1.08, 0.93)[s % 2])
            for s in range(k))]
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from realistic_pairs import fabricate_pair, make_scene

    kfs, query = make_scene(k, camera=(96, 72), seed=1)
    to = np.diag([96 / W, 72 / H, 1.0])
    return [(p["desc_1"], p["desc_2"]) for p in (
        fabricate_pair(kf, query, to, to, (H, W), 24, seed=j) for j, kf in enumerate(kfs))]


def _preds(kind: str, k: int = 1):
    g = torch.Generator().manual_seed(7)
    out = []
    for d1, d2 in _desc(kind, k):
        conf = lambda: 1.0 + torch.rand((H, W), generator=g)  # noqa: E731
        out.append(SimpleNamespace(desc_1=d1.to(DEV), desc_2=d2.to(DEV), desc_conf_1=conf().to(DEV),
                                   desc_conf_2=conf().to(DEV), conf_1=conf().to(DEV),
                                   pts3d_1=torch.randn((H, W, 3), generator=g).to(DEV)))
    return out


def _poses(k: int) -> np.ndarray:
    return np.stack([np.eye(4)] * k)


_PREVIOUS: dict = {}


def _previous_rows(kind: str):
    """The previous fixed path's rows of ``_preds(kind)`` (K=1) and the searches it launched:
    run once per kind for the tests that compare with them (each run is seconds interpreted)."""
    if kind not in _PREVIOUS:
        preds = _preds(kind)
        with pytest.MonkeyPatch.context() as mp:
            _previous(mp)
            spy = _Spy(nn_triton._nn_reduce_kernel)  # one launch per search
            mp.setattr(nn_triton, "_nn_reduce_kernel", spy)
            rows = fixed_matching.fixed_rows(preds, _poses(1), CFG, graphs=False)
        _PREVIOUS[kind] = rows, spy.launches
    rows, launches = _PREVIOUS[kind]
    return rows.copy(), launches


def test_target_norms_once_per_walk_not_per_search(monkeypatch):
    """The walk searched the same two maps 2 x rounds times and each search launched the norm
    kernel over its whole target map again: 20 passes for the fixed-shape walk, now 2."""
    (d1, d2), = _desc("warped", 1)
    spy = _Spy(nn_triton._target_norm_kernel)
    monkeypatch.setattr(nn_triton, "_target_norm_kernel", spy)
    start = torch.arange(0, H * W, 7, device=DEV)
    reciprocal_walk_fixed(d1.reshape(1, H * W, 24).to(DEV), d2.reshape(1, H * W, 24).to(DEV),
                          start, 10)
    assert spy.launches == 2
    spy.launches = 0
    fast_reciprocal_matches(d1.to(DEV), d2.to(DEV), subsample=2, nn_backend="triton")
    assert spy.launches == 2


def test_norms_of_a_screen_that_cannot_compile_turn_it_off(monkeypatch):
    """A norm kernel that fails to build: the walk falls back to the IEEE search (one warning,
    as a failing screen kernel in `nn_search`), with the same matches."""
    class Broken:
        def __getitem__(self, grid):
            def launch(*a, **k):
                raise RuntimeError("PassManager::run failed")
            return launch

    (d1, d2), = _desc("warped", 1)
    d1, d2 = d1.to(DEV), d2.to(DEV)
    want = fast_reciprocal_matches(d1, d2, subsample=2, nn_backend="torch")
    monkeypatch.setattr(nn_triton, "_target_norm_kernel", Broken())
    monkeypatch.setattr(nn_triton, "_SCREEN_BROKEN", None)
    got = fast_reciprocal_matches(d1, d2, subsample=2, nn_backend="triton")
    assert nn_triton._SCREEN_BROKEN == "RuntimeError: PassManager::run failed"
    assert all(torch.equal(a.cpu(), b.cpu()) for a, b in zip(got, want))


@pytest.mark.parametrize("kind", ["random", "warped", "realistic"])
def test_fixed_path_skips_the_rounds_after_every_walk_ended(kind, monkeypatch):
    """Same rows as the previous fixed path (and the variable-shape path), with FIRST_ROUNDS
    rounds (6 searches per direction) instead of max_iter (10): walks here end in fewer."""
    preds = _preds(kind)
    spy = _Spy(nn_triton._nn_reduce_kernel)  # one launch per search
    monkeypatch.setattr(nn_triton, "_nn_reduce_kernel", spy)
    got = fixed_matching.fixed_rows(preds, _poses(1), CFG, graphs=False)
    assert spy.launches == 2 * 6 and fixed_matching.FIRST_ROUNDS == 6
    want, launches = _previous_rows(kind)
    assert launches == 2 * 10
    np.testing.assert_array_equal(got, want)
    kept = got[got[:, 0] > 0]
    assert len(kept) > 8
    walks = _match_and_fuse_walks(preds, _poses(1), CFG, np.random.default_rng(0))
    np.testing.assert_array_equal(kept[:, 2:4], walks.xy1)
    np.testing.assert_array_equal(kept[:, 4:6], walks.xy2)


@pytest.mark.parametrize("first", [1, 2])
def test_walks_longer_than_the_first_rounds_run_all_rounds(first, monkeypatch):
    """A frame whose walks outlast FIRST_ROUNDS: the status row says so and the frame is
    matched again with all max_iter rounds (2 * first + 20 searches), the previous rows."""
    preds = _preds("warped")
    want, _ = _previous_rows("warped")
    spy = _Spy(nn_triton._nn_reduce_kernel)
    monkeypatch.setattr(nn_triton, "_nn_reduce_kernel", spy)
    monkeypatch.setattr(fixed_matching, "FIRST_ROUNDS", first)
    got = fixed_matching.fixed_rows(preds, _poses(1), CFG, graphs=False)
    np.testing.assert_array_equal(got, want)
    assert spy.launches == 2 * first + 2 * 10


def _hotpath_counts():
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import hotpath_counts

    return hotpath_counts


@pytest.mark.parametrize("k", [1, 3])
def test_fixed_path_op_and_sync_counts(k):
    """What a frame's fixed-shape matching dispatches (a GPU frame's launches; the counts do
    not depend on the map size): one sort per search (the cache misses were de-duplicated by a
    second one, with five more ops, for < 0.5 % of the searched rows), the searches' work
    buffers allocated once per walk direction (four tensors per search before), one read on
    the host; the rows of the previous path (bench/hotpath_counts.py, 450 -> 302 ops)."""
    hc = _hotpath_counts()
    preds = _preds("realistic", k)
    run = lambda: fixed_matching.fixed_rows(preds, _poses(k), CFG, graphs=False)  # noqa: E731
    got = hc.count(run)
    assert got["syncs"] == 1  # the packed rows' .cpu()
    assert got["nn_search"] == 2 * fixed_matching.FIRST_ROUNDS == 12
    assert got["sorts"] == 12 + 1  # one per search, one of the converged keys
    assert got["aten_ops"] <= 310, got["aten_ops"]
    with hc.previous():
        want = hc.count(run)
    assert want["sorts"] == 2 * 12 + 1 and want["aten_ops"] >= 440  # what the bound catches
    np.testing.assert_array_equal(got["result"], want["result"])
    assert (got["result"][:, 0] > 0).sum() > 8


def test_fixed_path_kernel_count_after_the_walk():
    """The kernels a K=1 frame's fixed-shape matching launches (a CUDA graph's nodes, plus the
    seven copies into its buffers), counted on the CPU: 228 -> 216 by packing the rows with one
    promoting cat (no per-column conversions, second cat or pad), decoding the keys with
    remainders and one negation fewer in the walkers' liveness; the same rows."""
    hc = _hotpath_counts()
    preds = _preds("realistic", 1)
    got = hc.count(lambda: fixed_matching.fixed_rows(preds, _poses(1), CFG, graphs=False))
    assert got["kernels"] <= 216, got["kernels"]
    assert got["aten_ops"] <= 296, got["aten_ops"]


@pytest.mark.parametrize("k", [1, 3])
def test_variable_triton_path_sync_counts(k):
    """The variable-shape Triton path's host waits (its walks end in 2 rounds for K=1, 3 for
    K=3): one finiteness test for both maps (one per map before, K=1), no "still walking?"
    test after the walk's first round, then the size of the matches (K>1: and the per-pair
    counts) and the rows' copy: 6 -> 4 (K=1), 7 -> 6 (K=3). The same matches as the torch
    search."""
    hc = _hotpath_counts()
    preds = _preds("realistic", k)
    got = hc.count(lambda: _match_and_fuse_walks(preds, _poses(k), CFG,
                                                 np.random.default_rng(0)))
    assert got["nn_search"] == 2 * (2 if k == 1 else 3)  # rounds (kernels for all K at once)
    assert got["syncs"] == (4 if k == 1 else 6), got
    torch_cfg = dataclasses.replace(CFG, nn_backend="torch")
    want = _match_and_fuse_walks(preds, _poses(k), torch_cfg, np.random.default_rng(0))
    for a, b in zip(got["result"], want):
        np.testing.assert_array_equal(a, b)
    assert len(want.xy1) > 8
