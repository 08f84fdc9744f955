"""What a bag's receive times tell the run rules (`rosbag.receive_times`): a first tf run stamped
ahead of the images' clock is no run of its own, and a clock that goes back by fewer than
RUN_LOOKAHEAD frame periods is a new run. Bags are written with rosbags, receive times
real."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import BASE_FROM_CAM, MS, camera_info, pose, tf_message  # noqa: E402
from test_rosbag_values import bag_of, colour, images_posed_in_one_run  # noqa: E402

from mast3r_ros.core.config import PoseAtStampConfig  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, run_labels  # noqa: E402
from test_rosbag_runs import _counter  # noqa: E402


# ---- first messages stamped ahead ------------------------------------------------------------

def test_two_first_tf_messages_stamped_ahead_join_the_run_after_them():
    """Images stamped as received (1000 .. 1500). tf's first two messages, received at 1050 and
    1150, are stamped 2000 ahead (3050, 3150); the rest as received. tf's own rule splits them
    off (the drop to 1250 never climbs back): the images took that run of two and had no pose.
    By the images' clock they are 2000 ahead and the next one is on it: one run."""
    c = _counter({"img": [(t, t) for t in range(1000, 1600, 100)],
                  "tf": [(3050, 1050), (3150, 1150), (1250, 1251), (1350, 1351), (1450, 1451),
                         (1550, 1551)]})
    assert [c.run("img", o) for o in range(6)] == [1] * 6
    assert [c.run("tf", o) for o in range(6)] == [1] * 6
    # one sample stamped 5000 ahead in mid-stream (a glitch): the edge was split after it and
    # the images, taking its first run, had no pose past 1200
    glitch = _counter({"img": [(t, t) for t in range(1000, 1600, 100)],
                       "tf": [(1050, 1051), (1150, 1151), (6200, 1201), (1250, 1251),
                              (1350, 1351), (1450, 1451), (1550, 1551)]})
    assert [glitch.run("tf", o) for o in range(7)] == [1] * 7


def test_a_tf_run_on_the_images_clock_or_before_the_images_is_kept_apart():
    """What stays a run: a tf run on the images' clock followed by one off it (an arm driver
    restarted with its own clock); a run received before the first image (a clock reset before
    the camera started looks the same as a stamp ahead); a jump the images make too (a reset of
    every clock), also where the message before it was received nearer the images' new run."""
    imgs = [(t, t) for t in range(1000, 1600, 100)]
    own = _counter({"img": imgs, "arm": [(1000, 1001), (1100, 1101), (1200, 1201), (10, 1250),
                                         (20, 1300), (30, 1350), (40, 1400), (50, 1450)]})
    assert [own.run("arm", o) for o in range(8)] == [1, 1, 1, 2, 2, 2, 2, 2]
    early = _counter({"img": imgs, "tf": [(3050, 900), (3150, 950), (1250, 1251), (1350, 1351),
                                          (1450, 1451), (1550, 1551)]})
    assert [early.run("tf", o) for o in range(6)] == [0, 0, 1, 1, 1, 1]
    reset = _counter({"img": [(1000, 1000), (1100, 1100), (1200, 1200), (500, 1300), (600, 1400),
                              (700, 1500)],
                      "tf": [(1150, 1150), (1250, 1250), (550, 1350), (650, 1450), (750, 1550)]})
    assert [reset.run("tf", o) for o in range(5)] == [1, 1, 2, 2, 2]
    # a tf message of the old clock received just before the images' reset (nearest in receive
    # time to the first image after it, so 'ahead' of that image's clock): the images jumped
    # in between, so it stays in the old run
    late = _counter({"img": [(1000, 1000), (1100, 1100), (1200, 1200), (500, 1300), (600, 1400),
                             (700, 1500)],
                     "tf": [(1250, 1295), (550, 1350), (650, 1450), (750, 1550)]})
    assert [late.run("tf", o) for o in range(4)] == [1, 2, 2, 2]
    # stamped ahead, then 1200 behind the images' clock: it did not go back onto that clock
    off = _counter({"img": imgs, "tf": [(3050, 1050), (3150, 1150), (50, 1250), (150, 1350),
                                        (250, 1450)]})
    assert [off.run("tf", o) for o in range(5)] == [1, 1, 2, 2, 2]


