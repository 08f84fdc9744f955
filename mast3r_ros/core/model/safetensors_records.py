"""Whether a safetensors file is cut short or damaged, told from its header alone
(`safetensors_problem`): no tensor is read.

A safetensors file is an 8-byte little-endian header length, that many bytes of JSON (an object
naming each tensor's ``dtype``, ``shape`` and ``data_offsets`` ``[begin, end]`` within the data
that follows, plus an optional ``__metadata__``), then the tensors' bytes, back to back. The file
is cut short only where it ends before the header's last end offset; a tensor whose byte range
does not match its shape, or ranges that overlap or leave gaps, are a damaged header.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Optional

# bytes per element of safetensors' dtypes (one the table lacks: its length is not checked)
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
                "C64": 8}

_WHAT = "a safetensors file"


def _ranges(header: dict) -> Optional[list]:
    """(begin, end, name, bytes its shape needs or None) per tensor, by begin; None when an
    entry is not a tensor's (no dtype, shape or two whole offsets)."""
    out = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in entry["data_offsets"])
            shape = [int(d) for d in entry["shape"]]
            width = _DTYPE_BYTES.get(entry["dtype"])
        except (KeyError, TypeError, ValueError):
            return None
        out.append((begin, end, name, None if width is None else width * math.prod(shape)))
    return sorted(out)


def safetensors_problem(path: str) -> Optional[str]:
    """Why the safetensors file ``path`` cannot be read, in our words: ``"a safetensors file
    cut short: it ends in tensor 'w' (2 of 3), 1024 bytes before its end"``, ``"... whose
    header cannot be read"``, ``"... whose header is damaged (tensor 'w' holds 12 bytes, its
    shape 16)"``, ``"... with 7 bytes past its last tensor"``; None when the file is whole as
    its header describes it (the reader failed for another cause, out of memory say, which its
    own text names). Raises `OSError` when the file cannot be read."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        text = fh.read(n) if 0 <= n <= size - 8 else b""
    try:
        header = json.loads(text.decode("utf-8"))
    except ValueError:  # cut inside the header, or not JSON
        return f"{_WHAT} whose header cannot be read"
    ranges = _ranges(header) if isinstance(header, dict) else None
    if ranges is None:
        return f"{_WHAT} whose header is damaged (an entry is not a tensor's)"
    at = 0
    for begin, end, name, need in ranges:
        if begin != at or end < begin:
            return f"{_WHAT} whose header is damaged (tensor '{name}' does not follow the last)"
        if need is not None and end - begin != need:
            return (f"{_WHAT} whose header is damaged (tensor '{name}' holds {end - begin} "
                    f"bytes, its shape {need})")
        at = end
    data = size - 8 - n
    if data < at:
        i = next(i for i, r in enumerate(ranges) if r[1] > data)
        return (f"{_WHAT} cut short: it ends in tensor '{ranges[i][2]}' ({i + 1} of "
                f"{len(ranges)}), {at - data} bytes before its end")
    if data > at:
        return f"{_WHAT} with {data - at} bytes past its last tensor"
    return None
