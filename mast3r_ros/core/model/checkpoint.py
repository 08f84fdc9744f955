"""Safe loading of MASt3R / DUSt3R checkpoints.

Accepted layouts:

* the official ``.pth`` (a ``torch.save`` dict ``{'model': state_dict, 'args': Namespace}`` whose
  ``args.model`` is the constructor string),
* a bare state dict (architecture inferred from the tensor shapes; the attention heads cannot
  be, so they are assumed 64 wide, as in the official ViT-L/B checkpoints, with a WARNING that
  names the file and the heads assumed),
* a Hugging Face folder (``config.json`` with the constructor kwargs + ``model.safetensors``
  or ``pytorch_model.bin``), or its weights file given itself with ``config.json`` beside it
  (`huggingface.huggingface_files`).

In each, a wrapper's prefix on every key (``module.``: DataParallel / DDP; ``_orig_mod.``:
torch.compile; ``model.``: a training wrapper) is removed with a logged note. Weights a training
script saved under ``'model'``, ``'state_dict'`` (Lightning) or ``'model_state_dict'`` are read
with the ``args`` beside them, or as the bare state dict they are when no ``args.model`` is. Any
file that cannot be read (empty, truncated, not a torch.save archive, or a reader error with an
empty message) gives one ``CheckpointError`` line; a whole pickle that torch's weights-only
reader refuses (a forbidden global, or pickle instructions a plain checkpoint never holds) is
refused as such instead.

Nothing read from a file is ever executed: pickles are read with ``weights_only=True`` and only
``argparse.Namespace`` allow-listed (a restricted unpickler on torch < 2.4), and the constructor
string is parsed by keyword with a literal-only AST walk (numbers, strings, tuples, ``inf``,
unary minus).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import os
import pickle
import warnings
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from ..devices import resolve_device
from ..errors import CheckpointError
from .model_string import (CLASS_ARCH, model_string, parse_model_string,  # noqa: F401
                           spec_from_kwargs, spec_named_by)  # re-exported: the string's module
from .file_format import pickle_is_whole, read_failure
from .finite_weights import refuse_non_finite
from .safetensors_records import safetensors_problem
from .given_as import FLAGS, given_here, GivenAs
from .reader_reason import reader_reason as _reader_reason
from .huggingface import (CONFIG_FILE, WEIGHT_FILES, folder_weights, huggingface_files,
                          is_safetensors_file)
from .network import AsymmetricMASt3R, ModelSpec
from .plain_pickle import (archive_args, describe_export_folder, describe_map_folder,
                           describe_model_format, describe_plain_pickle, describe_text_file,
                           refuse_empty_or_text)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: the architecture, the source layout and a content fingerprint."""

    spec: ModelSpec
    layout: str  # 'official', 'state_dict' or 'huggingface'
    model_string: str
    identity: str  # stable id of the weights: sha256 over keys, shapes and sampled values
    # every byte of the weights (`content_id.content_identity`): the TensorRT cache key and the
    # export manifest's id; "" until computed (`content_id.with_content_id`, seconds for ViT-L)
    content_id: str = ""


# ------------------------------------------------------------------------ reading files
class _RestrictedUnpickler(pickle.Unpickler):
    """For torch < 2.4 (no safe_globals): only tensors, OrderedDict and Namespace."""

    _ALLOWED = {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                ("torch._utils", "_rebuild_parameter"), ("argparse", "Namespace"),
                ("torch", "Size"), ("torch", "DoubleStorage"), ("torch", "FloatStorage")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden")


class _RestrictedPickleModule:
    Unpickler = _RestrictedUnpickler
    load = staticmethod(lambda f, **kw: _RestrictedUnpickler(f, **kw).load())
    __name__ = "restricted_pickle"


def load_torch_file(path: str, force_restricted: bool = False) -> Any:
    """torch.load that executes nothing: weights_only + allow-listed argparse.Namespace (on torch
    without ``safe_globals``, or with ``force_restricted``, a restricted unpickler that admits
    tensors, storages, OrderedDict and Namespace only). Raises what torch.load raises
    (``pickle.UnpicklingError`` for a forbidden global); the callers word the error."""
    ser = torch.serialization
    with warnings.catch_warnings():
        # a plain pickle.dump file (protocol 4+) makes the weights-only reader warn before it
        # refuses the file; the refusal is the one message (`read_torch_archive`)
        warnings.filterwarnings("ignore", message="Detected pickle protocol",
                                category=UserWarning)
        # a TorchScript module: refused below (weights_only), and named (describe_model_format)
        warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive",
                                category=UserWarning)
        if not force_restricted and hasattr(ser, "safe_globals"):
            with ser.safe_globals([argparse.Namespace]):
                return torch.load(path, map_location="cpu", weights_only=True)
        if not force_restricted and hasattr(ser, "add_safe_globals"):
            ser.add_safe_globals([argparse.Namespace])
            return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=_RestrictedPickleModule)


