"""A live video stream's waits for a keyframe (`core.video_stream.LiveVideo`, and the node's
callback `ros.video_input.VideoReceipt`): a wait that starts mid-stream (a lost keyframe, a
lost packet) is said once when it starts and once, with the count, when decoding resumes, not
warned packet by packet; a B-frame stream joined mid-GOP says it joined and, at its keyframe,
that B-frames are not read. The stand-in messages of test_video_stream."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_ros_video_receipt import VideoHost, _warnings  # noqa: E402
from test_video_stream import KINDS, _b_frame_packets, message  # noqa: E402

from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402

KEY_LOST = [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]  # the keyframe at 5 lost (gop 5)


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_a_lost_keyframe_is_one_wait_said_when_it_starts_and_with_its_count_when_it_ends(kind):
    """Was (CompressedVideo, no pts to tell the loss): packets 6-9 each gave 'a keyframe lost'
    as a failure of its own (kind video_undecoded: warned, throttled, every 5 s of a long
    GOP) and nothing said when decoding resumed; now they wait for the keyframe as after a
    join. The FFMPEGPacket stream (pts 4 -> 6) waited without saying so until it ended."""
    stream = LiveVideo("/cam/image/x", kind)
    got = [stream.receive(message(kind, k)) for k in KEY_LOST]
    assert [r.image is not None for r in got] == [True] * 5 + [False] * 4 + [True] * 2
    assert all(r.kind == "video_waiting" for r in got[5:9])
    assert got[8].reason.endswith("(4 packets so far)")
    lost = "a keyframe lost" if kind == COMPRESSED_VIDEO_TYPE else "a lost packet"
    assert all(f"waiting for a keyframe after {lost}" in r.reason for r in got[5:9])
    assert [i for i, r in enumerate(got) if r.note] == [5, 9]
    assert got[5].note.startswith("video topic /cam/image/x: waiting for a keyframe after")
    assert lost in got[5].note and "from the packet at t=1.600 s" in got[5].note
    end = got[9].note
    assert "4 packets (t=1.600..1.900 s) not decoded" in end and lost in end
    assert "decoding from the keyframe at t=2.000 s on" in end


def test_the_node_says_a_lost_keyframe_in_two_lines_and_counts_the_packets_refused():
    host = VideoHost(COMPRESSED_VIDEO_TYPE)
    offered = []
    for k in KEY_LOST:
        host._receive_video(message(COMPRESSED_VIDEO_TYPE, k), offered.append)
    assert len(offered) == 7
    warned = _warnings(host)
    assert len(warned) == 2, warned
    assert "waiting for a keyframe after a keyframe lost" in warned[0]
    assert "4 packets (t=1.600..1.900 s) not decoded" in warned[1]
    values = dict(host.summary().values)
    assert values["frames_refused"] == "4" and "waiting for a keyframe" in values["last_failure"]


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_a_b_frame_stream_joined_mid_gop_says_it_joined_then_gives_the_b_frame_refusal(kind):
    """Was (FFMPEGPacket): joined at packet 1, the presentation-order pts (2 -> 4) while
    waiting for the first keyframe read as a lost packet, and the wait ended with 'decoding
    from the keyframe on' though the stream, with B-frames, gave no frame after it. Now the
    wait is the join's, and its end says B-frames are not read."""
    stream = LiveVideo("/cam/image/x", kind)
    got = []
    for k, (data, pts) in enumerate(_b_frame_packets()):
        if k >= 1:
            got.append(stream.receive(message(kind, k, data=data, pts=pts)))
    said = [r.reason for r in got] + [r.note for r in got]
    assert not any("lost" in s for s in said)
    waited = [r for r in got if r.kind == "video_waiting"]
    assert waited and all("after joining the stream" in r.reason for r in waited)
    notes = [r.note for r in got if r.note]
    assert len(notes) == 1 and "after joining the stream" in notes[0]
    assert "decoding from" not in notes[0] and "a stream with B-frames" in notes[0]
    rest = got[len(waited):]
    assert rest and all(r.image is not None or "a stream with B-frames" in r.reason
                        for r in rest)
    assert FFMPEG_PACKET_TYPE in KINDS