def test_a_bag_whose_tf_starts_with_two_samples_stamped_ahead_poses_every_image(tmp_path,
                                                                                caplog):
    """Images at 1.0 .. 1.5 s (received at their stamps). map -> base_link is first recorded at
    bag 1.05 and 1.15 s stamped 3.05 and 3.15 s (published with a future stamp before its clock
    settled), then at 0.95, 1.25, 1.55 s. Every image has its pose and nothing is said about
    runs; the two samples ahead split off as a run of their own, the images' run, and no image
    had a pose."""
    records = images_posed_in_one_run(
        tmp_path, caplog, [(3050, 1050), (3150, 1150), (950, 1160), (1250, 1260), (1550, 1560)])
    assert not [r for r in records if "jumps back" in r.getMessage()]


def test_tf_stamped_ahead_before_the_first_image_is_said_to_be_not_read_not_a_reset(tmp_path,
                                                                                   caplog):
    """map -> base_link's first two samples, stamped 3.05 and 3.15 s, are received at bag 0.90
    and 0.95 s, before the first image (1.0 s): a run before the images', which a bag cannot
    tell from a clock reset before the camera started. Every image is posed by the samples
    after them; the warning said the header time "jumps back" by "a clock reset or restart"
    and the samples "belong to another run": it now names how many samples up to which stamp
    are not read, and both causes."""
    records = images_posed_in_one_run(
        tmp_path, caplog, [(3050, 900), (3150, 950), (960, 960), (1250, 1260), (1550, 1560)])
    (warn,) = [r.getMessage() for r in records if "before the first image" in
               r.getMessage()]
    assert "tf map -> base_link (2 messages up to t=3.150 s) goes back before the first " \
           "image on /cam/image" in warn, warn
    assert "stamped ahead of the clock" in warn and "belong to another run" not in warn
    # an NTP step of the tf computer's clock looks the same: said, and that it cannot be told
    assert "clock stepped back by NTP" in warn and "a bag cannot tell which" in warn, warn
    assert not [r for r in records if "jumps back once" in r.getMessage()]


# ---- short jumps back --------------------------------------------------------------------------

def test_a_clock_going_back_by_fewer_than_four_frames_is_a_new_run_by_its_receive_times():
    """Stamps 0 .. 700 received at their stamps, then the clock goes back 300 (two frames and a
    reset's worth): 500, 600, ... received 800, 900, ... The stamps climb past 700 within 4
    messages, so by stamps alone it was one run, repeating 500 .. 700. Receive time minus stamp
    rises by 300 and stays there: a new run. A late message (swapped pair), a message stamped
    ahead between fresh ones and made-up receive times that do not tick with the stamps keep
    one run."""
    stamps = [0, 100, 200, 300, 400, 500, 600, 700, 500, 600, 700, 800, 900]
    received = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200]
    assert run_labels(stamps) == [1] * 13  # stamps alone cannot tell
    assert run_labels(stamps, received=received) == [1] * 8 + [2] * 5
    # 1.5 frames back: 650 after 700, received at 800
    half = [0, 100, 200, 300, 400, 500, 600, 700, 650, 750, 850]
    assert run_labels(half, received=received[:11]) == [1] * 8 + [2] * 3
    assert run_labels([0, 100, 200, 400, 300, 500, 600, 700],
                      received=[0, 100, 200, 300, 400, 500, 600, 700]) == [1] * 8
    # in a longer run (its receive times tick with its stamps within 5 %): a message stamped 80
    # ahead before fresh ones (the median offset before the drop ignores it) and a swapped
    # pair followed by 5-7 of receive jitter stay one run
    base = list(range(0, 3000, 100))
    assert run_labels(base + [2980, 2900, 3000, 3100, 3200],
                      received=base + [2900, 2901, 3000, 3100, 3200]) == [1] * 35
    assert run_labels(base + [3100, 3000, 3200, 3300, 3400],
                      received=base + [3000, 3100, 3205, 3306, 3407]) == [1] * 35
    # ... and one received 150 late among the messages after the drop (the median again)
    assert run_labels(base + [3100, 3000, 3200, 3150, 3300, 3400],
                      received=base + [3000, 3100, 3200, 3300, 3300, 3400]) == [1] * 36
    # made-up receive times (all one time, or not rising with the stamps) say nothing
    assert run_labels(stamps, received=[5] * 13) == [1] * 13
    assert run_labels(stamps, received=[0, 7, 3, 9, 1, 8, 2, 6, 4, 5, 11, 10, 12]) == [1] * 13


