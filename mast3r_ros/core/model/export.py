"""ONNX export of the two graphs the localizer runs: the encoder, and the decoder+heads taking
cached keyframe encodings.

Shapes are static (one network size and one keyframe batch per export): TensorRT and ONNX
Runtime plan best for a fixed shape, and a camera's frames all have one size.

- ``encoder.onnx``: ``image`` (1, 3, H, W) float32 in [-1, 1] -> ``feats`` (1, N, enc_dim),
  N = (H/16)*(W/16) (after enc_norm, the `Encoding` a keyframe map caches).
- ``decoder.onnx``: ``keyframe_feats`` (K, N, enc_dim), ``query_feats`` (1, N, enc_dim) ->
  ``pts3d_1`` (K, H, W, 3) metres in keyframe camera, ``conf_1`` (K, H, W), and for MASt3R
  ``desc_1`` (K, H, W, D), ``desc_conf_1`` (K, H, W), ``desc_2``, ``desc_conf_2`` (query view);
  for DUSt3R (no descriptors) ``pts3d_2`` (K, H, W, 3) and ``conf_2`` instead, in keyframe
  camera. Outputs are float32 after the same activations as `network.postprocess`.
- ``manifest.json``: checkpoint identity (``checkpoint_identity``: every byte of the weights,
  `content_id.content_identity`; ``checkpoint_sampled_id``: the id the load log shows and maps
  key their encodings by) and model string, size, network shape, keyframe batch,
  exporter, opset, torch version, the image input's convention (``input``: RGB, NCHW,
  ``(v / 255 - 0.5) / 0.5``, the reference resize and crop), and each file's inputs/outputs
  (name, shape, dtype) and sha256.

Two of torch's exporters (`EXPORTERS`), the same graphs and outputs (both within the tolerances
of `test/unit/test_export.py`):

- ``dynamo`` (torch.export-based, opset 18; needs torch >= 2.6, where `torch.onnx.export` takes
  ``dynamo`` and ``optimize``, and onnxscript): the default where available.
- ``torchscript`` (the TorchScript tracer, opset 17; any torch 2.x, needs onnx): for NVIDIA's
  Jetson torch wheels (2.1-2.5, without a usable ``dynamo=True``) and for TensorRT 8.x
  (JetPack 6.0), whose ONNX parser reads opsets up to 17. ONNX has no Expm1 operator and this
  exporter has no rule for ``aten::expm1`` (the pointmap activation): it is written as
  ``Exp(x) - 1``, as torch's dynamo exporter (onnxscript's torchlib) writes it too.

The output folder is staged beside its final path and renamed into place, so a reader sees
either the previous export or the complete new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..durable import flush_before_publish, fsync_dir
from ..errors import ConfigError, InputError
from ..fileio import file_sha256, make_parent_folders, output_path
from ..publish import replace_folder
from .checkpoint import CheckpointInfo, model_string
from .content_id import content_identity
from .network import PATCH, AsymmetricMASt3R
from .preprocess import SIZES

log = logging.getLogger(__name__)

OPSET = 18  # the dynamo exporter's
TORCHSCRIPT_OPSET = 17  # the TorchScript exporter's newest complete opset; TensorRT 8.6's newest
EXPORTERS = ("auto", "dynamo", "torchscript")
MANIFEST = "manifest.json"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
# what an export folder holds: the two graphs (with their external-data weights past protobuf's
# 2 GB, named after the graph by torch) and the manifest; --overwrite replaces nothing else
EXPORT_NAMES = (MANIFEST, ENCODER_FILE + "*", DECODER_FILE + "*")
FORMAT_VERSION = 1
# how a camera image becomes encoder.onnx's ``image`` (a runtime other than ours must do the same)
_INPUT_CONVENTION = {
    "image": "uint8 RGB (not BGR), NCHW float32: (v / 255 - 0.5) / 0.5, so in [-1, 1]",
    "resize": "the reference's: size 224 scales the short side to 224 then crops the centre "
              "square; 512/384 scale the long side to the size (Pillow LANCZOS down, BICUBIC "
              "up) then crop the centre to multiples of 16, a square image to 4:3 "
              "(mast3r_ros.core.model.preprocess.plan_resize)",
}
# the export's stages, each said on stderr (log INFO) with its time: a fresh user's 512 export
# ran for 10 minutes without a line; the decoder+heads take most of it (dynamo's optimisation)
STAGES = ("encoder", "decoder+heads", "manifest")


def output_names(has_descriptors: bool) -> List[str]:
    """Decoder outputs in order: desc fields for MASt3R, view 2's pointmap for DUSt3R."""
    if has_descriptors:
        return ["pts3d_1", "conf_1", "desc_1", "desc_conf_1", "desc_2", "desc_conf_2"]
    return ["pts3d_1", "conf_1", "pts3d_2", "conf_2"]


