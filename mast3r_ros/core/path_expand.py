"""One way to read a path-valued parameter (``map_path``, ``checkpoint``, ``engine_cache``,
``retrieval.checkpoint``, ``retrieval.codebook``): a parameter file is not read by a shell, so
``map_path: $HOME/maps/office`` or ``~/maps/office`` reaches the program as written."""

from __future__ import annotations

import os


def expand_path(path: str) -> str:
    """``path`` with a leading ``~`` (`os.path.expanduser`) and every ``$VAR`` / ``${VAR}``
    (`os.path.expandvars`) expanded; a variable that is not set is left as written (so the
    error that the path is not found shows it). '' stays ''. Never raises for a str."""
    return os.path.expandvars(os.path.expanduser(path)) if path else path