def _is_refusal(err: BaseException, path: str) -> bool:
    """Whether an unpickling error is the safety refusal of the file's contents (a global: code
    the file would run; or pickle instructions torch's weights-only reader does not accept) in a
    whole pickle, as opposed to a pickle that is damaged or cut short (its bytes, not what it
    names, stopped the reader: "Unsupported operand 103" from garbage, a global whose name was
    cut in half) or not a pickle at all (`file_format.pickle_is_whole`)."""
    if not isinstance(err, pickle.UnpicklingError):
        return False
    return ("global" in _reader_reason(err).lower() or "Weights only load failed" in str(err)
            ) and pickle_is_whole(path)


def _size_text(n: int) -> str:
    if n >= 10**6:
        return f"{n / 10**9:.2f} GB" if n >= 10**9 else f"{n / 10**6:.1f} MB"
    return "1 byte" if n == 1 else f"{n} bytes"


def read_torch_archive(path: str, what: str, refusal: str, force_restricted: bool = False
                       ) -> Any:
    """`load_torch_file` with its failures worded as one complete `CheckpointError` line:
    ``{path}: refused to unpickle ({reason}): the file holds objects outside a plain checkpoint
    (...). {refusal}`` when the weights-only reader refuses a whole pickle (a forbidden global,
    or instructions a torch.save checkpoint never holds, e.g. a plain ``pickle.dump`` file), else
    ``{path}: cannot read the {what} ({size}, {found}); the file is truncated or not a
    checkpoint: download or copy it again`` where the file is shown to be empty, cut short,
    damaged or not a torch.save archive (``found`` is what the file is in our words,
    `file_format.read_failure`; torch's whole text goes to the debug log), else ``{path}: cannot
    read the {what} ({size}): {reason} (the file's records are whole: copying it again
    will not help)`` with torch's reason (out of memory, a format of a newer torch). A plain
    ``pickle.dump`` of harmless
    data (the ASMK codebook, a dict) is named as such instead (`plain_pickle`: "this is the ASMK
    codebook ..., pass it as --codebook"). Nothing in the file is run."""
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError(f"{path}: cannot read the {what} (empty file, 0 bytes); the file "
                              "is truncated or not a checkpoint: download or copy it again")
    try:
        return load_torch_file(path, force_restricted)
    except Exception as e:  # noqa: BLE001 - any reader failure is one clean refusal
        log.debug("%s: torch.load failed: %s", path, e)
        plain = describe_plain_pickle(path, what)  # e.g. the codebook: say what it is
        if plain:
            raise CheckpointError(f"{path}: {plain}") from None
        if _is_refusal(e, path):
            kind = "" if zipfile.is_zipfile(path) else (
                "is a plain pickle, not a torch.save zip archive, and ")
            raise CheckpointError(f"{path}: refused to unpickle ({_reader_reason(e)}): the file "
                                  f"{kind}holds objects outside a plain checkpoint (torch's "
                                  f"weights-only load failed; nothing in it was run). {refusal}"
                                  ) from None
        text = describe_text_file(path, what)  # rgb.txt, a YAML, a Git LFS pointer, a web page
        if text is None:  # a TorchScript module, an ONNX model, a TensorRT engine, a .npz
            text = describe_model_format(path, what)
        if text is not None:
            raise CheckpointError(f"{path}: cannot read the {what}: {text}") from None
        found = read_failure(path)
        if found is None:  # whole as written: a copy fails alike (out of memory, a newer torch)
            raise CheckpointError(f"{path}: cannot read the {what} ({_size_text(size)}): "
                                  f"{_reader_reason(e)} (the file's records are whole: "
                                  "copying it again will not help)") from None
        raise CheckpointError(f"{path}: cannot read the {what} ({_size_text(size)}, {found}); "
                              "the file is truncated or not a checkpoint: download or copy it "
                              "again") from None