def _images_received_every_period(tmp_path, stamps_ms, caplog):
    """A bag of images stamped ``stamps_ms`` received one per 0.1 s from 0.1 s (the first ones
    at their stamps), read with its warnings captured."""
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", (100 + 100 * k) * MS, colour(t * MS))
             for k, t in enumerate(stamps_ms)]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        return BagSequence(bag_of(tmp_path, msgs))


def test_a_bag_whose_clock_goes_back_two_frames_reads_one_run(tmp_path, caplog):
    """Images at 0.1 .. 0.8 s received at their stamps, then a reset back by 0.3 s: stamps
    0.6 .. 1.4 s received at 0.9 .. 1.7 s. Two runs (8 and 9 images), the longer read, with a
    warning; it was one run of 17 images, three stamps of it twice (tf and depth of either
    pass served both)."""
    stamps = [100, 200, 300, 400, 500, 600, 700, 800] + [600 + 100 * k for k in range(9)]
    seq = _images_received_every_period(tmp_path, stamps, caplog)
    assert [c for c, _, _ in seq.runs] == [8, 9]
    assert seq.run == 2 and seq.stamps_ns.tolist() == [t * MS for t in stamps[8:]]
    assert [r for r in caplog.records if "jumps back once" in r.getMessage()]


def test_a_bag_whose_every_clock_goes_back_two_frames_poses_run_2_from_its_own_tf(tmp_path):
    """Images at 0.1 .. 0.8 s and map -> base_link (x = 0) at 0.05 .. 0.85 s, received at their
    stamps; a reset back by 0.3 s, then images at 0.6 .. 1.4 s and map -> base_link (x = 5 m)
    at 0.55 .. 1.45 s, received 0.3 s after their stamps. Run 2 is read and every image of it
    is posed from the x = 5 m samples only: as one run, the two passes' samples interleaved by
    stamp and an image at 0.6 .. 0.8 s was interpolated between x = 0 and x = 5 m."""
    before, after = pose([0, 0, 0], [0, 0, 0]), pose([0, 0, 0], [5.0, 0, 0])
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(100 * MS))]
    msgs += [("/cam/image", t * MS, colour(t * MS)) for t in range(100, 900, 100)]
    msgs += [("/cam/image", (t + 300) * MS, colour(t * MS)) for t in range(600, 1500, 100)]
    msgs += [("/tf", t * MS + 2, tf_message([("map", "base_link", t * MS, before)]))
             for t in range(50, 900, 100)]
    msgs += [("/tf", (t + 300) * MS + 2, tf_message([("map", "base_link", t * MS, after)]))
             for t in range(550, 1500, 100)]
    seq = BagSequence(bag_of(tmp_path, sorted(msgs, key=lambda m: m[1])),
                      pose_frames="map:camera_optical",
                      pose_at_stamp=PoseAtStampConfig(max_gap_s=0.5))
    frames = list(seq)
    assert [c for c, _, _ in seq.runs] == [8, 9] and seq.run == 2 and len(frames) == 9
    for f in frames:
        np.testing.assert_allclose(f.map_from_cam, after @ BASE_FROM_CAM, atol=1e-9)


# ---- a reset by exactly one frame period (a repeated stamp) -----------------------------------

def test_a_stamp_repeated_a_period_later_with_the_offsets_raised_is_a_new_run():
    """Stamps 0 .. 700 received at their stamps, then the clock goes back one period: 700
    again, received at 800, then 800 .. 1000 received 100 after. The repeat is not below the
    top, so no rule looked at it: one run, 700 twice. Its receive times say a reset: two runs.
    A message recorded twice (received with the first, or 20 = a fifth of a period later), a
    stalled driver re-sending its last frame a period later while the next frames come on
    time, and a clock that ticks at every other message stay one run."""
    stamps = [0, 100, 200, 300, 400, 500, 600, 700, 700, 800, 900, 1000]
    later = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]
    assert run_labels(stamps, received=later) == [1] * 8 + [2] * 4
    for dup in (700, 720):
        assert run_labels(stamps, received=later[:8] + [dup, 800, 900, 1000]) == [1] * 12, dup
    assert run_labels(stamps, received=later[:8] + [800, 805, 900, 1000]) == [1] * 12
    coarse = [0, 0, 200, 200, 400, 400, 600, 600, 800, 800, 1000, 1000]
    assert run_labels(coarse, received=list(range(0, 1200, 100))) == [1] * 12


