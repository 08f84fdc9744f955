"""`drawn._ChunkWindows` on a stand-in of rosbags' MCAP reader (its ``readers[i].storage
.storages[j].chunks``): which chunks a window hands rosbags, at the window's edges, and the
full list restored after. Left by the mutation audit of 2026-12-08 (the bag tests read through
it but would read the same messages from a list not narrowed)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from mast3r_ros.replay.rosbag.drawn import _ChunkWindows  # noqa: E402


def _reader():
    chunks = [NS(message_start_time=a, message_end_time=a + 9) for a in (0, 10, 20)]
    storage = NS(chunks=chunks)
    return NS(readers=[NS(storage=NS(storages=[storage, NS(chunks=None)]))]), storage, chunks


@pytest.mark.parametrize("start, stop, kept", [(12, 13, [1]), (9, 10, [0]), (9, 11, [0, 1]),
                                               (19, 20, [1]), (20, 21, [2]), (0, 30, [0, 1, 2]),
                                               (100, 101, [0])])
def test_a_window_lists_the_chunks_meeting_it_and_the_whole_list_comes_back(start, stop, kept):
    """[start, stop) meets a chunk whose messages run [first, last] when first < stop and
    last >= start; a window meeting none lists the first chunk (an empty list would make
    rosbags scan the file); the storage without a chunk list is left as it is."""
    reader, storage, chunks = _reader()
    windows = _ChunkWindows(reader)
    with windows.narrowed(start, stop):
        assert storage.chunks == [chunks[i] for i in kept]
        assert reader.readers[0].storage.storages[1].chunks is None
    assert storage.chunks is chunks
