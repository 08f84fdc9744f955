"""AV1 packets through the decoder (`core.video_decode.VideoDecoder`, via the node's
`core.video_stream.LiveVideo`): made here with PyAV's SVT-AV1 encoder (libsvtav1), skipped
where this PyAV has none (or no libdav1d to decode with)."""

from __future__ import annotations

import fractions
from types import SimpleNamespace as NS

import numpy as np
import pytest

av = pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')

from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402

S = 1_000_000_000
W = H = 64  # SVT-AV1's smallest picture
N = 12


def _av1_packets(gop=5):
    """(bytes, is keyframe) of ``N`` pictures from SVT-AV1 (its default prediction structure,
    keyframes every ``gop``), one temporal unit a picture, in decode order."""
    for name in ("libsvtav1", "libdav1d"):
        if name not in av.codecs_available:
            pytest.skip(f"this PyAV has no {name}")
    enc = av.CodecContext.create("libsvtav1", "w")
    enc.width, enc.height, enc.pix_fmt = W, H, "yuv420p"
    enc.time_base = fractions.Fraction(1, 10)
    enc.options = {"preset": "12", "g": str(gop)}
    rng = np.random.default_rng(0)
    base = rng.integers(60, 190, (H, W, 3), dtype=np.uint8)
    out = []
    for k in range(N):
        frame = av.VideoFrame.from_ndarray(np.roll(base, 2 * k, axis=1), format="rgb24")
        frame.pts = k
        out += [(bytes(p), p.is_keyframe) for p in enc.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in enc.encode(None)]
    assert len(out) == N
    return out


def _message(kind, k, data, key):
    stamp = NS(sec=1, nanosec=k * 100_000_000)
    if kind == COMPRESSED_VIDEO_TYPE:
        return NS(timestamp=stamp, frame_id="camera_optical", data=data, format="av1")
    return NS(header=NS(stamp=stamp, frame_id="camera_optical"), width=W, height=H,
              encoding="libsvtav1", pts=k, flags=int(key), is_bigendian=False, data=data)


@pytest.mark.parametrize("kind", [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE],
                         ids=["CompressedVideo", "FFMPEGPacket"])
def test_an_av1_stream_gives_every_packet_its_picture_not_the_b_frame_refusal(kind):
    """Was: libdav1d, given more than one thread, holds pictures back (its frame delay), so
    the keyframe's picture came out with a later packet: the stream (one picture a temporal
    unit, no reordering) was refused as one with B-frames, and the first keyframe waited for
    as if joined mid-GOP. The decoder now asks libdav1d for no delay (max_frame_delay 1)."""
    stream = LiveVideo("/cam/image/foxglove", kind)
    got = [stream.receive(_message(kind, k, data, key))
           for k, (data, key) in enumerate(_av1_packets())]
    assert [r.reason for r in got] == [""] * N
    assert all(r.image is not None and (r.image.width, r.image.height) == (W, H) for r in got)
