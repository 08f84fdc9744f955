"""What a merge takes from a source map, as digests: `content_digests` of a map's manifest, kept
in a merged map's ``merged_from`` record (``content_sha256``), and `changed_parts`, which
check-map uses to tell a source rebuilt with other content from one rebuilt with the same (its
manifest.json then differs only in the build's timings: the map check's ``elapsed_s`` and the
"in 0.17 s" of its message) and to say what changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List

# the parts compared, in the order a note names them: part -> the words for it
PART_WORDS = {
    "format": "map format version",
    "map_frame": "map frame",
    "keyframes": "keyframes",
    "retrieval": "retrieval index",
    "unreadable_frames": "record of unreadable frames",
    "merged_from": "own sources",
}
PLURAL_PARTS = ("keyframes", "own sources")  # the words that take 'differ'


def _is_cache(rel: str) -> bool:
    """A file of the caches localize adds to a map (encodings per checkpoint, ASMK indexes):
    derived from the keyframes, not what the merge is of."""
    return rel.startswith("encodings/") or rel.startswith("retrieval/asmk_")


def _part_of(rel: str) -> str:
    """The part a file listed in the manifest's ``files`` belongs to ('' for a cache)."""
    if _is_cache(rel):
        return ""
    return "retrieval" if rel.startswith("retrieval") else "keyframes"


def _sources(records: Any) -> Any:
    """A ``merged_from`` list without what a rebuild of a source's source with the same
    content changes (its ``manifest_sha256``) and how its build read the recording
    (``frames_not_read``, left out of a map's own digests too), recursively."""
    if not isinstance(records, list):
        return records
    return [{k: _sources(v) if k == "merged_from" else v for k, v in r.items()
             if k not in ("manifest_sha256", "frames_not_read")} if isinstance(r, dict) else r
            for r in records]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"),
                                     allow_nan=True).encode("utf-8")).hexdigest()


def content_digests(manifest: Dict[str, Any]) -> Dict[str, str]:
    """Hex sha256 per part of a map (keys of `PART_WORDS`) of its parsed ``manifest``: the
    format and version, the map frame, the keyframes (v3's keyframe table entry and the sha256
    of ``keyframe_table.npy``, which lists every keyframe PNG's sha256; v1/v2's keyframe
    records), the retrieval index, the frames the build could not read, and a merge's own
    sources. Left out: the map check's figures (``consistency``: its timings differ at every
    build, the rest follows from the keyframes and the thresholds), ``frames_not_read`` (how
    the build read the recording), and the encoding and ASMK caches localize adds. A manifest
    without a part digests it as null."""
    files: Dict[str, Dict[str, Any]] = {"keyframes": {}, "retrieval": {}}
    listed = manifest.get("files")
    for rel, meta in (listed.items() if isinstance(listed, dict) else ()):
        part = _part_of(str(rel))
        if part:
            files[part][rel] = meta
    return {
        "format": _digest([manifest.get("format"), manifest.get("version")]),
        "map_frame": _digest(manifest.get("map_frame")),
        "keyframes": _digest([manifest.get("keyframe_table"), manifest.get("keyframes"),
                              files["keyframes"]]),
        "retrieval": _digest([manifest.get("retrieval"), files["retrieval"]]),
        "unreadable_frames": _digest(manifest.get("unreadable_frames")),
        "merged_from": _digest(_sources(manifest.get("merged_from"))),
    }


def changed_parts(recorded: Any, manifest: Dict[str, Any]) -> List[str]:
    """The words (`PART_WORDS`) for each part whose digest in ``recorded`` (a ``merged_from``
    record's ``content_sha256``) differs from ``manifest``'s, in `PART_WORDS` order; [] when
    none differ. A part ``recorded`` lacks is not compared. Raises ValueError when
    ``recorded`` is not a dict of digests (a damaged record: nothing to compare)."""
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise ValueError("not a record of content digests")
    now = content_digests(manifest)
    return [words for part, words in PART_WORDS.items()
            if part in recorded and recorded[part] != now[part]]
