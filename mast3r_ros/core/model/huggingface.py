"""Which files a Hugging Face checkpoint is read from, without reading them.

A Hugging Face checkpoint (``PyTorchModelHubMixin``'s ``save_pretrained``) is a folder holding
``config.json`` (the constructor's keyword arguments) and the weights: ``model.safetensors``,
or ``pytorch_model.bin`` (a ``torch.save`` state dict) as huggingface_hub versions before 0.20
wrote them. The weights file given itself, with the folder's ``config.json`` beside it, is read
as that folder. Apart from `checkpoint` to keep that module within its size; the TensorRT
engine cache keys a checkpoint by the same files (`tensorrt_backend`).
"""

from __future__ import annotations

import os
import struct
from typing import Optional, Tuple

CONFIG_FILE = "config.json"
#: the weight files of a Hugging Face folder, in the order they are looked for
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def is_safetensors_file(path: str) -> bool:
    """Whether ``path`` is a safetensors file: a little-endian uint64 header length, then that
    many bytes of JSON (an object) within the file. Reads its first 9 bytes only."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 2 <= n <= size - 8


def folder_weights(folder: str) -> Optional[str]:
    """The weights file of the Hugging Face folder ``folder`` (`WEIGHT_FILES`), or None."""
    for name in WEIGHT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def huggingface_files(path: str) -> Optional[Tuple[str, str]]:
    """(config.json, weights file) read for a checkpoint ``path``: a folder's (None unless it
    holds both), or, for a weights file given itself (a safetensors file, or one named
    ``pytorch_model.bin``) with a ``config.json`` beside it, that config and the file. None for
    any other file (an official ``.pth``, a bare state dict)."""
    if os.path.isdir(path):
        config, weights = os.path.join(path, CONFIG_FILE), folder_weights(path)
        return (config, weights) if weights and os.path.isfile(config) else None
    config = os.path.join(os.path.dirname(os.path.abspath(path)), CONFIG_FILE)
    if not os.path.isfile(config):
        return None
    if os.path.basename(path) == "pytorch_model.bin" or is_safetensors_file(path):
        return config, path
    return None
