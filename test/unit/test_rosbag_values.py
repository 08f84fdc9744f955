"""The rosbag2 reader's association rules checked against hand-worked values: CameraInfo at or
before an image, depth shared by images and sorted by stamp, run boundaries, tf frame names and
gaps, topic choice and the constructor's argument checks. Tiny mcap bags, as test_rosbag.py
writes them."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (  # noqa: E402
    BASE_FROM_CAM, MS, RGB, S, H, T, W, camera_info, compressed, image, pose, tf_message,
    write_bag,
)

from mast3r_ros.core.config import PoseAtStampConfig  # noqa: E402
from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence, run_labels  # noqa: E402

MCAP = StoragePlugin.MCAP
MAP_FROM_BASE = pose([0, 0, 0.2], [1.0, 2.0, 0.0])
INTR = CameraIntrinsics(W, H, np.array([[10.0, 0, 3.5], [0, 10.0, 2.5], [0, 0, 1]]))


def bag_of(tmp_path, msgs, name="bag"):
    """msgs (topic, bag_time_ns, msg) written in the given order (their bag times ascending)."""
    return write_bag(tmp_path / name, MCAP, msgs)


def colour(t, frame_id="camera_optical"):
    return image(t, "rgb8", RGB, frame_id=frame_id)


def depth16(t, mm):
    return image(t, "16UC1", np.full((H, W), mm, np.uint16))


# ---- runs ----------------------------------------------------------------------------------------

def test_run_labels_look_exactly_run_lookahead_messages_ahead():
    """RUN_LOOKAHEAD is 4: a stamp below the top is a reordered message when one of the next 4
    climbs above the top (50 followed by 51, 52, 53, 101: the 4th climbs), a reset when none of
    them does (50 followed by 51 ... 54, and 101 only 5th). Climbing means strictly above: 12
    after 9 under a top of 12 does not."""
    from mast3r_ros.replay.rosbag import RUN_LOOKAHEAD

    assert RUN_LOOKAHEAD == 4
    assert run_labels([0, 100, 50, 51, 52, 53, 101]) == [1] * 7
    assert run_labels([0, 100, 50, 51, 52, 53, 54, 101]) == [1, 1, 2, 2, 2, 2, 2, 2]
    assert run_labels([10, 12, 9, 12]) == [1, 1, 2, 2]
    assert run_labels([0, 100, 50, 101], lookahead=1) == [1, 1, 1, 1]
    assert run_labels([0, 100, 50, 51, 101], lookahead=1) == [1, 1, 2, 2, 2]


def test_the_run_warning_names_each_runs_stamps_and_the_jumps(tmp_path, caplog):
    """Images stamped 1.0, 1.1, 1.2 s, then (clock reset) 0.5, 0.6 s, then 0.2 s... three runs
    of 3, 2 and 1 images: runs (count, first, last stamp), jumps said as '2 times', run 1 read."""
    stamps = [1000, 1100, 1200, 500, 600, 200]
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", 1 + k, colour(t * MS)) for k, t in enumerate(stamps)]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs))
    assert seq.runs == [(3, 1000 * MS, 1200 * MS), (2, 500 * MS, 600 * MS), (1, 200 * MS, 200 * MS)]
    assert seq.run == 1 and seq.stamps_ns.tolist() == [1000 * MS, 1100 * MS, 1200 * MS]
    (warn,) = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert "jumps back 2 times" in warn and "holds 3 runs" in warn
    assert ("(1: 3 images t=1.000..1.200 s, 2: 2 images t=0.500..0.600 s, "
            "3: 1 images t=0.200..0.200 s)") in warn
    assert warn.endswith("(to map every run: build-map each with --run N, then join the maps "
                         "with merge-maps)")
    last = BagSequence(bag_of(tmp_path, msgs, "again"), run=3)
    assert last.stamps_ns.tolist() == [200 * MS]
    with pytest.raises(InputError, match=r"has 3 runs \(its images' header time jumps back\): "
                                         r"choose --run 1\.\.3$"):
        BagSequence(bag_of(tmp_path, msgs, "four"), run=4)


def test_the_run_warning_of_localize_says_how_to_localize_every_run(tmp_path, caplog):
    """`localize` on a bag whose clock was reset (bag-time-jump's sim_reset_bag as the query)
    told the user how to *map* every run (build-map each, merge-maps); it says how to localize
    each run now. build-map's wording is unchanged."""
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", 1 + k, colour(t * MS)) for k, t in enumerate([1000, 1100, 500, 600])]
    said = {}
    for command in ("localize", "build-map"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
            BagSequence(bag_of(tmp_path, msgs, command), command=command)
        (said[command],) = [r.getMessage() for r in caplog.records
                            if "jumps back" in r.getMessage()]
    assert said["localize"].endswith("(to localize every run: localize each with --run N)")
    assert "build-map" not in said["localize"] and "merge-maps" not in said["localize"]
    assert said["build-map"].endswith("(to map every run: build-map each with --run N, then join "
                                      "the maps with merge-maps)")


def test_a_run_the_bag_does_not_have_is_refused(tmp_path):
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1, colour(S)),
            ("/cam/image", 2, colour(S + 100 * MS))]
    bag = bag_of(tmp_path, msgs)
    assert BagSequence(bag, run=1).stamps_ns.tolist() == [S, S + 100 * MS]
    with pytest.raises(InputError, match=r"--run 2: rosbag2 .* has only one run \(its images' "
                                         r"header time never jumps back\): drop --run$"):
        BagSequence(bag, run=2)


