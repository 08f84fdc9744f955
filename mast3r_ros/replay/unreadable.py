"""Frames a recording lists but its reader could not read (`UnreadableFrame`: an image file
missing, truncated or corrupt, an undecodable or undeserializable message, a depth image that
cannot be decoded or is of another size), as ``localize`` and ``build-map`` both take them.

One rule for both commands: such a frame is skipped with a warning (one line each for the
first `UNREADABLE_WARN_EACH`, then every `UNREADABLE_WARN_EVERY`-th, which says so) and the
next frame is read; a recording whose first `ALL_UNREADABLE_STOP` frames (or all of fewer) are
unreadable is broken rather than one frame, and is refused with the first frame's error
(`hold_unreadable`). What a skipped frame becomes is the command's: a failed frame in
``localize``'s results, a frame no keyframe is taken from in ``build-map``'s map.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import List, Tuple, TypeVar

from ..core.errors import InputError
from ..core.types import UnreadableFrame

log = logging.getLogger(__name__)

# the recording is refused when this many frames in a row from its first are unreadable
ALL_UNREADABLE_STOP = 10
# unreadable frames warned about one line each; after these, every UNREADABLE_WARN_EVERY-th
UNREADABLE_WARN_EACH = 10
UNREADABLE_WARN_EVERY = 100

F = TypeVar("F")


def hold_unreadable(frames: Iterable[F], exempt: Callable[[UnreadableFrame], bool] = (
        lambda f: False)) -> Iterator[Tuple[F, int]]:
    """``frames`` as (frame, n), in order: ``n`` the 1-based count of an `UnreadableFrame`
    among them (one ``exempt`` is true of is taken as read: a resumed run's recorded frame),
    0 for every other frame. The unreadable frames before the first frame read are held back
    and yielded just before it, so that a caller stopped by the refusal has written nothing
    for them. Raises `InputError` (the first unreadable frame's reason, and that the recording
    is broken) when the first `ALL_UNREADABLE_STOP` frames are unreadable, as soon as the last
    of them is read, or when every frame is (fewer of them), at the end."""
    n = 0
    held: List[Tuple[F, int]] = []  # unreadable before any frame was read
    read_one = False
    for f in frames:
        if isinstance(f, UnreadableFrame) and not exempt(f):
            n += 1
            if read_one:
                yield f, n
                continue
            held.append((f, n))
            if len(held) >= ALL_UNREADABLE_STOP:
                raise InputError(_all_unreadable([h for h, _ in held], "the first"))
            continue
        if not read_one:
            read_one = True
            yield from held
            held.clear()
        yield f, 0
    if held:
        raise InputError(_all_unreadable([h for h, _ in held], "all"))


def _all_unreadable(held: List[UnreadableFrame], which: str) -> str:
    """The refusal of a recording whose ``held`` frames (its first) are all unreadable: broken,
    unless every one is a colour image of one size other than its intrinsics' (a calibration
    of another image size, e.g. images resized after calibrating: the scale is said)."""
    first, n = held[0], len(held)
    what = "the only frame is" if n == 1 else f"{which} {n} frames are"
    size, calib = first.image_size, first.intrinsics_size
    if not (size and calib and all(f.image_size == size and f.intrinsics_size == calib
                                   for f in held)):
        return f"{first.reason} ({what} unreadable: a broken recording, not one bad frame)"
    (w, h), (cw, ch) = size, calib
    scale = ""
    if w * ch == h * cw:  # the same aspect ratio: resized as a whole
        s = w / cw
        scale = (f", or, were they resized by {s:g} after calibrating, the same one with fx, "
                 f"fy, cx, cy scaled by {s:g}")
    elif (w, h) == (ch, cw):  # width and height swapped: a camera mounted a quarter turn
        scale = (", or, were they turned a quarter turn (a camera mounted on its side): the "
                 f"calibration turned with them, for {w}x{h}, its fx and fy swapped and cx, cy "
                 "moved with the turn")
    return (f"{first.reason} ({what} {w}x{h}: the images read fine, the calibration is for "
            f"another image size; give the calibration of these images{scale})")


def warn_unreadable(f: UnreadableFrame, n: int, becomes: str) -> None:
    """The warning for the ``n``-th unreadable frame ``f`` (1-based), logged for each of the
    first `UNREADABLE_WARN_EACH` and every `UNREADABLE_WARN_EVERY`-th after: 'frame at t=T s
    skipped (<becomes>): <its reason>', the tenth saying that only every hundredth follows.
    ``becomes``: what the command makes of it ('a failed frame')."""
    if n <= UNREADABLE_WARN_EACH or n % UNREADABLE_WARN_EVERY == 0:
        more = ("" if n < UNREADABLE_WARN_EACH else f" ({n} unreadable frames so far" + (
            f"; from here on every {UNREADABLE_WARN_EVERY}th is logged)"
            if n == UNREADABLE_WARN_EACH else ")"))
        log.warning("frame at t=%.6f s skipped (%s): %s%s", f.stamp_ns * 1e-9, becomes,
                    f.reason, more)