def test_a_bag_whose_clock_goes_back_one_frame_reads_two_runs(tmp_path, caplog):
    """Images at 0.1 .. 0.8 s received at their stamps, then a reset back by one period: 0.8
    .. 1.6 s received at 0.9 .. 1.7 s. Two runs (8 and 9 images), the longer read, with the
    run warning; it was one run of 17 images, 0.8 s twice, warned about as a driver that does
    not stamp its images. The same bag with the 0.8 s image recorded twice 1 ms apart and the
    rest on time is one run, warned about as before."""
    stamps = [100 * k for k in range(1, 9)] + [800 + 100 * k for k in range(9)]
    seq = _images_received_every_period(tmp_path, stamps, caplog)
    assert [c for c, _, _ in seq.runs] == [8, 9]
    assert seq.run == 2 and seq.stamps_ns.tolist() == [t * MS for t in stamps[8:]]
    said = [r.getMessage() for r in caplog.records]
    assert [m for m in said if "jumps back once" in m]
    assert not [m for m in said if "does not stamp" in m]
    caplog.clear()
    twice = [("/cam/camera_info", 0, camera_info(100 * MS))]
    twice += [("/cam/image", (t + (k == 8)) * MS if k <= 8 else t * MS, colour(t * MS))
              for k, t in enumerate([100 * k for k in range(1, 9)] + [800] + stamps[9:])]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, twice, name="twice"))
    assert [c for c, _, _ in seq.runs] == [17] and seq.run == 1
    assert [r for r in caplog.records if "1 of 17 repeat the previous image's stamp"
            in r.getMessage()]


# ---- a simulation recorded at another speed ----------------------------------------------------

def test_a_reset_of_a_simulation_recorded_at_another_speed_is_a_new_run():
    """Stamps 0 .. 700, then back 300 (two frames and a reset's worth: the stamps climb past
    700 within 4 messages), received at a constant ratio to the stamps: 0.5x real time (200 a
    frame) or 2x (50 a frame). The receive times did not tick with the stamps within 5 %, so
    the rule said nothing: one run. In the stamps' scale (the median ratio of consecutive
    differences) the offsets rise by 300 and stay: two runs. A swapped pair and a message
    received late in such a simulation, and one whose speed wanders (0.5x before the drop, 2x
    after it), stay one run."""
    stamps = [0, 100, 200, 300, 400, 500, 600, 700, 500, 600, 700, 800, 900]
    for ratio in (2, 0.5):
        received = [int(ratio * 100 * k) for k in range(13)]
        assert run_labels(stamps, received=received) == [1] * 8 + [2] * 5, ratio
        assert run_labels([0, 100, 200, 400, 300, 500, 600, 700],
                          received=[int(ratio * 100 * k) for k in range(8)]) == [1] * 8
    base = list(range(0, 3000, 100))
    assert run_labels(base + [3100, 3000, 3200, 3150, 3300, 3400],
                      received=[2 * s for s in base + [3000, 3100, 3200, 3300, 3300, 3400]]
                      ) == [1] * 36
    wander = [200 * k for k in range(8)] + [1400 + 50 * k for k in range(1, 6)]
    assert run_labels(stamps, received=wander) == [1] * 13


def test_a_bag_of_a_simulation_at_twice_real_time_whose_clock_goes_back_reads_two_runs(
        tmp_path):
    """Images stamped 0.1 .. 0.8 s received at half their stamps (a simulation at 2x real
    time), then a reset back by 0.3 s: stamps 0.6 .. 1.4 s received 0.45 .. 0.85 s. Two runs
    (8 and 9 images), the second read: it was one run of 17 images, three stamps twice."""
    stamps = [100, 200, 300, 400, 500, 600, 700, 800] + [600 + 100 * k for k in range(9)]
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", (50 + 50 * k) * MS, colour(t * MS)) for k, t in enumerate(stamps)]
    seq = BagSequence(bag_of(tmp_path, msgs))
    assert [c for c, _, _ in seq.runs] == [8, 9]
    assert seq.run == 2 and seq.stamps_ns.tolist() == [t * MS for t in stamps[8:]]


