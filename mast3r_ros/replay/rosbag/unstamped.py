"""The warning for images a bag stamps 0 or repeats (`warn_unstamped`), worded for the command
that reads them; moved out of `runs`."""

from __future__ import annotations

import logging
from typing import Collection, List, Optional

import numpy as np

from ...core.image_stamp import RECEIVE_COST

log = logging.getLogger(__name__)

# what mostly unstamped images spoil, in the words of the command reading them: build-map looks
# each image's pose up at its stamp (--trajectory, tf) and writes no trajectory
_UNSTAMPED_SO = {
    "build-map": "the poses looked up at their stamps (--trajectory, tf) are not the images' "
                 "own, and the map's keyframe poses with them (wrong, or none)",
    "localize": "trajectory.tum's stamps are not the images' times and no ground truth can be "
                "matched to them"}


def warn_unstamped(label: str, stamps: List[int], command: Optional[str],
                   restamp: Optional[str] = None, shared: Collection[int] = ()) -> None:
    """One warning when images carry header stamp 0 or repeat the previous one. When at
    least half do, the driver's doing, each kind its own cause (stamp 0: it does not stamp
    its images; repeats: it, or a republisher, reuses stamps): the node refuses such frames
    (and says so); offline they are read (localize localizes them, build-map may keep them as
    keyframes), but their stamps mean nothing: what that spoils is said for ``command``
    (build-map: the poses looked up at them, so the map's keyframe poses; localize:
    trajectory.tum's stamps and the ground truth association). Fewer are
    odd messages, named by their place and stamp (a message republished or recorded twice: 1 of
    21 was blamed on the driver), and what ``command`` ("build-map", "localize", None) does
    with each said. A first image alone at 0, the rest rising from it (a dataset whose clock
    starts at t=0, `_clock_starts_at_zero`), is no odd message: one INFO line. ``restamp``:
    how the caller names the image_stamp option (``--image-stamp``), offered with its cost as
    the remedy for the driver's stamps (None: the images are read at receive times already).
    ``shared``: the stamps two different images share (`shared_stamps.bag_shared_stamps`, said
    in its own warning, with what is done and the fix): an image repeating one of them is not
    counted here (it was said twice, once as a repeat)."""
    zero, repeated = _odd_stamps(stamps, shared)
    if not zero and not repeated:
        return
    if not repeated and _clock_starts_at_zero(stamps):
        log.info("%s: the first image is stamped t=0 and the rest follow it on one clock "
                 "(a recording whose clock starts at 0): read as stamped%s, though the "
                 "node would refuse a frame stamped 0", label,
                 {"build-map": " (a keyframe candidate)",
                  "localize": " and localized"}.get(command, ""))
        return
    parts = []
    if zero:
        parts.append(f"{len(zero)} of {len(stamps)} images have header stamp 0")
    if repeated:
        parts.append(f"{len(repeated)} of {len(stamps)} repeat the previous image's stamp")
    what = " and ".join(parts)
    if 2 * (len(zero) + len(repeated)) >= len(stamps):
        # zeros: no stamp at all; repeats: a stamp reused (driver or republisher), two causes
        cause = " and ".join(c for c, n in (
            ("the camera driver does not stamp its images", zero),
            ("the camera driver (or a node republishing its images) reuses earlier "
             "stamps instead of each image's capture time", repeated)) if n)
        log.warning("%s: %s: %s, so %s (the node refuses such frames); fix the header.stamp "
                    "where the images are published%s", label, what, cause, _UNSTAMPED_SO.get(
                        command, "their stamps are not the images' times: no pose or ground "
                        "truth can be matched to them"),
                    f", or read this bag with {restamp} receive ({RECEIVE_COST})"
                    if restamp else "")
        return
    done = {"build-map": "read as a frame of its own at that stamp (a keyframe "
                         "candidate, posed at that stamp)",
            "localize": "localized as a frame of its own at that stamp"
            }.get(command, "read as a frame of its own at that stamp")
    log.warning("%s: %s (%s): the other images are stamped, so not the driver but odd "
                "messages (republished or recorded twice, or unstamped by a relay); each "
                "is %s, which the node would refuse", label, what,
                _first_named(stamps, zero + repeated), done)


def _odd_stamps(stamps: List[int], shared: Collection[int] = ()) -> tuple:
    """(indices of the images at time 0, indices of those repeating the previous image's
    nonzero time, but at none of the ``shared`` stamps) of ``stamps``: the odd images both
    warnings count."""
    zero = [i for i, s in enumerate(stamps) if s == 0]
    repeated = [i + 1 for i, (a, b) in enumerate(zip(stamps, stamps[1:]))
                if b == a != 0 and b not in shared]
    return zero, repeated


def _first_named(stamps: List[int], odd: List[int]) -> str:
    """The first five images of ``odd`` (indices) by place and time, 'image 3 at t=0.000000 s,
    ... and 4 more'."""
    odd = sorted(odd)
    return ", ".join(f"image {i + 1} at t={stamps[i] * 1e-9:.6f} s" for i in odd[:5]) + (
        f" and {len(odd) - 5} more" if len(odd) > 5 else "")


def _clock_starts_at_zero(stamps: List[int]) -> bool:
    """Whether only the first of ``stamps`` (ns) is 0 and the rest rise from it as a clock
    starting at 0 would (a dataset stamped from t=0): every later stamp increasing, the first
    step no longer than 3 times the median step after it (an unstamped first image before
    epoch stamps is a jump of decades)."""
    if len(stamps) < 3 or stamps[0] != 0:
        return False
    steps = np.diff(np.asarray(stamps, np.int64))
    return bool((steps > 0).all() and steps[0] <= 3 * np.median(steps[1:]))


def warn_unreceived(label: str, stamps: List[int], command: Optional[str],
                    name: str = "image_stamp", shared: Collection[int] = ()) -> None:
    """`warn_unstamped` for images read at the bag's receive times (``name`` receive: how the
    caller names the option): receive times of 0 or repeating the previous image's are the
    bag's doing (converted or rewritten without the times its recorder gave), not the
    driver's, and the remedy is the images' header stamps (``name`` header). One warning;
    none for receive times that start at 0 and rise (a bag
    whose times were rebased to 0). Fewer than half are named, the first five. ``shared``: as
    `warn_unstamped`'s."""
    zero, repeated = _odd_stamps(stamps, shared)
    if (not zero and not repeated) or (not repeated and _clock_starts_at_zero(stamps)):
        return
    parts = [f"{len(odd)} of {len(stamps)} images {what}" for odd, what in (
        (zero, "have receive time 0"), (repeated, "repeat the previous image's receive time"))
        if odd]
    odd = sorted(zero + repeated)
    most = 2 * len(odd) >= len(stamps)
    named = "" if most else f" ({_first_named(stamps, odd)})"
    so = (_UNSTAMPED_SO.get(command, "their times are not when they arrived: no pose or "
                                     "ground truth can be matched to them")
          if most else "each is read at that time")
    log.warning("%s: %s%s while the images are read at the bag's receive times (%s "
                "receive): the bag does not hold when these images arrived (a bag converted "
                "or rewritten without its recorder's times), so %s; read the images' header "
                "stamps instead (%s header)", label, " and ".join(parts), named, name, so, name)