def test_a_camera_started_after_a_reset_reads_the_tf_of_its_own_run(tmp_path, caplog):
    """map -> base_link is published from before a simulator reset: x = 0 at header 0.1..0.4 s
    (bag time 1..4 s), then, after the reset, x = 5 m at the same stamps 0.1..0.4 s (bag 10..13
    s). The camera starts after the reset (bag 11.5 and 12.5 s, stamps 0.15 and 0.25 s): its
    tf is the post-reset one, x = 5 m, not the pre-reset samples at the same stamps (x = 0), and
    the tf before the camera started is said not to be read."""
    before, after = pose([0, 0, 0], [0, 0, 0]), pose([0, 0, 0], [5.0, 0, 0])
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 11 * S, camera_info(100 * MS))]
    msgs += [("/tf", (1 + k) * S, tf_message([("map", "base_link", (k + 1) * 100 * MS, before)]))
             for k in range(4)]
    after_msgs = [("/tf", (10 + k) * S,
                   tf_message([("map", "base_link", (k + 1) * 100 * MS, after)]))
                  for k in range(4)]
    images = [("/cam/image", 11 * S + S // 2, colour(150 * MS)),
              ("/cam/image", 12 * S + S // 2, colour(250 * MS))]
    msgs = sorted(msgs + after_msgs + images, key=lambda m: m[1])
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical",
                          pose_at_stamp=PoseAtStampConfig(max_gap_s=0.5))
        frames = list(seq)
    assert seq.runs == [(2, 150 * MS, 250 * MS)] and seq.run == 1
    assert [f.stamp_ns for f in frames] == [150 * MS, 250 * MS]
    for f in frames:
        np.testing.assert_allclose(f.map_from_cam, after @ BASE_FROM_CAM, atol=1e-9)
    (warn,) = [r.getMessage() for r in caplog.records if "before the first image" in
               r.getMessage()]
    assert "the header time of tf map -> base_link (4 messages up to t=0.400 s) goes back " \
           "before the first image on /cam/image: the messages before that drop are not read " \
           "with the images" in warn and "a clock reset before the camera started" in warn
    assert not [r for r in caplog.records if "jumps back once" in r.getMessage()]


@pytest.mark.parametrize("depth_after_ns", [S // 2, -MS])
def test_a_depth_stream_started_after_a_reset_serves_the_run_after_it(tmp_path, caplog,
                                                                     depth_after_ns):
    """Images stamped 0.5, 0.6, 0.7, 2.0 s (bag 1..4 s), a reset, then 0.5 .. 0.9 s (bag 10..14
    s); depth (2000 mm) only after the reset, at those stamps, received 0.5 s after its image
    or 1 ms before it (bag 9.999 s: before the first image of run 2, yet its receive time minus
    stamp, 9.499 s, is run 2's 9.5 s, not run 1's 2.0 s). Run 2 (5 images, the longest) has
    depth 2.0 m at every image; run 1 has none: the post-reset depth at the same stamps (0.5,
    0.6, 0.7 s) is not its depth."""
    msgs = [("/cam/camera_info", 0, camera_info(100 * MS))]
    msgs += [("/cam/image", (1 + k) * S, colour(t * MS)) for k, t in enumerate([500, 600, 700,
                                                                                 2000])]
    for k in range(5):
        msgs.append(("/cam/image", (10 + k) * S, colour((500 + k * 100) * MS)))
        msgs.append(("/depth", (10 + k) * S + depth_after_ns,
                     depth16((500 + k * 100) * MS, 2000)))
    bag = bag_of(tmp_path, sorted(msgs, key=lambda m: m[1]))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, depth_topic="/depth")
    assert seq.run == 2 and [c for c, _, _ in seq.runs] == [4, 5]
    # the one CameraInfo (bag time 0, run 1) serves run 2 too, said in a warning
    (warn,) = [r.getMessage() for r in caplog.records if "no CameraInfo" in r.getMessage()]
    assert "no CameraInfo on /cam/camera_info in the run read; using the last one" in warn
    assert "t=0.100 s" in warn
    frames = list(seq)
    assert len(frames) == 5 and all(np.all(f.depth_m == 2.0) for f in frames)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        first = BagSequence(bag, depth_topic="/depth", run=1)
    assert not [r for r in caplog.records if "no CameraInfo" in r.getMessage()]
    frames = list(first)
    assert len(frames) == 4 and all(f.depth_m is None for f in frames)
    assert "no depth on /depth" in first.no_depth_reason()


def images_posed_in_one_run(tmp_path, caplog, tf_times, extra=()):
    """Images at 1.0 .. 1.5 s (received at their stamps) and map -> base_link (a 2 m move)
    recorded at ``tf_times`` ((stamp ms, bag receive ms) each), with the messages ``extra``
    besides: every image is read in one run and posed by that transform. Returns the log
    records (WARNING and above)."""
    moved = pose([0, 0, 0], [2.0, 1.0, 0.0])
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    msgs += [("/cam/image", S + k * 100 * MS, colour(S + k * 100 * MS)) for k in range(6)]
    msgs += [("/tf", b * MS + 2, tf_message([("map", "base_link", t * MS, moved)]))
             for t, b in tf_times]
    msgs += list(extra)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, sorted(msgs, key=lambda m: m[1])),
                          pose_frames="map:camera_optical",
                          pose_at_stamp=PoseAtStampConfig(max_gap_s=0.5))
        frames = list(seq)
    assert seq.runs == [(6, S, S + 500 * MS)] and len(frames) == 6
    for f in frames:
        np.testing.assert_allclose(f.map_from_cam, moved @ BASE_FROM_CAM, atol=1e-9)
    return caplog.records


def test_a_tf_edge_whose_own_clock_jumps_does_not_split_the_images(tmp_path, caplog):
    """Images at 1.0 .. 1.5 s (bag = stamp), one run. An arm driver restarted with its own clock
    publishes base_link -> arm at 1.0, 1.1, 1.2 s, then 0.1 .. 0.5 s (bag 1.25 .. 1.45 s); the
    localizer's map -> base_link starts after that jump (bag 1.26 s, stamps 0.95, 1.25, 1.55 s).
    The images are one run, every one posed by map -> base_link, and nothing is said about runs
    (a regression reviewer's bag: the arm's jump, the most jumps of any stream, had defined the
    runs and put map -> base_link in a run 2 the images never had)."""
    arm = [1000, 1100, 1200, 100, 200, 300, 400, 500]
    arm_bag = [1000, 1100, 1200, 1250, 1300, 1350, 1400, 1450]
    records = images_posed_in_one_run(
        tmp_path, caplog, [(950, 1260), (1250, 1270), (1550, 1560)],
        [("/tf", b * MS + 1, tf_message([("base_link", "arm", t * MS, np.eye(4))]))
         for t, b in zip(arm, arm_bag)])
    assert not [r for r in records if "jumps back" in r.getMessage()]


def test_unstamped_images_of_another_run_are_not_warned_about(tmp_path, caplog):
    """Run 1: images at 1.0, 1.1, 1.2 s; run 2: two images stamped 0. Run 1 (the longer) is
    read, and none of its images is unstamped: no 'does not stamp' warning."""
    msgs = [("/cam/camera_info", 0, camera_info(0))]
    msgs += [("/cam/image", 1 + k, colour(t)) for k, t in enumerate([S, S + 100 * MS,
                                                                     S + 200 * MS, 0, 0])]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs))
    assert seq.run == 1 and [c for c, _, _ in seq.runs] == [3, 2]
    assert not [r for r in caplog.records if "does not stamp" in r.getMessage()]


# ---- poses from tf -------------------------------------------------------------------------------

