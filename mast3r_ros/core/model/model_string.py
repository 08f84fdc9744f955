"""The official checkpoints' constructor string (``args.model``, e.g.
``AsymmetricMASt3R(enc_depth=24, ..., output_mode='pts3d+desc24')``) <-> `ModelSpec`, parsed by
keyword with a literal-only AST walk (numbers, strings, tuples, ``inf``, unary minus): nothing
read from a file is evaluated. Re-exported by `checkpoint`."""

from __future__ import annotations

import ast
import dataclasses
import logging
import math
from typing import Any, Dict, Mapping, Tuple

from ..errors import CheckpointError
from .network import PATCH as PATCH_SIZE
from .network import ModelSpec

log = logging.getLogger(__name__)

CLASS_ARCH = {"AsymmetricMASt3R": "mast3r", "AsymmetricCroCo3DStereo": "dust3r"}
# Constructor kwargs that only matter for training or bookkeeping: accepted silently.
# (patch_size is checked first: 16, the only patch the network cuts, is then accepted here.)
_IGNORED_KWARGS = {"patch_embed_cls", "landscape_only", "freeze", "mask_ratio", "patch_size",
                   "desc_mode", "pos_embed", "head_type", "output_mode"}


# ------------------------------------------------------------------------ model string
def _literal(node: ast.AST, where: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool,
                                                                  type(None))):
        return node.value
    if isinstance(node, ast.Name) and node.id == "inf":
        return math.inf
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _literal(node.operand, where)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e, where) for e in node.elts)
    raise CheckpointError(f"model string: {where} is not a plain literal "
                          f"({ast.dump(node)[:80]}); refusing to evaluate it")


def parse_model_string(text: str) -> Tuple[str, Dict[str, Any]]:
    """``'Cls(a=1, b=(2, -inf))'`` -> ``('Cls', {'a': 1, 'b': (2, -inf)})``; never evaluates.

    Raises `CheckpointError` for anything but a call with keyword arguments of plain literals.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise CheckpointError(
            f"model string is not a constructor call: {text[:120]!r} ({e.msg})") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise CheckpointError(f"model string must look like 'ClassName(key=value, ...)', "
                              f"got {text[:120]!r}")
    if call.args:
        raise CheckpointError("model string: positional arguments are not supported")
    kwargs = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise CheckpointError("model string: '**' arguments are not supported")
        kwargs[kw.arg] = _literal(kw.value, f"argument '{kw.arg}'")
    return call.func.id, kwargs


def spec_from_kwargs(cls_name: str, kwargs: Mapping[str, Any]) -> ModelSpec:
    """Map official constructor kwargs to a `ModelSpec`; unknown kwargs are warned about.

    Raises `CheckpointError` for an unknown class, positional embedding, patch size (16 only),
    head type or output mode, or an architecture the network cannot run (`ModelSpec.validate`).
    """
    if cls_name not in CLASS_ARCH:
        raise CheckpointError(f"unknown model class {cls_name!r}; supported: {sorted(CLASS_ARCH)}")
    arch = CLASS_ARCH[cls_name]
    fields = {f.name for f in dataclasses.fields(ModelSpec)}
    out: Dict[str, Any] = {"arch": arch}
    pos = str(kwargs.get("pos_embed", "RoPE100"))
    if not pos.startswith("RoPE"):
        raise CheckpointError(f"pos_embed={pos!r} is not supported (only RoPE<freq>)")
    out["rope_freq"] = float(pos[4:] or 100)
    patch = kwargs.get("patch_size", PATCH_SIZE)
    if patch not in (PATCH_SIZE, (PATCH_SIZE, PATCH_SIZE)):
        # before: ignored, so a patch-8 file was run as patch 16 or refused for the shape of
        # 'patch_embed.proj.weight' "the architecture in the file needs" -- not the file's
        raise CheckpointError(f"patch_size={patch!r} is not supported (the network cuts images "
                              f"into {PATCH_SIZE}-pixel patches, as every official MASt3R and "
                              "DUSt3R checkpoint does)")
    head = kwargs.get("head_type", "catmlp+dpt" if arch == "mast3r" else "dpt")
    expected_head = "catmlp+dpt" if arch == "mast3r" else "dpt"
    if head != expected_head:
        raise CheckpointError(f"{cls_name} with head_type={head!r} is not supported "
                              f"(expected {expected_head!r})")
    mode = str(kwargs.get("output_mode", "pts3d+desc24" if arch == "mast3r" else "pts3d"))
    if arch == "mast3r":
        if not mode.startswith("pts3d+desc"):
            raise CheckpointError(f"output_mode={mode!r} is not supported for MASt3R")
        out["desc_dim"] = int(mode[len("pts3d+desc"):])
        out["two_confs"] = bool(kwargs.get("two_confs", False))
        out["desc_conf_mode"] = tuple(kwargs.get("desc_conf_mode") or
                                      kwargs.get("conf_mode", ("exp", 1, math.inf)))
    else:
        if mode != "pts3d":
            raise CheckpointError(f"output_mode={mode!r} is not supported for DUSt3R")
        out["desc_dim"], out["two_confs"] = 0, False
    for k, v in kwargs.items():
        if k in ("two_confs", "desc_conf_mode"):
            continue
        if k in fields and k != "arch":
            out[k] = tuple(v) if isinstance(v, (tuple, list)) else v
        elif k not in _IGNORED_KWARGS:
            log.warning("checkpoint model string: ignoring unknown argument %s=%r", k, v)
    try:
        spec = ModelSpec(**out)
        spec.validate()
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"unsupported architecture in checkpoint: {e}") from None
    return spec


def spec_named_by(where: str, source: Any) -> ModelSpec:
    """`spec_from_kwargs` of ``source``, a constructor string or (class name, kwargs); a refusal
    starts with ``where`` (the file and the part of it read) and ends with what to do."""
    try:
        cls_name, kwargs = parse_model_string(source) if isinstance(source, str) else source
        return spec_from_kwargs(cls_name, kwargs)
    except CheckpointError as e:
        raise CheckpointError(f"{where}: {e}: a damaged file, or a model this package does not "
                              "run; use the official MASt3R or DUSt3R checkpoint "
                              "(README: 'Model weights')") from None


def model_string(spec: ModelSpec) -> str:
    """The official constructor string for a spec (what an official checkpoint's ``args.model``
    holds; given to bare state dicts that carry none)."""
    def lit(v):
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if isinstance(v, tuple):
            return "(" + ", ".join(lit(x) for x in v) + ")"
        return repr(v)
    kw = [("pos_embed", f"RoPE{int(spec.rope_freq)}"), ("patch_embed_cls", "ManyAR_PatchEmbed"),
          ("img_size", spec.img_size)]
    if spec.arch == "mast3r":
        kw += [("head_type", "catmlp+dpt"), ("output_mode", f"pts3d+desc{spec.desc_dim}")]
    else:
        kw += [("head_type", "dpt"), ("output_mode", "pts3d")]
    kw += [("depth_mode", spec.depth_mode), ("conf_mode", spec.conf_mode)]
    for k in ("enc_embed_dim", "enc_depth", "enc_num_heads", "dec_embed_dim", "dec_depth",
              "dec_num_heads"):
        kw.append((k, getattr(spec, k)))
    if spec.arch == "mast3r":
        kw += [("two_confs", spec.two_confs), ("desc_conf_mode", spec.desc_conf_mode)]
    cls = "AsymmetricMASt3R" if spec.arch == "mast3r" else "AsymmetricCroCo3DStereo"
    return f"{cls}(" + ", ".join(f"{k}={lit(v)}" for k, v in kw) + ")"
