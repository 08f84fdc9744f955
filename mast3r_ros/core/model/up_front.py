"""The network a command's checks loaded up front, before it read its recording, handed to the
first engine of the same file and device (`loaded_networks.load_network`), so the checkpoint is
read once. Kept only inside a `networks_up_front` block (the CLI enters one per command); torch
is not imported here, so entering the block costs a command that loads no network nothing."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, Optional, Set

# (real path, size, mtime_ns, device) -> (model, CheckpointInfo); None outside a block
_kept: Optional[Dict[tuple, Any]] = None
# what the command's up-front checks said already (`first_time`); None outside a block
_said: Optional[Set[str]] = None


@contextlib.contextmanager
def networks_up_front() -> Iterator[None]:
    """Within the block `keep` holds a loaded network for the next engine of its file (`take`);
    one left untaken (the command failed before building its engine) is dropped at the end.
    Nested blocks share the outer one's, and so what `first_time` remembers."""
    global _kept, _said
    if _kept is not None:
        yield
        return
    _kept, _said = {}, set()
    try:
        yield
    finally:
        _kept, _said = None, None


def first_time(what: str) -> bool:
    """True the first time ``what`` (a key of the caller's) is asked about in the current
    `networks_up_front` block, False after: a warning the command's up-front checks give, said
    once though both the command and the library call it runs do those checks. Outside a block
    always True."""
    if _said is None:
        return True
    if what in _said:
        return False
    _said.add(what)
    return True


def keep(key: Optional[tuple], loaded: Any) -> None:
    """Hold ``loaded`` (model, info) for `take` of ``key``, in place of any held before (one
    network at a time: a 2.7 GB one is not held twice); outside a block, or with no ``key`` (the
    file could not be stat'ed), nothing is held."""
    if _kept is not None and key is not None:
        _kept.clear()
        _kept[key] = loaded


def take(key: Optional[tuple]) -> Any:
    """The (model, info) held for ``key``, given once (then forgotten), else None."""
    if _kept is None or key is None:
        return None
    return _kept.pop(key, None)
