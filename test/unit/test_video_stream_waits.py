"""A live video stream's waits for a keyframe (`core.video_stream.LiveVideo`): a B-frame
stream joined mid-GOP says it joined and, at its keyframe, that B-frames are not read. The
stand-in messages of test_video_stream."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_video_stream import KINDS, _b_frame_packets, message  # noqa: E402

from mast3r_ros.core.video_decode import FFMPEG_PACKET_TYPE  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402

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
