"""A path pasted with the blank beside it (``--checkpoint "$HOME/m.pth "``, a line copied from
a table or a document) is not found, and the line that says so cannot show the space: the note
that the path without it exists (`blank_edge_note`)."""

from __future__ import annotations

import os


def blank_edge_note(path: str) -> str:
    """' (the path ends with white space, ...: 'P' exists without it; remove the space)' for a
    ``path`` that begins or ends with white space and exists without it; else ''."""
    text = str(path)
    bare = text.strip()
    if not bare or bare == text or not os.path.lexists(bare):
        return ""
    edge = ("begins and ends" if text[:1].isspace() and text[-1:].isspace() else
            "begins" if text[:1].isspace() else "ends")
    return (f" (the path {edge} with white space, which this line cannot show: {bare!r} exists "
            "without it; remove the space)")
