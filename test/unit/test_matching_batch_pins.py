"""Pins from a mutation audit of `fast_reciprocal_matches_batch`'s fused path (K pairs walked
together by the Triton search; its CPU interpreter without a GPU): image 1 and image 2 of other
sizes (the pair index and both pixels are packed into one key), and a pair without a single
match among pairs with some (each pair's results are split off by count)."""

from __future__ import annotations

import os

import pytest
import torch

from mast3r_test_utils import TRITON_TEST_MIN

triton = pytest.importorskip("triton", minversion=TRITON_TEST_MIN)

from mast3r_ros.core.matching import (  # noqa: E402
    fast_reciprocal_matches, fast_reciprocal_matches_batch)

DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if DEV.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("triton was imported before TRITON_INTERPRET=1 was set", allow_module_level=True)


def _eighths(shape, seed):
    g = torch.Generator().manual_seed(seed)  # multiples of 1/8: exact products and sums
    return (torch.randint(-8, 9, shape, generator=g).float() / 8).to(DEV)


def _no_match_pair(h1, w1, h2, w2, d):
    """Every image-2 pixel alike, so each walk goes to image-1 pixel (0, 0), which is no start
    point of the grid: with one round no walker comes back to its start."""
    a = _eighths((h1, w1, d), 7)
    a[0, 0] = 4.0  # the best image-1 pixel for any image-2 descriptor
    return a, torch.full((h2, w2, d), 0.5, device=DEV)


def test_batched_pairs_of_two_sizes_and_one_without_matches_equal_single_calls():
    h1, w1, h2, w2, d = 6, 8, 10, 6, 8  # N1 = 48 != N2 = 60
    pairs = [(_eighths((h1, w1, d), s), _eighths((h2, w2, d), 10 + s)) for s in range(2)]
    pairs.append(_no_match_pair(h1, w1, h2, w2, d))
    got = fast_reciprocal_matches_batch(pairs, subsample=2, max_iter=1, nn_backend="triton")
    assert len(got) == len(pairs)
    for (a, b), (x1, x2) in zip(pairs, got):
        w1_, w2_ = fast_reciprocal_matches(a, b, subsample=2, max_iter=1, nn_backend="torch")
        assert torch.equal(x1.cpu(), w1_.cpu()) and torch.equal(x2.cpu(), w2_.cpu())
    assert len(got[0][0]) > 0 and len(got[2][0]) == 0  # the pair without matches, last


def test_batched_pairs_of_unequal_shapes_or_with_a_nan_pixel_equal_single_calls():
    """Such batches cannot be walked together (one stacked tensor; no NaN handling in the
    fused walk): each pair is matched alone, as a single call would."""
    a, b, c = _eighths((6, 8, 8), 1), _eighths((10, 6, 8), 2), _eighths((6, 8, 8), 3)
    nan = c.clone()
    nan[1, 1] = float("nan")  # a start point of the grid
    for pairs in ([(a, b), (c, a)], [(a, c), (nan, a)]):
        got = fast_reciprocal_matches_batch(pairs, subsample=2, max_iter=1,
                                            nn_backend="triton")
        for (p, q), (x1, x2) in zip(pairs, got):
            w1_, w2_ = fast_reciprocal_matches(p, q, subsample=2, max_iter=1,
                                               nn_backend="torch")
            assert torch.equal(x1.cpu(), w1_.cpu()) and torch.equal(x2.cpu(), w2_.cpu())
