"""Pairing strategies: every record of the retrieval_tiny fixture, and malformed strings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.pairing import (farthest_point_sampling, make_pairs, random_start,
                                     retrieval_pairs)


@pytest.fixture(scope="module")
def rt(ref_fixtures):
    d = ref_fixtures / "retrieval_tiny"
    if not (d / "outputs.npz").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    with np.load(d / "outputs.npz") as z:
        out = {k: z[k] for k in z.files}
    return out, json.loads((d / "meta.json").read_text())


def _rows(a):
    return sorted(tuple(int(v) for v in r) for r in np.asarray(a).reshape(-1, 2))


def test_fps_pairs_and_keys_equal_reference(rt):
    out, meta = rt
    sim = out["sim"].astype(np.float64)
    assert len(meta["pairs"]) == 31
    for rec in meta["pairs"]:
        tag = rec["tag"]
        pairs, keys = retrieval_pairs(sim, rec["Na"], rec["k"], rec["start"] or 0)
        assert sorted(pairs) == _rows(out[f"{tag}_pairs"]), tag
        assert keys == out[f"{tag}_keys"].tolist(), tag
        assert len(pairs) == rec["n_pairs"]


def test_seed_draws_the_reference_start(rt):
    out, _ = rt
    for s, seed in enumerate(out["start_seed"].tolist()):
        assert random_start(6, seed) == s


def test_farthest_point_sampling_with_threshold(rt):
    out, _ = rt
    dist = 1.0 - out["sim"].astype(np.float64)
    for s in range(6):
        for thr in (95, 90):
            keys, d = farthest_point_sampling(dist, s, None, thr / 100)
            assert keys == out[f"fpsamp_thr{thr}_s{s}_idx"].tolist()
            np.testing.assert_allclose(d, out[f"fpsamp_thr{thr}_s{s}_dist"], atol=1e-6)


@pytest.mark.parametrize("strategy,record", [
    ("complete", "graph_complete"), ("swin-2", "graph_swin_2"),
    ("swin-2-noncyclic", "graph_swin_2_noncyclic"), ("logwin-2", "graph_logwin_2"),
    ("logwin-2-noncyclic", "graph_logwin_2_noncyclic"), ("oneref-2", "graph_oneref_2"),
    ("retrieval-6-5", "graph_retrieval_6_5_s0"), ("retrieval-3-2", "graph_retrieval_3_2_s0")])
def test_scene_graphs_equal_reference(rt, strategy, record):
    out, _ = rt
    pairs = make_pairs(6, strategy, out["sim"].astype(np.float64), start=0, symmetrize=True)
    assert _rows(pairs) == _rows(out[record])


def test_malformed_strategies():
    sim = np.eye(4)
    for bad in ("retrieval-20-1-10-1", "retrieval-3", "swin-x", "nope", "oneref-9",
                "swin-2-cyclic", "complete-3"):
        with pytest.raises(InputError):
            make_pairs(4, bad, sim)
    with pytest.raises(InputError, match="similarity"):
        make_pairs(4, "retrieval-2-1", None)
    assert make_pairs(4, "swin") == make_pairs(4, "swin-3")


# ----------------------------------------------------------- mutation-audit additions ---
# Hand-worked cases that need no fixture: points on a line, dist = |x_i - x_j|.

def _line_dist(xs):
    x = np.asarray(xs, dtype=np.float64)
    return np.abs(x[:, None] - x[None, :])


def test_farthest_points_on_a_line():
    d = _line_dist([0, 1, 3, 7])
    # from 0: farthest is 7 (index 3, distance 7); then min distances to {0, 7} are
    # [0, 1, 3, 0] -> 3 (index 2, distance 3); then [0, 1, 0, 0] -> 1 (index 1, distance 1)
    assert farthest_point_sampling(d, 0) == ([0, 3, 2, 1], [0.0, 7.0, 3.0, 1.0])
    assert farthest_point_sampling(d, 0, 2) == ([0, 3], [0.0, 7.0])
    # the threshold stops only on distances strictly below it
    assert farthest_point_sampling(d, 0, None, 3.0) == ([0, 3, 2], [0.0, 7.0, 3.0])
    assert farthest_point_sampling(d, 0, None, 3.5) == ([0, 3], [0.0, 7.0])
    # more keys than images: every distance is 0 then, the first maximum (index 0) repeats
    assert farthest_point_sampling(d, 3, 6) == ([3, 0, 2, 1, 0, 0], [0.0, 7.0, 3.0, 1.0, 0.0, 0.0])
    # ties go to the first maximum: 1 and 2 are both 2 away from 0
    assert farthest_point_sampling(_line_dist([0, 2, -2]), 0, 2) == ([0, 1], [0.0, 2.0])


def test_farthest_points_and_nearest_keys_use_rows_as_from():
    # dist[key, c] (row = from); the matrix is asymmetric so that columns would choose otherwise
    d = np.array([[0.0, 1.0, 5.0, 3.0],
                  [4.0, 0.0, 9.0, 4.0],
                  [1.0, 0.5, 0.0, 9.0],
                  [4.0, 4.0, 0.2, 0.0]])
    # row 0 -> 2 (5; column 0 would give 1); min(row 0, row 2) = [0, .5, 0, 3] -> 3 (column 2
    # would give [0, 1, 0, .2] -> 1); min(.., row 3) = [0, .5, 0, 0] -> 1
    assert farthest_point_sampling(d, 0) == ([0, 2, 3, 1], [0.0, 5.0, 3.0, 0.5])
    # non-keys to their nearest key by their own row: 1 -> 0 (4 < 9), 3 -> 2 (0.2 < 4)
    assert retrieval_pairs(1.0 - d, 2, 0) == ({(0, 2), (0, 1), (2, 3)}, [0, 2])


def test_random_start_is_the_legacy_global_draw():
    # the reference: np.random.seed(seed); np.random.choice(n)
    state = np.random.get_state()
    try:
        for n in (6, 100):
            for seed in range(10):
                np.random.seed(seed)
                assert random_start(n, seed) == np.random.choice(n)
    finally:
        np.random.set_state(state)
    assert 0 <= random_start(6, None) < 6


def _line_sim(xs):
    return 1.0 - _line_dist(xs) / 20.0  # dist = 1 - sim = |x_i - x_j| / 20


def test_retrieval_pairs_by_hand():
    sim = _line_sim([0, 1, 3, 10, 12])
    # keys from 0: 0 then 12 (index 4); key-key (0, 4); non-keys to their nearest key:
    # 1 -> 0, 3 -> 0, 10 -> 12; 2 nearest of each image (itself + one): 0-1, 1-0, 3-1,
    # 10-12, 12-10
    pairs, keys = retrieval_pairs(sim, 2, 2)
    assert keys == [0, 4]
    assert pairs == {(0, 4), (0, 1), (0, 2), (3, 4), (1, 2)}
    assert retrieval_pairs(sim, 0, 2) == ({(0, 1), (1, 2), (3, 4)}, [])  # no keys: kNN only
    assert retrieval_pairs(sim, 2, 0) == ({(0, 4), (0, 1), (0, 2), (3, 4)}, [0, 4])
    # from 3 (index 2): farthest is 12 (index 4, 9/20); then 0 (index 0, 3/20); non-keys:
    # 1 -> 0 (1 unit), 10 -> 12; key-key pairs keep the key order (reference make_pairs_fps)
    pairs, keys = retrieval_pairs(sim, 3, 0, start=2)
    assert keys == [2, 4, 0]
    assert pairs == {(2, 4), (2, 0), (4, 0), (0, 1), (3, 4)}
    # a threshold of 0.2 (4 units) keeps 12 (9 units away) and stops before 0 (3 units)
    assert retrieval_pairs(sim, 3, 0, start=2, dist_thresh=0.2)[1] == [2, 4]


def test_retrieval_neighbours_are_by_row_and_may_exclude_self():
    # dist (row = query): every image is 0.5 from itself, so its nearest may be another one;
    # by rows: 0 -> 1, 1 -> 0, 2 -> 0, 3 -> 0; by columns 2 and 3 would find themselves
    dist = np.full((4, 4), 0.9)
    np.fill_diagonal(dist, 0.5)
    dist[0, 1], dist[1, 0], dist[2, 0], dist[3, 0] = 0.1, 0.1, 0.2, 0.3
    assert retrieval_pairs(1.0 - dist, 0, 1) == ({(0, 1), (0, 2), (0, 3)}, [])


def test_window_graphs_by_hand():
    def circ(n, offsets):  # unordered pairs whose circular distance is one of offsets
        return sorted((i, j) for i in range(n) for j in range(i + 1, n)
                      if min(j - i, n - (j - i)) in offsets)

    def lin(n, offsets):
        return sorted((i, j) for i in range(n) for j in range(i + 1, n) if j - i in offsets)

    assert make_pairs(7, "swin-2") == circ(7, {1, 2}) and len(circ(7, {1, 2})) == 14
    assert make_pairs(7, "swin-2-noncyclic") == lin(7, {1, 2}) and len(lin(7, {1, 2})) == 11
    assert make_pairs(7, "swin-noncyclic") == lin(7, {1, 2, 3})  # default window 3
    assert make_pairs(9, "logwin-3") == circ(9, {1, 2, 4}) and len(circ(9, {1, 2, 4})) == 27
    assert make_pairs(9, "logwin-3-noncyclic") == lin(9, {1, 2, 4})
    assert make_pairs(9, "logwin") == make_pairs(9, "logwin-3")
    # a window as wide as the loop wraps onto the image itself: no self pairs
    assert make_pairs(3, "swin-3") == [(0, 1), (0, 2), (1, 2)]
    assert make_pairs(4, "complete") == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_oneref_symmetrize_and_order():
    # dust3r's oneref: (imgs[ref], imgs[j]) for every j != ref; 'oneref' alone is oneref-0
    assert make_pairs(4, "oneref-2") == [(2, 0), (2, 1), (2, 3)]
    assert make_pairs(4, "oneref") == [(0, 1), (0, 2), (0, 3)]
    assert make_pairs(4, "oneref-2", symmetrize=True) == [(2, 0), (2, 1), (2, 3),
                                                          (0, 2), (1, 2), (3, 2)]
    out = make_pairs(9, "logwin-3")
    assert out == sorted(out)


def test_retrieval_strategy_checks_its_inputs_and_uses_start():
    sim = _line_sim([0, 1, 3, 10, 12])
    # Na = 3 keys from image 2 and k = 0 -> the pairs of test_retrieval_pairs_by_hand
    assert make_pairs(5, "retrieval-3-0", sim, start=2) == [(0, 1), (2, 0), (2, 4), (3, 4),
                                                              (4, 0)]
    assert make_pairs(5, "retrieval-0-2", sim) == [(0, 1), (1, 2), (3, 4)]  # Na first, k second
    for start in (5, -1):
        with pytest.raises(InputError, match="start"):
            make_pairs(5, "retrieval-3-0", sim, start=start)
    with pytest.raises(InputError, match="similarity"):
        make_pairs(5, "retrieval-3-0", sim[:4, :4])
    for bad in ("retrieval-3-2-1", "oneref-1-2", "swin-2-noncyclic-x", "logwin-2-3"):
        with pytest.raises(InputError):
            make_pairs(5, bad, sim)


def test_random_start_refuses_a_seed_numpy_cannot_take():
    assert random_start(6, 2 ** 32 - 1) == np.random.RandomState(2 ** 32 - 1).choice(6)
    for seed in (-1, 2 ** 32):
        with pytest.raises(InputError, match=r"--seed must be an integer from 0 to 4294967295"):
            random_start(6, seed)


def test_counts_that_give_no_pairs_are_refused_and_large_ones_clamped():
    """`swin-0` wrote an empty pairs.txt and exited 0 (a fresh user's find): a window or count
    that pairs nothing is refused naming the valid range; one beyond the images is clamped."""
    sim = _line_sim([0, 1, 3, 10, 12])
    for bad in ("swin-0", "logwin-0", "swin-0-noncyclic", "logwin-00"):
        with pytest.raises(InputError, match=r"gives no pairs: W \(the window\) must be >= 1"):
            make_pairs(5, bad, sim)
    for bad in ("retrieval-0-0", "retrieval-0-1"):
        with pytest.raises(InputError, match=r"gives no pairs: NA .* must be >= 0, with NA >= 1 "
                                             r"or K >= 2"):
            make_pairs(5, bad, sim)
    assert make_pairs(5, "swin-1")[:2] == [(0, 1), (0, 4)]
    assert make_pairs(5, "swin-99") == make_pairs(5, "complete")
    assert {tuple(sorted(p)) for p in make_pairs(5, "retrieval-99-99", sim) if p[0] != p[1]} \
        == set(make_pairs(5, "complete"))
    assert make_pairs(5, "retrieval-1-0", sim, start=2) == [(0, 2), (1, 2), (2, 3), (2, 4)]


# ------------------------------------------------ huge counts are clamped, not looped ---

def _old_window_pairs(n, kind, w, cyclic):
    # the unclamped definition: offsets 1..W (swin) or 2**0..2**(W-1) (logwin)
    offs = range(1, w + 1) if kind == "swin" else [2 ** e for e in range(w)]
    pairs = set()
    for i in range(n):
        for off in offs:
            j = (i + off) % n if cyclic else i + off
            if j < n and j != i:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def test_window_counts_beyond_the_images_give_the_unclamped_pairs():
    for n in range(1, 14):
        for kind in ("swin", "logwin"):
            for w in range(1, 3 * n + 3):
                for cyc in (True, False):
                    s = f"{kind}-{w}" + ("" if cyc else "-noncyclic")
                    assert make_pairs(n, s) == _old_window_pairs(n, kind, w, cyc), s


def test_retrieval_keys_beyond_the_images_give_the_unclamped_pairs():
    rng = np.random.RandomState(3)
    for n in (1, 2, 3, 5, 8):
        for _ in range(3):
            sim = rng.rand(n, n)
            if rng.rand() < 0.5:
                np.fill_diagonal(sim, 1.0)
            for na in range(1, 3 * n + 3):
                for k in (0, 1, 3):
                    keys, _ = farthest_point_sampling(1.0 - sim, 0, na)
                    old = set()
                    for a in range(len(keys)):
                        for b in range(a + 1, len(keys)):
                            old.add((keys[a], keys[b]))
                    got = retrieval_pairs(sim, na, k, 0)[0]
                    assert old <= got and {p for p in got if p[0] == p[1]} == \
                        {p for p in old if p[0] == p[1]}
                    assert make_pairs(n, f"retrieval-{na}-{k}", sim) == sorted(got)


def test_huge_counts_are_instant():
    import signal
    import time

    def _alarm(*_):
        raise TimeoutError("a huge pairing count was looped over")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(5)
    try:
        t0 = time.perf_counter()
        sim = np.random.RandomState(0).rand(3, 3)
        big = "9" * 20
        for s in (f"swin-{big}", f"swin-{big}-noncyclic", f"logwin-{big}",
                  f"logwin-{big}-noncyclic", f"retrieval-{big}-3", f"retrieval-3-{big}"):
            assert make_pairs(3, s, sim) == make_pairs(3, s.replace(big, "9"), sim), s
        assert time.perf_counter() - t0 < 2.0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
