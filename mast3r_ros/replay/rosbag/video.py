"""Compressed video topics of a rosbag2 read as the colour images: Foxglove's
``foxglove_msgs/msg/CompressedVideo`` and ffmpeg_image_transport's
``ffmpeg_image_transport_msgs/msg/FFMPEGPacket``, decoded with PyAV (the optional ``video``
extra, ``av>=10``: ``pip install -e ".[video]"``; Ubuntu 24.04's ``python3-av``, not 22.04's).

A video packet needs the packets before it (a P-frame refers to earlier pictures), so each
pass over a bag decodes every packet of the topic in bag order with one decoder
(`VideoDecoder`); only the frames the pass yields are converted to RGB. Packets before the
topic's first keyframe (a recording started mid-GOP) cannot be decoded: the indexing pass finds
the first keyframe and those packets are no frames of the sequence (warned once, with counts).
A stamp is the message's: ``timestamp`` (CompressedVideo), ``header.stamp`` (FFMPEGPacket);
the frame_id likewise. Depth is never read from video (lossy compression changes distances).
A packet missing from the recording makes the pictures until the next keyframe unreadable
frames when it can be told: a lost keyframe (FFmpeg gives no picture until the next one) and,
in an FFMPEGPacket topic, a lost P-frame (its ``pts`` skips more than its step, learnt from the
packets: 1 from ffmpeg_image_transport's frame count, a timebase's ticks from others, where
a longer gap is a loss too until it repeats, the new frame rate then, `core.video_pts.PtsSteps`);
a CompressedVideo has no count, so a lost P-frame there cannot be told (FFmpeg does not flag
the pictures predicted past it). Streams with B-frames (pictures reordered, given out late)
are not read: Foxglove's schema forbids them; their late pictures make unreadable frames.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Dict, List, Optional

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from ...core.errors import InputError
# the decoder is the node's too (`core.video_stream`): one source, re-exported for the reader
from ...core.video_decode import (AV_FLOOR, BUILT_ON_DAMAGED, COMPRESSED_VIDEO_TYPE,  # noqa: F401
                                  DAMAGED, FFMPEG_PACKET_TYPE, INSTALL_HINT, NOT_DECODED,
                                  VIDEO_TYPES, VideoDecoder, VideoPacket, _av, as_image,
                                  codec_family, decoder_name)

log = logging.getLogger(__name__)

# The two types' fields as their documentation lists them (foxglove's schema page, the
# ffmpeg_image_transport_msgs message page), registered for a bag that carries no definitions
# (a Humble sqlite3 bag's rosbags reads with its default Humble types).
_DEFINITIONS = {
    COMPRESSED_VIDEO_TYPE: ("builtin_interfaces/Time timestamp\nstring frame_id\nuint8[] data\n"
                            "string format\n"),
    FFMPEG_PACKET_TYPE: ("std_msgs/Header header\nint32 width\nint32 height\nstring encoding\n"
                         "uint64 pts\nuint8 flags\nbool is_bigendian\nuint8[] data\n"),
}


@functools.lru_cache(maxsize=1)
def humble_typestore() -> Any:
    """rosbags' ROS 2 Humble typestore with the two video types added: the types of a bag
    without definitions (`opening._open_bag`)."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    types: Dict[str, Any] = {}
    for name, text in _DEFINITIONS.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


class _VideoTopic:
    """Mixin of `sequence.BagSequence`: a video image topic's decoders, and its packets before
    the first keyframe (found by the indexing pass) dropped from the frames."""

    image_topic: str
    _topics: Dict[str, Any]
    _image_ordinals: Any
    _image_stamps: List[int]
    _undeserialized: Dict[int, Any]
    _deserialize: Any  # `sequence.BagSequence._deserialize`
    #: ordinal on the image topic of the first packet read as a frame (0: every one)
    _video_first_key = 0
    _video_probe: Optional[VideoDecoder] = None

    def _is_video(self) -> bool:
        return self._topics[self.image_topic].msgtype in VIDEO_TYPES

    def _video_decoder(self) -> Optional[VideoDecoder]:
        """A new decoder for one pass over the image topic, None for an image topic."""
        return (VideoDecoder(self.image_topic, self._video_first_key) if self._is_video()
                else None)

    def _feed_video(self, decoder: VideoDecoder, reader: Any, conn: Any, ordinal: int,
                    raw: Any) -> Any:
        """The image topic's message ``ordinal`` (raw bytes) deserialized and fed to
        ``decoder``: the `VideoPacket`, decoded; the bytes as they are for a message the
        indexing pass could not deserialize (an unreadable frame already)."""
        if ordinal in self._undeserialized:
            return raw
        return decoder.feed(self._deserialize(reader, raw, conn.msgtype, conn.topic), ordinal)

    def _probe_video(self, msg: Any, ordinal: int) -> None:
        """Indexing pass: decode the image topic's packets until its first keyframe."""
        if not isinstance(msg, VideoPacket):
            return
        if self._video_probe is None:
            self._video_probe = VideoDecoder(self.image_topic)
        if self._video_probe.first_key is None:
            self._video_probe.feed(msg, ordinal)

    def _first_frame_ordinal(self) -> int:
        """Indexing pass done: the ordinal of the image topic's first message that can be a
        frame (its first keyframe's packet; 0 for an image topic, or a video without one)."""
        probe = self._video_probe
        return probe.first_key if probe is not None and probe.first_key is not None else 0

    def _skip_before_keyframe(self, label: str) -> None:
        """After the indexing pass: the packets before the first keyframe are no frames
        (warned once, with counts); `InputError` when no packet is a keyframe."""
        probe = self._video_probe
        if probe is None:
            return
        n = len(probe.fed)
        if probe.first_key is None:
            raise InputError(
                f"{label}: no packet of the {n} on video topic {self.image_topic} decodes to "
                "a keyframe, so none can be decoded (a recording started mid-GOP and stopped "
                "before the next keyframe, or a damaged stream)")
        self._video_first_key = probe.first_key
        keep = [i for i, o in enumerate(self._image_ordinals) if o >= probe.first_key]
        stamps = [s for i, s in enumerate(self._image_stamps) if self._image_ordinals[i]
                  < probe.first_key]  # the run read's packets before it (another run's: none)
        if not stamps:
            return
        log.warning(
            "%s: video topic %s starts mid-GOP: its first %d packets (t=%.3f..%.3f s) come "
            "before its first keyframe and cannot be decoded; they are skipped, the frames "
            "start at its keyframe at t=%.3f s", label, self.image_topic, len(stamps),
            min(stamps) * 1e-9, max(stamps) * 1e-9,
            self._image_stamps[keep[0]] * 1e-9 if keep else float("nan"))
        self._image_ordinals = self._image_ordinals[keep]
        self._image_stamps = [self._image_stamps[i] for i in keep]
