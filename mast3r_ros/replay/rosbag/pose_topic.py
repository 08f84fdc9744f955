"""Poses from a pose topic of a bag (``--pose-topic``): a VIO's ``nav_msgs/Odometry`` (a
RealSense T265's ``/camera/odom/sample``), a SLAM system's ``geometry_msgs/PoseStamped`` or
``PoseWithCovarianceStamped`` (``/orb_slam3/camera_pose``), or a ``TransformStamped`` (a motion
capture system's), read as one more time-varying tf edge.

Each message is the transform ``parent_from_body`` at its header stamp: the parent frame is its
``header.frame_id`` (``map``, ``odom``, ``world``), the body frame its ``child_frame_id``
(Odometry, TransformStamped) or, for the types that carry none, the frame given after the topic
(``/orb_slam3/camera_pose:camera_optical``), else the images' own frame (a pose of the camera
itself). As REP-105 has it, the camera optical frame the images' header names is joined to the
body frame by /tf_static (or a /tf transform); the pose of an image is then looked up in the
same `TransformBuffer`, by the same rule, as a pose from tf alone (`poses._TfPoses._pose`). The
stream defines the body frame's pose: a /tf or /tf_static transform to the body frame from any
parent is not read (said once), but a /tf_static one from a frame P of a static tree (a URDF's
``base_link -> camera_pose_frame``) is read the other way round, body -> the tree's root, when
only it joins the body to the camera. A body guessed as the images' frame is warned about,
naming the frames /tf_static joins it to (the poses may be an IMU's), or that no tf can check
it. Covariance and twist are not read.

`_PoseTopic` is a base class of `BagSequence`.
"""

from __future__ import annotations

import contextlib
import logging
from types import SimpleNamespace as NS
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReaderError

from ...core.errors import InputError
from ...core.geometry import invert_poses
from ...core.message_fields import header_stamp_ns, tq_to_matrix, transform_to_tq
from ...core.tf_buffer import TransformBuffer
from .opening import bag_deserialize, bag_label, bag_messages
from .topics import ODOMETRY_TYPE

log = logging.getLogger(__name__)

POSE_STAMPED_TYPE = "geometry_msgs/msg/PoseStamped"
POSE_COV_TYPE = "geometry_msgs/msg/PoseWithCovarianceStamped"
TRANSFORM_STAMPED_TYPE = "geometry_msgs/msg/TransformStamped"
#: the message types `--pose-topic` reads (ROS 1 bags' are named so by rosbags too)
POSE_TYPES = (ODOMETRY_TYPE, POSE_STAMPED_TYPE, POSE_COV_TYPE, TRANSFORM_STAMPED_TYPE)
_WITH_CHILD = (ODOMETRY_TYPE, TRANSFORM_STAMPED_TYPE)  # the types that name their body frame
OPTION = "--pose-topic"


def parse_pose_topic(spec: Optional[str], name: str = OPTION) -> Optional[Tuple[str, str]]:
    """``spec`` ('TOPIC' or 'TOPIC:BODY_FRAME') as (topic, body frame or ''), a leading slash
    of the frame removed; None for None. ROS names hold no ':', so the first one splits them.
    Raises `InputError` naming ``name`` for an empty topic or frame, or a second ':'."""
    if spec is None:
        return None
    text = spec if isinstance(spec, str) else ""
    topic, colon, body = text.partition(":")
    if not topic.strip() or (colon and not body.lstrip("/")) or ":" in body:
        raise InputError(f"{name} must be 'TOPIC' or 'TOPIC:BODY_FRAME' (e.g. /camera/odom/sample "
                         f"or /orb_slam3/camera_pose:camera_optical), got {spec!r}")
    return topic.strip(), body.lstrip("/")


def pose_topics_text(topics: Dict[str, Any]) -> str:
    """'/odom (nav_msgs/msg/Odometry), ...': the bag's topics of `POSE_TYPES`, or 'none'."""
    found = sorted((t, i.msgtype) for t, i in topics.items() if i.msgtype in POSE_TYPES)
    return ", ".join(f"{t} ({m})" for t, m in found) or "none"