def tf_bag(tmp_path, image_frame="camera_optical", tf_static_topic="/tf_static",
           names=("map", "base_link", "camera_optical"), name="bag"):
    """map -> base_link on /tf at 0.9 and 1.1 s (the same pose), base_link -> camera_optical on
    ``tf_static_topic``; one image at 1.0 s in ``image_frame``."""
    m, b, c = names
    msgs = [(tf_static_topic, 0, tf_message([(b, c, 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    msgs += [("/tf", 2 + k, tf_message([(m, b, t, MAP_FROM_BASE)]))
             for k, t in enumerate([900 * MS, 1100 * MS])]
    msgs.append(("/cam/image", 10, colour(S, frame_id=image_frame)))
    rule = PoseAtStampConfig(max_gap_s=0.5)
    return bag_of(tmp_path, msgs, name), rule


@pytest.mark.parametrize("image_frame, names", [
    ("/camera_optical", ("map", "base_link", "camera_optical")),  # a ROS 1 habit in the driver
    ("camera_optical", ("/map", "/base_link", "/camera_optical")),  # ... in the tf publisher
    # every leading '/' goes, as from the tf names: the Frame names the frame its pose is of
    ("//camera_optical", ("map", "base_link", "camera_optical")),
])
def test_leading_slashes_in_frame_names_are_ignored_as_tf2_does(tmp_path, image_frame, names):
    bag, rule = tf_bag(tmp_path, image_frame=image_frame, names=names)
    (frame,) = BagSequence(bag, pose_frames="map", pose_at_stamp=rule)
    np.testing.assert_allclose(frame.map_from_cam, MAP_FROM_BASE @ BASE_FROM_CAM, atol=1e-9)
    (frame,) = BagSequence(bag, pose_frames="/map:/camera_optical", pose_at_stamp=rule)
    np.testing.assert_allclose(frame.map_from_cam, MAP_FROM_BASE @ BASE_FROM_CAM, atol=1e-9)
    assert frame.frame_id == "camera_optical"  # was the header's '/camera_optical'


def test_a_namespaced_tf_static_topic_is_static(tmp_path):
    """A robot's /robot1/tf_static: static for every stamp, not a sample at time 0."""
    bag, rule = tf_bag(tmp_path, tf_static_topic="/robot1/tf_static")
    (frame,) = BagSequence(bag, pose_frames="map:camera_optical", pose_at_stamp=rule)
    np.testing.assert_allclose(frame.map_from_cam, MAP_FROM_BASE @ BASE_FROM_CAM, atol=1e-9)


def test_pose_frames_naming_the_camera_frame_say_where_it_came_from(tmp_path):
    bag, rule = tf_bag(tmp_path)
    with pytest.raises(InputError, match=r"\(the images' frame_id in their headers\), so every"):
        list(BagSequence(bag, pose_frames="camera_optical", pose_at_stamp=rule))
    with pytest.raises(InputError, match=r"\(the images' frame_id\), so every"):
        list(BagSequence(bag, pose_frames="camera_optical:camera_optical", pose_at_stamp=rule))


def test_pose_frames_with_two_colons_and_without_tf_are_refused(tmp_path):
    bag, _ = tf_bag(tmp_path)
    with pytest.raises(InputError, match="pose_frames must be 'parent:child'"):
        BagSequence(bag, pose_frames="map:base_link:camera_optical")
    no_tf = bag_of(tmp_path, [("/cam/camera_info", 0, camera_info(S)),
                              ("/cam/image", 1, colour(S))], "no_tf")
    with pytest.raises(InputError, match="needs tf, but rosbag2 .* has no tf2_msgs/msg/TFMessage"
                       r" topic \(/tf, /tf_static\): drop --pose-frames, pass the camera's poses "
                       "as a TUM trajectory, --trajectory FILE$"):
        BagSequence(no_tf, pose_frames="map")


def raw_tf(parent, child, stamp_ns, t, q):
    """A TFMessage of one TransformStamped with the numbers as given (a driver's glitch)."""
    return T["tf2_msgs/msg/TFMessage"](transforms=[T["geometry_msgs/msg/TransformStamped"](
        header=tf_message([(parent, child, stamp_ns, np.eye(4))]).transforms[0].header,
        child_frame_id=child,
        transform=T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](*map(float, t)),
            rotation=T["geometry_msgs/msg/Quaternion"](*map(float, q))))])


UNIT_Q = Rotation.from_matrix(MAP_FROM_BASE[:3, :3]).as_quat()
ZERO_Q = ([0, 0, 0], [0, 0, 0, 0])


def _tf_warnings(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "invalid t" in r.getMessage()]


def test_one_invalid_tf_sample_is_ignored_with_a_warning_naming_it(tmp_path, caplog):
    """map -> base_link at 1.00, 1.02 (zero quaternion: dropped, as tf2 drops it) and 1.04 s,
    with 1.06 s's quaternion twice its unit length (normalised, as before): every image takes
    its pose, the one at 1.02 s across the gap its sample left; one warning names the edge,
    topic, stamp and receive time, and the end of indexing counts it. Before: the whole bag was
    refused. Without --pose-frames tf is not read: no warning."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    for k, (t, q) in enumerate([(MAP_FROM_BASE[:3, 3], UNIT_Q), ZERO_Q,
                                (MAP_FROM_BASE[:3, 3], UNIT_Q),
                                (MAP_FROM_BASE[:3, 3], 2 * UNIT_Q)]):
        msgs.append(("/tf", (1000 + 20 * k) * MS + 7, raw_tf("map", "base_link",
                                                             (1000 + 20 * k) * MS, t, q)))
    msgs += [("/cam/image", (1000 + 20 * k) * MS + 9, colour((1000 + 20 * k) * MS))
             for k in range(4)]
    bag = bag_of(tmp_path, sorted(msgs, key=lambda m: m[1]))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, pose_frames="map:camera_optical")
        poses = [f.map_from_cam for f in seq]
    assert seq.no_pose_count == 0
    for got in poses:
        np.testing.assert_allclose(got, MAP_FROM_BASE @ BASE_FROM_CAM, atol=1e-9)
    one, count = _tf_warnings(caplog)
    assert ("ignoring an invalid transform map -> base_link on /tf stamped t=1.020000 s "
            "(received at bag time 1.020000 s), as tf2 does: pose quaternion is all zeros") in one
    assert count.endswith("1 invalid tf sample was ignored, as tf2 ignores them (map -> "
                          "base_link: 1, the first stamped t=1.020000 s on /tf (bag time "
                          "1.020000 s))")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert len(list(BagSequence(bag))) == 4
    assert _tf_warnings(caplog) == []


def test_invalid_tf_samples_past_the_first_five_are_counted_not_each_warned(tmp_path, caplog):
    """Eight bad samples (NaN translation, infinite or overflowing or zero quaternion) between
    good ones 10 ms apart: five one-line warnings, then one count of all eight; the images
    keep their poses."""
    bad = [([np.nan, 0, 0], UNIT_Q), ([0, 0, 0], [0, 0, np.inf, 1]),
           ([0, 0, 0], [1e200, 1e200, 0, 0]), ZERO_Q] * 2
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    for k in range(17):
        t, q = bad[k // 2] if k % 2 else (MAP_FROM_BASE[:3, 3], UNIT_Q)
        msgs.append(("/tf", (1000 + 10 * k) * MS, raw_tf("map", "base_link",
                                                         (1000 + 10 * k) * MS, t, q)))
    msgs += [("/cam/image", 2 + k, colour((1005 + 20 * k) * MS)) for k in range(8)]
    bag = bag_of(tmp_path, sorted(msgs, key=lambda m: m[1]))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, pose_frames="map:camera_optical")
    warnings = _tf_warnings(caplog)
    assert len(warnings) == 6
    assert "non-finite" in warnings[0] and "too large to normalise" in warnings[2]
    assert "further ones are counted at the end of indexing" in warnings[4]
    assert "8 invalid tf samples were ignored" in warnings[5] and "map -> base_link: 8" in \
        warnings[5]
    assert all(f.map_from_cam is not None for f in seq) and seq.no_pose_count == 0


def test_a_chain_whose_every_tf_sample_is_invalid_gives_the_no_tf_error_naming_them(tmp_path):
    """The camera mount's only /tf_static sample invalid: its frame is not in the tree, the
    usual error, which now says its sample was ignored; likewise every map -> base_link."""
    msgs = [("/tf_static", 0, raw_tf("base_link", "camera_optical", 0, *ZERO_Q)),
            ("/cam/camera_info", 1, camera_info(S)),
            ("/tf", 2, tf_message([("map", "base_link", S, MAP_FROM_BASE)])),
            ("/cam/image", 3, colour(S))]
    with pytest.raises(InputError, match=r"frame 'camera_optical' is not in the transform tree.*"
                                         r"; 1 invalid tf sample was ignored, as tf2 ignores them "
                                         r"\(base_link -> camera_optical: 1, the first stamped "
                                         r"t=0\.000000 s on /tf_static"):
        list(BagSequence(bag_of(tmp_path, msgs, "static"), pose_frames="map:camera_optical"))
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    msgs += [("/tf", 2 + k, raw_tf("map", "base_link", S + k * MS, [np.nan] * 3, UNIT_Q))
             for k in range(3)]
    msgs.append(("/cam/image", 9, colour(S)))
    with pytest.raises(InputError, match=r"frame 'map' is not in the transform tree.*"
                                         r"3 invalid tf samples were ignored.*map -> base_link: 3"):
        list(BagSequence(bag_of(tmp_path, msgs, "dynamic"), pose_frames="map:camera_optical"))


def test_no_pose_gap_is_the_longest_gap_and_the_reason_a_gap_one(tmp_path):
    """map -> base_link sampled at 1.0, 1.2 and 1.6 s (gaps of 0.2 and 0.4 s, both above the
    default max_gap_s 0.1); images at 0.9 s (before the first sample), 1.1 s (in the 0.2 s gap)
    and 1.4 s (in the 0.4 s gap): three frames without a pose, the longest gap 0.4 s, and the
    reason the first frame's that fell in a gap (1.1 s), not the 0.9 s one's."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    msgs += [("/tf", 2 + k, tf_message([("map", "base_link", t * MS, MAP_FROM_BASE)]))
             for k, t in enumerate([1000, 1200, 1600])]
    msgs += [("/cam/image", 10 + k, colour(t * MS)) for k, t in enumerate([900, 1100, 1400])]
    seq = BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical")
    assert [f.map_from_cam for f in seq] == [None] * 3
    assert seq.no_pose_count == 3
    assert seq.no_pose_gap_s == pytest.approx(0.4)
    assert "t=1.100000 s" in seq.no_pose_reason and "0.200 s apart" in seq.no_pose_reason


def test_a_tf_sample_exactly_the_pose_tolerance_away_gives_the_pose(tmp_path):
    """pose_at_stamp.tolerance_s 0.0157 (15699999.999999998 ns in floating point: rounded,
    not truncated) and one map -> base_link sample at 1.0 s: the image 15.7 ms after it takes
    its pose, the one 15.8 ms after gets none."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S)),
            ("/tf", 2, tf_message([("map", "base_link", S, MAP_FROM_BASE)])),
            ("/cam/image", 3, colour(S + 15_700_000)), ("/cam/image", 4, colour(S + 15_800_000))]
    near, far = BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical",
                            pose_at_stamp=PoseAtStampConfig(tolerance_s=0.0157))
    np.testing.assert_allclose(near.map_from_cam, MAP_FROM_BASE @ BASE_FROM_CAM, atol=1e-9)
    assert far.map_from_cam is None

def test_the_pose_is_taken_at_the_image_stamp_not_its_depths(tmp_path):
    """map -> base_link moves 1 m along x per 0.1 s (at 1.0 and 1.1 s); the image at 1.0 s has
    depth stamped 1.01 s: its pose is the one at 1.0 s (x = 0), not at 1.01 s (x = 0.1)."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(S))]
    msgs += [("/tf", 2 + k, tf_message([("map", "base_link", S + k * 100 * MS,
                                         pose([0, 0, 0], [k, 0, 0]))])) for k in range(2)]
    msgs += [("/cam/image", 10, colour(S)), ("/depth", 11, depth16(S + 10 * MS, 1000))]
    (frame,) = BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical",
                           depth_topic="/depth")
    assert frame.depth_m is not None
    np.testing.assert_allclose(frame.map_from_cam, BASE_FROM_CAM, atol=1e-9)


# ---- topic choice --------------------------------------------------------------------------------

def test_depth_topics_are_skipped_when_detecting_the_colour_topic(tmp_path):
    """Each of these image topics is depth and is skipped: 32FC1 and 16UC1 encodings, a
    compressedDepth format (any case, with or without the encoding in front), a CompressedImage
    of a 16UC1 image, 'depth' in the name in any case; the one rgb8 topic is the image topic,
    and the depth-like topics are what --depth-topic can be."""
    depth_like = {
        "/a/image": image(S, "32FC1", np.ones((H, W), np.float32)),
        "/b/image": image(S, "16UC1", np.ones((H, W), np.uint16)),
        "/c/image/compressed": T["sensor_msgs/msg/CompressedImage"](
            header=colour(S).header, format="compressedDepth png", data=np.zeros(4, np.uint8)),
        "/d/image/compressed": T["sensor_msgs/msg/CompressedImage"](
            header=colour(S).header, format="16UC1; compressedDepth", data=np.zeros(4, np.uint8)),
        "/e/Depth/image": colour(S),
        "/f/image/compressed": T["sensor_msgs/msg/CompressedImage"](  # 16-bit depth as png
            header=colour(S).header, format="16UC1; png compressed", data=np.zeros(4, np.uint8)),
    }
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1, colour(S))]
    msgs += [(topic, 2 + k, msg) for k, (topic, msg) in enumerate(depth_like.items())]
    seq = BagSequence(bag_of(tmp_path, msgs))
    assert seq.image_topic == "/cam/image"
    assert seq.depth_like_topics == sorted(depth_like)


