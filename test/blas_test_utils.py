"""Stand-ins and probes for `mast3r_ros.core.blas_threads` (its tests and the SIFT matcher's)."""

from __future__ import annotations

from typing import List


def stand_in_limit(monkeypatch) -> dict:
    """Replace threadpoolctl's controller of the loaded BLAS by a stand-in (with or without
    threadpoolctl installed): ``state["limit"]`` is the thread limit in force, None outside
    every `single_blas_thread` block."""
    from mast3r_ros.core import blas_threads

    state = {"limit": None}

    class Limiter:
        def restore_original_limits(self):
            state["limit"] = None

    class Blas:
        def limit(self, limits):
            state["limit"] = limits
            return Limiter()
    monkeypatch.setattr(blas_threads, "_blas", Blas())
    return state


def limited_blas_threads() -> List[int]:
    """The thread counts of the BLAS libraries `blas_threads` limits: those loaded when it
    first listed them (numpy's always is; one another package loads later -- OpenCV's own
    OpenBLAS, when a test imported cv2 after that -- is not numpy's and is left alone).
    Needs threadpoolctl."""
    from threadpoolctl import threadpool_info

    from mast3r_ros.core import blas_threads

    assert blas_threads.can_limit()
    known = {lib["filepath"] for lib in blas_threads._controller().info()}
    return [lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas" and lib["filepath"] in known]
