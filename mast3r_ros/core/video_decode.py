"""Video packets decoded with PyAV, ROS-free: the one decoder of a video stream
(`VideoDecoder`), used by the rosbag2 reader (`replay.rosbag.video`, one decoder a pass over a
bag) and the node (`core.video_stream.LiveVideo`, one decoder a subscription). The messages:
Foxglove's ``foxglove_msgs/msg/CompressedVideo`` (``timestamp``, ``frame_id``, ``data``,
``format``) and ffmpeg_image_transport's ``ffmpeg_image_transport_msgs/msg/FFMPEGPacket``
(``header``, ``width``, ``height``, ``encoding``, ``pts``, ``flags``, ``is_bigendian``,
``data``); PyAV is the optional ``video`` extra (``av>=10``).

Every packet of a stream goes through its decoder in order (a P-frame refers to earlier
pictures); pictures before the first keyframe are dropped, as decoders start there; a damaged
packet (refused, or decoded with FFmpeg's corrupt flag) and every picture predicted from it
until the next keyframe give no picture; so do the pictures after a lost packet, which FFmpeg
does not flag: a lost keyframe (FFmpeg then gives no picture until the next one) and, in an
FFMPEGPacket stream, a lost P-frame (its ``pts`` skips more than its step, learnt from the
packets by `video_pts.PtsSteps`: ffmpeg_image_transport's encoder counts frames, 1 a packet,
other publishers step by a timebase's ticks, where a longer gap is a loss too until it repeats
(a slower frame rate); a CompressedVideo has no such count, so a lost P-frame there cannot be
told). Streams with B-frames (pictures given out late) are not read: Foxglove's schema forbids
them.
"""

from __future__ import annotations

import os
import re
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

from .errors import InputError
from .video_pts import PtsSteps

COMPRESSED_VIDEO_TYPE = "foxglove_msgs/msg/CompressedVideo"
FFMPEG_PACKET_TYPE = "ffmpeg_image_transport_msgs/msg/FFMPEGPacket"
VIDEO_TYPES = (COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE)
# the oldest PyAV the video tests pass with (setup.py's ``video`` extra says the same): 10.0
# and 11.0 built on FFmpeg 5.1, 12.0 (PyPI's oldest wheel for Python 3.10); 9.x builds on
# FFmpeg 4 only (untested). Ubuntu 22.04's python3-av is 8.1 (FFmpeg 4.4), 24.04's 11.0
AV_FLOOR = (10, 0)
INSTALL_HINT = ('on Ubuntu 22.04 (Humble, JetPack 6): pip install "av>=10" (its apt python3-av '
                "8.1 is too old); on Ubuntu 24.04 (Jazzy): sudo apt install python3-av; in a venv: "
                'pip install -e ".[video]" in the checkout (the "video" extra)')
# codec family -> FFmpeg decoders to try, in order (the first PyAV has is used)
_DECODERS = {"h264": ("h264",), "hevc": ("hevc",), "vp9": ("vp9", "libvpx-vp9"),
             "av1": ("libdav1d", "av1", "libaom-av1")}
_ALIASES = {"h265": "hevc", "x264": "h264", "x265": "hevc", "openh264": "h264",
            "vpx-vp9": "vp9", "aom-av1": "av1", "svtav1": "av1", "dav1d": "av1"}
_LOOKBACK = 32  # packets awaiting a late picture (B-frames) kept at most


def codec_family(video_format: str) -> Optional[str]:
    """'h264', 'hevc', 'vp9' or 'av1' for a CompressedVideo ``format`` ('h264', 'h265', ...)
    or an FFMPEGPacket ``encoding`` (the encoder's name: 'libx264', 'h264_nvenc',
    'hevc_vaapi', 'libsvtav1'; a ';' and what follows it ignored); None for another."""
    name = str(video_format).split(";")[0].strip().lower()
    if name.startswith("lib"):
        name = name[3:]
    name = _ALIASES.get(name, name)
    if name not in _DECODERS and "_" in name:  # h264_nvenc, hevc_qsv, av1_nvenc
        name = _ALIASES.get(name.split("_")[0], name.split("_")[0])
    return name if name in _DECODERS else None


def _av() -> Any:
    """The ``av`` module, or `InputError` naming how to install it."""
    try:
        import av
    except ImportError as err:
        raise InputError(f"reading a video topic ({' or '.join(VIDEO_TYPES)}) needs PyAV, "
                         f"which is not installed: {INSTALL_HINT}") from err
    version = str(getattr(av, "__version__", ""))
    found = re.match(r"(\d+)\.(\d+)", version)
    if found and (int(found.group(1)), int(found.group(2))) < AV_FLOOR:
        raise InputError(f"reading a video topic needs PyAV >= {AV_FLOOR[0]}.{AV_FLOOR[1]}; the "
                         f"one imported is {version} ({os.path.dirname(av.__file__ or '')}): "
                         f"{INSTALL_HINT}")
    return av


