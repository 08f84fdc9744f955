"""Whether a rosbag2's depth is registered to its colour image, and registering it when it is
another camera's: the depth's header frame_id and the CameraInfo beside it against the images'
(`_check_depth_registered`), the extrinsic the bag's /tf_static or /tf gives (`_tf_extrinsic`),
a RealSense recording's extrinsics and depth unit (`_check_realsense_depth`), and the depth
registered (`_registered_depth`) or resampled (`_depth_at_image_size`) to the colour image.

`_RegisteredDepth` is a base class of `BagSequence`, beside `depth._DepthAssociation` (which
depth message each image takes).
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import realsense
from .opening import bag_label, bag_messages
from .tf_extrinsic import MOVED_DEG, MOVED_MM, constant_extrinsic
from .topics import CAMERA_INFO_TYPE, IMAGE_TYPES, _image_namespace, images_frame
from ...core.depth_register import DepthRegistration
from ...core.errors import InputError
from ...core.message_fields import camera_info_to_intrinsics
from ...core.types import CameraIntrinsics

log = logging.getLogger(__name__)


class _RegisteredDepth:
    """Depth registration of `BagSequence` (a base class of it). ``BagSequence.__init__`` and
    the indexing pass set the attributes annotated here."""

    path: Path
    image_topic: str
    depth_topic: Optional[str]
    _depth_scale: Optional[float]
    _topics: Dict[str, Any]
    camera_info_topic: Optional[str]
    _rectified: bool
    _override: Optional[CameraIntrinsics]
    _infos: List[Tuple[int, CameraIntrinsics]]
    _frame_ids: List[str]
    _tf_topics: List[str]
    # the indexing pass's first depth message's header frame_id, and the first CameraInfo
    # beside the depth topic (`depth_info_topic`); None until read
    _depth_frame_id: Optional[str] = None
    _depth_info: Any = None
    _depth_resampled_said = False
    _depth_cam: Optional[CameraIntrinsics] = None  # `_depth_info` converted
    # another camera's depth registered to the colour image: (its intrinsics, colour_from_depth)
    _depth_source: Optional[Tuple[CameraIntrinsics, np.ndarray]] = None
    _registration: Optional[DepthRegistration] = None  # of the last colour calibration
    # a RealSense depth stream read at its recorded unit: the 'Depth Units' option's (m; None:
    # not recorded) and each unit its Image messages carry ('%.7g' -> images; None: not noted)
    _option_units: Optional[float] = None
    _image_units: Optional[collections.Counter] = None

    @property
    def depth_info_topic(self) -> Optional[str]:
        """The CameraInfo topic in the depth topic's namespace (/camera/depth/camera_info beside
        /camera/depth/image_rect_raw), the image's own excepted; None without one. The indexing
        pass reads its first message: the depth's calibration, for `_check_depth_registered`."""
        if self.depth_topic is None:
            return None
        namespace = _image_namespace(self.depth_topic)
        beside = [t for t, i in self._topics.items()
                  if i.msgtype == CAMERA_INFO_TYPE and i.msgcount > 0
                  and t.rsplit("/", 1)[0] == namespace and t != self.camera_info_topic]
        return beside[0] if len(beside) == 1 else None

    def _note_depth_header(self, msg: Any, raw: bytes) -> None:
        """Indexing pass: a depth message read (its frame_id kept from the first; a RealSense
        depth unit it carries noted when its scale is the recording's, `_image_units`)."""
        if self._depth_frame_id is None:
            self._depth_frame_id = str(msg.header.frame_id)
        units = None if self._image_units is None else realsense.image_depth_units(raw)
        if units is not None:  # 0: librealsense's unset, counted
            self._image_units[f"{units:.7g}"] += 1

    def _check_indexed_depth(self) -> None:
        """After indexing: `realsense.check_image_depth_units`, `_check_depth_registered`."""
        if self._image_units is not None and self.depth_topic is not None:
            realsense.check_image_depth_units(bag_label(self.path), self.depth_topic,
                                              self._option_units, self._image_units)
        self._check_depth_registered()
        self._tf_every = None  # every run's /tf samples (`_keeps_every_tf`): not needed now

    def _check_depth_registered(self) -> None:
        """Refuse a depth stream that is provably not registered to the colour image: its
        header frame_id is another frame than the images' and the CameraInfo beside it is not
        the images' K (scaled to its size: `_other_calibration`): the depth camera's own
        stream, read pixel for pixel as the colour image's depth it gives wrong 3-D points.
        Another frame_id alone (no CameraInfo beside the depth, or the image's calibration) is
        warned about: a driver may name registered depth by its depth frame. Leading slashes
        are no other frame (tf2 strips them). Depth in the images' frame whose CameraInfo is
        another calibration at the image's size (read pixel for pixel) is warned about too.
        Depth naming no frame (empty frame_id) whose CameraInfo is another calibration is
        refused as another frame's is: nothing says it is registered (it was read silently);
        the refusal says how it would be registered (its frame_id and /tf_static recorded).
        Another frame with another calibration is registered when /tf_static joins the two
        frames, else when /tf does by a transform that stays one over every sample (within 1 mm
        and 0.1 deg; refused when it moves: `_register_by_tf`), else refused.
        Another frame with the images' calibration (what registered depth has) is read as
        registered, never moved by the tf: silently when /tf_static, else a /tf transform that
        never moves (`_tf_extrinsic`), puts the frames at one place (`_one_place`), else with
        a warning naming the offset and which of the two gave it (a /tf transform that moves,
        or none, gets the warning of frames nothing joins). Each message names the bag's own
        registered topic when it holds one (`_register_fix`)."""
        depth = (self._depth_frame_id or "").lstrip("/")
        image = images_frame(self._frame_ids)
        own = self._depth_intrinsics()
        ref = self._override if self._override is not None else (
            self._infos[0][1] if self._infos else None)
        other = own is not None and ref is not None and _other_calibration(own, ref)
        if other and not depth and image:  # nothing says registered, its calibration says not
            raise InputError(
                f"{bag_label(self.path)}: depth topic {self.depth_topic} names no frame (an "
                f"empty header.frame_id), and its CameraInfo ({self.depth_info_topic}: "
                f"{_calibration(own)}) is not that of the images on {self.image_topic} ('{image}': "
                f"{_calibration(ref)}): it is not registered to the colour image, and read pixel "
                f"for pixel as its depth it would put every 3-D point in the wrong place; "
                f"{self._register_fix()}, or record it with its header.frame_id set (the depth "
                f"camera's optical frame) and /tf_static joining that frame to '{image}': it "
                "is then registered here")
        if not depth or not image or depth == image:
            if other and depth == image and (own.width, own.height) == (ref.width, ref.height):
                where = (f"is in the images' frame '{image}'" if image else
                         "names no frame, nor do the images (an empty header.frame_id)")
                log.warning(
                    "%s: depth topic %s %s, but its CameraInfo (%s: %s) is not the images' "
                    "(%s): if it is a depth camera's own stream under the colour frame_id, "
                    "every 3-D point built from it is wrong; %s",
                    bag_label(self.path), self.depth_topic, where, self.depth_info_topic,
                    _calibration(own), _calibration(ref), self._register_fix())
            return
        fix = self._register_fix()
        where = (f"depth topic {self.depth_topic} is in frame '{depth}', the images on "
                 f"{self.image_topic} in '{image}'")
        if other and self._register_by_tf(image, depth, own, where, fix):
            return
        try:  # a /tf that moves is no extrinsic: read as registered, warned about below
            found = None if other else self._tf_extrinsic(image, depth, where, fix)
        except InputError:
            found = None
        apart, said = (None, "") if found is None else (found[0], found[1])
        if apart is not None and _one_place(apart):  # the tf puts the frames at one place
            log.info("%s: %s, which %s puts at one place: read as registered",
                     bag_label(self.path), where, said)
            return
        if apart is not None and own is not None:  # the images' calibration: registered's
            log.warning(
                "%s: %s, %.1f mm apart by %s, but its CameraInfo (%s) is the images' "
                "calibration, as depth registered to the colour image has (a driver may keep "
                "the depth frame's name on it): read as registered, not moved by %s; "
                "if it is the depth camera's own stream, every 3-D point built from it is "
                "wrong: %s", bag_label(self.path), where,
                1000 * float(np.linalg.norm(apart[:3, 3])), said, self.depth_info_topic, said,
                fix)
            return
        if own is None:  # no calibration of its own to register it with
            tf_too = "" if apart is not None else f" and /tf_static joining '{depth}' to '{image}'"
            fix = (f"{fix}; or, when it is the depth camera's own stream, record its CameraInfo "
                   f"beside it{tf_too}: it is then registered here")
        elif not other and ref is not None:  # the images' calibration, no /tf_static
            fix = (f"{fix}; with /tf_static joining '{depth}' to '{image}' recorded, frames "
                   "it puts at one place are read without this warning")
        if other:
            raise InputError(
                f"{bag_label(self.path)}: {where}, and its CameraInfo "
                f"({self.depth_info_topic}: {_calibration(own)}) is not the images' "
                f"({_calibration(ref)}): the depth is not registered to the colour image, and "
                f"read pixel for pixel as its depth it would put every 3-D point in the wrong "
                f"place (with /tf_static joining '{depth}' to '{image}' in the bag it would be "
                f"registered here, or with /tf joining them by a transform that never moves); "
                f"{fix}")
        log.warning("%s: %s: if this depth is not registered to the colour image (a depth "
                    "camera's own stream), every 3-D point built from it is wrong; %s",
                    bag_label(self.path), where, fix)

    def _check_realsense_depth(self, reader: Any, topic: str) -> None:
        """A RealSense recording's ``topic`` given as depth: read pixel for pixel when aligned
        to the image stream (same extrinsics and calibration), else registered to it with the
        recorded extrinsics (`_register_depth`; refused when they are not recorded:
        `realsense.colour_from_depth`); its scale is the recorded 'Depth Units' option
        (metres per raw unit), else the ``depth_units`` its Image messages carry (0s, unset,
        read with the others' and warned about), refused as `realsense.depth_units_of` says
        (implausible, changed, disagreeing, neither); a given ``depth_scale`` wins, refused
        when it is no RealSense unit (`realsense.check_depth_scale`)."""
        def first(name: Optional[str]) -> Any:
            known = name is not None and name in self._topics and self._topics[name].msgcount
            return self._first_message(reader, name) if known else None

        def extrinsics(image_topic: str) -> Dict[str, np.ndarray]:
            found = {g: first(t) for g, t in realsense.extrinsic_topics(
                self._topics, image_topic).items()}
            matrices = {g: realsense.transform_matrix(m) for g, m in found.items()
                        if m is not None}
            return {g: m for g, m in matrices.items() if m is not None}

        cams, errors = [], []
        for t in (self.image_topic, topic):
            msg = first(realsense.camera_info_topic_of(t))
            try:
                cams.append(None if msg is None else camera_info_to_intrinsics(msg))
                errors.append("not recorded" if msg is None else "")
            except InputError as err:
                cams.append(None)
                errors.append(str(err))
        label = bag_label(self.path)
        colour_from_depth = realsense.colour_from_depth(
            label, self.image_topic, topic, extrinsics(self.image_topic), extrinsics(topic))
        same, offset = realsense.offset_words(colour_from_depth)
        if not (same and None not in cams and not _other_calibration(cams[1], cams[0])):
            self._register_depth(topic, cams[1], errors[1], colour_from_depth, offset)
        if self._depth_scale is not None:  # given: a RealSense unit, or refused
            name = getattr(self, "_option_names", {}).get("depth_scale") or "depth_scale"
            realsense.check_depth_scale(label, topic, self._depth_scale, name)
            return
        units_topic = realsense.depth_units_topic(topic)
        values = []  # every value recorded (one message per change of the option)
        if first(units_topic) is not None:
            for conn, _, raw in bag_messages(reader,
                                             connections=self._topics[units_topic].connections):
                value = getattr(self._deserialize(reader, raw, conn.msgtype, conn.topic),
                                "data", None)
                values += [] if value is None else [float(value)]
        gen = bag_messages(reader, connections=self._topics[topic].connections)
        try:  # the depth_units librealsense 2.3x+ writes in each Image: the first not 0 (unset)
            carried = next((u for u in map(realsense.image_depth_units, (m[2] for m in gen))
                            if u != 0), None)  # None: an older recorder's, or every one 0
        finally:
            gen.close()
        units = realsense.depth_units_of(label, topic, values, carried)
        self._option_units = units if any(values) else None  # else the carried unit
        self._image_units = collections.Counter()  # each Image's: `_note_depth_header`
        self._depth_scale = 1.0 / units
        log.info("%s: depth read with the recorded depth unit, %g m (%g units per metre; %s)",
                 label, units, self._depth_scale, "its 'Depth Units' option" if any(values) else
                 "the depth_units its Image messages carry")

    def _register_depth(self, topic: str, depth_cam: Optional[CameraIntrinsics], error: str,
                        colour_from_depth: np.ndarray, offset: str) -> None:
        """A RealSense depth stream that is another camera's (``offset`` from the colour one,
        or its calibration another): registered to the colour image frame by frame
        (`_registered_depth`) with its own calibration ``depth_cam``; refused when that is
        not recorded or not readable (``error``: why)."""
        stream, colour = realsense.stream_of(topic), realsense.stream_of(self.image_topic)
        if depth_cam is None:
            raise InputError(
                f"{bag_label(self.path)}: depth stream {stream} is not aligned to {colour} "
                f"(the depth camera is {offset} from the colour camera), and registering it "
                f"needs its own calibration, {stream}/info/camera_info: {error}; play the "
                "recording through realsense2_camera (align_depth.enable true) and record its "
                "aligned_depth_to_color topic, or read it without --depth-topic")
        self._depth_source = (depth_cam, colour_from_depth)
        log.info("%s: depth stream %s (%dx%d) registered to the colour image of %s (the depth "
                 "camera is %s from the colour camera, the recorded extrinsics)",
                 bag_label(self.path), stream, depth_cam.width, depth_cam.height, colour, offset)

    def _register_fix(self) -> str:
        """`_REGISTER_FIX`, led by the bag's own registered depth topic when it holds one
        (an image topic named aligned_depth_to_color or depth_registered, not the one read)."""
        held = sorted(t for t, i in self._topics.items()
                      if i.msgtype in IMAGE_TYPES and i.msgcount > 0 and t != self.depth_topic
                      and ("aligned_depth_to_color" in t or "depth_registered" in t))
        return (f"this bag holds {held[0]}, registered depth by its name: pass --depth-topic "
                f"{held[0]}; else {_REGISTER_FIX}") if held else _REGISTER_FIX

    def _tf_extrinsic(self, image: str, depth: str, where: str, fix: str
                      ) -> Optional[Tuple[np.ndarray, str, str]]:
        """(``image_from_depth`` 4x4 float64 metres, the topic that gave it, what it says)
        when the bag's /tf_static joins frames ``image`` and ``depth`` (the same at every
        stamp), else when its /tf does by a transform that stays one over every sample
        (`tf_extrinsic.constant_extrinsic`); None when neither joins them or no tf was read.
        /tf is judged from every sample of the bag's (`_tf_every_sample`: the indexing pass's
        with --pose-frames, else read for it): the sequence's buffer keeps the first sample of
        a stamp (as a lookup must) and the run read only, so a transform that changes while its
        stamp does not was taken as fixed with --pose-frames and refused without. /tf_static
        wins: /tf is not read then (with --pose-frames the tf buffer refuses one transform on
        both with two values). Raises InputError (``where``, ``fix``) when /tf moves it."""
        tf = getattr(self, "_tf", None)
        if tf is None:
            return None
        if tf.static_between(image, depth):
            return tf.lookup(image, depth, 0), "/tf_static", "/tf_static"
        if not any(not t.endswith("tf_static") for t in self._tf_topics):
            return None  # no /tf: only /tf_static's, which does not join them
        tf = self._tf_every_sample()  # every sample, --pose-frames or not
        found = constant_extrinsic(tf, image, depth, f"{bag_label(self.path)}: {where}", fix)
        return None if found is None else (found[0], "/tf", (
            f"/tf, whose {found[1]} samples of the transform stay within {MOVED_MM:g} mm and "
            f"{MOVED_DEG:g} deg (no /tf_static joins them)"))

    def _register_by_tf(self, image: str, depth: str, depth_cam: CameraIntrinsics, where: str,
                        fix: str) -> bool:
        """Depth in frame ``depth`` (its own calibration ``depth_cam``) registered to the
        images' frame ``image`` (`_registered_depth`) with the extrinsic the bag's tf gives
        (`_tf_extrinsic`); False when its tf does not join them. Raises InputError (``where``,
        ``fix``) when the /tf transform moves."""
        found = self._tf_extrinsic(image, depth, where, fix)
        if found is None:
            return False
        colour_from_depth, _, said = found
        self._depth_source = (depth_cam, colour_from_depth)
        log.info("%s: depth topic %s (frame '%s', %s) registered to the images' frame '%s' "
                 "with %s (%.1f mm apart)", bag_label(self.path), self.depth_topic,
                 depth, _calibration(depth_cam), image, said,
                 1000 * float(np.linalg.norm(colour_from_depth[:3, 3])))
        return True

    def _registered_depth(self, depth: np.ndarray, intrinsics: CameraIntrinsics, stamp: int,
                          depth_stamp: int) -> np.ndarray:
        """``depth`` (metres) as it is, or when it is another camera's (`_register_depth`)
        registered to the colour image of ``intrinsics`` (`core.depth_register`: the colour
        image's size, 0 where no depth lands). Raises InputError naming the frame when the
        depth is not of its CameraInfo's size."""
        if self._depth_source is None:
            return depth
        depth_cam, colour_from_depth = self._depth_source
        reg = self._registration
        if reg is None or reg.colour_cam is not intrinsics:  # a new calibration: new rays
            reg = self._registration = DepthRegistration(depth_cam, intrinsics,
                                                         colour_from_depth)
        try:
            return reg(depth)
        except InputError as err:
            raise InputError(f"{self.image_topic} at t={stamp * 1e-9:.6f} s: its depth at "
                             f"t={depth_stamp * 1e-9:.6f} s: depth topic {self.depth_topic}: "
                             f"{err}") from err

    def _depth_at_image_size(self, depth: np.ndarray, image: Optional[CameraIntrinsics]
                             ) -> Optional[np.ndarray]:
        """``depth`` (h, w) metres of another size than the image (``image``: its intrinsics)
        resampled to the image's when it is the image's registered depth at another
        resolution: the CameraInfo beside the depth is of the depth's size with the image's
        K scaled (said once); None otherwise (no such CameraInfo, or another calibration)."""
        own = self._depth_intrinsics()
        dh, dw = depth.shape[:2]
        if (image is None or own is None or (own.width, own.height) != (dw, dh)
                or _other_calibration(own, image)):
            return None
        if not self._depth_resampled_said:
            self._depth_resampled_said = True
            log.info("depth on %s is %dx%d, the images %dx%d: registered at another "
                     "resolution (%s: the image's K scaled), resampled to the image's size "
                     "(nearest)", self.depth_topic, dw, dh, image.width, image.height,
                     self.depth_info_topic)
        return _resampled(depth, image.height, image.width)

    def _depth_size_words(self, dw: int, dh: int, w: int, h: int) -> str:
        """Why depth of ``dw`` x ``dh`` is not used for an image of ``w`` x ``h``: with no
        CameraInfo beside the depth topic (in another namespace than the image's), nothing
        tells whether it is the image's registered depth at another resolution
        (`_depth_at_image_size` would resample it), so that CameraInfo is named to record;
        else its calibration is not the image's K scaled."""
        fix = "register depth to the colour image (a camera's aligned_depth_to_color topic)"
        own = self._depth_intrinsics()
        info = f"{_image_namespace(self.depth_topic or '')}/camera_info"
        if own is None and info == self.camera_info_topic:  # the image's namespace
            return f"{dw}x{dh}, but the image is {w}x{h}: {fix}"
        if own is None:
            return (f"{dw}x{dh}, but the image is {w}x{h}, and no CameraInfo beside the depth "
                    f"({info}) tells whether it is registered at another resolution (then "
                    f"resampled to the image): record {info} too, or {fix}")
        return (f"{dw}x{dh}, but the image is {w}x{h} and its CameraInfo ("
                f"{self.depth_info_topic}: {_calibration(own)}) is not the image's K scaled to "
                f"that size: {fix}")

    def _depth_intrinsics(self) -> Optional[CameraIntrinsics]:
        """The first CameraInfo beside the depth topic as intrinsics; None without one or when
        it does not convert (nothing to compare then)."""
        if self._depth_info is None:
            return None
        if self._depth_cam is None:  # converted once: read again for each resampled frame
            try:
                self._depth_cam = camera_info_to_intrinsics(self._depth_info, self._rectified)
            except InputError:
                self._depth_info = None
                return None
        return self._depth_cam


