"""Text files edited or written on Windows, decoded by their byte-order mark or their zeros.

A file that starts with a byte-order mark says its own encoding: Notepad's "Unicode" and Windows
PowerShell 5's ``>`` / ``Out-File`` write UTF-16 LE with a BOM, other tools UTF-16 BE or
UTF-32. Some write UTF-16 without one (``iconv -t UTF-16LE``, .NET's ``Encoding.Unicode``
bytes, an editor's "UTF-16 LE" without BOM): YAML then said only "unacceptable character
#x0000". Such a file is told by its zeros, as ASCII text in those encodings has one in every
code unit (`unmarked_encoding`; text mostly in another script, CJK, by where its zeros fall
and by decoding cleanly), and read as what it is. Else a file is read as UTF-8 (the BOM
Notepad writes before UTF-8 dropped too).
"""

from __future__ import annotations

import codecs
from typing import Optional

# longest first: the UTF-32 LE mark starts with the UTF-16 LE one
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# (codec, code unit bytes, the offsets in a unit that are zero for ASCII), UTF-32 first: its
# units would not pass as UTF-16's (a unit of two zero bytes is no ASCII character)
_UNMARKED = (("utf-32-le", 4, (1, 2, 3)), ("utf-32-be", 4, (0, 1, 2)),
             ("utf-16-le", 2, (1,)), ("utf-16-be", 2, (0,)))
# the bytes looked at, and the share of their code units that may be beyond ASCII (accented
# letters in comments, a name in another script)
_SAMPLE_BYTES = 4096
_MAX_WIDE_SHARE = 0.25


def unmarked_encoding(data: bytes) -> Optional[str]:
    """'utf-16-le', 'utf-16-be', 'utf-32-le' or 'utf-32-be' when ``data`` (a file's bytes,
    without a byte-order mark) reads as text in that encoding by its zeros: in its first
    `_SAMPLE_BYTES` bytes no code unit is all zero (no NUL character) and at most
    `_MAX_WIDE_SHARE` of them are beyond the range whose high bytes are zero (ASCII, and for
    UTF-16 Latin-1 too), or more are but its zeros fall only on characters' high bytes and it
    decodes to text without control characters (`_mostly_wide`: CJK text). None for other
    data: UTF-8 text has no zero byte, and a binary file's zeros fall anywhere."""
    sample = data[:_SAMPLE_BYTES]
    if b"\0" not in sample:
        return None
    for name, width, zeros in _UNMARKED:
        units = [sample[i:i + width] for i in range(0, len(sample) - width + 1, width)]
        if not units or any(not any(u) for u in units):
            continue
        wide = sum(1 for u in units if any(u[j] for j in zeros))
        if wide <= _MAX_WIDE_SHARE * len(units) or _mostly_wide(sample, name, width, units):
            return name
    return None


