"""What backend 'tensorrt' needs of this machine before anything is read: NVIDIA TensorRT's
Python package (an FP16 builder flag: 8.6 to 10.x) and a CUDA device torch can use. Checked by
the engine build (`tensorrt_backend.TensorRTEngine.from_checkpoint`) and, in the same words,
by the commands and the node before they read a checkpoint, a map or a recording
(`loaded_networks.tensorrt_up_front`, `ros.params.load_localizer`)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch

from ..devices import resolve_device
from ..errors import ConfigError


def import_tensorrt():
    """The ``tensorrt`` module, or ConfigError saying how to get it."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise ConfigError(
            "model backend 'tensorrt' needs NVIDIA TensorRT's Python package (import tensorrt "
            f"failed: {e}); on Jetson it comes with JetPack (python3-libnvinfer), on a "
            "workstation `pip install \"tensorrt<11\"`; or set the 'backend' parameter to "
            "'torch'") from None
    return trt


def require_fp16_builder(trt) -> None:
    """ConfigError unless this TensorRT builds fp16 engines from an fp32 graph through
    ``BuilderFlag.FP16`` (TensorRT 8.6 to 10.x; the engines here are built that way, with the
    norms' unary/reduce layers pinned to fp32).

    TensorRT 11 removed that flag and every weak-typing API: its networks are strongly typed
    and take their precision from the ONNX graph's own types (NVIDIA's "Migrating from
    TensorRT 10.x to 11.x", removed Python APIs: ``BuilderFlag.FP16`` -> strong typing).
    """
    flags = getattr(trt, "BuilderFlag", None)
    if all(hasattr(flags, f) for f in ("FP16", "PREFER_PRECISION_CONSTRAINTS")):
        return
    raise ConfigError(
        f"model backend 'tensorrt' builds fp16 engines through TensorRT's FP16 builder flag, "
        f"which TensorRT {getattr(trt, '__version__', '?')} no longer has (TensorRT 11 builds "
        "strongly typed networks only): install TensorRT 8.6 to 10.x (`pip install "
        "\"tensorrt<11\"`; JetPack 6 ships 8.6 or 10.3), or set the 'backend' parameter to "
        "'torch' (with 'compile' 'reduce-overhead' on a GPU)")


def require_tensorrt_runtime(device: str, resolve: Optional[Callable[[str], Any]] = None
                             ) -> Tuple[Any, torch.device]:
    """(``tensorrt`` module, CUDA `torch.device`) for backend 'tensorrt' on ``device`` ('auto',
    'cuda', 'cuda:N'; ``resolve`` maps a name to a device, `devices.resolve_device` by
    default). Imports only: nothing is read, nothing runs on the GPU. Raises `ConfigError`,
    in order: TensorRT not installed (`import_tensorrt`), device 'auto' with a torch that sees
    no CUDA (a CPU wheel), a device this machine lacks or one that is no CUDA device, a
    TensorRT without the FP16 builder flag (`require_fp16_builder`); each says how to fix it,
    'backend' 'torch' among the fixes."""
    trt = import_tensorrt()
    if device == "auto" and not torch.cuda.is_available():
        # on a Jetson most often PyPI's CPU torch wheel in place of NVIDIA's: 'use device
        # cpu' (resolve_device's advice) would only lead to the next refusal
        raise ConfigError("model backend 'tensorrt' needs CUDA, but this torch "
                          f"({torch.__version__}) sees no CUDA device "
                          "(torch.cuda.is_available() is False): install a CUDA build of "
                          "torch (on a Jetson, NVIDIA's wheel for the JetPack), or use "
                          "backend 'torch'")
    dev = (resolve or resolve_device)("cuda" if device == "auto" else device)
    if dev.type != "cuda":
        raise ConfigError(f"model backend 'tensorrt' needs a CUDA device, got {device!r}")
    require_fp16_builder(trt)  # before minutes of export, and before any engine is read
    return trt, dev
