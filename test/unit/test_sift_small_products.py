"""SIFT descriptor products small enough for one core never wake OpenBLAS's threads.

check-map spent 40 % of its time on a loaded 2-core machine in `match_descriptors`' one
product of two 500-feature sets: above 4 * 65536 multiply-adds OpenBLAS runs it on every core,
and waiting for its sleeping worker threads took 20-60 ms against 0.3 ms of arithmetic
(docs/bench/scale_cpu_2026-12-06e). `sift.similarities` computes such products in row blocks
below that threshold; the matches and the map check's report are those of the one product."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import KeyframeRecord, check_keyframes
from mast3r_ros.core.matchers import sift
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def _unit(n: int, seed: int) -> np.ndarray:
    x = np.sqrt(np.random.default_rng(seed).random((n, 128), dtype=np.float32))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _spy(monkeypatch) -> list:
    shapes = []
    matmul = np.matmul

    def spy(a, b, *args, **kwargs):
        shapes.append((a.shape[0], b.shape[1], a.shape[1]))
        return matmul(a, b, *args, **kwargs)
    monkeypatch.setattr(sift, "_matmul", spy)
    return shapes


@pytest.mark.parametrize("n1, n2", [(500, 500), (37, 480), (3, 2), (1000, 300)])
def test_a_small_product_is_computed_below_the_blas_threading_threshold(n1, n2, monkeypatch):
    a, b = _unit(n1, 1), _unit(n2, 2)
    shapes = _spy(monkeypatch)
    out = sift.similarities(a, b)
    assert shapes and all(m * n * k <= sift.BLAS_THREADED_ABOVE for m, n, k in shapes)
    assert sum(m for m, _, _ in shapes) == n1 and out.dtype == np.float32
    np.testing.assert_allclose(out, a @ b.T, rtol=0, atol=1e-6)


def test_a_large_product_stays_one_call(monkeypatch):
    """The localizer's 4000 features: the threads are worth waking (one call)."""
    a, b = _unit(4000, 1), _unit(200, 2)
    shapes = _spy(monkeypatch)
    sift.similarities(a, b)
    assert shapes == [(4000, 200, 128)]


def _records(n: int = 5):
    cam = default_intrinsics(128, 96)
    return [KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns, str(i))
            for i, f in enumerate(render_frames(40, cam, seed=0, indices=range(n)))]


def test_the_matches_and_the_map_check_are_those_of_one_product(monkeypatch):
    """128x96 synthetic keyframes (ORB falls short there: SIFT matched): the same matches pair
    by pair, and the same report, as with every product one BLAS call (as before)."""
    records = _records()
    feats = [sift.extract_sift(r.rgb, 500, contrast_threshold=0.02) for r in records]
    cfg = Config().map_check
    blocks = [sift.match_descriptors(a.desc, b.desc, 0.8) for a, b in zip(feats, feats[1:])]
    new = check_keyframes(records, cfg)
    monkeypatch.setattr(sift, "ONE_CORE_PRODUCT", 0)
    one = [sift.match_descriptors(a.desc, b.desc, 0.8) for a, b in zip(feats, feats[1:])]
    old = check_keyframes(records, cfg)
    assert sum(len(i) for i, _ in one) > 30
    for (i1, j1), (i2, j2) in zip(blocks, one):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(j1, j2)
    assert (new.verdict, new.cause) == (old.verdict, old.cause)
    assert [(p.a, p.b, p.matches, p.reproj_px, p.depth_residual, p.ok) for p in new.pairs] == [
        (p.a, p.b, p.matches, p.reproj_px, p.depth_residual, p.ok) for p in old.pairs]
    assert any(p.matches for p in new.pairs)
