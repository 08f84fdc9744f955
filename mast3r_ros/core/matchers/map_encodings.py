"""The keyframe encodings a map caches for the MASt3R matcher: one image encoded
(`encode_keyframe`: the encoder's arrays, the network-to-original pixel homography and the
pooled global descriptor), a map's keyframes stacked into the `EncodingSet` a map stores
(`stack_encodings`, `encode_keyframes`). Used by map building and by `matchers.mast3r` when a
map's cache is missing or stale.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, NamedTuple, Sequence

import numpy as np

from ..errors import InputError
from ..keyframes import EncodingSet, KeyframeMap
from ..keyframes.encodings import content_id_of
from ..progress_output import progress_bar
from ..retrieval import pooled_descriptor


class KeyframeEncoding(NamedTuple):
    """One image encoded for the map cache: ``arrays`` (``Encoding.to_numpy()``), ``to_orig``
    (3, 3) float64 network-pixel -> original-pixel homography, ``global_desc`` (C,) float32
    unit-norm pooled descriptor."""

    arrays: Dict[str, np.ndarray]
    to_orig: np.ndarray
    global_desc: np.ndarray


def encode_keyframe(engine: Any, rgb: np.ndarray, image_size: int) -> KeyframeEncoding:
    """Encode one (H, W, 3) uint8 RGB keyframe image with ``engine`` (a `Mast3rEngine`) at
    ``image_size`` for the map cache."""
    prep = engine.prepare(rgb, image_size)
    arrays = engine.encode(prep).to_numpy()
    return KeyframeEncoding(arrays, np.asarray(prep.to_orig, np.float64),
                            pooled_descriptor(arrays["feats"]))


def stack_encodings(identity: str, image_size: int,
                    encodings: Sequence[KeyframeEncoding]) -> EncodingSet:
    """The `EncodingSet` of a map's keyframes (map-list order) encoded by `encode_keyframe` with
    the checkpoint ``identity`` (``Mast3rEngine.identity``); raises `InputError` when empty."""
    if not encodings:
        raise InputError("no keyframe encodings to store: the map has no keyframes")
    return EncodingSet(identity, int(image_size), [e.arrays for e in encodings],
                       np.stack([e.to_orig for e in encodings]),
                       np.stack([e.global_desc for e in encodings]))


def encode_keyframes(kf_map: KeyframeMap, engine: Any, image_size: int) -> EncodingSet:
    """Encoder outputs of every keyframe of a map for one checkpoint and image size (store them
    with ``KeyframeMap.save_encodings`` or ``MapWriter.add_encodings``). Shows its progress in
    keyframes (`progress_output.progress_bar`: a bar on a terminal, INFO lines off one): a
    localizer computing a map's missing encodings (another checkpoint or size than the build's)
    spends seconds a keyframe on a CPU, minutes to hours on a large map, before its first
    frame."""
    bar = progress_bar(len(kf_map), "encoding the map's keyframes", "keyframe")
    encs = []
    try:
        for i in range(len(kf_map)):
            encs.append(encode_keyframe(engine, kf_map.image(i), image_size))
            bar.update(1)
    finally:
        bar.close()
    return dataclasses.replace(stack_encodings(engine.identity, image_size, encs),
                               content_id=content_id_of(engine))
