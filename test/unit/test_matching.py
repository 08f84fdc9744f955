"""Tests of mast3r_ros.core.matching (fast reciprocal NN, brute-force mutual NN, border filter)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.matching import (
    brute_force_mutual_nn,
    fast_reciprocal_matches,
    fast_reciprocal_matches_batch,
    filter_border,
    reciprocal_matches_3d,
    resolve_nn_backend,
)

# --------------------------------------------------------------------------------------------
# helpers


def _flat(xy: torch.Tensor, w: int) -> torch.Tensor:
    return xy[:, 1] * w + xy[:, 0]


def _pairs(xy1: torch.Tensor, xy2: torch.Tensor, w1: int, w2: int) -> set:
    return set(zip(_flat(xy1, w1).tolist(), _flat(xy2, w2).tolist()))


def _naive_mutual(d1: torch.Tensor, d2: torch.Tensor, dist: str = "dot") -> set:
    """Mutual-NN pairs of flat indices from the whole float64 score matrix (tiny maps only).

    torch.argmax returns the first maximum, i.e. the earliest index wins a tie; rows/columns with
    a non-finite value never match.
    """
    a = d1.reshape(-1, d1.shape[-1]).double()
    b = d2.reshape(-1, d2.shape[-1]).double()
    ok_a, ok_b = torch.isfinite(a).all(1), torch.isfinite(b).all(1)
    s = a.nan_to_num(0.0) @ b.nan_to_num(0.0).T if dist == "dot" else -torch.cdist(
        a.nan_to_num(0.0), b.nan_to_num(0.0))
    s[~ok_a] = -np.inf
    s[:, ~ok_b] = -np.inf
    nn12, nn21 = s.argmax(1), s.argmax(0)
    return {(i, int(j)) for i, j in enumerate(nn12) if nn21[j] == i and ok_a[i] and ok_b[j]}


def _assert_sorted_unique(xy1: torch.Tensor, xy2: torch.Tensor, w1: int, w2: int, n2: int) -> None:
    key = _flat(xy1, w1) * n2 + _flat(xy2, w2)
    assert torch.all(key[1:] > key[:-1]), "matches must be sorted by (flat1, flat2) and unique"


def _random_unit(shape, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(shape, generator=g), dim=-1)


def _perm_pair(h: int = 4, w: int = 6, seed: int = 0):
    """desc1 = one-hot rows; pixel j of image 2 shows pixel perm[j] of image 1."""
    n = h * w
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    eye = torch.eye(n + 3)[:n]  # D > n: some dimensions unused
    return eye.reshape(h, w, -1), eye[perm].reshape(h, w, -1), perm


def _detour_pair():
    """5x8 maps, one-hot desc1; desc2 a permutation except that the pixel q0 showing pixel 0 now
    shows ``normalise(e35 + 0.5 e0)``. So NN_2(p0) = q0, NN_1(q0) = p35 = (3, 4): the walk from
    p0 = (0, 0) detours 5 px (Euclidean; 7 Manhattan, 4 Chebyshev) to the mutual pair (35, q35).
    """
    h, w = 5, 8
    d1, d2, perm = _perm_pair(h, w, seed=3)
    flat2 = d2.reshape(h * w, -1).clone()
    q0, q35 = int((perm == 0).nonzero()), int((perm == 35).nonzero())
    mix = torch.zeros(flat2.shape[1])
    mix[35], mix[0] = 1.0, 0.5
    flat2[q0] = mix / mix.norm()
    return d1, flat2.reshape(h, w, -1), q0, q35


# --------------------------------------------------------------------------------------------
# hand-built descriptors with known matches


def test_permutation_all_pixels_match():
    d1, d2, perm = _perm_pair()
    xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=1)
    assert xy1.dtype == xy2.dtype == torch.int64 and xy1.shape == (24, 2)
    # image-1 pixel i is shown at image-2 pixel inv[i]
    inv = torch.argsort(perm)
    assert torch.equal(_flat(xy1, 6), torch.arange(24))
    assert torch.equal(_flat(xy2, 6), inv)


def test_permutation_grid_start_points_and_xy_order():
    d1, d2, perm = _perm_pair(h=6, w=9)
    xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=4)
    # grid x in {2, 6}, y in {2}: (x, y) = (column, row)
    assert xy1.tolist() == [[2, 2], [6, 2]]
    inv = torch.argsort(perm)
    assert _flat(xy2, 9).tolist() == [int(inv[2 * 9 + 2]), int(inv[2 * 9 + 6])]


def test_a_walk_that_ends_early_stops_waiting_for_the_device():
    """Once no walker walks, the walk ends: 2 round trips per round walked (the last round's
    "anyone still walking?" test included), not 2 for each of ``max_iter`` rounds."""
    from mast3r_ros.core.matching.search import _CachedNN
    from mast3r_ros.core.matching.walk import _walk

    g = torch.Generator().manual_seed(1)
    d1 = torch.nn.functional.normalize(torch.randn(12 * 16, 8, generator=g), dim=-1)
    d2 = torch.nn.functional.normalize(d1 + 0.05 * torch.randn(12 * 16, 8, generator=g), dim=-1)
    start = torch.arange(0, 12 * 16, 3)

    def walk(max_iter):
        nn12, nn21 = _CachedNN(d1, d2, "dot", 64, None), _CachedNN(d2, d1, "dot", 64, None)
        return _walk(nn12, nn21, start, max_iter, False)

    rounds = next(r for r in range(1, 30) if not bool(walk(r)[2].any()))
    assert rounds < 10
    with pytest.MonkeyPatch.context() as mp:
        spy = _SyncSpy(mp)
        walk(60)
    assert spy.n <= 2 * rounds, (rounds, spy.n)


def test_walk_reaches_reciprocal_pair_and_max_iter():
    d1, d2, q0, q35 = _detour_pair()
    # one round from p0 does not close the cycle
    xy1, _ = fast_reciprocal_matches(d1, d2, init_xy1=np.array([[0, 0]]))
    assert xy1.shape == (0, 2)
    xy1, xy2 = fast_reciprocal_matches(d1, d2, init_xy1=np.array([[0, 0]]), max_iter=2)
    assert _pairs(xy1, xy2, 8, 8) == {(35, q35)}
    # the grid over every pixel: p0 walks into (35, q35), merged; p0 itself never matches
    xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=1)
    assert _pairs(xy1, xy2, 8, 8) == _naive_mutual(d1, d2)
    assert 0 not in _flat(xy1, 8).tolist() and len(xy1) == 39


def test_basin_shape_and_values():
    d1, d2, q0, q35 = _detour_pair()
    xy1, xy2, basin = fast_reciprocal_matches(
        d1, d2, init_xy1=torch.tensor([[0, 0]]), max_iter=3, ret_basin=True)
    assert basin.shape == (5 * 8 + 1,) and basin.dtype == torch.int64
    expected = torch.full((41,), -1, dtype=torch.int64)
    expected[0] = 35  # walk left p0 for p35
    expected[35] = 35  # and p35 maps back onto itself
    assert torch.equal(basin, expected)
    assert _pairs(xy1, xy2, 8, 8) == {(35, q35)}


def test_pixel_tol_one_round_euclidean_strict():
    d1, d2, q0, q35 = _detour_pair()
    p5 = 5  # flat index of (5, 0): an ordinary mutual pixel
    inv_q5 = int(_flat(fast_reciprocal_matches(d1, d2, init_xy1=np.array([[5, 0]]))[1], 8)[0])
    starts = np.array([[0, 0], [3, 4], [0, 0], [5, 0]])  # duplicates are merged

    def run(tol):
        return _pairs(*fast_reciprocal_matches(d1, d2, init_xy1=starts, pixel_tol=tol), 8, 8)

    base = {(35, q35), (p5, inv_q5)}
    assert run(5.0) == base  # distance 5 is not < 5
    assert run(4.5) == base  # Chebyshev distance (4) would wrongly keep p0
    # kept within tolerance: the *start point* p0 is reported, with its NN q0 (not mutual)
    assert run(5.5) == base | {(0, q0)}
    assert run(8.0) == base | {(0, q0)}


def test_ties_earliest_index_wins_across_tiles():
    e = torch.eye(4)
    d1 = torch.stack([e[0], e[1], e[2], e[3]]).reshape(1, 4, 4)
    d2 = torch.stack([e[1], e[0], e[2], e[0], e[3], e[2]]).reshape(2, 3, 4)
    expected = {(0, 1), (1, 0), (2, 2), (3, 4)}
    for dist in ("dot", "l2"):
        for bs in (1, 2, 3, 8192):
            got = _pairs(*fast_reciprocal_matches(d1, d2, subsample=1, dist=dist, block_size=bs),
                         4, 3)
            assert got == expected, (dist, bs)
            got = _pairs(*brute_force_mutual_nn(d1, d2, dist=dist, block_size=bs), 4, 3)
            assert got == expected, (dist, bs)


@pytest.mark.parametrize("dist", ["dot", "l2"])
def test_tie_laden_maps_match_naive(dist):
    g = torch.Generator().manual_seed(5)
    eye = torch.eye(5)
    d1 = eye[torch.randint(0, 5, (12,), generator=g)].reshape(3, 4, 5)
    d2 = eye[torch.randint(0, 5, (12,), generator=g)].reshape(4, 3, 5)
    want = _naive_mutual(d1, d2, dist)
    for bs in (1, 2, 5, 8192):
        assert _pairs(*brute_force_mutual_nn(d1, d2, dist=dist, block_size=bs), 4, 3) == want
        got = fast_reciprocal_matches(d1, d2, subsample=1, dist=dist, block_size=bs)
        assert _pairs(*got, 4, 3) == want


# --------------------------------------------------------------------------------------------
# random maps: mutual NN, brute-force agreement, sorting


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dist", ["dot", "l2"])
def test_random_maps_against_brute_force(seed, dist):
    d1 = _random_unit((14, 17, 8), seed)
    d2 = _random_unit((13, 19, 8), seed + 100)
    brute = brute_force_mutual_nn(d1, d2, dist=dist, block_size=7)
    want = _naive_mutual(d1, d2, dist)
    assert _pairs(*brute, 17, 19) == want and len(want) > 10
    _assert_sorted_unique(*brute, 17, 19, 13 * 19)
    # every pixel a start point: exactly the mutual pairs
    assert _pairs(*fast_reciprocal_matches(d1, d2, subsample=1, dist=dist), 17, 19) == want
    for sub, bs in ((2, 8192), (3, 4), (5, 1)):
        xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=sub, dist=dist, block_size=bs)
        assert len(xy1) > 0 and _pairs(xy1, xy2, 17, 19) <= want
        _assert_sorted_unique(xy1, xy2, 17, 19, 13 * 19)


def test_more_rounds_only_add_matches():
    d1, d2 = _random_unit((20, 24, 6), 7), _random_unit((20, 24, 6), 8)
    one = _pairs(*fast_reciprocal_matches(d1, d2, subsample=2, max_iter=1), 24, 24)
    ten = _pairs(*fast_reciprocal_matches(d1, d2, subsample=2), 24, 24)
    assert one < ten


def test_dot_equals_l2_for_unit_descriptors():
    d1, d2 = _random_unit((24, 32, 16), 11), _random_unit((24, 32, 16), 12)
    dot = fast_reciprocal_matches(d1, d2, subsample=2, dist="dot")
    l2 = fast_reciprocal_matches(d1, d2, subsample=2, dist="l2")
    assert len(dot[0]) > 20
    assert torch.equal(dot[0], l2[0]) and torch.equal(dot[1], l2[1])


# --------------------------------------------------------------------------------------------
# empty inputs, invalid values, dtypes, devices, errors


def test_empty_inputs():
    d = _random_unit((4, 5, 8), 0)
    for a, b in ((torch.zeros(0, 5, 8), d), (d, torch.zeros(3, 0, 8))):
        for fn in (fast_reciprocal_matches, brute_force_mutual_nn):
            xy1, xy2 = fn(a, b)
            assert xy1.shape == xy2.shape == (0, 2) and xy1.dtype == torch.int64
    xy1, xy2, basin = fast_reciprocal_matches(torch.zeros(0, 5, 8), d, ret_basin=True)
    assert xy1.shape == (0, 2) and basin.tolist() == [-1]
    xy1, xy2 = fast_reciprocal_matches(d, d, init_xy1=np.zeros((0, 2), dtype=np.int64))
    assert xy1.shape == (0, 2)
    # subsample larger than the image: no start point
    assert fast_reciprocal_matches(d, d, subsample=64)[0].shape == (0, 2)


def test_nonfinite_descriptors_never_match():
    d1 = _random_unit((6, 7, 8), 21)
    d2 = d1.clone()  # identity: every pixel matches itself
    d2[1, 2] = float("nan")
    d1[4, 5, 3] = float("inf")
    xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=1)
    got = _pairs(xy1, xy2, 7, 7)
    assert got == _naive_mutual(d1, d2) == {(i, i) for i in range(42)} - {(9, 9), (33, 33)}
    assert _pairs(*brute_force_mutual_nn(d1, d2), 7, 7) == got


def test_finite_rows_are_found_without_a_per_entry_mask(monkeypatch):
    """The all-finite fast path is one sum, not an (N, D) finiteness map (44 ms on the CPU at
    512 x 384 x 24, against 0.3 ms); a map whose finite entries overflow the float32 sum falls
    through to the row test and still has no invalid row; a NaN or inf is always found."""
    from mast3r_ros.core.matching import checks

    shapes = []
    real = torch.isfinite

    def spy(t):
        shapes.append(tuple(t.shape))
        return real(t)

    monkeypatch.setattr(checks.torch, "isfinite", spy)
    flat = _random_unit((40, 50, 24), 3).reshape(-1, 24)
    assert checks._invalid_rows(flat, False) is None
    assert all(len(s) < 2 for s in shapes), shapes
    big = torch.full((6, 4), 3e38)  # finite, but the sum overflows to inf
    assert checks._invalid_rows(big, False) is None
    assert checks._invalid_rows(big, True).tolist() == [False] * 6
    for bad in (float("nan"), float("inf"), float("-inf")):
        f = flat.clone()
        f[1234, 7] = bad
        assert torch.nonzero(checks._invalid_rows(f, False)).flatten().tolist() == [1234]
    mixed = flat[:3].clone()
    mixed[0, 0], mixed[2, 1] = float("inf"), float("-inf")  # inf - inf: the sum is NaN
    assert checks._invalid_rows(mixed, False).tolist() == [True, False, True]


@pytest.mark.parametrize("dist", ["dot", "l2"])
def test_brute_force_an_all_nonfinite_map_matches_nothing(dist):
    """Every pixel of image 2 NaN: each image-1 row's 'nearest' is column 0 by argmax of -inf
    scores, and column 0's 'nearest' is row 0 the same way, a mutual pair that is no match.
    Only the bad2[nn12] mask drops it."""
    d1 = _random_unit((3, 4, 8), 5)
    d2 = torch.full((2, 3, 8), float("nan"))
    for a, b in ((d1, d2), (d2, d1)):
        xy1, xy2 = brute_force_mutual_nn(a, b, dist=dist)
        assert xy1.shape == xy2.shape == (0, 2)


def test_3d_variant_with_nan_and_inf():
    g = torch.Generator().manual_seed(4)
    pts1 = torch.rand(9, 11, 3, generator=g) * 5.0
    perm = torch.randperm(99, generator=g)
    pts2 = (pts1.reshape(-1, 3)[perm] + 1e-3 * torch.randn(99, 3, generator=g)).reshape(9, 11, 3)
    pts1[0, 3] = float("nan")
    pts1[5, 5, 2] = float("-inf")
    pts2[2, 7] = float("inf")
    pts2[8, 10, 0] = float("nan")
    bad1, bad2 = {3, 60}, {29, 98}
    want = _naive_mutual(pts1, pts2, "l2")
    got = _pairs(*reciprocal_matches_3d(pts1, pts2, subsample=1), 11, 11)
    assert got == want and len(got) > 80
    assert not {i for i, _ in got} & bad1 and not {j for _, j in got} & bad2
    sub = _pairs(*reciprocal_matches_3d(pts1, pts2, subsample=2, block_size=5), 11, 11)
    assert sub <= want and len(sub) > 10
    # pixel i of image 1 is shown at image 2 pixel inv[i]
    inv = torch.argsort(perm)
    assert all(int(inv[i]) == j for i, j in got)
    assert reciprocal_matches_3d(pts1, torch.full((3, 3, 3), float("nan")))[0].shape == (0, 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes_on_cpu(dtype):
    d1 = _random_unit((12, 16, 8), 31).to(dtype)
    d2 = _random_unit((12, 16, 8), 32).to(dtype)
    got = fast_reciprocal_matches(d1, d2, subsample=2)
    # half precisions are searched in float32: same as upcasting first
    ref_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    want = fast_reciprocal_matches(d1.to(ref_dtype), d2.to(ref_dtype), subsample=2)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and len(got[0]) > 5
    assert got[0].dtype == torch.int64


def test_integer_descriptors_rejected():
    d = torch.ones(4, 4, 8, dtype=torch.int32)
    with pytest.raises(InputError, match="floating-point"):
        fast_reciprocal_matches(d, d)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dist="cosine"), "dist"),
        (dict(pixel_tol=5.0), "init_xy1"),
        (dict(init_xy1=np.array([[1, 1]]), pixel_tol=5.0, max_iter=3), "max_iter"),
        (dict(subsample=0), "subsample"),
        (dict(block_size=0), "block_size"),
        (dict(max_iter=0), "max_iter"),
        (dict(pixel_tol=-1.0, init_xy1=np.array([[1, 1]])), "pixel_tol"),
    ],
)
def test_invalid_parameters(kwargs, match):
    d = _random_unit((4, 5, 8), 0)
    with pytest.raises(ValueError, match=match):
        fast_reciprocal_matches(d, d, **kwargs)


@pytest.mark.parametrize(
    "a, b, init",
    [
        (torch.zeros(4, 5, 8), torch.zeros(4, 5, 7), None),
        (torch.zeros(20, 8), torch.zeros(4, 5, 8), None),
        (torch.zeros(4, 5, 8), torch.zeros(4, 5, 8), np.array([[5, 0]])),  # x == W
        (torch.zeros(4, 5, 8), torch.zeros(4, 5, 8), np.array([[0, -1]])),
        (torch.zeros(4, 5, 8), torch.zeros(4, 5, 8), np.array([[0.5, 1.0]])),
        (torch.zeros(4, 5, 8), torch.zeros(4, 5, 8), np.array([1, 2])),
    ],
)
def test_malformed_inputs(a, b, init):
    with pytest.raises(InputError):
        fast_reciprocal_matches(a, b, init_xy1=init)


def test_a_numpy_descriptor_map_is_named_as_such():
    """A numpy map of the right shape read "must be a torch.Tensor ..., got (4, 5, 8)"."""
    d = np.zeros((4, 5, 8), np.float32)
    with pytest.raises(InputError, match=r"desc1 must be a torch.Tensor .*got ndarray \(4, 5, "
                                         r"8\); wrap a numpy array with torch.from_numpy"):
        fast_reciprocal_matches(d, torch.from_numpy(d))
    with pytest.raises(InputError, match=r"desc2 .*got Tensor \(20, 8\)$"):
        fast_reciprocal_matches(torch.from_numpy(d), torch.zeros(20, 8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    d1, d2 = _random_unit((40, 50, 16), 41), _random_unit((40, 50, 16), 42)
    cpu = fast_reciprocal_matches(d1, d2, subsample=2)
    gpu = fast_reciprocal_matches(d1.cuda(), d2.cuda(), subsample=2)
    assert gpu[0].device.type == "cuda"
    assert torch.equal(gpu[0].cpu(), cpu[0]) and torch.equal(gpu[1].cpu(), cpu[1])
    assert _pairs(*brute_force_mutual_nn(d1.cuda(), d2.cuda()), 50, 50) == _pairs(
        *brute_force_mutual_nn(d1, d2), 50, 50)


# --------------------------------------------------------------------------------------------
# border filter


def test_filter_border():
    xy1 = torch.tensor([[3, 3], [2, 5], [8, 6], [9, 5], [5, 7], [4, 4]])
    xy2 = torch.tensor([[3, 3], [4, 4], [4, 4], [4, 4], [4, 4], [5, 5]])
    # image 1: H=10, W=12 -> keep 3 <= x < 9, 3 <= y < 7; image 2: H=8, W=9 -> x < 6, y < 5
    k1, k2 = filter_border(xy1, xy2, (10, 12), (8, 9))
    assert k1.tolist() == [[3, 3], [8, 6]] and k2.tolist() == [[3, 3], [4, 4]]
    k1, k2 = filter_border(xy1, xy2, (10, 12), (8, 9), border=0)
    assert len(k1) == 6
    e = torch.zeros(0, 2, dtype=torch.int64)
    assert filter_border(e, e, (10, 12), (8, 9))[0].shape == (0, 2)


# --------------------------------------------------------------------------------------------
# equivalence with the reference implementation's outputs (fixtures)


def _fixture_dir() -> Path:
    env = os.environ.get("MAST3R_ROS_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "reference" / "fixtures"


@pytest.fixture(scope="module")
def ref():
    folder = _fixture_dir() / "mast3r_tiny"
    if not (folder / "fastnn.npz").is_file() or not (folder / "outputs.npz").is_file():
        pytest.skip(f"reference fixtures not found in {folder}")
    with np.load(folder / "outputs.npz", allow_pickle=False) as o:
        descs = torch.from_numpy(o["desc_1"]), torch.from_numpy(o["desc_2"])
    with np.load(folder / "fastnn.npz", allow_pickle=False) as f:
        expected = {k: f[k] for k in f.files}
    return descs, expected


@pytest.fixture(scope="module")
def demo(ref):
    (d1, d2), _ = ref
    return fast_reciprocal_matches(d1, d2, subsample=8, dist="dot", block_size=8192)


def _check(got, exp, prefix: str) -> None:
    np.testing.assert_array_equal(got[0].numpy(), exp[prefix + "_xy1"])
    np.testing.assert_array_equal(got[1].numpy(), exp[prefix + "_xy2"])


@pytest.fixture(scope="module")
def l2(ref):
    (d1, d2), _ = ref
    return fast_reciprocal_matches(d1, d2, dist="l2")


@pytest.mark.parametrize("setting", ["demo", "dot_noblock"])
def test_fixture_demo(ref, demo, setting):
    (d1, d2), exp = ref
    _check(demo, exp, setting)
    assert len(demo[0]) == 234
    # every pair is a mutual nearest neighbour (checked directly on the 234 pairs)
    a, b = d1.reshape(-1, 24), d2.reshape(-1, 24)
    f1, f2 = _flat(demo[0], 512), _flat(demo[1], 512)
    assert torch.equal((a[f1] @ b.T).argmax(1), f2)
    assert torch.equal((b[f2] @ a.T).argmax(1), f1)


def test_fixture_flat_and_border(ref, demo):
    _, exp = ref
    np.testing.assert_array_equal(_flat(demo[0], 512).numpy(), exp["flat_idx1"])
    np.testing.assert_array_equal(_flat(demo[1], 512).numpy(), exp["flat_idx2"])
    k1, k2 = filter_border(demo[0], demo[1], (384, 512), (384, 512), border=3)
    valid = exp["demo_valid"]
    np.testing.assert_array_equal(k1.numpy(), exp["demo_xy1"][valid])
    np.testing.assert_array_equal(k2.numpy(), exp["demo_xy2"][valid])
    assert len(k1) == 227


@pytest.mark.parametrize("setting", ["l2", "kdtree"])  # the KD-tree is an exact L2 search
def test_fixture_l2(ref, l2, setting):
    _check(l2, ref[1], setting)


def test_fixture_sub16(ref):
    (d1, d2), exp = ref
    _check(fast_reciprocal_matches(d1, d2, subsample=16), exp, "sub16")


SLOW = os.environ.get("MAST3R_ROS_SLOW") == "1"


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="~4x the demo's cost; set MAST3R_ROS_SLOW=1 to run")
def test_fixture_sub4(ref):
    (d1, d2), exp = ref
    _check(fast_reciprocal_matches(d1, d2, subsample=4), exp, "sub4")


def test_fixture_basin(ref):
    (d1, d2), exp = ref
    xy1, xy2, basin = fast_reciprocal_matches(d1, d2, ret_basin=True)
    _check((xy1, xy2), exp, "basin")
    np.testing.assert_array_equal(basin.numpy(), exp["basin"].astype(np.int64))


def test_fixture_pixel_tol(ref):
    """One round per start point, so each start's outcome is independent of the others: unless
    MAST3R_ROS_SLOW=1, check every 3rd row of start points (7296 of 21888) against the fixture."""
    (d1, d2), exp = ref
    init = np.stack([exp["pixtol5_init_x"], exp["pixtol5_init_y"]], axis=1)
    xy1, xy2 = exp["pixtol5_xy1"], exp["pixtol5_xy2"]
    if not SLOW:
        init = init[init[:, 1] % 9 == 0]
        keep = xy1[:, 1] % 9 == 0
        xy1, xy2 = xy1[keep], xy2[keep]
        assert len(xy1) > 250
    got = fast_reciprocal_matches(d1, d2, init_xy1=init, pixel_tol=5)
    np.testing.assert_array_equal(got[0].numpy(), xy1)
    np.testing.assert_array_equal(got[1].numpy(), xy2)


def test_fixture_reversed_order(ref):
    (d1, d2), exp = ref
    got = fast_reciprocal_matches(d2, d1)
    np.testing.assert_array_equal(got[0].numpy(), exp["rev_xy2"])
    np.testing.assert_array_equal(got[1].numpy(), exp["rev_xy1"])


class _SyncSpy:
    """Counts, on CPU, the calls that wait for the device on CUDA (a host round trip): item,
    tolist, bool/int/float of a tensor, nonzero, unique, masked_select, .cpu()/.numpy(),
    boolean-mask indexing."""

    def __init__(self, mp: pytest.MonkeyPatch):
        self.n = 0
        for name in ("item", "tolist", "__bool__", "__int__", "__float__", "__index__",
                     "nonzero", "cpu", "numpy", "masked_select"):
            mp.setattr(torch.Tensor, name, self._wrap(getattr(torch.Tensor, name)))
        for name in ("unique", "nonzero", "masked_select"):
            mp.setattr(torch, name, self._wrap(getattr(torch, name)))
        real_get, real_set = torch.Tensor.__getitem__, torch.Tensor.__setitem__

        def getitem(t, key):
            self.n += isinstance(key, torch.Tensor) and key.dtype == torch.bool
            return real_get(t, key)

        def setitem(t, key, value):
            self.n += isinstance(key, torch.Tensor) and key.dtype == torch.bool
            return real_set(t, key, value)

        mp.setattr(torch.Tensor, "__getitem__", getitem)
        mp.setattr(torch.Tensor, "__setitem__", setitem)

    def _wrap(self, fn):
        def counted(*a, **kw):
            self.n += 1
            return fn(*a, **kw)
        return counted


@pytest.mark.parametrize("ret_basin", [False, True])
def test_walk_host_round_trips_per_round(ret_basin):
    """The torch walk (the search on CUDA without Triton) waits for the device at most twice a
    round and once in the first (it waited 3 times a round: the active set's nonzero and one
    torch.unique per search), with the same result; counted on CPU by patching the calls that
    wait on CUDA, on a pair whose walks are still going after the rounds run (so every round
    runs and no early end adds a test)."""
    from mast3r_ros.core.matching.search import _CachedNN
    from mast3r_ros.core.matching.walk import _walk

    g = torch.Generator().manual_seed(0)
    d1 = torch.nn.functional.normalize(torch.randn(24 * 32, 8, generator=g), dim=-1)
    d2 = torch.nn.functional.normalize(d1 + 0.3 * torch.randn(24 * 32, 8, generator=g), dim=-1)
    start = torch.arange(0, 24 * 32, 2)

    def walk(max_iter):
        nn12, nn21 = _CachedNN(d1, d2, "dot", 64, None), _CachedNN(d2, d1, "dot", 64, None)
        return _walk(nn12, nn21, start, max_iter, ret_basin)

    for rounds in (1, 3):
        want = walk(rounds)
        assert bool(want[2].any())  # walkers still active: all the rounds ran
        with pytest.MonkeyPatch.context() as mp:
            spy = _SyncSpy(mp)
            got = walk(rounds)
        assert spy.n <= 2 * rounds - 1, (rounds, spy.n)
        for a, b in zip(got, want):
            assert (a is None and b is None) or torch.equal(a, b)


def test_parameters_and_arguments_of_the_wrong_kind_are_named():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, 12, 8, generator=g), torch.randn(14, 10, 8, generator=g)
    # 2.5 was int()-truncated to 2, "x" a bare ValueError, a str pixel_tol a TypeError
    for kw, name in ((dict(subsample=2.5), "subsample"), (dict(subsample="4"), "subsample"),
                     (dict(max_iter=2.5), "max_iter"), (dict(block_size="x"), "block_size")):
        with pytest.raises(ConfigError, match=f"{name} must be an int >= 1"):
            fast_reciprocal_matches(a, b, **kw)
    with pytest.raises(ConfigError, match="pixel_tol must be a number >= 0"):
        fast_reciprocal_matches(a, b, init_xy1=[[1, 2]], pixel_tol="1")
    with pytest.raises(InputError, match="D=0 channels"):  # was a torch reshape RuntimeError
        fast_reciprocal_matches(a[..., :0], b[..., :0])
    with pytest.raises(ConfigError, match="dist must be one of"):  # was a bare ValueError
        brute_force_mutual_nn(a, b, dist="cos")
    with pytest.raises(InputError, match=r"list of \(desc1, desc2\) pairs"):
        fast_reciprocal_matches_batch([a])  # was "too many values to unpack"
    with pytest.raises(InputError, match=r"list of \(desc1, desc2\) pairs"):
        fast_reciprocal_matches_batch(torch.stack([a, a]))
    with pytest.raises(InputError, match=r"filter_border: xy1 and xy2 must both be \(N, 2\)"):
        filter_border(torch.zeros(2, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long),
                      (16, 12), (14, 10))  # was a torch IndexError
    assert resolve_nn_backend("torch", "cpu") == "torch"  # a device name works too


# --------------------------------------------------------------------------------------------
# mutation-audit additions: values worked out by hand


def _chain_pair(k: int = 9, dtype=torch.float32):
    """A walk that needs exactly k + 1 rounds from the only grid start point (subsample=3).

    Unit 2-D descriptors at angles on an arc, ordered x0 < y0 < x1 < y1 < ... < xk < yk (xi in
    image 1, yi in image 2) with strictly shrinking gaps. So NN_2(xi) = yi (yi is closer than
    y(i-1)) and NN_1(yi) = x(i+1) (closer than xi) for i < k, NN_1(yk) = xk: the walk from x0
    visits x1, ..., xk one per round and round k + 1 finds the mutual pair (xk, yk). Image 1 is
    3x4: x0 sits at (1, 1), the only start of the subsample-3 grid (x = 1, y = 1), x1..x9 at the
    flat indices 0-4, 6-9 and two spare pixels far away at 10, 11; image 2 is 2x5 with yi at the
    same flat indices as xi (a walk must not take NN_2(x0) = flat 5 = x0 for a repeat).
    """
    gaps = 1.0 + 0.1 * np.arange(2 * k + 1, 0, -1)  # 2.9, 2.8, ..., 1.1 for k=9
    pos = np.concatenate([[0.0], np.cumsum(gaps)]) * 0.02  # radians, < 1
    xs, ys = pos[0::2], pos[1::2]
    ang1 = np.full(12, -2.0)
    ang1[11] = -2.5
    ang1[[5, 0, 1, 2, 3, 4, 6, 7, 8, 9][: k + 1]] = xs
    ang2 = np.full(10, 2.0)
    ang2[[5, 0, 1, 2, 3, 4, 6, 7, 8, 9][: k + 1]] = ys

    def unit(a, h, w):
        return torch.tensor(np.stack([np.cos(a), np.sin(a)], -1), dtype=dtype).reshape(h, w, 2)

    return unit(ang1, 3, 4), unit(ang2, 2, 5)


@pytest.mark.parametrize("dist", ["dot", "l2"])
def test_default_max_iter_is_ten_rounds(dist):
    d1, d2 = _chain_pair()
    # 10 rounds (the default for the grid) reach (x9, y9): image 1 flat 9 = (1, 2), image 2
    # flat 9 = (4, 1); 9 rounds leave the walker active, i.e. no match
    for kw in ({}, dict(max_iter=10), dict(max_iter=25)):
        xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=3, dist=dist, **kw)
        assert xy1.tolist() == [[1, 2]] and xy2.tolist() == [[4, 1]], kw
    assert fast_reciprocal_matches(d1, d2, subsample=3, dist=dist, max_iter=9)[0].shape == (0, 2)
    # the basin: each x_i (flat 5, 0, 1, ..., 8) was left for x_(i+1); x9 maps onto itself
    _, _, basin = fast_reciprocal_matches(d1, d2, subsample=3, dist=dist, ret_basin=True)
    want = [-1] * 13
    for a, b in zip([5, 0, 1, 2, 3, 4, 6, 7, 8, 9], [0, 1, 2, 3, 4, 6, 7, 8, 9, 9]):
        want[a] = b
    assert basin.tolist() == want


def test_batch_passes_max_iter_through():
    d1, d2 = _chain_pair()
    got = fast_reciprocal_matches_batch([(d1, d2), (d1, d2)], subsample=3)
    assert [(a.tolist(), b.tolist()) for a, b in got] == [([[1, 2]], [[4, 1]])] * 2
    got = fast_reciprocal_matches_batch([(d1, d2)], subsample=3, max_iter=9)
    assert got[0][0].shape == (0, 2)


def test_nonfinite_start_point_does_not_walk():
    """A NaN start pixel is dropped, not walked: its 'nearest neighbour' (argmax of a NaN row)
    would lead the walk to some unrelated mutual pair, reported as a match."""
    d1, d2, perm = _perm_pair(h=6, w=9)
    d1[2, 2, 0] = float("nan")  # the grid start (2, 2); (6, 2) is the other one
    xy1, xy2 = fast_reciprocal_matches(d1, d2, subsample=4)
    assert xy1.tolist() == [[6, 2]]
    assert _flat(xy2, 9).tolist() == [int(torch.argsort(perm)[2 * 9 + 6])]


def test_start_points_outside_the_image_are_rejected():
    d = _random_unit((4, 5, 8), 0)  # H=4, W=5: x in 0..4, y in 0..3
    for bad in ([[0, 4]], [[5, 0]], [[-1, 0]], [[0, -1]], [[4, 3], [0, 4]]):
        with pytest.raises(InputError, match="outside"):
            fast_reciprocal_matches(d, d, init_xy1=np.array(bad))
    xy1, _ = fast_reciprocal_matches(d, d, init_xy1=np.array([[4, 3], [0, 0]]))  # corners ok
    assert xy1.tolist() == [[0, 0], [4, 3]]  # d matched with itself: every pixel is mutual


def test_bools_and_mixed_devices_are_rejected():
    d = _random_unit((4, 5, 8), 0)
    for kw, name in ((dict(subsample=True), "subsample"), (dict(max_iter=True), "max_iter"),
                     (dict(block_size=np.bool_(True)), "block_size")):
        with pytest.raises(ConfigError, match=f"{name} must be an int >= 1"):
            fast_reciprocal_matches(d, d, **kw)
    with pytest.raises(ConfigError, match="block_size"):
        brute_force_mutual_nn(d, d, block_size=0)
    with pytest.raises(InputError, match="move one"):
        fast_reciprocal_matches(d, d.to("meta"))


def test_filter_border_needs_two_columns():
    xy = torch.zeros(3, 3, dtype=torch.int64)
    with pytest.raises(InputError, match=r"\(N, 2\)"):
        filter_border(xy, xy, (10, 10), (10, 10))


def test_tile_shape_bounds():
    from mast3r_ros.core.matching.search import _tile_shape

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    # at most block_size rows and block_size**2 elements; CPU: at most 256 rows and 2**20 elems
    assert _tile_shape(1000, 1000, 4, cpu) == (4, 4)
    assert _tile_shape(1000, 1000, 4, cuda) == (4, 4)
    assert _tile_shape(3, 1000, 4, cpu) == (3, 5)  # 16 // 3 columns
    assert _tile_shape(10 ** 6, 10 ** 6, 8192, cpu) == (256, 4096)
    assert _tile_shape(10 ** 6, 10 ** 6, 8192, cuda) == (8192, 8192)
    assert _tile_shape(7, 9, 8192, cuda) == (7, 9)
    assert _tile_shape(0, 0, 1, cpu) == (1, 1)


def test_cached_nn_searches_each_row_once():
    from mast3r_ros.core.matching.search import _CachedNN

    src = torch.eye(4)
    tgt = torch.eye(4)[[3, 2, 1, 0]]
    nn = _CachedNN(src, tgt, "dot", 8192, None)

    def lookup(idx, mask=None):
        idx = torch.tensor(idx)
        mask = torch.ones_like(idx, dtype=torch.bool) if mask is None else torch.tensor(mask)
        rows, n_mask = nn.misses(idx, mask)
        assert n_mask == int(mask.sum())
        nn.search(rows)
        return rows.tolist(), nn.cache[idx].tolist()

    assert lookup([2, 0, 0]) == ([0, 2], [1, 3, 3])  # distinct, sorted
    assert nn.n_searched == 2
    assert lookup([2, 0, 1, 3], [True, True, False, True]) == ([3], [1, 3, -1, 0])  # masked: not
    assert nn.n_searched == 3
    assert lookup([3, 1, 0]) == ([1], [0, 2, 3])  # a cached 0 is an answer, not a miss
    assert nn.n_searched == 4


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_maps_are_searched_in_float32(dtype):
    """Scores 2048 (t0) and 2049 (t1) from inputs exact in both half precisions: float32 tells
    them apart (t1 wins), a float16/bfloat16 result would round 2049 to 2048, a tie that the
    earlier t0 wins."""
    d1 = torch.tensor([[[32.0, 1.0]]], dtype=dtype)  # (1, 1, 2)
    d2 = torch.tensor([[[64.0, 0.0], [64.0, 1.0]]], dtype=dtype)  # (1, 2, 2): t0, t1
    for fn in (fast_reciprocal_matches, brute_force_mutual_nn):
        xy1, xy2 = fn(d1, d2) if fn is brute_force_mutual_nn else fn(d1, d2, subsample=1)
        assert xy1.tolist() == [[0, 0]] and xy2.tolist() == [[1, 0]], fn


def test_overflowed_scores_still_win_next_to_invalid_pixels():
    """A valid score that overflows float32 (1e20 * 1e20 = inf) is the largest, also when a
    NaN pixel in the map makes the search sanitize its scores (inf -> float32 max, not min)."""
    d1 = torch.tensor([[[1e20, 0.0]]])  # (1, 1, 2)
    d2 = torch.tensor([[[1.0, 0.0], [1e20, 0.0], [float("nan"), 0.0]]])  # t0, t1 (inf), NaN
    for fn in (fast_reciprocal_matches, brute_force_mutual_nn):
        xy1, xy2 = fn(d1, d2, **({"subsample": 1} if fn is fast_reciprocal_matches else {}))
        assert xy1.tolist() == [[0, 0]] and xy2.tolist() == [[1, 0]], fn


@pytest.mark.parametrize("dist", ["dot", "l2"])
def test_invalid_pixel_loses_to_a_worse_valid_one(dist):
    """The search zeroes NaN rows before the product: such a row then scores 0 ("dot") or
    sits at the origin ("l2"), which beats the only valid pixel t0 = -q (score -1, distance 2);
    it must still lose."""
    d1 = torch.tensor([[[1.0, 0.0]]])
    d2 = torch.tensor([[[-1.0, 0.0], [float("nan"), 0.0]]])
    for fn in (fast_reciprocal_matches, brute_force_mutual_nn):
        xy1, xy2 = fn(d1, d2, dist=dist, **({"subsample": 1} if fn is fast_reciprocal_matches
                                             else {}))
        assert xy1.tolist() == [[0, 0]] and xy2.tolist() == [[0, 0]], fn


def test_bool_pixel_tol_and_an_empty_tensor_of_pairs_are_rejected():
    d = _random_unit((4, 5, 8), 0)
    with pytest.raises(ConfigError, match="pixel_tol must be a number >= 0"):
        fast_reciprocal_matches(d, d, init_xy1=[[1, 2]], pixel_tol=True)  # not 1 pixel
    with pytest.raises(InputError, match=r"list of \(desc1, desc2\) pairs"):
        fast_reciprocal_matches_batch(torch.zeros(0, 2, 4, 5, 8))


def test_filter_border_names_a_list_argument():
    """`filter_border` promises an `InputError` for malformed matches; lists of (x, y) failed
    with "AttributeError: 'list' object has no attribute 'shape'". Numpy arrays still work."""
    with pytest.raises(InputError, match="filter_border: xy1 must be an \\(N, 2\\) tensor"):
        filter_border([[5, 5]], [[5, 5]], (10, 10), (10, 10))
    k1, k2 = filter_border(np.array([[5, 5], [0, 5]]), np.array([[5, 5], [5, 5]]), (10, 10),
                           (10, 10))
    assert k1.tolist() == [[5, 5]] and k2.tolist() == [[5, 5]]
