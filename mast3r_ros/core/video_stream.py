"""A live video subscription's packets decoded into pictures, ROS-free: the node's
``image_transport`` ``ffmpeg`` (ffmpeg_image_transport's FFMPEGPacket) and ``foxglove``
(foxglove_compressed_video_transport's CompressedVideo). The decoding is the rosbag2 reader's
(`core.video_decode.VideoDecoder`); what a live stream adds:

* every packet goes through the one decoder in arrival order, whether or not the localizer will
  take its frame (a P-frame needs the packets before it); the picture is converted to RGB only
  when the localizer reads it (`DecodedPicture`: a frame the worker replaces costs no
  conversion);
* after joining the stream, or a packet lost on the way (an FFMPEGPacket whose ``pts`` skips
  more than its step, `video_pts.PtsSteps`: FFmpeg decodes the pictures after a lost P-frame
  from an older one without flagging them), nothing is decoded until the next keyframe; the
  packets waited out are counted and said once, in one line, when it comes
  (`Received.note`); in a timebase (not a frame count) a gap of more than 3/2 steps is a
  loss too until the same gap repeats (then the new frame rate: a slower one costs one wait);
* a packet FFmpeg finds damaged and the pictures predicted from it give no picture until the
  next keyframe (the reader's rule);
* a new format (``format`` / ``encoding`` naming another codec) or picture size (FFMPEGPacket
  ``width`` / ``height``) starts a new decoder, which waits for a keyframe;
* B-frames: as the reader, a packet whose picture comes late gives none (Foxglove's
  CompressedVideo forbids them), said as such (and by the line ending the wait of a join): their
  FFMPEGPacket ``pts`` (presentation order) skipping ahead is no lost packet, nor is any gap
  while waiting for a keyframe;
* a lost keyframe (a CompressedVideo has no count to tell it) is seen as FFmpeg giving no
  picture (`video_decode.MISSING`): the packets until the next keyframe wait for it, as after a
  join (the decoder, which keeps the stream's parameter sets, is kept);
* a wait that starts mid-stream (a lost keyframe or packet, a new format or size after
  pictures) is said once when it starts (`Received.note`), besides the line ending it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from .errors import InputError
from .message_fields import header_stamp_ns
from .video_decode import (COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE, PtsSteps, VideoDecoder,
                           VideoPacket, _av, codec_family, decoder_name)

# why a decoder waits for a keyframe; a waiting packet's reason is "waiting for a keyframe <why>"
JOINED = ("after joining the stream between keyframes (mid-GOP): a packet before the first "
          "keyframe cannot be decoded")
LOST = ("after a lost packet (FFMPEGPacket pts {last} -> {pts}) in a stream whose pts steps by "
        "{step}: the pictures until the next keyframe would be predicted from the missing one")
CHANGED = "after the stream changed (codec, width, height) {old} -> {new}: a new decoder"
LOST_KEY = ("after a keyframe lost on the way (no picture from the {name} decoder for the packet "
            "at t={stamp:.3f} s): a picture it is predicted from is missing, so none until the "
            "next keyframe")


class DecodedPicture:
    """A decoded packet as an rgb8 ``sensor_msgs/Image`` (``header``, ``encoding``, ``width``,
    ``height``, ``step``, ``is_bigendian``, ``data``) whose ``data`` is converted from the
    PyAV picture (FFmpeg's swscale, RGB) when first read, on the thread that reads it."""

    encoding = "rgb8"
    is_bigendian = 0

    def __init__(self, header: Any, picture: Any) -> None:
        self.header = header
        self._picture: Any = picture
        self.width, self.height = int(picture.width), int(picture.height)
        self.step = 3 * self.width
        self._data: Any = None

    @property
    def data(self) -> Any:
        if self._data is None:
            self._data = self._picture.to_ndarray(format="rgb24").reshape(-1)
            self._picture = None
        return self._data


@dataclass
class Received:
    """What one packet gave: ``image`` (a `DecodedPicture`) or ``reason`` why none (the
    packet's stamp ``stamp_ns``, -1 when it is malformed), ``kind``
    its throttling key ('video_waiting', 'video_undecoded'); ``note``: a line to log once: a
    wait for a keyframe starting mid-stream, or the count of the packets a wait skipped, when
    the keyframe ending it came."""

    image: Optional[DecodedPicture]
    stamp_ns: int = -1
    reason: str = ""
    kind: str = ""
    note: str = ""


class LiveVideo:
    """One video subscription's decoder (``msgtype``: `COMPRESSED_VIDEO_TYPE` or
    `FFMPEG_PACKET_TYPE`; ``topic`` names it in messages). Create one a subscription: a new
    one joins the stream anew. `receive` each message in arrival order."""

    def __init__(self, topic: str, msgtype: str) -> None:
        if msgtype not in (COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE):
            raise ValueError(f"not a video message type: {msgtype!r}")
        self.topic, self.msgtype = topic, msgtype
        self._decoder: Optional[VideoDecoder] = None
        self._format: Optional[str] = None  # the last format found to have a decoder
        self._ordinal = 0
        self._stream: Optional[Tuple[Any, ...]] = None  # (codec family, width, height)
        self._steps = PtsSteps()  # the FFMPEGPacket pts step, kept over new decoders
        self._why_waiting = JOINED
        self._skipped: List[int] = []  # header stamps (ns) of the packets a wait skipped
        self._lost_key = False  # waiting for a keyframe after one was lost (the decoder kept)
        self._announce = False  # the wait starting is said (it starts mid-stream)

    def receive(self, msg: Any) -> Received:
        """Decode ``msg`` (a CompressedVideo or FFMPEGPacket, or an object with its fields).
        Raises `InputError` only for a missing or too old ``av``."""
        packet = VideoPacket(msg, self.msgtype)
        try:
            stamp_ns = header_stamp_ns(packet.header)
        except InputError:
            stamp_ns = -1  # refused with its frame (the worker's stamp check), or here
        stream: Tuple[Any, ...] = (codec_family(packet.video_format),)
        if self.msgtype == FFMPEG_PACKET_TYPE:
            stream += (int(msg.width), int(msg.height))
            lost = self._steps.gap(int(msg.pts))
            # a B-frame stream's pts (presentation order) skip ahead in decode order: no loss;
            # nor is a gap while waiting for a keyframe (the B-frames' reordering not known)
            if (lost and self._decoder is not None and self._decoder.first_key is not None
                    and not self._decoder.reorders):
                self._restart(LOST.format(last=lost[0], pts=lost[1], step=lost[2]))
        if stream != self._stream:  # the first packet, a new codec or picture size
            if self._stream is not None:
                self._restart(CHANGED.format(old=self._stream, new=stream))
            self._stream = stream
        _av()  # InputError: no (or too old a) PyAV
        if packet.video_format != self._format:  # looked up once a format (about 70 us)
            try:
                decoder_name(packet.video_format, self.topic)
            except InputError as err:
                return Received(None, stamp_ns, str(err), "video_format")
            self._format = packet.video_format
        if self._decoder is None:
            self._decoder = VideoDecoder(self.topic, before_key="waiting for a keyframe "
                                         + self._why_waiting, check_pts=False)
        decoder = self._decoder
        waiting = decoder.first_key is None or self._lost_key
        decoder.feed(packet, self._ordinal)
        decoder.fed.clear()  # the reader's record of the packets before the first keyframe
        self._ordinal += 1
        if decoder.missing:  # FFmpeg gave no picture, not waiting: a keyframe was lost
            self._why_waiting = LOST_KEY.format(name=decoder.name, stamp=stamp_ns * 1e-9)
            self._lost_key = self._announce = True
        if decoder.first_key is None or (self._lost_key and packet.picture is None):
            self._skipped.append(stamp_ns)
            reason = (packet.error if decoder.first_key is None else
                      "waiting for a keyframe " + self._why_waiting)
            return Received(None, stamp_ns, f"{reason} ({len(self._skipped)} packets so far)",
                            "video_waiting", self._start_note(stamp_ns))
        self._lost_key = self._announce = False
        note = self._wait_note(stamp_ns, packet) if waiting else ""
        if packet.picture is None:
            return Received(None, stamp_ns, packet.error, "video_undecoded", note)
        return Received(DecodedPicture(packet.header, packet.picture), stamp_ns, note=note)

    def _restart(self, why: str) -> None:
        """A new decoder from the next packet on (it waits for a keyframe, said as ``why``;
        said when it starts too, when it interrupts pictures)."""
        old = self._decoder
        self._announce = self._announce or (old is not None and old.first_key is not None
                                            and not self._lost_key)
        self._decoder, self._why_waiting, self._lost_key = None, why, False

    def _start_note(self, stamp_ns: int) -> str:
        """The line starting a wait that interrupts pictures, once; '' otherwise."""
        if not self._announce:
            return ""
        self._announce = False
        return (f"video topic {self.topic}: waiting for a keyframe {self._why_waiting} (from "
                f"the packet at t={stamp_ns * 1e-9:.3f} s; the packets it skips are counted "
                "and said when it comes)")

    def _wait_note(self, key_ns: int, packet: VideoPacket) -> str:
        """The line ending a wait (the count it skipped): decoding resumes from the keyframe,
        or, when its packet still gives no picture (B-frames), why not."""
        skipped, self._skipped = self._skipped, []
        if not skipped:
            return ""
        cause = self._why_waiting.split(":")[0]
        then = (f"decoding from the keyframe at t={key_ns * 1e-9:.3f} s on"
                if packet.picture is not None else
                f"the keyframe came by t={key_ns * 1e-9:.3f} s, but gives no frames: "
                f"{packet.error}")
        return (f"video topic {self.topic}: {len(skipped)} packets "
                f"(t={min(skipped) * 1e-9:.3f}..{max(skipped) * 1e-9:.3f} s) not decoded, "
                f"waiting for a keyframe {cause}; {then}")