def as_transform(msg: Any, msgtype: str, parent: str, body: str) -> Any:
    """A pose message as a one-transform TFMessage (``header``, ``child_frame_id`` ``body``,
    ``transform.translation`` / ``rotation``), for the tf reader (`_TfPoses._add_transforms`)."""
    if msgtype == TRANSFORM_STAMPED_TYPE:
        transform = msg.transform
    else:
        pose = msg.pose.pose if msgtype in (ODOMETRY_TYPE, POSE_COV_TYPE) else msg.pose
        transform = NS(translation=pose.position, rotation=pose.orientation)
    header = NS(stamp=msg.header.stamp, frame_id=parent)
    return NS(transforms=[NS(header=header, child_frame_id=body, transform=transform)])


class PoseStream(NamedTuple):
    """The pose topic read: its message type, parent frame (the first message's frame_id), the
    first message's child_frame_id ('' for the types without one), the body frame read and
    whether it is the images' frame for want of another (``guessed``)."""

    topic: str
    msgtype: str
    parent: str
    child: str
    body: str
    guessed: bool = False


class _PoseTopic:
    """The pose topic of `BagSequence` (a base class of it)."""

    path: Any
    image_topic: str
    _topics: Dict[str, Any]
    _tf: TransformBuffer
    _pose_stream: Optional[PoseStream]
    _pose_messages: int = 0  # the pose topic's messages read by the indexing pass
    _pose_repeats: Optional[Tuple[int, int, int]] = None  # `_note_pose_stamps`
    _pose_frames: Optional[Tuple[str, str]]
    _frame_ids: List[str]
    _tf_not_read: Dict[Tuple[str, str, str], int]  # (topic, parent, body) -> samples not read
    _body_mounts: Dict[str, np.ndarray]  # P -> P_from_body of each /tf_static P -> body left out
    _run_counter: Any  # `runs._RunCounter` of the indexing pass
    _run_label: int  # the run read, as it labels them
    _last_run_label: int  # the images' last run, likewise
    runs: List[Tuple[int, int, int]]  # the images' runs

    def _open_pose_topic(self, reader: Any, spec: Tuple[str, str]) -> PoseStream:
        """Check the topic (there, of a pose type, with a message) and choose its frames from
        its first message; `InputError` in one line for each way it cannot be read."""
        topic, given = spec
        label = bag_label(self.path)
        info = self._topics.get(topic)
        if info is None:
            same = [n for n in sorted(self._topics) if topic.strip("/") and
                    n.strip("/") == topic.strip().strip("/")]
            if same:  # `odom` typed for /odom: a bag records the full name
                fix = same[0] + (f":{given}" if given else "")
                raise InputError(f"{OPTION} {topic}: {label} has no such topic, but {same[0]} "
                                 f"is (a bag records the full topic name): pass {OPTION} {fix}")
            raise InputError(f"{OPTION} {topic}: {label} has no such topic; its pose topics: "
                             f"{pose_topics_text(self._topics)}")
        if info.msgtype not in POSE_TYPES:
            raise InputError(f"{OPTION} {topic} is a {info.msgtype}, not a pose: it must be one "
                             f"of {', '.join(POSE_TYPES)}; the pose topics of {label}: "
                             f"{pose_topics_text(self._topics)}")
        msg = _first_message(reader, info.connections)
        if msg is None:
            raise InputError(f"{OPTION} {topic}: {label} holds no {info.msgtype} message on it "
                             "that can be read")
        parent = msg.header.frame_id.lstrip("/")
        child = msg.child_frame_id.lstrip("/") if info.msgtype in _WITH_CHILD else ""
        if not parent:
            raise InputError(f"{OPTION} {topic}: its messages' header.frame_id is empty, so the "
                             "frame its poses are in (map, odom) is unknown; have the publisher "
                             "set it")
        body = given or (child if child != parent else "")
        if not body and child:  # VINS-Mono publishes child_frame_id 'world' = frame_id
            raise InputError(f"{OPTION} {topic}: its child_frame_id is {child!r}, its header "
                             f"frame_id too, which names no body frame: give it, {OPTION} "
                             f"{topic}:FRAME (the frame /tf_static joins to the camera)")
        if not body:
            body = _first_frame_id(reader, self._topics[self.image_topic].connections)
            if not body or body == parent:
                raise InputError(
                    f"{OPTION} {topic}: a {info.msgtype} names no body frame and the images' "
                    f"header frame_id is {'empty' if not body else repr(body)}: give the frame "
                    f"its poses are of, {OPTION} {topic}:FRAME")
        if body == parent:
            raise InputError(f"{OPTION} {topic}: the body frame {body!r} is the frame its poses "
                             "are in (header.frame_id): name the moving frame")
        if given and child and child != given:
            log.warning("%s: %s %s:%s: its child_frame_id is %s; its poses are read as those of "
                        "%s, as given", label, OPTION, topic, given, child, given)
        return PoseStream(topic, info.msgtype, parent, child, body, guessed=not given
                          and not child)

    def _pose_message(self, msg: Any) -> Any:
        """One message of the pose topic as a TFMessage (`as_transform`); `InputError` when its
        frames are not the first message's."""
        stream = self._pose_stream
        assert stream is not None
        self._pose_messages += 1
        frame_id = msg.header.frame_id.lstrip("/")
        child = (msg.child_frame_id.lstrip("/") if stream.msgtype in _WITH_CHILD else "")
        if (frame_id, child) != (stream.parent, stream.child):
            what, was, now = (("header.frame_id", stream.parent, frame_id)
                              if frame_id != stream.parent else
                              ("child_frame_id", stream.child, child))
            raise InputError(
                f"{OPTION} {stream.topic}: the message stamped t="
                f"{header_stamp_ns(msg.header) * 1e-9:.6f} s has {what} {now!r}, the first one "
                f"{was!r}: poses in two frames cannot be read as one stream (a SLAM system "
                "relocalized into a new map?); cut the bag where it changes")
        return as_transform(msg, stream.msgtype, stream.parent, stream.body)

    def _skipped_for_pose_topic(self, parent: str, child: str, topic: str,
                                transform: Any = None) -> bool:
        """Whether a tf transform parent -> child is left out: the pose topic gives ``child``'s
        pose (counted, said once by `_finish_pose_topic`). A /tf_static one (``transform``, a
        geometry_msgs/Transform) is kept aside as a mount: `_join_by_mounts` may read it the
        other way round."""
        stream = self._pose_stream
        if stream is None or child != stream.body or topic == stream.topic:
            return False
        key = (topic or "/tf", parent, child)
        self._tf_not_read[key] = self._tf_not_read.get(key, 0) + 1
        if transform is not None and topic.endswith("tf_static"):
            with contextlib.suppress(ValueError):  # an invalid one: as if never published
                self._body_mounts[parent] = tq_to_matrix(*transform_to_tq(transform))
        return True

    def _join_by_mounts(self, camera: str) -> None:
        """When no tf joins the body to ``camera``: a /tf_static transform P -> body left out
        (`_skipped_for_pose_topic`) is read the other way round -- body -> R, R the root of P's
        tree, joined to P by /tf_static alone (a robot's URDF mounting the T265's pose frame
        under base_link, as realsense2_description does): the stream gives the body's pose,
        the mount the rest of the robot's. Said at INFO; a P moved by /tf is left out."""
        stream = self._pose_stream
        assert stream is not None
        for parent, mount in sorted(self._body_mounts.items()):
            if self._tf.connected(stream.body, camera) or not self._tf.connected(parent, camera):
                continue
            root = self._tf.root(parent)
            if root != parent and not self._tf.static_between(root, parent):
                continue  # /tf moves it: the stream and /tf would both move the camera
            root_from_body = (self._tf.lookup(root, parent, 0) if root != parent
                              else np.eye(4)) @ mount
            try:
                self._tf.add_static(stream.body, root, invert_poses(root_from_body))
            except InputError:  # the edge would close a loop: root is the stream's own
                continue
            log.info("%s: /tf_static %s -> %s read the other way round, %s -> %s: %s %s gives "
                     "%s's pose, the mount joins it to %s", bag_label(self.path), parent,
                     stream.body, stream.body, root, OPTION, stream.topic, stream.body, camera)

    def _finish_pose_topic(self) -> None:
        """After the runs are chosen: the lookup's frames (the stream's parent, unless
        --pose-frames names others), said at INFO; `InputError` when tf does not join the body
        frame to the camera frame or to the --pose-frames parent."""
        stream = self._pose_stream
        if stream is None:
            return
        label = bag_label(self.path)
        for (topic, parent, child), n in self._tf_not_read.items():
            # AMCL's map -> odom on /tf over odometry's odom -> base_footprint: tf alone has it
            by_tf = (f"; /tf alone gives it in {stream.parent}"
                     f"{f', through {parent}' if parent != stream.parent else ''}: "
                     f"--pose-frames {stream.parent} without {OPTION} reads it at /tf's rate"
                     if not topic.endswith("tf_static")
                     and self._tf.connected(parent, stream.parent) else "")
            log.info("%s: %d transform%s %s -> %s on %s not read: %s %s gives %s's pose%s",
                     label, n, "s" if n > 1 else "", parent, child, topic, OPTION, stream.topic,
                     child, by_tf)
        if self._pose_frames is None:
            self._pose_frames = (stream.parent, "")
        parent, child = self._pose_frames
        cameras = [child] if child else sorted({f.lstrip("/") for f in self._frame_ids} - {""})
        self._warn_other_runs()
        self._warn_repeated_stamps()
        for camera in cameras:
            self._join_by_mounts(camera)
        self._say_guessed_body()
        held = ", ".join(f"{p} -> {c}" for p, c in self._tf.static_edges()) or "nothing"
        held += "".join(f"; {p} -> {c} on {t} is left out, the stream giving {c}'s pose"
                        for t, p, c in self._tf_not_read)
        for camera in cameras:
            if not self._tf.connected(stream.body, camera):
                # mounted under a frame /tf moves (`_join_by_mounts` left it): two motions
                moved = [p for p in sorted(self._body_mounts) if self._tf.connected(p, camera)]
                root = self._tf.root(moved[0]) if moved else ""
                fix = (f"{moved[0]} is moved by /tf (from {root}), so the stream and /tf would "
                       f"both move the camera: read /tf's motion alone, --pose-frames {root} "
                       f"without {OPTION}, or name the body frame the poses are of, {OPTION} "
                       f"{stream.topic}:FRAME" if moved else
                       "record /tf_static (robot_state_publisher, the camera driver), or name "
                       f"the body frame the poses are of, {OPTION} {stream.topic}:FRAME")
                raise InputError(
                    f"{OPTION} {stream.topic} gives the pose of {stream.body} in {stream.parent}, "
                    f"but no tf of {label} joins {stream.body} to {camera}, the camera frame "
                    f"{'given' if child else 'the images name'} (its /tf_static holds "
                    f"{held}): {fix}")
        if not self._tf.connected(parent, stream.parent):
            raise InputError(
                f"--pose-frames {parent}:{child} with {OPTION} {stream.topic}, whose poses are in "
                f"{stream.parent} (its header.frame_id): no tf of {label} joins {parent} to "
                f"{stream.parent}; drop --pose-frames, or give --pose-frames {stream.parent}"
                f"{':' + child if child else ''}")
        log.info("%s: poses from %s (%s, %s -> %s), looked up as %s -> %s", label, stream.topic,
                 stream.msgtype, stream.parent, stream.body, parent, child or "the images' frame")

    def _warn_other_runs(self) -> None:
        """One warning when messages of the stream fall in another run of header time than the
        images read (its stamps jump back where the images' do not: a SLAM system restarted
        with another clock, a relay restamping): they are left out of the lookup, as /tf's
        are, and the frames past them would have no pose without a word why. Told apart from
        the images' own jumps by its runs outnumbering theirs (also when they have several)."""
        stream = self._pose_stream
        assert stream is not None
        key = ("tf", stream.parent, stream.body)
        stamps = self._run_counter.stamps(key)
        labels = self._run_counter.runs_of(key, len(stamps))
        # after the images' run; those before it (below 1) are said by `_choose_run`, as are
        # the images' own runs: a stream that jumps back with the images has their labels, one
        # that also jumps back on its own runs past their last (it was never said when the
        # images had several runs)
        other = labels > self._run_label
        if not other.any() or labels.max() <= self._last_run_label:
            return
        at = max(int(np.flatnonzero(other)[0]), 1)  # the first message after the jump
        log.warning("%s: %s %s: %d of its %d messages are not read: its header time jumps "
                    "from t=%.6f s back to t=%.6f s (message %d), where the images' does not, "
                    "so they fall in another run than the images read (a SLAM or VIO system "
                    "restarted, a relay restamping?); the frames past the jump get no pose from "
                    "it", bag_label(self.path), OPTION, stream.topic, int(other.sum()),
                    len(stamps), stamps[at - 1] * 1e-9, stamps[at] * 1e-9, at + 1)

    def _note_pose_stamps(self, parent: str, child: str, stamps: np.ndarray) -> None:
        """The run read's samples of a tf edge (``stamps`` (n,) int64 ns, as read), before the
        buffer keeps the first of equal stamps: for the stream's edge, its repeated stamps are
        kept for `_warn_repeated_stamps` ((count, the first one's stamp ns, n))."""
        stream = self._pose_stream
        if stream is None or (parent, child) != (stream.parent, stream.body):
            return
        again = np.ones(len(stamps), bool)
        again[np.unique(stamps, return_index=True)[1]] = False
        if again.any():
            self._pose_repeats = (int(again.sum()), int(stamps[np.flatnonzero(again)[0]]),
                                  len(stamps))

    def _warn_repeated_stamps(self) -> None:
        """One warning counting the stream's messages (of the run read) whose stamp an earlier
        one has (`_note_pose_stamps`): each is ignored, the first of a stamp kept, where tf2
        warns once a message (TF_REPEATED_DATA); a VIO restamping, a relay publishing twice."""
        stream = self._pose_stream
        assert stream is not None
        if self._pose_repeats is None:
            return
        n, first_ns, total = self._pose_repeats
        log.warning("%s: %s %s: %d of its %d messages repeat an earlier message's stamp (the "
                    "first at t=%.6f s) and are ignored, the first message of each stamp kept, "
                    "as tf2 ignores them (TF_REPEATED_DATA)", bag_label(self.path), OPTION,
                    stream.topic, n, total, first_ns * 1e-9)

    def _say_guessed_body(self) -> None:
        """The body taken as the images' frame (a stream that names none), always a WARNING:
        when /tf_static joins that frame to other frames the poses may well be one of theirs (a
        VIO's IMU, a robot's base: VINS-Fusion's odometry is its IMU's), named; with no such
        tf nothing can check the guess (a camera_link pose read as the optical frame's turns
        every pose). Both name the option that says which, and the one that keeps the guess
        (``TOPIC:<images' frame>``) without the warning."""
        stream = self._pose_stream
        if stream is None or not stream.guessed:
            return
        what = (f"{stream.msgtype} with an empty child_frame_id" if stream.msgtype in _WITH_CHILD
                else f"{stream.msgtype}, which names no body frame,")
        mounts = sorted(self._body_mounts)  # the frames /tf_static put above it, then theirs
        others = mounts + sorted(f for f in self._tf.frames - {stream.body, stream.parent}
                                 if f not in mounts
                                 and any(self._tf.connected(f, p) for p in mounts))
        head = (f"{bag_label(self.path)}: {OPTION} {stream.topic} is a {what} so its poses are "
                f"taken as those of {stream.body}, the images' frame")
        keep = (f"{OPTION} {stream.topic}:{stream.body} keeps this reading without this "
                "warning")
        if not others:  # nothing to check the guess against: a wrong body goes unseen
            log.warning("%s, a guess no tf of the bag can check: a SLAM or VIO system may give "
                        "camera_link's pose (x forward, 90 deg from the optical frame), its "
                        "IMU's or the robot's, which read so would turn or misplace every pose. "
                        "If the poses are another frame's, name it, %s %s:FRAME (and record the "
                        "/tf_static joining it to %s); %s", head, OPTION, stream.topic,
                        stream.body, keep)
            return
        shown = ", ".join(others[:6]) + (", ..." if len(others) > 6 else "")
        log.warning("%s; but /tf_static joins it to %s: a SLAM or VIO system often gives its "
                    "IMU's or the robot's pose, which read so would misplace the camera by their "
                    "mount. If the poses are another frame's, name it, %s %s:FRAME; %s", head,
                    shown, OPTION, stream.topic, keep)


def _first_message(reader: Any, connections: Any) -> Any:
    """The first message of ``connections`` that can be deserialized, or None."""
    gen = bag_messages(reader, connections=list(connections))
    try:
        for conn, _, raw in gen:
            try:
                return bag_deserialize(reader, raw, conn.msgtype)
            except (AnyReaderError, ValueError):
                continue
    finally:
        gen.close()
    return None


def _first_frame_id(reader: Any, connections: Any) -> str:
    """The header frame_id of the first image message that can be deserialized ('' without)."""
    msg = _first_message(reader, connections)
    return msg.header.frame_id.lstrip("/") if msg is not None else ""
