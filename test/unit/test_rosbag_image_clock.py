"""Images stamped by another clock than /tf (`rosbag.clock_offset`): a RealSense with
global_time_enabled false (time since the camera booted), a camera on a computer whose clock is
not synchronised, a simulator's images in sim time against a wall-clock tf. Bags are written with
rosbags, receive times as a recorder on the tf computer gives them."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import BASE_FROM_CAM, MS, S, camera_info, pose, tf_message  # noqa: E402
from test_rosbag_values import bag_of, colour, depth16  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.rosbag.clock_offset import image_clock_offset  # noqa: E402

EPOCH = 1_765_000_000 * S  # the recorder's and tf's clock: ROS time, epoch seconds


def clock_bag(tmp_path, image_clock, latency=30 * MS, rate=1.0, tf_clock=None):
    """8 images at 10 Hz (colour, depth, CameraInfo) stamped ``image_clock(t)`` for an exposure
    at epoch time t, received ``latency`` later; map -> base_link at 20 Hz from 1.5 s before
    the first, stamped ``tf_clock(t)`` (default t), received 1 ms later. ``rate``: receive time
    advances this much per second of stamps (a simulation recorded at 0.5x: ``image_clock``
    and tf both in sim time)."""
    msgs = [("/tf_static", EPOCH - S, tf_message([("base_link", "camera_optical", 0,
                                                   BASE_FROM_CAM)]))]
    for k in range(8):
        t = EPOCH + k * 100 * MS
        st, rx = image_clock(t), EPOCH + round((k * 100 * MS) * rate) + latency
        msgs += [("/cam/image", rx, colour(st)), ("/cam/camera_info", rx, camera_info(st)),
                 ("/cam/depth", rx + MS, depth16(st, 1000))]
    for k in range(-30, 17):
        t = EPOCH + k * 50 * MS - 25 * MS
        moved = pose([0, 0, 0], [0.1 * k, 0.0, 0.0])
        stamp = (tf_clock or (lambda t: t))(t) if rate == 1.0 else image_clock(t)
        msgs.append(("/tf", EPOCH + round((t - EPOCH) * rate) + MS,
                     tf_message([("map", "base_link", stamp, moved)])))
    return bag_of(tmp_path, sorted(msgs, key=lambda m: m[1]))


def read(tmp_path, caplog, image_clock, **kw):
    """(the warnings said, no_pose_reason, frames posed) of `clock_bag`'s bag read with
    --pose-frames map:camera_optical."""
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(clock_bag(tmp_path, image_clock, **kw), depth_topic="/cam/depth",
                          pose_frames="map:camera_optical")
        frames = list(seq)
    said = [r.getMessage() for r in caplog.records if "different clocks" in r.getMessage()]
    return said, seq.no_pose_reason, sum(f.map_from_cam is not None for f in frames)


BOOT = ("count from near 0 while tf is in epoch (ROS) time", "time since boot",
        "global_time_enabled false", "Spinnaker", "sim time", "global_time_enabled: true",
        "same use_sim_time")
UNSYNCED = ("unsynchronised clocks (no chrony/PTP)", "global_time_enabled false",
            "synchronise the computers (chrony, PTP)", "global_time_enabled: true")


@pytest.mark.parametrize("name, image_clock, offset, words", [
    ("realsense hardware clock", lambda t: t - EPOCH + 3725 * S, "20428.2 days behind", BOOT),
    ("computer 42.5 s behind", lambda t: t - 42_500 * MS, "42.529 s behind", UNSYNCED),
    ("sim time against wall-clock tf", lambda t: t - EPOCH + 120 * S, "20428.2 days behind",
     BOOT),
    ("computer 3 h ahead", lambda t: t + 3 * 3600 * S, "3.0 h ahead of", UNSYNCED),
])
def test_images_on_another_clock_than_tf_are_said_so_with_the_offset_cause_and_fix(
        tmp_path, caplog, name, image_clock, offset, words):
    """Every frame had no pose, and the reason was a tf extrapolation range ('not available at
    t=1764999957.5 s: it is known from 1765000000.0 s ...'), the clocks named only when a day
    apart and without the cause. Now one warning, and the reason leads with it: different
    clocks, the offset measured from the receive times, the likely cause by which clock counts
    from near 0 (RealSense global_time_enabled, unsynchronised computers), the fix."""
    said, reason, posed = read(tmp_path, caplog, image_clock)
    assert posed == 0
    assert len(said) == 1, said
    assert f"the image stamps are {offset} the tf clock (map -> base_link), measured from the " \
           "bag's receive times" in said[0]
    for w in words:
        assert w in said[0], w
    assert reason.startswith(f"{said[0]}; transform map -> base_link is not available")
    # the tf range's own '>1 day: different clocks ... have the driver stamp with ROS time'
    # repeated what the note had just said, in other words: the clocks are named once
    assert reason.count("different clocks") == 1 and "days before its first" not in reason


def test_tf_in_sim_time_against_images_in_ros_time_names_use_sim_time(tmp_path, caplog):
    """The other way round: tf from a node on sim time, the camera on ROS time."""
    said, _, posed = read(tmp_path, caplog, lambda t: t, tf_clock=lambda t: t - EPOCH + 50 * S)
    assert posed == 0 and len(said) == 1 and "20428.2 days ahead of the tf clock" in said[0]
    assert "tf counts from near 0 (sim time" in said[0] and "same use_sim_time" in said[0]


def test_images_a_few_seconds_off_tf_are_said_so_though_they_get_poses(tmp_path, caplog):
    """1.2 s behind, inside the tf's span: every frame took a pose 1.2 s away from its time
    without a word (the map check, when it caught it, blamed the pose convention)."""
    said, reason, posed = read(tmp_path, caplog, lambda t: t - 1_200 * MS)
    assert posed == 8 and len(said) == 1 and "1.229 s behind the tf clock" in said[0]


@pytest.mark.parametrize("latency, rate", [(30 * MS, 1.0), (400 * MS, 1.0), (-5 * MS, 1.0),
                                           (30 * MS, 0.5)])
def test_images_on_tf_s_clock_are_not_said_to_be_on_another(tmp_path, caplog, latency, rate):
    """The images' latency (tens of ms; 400 ms on a slow link; a recorder stamping a hair before
    the stamp) and a simulation in sim time recorded at 0.5x (receive time minus stamp grows
    for both streams) are one clock: nothing said, every frame posed."""
    said, reason, posed = read(tmp_path, caplog, lambda t: t, latency=latency, rate=rate)
    assert said == [] and reason is None and posed == 8


def test_the_offset_is_taken_from_the_edge_on_the_images_clock():
    """An arm edge on its own clock beside map -> base_link on the images': the nearest
    clock, not the first edge's, is compared; unstamped images and tf received far from
    every image say nothing."""
    img = np.arange(10) * 100 * MS + EPOCH
    rx = img + 30 * MS
    tf = {("base_link", "arm"): (img - 50 * S, img + MS), ("map", "base_link"): (img, img + MS)}
    found = image_clock_offset(img, rx, tf)
    assert found.edge == ("map", "base_link") and found.offset == 29 * MS
    assert (found.image_offset, found.tf_offset) == (30 * MS, MS)
    assert image_clock_offset(np.zeros(10, np.int64), rx, tf) is None
    # receive times made up (a bag written with the messages' ordinals, or all 0): no measure
    assert image_clock_offset(img, np.arange(10), tf) is None
    assert image_clock_offset(img, rx, {("map", "b"): (img, np.zeros(10, np.int64))}) is None
    assert image_clock_offset(img, rx, {("map", "b"): (img, img + 60 * S)}) is None  # > 5 s


def test_localize_s_closing_note_gives_the_bag_s_reason_not_pass_pose_frames(tmp_path, caplog):
    """localize --pose-frames on such a bag ended 'no frame was evaluated against ground truth
    (none covers their stamps): ... or, for a rosbag2 with /tf, --pose-frames map:CAMERA_FRAME',
    the option already given; now it is the bag's reason, the clocks first."""
    import argparse

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(clock_bag(tmp_path, lambda t: t - 42_500 * MS),
                          depth_topic="/cam/depth", pose_frames="map:camera_optical")
        list(seq)
    args = argparse.Namespace(pose_frames="map:camera_optical", pose_topic=None, groundtruth=None)
    note = no_groundtruth_hint(seq, args)
    assert note.startswith("no frame was evaluated against ground truth: ") and (
        "stamped by different clocks: the image stamps are 42.529 s behind" in note), note


