"""Torch device names as the configuration, the CLI and the Python API take them; the CPU
thread count (`apply_cpu_threads`).

torch is imported by the functions that use it, not here: commands that never run torch
(check-map, merge-maps) import this module, and torch's import costs them 2-4 s on a loaded
2-core machine."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Optional, Set, Union

from .errors import ConfigError
from .model.preprocess import SIZES
from .said_once import SaidOnce

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
_warned_threads: Set[int] = set()  # the localizer and its engine both apply the same value
_noted_auto_cpu = SaidOnce(1)  # `auto_cpu_note` logged (the demo builds two engines)


def usable_cores() -> int:
    """How many cores this process may run on: ``os.sched_getaffinity`` (a taskset or a
    container's cpuset), else ``os.cpu_count()``, at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_device(name: Union[str, torch.device]) -> torch.device:
    """The torch device of a device name: 'auto' -> cuda when available else cpu; 'cpu',
    'cuda', 'cuda:N' (a `torch.device` is taken as is). Raises `ConfigError` for another
    name or kind (mps, xpu: not supported), or a CUDA device this machine does not have."""
    import torch

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
                          "(torch.cuda.is_available() is False); use device 'cpu' "
                          "(--device cpu, or device: cpu in the parameter file)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        # else torch's "invalid device ordinal" RuntimeError, a traceback, at the first copy
        n = torch.cuda.device_count()
        raise ConfigError(f"device {name!r}: this machine has {n} CUDA device(s) "
                          f"(cuda:0..cuda:{n - 1}); check CUDA_VISIBLE_DEVICES")
    return dev


def apply_cpu_threads(n: int, torch_pool: bool = True) -> None:
    """Set the threads of torch's intra-op pool (``torch.set_num_threads``) and OpenCV's
    (``cv2.setNumThreads``) to ``n`` for the whole process; ``n`` 0 leaves the libraries'
    defaults (one per core). ``torch_pool`` False sets OpenCV's only, without importing torch:
    for a command that runs no torch (check-map's matching is OpenCV's).

    The ``cpu_threads`` parameter: on a CPU shared with other processes the default's threads spin
    at every parallel region's barrier waiting for a descheduled one (one nearest-neighbour search
    of the matcher measured 7x slower with 2 than with 1 on a loaded 2-core machine:
    docs/bench/query_aspect_cpu_2026-12-03).

    More threads than the cores this process may run on (`usable_cores`) are set as asked but
    logged as a warning, once per value: they only wait for each other (the parameter's range
    cannot know the machine, and one parameter file may serve several).

    Raises `ConfigError` for a negative or non-integer ``n``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"cpu_threads must be a whole number >= 0 (0: one per core), got {n!r}")
    if n == 0:
        return
    cores = usable_cores()
    if n > cores and n not in _warned_threads:
        _warned_threads.add(n)
        log.warning("cpu_threads %d is more than the %d core(s) this process may run on: the extra "
                    "threads only wait for each other; set cpu_threads to at most %d, or 0 for one "
                    "per core (docs/gpu.md: On the CPU)", n, cores, cores)
    if torch_pool:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    try:  # OpenCV: the sift matcher's and PnP's; an extra of pip installs
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(n)


# where a user sets the size: a --params file and the node take the parameter 'image_size' (a
# file's 'model.image_size' is refused as unknown), `mast3r-ros pair` its --size
_SIZE_WHERE = "parameter image_size (--params, the node's) or pair --size"


def auto_cpu_note(image_size: Optional[int] = None) -> str:
    """Log at INFO, once per process, and return why device 'auto' chose the CPU for the
    network and what that costs: a user who installed the CPU build of torch (as the Quick
    start does) on a machine with a GPU otherwise saw only frames taking tens of seconds.

    ``image_size``: the network input size in use (parameter ``image_size``: 512, 384 or 224);
    the note suggests only the sizes smaller than it, and none at 224, the smallest. None
    (not known: an engine built without a configuration) suggests 384 and 224, the sizes
    below the default 512."""
    import torch

    if torch.version.cuda is None:
        why = f"this torch ({torch.__version__}) is a CPU-only build"
    else:
        why = "torch.cuda.is_available() is False (no GPU visible: driver, CUDA_VISIBLE_DEVICES?)"
    smaller = [s for s in SIZES if s < (max(SIZES) if image_size is None else int(image_size))]
    if not smaller:
        size_hint = ""
    elif image_size is None:
        size_hint = (f"on the CPU a smaller image_size ({', '.join(map(str, smaller))}: "
                     f"{_SIZE_WHERE}) is faster; ")
    else:
        size_hint = (f"on the CPU an image_size smaller than the {int(image_size)} in use "
                     f"({', '.join(map(str, smaller))}: {_SIZE_WHERE}) is faster; ")
    note = (f"device auto runs the network on the CPU: {why}. Expect seconds a frame, ~19 s a "
            "keyframe pair with the full ViT-L at image_size 512 on 2 cores "
            "(README: 'Measured'); for a GPU install torch's CUDA build from pytorch.org; "
            f"{size_hint}--device cpu (device: cpu) runs on the CPU without this note")
    if _noted_auto_cpu.first("auto_cpu_note"):
        log.info("%s", note)
    return note
