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

from mast3r_ros.core.video_decode import (FFMPEG_PACKET_TYPE, PtsSteps, VideoDecoder,  # noqa: E402
                                          VideoPacket)
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
    keyframe at 5 (the first longer step cannot be told from a loss), then every packet
    decodes; was, every packet after it a loss: none decoded again."""
    pts = [3000 * k if k < 3 else 6000 * k - 6000 for k in range(N)]
    got = _live(range(N), pts)
    assert [r.image is not None for r in got] == [True] * 3 + [False] * 2 + [True] * (N - 5)
    assert [i for i, r in enumerate(got) if r.note] == [3, 5]  # the wait's start and end
    assert "after a lost packet" in got[3].note and "2 packets" in got[5].note
    frames = _bag(range(N), pts)
    assert [p.picture is not None for p in frames] == [True] * 3 + [False] * 2 + [True] * (N - 5)


def test_the_step_is_the_smallest_of_the_first_packets_and_a_repeated_step_is_taken_up():
    steps = PtsSteps()
    assert steps.gap(0) is None and steps.gap(6) is None  # a loss in the first step: not told
    assert steps.gap(9) is None and steps.step == 3
    assert steps.gap(15) == (9, 15, 3)                     # a gap of 2 steps
    assert steps.gap(18) is None
    assert steps.gap(18) is None and steps.gap(0) is None  # still, or restarted: no loss
    assert steps.gap(3) is None and steps.gap(6) is None
    assert steps.gap(16) == (6, 16, 3) and steps.gap(26) is None and steps.step == 10
    assert steps.gap(30) is None and steps.gap(34) is None and steps.step == 4  # faster
    ffmpeg_image_transport = PtsSteps()
    assert [ffmpeg_image_transport.gap(p) for p in (0, 1, 2, 4, 5)] == [None] * 3 + [
        (2, 4, 1), None]


def test_one_short_gap_while_learning_is_no_step():
    """Was: the step was the smallest of the first 4 gaps, so one short gap early (a late
    stamp, a first frame stamped at start) made every later normal packet a loss (live: the
    decoder restarted, up to a GOP skipped)."""
    late_stamp = PtsSteps()
    assert [late_stamp.gap(p) for p in (0, 3000, 6000, 6100, 9100, 12100, 15100)] == [None] * 7
    assert late_stamp.step == 3000 and late_stamp.gap(21100) == (15100, 21100, 3000)
    short_first = PtsSteps()
    # 1500 -> 4500 cannot be told from a loss (test_a_gap_of_more_than_the_learnt_step...)
    assert [short_first.gap(p) for p in (0, 1500, 4500, 7500, 10500, 13500)] == [
        None, None, (1500, 4500, 1500), None, None, None]
    assert short_first.step == 3000 and short_first.gap(19500) == (13500, 19500, 3000)


def test_two_losses_in_a_row_then_the_old_step_again_are_no_change_of_step():
    """ffmpeg_image_transport's frame count (step 1): two losses in a row (pts 2 -> 4 -> 6)
    read as a new step of 2; was, 7 -> 9 then not told. The old step coming back soon after
    a change undoes it (the second long gap is not told: it cannot be told from a change)."""
    steps = PtsSteps()
    assert [steps.gap(p) for p in (0, 1, 2, 4, 6, 7)] == [None] * 3 + [(2, 4, 1)] + [None] * 2
    assert steps.step == 1 and steps.gap(9) == (7, 9, 1) and steps.gap(10) is None
