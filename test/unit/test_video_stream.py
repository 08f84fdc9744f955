"""A live video subscription decoded ROS-free (`core.video_stream.LiveVideo`): real h264
packets made here with PyAV (libx264, `test_rosbag_video._packets`) in stand-in messages
(`types.SimpleNamespace`) with the fields of foxglove_msgs/CompressedVideo and
ffmpeg_image_transport_msgs/FFMPEGPacket."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

av = pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_rosbag_video import PICTURES, STAMPS, H, N, W, _packets, psnr  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402

S = 1_000_000_000
KINDS = [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE]
PACKETS = _packets()  # keyframes at 0, 5, 10 (gop 5), no B-frames


def _stamp(ns):
    return NS(sec=ns // S, nanosec=ns % S)


def message(kind, k, data=None, fmt=None, width=W, height=H, pts=None):
    """Picture ``k``'s packet as a stand-in message of ``kind`` (the real field names)."""
    payload, key = PACKETS[k]
    payload = payload if data is None else data
    if kind == COMPRESSED_VIDEO_TYPE:
        return NS(timestamp=_stamp(STAMPS[k]), frame_id="camera_optical", data=payload,
                  format=fmt or "h264")
    return NS(header=NS(stamp=_stamp(STAMPS[k]), frame_id="camera_optical"), width=width,
              height=height, encoding=fmt or "libx264", pts=k if pts is None else pts,
              flags=int(key), is_bigendian=False, data=payload)


def _run(stream, kind, ks, **kw):
    return [stream.receive(message(kind, k, **kw)) for k in ks]


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_every_packet_gives_its_own_picture_close_to_the_original(kind):
    stream = LiveVideo("/cam/image/x", kind)
    got = _run(stream, kind, range(N))
    assert all(r.image is not None and not r.reason and not r.note for r in got)
    for k, r in enumerate(got):
        img = r.image
        assert (img.width, img.height, img.step, img.encoding) == (W, H, 3 * W, "rgb8")
        assert (img.header.stamp.sec, img.header.stamp.nanosec) == divmod(STAMPS[k], S)
        assert img.header.frame_id == "camera_optical"
        rgb = np.asarray(img.data).reshape(H, W, 3)
        assert psnr(rgb, PICTURES[k]) > 30


class _CountingPicture:
    """A PyAV picture stand-in counting its conversions (PyAV 12's VideoFrame, the compat
    leg's, is an immutable extension type: its method cannot be patched)."""

    def __init__(self, picture):
        self.picture, self.calls = picture, 0
        self.width, self.height = picture.width, picture.height

    def to_ndarray(self, *a, **k):
        self.calls += 1
        return self.picture.to_ndarray(*a, **k)


def test_the_rgb_conversion_happens_only_when_the_data_is_read():
    """A picture the worker never takes (replaced by a newer one) is never converted."""
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)
    r = stream.receive(message(COMPRESSED_VIDEO_TYPE, 0))
    assert r.image._data is None  # not converted in the callback
    counting = r.image._picture = _CountingPicture(r.image._picture)
    assert r.image.width == W and counting.calls == 0
    first = r.image.data
    assert counting.calls == 1 and r.image.data is first  # once
    assert psnr(first.reshape(H, W, 3), PICTURES[0]) > 30


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_a_stream_joined_mid_gop_waits_for_the_keyframe_and_says_the_count_once(kind):
    stream = LiveVideo("/cam/image/x", kind)
    got = _run(stream, kind, range(2, N))
    waited = got[:3]  # pictures 2, 3, 4: before the keyframe at 5
    assert all(r.image is None and r.kind == "video_waiting" for r in waited)
    assert "waiting for a keyframe after joining the stream" in waited[0].reason
    assert waited[2].reason.endswith("(3 packets so far)")
    assert [bool(r.note) for r in got].count(True) == 1
    note = got[3].note
    assert got[3].image is not None and "3 packets (t=1.200..1.400 s) not decoded" in note
    assert "keyframe at t=1.500 s" in note
    assert all(r.image is not None for r in got[3:])


def test_a_packet_lost_on_the_way_skips_to_the_next_keyframe():
    """FFmpeg decodes the pictures after a lost P-frame from an older one without flagging
    them; the FFMPEGPacket pts (the encoder's frame count) skipping one says it."""
    stream = LiveVideo("/cam", FFMPEG_PACKET_TYPE)
    got = _run(stream, FFMPEG_PACKET_TYPE, [0, 1, 3, 4, 5, 6])  # 2 lost
    assert [r.image is not None for r in got] == [True, True, False, False, True, True]
    assert "after a lost packet (FFMPEGPacket pts 1 -> 3)" in got[2].reason
    assert "2 packets" in got[4].note and "lost packet" in got[4].note


