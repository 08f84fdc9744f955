"""Which single-channel images of a stream are judged as raw Bayer mosaics (`files.bayer_like`),
and the warning of a stream of them: an image folder's grey files (`files.read_image_file`) and a
bag's or the node's mono8 / mono16 topics (`message_fields.frame_from_image_message`).

A stream was judged on its first image only: a folder whose first file is a grey picture (a
lens-cap frame, a calibration target) and the rest mosaics went unwarned, and mono8 topics were
never judged (a driver publishing its sensor's mosaic as mono8 is read as a grey picture, its
2x2 colour pattern as texture). `BayerWatch` judges a stream's 1st, 2nd, 4th, 8th, ... image (a
doubling schedule: the stream's length is not known ahead, a live topic has none) until it warns
once: 14 judgements for 10^4 frames, each ~20 ms at 640x480 on a loaded 2-core CPU (0.3 s in
all), and spread over the whole stream (frames 1, 2, 4, 8, 16, 32 of 50).
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Hashable

import numpy as np

log = logging.getLogger(__name__)

# single-channel encodings a camera's mosaic may be published under (16UC1 is depth: REP-118)
MONO_ENCODINGS = ("mono8", "mono16", "8UC1")


class BayerWatch:
    """Per stream key, the count of its single-channel images: `due` says whether this one is
    judged (the 1st, 2nd, 4th, ... until `said`). At most ``max_keys`` keys are remembered (the
    least recently seen forgotten). Thread-safe (the node's threads decode images)."""

    def __init__(self, max_keys: int = 256) -> None:
        self.max_keys = int(max_keys)
        self._counts: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def due(self, key: Hashable) -> bool:
        """Count an image of ``key``; True when it is to be judged: its count a power of 2 and
        the stream not warned about yet."""
        with self._lock:
            n = self._counts.pop(key, 0)
            self._counts[key] = n if n < 0 else n + 1  # -1: said
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
            n = self._counts[key]
            return n > 0 and n & (n - 1) == 0

    def said(self, key: Hashable) -> None:
        """The stream ``key`` was warned about: judged no more."""
        with self._lock:
            self._counts[key] = -1


_TOPIC_WATCH = BayerWatch()


def warn_bayer_stream(array: np.ndarray, encoding: str, frame_id: str) -> None:
    """Warn once per (frame_id, encoding) when ``array``, a decoded ``mono8`` / ``mono16`` /
    ``8UC1`` image message, looks like a raw Bayer mosaic (`files.bayer_like`), judging the
    stream's 1st, 2nd, 4th, ... image (`BayerWatch`). A warning, never a refusal (SIFT poses of
    mosaics came out as good as colour ones). Raises nothing."""
    if encoding not in MONO_ENCODINGS or getattr(array, "ndim", 0) != 2:
        return
    key = (frame_id, encoding)
    if not _TOPIC_WATCH.due(key):
        return
    from .files import bayer_like

    why = bayer_like(array)
    if why:
        _TOPIC_WATCH.said(key)
        log.warning("%s images of frame_id '%s' look like a raw Bayer colour mosaic (%s); they "
                    "are read as grey pictures, their 2x2 colour pattern as texture: publish "
                    "the colour image (the ROS image_proc debayer node's image_color), or the "
                    "driver's bayer_* encoding, which is demosaiced as it is read (said once "
                    "for this stream)", encoding, frame_id, why)
