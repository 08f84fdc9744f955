"""The first N frames of a recording as a frame source of their own (build-map --max-frames).

`open_source` wraps whichever reader it opened (TUM, EuRoC/ASL, KITTI folder, rosbag2, video
topic, stereo) in `FirstFrames` when ``SourceOptions.max_frames`` is given, so that everything
reading the source after it is opened -- its length (the manifest's frame counts, the progress
bar, the summary line), its stamps (the poses taken from --trajectory or ground truth, the
stamp-unit check), its frames and keyframe candidates -- sees those N frames and no others.
Nothing past frame N is decoded; a rosbag2 is read no further than frame N needs, its
indexing pass (the headers of its messages, on opening) included: it stops a margin past
frame N once the tf, depth and CameraInfo those frames take are read (`rosbag.index_stop`).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, List, Optional, Union

import numpy as np

from ..core.errors import InputError


def check_max_frames(max_frames: Any, name: str = "max_frames") -> int:
    """``max_frames`` as an int >= 1; `InputError` naming ``name`` (the option, as typed) for
    anything else (0, a negative number, a float, a bool, a string). A CLI option's ``name``
    ('--max-frames', whose 0 reads every frame and never gets here) is refused in localize's
    words, '>= 0 (0: all frames)'; the API's 0 is refused, saying how to read every frame."""
    whole = not isinstance(max_frames, (bool, np.bool_)) and isinstance(
        max_frames, (int, np.integer))
    if whole and max_frames >= 1:
        return int(max_frames)
    if name.startswith("--") and not (whole and max_frames == 0):
        raise InputError(f"{name} must be >= 0 (0: all frames; N: the first N frames of the "
                         f"recording), got {max_frames!r}")
    every = f"; leave {name} out to read every frame" if whole and max_frames == 0 else ""
    raise InputError(f"{name} must be a whole number >= 1 (the first N frames of the "
                     f"recording are read), got {max_frames!r}{every}")


#: the ``max_frames`` record's ``of_frames_from`` where ``of_frames`` is the bag's image count
OF_BAG = "bag_metadata"
#: what qualifies that count wherever it is said (`of_frames_text`, build-map's summary): every
#: run's images, the run read among them not told apart
NOT_BY_RUN = "not told apart by run"


def of_frames_text(of_frames: int, of_bag: bool) -> str:
    """'the 50 frames'; with ``of_bag`` (``of_frames`` is a bag's image count from its
    metadata) 'the ~80 frames in the bag (its count, not told apart by run)'."""
    return (f"the ~{of_frames} frames in the bag (its count, {NOT_BY_RUN})" if of_bag
            else f"the {of_frames} frames")


def _recorded(each: Callable[..., Any], recorded: Collection[int]) -> dict:
    """``recorded`` as the keyword argument of ``each`` when given and ``each`` takes it."""
    return {"recorded": recorded} if recorded and "recorded" in inspect.signature(
        each).parameters else {}


