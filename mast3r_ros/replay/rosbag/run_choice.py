"""Which run of a rosbag2 whose header time jumps back is read, and keeping it.

`_RunChoice` (a base class of `BagSequence`) takes the runs `runs._RunCounter` labelled in the
indexing pass and keeps the messages of one run: the longest (most images; the first of
equally long ones) unless ``run`` chooses one, with a warning naming the runs when there are
several (`_why_this_run`); it warns about a stream's messages stamped ahead of the run read, a
CameraInfo of another run used for want of one in it, and images whose header stamp is 0 or
repeated (see `runs` for how the runs are labelled).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional, Tuple

import numpy as np

from .image_digests import ImageDigests
from .opening import bag_label
from .runs import _RunCounter, _TfSamples
from ..shared_stamps import SharedStamps, bag_shared_stamps
from .unstamped import warn_unreceived, warn_unstamped
from ...core.errors import InputError
from ...core.tf_buffer import TransformBuffer
from ...core.types import CameraIntrinsics

log = logging.getLogger(__name__)


class _RunChoice:
    """The run of `BagSequence` (a base class of it): after the indexing pass, keep the messages
    of one run. ``BagSequence.__init__`` sets the attributes annotated here."""

    path: Path
    run: int
    runs: List[Tuple[int, int, int]]
    _run_label: int
    _last_run_label: int  # the images' last run's, as `_run_label` (the run counter's numbers)
    image_topic: str
    depth_topic: Optional[str]
    camera_info_topic: Optional[str]
    _run_wanted: Optional[int]
    _run_counter: _RunCounter
    _image_runs: List[Tuple[int, int]]
    _depth_runs: List[Tuple[int, int]]
    _info_runs: List[Tuple[int, int, CameraIntrinsics]]
    _tf_runs: Dict[Tuple[str, str], _TfSamples]
    _note_pose_stamps: Any  # `pose_topic._PoseTopic`'s
    _first_frame_ordinal: Any  # `video._VideoTopic`'s
    _image_stamps: List[int]
    _image_digests: ImageDigests  # of each image message, as `_image_runs`
    shared_stamps: SharedStamps
    _depth_stamps: List[int]
    _infos: List[Tuple[int, CameraIntrinsics]]
    _tf: TransformBuffer

    def _choose_run(self) -> None:
        """Keep the messages of one run (see the module docstring); warn when there are several."""
        runs = self._run_counter
        image, depth, info = self.image_topic, self.depth_topic, self.camera_info_topic
        runs.finish(reference=image, keep_received=(image, depth))
        guessed = runs.estimated(image)  # images that cannot be deserialized: their stamps
        self._image_runs = [(runs.run(image, o), guessed.get(o, s)) for o, s in self._image_runs]
        lost = runs.estimated(depth)  # depth messages that cannot be deserialized: likewise
        self._depth_runs = [(runs.run(depth, o), lost.get(o, s)) for o, s in self._depth_runs]
        self._info_runs = [(runs.run(info, o), s, k) for o, s, k in self._info_runs]
        # a video's packets before its first keyframe are no frames: not counted in any run
        framed = self._image_runs[self._first_frame_ordinal():] or self._image_runs
        counts = collections.Counter(r for r, _ in framed)
        lost = sorted(s for r, s in self._image_runs if r not in counts)
        if lost:  # a run of such packets alone: said here, as no run reads them
            log.warning("%s: %d video packets on %s (t=%.3f..%.3f s) come before its first "
                        "keyframe, a run of their own (header time jumps back after them): "
                        "they cannot be decoded, so that run holds no frames and is not one of "
                        "the runs", bag_label(self.path), len(lost), image, lost[0] * 1e-9,
                        lost[-1] * 1e-9)
        labels = sorted(counts)  # the bag's runs that hold images: the user's runs 1..n
        self.runs = [(counts[r], min(s for q, s in framed if q == r),
                      max(s for q, s in framed if q == r)) for r in labels]
        n = len(self.runs)
        if self._run_wanted is not None:
            if self._run_wanted > max(n, 1):
                why = ("jumps back" if n > 1 else "never jumps back" if not lost else
                       f"jumps back only after the {len(lost)} video packet(s) before its "
                       "first keyframe, which hold no frames")
                if n <= 1 and not lost and getattr(self, "_image_stamp", "header") == "receive":
                    # the runs are split by the images' times, here receive times, which do
                    # not go back where the header stamps do (a simulator reset)
                    name = self._option_names.get("image_stamp", "image_stamp")
                    raise InputError(
                        f"--run {self._run_wanted}: {bag_label(self.path)} is read with {name} "
                        "receive, and its images' receive times never jump back: it has one "
                        f"run; drop --run, or read its images' header stamps ({name} header) "
                        "to split a bag whose header time jumps back into runs")
                raise InputError(
                    f"--run {self._run_wanted}: {bag_label(self.path)} has "
                    f"{'only one run' if n <= 1 else f'{n} runs'} (its images' header time "
                    f"{why}): {'drop --run' if n <= 1 else f'choose --run 1..{n}'}")
            self.run = self._run_wanted
        elif n > 1:
            self.run = 1 + max(range(n), key=lambda i: (self.runs[i][0], -i))
        if n > 1:
            names = ", ".join(f"{i + 1}: {c} images t={a * 1e-9:.3f}..{b * 1e-9:.3f} s"
                              for i, (c, a, b) in enumerate(self.runs))
            how = _why_this_run([c for c, _, _ in self.runs], self._run_wanted is not None)
            jumps = "once" if n == 2 else f"{n - 1} times"
            # a WARNING when the run was chosen for the user; INFO when they chose it (--run)
            log.log(logging.INFO if self._run_wanted is not None else logging.WARNING,
                "%s: header time jumps back %s (clock reset or looped recording), so it "
                "holds %d runs (%s); reading run %d only, %s (%s)", bag_label(self.path),
                jumps, n, names, self.run, how, _every_run(getattr(self, "_command", None)))
        keep = self._run_label = labels[self.run - 1] if labels else 1
        self._last_run_label = labels[-1] if labels else 1
        early = [f"{_stream_name(k)} ({n} message{'' if n == 1 else 's'} up to "
                 f"t={top * 1e-9:.3f} s)" for k, (n, top) in runs.before_reference.items()]
        if early:
            # a clock reset before the camera started, another computer's clock stepped back
            # (NTP), or a publisher stamping ahead before its clock settled, received before
            # any image: with no image yet to compare clocks with, they look alike in a bag
            log.warning(
                "%s: the header time of %s goes back before the first image on %s: the "
                "messages before that drop are not read with the images, which take the "
                "messages after it (a clock reset before the camera started, a computer's "
                "clock stepped back by NTP, or messages stamped ahead of the clock before it "
                "settled: with no image before the drop a bag cannot tell which)",
                bag_label(self.path),
                ", ".join(early[:3]) + (f" and {len(early) - 3} more" if len(early) > 3 else ""),
                image)
        self._warn_lone_ahead(keep)
        self._image_stamps = [s for r, s in self._image_runs if r == keep]
        # two different images at one stamp: no pose there (`shared_stamps`), as rgb.txt's
        self.shared_stamps = bag_shared_stamps(bag_label(self.path), image, self._image_stamps, [
            None if o in guessed else d for o, ((r, _), d) in enumerate(zip(
                self._image_runs, self._image_digests.values)) if r == keep])
        self._warn_unstamped([s for o, (r, s) in enumerate(self._image_runs)
                              if r == keep and o not in guessed], self.shared_stamps.stamps)
        self._depth_stamps = [s for r, s in self._depth_runs if r == keep]
        self._infos = [(s, k) for r, s, k in self._info_runs if r == keep]
        if not self._infos and self._info_runs:
            self._infos = [self._camera_info_of_another_run(keep)]
        kept, every = [], self._keeps_every_tf()  # for a /tf extrinsic: `_tf_every_sample`
        for (parent, child), samples in self._tf_runs.items():
            labels = runs.runs_of(("tf", parent, child), len(samples.stamps))
            rows = np.flatnonzero(labels == keep)
            if rows.size:
                kept.append((samples.seq[rows[0]], parent, child, rows))
            if (labels > keep).any():  # runs of it after the one read (not one before)
                self._warn_tf_jump_under_receive(parent, child, samples, rows, len(labels))
        # each edge whole, in the order of its first sample in the run: the tree rules then
        # refuse the same edge as when the samples were added one by one, as read; its
        # columns freed once in the buffer (not all edges held twice at once, unless kept)
        for _, parent, child, rows in sorted(kept, key=lambda e: e[0]):
            samples = self._tf_runs[parent, child] if every else self._tf_runs.pop((parent, child))
            columns = samples.columns(rows)
            self._note_pose_stamps(parent, child, columns[0])  # repeated: said once
            self._tf.add_dynamic_tq(parent, child, *columns)
        self._image_runs, self._depth_runs, self._info_runs = [], [], []
        self._tf_every, self._tf_runs = (self._tf_runs if every else None), {}

    def _warn_tf_jump_under_receive(self, parent: str, child: str, samples: Any,
                                    rows: np.ndarray, total: int) -> None:
        """With image_stamp 'receive' the images never split into runs, but a tf edge whose
        header time jumps back (a simulator reset) still does: only its run under way at the
        first image is read, and the images after the jump find no pose. One warning (the
        first such edge) says so and names the way to read the bag by runs."""
        if getattr(self, "_image_stamp", "header") != "receive" or getattr(
                self, "_tf_jump_said", False):
            return
        self._tf_jump_said = True
        stamps = np.frombuffer(samples.stamps, np.int64)[rows] if rows.size else None
        span = (f"t={stamps.min() * 1e-9:.3f}..{stamps.max() * 1e-9:.3f} s" if stamps is not None
                else "none of them")
        name = self._option_names.get("image_stamp", "image_stamp")
        log.warning("%s: the header time of tf %s -> %s jumps back (a simulator reset or a "
                    "looped recording) while the images are read by their receive times "
                    "(%s receive), which do not: only %d of its %d samples, its run under way "
                    "at the first image (%s), are read, so images after the jump find no "
                    "pose; read the bag by header stamps (%s header) to choose a run with "
                    "--run N", bag_label(self.path), parent, child, name, rows.size, total,
                    span, name)

    def _warn_lone_ahead(self, keep: int) -> None:
        """One warning for the first such stream of the run read whose run begins with a
        message stamped above the next by a drop its receive times cannot place
        (`_RunCounter.lone_ahead`): read with the run, as stamped ahead."""
        runs = self._run_counter
        for k, found in runs.lone_ahead.items():
            for o, stamp, drop, rise in found:
                if runs.run(k, o) == keep:
                    log.warning(
                        "%s: %s: its first message (t=%.3f s) is stamped %.3f s above the "
                        "next, and receive time minus stamp rises by %.3f s after it: it is "
                        "read with the run as stamped ahead (a re-broadcast at now + "
                        "tolerance), but the clock going back right after it looks the same "
                        "and one message cannot tell; if it did, that message is of another "
                        "run", bag_label(self.path), _stream_name(k), stamp * 1e-9, drop * 1e-9,
                        rise * 1e-9)
                    return

    def _camera_info_of_another_run(self, keep: int) -> Tuple[int, CameraIntrinsics]:
        """The CameraInfo for a run that has none (a driver that publishes it once, latched):
        the last one received in the runs before, else the first after; a warning says so.
        Intrinsics belong to the camera, not to the clock; its stamp, of another run, is not
        compared with the images' (a lone CameraInfo serves every image)."""
        before = [item for item in self._info_runs if item[0] < keep]
        _, stamp, intrinsics = before[-1] if before else self._info_runs[0]
        log.warning("%s: no CameraInfo on %s in the run read; using the %s one, of "
                    "another run (stamped t=%.3f s: a CameraInfo published once, latched?)",
                    bag_label(self.path), self.camera_info_topic, "last" if before else "first",
                    stamp * 1e-9)
        return stamp, intrinsics

    def _warn_unstamped(self, stamps: List[int], shared: Collection[int] = ()) -> None:
        """`unstamped.warn_unstamped` of the images read, worded for the reading command;
        ``shared``: the stamps different images share, warned about by `bag_shared_stamps`."""
        name = self._option_names.get("image_stamp", "image_stamp")
        warn = (warn_unreceived if getattr(self, "_image_stamp", "header") == "receive"
                else warn_unstamped)  # receive times: the bag's doing, not the driver's
        warn(bag_label(self.path), stamps, getattr(self, "_command", None), name, shared=shared)


