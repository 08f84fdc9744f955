"""Keyframe encodings for the MASt3R matcher, fetched per candidate (issues 9 and 11).

Kept apart from `matchers.mast3r` (how matches are computed) on purpose: this module only decides
how a keyframe's cached encoder output reaches the device. A v1 map's encodings come as a list and
are copied to the device once, at construction; a v2/v3 map's come as a lazy sequence over its
encoding store (`core.encoding_store.EncodingStore`, bounded host LRU cache), and each keyframe's
`Encoding` is copied to the device when a frame first needs it, then kept in an LRU cache of at
most ``device_cache_mb`` (``scale.device_cache_mb``), so the consecutive frames of a robot, which
use the same few keyframes, copy nothing. Features stay float16 on the device, as stored
(`Encoding.from_numpy`: no conversion on the host; the decoder casts the stacked batch to
float32 on the device, bit-identical to the former host conversion). At 512 (768 tokens of the
ViT-L's 1024 channels) one keyframe is 1.5 MiB, so the default 256 MB holds 170 keyframes.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any, Mapping

import numpy as np

from ..config import ScaleConfig
from ..errors import InputError, MapFormatError

DEFAULT_DEVICE_CACHE_MB = ScaleConfig().device_cache_mb


class KeyframeEncodings(Sequence):
    """``encodings[i]`` -> the `Encoding` of keyframe ``i`` on ``device`` (feats float16 as
    stored, (N, C)).

    ``per_keyframe``: a list (v1 map: every keyframe copied to the device now) or a lazy
    sequence of ``Encoding.to_numpy()`` dicts (v2/v3 map: copied on first use and kept in an LRU
    cache of ``device_cache_mb`` MiB; 0 copies every candidate every frame). ``uploads`` counts
    the keyframe encodings copied host -> device so far (cache misses; for tests and benches).
    Raises MapFormatError (naming the map ``where``) when a cached encoding is unusable, at
    construction for list-backed maps and on first use for store-backed ones.
    """

    def __init__(self, per_keyframe: Sequence[Mapping[str, np.ndarray]], device: Any,
                 where: str, device_cache_mb: float = DEFAULT_DEVICE_CACHE_MB):
        self._src = per_keyframe
        self._device = device
        self._where = where
        self._eager = None
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self.capacity_bytes = int(device_cache_mb * 2 ** 20)
        self._nbytes = 0
        self.uploads = 0
        if isinstance(per_keyframe, list):
            self._eager = [self._convert(d) for d in per_keyframe]

    def _convert(self, d: Mapping[str, np.ndarray]) -> Any:
        from ..model.engine import Encoding

        try:
            enc = Encoding.from_numpy(dict(d), self._device)
        except (InputError, KeyError) as e:
            raise MapFormatError(f"map {self._where}: cached encodings unusable: {e}") from None
        self.uploads += 1
        return enc

    @property
    def cached_bytes(self) -> int:
        """Device bytes held by the LRU cache (list-backed maps: 0, they hold every keyframe)."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._eager is not None:
            return self._eager[i]
        n = len(self)
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:  # as a list: -n..n-1 (a wrapped -n-1 was keyframe n-1, silently)
            raise IndexError(f"keyframe index {i} out of range for {n} keyframes")
        i = j
        hit = self._cache.get(i)
        if hit is not None:
            self._cache.move_to_end(i)
            return hit
        enc = self._convert(self._src[i])
        size = _nbytes(enc)
        if size <= self.capacity_bytes:
            self._cache[i] = enc
            self._nbytes += size
            while self._nbytes > self.capacity_bytes:
                _, old = self._cache.popitem(last=False)
                self._nbytes -= _nbytes(old)
        return enc

    def preload(self, indices: Sequence[int]) -> int:
        """Copy the encodings of ``indices`` to the device now (the warm-up: the first live
        frame's candidates then copy nothing), in order, as long as the LRU cache holds them
        without evicting one already cached; returns how many were copied. List-backed maps
        hold every keyframe already (0). Raises `MapFormatError` as ``encodings[i]`` does."""
        if self._eager is not None:
            return 0
        before = self.uploads
        for i in indices:
            if i in self._cache:
                continue
            enc = self._convert(self._src[i])
            size = _nbytes(enc)
            if self._nbytes + size > self.capacity_bytes:
                break  # would evict: the cache is full (what it keeps is the live frames' call)
            self._cache[i] = enc
            self._nbytes += size
        return self.uploads - before


def _nbytes(enc: Any) -> int:
    return int(enc.feats.numel() * enc.feats.element_size())
