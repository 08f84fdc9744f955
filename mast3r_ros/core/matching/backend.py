"""Which nearest-neighbour search serves a walk: the torch search or the fused Triton kernel.

`resolve_nn_backend` turns ``nn_backend`` ("auto", "torch", "triton") into the search used on a
device. The Triton kernel (`core.nn_triton`, optional) is imported lazily: `_triton_error` says
why it does not import, and "auto" takes it on a CUDA device only after it passed a one-time
self-test there (`_triton_self_test`, `_auto_uses_triton`), so a Triton that imports but cannot
compile or run the kernels costs one warning and falls back to the torch search.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Optional

import torch

from ..errors import ConfigError

_LOG = logging.getLogger(__name__)

NN_BACKENDS = ("auto", "torch", "triton")


@functools.lru_cache(maxsize=1)
def _triton_error() -> Optional[str]:
    """None when `core.nn_triton` imports (Triton >= 3.0 installed), else why not."""
    try:
        from .. import nn_triton  # noqa: F401
    except Exception as e:  # noqa: BLE001  ImportError, or a broken Triton install
        return f"{type(e).__name__}: {e}"
    return None


def _triton_self_test(device: str) -> Optional[str]:
    """None when the fused search compiles and runs on ``device`` and gives the torch search's
    indices on a small problem whose products are exact (multiples of 1/8, a tie included);
    else why not."""
    try:
        from ..nn_triton import nearest

        g = torch.Generator().manual_seed(0)
        q = torch.randint(-8, 9, (40, 24), generator=g).float().div_(8)
        t = torch.randint(-8, 9, (300, 24), generator=g).float().div_(8)
        t[7] = t[3]  # a tie: the first index wins on both paths
        q[5] = t[3]
        want = (q @ t.T).argmax(dim=1)  # exact products; argmax returns the first maximum
        got = nearest(q.to(device), t.to(device)).cpu()
        if not torch.equal(got, want):
            return (f"its indices differ from the torch search's on the self-test "
                    f"({int((got != want).sum())} of {len(want)})")
    except Exception as e:  # noqa: BLE001  compile failures take many Triton-specific forms
        lines = str(e).strip().splitlines()
        return f"{type(e).__name__}: {lines[0][:200] if lines else ''}"
    return None


# `_triton_self_test`'s answer per CUDA device ("cuda:0", ...), kept for the process
_SELF_TEST: dict = {}


def _auto_uses_triton(device: torch.device) -> bool:
    """"auto" on ``device``: a CUDA device where Triton >= 3.0 imports and the kernels passed
    `_triton_self_test`, run once per device at the first resolution there (eagerly: the
    warm-up resolves before any CUDA-graph capture). A Triton that imports but cannot compile
    or run the kernels (a version or GPU they were never run on) then costs one warning and the
    torch search instead of a failed first frame."""
    if device.type != "cuda" or _triton_error() is not None:
        return False
    key = str(device if device.index is not None
              else torch.device("cuda", torch.cuda.current_device()))
    if key not in _SELF_TEST:
        if torch.cuda.is_current_stream_capturing():
            return True  # never launch a test inside a capture
        _SELF_TEST[key] = err = _triton_self_test(key)
        if err is not None:
            _LOG.warning("the fused Triton search cannot run on %s (%s): matching uses the "
                         "torch search (same matches, slower)", key, err)
    return _SELF_TEST[key] is None


def resolve_nn_backend(nn_backend: str, device: torch.device, dist: str = "dot",
                       dtype: torch.dtype = torch.float32) -> str:
    """The nearest-neighbour search that serves a walk: "torch" or "triton".

    ``nn_backend``: "auto" = the fused Triton kernel (`core.nn_triton`) on a CUDA device when
    Triton >= 3.0 imports and the kernel passes a one-time self-test on that device
    (`_auto_uses_triton`), the tiled torch search otherwise; "torch"; "triton" = the kernel,
    which also runs on CPU tensors under ``TRITON_INTERPRET=1`` (tests). The kernel serves
    ``dist="dot"`` on float32 (and half-precision) maps; "l2" and float64 always use the torch
    search. ``device`` a `torch.device` or its name ("cuda:0").

    Raises:
        ConfigError: an unknown name, or "triton" where Triton does not import or the device is
            neither CUDA nor the Triton interpreter.
    """
    if nn_backend not in NN_BACKENDS:
        raise ConfigError(f"nn_backend must be one of {NN_BACKENDS}, got {nn_backend!r}")
    device = torch.device(device)
    if nn_backend == "torch" or dist != "dot" or dtype == torch.float64:
        return "torch"
    usable = device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"
    if nn_backend == "auto":
        return "triton" if _auto_uses_triton(device) else "torch"
    err = _triton_error()
    if err is not None:
        raise ConfigError(f"nn_backend 'triton' needs Triton >= 3.0, which does not import here "
                          f"({err}); install a torch that brings it, or use 'auto'/'torch'")
    if not usable:
        raise ConfigError(f"nn_backend 'triton' runs on CUDA tensors, got maps on {device}; "
                          "use 'auto' or 'torch'")
    return "triton"
