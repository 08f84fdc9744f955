"""Pins from mutation audit 06j on replay/rosbag/unstamped.py's warn_unreceived and the odd-image
naming both warnings share: bag receive times that are fine say nothing, exactly half odd is
'most' (the bag's doing, not named one by one), fewer are named, the first five and how many
more."""

from __future__ import annotations

import logging

from mast3r_ros.replay.rosbag.unstamped import warn_unreceived, warn_unstamped

S = 1_000_000_000


def _warnings(caplog, call, stamps, **kw):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        call("bag.db3", stamps, "localize", **kw)
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_rising_receive_times_say_nothing(caplog):
    # no time 0 nor repeat: nothing to warn of (the return on neither odd kind)
    assert _warnings(caplog, warn_unreceived, [1 * S, 2 * S, 3 * S, 4 * S]) == []
    # rebased to 0 and rising: no warning either
    assert _warnings(caplog, warn_unreceived, [0, 1 * S, 2 * S, 3 * S]) == []


def test_half_odd_receive_times_are_the_bags_doing(caplog):
    # 2 of 4 at receive time 0: at least half, so the bag's doing, no image named
    said = _warnings(caplog, warn_unreceived, [1 * S, 0, 3 * S, 0])
    assert len(said) == 1
    assert "2 of 4 images have receive time 0" in said[0]
    assert "(image " not in said[0]
    assert "trajectory.tum's stamps are not the images' times" in said[0]


def test_one_odd_receive_time_of_three_is_named(caplog):
    said = _warnings(caplog, warn_unreceived, [1 * S, 0, 3 * S])
    assert len(said) == 1
    assert "1 of 3 images have receive time 0 (image 2 at t=0.000000 s)" in said[0]
    assert "each is read at that time" in said[0]


def _odd_at(places, n=20):
    return [0 if i in places else (i + 1) * S for i in range(n)]


def test_five_odd_images_are_all_named_and_no_more(caplog):
    said = _warnings(caplog, warn_unreceived, _odd_at({1, 3, 5, 7, 9}))
    assert len(said) == 1
    assert ("(image 2 at t=0.000000 s, image 4 at t=0.000000 s, image 6 at t=0.000000 s, "
            "image 8 at t=0.000000 s, image 10 at t=0.000000 s)") in said[0]
    assert "more" not in said[0]


def test_six_odd_images_name_five_and_one_more(caplog):
    for call in (warn_unreceived, warn_unstamped):
        said = _warnings(caplog, call, _odd_at({1, 3, 5, 7, 9, 11}))
        assert len(said) == 1
        assert ("image 2 at t=0.000000 s, image 4 at t=0.000000 s, image 6 at t=0.000000 s, "
                "image 8 at t=0.000000 s, image 10 at t=0.000000 s and 1 more") in said[0]
        assert "image 12 at" not in said[0]