def test_a_pts_that_never_moves_is_no_loss():
    """A publisher leaving pts at 0 (not ffmpeg_image_transport's encoder) loses nothing."""
    stream = LiveVideo("/cam", FFMPEG_PACKET_TYPE)
    got = [stream.receive(message(FFMPEG_PACKET_TYPE, k, pts=0)) for k in range(N)]
    assert all(r.image is not None for r in got)


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_a_damaged_packet_and_the_pictures_predicted_from_it_give_none(kind):
    stream = LiveVideo("/cam", kind)
    bad = bytes(PACKETS[2][0][:6]) + b"\xff" * (len(PACKETS[2][0]) - 6)
    got = _run(stream, kind, [0, 1])
    got.append(stream.receive(message(kind, 2, data=bad)))
    got += _run(stream, kind, range(3, N))
    ok = [r.image is not None for r in got]
    assert ok[:2] == [True, True] and ok[5:] == [True] * (N - 5)
    assert not any(ok[2:5]) and all(r.kind == "video_undecoded" for r in got[2:5])


def test_a_new_picture_size_starts_a_new_decoder_that_waits_for_a_keyframe():
    stream = LiveVideo("/cam", FFMPEG_PACKET_TYPE)
    _run(stream, FFMPEG_PACKET_TYPE, [0, 1])
    r = stream.receive(message(FFMPEG_PACKET_TYPE, 2, width=2 * W))  # said to change size
    assert r.image is None and "after the stream changed" in r.reason
    r = stream.receive(message(FFMPEG_PACKET_TYPE, 5, width=2 * W))
    assert r.image is not None and "1 packets" in r.note


def test_a_new_format_starts_a_new_decoder_and_an_unknown_one_is_refused_per_packet():
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)
    assert stream.receive(message(COMPRESSED_VIDEO_TYPE, 0)).image is not None
    r = stream.receive(message(COMPRESSED_VIDEO_TYPE, 1, fmt="mjpeg"))
    assert r.image is None and r.kind == "video_format" and "'mjpeg' is not supported" in r.reason
    r = stream.receive(message(COMPRESSED_VIDEO_TYPE, 5, fmt="h265"))  # h264 bytes: refused
    assert r.image is None and "after the stream changed" in r.reason


def test_b_frames_as_the_reader_treats_them():
    """A packet whose picture comes late (B-frames) gives none, as the reader says."""
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)
    got = [stream.receive(NS(timestamp=_stamp(STAMPS[k]), frame_id="c", data=d, format="h264"))
           for k, (d, _) in enumerate(_packets(b_frames=True))]
    assert any(r.image is None and "B-frames" in r.reason for r in got)


def test_without_pyav_each_packet_raises_naming_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(InputError, match=r"needs PyAV, which is not installed"):
        LiveVideo("/cam", COMPRESSED_VIDEO_TYPE).receive(message(COMPRESSED_VIDEO_TYPE, 0))


def test_a_lost_keyframe_says_so_and_not_b_frames_until_the_next_keyframe():
    """Was: after a lost keyframe (packet 5 of a GOP-5 stream) FFmpeg gave no picture for 6-8
    and the decoder explained them as "a stream with B-frames", then gave 9's picture,
    predicted from the missing ones, as the frame. Now each says a keyframe was lost and the
    pictures until the next keyframe give none; the keyframe after them decodes."""
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)  # no pts: the loss is seen by FFmpeg
    got = _run(stream, COMPRESSED_VIDEO_TYPE, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11])
    assert [r.image is not None for r in got] == [True] * 5 + [False] * 4 + [True] * 2
    assert not any("B-frames" in r.reason for r in got)
    assert "a keyframe lost" in got[5].reason and "until the next keyframe" in got[5].reason
    assert all("a keyframe lost" in r.reason and r.kind == "video_waiting" for r in got[5:9])
    assert psnr(np.asarray(got[9].image.data).reshape(H, W, 3), PICTURES[10]) > 30


def _b_frame_packets():
    """(bytes, pts) of each picture from libx264 with 2 B-frames, in decode order, with the
    encoder's pts as ffmpeg_image_transport sends it (out of order: 0, 1, 2, 4, 3, ...)."""
    import fractions

    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = W, H, "yuv420p"
    enc.time_base = fractions.Fraction(1, 10)
    enc.options = {"bf": "2", "g": "5", "crf": "18"}
    out = []
    for k, rgb in enumerate(PICTURES):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = k
        out += [(bytes(p), int(p.pts)) for p in enc.encode(frame)]
    out += [(bytes(p), int(p.pts)) for p in enc.encode(None)]
    assert len(out) == N and [pts for _, pts in out] != sorted(pts for _, pts in out)
    return out


def test_b_frame_ffmpeg_packets_get_the_b_frame_refusal_not_a_lost_packet():
    """Was: a B-frame stream's FFMPEGPacket pts (presentation order) skipping ahead in decode
    order was taken for a lost packet, so every GOP said 'after a lost packet'; it now gets
    the B-frame refusal (still not read), as a CompressedVideo stream does."""
    stream = LiveVideo("/cam", FFMPEG_PACKET_TYPE)
    got = [stream.receive(message(FFMPEG_PACKET_TYPE, k, data=data, pts=pts))
           for k, (data, pts) in enumerate(_b_frame_packets())]
    assert not any("lost packet" in r.reason or "lost packet" in r.note for r in got)
    assert any(r.image is None and "a stream with B-frames" in r.reason for r in got)
