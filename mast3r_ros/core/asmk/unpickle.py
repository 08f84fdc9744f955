"""Safe unpickling of ASMK codebooks: a restricted unpickler that resolves numpy's
ndarray-reconstruction globals (numpy 1.x and 2.x names) and refuses anything else.

`safe_unpickle` turns a refusal or a malformed stream into `CheckpointError`; `load_codebook`
(`codebook`) reads the codebook ``.pkl`` with it.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, BinaryIO, Union

import numpy as np

from ..errors import CheckpointError


class _Refused(pickle.UnpicklingError):
    """The unpickler's refusal of what a pickle names (a global, an encoding): the file holds
    objects beyond plain arrays. Any other unpickling error is a stream cut short or corrupt."""


def _numpy_global(module: str, name: str):
    """The numpy function a pickle names, from whichever numpy (1.x or 2.x) is installed."""
    import importlib

    for mod in (module.replace("numpy.core.", "numpy._core."),
                module.replace("numpy._core.", "numpy.core.")):
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise _Refused(f"numpy has no {module}.{name}")


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol <= 2 pickles spell bytes as _codecs.encode(str, 'latin1'); nothing else passes.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise _Refused("_codecs.encode is only allowed with 'latin1'")
    return text.encode("latin1")


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Resolves numpy's ndarray reconstruction globals (numpy 1.x and 2.x names) only."""

    _NUMPY = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
              ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module, name):
        if (module, name) in self._NUMPY:
            return _numpy_global(module, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        raise _Refused(
            f"global '{module}.{name}' is forbidden (only plain numpy arrays may be unpickled)")


def safe_unpickle(data: Union[bytes, BinaryIO], where: str) -> Any:
    """Unpickle ``data`` (bytes or a binary file) resolving numpy arrays only.

    Raises CheckpointError for any other global (refused: the file holds other objects) and for
    a malformed stream (truncated or corrupt: a cut-off download is not called crafted). Arrays
    keep the unpickled bytes as their buffer (read-only, no second copy)."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return _ArrayOnlyUnpickler(stream).load()
    except _Refused as e:
        raise CheckpointError(
            f"{where}: refused to unpickle: {e}. An ASMK codebook holds a dict with one float32 "
            "array; this file holds other objects (it may have been crafted to run code). Use "
            "the codebook from NAVER's download page") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError) as e:
        raise CheckpointError(f"{where}: not a readable pickle ({type(e).__name__}: {e}); "
                              "the file is truncated or corrupt: download it again (NAVER's "
                              "download page)") from None
