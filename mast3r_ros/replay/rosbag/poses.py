"""Frame poses from a rosbag2's tf: ``pose_frames`` parsed, /tf and /tf_static read into a
`TransformBuffer`, each image's pose looked up at its header stamp, and why frames got none.

`_TfPoses` is a base class of `BagSequence`. tf2 ignores a leading slash in frame names; each tf
edge is taken at the image stamp by the one pose-at-stamp rule (`mast3r_ros.core.trajectory`).
"""

from __future__ import annotations

import bisect
import contextlib
import logging
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReaderError

from . import realsense
from .clock_offset import image_clock_offset, other_clock_note
from .opening import _open_bag, bag_deserialize, bag_label, bag_messages
from ...core.errors import InputError
from ...core.message_fields import header_stamp_ns, tq_to_matrix, transform_to_tq
from ...core.tf_buffer import ExtrapolationError, TransformBuffer, TransformError
from .index_stop import cut_pass_range
from .runs import _RunCounter, _TfSamples
from .tf_extrinsic import bag_tf, every_sample_buffer
from .topics import ODOMETRY_TYPE, TF_TYPE, images_frame

log = logging.getLogger(__name__)

#: invalid tf samples (dropped, as tf2 drops them) warned about one by one; the rest counted
TF_REJECTED_SHOWN = 5


def _strip(frame: str) -> str:
    """tf2 ignores a leading slash (a ROS 1 habit)."""
    return frame.lstrip("/")


def parse_pose_frames(pose_frames: Optional[str], name: str = "pose_frames"
                      ) -> Optional[Tuple[str, str]]:
    """``pose_frames`` ('parent:child' or 'parent') as (parent, child) frame names, a leading
    slash removed (child '' when only the parent is given: the images' header frame_id); None
    for None. Raises `InputError`, naming ``name`` (the command line passes '--pose-frames'),
    for anything else -- also an empty frame on either side of the ':' ('map:' is refused as
    ':camera_optical' is, not taken as 'map')."""
    if pose_frames is None:
        return None
    text = pose_frames if isinstance(pose_frames, str) else ""  # a tuple: refused below
    parent, colon, child = text.partition(":")
    empty = [side for side, frame in (("parent", parent), ("child", child))
             if colon and not _strip(frame)]
    if not _strip(parent) or ":" in child or empty:
        why = (f" (the {' and '.join(empty)} frame is empty: name both, or give the parent "
               "alone, e.g. 'map', to take the camera frame from the images' header frame_id)"
               if empty and ":" not in child else "")
        raise InputError(
            f"{name} must be 'parent:child' (e.g. 'map:camera_optical') or 'parent', "
            f"got {pose_frames!r}{why}"
        )
    return _strip(parent), _strip(child)


