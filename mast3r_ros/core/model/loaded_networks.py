"""The networks loaded in a `one_checkpoint_load` block, so that several engines of one
checkpoint in one process (the demo's map build and localizer) read the file once."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Dict, Iterator, Optional, Tuple

import torch

from . import checkpoint as _checkpoint
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
    key = None
    if _loaded_networks is not None:
        try:
            st = os.stat(path)
            key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, device)
        except OSError:  # load_checkpoint says what is wrong with it
            key = None
        if key is not None and key in _loaded_networks:
            model, info = _loaded_networks[key]
            log.info("reusing the %s checkpoint %s loaded earlier in this run (id %s)",
                     info.spec.arch, path, info.identity)
            return model, info
    # looked up at call time: a test's patch of checkpoint.load_checkpoint applies during
    # the test only, whichever module imported this one first
    model, info = _checkpoint.load_checkpoint(path, device="cpu")
    if key is not None and _loaded_networks is not None:
        _loaded_networks[key] = (model, info)
    return model, info