def test_a_depth_like_image_topic_given_is_not_offered_as_depth(tmp_path):
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/depth_colormap", 1, colour(S)),
            ("/cam/depth", 2, depth16(S, 1000))]
    seq = BagSequence(bag_of(tmp_path, msgs), image_topic="/cam/depth_colormap")
    assert seq.depth_like_topics == ["/cam/depth"]
    with pytest.raises(InputError, match="depth topic '/cam/depth_colormap' is also the image"):
        BagSequence(seq.path, image_topic="/cam/depth_colormap", depth_topic="/cam/depth_colormap")


@pytest.mark.parametrize("image_topic, infos, chosen", [
    # the transport suffix is not a namespace: /cam/image_raw/compressed is in /cam
    ("/cam/image_raw/compressed", ["/cam/camera_info", "/other/camera_info"], "/cam/camera_info"),
    # /cam2 is not inside /cam
    ("/cam/image_raw", ["/cam/camera_info", "/cam2/camera_info"], "/cam/camera_info"),
    # two in the image's namespace: neither is chosen
    ("/cam/image_raw", ["/cam/camera_info", "/cam/camera_info_orig", "/x/camera_info"], None),
])
def test_camera_info_topic_of_the_images_namespace(tmp_path, image_topic, infos, chosen):
    make = compressed(S, "jpeg", RGB) if image_topic.endswith("compressed") else colour(S)
    msgs = [(image_topic, 0, make)] + [(t, 1 + k, camera_info(S)) for k, t in enumerate(infos)]
    bag = bag_of(tmp_path, msgs)
    if chosen is None:
        with pytest.raises(InputError, match="several CameraInfo topics: .*, none alone in the "
                                             "namespace of /cam/image_raw"):
            BagSequence(bag)
    else:
        assert BagSequence(bag).camera_info_topic == chosen


