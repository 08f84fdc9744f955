"""Which network a checkpoint holds, told from its constructor string alone (an official
archive's ``args.model``, a Hugging Face ``config.json``) without reading its weights, for a
refusal due before minutes of work: ``build-map`` refuses a DUSt3R checkpoint before it reads the
recording (it wrote a map of DUSt3R encodings, which no localizer can use). And a file whose
declared architecture its weights do not fit, refused naming both (`config_weights_mismatch`)."""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Mapping, Optional

from ..errors import CheckpointError
from .given_as import given_here, GivenAs
from .huggingface import huggingface_files
from .model_string import CLASS_ARCH, parse_model_string
from .plain_pickle import archive_args


def declared_arch(path: str) -> Optional[str]:
    """'mast3r' or 'dust3r', the class the checkpoint at ``path`` (a file or a Hugging Face
    folder) names in its constructor string; None when it names none that cheaply (a bare state
    dict, an unreadable or damaged file: loading the checkpoint then decides). Reads the
    archive's small ``data.pkl`` or the ``config.json``, never the tensors; raises nothing."""
    hf = huggingface_files(path)
    if hf:
        try:
            with open(hf[0], encoding="utf-8") as fh:
                cfg = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(cfg, dict):
            return None
        # the class as the loader takes it (`checkpoint._read_huggingface`)
        cls = cfg.get("_class_name") or ("AsymmetricMASt3R" if "desc" in str(
            cfg.get("output_mode")) else "AsymmetricCroCo3DStereo")
        return CLASS_ARCH.get(str(cls))
    if os.path.isdir(path) or not zipfile.is_zipfile(path):
        return None
    text = getattr(archive_args(path), "model", None)
    if not isinstance(text, str):
        return None
    try:
        cls, _ = parse_model_string(text)
    except CheckpointError:
        return None
    return CLASS_ARCH.get(cls)


def no_descriptors_for_map(path: str) -> str:
    """The one-line refusal of a DUSt3R checkpoint (no descriptor head) for a map's encodings."""
    return (f"{path} is a DUSt3R checkpoint (no descriptor head): a map's encodings are for "
            "the mast3r matcher, which needs a MASt3R checkpoint (README: 'Model weights'); "
            "give that as --checkpoint, or build with --matcher sift")


def no_descriptors_for_localizer(given: Optional[GivenAs] = None) -> str:
    """The refusal of a checkpoint without a descriptor head (DUSt3R) by the mast3r matcher,
    which the node's configure says (`Mast3rMatcher`) and check-params tells beforehand from the
    constructor string (`declared_arch`); ``given``: how the user gives the checkpoint."""
    given = given_here(given)
    return ("the checkpoint has no descriptor head (DUSt3R?): the localizer needs a MASt3R "
            f"checkpoint ({given.checkpoint})")


# what a constructor string says that the weights' shapes show too (heads do not: not compared)
_SHAPED_FIELDS = ("arch", "enc_embed_dim", "enc_depth", "dec_embed_dim", "dec_depth", "desc_dim")


def config_weights_mismatch(err: CheckpointError, sd: Mapping[str, Any], spec: Any,
                            layout: str, path: str) -> CheckpointError:
    """The refusal of a checkpoint whose weights do not fit the architecture its own
    configuration declares (``spec``: an official file's ``args.model``, a Hugging Face
    ``config.json``): when the weights' shapes (`checkpoint.infer_spec`) show another
    architecture, the fields that differ, both sides, and the fix (the file is damaged or mixed
    up: download it again). ``err``, `check_state_dict`'s refusal, when the layout declares
    nothing (a bare state dict) or the weights are no whole network of any architecture (a key
    missing or stray): it names the first such key."""
    if layout not in ("official", "huggingface"):
        return err
    import torch

    from .checkpoint import check_state_dict, infer_spec
    from .network import AsymmetricMASt3R

    try:
        held = infer_spec(sd, path)
        with torch.device("meta"):
            check_state_dict(AsymmetricMASt3R(held), sd, path)  # the weights are whole
    except (CheckpointError, KeyError, IndexError, TypeError, ValueError, RuntimeError):
        return err
    diff = [k for k in _SHAPED_FIELDS if getattr(spec, k) != getattr(held, k)]
    if not diff:
        return err
    said = "its constructor string (args.model)" if layout == "official" else "its config.json"
    return CheckpointError(
        f"{path}: {said} says {', '.join(f'{k}={getattr(spec, k)!r}' for k in diff)} but its "
        f"weights are of {', '.join(f'{k}={getattr(held, k)!r}' for k in diff)}: the file's "
        "configuration and weights disagree (an edited, damaged or mixed-up file); download the "
        "checkpoint again (README: 'Model weights')")
