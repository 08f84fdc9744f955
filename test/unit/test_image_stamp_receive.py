"""--image-stamp receive / parameter image_stamp 'receive': a camera driver that stamps its
images with the camera's own clock (realsense2_camera global_time_enabled false, a GigE/USB3
Vision driver's device timestamps) while tf is on the robot's clock gave no frame a pose, and
the only fix offered was to record again. The usual remedy, each image timed by when it was
received (a bag's receive time; the node clock's now at the image callback), is now an opt-in
option; the default, 'header', changes nothing."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, MS, RGB, S, camera_info, compressed,  # noqa: E402
                         image, pose, tf_message, write_bag)
from test_rosbag_image_clock import EPOCH, clock_bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.keyframes import KeyframeMap  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

CAM, DEPTH = "/cam/image/compressed", "/cam/depth"
BOOT = 3725 * S  # the camera's clock: time since it booted
POSES = ("--pose-frames", "map:camera_optical")
PARAMS = ("mast3r_localizer:\n  ros__parameters:\n"
          "    map_build: {min_translation_m: 1.2, min_rotation_deg: 180.0}\n")


def _boot_clock_bag(path):
    """Ten JPEG images 0.1 s apart with 16UC1 depth, stamped by the camera's clock (time since
    boot) and received 5 ms (depth 6 ms) after their exposure on the recorder's clock, which
    stamps tf (the camera 0.5 m further along it at each image)."""
    msgs = [("/tf_static", EPOCH - S, tf_message([("base_link", "camera_optical", 0,
                                                   BASE_FROM_CAM)])),
            ("/cam/camera_info", EPOCH - S, camera_info(BOOT - S))]
    for k in range(10):
        t = EPOCH + k * 100 * MS
        msgs.append(("/tf", t + MS, tf_message([("map", "base_link", t,
                                                 pose([0, 0, 0], [0.5 * k, 0, 0]))])))
        st = t - EPOCH + BOOT
        msgs.append((CAM, t + 5 * MS, compressed(st, "jpeg", RGB[..., ::-1])))
        msgs.append((DEPTH, t + 6 * MS, image(st, "16UC1", np.full(RGB.shape[:2], 1000 + 10 * k,
                                                                     np.uint16))))
    return str(write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])))


def _build(tmp_path, capsys, out, *extra):
    params, bag = tmp_path / "params.yaml", tmp_path / "bag"
    params.write_text(PARAMS)
    if not bag.exists():
        _boot_clock_bag(bag)
    capsys.readouterr()
    rc = main(["build-map", str(bag), "--out", str(tmp_path / out),
               "--matcher", "sift", "--depth-topic", DEPTH, "--params", str(params),
               "--log-level", "warning", *POSES, *extra])
    return rc, capsys.readouterr().err


def test_build_map_of_images_on_the_camera_clock_fails_with_header_and_builds_with_receive(
        tmp_path, capsys):
    rc, err = _build(tmp_path, capsys, "header")
    assert rc == 2, err
    assert "stamped by different clocks" in err and "--image-stamp receive" in err, err
    assert "transport latency" in err, err
    rc, err = _build(tmp_path, capsys, "map", "--image-stamp", "receive")
    assert rc == 0, err
    manifest = json.loads((tmp_path / "map" / "manifest.json").read_text())
    assert manifest["image_stamp"] == "receive" and manifest["recording"] == "rosbag2"
    assert "image_stamp: receive" in (tmp_path / "map" / "build_config.yaml").read_text()
    stamps = [k.stamp_ns for k in KeyframeMap.load(str(tmp_path / "map")).keyframes]
    received = [EPOCH + k * 100 * MS + 5 * MS for k in range(10)]  # the images' receive times
    assert len(stamps) >= 3 and set(stamps) <= set(received), stamps
    # and the bag localizes against it, its ground truth from tf at the receive times
    rc = main(["localize", str(tmp_path / "bag"), "--map", str(tmp_path / "map"), "--out",
               str(tmp_path / "run"), "--matcher", "sift", "--log-level", "warning",
               "--image-stamp", "receive", *POSES])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "built from a recording read with" not in err, err  # the map's setting: no note
    results = [json.loads(ln) for ln in (tmp_path / "run" / "results.jsonl").read_text()
               .splitlines()]
    assert [r["stamp_ns"] for r in results] == received, results[0]
    assert "image_stamp: receive" in (tmp_path / "run" / "config.yaml").read_text()
    # the same bag by its header stamps, not the map's setting: one warning saying so (its
    # ground truth from tf then fails, and nothing said the map was built otherwise)
    main(["localize", str(tmp_path / "bag"), "--map", str(tmp_path / "map"), "--out",
          str(tmp_path / "run_h"), "--matcher", "sift", "--log-level", "warning", *POSES])
    said = [ln for ln in capsys.readouterr().err.splitlines()
            if "built from a recording read with" in ln]
    assert len(said) == 1, said
    assert ("this bag is read with the default image_stamp header (each image timed by its header "
            f"stamp), but the map {tmp_path / 'map'} was built from a recording read with "
            "image_stamp receive (timed by when it arrived)") in said[0], said[0]
    assert said[0].endswith("; if this camera and driver recorded the map, pass --image-stamp "
                            "receive to match"), said[0]


def test_receive_times_the_image_depth_and_camera_info_by_the_bag(tmp_path, caplog):
    """Each frame's stamp is its receive time, its pose tf's there, its depth matched by
    receive time; the images are no longer said to be on another clock."""
    bag = clock_bag(tmp_path, lambda t: t - EPOCH + BOOT)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, depth_topic="/cam/depth", pose_frames="map:camera_optical",
                          image_stamp="receive")
        frames = list(seq)
    assert seq.image_stamp == "receive"
    received = EPOCH + np.arange(8) * 100 * MS + 30 * MS
    assert seq.stamps_ns.tolist() == received.tolist()
    assert [f.stamp_ns for f in frames] == received.tolist()
    assert all(f.map_from_cam is not None and f.depth_m is not None for f in frames)
    assert not [r for r in caplog.records if "different clocks" in r.getMessage()]
    header = BagSequence(bag, depth_topic="/cam/depth", pose_frames="map:camera_optical")
    assert header.image_stamp == "header"
    assert header.stamps_ns.tolist() == (received - 30 * MS - EPOCH + BOOT).tolist()


def test_an_unknown_image_stamp_is_refused(tmp_path, capsys):
    with pytest.raises(InputError, match=r"image_stamp must be one of header, receive"):
        BagSequence(clock_bag(tmp_path, lambda t: t), image_stamp="arrival")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["build-map", str(tmp_path / "x"), "--out", str(tmp_path / "m"),
              "--image-stamp", "arrival"])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--image-stamp: invalid choice: 'arrival'" in line


def test_a_tum_folder_refuses_receive_in_one_line(tum, tmp_path, capsys):
    capsys.readouterr()
    assert main(["build-map", str(tum[0]), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--image-stamp", "receive", "--log-level", "warning"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--image-stamp receive: " in line and "TUM folder" in line and "drop it" in line
    assert "--params" not in line and "'" not in line.split("drop it")[1], line  # typed, not read


def test_a_video_topic_refuses_receive(tmp_path):
    pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
    from test_rosbag_video import video_bag

    with pytest.raises(InputError, match=r"image_stamp receive: .* is a video stream") as info:
        BagSequence(video_bag(tmp_path / "v"), image_stamp="receive")
    assert "overrides --params)" in str(info.value)  # not named as typed: it may be --params'
    with pytest.raises(InputError, match=r"^--image-stamp receive: .* is a video") as info:
        BagSequence(video_bag(tmp_path / "w"), image_stamp="receive",
                    option_names={"image_stamp": "--image-stamp"})
    assert "--params" not in str(info.value)  # typed: --params has nothing to do with it


@pytest.mark.parametrize("seeks", [True, False])
def test_frames_drawn_one_at_a_time_take_their_receive_times(tmp_path, monkeypatch, seeks):
    """build-map's path: frames drawn by position, read by time (`_frames_sought`) or read
    through (`_frames_read`, an MCAP without a chunk index, a ROS 1 bag)."""
    from mast3r_ros.replay.rosbag import drawn

    if not seeks:
        monkeypatch.setattr(drawn, "_mcap_has_chunk_index", lambda path: False)
    seq = BagSequence(clock_bag(tmp_path, lambda t: t - EPOCH + BOOT), depth_topic="/cam/depth",
                      pose_frames="map:camera_optical", image_stamp="receive")
    frames = list(seq.frames_or_unreadable(iter([1, 4, 6])))
    assert [f.stamp_ns for f in frames] == [EPOCH + k * 100 * MS + 30 * MS for k in (1, 4, 6)]
    assert all(f.map_from_cam is not None and f.depth_m is not None for f in frames)


def test_image_stamp_receive_from_params_is_named_as_such_for_a_tum_folder(tum, tmp_path,
                                                                           capsys):
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_stamp: receive\n")
    capsys.readouterr()
    assert main(["build-map", str(tum[0]), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--params", str(params), "--log-level", "warning"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"image_stamp: receive in {params}: " in line, line  # the file's line, as written
    assert "--image-stamp header" in line, line


def test_a_run_stopped_with_header_stamps_is_not_resumed_with_receive(tmp_path):
    """Its frames were timed otherwise: mixing both would match ground truth at two times."""
    import dataclasses

    from mast3r_ros.core.config import Config, dump_config_yaml
    from mast3r_ros.replay.run_resume import _check_config

    dump_config_yaml(Config(), str(tmp_path / "config.yaml"))
    receive = dataclasses.replace(Config(), node=dataclasses.replace(Config().node,
                                                                     image_stamp="receive"))
    with pytest.raises(InputError, match=r"image_stamp 'header' \(now 'receive'\)"):
        _check_config(str(tmp_path), receive)
    _check_config(str(tmp_path), Config())


def test_images_read_at_receive_times_are_not_told_to_read_them_so(tmp_path, caplog):
    """tf in sim time, the recorder on ROS time: the images' receive times are still another
    clock than tf's, and the note leaves out the remedy already applied."""
    bag = clock_bag(tmp_path, lambda t: t, tf_clock=lambda t: t - EPOCH + 50 * S)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag, pose_frames="map:camera_optical", image_stamp="receive")
    assert "different clocks" in seq.other_clock and "tf counts from near 0" in seq.other_clock
    assert "receive (" not in seq.other_clock, seq.other_clock
    header = BagSequence(bag, pose_frames="map:camera_optical")
    assert "; or read this bag with image_stamp receive (" in header.other_clock


