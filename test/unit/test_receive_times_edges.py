"""Edges of the receive-time run rules (`rosbag.receive_times`) called directly: the rate gate,
the windows before and after the drop, the threshold's step and drift terms, and the
boundaries of `join_stamped_ahead` (a stream first received with the first image; a tf run
ending at the very receive time an image's clock jumps back)."""

from __future__ import annotations

from mast3r_ros.replay.rosbag.receive_times import (clock_went_back, join_stamped_ahead,
                                                    receive_ratio)
from mast3r_ros.replay.rosbag.runs import _RunCounter, run_labels


def test_receive_times_that_do_not_tick_with_the_stamps_at_one_ratio_say_nothing():
    """Stamps 100 apart, back 300 at ordinal 8. Receive times 80 (0.8x) apart before the drop
    and 125 (1.25x) after, or the other way round: the speed changed, no ratio holds, so the
    offsets are not compared: slow before as fast before. At one ratio (80 or 125 throughout,
    beyond `RATE_TOLERANCE` of 1) the offsets are compared in the stamps' scale: a jump."""
    stamps = [100 * k for k in range(8)] + [400, 500, 600, 700, 800]
    for first, then in ((80, 125), (125, 80)):
        received = [first * k for k in range(9)] + [first * 8 + then * k for k in range(1, 5)]
        assert not clock_went_back(stamps, received, 0, 8, 700, 4), first
        assert receive_ratio(stamps, received, 0, range(4, 8), range(9, 13)) is None, first
    for tick in (80, 125):
        received = [tick * k for k in range(13)]
        assert clock_went_back(stamps, received, 0, 8, 700, 4), tick
        assert receive_ratio(stamps, received, 0, range(4, 8), range(9, 13)) == (tick / 100,
                                                                                0.0)
    # the same drop with receive times ticking with the stamps and raised 300 after it: a jump
    received = stamps[:8] + [s + 300 for s in stamps[8:]]
    assert clock_went_back(stamps, received, 0, 8, 700, 4)
    assert receive_ratio(stamps, received, 0, range(4, 8), range(9, 13)) == (1, 0.0)


def test_a_ratio_is_taken_only_where_the_run_and_both_windows_keep_it():
    """Stamps 100 apart, a drop at ordinal 12; receive times 200 a frame (2x real time; the
    median ratio of consecutive differences is 2 throughout): ratio 2. The run's first frames
    at 150 a frame (the run from its start 7 % off 2): no ratio. One frame 300 in the window
    before the drop (17 % off over the window, 4.5 % over the run), or in the window after
    it: none. That frame at 224 (4 % off, within `RATE_TOLERANCE`): 2, the rate 4 % off.
    Frames 250, 150, 200 in each window (spans on 2, but the ratios 25 % off it: a jittery
    stretch, `RATIO_SPREAD`): none; 210, 190, 200 (5 %): 2. A median ratio within 5 % of 1
    (1.04, the run 7.8 % fast by its start at 1.1) is a real-time bag whose span is off: none,
    as before."""
    stamps = [100 * k for k in range(12)] + [900, 1200, 1300, 1400, 1500]

    def ratio(*ticks, each=200):  # receive times of ``each`` a frame, but ticks {ordinal: step}
        steps = [dict(ticks).get(k, each) for k in range(17)]
        return receive_ratio(stamps, [sum(steps[1:k + 1]) for k in range(17)], 0,
                             range(8, 12), range(13, 17))

    assert ratio() == (2, 0.0)
    assert ratio(*[(k, 150) for k in range(1, 4)]) is None
    assert ratio((11, 300)) is None and ratio((16, 300)) is None
    found, rate = ratio((11, 224))
    assert found == 2 and abs(rate - 0.04) < 1e-9
    assert ratio((9, 250), (10, 150), (14, 150), (15, 250)) is None
    assert ratio((9, 210), (10, 190), (14, 190), (15, 210))[0] == 2
    assert ratio(*[(k, 110) for k in range(1, 8)], each=104) is None


def test_fewer_than_two_messages_after_the_drop_or_no_stamp_span_before_it_say_nothing():
    """One message after the drop (however raised its offset), or a run whose stamps before the
    drop span nothing (its first and last equal: no rate to check): False, no error."""
    stamps = [100 * k for k in range(8)] + [400, 500]
    assert not clock_went_back(stamps, stamps[:8] + [800, 900], 0, 8, 700, 4)
    flat = [100, 300, 100, 50, 400, 500, 600]
    assert not clock_went_back(flat, [0, 1, 2, 300, 301, 302, 303], 0, 3, 300, 4)


def test_the_threshold_is_half_the_median_step_before_the_drop_when_that_exceeds_the_drop():
    """Steps 100, 100, 10 before a drop of 30 (stamp 580 after 610): the threshold is half the
    median step (50), not half the drop (15), nor half a median that counts the drop itself as
    a step; offsets raised by 40 after it (jitter) are no jump. Raised by 60 they are."""
    stamps = [0, 100, 200, 300, 400, 500, 600, 610, 580, 700, 800, 900, 1000]
    received = stamps[:8] + [700] + [s + 40 for s in stamps[9:]]
    assert not clock_went_back(stamps, received, 0, 8, 610, 4)
    received = stamps[:8] + [700] + [s + 60 for s in stamps[9:]]
    assert clock_went_back(stamps, received, 0, 8, 610, 4)