class EncoderGraph(nn.Module):
    """image (1, 3, H, W) -> feats (1, N, enc_dim)."""

    def __init__(self, model: AsymmetricMASt3R):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model.encode(image)


class DecoderGraph(nn.Module):
    """(keyframe_feats (K, N, C), query_feats (1, N, C)) -> the `output_names` tensors."""

    def __init__(self, model: AsymmetricMASt3R, hw_tokens: Tuple[int, int]):
        super().__init__()
        self.model = model
        self.hw = hw_tokens
        self.names = output_names(model.spec.has_descriptors)

    def forward(self, keyframe_feats: torch.Tensor, query_feats: torch.Tensor):
        e2 = query_feats.expand(keyframe_feats.shape[0], -1, -1)
        tok1, tok2 = self.model.decode(keyframe_feats, e2, self.hw)
        dense2 = not self.model.spec.has_descriptors
        r1, r2 = self.model.heads(tok1, tok2, self.hw, dense2=dense2)
        out = {f"{k}_1": v for k, v in r1.items()}
        out.update({f"{k}_2": v for k, v in r2.items()})
        return tuple(out[n] for n in self.names)


@contextlib.contextmanager
def _stage(what: str, bar: Optional[_StageBar] = None):
    """Log stage ``what`` (one of `STAGES`) as it starts, "exporting the encoder (1/3)...", and
    its time when it ends, "encoder exported in 12.3 s"; ``bar`` (`_StageBar`) shows it on the
    terminal while it runs."""
    n = STAGES.index(what) + 1
    verb = "writing the" if what == "manifest" else "exporting the"
    with bar.paused() if bar else contextlib.nullcontext():
        log.info("%s %s (%d/%d)...", verb, what, n, len(STAGES))
    t0 = time.perf_counter()
    if bar:
        bar.start(what)
    yield
    dt = time.perf_counter() - t0
    with bar.paused() if bar else contextlib.nullcontext():
        if bar:
            bar.done()
        log.info("%s %s in %.1f s", what, "written" if what == "manifest" else "exported", dt)


# seconds between the stage bar's redraws: its elapsed times tick while torch.onnx.export, one
# opaque call of minutes on ViT-L, runs
_TICK_S = 0.5


