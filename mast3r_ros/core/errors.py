"""Typed errors. Messages say what was expected, what was found and how to fix it."""

from __future__ import annotations


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