def test_a_given_camera_info_overrides_the_topic_which_is_then_not_read(tmp_path):
    """--camera-info for a bag whose CameraInfo is uncalibrated (K all zero): the topic is
    ignored (not read, so its zero K is no error) even when named, and frames take the given
    intrinsics."""
    info = camera_info(S)
    info.k[:] = 0.0
    msgs = [("/cam/camera_info", 0, info), ("/cam/image", 1, colour(S))]
    bag = bag_of(tmp_path, msgs)
    seq = BagSequence(bag, camera_info=INTR, camera_info_topic="/cam/camera_info")
    assert seq.camera_info_topic is None
    np.testing.assert_array_equal(next(iter(seq)).intrinsics.K, INTR.K)


def test_topics_of_the_wrong_type_are_refused(tmp_path):
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1, colour(S))]
    bag = bag_of(tmp_path, msgs)
    with pytest.raises(InputError, match="camera_info topic '/cam/image' has type "
                                         "sensor_msgs/msg/Image, expected sensor_msgs/msg/Camera"):
        BagSequence(bag, camera_info_topic="/cam/image")
    with pytest.raises(InputError, match="depth topic '/cam/camera_info' has type "):
        BagSequence(bag, depth_topic="/cam/camera_info")


# ---- CameraInfo: the latest at or before the image, else the first -------------------------------

def test_camera_info_is_the_latest_at_or_before_the_image_else_the_first(tmp_path):
    """CameraInfo stamped 1.2 (fx 32), 1.1 (fx 31), 1.3 s (fx 33), in that bag order (a swapped
    pair, one run). Image at 1.0 s: before every CameraInfo, so the first by stamp (fx 31);
    1.2 s: the one stamped exactly then (fx 32, 'at or before'); 1.25 s: fx 32; 1.3 s: fx 33."""
    msgs = []
    for k, (t, fx) in enumerate([(1200, 32.0), (1100, 31.0), (1300, 33.0)]):
        msgs.append(("/cam/camera_info", k, camera_info(t * MS, fx)))
    for k, t in enumerate([1000, 1200, 1250, 1300]):
        msgs.append(("/cam/image", 10 + k, colour(t * MS)))
    seq = BagSequence(bag_of(tmp_path, msgs))
    assert len(seq.runs) <= 1
    assert [f.intrinsics.K[0, 0] for f in seq] == [31.0, 32.0, 32.0, 33.0]


# ---- depth association ---------------------------------------------------------------------------

def test_one_depth_image_serves_every_image_within_the_tolerance(tmp_path):
    """Images at 1.000 and 1.010 s, one depth image at 1.005 s (2 m): both are within the
    default 0.02 s of it, so both carry 2 m."""
    msgs = [("/cam/camera_info", 0, camera_info(S)),
            ("/cam/image", 1, colour(S)), ("/cam/image", 2, colour(S + 10 * MS)),
            ("/depth", 3, depth16(S + 5 * MS, 2000))]
    frames = list(BagSequence(bag_of(tmp_path, msgs), depth_topic="/depth"))
    assert len(frames) == 2
    for frame in frames:
        assert frame.depth_m is not None
        np.testing.assert_allclose(frame.depth_m, 2.0)


def test_depth_received_out_of_order_is_matched_by_stamp(tmp_path):
    """Depth stamped 1.1 (1 m), 1.0 (2 m), 1.2 s (3 m) in bag order (a swapped pair, one run):
    the image at 1.0 s takes the 2 m depth stamped 1.0 s, the one at 1.2 s the 3 m one."""
    msgs = [("/cam/camera_info", 0, camera_info(S))]
    msgs += [("/depth", 1 + k, depth16(t * MS, mm))
             for k, (t, mm) in enumerate([(1100, 1000), (1000, 2000), (1200, 3000)])]
    msgs += [("/cam/image", 10, colour(S)), ("/cam/image", 11, colour(1200 * MS))]
    frames = list(BagSequence(bag_of(tmp_path, msgs), depth_topic="/depth"))
    np.testing.assert_allclose(frames[0].depth_m, 2.0)
    np.testing.assert_allclose(frames[1].depth_m, 3.0)


