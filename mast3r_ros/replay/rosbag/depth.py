"""Depth of a rosbag2's images: each image matched to the depth message nearest its header stamp
within the sync tolerance, and which depth messages an iteration reads and decodes.

`_DepthAssociation` is a base class of `BagSequence`: after the indexing pass `_match_depth`
matches the images of the run read to its depth stamps; an iteration counts the frames it yields
that take each depth message (`_depth_uses`: not those skipped by ``positions`` nor those taken
as recorded), deserializes and decodes only a depth message some of them take
(`_depth_wanted`), and releases it once the last one has (`_take_depth`). Whether that depth is
the colour image's (registered), and registering it, is `registered_depth`.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

import numpy as np

from .opening import bag_label
from ...core.errors import InputError
from ...core.image_codec import depth_to_metres
from ...core.message_fields import decode_image_message
from ...core.trajectory import nearest_indices
from ...core.image_stamp import MAX_SYNC_TOLERANCE_S

log = logging.getLogger(__name__)


class _DepthAssociation:
    """Depth of `BagSequence` (a base class of it). ``BagSequence.__init__`` and the indexing
    pass set the attributes annotated here."""

    path: Path
    image_topic: str
    depth_topic: Optional[str]
    depth_like_topics: List[str]
    run: int
    runs: List[Tuple[int, int, int]]
    _depth_scale: Optional[float]
    _depth_encoding: Optional[str]
    _tolerance_ns: int
    _image_stamps: List[int]
    _depth_stamps: List[int]  # of the run read
    _depth_by_ordinal: np.ndarray  # (M,) int64 header stamp of each depth message, every run's

    @property
    def depth_units_per_m(self) -> Optional[float]:
        """Raw depth units per metre the depth is read with (the override, else REP-118: 1000
        for 16-bit depth, 1 for 32FC1); None without a depth topic."""
        if self._depth_scale is not None:
            return float(self._depth_scale)
        if self.depth_topic is None:
            return None
        return 1.0 if (self._depth_encoding or "").startswith("32FC1") else 1000.0

    def no_depth_reason(self) -> Optional[str]:
        """Why no frame will have depth, with the fix (one line), or None when some may: no
        ``depth_topic`` (the bag's depth-like image topics named), or none of its messages
        within the sync tolerance of an image."""
        if self.depth_topic is None:
            if self.depth_like_topics:
                found = ", ".join(self.depth_like_topics)
                return (f"{bag_label(self.path)} is read without depth: pass --depth-topic <topic> "
                        f"(depth image topics in the bag: {found})")
            return (f"{bag_label(self.path)} is read without depth, and none of its image topics "
                    "looks like depth (16UC1 / 32FC1 or compressedDepth, or 'depth' in the "
                    "name); record the registered depth, or name it with --depth-topic")
        if not self._depth_refs:
            run = f" (run {self.run})" if len(self.runs) > 1 else ""
            fix = (self._unstamped_depth() or self._receive_gap()
                   or "check the header stamps or widen --sync-tolerance")
            return (f"no depth on {self.depth_topic} within {self._tolerance_ns * 1e-9:.3f} s of "
                    f"any image on {self.image_topic}{run}: {fix}")
        return None

    def _unstamped_depth(self) -> str:
        """'its N depth messages all have header stamp 0: ...' (or all one stamp, N > 1) for the
        run read, with the fix; '' otherwise. A depth driver that does not stamp its messages
        matches no image whatever the tolerance: 'widen --sync-tolerance' sent the user the
        wrong way."""
        stamps = set(self._depth_stamps)
        n = len(self._depth_stamps)
        if not n or len(stamps) != 1 or (n == 1 and 0 not in stamps):
            return ""
        (stamp,) = stamps
        said = ("header stamp 0" if stamp == 0 else
                f"the same header stamp ({stamp * 1e-9:.6f} s)")
        return (f"its {n} depth message{'s all have' if n > 1 else ' has'} {said}: the depth "
                "driver does not stamp its images with their capture time, which no sync "
                "tolerance makes up for; fix the driver's header.stamp")

    def _match_depth(self) -> None:
        """After the run is chosen: its depth stamps sorted and how many of its images each
        is matched to (`_depth_refs`); a warning when no image has depth."""
        self._depth_stamps_sorted = np.unique(np.asarray(self._depth_stamps, dtype=np.int64))
        matches = self._depth_matches(np.asarray(self._image_stamps, dtype=np.int64))
        self._depth_refs = collections.Counter(int(s) for s in matches if s >= 0)
        if self.depth_topic is not None and not self._depth_refs:
            fix = self._unstamped_depth() or self._receive_gap()
            log.warning(
                "no depth on %s within %.3f s of any image on %s%s", self.depth_topic,
                self._tolerance_ns * 1e-9, self.image_topic, f": {fix}" if fix else "",
            )

    def _receive_gap(self) -> str:
        """Under ``image_stamp`` 'receive' (depth matched to images by the bag's receive
        times), how long after (or before) its image each depth arrived (the median over the
        images, signed) and the fix: a --sync-tolerance that covers it (at most 1 s), or the
        header stamps (no tolerance past `MAX_SYNC_TOLERANCE_S`, --sync-tolerance's largest).
        '' under 'header' or without depth. An aligned depth is published after
        its colour image: 'check the header stamps' sent the user to stamps that were not read."""
        if getattr(self, "_image_stamp", "header") != "receive" or not self._depth_stamps:
            return ""
        depth = np.unique(np.asarray(self._depth_stamps, dtype=np.int64))
        images = np.asarray(self._image_stamps, dtype=np.int64)
        if not images.size:
            return ""
        right = np.clip(np.searchsorted(depth, images), 0, depth.size - 1)
        left = np.clip(right - 1, 0, depth.size - 1)
        gaps = np.where(np.abs(depth[left] - images) < np.abs(depth[right] - images),
                        depth[left] - images, depth[right] - images)
        gap_s = float(np.median(gaps)) * 1e-9
        widen = min(MAX_SYNC_TOLERANCE_S, np.ceil(abs(gap_s) * 1.5 * 1000) / 1000)
        name = getattr(self, "_option_names", {}).get("image_stamp", "image_stamp")
        fix = (f"widen --sync-tolerance (e.g. {widen:g}) or read the header stamps"
               if abs(gap_s) <= MAX_SYNC_TOLERANCE_S else  # no tolerance covers it
               f"more than --sync-tolerance's {MAX_SYNC_TOLERANCE_S:g} s maximum: read the header "
               "stamps")
        return (f"read at the bag's receive times ({name} receive), its depth arrived "
                f"{abs(gap_s) * 1000:.0f} ms {'after' if gap_s >= 0 else 'before'} the images "
                f"(median); {fix} ({name} header)")

    def _depth_matches(self, stamps_ns: np.ndarray) -> np.ndarray:
        """Depth header stamp matched to each image stamp, -1 where none."""
        idx = nearest_indices(self._depth_stamps_sorted, stamps_ns, self._tolerance_ns)
        if self._depth_stamps_sorted.size == 0:
            return idx
        return np.where(idx >= 0, self._depth_stamps_sorted[np.maximum(idx, 0)], -1)

    def _depth_uses(self, wanted: Optional[Set[int]], recorded: FrozenSet[int]
                    ) -> collections.Counter:
        """Depth header stamp -> how many frames of an iteration take it: the images at the
        ``wanted`` positions of `stamps_ns` (None: all), those at a ``recorded`` stamp left
        out (a `RecordedFrame` takes no depth). A depth message no frame takes is neither
        deserialized nor decoded (`_depth_wanted`)."""
        if wanted is None and not recorded:
            return collections.Counter(self._depth_refs)
        stamps = np.asarray(self._image_stamps, dtype=np.int64)
        taken = np.full(len(stamps), wanted is None)
        taken[[i for i in (wanted or ()) if 0 <= i < len(stamps)]] = True
        if recorded:
            taken &= ~np.isin(stamps, np.fromiter(recorded, np.int64, len(recorded)))
        return collections.Counter(int(s) for s in self._depth_matches(stamps[taken]) if s >= 0)

    def _depth_wanted(self, ordinal: int, remaining: collections.Counter,
                      depth_by_stamp: Dict[int, Any]) -> bool:
        """Whether the depth message ``ordinal`` (on the depth topic, every run's) is to be
        deserialized and decoded: a frame yet to come takes it (``remaining``, `_depth_uses`)
        and it is not decoded already (``depth_by_stamp``). Its stamp is the indexing pass's."""
        if ordinal >= len(self._depth_by_ordinal):  # only if the bag changed since: read it
            return True
        stamp = int(self._depth_by_ordinal[ordinal])
        return remaining[stamp] > 0 and stamp not in depth_by_stamp

    def _take_depth(self, depth_stamp: int, depth_by_stamp: Dict[int, Any],
                    remaining: collections.Counter) -> Any:
        """The depth matched to a frame (decoded, its InputError, or None), released once the
        last frame matched to it has taken it."""
        depth = depth_by_stamp.get(depth_stamp) if depth_stamp >= 0 else None
        if depth is not None:
            remaining[depth_stamp] -= 1
            if remaining[depth_stamp] <= 0:
                del depth_by_stamp[depth_stamp]
        return depth

    def _decode_depth(self, msg: Any) -> np.ndarray:
        """The depth message ``msg`` in metres; an `InputError` names the depth topic: its
        decoding failed (a corrupt PNG or RVL compressedDepth) or its values are no depth."""
        try:
            array, encoding = decode_image_message(msg)
            return depth_to_metres(array, encoding, self._depth_scale)
        except InputError as err:
            raise InputError(f"depth topic {self.depth_topic}: {err}") from err