# key prefixes of wrappers around the network, each removed when *every* key has it: a
# DataParallel / DDP wrapper, torch.compile's module, a training wrapper's .model (Lightning)
_WRAPPER_PREFIXES = {"module.": "a DataParallel/DDP wrapper", "_orig_mod.": "torch.compile",
                     "model.": "a training wrapper holding it as .model"}


def strip_wrapper_prefix(sd: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """Remove a wrapper's key prefix shared by *every* key, repeatedly (`_WRAPPER_PREFIXES`: a
    DataParallel / DistributedDataParallel wrapper saved with ``model.state_dict()`` instead of
    ``model.module.state_dict()``, a torch.compile'd model, both); logged. A prefix on only some
    keys is left alone, so the key check names them."""
    out = dict(sd)
    while out:
        prefix = next((p for p in _WRAPPER_PREFIXES
                       if all(isinstance(k, str) and k.startswith(p) for k in out)), None)
        if prefix is None:
            break
        out = {k[len(prefix):]: v for k, v in out.items()}
        log.info("%s: every key starts with '%s' (saved from %s); prefix removed", where,
                 prefix, _WRAPPER_PREFIXES[prefix])
    return out


# keys a training script saves the weights under, beside its 'args' (dust3r: 'model'; a
# training framework, Lightning: 'state_dict'; the PyTorch tutorials: 'model_state_dict')
_WEIGHT_KEYS = ("model", "state_dict", "model_state_dict")

_REFUSAL = ("A MASt3R/DUSt3R checkpoint holds only tensors and an argparse.Namespace: this file "
            "is not an official one, or it was crafted to run code; use the official file (see "
            "README: 'Model weights')")


def _read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """A safetensors file's tensors (on the CPU); `CheckpointError` naming the file when the
    package is missing or the file cannot be read: "download or copy it again" only where its
    header shows it cut short or damaged (`safetensors_records.safetensors_problem`), else the
    reader's own reason (out of memory)."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise CheckpointError(f"{path}: reading a safetensors file needs the 'safetensors' "
                              "package: pip install safetensors") from None
    try:
        return load_file(path, device="cpu")
    except Exception as e:  # noqa: BLE001 - any reader failure is one clean refusal
        log.debug("%s: safetensors failed: %s", path, e)
        try:
            found = safetensors_problem(path)
        except OSError:
            found = None
        size = _size_text(os.path.getsize(path))
        if found is None:  # whole as its header says: a copy fails alike (out of memory)
            raise CheckpointError(f"{path}: cannot read the safetensors file ({size}): "
                                  f"{_reader_reason(e)} (the file's records are whole: copying "
                                  "it again will not help)") from None
        raise CheckpointError(f"{path}: cannot read the safetensors file ({size}, {found}); "
                              "the file is truncated or damaged: download or copy it again"
                              ) from None


def _retrieval_given_as_network(path: str, given: Optional[GivenAs] = None) -> str:
    """The one-line refusal of the retrieval head's checkpoint given as the network's."""
    given = given_here(given)
    return (f"{path} is a MASt3R retrieval checkpoint, not the network: pass it as "
            f"{given.retrieval_as}, and the MASt3R network .pth as {given.checkpoint}")


def _refuse_other_kind(path: str, given: Optional[GivenAs] = None) -> None:
    """`CheckpointError` for a file that is another checkpoint than the network's, told cheaply
    (`require_checkpoint`): the retrieval head's torch.save archive (its ``args`` alone are read,
    `archive_args`) or a plain pickle such as the ASMK codebook (`describe_plain_pickle`; a
    legacy torch.save file stops at its first record). ``build-map --checkpoint CODEBOOK`` read
    and checked the whole recording (minutes on a bag) before loading the file said so."""
    given = given_here(given)
    if is_safetensors_file(path):  # tensors and a JSON header: neither kind, no pickle to read
        return
    if zipfile.is_zipfile(path):
        args = archive_args(path)
        if (args is not None and not isinstance(getattr(args, "model", None), str)
                and hasattr(args, "nclusters")):
            raise CheckpointError(_retrieval_given_as_network(path, given))
        return
    plain = describe_plain_pickle(path, "checkpoint", given)
    if plain:
        raise CheckpointError(f"{path}: {plain}")


def _read_official_or_bare(path: str, force_restricted: bool = False,
                           bare_model_string: Optional[str] = None):
    obj = (_read_safetensors(path) if is_safetensors_file(path)
           else read_torch_archive(path, "checkpoint", _REFUSAL, force_restricted))
    key = next((k for k in _WEIGHT_KEYS if isinstance(obj, Mapping) and isinstance(
        obj.get(k), Mapping)), None)
    args = obj.get("args") if key else None  # a Namespace, or a dict (a script's vars(args))
    args = argparse.Namespace(**args) if isinstance(args, Mapping) and all(
        isinstance(k, str) for k in args) else args
    text = getattr(args, "model", None) if args is not None else None
    if args is not None and not isinstance(text, str) and hasattr(args, "nclusters"):
        raise CheckpointError(_retrieval_given_as_network(path))
    if key and isinstance(text, str):
        spec = spec_named_by(f"{path}: its constructor string (args.model)", text)
        return strip_wrapper_prefix(obj[key], path), spec, "official", text
    if key:  # the weights without their constructor string: read as a bare state dict
        obj = obj[key]
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = strip_wrapper_prefix(obj, path)
        if bare_model_string:
            spec = spec_from_kwargs(*parse_model_string(bare_model_string))
        else:
            spec = infer_spec(sd, path)
            log.warning(
                "%s: a bare state dict (no 'args' with the model's constructor string): the "
                "number of attention heads cannot be read from weight shapes, so 64-wide heads "
                "are assumed (enc_num_heads=%d, dec_num_heads=%d), true of the official ViT-L/B "
                "checkpoints; weights trained with other heads give wrong outputs. To avoid the "
                "guess, use the official checkpoint file (it has 'args'), or a Hugging Face "
                "folder (model.safetensors + config.json with the constructor arguments, "
                "enc_num_heads and dec_num_heads among them)",
                path, spec.enc_num_heads, spec.dec_num_heads)
        return sd, spec, "state_dict", model_string(spec)
    what = (f"a dict with keys {', '.join(repr(k) for k in list(obj)[:6])}" if isinstance(
        obj, Mapping) and obj else type(obj).__name__)
    raise CheckpointError(f"{path}: expected {{'model', 'args'}} or a state dict of tensors, "
                          f"got {what}: no MASt3R or DUSt3R weights in it; use the official "
                          "MASt3R or DUSt3R checkpoint (README: 'Model weights')")


def _require_huggingface_files(folder: str, given: Optional[GivenAs] = None) -> None:
    """`CheckpointError` unless ``folder`` holds config.json and the weights (model.safetensors
    or pytorch_model.bin), naming a keyframe map, or the .pth files the folder holds, as what to
    give instead."""
    given = given_here(given)
    config = os.path.join(folder, CONFIG_FILE)
    missing = (None if folder_weights(folder) and os.path.isfile(config) else
               f"no {CONFIG_FILE} beside a {WEIGHT_FILES[0]}" if folder_weights(folder) else
               f"no {' or '.join(WEIGHT_FILES)} beside a {CONFIG_FILE}" if os.path.isfile(config)
               else f"no {CONFIG_FILE} beside a {WEIGHT_FILES[0]}")
    if missing:
        files = sorted(n for n in os.listdir(folder) if n.endswith((".pth", ".pt")))
        more = f" and {len(files) - 3} more" if len(files) > 3 else ""
        hint = (f"; it holds {files[0]}: give that file" if len(files) == 1 else
                f"; it holds {', '.join(files[:3])}{more}: give one of these files (the "
                "MASt3R network, not the *_retrieval_* ones)" if files else
                "; give the checkpoint file (.pth) instead")
        raise CheckpointError(describe_map_folder(folder) or describe_export_folder(
            folder, given) or (
            f"{folder} is a folder but not a Hugging Face checkpoint ({missing}){hint}"))


def _read_huggingface(path: str):
    """A Hugging Face folder, or its weights file with config.json beside it
    (`huggingface_files`) -> (state dict, spec, 'huggingface', model string)."""
    if os.path.isdir(path):
        _require_huggingface_files(path)
    cfg_path, weights_path = huggingface_files(path)
    if not os.path.isdir(path):
        log.info("%s: read with the constructor arguments of %s beside it (a Hugging Face "
                 "checkpoint)", path, cfg_path)
    try:
        with open(cfg_path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except Exception as e:  # noqa: BLE001 - any parse error becomes one clear message
        raise CheckpointError(f"{cfg_path}: cannot read the Hugging Face config: "
                              f"{_reader_reason(e)}") from None
    if is_safetensors_file(weights_path):
        sd: Any = _read_safetensors(weights_path)
    else:  # pytorch_model.bin: a torch.save state dict
        sd = read_torch_archive(weights_path, "checkpoint", _REFUSAL)
        if not (isinstance(sd, Mapping) and sd and all(isinstance(v, torch.Tensor)
                                                        for v in sd.values())):
            raise CheckpointError(f"{weights_path}: expected a state dict of tensors, got "
                                  f"{type(sd).__name__}")
    sd = strip_wrapper_prefix(sd, path)
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{cfg_path}: expected a JSON object of constructor arguments")
    cls = cfg.get("_class_name") or ("AsymmetricMASt3R" if "desc" in str(cfg.get("output_mode"))
                                     else "AsymmetricCroCo3DStereo")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()
              if not k.startswith("_")}
    spec = spec_named_by(f"{cfg_path}: its constructor arguments", (cls, kwargs))
    return sd, spec, "huggingface", model_string(spec)


def infer_spec(sd: Mapping[str, torch.Tensor], where: str = "state dict") -> ModelSpec:
    """Architecture of a bare state dict from its shapes (attention heads assumed 64 wide: they
    cannot be inferred from shapes). ``where`` (the file) names it in errors. Raises
    `CheckpointError` when the state dict is not a MASt3R/DUSt3R model's."""
    try:
        enc = sd["patch_embed.proj.weight"].shape[0]
        dec = sd["decoder_embed.weight"].shape[0]
    except KeyError as e:
        raise CheckpointError(
            f"{where}: the state dict has no {e.args[0]!r}: not a MASt3R/DUSt3R model; pass a "
            "MASt3R/DUSt3R checkpoint (see README: 'Model weights')") from None
    depth = lambda p: len({k.split(".")[1] for k in sd if k.startswith(p)})  # noqa: E731
    kw: Dict[str, Any] = dict(enc_embed_dim=enc, enc_depth=depth("enc_blocks."),
                              enc_num_heads=max(1, enc // 64), dec_embed_dim=dec,
                              dec_depth=depth("dec_blocks."), dec_num_heads=max(1, dec // 64),
                              patch_size=sd["patch_embed.proj.weight"].shape[-1])
    fc2 = sd.get("downstream_head1.head_local_features.fc2.weight")
    if fc2 is None:
        return spec_named_by(f"{where}: its weights' shapes", ("AsymmetricCroCo3DStereo", kw))
    kw.update(output_mode=f"pts3d+desc{fc2.shape[0] // 256 - 1}", two_confs=True,
              desc_conf_mode=("exp", 0, math.inf))
    return spec_named_by(f"{where}: its weights' shapes", ("AsymmetricMASt3R", kw))


# ------------------------------------------------------------------------ state dicts
def _alias_pairs(keys) -> Dict[str, str]:
    """DPT convolutions stored under two names: 'layer{k}_rn' <-> 'layer_rn.{k-1}'."""
    pairs = {}
    for k in keys:
        for i in range(1, 5):
            a = f".dpt.scratch.layer{i}_rn.weight"
            if k.endswith(a):
                pairs[k] = k[: -len(a)] + f".dpt.scratch.layer_rn.{i - 1}.weight"
    return pairs


def check_state_dict(model: torch.nn.Module, sd: Dict[str, torch.Tensor], where: str
                     ) -> Dict[str, torch.Tensor]:
    """Return a state dict that loads strictly into ``model``, or raise naming the first offender.

    Missing DPT alias names are filled from their twin (safetensors stores shared tensors once);
    present twins must be equal. A file without any ``dec_blocks2`` key gets a copy of
    ``dec_blocks`` (CroCo-pretrain files), as the reference does. Raises `CheckpointError` for
    a missing, unexpected or wrongly shaped key, or differing alias twins.
    """
    sd = dict(sd)
    expected = model.state_dict()
    for a, b in _alias_pairs(expected).items():
        if a in sd and b in sd:
            if sd[a].shape != sd[b].shape or not torch.equal(sd[a], sd[b]):
                raise CheckpointError(f"{where}: aliased DPT weights '{a}' and '{b}' differ")
        elif a in sd:
            sd[b] = sd[a]
        elif b in sd:
            sd[a] = sd[b]
    if not any(k.startswith("dec_blocks2.") for k in sd):
        sd.update({"dec_blocks2." + k[len("dec_blocks."):]: v for k, v in list(sd.items())
                   if k.startswith("dec_blocks.")})
    sd.setdefault("mask_token", torch.zeros(expected["mask_token"].shape))
    for k, v in expected.items():
        if k not in sd:
            raise CheckpointError(f"{where}: missing key '{k}' (expected shape "
                                  f"{tuple(v.shape)}): the file is for another architecture")
        if tuple(sd[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{where}: key '{k}' has shape {tuple(sd[k].shape)}, "
                                  f"the architecture in the file needs {tuple(v.shape)}")
    extra = [k for k in sd if k not in expected]
    if extra:
        raise CheckpointError(f"{where}: unexpected key '{extra[0]}' ({len(extra)} in all): "
                              "the file is for another architecture")
    return sd


def fingerprint(sd: Mapping[str, torch.Tensor], text: str) -> str:
    """Content id of the weights: keys, shapes and ~1k strided values of every tensor (cast to
    float32: a bf16 file and its float32 copy agree), and ``text``, the architecture's
    canonical constructor string (`model_string` of the spec), so that the same weights give
    one id whatever the file layout (official ``{'model', 'args'}`` whose args.model lists its
    kwargs in another order, a bare state dict, a Hugging Face folder). 16 hex chars; 0.1 s
    for ViT-L (it reads ~1k values of each of its tensors; every byte: `content_id`)."""
    h = hashlib.sha256(text.encode())
    for k in sorted(sd):
        t = sd[k].detach().reshape(-1)
        step = max(1, t.numel() // 1024)
        h.update(k.encode() + str(tuple(sd[k].shape)).encode())
        h.update(t[::step].to(torch.float32).cpu().numpy().tobytes())
    return h.hexdigest()[:16]


PASSED_AS = FLAGS.passed_as


def require_checkpoint(path: str, passed_as: Optional[str] = None,
                       given: Optional[GivenAs] = None) -> None:
    """`CheckpointError` unless ``path`` exists (a file or a Hugging Face folder) and is no empty
    or text file (`refuse_empty_or_text`), no zip archive cut short (an interrupted download:
    its central directory, at the end, is missing) and no folder without a Hugging Face
    checkpoint's files, and no other kind of checkpoint (the retrieval head, the ASMK codebook:
    `_refuse_other_kind`), before minutes of work; ``passed_as``: a hint, ``given``: how the
    user gives each file (the fixes' words, `given_as`; None: `given_as.given_here`'s, and its
    ``passed_as``). Reads the file's first
    bytes, its end and an archive's small ``data.pkl`` (a plain pickle: that pickle)."""
    given = given_here(given)
    passed_as = given.passed_as if passed_as is None else passed_as
    if not os.path.exists(path):
        from ..link_loops import loop_text

        loop = loop_text("checkpoint", path)
        if loop:
            raise CheckpointError(loop)
        from ..path_blanks import blank_edge_note
        from ..path_expand import substitution_note, unset_variable_note

        unset = unset_variable_note(path)  # '$MODELS/m.pth' with MODELS unset
        raise CheckpointError(f"checkpoint not found: {path}" + (
            blank_edge_note(path) or (f": {unset}" if unset else "") or substitution_note(path)
            or f". Download the official weights (see README: 'Model weights') and pass their "
            f"path {passed_as}"))
    if os.path.isdir(path):
        _require_huggingface_files(path, given)
        return
    from ..fileio import device_not_file

    if device_not_file(path):  # /dev/zero: torch.load read it until the OOM killer came
        raise CheckpointError(f"{path} is a device, not a checkpoint file: reading it would not "
                              f"end (or would read a raw disk); give the checkpoint file "
                              f"{passed_as}")
    refuse_empty_or_text(path, given=given)  # and a zip archive cut short
    _refuse_other_kind(path, given)  # the retrieval head or the codebook, before minutes of work


def load_checkpoint(path: str, device: str = "cpu", *, force_restricted_unpickler: bool = False,
                    bare_model_string: Optional[str] = None, passed_as: Optional[str] = None
                    ) -> Tuple[AsymmetricMASt3R, CheckpointInfo]:
    """Build the network from a checkpoint file or Hugging Face folder; eval mode, float32.

    A bare state dict carries no constructor string: its architecture is inferred from the
    shapes with 64-wide attention heads (true of every official checkpoint; logged as a
    warning) unless ``bare_model_string`` gives it. ``passed_as``: how the caller's user gives
    the path (the hint of the not-found error; None: `given_as.given_here`'s, as every refusal
    of the file below names the fix in those words). ``device``: auto, cpu, cuda, cuda:N.

    Raises `ConfigError` for a ``device`` this machine does not have (`resolve_device`, before
    any reading), `CheckpointError` when the checkpoint is missing, unreadable, unsafe to
    unpickle (a pickled global other than tensors and ``argparse.Namespace``;
    `load_torch_file`), does not match the architecture or holds NaN or infinite weights
    (`finite_weights.refuse_non_finite`).
    """
    dev = resolve_device(device)
    require_checkpoint(path, passed_as)
    if os.path.isdir(path) or huggingface_files(path):
        sd, spec, layout, text = _read_huggingface(path)
    else:
        sd, spec, layout, text = _read_official_or_bare(path, force_restricted_unpickler,
                                                        bare_model_string)
    with torch.device("meta"):
        model = AsymmetricMASt3R(spec)
    try:
        sd = check_state_dict(model, sd, path)
    except CheckpointError as e:  # a declared architecture: say what it and the weights say
        from .checkpoint_arch import config_weights_mismatch

        raise config_weights_mismatch(e, sd, spec, layout, path) from None
    refuse_non_finite(sd, path)  # a bit flipped on disk: NaN weights, NaN outputs
    # assign=True adopts the loaded tensors instead of copying them (one copy of 2.7 GB, not two).
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True, assign=True)
    # the architecture by its canonical string, not the file's text (kwargs in another order,
    # training-only ones): one id for the same weights in every layout (`fingerprint`)
    info = CheckpointInfo(spec, layout, text, fingerprint(sd, model_string(spec)))
    log.info("loaded %s checkpoint %s (%s, %.1f M parameters, id %s)", spec.arch, path, layout,
             sum(p.numel() for p in model.parameters()) / 1e6, info.identity)
    return model.eval().to(dev), info


def resolve_checkpoint(path: Optional[str]) -> Optional[str]:
    """Expand ``~`` and environment variables in a configured checkpoint path."""
    from ..path_expand import expand_path

    return expand_path(path) if path else None
