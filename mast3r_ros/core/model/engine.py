"""Inference shaped for localization: encode once, decode a query against cached encodings.

A keyframe map caches each keyframe's encoder output (`Encoding`); a live query is encoded once
and decoded against one or many keyframes in one batch, keyframe as view 1 (its pointmap comes
out in its own camera frame) and query as view 2.

Captured inference (``compile``): the encoder and the decoder+heads are compiled with
``torch.compile`` for fixed shapes ('default'), or compiled and replayed as CUDA graphs
('reduce-overhead'), and warmed up when the engine is built (`Mast3rEngine.warmup`), so the
first live frame is not the slow one. A K-keyframe decode is one batched forward; on a compiled
engine the batch is padded up to the next warmed batch size so no new graph is built live.
Precision (fp16/bf16, CUDA only; CPU and fp32 are plain fp32): the weights are stored in the
compute dtype (`cast_model`, once at construction: 1.38 GB for ViT-L instead of 2.75 GB fp32
plus the 1.38 GB of half copies autocast caches during a forward -- `weight_bytes`), and every
forward still runs under autocast, so the ops autocast keeps in fp32 (LayerNorm, softmax inside
attention, norms, exp) still compute in fp32. Kept in fp32, from the CPU emulation of fp16
(`bench/precision_fp16.py`; per-pixel pts3d error on random ViT-L weights at 224, p99 / max):

* the residual streams of the encoder and decoders (`AsymmetricMASt3R.fp32_residual`): the
  matmuls run in half, the 24 + 12 residual additions in fp32 -- the largest single share
  (1.16e-2 / 3.9e-2 -> 8.6e-3 / 1.6e-2); elementwise, so cheap;
* the LayerNorm weights (0.25 M parameters): exact, and they take the fp32 stream on any device;
* each DPT's last 1x1 convolution (`network.run_fp32`, weights fp32): its raw norm d becomes the
  pointmap through expm1, so an fp16 rounding of d is a relative error of |pts3d| of the same
  size (2^-11 d); 4 output channels, negligible cost;
* the final activations (`network.postprocess`): the norm/expm1 of pts3d, exp of the
  confidences (fp16 overflows at 11.1), the descriptor normalisation; element-wise.

The rest (patch embedding, attention and MLP matmuls, the DPT trunk, the local-feature MLP) runs
in half: keeping any one of them in fp32 removes less of the remaining error than its share of
the time (the encoder alone in fp16 already gives 1.1e-2 max on random weights). The RoPE tables
are computed in fp32 from integer positions and cast to the head dtype once per forward.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..config import ModelConfig
from ..devices import resolve_device  # noqa: F401  (re-exported: the engine's public API)
from ..errors import ClosedError, ConfigError, InputError
from .checkpoint import CheckpointInfo, load_checkpoint, resolve_checkpoint
from .network import PATCH, AsymmetricMASt3R, ModelSpec
from .preprocess import normalize_table, plan_for_image, plan_resize, resize_crop
from .resample import resize_crop_u8

log = logging.getLogger(__name__)

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
COMPILE_MODES = ("none", "default", "reduce-overhead")


def ensure_cuda_graph_thread_state() -> None:
    """Let the calling thread run 'reduce-overhead' graphs (torch's CUDA-graph trees).

    torch keeps its CUDA-graph trees in a ``threading.local`` of
    ``torch/_inductor/cudagraph_trees.py``, set up at import on the importing thread only. From
    torch 2.13 another thread gets its own on first use; before, a compiled call from a thread
    that neither imported the module nor was started by autograd fails in
    ``cudagraph_trees.get_obj`` with an AssertionError (pytorch/pytorch#123177) -- the node's
    inference thread on NVIDIA's Jetson wheels (torch 2.1-2.5). This gives the calling thread
    its own (empty) tree containers where torch has not: the graphs are then recorded on this
    thread, so warm up on the thread that will run the frames (the node does, `ros/worker.py`).

    A no-op when the module is not loaded yet (the first compile imports it on this thread),
    when this thread is set up already, or when the torch version lacks these names.
    """
    import sys

    cgt = sys.modules.get("torch._inductor.cudagraph_trees")
    local = getattr(cgt, "local", None)
    if local is None or hasattr(local, "tree_manager_containers"):
        return
    init = getattr(cgt, "_initialize_tls", None)  # torch >= 2.13
    if callable(init):
        init(local)
        return
    import collections
    import threading

    local.tree_manager_containers = {}
    local.tree_manager_locks = collections.defaultdict(threading.Lock)
BACKENDS = ("torch", "tensorrt")
# Camera aspect assumed for the warm-up input when only the configured size is known (VGA-like,
# 4:3): 512 -> 512x384, 384 -> 384x288, 224 -> 224x224 network pixels.
WARMUP_CAMERA_SIZE = (640, 480)


def network_shape(size: int, camera_size: Tuple[int, int] = WARMUP_CAMERA_SIZE
                  ) -> Tuple[int, int]:
    """(H, W) network pixels that `Mast3rEngine.prepare` gives a ``camera_size`` (W, H) image."""
    w, h = plan_resize(camera_size[0], camera_size[1], size).net_size
    return (h, w)


def to_device(a: np.ndarray, device) -> torch.Tensor:
    """A copy of the array ``a`` on ``device``, dtype kept: one host->device copy of its bytes
    (on the CPU one memcpy), never aliasing ``a`` -- which may be read-only (an encoding-store
    record, a PIL image's buffer) and is only read."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(np.ascontiguousarray(a))
    return t.to(device, copy=True)


def normalize_on_device(rgb_u8: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 tensor -> (1, 3, H, W) float32 in [-1, 1] on its device, bit-identical
    to `preprocess.normalize` (``(v / 255 - 0.5) / 0.5`` in float32).

    On the CPU the same float32 operations (torch divides float32 there as numpy does: the
    correctly rounded quotient). Elsewhere a lookup in `preprocess.normalize_table` (numpy's
    result for each of the 256 values, copied to the device once), because CUDA divides a
    tensor by a host scalar as a multiplication by its reciprocal, which differs from the
    quotient in the last bit for 126 of the 256 values of v / 255 (float32 v * (1 / 255)
    against v / 255, computed with numpy); the lookup is exact on every device and backend.
    """
    if rgb_u8.device.type == "cpu":
        return _normalize_arithmetic(rgb_u8)
    return _normalize_lookup(rgb_u8)


def _normalize_arithmetic(rgb_u8: torch.Tensor) -> torch.Tensor:
    x = rgb_u8.permute(2, 0, 1).contiguous().to(torch.float32)  # transpose the 1-byte values
    return x.div_(255.0).sub_(0.5).div_(0.5)[None]


_TABLES: Dict[str, torch.Tensor] = {}  # device -> `normalize_table` there (1 KB each)


def _normalize_lookup(rgb_u8: torch.Tensor) -> torch.Tensor:
    key = str(rgb_u8.device)
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = torch.from_numpy(normalize_table()).to(rgb_u8.device)
    return table[rgb_u8.permute(2, 0, 1).int()][None].contiguous()


@dataclasses.dataclass
class PreparedImage:
    """A network input: ``tensor`` (1, 3, H, W) float32 normalised to [-1, 1]
    (`preprocess.normalize`), on the engine device; ``image_u8`` the (H, W, 3) uint8
    network-resolution image it was made from, a numpy array or a tensor on the device (read it
    as `rgb`)."""

    tensor: torch.Tensor
    true_shape: Tuple[int, int]  # (H, W) network pixels
    to_orig: np.ndarray  # 3x3: network pixel (x, y, 1) -> original pixel
    orig_size: Tuple[int, int]  # (W, H)
    image_u8: Any  # (H, W, 3) uint8 network-resolution image: np.ndarray or device tensor

    @property
    def rgb(self) -> np.ndarray:
        """The (H, W, 3) uint8 network-resolution image on the host (for pictures; copied from
        the device on first use when it was resized there)."""
        if isinstance(self.image_u8, torch.Tensor):
            self.image_u8 = self.image_u8.cpu().numpy()
        return self.image_u8


@dataclasses.dataclass
class Encoding:
    """Encoder output of one image (after enc_norm): ``feats`` (N, C), N = (H/16)*(W/16),
    on the engine device. float32 from `Mast3rEngine.encode`; a map's cached keyframe
    encodings (`from_numpy`) stay in their stored dtype (float16), half the device bytes, and
    `Mast3rEngine.decode` casts them to float32 on the device -- exactly the values the host
    conversion gave (every float16 is a float32). ``true_shape`` is the image's (H, W) in
    network pixels."""

    feats: torch.Tensor
    true_shape: Tuple[int, int]  # (H, W) network pixels

    def to_numpy(self) -> Dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (float16 features; no pickle needed to read them back)."""
        return {"feats": self.feats.detach().to("cpu", torch.float16).numpy(),
                "true_shape": np.asarray(self.true_shape, dtype=np.int64)}

    @staticmethod
    def from_numpy(d: Dict[str, np.ndarray], device) -> Encoding:
        """The `Encoding` of ``to_numpy``'s arrays (``feats`` (N, C), ``true_shape`` (2,)):
        the feature bytes are copied to ``device`` as they are stored (float16: half the bytes
        of float32, no conversion on the host). Raises InputError when N does not fit the
        image size."""
        shape = tuple(int(v) for v in np.asarray(d["true_shape"]).reshape(-1))
        feats = np.asarray(d["feats"])
        if len(shape) != 2 or feats.ndim != 2 or feats.shape[0] != (shape[0] // PATCH) * (
                shape[1] // PATCH):
            raise InputError(f"cached encoding has inconsistent shape {feats.shape} for "
                             f"image {shape}")
        return Encoding(to_device(feats, device), shape)


@dataclasses.dataclass
class PairPrediction:
    """Per-pixel outputs at network resolution (float32, on the engine device), the heads of
    MASt3R (Leroy, Cabon & Revaud, *Grounding Image Matching in 3D with MASt3R*, ECCV 2024).

    View 1 = keyframe, view 2 = query; H, W are each view's own network pixels
    (`Encoding.true_shape`). ``pts3d_*`` (H, W, 3): ``pts3d_1`` in camera 1's optical frame
    (metres for the metric checkpoint); ``pts3d_2`` holds view-2 pixels' points *also in
    camera 1's frame*. ``conf_*`` (H, W) pointmap confidence ``conf_mode[1] + exp(.)`` (> 1 for
    the official checkpoints). ``desc_*`` (H, W, D) unit-norm local descriptors (D =
    ``ModelSpec.desc_dim``, 24 for MASt3R); ``desc_conf_*`` (H, W) their confidence
    ``desc_conf_mode[1] + exp(.)`` (> 0 for the official MASt3R checkpoints). Descriptor fields
    are None for DUSt3R; ``pts3d_2``/``conf_2`` are None when not requested.
    """

    pts3d_1: torch.Tensor
    conf_1: torch.Tensor
    desc_1: Optional[torch.Tensor]
    desc_conf_1: Optional[torch.Tensor]
    pts3d_2: Optional[torch.Tensor]
    conf_2: Optional[torch.Tensor]
    desc_2: Optional[torch.Tensor]
    desc_conf_2: Optional[torch.Tensor]

    def to_numpy(self) -> Dict[str, np.ndarray]:
        """The set fields as host numpy arrays, by field name (None fields left out)."""
        return {k: v.detach().cpu().numpy() for k, v in dataclasses.asdict(self).items()
                if v is not None}


class Mast3rEngine:
    """The network on a device, with autocast on CUDA (fp16/bf16) and fp32 on CPU.

    ``model`` becomes the engine's for fp32 (moved to ``device`` in place, as `nn.Module.to`
    does); for fp16/bf16 on CUDA the engine keeps a cast copy (`cast_model`) and leaves
    ``model`` where it was, so one host model can serve several engines.

    ``compile``: one of `COMPILE_MODES`. 'reduce-overhead' needs CUDA (on CPU it falls back to
    'default'). ``warmup``: network shapes (H, W) to compile and run once now, each for the
    ``warmup_batches`` keyframe-batch sizes; a compiled engine also compiles lazily on a new
    shape (slow once). If compiling fails (no C++ compiler, unsupported platform) the engine
    logs a warning and runs eager.

    ``device`` a `torch.device` or a name as `devices.resolve_device` takes it (auto, cpu,
    cuda, cuda:N).

    Raises `ConfigError` when ``precision`` is not fp32, fp16 or bf16, ``compile`` not one of
    `COMPILE_MODES`, or ``device`` not a device this machine has.
    """

    def __init__(self, model: AsymmetricMASt3R, device: torch.device, precision: str = "fp32",
                 info: Optional[CheckpointInfo] = None, *, compile: str = "none",
                 warmup: Sequence[Tuple[int, int]] = (), warmup_batches: Sequence[int] = (1,)):
        if precision not in _DTYPES:
            raise ConfigError(f"precision must be one of {list(_DTYPES)}, got {precision!r}")
        if compile not in COMPILE_MODES:
            raise ConfigError(f"compile must be one of {list(COMPILE_MODES)}, got {compile!r}")
        self.device = resolve_device(device)
        self.precision = precision if self.device.type == "cuda" else "fp32"
        if precision != self.precision:
            log.info("precision %s applies to CUDA only; running fp32 on %s", precision,
                     self.device)
        if self.precision == "fp32":
            self.model = model.to(self.device).eval()
        else:  # weights stored in the compute dtype: half the memory, no autocast weight copies
            self.model = cast_model(model, self.device, _DTYPES[self.precision])
        if self.device.type == "cuda":
            # Frame sizes are fixed per camera: let cuDNN pick the fastest head convolutions.
            torch.backends.cudnn.benchmark = True
        self.info = info
        self.identity = info.identity if info else "unsaved-model"
        # Pillow's resize on the device (same pixels): the host only uploads the camera image.
        # On the CPU Pillow's SIMD code is faster than the integer torch passes (2.6x here).
        self.resize_on_device = self.device.type == "cuda"
        if compile == "reduce-overhead" and self.device.type != "cuda":
            log.info("compile 'reduce-overhead' (CUDA graphs) needs CUDA; using 'default' on %s",
                     self.device)
            compile = "default"
        self.compile = compile
        self._batches: List[int] = []  # warmed keyframe-batch sizes (compiled engines pad to one)
        self._enc_fn = self.model.encode
        self._dec_fn = self._decode_heads
        if compile != "none":
            opts = dict(mode=None if compile == "default" else compile, dynamic=False)
            self._enc_fn = torch.compile(self.model.encode, **opts)
            self._dec_fn = torch.compile(self._decode_heads, **opts)
        if warmup:
            self.warmup(warmup, warmup_batches)

    @classmethod
    def from_checkpoint(cls, path: str, device: str = "cpu", precision: str = "fp32", *,
                        compile: str = "none", warmup: Sequence[Tuple[int, int]] = (),
                        warmup_batches: Sequence[int] = (1,)) -> Mast3rEngine:
        """The engine of a checkpoint: ``path`` an official ``.pth``, a bare state dict or a
        Hugging Face folder (`checkpoint.load_checkpoint`); ``device`` auto, cpu, cuda or
        cuda:N; the rest as for the constructor.

        Raises `ConfigError` for an unknown or unavailable device, precision or compile mode,
        `CheckpointError` for a checkpoint that is missing, unreadable, unsafe to unpickle or
        does not match the architecture.
        """
        dev = resolve_device(device)
        model, info = load_checkpoint(path, device="cpu")
        return cls(model, dev, precision, info, compile=compile, warmup=warmup,
                   warmup_batches=warmup_batches)

    @classmethod
    def from_config(cls, model_cfg: ModelConfig, *, warmup_batches: Sequence[int] = (1,),
                    camera_size: Optional[Tuple[int, int]] = None) -> Mast3rEngine:
        """The engine a `ModelConfig` describes (checkpoint, device, precision, image size,
        compile, backend); the only way the CLI, the localizer and ``pair`` build one.

        ``camera_size`` (W, H) pixels: the camera whose frames will come (the localizer passes
        its map's); with the configured ``image_size`` it fixes the network shape
        (`network_shape`) that compiled engines are warmed up for and that TensorRT's engines
        are built for. Default: a 4:3 camera (`WARMUP_CAMERA_SIZE`).

        Raises ConfigError when ``checkpoint`` is empty or the backend cannot run here
        (TensorRT missing or no CUDA), CheckpointError on an unreadable checkpoint.
        """
        if not model_cfg.checkpoint:
            raise ConfigError("the MASt3R network needs a checkpoint: set the 'checkpoint' "
                              "parameter (--checkpoint PATH); see README: 'Model weights'")
        path = resolve_checkpoint(model_cfg.checkpoint)
        backend = getattr(model_cfg, "backend", "torch")
        if backend not in BACKENDS:
            raise ConfigError(f"model backend must be one of {list(BACKENDS)}, got {backend!r}")
        shape = network_shape(int(model_cfg.image_size), camera_size or WARMUP_CAMERA_SIZE)
        if backend == "tensorrt":
            from .tensorrt_backend import TensorRTEngine

            ignored = []
            if model_cfg.precision != "fp16":
                ignored.append(f"precision {model_cfg.precision!r} (its engines are built fp16)")
            mode = getattr(model_cfg, "compile", "none")
            if mode != "none":
                ignored.append(f"compile {mode!r} (TensorRT compiles the engines)")
            if ignored:
                log.warning("backend 'tensorrt': %s not used; they apply to backend 'torch'",
                            " and ".join(ignored))
            return TensorRTEngine.from_checkpoint(
                path, device=model_cfg.device, size=int(model_cfg.image_size),
                net_shape=shape, keyframe_batch=max(warmup_batches),
                cache_dir=getattr(model_cfg, "engine_cache", ""))
        mode = getattr(model_cfg, "compile", "none")
        return cls.from_checkpoint(path, model_cfg.device, model_cfg.precision, compile=mode,
                                   warmup=[shape] if mode != "none" else (),
                                   warmup_batches=warmup_batches)

    @torch.inference_mode()
    def warmup(self, shapes: Sequence[Tuple[int, int]], batches: Sequence[int] = (1,)) -> None:
        """Run (and on a compiled engine, compile) encode and decode once per network shape
        (H, W) and keyframe-batch size with a dummy input, so live frames hit ready graphs."""
        self._require_open()
        t0 = time.perf_counter()
        try:
            for h, w in shapes:
                img = torch.zeros((1, 3, h, w), device=self.device)
                prep = PreparedImage(img, (h, w), np.eye(3), (w, h),
                                     np.zeros((h, w, 3), np.uint8))
                # CUDA-graph trees run eager once, record on the second call, replay from the
                # third: three calls leave nothing slow for the first live frame.
                runs = 3 if self.compile == "reduce-overhead" else 1
                for _ in range(runs):
                    enc = self.encode(prep)
                for k in sorted(set(int(b) for b in batches)):
                    for _ in range(runs):
                        self.decode([enc] * k, enc, pts3d_2=not self.has_descriptors)
                    if k not in self._batches:
                        self._batches.append(k)
                self._batches.sort()
        except Exception as e:  # noqa: BLE001  compiling can fail in many backend-specific ways
            if self.compile == "none":
                raise
            log.warning("compile %r failed during warm-up (%s: %s); running eager",
                        self.compile, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            self.compile = "none"
            self._batches = []
            self._enc_fn, self._dec_fn = self.model.encode, self._decode_heads
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        log.info("warmed up %s (compile %s) for shapes %s, keyframe batches %s in %.1f s",
                 self.device, self.compile, list(shapes), self._batches, time.perf_counter() - t0)

    @property
    def has_descriptors(self) -> bool:
        """True for a MASt3R checkpoint (local-feature head: descriptors to match), False for a
        DUSt3R one (pointmaps only)."""
        return self.model.spec.has_descriptors

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=_DTYPES[self.precision])

    # -- public API ------------------------------------------------------------------
    def prepare(self, rgb: np.ndarray, size: int = 512) -> PreparedImage:
        """(H, W, 3) uint8 RGB -> network input per the reference preprocessing (Pillow's
        LANCZOS/BICUBIC resize and the crop of `preprocess.plan_resize`), normalised on the
        device (`normalize_on_device`, bit-identical to `preprocess.normalize`). ``size``: 512
        or 384 (long edge, crop to multiples of 16) or 224 (square centre crop).

        Where the resize runs: ``resize_on_device`` (default: True on CUDA) uploads the camera
        image as uint8 and resizes it there (`resample.resize_crop_u8`: Pillow's arithmetic in
        integers, every pixel equal); otherwise Pillow resizes on the host (`preprocess
        .resize_crop`) and the uint8 crop is uploaded. Raises InputError for a bad image or
        size."""
        self._require_open()
        if self.resize_on_device:
            plan = plan_for_image(rgb, size)
            net_t = resize_crop_u8(to_device(rgb, self.device), plan.resized, plan.box,
                                   plan.upscale)
            return PreparedImage(normalize_on_device(net_t), (net_t.shape[0], net_t.shape[1]),
                                 plan.to_orig(), plan.orig_size, net_t)
        net, plan = resize_crop(rgb, size)
        t = normalize_on_device(to_device(net, self.device))
        return PreparedImage(t, (net.shape[0], net.shape[1]), plan.to_orig(), plan.orig_size, net)

    @torch.inference_mode()
    def encode(self, img: PreparedImage) -> Encoding:
        """Encoder features of one prepared image: `Encoding` with feats (N, enc_dim).

        Raises `InputError` when ``img`` is not a `PreparedImage` (`prepare` makes one)."""
        self._require_open()
        if not isinstance(img, PreparedImage):
            raise InputError(f"encode takes a PreparedImage (engine.prepare(rgb, size)), got "
                             f"{type(img).__name__}")
        self._step()
        with self._autocast():
            feats = self._enc_fn(img.tensor)[0]
        if self.compile == "reduce-overhead":
            feats = feats.clone()  # CUDA-graph outputs are overwritten by the next replay
        return Encoding(feats, img.true_shape)

    def _step(self) -> None:
        if self.compile == "reduce-overhead":
            ensure_cuda_graph_thread_state()
            torch.compiler.cudagraph_mark_step_begin()

    def _decode_heads(self, e1: torch.Tensor, e2: torch.Tensor, hw: Tuple[int, int],
                      dense2: bool) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Decoders + heads for a batch: e1 (K, N, C) keyframes, e2 (K, N, C) query copies."""
        tok1, tok2 = self.model.decode(e1, e2, hw)
        return self.model.heads(tok1, tok2, hw, dense2=dense2)

    def _padded_batch(self, k: int) -> int:
        """Batch size to run k keyframes at: k eager; the next warmed size when compiled."""
        if self.compile == "none":
            return k
        return next((b for b in self._batches if b >= k), k)

    @torch.inference_mode()
    def decode(self, view1: Sequence[Encoding], view2: Encoding, *, pts3d_2: bool = False
               ) -> List[PairPrediction]:
        """Decode ``view2`` against every encoding of ``view1``, in one batch per view-1 size.

        The views may differ in size (a query camera of another resolution or aspect ratio than
        the map's): each prediction's view-1 fields are on view 1's network grid, view-2 fields
        on view 2's. Keyframes of equal size are stacked into one batch; the predictions come
        back in ``view1`` order. ``pts3d_2=False`` skips view 2's DPT head (the localizer does
        not need it).

        Raises `InputError` when ``view1`` is not a list of `Encoding` (empty: no predictions)
        or ``view2`` not an `Encoding`.
        """
        self._require_open()
        if not isinstance(view1, (list, tuple)) or not all(isinstance(e, Encoding)
                                                           for e in view1):
            raise InputError("decode's view1 must be a list of Encoding (one per keyframe; "
                             f"[enc] for one), got {type(view1).__name__}")
        if not isinstance(view2, Encoding):
            raise InputError(f"decode's view2 must be an Encoding (engine.encode), got "
                             f"{type(view2).__name__}")
        groups: Dict[Tuple[int, int], List[int]] = {}
        for i, e in enumerate(view1):
            groups.setdefault(tuple(e.true_shape), []).append(i)
        out: List[Optional[PairPrediction]] = [None] * len(view1)
        for idx in groups.values():
            for i, p in zip(idx, self._decode_batch([view1[i] for i in idx], view2, pts3d_2)):
                out[i] = p
        return out  # type: ignore[return-value]

    def _decode_batch(self, view1: Sequence[Encoding], view2: Encoding, pts3d_2: bool
                      ) -> List[PairPrediction]:
        """One batch: every ``view1`` encoding has the same size (view 2's may differ).

        Views of one size take the compiled/captured graph (padded to a warmed batch size);
        views of different sizes run eagerly, each with positions from its own grid.
        """
        s1, s2 = view1[0].true_shape, view2.true_shape
        hw1, hw2 = (s1[0] // PATCH, s1[1] // PATCH), (s2[0] // PATCH, s2[1] // PATCH)
        k = len(view1)
        same = hw1 == hw2
        kb = self._padded_batch(k) if same else k
        feats = [e.feats.to(self.device) for e in view1]
        # cached keyframe encodings arrive in float16: one cast of the stacked batch on the
        # device gives exactly the float32 input the network saw before (a no-op for float32)
        e1 = torch.stack(feats + [feats[-1]] * (kb - k)).to(torch.float32)
        e2 = view2.feats.to(self.device, torch.float32)[None].expand(kb, -1, -1)
        if same and self.compile != "none":
            e2 = e2.contiguous()  # one fixed input layout per compiled graph
        self._step()
        with self._autocast():
            if same:  # the usual case: the call the compiled/exported backends know
                r1, r2 = self._dec_fn(e1, e2, hw1, pts3d_2)
            else:
                tok1, tok2 = self.model.decode(e1, e2, hw1, hw2)
                r1, r2 = self.model.heads(tok1, tok2, hw1, dense2=pts3d_2, hw_tokens2=hw2)
        if same and self.compile == "reduce-overhead":
            r1 = {n: v.clone() for n, v in r1.items()}
            r2 = {n: v.clone() for n, v in r2.items()}
        return [PairPrediction(
            r1["pts3d"][i], r1["conf"][i], _get(r1, "desc", i), _get(r1, "desc_conf", i),
            _get(r2, "pts3d", i), _get(r2, "conf", i), _get(r2, "desc", i),
            _get(r2, "desc_conf", i)) for i in range(k)]

    def pair(self, img1: PreparedImage, img2: PreparedImage) -> PairPrediction:
        """Full two-view inference (both encoders, both heads): the `PairPrediction` of view 1
        = ``img1``, view 2 = ``img2``, with ``pts3d_2``/``conf_2`` set. Raises `InputError`
        when an argument is not a `PreparedImage`, `ClosedError` after `close`."""
        return self.decode([self.encode(img1)], self.encode(img2), pts3d_2=True)[0]

    def close(self) -> None:
        """Drop the weights (and the compiled graphs that hold them) and give cached CUDA memory
        back. Any later call raises `ClosedError`; a second ``close()`` does nothing."""
        self.model = None  # type: ignore[assignment]
        # bound methods and compiled graphs keep the model alive: drop them too
        self._enc_fn = self._dec_fn = None  # type: ignore[assignment]
        self._closed = True
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _require_open(self) -> None:
        if getattr(self, "_closed", False):
            raise ClosedError("this Mast3rEngine is closed (its weights were released by "
                              "close()): create a new engine (Mast3rEngine.from_checkpoint)")


def fp32_parameter_names(model: AsymmetricMASt3R) -> List[str]:
    """State-dict names of the parameters `cast_model` keeps in float32
    (``model.fp32_modules()``)."""
    keep = {id(m) for m in model.fp32_modules()}
    return sorted(f"{name}.{p}" if name else p for name, m in model.named_modules()
                  if id(m) in keep for p, _ in m.named_parameters(recurse=True))


def weight_bytes(spec: ModelSpec, precision: str) -> Dict[str, int]:
    """GPU bytes of the weights under each storage policy, counted on the meta device (the
    network is never allocated): for the full ViT-L this is the arithmetic of the 3 GB budget.

    Returns ``params`` (count, tied tensors once), ``fp32_params`` (kept float32 by
    `cast_model`), and bytes: ``fp32_weights`` (all float32, the fp32 engine), ``stored``
    (this engine for ``precision`` on CUDA: fp16/bf16 except the fp32-kept ones), and
    ``fp32_plus_autocast_copies`` (the previous policy: float32 weights plus the half copies
    autocast caches of every matmul/convolution weight while a forward runs).
    """
    if precision not in _DTYPES:
        raise ConfigError(f"precision must be one of {list(_DTYPES)}, got {precision!r}")
    with torch.device("meta"):
        model = AsymmetricMASt3R(spec)
    keep = set(fp32_parameter_names(model))
    half = torch.empty((), dtype=_DTYPES[precision]).element_size()
    autocast_cast = {f"{mn}.{pn}" if mn else pn
                     for mn, m in model.named_modules()
                     if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))
                     for pn, _ in m.named_parameters(recurse=False)}
    seen, n, n32, stored, cast = set(), 0, 0, 0, 0
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen or not t.is_floating_point():
            continue
        seen.add(id(t))
        n += t.numel()
        n32 += t.numel() if name in keep else 0
        stored += t.numel() * (4 if name in keep or precision == "fp32" else half)
        cast += t.numel() * half if name in autocast_cast and precision != "fp32" else 0
    return {"params": n, "fp32_params": n32, "fp32_weights": 4 * n, "stored": stored,
            "fp32_plus_autocast_copies": 4 * n + cast}


def cast_model(model: AsymmetricMASt3R, device: torch.device, dtype: torch.dtype
               ) -> AsymmetricMASt3R:
    """A copy of ``model`` on ``device`` with its floating-point weights in ``dtype`` except
    `fp32_parameter_names` (kept float32), in eval mode; ``model`` itself is left as it was.

    Built on the meta device and filled tensor by tensor, so the device holds only the cast
    copy (never an fp32 copy first) and the host no second model. Tied tensors (the DPT's
    ``layer_rn``/``layerN_rn`` aliases) stay tied.
    """
    keep = set(fp32_parameter_names(model))
    with torch.device("meta"):
        out = type(model)(model.spec)
    done: Dict[int, torch.Tensor] = {}  # source tensor -> its copy (tied names share one)
    sd = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) not in done:
            want = dtype if t.is_floating_point() and name not in keep else t.dtype
            done[id(t)] = t.detach().to(device=device, dtype=want, copy=True)
        sd[name] = done[id(t)]
    out.load_state_dict(sd, strict=True, assign=True)
    out.requires_grad_(False)
    out.fp32_residual = getattr(model, "fp32_residual", True)
    return out.eval()


def _get(d: Dict[str, torch.Tensor], key: str, i: int) -> Optional[torch.Tensor]:
    return d[key][i] if key in d else None
