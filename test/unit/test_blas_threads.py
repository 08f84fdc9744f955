"""Retrieval's exact search runs its product on one BLAS thread (`core.blas_threads`): OpenBLAS's
worker threads spin on a loaded CPU. Checked by looking at the BLAS thread count inside the
product (a spy on the descriptor array), not by timing."""

import logging
import sys
import subprocess

import numpy as np
import pytest

from blas_test_utils import limited_blas_threads, stand_in_limit

from mast3r_ros.core import blas_threads
from mast3r_ros.core.retrieval import rank_by_similarity
from mast3r_ros.core.retrieval_index import IndexParams, RetrievalIndex


class _Spy(np.ndarray):
    """Descriptor rows that call ``on_matmul()`` when multiplied (``database @ query``)."""

    on_matmul = staticmethod(lambda: None)

    def __matmul__(self, other):
        type(self).on_matmul()
        return np.asarray(self) @ other


def _index(k: int = 2000, d: int = 64):
    rng = np.random.default_rng(0)
    db = rng.standard_normal((k, d)).astype(np.float32)
    db /= np.linalg.norm(db, axis=1, keepdims=True)
    idx = RetrievalIndex.build(db, IndexParams(approx_threshold=10 ** 6))
    assert idx.kind == "exact"
    idx.descs = idx.descs.view(_Spy)
    return idx, db, db[7] + 0.1 * rng.standard_normal(d).astype(np.float32)