class _StageBar:
    """A tqdm line on stderr over the export's `STAGES`: the stage running, ``(n/3)``, its
    seconds and the export's, redrawn every `_TICK_S` by a daemon thread (no percentage: the
    stages' lengths are unknown and unequal, the decoder+heads being most of the time).
    `close` (idempotent) stops the thread and clears the line; call it on every way out, Ctrl-C
    included."""

    def __init__(self) -> None:
        self._bar: Any = None  # the tqdm, made as the first stage starts (it draws at once)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._what: Optional[str] = None
        self._t0 = 0.0
        self._thread = threading.Thread(target=self._tick, name="export-progress", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=2 * _TICK_S)
        with self._lock:
            if self._bar is not None:
                self._bar.close()

    def start(self, what: str) -> None:
        with self._lock:
            if self._bar is None:
                from tqdm import tqdm

                tqdm.monitor_interval = 0  # no monitor thread (see replay.pipeline.progress)
                n = STAGES.index(what) + 1  # drawn at once: with this stage, not a bare line
                self._bar = tqdm(desc=f"export: {what} ({n}/{len(STAGES)})", postfix="0 s",
                                 file=sys.stderr, leave=False, dynamic_ncols=True,
                                 mininterval=0, bar_format="{desc}{postfix} [{elapsed} in all]")
            self._what, self._t0 = what, time.perf_counter()
            self._draw()

    def done(self) -> None:
        """The running stage finished (call it inside `paused`: the line stays cleared)."""
        self._what = None

    @contextlib.contextmanager
    def paused(self):
        """The line cleared while the block runs (a log line printed in it stands alone)."""
        with self._lock:
            if self._bar is not None:
                self._bar.clear()
            try:
                yield
            finally:
                self._draw()

    def _draw(self) -> None:
        if self._what is None or self._bar is None:  # between stages: the line stays cleared
            return
        n = STAGES.index(self._what) + 1
        self._bar.set_description_str(f"export: {self._what} ({n}/{len(STAGES)})",
                                      refresh=False)
        self._bar.set_postfix_str(f"{time.perf_counter() - self._t0:.0f} s", refresh=False)
        self._bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(_TICK_S):
            with self._lock:
                self._draw()


@dataclasses.dataclass(frozen=True)
class ExportResult:
    out_dir: str
    manifest: Dict


