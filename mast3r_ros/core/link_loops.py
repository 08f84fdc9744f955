"""A path that runs into a loop of symbolic links (``ln -s a b; ln -s b a``, a link pointing at
itself, or one its own target reaches again) leads to no file or folder: the OS says ELOOP, and
``os.path.exists`` False, so it read as 'not found' although the path is there. Named as the
loop it is, with the links followed (`link_loop`)."""

from __future__ import annotations

import errno
import os
from typing import Optional

_MAX_SHOWN = 6  # links written out in the chain


def link_loop(path: str) -> Optional[str]:
    """'a -> b -> a': the links followed, as written, from the first part of ``path`` that
    is a loop of symbolic links (``path`` itself, or a folder on its way) up to the first one
    seen again, when resolving ``path`` meets such a loop; else None (the path exists, or is
    missing for another reason)."""
    if not _loops(path):
        return None
    parts = os.path.normpath(path).split(os.sep)
    start = next((p for p in (os.sep.join(parts[:i + 1]) or os.sep for i in range(len(parts)))
                  if os.path.islink(p) and _loops(p)), None)
    if start is None:
        return "a link on its way"
    chain, seen, here = [start], {os.path.abspath(start)}, start
    while os.path.islink(here):
        if len(chain) > _MAX_SHOWN:
            chain.append("...")
            break
        try:
            target = os.readlink(here)
        except OSError:
            break
        chain.append(target)
        here = os.path.join(os.path.dirname(here), target)
        if os.path.abspath(here) in seen:
            break
        seen.add(os.path.abspath(here))
    return " -> ".join(chain)


def _loops(path: str) -> bool:
    """Whether resolving ``path`` fails with ELOOP."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    except ValueError:  # a NUL byte in the path
        pass
    return False


def loop_text(what: str, path: str) -> Optional[str]:
    """'{what} {path} runs into a loop of symbolic links (a -> b -> a), so it leads to no
    file or folder: point the link at the real one (ls -l shows where each points)' when ``path`` is
    one (`link_loop`), else None: the words every caller of a 'not found' uses instead."""
    chain = link_loop(path)
    if chain is None:
        return None
    return (f"{what} {path} runs into a loop of symbolic links ({chain}), so it leads to no "
            "file or folder: point the link at the real one (`ls -l` shows where each points)")
