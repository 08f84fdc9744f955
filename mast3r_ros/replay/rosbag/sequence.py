"""rosbag2 recordings (mcap or sqlite3) as sequences of ``Frame``, through ``rosbags`` (no ROS).

Reads ``sensor_msgs/msg/Image`` or ``CompressedImage`` colour images, ``CameraInfo`` intrinsics,
an optional depth image topic and ``/tf`` + ``/tf_static`` for a known camera pose. Every stamp is
the message's ``header.stamp``, never the time the bag received it.

The constructor makes one indexing pass (stamps, CameraInfo and tf, no pixel decoding) so that
depth, intrinsics and poses can be associated by header stamp; iteration makes a second pass and
decodes only the images it yields.

Runs: a bag whose header time jumps back (a simulator reset, a looped playback, a restarted
driver) holds several runs that share stamps. Every stream (the image, depth and CameraInfo topics,
each dynamic tf edge) counts its own jumps back in bag order, so a message belongs to run k when
its stream has gone back k - 1 times before it. A message stamped below its run's latest one but
followed at once (`RUN_LOOKAHEAD` messages) by stamps above it again is not a jump but a
reordered message of the same run (two swapped images; a map -> odom re-broadcast stamped ahead,
as AMCL and this node publish it, between results stamped at their images' times); tf samples
are sorted by stamp, as tf2 does. Only one run is read: the longest (most images;
the first of equally long ones) unless ``run`` chooses one, so no frame is associated with depth,
intrinsics or a transform of another run, and tf is never interpolated across the jump.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import ReaderError
from rosbags.typesys import Stores, get_typestore

from ...core.config import PoseAtStampConfig
from ...core.errors import InputError
from ...core.image_codec import depth_to_metres
from ...core.message_fields import (
    camera_info_to_intrinsics,
    decode_image_message,
    frame_from_image_message,
    header_stamp_ns,
    transform_to_matrix,
)
from ...core.tf_buffer import ExtrapolationError, TransformBuffer
from ...core.trajectory import nearest_indices
from ...core.types import CameraIntrinsics, Frame

log = logging.getLogger(__name__)

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
TF_TYPE = "tf2_msgs/msg/TFMessage"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
_DEPTH_RAW_ENCODINGS = ("16UC1", "32FC1")

PathLike = str | os.PathLike


def _strip(frame: str) -> str:
    """tf2 ignores a leading slash (a ROS 1 habit)."""
    return frame.lstrip("/")


def _image_namespace(topic: str) -> str:
    """/cam/color/image_raw/compressed -> /cam/color (the transport suffix is not a namespace)."""
    for suffix in ("/compressed", "/compressedDepth"):
        topic = topic.removesuffix(suffix)
    return topic.rsplit("/", 1)[0]


@contextlib.contextmanager
def _open_bag(path: Path) -> Iterator[AnyReader]:
    """AnyReader with InputError for unreadable bags; Humble types for bags without definitions."""
    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        reader.open()
    except (AnyReaderError, ReaderError, OSError) as err:
        raise InputError(f"cannot open rosbag2 {path}: {err}") from err
    try:
        yield reader
    finally:
        reader.close()


# A message below its run's latest stamp starts a new run only when none of the next this many
# messages of its stream climbs back above that stamp: a reordered message (a swapped pair, a
# map->odom re-broadcast stamped ahead between fresh ones stamped in the past) is followed at
# once by stamps past the top; after a clock reset or a loop the stream stays below it.
RUN_LOOKAHEAD = 4


def run_labels(stamps: Sequence[int], lookahead: int = RUN_LOOKAHEAD) -> List[int]:
    """Run number (1-based) of each header stamp of one stream, in bag order.

    A stamp below the current run's highest one is a reordered message of that run when one of
    the next ``lookahead`` stamps of the stream rises above that highest stamp again, and the
    first message of a new run (a clock reset, a looped recording) when none does.
    """
    labels: List[int] = []
    run, top = 1, None
    for i, stamp in enumerate(stamps):
        if top is not None and stamp < top and not any(
                later > top for later in stamps[i + 1:i + 1 + lookahead]):
            run, top = run + 1, stamp
        else:
            top = stamp if top is None else max(top, stamp)
        labels.append(run)
    return labels


class _RunCounter:
    """Run numbers of every stream's messages: `note` each message during the indexing pass
    (returns its ordinal in its stream), `finish`, then `run` (stream, ordinal), also during the
    second pass (the bag yields each stream's messages in the same order)."""

    def __init__(self) -> None:
        self._stamps: Dict[Any, List[int]] = collections.defaultdict(list)
        self._labels: Dict[Any, List[int]] = {}

    def note(self, stream: Any, stamp_ns: int) -> int:
        stamps = self._stamps[stream]
        stamps.append(int(stamp_ns))
        return len(stamps) - 1

    def finish(self) -> None:
        self._labels = {k: run_labels(v) for k, v in self._stamps.items()}
        self._stamps.clear()

    def run(self, stream: Any, ordinal: int) -> int:
        labels = self._labels.get(stream, ())
        return labels[ordinal] if ordinal < len(labels) else 1


class BagSequence:
    """A rosbag2 recording as a sequence of ``Frame`` (iterable, re-iterable, with ``len``).

    Topics left as ``None`` are detected: the one colour image topic (Image or CompressedImage,
    skipping depth topics) and the one CameraInfo topic (preferring the image's namespace). Depth is
    read only from ``depth_topic`` and associated by the nearest header stamp within
    ``sync_tolerance_s``. ``camera_info`` overrides any CameraInfo topic. ``pose_frames``
    ``"map:camera_optical"`` sets ``Frame.map_from_cam`` from tf (``"map"`` alone uses the image's
    ``header.frame_id``), each tf edge taken at the image stamp by the one pose-at-stamp rule
    (`mast3r_ros.core.trajectory`) with ``pose_at_stamp``'s tolerance and maximum gap (the config
    defaults when None); frames it gives no pose get ``None``. ``depth_scale`` (raw depth units per
    metre) overrides the REP-118 defaults (16UC1: 1000, 32FC1: 1). ``run`` (1-based) chooses the
    run of a bag whose header time jumps back (see the module docstring); default the longest,
    with a warning naming the runs. Raises `InputError` for a ``run`` the bag does not have, and,
    when ``depth_needed_by`` names what needs depth (``"the sift matcher"``), for a bag read
    without ``depth_topic``, before the indexing pass (`no_depth_reason` says why and lists the
    bag's depth-like topics). ``image_rectified``: the image topic is rectified, so the
    intrinsics are the CameraInfo's P with no distortion
    (`message_fields.camera_info_to_intrinsics`).
    """

    def __init__(
        self,
        path: PathLike,
        image_topic: Optional[str] = None,
        camera_info_topic: Optional[str] = None,
        depth_topic: Optional[str] = None,
        camera_info: Optional[CameraIntrinsics] = None,
        pose_frames: Optional[str] = None,
        sync_tolerance_s: float = 0.02,
        pose_at_stamp: Optional[PoseAtStampConfig] = None,
        depth_scale: Optional[float] = None,
        run: Optional[int] = None,
        depth_needed_by: Optional[str] = None,
        image_rectified: bool = False,
    ) -> None:
        if depth_scale is not None and not (np.isfinite(depth_scale) and depth_scale > 0):
            raise InputError(f"depth scale must be a positive number of depth units per metre, "
                             f"got {depth_scale}")
        if run is not None and run < 1:
            raise InputError(f"run must be >= 1 (runs are numbered from 1), got {run}")
        self._depth_scale = depth_scale
        self._rectified = bool(image_rectified)
        self._depth_encoding: Optional[str] = None
        self._is_depth: Dict[str, bool] = {}  # topic -> looks like depth (first message read)
        self._run_wanted = run
        if not sync_tolerance_s >= 0:
            raise InputError(f"sync_tolerance_s must be >= 0, got {sync_tolerance_s}")
        self.path = Path(path)
        self._tolerance_ns = round(sync_tolerance_s * 1e9)
        rule = pose_at_stamp or PoseAtStampConfig()
        self._pose_rule_ns = (round(rule.tolerance_s * 1e9), round(rule.max_gap_s * 1e9))
        self._override = camera_info
        self._pose_frames = self._parse_pose_frames(pose_frames)
        self._tf = TransformBuffer()
        # indexing pass: every message with its run (1-based); filtered to one run at the end
        self._image_runs: List[Tuple[int, int]] = []
        self._depth_runs: List[Tuple[int, int]] = []
        self._info_runs: List[Tuple[int, int, CameraIntrinsics]] = []
        self._tf_runs: List[Tuple[int, str, str, int, np.ndarray]] = []
        self._run_counter = _RunCounter()
        # frames iterated so far that tf gave no pose: image stamp -> (the ExtrapolationError's
        # message, the tf gap it fell in in ns, 0 outside an edge's samples)
        self._no_pose: Dict[int, Tuple[str, int]] = {}
        self.run = 1
        self.runs: List[Tuple[int, int, int]] = []  # per run: images, first and last stamp (ns)
        self._image_stamps: List[int] = []
        self._depth_stamps: List[int] = []
        self._infos: List[Tuple[int, CameraIntrinsics]] = []
        with _open_bag(self.path) as reader:
            if reader.message_count == 0:
                raise InputError(f"rosbag2 {self.path} contains no messages")
            self._topics = dict(reader.topics)
            self.image_topic = self._select_image_topic(reader, image_topic)
            self.depth_topic = self._select_depth_topic(depth_topic)
            self.camera_info_topic = self._select_camera_info_topic(camera_info_topic)
            #: image topics of the bag that look like depth (16UC1 / 32FC1, compressedDepth,
            #: 'depth' in the name), the image topic excepted: what --depth-topic can be
            self.depth_like_topics = [t for t in self._candidates(IMAGE_TYPES)
                                      if t != self.image_topic and self._is_depth_topic(reader, t)]
            if depth_needed_by and self.depth_topic is None:  # before the indexing pass
                raise InputError(f"{depth_needed_by} takes its 3-D points from keyframe depth, "
                                 f"but {self.no_depth_reason()}")
            self._tf_topics = [n for n, i in self._topics.items() if i.msgtype == TF_TYPE]
            if self._pose_frames is not None and not self._tf_topics:
                raise InputError(
                    f"pose_frames={pose_frames!r} needs tf, but rosbag2 {self.path} has no "
                    f"{TF_TYPE} topic (/tf, /tf_static)"
                )
            self._index(reader)
        self._finish_index()
        log.info(
            "rosbag2 %s: %d images on %s, intrinsics from %s, depth from %s, poses from %s",
            self.path, len(self), self.image_topic,
            self.camera_info_topic or "the given CameraIntrinsics", self.depth_topic or "-",
            pose_frames or "-",
        )

    # ---- topic selection -------------------------------------------------------------------

    def _listing(self) -> str:
        return "\n".join(
            f"  {name} [{info.msgtype}] ({info.msgcount} messages)"
            for name, info in sorted(self._topics.items())
        )

    def _require(self, topic: str, types: Sequence[str], option: str) -> str:
        info = self._topics.get(topic)
        if info is None:
            raise InputError(
                f"{option} {topic!r} is not in rosbag2 {self.path}; its topics are:\n"
                f"{self._listing()}"
            )
        if info.msgtype not in types:
            raise InputError(
                f"{option} {topic!r} has type {info.msgtype}, expected {' or '.join(types)}"
            )
        if info.msgcount == 0:
            raise InputError(f"{option} {topic!r} has no messages in rosbag2 {self.path}")
        return topic

    def _candidates(self, types: Sequence[str]) -> List[str]:
        return sorted(
            n for n, i in self._topics.items() if i.msgtype in types and i.msgcount > 0
        )

    def _is_depth_topic(self, reader: AnyReader, topic: str) -> bool:
        if topic not in self._is_depth:
            self._is_depth[topic] = self._looks_like_depth(reader, topic)
        return self._is_depth[topic]

    def _looks_like_depth(self, reader: AnyReader, topic: str) -> bool:
        if "depth" in topic.lower():
            return True
        conns = self._topics[topic].connections
        gen = reader.messages(connections=conns)
        try:
            conn, _, raw = next(gen)
        finally:
            gen.close()
        msg = self._deserialize(reader, raw, conn.msgtype, topic)
        if conn.msgtype == IMAGE_TYPE:
            return msg.encoding in _DEPTH_RAW_ENCODINGS
        fmt = msg.format
        return "compresseddepth" in fmt.lower() or fmt.startswith(_DEPTH_RAW_ENCODINGS)

    def _select_image_topic(self, reader: AnyReader, topic: Optional[str]) -> str:
        if topic is not None:
            return self._require(topic, IMAGE_TYPES, "image topic")
        candidates = [
            t for t in self._candidates(IMAGE_TYPES) if not self._is_depth_topic(reader, t)
        ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise InputError(
                f"rosbag2 {self.path} has no colour image topic ({' or '.join(IMAGE_TYPES)}, "
                f"not depth); its topics are:\n{self._listing()}"
            )
        raise InputError(
            f"rosbag2 {self.path} has several image topics: {', '.join(candidates)}; choose one "
            "with --image-topic (BagSequence(image_topic=...))"
        )

    def _select_depth_topic(self, topic: Optional[str]) -> Optional[str]:
        if topic is None:
            return None
        self._require(topic, IMAGE_TYPES, "depth topic")
        if topic == self.image_topic:
            raise InputError(f"depth topic {topic!r} is also the image topic")
        return topic

    def _select_camera_info_topic(self, topic: Optional[str]) -> Optional[str]:
        if self._override is not None:
            if topic is not None:
                log.warning("camera_info given: ignoring camera_info_topic %s", topic)
            return None
        if topic is not None:
            return self._require(topic, (CAMERA_INFO_TYPE,), "camera_info topic")
        candidates = self._candidates((CAMERA_INFO_TYPE,))
        namespace = _image_namespace(self.image_topic)
        same = [t for t in candidates if t.rsplit("/", 1)[0] == namespace]
        if len(candidates) == 1:
            return candidates[0]
        if len(same) == 1:
            return same[0]
        if not candidates:
            raise InputError(
                f"rosbag2 {self.path} has no {CAMERA_INFO_TYPE} topic, so the images have no "
                "intrinsics: pass a camera_info topic (--camera-info-topic) or a camera_info YAML "
                "(--camera-info / BagSequence(camera_info=load_camera_info_yaml(path)))"
            )
        raise InputError(
            f"rosbag2 {self.path} has several CameraInfo topics: {', '.join(candidates)}, none "
            f"alone in the namespace of {self.image_topic}; choose one with --camera-info-topic "
            "(BagSequence(camera_info_topic=...))"
        )

    @staticmethod
    def _parse_pose_frames(pose_frames: Optional[str]) -> Optional[Tuple[str, str]]:
        if pose_frames is None:
            return None
        parent, _, child = pose_frames.partition(":")
        if not _strip(parent) or (":" in child):
            raise InputError(
                f"pose_frames must be 'parent:child' (e.g. 'map:camera_optical') or 'parent', "
                f"got {pose_frames!r}"
            )
        return _strip(parent), _strip(child)

    # ---- indexing pass ---------------------------------------------------------------------

    def _deserialize(self, reader: AnyReader, raw: bytes, msgtype: str, topic: str) -> Any:
        try:
            return reader.deserialize(raw, msgtype)
        except (AnyReaderError, ValueError) as err:
            raise InputError(
                f"cannot deserialize a {msgtype} on {topic} in {self.path}: {err}"
            ) from err

    def _index(self, reader: AnyReader) -> None:
        topics = [self.image_topic, self.depth_topic, self.camera_info_topic, *self._tf_topics]
        wanted = [t for t in topics if t is not None]
        if self._pose_frames is None:
            wanted = [t for t in wanted if t not in self._tf_topics]
        conns = [c for t in wanted for c in self._topics[t].connections]
        runs = self._run_counter = _RunCounter()
        for conn, _, raw in reader.messages(connections=conns):
            msg = self._deserialize(reader, raw, conn.msgtype, conn.topic)
            if conn.topic in (self.image_topic, self.depth_topic, self.camera_info_topic):
                stamp = header_stamp_ns(msg.header)
                run = runs.note(conn.topic, stamp)  # its ordinal; the run after the pass
            if conn.topic == self.image_topic:
                self._image_runs.append((run, stamp))
            elif conn.topic == self.depth_topic:
                self._depth_runs.append((run, stamp))
                if self._depth_encoding is None:
                    self._depth_encoding = getattr(msg, "encoding", None) or getattr(
                        msg, "format", None)
            elif conn.topic == self.camera_info_topic:
                self._info_runs.append((run, stamp, self._intrinsics(msg, conn.topic)))
            else:
                self._add_transforms(msg, static=conn.topic.endswith("tf_static"), runs=runs)

    def _intrinsics(self, msg: Any, topic: str) -> CameraIntrinsics:
        try:
            return camera_info_to_intrinsics(msg, self._rectified)
        except InputError as err:
            stamp_s = header_stamp_ns(msg.header) * 1e-9
            raise InputError(f"CameraInfo on {topic} at t={stamp_s:.6f} s: {err}") from err

    def _add_transforms(self, msg: Any, static: bool, runs: _RunCounter) -> None:
        for ts in msg.transforms:
            parent, child = _strip(ts.header.frame_id), _strip(ts.child_frame_id)
            try:
                pose = transform_to_matrix(ts.transform)
            except ValueError as err:
                raise InputError(f"invalid transform {parent} -> {child}: {err}") from err
            if static:
                self._tf.add_static(parent, child, pose)
            else:
                stamp = header_stamp_ns(ts.header)
                ordinal = runs.note(("tf", parent, child), stamp)
                self._tf_runs.append((ordinal, parent, child, stamp, pose))

    def _choose_run(self) -> None:
        """Keep the messages of one run (see the module docstring); warn when there are several."""
        runs = self._run_counter
        runs.finish()
        image, depth, info = self.image_topic, self.depth_topic, self.camera_info_topic
        self._image_runs = [(runs.run(image, o), s) for o, s in self._image_runs]
        self._depth_runs = [(runs.run(depth, o), s) for o, s in self._depth_runs]
        self._info_runs = [(runs.run(info, o), s, k) for o, s, k in self._info_runs]
        self._tf_runs = [(runs.run(("tf", p, c), o), p, c, s, m)
                         for o, p, c, s, m in self._tf_runs]
        counts = collections.Counter(r for r, _ in self._image_runs)
        self.runs = [(counts[r], min(s for q, s in self._image_runs if q == r),
                      max(s for q, s in self._image_runs if q == r))
                     for r in range(1, max(counts, default=1) + 1) if counts[r]]
        n = len(self.runs)
        if self._run_wanted is not None:
            if self._run_wanted > max(n, 1):
                raise InputError(
                    f"--run {self._run_wanted}: rosbag2 {self.path} has "
                    f"{'only one run' if n <= 1 else f'{n} runs'} (header time "
                    f"{'never jumps back' if n <= 1 else 'jumps back'})")
            self.run = self._run_wanted
        elif n > 1:
            self.run = 1 + max(range(n), key=lambda i: (self.runs[i][0], -i))
        if n > 1:
            names = ", ".join(f"{i + 1}: {c} images t={a * 1e-9:.3f}..{b * 1e-9:.3f} s"
                              for i, (c, a, b) in enumerate(self.runs))
            how = _why_this_run([c for c, _, _ in self.runs], self._run_wanted is not None)
            jumps = "once" if n == 2 else f"{n - 1} times"
            log.warning(
                "rosbag2 %s: header time jumps back %s (clock reset or looped recording), so it "
                "holds %d runs (%s); reading run %d only, %s", self.path, jumps, n, names,
                self.run, how)
        keep = self.run
        self._image_stamps = [s for r, s in self._image_runs if r == keep]
        self._warn_unstamped(self._image_stamps)
        self._depth_stamps = [s for r, s in self._depth_runs if r == keep]
        self._infos = [(s, k) for r, s, k in self._info_runs if r == keep]
        for r, parent, child, stamp, pose in self._tf_runs:
            if r == keep:
                self._tf.add_dynamic(parent, child, stamp, pose)
        self._image_runs, self._depth_runs, self._info_runs, self._tf_runs = [], [], [], []

    def _warn_unstamped(self, stamps: List[int]) -> None:
        """One warning when images carry header stamp 0 or repeat the previous one: a driver
        that does not stamp its images. The node refuses such frames (and says so); offline
        they are localized, but their trajectory stamps mean nothing and ground truth cannot
        be associated."""
        zero = sum(1 for s in stamps if s == 0)
        repeated = sum(1 for a, b in zip(stamps, stamps[1:]) if b == a and b != 0)
        if zero or repeated:
            parts = []
            if zero:
                parts.append(f"{zero} of {len(stamps)} images have header stamp 0")
            if repeated:
                parts.append(f"{repeated} of {len(stamps)} repeat the previous image's stamp")
            what = " and ".join(parts)
            log.warning("rosbag2 %s: %s: the camera driver does not stamp its images, so the "
                        "trajectory's stamps are not the images' times and no ground truth can "
                        "be matched to them (the node refuses such frames); fix the driver's "
                        "header.stamp", self.path, what)

    @property
    def tf_topics(self) -> List[str]:
        """The bag's tf2_msgs/TFMessage topics (/tf, /tf_static), read with ``pose_frames``."""
        return list(self._tf_topics)

    @property
    def depth_units_per_m(self) -> Optional[float]:
        """Raw depth units per metre the depth is read with (the override, else REP-118: 1000
        for 16-bit depth, 1 for 32FC1); None without a depth topic."""
        if self._depth_scale is not None:
            return float(self._depth_scale)
        if self.depth_topic is None:
            return None
        return 1.0 if (self._depth_encoding or "").startswith("32FC1") else 1000.0

    def _finish_index(self) -> None:
        self._choose_run()
        if self.camera_info_topic is not None:
            self._infos.sort(key=lambda item: item[0])
        self._info_stamps = np.asarray([s for s, _ in self._infos], dtype=np.int64)
        depth = np.unique(np.asarray(self._depth_stamps, dtype=np.int64))
        self._depth_stamps_sorted = depth
        matches = self._depth_matches(np.asarray(self._image_stamps, dtype=np.int64))
        self._depth_refs = collections.Counter(int(s) for s in matches if s >= 0)
        if self.depth_topic is not None and not self._depth_refs:
            log.warning(
                "no depth on %s within %.3f s of any image on %s", self.depth_topic,
                self._tolerance_ns * 1e-9, self.image_topic,
            )

    def no_depth_reason(self) -> Optional[str]:
        """Why no frame will have depth, with the fix (one line), or None when some may: no
        ``depth_topic`` (the bag's depth-like image topics named), or none of its messages
        within the sync tolerance of an image."""
        if self.depth_topic is None:
            if self.depth_like_topics:
                found = ", ".join(self.depth_like_topics)
                return (f"rosbag2 {self.path} is read without depth: pass --depth-topic <topic> "
                        f"(depth image topics in the bag: {found})")
            return (f"rosbag2 {self.path} is read without depth, and none of its image topics "
                    "looks like depth (16UC1 / 32FC1 or compressedDepth, or 'depth' in the "
                    "name); record the registered depth, or name it with --depth-topic")
        if not self._depth_refs:
            run = f" (run {self.run})" if len(self.runs) > 1 else ""
            return (f"no depth on {self.depth_topic} within {self._tolerance_ns * 1e-9:.3f} s of "
                    f"any image on {self.image_topic}{run}: check the header stamps or widen "
                    "--sync-tolerance")
        return None

    def _depth_matches(self, stamps_ns: np.ndarray) -> np.ndarray:
        """Depth header stamp matched to each image stamp, -1 where none."""
        idx = nearest_indices(self._depth_stamps_sorted, stamps_ns, self._tolerance_ns)
        if self._depth_stamps_sorted.size == 0:
            return idx
        return np.where(idx >= 0, self._depth_stamps_sorted[np.maximum(idx, 0)], -1)

    # ---- public API ------------------------------------------------------------------------

    @property
    def stamps_ns(self) -> np.ndarray:
        """(N,) int64 header stamps of the images, in bag order."""
        return np.asarray(self._image_stamps, dtype=np.int64)

    @property
    def transforms(self) -> TransformBuffer:
        """The tf read from the bag (empty unless ``pose_frames`` was given)."""
        return self._tf

    def __len__(self) -> int:
        return len(self._image_stamps)

    def __iter__(self) -> Iterator[Frame]:
        """Frames in bag order (rgb (H, W, 3) uint8 RGB, depth_m float32 metres or None,
        map_from_cam 4x4 float64 or None)."""
        topics = [t for t in (self.image_topic, self.depth_topic) if t is not None]
        remaining = collections.Counter(self._depth_refs)
        depth_by_stamp: Dict[int, np.ndarray] = {}
        pending: collections.deque = collections.deque()
        ordinals: collections.Counter = collections.Counter()
        with _open_bag(self.path) as reader:
            conns = [c for t in topics for c in reader.topics[t].connections]
            for conn, _, raw in reader.messages(connections=conns):
                msg = self._deserialize(reader, raw, conn.msgtype, conn.topic)
                stamp = header_stamp_ns(msg.header)
                ordinal = ordinals[conn.topic]
                ordinals[conn.topic] += 1
                if self._run_counter.run(conn.topic, ordinal) != self.run:
                    continue
                if conn.topic != self.depth_topic:
                    depth_stamp = int(self._depth_matches(np.array([stamp]))[0])
                    pending.append((msg, depth_stamp))
                elif remaining[stamp] > 0 and stamp not in depth_by_stamp:
                    depth_by_stamp[stamp] = self._decode_depth(msg)
                # images wait, in order, until the depth matched to them has been read
                while pending and (pending[0][1] < 0 or pending[0][1] in depth_by_stamp):
                    yield self._frame(*pending.popleft(), depth_by_stamp, remaining)
            while pending:  # only if the bag changed between the two passes
                yield self._frame(*pending.popleft(), depth_by_stamp, remaining)

    # ---- frame assembly --------------------------------------------------------------------

    def _decode_depth(self, msg: Any) -> np.ndarray:
        array, encoding = decode_image_message(msg)
        try:
            return depth_to_metres(array, encoding, self._depth_scale)
        except InputError as err:
            raise InputError(f"depth topic {self.depth_topic}: {err}") from err

    def _frame_intrinsics(self, stamp_ns: int) -> CameraIntrinsics:
        """The override, else the latest CameraInfo at or before the stamp, else the first."""
        if self._override is not None:
            return self._override
        if not self._infos:
            raise InputError(
                f"no CameraInfo message on {self.camera_info_topic}: pass a camera_info topic "
                "with messages or a camera_info YAML"
            )
        index = int(np.searchsorted(self._info_stamps, stamp_ns, side="right")) - 1
        return self._infos[max(index, 0)][1]

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
        gaps = [msg for msg, gap in self._no_pose.values() if gap]
        return (gaps or [msg for msg, _ in self._no_pose.values()])[0]

    @property
    def no_pose_gap_s(self) -> Optional[float]:
        """The longest spacing (s) of a tf edge's samples, more than ``pose_at_stamp.max_gap_s``,
        that left a frame without a pose (a larger max_gap_s interpolates across it); None when
        no frame lacks a pose for that reason."""
        gap = max((g for _, g in self._no_pose.values()), default=0)
        return gap * 1e-9 if gap else None

    def _pose(self, frame_id: str, stamp_ns: int) -> Optional[np.ndarray]:
        if self._pose_frames is None:
            return None
        parent, child = self._pose_frames
        child = child or _strip(frame_id)
        if child == parent:  # the transform of a frame to itself: every pose the identity
            raise InputError(
                f"pose_frames {parent!r} (--pose-frames) is the camera frame itself (the images' "
                f"frame_id{'' if self._pose_frames[1] else ' in their headers'}), so every pose "
                "would be the identity: give the map frame first, e.g. --pose-frames "
                f"map:{child}"
            )
        try:
            return self._tf.lookup(parent, child, stamp_ns, *self._pose_rule_ns)
        except ExtrapolationError as err:
            log.debug("no pose for the image at t=%.6f s: %s", stamp_ns * 1e-9, err)
            self._no_pose.setdefault(stamp_ns, (str(err), err.gap_ns or 0))
            return None

    def _frame(
        self,
        msg: Any,
        depth_stamp: int,
        depth_by_stamp: Dict[int, np.ndarray],
        remaining: collections.Counter,
    ) -> Frame:
        stamp = header_stamp_ns(msg.header)
        depth = depth_by_stamp.get(depth_stamp) if depth_stamp >= 0 else None
        if depth is not None:
            remaining[depth_stamp] -= 1
            if remaining[depth_stamp] <= 0:
                del depth_by_stamp[depth_stamp]
        try:
            return frame_from_image_message(
                msg,
                self._frame_intrinsics(stamp),
                depth_m=depth,
                map_from_cam=self._pose(msg.header.frame_id, stamp),
            )
        except InputError as err:
            raise InputError(f"{self.image_topic} at t={stamp * 1e-9:.6f} s: {err}") from err


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
