"""Video topics (`rosbag.video`): what the mutation audit of 2026-12-08 found unchecked: the
sequence's own list of frames after a mid-GOP start, the packet count of a video without a
keyframe, a packet of an unsupported format mid-stream, a packet the indexing pass could not
deserialize, a family's next decoder."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')

from test_rosbag_video import (PICTURES, STAMPS, VIDEO, N, _packets, psnr,  # noqa: E402
                               video_bag)

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.rosbag import video as vid  # noqa: E402


def test_a_mid_gop_start_leaves_the_packets_before_the_keyframe_out_of_the_sequence(tmp_path):
    """Packets 2-4 recorded before the keyframe at 5: the sequence has 7 frames, stamped from
    the keyframe's (its length and stamps, not only the frames yielded, leave them out), and
    frame i is the topic's message 3 + i where build-map's candidate selection looks up its
    frame_id and whether it was deserialized (`listed_pose_and_depth`, `listed_unreadable`)."""
    seq = BagSequence(video_bag(tmp_path / "bag", drop=2), pose_frames="map:camera_optical")
    assert len(seq) == N - 5
    assert seq.stamps_ns.tolist() == STAMPS[5:]
    assert seq._image_ordinals.tolist() == list(range(3, N - 2))


def test_a_video_without_a_keyframe_names_its_packet_count(tmp_path):
    """Packet 11 alone (keyframes at 0, 5, 10): 'no packet of the 1', not of the 0."""
    with pytest.raises(InputError, match=rf"no packet of the 1 on video topic {VIDEO} decodes "
                                         "to a keyframe"):
        BagSequence(video_bag(tmp_path / "bag", drop=11))


def _packet(data, k, fmt="h264"):
    msg = NS(timestamp=NS(sec=1, nanosec=k), frame_id="camera_optical", format=fmt,
             data=np.frombuffer(data, np.uint8))
    return vid.VideoPacket(msg, vid.COMPRESSED_VIDEO_TYPE)


def test_a_packet_of_an_unsupported_format_mid_stream_is_returned_saying_so():
    decoder = vid.VideoDecoder("/cam/video")
    packets = _packets()
    assert all(decoder.feed(_packet(d, k), k).picture is not None
               for k, (d, _) in enumerate(packets[:3]))
    odd = _packet(packets[3][0], 3, fmt="theora")
    assert decoder.feed(odd, 3) is odd
    assert odd.picture is None and "format 'theora' is not supported" in odd.error, odd.error
    other = _packet(packets[4][0], 4, fmt="h265")  # another codec PyAV has: not switched to
    assert decoder.feed(other, 4) is other
    assert other.picture is None and "the video format changed within the topic, to 'h265'" \
        in other.error, other.error


def test_the_frames_of_a_b_frame_stream_that_decode_are_their_own_pictures(tmp_path):
    """A late picture goes to the packet it was sent with (its pts), by then an unreadable
    frame, not to the packet just fed: no frame shows another frame's picture (this libx264
    stream gives every picture late, so none is read)."""
    frames = list(BagSequence(video_bag(tmp_path / "bag", b_frames=True)).frames_or_unreadable())
    read = [(k, f) for k, f in enumerate(frames) if not getattr(f, "reason", None)]
    assert all(psnr(f.rgb, PICTURES[k]) > 30 for k, f in read), [k for k, _ in read]


def test_a_packet_the_indexing_pass_could_not_deserialize_is_passed_on_as_its_bytes():
    """Not deserialized again (its unreadable frame says why already), nor fed."""
    def deserialize(*_):
        raise AssertionError("deserialized again")
    seq = NS(_undeserialized={4: "why"}, _deserialize=deserialize)
    conn = NS(msgtype=vid.COMPRESSED_VIDEO_TYPE, topic="/cam/video")
    assert vid._VideoTopic._feed_video(seq, None, None, conn, 4, b"raw") == b"raw"


def test_a_family_s_next_decoder_is_taken_when_pyav_lacks_the_first(monkeypatch):
    import av
    have = {"libaom-av1"}

    def codec(name, mode):
        if name not in have:
            raise ValueError(f"unknown codec {name}")
        return NS(name=name)

    monkeypatch.setattr(av.codec, "Codec", codec)
    assert vid.decoder_name("av1", "/cam/video") == "libaom-av1"
    have.clear()
    with pytest.raises(InputError, match="format 'av1' is not supported: its PyAV has no av1 "
                                         "decoder"):
        vid.decoder_name("av1", "/cam/video")
