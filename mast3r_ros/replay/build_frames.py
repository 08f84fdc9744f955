"""build-map's frames: which frames of a recording are decoded (`_candidate_frames`: only the
keyframe candidates, where the source lists poses and depth without decoding) and what the
manifest and the log say of the frames it did not use (`_MapStats`; ``unreadable_frames``,
``frames_not_read``), and whether small keyframes hold enough SIFT keypoints for the sift
matcher (`SiftKeypoints`). Split from `mast3r_ros.replay.pipeline`, which imports these names and
calls them from `_add_keyframes`."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ..core.errors import InputError
from ..core.keyframes import KeyframeSelector
from ..core.map_check import KeyframeCheck
from ..core.trajectory import format_time_range
from ..core.types import Frame, UnreadableFrame
from .sources import FrameSource, frames_or_unreadable_at
from .unreadable import warn_unreadable

log = logging.getLogger(__name__)


# keyframes of fewer pixels than this have their SIFT keypoints counted (a 320x240 frame has
# hundreds: not judged, nor slowed), the first `SIFT_JUDGED` of them (a recording's frames are
# of one size: a sample says it)
SIFT_SMALL_PIXELS = 320 * 240
SIFT_JUDGED = 20


@dataclasses.dataclass
class SiftKeypoints:
    """build-map --matcher sift: the SIFT keypoints of its small keyframes (`offer`), counted as
    the localizer extracts them (``localizer.sift_max_features``), and what they say once the
    keyframes are chosen (`warn`): tiny frames (8x6, 32x24) gave a map
    written with exit 0 that localized no frame."""

    max_features: int
    min_inliers: int  # gates.min_inliers: the PnP inliers a pose needs
    active: bool = True  # False: another matcher, nothing counted
    counts: List[int] = dataclasses.field(default_factory=list)
    sizes: List[str] = dataclasses.field(default_factory=list)  # WxH of the judged, in order

    @classmethod
    def of(cls, cfg: Any) -> SiftKeypoints:
        """The one for ``cfg``'s matcher: active for sift."""
        return cls(cfg.localizer.matching.sift_max_features, cfg.localizer.gates.min_inliers,
                   cfg.localizer.matcher == "sift")

    def offer(self, rgb: np.ndarray) -> None:
        """Count a keyframe's keypoints when its image is small and fewer were judged."""
        h, w = rgb.shape[:2]
        if self.active and h * w < SIFT_SMALL_PIXELS and len(self.counts) < SIFT_JUDGED:
            from ..core.matchers import sift  # OpenCV: the sift build's own import

            self.counts.append(len(sift.extract_sift(rgb, self.max_features)))
            self.sizes.append(f"{w}x{h}")

    def _said(self) -> str:
        """'17 keyframes (32x24 pixels)', 'the first 20 keyframes (...)' where more were not
        judged."""
        n = len(self.counts)
        first = "the first " if n == SIFT_JUDGED else ""
        return (f"{first}{n} keyframe{'s' if n > 1 else ''} "
                f"({', '.join(sorted(set(self.sizes)))} pixels)")

    def warn(self) -> None:
        """One warning when a judged keyframe has fewer keypoints than a pose needs, said more
        strongly when none has one (no frame can be matched to the map, whatever the settings).
        Not a refusal: a map of tiny frames still checks a pipeline's plumbing (the tests' bags
        of 8x6 frames), and localize says why its frames fail."""
        few = sum(c < self.min_inliers for c in self.counts)
        if self.counts and not any(self.counts):
            n = len(self.counts)
            which = (f"none of {self._said()} has a SIFT keypoint" if n > 1 else
                     f"the one keyframe ({self.sizes[0]} pixels) has no SIFT keypoint")
            log.warning("%s: the images are too small for SIFT and no frame can be localized "
                        "against this map; %s", which, self._fix())
        elif few == len(self.counts) == 1:
            log.warning("the one keyframe (%s pixels) has %d SIFT keypoint%s, fewer than the %d "
                        "PnP inliers a pose needs (gates.min_inliers): frames matched to it "
                        "will not localize; %s", self.sizes[0], self.counts[0],
                        "" if self.counts[0] == 1 else "s", self.min_inliers, self._fix())
        elif few:
            n = len(self.counts)
            which = (f"{few} of {self._said()}" if few < n else
                     self._said().replace("2 keyframes", "both keyframes", 1) if n == 2 else
                     f"all {'of ' if n == SIFT_JUDGED else ''}{self._said()}")
            log.warning("%s %s fewer SIFT keypoints (%s) than the %d PnP inliers a pose needs "
                        "(gates.min_inliers): frames matched to them will not localize; %s",
                        which, "has" if few == 1 else "have", self._spread(), self.min_inliers,
                        self._fix())

    def _spread(self) -> str:
        """'3..50, median 40' of the judged counts; '3 and 50' of two, '3 each' when equal."""
        lo, hi = min(self.counts), max(self.counts)
        if lo == hi:
            return f"{lo} each"
        if len(self.counts) == 2:
            return f"{lo} and {hi}"
        return f"{lo}..{hi}, median {int(np.median(self.counts))}"

    def _fix(self) -> str:
        return ("give the recording at a higher resolution (320x240 or more), or use --matcher "
                "mast3r with a checkpoint")


