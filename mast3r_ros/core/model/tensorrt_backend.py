"""TensorRT backend (``model.backend: tensorrt``): fp16 engines built from the ONNX export, cached
on disk, behind the `Mast3rEngine` API (prepare / encode / decode / pair / close).

The engines are fixed to one network shape (H, W) and one keyframe batch K (`export`); decoding
more keyframes runs ceil(n / K) batches, fewer pads the batch. They are cached under
``<cache>/<key>/`` where the key hashes the checkpoint's full-content identity
(`content_id.content_identity`: every byte of the weights), the image size, the network
shape, K, the GPU model (name and compute capability), the TensorRT version and the precision:
when any of them differs the key differs and the engines are built again (minutes for ViT-L;
on a Jetson, tens of minutes), and a folder whose ``key.json`` does not match is rebuilt.

Precision: fp16 everywhere except TensorRT's unary (exp, expm1, sqrt...) and reduction layers,
which are asked to stay fp32 (the output activations; `engine` explains why).

ONNX for the engines: TensorRT 8.x (JetPack 6.0 ships 8.6) parses opsets up to 17, so the
export for it is the TorchScript exporter's (opset 17); TensorRT >= 10 gets `export`'s default
('auto': dynamo, opset 18, where torch has it). Both are tested equal to PyTorch on the CPU.

``tensorrt`` is imported only when this backend is chosen; without it, or without CUDA,
building the engine raises ConfigError. The TensorRT Python calls used here exist in TensorRT
8.5 to 10 (named I/O tensors: ``num_io_tensors``, ``set_tensor_address``,
``execute_async_v3``); `test/unit/test_tensorrt_backend.py` runs this module end to end on the
CPU through a stand-in for that API that executes the ONNX with onnxruntime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError, InputError
from ..fileio import atomic_write_bytes, atomic_write_json
from .checkpoint import CheckpointInfo, load_checkpoint
from .content_id import with_content_id
from .engine import (Encoding, Mast3rEngine, PairPrediction, PreparedImage, _get,
                     resolve_device)
from .export import DECODER_FILE, ENCODER_FILE, export_onnx, output_names, require_onnx
from .loaded_networks import take_up_front
from .network import AsymmetricMASt3R
from .tensorrt_runtime import (import_tensorrt, require_fp16_builder,  # noqa: F401 (re-exported)
                               require_tensorrt_runtime)

log = logging.getLogger(__name__)

KEY_FILE = "key.json"
ENCODER_PLAN = "encoder.plan"
DECODER_PLAN = "decoder.plan"
DEFAULT_CACHE = os.path.join("~", ".cache", "mast3r_ros", "tensorrt")


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/mast3r_ros/tensorrt`` when XDG_CACHE_HOME is set (a service's cache
    folder), else `DEFAULT_CACHE`: where engines go when ``model.engine_cache`` is empty."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return os.path.join(xdg, "mast3r_ros", "tensorrt") if xdg else DEFAULT_CACHE


# How this package turns a checkpoint into engines (graphs exported, layers pinned to fp32):
# part of the cache key, bumped when that changes so that a release's fix is not hidden behind
# engines an older release built.
ENGINE_FORMAT = 1


def cache_fields(identity: str, size: int, net_shape: Tuple[int, int], keyframe_batch: int,
                 gpu: str, trt_version: str, precision: str = "fp16") -> Dict:
    """Everything an engine depends on; a change in any field means a rebuild. ``identity``:
    the checkpoint's `CheckpointInfo.content_id` (engines cached under the sampled
    `CheckpointInfo.identity` by an earlier release never match it: rebuilt)."""
    return {"checkpoint_identity": str(identity), "size": int(size),
            "net_shape_hw": [int(net_shape[0]), int(net_shape[1])],
            "keyframe_batch": int(keyframe_batch), "gpu": str(gpu),
            "tensorrt": str(trt_version), "precision": str(precision),
            "engine_format": ENGINE_FORMAT}


def cache_key(fields: Dict) -> str:
    """Folder name for `cache_fields`: readable prefix + sha256 of all fields (stable)."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    ident = re.sub(r"[^A-Za-z0-9]", "", fields["checkpoint_identity"])[:12] or "model"
    h, w = fields["net_shape_hw"]
    return f"{ident}-{fields['size']}-{w}x{h}-k{fields['keyframe_batch']}-{digest}"


