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
compute dtype (`precision.cast_model`, once at construction), and every forward still runs under
autocast, so the ops autocast keeps in fp32 still compute in fp32; what else stays fp32, and
why, is in `precision`'s docstring.

Modules: `engine_io` (the device copy and normalisation of an image; `PreparedImage`,
`Encoding`, `PairPrediction`), `precision` (weight storage per precision), this one (the
`Mast3rEngine`: compile, warm-up, prepare, encode, decode). Those names are also importable from
here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..config import ModelConfig
from ..devices import apply_cpu_threads, auto_cpu_note
from ..devices import resolve_device  # noqa: F401  (re-exported: the engine's public API)
from ..errors import ClosedError, ConfigError, InputError
from ..path_expand import expand_path, unset_variable_problem
from .checkpoint import CheckpointInfo, resolve_checkpoint
from .loaded_networks import load_network, one_checkpoint_load  # noqa: F401  (re-exported)
from .engine_io import Encoding, PairPrediction, PreparedImage, normalize_on_device, to_device
from .network import PATCH, AsymmetricMASt3R
from .precision import _DTYPES, cast_model
from .precision import fp32_parameter_names, weight_bytes  # noqa: F401  (re-exported)
from .preprocess import plan_for_image, plan_resize, resize_crop
from .resample import resize_crop_u8

log = logging.getLogger(__name__)

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


def cudagraph_mark_step_begin() -> None:
    """Tell torch's CUDA-graph trees a new inference step begins (the outputs of the previous
    replay may be overwritten): ``torch.compiler.cudagraph_mark_step_begin`` from torch 2.2;
    torch 2.1 (NVIDIA's oldest Jetson wheels) has it only as
    ``torch._inductor.cudagraph_trees.mark_step_begin``."""
    fn = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
    if fn is None:
        from torch._inductor.cudagraph_trees import mark_step_begin as fn
    fn()


BACKENDS = ("torch", "tensorrt")
# Camera aspect assumed for the warm-up input when only the configured size is known (VGA-like,
# 4:3): 512 -> 512x384, 384 -> 384x288, 224 -> 224x224 network pixels.
WARMUP_CAMERA_SIZE = (640, 480)


def network_shape(size: int, camera_size: Tuple[int, int] = WARMUP_CAMERA_SIZE
                  ) -> Tuple[int, int]:
    """(H, W) network pixels that `Mast3rEngine.prepare` gives a ``camera_size`` (W, H) image."""
    w, h = plan_resize(camera_size[0], camera_size[1], size).net_size
    return (h, w)