def test_one_message_before_a_short_drop_stays_in_the_run_it_looks_stamped_ahead():
    """Stamps 100, then 50 .. 350 received at 200 .. 500: receive time minus stamp rises by 150
    after the first message and stays, as a reset after it would raise it -- and as a first
    message stamped 150 ahead of its clock lowers its own (a map -> odom re-broadcast at now +
    tolerance recorded first). One message gives no rate to check either: one run, as
    before; two messages before such a drop are a new run."""
    assert run_labels([100, 50, 150, 250, 350], received=[100, 200, 300, 400, 500]) == [1] * 5
    assert run_labels([0, 100, 50, 150, 250, 350],
                      received=[0, 100, 200, 300, 400, 500]) == [1, 1, 2, 2, 2, 2]


def test_one_republished_image_is_named_not_blamed_on_the_driver(tmp_path, caplog):
    """21 images stamped 0.1 .. 2.0 s, the 11th (1.0 s) recorded a second time 5 ms later (a
    republisher's copy): it was 'the camera driver does not stamp its images'. The odd image
    is named by its place and stamp; the driver is blamed when half the images are odd (the
    zero-stamp and repeated-stamp bags of test_rosbag keep that)."""
    stamps = [100 * k for k in range(1, 21)]
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", t * MS, colour(t * MS)) for t in stamps]
    msgs.append(("/cam/image", 1005 * MS, colour(1000 * MS)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, sorted(msgs, key=lambda m: m[1])))
    assert len(seq) == 21
    said = [r.getMessage() for r in caplog.records if "stamp" in r.getMessage()]
    assert len(said) == 1, said
    assert "does not stamp" not in said[0]
    assert "1 of 21 repeat the previous image's stamp (image 11 at t=1.000000 s)" in said[0]


def test_one_message_before_a_short_drop_is_said_to_be_undecidable(tmp_path, caplog):
    """map -> base_link first recorded at bag 0.90 s stamped 1.15 s, then 0.95, 1.25, 1.35,
    1.55 s received at their stamps: receive time minus stamp rises by 250 ms after the first
    message, as a reset right after it would raise it and as that message stamped 250 ms ahead
    lowers its own. It is read with the run (stamped ahead), as before, but that was said
    nowhere: one warning now names it and says one message cannot tell. A late message (its
    offset not below the others') and a bag without such a drop say nothing."""
    from mast3r_ros.replay.rosbag.receive_times import lone_first_ahead

    records = images_posed_in_one_run(
        tmp_path, caplog, [(1150, 900), (950, 950), (1250, 1250), (1350, 1350), (1550, 1550)])
    (warn,) = [r.getMessage() for r in records if "cannot tell" in r.getMessage()]
    assert "tf map -> base_link: its first message (t=1.150 s) is stamped 0.200 s above the " \
           "next, and receive time minus stamp rises by 0.250 s after it" in warn, warn
    assert "read with the run as stamped ahead" in warn and "one message cannot tell" in warn
    assert lone_first_ahead([100, 50, 150, 250, 350], [100, 200, 300, 400, 500],
                            [1] * 5) == [(0, 50, 150)]
    assert lone_first_ahead([100, 50, 150, 250, 350], [100, 101, 150, 250, 350], [1] * 5) == []
    assert lone_first_ahead([0, 100, 50, 150], [0, 100, 200, 300], [1, 1, 2, 2]) == []
    assert lone_first_ahead([100, -50, 50, 150, 250], [5] * 5, [1] * 5) == []  # made up
    # a new run's first message, merged likewise after a reset the stamps showed
    stamps, received = [0, 100, 200, 80, 20, 120, 220], [0, 100, 200, 300, 400, 500, 600]
    labels = run_labels(stamps, received=received)
    assert labels == [1, 1, 1, 2, 2, 2, 2]
    assert lone_first_ahead(stamps, received, labels) == [(3, 60, 160)]


def test_lone_first_ahead_edges():
    """What `lone_first_ahead` names and what not, one case each: a rise above half the drop
    but under it is named; a message inside a run (not its first), a repeated stamp (no
    drop), receive times that do not tick with the stamps, and a run whose next message
    alone follows the drop (the next run's messages are not its) are not."""
    from mast3r_ros.replay.rosbag.receive_times import lone_first_ahead

    stamps = [100, 50, 150, 250, 350]
    assert lone_first_ahead(stamps, [100, 90, 190, 290, 390], [1] * 5) == [(0, 50, 40)]
    assert lone_first_ahead([0, 100, 200, 150, 250, 350, 450],
                            [0, 100, 200, 250, 350, 450, 550], [1] * 7) == []
    assert lone_first_ahead([100, 100, 200, 300, 400], [0, 50, 150, 250, 350], [1] * 5) == []
    assert lone_first_ahead(stamps, [0, 1000, 1000, 1000, 1000], [1] * 5) == []
    assert lone_first_ahead(stamps, [100, 200, 300, 400, 500], [1, 1, 2, 2, 2]) == []