def _mostly_wide(sample: bytes, name: str, width: int, units: list) -> bool:
    """Whether ``sample``, whose code ``units`` (of ``width`` bytes, none all zero) are more
    than `_MAX_WIDE_SHARE` beyond ASCII / Latin-1, is still text in ``name``: text in another
    script (CJK: both bytes of most UTF-16 units non-zero) has its zeros only where a
    character's high bytes are (UTF-16: the high byte of a unit, in at least one unit in 32
    and two, the low one less often than the high one, for U+xx00 such as 一; UTF-32: every
    unit's top byte, the next at most 0x10, and as many ASCII / Latin-1 units as UTF-16 needs),
    and decodes to text without control characters
    (but tab, CR, LF). A binary's zeros fall at any
    offset and its bytes decode to lone surrogates or control characters; Latin-1 and UTF-8
    text have no zero byte."""
    little = name.endswith("-le")
    if width == 2:  # U+xx00 (one CJK character in 256: U+4E00) has a zero low byte
        high, low = (sum(1 for u in units if u[j] == 0) for j in ((1, 0) if little else (0, 1)))
        if high < max(2, len(units) // 32) or low >= high:
            # too few zeros for UTF-16 text, which has an ASCII character (newline, space, a
            # digit) every few dozen at most: UTF-8 or Latin-1 with a stray NUL (a C string's
            # terminator) decodes to CJK-looking text too; or its zeros are not where an ASCII
            # character's are: the other byte order (a zero low byte more often than a high one)
            return False
    elif any(u[3 if little else 0] or u[2 if little else 1] > 0x10 for u in units) or \
            sum(1 for u in units if not any(u[1:] if little else u[:3])) < \
            max(2, len(units) // 32):
        # beyond Unicode; or too few ASCII / Latin-1 characters (a newline, a space, a colon)
        # for text: a few binary bytes (`printf '\x00\x01\x02\xff'`) are one 'character'
        return False
    data = b"".join(units)
    try:
        text = data.decode(name)
    except UnicodeDecodeError:  # the sample may end inside a surrogate pair
        try:
            text = data[:-width].decode(name)
        except UnicodeDecodeError:
            return False
    return not any(c < " " and c not in "\t\n\r" for c in text)


def text_encoding(data: bytes) -> str:
    """The encoding ``data`` (a file's bytes) is decoded with: 'utf-16' or 'utf-32' after
    their byte-order mark, else the one its zeros say (`unmarked_encoding`: 'utf-16-le', ...),
    else 'utf-8-sig' (UTF-8 with an optional BOM)."""
    return next((name for bom, name in _BOMS if data.startswith(bom)),
                None) or unmarked_encoding(data) or "utf-8-sig"


def encoding_name(data: bytes) -> str:
    """'UTF-8', 'UTF-16', 'UTF-32', or 'UTF-16 LE' (and BE, UTF-32 too) for one without a
    byte-order mark: the encoding a file of ``data`` is read in, as a message names it."""
    name = text_encoding(data).replace("-sig", "").upper()
    return name[:-3] + " " + name[-2:] if name.endswith(("-LE", "-BE")) else name


# image file signatures (the first bytes): an image given where a checkpoint or a text file goes
_IMAGE_MAGIC = ((b"\xff\xd8\xff", "a JPEG"), (b"\x89PNG\r\n\x1a\n", "a PNG"),
                (b"II*\x00", "a TIFF"), (b"MM\x00*", "a TIFF"), (b"BM", "a BMP"),
                (b"GIF8", "a GIF"))


def image_kind(head: bytes) -> Optional[str]:
    """'a JPEG', 'a PNG', ... for a file whose first bytes ``head`` are an image's signature
    (a WebP: RIFF....WEBP), else None: the checkpoint's and the text files' options name an
    image given to them as one (arguments swapped, tab completion)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP"
    return next((kind for magic, kind in _IMAGE_MAGIC if head.startswith(magic)), None)


def not_text(data: bytes, err: UnicodeDecodeError) -> str:
    """What a file of ``data`` that `decode_text` refused with ``err`` is not, for "X is not
    ...": 'a UTF-8 text file (byte 3: invalid start byte)', 'a UTF-16 text file (byte 40:
    truncated data)'; for one read as UTF-8 that holds NUL bytes (no byte-order mark, nor the
    zeros of UTF-16/32 text): 'a UTF-8 text file, nor text in any encoding (NUL bytes, the
    first at byte 0: binary data)', not the name of an encoding it never was in; for an image
    (`image_kind`): 'a UTF-8 text file (byte 0: it is a JPEG image; arguments swapped?)'."""
    said = f"a {encoding_name(data)} text file"
    image = image_kind(data[:12])
    if image is not None:  # as the checkpoint's option names one (`image_kind`)
        return f"{said} (byte {err.start}: it is {image} image; arguments swapped?)"
    if text_encoding(data) == "utf-8-sig" and b"\0" in data:
        return (f"{said}, nor text in any encoding (NUL bytes, the first at byte "
                f"{data.index(bytes(1))}: binary data)")
    return f"{said} (byte {err.start}: {err.reason})"


def decode_text(data: bytes) -> str:
    """A file's bytes -> its text, without the BOM (`text_encoding`). Raises
    ``UnicodeDecodeError`` for bytes that are not text in that encoding (a UTF-16 file cut at an
    odd byte, a Latin-1 file read as UTF-8)."""
    return data.decode(text_encoding(data))


# torch.save's legacy (pre-1.6, non-zip) files begin with this magic number, pickled
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def not_text_fix(data: bytes, fix: str, goes: str = "") -> str:
    """What to do about a file of ``data`` that is not text: ``fix`` ('save it as UTF-8'), or,
    for the bytes of a PyTorch checkpoint (torch.save's zip archive or its legacy pickle) or
    another pickle, what it is and where a checkpoint goes (``goes``: the calling command's
    words; '' for --checkpoint, or the commands with it where the command running has
    not: `command_flags.checkpoint_goes`): a model file given where a
    parameter file, camera_info YAML or trajectory goes (tab completion), which re-saving as
    UTF-8 cannot mend."""
    if data[:4] == b"PK\x03\x04" and b"data.pkl" in data[:512]:  # the first entry's name
        kind = "a PyTorch checkpoint (torch.save)"
    elif data.startswith(_TORCH_LEGACY_MAGIC):
        kind = "a PyTorch checkpoint (torch.save, legacy format)"
    elif data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        kind = "a Python pickle"  # PROTO then the protocol: 2-5 (0 and 1 have no PROTO)
    else:
        return fix
    from .command_flags import checkpoint_goes

    return f"it is {kind}: {goes or checkpoint_goes()}"