def cached_engines(cache_dir: str, fields: Dict) -> Optional[str]:
    """The folder holding usable engines for ``fields``, or None when they must be built."""
    d = os.path.join(os.path.expanduser(cache_dir), cache_key(fields))
    try:
        with open(os.path.join(d, KEY_FILE), encoding="utf-8") as fh:
            stored = json.load(fh)
    except (OSError, ValueError):
        return None
    if stored != fields:
        log.info("TensorRT cache %s holds engines for %s; rebuilding", d, stored)
        return None
    if not all(os.path.isfile(os.path.join(d, f)) for f in (ENCODER_PLAN, DECODER_PLAN)):
        return None
    return d


def gpu_model(device: torch.device) -> str:
    """'<name> sm_<major><minor>' of a CUDA device (part of the cache key)."""
    major, minor = torch.cuda.get_device_capability(device)
    return f"{torch.cuda.get_device_name(device)} sm_{major}{minor}"


def exporter_for(trt_version: str) -> str:
    """The `export.EXPORTERS` entry for a TensorRT version: 'torchscript' (opset 17) before
    TensorRT 10, whose ONNX parsers stop at opset 17; else 'auto'."""
    try:
        major = int(str(trt_version).split(".")[0])
    except ValueError:
        return "torchscript"  # unknown: the opset every supported TensorRT reads
    return "torchscript" if major < 10 else "auto"


