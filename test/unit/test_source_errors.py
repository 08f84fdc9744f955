"""What a fresh user meets when SOURCE is not what the command wants: a path that is neither a
TUM folder nor a rosbag2 is said so in one line, not as a rosbag error."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.sources import open_source
from mast3r_ros.replay.synthetic import write_demo_sequences

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NEITHER = "is neither a TUM RGB-D folder (no rgb.txt) nor a rosbag2"


def _cli_error(capsys, argv) -> str:
    """``mast3r-ros ARGV``: assert exit 2 with one error line and no traceback; the line."""
    capsys.readouterr()
    rc = main([*argv, "--log-level", "warning"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert rc == 2 and len(lines) == 1, (rc, err)
    assert "Traceback" not in err and lines[0].startswith(f"mast3r-ros {argv[0]}: error:")
    return lines[0]


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    """(map folder, query folder) of the synthetic loop, small."""
    return write_demo_sequences(str(tmp_path_factory.mktemp("seq")), num_frames=16, width=320,
                                height=240, seed=2)


@pytest.fixture(scope="module")
def sift_map(seq, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("maps") / "map")
    assert main(["build-map", seq[0], "--out", out, "--matcher", "sift", "--log-level",
                 "warning"]) == 0
    return out


# ------------------------------------------- A: neither a TUM folder nor a rosbag2 ---

def test_a_path_that_is_neither_is_said_so_not_as_a_rosbag_error(seq, sift_map, tmp_path,
                                                                  capsys):
    jpgs = tmp_path / "jpgs"  # a plain folder of images
    jpgs.mkdir()
    for name in sorted(os.listdir(Path(seq[1], "rgb")))[:3]:
        rgb = cv2.imread(str(Path(seq[1], "rgb", name)))
        cv2.imwrite(str(jpgs / (Path(name).stem + ".jpg")), rgb)
    empty = tmp_path / "empty"
    empty.mkdir()
    text = tmp_path / "README.md"
    text.write_text("# not a recording\n")
    holder = tmp_path / "recordings"  # a folder holding recordings
    shutil.copytree(seq[1], holder / "query")

    out = str(tmp_path / "m")
    for source, needle in [
        (jpgs, "for a folder of images (3 here, e.g. "),
        (empty, "the folder is empty"),
        (text, "it is a file"),
        (holder, f"it holds recordings: pass one of them as SOURCE ({holder / 'query'})"),
    ]:
        line = _cli_error(capsys, ["build-map", str(source), "--out", out, "--matcher", "sift"])
        assert f"{source} {NEITHER} (no metadata.yaml / .mcap / .db3)" in line, line
        assert needle in line and "cannot open rosbag2" not in line, line
    assert "write rgb.txt" in _cli_error(
        capsys, ["localize", str(jpgs), "--map", sift_map, "--out", str(tmp_path / "r"),
                 "--matcher", "sift"])
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "r")


def test_a_keyframe_map_given_as_source_is_sent_to_map(sift_map, seq, tmp_path, capsys):
    run = str(tmp_path / "run")
    line = _cli_error(capsys, ["localize", sift_map, "--map", sift_map, "--out", run,
                               "--matcher", "sift"])
    assert f"{sift_map} is a keyframe map (it has manifest.json), not a recording" in line
    assert "--map" in line and "rosbag2" in line
    line = _cli_error(capsys, ["build-map", sift_map, "--out", str(tmp_path / "m"),
                               "--matcher", "sift"])
    assert "is a keyframe map" in line
    with pytest.raises(InputError, match="keyframe map's manifest"):
        open_source(os.path.join(sift_map, "manifest.json"))
    with pytest.raises(InputError, match=f"pass the folder {seq[1]} as SOURCE"):
        open_source(os.path.join(seq[1], "rgb.txt"))
    with pytest.raises(InputError, match=f"inside the TUM RGB-D folder .*{Path(seq[1]).name}"):
        open_source(os.path.join(seq[1], "rgb"))


# a tiny rosbag2 written as test_rosbag.py writes them
TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
S = 1_000_000_000
W, H = 8, 6
DEPTH_TOPIC = "/camera/aligned_depth_to_color/image_raw"


def _header(stamp_ns: int):
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // S, nanosec=stamp_ns % S)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id="camera_optical")


def _image(stamp_ns: int, encoding: str, array: np.ndarray):
    data = np.ascontiguousarray(array).reshape(array.shape[0], -1).view(np.uint8)
    return T["sensor_msgs/msg/Image"](
        header=_header(stamp_ns), height=array.shape[0], width=array.shape[1],
        encoding=encoding, is_bigendian=0, step=data.shape[1], data=data.reshape(-1))


def _camera_info(stamp_ns: int):
    k = np.array([30.0, 0, (W - 1) / 2, 0, 30.0, (H - 1) / 2, 0, 0, 1])
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    return T["sensor_msgs/msg/CameraInfo"](
        header=_header(stamp_ns), height=H, width=W, distortion_model="plumb_bob",
        d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0,
        binning_y=0, roi=roi)


def _write_bag(path: Path, depth_topics=(DEPTH_TOPIC,), depth_offset_ns: int = 0) -> Path:
    """Colour images and CameraInfo at 1.0 and 1.1 s; 16UC1 depth on each of ``depth_topics``
    stamped ``depth_offset_ns`` after each image."""
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    msgs = []
    for t in (S, S + S // 10):
        msgs.append(("/camera/color/image_raw", t, _image(t, "rgb8", rgb)))
        msgs.append(("/camera/color/camera_info", t, _camera_info(t)))
        td = t + depth_offset_ns
        for topic in depth_topics:
            msgs.append((topic, td, _image(td, "16UC1", np.full((H, W), 1000, "<u2"))))
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {}
        for topic, t, msg in sorted(msgs, key=lambda m: m[1]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(conns[topic], t, TS.serialize_cdr(msg, msg.__msgtype__))
    return path


def test_real_bags_keep_their_own_errors(tmp_path):
    bag = _write_bag(tmp_path / "bag")
    assert len(open_source(str(bag))) == 2
    (storage,) = [p for p in bag.iterdir() if p.suffix == ".mcap"]
    assert len(open_source(str(storage))) == 2  # a bare storage file is a bag
    (bag / "metadata.yaml").write_text("not: [a rosbag2 metadata\n")
    with pytest.raises(InputError, match="cannot open rosbag2"):
        open_source(str(bag))
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(b"not an mcap file")
    with pytest.raises(InputError, match="cannot open rosbag2"):
        open_source(str(broken))
    (bag / "metadata.yaml").unlink()  # storage without its metadata: reindex, or the file
    with pytest.raises(InputError, match=r"holds rosbag2 storage .* but no metadata.yaml: pass "
                                         r"the storage file itself .*ros2 bag reindex"):
        open_source(str(bag))
