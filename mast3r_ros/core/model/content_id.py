"""Full-content identity of a network's weights (`content_identity`): what keys the TensorRT
engine cache and names the checkpoint in an ONNX export's manifest.

`checkpoint.fingerprint` (`CheckpointInfo.identity`, the id the load log shows and keyframe
maps name their cached encodings by) hashes ~1k strided values per tensor: cheap at every load,
but a sparse fine-tune that changes only unsampled values keeps it, and an engine built from the
earlier weights would be reused. This hash reads every byte. Measured on one core of a shared
2-core EPYC: 1.6 s for 300 M float32 parameters (sha256; blake2b took 2.4 s), so ~3.5 s for
ViT-L's 689 M, spread over threads here (hashlib releases the GIL). It is therefore
remembered for a checkpoint file by `tensorrt_backend.remember_checkpoint` (keyed by path,
size, mtime and inode) and hashed once per file version: where engines or an export are built,
and by a torch engine when first asked (`engine.Mast3rEngine.content_id`, `recorded_content_id`;
an fp16/bf16 engine at load, from the float32 network it then drops, where it can record it):
keyframe maps record it beside the sampled id with their cached encodings, and a map whose
encodings were computed with other weights must not be used with them
(`keyframes.encodings.same_weights`); a load that compares none (a map without it, ``pair``)
hashes nothing (but that first fp16/bf16 one), even where the record cannot be written (a
read-only engine cache).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Optional

import torch

# bumped when what is hashed changes (an id of another scheme must never equal this one's)
SCHEME = "mast3r_ros-content-v1"


def _tensor_digest(t: torch.Tensor) -> bytes:
    """sha256 of a tensor's raw bytes (C order, this machine's byte order)."""
    raw = t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy()
    return hashlib.sha256(memoryview(raw)).digest()


def content_identity(sd: Mapping[str, torch.Tensor], text: str,
                     workers: Optional[int] = None) -> str:
    """32 hex chars: sha256 over `SCHEME`, ``text`` (the model string) and, in sorted key order,
    each tensor's name, dtype, shape and the sha256 of its bytes. Any change of a value, a
    dtype, a shape, a name or the architecture string changes it. ``sd``: name -> tensor on any
    device (a CUDA tensor is copied to the host one at a time); ``workers``: hashing threads
    (default: the CPU count, at most 8)."""
    keys = sorted(sd)
    n = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, n)) as pool:
        digests = list(pool.map(lambda k: _tensor_digest(sd[k]), keys))
    h = hashlib.sha256(f"{SCHEME}\n{text}\n".encode())
    for k, d in zip(keys, digests):
        t = sd[k]
        h.update(f"{k}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(d)
    return h.hexdigest()[:32]


def with_content_id(model: torch.nn.Module, info):
    """``info`` (a `CheckpointInfo`) with its ``content_id`` set from ``model``'s state dict
    (the float32 network as loaded: a bf16 checkpoint and its float32 copy build the same
    network and get the same id), unless it is set already."""
    if info.content_id:
        return info
    from .model_string import model_string  # canonical: the same id in every file layout

    return dataclasses.replace(info, content_id=content_identity(model.state_dict(),
                                                                 model_string(info.spec)))


def recorded_content_id(path: str, model, info, cache_dir: str):
    """``info`` (a `CheckpointInfo`, the sampled id of ``model`` loaded from ``path``) with its
    ``content_id``: the one recorded for this very file in ``cache_dir`` (the TensorRT engine
    cache's per-file record, `tensorrt_backend.known_checkpoint`: real path, size, mtime and
    inode), else hashed from ``model`` now (the float32 network as loaded; seconds for ViT-L)
    and recorded there, so that a restart hashes nothing. A record whose sampled id or model
    architecture differs from ``info``'s is not used. ``model``: the float32 network, or a
    function returning it (called only when no record serves: a reload)."""
    from .tensorrt_backend import known_checkpoint, remember_checkpoint

    if info.content_id:
        return info
    known = known_checkpoint(cache_dir, path)
    if known is not None and (known.identity, known.spec) == (info.identity, info.spec):
        return dataclasses.replace(info, content_id=known.content_id)
    info = with_content_id(model() if callable(model) and not isinstance(
        model, torch.nn.Module) else model, info)
    try:  # the engine cache may not exist yet (backend torch)
        os.makedirs(os.path.expanduser(cache_dir), exist_ok=True)
    except OSError:
        pass  # remember_checkpoint says it could not write there
    remember_checkpoint(cache_dir, path, info)
    return info


def recordable(cache_dir: str) -> bool:
    """Whether ids can be recorded in ``cache_dir`` (``~`` expanded): it is a folder this
    process may write in, or its nearest existing ancestor is one (it is created then)."""
    path = os.path.abspath(os.path.expanduser(cache_dir))
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)
