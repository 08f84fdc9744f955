"""The MASt3R / DUSt3R network, checkpoint loading, preprocessing and the inference engine.

The main names are importable from here (``from mast3r_ros.core.model import Mast3rEngine``)
as well as from their modules (``core.model.engine``, the path docs/pair_and_retrieve.md
uses). They are loaded on first use (PEP 562), so importing one submodule does not import the
engine and its dependencies.
"""

import importlib
from typing import Any, List

# name -> the submodule that defines it
_LAZY = {
    "Mast3rEngine": "engine",
    "AsymmetricMASt3R": "network",
    "ModelSpec": "network",
    "CheckpointInfo": "checkpoint",
    "load_checkpoint": "checkpoint",
    "resolve_checkpoint": "checkpoint",
    "export_onnx": "export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
