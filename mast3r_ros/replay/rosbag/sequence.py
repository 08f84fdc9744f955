"""`BagSequence`: a rosbag2 recording (mcap or sqlite3) as a sequence of ``Frame``, read through
``rosbags`` (no ROS).

The constructor makes one indexing pass (stamps, CameraInfo and tf, no pixel decoding; a
rosbag2 image's header read from its bytes, `cdr_header`, not deserialized) so that
depth, intrinsics and poses can be associated by header stamp; iteration makes a second pass and
decodes only the images it yields (build-map: only its keyframe candidates, their positions
drawn one frame at a time, each chosen by the pose and depth the first pass found for it,
`BagSequence.listed_pose_and_depth`). Every stamp is the message's ``header.stamp``, except an
image or depth message that cannot be deserialized at all: an image keeps its place as an
unreadable frame (`BagSequence.frames_or_unreadable`) stamped from the time the bag received
it, and a depth message, stamped so, makes the frame matched to it unreadable. This module
holds the two passes and frame assembly; its base classes choose the topics (`topics`), keep one
run of a bag whose header time jumps back (`runs`), give poses from tf (`poses`), associate
depth (`depth`), word the messages that cannot be deserialized (`undeserialized`) and draw
build-map's frames one at a time (`drawn`); `opening` opens the file.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError

from ...core.config import PoseAtStampConfig
from ...core.errors import ImageSizeError, InputError, error_clause
from ...core.image_codec import BayerWatch, check_depth_scale
from ...core.message_fields import (REDUCED_TWICE_HINT, IntrinsicsCache,
                                    frame_from_image_message, header_stamp_ns)
from ...core.tf_buffer import TransformBuffer
from ...core.trajectory import check_pose_rule
from ...core.types import (CameraIntrinsics, Frame, RecordedFrame, UnreadableFrame,
                           check_camera_info_arg)
from .cdr_header import HeaderReader
from .depth import _DepthAssociation
from .depth_choice import first_depth_encoding, needed_depth_topic
from .drawn import _DrawnFrames, _Recorded
from .frame_outcome import _FrameOutcome
from .image_digests import ImageDigests
from .index_stop import _IndexStopped
from .opening import (  # noqa: F401 (_open_hint)
    _open_bag, _open_hint, bag_deserialize, bag_label, bag_messages, numbered_messages,
    progress_messages)
from . import realsense
from .pose_topic import _PoseTopic, parse_pose_topic
from .receive_stamp import _ReceiveStamps
from .poses import _TfPoses
from .registered_depth import _RegisteredDepth
from .run_choice import _RunChoice
from .runs import _RunCounter, _TfSamples
from .topics import (IMAGE_TYPES, TF_TYPE, TF_TYPES, _TopicSelection,
                     warn_if_one_file_of_a_split_bag)
from .undeserialized import _Undeserialized, header_stamp_of_cdr
from .video import _VideoTopic, as_image

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


class BagSequence(_TopicSelection, _RunChoice, _TfPoses, _PoseTopic, _DepthAssociation,
                  _RegisteredDepth, _Undeserialized, _DrawnFrames, _VideoTopic, _ReceiveStamps,
                  _IndexStopped, _FrameOutcome):
    """A rosbag2 recording as a sequence of ``Frame`` (iterable, re-iterable, with ``len``).

    Topics left as ``None`` are detected: the one colour image topic (Image or CompressedImage,
    skipping depth topics) and the one CameraInfo topic (preferring the image's namespace). Depth is
    read only from ``depth_topic`` and associated by the nearest header stamp within
    ``sync_tolerance_s``. ``camera_info`` overrides any CameraInfo topic. ``pose_frames``
    ``"map:camera_optical"`` sets ``Frame.map_from_cam`` from tf (``"map"`` alone uses the image's
    ``header.frame_id``), each tf edge taken at the image stamp by the one pose-at-stamp rule
    (`mast3r_ros.core.trajectory`) with ``pose_at_stamp``'s tolerance and maximum gap (the config
    defaults when None; an edge published slower is interpolated across 2.5 times its own spacing,
    `tf_buffer.edge_max_gap_ns`); frames it gives no pose get ``None``. ``depth_scale`` (raw depth
    units per metre) overrides the REP-118 defaults (16UC1: 1000, 32FC1: 1). ``run`` (1-based)
    chooses the run of a bag whose header time jumps back (see `rosbag.runs`); default the longest,
    with a warning naming the runs. Raises `InputError` for a ``run`` the bag does not have, and,
    when ``depth_needed_by`` names what needs depth (``"the sift matcher"``) and no
    ``depth_topic`` is given, for a bag of not one depth image topic (the one is taken:
    `depth_choice`), before the indexing pass (`no_depth_reason` lists the depth-like topics).
    ``image_rectified``: the image topic is rectified, so the intrinsics are the CameraInfo's P
    with no distortion (`message_fields.camera_info_to_intrinsics`).
    ``camera_info_name``: how messages name the given ``camera_info`` (e.g. ``"--camera-info
    cam.yaml"``); ``option_names``: how refusals name a keyword (the CLI's flags, e.g.
    ``{"image_topic": "--image-topic"}``; default ``BagSequence(image_topic=...)``).
    ``before_index``: called once the bag is open and its topics chosen, before the indexing
    pass (which reads every message of them: seconds to minutes), for a caller's own
    refusals (``localize``: a ``--map`` that is no map); what it raises propagates.
    ``command`` (``"build-map"``, ``"localize"``, None: an API caller) words what is done with a
    frame in warnings. ``pose_topic`` ('TOPIC' or 'TOPIC:BODY_FRAME', `pose_topic`): poses from
    an Odometry / PoseStamped / PoseWithCovarianceStamped / TransformStamped topic, joined to the
    camera frame by tf; then ``pose_frames`` may be None (the topic's header.frame_id is the map).
    ``image_stamp`` 'receive': the image, depth and CameraInfo messages are timed by the bag's
    receive times, not their header stamps (`receive_stamp`; `InputError` for a video topic).
    ``max_frames``: only the first N frames will be read (build-map --max-frames; localize's
    span of them, `sources.frames_spanned`): the indexing pass stops once they have what they
    take (`index_stop`); ``frames_in_recording`` counts all.
    """

    def __init__(
        self,
        path: PathLike,
        image_topic: Optional[str] = None,
        camera_info_topic: Optional[str] = None,
        depth_topic: Optional[str] = None,
        camera_info: Optional[CameraIntrinsics] = None,
        pose_frames: Optional[str] = None,
        pose_topic: Optional[str] = None,
        sync_tolerance_s: float = 0.02,
        pose_at_stamp: Optional[PoseAtStampConfig] = None,
        depth_scale: Optional[float] = None,
        run: Optional[int] = None,
        depth_needed_by: Optional[str] = None,
        image_rectified: bool = False,
        camera_info_name: Optional[str] = None,
        before_index: Optional[Callable[[], None]] = None,
        option_names: Optional[Dict[str, str]] = None,
        command: Optional[str] = None,
        image_stamp: str = "header",
        max_frames: Optional[int] = None,
    ) -> None:
        if depth_scale is not None:
            depth_scale = check_depth_scale(depth_scale, "depth scale")
        if run is not None and (isinstance(run, (bool, np.bool_))
                                or not isinstance(run, (int, np.integer)) or run < 1):
            raise InputError(f"run must be >= 1 (a whole number; runs are numbered from 1), got "
                             f"{run!r}")  # '2' failed in '<', True was run 1, 1.5 said --run
        for name, topic in (("image_topic", image_topic), ("depth_topic", depth_topic),
                            ("camera_info_topic", camera_info_topic)):
            if topic is not None and not isinstance(topic, str):  # a list: unhashable, bare
                raise InputError(f"{name} must be a topic name (a string) or None, got {topic!r}")
        self._depth_scale, self._bayer = depth_scale, BayerWatch()  # its mono8 images judged
        self._rectified = bool(image_rectified)
        self._info_cache: Dict[str, IntrinsicsCache] = {}  # topic -> its conversion cache
        self._reduced_by: Dict[int, str] = {}  # id(intrinsics) -> `camera_info_reduction`
        self._depth_encoding: Optional[str] = None
        self._is_depth: Dict[str, bool] = {}  # topic -> looks like depth (first message read)
        self._run_wanted, self._max_frames = run, max_frames
        rule = check_pose_rule(sync_tolerance_s, pose_at_stamp)
        self.path = Path(path)
        self._tolerance_ns = round(sync_tolerance_s * 1e9)
        self._pose_rule_ns = (round(rule.tolerance_s * 1e9), round(rule.max_gap_s * 1e9))
        self._override = check_camera_info_arg(camera_info)
        #: how messages name the given ``camera_info`` (None: intrinsics from the bag)
        self.camera_info_name = ((camera_info_name or "the given camera_info") if camera_info
                                 else None)
        self._option_names = dict(option_names or {})  # keyword -> its name in refusals
        self._command = command  # "build-map" / "localize": what a warning says it does
        self._init_image_stamp(image_stamp)  # 'receive': timed by the bag (`receive_stamp`)
        self._pose_frames = self._parse_pose_frames(pose_frames)
        spec, self._pose_stream, self._tf_not_read = parse_pose_topic(pose_topic), None, {}
        self._body_mounts = {}
        self._tf = TransformBuffer()
        # indexing pass: every message with its run (1-based); filtered to one run at the end
        self._image_runs: List[Tuple[int, int]] = []
        self._depth_runs: List[Tuple[int, int]] = []
        self._info_runs: List[Tuple[int, int, CameraIntrinsics]] = []
        self._tf_runs: Dict[Tuple[str, str], _TfSamples] = {}
        self._tf_read = 0
        self._tf_rejected: Dict[Tuple[str, str], List[Any]] = {}
        self._tf_rejected_count = 0
        self._run_counter = _RunCounter()
        # frames iterated so far that tf gave no pose: image stamp -> (the ExtrapolationError's
        # message, the tf gap it fell in in ns, 0 outside an edge's samples)
        self._no_pose: Dict[int, Tuple[str, int, float]] = {}
        self._static_pose_frames_said: set = set()
        self.run = 1
        self._run_label = 1  # the run read, as _RunCounter labels it (self.run: of images)
        self.runs: List[Tuple[int, int, int]] = []  # per run: images, first and last stamp (ns)
        self._image_stamps: List[int] = []
        self._image_digests = ImageDigests()  # each image message's, every run's (as needed)
        # image messages that cannot be deserialized, by their ordinal on the image topic:
        # (bag receive time ns, the error); their estimated stamps are the run counter's
        self._undeserialized: Dict[int, Tuple[int, str]] = {}
        # depth messages that cannot be deserialized, likewise by their ordinal on the depth
        # topic: the frames matched to their estimated stamps are unreadable (`_lost_depth`)
        self._undeserialized_depth: Dict[int, Tuple[int, str]] = {}
        self._frame_id_from: List[int] = []  # readable images' frame_ids (`_note_frame_id`)
        self._frame_ids: List[str] = []
        self._depth_stamps: List[int] = []
        self._infos: List[Tuple[int, CameraIntrinsics]] = []
        self._info_frame_id: Optional[str] = None  # the first CameraInfo message's
        warn_if_one_file_of_a_split_bag(self.path)
        with _open_bag(self.path) as reader:
            if reader.message_count == 0:
                raise InputError(f"{bag_label(self.path)} contains no messages")
            self._topics = dict(reader.topics)
            self.image_topic = self._select_image_topic(reader, image_topic)
            self._refuse_receive_for_video(bag_label(self.path))
            self.depth_topic = self._select_depth_topic(depth_topic, reader)
            self.camera_info_topic = self._select_camera_info_topic(camera_info_topic, reader)
            #: image topics of the bag that look like depth (16UC1 / 32FC1, compressedDepth,
            #: 'depth' in the name), the image topic excepted: what --depth-topic can be
            self.depth_like_topics = [t for t in self._candidates(IMAGE_TYPES)
                                      if t != self.image_topic and self._is_depth_topic(reader, t)]
            if depth_needed_by and self.depth_topic is None:  # its only one, else refused
                self.depth_topic = needed_depth_topic(self, reader, depth_needed_by)
            self._tf_topics = [n for n, i in self._topics.items() if i.msgtype in TF_TYPES]
            if spec is not None:
                self._pose_stream = self._open_pose_topic(reader, spec)
            elif self._pose_frames is not None and not self._tf_topics:
                why = (realsense.no_pose_reason(bag_label(self.path), self._topics)
                       if realsense.is_realsense(self._topics) else
                       f"{bag_label(self.path)} has no {TF_TYPE} topic (/tf, /tf_static): drop "
                       "--pose-frames, pass the camera's poses as a TUM trajectory, --trajectory "
                       "FILE")
                raise InputError(f"pose_frames={pose_frames!r} (--pose-frames) needs tf, but {why}")
            if before_index is not None:
                before_index()
            self._index(reader)
        self._finish_index()
        log.info(
            "%s: %d images on %s, intrinsics from %s, %s, %s", bag_label(self.path), len(self),
            self.image_topic, self.camera_info_topic or "the given CameraIntrinsics",
            f"depth from {self.depth_topic}" if self.depth_topic else "no depth read",
            f"poses from {pose_topic or 'tf'} {pose_frames or ''}".rstrip() if pose_frames
            or pose_topic else "no poses from tf (--pose-frames)")

    # ---- indexing pass ---------------------------------------------------------------------

    def _deserialize(self, reader: AnyReader, raw: bytes, msgtype: str, topic: str) -> Any:
        try:
            return bag_deserialize(reader, raw, msgtype)
        except (AnyReaderError, ValueError) as err:
            raise InputError(
                f"cannot deserialize a {msgtype} on {topic} in {self.path}: {err}"
            ) from err

    def _index(self, reader: AnyReader) -> None:
        depth_info = self.depth_info_topic  # the depth's calibration: `_check_depth_registered`
        stream = self._pose_stream
        topics = [self.image_topic, self.depth_topic, self.camera_info_topic, depth_info,
                  *self._tf_topics, stream and stream.topic]
        wanted = [t for t in topics if t]
        if self._pose_frames is None and stream is None:  # /tf_static, for depth of another frame
            wanted = [t for t in wanted if t not in self._tf_topics or (
                self.depth_topic and t.endswith("tf_static"))]
        conns = [c for t in wanted for c in self._topics[t].connections]
        runs = self._run_counter = _RunCounter()
        headers = self._headers = HeaderReader(reader)  # most image messages: header alone
        desc = f"{self._command or 'bag'}: reading {self.path.name}"
        for conn, bag_ns, raw in self._indexed_messages(reader, conns, desc, runs):
            if conn.topic == depth_info:  # its first readable message alone
                if self._depth_info is None:
                    with contextlib.suppress(AnyReaderError, ValueError):
                        self._depth_info = bag_deserialize(reader, raw, conn.msgtype)
                continue
            if conn.topic in (self.image_topic, self.depth_topic):
                try:
                    msg = (self._header_alone(headers, conn, raw)
                           or bag_deserialize(reader, raw, conn.msgtype))
                except (AnyReaderError, ValueError) as err:  # its place kept, stamped later
                    read = header_stamp_of_cdr(raw) if getattr(reader, "is2", True) else None
                    ordinal = runs.note(conn.topic, None, bag_ns,  # no part in the runs
                                        self._stamp_of(conn.topic, read, bag_ns))
                    if conn.topic == self.image_topic:
                        self._undeserialized[ordinal] = (bag_ns, error_clause(err))
                        self._image_runs.append((ordinal, 0))
                        self._image_digests.add(raw, None)  # its stamp a guess: left alone
                    else:
                        self._undeserialized_depth[ordinal] = (bag_ns, error_clause(err))
                        self._depth_runs.append((ordinal, 0))
                    continue
            else:
                msg = self._deserialize(reader, raw, conn.msgtype, conn.topic)
            if conn.topic in (self.image_topic, self.depth_topic, self.camera_info_topic):
                stamp = self._stamp_of(conn.topic, header_stamp_ns(msg.header), bag_ns)
                run = runs.note(conn.topic, stamp, bag_ns)  # its ordinal; the run after the pass
            if conn.topic == self.image_topic:
                self._image_runs.append((run, stamp))
                self._image_digests.add(raw, stamp)  # two at one stamp: the same image?
                self._note_frame_id(run, msg.header.frame_id)
                self._probe_video(msg, run)  # a video's packets up to its first keyframe
            elif conn.topic == self.depth_topic:
                self._depth_runs.append((run, stamp))
                self._note_depth_header(msg, raw)
                if self._depth_encoding is None:  # a mono16 one said (`depth_choice`)
                    self._depth_encoding = first_depth_encoding(self, msg, conn.topic)
            elif conn.topic == self.camera_info_topic:
                if not self._info_runs:
                    self._info_frame_id = msg.header.frame_id
                self._info_runs.append((run, stamp, self._intrinsics(msg, conn.topic)))
            else:  # tf, or the pose topic's message as one transform
                self._add_transforms(
                    self._pose_message(msg) if stream and conn.topic == stream.topic else msg,
                    static=conn.topic.endswith("tf_static"), runs=runs, bag_ns=bag_ns,
                    topic=conn.topic)

    def _header_alone(self, headers: HeaderReader, conn: Any, raw: bytes) -> Optional[Any]:
        """The image or depth message ``raw`` as its header alone (`cdr_header`), where the
        indexing pass needs no more of it (not a depth topic's first message: its encoding and
        frame_id; not a video packet up to the first keyframe: `_probe_video`); else None."""
        if conn.topic == self.depth_topic:
            if self._depth_encoding is None or self._depth_frame_id is None:
                return None
        elif self._is_video() and (self._video_probe is None
                                   or self._video_probe.first_key is None):  # no keyframe yet
            return None
        return headers.header_only(raw, conn.msgtype)

    def _finish_index(self) -> None:
        # each depth message's header stamp by its ordinal, every run's (before they are kept)
        self._depth_by_ordinal = np.asarray([s for _, s in self._depth_runs], dtype=np.int64)
        images = len(self._image_runs)  # every run's image messages, readable or not
        self._check_image_clock()  # images and tf on different clocks? (receive times)
        self._choose_run()
        self._finish_pose_topic()  # its frames joined to the camera's by tf?
        self._warn_camera_not_the_images()  # --pose-frames MAP:camera_link?
        # the ordinal on the image topic of each image of the run read (its position)
        self._image_ordinals = np.flatnonzero(
            self._run_counter.runs_of(self.image_topic, images) == self._run_label)
        self._skip_before_keyframe(bag_label(self.path))  # a video started mid-GOP
        for ordinal, stamp in self._run_counter.estimated(self.depth_topic).items():
            self._depth_by_ordinal[ordinal] = stamp  # a depth message not deserialized
        self._warn_undeserialized()
        self._warn_undeserialized_depth()
        self._warn_rejected_tf()
        if self.camera_info_topic is not None:
            self._infos.sort(key=lambda item: item[0])
        self._info_stamps = np.asarray([s for s, _ in self._infos], dtype=np.int64)
        self._check_camera_info_frame(self._info_frame_id)
        self._check_indexed_depth()  # its RealSense units, registered?
        self._match_depth()

    # ---- public API ------------------------------------------------------------------------

    @property
    def stamps_ns(self) -> np.ndarray:
        """(N,) int64 header stamps of the images, in bag order."""
        return np.asarray(self._image_stamps, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._image_stamps)

    def __iter__(self) -> Iterator[Frame]:
        """Frames in bag order (rgb (H, W, 3) uint8 RGB, depth_m float32 metres or None,
        map_from_cam 4x4 float64 or None); every frame must be read: `InputError` for the
        first that cannot (`frames_or_unreadable` skips it instead, as ``localize`` and
        ``build-map`` read a bag). Raises it at once, before any frame, when the run read holds
        an image message that cannot be deserialized (a caller would otherwise stop only there,
        after its work on every frame before it); one in another run does not matter."""
        runs = self._run_counter
        for ordinal, (bag_ns, err) in sorted(self._undeserialized.items()):
            if runs.run(self.image_topic, ordinal) == self._run_label:
                run = f" (run {self.run})" if len(self.runs) > 1 else ""
                raise InputError(
                    f"{bag_label(self.path)}: an image message on {self.image_topic}{run}, "
                    f"received at bag time {bag_ns * 1e-9:.6f} s, cannot be deserialized: "
                    f"{err}; plain iteration reads every frame (frames_or_unreadable() skips "
                    "it as an unreadable frame, as localize and build-map do)")
        return self._frames(skip_unreadable=False)

    def frames_or_unreadable(self, positions: Optional[Iterable[int]] = None,
                             recorded: Collection[int] = ()
                             ) -> Iterator[Frame | UnreadableFrame | RecordedFrame]:
        """`__iter__`, with an `UnreadableFrame` (the `InputError` text, naming the topic and
        stamp) in place of each image message that cannot be made a frame (undecodable or
        corrupt data, an unsupported encoding, another size than its CameraInfo, its matched
        depth message undecodable), so that the frames after it are still read (``localize``,
        ``build-map``).
        An image message that cannot be deserialized at all has no known header stamp: its
        frame is stamped from the time the bag received it, in the header clock
        (`_RunCounter.estimated`), reason '/topic: the message received at bag time T s could
        not be deserialized: <the error> ...', and keeps the tf ground truth at that stamp
        (the camera frame_id of the images around it); plain iteration refuses a run holding
        one up front (`__iter__`). A depth message that cannot be deserialized is stamped the
        same way, and a frame matched to that stamp is unreadable, reason '... its depth at
        t=T s: depth topic /depth: the message received at bag time T s could not be
        deserialized: ...' (plain iteration stops there). A message that changed since the bag
        was indexed still stops the iteration; a depth message no frame yielded takes is not
        even deserialized.

        ``positions`` (0-based indices into `stamps_ns`): only those frames, in order; the
        other image messages are not deserialized nor decoded (nor is depth matched only to
        them), nor even read where the bag is read by time (`_frames_listed`), and the bag is
        read no further than the last frame taken needs. A collection (a list, a range:
        ``localize``'s stride) is taken whole before the bag is read; an iterator (without
        ``recorded``) is drawn from one position at a time, only once the frame before it has
        been consumed (`_frames_drawn`: build-map's keyframe candidates).
        ``recorded``: header stamps of the frames a resumed run recorded: each a `RecordedFrame`
        (its stamp, camera and tf pose, for the image frame_id the indexing pass read), its
        image message neither deserialized nor decoded, nor depth matched only to such frames
        (depth a frame read shares still is). An image message that cannot be deserialized
        stays an `UnreadableFrame`."""
        if isinstance(positions, Iterator) and not recorded:
            return self._frames_drawn(positions)
        if positions is None and recorded:  # a resumed run: its recorded frames not read
            positions = range(len(self))
        listed = (None if positions is None else
                  sorted({p for p in positions if 0 <= p < len(self)}))
        if listed and (len(listed) <= listed[-1] or recorded):  # read alone (`_frames_listed`)
            return self._frames_listed(listed, frozenset(recorded))
        return self._frames(skip_unreadable=True, positions=positions, recorded=recorded)

    def _frames(self, skip_unreadable: bool, positions: Optional[Iterable[int]] = None,
                recorded: Collection[int] = ()
                ) -> Iterator[Frame | UnreadableFrame | RecordedFrame]:
        topics = [t for t in (self.image_topic, self.depth_topic) if t is not None]
        wanted = None if positions is None else set(positions)
        stamps, recorded = self.stamps_ns, frozenset(recorded)
        remaining = self._depth_uses(wanted, recorded)  # depth stamp -> frames yet to take it
        last = max(wanted, default=-1) if wanted is not None else len(self)
        depth_by_stamp: Dict[int, Any] = {}  # decoded depth, or its InputError (skipped)
        pending: collections.deque = collections.deque()
        position = -1  # of the last image of the run read, in stamps_ns
        with _open_bag(self.path) as reader:
            conns = [c for t in topics for c in reader.topics[t].connections]
            frame_id = self._frame_ids[0] if self._frame_ids else None  # the first readable
            video = self._video_decoder()  # every packet of a video decoded, in order
            for conn, ordinal, raw in numbered_messages(reader, conns):
                if wanted is not None and position >= last and not pending:
                    break  # every frame taken has been yielded
                raw = self._of_run_read(video, reader, conn, ordinal, raw)
                if raw is None:
                    continue
                if conn.topic == self.image_topic:
                    position += 1
                    if wanted is not None and position not in wanted:
                        continue  # skipped: neither deserialized nor decoded
                    known = int(stamps[position]) if position < len(stamps) else None
                    # a recorded frame takes no depth: it waits for none, none decoded for it
                    depth_stamp = -1 if recorded and known in recorded else None
                    if ordinal in self._undeserialized:
                        if depth_stamp is None:
                            guessed = self._run_counter.estimated(conn.topic)[ordinal]
                            depth_stamp = int(self._depth_matches(np.array([guessed]))[0])
                        pending.append((self._undeserialized_frame(ordinal, frame_id),
                                        depth_stamp))
                        continue
                    if depth_stamp is not None:  # from the indexing pass: not deserialized
                        frame_id = self._frame_id_at(ordinal)
                        pending.append((_Recorded(known, frame_id), depth_stamp))
                        continue
                elif not self._depth_wanted(ordinal, remaining, depth_by_stamp):
                    continue  # taken by no frame yielded (or decoded already): not deserialized
                elif ordinal in self._undeserialized_depth:  # the frames matched: unreadable
                    stamp = int(self._depth_by_ordinal[ordinal])
                    depth_by_stamp[stamp] = self._lost_depth(ordinal, skip_unreadable)
                    raw = None
                if raw is not None:
                    msg = self._receive_restamped(self._deserialize(
                        reader, raw, conn.msgtype, conn.topic), conn.topic, ordinal)
                    stamp = header_stamp_ns(msg.header)
                    if conn.topic != self.depth_topic:
                        frame_id = msg.header.frame_id
                        depth_stamp = int(self._depth_matches(np.array([stamp]))[0])
                        pending.append((msg, depth_stamp))
                    elif remaining[stamp] > 0 and stamp not in depth_by_stamp:
                        try:
                            depth_by_stamp[stamp] = self._decode_depth(msg)
                        except InputError as err:
                            if not skip_unreadable:  # stopping here: no frame's line names it
                                raise InputError(f"{error_clause(err)} (the depth message stamped "
                                                 f"t={stamp * 1e-9:.6f} s)") from err
                            depth_by_stamp[stamp] = err  # its frames are unreadable
                # images wait, in order, until the depth matched to them has been read
                while pending and (pending[0][1] < 0 or pending[0][1] in depth_by_stamp):
                    yield self._frame_or_unreadable(*pending.popleft(), depth_by_stamp,
                                                    remaining, skip_unreadable)
            while pending:  # only if the bag changed between the two passes
                yield self._frame_or_unreadable(*pending.popleft(), depth_by_stamp, remaining,
                                                skip_unreadable)

    # ---- frame assembly --------------------------------------------------------------------

    def _frame(
        self,
        msg: Any,
        depth_stamp: int,
        depth_by_stamp: Dict[int, Any],
        remaining: collections.Counter,
        pose: Optional[np.ndarray],
    ) -> Frame:
        stamp = header_stamp_ns(msg.header)
        depth = self._take_depth(depth_stamp, depth_by_stamp, remaining)
        if isinstance(depth, InputError):  # its depth message was undecodable (skipped)
            raise self._depth_error(stamp, depth_stamp, depth)
        intrinsics = self._frame_intrinsics(stamp)
        try:
            frame = frame_from_image_message(as_image(msg), intrinsics, map_from_cam=pose,
                                             topic=self.image_topic, bayer_watch=self._bayer)
        except ImageSizeError as err:  # typed: `sources` tells a wrong --camera-info by it
            (w, h), (iw, ih) = err.image_size, err.intrinsics_size
            what = (f"image is {w}x{h} but {self.camera_info_name} is for {iw}x{ih}"
                    if self.camera_info_name else str(err))  # not "the CameraInfo" of the bag
            reduced = None if self.camera_info_name else self._reduced_by.get(id(intrinsics))
            if reduced:  # a driver that reduced size and K itself and still set binning/roi
                what = (f"image is {w}x{h} but its CameraInfo gives {iw}x{ih}: {reduced}, "
                        f"{REDUCED_TWICE_HINT}")
            raise err.reworded(f"{self.image_topic} at t={stamp * 1e-9:.6f} s: {what}") from err
        except InputError as err:
            raise InputError(f"{self.image_topic} at t={stamp * 1e-9:.6f} s: {err}") from err
        if depth is None:
            return frame
        depth = self._registered_depth(depth, intrinsics, stamp, depth_stamp)
        (h, w), (dh, dw) = frame.rgb.shape[:2], depth.shape[:2]
        fitted = self._depth_at_image_size(depth, intrinsics) if (dh, dw) != (h, w) else depth
        if fitted is None:  # named here, with its topic: Frame would say 'Frame.depth_m'
            what = (f"the depth image is empty ({dw}x{dh} pixels)" if dh * dw == 0 else
                    self._depth_size_words(dw, dh, w, h))
            raise InputError(f"{self.image_topic} at t={stamp * 1e-9:.6f} s: its depth at "
                             f"t={depth_stamp * 1e-9:.6f} s: depth topic {self.depth_topic}: "
                             f"{what}")
        return dataclasses.replace(frame, depth_m=fitted)  # checked again by Frame
