"""`FirstFrames` (build-map --max-frames) on its own, with stand-in readers: the survivors of
mutation_cpu_2026-12-06f. A one-frame cut, slices of the cut, and the readers `FrameSource`
allows beside TUM's and a bag's: one whose ``frames_or_unreadable`` takes no ``positions``
(the older protocol) and one without it; `sources.frames_or_unreadable` (localize's frames,
build-map's every-frame path) reads the cut frames of each."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.first_frames import FirstFrames, check_max_frames
from mast3r_ros.replay.sources import frames_or_unreadable


class _Frames:
    """A reader of 6 'frames' (their positions 0..5), plain iteration and indexing only."""

    stamps_ns = np.arange(6, dtype=np.int64) * 10

    def __len__(self):
        return 6

    def __iter__(self):
        return iter(range(6))

    def __getitem__(self, i):
        return list(range(6))[i]


class _OlderProtocol(_Frames):
    """``frames_or_unreadable()`` without ``positions``: every frame, read in order."""

    def frames_or_unreadable(self, recorded=()):
        return iter(range(6))


def test_one_frame_is_a_cut():
    assert check_max_frames(1, "--max-frames") == 1
    first = FirstFrames(_Frames(), 1)
    assert len(first) == 1 and list(first) == [0] and list(first.stamps_ns) == [0]
    with pytest.raises(InputError, match="--max-frames must be a whole number >= 1"):
        check_max_frames(0, "--max-frames")


def test_a_slice_of_the_cut_stops_at_its_end():
    first = FirstFrames(_Frames(), 3)
    assert first[1:10] == [1, 2] and first[::-1] == [2, 1, 0] and first[5:] == []
    assert first[-3] == 0 and first[-1] == 2           # counted from the cut's end
    with pytest.raises(IndexError, match="frame -4 out of range for 3 frames"):
        first[-4]


class _Positions(_Frames):
    """``frames_or_unreadable(positions)``, with ``recorded`` or without it."""

    def __init__(self, takes_recorded):
        self.calls = []
        if not takes_recorded:
            self.frames_or_unreadable = lambda positions=None: self._at(positions, None)

    def frames_or_unreadable(self, positions=None, recorded=()):
        return self._at(positions, recorded)

    def _at(self, positions, recorded):
        self.calls.append(recorded)
        return iter(list(positions))


def test_recorded_stamps_reach_a_reader_that_takes_them():
    """A resumed run's recorded frames (``recorded``) are passed on where the reader takes
    them, and not to one that does not (TypeError)."""
    reader = _Positions(True)
    first = FirstFrames(reader, 3)
    assert list(first.frames_or_unreadable([0, 2, 3, 4], recorded={20})) == [0, 2]
    assert list(first.frames_or_unreadable(None)) == [0, 1, 2]
    assert reader.calls == [{20}, ()]
    reader = _Positions(False)
    first = FirstFrames(reader, 3)
    assert list(first.frames_or_unreadable(iter([1, 3, 5]), recorded={20})) == [1]
    assert reader.calls == [None]


@pytest.mark.parametrize("reader", [_OlderProtocol, _Frames])
def test_readers_without_positions_give_the_cut_frames(reader):
    """The older protocol, or no ``frames_or_unreadable`` at all: every frame of the cut,
    every second one with stride 2 (FirstFrames claimed ``positions`` for them: the stride
    was ignored, or the call raised AttributeError)."""
    first = FirstFrames(reader(), 4)
    assert list(frames_or_unreadable(first)) == [0, 1, 2, 3]
    assert list(frames_or_unreadable(first, stride=2)) == [0, 2]
    assert list(frames_or_unreadable(first, max_frames=3)) == [0, 1, 2]


def test_build_map_refuses_a_bad_max_frames_before_the_other_checks(tmp_path, capsys):
    """Before the output folder, --trajectory, the checkpoints and --ray-address are checked
    (one of them may take long: a Ray connection, a retrieval checkpoint's load)."""
    from mast3r_ros.replay.cli import main

    (tmp_path / "map").mkdir()                             # exists, no --overwrite
    rc = main(["build-map", str(tmp_path), "--out", str(tmp_path / "map"), "--matcher", "sift",
               "--trajectory", str(tmp_path / "missing.txt"), "--max-frames", "-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--max-frames must be >= 0 (0: all frames" in err[0]


def test_open_source_refuses_a_bad_max_frames_before_reading_and_says_the_cut(
        monkeypatch, caplog, tmp_path):
    """A bag's indexing pass takes minutes: a bad value is refused before the recording is
    opened (here: before it is found missing); a good one is said at INFO."""
    import logging

    from mast3r_ros.replay import sources

    with pytest.raises(InputError, match=r"^max_frames must be a whole number >= 1"):
        sources.open_source(str(tmp_path / "missing"), sources.SourceOptions(max_frames=0))
    monkeypatch.setattr(sources, "open_reader", lambda *a: _Frames())
    with caplog.at_level(logging.INFO, logger=sources.__name__):
        for n in (4, 9):
            sources.open_source("rec", sources.SourceOptions(max_frames=n, command="build-map"))
    assert [r.getMessage() for r in caplog.records] == [
        "--max-frames 4: the first 4 of the 6 frames are read",
        "--max-frames 9: every frame is read (the recording has 6)"]
