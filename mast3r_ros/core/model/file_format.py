"""What a file given as a checkpoint is, told from its first bytes and, for a zip archive, the
names of its records: no tensor, no pickle is read (cheap for a 2.7 GB network file).

The checkpoint loader (`checkpoint.load_checkpoint`) accepts a ``torch.save`` zip archive (one
top folder holding ``data.pkl`` and a ``version`` record), a legacy ``torch.save`` file (a
pickle stream that starts with torch's magic number) or a safetensors file (in a Hugging Face
checkpoint). `format_problem` says, in our words, why a file is none of these (random bytes, a
zip archive of other files, one cut short), so that a command refuses it before minutes of
work, and check-params without loading it; `read_failure` words a reader failure of a file
that passed (torch's own text, e.g. "Unsupported operand 201" or 'Expected hasRecord("version")
to be true', goes to the debug log only: ``--log-level debug``).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from typing import BinaryIO, List, Optional

from .huggingface import is_safetensors_file
from .legacy_records import legacy_file_problem

_ZIP_HEAD = b"PK\x03\x04"
# a legacy (non-zip) torch.save file starts with its magic number, pickled with protocol 2:
# PROTO 2, LONG1 of 10 bytes (torch.serialization.MAGIC_NUMBER, 0x1950a86a20f9469cfc6c), STOP
_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_HEAD = b"\x80\x02\x8a\x0a" + _MAGIC.to_bytes(10, "little") + b"."


def _head(path: str, n: int = 16) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _first_bytes(head: bytes) -> str:
    return " ".join(f"{b:02x}" for b in head[:8])


def _is_pickle_head(head: bytes) -> bool:
    """A binary pickle's first opcode: PROTO with a protocol of 2 to 5."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def torch_zip_problem(names: List[str]) -> Optional[str]:
    """Why a zip archive holding ``names`` is no ``torch.save`` archive (torch's reader wants
    every record in one top folder, with its ``data.pkl`` and ``version`` (or
    ``.data/version``)); None when it is one."""
    tops = {n.split("/", 1)[0] for n in names}
    top = next(iter(tops)) if len(tops) == 1 and all("/" in n for n in names) else None
    if top is not None and f"{top}/data.pkl" in names and (
            f"{top}/version" in names or f"{top}/.data/version" in names):
        return None
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"a zip archive holding {shown or 'no file'}, without the data.pkl/version "
            "records of a torch.save file")


def format_problem(path: str) -> Optional[str]:
    """Why the file ``path`` is in no format the checkpoint loader accepts, found from its first
    16 bytes and a zip archive's record names: ``"a zip archive cut short (...)"``, ``"a zip
    archive holding a.txt, without the data.pkl/version records of a torch.save file"``, or
    ``"not a zip archive or a pickle: its first bytes are 3f 8a 11 c2 ..."``; None for a torch.save
    archive, a pickle (a legacy torch.save file; a plain one is for the loader to name), a
    safetensors file, and an empty file (the callers say it is empty). Raises `OSError` when
    the file cannot be read."""
    head = _head(path)
    if not head:
        return None
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            return "a zip archive that is damaged (its table of contents cannot be read)"
        return torch_zip_problem(names)
    if head.startswith(_ZIP_HEAD):  # torch.save's archive, its end (the table) cut off
        return ("a zip archive cut short: its central directory, the table of contents at its "
                "end, is missing")
    if _is_pickle_head(head) or is_safetensors_file(path):
        return None
    return f"not a zip archive or a pickle: its first bytes are {_first_bytes(head)}"


def _whole_pickles(fh: BinaryIO, count: int) -> bool:
    """Whether ``fh`` holds ``count`` successive pickle streams, each parsed up to its STOP
    (`pickletools.genops` only parses, it executes nothing and imports nothing)."""
    try:
        for _ in range(count):
            for _ in pickletools.genops(fh):
                pass
    except Exception:  # noqa: BLE001 - cut short, damaged or not a pickle
        return False
    return True


def pickle_is_whole(path: str) -> bool:
    """Whether the pickle that torch's weights-only reader refused in ``path`` is whole, so that
    the refusal is of what it holds (a global or instructions outside the allowed set) and not
    of bytes that are damaged or cut short: a torch.save archive's ``data.pkl`` record (read
    with its checksum), a legacy torch.save file's first four pickles (magic number, protocol,
    system info, the checkpoint itself), any other file's first pickle. False when the file or
    the record cannot be read."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                name = next((n for n in zf.namelist() if n.endswith("/data.pkl")), None)
                if name is None:
                    return False
                return _whole_pickles(io.BytesIO(zf.read(name)), 1)
        with open(path, "rb") as fh:
            legacy = fh.read(len(_LEGACY_HEAD)) == _LEGACY_HEAD
            fh.seek(0)
            return _whole_pickles(fh, 4 if legacy else 1)
    except Exception:  # noqa: BLE001 - an unreadable archive or record is damaged, not refused
        return False


def archive_damaged(path: str) -> bool:
    """Whether the zip archive ``path`` is damaged: a record whose bytes fail their CRC-32
    (`zipfile.ZipFile.testzip`, which reads every record: seconds for a 2.7 GB network file),
    a table that cannot be read, or a ``data.pkl`` that is not a whole pickle
    (`pickle_is_whole`). False for an archive intact as written."""
    try:
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                return True
    except Exception:  # noqa: BLE001 - a table or record that cannot be read: damaged
        return True
    return not pickle_is_whole(path)


def read_failure(path: str) -> Optional[str]:
    """What the file ``path``, which torch's reader failed on, is, in our words: its
    `format_problem`, else what its format is and that its contents are cut short or damaged
    (a zip archive only where `archive_damaged` finds it so, a legacy torch.save file only
    where `legacy_records.legacy_problem` does, another pickle only where it is not whole);
    None when the file is not found cut short or damaged (a safetensors file read as a torch
    file, an unreadable file, an archive, legacy file or pickle whole as written: the reader
    failed for another cause, out of memory say, which its own text names)."""
    try:
        found = format_problem(path)
        head = _head(path)
        archive = zipfile.is_zipfile(path)
    except OSError:
        return None
    if found:
        return found
    if archive:  # intact as written: not the file's fault (out of memory), torch's words
        return "a torch.save zip archive with a damaged record" if archive_damaged(path) else None
    if head.startswith(_LEGACY_HEAD):  # whole as written: the reader's reason, as above
        try:
            return legacy_file_problem(path)
        except OSError:
            return None
    if _is_pickle_head(head):  # whole as written: the reader's reason, as above
        try:
            return _pickle_problem(path)
        except OSError:
            return None
    return None


def _pickle_problem(path: str) -> Optional[str]:
    """`read_failure` of a file that starts with a pickle other than `_LEGACY_HEAD`: a legacy
    torch.save file of another pickle protocol (its first pickle torch's magic number) walked as
    one (`legacy_file_problem`), else a pickle cut short or damaged, else None (whole)."""
    ops = []  # its first two operations, framing left out (the magic number: LONG1 alone)
    with open(path, "rb") as fh:
        try:
            for op, arg, _ in pickletools.genops(fh):
                if op.name not in ("PROTO", "FRAME", "STOP") and len(ops) < 2:
                    ops.append((op.name, arg))
        except Exception:  # noqa: BLE001 - cut short, damaged or not a pickle
            return "a pickle that cannot be read to its end, not a torch.save file"
    return legacy_file_problem(path) if ops == [("LONG1", _MAGIC)] else None

