"""A bag localized with another ``--image-stamp`` than the map's recording was read with (the
map records it), and the node's parameter ``image_stamp`` against its map, were never said: a
map built with 'receive' (a driver stamping with the camera's clock) localized a bag of the
same camera by its header stamps, whose ground truth then failed with no word of the map's
setting. Now one warning names both settings and how to match the map; nothing where the
query has no choice (a TUM folder) or the map records none (a folder's map: its times were the
only ones it had, so build-map no longer records 'header' for it)."""

from __future__ import annotations

import json
import types

from mast3r_ros.core.image_stamp import node_image_stamp_note, recorded_image_stamp
from mast3r_ros.replay.run_notes import bag_image_stamp_note

RECEIVE = {"image_stamp": "receive"}
BAG_HEADER = {"image_stamp": "header", "recording": "rosbag2"}  # as build-map records a bag


def test_the_map_s_setting_is_its_own_or_the_one_its_merged_sources_share():
    assert recorded_image_stamp(RECEIVE) == "receive"
    assert recorded_image_stamp({}) is None  # a folder's map, or one built before
    same = {"merged_from": [{"role": "A", "image_stamp": "receive"}, {"role": "B"},
                            {"role": "C", "merged_from": [{"image_stamp": "receive"}]}]}
    assert recorded_image_stamp(same) == "receive"
    mixed = {"merged_from": [{"image_stamp": "receive"}, {"merged_from": [BAG_HEADER]}]}
    assert recorded_image_stamp(mixed) is None  # no one setting to match
    assert recorded_image_stamp({"image_stamp": "arrival"}) is None


def test_the_node_says_a_setting_other_than_the_map_s_in_one_line():
    note = node_image_stamp_note("header", RECEIVE, "/maps/lab")
    assert note == (
        "parameter image_stamp is header (each image timed by its header stamp), but the map "
        "/maps/lab was built from a recording read with image_stamp receive (timed by when it "
        "arrived): the poses localized against the map do not depend on it, the TF lookups at "
        "each image's time (odom_frame, base_frame) do; if this camera and driver recorded "
        "the map, set the parameter image_stamp to receive to match")
    assert "set the parameter image_stamp to header" in node_image_stamp_note(
        "receive", BAG_HEADER, "/maps/lab")
    assert node_image_stamp_note("receive", RECEIVE, "/maps/lab") is None
    assert node_image_stamp_note("receive", {}, "/maps/lab") is None


def test_localize_says_nothing_for_a_query_without_the_choice():
    bag = types.SimpleNamespace(image_stamp="header", image_stamp_option="--image-stamp")
    note = bag_image_stamp_note(bag, RECEIVE, "m")
    assert note.startswith("this bag is read with --image-stamp header"), note
    assert "this bag's ground truth (/tf, --groundtruth) and the times in trajectory.tum do" \
        in note and note.endswith("pass --image-stamp receive to match"), note
    params = types.SimpleNamespace(image_stamp="receive",
                                   image_stamp_option="--params' image_stamp")
    assert bag_image_stamp_note(params, BAG_HEADER, "m").startswith(
        "this bag is read with --params' image_stamp receive")
    folder = types.SimpleNamespace(stamps_ns=[1, 2])  # a TUM/EuRoC/KITTI folder: no option
    assert bag_image_stamp_note(folder, RECEIVE, "m") is None


def test_a_folder_s_map_records_no_image_stamp(sift_map):
    """A TUM folder has one time per image: its map recorded 'header', a setting it never
    chose, which a bag read with 'receive' would then have been told to match."""
    manifest = json.loads(open(f"{sift_map}/manifest.json").read())
    assert "image_stamp" not in manifest
    assert manifest["recording"] == "tum"  # what tells an older folder map's 'header' apart


def test_an_older_folder_map_s_header_is_not_a_setting_to_match():
    """The previous release recorded ``image_stamp: header`` for a TUM/EuRoC/KITTI folder's
    map too: a bag read with 'receive' was told to pass --image-stamp header, and merge-maps
    refused the two. Only a bag's recording counts: a map that says it read a folder is never
    matched, and one that records no kind (an older build) only by 'receive', which a folder
    refuses."""
    bag = types.SimpleNamespace(image_stamp="receive", image_stamp_option="--image-stamp")
    older = {"image_stamp": "header"}
    for folder_map in (older, {"image_stamp": "header", "recording": "tum"},
                       {"merged_from": [older, {"image_stamp": "header", "recording": "kitti"}]}):
        assert recorded_image_stamp(folder_map) is None, folder_map
        assert bag_image_stamp_note(bag, folder_map, "m") is None, folder_map
    assert bag_image_stamp_note(bag, BAG_HEADER, "m").endswith(
        "pass --image-stamp header to match")
    ros1 = {"image_stamp": "header", "recording": "rosbag1"}  # a ROS 1 .bag's map: a bag too
    assert bag_image_stamp_note(bag, ros1, "m").endswith("pass --image-stamp header to match")
    assert recorded_image_stamp({"merged_from": [older, BAG_HEADER]}) == "header"
    assert recorded_image_stamp({"merged_from": [RECEIVE, older]}) == "receive"


def test_a_video_bag_is_not_told_to_pass_the_receive_it_refuses(tmp_path):
    """A bag whose images are a video topic (read by header stamps only: --image-stamp receive
    is refused for it) against a map built with 'receive' was told to 'pass --image-stamp
    receive to match', which then refused the run. It is told what the setting means for a
    video topic instead; an image topic is still told to match."""
    import pytest

    pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
    from test_rosbag_video import VIDEO, video_bag

    from mast3r_ros.replay.rosbag import BagSequence

    seq = BagSequence(video_bag(tmp_path / "bag"), image_topic=VIDEO)
    note = bag_image_stamp_note(seq, RECEIVE, "m")
    assert note.startswith("this bag is read with image_stamp header"), note
    assert "pass --image-stamp" not in note, note
    assert note.endswith(
        f"this bag's image topic {VIDEO} is a video stream, whose frames are timed by their "
        "header stamps only (--image-stamp receive is refused for it): if its driver stamps "
        "with the camera's own clock, as the map's may have, record the images "
        "(image_transport 'raw' or 'compressed') to time them by when they arrived"), note
    assert bag_image_stamp_note(seq, {"image_stamp": "header"}, "m") is None


def test_the_note_names_where_the_setting_came_from(tmp_path):
    """No --image-stamp given: the note said 'this bag is read with --image-stamp header', a
    flag the user never passed; a --params file's value was '--params' image_stamp'. It names
    the default, the flag as given, or the file's line."""
    from test_rosbag import MS, S, camera_info
    from test_rosbag_values import bag_of, colour

    from mast3r_ros.replay.cli import build_parser
    from mast3r_ros.replay.cli_options import _open, load_config

    msgs = [("/cam/camera_info", 0, camera_info(S))]
    msgs += [("/cam/image", (k + 1) * S, colour(t * MS)) for k, t in enumerate([1000, 1100])]
    bag = str(bag_of(tmp_path, msgs))
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_stamp: receive\n")
    base = ["localize", bag, "--map", "m", "--out", str(tmp_path / "o")]
    for extra, manifest, said in (
            ([], RECEIVE, "the default image_stamp header"),
            (["--image-stamp", "header"], RECEIVE, "--image-stamp header"),
            (["--params", str(params)], BAG_HEADER, f"image_stamp: receive in {params}")):
        args = build_parser().parse_args(base + extra)
        note = bag_image_stamp_note(_open(args, load_config(args)), manifest, "m")
        assert note.startswith(f"this bag is read with {said} (each image"), note
