"""The networks loaded in a `one_checkpoint_load` block, so that several engines of one
checkpoint in one process (the demo's map build and localizer) read the file once."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Dict, Iterator, Optional, Tuple

import torch

from . import checkpoint as _checkpoint
from . import up_front
from .checkpoint import CheckpointInfo
from .network import AsymmetricMASt3R

log = logging.getLogger("mast3r_ros.core.model.engine")  # the engine's lines, as before

# The networks `one_checkpoint_load` keeps for its block: (path, size, mtime, device) -> the
# loaded (model, info); None outside such a block.
_loaded_networks: Optional[Dict[tuple, Tuple[AsymmetricMASt3R, CheckpointInfo]]] = None


@contextlib.contextmanager
def one_checkpoint_load() -> Iterator[None]:
    """Within the block, `Mast3rEngine.from_checkpoint` (and so `from_config` with backend
    'torch') reads each checkpoint once: a later engine of the same file (same resolved path,
    size and modification time) on the same device gets the network loaded first, with no
    second read (the official file is 2.7 GB) and no second copy in host memory. Each engine
    is still built for its own precision, compile mode and warm-up shapes; an fp32 engine
    moves the network to its device in place, which is why the device is part of the key.
    The networks are dropped when the block ends. For one process doing several steps with the
    same checkpoint (the demo: build the map, then localize); nested blocks share the outer
    one's networks. Not thread-safe: enter it on the thread that builds the engines."""
    global _loaded_networks
    if _loaded_networks is not None:  # nested: the outer block owns the networks
        yield
        return
    _loaded_networks = {}
    try:
        yield
    finally:
        cuda = any(k[3].type == "cuda" for k in _loaded_networks)
        _loaded_networks = None
        if cuda:
            torch.cuda.empty_cache()


def load_network(path: str, device: torch.device) -> Tuple[AsymmetricMASt3R, CheckpointInfo]:
    """``load_checkpoint(path)`` on the host, or the network loaded earlier in the current
    `one_checkpoint_load` block for the same file and ``device`` (`torch.device`: the engine's;
    a network loaded now is on the host, a reused one where the earlier engine left it: on
    ``device`` after an fp32 engine, which moves it in place). Raises what
    `checkpoint.load_checkpoint` raises (`CheckpointError`)."""
    key = _file_key(path, device)
    if key is not None and _loaded_networks is not None and key in _loaded_networks:
        model, info = _loaded_networks[key]
        log.info("reusing the %s checkpoint %s loaded earlier in this run (id %s)",
                 info.spec.arch, path, info.identity)
        return model, info
    loaded = up_front.take(key)  # the command's checks loaded it before reading the recording
    if loaded is not None:
        model, info = loaded
    else:
        # looked up at call time: a test's patch of checkpoint.load_checkpoint applies during
        # the test only, whichever module imported this one first
        model, info = _checkpoint.load_checkpoint(path, device="cpu")
    if key is not None and _loaded_networks is not None:
        _loaded_networks[key] = (model, info)
    return model, info


def _file_key(path: str, device: torch.device) -> Optional[tuple]:
    """(real path, size, mtime_ns, device): the same file version on the same device; None when
    ``path`` cannot be stat'ed (`load_checkpoint` says what is wrong with it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, device)


def load_up_front(path: str, device: torch.device) -> CheckpointInfo:
    """Load ``path``'s network now, for a command that reads a recording (minutes for a bag)
    before it builds its engine: a checkpoint that is no model, or whose weights do not fit
    the architecture it declares, is refused before the recording is read, not after. Inside
    an `up_front.networks_up_front` block the network is handed to the command's first engine
    of the same file on ``device`` (`torch.device`, the engine's), so the file is read once.
    Returns the checkpoint's `CheckpointInfo`; raises what `load_network` raises."""
    model, info = load_network(path, device)
    up_front.keep(_file_key(path, device), (model, info))
    return info


def take_up_front(path: str, device: torch.device) -> Optional[Tuple[AsymmetricMASt3R,
                                                                     CheckpointInfo]]:
    """The (model, info) `load_up_front` kept for ``path`` on ``device`` in the current
    `up_front.networks_up_front` block, given once; None when none is (load it then)."""
    return up_front.take(_file_key(path, device))


def configured_up_front(model_cfg: Any, device_here: bool = True) -> Optional[CheckpointInfo]:
    """`load_up_front` of a `ModelConfig`'s checkpoint (``~``, variables expanded) on its
    device, for backend 'torch'; for backend 'tensorrt' TensorRT and CUDA (imports only, where
    ``device_here``), then the checkpoint (`tensorrt_up_front`); None (nothing read) for an
    empty checkpoint. ``device_here`` False (the encoding runs on other machines): a device
    this machine lacks loads it on the host. Raises `ConfigError` for a device this machine
    lacks (``device_here``), TensorRT or CUDA missing or a TensorRT engine cache that cannot be
    used, `CheckpointError` as `load_checkpoint`."""
    if not model_cfg.checkpoint:
        return None
    backend = getattr(model_cfg, "backend", "torch")
    if backend == "tensorrt":
        return tensorrt_up_front(model_cfg, device_here)
    if backend != "torch":
        return None  # the engine names the backends it knows
    from ..devices import resolve_device
    from ..errors import ConfigError

    try:
        device = resolve_device(model_cfg.device)
    except ConfigError:
        if device_here:
            raise
        device = torch.device("cpu")
    return load_up_front(_checkpoint.resolve_checkpoint(model_cfg.checkpoint), device)


def tensorrt_up_front(model_cfg: Any, device_here: bool = True) -> CheckpointInfo:
    """Backend 'tensorrt''s checks before the recording is read. First, when the engines are
    built here (``device_here``), what it needs of this machine, in the engine build's words
    (`tensorrt_runtime.require_tensorrt_runtime`: TensorRT importable, a CUDA device, the FP16
    builder flag; imports only). Then, when the engine cache (``engine_cache``, else
    `tensorrt_backend.default_cache_dir`) has seen this very file (`known_checkpoint`: loaded
    there before), its recorded info, nothing read (a start whose engines are cached reads no
    checkpoint). Otherwise the ONNX exporter's package (`export.require_onnx`, with
    ``device_here``), the cache folder can be made and written (`require_cache_dir`), then the
    checkpoint is loaded on the host, as the engine build loads it: a file that is no model, or
    weights of another architecture, is refused now, not after the recording was read, and the
    engine build takes this network (the file is read once). Raises `ConfigError` (TensorRT,
    CUDA, ONNX, the cache), `CheckpointError` (the file)."""
    from ..path_expand import expand_path
    from .tensorrt_backend import (default_cache_dir, exporter_for, known_checkpoint,
                                   require_cache_dir, require_onnx)
    from .tensorrt_runtime import require_tensorrt_runtime

    trt = require_tensorrt_runtime(model_cfg.device)[0] if device_here else None
    path = _checkpoint.resolve_checkpoint(model_cfg.checkpoint)
    cache = expand_path(getattr(model_cfg, "engine_cache", "")) or default_cache_dir()
    info = known_checkpoint(cache, path)
    if info is not None:
        return info
    if trt is not None:  # refused here as the engine build would, before the file is read
        require_onnx(exporter_for(getattr(trt, "__version__", "")))
    require_cache_dir(cache)
    return load_up_front(path, torch.device("cpu"))
