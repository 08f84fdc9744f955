"""Hand audit of the rosbag2 run rules that the bag tests leave open: how each stream's runs meet
the images' (`_RunCounter.finish`) and which CameraInfo of another run a run without one borrows
(`_RunChoice._camera_info_of_another_run`). Stamps and bag times are plain integers; no bag is
written. Each stream's own runs are worked out with `run_labels`' rule: a stamp below the top
whose next 4 stamps never climb above it starts a new run; the images' runs are the bag's."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from mast3r_ros.replay.rosbag.run_choice import _RunChoice  # noqa: E402
from mast3r_ros.replay.rosbag.runs import _RunCounter  # noqa: E402


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
    """Images 100, 200, (reset) 100, 200 at bag 1, 2, 10, 11: runs 1, 1, 2, 2. A CameraInfo
    first received at bag 10 stamped 100 (bag - stamp = -90, as the image received then): run 2.
    Depth first received at bag 5 stamped 150 (-145: nearer the image at bag 2, stamp 200,
    -198, than the one at bag 10, -90, by 53 against 55): run 1, unshifted."""
    c = _counter({"img": [(100, 1), (200, 2), (100, 10), (200, 11)],
                  "info": [(100, 10)], "depth": [(150, 5), (160, 6)]})
    assert _runs(c, "img", 4) == [1, 1, 2, 2]
    assert _runs(c, "info", 1) == [2]
    assert _runs(c, "depth", 2) == [1, 1]
    assert c.shifted == {"info": 1}


def test_a_stream_that_missed_two_jumps_is_shifted_by_two():
    """Images reset twice (jumps received at bag 10 and 20): runs 1, 1, 2, 2, 3, 3. A stream
    first received at bag 25 never jumps itself (its own run 1): the images' last message
    before it is run 3, so it is run 3, shifted by 2."""
    c = _counter({"img": [(100, 1), (200, 2), (100, 10), (200, 11), (100, 20), (200, 21)],
                  "late": [(100, 25), (200, 26)]})
    assert _runs(c, "img", 6) == [1, 1, 2, 2, 3, 3]
    assert _runs(c, "late", 2) == [3, 3] and c.shifted == {"late": 2}


def test_a_message_received_just_before_a_new_run_of_images_joins_it():
    """Images stamped 1000, 2000 (bag = stamp), a reset, then 500, 600 at bag 9000, 9100 (bag -
    stamp 8500). Depth first received at bag 8999 stamped 500 (8499): before the new run's first
    image in bag order, but its receive time minus stamp is the new run's (8500), not the old
    one's (0): run 2."""
    c = _counter({"img": [(1000, 1000), (2000, 2000), (500, 9000), (600, 9100)],
                  "depth": [(500, 8999), (600, 9099)]})
    assert _runs(c, "img", 4) == [1, 1, 2, 2]
    assert _runs(c, "depth", 2) == [2, 2] and c.shifted == {"depth": 1}


def test_a_stream_reset_before_the_first_image_is_read_from_its_run_then():
    """tf stamped 100, 200, 300 (bag = stamp), a reset, then 50, 150, 250 at bag 350, 450, 550
    (its own runs 1, 1, 1, 2, 2, 2); the camera starts after the reset (bag 460, 560, stamps
    155, 255: bag - stamp 305, as tf's 300 then). tf's run under way at the first image is its
    run 2, which becomes run 1 (shift -1): its pre-reset samples fall to run 0, never the
    images'. A stream whose own clock jumps later, unseen by the images (an arm driver
    restarted), keeps run 1 up to its jump and does not split the images."""
    c = _counter({"tf": [(100, 100), (200, 200), (300, 300), (50, 350), (150, 450),
                         (250, 550)],
                  "img": [(155, 460), (255, 560)],
                  "arm": [(400, 455), (500, 555), (10, 556), (20, 557), (30, 558), (40, 559),
                          (50, 560)]})
    assert _runs(c, "img", 2) == [1, 1]
    assert _runs(c, "tf", 6) == [0, 0, 0, 1, 1, 1]
    assert _runs(c, "arm", 7) == [1, 1, 2, 2, 2, 2, 2]
    assert c.shifted == {"tf": -1}


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


@pytest.mark.parametrize("off_s, taken", [(0.5, True), (1.0, True), (5.0, False)])
def test_a_stamp_read_from_bytes_is_taken_within_a_second_of_its_expected_time(off_s, taken):
    """`_take_read_stamps`: the header stamp read from a message's first bytes is its stamp
    when it lies within `HEADER_STAMP_WINDOW_NS` (1 s) of its receive time less the latency of
    the messages around it; further off the bytes are damaged and the receive-time estimate
    stands."""
    S = 1_000_000_000
    c = _RunCounter()
    for k in range(6):  # 10 Hz, received 30 ms after their stamps
        read = 100 * S + k * S // 10 + int(off_s * S)
        c.note("img", None if k == 3 else 100 * S + k * S // 10, 100 * S + k * S // 10 + 30_000_000,
               read_ns=read if k == 3 else None)
    c.finish("img")
    assert c.from_header("img", 3) is taken
    if taken:
        assert c.estimated("img")[3] == 100 * S + 3 * S // 10 + int(off_s * S)
