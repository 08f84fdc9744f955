"""Warn-once records with a bound, for processes that run for hours (the node).

A module-level ``set`` of the keys already warned about (a frame id, a stream's encoding) grows
by one entry for every distinct key: a camera driver that puts a counter or a stamp in its
``frame_id`` added one per image, for as long as the node ran. `SaidOnce` remembers at most
``max_keys`` of them, and `without_numbers` makes such ids one key: bounding the memory alone
still said a line per image. A tag of letters that changes at every image (``cam_xkqzpt``) is
no number: `SaidOnce.say` says at most ``max_said`` new keys, then only the number of new ones
since, at 10, 100, ... 10**6 of them, so a stream of unique ids gives a bounded number of lines
while two sources of one problem, or two problems (two `SaidOnce`), are still each said.
`first_in_environment` remembers a hint across processes: said once for a Python environment
(a venv, the system's), not on every command.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import sys
import threading
from typing import Hashable, Iterator, Optional

DEFAULT_MAX_KEYS = 256
DEFAULT_MAX_SAID = 8  # new keys said one by one by `SaidOnce.say`; then counts only
_COUNTS_SAID = tuple(10 ** k for k in range(1, 7))  # keys held back at which a count is said

_NUMBERS = re.compile(r"\d+")
# a hexadecimal tag (a uuid's part, a hash): 4+ hex characters holding a digit and a letter,
# between separators ('cam_3f2a9c', '3f2a9c1e-77b0-...')
_HEX_TAG = re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-Fa-f]*[A-Fa-f])(?=[0-9A-Fa-f]*[0-9])"
                      r"[0-9A-Fa-f]{4,}(?![0-9A-Za-z])")


def without_numbers(text: str) -> str:
    """``text`` with each hexadecimal tag (4+ hex characters between separators, a digit and a
    letter among them: a uuid's part, a hash) and each run of digits replaced by '#': the key of
    a source (a frame id) that a driver numbers or tags anew at each image ('/cam_17',
    '/cam_18': '/cam_#'; 'cam_3f2a9c', 'cam_0b1e77': 'cam_#'), so that it is said once, not
    once an image. Sources whose names differ only in their numbers ('cam0', 'cam1') are one
    key too: the first is said, and its line names it."""
    return _NUMBERS.sub("#", _HEX_TAG.sub("#", text))


class SaidOnce:
    """The keys something was said about once, at most ``max_keys`` of them (an int >= 1).

    `first` answers True the first time it sees a key (say it now) and False while the key is
    remembered. A key asked about again counts as recent, and when a new key would exceed the
    bound, the one asked about least recently is forgotten: a key that recurs every frame stays
    remembered (said once) however many other keys pass by; one forgotten is said again once if
    it comes back. Thread-safe (the node's executor and worker threads both decode images).
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS, max_said: int = DEFAULT_MAX_SAID,
                 what: str = "frame ids") -> None:
        for name, n in (("max_keys", max_keys), ("max_said", max_said)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"SaidOnce: {name} must be an int >= 1, got {n!r}")
        self.max_keys, self.max_said, self.what = max_keys, max_said, what
        self._keys: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._new = 0  # keys `say` found new (said, or held back past max_said)

    def say(self, key: Hashable) -> Optional[str]:
        """`first` with a bound on the lines: None when not to say it (``key`` remembered, or
        one of the new keys held back); else say the line now, ending it with the returned
        words: '' for each of the first ``max_said`` new keys, at the last of them that the
        next ones are counted, then, at the 10th, 100th, ... 10**6th new key held back, how
        many (none after: a bounded number of lines, whatever the stream)."""
        with self._lock:
            if not self._remember(key):
                return None
            self._new += 1
            if self._new < self.max_said:
                return ""
            held = self._new - self.max_said
            if held == 0:
                return (f" ({self.max_said} {self.what} said so: more new ones are counted, not "
                        "said one by one; one changing at every message?)")
            if held in _COUNTS_SAID:
                last = "; no count is said after this one" if held == _COUNTS_SAID[-1] else ""
                return (f" ({held} more {self.what} like it since the first {self.max_said}, "
                        f"not said one by one{last})")
            return None

    def first(self, key: Hashable) -> bool:
        """True when ``key`` is not remembered (it is now), False when it is (no bound on the
        keys said: `say` has one)."""
        with self._lock:
            return self._remember(key)

    def _remember(self, key: Hashable) -> bool:
        """`first` with ``_lock`` held."""
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
            self._new = 0


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
