"""What a plain ``pickle.dump`` file handed over as a checkpoint is, for the error message.

``torch.save`` writes a zip archive; a file that is instead one whole pickle stream is not a
PyTorch checkpoint at all. The usual one is the ASMK codebook ``*_retrieval_codebook.pkl``
passed as a checkpoint, or any ``pickle.dump`` of plain data: neither is "possibly crafted",
and the message should say what the file is and where it goes. It is read with the codebook's
array-only unpickler (`asmk.unpickle`: numpy arrays and plain containers, nothing else is
resolved, nothing is run); a pickle naming any other global is left to the caller's refusal.
"""

from __future__ import annotations

import zipfile
from typing import Optional

import torch


def _plain_contents(path: str):
    """(True, object) when ``path`` is one whole pickle of plain data (dicts, lists, numbers,
    strings, numpy arrays); (False, None) otherwise (a zip archive, a stream cut short or not a
    pickle, a pickle naming other globals, or a legacy torch.save file)."""
    from ..asmk.unpickle import _ArrayOnlyUnpickler

    if zipfile.is_zipfile(path):
        return False, None
    try:
        with open(path, "rb") as fh:
            obj = _ArrayOnlyUnpickler(fh).load()
    except Exception:  # noqa: BLE001 - refused, cut short or foreign: not plain data
        return False, None
    if isinstance(obj, int) and obj == getattr(torch.serialization, "MAGIC_NUMBER", None):
        return False, None  # the first record of a legacy (non-zip) torch.save file
    return True, obj


def _looks_like_codebook(obj) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "Codebook" and isinstance(
        obj.get("state"), dict) and "centroids" in obj["state"]


def describe_plain_pickle(path: str, what: str) -> Optional[str]:
    """The message for a ``what`` (e.g. 'checkpoint', 'retrieval checkpoint') file that is a
    plain pickle of harmless data, without the path; None when it is not one (then the caller's
    own wording applies: refusal, truncation). Reads the file; runs nothing in it."""
    plain, obj = _plain_contents(path)
    if not plain:
        return None
    if _looks_like_codebook(obj):
        return (f"this is an ASMK codebook (a plain pickle), not a PyTorch {what}: pass it as "
                "--codebook (retrieve, build-map), with the *_retrieval_trainingfree.pth as "
                "--retrieval-checkpoint and the MASt3R network .pth as --checkpoint")
    return (f"a plain Python pickle (pickle.dump of a {type(obj).__name__}), not a PyTorch "
            f"{what} (torch.save writes a zip archive): give the {what} .pth file (README: "
            "'Model weights')")

