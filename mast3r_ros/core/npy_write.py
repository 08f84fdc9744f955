"""`save_npy`: ``np.save`` into an open binary file whose write errors keep the OS's errno.

``np.save`` writes an array into a real file with ``ndarray.tofile``, whose short write on a full
disk raises ``OSError("4 requested and 2 written")`` without an errno: the command line could
only say "cannot use path: 4 requested and 2 written (check the paths given)". Through the
file's own ``write`` a full disk is ``ENOSPC`` (and a file-size limit ``EFBIG``), which the
command line words as what it is."""

from __future__ import annotations

from typing import IO, Any

import numpy as np


class _Writer:
    """Only ``write``: numpy then writes the array in buffered blocks through it."""

    def __init__(self, fh: IO[bytes]):
        self.write = fh.write


def save_npy(fh: IO[bytes], arr: Any) -> None:
    """``np.save(fh, arr, allow_pickle=False)`` through ``fh.write`` (see the module doc)."""
    np.save(_Writer(fh), arr, allow_pickle=False)  # type: ignore[arg-type]