def _file_version(path: str) -> Optional[Tuple[int, int, int]]:
    """(size, mtime ns, inode) of ``path``, None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


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

    ``with Mast3rEngine.from_checkpoint(...) as engine:`` closes it when the block ends
    (`close`: the weights and cached CUDA memory are released).

    Raises `ConfigError` when ``precision`` is not fp32, fp16 or bf16, ``compile`` not one of
    `COMPILE_MODES`, or ``device`` not a device this machine has. After `close`, `prepare`,
    `encode`, `decode`, `pair`, `warmup` and `has_descriptors` raise `ClosedError`.
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
        # where `content_id` hashes from when asked (`from_checkpoint`): the checkpoint file,
        # its os.stat at load, the id record's folder; None: info's content_id as it is
        self._content_from: Optional[Tuple[str, Tuple[int, int, int], str]] = None
        self._content_lock = threading.Lock()
        # the network input size this engine was configured and warmed up for (`from_config`);
        # None: not fixed, the `Localizer` takes its own (512 by default)
        self.image_size: Optional[int] = None
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
                        warmup_batches: Sequence[int] = (1,), id_cache: str = "",
                        image_size: Optional[int] = None) -> Mast3rEngine:
        """The engine of a checkpoint: ``path`` an official ``.pth``, a bare state dict or a
        Hugging Face folder (`checkpoint.load_checkpoint`); ``device`` auto, cpu, cuda or
        cuda:N; the rest as for the constructor. The engine's full-content id (every byte
        of the weights, what keyframe maps record with their encodings) is not computed here:
        `content_id` takes it, when first asked, from the record for this file in ``id_cache``
        (default: the TensorRT engine cache, `tensorrt_backend.default_cache_dir`), else hashes
        it and records it there (`content_id.recorded_content_id`: once per file version).
        An fp16/bf16 engine (a cast copy of the network) takes it here instead, when
        ``id_cache`` can be written (`content_id.recordable`): from the record, else hashed
        from the float32 network just loaded and recorded, so the file is not read again.
        ``image_size``: the network input size the engine is for (``model.image_size``, set
        as `image_size`; None leaves it to the `Localizer`); device 'auto' falling back to
        the CPU suggests only sizes smaller than it (`devices.auto_cpu_note`).

        Raises `ConfigError` for an unknown or unavailable device, precision or compile mode,
        `CheckpointError` for a checkpoint that is missing, unreadable, unsafe to unpickle or
        does not match the architecture.
        """
        dev = resolve_device(device)
        if device == "auto" and dev.type == "cpu":
            auto_cpu_note(image_size)  # logged once per process: the demo builds two engines
        model, info = load_network(path, dev)  # once per `one_checkpoint_load` block
        from .content_id import recordable, recorded_content_id
        from .tensorrt_backend import default_cache_dir

        stat = _file_version(path)
        eng = cls(model, dev, precision, info, compile=compile, warmup=warmup,
                  warmup_batches=warmup_batches)
        cache = id_cache or default_cache_dir()
        if stat is not None and eng.model is not model and recordable(cache):
            # a cast copy (fp16/bf16): the float32 network is in hand now only; hashed now and
            # recorded (once per file version), the file is never read again for the id
            eng.info = recorded_content_id(path, model, eng.info, cache)
        elif stat is not None:  # hashed when something compares it (`content_id`), not now
            eng._content_from = (path, stat, cache)
        if image_size is not None:
            eng.image_size = int(image_size)  # a Localizer given it takes this size
        return eng

    def content_id(self) -> str:
        """The full-content id of the weights (`content_id.content_identity`, 32 hex chars;
        "" for an unsaved model), computed at the first call, not at load: seconds for ViT-L,
        asked only where a map, its encodings or a build's --resume record one. An engine of
        `from_checkpoint` takes the id recorded for its file in the id cache, else hashes the
        float32 network (its own on fp32; once closed, or on fp16/bf16 with an id cache that
        cannot be written, the file read again on the host; fp16/bf16 engines otherwise have
        it from the load) and records it (`content_id.recorded_content_id`). A file changed on disk
        since the engine loaded it leaves the id unknown (""), with a warning: its bytes are
        not the engine's."""
        with self._content_lock:
            if self.info is None or self.info.content_id or self._content_from is None:
                return self.info.content_id if self.info else ""
            from .content_id import recorded_content_id

            path, stat, cache = self._content_from
            self._content_from = None  # asked once, whatever the outcome
            if _file_version(path) != stat:
                log.warning("checkpoint %s changed on disk since it was loaded: the full "
                            "content id of the weights running is unknown (cached map "
                            "encodings are matched by the sampled id %s alone)", path,
                            self.identity)
                return ""

            def float32_model() -> torch.nn.Module:
                if self.precision == "fp32" and self.model is not None:  # None: closed
                    return self.model
                return load_network(path, torch.device("cpu"))[0]

            self.info = recorded_content_id(path, float32_model, self.info, cache)
            return self.info.content_id

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
            from ..matchers.base import NO_CHECKPOINT

            raise ConfigError(NO_CHECKPOINT)
        path = resolve_checkpoint(model_cfg.checkpoint)
        apply_cpu_threads(getattr(model_cfg, "cpu_threads", 0))
        backend = getattr(model_cfg, "backend", "torch")
        if backend not in BACKENDS:
            raise ConfigError(f"model backend must be one of {list(BACKENDS)}, got {backend!r}")
        shape = network_shape(int(model_cfg.image_size), camera_size or WARMUP_CAMERA_SIZE)
        unset = unset_variable_problem(getattr(model_cfg, "engine_cache", ""),
                                       "parameter 'engine_cache'")
        if unset:  # a cache folder named '$CACHE' would be made where the process runs
            raise ConfigError(unset)
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
                cache_dir=expand_path(getattr(model_cfg, "engine_cache", "")))
        mode = getattr(model_cfg, "compile", "none")
        eng = cls.from_checkpoint(path, model_cfg.device, model_cfg.precision, compile=mode,
                                  warmup=[shape] if mode != "none" else (),
                                  warmup_batches=warmup_batches,
                                  id_cache=expand_path(getattr(model_cfg, "engine_cache", "")),
                                  image_size=int(model_cfg.image_size))
        return eng

    @torch.inference_mode()
    def warmup(self, shapes: Sequence[Tuple[int, int]], batches: Sequence[int] = (1,)) -> None:
        """Run (and on a compiled engine, compile) encode and decode once per network shape
        (H, W) and keyframe-batch size with a dummy input, so live frames hit ready graphs."""
        self._require_open()
        t0 = time.perf_counter()
        if self.compile != "none":  # silent for minutes otherwise (the line after: its time)
            log.info("compiling the network (compile %r) for network shapes %s, keyframe "
                     "batches %s: this may take minutes (on a GPU: tens of seconds)",
                     self.compile, list(shapes), sorted(set(int(b) for b in batches)))
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
        DUSt3R one (pointmaps only). Raises `ClosedError` after `close`."""
        self._require_open()
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
        .resize_crop`) and the uint8 crop is uploaded. Raises InputError for an image that is
        not (H, W, 3) uint8, under 16 px on its short side or more elongated than 4:1, or a
        ``size`` not in `preprocess.SIZES` (512, 384, 224)."""
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
        return Encoding(feats, img.true_shape, self.identity)

    def _step(self) -> None:
        if self.compile == "reduce-overhead":
            ensure_cuda_graph_thread_state()
            cudagraph_mark_step_begin()

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
        or ``view2`` not an `Encoding`, or when an encoding's ``feats`` is not this network's
        (N, C) tensor for its ``true_shape`` (encodings on another device are moved) or it was
        encoded by another checkpoint (`Encoding.identity`).
        """
        self._require_open()
        if not isinstance(view1, (list, tuple)) or not all(isinstance(e, Encoding)
                                                           for e in view1):
            raise InputError("decode's view1 must be a list of Encoding (one per keyframe; "
                             f"[enc] for one), got {type(view1).__name__}")
        if not isinstance(view2, Encoding):
            raise InputError(f"decode's view2 must be an Encoding (engine.encode), got "
                             f"{type(view2).__name__}")
        dim = self.model.spec.enc_embed_dim
        for i, e in enumerate(view1):
            e.check(dim, f"decode's view1[{i}]", self.identity)
        view2.check(dim, "decode's view2", self.identity)
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

    def __enter__(self) -> Mast3rEngine:
        """``with Mast3rEngine.from_checkpoint(...) as engine:``: the engine itself, `close`d
        when the block ends (a `Localizer` given the engine owns and closes it instead)."""
        return self

    def __exit__(self, *exc: object) -> bool:
        """`close`; returns False, so an exception raised in the block propagates."""
        self.close()
        return False

    def _require_open(self) -> None:
        if getattr(self, "_closed", False):
            raise ClosedError("this Mast3rEngine is closed (its weights were released by "
                              "close()): create a new engine (Mast3rEngine.from_checkpoint)")


def _get(d: Dict[str, torch.Tensor], key: str, i: int) -> Optional[torch.Tensor]:
    return d[key][i] if key in d else None
