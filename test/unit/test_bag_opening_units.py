"""`rosbag.opening`'s helpers called on a stand-in reader: the damaged-storage refusal counts
the messages read before it, rosbags' iterator is closed when the caller stops early, and the
ROS 1 reindex hint for each way rosbags says a bag was cut short."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as NS

import pytest
from rosbags.rosbag2 import ReaderError

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.rosbag.opening import _open_hint, bag_messages, numbered_messages


class Reader:
    """rosbags' AnyReader as `bag_messages` uses it: ``messages`` gives an iterator it keeps
    (its storage cursor), ending in ``fail`` after ``items``."""

    def __init__(self, items, fail=None, paths=("/bags/run1",)):
        self.items, self.fail, self.paths, self.closed = list(items), fail, list(paths), False

    def messages(self, **kwargs):
        self.kwargs = kwargs
        self.cursor = self._cursor()
        return self.cursor

    def _cursor(self):
        try:
            yield from self.items
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed = True


def test_a_storage_file_damaged_mid_read_names_how_many_messages_were_read():
    reader = Reader([("c", 1, b"a"), ("c", 2, b"b"), ("c", 3, b"c")],
                    ReaderError("Chunk checksum mismatch"))
    got = []
    with pytest.raises(InputError, match=r"cannot read rosbag2 /bags/run1 after 3 messages of "
                                         r"those asked for: a storage file is damaged "
                                         r"\(ReaderError: Chunk checksum mismatch\)"):
        for item in bag_messages(reader, connections=["c"]):
            got.append(item)
    assert len(got) == 3 and reader.kwargs == {"connections": ["c"]} and reader.closed
    with pytest.raises(InputError, match=r"ROS 1 bag x\.bag after 0 messages .*"
                                         r"\(ReaderError: no detail\)"):
        list(bag_messages(Reader([], ReaderError(""), paths=["x.bag"])))


def test_a_caller_that_stops_early_closes_rosbags_iterator_at_once():
    """A depth probe reading one message of a bag: rosbags' cursor is released then, not
    whenever the reader happens to be collected."""
    reader = Reader([("c", 1, b"a"), ("c", 2, b"b")])
    it = bag_messages(reader)
    next(it)
    it.close()
    assert reader.closed


def test_messages_are_numbered_within_their_topic():
    a, b = NS(topic="/a"), NS(topic="/b")
    reader = Reader([(a, 1, b"0"), (b, 2, b"1"), (a, 3, b"2"), (a, 4, b"3"), (b, 5, b"4")])
    assert [(c.topic, n) for c, n, _ in numbered_messages(reader, [a, b])] == [
        ("/a", 0), ("/b", 0), ("/a", 1), ("/a", 2), ("/b", 1)]


@pytest.mark.parametrize("said", ["bad index position", "Header is missing 'op'",
                                  "wrong magic bytes", "unexpected EOF", "bag truncated"])
def test_each_way_rosbags_says_a_ros1_bag_is_cut_short_gets_the_reindex_hint(said):
    hint = _open_hint(Path("/bags/run.bag"), ReaderError(said))
    assert "'rosbag reindex /bags/run.bag' (ROS 1) rebuilds its index" in hint
    assert _open_hint(Path("/bags/run.bag"), ReaderError("permission denied")) == (
        " (this user may not read it: check the permissions of the bag's files)")  # no reindex
    assert _open_hint(Path("/bags/run.bag"), ReaderError("no such record")) == ""


def test_a_bag_whose_metadata_sums_are_damaged_is_closed_before_it_is_refused(monkeypatch):
    """metadata.yaml read whole but a message count of 'abc': the refusal comes after rosbags
    opened the storage files, which are closed then (a build-map over many bags kept each
    refused one's files open)."""
    from mast3r_ros.replay.rosbag import opening

    readers = []

    class DamagedSums:
        def __init__(self, paths, default_typestore=None):
            self.closed = False
            readers.append(self)

        def open(self):
            pass

        @property
        def message_count(self):
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

        def close(self):
            self.closed = True

    monkeypatch.setattr(opening, "AnyReader", DamagedSums)
    with pytest.raises(InputError, match=r"cannot open rosbag2 /bags/x: its metadata.yaml or a "
                                         r"storage file is damaged \(TypeError"):
        with opening._open_bag(Path("/bags/x")):
            pass
    assert [r.closed for r in readers] == [True]