class FirstFrames:
    """The first ``max_frames`` frames of ``source`` (all of them when it has fewer).

    ``len``, ``stamps_ns`` ((n,) int64), iteration, ``frames_or_unreadable`` (where the reader
    has one, with its parameters) and indexing are cut to those frames; every other attribute
    is the reader's (its ground-truth file, intrinsics, depth and pose reasons). ``source``:
    the reader; ``of_frames``: how many frames it holds (its ``frames_in_recording`` where it
    has one: a rosbag2 whose indexing pass stopped past frame N, then the bag's image count,
    ``of_bag`` True). Raises `InputError` for a
    ``max_frames`` that is no whole number >= 1 (`check_max_frames`)."""

    def __init__(self, source: Any, max_frames: int, name: str = "max_frames") -> None:
        self.max_frames = check_max_frames(max_frames, name)
        self.name = name
        self.source = source
        self.of_frames = getattr(source, "frames_in_recording", None) or len(source)
        # a cut bag pass counts the bag's images (metadata), every run's: said as such
        self.of_bag = bool(getattr(source, "frames_counted_in_bag", False))
        self._n = min(self.max_frames, self.of_frames)

    def __getattr__(self, name: str) -> Any:  # only for what is not defined here
        source = self.__dict__.get("source")
        if source is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(source, name)

    def manifest_record(self) -> dict:
        """The map manifest's ``max_frames`` record: the option's value, the ``frames`` read
        and the recording's frame count ``of_frames``; ``of_frames_from`` 'bag_metadata' where
        that count is the bag's image messages as its metadata lists them (a cut indexing
        pass: every run's, unreadable ones included), not the frames of the run read."""
        record = {"max_frames": self.max_frames, "frames": self._n, "of_frames": self.of_frames}
        if self.of_bag:
            record["of_frames_from"] = OF_BAG
        return record

    def of_text(self) -> str:
        """The frames the cut is taken of, in words: 'the 50 frames', or where `of_bag`
        'the ~80 frames in the bag (its count, not told apart by run)'."""
        return of_frames_text(self.of_frames, self.of_bag)

    def cut_note(self) -> str:
        """'' when every frame is read, else what the cut left out, for an error about the
        frames read ('only the first 10 of the 50 frames are read (--max-frames 10)')."""
        if self._n >= self.of_frames:
            return ""
        return f"only the first {self._n} of {self.of_text()} are read ({self.name} " \
               f"{self.max_frames})"

    @property
    def stamps_ns(self) -> np.ndarray:
        """(n,) int64 stamps of the first n frames."""
        return np.asarray(self.source.stamps_ns, dtype=np.int64)[:self._n]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Any]:
        return itertools.islice(iter(self.source), self._n)

    @property
    def frames_or_unreadable(self) -> Callable[..., Iterator[Any]]:
        """The reader's ``frames_or_unreadable`` cut to the first n frames, taking what it
        takes (`sources.frames_or_unreadable` and build-map's candidates read its parameters):
        ``(positions=None, recorded=())`` where the reader takes ``positions`` (TUM, EuRoC,
        KITTI, a rosbag2), else ``(recorded=())``, the first n of every frame (the older
        protocol). AttributeError for a reader without one: the cut is then iterated."""
        each = getattr(self.source, "frames_or_unreadable", None)
        if not callable(each):
            raise AttributeError("frames_or_unreadable")
        return (self._at_positions if "positions" in inspect.signature(each).parameters
                else self._first_of_all)

    def _first_of_all(self, recorded: Collection[int] = ()) -> Iterator[Any]:
        """The first n of a reader's ``frames_or_unreadable()`` without ``positions``."""
        each = self.source.frames_or_unreadable
        kwargs = _recorded(each, recorded)
        return itertools.islice(each(**kwargs), self._n)

    def _at_positions(self, positions: Optional[Iterable[int]] = None,
                      recorded: Collection[int] = ()) -> Iterator[Any]:
        """The reader's ``frames_or_unreadable`` at ``positions`` below n (all n when None;
        an iterator stays one, drawn lazily: build-map's keyframe candidates)."""
        each = self.source.frames_or_unreadable
        kwargs = _recorded(each, recorded)
        n = self._n
        cut: Union[Iterator[int], List[int], range]
        if positions is None:
            cut = range(n)
        elif isinstance(positions, Iterator):
            cut = itertools.takewhile(lambda p: p < n, positions)
        else:
            cut = [p for p in positions if p < n]
        return each(cut, **kwargs)

    def __getitem__(self, index: Union[int, slice]) -> Any:
        """Frame ``index`` of the first n (a slice: a list of them); IndexError past them."""
        if isinstance(index, slice):
            return [self.source[i] for i in range(*index.indices(self._n))]
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool) and not (
                -self._n <= index < self._n):
            raise IndexError(f"frame {index} out of range for {self._n} frames "
                             f"(max_frames {self.max_frames})")
        return self.source[index % self._n if isinstance(index, (int, np.integer)) else index]
