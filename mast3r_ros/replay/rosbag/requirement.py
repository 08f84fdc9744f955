"""The oldest rosbags this reader runs on (`MIN_ROSBAGS`, setup.py's floor), checked once when
`mast3r_ros.replay.rosbag` is imported (`check_rosbags`). An older one failed the bag tests
(0.11.5: 31 of 75 in five of the files, 0.10.11 and 0.11.0: 76 and 12 errors of ~1900): a
message cut short raised struct.error, not rosbags' own error, so a damaged image stopped the
pass instead of being an unreadable frame; `sqlite_open` did not apply; 0.10 took a lone
``.mcap`` file for a bag folder's metadata.yaml. It now stops before any of that with one
line naming the pip command that updates it."""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Optional, Tuple

from ...core.errors import InputError

# setup.py requires the same (test_rosbags_requirement checks that they agree)
MIN_ROSBAGS = (0, 11, 6)


class RosbagsTooOld(InputError):
    """The installed rosbags is older than `MIN_ROSBAGS`."""


def installed_rosbags() -> Optional[Tuple[int, ...]]:
    """The installed rosbags' version numbers (major, minor, patch); None where there is none or
    it cannot be told (a checkout without metadata)."""
    try:
        return tuple(int(p) for p in _metadata.version("rosbags").split(".")[:3])
    except (ValueError, _metadata.PackageNotFoundError):
        return None


def floor() -> str:
    """`MIN_ROSBAGS` as pip writes it: '0.11.6'."""
    return ".".join(map(str, MIN_ROSBAGS))


def check_rosbags(version: Optional[Tuple[int, ...]] = None) -> None:
    """Raise `RosbagsTooOld` (one line: which rosbags, and the pip command) where the installed
    rosbags (``version``: the installed one's when None) is older than `MIN_ROSBAGS`."""
    version = installed_rosbags() if version is None else version
    if version is not None and tuple(version) < MIN_ROSBAGS:
        raise RosbagsTooOld(
            f"rosbags {'.'.join(map(str, version))} is installed, but reading a bag needs "
            f"rosbags {floor()} or newer: pip install -U 'rosbags>={floor()}'")