class _TfPoses:
    """tf and poses of `BagSequence` (a base class of it). ``BagSequence.__init__`` sets the
    attributes annotated here."""

    _tf: TransformBuffer
    _tf_topics: List[str]
    _tf_runs: Dict[Tuple[str, str], _TfSamples]  # dynamic tf by edge (parent, child)
    _tf_read: int  # dynamic tf samples read so far
    # invalid tf samples dropped, by edge: [count, the first's stamp text, bag ns, topic]
    _tf_rejected: Dict[Tuple[str, str], List[Any]]
    _tf_rejected_count: int
    path: Any
    _pose_frames: Optional[Tuple[str, str]]
    _pose_rule_ns: Tuple[int, int]
    _no_pose: Dict[int, Tuple[str, int, float]]  # stamp -> (reason, gap ns, edge spacing ns)
    _frame_id_from: List[int]  # ordinals on the image topic where the frame_id changes
    _frame_ids: List[str]  # the frame_id from each of them on
    _topics: Dict[str, Any]  # topic -> rosbags TopicInfo
    _static_pose_frames_said: set  # (parent, child) pose frames judged static-only
    _pose_stream: Any  # the --pose-topic read (`pose_topic.PoseStream`), None without
    _pose_messages: int  # its messages read (`pose_topic._PoseTopic._pose_message`)
    _skipped_for_pose_topic: Any  # `pose_topic._PoseTopic`'s: a tf edge the topic replaces
    # for a depth extrinsic on /tf (`_tf_every_sample`): the static transforms read, as
    # `tf_extrinsic.read_tf` keeps them, and every run's /tf samples (--pose-frames)
    _tf_statics: Optional[List[Tuple[str, str, np.ndarray]]] = None
    _other_clock: str = ""  # `_check_image_clock`'s note: images and tf on different clocks
    image_topic: str
    _run_counter: Any  # `runs._RunCounter` of the indexing pass
    _tf_every: Optional[Dict[Tuple[str, str], _TfSamples]] = None

    @staticmethod
    def _parse_pose_frames(pose_frames: Optional[str]) -> Optional[Tuple[str, str]]:
        return parse_pose_frames(pose_frames)

    def _add_transforms(self, msg: Any, static: bool, runs: _RunCounter,
                        bag_ns: int = 0, topic: str = "") -> None:
        for ts in msg.transforms:
            parent, child = _strip(ts.header.frame_id), _strip(ts.child_frame_id)
            if self._skipped_for_pose_topic(parent, child, topic, ts.transform):
                continue
            try:
                t, q = transform_to_tq(ts.transform)
            except ValueError as err:  # one glitch among an hour's at 100 Hz: that sample only
                self._reject_transform(parent, child, ts.header, topic, bag_ns, err)
                continue
            if static:
                self._tf.add_static(parent, child, tq_to_matrix(t, q))
                if self._tf_statics is None:
                    self._tf_statics = []
                with contextlib.suppress(ValueError):  # as `tf_extrinsic.read_tf` keeps them
                    header_stamp_ns(ts.header)
                    self._tf_statics.append((parent, child, tq_to_matrix(t, q)))
            else:
                stamp = header_stamp_ns(ts.header)
                runs.note(("tf", parent, child), stamp, bag_ns)  # its ordinal: its row below
                samples = self._tf_runs.get((parent, child))
                if samples is None:
                    samples = self._tf_runs[parent, child] = _TfSamples()
                samples.add(self._tf_read, stamp, t, q)
                self._tf_read += 1

    def _check_image_clock(self) -> None:
        """After the indexing pass, before the run is chosen: warn once when the images and the
        tf (or --pose-topic) are stamped by different clocks, by the bag's receive times
        (`clock_offset`); the note leads `no_pose_reason`."""
        runs = self._run_counter
        tf = {edge: runs.noted(("tf", *edge)) for edge in self._tf_runs}
        if self._pose_frames is None or not tf:
            return
        found = image_clock_offset(*runs.noted(self.image_topic), tf)
        self._other_clock = found and other_clock_note(
            bag_label(self.path), self.image_topic, found, None if self._image_stamp ==
            "receive" else self._option_names.get("image_stamp", "image_stamp")) or ""
        if self._other_clock:
            log.warning("%s", self._other_clock)

    def _keeps_every_tf(self) -> bool:
        """Whether the indexing pass's /tf samples of every run are kept past the run's choice
        (`_tf_every`): with --pose-frames (else /tf is not read then) and depth in another
        frame than the images', which a /tf extrinsic may register (`_tf_every_sample`)."""
        depth = (getattr(self, "_depth_frame_id", None) or "").lstrip("/")
        return (self._pose_frames is not None and bool(self._tf_runs) and bool(depth)
                and depth != images_frame(self._frame_ids))

    def _tf_every_sample(self) -> TransformBuffer:
        """Every sample of the bag's tf (`tf_extrinsic.every_sample_buffer`): from the indexing
        pass's, kept with --pose-frames (`_keeps_every_tf`; released), else read again
        (`tf_extrinsic.bag_tf`: a pass over the bag's /tf, ~24 s an hour of 100 Hz /tf).
        Raises InputError for a tf that breaks the tree rules."""
        every, self._tf_every = self._tf_every, None
        if every is None:
            return bag_tf(self.path, self._tf_topics)

        def edges() -> Any:  # each edge's columns freed once in the buffer
            for edge in list(every):
                samples = every.pop(edge)
                yield (edge, np.array(samples.stamps, np.int64),
                       np.array(samples.tq, np.float64).reshape(-1, 7))
        return every_sample_buffer(self._tf_statics or [], edges())

    def _reject_transform(self, parent: str, child: str, header: Any, topic: str, bag_ns: int,
                          err: ValueError) -> None:
        """Drop one invalid tf sample, as tf2 does, warning for the first `TF_REJECTED_SHOWN`.

        tf2 (``BufferCore::setTransformImpl``, ros2/geometry2 tf2/src/buffer_core.cpp) ignores
        a transform with a NaN in its translation or rotation ("TF_NAN_INPUT ... because of a
        nan value in the transform") or whose quaternion's squared norm is 0.01 or more away
        from 1 ("TF_DENORMALIZED_QUATERNION ... because of an invalid quaternion"), logs an
        error and keeps the rest of the tree, for /tf and /tf_static alike. This reader drops
        what `message_fields.transform_to_tq` refuses: a NaN or infinite number (tf2 would
        keep an infinite translation), a zero or near-zero (< 1e-6) quaternion and one whose
        norm overflows; a finite quaternion of another norm is normalised, as this reader
        always did (tf2 refuses one whose squared norm is 0.01 or more off 1). A lookup
        that then falls in the gap left is handled as any tf gap; an edge left with no sample
        at all fails its lookups with the usual no-tf error, which names what was dropped."""
        try:
            stamp = f"t={header_stamp_ns(header) * 1e-9:.6f} s"
        except ValueError:
            stamp = "an invalid stamp"
        kind = "/tf_static" if topic.endswith("tf_static") else "/tf"
        rejected = self._tf_rejected.setdefault((parent, child), [0, stamp, bag_ns, topic or kind])
        rejected[0] += 1
        self._tf_rejected_count += 1
        if self._tf_rejected_count <= TF_REJECTED_SHOWN:
            log.warning("%s: ignoring an invalid transform %s -> %s on %s stamped %s "
                        "(received at bag time %.6f s), as tf2 does: %s%s", bag_label(self.path),
                        parent, child, topic or kind, stamp, bag_ns * 1e-9, err,
                        "; further ones are counted at the end of indexing"
                        if self._tf_rejected_count == TF_REJECTED_SHOWN else "")

    def _rejected_tf_note(self) -> str:
        """'N invalid tf samples were ignored (edge: count, the first stamped ... on ...)', or
        '' when none was: what a missing-tf message adds."""
        if not self._tf_rejected:
            return ""
        stream = self._pose_stream
        ours = stream.topic if stream is not None else None
        tf = {e: r for e, r in self._tf_rejected.items() if r[3] != ours}
        notes = [self._rejected_pose_note(*r) for r in self._tf_rejected.values() if r[3] == ours]
        if tf:
            edges = "; ".join(
                f"{parent} -> {child}: {n}, the first stamped {stamp} on {topic} (bag time "
                f"{bag_ns * 1e-9:.6f} s)" for (parent, child), (n, stamp, bag_ns, topic)
                in tf.items())
            n = sum(r[0] for r in tf.values())
            notes.append(f"{n} invalid tf sample{'s were' if n > 1 else ' was'} ignored, as tf2 "
                         f"ignores them ({edges})")
        return "; ".join(notes)

    def _rejected_pose_note(self, n: int, stamp: str, bag_ns: int, topic: str) -> str:
        """What the ``n`` invalid messages of the pose topic (`_reject_transform`) say: its
        messages, not tf samples, and all of them when no valid one was left."""
        total = self._pose_messages
        which = (f"all its {n} message{'s' if n > 1 else ''} had" if n >= total else
                 f"{n} of its {total} messages had")
        return (f"--pose-topic {topic}: {which} an invalid pose (a zero or NaN orientation "
                f"quaternion, or a non-finite position) and {'were' if n > 1 else 'was'} "
                f"ignored, as tf2 ignores them (the first stamped {stamp}, bag time "
                f"{bag_ns * 1e-9:.6f} s)")

    def _warn_rejected_tf(self) -> None:
        """End of the indexing pass: one warning counting the invalid tf samples ignored."""
        if self._tf_rejected:
            log.warning("%s: %s", bag_label(self.path), self._rejected_tf_note())

    def _tf_roots(self, reader: Any, limit: int = 2000
                  ) -> Tuple[List[str], List[str], List[str]]:
        """(roots, moved, leaves): the frames of the bag's tf that are parents and no frame's
        child (``map``), the children of its /tf (not /tf_static) transforms, the frames tf
        moves (none: a camera tf never moves), and the children that are no frame's parent
        (sensor frames: ``camera_optical``), from its tf topics' first ``limit`` messages (a
        message that cannot be deserialized skipped)."""
        parents, children, moved = set(), set(), set()
        conns = [c for t in self._tf_topics for c in reader.topics[t].connections]
        gen = bag_messages(reader, connections=conns)
        try:
            for n, (conn, _, raw) in enumerate(gen):
                if n >= limit:
                    break
                try:
                    msg = bag_deserialize(reader, raw, conn.msgtype)
                except (AnyReaderError, ValueError):
                    continue
                for ts in msg.transforms:
                    parents.add(_strip(ts.header.frame_id))
                    children.add(_strip(ts.child_frame_id))
                    if not conn.topic.endswith("tf_static"):
                        moved.add(_strip(ts.child_frame_id))
        finally:
            gen.close()
        return sorted(parents - children), sorted(moved), sorted(children - parents)

    def _warn_static_pose_frames(self, parent: str, child: str) -> None:
        """Once per (parent, child): warn when only /tf_static joins the pose frames, so that
        every frame gets the same pose (a moving robot's bag built 1 keyframe, exit 0, when
        its motion was not on /tf: nav_msgs/Odometry recorded instead, /tf left out)."""
        if (parent, child) in self._static_pose_frames_said:
            return
        self._static_pose_frames_said.add((parent, child))
        edges = self._tf.static_between(parent, child)
        if edges:
            log.warning("%s: --pose-frames %s:%s are joined only by /tf_static (%s), so every "
                        "frame gets the same pose, as a camera that never moves; if the camera "
                        "moved, give the frame its motion is in (the parent of a /tf "
                        "transform)%s", bag_label(self.path), parent, child,
                        ", ".join(f"{p} -> {c}" for p, c in edges),
                        self._odometry_note() and f"{self._odometry_note()}: "
                        f"{self._poses_fix()}")

    def _warn_camera_not_the_images(self) -> None:
        """After indexing: warn once when ``--pose-frames MAP:CAMERA`` names a CAMERA other
        than the images' header frame that tf turns by more than 10 deg from it (REP-103's
        ``camera_link`` beside ``camera_color_optical_frame``: 120 deg). Its poses are read as
        asked, but they are not the optical frame's: build-map's map check then fails, and
        localize's ground truth (no map check) gives a wrong recall without a word."""
        given = self._pose_frames[1] if self._pose_frames is not None else ""
        images = images_frame(self._frame_ids)
        if not given or not images or given == images:
            return
        try:  # the mount at the images' first stamp (a /tf_static one at any)
            stamp = self._image_runs[0][1] if self._image_runs else 0
            rot = self._tf.lookup(images, given, stamp, *self._pose_rule_ns)[:3, :3]
        except TransformError:  # not joined, or not at that stamp: nothing known to say
            return
        angle = float(np.degrees(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1.0, 1.0))))
        if angle > 10.0:
            parent = self._pose_frames[0]
            log.warning("%s: --pose-frames %s:%s: %s is not the frame the images' header "
                        "names (%s), and tf has it turned %.0f deg from that frame (a body "
                        "frame, x forward, beside the optical frame, z forward: REP-103), so "
                        "the poses read are not the camera's; give --pose-frames %s:%s (or %s "
                        "alone)", bag_label(self.path), parent, given, given, images, angle,
                        parent, images, parent)

    def _odometry_topics(self) -> List[str]:
        return sorted(t for t, i in self._topics.items() if i.msgtype == ODOMETRY_TYPE)

    def no_pose_source_reason(self) -> Optional[str]:
        """Why no frame can have a pose, with the fix (one line), or None with ``pose_frames``:
        a bag read without it (its tf's root frames and the images' frame_id named, read from
        the tf topics' first messages), or one without tf (build-map's --trajectory then)."""
        if self._pose_frames is not None:
            return None
        camera = images_frame(self._frame_ids) or "CAMERA_OPTICAL_FRAME"
        motion = self._odometry_note()
        if not self._tf_topics and realsense.is_realsense(self._topics):
            return realsense.no_pose_reason(bag_label(self.path), self._topics)
        if not self._tf_topics:
            return (f"{bag_label(self.path)} has no tf ({TF_TYPE}) to take poses from{motion}: "
                    f"{self._poses_fix()}")
        with _open_bag(self.path) as reader:
            roots, moved, leaves = self._tf_roots(reader)
        if not moved:  # its roots would give every frame the same pose: 1 keyframe, exit 0
            return (f"{bag_label(self.path)} is read without --pose-frames, and its tf holds "
                    "only static transforms (/tf_static, nothing on /tf), which "
                    f"never move the camera{motion}: {self._poses_fix()}")
        parent = roots[0] if len(roots) == 1 else "MAP"
        named = f"; the roots of its tf tree: {', '.join(roots)}" if len(roots) > 1 else ""
        names = ("the camera optical frame the images' header names" if camera != (
            "CAMERA_OPTICAL_FRAME") else "the camera optical frame, which the images' header "
            f"leaves empty: one of its tf's end frames, {', '.join(leaves)}")
        return (f"{bag_label(self.path)} is read without --pose-frames, so its frames take no pose "
                f"from its tf: pass --pose-frames {parent}:{camera} (the map frame, then "
                f"{names}{named}), or --trajectory FILE")

    def _odometry_note(self) -> str:
        """'; the robot's motion is on /odom (nav_msgs/Odometry), which is no tf' or '' (no
        such topic): `_poses_fix` then names --pose-topic."""
        odometry = self._odometry_topics()
        return (f"; the robot's motion is on {', '.join(odometry)} ({ODOMETRY_TYPE}), which is "
                "no tf" if odometry else "")

    def _poses_fix(self) -> str:
        """'pass --pose-topic /odom (...), or ... --trajectory FILE': where else poses are."""
        odometry = self._odometry_topics()
        return (f"pass --pose-topic {odometry[0]} (its child frame joined to the camera's by "
                "/tf_static), or the camera's poses as a TUM trajectory, --trajectory FILE"
                if odometry else "pass the camera's poses as a TUM trajectory, --trajectory FILE")

    def _note_frame_id(self, ordinal: int, frame_id: str) -> None:
        """Indexing pass: the readable image message ``ordinal`` (on the image topic) has the
        header ``frame_id`` (kept where it changes: one entry for the usual bag)."""
        if not self._frame_ids or self._frame_ids[-1] != frame_id:
            self._frame_id_from.append(ordinal)
            self._frame_ids.append(frame_id)

    def _frame_id_at(self, ordinal: int) -> str:
        """The header frame_id of the readable image message ``ordinal`` (on the image topic),
        as the indexing pass read it: the camera frame of its pose without deserializing it
        again (a resumed run's recorded frames)."""
        return self._frame_ids[max(bisect.bisect_right(self._frame_id_from, ordinal) - 1, 0)]

    @property
    def other_clock(self) -> str:
        """The warning that the images and the tf (or --pose-topic) are stamped by different
        clocks, measured from the bag's receive times (`clock_offset`); '' when they are not,
        or when it cannot be told (no --pose-frames, made-up receive times)."""
        return self._other_clock

    @property
    def tf_topics(self) -> List[str]:
        """The bag's tf2_msgs/TFMessage topics (/tf, /tf_static), read with ``pose_frames``."""
        return list(self._tf_topics)

    @property
    def transforms(self) -> TransformBuffer:
        """The tf read from the bag (empty unless ``pose_frames`` was given)."""
        return self._tf

    @property
    def no_pose_count(self) -> int:
        """How many images (distinct stamps) iterated so far got no pose from tf
        (``pose_frames``): a tf edge has no sample near their stamp."""
        return len(self._no_pose)

    @property
    def no_pose_reason(self) -> Optional[str]:
        """Why frames iterated so far got no pose from tf: the first such frame's
        `ExtrapolationError` message, the first one that fell in a tf gap when any did (that
        one has a fix: `no_pose_gap_s`); None when every frame had a pose."""
        if not self._no_pose:
            return None
        gaps = [msg for msg, gap, _ in self._no_pose.values() if gap]
        reason = (gaps or [msg for msg, _, _ in self._no_pose.values()])[0]
        stream = self._pose_stream
        if stream is not None:  # its edge is the topic's: say so
            edge = f"{stream.parent} -> {stream.body}"
            reason = reason.replace(f"transform {edge} ", f"{edge} (--pose-topic "
                                    f"{stream.topic}) ", 1)
        note = self._rejected_tf_note()
        reason = f"{reason}; {note}" if note else reason
        return f"{self._other_clock}; {reason}" if self._other_clock else reason

    @property
    def no_pose_gap_s(self) -> Optional[float]:
        """The longest spacing (s) of a tf edge's samples, more than ``pose_at_stamp.max_gap_s``,
        that left a frame without a pose (a larger max_gap_s interpolates across it); None when
        no frame lacks a pose for that reason."""
        gap = max((g for _, g, _ in self._no_pose.values()), default=0)
        return gap * 1e-9 if gap else None

    @property
    def no_pose_spacing_s(self) -> Optional[float]:
        """The 90th percentile of the sample spacing (s) of the tf edge whose gap is
        `no_pose_gap_s` (`ExtrapolationError.spacing_ns`); None when that edge's rate is unknown
        (fewer than 4 samples) or there is no such gap: with it, a gap of many usual steps is
        told as a hole in the edge, not a max_gap_s to raise."""
        gap, spacing = max(((g, sp) for _, g, sp in self._no_pose.values()), default=(0, 0))
        return spacing * 1e-9 if gap and spacing else None

    def _pose(self, frame_id: str, stamp_ns: int) -> Optional[np.ndarray]:
        shared = getattr(self, "shared_stamps", None)  # two images there: either's, or neither
        if self._pose_frames is None or (shared is not None and stamp_ns in shared.stamps):
            return None
        parent, child = self._pose_frames
        child = child or _strip(frame_id)
        if not child:  # '' looked up: "frame '' is not in the transform tree (lookup map <- )"
            raise InputError(
                f"--pose-frames {parent} names no camera frame and the images' header frame_id "
                f"is empty (the driver leaves it unset): name the camera optical frame, "
                f"--pose-frames {parent}:FRAME, one of the tf's frames: "
                f"{', '.join(sorted(self._tf.frames)) or 'none'}")
        if child == parent:  # the transform of a frame to itself: every pose the identity
            raise InputError(
                f"pose_frames {parent!r} (--pose-frames) is the camera frame itself (the images' "
                f"frame_id{'' if self._pose_frames[1] else ' in their headers'}), so every pose "
                "would be the identity: give the map frame first, e.g. --pose-frames "
                f"map:{child}"
            )
        try:
            pose = self._tf.lookup(parent, child, stamp_ns, *self._pose_rule_ns)
            self._warn_static_pose_frames(parent, child)
            return pose
        except ExtrapolationError as err:
            log.debug("no pose for the image at t=%.6f s: %s", stamp_ns * 1e-9, err)
            # the clocks named once: by the receive times' note, when it spoke
            why = err.reason if self._other_clock else str(err)
            if getattr(self, "_index_cut", None) is not None:  # not the edge's end: the cut's
                why = cut_pass_range(why)
            self._no_pose.setdefault(stamp_ns, (why, err.gap_ns or 0, err.spacing_ns or 0.0))
            return None
        except TransformError as err:  # a frame of the chain unknown: all its tf dropped?
            note = "; ".join(n for n in (self._unknown_frame_note(parent, child),
                                         self._rejected_tf_note()) if n)
            if not note:
                raise
            raise TransformError(f"{err}; {note}") from err

    def _unknown_frame_note(self, parent: str, child: str) -> str:
        """Where a --pose-frames frame the tf lacks came from and the fix: "'camera_link' is
        the images' header frame_id (...): pass --pose-frames map:FRAME, ..."; '' when the tf
        holds both (frames not joined: the error says so)."""
        known = self._tf.frames
        frames = ", ".join(sorted(known)) or "none"
        fix = f"pass --pose-frames {parent}:FRAME, FRAME one of the tf's frames: {frames}"
        if parent in known and child not in known:
            if not self._pose_frames[1]:
                return (f"{child!r} is the images' header frame_id (--pose-frames {parent} "
                        f"names no camera frame): {fix} (the camera's optical frame), or "
                        f"record the /tf_static that joins {child!r} to them")
            return f"{child!r} is from --pose-frames {parent}:{child}: {fix}"
        if parent not in known:  # the camera frame itself is no map frame to suggest
            others = ", ".join(sorted(f for f in known if f != child)) or "none"
            return (f"{parent!r} is from --pose-frames: give the map frame the tf holds first, "
                    f"one of: {others}")
        return ""
