"""Typed errors. Messages say what was expected, what was found and how to fix it."""

from __future__ import annotations

import contextlib
import json
import os
import tokenize
from typing import Iterator


class Mast3rRosError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(Mast3rRosError, ValueError):
    """A configuration key, value or file is invalid."""


class CheckpointError(Mast3rRosError):
    """A network checkpoint cannot be read, is unsafe, or does not match the architecture."""


class MapFormatError(Mast3rRosError):
    """A keyframe map folder is missing, incomplete, corrupt or of another version."""


class InputError(Mast3rRosError, ValueError):
    """An input (image, message, recording, intrinsics) is malformed or unsupported."""


class ImageSizeError(InputError):
    """An image's size differs from its intrinsics' (a CameraInfo or camera_info YAML of another
    resolution, binning or stream). ``image_size`` and ``intrinsics_size``: (width, height) in
    pixels; ``stream``: ``'colour'`` or ``'depth'``, which image it is. Typed so that a caller
    can tell this from the other unreadable-frame errors without reading its text
    (`mast3r_ros.replay.sources` stops at the first frame when ``--camera-info`` is the cause)."""

    def __init__(self, message: str, image_size: tuple, intrinsics_size: tuple,
                 stream: str = "colour") -> None:
        super().__init__(message)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.intrinsics_size = (int(intrinsics_size[0]), int(intrinsics_size[1]))
        self.stream = stream

    def reworded(self, message: str) -> ImageSizeError:
        """The same error with another message (a reader adding the topic and stamp)."""
        return ImageSizeError(message, self.image_size, self.intrinsics_size, self.stream)

    def __reduce__(self):  # picklable (parallel builds send errors between processes)
        return (ImageSizeError, (str(self), self.image_size, self.intrinsics_size, self.stream))


class ClosedError(Mast3rRosError, RuntimeError):
    """An object (`Mast3rEngine`, `Localizer`) was used after its ``close()``."""


def error_clause(err: object) -> str:
    """``str(err)`` to embed mid-sentence: a library's message (rosbags ends its own in a full
    stop) without its trailing '.', so that "offset 8. (its header stamp ...)" reads "offset 8
    (its header stamp ...)". An ellipsis ('...') is kept. A message that ends one of ours needs
    no call."""
    text = str(err).rstrip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    return text


def describe_npy(shape: tuple, dtype) -> str:
    """Short text of an array's layout for error messages: ``float32 (3, 8)`` for a plain dtype
    (``big-endian`` added when it is not the machine's order), ``3 rows of 4 fields (56 B per
    row, 168 B in all)`` for a structured one (its field list runs to hundreds of characters;
    the field count and sizes say enough to tell one table from another; one row: ``(56 B)``)."""
    if dtype.names is None:
        order = "" if dtype.isnative or dtype.byteorder == "|" else (
            " big-endian" if dtype.byteorder == ">" else " little-endian")
        return f"{dtype.name}{order} {tuple(shape)}"
    if len(shape) != 1:
        return f"shape {tuple(shape)} of {len(dtype.names)}-field rows"
    size = f"{dtype.itemsize} B" if shape[0] == 1 else \
        f"{dtype.itemsize} B per row, {shape[0] * dtype.itemsize} B in all"
    return f"{shape[0]} row{'' if shape[0] == 1 else 's'} of {len(dtype.names)} fields ({size})"


# what numpy's .npy header parser raises for a damaged header: beside ValueError (and OSError
# for a short file), its tokenizer's TokenError, SyntaxError (IndentationError) and a TypeError
# (a bytes key sorted beside str ones) -- a traceback where `npy_header_error` belongs
NPY_HEADER_ERRORS = (OSError, ValueError, TypeError, SyntaxError, tokenize.TokenError)


def npy_header_error(full: str, expected: str, found: str = "") -> MapFormatError:
    """The one-line error for a map ``.npy`` whose header does not parse (``found`` empty) or
    does not describe the array the map expects (``expected`` / ``found``: `describe_npy`)."""
    found = found or "a .npy header that does not parse"
    return MapFormatError(f"map file {full}: expected {expected}, found {found}; rebuild the map "
                          "or re-copy the file")


# how a map file this user may not open is refused: not damaged, so no rebuild or copy
MAP_PERMISSIONS = "check the map's permissions: this user may not read it"
# how a map replaced (build-map --overwrite, a copy) under a running localizer is refused: whole,
# only not the map it opened, so neither damaged nor to be fixed
MAP_REPLACED = "was replaced after this localizer opened it"


def map_file_unreadable(full: str, err: OSError, fix: str = "") -> MapFormatError:
    """The refusal of map file ``full`` that could not be opened or read (``err``): one of
    another owner (PermissionError) named as such, with the permissions to check instead of
    ``fix`` (rebuild the map, copy it again: the file is whole); else ``err`` and ``fix``."""
    if isinstance(err, PermissionError):
        return MapFormatError(f"map file unreadable: {full}: {err.strerror} ({MAP_PERMISSIONS})")
    return MapFormatError(f"map file unreadable: {full} ({err}){fix}")


def not_regular_file(path: str, wanted: str) -> str:
    """'PATH is not a regular file (a device, pipe or socket): give WANTED' for a ``path`` that
    is there (a link followed) as neither a regular file nor a folder (``/dev/zero``, a FIFO, a
    socket), where "not found" would send the user looking for it; '' for any other path (a
    file, a folder, a missing one: the caller words those). ``wanted``: the file to give
    instead ("the image file itself")."""
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        return f"{path} is not a regular file (a device, pipe or socket): give {wanted}"
    return ""


def is_format_version(value, accepted) -> bool:
    """True when a file's recorded format ``value`` is an int in ``accepted`` (a collection of
    ints). JSON ``true`` and ``1.0`` compare equal to 1 in Python, so ``value in accepted``
    alone would read a manifest saying ``"version": true`` as version 1."""
    return type(value) is int and value in accepted


# the default of ``obj.get(key, MISSING)``: a key a JSON file lacks, told from its ``null``
MISSING = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def json_value(value) -> str:
    """``value``, read from a JSON file, as that file spells it (``true``, ``null``, ``"3"``),
    for messages about the file; ``missing`` for `MISSING` (the key is absent); Python's repr
    where JSON has no spelling."""
    if value is MISSING:
        return "missing"
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)


def mark_published(stop: BaseException, what: str, path: str) -> None:
    """``stop`` (a Ctrl-C's KeyboardInterrupt, or SIGTERM's) noted as having come after ``what``
    ('the map') was published, complete, at ``path``: the CLI's last line then says so
    (`published_note`) instead of leaving the user to think it lost. Only for an output whose
    publishing rename is done; the caller re-raises ``stop``."""
    stop.published = (what, path)  # type: ignore[attr-defined]


def published_note(stop: BaseException) -> str:
    """' after the map was published: PATH is complete' of a stop `mark_published` noted, else
    ''."""
    what, path = getattr(stop, "published", (None, None))
    return f" after {what} was published: {path} is complete" if what else ""


@contextlib.contextmanager
def after_publishing(what: str, path: str) -> Iterator[None]:
    """The block runs once ``what`` ('the map', 'the run') is published, complete, at ``path``:
    a Ctrl-C (or SIGTERM's exception) in it is re-raised noted so (`mark_published`), unless
    it was noted already. The one helper of build-map, merge-maps and localize for the work
    after their output's rename (the summary line, a superseded ``OUT.partial`` removed)."""
    try:
        yield
    except KeyboardInterrupt as e:
        if not getattr(e, "published", None):
            mark_published(e, what, path)
        raise
