"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: after a cut indexing pass
(--max-frames), a /tf_static topic the bag's metadata lists with 0 messages (a count the
storage does not give) is read from the stop on; one whose listed messages were all read is
not (`IndexStop.read_statics_after`, `statics_left`'s default for a topic not counted)."""

from __future__ import annotations

from types import SimpleNamespace as NS

from mast3r_ros.replay.rosbag import index_stop


def test_a_static_topic_not_counted_is_read_after_the_stop_and_a_counted_one_read_is_not(
        monkeypatch):
    conns = [NS(topic="/tf_static", msgcount=0), NS(topic="/a/tf_static", msgcount=1),
             NS(topic="/cam", msgcount=9)]
    seq = NS(image_topic="/cam", camera_info_topic="/info", depth_info_topic=None,
             path="bag")
    stop = index_stop.IndexStop(5, 0, (0, 0))
    stop.expect(seq, conns)
    stop.seen("/a/tf_static")  # its one listed message read before the stop
    stop.stopped_at_ns = 7
    asked = []

    def bag_messages(reader, connections, start):
        asked.append(([c.topic for c in connections], start))
        return iter(())

    monkeypatch.setattr(index_stop, "bag_messages", bag_messages)
    stop.read_statics_after(seq, NS(start_time=0), conns, runs=None)
    assert asked == [(["/tf_static"], 7)]


def test_a_static_topic_with_no_count_or_none_is_not_counted():
    """A connection without ``msgcount`` (a reader that gives none) or with None counts as not
    counted: the topic is read after the stop, whatever was read before it."""
    conns = [NS(topic="/tf_static"), NS(topic="/b/tf_static", msgcount=None)]
    stop = index_stop.IndexStop(5, 0, (0, 0))
    stop.expect(NS(image_topic="/cam", camera_info_topic="/info", depth_info_topic=None), conns)
    stop.seen("/tf_static")
    stop.seen("/b/tf_static")
    assert stop.statics_left == {}
