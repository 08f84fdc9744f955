"""Refuse a checkpoint whose weights hold NaN or infinity (`refuse_non_finite`).

A bit flipped in a checkpoint (a damaged download, copy or disk) can turn float32 weights into
NaN or infinity. torch's reader does not check the archive's CRCs, so such a file loaded
without a word, and the network then gave NaN: `pair` wrote a NaN pointmap and confidence for
one view and exited 0 (its matches, from the descriptor head, looked normal), and `localize`
failed every frame for a made-up reason. No trained MASt3R or DUSt3R checkpoint holds a
non-finite weight, so one is refused at load with the tensor's name; for a torch.save archive
the damaged record is named too, found by checking the archive's CRCs (done only then: it reads
the whole file). The check sums each tensor: 0.1 s for 200 M float32 values on a loaded 2-core
machine, so ~0.35 s for ViT-L's 689 M parameters (`torch.isfinite` on every value took 1.5 s).
"""

from __future__ import annotations

import os
import zipfile
from typing import Mapping, Optional

import torch

from ..errors import CheckpointError


def _first_non_finite(sd: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The first key (in the file's order) of a floating-point tensor holding NaN or infinity.
    Each tensor's sum screens it (a NaN or infinity makes it non-finite; 10x faster than
    `torch.isfinite` on every value, which confirms, so that finite fp16 weights whose sum
    overflows are not refused)."""
    for k, v in sd.items():
        if (torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v.sum()))
                and not bool(torch.isfinite(v).all())):
            return k
    return None


def _bad_zip_record(path: str) -> Optional[str]:
    """The name of the first record of the zip archive ``path`` failing its CRC check; None for
    no zip archive, an unreadable one or one whose records all pass."""
    if os.path.isdir(path) or not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip()
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError):
        return None


def refuse_non_finite(sd: Mapping[str, torch.Tensor], path: str,
                      what: str = "MASt3R/DUSt3R checkpoint") -> None:
    """Raise `CheckpointError` when a floating-point tensor of ``sd`` (name -> tensor, read
    from ``path``, a checkpoint file or Hugging Face folder) holds NaN or infinity, naming the
    tensor, how many of its values, and for a torch.save archive the record failing its CRC;
    ``what``: the kind of file, as the message names it ("MASt3R retrieval head"). Returns
    None for finite weights."""
    key = _first_non_finite(sd)
    if key is None:
        return
    t = sd[key]
    bad = int((~torch.isfinite(t)).sum())
    record = _bad_zip_record(path)
    cause = (f"its archive record '{record}' fails its CRC check: the file is damaged (a bad "
             "download, copy or disk)" if record else
             "the file is damaged (a bad download, copy or disk) or was saved from a training "
             "run that diverged")
    raise CheckpointError(
        f"{path}: weight '{key}' holds {bad} NaN or infinite value(s) of {t.numel()}, which no "
        f"trained {what} has; {cause}: download or copy it again")
