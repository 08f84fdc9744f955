"""The options of the ``mast3r-ros`` command running now, for words that name an option:
a checkpoint given where a map or a parameter file goes is told to go in ``--checkpoint``
only by a command that has that option (check-map, merge-maps have none: build-map's and
localize's are named instead). Set by the CLI around its subcommand (`running`); outside one
(the node, a library caller) every option counts as there, as before."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import FrozenSet, Iterator, Optional, Tuple

_NOW: ContextVar[Optional[Tuple[str, FrozenSet[str]]]] = ContextVar("mast3r_ros_command",
                                                                    default=None)


@contextlib.contextmanager
def running(command: str, flags: FrozenSet[str]) -> Iterator[None]:
    """While the block runs, ``command`` (e.g. 'check-map') is the command and ``flags`` its
    long options (e.g. {'--params', '--json'})."""
    token = _NOW.set((command, frozenset(flags)))
    try:
        yield
    finally:
        _NOW.reset(token)


def has_flag(flag: str) -> bool:
    """Whether the command running now takes ``flag`` ('--checkpoint'); True outside one."""
    now = _NOW.get()
    return now is None or flag in now[1]


def elsewhere(flag: str, what: str, takes: str = "") -> str:
    """Where ``what`` ('a checkpoint') goes when the command running now lacks ``flag``:
    "check-map takes a map folder and has no --checkpoint; build-map and localize take a
    checkpoint as --checkpoint" (``takes``: what the argument given it takes, 'a map folder';
    '' leaves that out); '' when the command has ``flag`` (or none is running)."""
    now = _NOW.get()
    if now is None or flag in now[1]:
        return ""
    has = f"takes {takes} and has" if takes else "has"
    return f"{now[0]} {has} no {flag}; build-map and localize take {what} as {flag}"


def checkpoint_goes(takes: str = "") -> str:
    """'a checkpoint goes in --checkpoint', or for a command without that option the
    commands that have it (`elsewhere`)."""
    return (elsewhere("--checkpoint", "a checkpoint", takes)
            or "a checkpoint goes in --checkpoint")
