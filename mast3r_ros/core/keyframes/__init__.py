"""The keyframe map on disk: a versioned folder, written atomically, validated on load.

Layout (format ``mast3r_ros.keyframe_map`` version 3, what `MapWriter` writes by default)::

    MAP/
      manifest.json            format, version, map_frame, ``keyframe_table`` entry (file, count,
                               distortion model names), retrieval, encodings and ASMK entries,
                               file table (sha256 and size of every file except the keyframe
                               PNGs and the encoding chunks, whose checksums are in the tables)
      keyframe_table.npy       one binary row per keyframe (`table.KEYFRAME_DTYPE`: id, stamp,
                               pose, intrinsics, depth scale, PNG sizes and sha256)
      keyframes/000000.png     RGB image, lossless
      keyframes/000000_depth.png   optional z-depth, uint16, ``depth_scale`` units/m, 0 = none
      retrieval/thumbnail/     `RetrievalIndex` of the (K, D) weight-free thumbnail descriptors
      retrieval/asmk_<h>.npz   optional ASMK inverted file (`core.asmk.AsmkIndex`) of one
                               retrieval model on one encoder's output (manifest ``asmk``)
      encodings/<id>_<size>/   encoding store (`core.encoding_store`) of one checkpoint identity
                               at one image size: ``chunk_<first>.npy`` records (``feats`` fp16,
                               ``true_shape``, ``to_orig``, pooled ``global``), their sizes and
                               checksums in ``chunk_table.npy``; ``pooled/`` the
                               `RetrievalIndex` of ``global``

Version 2 (still read; ``MapWriter(version=2)`` writes it): the same folders without the binary
tables -- one JSON keyframe record per keyframe in the manifest, and every PNG and chunk in its
file table (the store's chunk table as JSON). Version 1 (``version=1``): no stores or ASMK
files; ``retrieval.npz`` (``thumbnail``) and ``encodings/<id>_<size>.npz`` (``k<i>__<name>``
arrays, ``to_orig``, ``global``, ``identity``, ``image_size``), read whole.

Keyframe records (v1/v2 only; v3 has the same fields as table columns) hold ``id``,
``stamp_ns``, ``intrinsics`` (width, height, K row-major, dist, distortion_model),
``map_from_cam`` (16 numbers, row-major) and file names. Nothing is pickled; arrays are read with
``allow_pickle=False``.

Atomicity: `MapWriter` writes into a sibling folder ``MAP.tmp-m3r-XXXX`` (``MAP.partial`` for a
resumable build) and renames it to ``MAP`` only after the manifest (written last) is on disk, so
an interrupted build never leaves anything at ``MAP``. Encodings for another checkpoint are added
to an existing map file-by-file (the files first, then the manifest, each via rename), so readers
see the old map or the new one.

Modules: `layout` (names, records, checksums, arrays), `selection` (which frames become keyframes),
`writer` (`MapWriter`, `write_map`) with `target` (where a map may be published: the overwrite
and foreign-entry rules), `pixels` (PNG encoding of images and depth, PNG header checks),
`writer_encodings` (the encodings, stores and ASMK files a build adds) and `writer_pngs`
(keyframes added from their PNG files' bytes, as they are), `loader` (the validated
`KeyframeMap`) with `manifest` (manifest validation), `encodings` (its cached encodings and
retrieval indexes) and `map_files` (verified file access and the missing/truncated/corrupt file
checks), `table` (the v3 binary tables). Import the public names from this package.
"""

from __future__ import annotations

from .layout import FORMAT_NAME, FORMAT_VERSION, MANIFEST, EncodingSet, Keyframe
from .loader import KeyframeMap
from .selection import KeyframeSelector, select_keyframes
from .writer import MapWriter, depth_to_png, write_map

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "MANIFEST", "EncodingSet", "Keyframe", "KeyframeMap",
    "KeyframeSelector", "MapWriter", "depth_to_png", "select_keyframes", "write_map",
]