def test_a_lone_message_ahead_is_said_once_for_the_run_read(tmp_path, caplog):
    """Two tf streams each beginning with such a message: one warning (the first), not one a
    stream."""
    times = [(1150, 900), (950, 950), (1250, 1250), (1350, 1350), (1550, 1550)]
    arm = [("/tf", b * MS + 1, tf_message([("base_link", "arm", t * MS, np.eye(4))]))
           for t, b in times]
    records = images_posed_in_one_run(tmp_path, caplog, times, arm)
    warned = [r.getMessage() for r in records if "cannot tell" in r.getMessage()]
    assert len(warned) == 1, warned


def _late_depth_bag(tmp_path, late_ms):
    """4 images 0.1 s apart received 5 ms after their stamps, each aligned depth (same
    header stamp) received ``late_ms`` after it."""
    from test_rosbag_values import depth16

    S = 10**9
    msgs = []
    for k in range(4):
        t = S + k * 100 * MS
        msgs += [("/cam/camera_info", t + 5 * MS, camera_info(t)),
                 ("/cam/image", t + 5 * MS + 1, colour(t)),
                 ("/depth", t + late_ms * MS, depth16(t, 1000))]
    return bag_of(tmp_path, sorted(msgs, key=lambda m: m[1]))


def test_depth_received_later_than_its_image_names_the_gap_and_the_tolerance(tmp_path, caplog):
    """Read at receive times, an aligned depth received 30 ms after its colour image (header
    stamps equal) matched no image within 0.02 s, and the fix said 'check the header stamps',
    which were not read. The gap is measured, a tolerance covering it offered (it then
    matches), and the header stamps."""
    bag = _late_depth_bag(tmp_path, 35)
    names = {"image_stamp": "--image-stamp"}
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, depth_topic="/depth", image_stamp="receive", option_names=names)
    fix = ("read at the bag's receive times (--image-stamp receive), its depth arrived 30 ms "
           "after the images (median); widen --sync-tolerance (e.g. 0.045) or read the header "
           "stamps (--image-stamp header)")
    assert seq.no_depth_reason() == ("no depth on /depth within 0.020 s of any image on "
                                     f"/cam/image: {fix}")
    assert fix in caplog.text
    wide = BagSequence(bag, depth_topic="/depth", image_stamp="receive", option_names=names,
                       sync_tolerance_s=0.045)
    assert wide.no_depth_reason() is None
    assert BagSequence(bag, depth_topic="/depth").no_depth_reason() is None  # header: matched


def test_depth_received_more_than_a_second_later_is_not_offered_a_tolerance(tmp_path):
    """A gap past --sync-tolerance's 1 s maximum: 'widen --sync-tolerance (e.g. 1)' did not
    cover it; only the header stamps are offered."""
    bag = _late_depth_bag(tmp_path, 1850)
    seq = BagSequence(bag, depth_topic="/depth", image_stamp="receive",
                      option_names={"image_stamp": "--image-stamp"})
    reason = seq.no_depth_reason()
    assert "its depth arrived 1695 ms after the images (median)" in reason
    assert "widen --sync-tolerance" not in reason
    assert reason.endswith("more than --sync-tolerance's 1 s maximum: read the header stamps "
                           "(--image-stamp header)")


def test_the_receive_gap_hint_and_the_cli_share_one_sync_tolerance_maximum():
    """The depth reader's 'more than --sync-tolerance's 1 s maximum' is the CLI's own limit
    (one constant, core.image_stamp's), not a second 1.0 that a changed limit would leave
    behind: the hint would then offer a tolerance the CLI refuses, or refuse one it takes."""
    from mast3r_ros.core import image_stamp
    from mast3r_ros.replay import cli_options
    from mast3r_ros.replay.rosbag import depth

    assert depth.MAX_SYNC_TOLERANCE_S is image_stamp.MAX_SYNC_TOLERANCE_S
    assert cli_options.MAX_SYNC_TOLERANCE_S is image_stamp.MAX_SYNC_TOLERANCE_S