def decoder_name(video_format: str, topic: str) -> str:
    """The FFmpeg decoder PyAV has for ``video_format`` (`codec_family`), or `InputError`
    naming the format, what is read and the fix."""
    av = _av()
    family = codec_family(video_format)
    if family is not None:
        for name in _DECODERS[family]:
            try:
                av.codec.Codec(name, "r")
            except Exception:  # noqa: BLE001 - PyAV's error for an unknown codec varies
                continue
            return name
    what = (f"its PyAV has no {family} decoder (a build without it: install the PyPI "
            "wheel, pip install av)" if family else
            "formats read: h264, h265 (hevc), vp9, av1, or an encoder's name of them "
            "(libx264, h264_nvenc, hevc_nvenc, ...)")
    raise InputError(f"video topic {topic}: format {video_format!r:.40} is not supported: "
                     f"{what}; or republish the topic as images (image_transport republish) "
                     "and record those")


NOT_DECODED = "the video packet was not decoded"
BEFORE_KEY = ("a packet before the video's first keyframe (the recording starts mid-GOP), which "
              "no decoder can read")
# a picture FFmpeg flags corrupt (AV_FRAME_FLAG_CORRUPT: errors concealed with parts of other
# pictures), and the pictures predicted from it until the next keyframe, which it does not flag
DAMAGED = ("the {name} decoder found the packet damaged and concealed the errors with parts of "
           "other pictures (FFmpeg's corrupt flag): the picture is not this frame's; a stream "
           "damaged in recording or copying")
BUILT_ON_DAMAGED = ("the picture is predicted from a damaged packet before it (t={stamp}), whose "
                    "concealed errors carry into every picture until the next keyframe")
# no picture in a stream without B-frames: FFmpeg lost a picture the packet is predicted from
MISSING = ("the {name} decoder gave no picture for the packet: a picture it is predicted from is "
           "missing (a keyframe lost: a packet dropped on the way or missing from the "
           "recording), so no picture until the next keyframe, which it waits for")
BUILT_ON_MISSING = ("the picture is predicted from pictures missing since t={stamp} (a keyframe "
                    "lost), which carry into every picture until the next keyframe")
# an FFMPEGPacket pts skipping a step (`PtsSteps`): FFmpeg decodes the pictures after a lost
# P-frame from an older one and does not flag them
LOST_PTS = ("a packet before it is missing (FFMPEGPacket pts {last} -> {pts}, in a stream whose "
            "pts steps by {step}: a packet dropped on the way or missing from the recording): "
            "the picture is predicted from an older one, as is every picture until the next "
            "keyframe")
B_FRAMES = ("the {name} decoder gave no picture for the packet (a stream with B-frames, whose "
            "pictures come late, is not read: record it without B-frames, as Foxglove's "
            "CompressedVideo requires)")


class VideoPacket:
    """One video message as the bag reader reads an image message: ``header`` (``stamp``,
    ``frame_id``), ``video_format`` (CompressedVideo ``format``, FFMPEGPacket ``encoding``),
    ``data`` (the packet bytes) and, once a `VideoDecoder` has decoded it, ``picture`` (a
    PyAV ``VideoFrame``) or ``error`` (why there is none); ``pts``: an FFMPEGPacket's (a
    frame count, or ticks of a timebase: `PtsSteps`), None for a CompressedVideo."""

    __slots__ = ("header", "video_format", "data", "picture", "error", "pts")

    def __init__(self, msg: Any, msgtype: str) -> None:
        if msgtype == COMPRESSED_VIDEO_TYPE:
            self.header = SimpleNamespace(stamp=msg.timestamp, frame_id=msg.frame_id)
            self.video_format = msg.format
            self.pts: Optional[int] = None
        else:
            self.header, self.video_format = msg.header, msg.encoding
            self.pts = int(msg.pts)
        self.data = msg.data
        self.picture: Any = None
        self.error = NOT_DECODED


def as_image(msg: Any) -> Any:
    """A decoded `VideoPacket` as an rgb8 ``sensor_msgs/Image`` (its header; the picture
    converted by FFmpeg's swscale to RGB, (H, W, 3) uint8); any other message unchanged.
    Raises `InputError` (the packet's ``error``) for a packet without a picture."""
    if not isinstance(msg, VideoPacket):
        return msg
    if msg.picture is None:
        raise InputError(msg.error)
    rgb = msg.picture.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    return SimpleNamespace(header=msg.header, encoding="rgb8", height=height, width=width,
                           step=3 * width, is_bigendian=0, data=rgb.reshape(-1))


