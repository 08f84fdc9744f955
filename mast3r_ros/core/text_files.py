"""Text files edited or written on Windows, decoded by their byte-order mark.

A file that starts with a byte-order mark says its own encoding: Notepad's "Unicode" and Windows
PowerShell 5's ``>`` / ``Out-File`` write UTF-16 LE with a BOM, other tools UTF-16 BE or
UTF-32; without a BOM a file is read as UTF-8 (the BOM Notepad writes before UTF-8 dropped too).
"""

from __future__ import annotations

import codecs
# longest first: the UTF-32 LE mark starts with the UTF-16 LE one
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def text_encoding(data: bytes) -> str:
    """The encoding ``data`` (a file's bytes) is decoded with: 'utf-16' or 'utf-32' after
    their byte-order mark, else 'utf-8-sig' (UTF-8 with an optional BOM)."""
    return next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8-sig")


def encoding_name(data: bytes) -> str:
    """'UTF-8', 'UTF-16' or 'UTF-32': the encoding a file of ``data`` is read in, as a message
    names it."""
    return text_encoding(data).replace("-sig", "").upper()


def decode_text(data: bytes) -> str:
    """A file's bytes -> its text, without the BOM (`text_encoding`). Raises
    ``UnicodeDecodeError`` for bytes that are not text in that encoding (a UTF-16 file cut at an
    odd byte, a Latin-1 file read as UTF-8)."""
    return data.decode(text_encoding(data))
