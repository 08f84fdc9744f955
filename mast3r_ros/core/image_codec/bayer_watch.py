"""Single-channel images that are really a raw Bayer mosaic (a colour sensor's data published or
saved as grey): `bayer_like` judges one image, `BayerWatch` samples a stream of them and says
when a stream is found a mosaic, once; `warn_bayer_stream` words the warning of an image topic.

Every source of grey frames goes through a `BayerWatch`, keyed by the source: an image folder's
grey files (`files.read_image_file`, one key a folder, in the watch of the reader that reads
it: a `TumSequence`'s, so each read of a folder says it once; a process-wide one was silent
when a folder was read again in one process), a bag's image topic (`BagSequence`, a
watch of its own) and the node's subscription (`ros.image_watch`, a watch of its own each
activation whose finding is also put on /diagnostics). A folder was judged on its first file
only, a topic keyed by frame_id in one watch of the process: a second camera with the same
frame_id (usb_cam's default 'camera') went unjudged once the first was warned about. A watch
judges a stream's first `FIRST_TRIES` images (a mosaic after a grey or dark first frame), then
every `JUDGE_EVERY`-th one (a stream that turns into mosaics later: a folder joined from two
recordings, a driver reconfigured), so at most ``FIRST_TRIES + n / JUDGE_EVERY`` judgements for
n images. A judgement reads at most `MAX_LINE_PAIRS` row pairs and column pairs: 0.3 ms at
640x480 on a loaded 2-core CPU (5-7 ms for the whole image), 0.075 ms an image on average over a
stream (docs/bench/bayer_watch_cpu_2026-12-09e).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Hashable, Optional, Tuple

import numpy as np

log = logging.getLogger(__name__)

# single-channel encodings a camera's mosaic may be published under (16UC1 is depth: REP-118)
MONO_ENCODINGS = ("mono8", "mono16", "8UC1")
# a pixel predicted from its same-colour neighbours two away at least this many times better
# than from its next neighbours, along rows and along columns: a mosaic (a grey picture, a depth
# image: at most 0.47 and 0.56; white noise 1.0; mosaics of 7-Scenes kitchen frames: 2.6..9)
BAYER_LIKE_MIN_RATIO = 1.5
# a stream's first images judged, each (a folder of a few files, a mosaic after a grey first
# frame), then every JUDGE_EVERY-th one (a run of that many mosaics is never missed)
FIRST_TRIES = 8
JUDGE_EVERY = 8
# rows (columns) read by a judgement: at most this many pairs of them, spread over the image
MAX_LINE_PAIRS = 32


def _line_pairs(n: int) -> np.ndarray:
    """Indices of at most `MAX_LINE_PAIRS` pairs (2k, 2k + 1) of ``n`` lines, evenly spread
    (both of a pair: a mosaic's two kinds of row)."""
    starts = np.arange(0, n - 1, 2)
    starts = starts[::max(1, -(-len(starts) // MAX_LINE_PAIRS))]
    return np.stack([starts, starts + 1], axis=1).reshape(-1)


def bayer_ratios(image: np.ndarray) -> Optional[Tuple[float, float]]:
    """(along rows, along columns): how many times better ``image``'s pixels are predicted from
    the mean of their two neighbours two away than from that of their next two (mean absolute
    errors; on at most `MAX_LINE_PAIRS` row pairs and column pairs). A mosaic's next neighbours
    are another colour, those two away the same one: a mosaic of a coloured scene gives 2..9,
    a picture about 0.5, noise 1. None for what cannot be judged: not a (H, W) uint8 or uint16
    array, under 8x8, flat along a direction. Raises nothing."""
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16) \
            or image.ndim != 2 or min(image.shape) < 8:
        return None
    ratios = []
    for g in (image[_line_pairs(image.shape[0])].astype(np.float32),
              image[:, _line_pairs(image.shape[1])].T.astype(np.float32)):
        near = float(np.abs(2 * g[:, 2:-2] - g[:, 1:-3] - g[:, 3:-1]).mean())
        far = float(np.abs(2 * g[:, 2:-2] - g[:, :-4] - g[:, 4:]).mean())
        if far <= 0:
            return None
        ratios.append(near / far)
    return ratios[0], ratios[1]


def bayer_like(image: np.ndarray) -> str:
    """Why a (H, W) uint8 or uint16 image looks like a raw Bayer mosaic (one colour a pixel in
    a 2x2 pattern, straight from a sensor), else '': `bayer_ratios` at least
    `BAYER_LIKE_MIN_RATIO` in both directions (interlaced video alternates its rows only); ''
    for what `bayer_ratios` cannot judge. A mosaic of a grey scene, white-balanced, is not told
    (and is a grey picture). Raises nothing."""
    ratios = bayer_ratios(image)
    if ratios is None or min(ratios) < BAYER_LIKE_MIN_RATIO:
        return ""
    return (f"its pixels are predicted {ratios[0]:.1f}x / {ratios[1]:.1f}x better from the "
            "pixels two away along their row / column than from their next neighbours, the "
            "mark of a 2x2 colour pattern")


def bayer_encodings(image: np.ndarray) -> Tuple[str, ...]:
    """The two ROS Bayer encodings a mosaic ``image`` (H, W) uint8 / uint16 may have, told by
    which diagonal of its 2x2 cells carries the green pair (the two nearly equal, red and blue
    not): ('bayer_rggb8', 'bayer_bggr8') or ('bayer_grbg8', 'bayer_gbrg8'), '16' for uint16.
    Which of the two the image alone does not tell. () when the diagonals do not differ."""
    if bayer_ratios(image) is None:
        return ()
    g = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2].astype(np.float32)
    main = float(np.abs(g[0::2, 0::2] - g[1::2, 1::2]).mean())  # (0,0)-(1,1)
    anti = float(np.abs(g[0::2, 1::2] - g[1::2, 0::2]).mean())  # (0,1)-(1,0)
    bits = "16" if image.dtype == np.uint16 else "8"
    if anti < 0.8 * main:
        return f"bayer_rggb{bits}", f"bayer_bggr{bits}"
    if main < 0.8 * anti:
        return f"bayer_grbg{bits}", f"bayer_gbrg{bits}"
    return ()


class BayerWatch:
    """Per stream key (a folder, a topic), which of its single-channel images are judged
    (`due`: its first ``first_tries``, then every ``every``-th), and `check`, which judges those
    (`bayer_like`) and gives the reason the first time a stream is found a mosaic (once: it is
    judged no more). At most ``max_keys`` keys are remembered (the least recently seen
    forgotten: a stream said, unseen while that many others were, is judged, and may be said,
    again; a stream being read is never forgotten, every image of it refreshes it).
    ``judgements`` counts the `bayer_like` calls (the watch's cost: at most ``first_tries + n /
    every`` for n images of a stream). ``on_warning(text)``: called by
    `warn_bayer_stream` with each warning it logs for a stream of this watch (the node puts it
    on /diagnostics). Thread-safe, a stream said once whatever thread judges it."""

    def __init__(self, every: int = JUDGE_EVERY, first_tries: int = FIRST_TRIES,
                 max_keys: int = 256,
                 on_warning: Optional[Callable[[str], None]] = None) -> None:
        self.every, self.first_tries = max(1, int(every)), int(first_tries)
        self.max_keys = int(max_keys)
        self.on_warning = on_warning
        self.judgements = 0
        self._counts: collections.OrderedDict = collections.OrderedDict()  # key -> n, -1: said
        self._lock = threading.Lock()

    def _count(self, key: Hashable) -> int:
        """Count an image of ``key`` (under ``_lock``) -> its number (-1 once `said`)."""
        n = self._counts.pop(key, 0)
        self._counts[key] = n = n if n < 0 else n + 1
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return n

    def due(self, key: Hashable) -> bool:
        """Count an image of ``key``; True when it is to be judged (never once `said`)."""
        with self._lock:
            n = self._count(key)
        return n > 0 and (n <= self.first_tries or n % self.every == 0)

    def first(self, key: Hashable) -> bool:
        """Count an image of ``key``; True for its first one: a check made once a stream of
        this watch (an image folder's depth-like files, `files.read_image_file`: a reader's
        watch says it once each read of the folder). Use a key of its own, not a `check`'s."""
        with self._lock:
            return self._count(key) == 1

    def said(self, key: Hashable) -> None:
        """The stream ``key`` was warned about: judged no more."""
        with self._lock:
            self._counts[key] = -1

    def check(self, key: Hashable, image: np.ndarray) -> str:
        """Count ``image`` (H, W) of stream ``key``; when it is due, judge it (`bayer_like`):
        the reason the first time the stream is found a mosaic (then `said`), else '' -- once
        also where threads judge its images at the same time."""
        if not self.due(key):
            return ""
        with self._lock:
            self.judgements += 1
        why = bayer_like(image)  # outside the lock: the other streams' images go on meanwhile
        if not why:
            return ""
        with self._lock:  # the claim and the mark at once: two threads judging the same
            if self._counts.get(key) == -1:  # stream's images warned twice (said by the other)
                return ""
            self._counts[key] = -1
        return why


_TOPIC_WATCH = BayerWatch()  # images decoded without a watch of their source's: by frame_id


def warn_bayer_stream(array: np.ndarray, encoding: str, frame_id: str, topic: str = "",
                      watch: Optional[BayerWatch] = None) -> str:
    """Warn once per stream (``topic``, else ``frame_id``, and ``encoding``) of ``watch``
    (default: one shared by every caller that gives none) when ``array``, a decoded ``mono8``
    / ``mono16`` / ``8UC1`` image message (H, W), is found a raw Bayer mosaic
    (`BayerWatch.check`), naming the topic and the fix: the driver's Bayer encoding (which
    `bayer_encodings` it may be; such images are demosaiced as they are read) or image_proc's
    debayer node. A warning, never a refusal (SIFT poses of mosaics came out as good as colour
    ones). Returns the warning's text ('' when none), also given to ``watch.on_warning``.
    Raises nothing but what ``on_warning`` raises."""
    if encoding not in MONO_ENCODINGS or getattr(array, "ndim", 0) != 2:
        return ""
    watch = _TOPIC_WATCH if watch is None else watch
    why = watch.check((topic or frame_id, encoding), array)
    if not why:
        return ""
    which = " or ".join(bayer_encodings(array)) or \
        f"bayer_rggb{'16' if array.dtype == np.uint16 else '8'}, ..."
    where = f"on {topic} (frame_id '{frame_id}')" if topic else f"of frame_id '{frame_id}'"
    text = (f"{encoding} images {where} look like a raw Bayer colour mosaic ({why}); they are "
            "read as grey pictures, their 2x2 colour pattern as texture: set the camera "
            f"driver's encoding to its Bayer one ({which}), which is demosaiced as it is "
            "read, or publish the colour image of the ROS image_proc debayer node "
            "(image_color) and give that topic (said once for this stream)")
    log.warning("%s", text)
    if watch.on_warning is not None:
        watch.on_warning(text)
    return text