def _io(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> List[Dict]:
    return [{"name": n, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
            for n, t in zip(names, tensors)]


def _outputs(stage: str, file: str, module: nn.Module, args: Tuple[torch.Tensor, ...],
             names: Sequence[str]) -> List[Dict]:
    """The manifest's output entries (name, shape, dtype) of the graph ``file`` in ``stage``:
    read from the ONNX file, where both exporters write each output's static shape and dtype;
    from a PyTorch forward of ``module`` only when the file does not give them all.

    (The forward ran for every export before: 10-16 s of the tiny network's decoder on a busy
    2-core CPU, a third of a TorchScript export, which traces that forward once more anyway.)"""
    got = _graph_outputs(os.path.join(stage, file))
    if got is not None and [o["name"] for o in got] == list(names):
        return got
    with torch.inference_mode():
        outs = module(*args)
    return _io(names, outs if isinstance(outs, tuple) else (outs,))


def _graph_outputs(path: str) -> Optional[List[Dict]]:
    """``[{name, shape, dtype}]`` of the ONNX graph's outputs (its weights are not read), or None
    when one has no static shape or dtype, or the file is no ONNX model."""
    try:
        import onnx
        from onnx.helper import tensor_dtype_to_np_dtype

        graph = onnx.load(path, load_external_data=False).graph
        out = []
        for o in graph.output:
            t = o.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            if not t.elem_type or not t.HasField("shape") or None in dims:
                return None
            out.append({"name": o.name, "shape": dims,
                        "dtype": str(tensor_dtype_to_np_dtype(t.elem_type))})
    except Exception:  # noqa: BLE001 -- any unreadable graph: the caller runs the forward
        return None
    return out


# The exporter's noise on every run, none of it about our graphs: its op registry warns once per
# torchvision op it skips when torchvision is not installed (we export no torchvision op; torch
# logs it through its own stderr handler, so logger levels do not reach it), and torch's pytree
# code warns that `isinstance(treespec, LeafSpec)` is deprecated (torch 2.9+ internals).
_REGISTRY_LOGGER = "torch.onnx._internal.exporter._registration"
_LEAFSPEC_WARNING = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


class _DropTorchvisionSkips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("torchvision is not installed")


@contextlib.contextmanager
def _quiet_exporter():
    """Silence exactly the exporter's torchvision-skip log lines and the LeafSpec FutureWarning
    while the block runs; every other warning and log line passes."""
    registry = logging.getLogger(_REGISTRY_LOGGER)
    drop = _DropTorchvisionSkips()
    registry.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_LEAFSPEC_WARNING, category=FutureWarning)
            yield
    finally:
        registry.removeFilter(drop)


def dynamo_exporter_available() -> bool:
    """True when this torch's `torch.onnx.export` takes ``dynamo`` and ``optimize`` (torch >=
    2.6; 2.5 has ``dynamo`` only, with an exporter that needs its own optimisation pass)."""
    params = inspect.signature(torch.onnx.export).parameters
    return "dynamo" in params and "optimize" in params


def resolve_exporter(exporter: str = "auto") -> Tuple[str, int]:
    """``(exporter, opset)`` for one of `EXPORTERS`: 'auto' is 'dynamo' where this torch has it
    (`dynamo_exporter_available`) and onnxscript imports, else 'torchscript' (which needs only
    onnx). Raises ConfigError for an unknown name or 'dynamo' on a torch without it."""
    if exporter not in EXPORTERS:
        raise ConfigError(f"ONNX exporter must be one of {list(EXPORTERS)}, got {exporter!r}")
    if exporter == "auto":  # dynamo needs onnxscript; TorchScript needs only onnx
        exporter = ("dynamo" if dynamo_exporter_available() and _importable("onnxscript")
                    else "torchscript")
    if exporter == "dynamo" and not dynamo_exporter_available():
        raise ConfigError(f"the dynamo ONNX exporter needs torch >= 2.6 (this is "
                          f"{torch.__version__}): use the 'torchscript' exporter "
                          "(--exporter torchscript)")
    return exporter, OPSET if exporter == "dynamo" else TORCHSCRIPT_OPSET


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def require_onnx(exporter: str = "auto") -> None:
    """Raise ConfigError (with the install line) unless the packages ``exporter`` needs import:
    onnxscript (which requires onnx) for 'dynamo', onnx for 'torchscript'; call it before
    loading a checkpoint for an export."""
    name = "onnxscript" if resolve_exporter(exporter)[0] == "dynamo" else "onnx"
    # the TorchScript exporter (asked for, or the only one a torch < 2.6 has) needs onnx only
    pkgs = ("onnx" if exporter == "torchscript" or not dynamo_exporter_available()
            else "onnx onnxscript")
    try:
        __import__(name)
    except ImportError:
        raise ConfigError(f"ONNX export needs the {name} package: pip install {pkgs} "
                          "(or pip install -e '.[onnx]' in the checkout); on a ROS or Jetson "
                          "machine keep its numpy and torch: pip list --format=freeze | "
                          "grep -i -E '^(numpy|torch)==' > /tmp/keep.txt && pip install -c "
                          f"/tmp/keep.txt {pkgs} (README, 'Install')") from None


def _expm1_symbolic(g, x):
    """``aten::expm1`` for the TorchScript exporter: Exp(x) - 1 (ONNX has no Expm1)."""
    return g.op("Sub", g.op("Exp", x), g.op("Constant", value_t=torch.tensor(1.0)))


@contextlib.contextmanager
def _torchscript_rules(opset: int):
    """`_expm1_symbolic` registered for the block (torch has no rule of its own), removed after."""
    from torch.onnx import register_custom_op_symbolic, unregister_custom_op_symbolic

    register_custom_op_symbolic("aten::expm1", _expm1_symbolic, opset)
    try:
        with warnings.catch_warnings():
            # the tracer notes each Python-level shape test it freezes: the graphs are static
            # by design (one network size per export)
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            # torch >= 2.9 calls this exporter legacy (chosen here on purpose: see the module)
            for msg in (".*legacy TorchScript-based ONNX export", "The feature will be removed"):
                warnings.filterwarnings("ignore", message=msg, category=DeprecationWarning)
            yield
    finally:
        unregister_custom_op_symbolic("aten::expm1", opset)


def _onnx_export(module: nn.Module, args: Tuple[torch.Tensor, ...], path: str,
                 in_names: Sequence[str], out_names: Sequence[str], opset: int,
                 exporter: str = "dynamo") -> None:
    require_onnx(exporter)
    if exporter == "torchscript":
        kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters \
            else {}
        with _torchscript_rules(opset):
            torch.onnx.export(module, args, path, input_names=list(in_names),
                              output_names=list(out_names), opset_version=opset,
                              do_constant_folding=True, **kw)
        return
    with _quiet_exporter():
        prog = torch.onnx.export(module, args, dynamo=True, input_names=list(in_names),
                                 output_names=list(out_names), opset_version=opset,
                                 optimize=True, verbose=False)
    # Weights go to an external-data file beside the graph when over protobuf's 2 GB limit.
    prog.save(path)


def export_onnx(model: AsymmetricMASt3R, out_dir: str, *, size: int,
                net_shape: Tuple[int, int], keyframe_batch: int = 1,
                info: Optional[CheckpointInfo] = None, exporter: str = "auto",
                progress: bool = False) -> ExportResult:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``manifest.json`` to ``out_dir``.

    ``size``: the configured image size (512, 384 or 224); ``net_shape`` (H, W) the network
    pixels it gives (`engine.network_shape`); ``keyframe_batch`` K >= 1 the decoder's batch.
    ``exporter``: one of `EXPORTERS` (`resolve_exporter`; it fixes the opset: 18 or 17).
    An existing ``out_dir`` is replaced only when it is an earlier export or empty
    (`check_export_target`); the folder is written whole or not at all.
    ``model`` is traced on the CPU with CPU inputs (load it there: `load_checkpoint`) and is
    converted to float32 and eval mode in place (``nn.Module.float``). Raises InputError on a
    bad size/shape/batch or an ``out_dir`` that is not an export, ConfigError for an exporter
    this torch lacks or when onnx/onnxscript are missing, OSError (naming ``out_dir``) when
    its parent folder cannot be written. ``progress``: a line on stderr (`_StageBar`) showing
    the stage running and its seconds, ticking while torch's exporter runs (the CLI passes
    `progress_output.progress_shown`, as for the other commands' bars).
    """
    out_dir = output_path(out_dir)  # a link to an export folder: its folder is replaced
    check_export_target(out_dir)
    if size not in SIZES:
        raise InputError(f"export size must be one of {SIZES}, got {size}")
    h, w = (int(v) for v in net_shape)
    if h % PATCH or w % PATCH or h <= 0 or w <= 0:
        raise InputError(f"network shape {w}x{h} must be positive multiples of {PATCH}")
    if keyframe_batch < 1:
        raise InputError(f"keyframe batch must be >= 1, got {keyframe_batch}")
    exporter, opset = resolve_exporter(exporter)
    t0 = time.perf_counter()
    model = model.float().eval()
    spec = model.spec
    text = info.model_string if info else model_string(spec)
    # every byte of the weights (a one-value fine-tune is another model); seconds for ViT-L
    content = (info.content_id if info and info.content_id
               else content_identity(model.state_dict(), model_string(spec)))  # canonical
    hw = (h // PATCH, w // PATCH)
    n = hw[0] * hw[1]
    gen = torch.Generator().manual_seed(0)
    image = torch.rand((1, 3, h, w), generator=gen) * 2 - 1
    kf = torch.randn((keyframe_batch, n, spec.enc_embed_dim), generator=gen)
    q = torch.randn((1, n, spec.enc_embed_dim), generator=gen)
    enc, dec = EncoderGraph(model).eval(), DecoderGraph(model, hw).eval()
    parent = os.path.dirname(out_dir)
    try:
        make_parent_folders(out_dir)
        stage = tempfile.mkdtemp(prefix=".tmp-export-", dir=parent)
    except OSError as e:  # name the folder asked for, not our staging folder beside it
        raise OSError(e.errno, e.strerror or str(e), out_dir) from None
    bar = _StageBar() if progress else None
    try:
        with torch.no_grad():
            with _stage("encoder", bar):
                _onnx_export(enc, (image,), os.path.join(stage, ENCODER_FILE), ["image"],
                             ["feats"], opset, exporter)
            with _stage("decoder+heads", bar):
                _onnx_export(dec, (kf, q), os.path.join(stage, DECODER_FILE),
                             ["keyframe_feats", "query_feats"], dec.names, opset, exporter)
        with _stage("manifest", bar):
            manifest = {
                "format": "mast3r_ros-onnx", "format_version": FORMAT_VERSION,
                "checkpoint_identity": content,
                "checkpoint_sampled_id": info.identity if info else "unsaved-model",
                "model_string": text,
                "arch": spec.arch, "size": int(size), "net_shape_hw": [h, w],
                "keyframe_batch": int(keyframe_batch), "exporter": exporter, "opset": int(opset),
                "torch": torch.__version__, "dtype": "float32",
                "input": _INPUT_CONVENTION,
                "files": {
                    "encoder": {"file": ENCODER_FILE, "inputs": _io(["image"], [image]),
                                "outputs": _outputs(stage, ENCODER_FILE, enc, (image,),
                                                    ["feats"])},
                    "decoder": {"file": DECODER_FILE,
                                "inputs": _io(["keyframe_feats", "query_feats"], [kf, q]),
                                "outputs": _outputs(stage, DECODER_FILE, dec, (kf, q),
                                                    dec.names)},
                },
            }
            for entry in manifest["files"].values():
                entry["sha256"] = file_sha256(os.path.join(stage, entry["file"]))
            with open(os.path.join(stage, MANIFEST), "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=2)
                fh.write("\n")
        if bar:
            bar.close()
        _replace_dir(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if bar:  # a Ctrl-C or an error: the ticking thread stopped, the line cleared
            bar.close()
    log.info("exported %s at %dx%d (K=%d, %s exporter, opset %d) to %s in %.1f s", spec.arch,
             w, h, keyframe_batch, exporter, opset, out_dir, time.perf_counter() - t0)
    return ExportResult(out_dir, manifest)


def check_export_target(out_dir: str) -> None:
    """Refuse, before any work, an ``out_dir`` that an export would wrongly replace: a plain
    file, or a non-empty folder that is not an ONNX export (no ``manifest.json`` of format
    ``mast3r_ros-onnx``: a keyframe map, a run folder, a user's folder) or that holds files an
    export does not write (`EXPORT_NAMES`: a user's notes are never deleted). An ONNX export or
    an empty folder may be replaced; a missing one is created. Raises `InputError` naming
    it."""
    if not os.path.lexists(out_dir):
        return
    if not os.path.isdir(out_dir):
        raise InputError(f"export target {out_dir} exists and is not a folder (choose another "
                         "--out)")
    names = sorted(os.listdir(out_dir))
    if not names:
        return
    try:
        read_manifest(out_dir)
    except InputError:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise InputError(f"export target {out_dir} is not an ONNX export (no mast3r_ros-onnx "
                         f"{MANIFEST}; it holds {shown}), so it is not replaced: choose another "
                         "--out") from None
    foreign = [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in EXPORT_NAMES)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputError(f"export target {out_dir} holds {shown}, which an export does not "
                         "write, so it is not replaced: move them out of it, or choose another "
                         "--out")


def _replace_dir(stage: str, out_dir: str) -> None:
    """Rename the complete ``stage`` folder to ``out_dir``, replacing an existing export
    (`check_export_target` says which folders may be replaced; checked again here, as the
    folder may have changed while the model was exported). The files' data is flushed to disk
    first (`flush_before_publish`: OSError naming ``out_dir`` when it cannot be written)."""
    os.chmod(stage, 0o755)
    check_export_target(out_dir)
    flush_before_publish(stage, out_dir)  # not a folder of zero-length graphs after a power cut
    replace_folder(stage, out_dir)  # the old export is restored if the rename fails
    fsync_dir(os.path.dirname(out_dir))


def read_manifest(out_dir: str) -> Dict:
    """The manifest of an export folder; InputError when missing, unreadable or not an export
    (a JSON object whose ``format`` is ``mast3r_ros-onnx``)."""
    path = os.path.join(out_dir, MANIFEST)
    try:
        with open(path, encoding="utf-8") as fh:
            m = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path} not found: not an ONNX export folder "
                         "(write one with `mast3r-ros export`)") from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    if not isinstance(m, dict) or m.get("format") != "mast3r_ros-onnx":  # another tool's
        raise InputError(f"{path} is not a mast3r_ros ONNX manifest")
    return m
