"""An FFMPEGPacket stream's ``pts`` step, learnt from its packets, to tell a lost packet
(`PtsSteps`), ROS- and PyAV-free; used by `video_decode.VideoDecoder` (the bag reader) and
`video_stream.LiveVideo` (the node).

What each verdict costs: a loss told makes every picture from there to the next keyframe
unreadable (the node waits for it: up to a GOP of frames, two warnings); a loss not told lets
FFmpeg decode those pictures from an older one without flagging them, read as frames; a
gap held costs that one picture. So a gap that is a loss or a new frame rate, which one pts
cannot tell apart, is held and told by the next pts.
"""

from __future__ import annotations

from typing import Optional, Tuple


class PtsSteps:
    """An FFMPEGPacket stream's ``pts`` step, learnt from its packets: ffmpeg_image_transport's
    encoder counts frames (1 a packet), a publisher stamping pts in a timebase steps by its
    ticks a frame (3000 at 30 fps in 90 kHz, with jitter, and more or less as the frame rate
    varies). ``step``: the first gap, then each gap within 2/3..3/2 of it moves it a quarter
    of the way (a frame rate that drifts), a shorter one that the next repeats (within a
    quarter) becomes it (faster). `gap` tells each pts:

    * step 1 (a frame count, which never changes step): a gap of more than 1 is a loss, told
      at once;
    * a gap of more than 3/2 steps in a timebase (but for one making up for a short gap
      before it: the two within 5/2 steps) is a loss or a slower frame rate: the packet
      is ``held`` (its picture is not to be read) and the next gap tells which: the same gap
      again (within a quarter) is the new step, another is a loss, told then (unless
      `healed`: the held picture was a keyframe);
    * a pts standing still or going back (a publisher leaving it 0, B-frames' presentation
      order, an encoder restarted, a 32-bit RTP clock wrapping) is no loss (a loss at that
      very packet is not told)."""

    def __init__(self) -> None:
        self.step: Optional[int] = None
        # (pts before, pts, step) of the last pts's gap when it is a loss or a new step, told
        # by the next pts: its picture is not to be read; None otherwise
        self.held: Optional[Tuple[int, int, int]] = None
        self._last: Optional[int] = None
        self._short: Optional[int] = None  # a gap shorter than 2/3 step, the step if repeated
        self._pending: Optional[Tuple[int, int, int, int]] = None  # the held gap (last, pts,
        self._healed = False  # step, gap); whether a keyframe came since it

    @staticmethod
    def _near(a: int, b: int) -> bool:
        return 4 * abs(a - b) <= b

    def healed(self) -> None:
        """The held packet's picture is a keyframe: the gap before it broke nothing."""
        self._healed = True

    def gap(self, pts: int) -> Optional[Tuple[int, int, int]]:
        """(pts before, pts after, step) of a gap a packet was lost in, told at this ``pts``
        (its own gap at step 1, the held gap before it otherwise); None when none. Sets
        ``held`` when this pts's gap is told by the next one."""
        last, self._last = self._last, pts
        pending, self._pending, self.held = self._pending, None, None
        healed, self._healed = self._healed, False
        if last is None or pts <= last:
            self._short = None
            return None
        delta, step = pts - last, self.step
        if step is None:
            self.step = delta
            return None
        lost: Optional[Tuple[int, int, int]] = None
        if pending is not None:
            if self._near(delta, pending[3]):
                self.step = delta  # the held gap again: the frame rate changed
                return None
            lost = None if healed else pending[:3]
        if step == 1:  # a frame count
            return lost or ((last, pts, 1) if delta > 1 else None)
        if 3 * delta <= 2 * step:  # shorter: a late stamp, or faster if repeated
            if self._short is not None and self._near(delta, self._short):
                self.step, self._short = delta, None
            else:
                self._short = delta
            return lost
        short, self._short = self._short, None
        if 2 * delta < 3 * step:
            self.step = (3 * step + delta + 2) // 4  # jitter, a frame rate drifting
        elif short is not None and 2 * (short + delta) < 5 * step:
            pass  # a stamp early by up to a step: the gap after it as much longer
        else:  # a loss or a slower frame rate: told by the next gap
            self._pending, self.held = (last, pts, step, delta), (last, pts, step)
        return lost
