"""`MapWriter.add_keyframe`'s refusal of a frame added twice (`SeenFrames`).

A keyframe whose stamp and image are an earlier keyframe's is the same frame again (a loop
that offers a frame twice, a list with a line pasted twice): it adds no view of the scene, and
check-map fitted a colour focal length from the pair (fx x0.577 on 7-Scenes redkitchen, from a
pair with no baseline). It is refused as the writer refuses its other bad input (`InputError`,
nothing stored), naming the earlier keyframe. Images that only share a stamp (two cameras, a
list's stamps rounded) are different frames and kept, as the TUM reader keeps them (it drops
a line repeating an earlier one's stamp and file). `add_keyframe_png` (merge-maps' copies) is
not checked: merge-maps drops such copies itself unless ``--keep-duplicates``."""

from __future__ import annotations

from typing import Any, Dict, List

from ..errors import InputError
from .layout import sha256_hex


class SeenFrames:
    """The writer's keyframe records by stamp, extended as records are added (a resumed
    build's too), compared by the sha256 of their image PNG (its file table's), hashed only
    where a record has the stamp (a build's keyframes mostly have a stamp of their own)."""

    def __init__(self) -> None:
        self._by_stamp: Dict[int, List[Dict[str, Any]]] = {}
        self._indexed = 0

    def refuse_repeat(self, records: List[Dict[str, Any]], files: Dict[str, Dict[str, Any]],
                      kid: int, stamp_ns: int, image_png: bytes) -> None:
        """Raise `InputError` when one of ``records`` has ``stamp_ns`` and an image PNG whose
        sha256 (``files``) is ``image_png``'s: keyframe ``kid`` would be that frame again."""
        if self._indexed > len(records):  # records dropped: index them again
            self._by_stamp, self._indexed = {}, 0
        for rec in records[self._indexed:]:
            self._by_stamp.setdefault(int(rec["stamp_ns"]), []).append(rec)
        self._indexed = len(records)
        same = self._by_stamp.get(int(stamp_ns), ())
        digest = sha256_hex(image_png) if same else ""
        for rec in same:
            if files.get(rec["image"], {}).get("sha256") == digest:
                raise InputError(
                    f"keyframe {kid}: stamp_ns {int(stamp_ns)} and its image are keyframe "
                    f"{rec['id']}'s: the same frame added twice (nothing of it stored); add each "
                    "frame once (images that only share a stamp are kept)")
