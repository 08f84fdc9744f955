"""One BLAS thread around a small product on the live path (`single_blas_thread`).

numpy hands a matrix product to its BLAS (OpenBLAS in numpy's wheels, the system's BLAS on a
ROS machine), which splits one of even a few hundred thousand multiply-adds over all cores. On
a loaded CPU -- a robot's always is: ROS, drivers, Nav2 -- its worker threads wait for cores,
spinning: retrieval's exact search over 2 000 keyframes took 15.6 ms a query instead of 0.06 ms
on one thread, PnP covariance's (24, n) x (n, 8) product 20-50 ms instead of 0.6 ms at 2*10^4
inliers (docs/bench/retrieval_threads_cpu_2026-12-06/). Such products are memory-bound or
small, so one thread loses little when the machine is idle. Used around retrieval's exact
search (`retrieval_index`), PnP's refinement and covariance (`pnp.solve`) and the SIFT matcher's
small descriptor products (`matchers.sift.similarities`, the map check's hot spot; without
threadpoolctl it computes them in row blocks below OpenBLAS's threading threshold instead).

The limit is threadpoolctl's (pip extra ``threadpoolctl``; apt ``python3-threadpoolctl``),
which finds the BLAS that numpy loaded (OpenBLAS, MKL, BLIS; OpenBLAS 0.3.17 of numpy 1.21's
wheels included) and sets its thread count for the ``with`` block only. Without threadpoolctl
the block runs as before (BLAS's own thread count; ``OPENBLAS_NUM_THREADS=1`` in the
environment has the same effect for the whole process), and one INFO line says so, once for
the Python environment (`said_once.first_in_environment`; a run whose log hides INFO does not
count; a DEBUG line on later runs and when ``OPENBLAS_NUM_THREADS=1`` is set).

The thread count is the process's, not the calling thread's: blocks that overlap (in several
threads, or nested) share one limit, set when the first begins and undone when the last ends
(a count under a lock), so none restores another's count early and none waits for another;
another thread's BLAS call that runs meanwhile gets one thread too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any, Iterator

from .said_once import first_in_environment

log = logging.getLogger(__name__)

_lock = threading.Lock()
_blas: Any = None  # threadpoolctl's controller of the loaded BLAS; False without threadpoolctl
_active = 0  # blocks inside the limit now
_limiter: Any = None  # threadpoolctl's limiter of the first of them (holds the counts to restore)


def _controller() -> Any:
    """The BLAS libraries loaded now (found once: the search reads every loaded library, ~1 ms),
    or False when threadpoolctl is not installed or cannot list them (one log line says so)."""
    global _blas
    if _blas is None:
        # numpy's BLAS must be loaded before the libraries are listed, once: a list made
        # before it (an empty one) would never limit anything. One loaded later by another
        # package (OpenCV's own OpenBLAS) is not numpy's and stays unlisted.
        import numpy  # noqa: F401
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            # OPENBLAS_NUM_THREADS=1, the line's own remedy, already holds BLAS to one thread:
            # telling the user to set it again would only mislead
            one = os.environ.get("OPENBLAS_NUM_THREADS", "").strip() == "1"
            # a hint, not a fault: said at INFO once for this Python environment (every
            # command printed it), at DEBUG after; a run whose log hides INFO (--log-level
            # warning) leaves it unsaid, so the next run that shows INFO says it
            said = (not one and log.isEnabledFor(logging.INFO)
                    and first_in_environment("threadpoolctl-hint"))
            log.log(logging.INFO if said else logging.DEBUG,
                    "threadpoolctl is not installed: retrieval's exact search and PnP run "
                    "their numpy products on BLAS's own thread count, whose worker threads "
                    "spin on a loaded CPU (pip install threadpoolctl, apt "
                    "python3-threadpoolctl; or set OPENBLAS_NUM_THREADS=1)%s",
                    " -- OPENBLAS_NUM_THREADS=1 is set: one thread" if one else
                    " (said once for this Python environment)" if said else "")
            _blas = False
        else:
            try:
                _blas = ThreadpoolController().select(user_api="blas")
            except Exception as e:  # noqa: BLE001 -- a library it cannot read: run unlimited
                log.warning("threadpoolctl could not list the loaded BLAS libraries (%s: %s): "
                            "numpy's products keep BLAS's own thread count (set "
                            "OPENBLAS_NUM_THREADS=1 on a loaded machine)", type(e).__name__, e)
                _blas = False
    return _blas


def can_limit() -> bool:
    """Whether `single_blas_thread` limits anything: threadpoolctl is installed and listed the
    loaded BLAS libraries (False: it runs its block unchanged; a caller may fall back)."""
    return bool(_controller())


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the ``with`` block's numpy products on one BLAS thread (see the module docstring).

    Leaves the BLAS thread count as it found it, also when the block raises. Raises nothing of
    its own; without threadpoolctl it changes nothing.
    """
    global _active, _limiter, _blas
    blas = _controller()
    if not blas:
        yield
        return
    with _lock:
        if not _active:
            try:
                _limiter = blas.limit(limits=1)
            except Exception as e:  # noqa: BLE001 -- the product must run: unlimited, said once
                log.warning("threadpoolctl could not set the BLAS thread count (%s: %s): "
                            "numpy's products keep BLAS's own thread count from now on",
                            type(e).__name__, e)
                _blas = False
                blas = None
        if blas:
            _active += 1
    if not blas:
        yield
        return
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if not _active:
                limiter, _limiter = _limiter, None
                try:
                    limiter.restore_original_limits()
                except Exception as e:  # noqa: BLE001 -- never out of a product's caller
                    log.warning("threadpoolctl could not restore the BLAS thread count (%s: "
                                "%s): it may stay at one thread; numpy's products are not "
                                "limited from now on", type(e).__name__, e)
                    _blas = False