def test_depth_exactly_the_sync_tolerance_away_is_matched(tmp_path):
    """sync_tolerance_s 0.0157 (0.0157 * 1e9 is 15699999.999999998 in floating point, so the
    tolerance is rounded to 15_700_000 ns, not truncated): depth stamped 15.7 ms after the
    image is within it, 15.8 ms after is not."""
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1, colour(S)),
            ("/cam/image", 2, colour(2 * S)), ("/depth", 3, depth16(S + 15_700_000, 1000)),
            ("/depth", 4, depth16(2 * S + 15_800_000, 1000))]
    near, far = BagSequence(bag_of(tmp_path, msgs), depth_topic="/depth",
                            sync_tolerance_s=0.0157)
    assert near.depth_m is not None and far.depth_m is None

def test_depth_units_per_m_follow_rep118_for_32fc1(tmp_path):
    """REP-118: 32FC1 depth is in metres (1 unit per metre), 16UC1 in millimetres (1000); the
    encoding of a compressedDepth message is the first word of its format."""
    depth_m = np.full((H, W), 1.5, np.float32)
    msgs = [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1, colour(S)),
            ("/depth", 2, image(S, "32FC1", depth_m)),
            ("/depth_c/compressedDepth", 3, T["sensor_msgs/msg/CompressedImage"](
                header=image(S, "32FC1", depth_m).header, format="32FC1; compressedDepth png",
                data=np.zeros(16, np.uint8)))]
    bag = bag_of(tmp_path, msgs)
    seq = BagSequence(bag, depth_topic="/depth")
    assert seq.depth_units_per_m == 1.0
    np.testing.assert_allclose(next(iter(seq)).depth_m, 1.5)
    assert BagSequence(bag, depth_topic="/depth_c/compressedDepth").depth_units_per_m == 1.0
    assert BagSequence(bag).depth_units_per_m is None


# ---- argument checks -----------------------------------------------------------------------------

def _unchecked_pose_rule(**fields) -> PoseAtStampConfig:
    """A PoseAtStampConfig with ``fields`` set after it was made (past its own check)."""
    rule = PoseAtStampConfig()
    for name, value in fields.items():
        object.__setattr__(rule, name, value)
    return rule


@pytest.mark.parametrize("kw, match", [
    (dict(depth_scale=float("inf")), "depth scale must be a positive number"),
    (dict(depth_scale=float("nan")), "depth scale must be a positive number"),
    (dict(depth_scale=-1000.0), "depth scale must be a positive number"),
    (dict(depth_scale="1000"), "depth scale must be a positive number.*pass depth_scale as a"),
    (dict(depth_scale=True), "depth scale must be a positive number.*pass depth_scale as a"),
    (dict(run="2"), r"run must be >= 1 \(a whole number; runs are numbered from 1\), got '2'"),
    (dict(run=True), r"run must be >= 1 .*got True"),
    (dict(run=1.5), r"run must be >= 1 .*got 1.5"),
    (dict(run=0), r"run must be >= 1 .*got 0"),
    (dict(pose_frames=("map", "camera_optical")),   # was an AttributeError ('partition')
     r"pose_frames must be 'parent:child' .*got \('map', 'camera_optical'\)"),
    (dict(camera_info_topic=["/cam/camera_info"]),   # was TypeError: unhashable type: 'list'
     r"camera_info_topic must be a topic name \(a string\) or None, got \['/cam/camera_info'\]"),
    (dict(depth_topic=3), r"depth_topic must be a topic name \(a string\) or None, got 3"),
    (dict(sync_tolerance_s=-0.01), "sync_tolerance_s must be >= 0"),
    (dict(sync_tolerance_s=float("nan")), "sync_tolerance_s must be >= 0"),
    (dict(sync_tolerance_s="0.02"), r"sync_tolerance_s must be >= 0 .*got '0.02' \(str\)"),
    (dict(pose_at_stamp={"tolerance_s": 0.1}), "pose_at_stamp must be a PoseAtStampConfig"),
    (dict(camera_info="cam.yaml"), "camera_info must be a CameraIntrinsics or None, got str"),
    # PoseAtStampConfig refuses -1 when made (a ConfigError, test_config_params): made at
    # collection, it stopped this whole file from running; one rewritten after it was made
    # is still refused by the reader
    (dict(pose_at_stamp=_unchecked_pose_rule(max_gap_s=-1.0)),
     "pose_at_stamp's max_gap_s must be >= 0"),
])
def test_bad_depth_scale_and_sync_tolerance_are_refused(tmp_path, kw, match):
    bag = bag_of(tmp_path, [("/cam/camera_info", 0, camera_info(S)), ("/cam/image", 1,
                                                                       colour(S))])
    with pytest.raises(InputError, match=match):
        BagSequence(bag, **kw)


@pytest.mark.parametrize("depth_stamp, said", [
    (lambda t: 0, "its 3 depth messages all have header stamp 0: the depth driver does not "
                  "stamp"),
    (lambda t: 7 * S, "its 3 depth messages all have the same header stamp (7.000000 s): the "
                      "depth driver does not stamp"),
])
def test_depth_a_driver_does_not_stamp_is_named_not_the_sync_tolerance(tmp_path, caplog,
                                                                       depth_stamp, said):
    """The colour driver stamps its images, the depth driver leaves header.stamp at 0 (or at
    one value): no depth matched any image, and the user was told to 'check the header stamps
    or widen --sync-tolerance', which no tolerance fixes. Now the depth stamps are named."""
    msgs = [("/cam/camera_info", 0, camera_info(900 * MS))]
    for k, t in enumerate([S, S + 100 * MS, S + 200 * MS]):
        msgs += [("/cam/image", 1 + 2 * k, colour(t)),
                 ("/depth", 2 + 2 * k, depth16(depth_stamp(t), 1000))]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs), depth_topic="/depth")
    assert [f.depth_m for f in seq] == [None] * 3
    reason = seq.no_depth_reason()
    assert reason.startswith("no depth on /depth within 0.020 s of any image on /cam/image: "
                             + said)
    assert "widen --sync-tolerance" not in reason and said in caplog.text


