"""Hand audit of the rosbag2 run rules that the bag tests leave open: which jumps a late stream
missed (`_RunCounter.finish`) and which CameraInfo of another run a run without one borrows
(`_RunChoice._camera_info_of_another_run`). Stamps and bag times are plain integers; no bag is
written. The lead stream's runs are worked out with `run_labels`' rule: a stamp below the top
whose next 4 stamps never climb above it starts a new run."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from mast3r_ros.replay.rosbag.runs import _RunChoice, _RunCounter  # noqa: E402


def _counter(streams, reference="img"):
    """streams: {name: [(stamp, bag time), ...]} noted stream by stream in the given order."""
    c = _RunCounter()
    for name, msgs in streams.items():
        for stamp, bag in msgs:
            c.note(name, stamp, bag)
    c.finish(reference=reference)
    return c


def _runs(c, name, n):
    return [c.run(name, o) for o in range(n)]


def test_a_stream_first_received_with_or_after_the_jump_starts_in_the_new_run():
    """Images 100, 200, (reset) 100, 200 at bag 1, 2, 10, 11: runs 1, 1, 2, 2, the jump
    received at bag 10. Run 2 is under way from bag 10 on: a CameraInfo first received at
    bag 10 (with the jump) belongs to run 2; depth first received at bag 5 (between the last
    pre-reset image and the jump) to run 1."""
    c = _counter({"img": [(100, 1), (200, 2), (100, 10), (200, 11)],
                  "info": [(100, 10)], "depth": [(150, 5), (160, 6)]})
    assert _runs(c, "img", 4) == [1, 1, 2, 2]
    assert _runs(c, "info", 1) == [2]
    assert _runs(c, "depth", 2) == [1, 1]
    assert c.late == {"info": 1}


def test_a_stream_that_missed_two_jumps_is_shifted_by_two():
    """Images reset twice (jumps received at bag 10 and 20): runs 1, 1, 2, 2, 3, 3. A stream
    first received at bag 25 never jumps itself (its own run 1): it is run 3, having missed 2."""
    c = _counter({"img": [(100, 1), (200, 2), (100, 10), (200, 11), (100, 20), (200, 21)],
                  "late": [(100, 25), (200, 26)]})
    assert _runs(c, "img", 6) == [1, 1, 2, 2, 3, 3]
    assert _runs(c, "late", 2) == [3, 3] and c.late == {"late": 2}


def test_the_reference_stream_leads_among_streams_with_as_many_runs():
    """tf (noted first) and images both have 2 runs, tf jumping at bag 5, images at bag 10.
    The images lead: depth first received at bag 7 is before their jump, so in run 1 (led by
    tf's jump it would be run 2)."""
    c = _counter({"tf": [(100, 1), (200, 2), (100, 5)],
                  "img": [(100, 3), (200, 4), (100, 10)],
                  "depth": [(150, 7)]})
    assert _runs(c, "img", 3) == [1, 1, 2] and _runs(c, "tf", 3) == [1, 1, 2]
    assert _runs(c, "depth", 1) == [1] and c.late == {}


def _choice(info_runs):
    rc = _RunChoice()
    rc.path, rc.camera_info_topic = "bag", "/cam/camera_info"
    rc._info_runs = info_runs
    return rc


def test_a_run_without_camera_info_borrows_the_last_before_else_the_first_after(caplog):
    """Run 2 has no CameraInfo: of run 1's two (bag order: K1 at 0.1 s, then K2 at 0.2 s) the
    last received, K2, serves it; run 1 has none: of the runs after (K3 in run 2 at 0.3 s, K4
    in run 3 at 0.4 s) the first, K3."""
    ms = 1_000_000
    infos = [(1, 100 * ms, "K1"), (1, 200 * ms, "K2"), (3, 400 * ms, "K4")]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert _choice(infos)._camera_info_of_another_run(2) == (200 * ms, "K2")
        assert _choice([(2, 300 * ms, "K3"), (3, 400 * ms, "K4")]
                       )._camera_info_of_another_run(1) == (300 * ms, "K3")
    assert [r.getMessage() for r in caplog.records] == [
        "rosbag2 bag: no CameraInfo on /cam/camera_info in the run read; using the last one, of "
        "another run (stamped t=0.200 s: a CameraInfo published once, latched?)",
        "rosbag2 bag: no CameraInfo on /cam/camera_info in the run read; using the first one, "
        "of another run (stamped t=0.300 s: a CameraInfo published once, latched?)"]