@dataclasses.dataclass
class _MapStats:
    all_poses: List[np.ndarray] = dataclasses.field(default_factory=list)
    posed_ns: List[int] = dataclasses.field(default_factory=list)  # stamps of all_poses
    no_pose: int = 0
    why_no_pose: Optional[str] = None  # `_why_no_pose`
    no_depth: int = 0  # keyframes written without depth (depth not needed)
    depth_skipped: int = 0  # posed frames without depth, not offered (depth needed)
    keyframes: int = 0
    not_read: int = 0  # frames never decoded: not keyframe candidates (`_candidate_frames`)
    # frames the source could not read (`UnreadableFrame`): (stamp ns, reason), in order; no
    # keyframe is taken from them (`_note_unreadable`)
    unreadable: List[Tuple[int, str]] = dataclasses.field(default_factory=list)
    unreadable_run: Tuple[int, int, int] = (0, 0, 0)  # the longest run: (frames, first, last)
    valid_depth: bool = False  # a keyframe's depth has a valid pixel (checked while needed)
    check: Optional[KeyframeCheck] = None  # the map check, fed each keyframe as it is written
    # --matcher sift: small keyframes' keypoints counted (another matcher: none)
    sift: SiftKeypoints = dataclasses.field(default_factory=lambda: SiftKeypoints(0, 0, False))



@dataclasses.dataclass(frozen=True)
class _NotRead:
    """A frame build-map did not decode: not a keyframe candidate (`_candidate_frames`), its
    pose (``map_from_cam`` 4x4 or None) and whether depth is listed for it (a TUM folder's
    text files, a bag's indexing pass: ``listed_pose_and_depth``)."""

    stamp_ns: int
    map_from_cam: Optional[np.ndarray]
    has_depth: bool


def _candidate_frames(source: FrameSource, poses: Optional[np.ndarray], need: Optional[str],
                      selector: KeyframeSelector
                      ) -> Optional[Iterator[Union[Frame, UnreadableFrame, _NotRead]]]:
    """The frames of ``source`` for `_add_keyframes`, each decoded only when it may become a
    keyframe; None for a source that cannot tell a frame's pose and depth without decoding it
    (``listed_pose_and_depth``: `TumSequence`, `BagSequence`, whose indexing pass holds
    each image's stamp, camera frame_id, tf and matched depth; a bag's image messages left
    out are neither deserialized nor decoded).

    Whether a frame becomes a keyframe depends only on its pose (``poses[i]`` when given, else
    the source's), whether depth is listed for it (when ``need``), and whether the frames
    offered before it could be read: so a frame is decoded when ``selector.would_keep`` its
    pose (read now, `_add_keyframes` offers it; unreadable, it is not offered and the next
    candidate is decoded, as before), and every other frame is a `_NotRead`, never decoded.
    Until the first frame is read every frame is decoded, as before, so that the refusal of
    a recording whose first frames are all unreadable (`hold_unreadable`) and the
    --camera-info size check on the first image (`frames_or_unreadable`) are unchanged. The
    selector is the one `_add_keyframes` offers to: this generator is consumed a frame at a
    time, each frame offered before the next is asked for."""
    listed = getattr(source, "listed_pose_and_depth", None)
    each = getattr(source, "frames_or_unreadable", None)
    if not callable(listed) or not callable(each) or (
            "positions" not in inspect.signature(each).parameters):
        return None
    stamps = source.stamps_ns
    known = getattr(source, "listed_unreadable", None)

    def passed(i: int, pose: Optional[np.ndarray], has_depth: bool
               ) -> Union[UnreadableFrame, _NotRead]:
        """Frame ``i``, no candidate: unreadable when the source already knows it cannot be
        read (a bag's image or matched depth message that cannot be deserialized: damaged, and
        counted so, as the every-frame path counts it), else not read."""
        lost = known(i) if callable(known) else None
        return lost if lost is not None else _NotRead(int(stamps[i]), pose, has_depth)

    def wanted() -> Iterator[int]:  # the positions decoded, decided one frame at a time
        for i in range(len(source)):
            if read_one[0]:
                pose, has_depth = listed(i)
                if poses is not None:
                    pose = poses[i]
                if pose is None or not np.isfinite(pose).all() or (need and not has_depth):
                    skipped.append(passed(i, pose, has_depth))
                    continue
                try:
                    if not selector.would_keep(pose):
                        skipped.append(passed(i, pose, has_depth))
                        continue
                except InputError:  # offered once read, and refused there, as before
                    pass
            yield i

    read_one = [False]  # a frame has been read: from here on only candidates are decoded
    skipped: List[Union[UnreadableFrame, _NotRead]] = []

    def frames() -> Iterator[Union[Frame, UnreadableFrame, _NotRead]]:
        it = frames_or_unreadable_at(source, wanted())
        for f in it:
            yield from skipped  # the frames passed over before this one, in order
            skipped.clear()
            read_one[0] = read_one[0] or not isinstance(f, UnreadableFrame)
            yield f
        yield from skipped
    return frames()


