"""Which network a checkpoint holds, told from its constructor string alone (an official
archive's ``args.model``, a Hugging Face ``config.json``) without reading its weights, for a
refusal due before minutes of work: ``build-map`` refuses a DUSt3R checkpoint before it reads the
recording (it wrote a map of DUSt3R encodings, which no localizer can use)."""

from __future__ import annotations

import json
import os
import zipfile
from typing import Optional

from ..errors import CheckpointError
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
