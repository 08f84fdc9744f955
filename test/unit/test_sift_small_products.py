"""SIFT descriptor products small enough for one core never wake BLAS's threads.

check-map spent 40 % of its time on a loaded 2-core machine in `match_descriptors`' one
product of two 500-feature sets: OpenBLAS ran it on every core, and waiting for its sleeping
worker threads took 20-60 ms against 0.3 ms of arithmetic (docs/bench/scale_cpu_2026-12-06e).
`sift.similarities` computes such a product on one BLAS thread (`blas_threads`, threadpoolctl)
or, without threadpoolctl, in row blocks below OpenBLAS's threading threshold; the matches and
the map check's report are those of the one threaded product. Checked by looking at the
products and the thread count inside them, not by timing."""

from __future__ import annotations

import numpy as np
import pytest

from blas_test_utils import limited_blas_threads, stand_in_limit

from mast3r_ros.core import blas_threads
from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import KeyframeRecord, check_keyframes
from mast3r_ros.core.matchers import sift
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def _unit(n: int, seed: int) -> np.ndarray:
    x = np.sqrt(np.random.default_rng(seed).random((n, 128), dtype=np.float32))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _spy(monkeypatch, threads=lambda: None) -> list:
    """Each product `similarities` computes: (m, n, k, threads() inside it)."""
    calls = []
    matmul = np.matmul

    def spy(a, b, *args, **kwargs):
        calls.append((a.shape[0], b.shape[1], a.shape[1], threads()))
        return matmul(a, b, *args, **kwargs)
    monkeypatch.setattr(sift, "_matmul", spy)
    return calls


@pytest.mark.parametrize("n1, n2", [(500, 500), (37, 480), (3, 2), (1000, 300)])
def test_a_small_product_is_one_call_on_one_blas_thread(n1, n2, monkeypatch):
    a, b = _unit(n1, 1), _unit(n2, 2)
    state = stand_in_limit(monkeypatch)
    calls = _spy(monkeypatch, lambda: state["limit"])
    out = sift.similarities(a, b)
    assert calls == [(n1, n2, 128, 1)] and state["limit"] is None  # limited, then restored
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, a @ b.T, rtol=0, atol=1e-6)


def test_the_limit_is_the_real_blas_thread_count(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    calls = _spy(monkeypatch, limited_blas_threads)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        outside = limited_blas_threads()
        if not outside or max(outside) < 2:
            pytest.skip(f"no BLAS with 2 threads to limit here: {outside}")
        sift.similarities(_unit(500, 1), _unit(500, 2))
        assert calls == [(500, 500, 128, [1] * len(outside))] and limited_blas_threads() == outside


@pytest.mark.parametrize("n1, n2", [(500, 500), (37, 480), (3, 2), (1000, 300)])
def test_without_threadpoolctl_a_small_product_is_computed_below_the_blas_threading_threshold(
        n1, n2, monkeypatch):
    monkeypatch.setattr(blas_threads, "_blas", False)  # not installed / cannot list the BLAS
    a, b = _unit(n1, 1), _unit(n2, 2)
    calls = _spy(monkeypatch)
    out = sift.similarities(a, b)
    assert calls and all(m * n * k <= sift.BLAS_THREADED_ABOVE for m, n, k, _ in calls)
    assert sum(m for m, _, _, _ in calls) == n1 and out.dtype == np.float32
    np.testing.assert_allclose(out, a @ b.T, rtol=0, atol=1e-6)


@pytest.mark.parametrize("threadpoolctl", [True, False])
def test_a_large_product_stays_one_call_on_blas_threads(threadpoolctl, monkeypatch):
    """The localizer's 4000 features: the threads are worth waking (one call, no limit)."""
    state = stand_in_limit(monkeypatch) if threadpoolctl else {"limit": None}
    if not threadpoolctl:
        monkeypatch.setattr(blas_threads, "_blas", False)
    calls = _spy(monkeypatch, lambda: state["limit"])
    sift.similarities(_unit(4000, 1), _unit(200, 2))
    assert calls == [(4000, 200, 128, None)]


def _records(n: int = 5):
    cam = default_intrinsics(128, 96)
    return [KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns, str(i))
            for i, f in enumerate(render_frames(40, cam, seed=0, indices=range(n)))]


def test_the_matches_and_the_map_check_are_those_of_one_product(monkeypatch):
    """128x96 synthetic keyframes (ORB falls short there: SIFT matched): the same matches pair
    by pair, and the same report, on one BLAS thread (with threadpoolctl) and in row blocks
    (without), as with every product one threaded BLAS call (as before)."""
    records = _records()
    feats = [sift.extract_sift(r.rgb, 500, contrast_threshold=0.02) for r in records]
    cfg = Config().map_check

    def run():
        return ([sift.match_descriptors(a.desc, b.desc, 0.8) for a, b in zip(feats, feats[1:])],
                check_keyframes(records, cfg))
    results = {"default": run()}
    with monkeypatch.context() as m:
        m.setattr(blas_threads, "_blas", False)
        results["rows"] = run()
    monkeypatch.setattr(sift, "ONE_CORE_PRODUCT", 0)
    one, old = run()
    assert sum(len(i) for i, _ in one) > 30 and any(p.matches for p in old.pairs)
    for matches, new in results.values():
        for (i1, j1), (i2, j2) in zip(matches, one):
            np.testing.assert_array_equal(i1, i2)
            np.testing.assert_array_equal(j1, j2)
        assert (new.verdict, new.cause) == (old.verdict, old.cause)
        assert [(p.a, p.b, p.matches, p.reproj_px, p.depth_residual, p.ok) for p in new.pairs] == [
            (p.a, p.b, p.matches, p.reproj_px, p.depth_residual, p.ok) for p in old.pairs]
