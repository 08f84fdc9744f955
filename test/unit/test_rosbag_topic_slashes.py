"""A topic given without its leading '/' (or with a trailing one), as typed from memory or tab
completion, is named with the bag's spelling: the refusal used to list every topic only."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import RGB, S, camera_info, image, write_bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


@pytest.mark.parametrize("kwarg,given,flag,recorded", [
    ("image_topic", "cam/image", "--image-topic", "/cam/image"),
    ("camera_info_topic", "/cam/camera_info/", "--camera-info-topic", "/cam/camera_info"),
    ("depth_topic", "cam/depth", "--depth-topic", "/cam/depth"),
])
def test_a_topic_given_with_other_slashes_is_named_as_recorded(tmp_path, kwarg, given, flag,
                                                               recorded):
    depth = image(S, "16UC1", np.full(RGB.shape[:2], 1000, np.uint16))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, [
        ("/cam/image", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, camera_info(S)),
        ("/cam/depth", S, depth)])
    with pytest.raises(InputError, match=f"topic '{given}' is not in rosbag2 .*, but "
                                         f"{recorded} is .*: pass {flag} {recorded}$"):
        BagSequence(bag, **{kwarg: given})


def test_the_depth_topic_given_as_the_image_topic_names_the_colour_topic(tmp_path):
    """`--image-topic D --depth-topic D` said only 'depth topic D is also the image topic'."""
    depth = image(S, "16UC1", np.full(RGB.shape[:2], 1000, np.uint16))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, [
        ("/cam/image", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, camera_info(S)),
        ("/cam/depth", S, depth)])
    with pytest.raises(InputError, match="is also the image topic.*colour.*: /cam/image$"):
        BagSequence(bag, image_topic="/cam/depth", depth_topic="/cam/depth")


def test_a_rosbag2_folder_named_dot_bag_is_told_to_be_renamed(tmp_path):
    """`ros2 bag record -o run.bag` makes a folder: opened as a ROS 1 file it said "cannot open
    ROS 1 bag run.bag: Could not open file 'run.bag': Is a directory."."""
    bag = write_bag(tmp_path / "run.bag", StoragePlugin.MCAP, [
        ("/cam/image", S, image(S, "rgb8", RGB)), ("/cam/camera_info", S, camera_info(S))])
    with pytest.raises(InputError, match=r"run.bag is a rosbag2 folder .* rename it without "
                                         r"'.bag': mv .*run.bag .*run$"):
        BagSequence(bag)


def test_a_dot_bag_file_that_is_no_bag_is_not_called_damaged(tmp_path):
    """Random bytes named rec.bag were 'damaged records ... rosbag reindex rec.bag'."""
    path = tmp_path / "rec.bag"
    path.write_bytes(b"\x81\x02 not a bag at all" * 8)
    with pytest.raises(InputError, match=r"rec.bag is no ROS 1 bag: it does not begin with "
                                         r"'#ROSBAG V2.0'"):
        BagSequence(path)
