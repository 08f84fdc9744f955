"""Keyframe encodings for the MASt3R matcher, fetched per candidate (issue 11).

Kept apart from `matchers.mast3r` (how matches are computed) on purpose: this module only decides
how a keyframe's cached encoder output reaches the device. A v1 map's encodings come as a list and
are converted once, as before; a v2 map's come as a lazy sequence over its encoding store
(`core.encoding_store.EncodingStore`, bounded host LRU cache), and each keyframe's `Encoding` is
built when a frame first needs it, then kept in a small LRU bounded by ``device_cache_mb``.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any, Mapping

import numpy as np

from ..errors import InputError, MapFormatError


class KeyframeEncodings(Sequence):
    """``encodings[i]`` -> the `Encoding` of keyframe ``i`` on ``device``.

    Raises MapFormatError (naming the map) when a cached encoding is unusable, at construction
    for list-backed (v1) maps and on first use for store-backed (v2) ones.
    """

    def __init__(self, per_keyframe: Sequence[Mapping[str, np.ndarray]], device: Any,
                 where: str, device_cache_mb: float = 0.0):
        self._src = per_keyframe
        self._device = device
        self._where = where
        self._eager = None
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._capacity = int(device_cache_mb * 2 ** 20)
        self._nbytes = 0
        if isinstance(per_keyframe, list):
            self._eager = [self._convert(d) for d in per_keyframe]

    def _convert(self, d: Mapping[str, np.ndarray]) -> Any:
        from ..model.engine import Encoding

        try:
            return Encoding.from_numpy(dict(d), self._device)
        except (InputError, KeyError) as e:
            raise MapFormatError(f"map {self._where}: cached encodings unusable: {e}") from None

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._eager is not None:
            return self._eager[i]
        i = int(i) % len(self) if i < 0 else int(i)
        hit = self._cache.get(i)
        if hit is not None:
            self._cache.move_to_end(i)
            return hit
        enc = self._convert(self._src[i])
        size = int(enc.feats.numel() * enc.feats.element_size())
        if size <= self._capacity:
            self._cache[i] = enc
            self._nbytes += size
            while self._nbytes > self._capacity:
                _, old = self._cache.popitem(last=False)
                self._nbytes -= int(old.feats.numel() * old.feats.element_size())
        return enc