def test_run_n_with_receive_does_not_say_the_header_time_never_jumps_back(tmp_path):
    """A simulator-reset bag (header time jumps back, receive times do not) read with receive
    has one run: --run 2 was refused saying its images' header time never jumps back, which
    it does; the refusal names receive and how to read the runs (header)."""
    from test_rosbag_values import bag_of, colour

    msgs = [("/cam/camera_info", 0, camera_info(S))]
    msgs += [("/cam/image", (k + 1) * S, colour(t * MS))
             for k, t in enumerate([1000, 1100, 1200, 1050, 1150, 1250])]
    assert len(BagSequence(bag_of(tmp_path, msgs), run=2).stamps_ns) == 3  # header: two runs
    with pytest.raises(InputError) as refused:
        BagSequence(bag_of(tmp_path, msgs, "b"), run=2, image_stamp="receive",
                    option_names={"image_stamp": "--image-stamp"})
    line = str(refused.value)
    assert "header time never jumps back" not in line, line
    assert "read with --image-stamp receive" in line and "(--image-stamp header)" in line, line


def test_receive_on_a_reset_bag_says_tfs_later_run_is_not_read(tmp_path, caplog):
    """A simulator reset: images and tf both stamped 1.0-1.2 s, then again 1.05-1.25 s. Read
    with receive, the images are one run (their receive times go on) but tf's samples after
    the jump were dropped without a word: the images after it had 'no pose' and a tf range
    that did not say why. One warning names the jump and --image-stamp header."""
    from test_rosbag_values import bag_of, colour

    msgs = [("/cam/camera_info", 0, camera_info(S)),
            ("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)]))]
    for k, t in enumerate([1000, 1100, 1200, 1050, 1150, 1250]):
        msgs.append(("/tf", (k + 1) * S, tf_message([("map", "base_link", t * MS,
                                                     pose([0, 0, 0], [0.1 * k, 0, 0]))])))
        msgs.append(("/cam/image", (k + 1) * S + MS, colour(t * MS)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical",
                    image_stamp="receive", option_names={"image_stamp": "--image-stamp"})
    (warn,) = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert "tf map -> base_link jumps back" in warn and "only 3 of its 6 samples" in warn
    assert "(--image-stamp header) to choose a run with --run N" in warn, warn
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):  # header: the runs warning
        BagSequence(bag_of(tmp_path, msgs, "h"), pose_frames="map:camera_optical")
    assert not [r for r in caplog.records if "tf map -> base_link jumps" in r.getMessage()]


def test_a_bag_names_receive_from_params_as_params_not_as_the_flag(tmp_path):
    """`--params` holding image_stamp: receive (no --image-stamp typed): a bag's refusal named
    '--image-stamp receive', a flag the user never gave, while a TUM folder's named the
    --params' value; the bag's refusals name it as the folder's do."""
    from test_rosbag_values import bag_of, colour

    from mast3r_ros.replay.sources import SourceOptions, open_source

    msgs = [("/cam/camera_info", 0, camera_info(S))]
    msgs += [("/cam/image", (k + 1) * S, colour(t * MS)) for k, t in enumerate([1000, 1100])]
    with pytest.raises(InputError) as refused:
        open_source(bag_of(tmp_path, msgs), SourceOptions(
            run=2, image_stamp="receive", image_stamp_name="--params' image_stamp"))
    line = str(refused.value)
    assert "read with --params' image_stamp receive" in line, line
    assert "--image-stamp receive" not in line, line