def _stream_name(stream: Any) -> str:
    """A stream as a user knows it: its topic, or 'tf PARENT -> CHILD' for a tf edge."""
    if isinstance(stream, tuple) and len(stream) == 3 and stream[0] == "tf":
        return f"tf {stream[1]} -> {stream[2]}"
    return str(stream)


def _every_run(command: Optional[str]) -> str:
    """How to read every run, for the command reading the bag (None: an API caller, told the
    map's way as before): `localize` runs each, a map is built per run and merged."""
    if command == "localize":
        return "to localize every run: localize each with --run N"
    return "to map every run: build-map each with --run N, then join the maps with merge-maps"


def _why_this_run(counts: Sequence[int], asked: bool) -> str:
    """The run-split warning's reason for the run read: ``counts`` images per run; the first
    of the longest is read unless ``asked`` (--run). Ties are said as ties."""
    if asked:
        return "as asked (--run)"
    top = max(counts)
    tied = [i + 1 for i, c in enumerate(counts) if c == top]
    if len(tied) == 1:
        return "the longest; choose another with --run N"
    if len(tied) == len(counts):
        return (f"the first: {'both' if len(counts) == 2 else 'all'} are equally long ({top} "
                "images each); choose another with --run N")
    return (f"the first of the longest (runs {', '.join(map(str, tied))}, {top} images each); "
            "choose another with --run N")
