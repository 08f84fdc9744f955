"""Warn-once records with a bound, for processes that run for hours (the node).

A module-level ``set`` of the keys already warned about (a frame id, a stream's encoding) grows
by one entry for every distinct key: a camera driver that puts a counter or a stamp in its
``frame_id`` added one per image, for as long as the node ran. `SaidOnce` remembers at most
``max_keys`` of them, and `without_numbers` makes such ids one key: bounding the memory alone
still said a line per image. `first_in_environment` remembers a hint across processes: said
once for a Python environment (a venv, the system's), not on every command.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import sys
import threading
from typing import Hashable, Iterator

DEFAULT_MAX_KEYS = 256

_NUMBERS = re.compile(r"\d+")


def without_numbers(text: str) -> str:
    """``text`` with each run of digits replaced by '#': the key of a source (a frame id) that a
    driver numbers anew at each image ('/cam_17', '/cam_18': '/cam_#'), so that it is said once,
    not once an image. Sources whose names differ only in their numbers ('cam0', 'cam1') are one
    key too: the first is said, and its line names it."""
    return _NUMBERS.sub("#", text)


class SaidOnce:
    """The keys something was said about once, at most ``max_keys`` of them (an int >= 1).

    `first` answers True the first time it sees a key (say it now) and False while the key is
    remembered. A key asked about again counts as recent, and when a new key would exceed the
    bound, the one asked about least recently is forgotten: a key that recurs every frame stays
    remembered (said once) however many other keys pass by; one forgotten is said again once if
    it comes back. Thread-safe (the node's executor and worker threads both decode images).
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"SaidOnce: max_keys must be an int >= 1, got {max_keys!r}")
        self.max_keys = max_keys
        self._keys: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """True when ``key`` is not remembered (it is now), False when it is."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return True

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Hashable]:
        with self._lock:
            return iter(list(self._keys))

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


def first_in_environment(name: str) -> bool:
    """True the first time this Python environment (``sys.prefix``: a venv, the system's) asks
    about the hint ``name`` (a file name's part: letters, digits, '-', '_'), False after: a marker
    file ``mast3r_ros/said/<name>-<environment hash>`` under ``$XDG_CACHE_HOME`` (else
    ``~/.cache``) says so. A marker that cannot be written (a read-only home) is not fatal: the
    hint is then said on every run, as before. Raises nothing."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".cache")
    env = hashlib.sha1(os.path.realpath(sys.prefix).encode("utf-8")).hexdigest()[:12]
    path = os.path.join(base, "mast3r_ros", "said", f"{name}-{env}")
    if os.path.exists(path):
        return False
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:  # 'x': two processes at once, one says it
            f.write(f"{sys.prefix}\n")
    except FileExistsError:
        return False
    except OSError:
        pass
    return True
