"""An FFMPEGPacket stream's ``pts`` step, learnt from its packets, to tell a lost packet
(`PtsSteps`), ROS- and PyAV-free; used by `video_decode.VideoDecoder` (the bag reader) and
`video_stream.LiveVideo` (the node).

What each verdict costs: a loss told makes every picture from there to the next keyframe
unreadable (the node waits for it: up to a GOP of frames, two warnings; a loss told while
already waiting costs nothing more); a loss not told lets FFmpeg decode those pictures from an
older one without flagging them, read as frames. So a gap that may be a loss is told as one:
a gap of more than 3/2 steps cannot be told from a slower frame rate by its pts, and is a loss
until it repeats.
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

    * step 1 (a frame count, which never changes step): a gap of more than 1 is a loss;
    * a gap of more than 3/2 steps in a timebase (but for one making up for a short gap
      before it: the two within 5/2 steps) is a loss, told at once; the same gap again (within
      a quarter) right after it becomes the step (a slower frame rate: no loss from the next
      on), and is told as a loss too: two packets lost in a row a step apart give the same
      two gaps, and when the first gap's packet was a keyframe (decoding resumed there) the
      pictures after the second are predicted from a lost one (while the wait for a keyframe
      the first started goes on, telling it costs nothing);
    * a pts standing still or going back (a publisher leaving it 0, B-frames' presentation
      order, an encoder restarted, a 32-bit RTP clock wrapping) is no loss (a loss at that
      very packet is not told)."""

    def __init__(self) -> None:
        self.step: Optional[int] = None
        self._last: Optional[int] = None
        self._short: Optional[int] = None  # a gap shorter than 2/3 step, the step if repeated
        self._long: Optional[int] = None  # the last gap, when a loss: the step if repeated

    @staticmethod
    def _near(a: int, b: int) -> bool:
        return 4 * abs(a - b) <= b

    def gap(self, pts: int) -> Optional[Tuple[int, int, int]]:
        """(pts before, ``pts``, step before) when a packet may have been lost between them;
        None when none."""
        last, self._last = self._last, pts
        long, self._long = self._long, None
        if last is None or pts <= last:
            self._short = None
            return None
        delta, step = pts - last, self.step
        if step is None:
            self.step = delta
            return None
        if step == 1:  # a frame count
            return (last, pts, 1) if delta > 1 else None
        if 3 * delta <= 2 * step:  # shorter: a late stamp, or faster if repeated
            if self._short is not None and self._near(delta, self._short):
                self.step, self._short = delta, None
            else:
                self._short = delta
            return None
        short, self._short = self._short, None
        if 2 * delta < 3 * step:
            self.step = (3 * step + delta + 2) // 4  # jitter, a frame rate drifting
            return None
        if short is not None and 2 * (short + delta) < 5 * step:
            return None  # a stamp early by up to a step: the gap after it as much longer
        if long is not None and self._near(delta, long):
            self.step = delta  # repeated: a slower frame rate from here on (still told)
        else:
            self._long = delta
        return (last, pts, step)
