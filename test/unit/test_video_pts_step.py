"""An FFMPEGPacket stream's ``pts`` step learnt from its packets (`core.video_decode.PtsSteps`):
a publisher whose pts steps by more than 1 a packet (a 90 kHz timebase: 3000 a packet at 30
fps) loses nothing by it, a gap of more than a step is a lost packet, and a change of step
(the frame rate changed) is taken up after one wait, not read as a loss every packet. The
node's `LiveVideo` and the bag reader's `VideoDecoder`; the stand-in messages of
test_video_stream."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_rosbag_video import N  # noqa: E402
from test_video_stream import message  # noqa: E402

from mast3r_ros.core.video_decode import FFMPEG_PACKET_TYPE, VideoDecoder, VideoPacket  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402

# 90 kHz at 30 fps, with the jitter of pts from capture times
PTS_90K = [3000 * k + (11 if k % 3 == 2 else 0) for k in range(N)]


def _live(ks, pts):
    stream = LiveVideo("/cam/image/ffmpeg", FFMPEG_PACKET_TYPE)
    return [stream.receive(message(FFMPEG_PACKET_TYPE, k, pts=p)) for k, p in zip(ks, pts)]


def _bag(ks, pts):
    decoder = VideoDecoder("/cam/image/ffmpeg")
    return [decoder.feed(VideoPacket(message(FFMPEG_PACKET_TYPE, k, pts=p), FFMPEG_PACKET_TYPE),
                         i) for i, (k, p) in enumerate(zip(ks, pts))]


def test_a_90_khz_pts_is_no_loss_live_or_in_a_bag():
    """Was: every packet after the first stepped its pts by more than 1, so the node restarted
    its decoder on each ('after a lost packet') and decoded none after the first, and the bag
    reader made every frame after the first keyframe unreadable."""
    got = _live(range(N), PTS_90K)
    assert [r.reason for r in got] == [""] * N and not any(r.note for r in got)
    assert all(r.image is not None for r in got)
    assert all(p.picture is not None for p in _bag(range(N), PTS_90K))


def test_a_gap_of_more_than_the_learnt_step_is_a_lost_packet():
    """Told at the packet after the gap (3): the wait for the keyframe (5) starts there (the
    gap may be a slower frame rate: test_a_change_of_step...)."""
    ks = [0, 1, 3, 4, 5, 6]  # 2 lost
    got = _live(ks, [PTS_90K[k] for k in ks])
    assert [r.image is not None for r in got] == [True, True, False, False, True, True]
    assert "after a lost packet (FFMPEGPacket pts 3000 -> 9000)" in got[2].reason
    assert "steps by 3000" in got[2].reason
    frames = _bag(ks, [PTS_90K[k] for k in ks])
    assert [p.picture is not None for p in frames] == [True, True, False, False, True, True]
    assert "FFMPEGPacket pts 3000 -> 9000" in frames[2].error


def test_a_change_of_step_waits_once_then_decodes_at_the_new_step():
    """The frame rate halves after packet 2 (pts steps 3000, then 6000): one wait for the
    keyframe at 5 (a longer step cannot be told from a loss until it repeats; 4's gap, the
    same, is told within the wait: no second warning), then every packet decodes."""
    pts = [3000 * k if k < 3 else 6000 * k - 6000 for k in range(N)]
    got = _live(range(N), pts)
    assert [r.image is not None for r in got] == [True] * 3 + [False] * 2 + [True] * (N - 5)
    assert [i for i, r in enumerate(got) if r.note] == [3, 5]  # the wait's start and end
    assert "after a lost packet" in got[3].note and "2 packets" in got[5].note
    frames = _bag(range(N), pts)
    assert [p.picture is not None for p in frames] == [True] * 3 + [False] * 2 + [True] * (N - 5)


@pytest.mark.parametrize("clock", [lambda k: k, lambda k: PTS_90K[k]],
                         ids=["frame count", "90 kHz"])
def test_two_losses_a_keyframe_apart_are_two_losses(clock):
    """4 lost, then 6 (after the keyframe 5): the pictures 7-9, predicted from the missing 6
    (FFmpeg does not flag them), wait for the keyframe at 10. Was: the second gap, the same as
    the first, taken for a new step (ffmpeg_image_transport's frame count: 2; 90 kHz: 6000, a
    halved frame rate), so 7-9 were read as frames."""
    ks = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11]
    pts = [clock(k) for k in ks]
    got = _live(ks, pts)
    assert [r.image is not None for r in got] == [True] * 5 + [False] * 3 + [True] * 2
    assert f"after a lost packet (FFMPEGPacket pts {pts[4]} -> {pts[5]})" in got[5].reason
    frames = _bag(ks, pts)
    assert [p.picture is not None for p in frames] == [True] * 5 + [False] * 3 + [True] * 2
