"""A bag whose first image is really stamped 0 (a dataset whose clock starts at t=0) was
warned about as an odd message 'unstamped by a relay' that 'is localized' -- during build-map
too, which localizes nothing. Only the first at 0 with the rest rising from it is now one INFO
line; an odd zero-stamped image among epoch stamps is still warned about, in the words of the
command reading it."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import MS, camera_info  # noqa: E402
from test_rosbag_values import bag_of, colour  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.rosbag.unstamped import warn_unreceived, warn_unstamped  # noqa: E402


def _said(caplog, level=logging.WARNING):
    return [r.getMessage() for r in caplog.records if r.levelno >= level
            and "stamp" in r.getMessage()]


def test_a_bag_starting_at_t0_blames_no_relay(tmp_path, caplog):
    stamps = [100 * k for k in range(0, 8)]  # 0, 0.1, ... 0.7 s
    msgs = [("/cam/camera_info", 0, camera_info(0))]
    msgs += [("/cam/image", t * MS + 1, colour(t * MS)) for t in stamps]
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, sorted(msgs, key=lambda m: m[1])),
                          command="build-map")
    assert len(seq) == 8
    assert _said(caplog) == []  # no warning
    info = _said(caplog, logging.INFO)
    assert len(info) == 1 and "starts at 0" in info[0] and "localized" not in info[0]


@pytest.mark.parametrize("command, says, not_says", [
    ("build-map", "keyframe candidate", "localized"),
    ("localize", "localized as a frame", "keyframe"),
    (None, "read as a frame", "localized"),
])
def test_an_odd_zero_stamp_is_worded_for_the_command(caplog, command, says, not_says):
    epoch = 1_700_000_000 * 10**9
    stamps = [epoch + k * 10**8 for k in range(10)]
    for odd in ([0] + stamps[1:], stamps[:5] + [0] + stamps[6:]):  # first, or in the middle
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="mast3r_ros"):
            warn_unstamped("bag", odd, command)
        said = _said(caplog)
        assert len(said) == 1 and "relay" in said[0] and says in said[0], said
        assert not_says not in said[0]
    # a first stamp 0 then a rise larger than the rest's steps: still odd
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        warn_unstamped("bag", [0, 10**9, 10**9 + 10**8, 10**9 + 2 * 10**8], command)
    assert len(_said(caplog)) == 1


@pytest.mark.parametrize("command, says, not_says", [
    ("build-map", "the map's keyframe poses", "trajectory's stamps"),
    ("localize", "trajectory.tum's stamps", "keyframe"),
    (None, "no pose or ground truth", "trajectory"),
])
def test_mostly_unstamped_images_name_what_the_command_produces(caplog, command, says,
                                                                not_says):
    """Half the images stamped 0 said 'the trajectory's stamps are not the images' times'
    during build-map too, which writes no trajectory: there the poses it looks up at those
    stamps, and so the map's keyframe poses, are what is wrong."""
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        warn_unstamped("bag", [0, 0, 10**9, 0], command)
    said = _said(caplog)
    assert len(said) == 1 and "does not stamp" in said[0] and says in said[0], said
    assert not_says not in said[0], said


def test_a_driver_that_stamps_0_is_told_of_image_stamp_receive(tmp_path, caplog):
    """Every image stamped 0 (a driver that never stamps) was told only 'fix the header.stamp
    where the images are published' offline, while --image-stamp receive reads such a bag at
    its receive times (the node names its image_stamp: receive the same way); the run's note
    said only 'fix the camera driver's header.stamp'. Read at receive times, nothing is warned."""
    import types

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    msgs = [("/cam/camera_info", 1, camera_info(0))]
    msgs += [("/cam/image", 10**9 + k * 10**8, colour(0)) for k in range(6)]
    bag = bag_of(tmp_path, msgs)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(bag, command="localize", option_names={"image_stamp": "--image-stamp"})
    (said,) = _said(caplog)
    assert "6 of 6 images have header stamp 0" in said
    assert said.endswith("fix the header.stamp where the images are published, or read this "
                         "bag with --image-stamp receive (each image's time is then when it "
                         "arrived, later than the exposure by the transport latency: tens of "
                         "ms, more for large images over a network)"), said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(bag, command="localize", image_stamp="receive")
    assert not [m for m in _said(caplog) if "header stamp 0" in m]
    note = no_groundtruth_hint(types.SimpleNamespace(stamps_ns=[0, 0]), types.SimpleNamespace())
    assert note.endswith("fix the camera driver's header.stamp, or read this bag at its "
                         "receive times (--image-stamp receive)"), note


def test_receive_times_of_0_blame_the_bag_and_offer_header_stamps(tmp_path, caplog):
    """A bag read with --image-stamp receive whose receive times are all 0 (converted or
    rewritten without its recorder's times) was told '6 of 6 images have header stamp 0: the
    camera driver does not stamp its images ... fix the header.stamp', of header stamps that
    were fine; the note blamed the driver too. The bag's times are named, and the remedy is the
    header stamps."""
    import types

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    msgs = [("/cam/camera_info", 0, camera_info(10**9))]
    msgs += [("/cam/image", 0, colour(10**9 + k * 10**8)) for k in range(6)]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs), command="localize", image_stamp="receive",
                          option_names={"image_stamp": "--image-stamp"})
    (said,) = _said(caplog)
    assert "have header stamp 0" not in said and "driver" not in said, said
    assert said.startswith(f"rosbag2 {tmp_path / 'bag'}: 6 of 6 images have receive time 0 "
                           "while the images are read at the bag's receive times "
                           "(--image-stamp receive): "), said
    assert said.endswith("so trajectory.tum's stamps are not the images' times and no ground "
                         "truth can be matched to them; read the images' header stamps "
                         "instead (--image-stamp header)"), said
    note = no_groundtruth_hint(seq, types.SimpleNamespace())
    assert note.endswith("every image has receive time 0 in this bag, so no ground truth "
                         "(--groundtruth, /tf) can be matched to it; read the images' header "
                         "stamps instead (--image-stamp header)"), note
    # one receive time repeated among rising ones: named, as the bag's odd message
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        warn_unreceived("bag", [10**9, 2 * 10**9, 2 * 10**9, 3 * 10**9], "build-map", "x")
    (said,) = _said(caplog)
    assert said.startswith("bag: 1 of 4 images repeat the previous image's receive time "
                           "(image 3 at t=2.000000 s) while "), said
    assert "each is read at that time; read the images' header stamps instead (x header)" in said