def test_depth_stamped_but_off_the_images_is_told_to_widen_the_tolerance(tmp_path):
    """Depth messages stamped each with its own time, 0.5 s after the images': no depth within
    the tolerance, and the reason is the tolerance or the stamps, not an unstamped driver."""
    msgs = [("/cam/camera_info", 0, camera_info(900 * MS))]
    for k, t in enumerate([S, S + 100 * MS, S + 200 * MS]):
        msgs += [("/cam/image", 1 + 2 * k, colour(t)),
                 ("/depth", 2 + 2 * k, depth16(t + 500 * MS, 1000))]
    seq = BagSequence(bag_of(tmp_path, msgs), depth_topic="/depth")
    assert [f.depth_m for f in seq] == [None] * 3
    assert seq.no_depth_reason().endswith(
        "/cam/image: check the header stamps or widen --sync-tolerance"), seq.no_depth_reason()


def test_no_depth_within_the_tolerance_of_the_run_read_is_warned_and_said(tmp_path, caplog):
    """Run 1: images at 1.0, 1.1, 1.2 s, depth only at 1.5 s (0.3 s from any); run 2 (after a
    reset): an image and depth at 0.5 s. Run 1 (the longer) is read: no frame has depth, and
    the warning and no_depth_reason say so, naming the run; run 2 has its depth."""
    msgs = [("/cam/camera_info", 0, camera_info(900 * MS))]
    msgs += [("/cam/image", 1 + k, colour(t)) for k, t in enumerate([S, S + 100 * MS,
                                                                     S + 200 * MS])]
    msgs += [("/depth", 4, depth16(1500 * MS, 1000)), ("/cam/camera_info", 5, camera_info(0)),
             ("/cam/image", 6, colour(500 * MS)), ("/depth", 7, depth16(500 * MS, 1000))]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs), depth_topic="/depth")
    assert seq.run == 1 and [f.depth_m for f in seq] == [None] * 3
    assert "no depth on /depth within 0.020 s of any image on /cam/image" in caplog.text
    assert seq.no_depth_reason() == ("no depth on /depth within 0.020 s of any image on "
                                     "/cam/image (run 1): check the header stamps or widen "
                                     "--sync-tolerance")
    (frame,) = BagSequence(seq.path, depth_topic="/depth", run=2)
    np.testing.assert_allclose(frame.depth_m, 1.0)


@pytest.mark.parametrize("words", ["Unexpected end of file", "data truncated", "EOF reached",
                                   "malformed record", "File end magic is invalid"])
def test_open_hints_for_a_file_cut_short(tmp_path, words):
    from mast3r_ros.replay.rosbag.sequence import _open_hint

    assert "mcap recover IN -o OUT" in _open_hint(tmp_path / "x.mcap", ValueError(words))


def test_the_reindex_hint_is_for_a_bag_folder_only(tmp_path):
    from mast3r_ros.replay.rosbag.sequence import _open_hint

    err = ValueError("Invalid bag metadata")
    assert "'ros2 bag reindex" in _open_hint(tmp_path, err)
    (tmp_path / "x.mcap").write_bytes(b"")
    assert _open_hint(tmp_path / "x.mcap", err) == ""
    assert _open_hint(tmp_path, ValueError("no storage plugin")) == ""


@pytest.mark.parametrize("pose_frames, empty", [("map:", "child"), (":camera_optical", "parent"),
                                                ("map:/", "child")])
def test_pose_frames_with_an_empty_side_is_refused_naming_the_flag(tmp_path, capsys,
                                                                    pose_frames, empty):
    """A new user's finding: 'map:' was taken as 'map' (the empty child silently dropped) while
    ':camera_optical' was refused, and the refusal named pose_frames, not --pose-frames."""
    from mast3r_ros.replay.cli import main

    bag, _ = tf_bag(tmp_path)
    with pytest.raises(InputError, match=rf"pose_frames must be .*the {empty} frame is empty"):
        BagSequence(bag, pose_frames=pose_frames)
    rc = main(["localize", str(bag), "--map", str(tmp_path / "map"), "--out",
               str(tmp_path / "run"), "--matcher", "sift", "--pose-frames", pose_frames])
    errors = [e for e in capsys.readouterr().err.splitlines() if ": error: " in e]
    assert rc == 2 and len(errors) == 1, errors
    assert "error: --pose-frames must be 'parent:child'" in errors[0], errors
    assert f"got {pose_frames!r} (the {empty} frame is empty" in errors[0], errors
    assert BagSequence(bag, pose_frames="map")._pose_frames == ("map", "")  # the parent alone


def test_a_split_bag_missing_a_file_says_how_to_read_it(tmp_path):
    """A bag folder whose metadata.yaml lists a storage file the folder lacks (a split bag,
    max_bag_size, copied in part) is refused naming the file and the two ways on: copy it again,
    or 'ros2 bag reindex' to read the files present."""
    import yaml

    bag = bag_of(tmp_path, [("/cam/image", 1, colour(S))])
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["relative_file_paths"].append("bag_1.mcap")
    info["files"].append(dict(info["files"][0], path="bag_1.mcap"))
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(InputError, match=r"cannot open rosbag2 .*bag_1\.mcap.*copy them again; "
                                         r"to read the bag without them, 'ros2 bag reindex"):
        BagSequence(bag)


@pytest.mark.parametrize("given, recorded, flag", [
    ("/cam/image", "/cam/image/compressed", "--image-topic"),
    ("/cam/depth", "/cam/depth/compressedDepth", "--depth-topic")])
def test_a_base_topic_whose_transport_topic_was_recorded_is_named(tmp_path, given, recorded,
                                                                   flag):
    """Given the base topic as image_transport subscribers take it (/cam/image), a bag that
    recorded only its transport topic (/cam/image/compressed) was refused with the topic list;
    the line now names the recorded topic to pass."""
    import struct

    import cv2

    ok, png = cv2.imencode(".png", np.full((H, W), 1000, np.uint16))
    depth = compressed(S, "png", RGB)
    depth.format, depth.data = "16UC1; compressedDepth png", np.frombuffer(
        struct.pack("<iff", 0, 0, 0) + png.tobytes(), np.uint8)
    image_topic = "/cam/image/compressed" if "image" in given else "/cam/image"
    colour_msg = compressed(S, "jpeg", RGB) if "image" in given else colour(S)
    msgs = [(image_topic, S, colour_msg), ("/cam/camera_info", S, camera_info(S))]
    if "depth" in given:
        msgs.append((recorded, S, depth))
    bag = bag_of(tmp_path, msgs)
    kwargs = {"image_topic": given} if "image" in given else {"depth_topic": given}
    with pytest.raises(InputError, match=f"topic '{given}' is not in rosbag2 .*, but its "
                                         f"image_transport topic {recorded} is .*: pass "
                                         f"{flag} {recorded}$"):
        BagSequence(bag, **kwargs)
    assert BagSequence(bag, **{next(iter(kwargs)): recorded}).path == bag