def _one_place(colour_from_depth: np.ndarray) -> bool:
    """Whether a transform joins two frames at one place: under 1 mm and 0.1 degree."""
    turn = np.clip((np.trace(colour_from_depth[:3, :3]) - 1) / 2, -1.0, 1.0)
    return (float(np.linalg.norm(colour_from_depth[:3, 3])) < 1e-3
            and float(np.degrees(np.arccos(turn))) < 0.1)


_REGISTER_FIX = ("record the depth registered to the colour image (RealSense: "
                 "align_depth.enable true, its /camera/aligned_depth_to_color/image_raw; "
                 "Orbbec/OpenNI: depth_registration true; or depth_image_proc's register node) "
                 "and give that topic as --depth-topic")


def _other_calibration(depth: CameraIntrinsics, image: CameraIntrinsics) -> bool:
    """Whether the depth's calibration is not the image's, scaled to the depth's size: a
    registered depth's CameraInfo repeats the colour image's K (at another resolution scaled
    by the size ratio, as image_proc's resize scales it), up to the driver's rounding. fx and
    fy may differ by 0.5 %, cx and cy by 1 depth pixel beyond the two scaling conventions'
    difference (centre-aligned ``(c + 0.5) s - 0.5`` or plain ``c s``: ``0.5 |s - 1|``)."""
    if min(depth.width, depth.height, image.width, image.height) <= 0:
        return True
    sx, sy = depth.width / image.width, depth.height / image.height
    kd, ki = np.asarray(depth.K, np.float64), np.asarray(image.K, np.float64)
    focal = np.array([ki[0, 0] * sx, ki[1, 1] * sy])
    centre = np.array([(ki[0, 2] + 0.5) * sx - 0.5, (ki[1, 2] + 0.5) * sy - 0.5])
    return bool(np.any(np.abs(kd[[0, 1], [0, 1]] - focal) > 0.005 * focal.max())
                or np.any(np.abs(kd[[0, 1], [2, 2]] - centre)
                          > 1.0 + 0.5 * np.abs(np.array([sx, sy]) - 1.0))
                or abs(kd[0, 1] - ki[0, 1] * sx) > 0.005 * focal.max())


def _resampled(depth: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) depth -> (height, width): each output pixel takes the depth pixel its centre
    falls in (nearest, pixel centres aligned; no depth is blended across an edge)."""
    dh, dw = depth.shape
    rows = np.minimum(((np.arange(height) + 0.5) * dh / height).astype(np.intp), dh - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * dw / width).astype(np.intp), dw - 1)
    return np.ascontiguousarray(depth[rows[:, None], cols[None, :]])


def _calibration(cam: CameraIntrinsics) -> str:
    """'640x480, fx 615.3 fy 615.1 cx 320.5 cy 240.2' for a message."""
    k = np.asarray(cam.K, np.float64)
    return (f"{cam.width}x{cam.height}, fx {k[0, 0]:g} fy {k[1, 1]:g} cx {k[0, 2]:g} "
            f"cy {k[1, 2]:g}")