def test_a_map_check_failure_names_the_clocks_of_a_bag_on_two(tmp_path, caplog):
    """1.2 s apart, frames got poses at the wrong time and build-map's map check failed with
    'likely cause: no pose convention or depth scale explains it; fix: check the poses (frame,
    direction, quaternion order)'; the bag's clock note now follows it."""
    from mast3r_ros.core.map_check import MapConsistencyError
    from mast3r_ros.replay.pipeline import check_consistency

    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(clock_bag(tmp_path, lambda t: t - 1_200 * MS),
                          depth_topic="/cam/depth", pose_frames="map:camera_optical")
    assert "1.229 s behind the tf clock" in seq.other_clock

    class Failing:  # a failing check's report (`ConsistencyReport.settle` raises)
        def report(self, records, **_):
            return self

        def settle(self, force, log, flag):
            raise MapConsistencyError("map inconsistent: keyframes 0-2 disagree")

    class Writer:
        def keyframe_records(self):
            return []

    with pytest.raises(MapConsistencyError) as err:
        check_consistency(Writer(), Failing(), None, False, other_clock=seq.other_clock)
    assert str(err.value) == f"map inconsistent: keyframes 0-2 disagree; but first: " \
                             f"{seq.other_clock}"
    with pytest.raises(MapConsistencyError, match="disagree$"):  # one clock: as it was
        check_consistency(Writer(), Failing(), None, False)


def test_build_map_hands_the_bags_clock_note_to_its_map_check(tmp_path, monkeypatch):
    """build-map, poses from the bag's tf, passes the bag's note to the map check, which adds it
    to a failure (the test above called the check with the note itself)."""
    seq = BagSequence(clock_bag(tmp_path, lambda t: t - 1_200 * MS), depth_topic="/cam/depth",
                      pose_frames="map:camera_optical")
    given = clock_notes_handed(seq, tmp_path, monkeypatch)
    assert given == [seq.other_clock] and "1.229 s behind the tf clock" in given[0]


def clock_notes_handed(seq, tmp_path, monkeypatch, trajectory=None) -> list:
    """The ``other_clock`` notes sift build-map hands its map check for ``seq`` (the build stops
    there: nothing else runs)."""
    import dataclasses

    from mast3r_ros.core.config import Config
    from mast3r_ros.replay import pipeline

    given = []

    class Stop(Exception):
        pass

    def check_consistency(w, check, units, force, pose_suspect=None, other_clock="",
                          skipped=()):
        given.append(other_clock)
        raise Stop

    monkeypatch.setattr(pipeline, "check_consistency", check_consistency)
    cfg = Config()
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))
    with pytest.raises(Stop):
        pipeline.build_map(seq, str(tmp_path / "map"), cfg, trajectory=trajectory)
    return given
