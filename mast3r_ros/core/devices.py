"""Torch device names as the configuration, the CLI and the Python API take them."""

from __future__ import annotations

from typing import Union

import torch

from .errors import ConfigError


def resolve_device(name: Union[str, torch.device]) -> torch.device:
    """The torch device of a device name: 'auto' -> cuda when available else cpu; 'cpu',
    'cuda', 'cuda:N' (a `torch.device` is taken as is). Raises `ConfigError` for another
    name or kind (mps, xpu: not supported), or a CUDA device this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"device {name!r} is not a torch device (use auto, cpu, cuda, cuda:N)") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported: mast3r_ros runs on cpu or cuda "
                          "(use auto, cpu, cuda, cuda:N)")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available "
                          "(torch.cuda.is_available() is False); use device 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        # else torch's "invalid device ordinal" RuntimeError, a traceback, at the first copy
        n = torch.cuda.device_count()
        raise ConfigError(f"device {name!r}: this machine has {n} CUDA device(s) "
                          f"(cuda:0..cuda:{n - 1}); check CUDA_VISIBLE_DEVICES")
    return dev
