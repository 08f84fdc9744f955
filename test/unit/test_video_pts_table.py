"""`PtsSteps`'s decision for each packet of the pts sequences real FFMPEGPacket streams give:
'ok' (its picture is read) or 'lost A->B' (a packet may be lost between pts A and B: the
pictures from here to the next keyframe are not read). Jitter, a frame rate that drifts or
speeds up, a late stamp, a wrap-around cost no wait for a keyframe; a gap that may be a loss
is told as one before a picture predicted past it is read (a slower frame rate too, until its
gap repeats: one wait). Light: no decoding."""

from __future__ import annotations

import pytest

from mast3r_ros.core.video_decode import PtsSteps

W32 = 1 << 32  # an RTP clock's 32-bit wrap


def _decide(pts):
    steps = PtsSteps()
    out = []
    for p in pts:
        lost = steps.gap(p)
        out.append(f"lost {lost[0]}->{lost[1]}" if lost else "ok")
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
    # a gap over 3/2 steps: a loss at once, the wait for a keyframe starting at its packet
    "90 kHz, one lost": ([0, 3000, 6000, 12000, 15000, 18000],
                         ["ok"] * 3 + ["lost 6000->12000", "ok", "ok"]),
    "90 kHz, three lost": ([0, 3000, 12000, 15000], ["ok", "ok", "lost 3000->12000", "ok"]),
    # 6000 and 12000 lost: the same gap twice, which a halved frame rate gives too; both told
    # (was: the second read as the new rate, and when 9000 was a keyframe the pictures from
    # 15000 on, predicted from the lost 12000, were localized: unflagged, 24 dB PSNR)
    "90 kHz, two lost a packet apart": ([0, 3000, 9000, 15000, 18000, 21000],
                                        ["ok", "ok", "lost 3000->9000", "lost 9000->15000",
                                         "ok", "ok"]),
    # not told: a third gap the same, by then the frame rate (a keyframe among them needed to
    # read a broken picture: three losses in a row, a step apart, one of them next to it)
    "90 kHz, three lost a packet apart": ([0, 3000, 9000, 15000, 21000],
                                          ["ok", "ok", "lost 3000->9000", "lost 9000->15000",
                                           "ok"]),
    # a first gap short (a stamp at start) cannot be told from a step of 1500 and a loss at
    # 3000: a loss, as a slower rate; the gap of 3000 repeated is the step (was, with the
    # picture held: one frame not read, no wait)
    "short first gap": ([0, 1500, 4500, 7500, 10500, 13500, 19500, 22500],
                        ["ok", "ok", "lost 1500->4500", "lost 4500->7500"] + ["ok"] * 2
                        + ["lost 13500->19500", "ok"]),
    # the late stamp early on is no loss; the 2-step gap later a loss at once (was: held, told
    # at the next packet)
    "late stamp while learning": ([0, 3000, 3100, 6100, 9100, 12100, 18100, 21100],
                                  ["ok"] * 6 + ["lost 12100->18100", "ok"]),
    "late stamps": ([0, 3000, 6000, 6100, 9100, 12100, 15100], ["ok"] * 7),
    "late stamp": ([0, 3000, 6000, 9000, 10000, 15000, 18000], ["ok"] * 7),
    # a halved frame rate: told as a loss (one wait for a keyframe, the second gap told within
    # it), the step 6000 from its repeat on (was, with the picture held: no wait, and the double
    # loss above missed)
    "half rate": ([0, 3000, 6000, 12000, 18000, 24000, 30000],
                  ["ok"] * 3 + ["lost 6000->12000", "lost 12000->18000", "ok", "ok"]),
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