def _note_unreadable(st: _MapStats, f: UnreadableFrame, n: int, run: Sequence[int]) -> None:
    """Record the ``n``-th unreadable frame ``f`` in ``st`` (its stamp and reason; the longest
    ``run`` of unreadable frames in a row, stamps ns, this one last) and warn about it."""
    warn_unreadable(f, n, "no keyframe taken from it")
    st.unreadable.append((f.stamp_ns, f.reason))
    if len(run) > st.unreadable_run[0]:
        st.unreadable_run = (len(run), run[0], run[-1])


def _unreadable_record(st: _MapStats, frames: int) -> Dict[str, Any]:
    """The manifest's ``unreadable_frames`` (written only when some were): ``count`` of the
    ``frames`` read, ``stamps_ns`` of each (int ns, in order), the ``first`` one's ``reason``,
    and the ``longest_run`` of them in a row (``frames``, ``first_ns``, ``last_ns``)."""
    length, first, last = st.unreadable_run
    return {"count": len(st.unreadable), "of_frames": int(frames),
            "stamps_ns": [s for s, _ in st.unreadable],
            "first": {"stamp_ns": st.unreadable[0][0], "reason": st.unreadable[0][1]},
            "longest_run": {"frames": length, "first_ns": first, "last_ns": last}}


# the manifest's frames_not_read "reason": why build-map did not decode them
NOT_READ_REASON = "not keyframe candidates"


def _not_read_record(st: _MapStats, frames: int) -> Dict[str, Any]:
    """The manifest's ``frames_not_read`` (written only when some were not): ``count`` of the
    ``frames`` the recording lists whose images build-map never decoded, and the ``reason``
    ('not keyframe candidates': no pose, no depth where the matcher needs it, or a pose within
    the keyframe thresholds of the last keyframe; `_candidate_frames`). Whether they could be
    read is not known: an unreadable one is not in ``unreadable_frames``, but for one the
    source found damaged without decoding it (a bag's image message, or the depth message
    matched to it, that cannot be deserialized: unreadable, not counted here)."""
    return {"count": int(st.not_read), "of_frames": int(frames), "reason": NOT_READ_REASON}


def _no_pose_record(st: _MapStats, frames: int) -> Dict[str, Any]:
    """The manifest's ``frames_without_pose`` (written only when some had none): ``count`` of
    the ``frames`` the recording lists that got no pose (no keyframe taken from them), and the
    ``reason`` (`_why_no_pose`'s, with its fix; absent when not known)."""
    record: Dict[str, Any] = {"count": int(st.no_pose), "of_frames": int(frames)}
    if st.why_no_pose:
        record["reason"] = st.why_no_pose
    return record


def _warn_unreadable_count(st: _MapStats, frames: int) -> None:
    """The count at the end of a build that skipped unreadable frames, with the longest run of
    them in a row when longer than one (where the map may lack a keyframe)."""
    if not st.unreadable:
        return
    length, first, last = st.unreadable_run
    gap = (f"; the longest run of them, {length} frames in a row at "
           f"t={format_time_range(first * 1e-9, last * 1e-9)}, may leave the map without a "
           "keyframe there" if length > 1 else "")
    unread = (f", of the {frames - st.not_read} decoded ({st.not_read} not read: "
              f"{NOT_READ_REASON})" if st.not_read else "")
    log.warning("%d of %d frames%s could not be read and were skipped: no keyframe was taken "
                "from them (the first at t=%.6f s: %s; all listed in the manifest's "
                "unreadable_frames)%s", len(st.unreadable), frames, unread,
                st.unreadable[0][0] * 1e-9, st.unreadable[0][1], gap)