def test_the_clock_rates_drift_over_a_long_lookahead_is_no_jump():
    """A receive clock 4 % fast (within the tolerance) and one message stamped 150 below the top
    (late), lookahead 20: the medians 20 messages apart differ by 84 from the drift alone,
    over half the step (50) but within it plus what 4 % drifts over the window: no jump."""
    stamps = [100 * k for k in range(30)] + [2850] + [100 * k for k in range(31, 51)]
    received = [104 * k for k in range(51)]
    assert not clock_went_back(stamps, received, 0, 30, 2900, 20)


def test_the_windows_are_the_lookahead_before_the_drop_and_after_it_not_the_drop_itself():
    """The median offset before is of the 4 messages before the drop (offsets 100, 100, 0, 0:
    50), not 5 (100); after, of the 4 after it (60, 60, 0, 0: 30), not counting the dropped
    message's own offset (150, received late)."""
    stamps = [100 * k for k in range(8)] + [600, 700, 800, 900, 1000]
    offsets = [0, 0, 0, 100, 100, 100, 0, 0, 200, 150, 150, 150, 150]
    received = [s + o for s, o in zip(stamps, offsets)]
    assert clock_went_back(stamps, received, 0, 8, 700, 4)  # rise 150 - 50 > 50
    stamps = [100 * k for k in range(8)] + [650, 750, 850, 950, 1050]
    offsets = [0] * 8 + [150, 60, 60, 0, 0]
    received = [s + o for s, o in zip(stamps, offsets)]
    assert not clock_went_back(stamps, received, 0, 8, 700, 4)  # rise 30 < 50


def test_a_run_stamped_ahead_first_received_with_the_first_image_joins_the_next():
    """As the two tf messages stamped 2000 ahead before the images' clock, the first received at
    the very time of the first image (1000): the reference was under way, so they join."""
    labels = join_stamped_ahead([1000, 1150, 1251, 1351], [3000, 3150, 1250, 1350], [1, 1, 2, 2],
                                list(range(1000, 1600, 100)), [1] * 6,
                                list(range(1000, 1600, 100)))
    assert labels == [1, 1, 1, 1]


def test_a_run_stamped_ahead_ended_as_the_images_clock_jumps_back_stays_apart():
    """Images at 1000 .. 1200, then back to 500 received at 1300; tf stamped 2000 ahead until,
    received at 1300 too, it is stamped 500: the images jumped at that very receive time, so
    the tf run is not joined to the next (the reference's run at 1300 is its new one)."""
    c = _RunCounter()
    for stamp, bag in [(1000, 1000), (1100, 1100), (1200, 1200), (500, 1300), (600, 1400),
                       (700, 1500)]:
        c.note("img", stamp, bag)
    for stamp, bag in [(3050, 1050), (3150, 1150), (500, 1300), (600, 1400), (700, 1500)]:
        c.note("tf", stamp, bag)
    c.finish(reference="img")
    assert [c.run("img", o) for o in range(6)] == [1, 1, 1, 2, 2, 2]
    assert [c.run("tf", o) for o in range(5)] == [1, 1, 2, 2, 2]


def test_a_short_jump_after_a_long_one_is_compared_within_its_own_run():
    """Stamps 10000 .. 10700, a long jump back to 1000 .. 1700 (received 9800 after their
    stamps), then back 300 (received 10100 after): three runs. The receive-time rule looks at
    the run since the long jump, not the first run (whose stamps span backwards to it)."""
    stamps = list(range(10000, 10800, 100)) + list(range(1000, 1800, 100)) \
        + list(range(1500, 2000, 100))
    received = list(range(10000, 11500 + 1, 100)) + list(range(11600, 12100, 100))
    assert run_labels(stamps, received=received) == [1] * 8 + [2] * 8 + [3] * 5


def test_received_counts_the_messages_received_at_the_same_time_before_one():
    """`_RunCounter.received`: (receive time, how many messages of the stream before it share
    that time), from the stream's first message on."""
    c = _RunCounter()
    for stamp, bag in [(100, 1000), (200, 1000), (300, 1000), (400, 1100)]:
        c.note("img", stamp, bag)
    c.finish(reference="img", keep_received=("img",))
    assert [c.received("img", o) for o in range(4)] == [(1000, 0), (1000, 1), (1000, 2),
                                                       (1100, 0)]


