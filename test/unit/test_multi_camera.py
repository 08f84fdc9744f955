"""A robot with two cameras (front and rear RGB-D, other intrinsics and sizes, each its own
CameraInfo, depth topic and optical frame on /tf_static under base_link) and one map of the
site: a second --image-topic (or depth, CameraInfo, pose option) is refused naming both, not
silently replaced by the last; the bag's several image topics say how to map both; one
build-map per camera joined with merge-maps keeps each keyframe's intrinsics and size, and the
rear camera's frames localize against it, base_link through /tf_static."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402
from test_rosbag import MS, T, header, image, pose, tf_message, write_bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.geometry import invert_pose, pose_error  # noqa: E402
from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_ros.replay.cli import build_parser, main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.synthetic import default_intrinsics, loop_trajectory, make_room, render  # noqa: E402,E501

FRONT, REAR = "/front/color/image_raw", "/rear/color/image_raw"
# optical frames (z forward, x right, y down) on base_link (x forward, z up): front looks
# ahead, rear looks back, higher and off-centre
BASE_FROM_FRONT = pose(Rotation.from_euler("xyz", [-np.pi / 2, 0, -np.pi / 2]).as_rotvec(),
                       [0.1, 0.0, 0.3])
BASE_FROM_REAR = pose(Rotation.from_euler("xyz", [-np.pi / 2, 0, np.pi / 2]).as_rotvec(),
                      [-0.2, 0.05, 0.4])
CAMS = {"front": (default_intrinsics(160, 120), BASE_FROM_FRONT),
        "rear": (CameraIntrinsics(128, 96, [[90.0, 0, 66.0], [0, 91.0, 47.0], [0, 0, 1]]),
                 BASE_FROM_REAR)}


def _info(stamp, cam, frame):
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    p = np.zeros(12)
    p[[0, 1, 2, 4, 5, 6, 8, 9, 10]] = cam.K.reshape(-1)
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(stamp, frame), height=cam.height, width=cam.width,
        distortion_model="plumb_bob", d=np.zeros(5), k=cam.K.reshape(-1),
        r=np.eye(3).reshape(-1), p=p, binning_x=0, binning_y=0, roi=roi)


def _two_camera_bag(path, n, seed):
    """The robot walking the synthetic room's loop: (bag, {camera: [(stamp, map_from_cam)]}),
    map -> base_link on /tf, the two mounts on /tf_static."""
    scene, walk = make_room(0), loop_trajectory(n, seed)
    msgs = [("/tf_static", 0, tf_message([("base_link", "front_optical", 0, BASE_FROM_FRONT),
                                          ("base_link", "rear_optical", 0, BASE_FROM_REAR)]))]
    truth = {"front": [], "rear": []}
    for k in range(n):
        t = 1000 * MS + k * 100 * MS
        map_from_base = walk[k] @ invert_pose(BASE_FROM_FRONT)
        msgs.append(("/tf", t, tf_message([("map", "base_link", t, map_from_base)])))
        for name, (cam, mount) in CAMS.items():
            rgb, depth = render(scene, cam, map_from_base @ mount)
            mm = np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.uint16)
            frame = f"{name}_optical"
            msgs += [(f"/{name}/color/image_raw", t, image(t, "rgb8", rgb, frame_id=frame)),
                     (f"/{name}/color/camera_info", t, _info(t, cam, frame)),
                     (f"/{name}/depth/image_raw", t, image(t, "16UC1", mm, frame_id=frame))]
            truth[name].append((t, map_from_base @ mount))
    msgs.sort(key=lambda m: m[1])
    return write_bag(path, StoragePlugin.MCAP, msgs), truth


@pytest.mark.parametrize("command", ["build-map", "localize"])
@pytest.mark.parametrize("option, values", [
    ("--image-topic", (FRONT, REAR)),
    ("--depth-topic", ("/front/depth/image_raw", "/rear/depth/image_raw")),
    ("--camera-info-topic", ("/front/color/camera_info", "/rear/color/camera_info")),
    ("--pose-frames", ("map:front_optical", "map:rear_optical")),
    ("--pose-topic", ("/front/odom", "/rear/odom")),
    ("--camera-info", ("front.yaml", "rear.yaml")),
])
def test_a_second_camera_option_is_refused_naming_both(tmp_path, capsys, command, option,
                                                       values):
    """Was: argparse kept the last value, so `--image-topic front --image-topic rear` built a
    map of the rear camera alone without a word."""
    argv = [command, str(tmp_path / "bag"), option, values[0], option, values[1], "--out",
            str(tmp_path / "out"), "--matcher", "sift"]
    if command == "localize":
        argv += ["--map", str(tmp_path / "map")]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert (f"error: argument {option}: given twice ({values[0]}, {values[1]}): a run reads one "
            "camera; run once per camera (a map of several cameras: one build-map each, joined "
            "with merge-maps)") in err[0]
    assert not os.path.exists(tmp_path / "out")


def test_a_second_map_is_refused_pointing_at_merge_maps(tmp_path, capsys):
    """Was: `localize --map maps/front --map maps/rear` localized against maps/rear alone, while
    a user with one map per camera reads it as both."""
    with pytest.raises(SystemExit) as e:
        main(["localize", str(tmp_path / "bag"), "--map", "maps/front", "--map", "maps/rear",
              "--out", str(tmp_path / "out"), "--matcher", "sift"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("error: argument --map: given twice (maps/front, maps/rear): "
                              "localize reads one map; to localize against both, join them "
                              "first: mast3r-ros merge-maps A B --out AB, then --map AB") in err[0]
    assert not os.path.exists(tmp_path / "out")


def test_the_same_value_twice_is_read_once(tmp_path):
    args = build_parser().parse_args(["build-map", "bag", "--image-topic", FRONT,
                                      "--image-topic", FRONT, "--out", "m"])
    assert args.image_topic == FRONT


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    d = tmp_path_factory.mktemp("two_cameras")
    return _two_camera_bag(d / "site", 8, 0), _two_camera_bag(d / "walk", 4, 1), d


def test_several_image_topics_say_how_to_map_each_camera(bags):
    with pytest.raises(InputError, match=r"several image topics: /front/color/image_raw, "
                       r"/rear/color/image_raw; choose one with BagSequence\(image_topic=\.\.\.\) "
                       r"\(one camera a run; a map of several cameras: one build-map per camera, "
                       r"joined with merge-maps\)$"):
        BagSequence(bags[0][0])


def test_one_map_of_two_cameras_localizes_the_rear_camera_through_tf_static(bags):
    """build-map per camera + merge-maps: each keyframe keeps its camera's size and K; the rear
    camera's frames of another walk localize against it, their poses (the bag's TF: map ->
    base_link -> rear_optical) within 5 cm / 1.5 deg, and so does base_link from them (a
    wrong mount would put it decimetres and degrees off)."""
    (site, _), (walk, truth), d = bags
    for name in CAMS:
        assert main(["build-map", str(site), "--matcher", "sift", "--image-topic",
                     f"/{name}/color/image_raw", "--depth-topic", f"/{name}/depth/image_raw",
                     "--pose-frames", "map", "--out", str(d / name), "--log-level",
                     "warning"]) == 0
    assert main(["merge-maps", str(d / "front"), str(d / "rear"), "--out", str(d / "both"),
                 "--log-level", "warning"]) == 0
    table = np.load(d / "both" / "keyframe_table.npy")
    sizes = {(int(r["width"]), int(r["height"])) for r in table}
    assert sizes == {(160, 120), (128, 96)}
    for r in table:
        cam = CAMS["front" if r["width"] == 160 else "rear"][0]
        np.testing.assert_allclose(r["K"], cam.K)
    assert main(["localize", str(walk), "--map", str(d / "both"), "--matcher", "sift",
                 "--image-topic", REAR, "--pose-frames", "map", "--out", str(d / "run"),
                 "--log-level", "warning"]) == 0
    m = json.load(open(d / "run" / "metrics.json"))
    assert m["localized"] == m["frames"] == 4, m
    got = {int(json.loads(s)["stamp_ns"]): json.loads(s) for s in open(d / "run" /
                                                                        "results.jsonl")}
    for t, want in truth["rear"]:
        est = np.array(got[t]["map_from_cam"])
        e_m, e_deg = pose_error(est, want)
        assert e_m < 0.05 and e_deg < 1.5, (t, e_m, e_deg)  # 128x96 px: 1 to 4 cm
        base_m, base_deg = pose_error(est @ invert_pose(BASE_FROM_REAR),
                                      want @ invert_pose(BASE_FROM_REAR))
        assert base_m < 0.05 and base_deg < 1.5, (t, base_m, base_deg)