def test_exact_search_multiplies_on_one_blas_thread_and_restores_the_count(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    idx, db, q = _index()
    seen = []
    monkeypatch.setattr(_Spy, "on_matmul",
                        staticmethod(lambda: seen.append(limited_blas_threads())))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        # (a single-threaded BLAS beside numpy's stays at 1: OpenCV 4.5's wheels bundle one)
        outside = limited_blas_threads()
        if not outside or max(outside) < 2:
            pytest.skip(f"no BLAS with 2 threads to limit here: {outside}")
        want_sims = db @ q  # on 2 threads
        want = rank_by_similarity(q, db, 10)
        got = idx.search(q, 10)
        assert seen == [[1] * len(outside)]
        assert limited_blas_threads() == outside  # restored
        with pytest.raises(RuntimeError), blas_threads.single_blas_thread():
            raise RuntimeError("inside")
        assert limited_blas_threads() == outside  # restored when the block raised too
        with blas_threads.single_blas_thread():
            with blas_threads.single_blas_thread():  # overlapping blocks share the limit
                pass
            assert max(limited_blas_threads()) == 1  # the inner end did not restore it
            one = db @ q
        assert limited_blas_threads() == outside
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(one, want_sims, rtol=0, atol=1e-6)


def test_exact_search_product_runs_inside_the_limit(monkeypatch):
    """Without threadpoolctl too: a stand-in controller says when the limit is on."""
    state = stand_in_limit(monkeypatch)
    calls = []
    monkeypatch.setattr(_Spy, "on_matmul",
                        staticmethod(lambda: calls.append(state["limit"])))
    idx, db, q = _index(300)
    np.testing.assert_array_equal(idx.search(q, 5), rank_by_similarity(q, db, 5))
    assert calls == [1] and state["limit"] is None and blas_threads.can_limit()


def test_without_threadpoolctl_search_is_unchanged_and_says_so_once(monkeypatch, caplog,
                                                                   tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # this environment never said it
    monkeypatch.setattr(blas_threads, "_blas", None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    idx, db, q = _index(300)
    with caplog.at_level(logging.INFO, logger="mast3r_ros.core.blas_threads"):
        for _ in range(2):
            np.testing.assert_array_equal(idx.search(q, 5), rank_by_similarity(q, db, 5))
    notes = [r.getMessage() for r in caplog.records if "threadpoolctl" in r.getMessage()]
    assert len(notes) == 1 and "OPENBLAS_NUM_THREADS=1" in notes[0]
    assert blas_threads._blas is False and not blas_threads.can_limit()


def test_without_threadpoolctl_the_hint_is_said_once_for_the_environment(monkeypatch, caplog,
                                                                        tmp_path):
    """Every command printed the INFO hint; now the first run in a Python environment says it,
    later runs (a new process: ``_blas`` unset) at DEBUG only."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    levels = []
    for _ in range(3):  # three commands
        monkeypatch.setattr(blas_threads, "_blas", None)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="mast3r_ros.core.blas_threads"):
            assert not blas_threads.can_limit()
        levels.append([r.levelno for r in caplog.records if "threadpoolctl" in r.getMessage()])
    assert levels == [[logging.INFO], [logging.DEBUG], [logging.DEBUG]]
    # another environment (another venv) is told again
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "other_venv"))
    monkeypatch.setattr(blas_threads, "_blas", None)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mast3r_ros.core.blas_threads"):
        blas_threads.can_limit()
    assert "said once for this Python environment" in caplog.text


def test_without_threadpoolctl_a_run_hiding_info_leaves_the_hint_for_the_next(monkeypatch,
                                                                              caplog, tmp_path):
    """The once-per-environment marker was written by a first run whose log hid INFO
    (``--log-level warning``): the hint was then never shown, at any level. It is marked
    only where the INFO line is logged."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    for level in (logging.WARNING, logging.WARNING, logging.INFO, logging.INFO):
        monkeypatch.setattr(blas_threads, "_blas", None)  # a new command
        caplog.clear()
        with caplog.at_level(level, logger="mast3r_ros.core.blas_threads"):
            assert not blas_threads.can_limit()
        said = [r for r in caplog.records if "threadpoolctl is not installed" in r.getMessage()]
        if level == logging.INFO:
            break
    assert [r.levelno for r in said] == [logging.INFO], caplog.text
    assert "said once for this Python environment" in said[0].getMessage()


def test_without_threadpoolctl_openblas_num_threads_1_is_not_told_to_set_it(monkeypatch,
                                                                             caplog):
    """The INFO line's remedy is OPENBLAS_NUM_THREADS=1; with it set, the line said to set it."""
    monkeypatch.setattr(blas_threads, "_blas", None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    with caplog.at_level(logging.INFO, logger="mast3r_ros.core.blas_threads"):
        with blas_threads.single_blas_thread():
            pass
    assert not [r for r in caplog.records if "threadpoolctl" in r.getMessage()]
    assert blas_threads._blas is False


def test_pnp_refinement_and_covariance_run_inside_the_limit(monkeypatch):
    from mast3r_ros.core.pnp import solve
    from mast3r_ros.core.types import CameraIntrinsics

    state, seen = stand_in_limit(monkeypatch), []

    def spy(name):
        real = getattr(solve, name)

        def wrapped(*a, **kw):
            seen.append((name, state["limit"]))
            return real(*a, **kw)
        monkeypatch.setattr(solve, name, wrapped)

    spy("_refine_inliers")
    spy("_covariance_f")
    cam = CameraIntrinsics(640, 480, [[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    rng = np.random.default_rng(3)
    px = rng.uniform([0, 0], [639, 479], (300, 2))
    z = rng.uniform(1.0, 5.0, 300)
    X = np.stack([(px[:, 0] - 319.5) / 525.0 * z, (px[:, 1] - 239.5) / 525.0 * z, z], 1)
    res = solve.solve_pnp(X, px, cam, backend="opencv", reproj_error_px=2.0)
    assert res.success and np.abs(res.map_from_cam - np.eye(4)).max() < 1e-6
    assert seen == [("_refine_inliers", 1), ("_covariance_f", 1)]
    assert state["limit"] is None


def test_a_threadpoolctl_that_cannot_list_the_libraries_leaves_search_unlimited(monkeypatch,
                                                                                 caplog):
    import types

    def refuse():
        raise OSError("cannot read a loaded library")

    monkeypatch.setattr(blas_threads, "_blas", None)
    monkeypatch.setitem(sys.modules, "threadpoolctl",
                        types.SimpleNamespace(ThreadpoolController=refuse))
    idx, db, q = _index(300)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.blas_threads"):
        np.testing.assert_array_equal(idx.search(q, 5), rank_by_similarity(q, db, 5))
    assert blas_threads._blas is False
    assert any("OSError: cannot read a loaded library" in r.getMessage() for r in caplog.records)


def test_a_first_call_before_numpy_is_imported_still_finds_numpys_blas():
    """The libraries are listed once, at the first call: listed before numpy was imported (this
    module alone does not import it) the list was empty and nothing was ever limited."""
    pytest.importorskip("threadpoolctl")
    code = ("import sys; from mast3r_ros.core import blas_threads; "
            "assert 'numpy' not in sys.modules; sys.exit(0 if blas_threads.can_limit() else 3)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-500:]


@pytest.mark.parametrize("fails", ["limit", "restore"])
def test_a_threadpoolctl_that_raises_never_fails_the_product(fails, monkeypatch, caplog):
    """Raises nothing of its own: threadpoolctl failing to set or restore the count (a library
    it cannot drive) is said once and the products run unlimited from then on, retrieval and
    PnP answering as before."""
    calls = []

    class Limiter:
        def restore_original_limits(self):
            calls.append("restore")
            if fails == "restore":
                raise OSError("cannot restore")

    class Blas:
        def limit(self, limits):
            calls.append("limit")
            if fails == "limit":
                raise OSError("cannot set")
            return Limiter()
    monkeypatch.setattr(blas_threads, "_blas", Blas())
    idx, db, q = _index()
    want = rank_by_similarity(q, db, 5)
    with caplog.at_level(logging.WARNING, logger=blas_threads.__name__):
        for _ in range(2):
            np.testing.assert_array_equal(idx.search(q, 5), want)
    assert calls == (["limit"] if fails == "limit" else ["limit", "restore"])
    assert len([r for r in caplog.records if "threadpoolctl could not" in r.getMessage()]) == 1
    assert blas_threads._blas is False and blas_threads._active == 0


def test_a_cache_that_cannot_be_written_says_the_hint_every_run(monkeypatch, tmp_path):
    """`first_in_environment` never raises: a cache it cannot write (here a file where the
    folder goes) says the hint on every run, as before."""
    from mast3r_ros.core.said_once import first_in_environment

    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert first_in_environment("threadpoolctl-hint") and first_in_environment("threadpoolctl-hint")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ok"))
    assert first_in_environment("x") and not first_in_environment("x")