def test_a_repeated_stamp_needs_most_of_a_step_after_it_and_its_own_receive_half_a_step_late():
    """Stamps 0 .. 700, 700 repeated at ordinal 8, then 800 .. 1000. The offsets after raised by
    60 (0.6 of the 100 step: as much receive jitter does) are no reset, by 90 they are
    (`REPEAT_RISE`); with them raised by 100, the repeat itself received 40 after the first 700
    (a duplicate within jitter) is none, 60 after it is one. The step is of rising stamps
    (200 among steps 0, 200, 0, not their median 0)."""
    stamps = [100 * k for k in range(8)] + [700, 800, 900, 1000]

    def went_back(own, rise):
        received = stamps[:8] + [700 + own] + [s + rise for s in stamps[9:]]
        return clock_went_back(stamps, received, 0, 8, 700, 4)

    assert not went_back(100, 60) and went_back(100, 90)
    assert not went_back(40, 100) and went_back(60, 100)
    # a clock ticking at every other message: steps 0, 200, 0 before a third 400; raised by 120
    # after it, no reset (120 < 0.75 * 200), by 160 one; the zero steps (median 0) would
    # have taken any rise
    coarse = [0, 0, 200, 200, 400, 400, 400, 600, 600, 800]
    for rise, reset in ((120, False), (160, True)):
        received = coarse[:6] + [400 + 150] + [s + rise for s in coarse[7:]]
        assert clock_went_back(coarse, received, 0, 6, 400, 4) is reset, rise


def test_a_stamp_repeated_where_the_window_has_no_rising_step_says_nothing():
    """Stamps 0 .. 300, then 300 four more times recorded with it (a stalled driver's frame
    received together): at the fifth 300 the window before it has no rising step to measure a
    reset by, so the receive times say nothing and the stream stays one run (a reset was
    found there, splitting the stream at a repeat recorded with its original)."""
    stamps = [0, 100, 200, 300, 300, 300, 300, 300, 400, 500, 600]
    assert not clock_went_back(stamps, stamps, 0, 7, 300, 4)
    assert run_labels(stamps, received=stamps) == [1] * 11


def test_a_ratio_needs_three_rising_steps_and_every_span_rising():
    """Receive times at 2x the stamps: two consecutive differences (windows of two
    messages) are too few to take a ratio from; nor is one taken when the window after the
    drop has no rising stamps to check it over (all four repeat one stamp)."""
    stamps = [100 * k for k in range(8)]
    received = [2 * s for s in stamps]
    assert receive_ratio(stamps, received, 0, range(1, 3), range(4, 6)) is None
    assert receive_ratio(stamps, received, 0, range(0, 3), range(4, 7)) == (2, 0.0)
    flat = [100 * k for k in range(8)] + [300] * 5
    assert receive_ratio(flat, [200 * k for k in range(13)], 0, range(4, 8),
                         range(9, 13)) is None


def test_the_ratio_spread_counts_the_window_after_the_drop_too():
    """Receive times 200 a frame (2x), but 260, 80, 260 in the window after the drop: that
    window spans its stamps at 2 but its steps are 30-60 % off it, so no ratio is taken
    (the spread gate saw the window before alone)."""
    stamps = [100 * k for k in range(12)] + [900, 1200, 1300, 1400, 1500]
    steps = [200] * 14 + [260, 80, 260]
    received = [sum(steps[1:k + 1]) for k in range(17)]
    assert receive_ratio(stamps, received, 0, range(8, 12), range(13, 17)) is None


def test_a_rising_stamp_received_later_than_the_one_before_is_no_reset():
    """Stamps 0 .. 1100 rising, received at their stamps and 100 later from 800 on (the
    transport's latency rose by a period): nothing went back, one run (only a stamp at or
    below the top asks the receive times)."""
    stamps = [100 * k for k in range(12)]
    assert run_labels(stamps, received=stamps[:8] + [s + 100 for s in stamps[8:]]) == [1] * 12


def test_a_run_stamped_ahead_whose_drop_comes_after_the_last_image_joins_the_next():
    """The tf run stamped 2000 ahead drops onto the images' clock at 1600, received after the
    last image (1500): the reference message nearest in time is the one before it (none
    after), so the drop is measured against the images' clock and the run joins."""
    ref = list(range(1000, 1600, 100))
    labels = join_stamped_ahead([1050, 1150, 1600, 1700], [3050, 3150, 1600, 1700], [1, 1, 2, 2],
                                ref, [1] * len(ref), ref)
    assert labels == [1, 1, 1, 1]


def test_a_third_copy_of_the_top_is_timed_from_the_copy_before_it_not_the_first():
    """A run holding two copies of its top stamp T received 60 apart (over half the 100 step: a
    stalled driver's re-send, kept in the run as the offsets after it rise only 75, not past
    `REPEAT_RISE` steps), then a third copy received 30 after the second (recorded twice): it
    repeats the copy just before it, so it stays in the run. Timed from the first copy (90
    apart, with the offsets after it raised 85) it started a run of its own (a mutation that
    no test killed)."""
    n = 200
    stamps = [100 * k for k in range(n)]
    top = stamps[-1]
    stamps += [top, top, top + 100, top + 200, top + 300, top + 400, top + 500]
    offsets = [10] * n + [70, 100, 40, 70, 120, 200, 200]
    received = [s + o for s, o in zip(stamps, offsets)]
    assert not clock_went_back(stamps, received, 0, n, top, 4)  # the re-send stays: reachable
    assert not clock_went_back(stamps, received, 0, n + 1, top, 4)
    assert set(run_labels(stamps, 4, received)) == {1}