def build_plan(trt, onnx_path: str, *, fp16: bool = True, workspace_gb: float = 4.0) -> bytes:
    """Parse an ONNX file and build a serialized TensorRT engine (fp16, fp32 activations)."""
    if fp16:
        require_fp16_builder(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if flag is None else 1 << int(flag))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(onnx_path):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ConfigError(f"TensorRT cannot parse {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * 2**30))
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
        keep = {trt.LayerType.UNARY, trt.LayerType.REDUCE}
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            if layer.type in keep:
                layer.precision = trt.float32
                for j in range(layer.num_outputs):
                    layer.set_output_type(j, trt.float32)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ConfigError(f"TensorRT failed to build an engine from {onnx_path} (see its log)")
    return bytes(plan)


def require_cache_dir(cache_dir: str) -> None:
    """Create the engine cache folder ``cache_dir``, or raise ConfigError naming the parameter
    and the path (a service user with no writable home, a path under a file): before a
    checkpoint is read for engines that could not be kept."""
    d = os.path.expanduser(cache_dir)
    try:
        os.makedirs(d, exist_ok=True)
        reason = None if os.access(d, os.W_OK | os.X_OK) else "not writable by this user"
    except OSError as e:
        reason = e.strerror or str(e)
    if reason:
        raise ConfigError(f"the TensorRT engine cache {d} cannot be used ({reason}): set the "
                          "'engine_cache' parameter (model.engine_cache) to a folder this user "
                          "can write")


def ensure_engines(model: AsymmetricMASt3R, info: Optional[CheckpointInfo], cache_dir: str,
                   fields: Dict, trt) -> str:
    """The cache folder for ``fields``, exporting ONNX and building the engines if needed."""
    found = cached_engines(cache_dir, fields)
    if found:
        return found
    d = os.path.join(os.path.expanduser(cache_dir), cache_key(fields))
    os.makedirs(d, exist_ok=True)
    t0 = time.perf_counter()
    log.info("building TensorRT engines in %s (once per checkpoint, size, GPU and TensorRT "
             "version; minutes)", d)
    onnx_dir = os.path.join(d, "onnx")
    export_onnx(model, onnx_dir, size=fields["size"], net_shape=tuple(fields["net_shape_hw"]),
                keyframe_batch=fields["keyframe_batch"], info=info,
                exporter=exporter_for(fields["tensorrt"]))
    for src, dst in ((ENCODER_FILE, ENCODER_PLAN), (DECODER_FILE, DECODER_PLAN)):
        plan = build_plan(trt, os.path.join(onnx_dir, src), fp16=fields["precision"] == "fp16")
        atomic_write_bytes(os.path.join(d, dst), plan)
    shutil.rmtree(onnx_dir, ignore_errors=True)
    atomic_write_json(os.path.join(d, KEY_FILE), fields)  # last: marks the folder complete
    log.info("TensorRT engines built in %.0f s", time.perf_counter() - t0)
    return d


# The checkpoint identities the cache has seen, by file (real path, size, mtime, inode; both
# files of a Hugging Face folder): a start whose engines are cached needs the checkpoint's
# identity and architecture only, and computing them loads the whole file (2.7 GB for ViT-L:
# tens of seconds on a Jetson, and its memory).
CHECKPOINT_IDS = "checkpoint_ids.json"
_CHECKPOINT_IDS_KEPT = 64
# how a record's ids were hashed: the architecture by its canonical string (`fingerprint`); a
# record without it hashed the file's own string, another id for a file whose args.model is not
# canonical: loaded and hashed again, not used (one id for the same weights in every layout)
_ID_SCHEME = "canonical-model-string"


def _file_key(path: str) -> Optional[str]:
    """What identifies one version of a checkpoint file, or of a Hugging Face checkpoint (its
    config.json and weights file, what `load_checkpoint` reads: `huggingface_files`); None when
    one of them cannot be stat'ed or is no file (`load_checkpoint` then says what is wrong)."""
    from .huggingface import huggingface_files

    hf = huggingface_files(path)
    files = (list(hf) if hf else [os.path.join(path, n) for n in ("config.json",
                                                                  "model.safetensors")]
             if os.path.isdir(path) else [path])
    keys = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            return None
        if not os.path.isfile(f):
            return None
        keys.append([os.path.realpath(f), st.st_size, st.st_mtime_ns, st.st_ino])
    return json.dumps(keys[0] if len(keys) == 1 else keys)


def _read_ids(cache_dir: str) -> Dict:
    """The memo table of ``cache_dir`` (`remember_checkpoint`); {} when missing or unreadable."""
    try:
        with open(os.path.join(os.path.expanduser(cache_dir), CHECKPOINT_IDS),
                  encoding="utf-8") as fh:
            table = json.load(fh)
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def _spec_of(text: str):
    """The `ModelSpec` of a model string (`CheckpointError` for one that does not parse)."""
    from .checkpoint import parse_model_string, spec_from_kwargs

    return spec_from_kwargs(*parse_model_string(text))


def known_checkpoint(cache_dir: str, path: str) -> Optional[CheckpointInfo]:
    """The `CheckpointInfo` recorded (`remember_checkpoint`) when this very file (same real
    path, size, modification time and inode; a Hugging Face folder: both its files) was loaded
    for engines in ``cache_dir``; None when it was not, the record is unreadable, or it predates
    the ids hashed with the canonical model string (`_ID_SCHEME`)."""
    key = _file_key(path)
    e = _read_ids(cache_dir).get(key) if key is not None else None
    try:
        if not (isinstance(e["content_id"], str) and e["content_id"]
                and e.get("id_scheme") == _ID_SCHEME):
            return None  # recorded before the full-content id or this id: loaded again
        return CheckpointInfo(_spec_of(e["model_string"]), str(e["layout"]),
                              str(e["model_string"]), str(e["identity"]), e["content_id"])
    except (ValueError, KeyError, TypeError, AttributeError, CheckpointError):
        return None  # no record (None), or a malformed one


def remember_checkpoint(cache_dir: str, path: str, info: CheckpointInfo) -> None:
    """Record ``info`` for this version of the file ``path`` in ``cache_dir`` (the newest
    `_CHECKPOINT_IDS_KEPT` files are kept), when its architecture round-trips through the
    model string; a failure to write is logged, never raised (the next start loads the file)."""
    from .checkpoint import model_string

    key = _file_key(path)
    if key is None or not info.content_id:
        return
    text = model_string(info.spec)
    try:
        if _spec_of(text) != info.spec:
            return
    except Exception:  # noqa: BLE001 - an architecture the string cannot carry: not recorded
        return
    table = _read_ids(cache_dir)
    table.pop(key, None)
    table[key] = {"identity": info.identity, "content_id": info.content_id,
                  "layout": info.layout, "model_string": text, "id_scheme": _ID_SCHEME}
    table = dict(list(table.items())[-_CHECKPOINT_IDS_KEPT:])
    table_path = os.path.join(os.path.expanduser(cache_dir), CHECKPOINT_IDS)
    try:
        atomic_write_json(table_path, table)
    except OSError as e:
        log.warning("could not record the checkpoint's identity in %s (%s): the next start "
                    "loads the checkpoint again", table_path, e)


def engines_for_checkpoint(path: str, cache_dir: str, fields_for, trt) -> Tuple[str,
                                                                                  CheckpointInfo]:
    """(engine folder, checkpoint info) for the checkpoint file or folder ``path``: engines
    cached for a checkpoint already seen (`known_checkpoint`) are used without loading it;
    otherwise, once the ONNX exporter's package imports (`require_onnx`) and the cache folder
    can be made (`require_cache_dir`; ConfigError before the file is read), it is loaded
    (`load_checkpoint`: its errors), the engines found or built
    (`ensure_engines`) and the checkpoint remembered. ``fields_for(content_id)`` gives the
    `cache_fields`."""
    info = known_checkpoint(cache_dir, path)
    if info is not None:
        found = cached_engines(cache_dir, fields_for(info.content_id))
        if found:
            log.info("TensorRT engines for checkpoint %s (id %s, content %s) found in %s",
                     path, info.identity, info.content_id, found)
            return found, info
    # refused before the checkpoint is read (2.7 GB for ViT-L) and before any folder is made
    require_onnx(exporter_for(getattr(trt, "__version__", "")))
    require_cache_dir(cache_dir)
    # the network the command's checks loaded before reading the recording, else read now
    loaded = take_up_front(path, torch.device("cpu"))
    model, info = loaded if loaded is not None else load_checkpoint(path, device="cpu")
    info = with_content_id(model, info)  # every byte: a one-value fine-tune is another key
    d = ensure_engines(model, info, cache_dir, fields_for(info.content_id), trt)
    remember_checkpoint(cache_dir, path, info)
    return d, info


def _on(device: torch.device):
    """``device`` made CUDA's current device (TensorRT deserializes and runs on the current
    one: cuda:1's tensors with an engine on cuda:0 otherwise); nothing off CUDA."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


class _TrtGraph:
    """One deserialized engine with fixed-shape I/O. On CUDA it runs on a stream of its own,
    ordered after the current stream's work (its inputs) and before what follows on it (its
    outputs): TensorRT synchronizes the device around work enqueued on the legacy default
    stream, torch's current stream unless the caller set another (TensorRT developer guide,
    "Streaming")."""

    def __init__(self, trt, runtime, plan: bytes, device: torch.device, path: str):
        with _on(device):
            self.engine = runtime.deserialize_cuda_engine(plan)
            if self.engine is None:
                raise ConfigError(f"TensorRT could not load the engine {path} (damaged, or "
                                  "built by another TensorRT): delete its folder "
                                  f"{os.path.dirname(path)} and start again to rebuild it")
            self.context = self.engine.create_execution_context()
        self.device = device
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        # int64 I/O exists from TensorRT 9 on (8.6, JetPack 6.0, has no trt.int64)
        dtypes = {getattr(trt, n): t for n, t in (
            ("float32", torch.float32), ("float16", torch.float16), ("int32", torch.int32),
            ("int64", torch.int64), ("bool", torch.bool)) if hasattr(trt, n)}
        self.inputs: Dict[str, Tuple[Tuple[int, ...], torch.dtype]] = {}
        self.outputs: Dict[str, Tuple[Tuple[int, ...], torch.dtype]] = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            spec = (tuple(self.engine.get_tensor_shape(name)),
                    dtypes[self.engine.get_tensor_dtype(name)])
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs[name] = spec
            else:
                self.outputs[name] = spec

    def __call__(self, **feeds: torch.Tensor) -> Dict[str, torch.Tensor]:
        keep = []
        for name, (shape, dtype) in self.inputs.items():
            t = feeds[name]
            if tuple(t.shape) != shape:
                raise InputError(f"TensorRT engine input {name} has shape {shape}, got "
                                 f"{tuple(t.shape)}: the engines are built for one network "
                                 "shape, the map's camera's; localize images of that camera's "
                                 "aspect ratio (or image_size 224, a square crop)")
            t = t.to(self.device, dtype).contiguous()
            keep.append(t)
            self.context.set_tensor_address(name, t.data_ptr())
        out = {n: torch.empty(s, dtype=d, device=self.device) for n, (s, d) in
               self.outputs.items()}
        for name, t in out.items():
            self.context.set_tensor_address(name, t.data_ptr())
        if self._stream is None:  # the CPU stand-in of the tests: no stream
            ok = self.context.execute_async_v3(0)
        else:
            current = torch.cuda.current_stream(self.device)
            self._stream.wait_stream(current)  # the inputs, written on the current stream
            with _on(self.device):
                ok = self.context.execute_async_v3(self._stream.cuda_stream)
            # what follows on the current stream (reading the outputs, reusing the inputs'
            # memory once ``keep`` is freed) waits for the engine
            current.wait_stream(self._stream)
        if not ok:
            raise RuntimeError("TensorRT execution failed")
        return {n: t.float() for n, t in out.items()}


class TensorRTEngine(Mast3rEngine):
    """`Mast3rEngine` API on TensorRT engines (CUDA only; fp16 with fp32 activations).

    Differences: one network shape (others raise InputError at encode); for MASt3R, view 2's
    pointmap is not produced (``pts3d_2``/``conf_2`` are None even with ``pts3d_2=True``).
    """

    def __init__(self, engine_dir: str, spec, device: torch.device, identity: str,
                 info: Optional[CheckpointInfo] = None):
        trt = import_tensorrt()
        self.device = torch.device(device)
        self.precision = "fp16"
        self.compile = "none"
        self.backend = "tensorrt"
        self.model = None  # type: ignore[assignment]
        self.spec = spec
        self.info = info
        self.identity = identity
        self.engine_dir = engine_dir
        self.image_size: Optional[int] = None  # set by `from_checkpoint`
        self.resize_on_device = True  # CUDA only: Pillow's resize on the device (`prepare`)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        graphs = {}
        for key, f in (("enc", ENCODER_PLAN), ("dec", DECODER_PLAN)):
            path = os.path.join(engine_dir, f)
            with open(path, "rb") as fh:
                graphs[key] = _TrtGraph(trt, runtime, fh.read(), self.device, path)
        self._enc, self._dec = graphs["enc"], graphs["dec"]
        self.keyframe_batch = int(self._dec.inputs["keyframe_feats"][0][0])
        self.net_shape = tuple(self._enc.inputs["image"][0][2:])
        self._names = output_names(spec.has_descriptors)

    @classmethod
    def from_checkpoint(cls, path: str, device: str = "cuda", *, size: int,  # type: ignore
                        net_shape: Tuple[int, int], keyframe_batch: int = 1,
                        cache_dir: str = "") -> TensorRTEngine:
        """Load/build the engines for this checkpoint, size, GPU and TensorRT version; warm up.
        A start whose engines are cached does not load the checkpoint file when the cache has
        seen that very file (`engines_for_checkpoint`).

        Raises ConfigError without tensorrt, with a TensorRT that has no FP16 builder flag
        (11 and later: `require_fp16_builder`) or without CUDA, CheckpointError on a bad
        checkpoint.
        """
        # TensorRT, CUDA and the FP16 builder flag: before minutes of export or any engine read
        trt, dev = require_tensorrt_runtime(device, resolve_device)
        gpu = gpu_model(dev)
        d, info = engines_for_checkpoint(
            path, cache_dir or default_cache_dir(),
            lambda identity: cache_fields(identity, size, net_shape, keyframe_batch, gpu,
                                          trt.__version__), trt)
        eng = cls(d, info.spec, dev, info.identity, info)
        eng.image_size = int(size)  # its engines are built for this size only
        eng.warmup([tuple(net_shape)], [keyframe_batch])
        return eng

    @property
    def has_descriptors(self) -> bool:
        """As `Mast3rEngine.has_descriptors`; raises `ClosedError` after `close`."""
        self._require_open()
        return self.spec.has_descriptors

    @torch.inference_mode()
    def warmup(self, shapes: Sequence[Tuple[int, int]], batches: Sequence[int] = (1,)) -> None:
        h, w = self.net_shape
        img = PreparedImage(torch.zeros((1, 3, h, w), device=self.device), (h, w), np.eye(3),
                            (w, h), np.zeros((h, w, 3), np.uint8))
        enc = self.encode(img)
        self.decode([enc] * self.keyframe_batch, enc)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def encode(self, img: PreparedImage) -> Encoding:
        self._require_open()
        feats = self._enc(image=img.tensor)["feats"][0]
        return Encoding(feats, img.true_shape, self.identity)

    @torch.inference_mode()
    def decode(self, view1: Sequence[Encoding], view2: Encoding, *, pts3d_2: bool = False
               ) -> List[PairPrediction]:
        self._require_open()
        if not view1:
            return []
        for i, e in enumerate(view1):  # a network's features, decoded by another's: garbage
            e.check(self.spec.enc_embed_dim, f"decode's view1[{i}]", self.identity)
        view2.check(self.spec.enc_embed_dim, "decode's view2", self.identity)
        bad = [e.true_shape for e in view1 if e.true_shape != view2.true_shape]
        if bad:
            raise InputError(f"keyframe encodings of size {bad[0]} cannot be decoded against a "
                             f"query of size {view2.true_shape}: all views need one size")
        if tuple(view2.true_shape) != tuple(self.net_shape):
            raise InputError(f"query of network size {view2.true_shape} but the TensorRT "
                             f"engines are built for {self.net_shape} (the map's camera): "
                             "localize images of that camera's aspect ratio (or image_size "
                             "224, a square crop)")
        kb = self.keyframe_batch
        q = view2.feats.to(self.device)[None]
        preds: List[PairPrediction] = []
        feats = [e.feats.to(self.device) for e in view1]
        for s in range(0, len(feats), kb):
            chunk = feats[s:s + kb]
            n = len(chunk)
            out = self._dec(keyframe_feats=torch.stack(chunk + [chunk[-1]] * (kb - n)),
                            query_feats=q)
            preds += [PairPrediction(
                out["pts3d_1"][i], out["conf_1"][i], _get(out, "desc_1", i),
                _get(out, "desc_conf_1", i), _get(out, "pts3d_2", i), _get(out, "conf_2", i),
                _get(out, "desc_2", i), _get(out, "desc_conf_2", i)) for i in range(n)]
        return preds

    def close(self) -> None:
        """Release the TensorRT engines; any later call raises `ClosedError`."""
        self._enc = self._dec = None  # type: ignore[assignment]
        self._closed = True
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