class VideoDecoder:
    """One topic's packets decoded in bag order (one decoder for each pass over the bag).
    `feed` gives each packet its picture (matched by the packet's ordinal, which it is sent
    with as pts); pictures before the first keyframe are dropped, as decoders start there.
    ``starts_at``: the ordinal of the first keyframe's packet when known (the indexing pass's),
    so that a picture given late (B-frames) is not taken for one before it. ``before_key``:
    the error of a packet before the first keyframe (a live stream's: joined mid-GOP).
    ``check_pts``: whether an FFMPEGPacket pts skipping a step (`PtsSteps`) breaks the
    pictures until the next keyframe (False: the caller tells losses, as `LiveVideo` does)."""

    def __init__(self, topic: str, starts_at: Optional[int] = None,
                 before_key: str = BEFORE_KEY, check_pts: bool = True) -> None:
        self.topic, self._starts_at, self._before_key = topic, starts_at, before_key
        self.first_key: Optional[int] = None  # the ordinal of the first keyframe's packet
        self.fed: List[int] = []  # header stamps of the packets fed before it
        self._ctx: Any = None
        self._name = self._format = ""
        self._waiting: Dict[int, VideoPacket] = {}  # ordinal -> packet without its picture
        # why the pictures until the next keyframe are refused (a damaged or lost packet)
        self._broken: Optional[str] = None
        self._steps = PtsSteps() if check_pts else None  # the FFMPEGPacket pts steps
        self._late = False  # a picture given out after a later packet (B-frames)
        self.missing = False  # the packet fed last gave `MISSING` (a keyframe lost)

    @property
    def name(self) -> str:
        """The FFmpeg decoder's name ('' before the first packet)."""
        return self._name

    @property
    def reorders(self) -> bool:
        """Whether the stream has B-frames (pictures given out late): FFmpeg's reorder delay,
        or a picture seen late."""
        return self._late or bool(getattr(self._ctx, "has_b_frames", False))

    @staticmethod
    def _seconds(packet: VideoPacket) -> str:
        stamp = packet.header.stamp
        return f"{int(stamp.sec) + int(stamp.nanosec) / 1e9:.6f} s"

    def feed(self, packet: VideoPacket, ordinal: int) -> VideoPacket:
        """Decode ``packet``, the topic's message ``ordinal`` (0-based); returns it with its
        ``picture``, or its ``error``. Raises `InputError` only for a missing ``av``."""
        av = _av()
        self.missing = False
        if self.first_key is None:
            stamp = packet.header.stamp
            self.fed.append(int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec))
        try:  # looked up once a format (PyAV's codec lookup: about 70 us)
            name = (self._name if self._ctx is not None and packet.video_format == self._format
                    else decoder_name(packet.video_format, self.topic))
        except InputError as err:
            packet.error = str(err)
            return packet
        if self._ctx is None:
            self._ctx, self._name = av.CodecContext.create(name, "r"), name
            self._format = packet.video_format
            # slice threads only (PyAV's default): frame threads give each picture out late
            self._ctx.thread_type = "SLICE"
            if name == "libdav1d":  # its own frame threads hold pictures back (1: none)
                self._ctx.options = {"max_frame_delay": "1"}
        elif name != self._name:
            packet.error = (f"the video format changed within the topic, to "
                            f"{packet.video_format!r:.40}: read from the first format's decoder")
            return packet
        lost = (self._steps.gap(packet.pts) if self._steps is not None and packet.pts is not None
                else None)
        if lost and self.first_key is not None and not self.reorders:
            self._broken = LOST_PTS.format(last=lost[0], pts=lost[1], step=lost[2])
        self._waiting[ordinal] = packet
        for old in [k for k in self._waiting if k < ordinal - _LOOKBACK]:
            del self._waiting[old]
        failed = ""
        try:
            av_packet = av.Packet(bytes(packet.data))
            av_packet.pts = ordinal
            pictures = self._ctx.decode(av_packet)
        except (av.error.FFmpegError, ValueError, OSError) as err:
            pictures, failed = [], f"{type(err).__name__}: {err}"
            if self.first_key is not None:  # the pictures after it lack their reference
                self._broken = BUILT_ON_DAMAGED.format(stamp=self._seconds(packet))
        for picture in pictures:
            if self.first_key is None and not picture.key_frame:
                continue  # before the first keyframe: a picture made of what is missing
            if self.first_key is None:
                self.first_key = int(picture.pts if picture.pts is not None else ordinal)
            owner = self._waiting.pop(int(picture.pts), None) if picture.pts is not None \
                else self._waiting.pop(ordinal, None)
            if picture.pts is not None and int(picture.pts) < ordinal:
                self._late = True
            corrupt = bool(getattr(picture, "is_corrupt", False))
            if picture.key_frame and not corrupt:
                self._broken = None
            if owner is None:
                continue
            if corrupt:
                owner.error = DAMAGED.format(name=self._name)
                self._broken = BUILT_ON_DAMAGED.format(stamp=self._seconds(owner))
            elif self._broken is not None:
                owner.error = self._broken
            else:
                owner.picture = picture
        before = ordinal < self._starts_at if self._starts_at is not None else (
            self.first_key is None)
        if packet.picture is None and packet.error == NOT_DECODED:
            packet.error = (
                self._before_key if before else
                f"the {self._name} decoder refused the packet ({failed[:160]})" if failed else
                B_FRAMES.format(name=self._name) if self.reorders else
                self._broken or MISSING.format(name=self._name))
            if not (before or failed or self.reorders or self._broken):
                self._broken = BUILT_ON_MISSING.format(stamp=self._seconds(packet))
                self.missing = True
        return packet