def test_a_base_topic_recorded_beside_its_transport_topics_is_read(tmp_path):
    """`ros2 bag record -a` records the raw topic and each transport's (/cam/image and
    /cam/image/compressed): the base topic given is the raw one, read as it is, not refused
    with the transport topic to pass instead."""
    msgs = [("/cam/image", S, colour(S)), ("/cam/image/compressed", S, compressed(S, "jpeg", RGB)),
            ("/cam/camera_info", S, camera_info(S))]
    bag = bag_of(tmp_path, msgs)
    seq = BagSequence(bag, image_topic="/cam/image")
    assert seq.image_topic == "/cam/image" and len(seq) == 1


def test_one_file_of_a_split_bag_is_read_with_a_warning_naming_the_folder(tmp_path, caplog):
    """A split bag's (max_bag_size) second file given alone lost the /tf_static its first file
    holds, and the error said only that the camera frame is not in the transform tree. Reading
    one file of a split bag now warns, naming the folder to give."""
    import yaml

    first = bag_of(tmp_path, [("/cam/image", 1, colour(S)), ("/cam/camera_info", 2,
                                                              camera_info(S))], "first")
    second = bag_of(tmp_path, [("/cam/image", 3, colour(2 * S)), ("/cam/camera_info", 4,
                                                                   camera_info(2 * S))], "second")
    meta = yaml.safe_load((first / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["relative_file_paths"] = ["first.mcap", "second.mcap"]
    info["files"].append(dict(info["files"][0], path="second.mcap"))
    (second / "second.mcap").rename(first / "second.mcap")
    (first / "metadata.yaml").write_text(yaml.safe_dump(meta))
    with caplog.at_level(logging.WARNING):
        BagSequence(first / "second.mcap")
    (warned,) = [r.getMessage() for r in caplog.records if "split bag" in r.getMessage()]
    assert f"is file 2 of the 2 files of the split bag {first}" in warned
    assert f"is in first.mcap only); give the folder {first} to read the whole" in warned
    caplog.clear()
    alone = bag_of(tmp_path, [("/cam/image", 1, colour(S)), ("/cam/camera_info", 2,
                                                              camera_info(S))], "alone")
    shutil.copy(alone / "alone.mcap", first / "other.mcap")  # not a file its metadata lists
    with caplog.at_level(logging.WARNING):
        BagSequence(first)  # the folder: every file read, nothing to say
        BagSequence(alone / "alone.mcap")
        BagSequence(first / "other.mcap")
        (alone / "metadata.yaml").write_text("")  # emptied (a copy cut short): not a split bag's
        BagSequence(alone / "alone.mcap")  # the file alone reads without its metadata.yaml
    assert not [r for r in caplog.records if "split bag" in r.getMessage()]


def test_a_frame_given_two_parents_after_a_reset_names_them_in_the_order_read(tmp_path):
    """map -> base_link before a simulator reset; after it (the run the camera is in),
    odom -> base_link is read first, then map -> base_link again. The run's edges go into the
    buffer in the order of their first sample in that run, as if added one by one as read: the
    second parent named is map, read second in the run -- not the order the edges were first
    seen in the whole bag (map, from before the reset)."""
    odom = pose([0, 0, 0], [1.0, 0, 0])
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 11 * S, camera_info(100 * MS))]
    msgs += [("/tf", (1 + k) * S, tf_message([("map", "base_link", (k + 1) * 100 * MS, odom)]))
             for k in range(4)]
    msgs += [("/tf", 10 * S + k * S, tf_message([("odom", "base_link", (k + 1) * 100 * MS, odom)]))
             for k in range(4)]
    msgs += [("/tf", 10 * S + k * S + S // 4,
              tf_message([("map", "base_link", (k + 1) * 100 * MS, odom)])) for k in range(4)]
    msgs += [("/cam/image", 11 * S + S // 2, colour(150 * MS)),
             ("/cam/image", 12 * S + S // 2, colour(250 * MS))]
    msgs.sort(key=lambda m: m[1])
    with pytest.raises(InputError, match="frame 'base_link' has two parents, 'odom' and 'map'"):
        list(BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical",
                         pose_at_stamp=PoseAtStampConfig(max_gap_s=0.5)))


def test_a_refused_camera_info_names_the_fix_a_recording_allows(tmp_path):
    """A CameraInfo refused in a recorded bag (here a ROI offset without a size) said only what
    the driver should publish; the bag's user cannot change a recorded message, and
    --camera-info is what they can do."""
    info = camera_info(0)
    info.roi.x_offset, info.roi.y_offset = 2, 1
    path = bag_of(tmp_path, [("/cam/camera_info", 0, info), ("/cam/image", 1, colour(0))])
    with pytest.raises(InputError, match=r"roi has x_offset 2, y_offset 1 but width 0 .*; in a "
                                         r"recording it cannot be changed: pass the streamed "
                                         r"image's calibration as --camera-info YAML instead"):
        BagSequence(path)


def test_a_camera_frame_the_tf_lacks_says_where_it_came_from_and_the_fix(tmp_path):
    """`--pose-frames map` with the images in 'camera_link' (no tf of it) said only "frame
    'camera_link' is not in the transform tree (...); known frames: [...]"."""
    bag, rule = tf_bag(tmp_path, image_frame="camera_link")
    with pytest.raises(InputError, match=r"known frames: .*; 'camera_link' is the images' "
                                         r"header frame_id .*: pass --pose-frames "
                                         r"map:FRAME, FRAME one of the tf's frames"):
        list(BagSequence(bag, pose_frames="map", pose_at_stamp=rule))
    bag, rule = tf_bag(tmp_path, name="bag2")
    with pytest.raises(InputError, match=r"; 'camera' is from --pose-frames map:camera: pass "
                                         r"--pose-frames map:FRAME, FRAME one of"):
        list(BagSequence(bag, pose_frames="map:camera", pose_at_stamp=rule))


def test_a_map_frame_the_tf_lacks_is_not_offered_the_camera_frame(tmp_path):
    """`--pose-frames world:camera_optical` suggested "one of: base_link, camera_optical, map"
    as the map frame: the camera frame itself is no map frame."""
    bag, rule = tf_bag(tmp_path)
    with pytest.raises(InputError, match=r"'world' is from --pose-frames: give the map frame the "
                                         r"tf holds first, one of: base_link, map$"):
        list(BagSequence(bag, pose_frames="world:camera_optical", pose_at_stamp=rule))
