"""`PtsSteps`'s decision for each packet of the pts sequences real FFMPEGPacket streams give:
'ok' (its picture is read), 'held' (a gap of a lost packet or a new frame rate: its picture is
not read, the next pts tells which) or 'lost A->B' (a packet lost between pts A and B: the
pictures from here to the next keyframe are not read). A frame rate that changes, jitter, a
late stamp, a wrap-around cost no wait for a keyframe; a loss is told before a picture
predicted past it is read. Light: no decoding."""

from __future__ import annotations

import pytest

from mast3r_ros.core.video_decode import PtsSteps

W32 = 1 << 32  # an RTP clock's 32-bit wrap


def _decide(pts):
    steps = PtsSteps()
    out = []
    for p in pts:
        lost = steps.gap(p)
        said = f"lost {lost[0]}->{lost[1]}" if lost else ""
        if getattr(steps, "held", False):
            said = (said + " held").strip()
        out.append(said or "ok")
    return out


ROWS = {
    # ffmpeg_image_transport's frame count (1 a packet): any skip is a loss, told at once
    "count": ([0, 1, 2, 3, 4], ["ok"] * 5),
    "count, one lost": ([0, 1, 2, 4, 5], ["ok"] * 3 + ["lost 2->4", "ok"]),
    # was: 4 -> 6 taken for a new step of 2, the pictures after 6 read from a broken reference
    "count, two lost a packet apart": ([0, 1, 2, 4, 6, 7],
                                       ["ok"] * 3 + ["lost 2->4", "lost 4->6", "ok"]),
    # the first gap long (a packet lost there cannot be told), then the count found
    "count, first gap long": ([0, 2, 3, 4, 6], ["ok"] * 4 + ["lost 4->6"]),
    # a 90 kHz clock at 30 fps: 3000 a frame, jitter of a tick or more
    "90 kHz jitter": ([0, 2999, 6001, 9000, 11999, 15011], ["ok"] * 6),
    "90 kHz, one lost": ([0, 3000, 6000, 12000, 15000, 18000],
                         ["ok"] * 3 + ["held", "lost 6000->12000", "ok"]),
    "90 kHz, three lost": ([0, 3000, 12000, 15000], ["ok", "ok", "held", "lost 3000->12000"]),
    # was: one loss each (a wait for the next keyframe)
    "short first gap": ([0, 1500, 4500, 7500, 10500, 13500, 19500, 22500],
                        ["ok", "ok", "held"] + ["ok"] * 3 + ["held", "lost 13500->19500"]),
    "late stamp while learning": ([0, 3000, 3100, 6100, 9100, 12100, 18100, 21100],
                                  ["ok"] * 6 + ["held", "lost 12100->18100"]),
    "late stamps": ([0, 3000, 6000, 6100, 9100, 12100, 15100], ["ok"] * 7),
    "late stamp": ([0, 3000, 6000, 9000, 10000, 15000, 18000], ["ok"] * 7),
    "half rate": ([0, 3000, 6000, 12000, 18000, 24000], ["ok"] * 3 + ["held", "ok", "ok"]),
    "back to full rate": ([0, 6000, 12000, 15000, 18000, 21000], ["ok"] * 6),
    # variable frame rate (auto exposure slowing the camera): 33 ms -> 53 ms a frame
    "slowing down": ([0, 3000, 6300, 9900, 13800, 18000, 22500, 27300, 32400],
                     ["ok"] * 9),
    "variable": ([0, 3000, 7000, 10000, 14200, 17200, 21000, 24100], ["ok"] * 8),
    # a clock wrapping, a publisher leaving pts at 0, an encoder restarted: no loss
    "RTP wrap-around": ([W32 - 6000, W32 - 3000, 0, 3000, 6000], ["ok"] * 5),
    "standing still": ([0, 0, 0, 0], ["ok"] * 4),
    "restarted": ([0, 3000, 6000, 0, 3000, 6000], ["ok"] * 6),
}


@pytest.mark.parametrize("pts, expected", ROWS.values(), ids=ROWS.keys())
def test_each_packet_s_decision(pts, expected):
    assert _decide(pts) == expected


def test_a_keyframe_after_the_held_gap_heals_it():
    """The held packet's picture is a keyframe (the caller says so): the gap before it, a
    loss or not, breaks nothing, and the next pts tells no loss."""
    steps = PtsSteps()
    for p in (0, 3000, 6000, 12000):
        steps.gap(p)
    steps.healed()
    assert steps.gap(15000) is None and steps.gap(18000) is None and steps.step == 3000
