"""The keyframe map on disk: a versioned folder, written atomically, validated on load.

Layout (format ``mast3r_ros.keyframe_map`` version 1)::

    MAP/
      manifest.json            format, version, keyframe records, file table (sha256 of every file)
      keyframes/000000.png     RGB image, lossless
      keyframes/000000_depth.png   optional z-depth, uint16, ``depth_scale`` units/m, 0 = none
      retrieval.npz            ``thumbnail`` (K, D) float32 weight-free retrieval descriptors
      encodings/<id>_<size>.npz    cached encoder output of one checkpoint identity at one image
                                   size: per keyframe ``k<i>__<name>`` arrays from
                                   ``Encoding.to_numpy()``, ``to_orig`` (K, 3, 3), ``global``
                                   (K, C) pooled descriptors, ``identity``, ``image_size``

Keyframe records hold ``id``, ``stamp_ns``, ``intrinsics`` (width, height, K row-major, dist,
distortion_model), ``map_from_cam`` (16 numbers, row-major) and file names. Nothing is pickled;
arrays are read with ``allow_pickle=False``.

Atomicity: `MapWriter` writes into a sibling folder ``MAP.tmp-XXXX`` and renames it to ``MAP`` only
after the manifest (written last) is on disk, so an interrupted build never leaves anything at
``MAP``. Encodings for another checkpoint are added to an existing map file-by-file (the file first,
then the manifest, each via rename), so readers see the old map or the new one.

Modules: `layout` (names, records, checksums, arrays), `selection` (which frames become keyframes),
`writer` (`MapWriter`, `write_map`), `loader` (the validated `KeyframeMap`). Import the public
names from this package.
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
