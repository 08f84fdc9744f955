"""The node's per-frame boundary (no rclpy): what is refused before it costs memory or a traceback.

* `image_size_refusal`: an upper bound on the image's pixels, read from the message header (or a
  PNG/JPEG header, `compressed_image_size`) *before* decoding; the network's patch grid (a
  2000x16 strip); the size the CameraInfo gives. Each returns a reason, never raises.
* `ArrivalStats`: images counted as they arrive (not as they are processed), with zero and
  repeated header stamps, so /diagnostics never says "no images" while images arrive.
* `stamp_refusal`: the reason a frame with a zero, negative or repeated stamp is not localized;
  `future_stamp_refusal` and `stale_reason` for a stamp too far ahead of or behind the node clock;
  `clock_refusal` for any frame while the node clock has not started (``use_sim_time`` before
  the first ``/clock``).
* `ErrorThrottle`: an unexpected exception is logged once with its traceback, then one line per
  interval with the count of repeats.
* `TfTimeline`: an image time reset never clears the TF buffer (it holds the odometry of the
  frame being processed); a lookup that fails after time went backwards does, and so does the
  node clock jumping back (as tf2 itself clears on a jump back).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import struct
import threading
from typing import Any, Dict, List, Optional, Tuple

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.message_fields import REDUCED_TWICE_HINT, camera_info_reduction
from mast3r_ros.core.model.preprocess import plan_resize

# --------------------------------------------------------------------------------------------
# Image size


def compressed_image_size(data: Any) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG or baseline/progressive JPEG header, without decoding; None
    when the header is not one of these (the decoder then decides)."""
    buf = bytes(data[:65536]) if not isinstance(data, bytes) else data[:65536]
    if buf[:8] == b"\x89PNG\r\n\x1a\n" and len(buf) >= 24 and buf[12:16] == b"IHDR":
        w, h = struct.unpack(">II", buf[16:24])
        return int(w), int(h)
    if buf[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(buf):
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:                      # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", buf[i + 2:i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(buf):
                return None
            h, w = struct.unpack(">HH", buf[i + 5:i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def message_image_size(msg: Any) -> Optional[Tuple[int, int]]:
    """(width, height) of an Image (header fields) or CompressedImage (PNG/JPEG header); None
    when a compressed payload does not say."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        return compressed_image_size(msg.data)
    return int(msg.width), int(msg.height)


def image_size_refusal(size: Optional[Tuple[int, int]], max_pixels: int,
                       network_size: Optional[int] = None,
                       camera_size: Optional[Tuple[int, int]] = None,
                       camera_info: Any = None) -> str:
    """Why an image of ``size`` (width, height) is refused, or '' to accept it.

    ``max_pixels`` is the parameter ``max_image_pixels``; ``network_size`` (512, 384 or 224)
    checks that the network's resize/crop leaves at least one 16-px patch each way (a 2000x16
    strip does not); ``camera_size`` is the size the CameraInfo ``camera_info`` describes
    (after binning/ROI), whose binning/ROI (`message_fields.camera_info_reduction`) are named
    when the image does not fit (looked at only then: not per frame).
    A ``size`` of None (unknown before decoding) is accepted here and checked again after
    decoding.
    """
    if size is None:
        return ""
    w, h = int(size[0]), int(size[1])
    if w <= 0 or h <= 0:
        return f"image is {w}x{h}: empty"
    if w * h > max_pixels:
        return (f"image is {w}x{h} ({w * h / 1e6:.1f} MP), more than max_image_pixels "
                f"{max_pixels} ({max_pixels / 1e6:.1f} MP): lower the camera resolution or "
                "raise the parameter")
    if camera_size is not None and (w, h) != tuple(int(v) for v in camera_size):
        cw, ch = camera_size
        reduced_by = camera_info_reduction(camera_info) if camera_info is not None else ""
        if reduced_by:  # binning/roi applied twice: the driver reduced size and K itself
            return (f"image is {w}x{h} but its CameraInfo describes {cw}x{ch}: {reduced_by}, "
                    f"{REDUCED_TWICE_HINT}")
        return (f"image is {w}x{h} but its CameraInfo describes {cw}x{ch} (after binning/ROI): "
                "the camera_info topic belongs to another stream or resolution")
    if network_size is not None:
        try:
            plan_resize(w, h, int(network_size))
        except InputError as err:
            return f"{err} (network size {network_size})"
    return ""


# --------------------------------------------------------------------------------------------
# Stamps


class ArrivalStats:
    """Images as they arrive on the subscription (executor thread), before any queue or gate.

    ``received`` counts every image; ``zero_stamps`` those with ``header.stamp`` = 0;
    ``repeated_stamps`` those with the stamp of the image before, a positive one (a negative
    ``stamp_ns``: before 1970, or -1 for a stamp that could not be read or given, is neither).
    Not thread-safe (the node locks). Times are monotonic seconds.
    """

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = float(window_s)
        self.received = 0
        self.zero_stamps = 0
        self.repeated_stamps = 0
        self.last_t_s: Optional[float] = None
        self._last_stamp_ns: Optional[int] = None
        self._times: List[float] = []

    def note(self, t_s: float, stamp_ns: int) -> None:
        self.received += 1
        if stamp_ns == 0:
            self.zero_stamps += 1
        elif stamp_ns > 0 and stamp_ns == self._last_stamp_ns:
            self.repeated_stamps += 1
        self._last_stamp_ns = stamp_ns
        self.last_t_s = t_s
        self._times.append(t_s)
        self._trim(t_s)

    def _trim(self, now_s: float) -> None:
        cut = now_s - self.window_s
        k = 0
        while k < len(self._times) and self._times[k] < cut:
            k += 1
        del self._times[:k]

    def rate_hz(self, now_s: float, since_s: Optional[float] = None) -> float:
        """Arrivals per second over the window (or since ``since_s`` when that is shorter;
        arrivals before ``since_s``, of an earlier activation, are not counted)."""
        self._trim(now_s)
        if not self._times:
            return 0.0
        start = now_s - self.window_s if since_s is None else max(since_s, now_s - self.window_s)
        n = len(self._times) - bisect.bisect_left(self._times, start)
        return n / max(now_s - start, 1e-9)


ZERO_STAMP = "stamp_zero"
NEGATIVE_STAMP = "stamp_negative"
REPEATED_STAMP = "stamp_repeated"
FUTURE_STAMP = "stamp_future"
CLOCK_NOT_STARTED = "clock_not_started"
# an image older than this is stamped on another clock than the node's, not merely late
_OTHER_CLOCK_AGE_S = 86400.0
# nor is one older than this: no transport or processing backlog holds a frame a minute
_FAR_BEHIND_S = 60.0


def stamp_refusal(stamp_ns: int, duplicate: bool) -> Tuple[str, str]:
    """(kind, reason) for a frame whose stamp cannot be used, or ('', '').

    A zero stamp is refused first (the driver does not stamp its images: there is no TF to look
    up at time 0, and every later image would repeat it), then a negative one (before 1970:
    written wrongly; rclpy's ``Time`` cannot even hold it, and taken as the image time it would
    look like time going backwards and reset tracking); ``duplicate`` is the tracker's verdict
    (the stamp equals the previous frame's).
    """
    if stamp_ns == 0:
        return ZERO_STAMP, ("header.stamp is zero: the camera driver does not stamp its images "
                            "(fix the driver, or stamp them with a relay node)")
    if stamp_ns < 0:
        return NEGATIVE_STAMP, (f"header.stamp is negative ({stamp_ns / 1e9:.3f} s, before "
                                "1970): the camera driver stamps its images wrongly (fix the "
                                "driver, or stamp them with a relay node)")
    if duplicate:
        return REPEATED_STAMP, ("header.stamp repeats the previous image's: the camera driver "
                                "reuses stamps (each image needs its capture time)")
    return "", ""


def clock_refusal(now_ns: int) -> Tuple[str, str]:
    """(kind, reason) for a frame that arrives while the node clock reads 0 or less, or ('', '').

    ROS time reads 0 only under ``use_sim_time`` before the first ``/clock`` message (rclpy's
    ROS_TIME clock with a time source that has received nothing); wall time never does. Such a
    frame is refused before it costs inference: the map->odom TF is stamped from the clock (now
    + ``transform_tolerance``, REP-105 / slam_toolbox) and would be dated ~``transform_tolerance``
    seconds after 1970, and the image's age (``max_image_age_s``: stale or future-stamped) cannot
    be checked. The pose itself would carry the image's stamp, but a pose without its TF, from a
    graph whose clock has not started, is of no use to a consumer that runs on ``/clock``.
    """
    if now_ns > 0:
        return "", ""
    return CLOCK_NOT_STARTED, ("waiting for /clock: use_sim_time is true and no /clock message "
                               "has arrived (the node clock reads 0), so the map->odom TF "
                               "cannot be stamped; play the bag with --clock, or start the "
                               "simulator's clock (or set use_sim_time false)")


def future_stamp_refusal(stamp_ns: int, now_ns: int, max_age_s: float) -> Tuple[str, str]:
    """(kind, reason) for an image stamped further ahead of the node clock (``now_ns``) than
    ``max_age_s`` (the parameter ``max_image_age_s``, which bounds how late an image may be:
    no capture can be that far in the future), or ('', ''); also with the gate off (0) or while
    the node clock reads 0 (``use_sim_time`` before ``/clock``). Such a stamp is on another
    clock than ROS time (a camera or computer whose clock is not synchronised); localized, its
    pose would be published stamped in the future, or its TF looked up there in vain."""
    if max_age_s <= 0.0 or now_ns <= 0:
        return "", ""
    ahead_s = (int(stamp_ns) - int(now_ns)) / 1e9
    if ahead_s <= max_age_s:
        return "", ""
    return FUTURE_STAMP, (f"header.stamp is {ahead_s:.2f} s ahead of the node clock (more than "
                          f"max_image_age_s {max_age_s:.2f}): the camera's clock is not the "
                          "node's ROS time (synchronise the clocks with NTP/PTP, or make "
                          f"use_sim_time agree for the camera and the node{_RESTAMP})")


# the remedy a user can apply at the node, when the driver's clock cannot be fixed
_RESTAMP = ("; or set the parameter image_stamp to receive (each image is then stamped when it "
            "arrives: later than the exposure by the transport latency, tens of ms)")
_OTHER_CLOCK_CAUSES = ("the camera's hardware clock: realsense2_camera global_time_enabled false; "
                       "or a computer not synchronised: chrony, PTP; or a bag played while the "
                       "node runs on wall time: play it with --clock and set use_sim_time true")


def _other_clock_clause(off_s: float) -> str:
    """'90.0 s behind the node clock, ...: another clock (causes); fix' for an image stamped
    ``off_s`` seconds behind the node clock (negative: ahead); in seconds below an hour, in
    hours from one (70 s was '0.02 h')."""
    span = f"{abs(off_s) / 3600:.2f} h" if abs(off_s) >= 3600 else f"{abs(off_s):.1f} s"
    return (f"{span} {'behind' if off_s > 0 else 'ahead of'} the node clock, "
            "more than any transport or processing delay, so the camera stamps with another "
            f"clock than the node's ROS time ({_OTHER_CLOCK_CAUSES}); set the driver to stamp "
            f"with ROS time, or synchronise the clocks{_RESTAMP}")


def far_from_clock_note(stamp_ns: int, now_ns: int) -> str:
    """'the image stamp is 3.00 h behind the node clock ...: another clock (causes)' for an
    image stamped more than a minute from the node clock (``now_ns``, > 0), else '': what a
    TF lookup that failed at such a stamp adds (``max_image_age_s`` 0 lets it through to the
    lookup, which then fails for every frame with tf2's extrapolation text alone)."""
    off_s = (int(now_ns) - int(stamp_ns)) / 1e9
    if now_ns <= 0 or abs(off_s) <= _FAR_BEHIND_S:
        return ""
    return f"the image stamp is {_other_clock_clause(off_s)}"


def stale_reason(age_s: float, max_age_s: float) -> str:
    """Why an image ``age_s`` seconds old is not localized with ``max_image_age_s``
    ``max_age_s``; one older than a day is said to be stamped on another clock (a camera's time
    since boot, a clock never set), not merely late; so is one older than a minute (hours
    behind: a computer whose clock is not synchronised), which no transport or processing
    delay explains."""
    reason = f"image is {age_s:.2f} s old (max_image_age_s {max_age_s:.2f})"
    if age_s > _OTHER_CLOCK_AGE_S:
        reason += (": more than a day, so the camera stamps with another clock than the node's "
                   "ROS time (its time since boot?); set the driver to stamp with ROS time, or "
                   f"synchronise the clocks{_RESTAMP}")
    elif age_s > _FAR_BEHIND_S:
        reason += f": its stamp is {_other_clock_clause(age_s)}"
    return reason


# --------------------------------------------------------------------------------------------
# Unexpected exceptions


@dataclasses.dataclass(frozen=True)
class ErrorReport:
    """What to log for one unexpected exception: with its traceback, a one-line summary (with
    ``repeats`` suppressed since the last line), or nothing."""

    traceback: bool
    line: bool
    repeats: int


_DIGITS = re.compile(r"\d+(\.\d+)?")
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b")


def error_key(where: str, err: BaseException) -> str:
    """Identity of an error for throttling: where, the type, the message without numbers.

    Hexadecimal numbers go too: a message naming an object by its default repr
    (``<Frame object at 0x7f3a2c1d5e80>``) differs in every occurrence, and keyed by it each one
    was a new error (a traceback every frame, pushing the other keys out of the table)."""
    text = _DIGITS.sub("#", _HEX.sub("#", str(err)))
    return f"{error_site(where, err)}|{text[:200]}"


def error_site(where: str, err: BaseException) -> str:
    """Where an error was caught and its type: the key of `error_key`s whose messages vary
    by more than numbers (`ErrorThrottle.report`'s ``site``)."""
    return f"{where}|{type(err).__name__}"


#: distinct messages of one error site keyed (and given a traceback) one by one; later new ones
#: are one key of the site: a message quoting a name that changes each frame (letters, not only
#: digits) was a new key, and a traceback, at every frame
SITE_MESSAGES = 4


class ErrorThrottle:
    """Throttle the log of unexpected exceptions per `error_key`.

    The first occurrence of a key is logged with its traceback; later ones give one line at most
    every ``line_interval_s`` (with the number suppressed meanwhile), and a traceback again only
    after ``traceback_interval_s``. Ten identical failing frames in a few seconds thus give one
    traceback and at most one more line. At most ``max_keys`` keys are remembered; the one
    reported least recently is forgotten first, so an error that keeps recurring is not pushed
    out (and its traceback logged again) by a stream of rare ones. Given a ``site``
    (`error_site`), the first ``site_messages`` distinct keys of a site are keys of their own,
    and its later new ones are one key, ``<site>|*`` (a message naming something that changes
    every frame: a traceback for the first few, then one line every ``line_interval_s``).

    Thread-safe: the worker thread (frame errors) and the executor thread (an exception that
    escaped ``spin()``) report to the same throttle; each `report` holds a lock, so a key is
    never new twice (two tracebacks) nor a repeat lost.
    """

    def __init__(self, line_interval_s: float = 10.0, traceback_interval_s: float = 300.0,
                 max_keys: int = 64, site_messages: int = SITE_MESSAGES) -> None:
        self.line_interval_s = float(line_interval_s)
        self.traceback_interval_s = float(traceback_interval_s)
        self.max_keys = int(max_keys)
        self.site_messages = int(site_messages)
        self._state: Dict[str, List[float]] = {}   # key -> [last traceback, last line, repeats]
        self._sites: Dict[str, int] = {}           # site -> its keys so far (at most max_keys)
        self._lock = threading.Lock()

    def report(self, key: str, now_s: float, site: Optional[str] = None) -> ErrorReport:
        """What to log for one occurrence of ``key`` at ``now_s`` (monotonic seconds), of
        ``site`` (`error_site`; None: ``key`` as it is)."""
        with self._lock:
            if site is not None and key not in self._state:
                key = self._site_key(key, site)
            return self._report(key, now_s)

    def _site_key(self, key: str, site: str) -> str:
        """``key``, a new one of ``site``: itself among the site's first ``site_messages``,
        else the site's own key."""
        n = self._sites.pop(site, 0)
        self._sites[site] = n + (n < self.site_messages)  # the most recent site goes last
        while len(self._sites) > self.max_keys:
            self._sites.pop(next(iter(self._sites)))
        return key if n < self.site_messages else f"{site}|*"

    def _report(self, key: str, now_s: float) -> ErrorReport:
        st = self._state.pop(key, None)
        if st is not None:
            self._state[key] = st               # the most recently reported key goes last
        if st is None or now_s - st[0] >= self.traceback_interval_s:
            if st is None and len(self._state) >= self.max_keys:
                self._state.pop(next(iter(self._state)))
            repeats = 0 if st is None else int(st[2])
            self._state[key] = [now_s, now_s, 0]
            return ErrorReport(True, True, repeats)
        if now_s - st[1] >= self.line_interval_s:
            repeats = int(st[2])
            st[1], st[2] = now_s, 0
            return ErrorReport(False, True, repeats)
        st[2] += 1
        return ErrorReport(False, False, int(st[2]))


# --------------------------------------------------------------------------------------------
# TF buffer and time resets


class TfTimeline:
    """When to clear the TF buffer.

    Never on a reset itself (/initialpose, image time going backwards): the buffer already holds
    the odometry of the frame being processed. After time went backwards, a lookup that fails
    means the buffer still holds the old timeline (tf2 refuses data older than its newest by more
    than its cache time, and would interpolate across the two): clear it once then, so the next
    frames find their TF. A successful lookup ends the suspicion, if it began after the
    suspicion was raised (`lookup_started`).

    Thread-safe: the worker thread (`lookup_started`, `after_lookup`, `on_backwards`) and the
    executor thread (`after_clock`, `on_backwards`) share it; each call holds a lock.
    """

    # the node clock falling further than this behind its latest reading jumped back
    CLOCK_JUMP_NS = 1_000_000_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.suspect = False
        self.clears = 0
        self.latest_clock_ns: Optional[int] = None
        self._raised = 0            # suspicions raised so far (`lookup_started`'s token)

    def on_backwards(self) -> None:
        with self._lock:
            self.suspect = True
            self._raised += 1

    def lookup_started(self) -> int:
        """Call before a frame's TF lookup; pass what it returns to `after_lookup`. A
        suspicion raised meanwhile (the executor thread saw the clock jump back while the
        lookup read the old timeline's TF) is then not ended by that lookup's success."""
        with self._lock:
            return self._raised

    def after_clock(self, now_ns: int) -> bool:
        """Call with each node clock reading (integer ns) of the node's timers; True when the
        buffer must be cleared now: the clock jumped back more than 1 s behind its latest
        reading (``ros2 bag play --loop --clock`` with ``use_sim_time``, a simulator reset).

        tf2 clears its buffer then (tf2_ros' C++ Buffer, and Jazzy's Python ``Buffer(node=)``):
        the old timeline's transforms are newer than the new timeline's, which tf2 refuses as
        TF_OLD_DATA beyond its cache time or interpolates across within it. Cleared here, the
        suspicion `on_backwards` raised is over (the buffer holds the new timeline only). A
        reading of 0 or less (``use_sim_time`` before ``/clock``) is no reading.
        """
        now_ns = int(now_ns)
        if now_ns <= 0:
            return False
        with self._lock:
            latest = self.latest_clock_ns
            self.latest_clock_ns = now_ns if latest is None else max(latest, now_ns)
            if latest is None or latest - now_ns <= self.CLOCK_JUMP_NS:
                return False
            self.latest_clock_ns = now_ns
            self.suspect = False
            self.clears += 1
            return True

    def after_lookup(self, ok: bool, started: Optional[int] = None) -> bool:
        """Call after each frame's TF lookup, with `lookup_started`'s token from before it
        (None: any suspicion counts as older); True when the buffer must be cleared now."""
        with self._lock:
            if ok:
                if started is None or started == self._raised:
                    self.suspect = False
                return False
            if self.suspect:
                self.suspect = False
                self.clears += 1
                return True
            return False
