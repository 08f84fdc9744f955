"""A cut indexing pass (`rosbag.index_stop`, --max-frames) read the /tf_static messages after
its stop with a query from the stop to the end of the bag, also where the pass had read every
/tf_static message the bag holds (one latched message recorded at the start, the usual case).
A .db3 has no index by topic: SQLite then read every later row's page to find none (~0.4 GB
of a 30-minute 640x480 JPEG bag, `bench/bench_bag_open.py`). A topic whose listed count was
read is not queried again; one with a message left (a static recorded late) still is."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_bag_max_frames_index import _bag, _open, _read, _same, _whole  # noqa: E402
from test_rosbag import BASE_FROM_CAM, S, tf_message, write_bag  # noqa: E402

from mast3r_ros.replay.rosbag import index_stop  # noqa: E402

STORAGES = pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP],
                                   ids=["sqlite3", "mcap"])


def _spy(monkeypatch) -> list:
    """The ``start`` of each read `IndexStop.read_statics_after` makes."""
    starts, real = [], index_stop.bag_messages

    def spy(reader, **kwargs):
        starts.append(kwargs.get("start"))
        return real(reader, **kwargs)

    monkeypatch.setattr(index_stop, "bag_messages", spy)
    return starts


@STORAGES
def test_every_static_read_before_the_stop_is_not_looked_for_after_it(tmp_path, monkeypatch,
                                                                      storage):
    bag = _bag(tmp_path / "bag", storage=storage)  # its one /tf_static received at 0
    starts = _spy(monkeypatch)
    cut = _open(bag, 5)
    assert len(cut.source) < 60 and starts == []
    _same(_read(cut), _read(_whole(bag, 5)))


@STORAGES
def test_a_static_recorded_after_the_stop_is_still_read(tmp_path, monkeypatch, storage):
    """Two /tf_static messages, the camera mount only in the one received at 10 s: one is
    left after the stop, so the rest is read and the frames are posed as from the whole pass."""
    first = tmp_path / "first"
    _bag(first, storage=storage)
    from rosbags.highlevel import AnyReader

    with AnyReader([first]) as reader:  # the bag again, with an empty /tf_static first
        msgs = [(c.topic, t, reader.deserialize(raw, c.msgtype))
                for c, t, raw in reader.messages()]
    msgs = [m for m in msgs if m[0] != "/tf_static"]
    msgs += [("/tf_static", 0, tf_message([("base_link", "wheel", 0, np.eye(4))])),
             ("/tf_static", 10 * S, tf_message([("base_link", "camera_optical", 0,
                                                  BASE_FROM_CAM)]))]
    bag = str(write_bag(tmp_path / "bag", storage, sorted(msgs, key=lambda m: m[1])))
    starts = _spy(monkeypatch)
    cut = _open(bag, 5)
    assert len(cut.source) < 60 and len(starts) == 1 and starts[0] is not None
    _same(_read(cut), _read(_whole(bag, 5)))


def test_a_static_topic_the_metadata_does_not_count_is_read():
    """A /tf_static listed with 0 messages (a count the storage does not give) is read after
    the stop, as before."""
    class Conn:
        def __init__(self, topic, msgcount):
            self.topic, self.msgcount = topic, msgcount

    class Seq:
        image_topic, camera_info_topic, depth_info_topic = "/cam", "/info", None

    stop = index_stop.IndexStop(5, 0, (0, 0))
    stop.expect(Seq(), [Conn("/tf_static", 0), Conn("/a/tf_static", 2), Conn("/cam", 9)])
    stop.seen("/a/tf_static")
    stop.seen("/tf_static")
    assert stop.statics_left == {"/a/tf_static": 1}
    stop.seen("/a/tf_static")
    assert stop.statics_left == {"/a/tf_static": 0}  # both read; /tf_static: read after
