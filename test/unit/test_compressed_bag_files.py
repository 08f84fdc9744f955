"""A rosbag2 recorded with ``--compression-mode file``: its storage files end in ``.zstd``
(``bag_0.mcap.zstd``). The bag folder reads (rosbags decompresses it); one such file given as
SOURCE, or a folder of them without metadata.yaml, is told apart from a stray file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer  # noqa
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.sources import open_source  # noqa: E402

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
W, H = 8, 6


def _messages(stamp_ns):
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    header = T["std_msgs/msg/Header"](stamp=stamp, frame_id="camera_optical")
    rgb = np.full((H, W, 3), 100, np.uint8)
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    k = np.array([30.0, 0, 3.5, 0, 30.0, 2.5, 0, 0, 1])
    return [("/camera/image_raw", T["sensor_msgs/msg/Image"](
        header=header, height=H, width=W, encoding="rgb8", is_bigendian=0, step=W * 3,
        data=rgb.reshape(-1))), ("/camera/camera_info", T["sensor_msgs/msg/CameraInfo"](
            header=header, height=H, width=W, distortion_model="plumb_bob", d=np.zeros(5), k=k,
            r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi))]


@pytest.fixture(params=[StoragePlugin.MCAP, StoragePlugin.SQLITE3], ids=["mcap", "sqlite3"])
def packed_bag(request, tmp_path):
    bag = tmp_path / "packed"
    writer = Writer(bag, version=9, storage_plugin=request.param)
    writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
    with writer:
        conns = {}
        for t in (10**9, 2 * 10**9):
            for topic, msg in _messages(t):
                if topic not in conns:
                    conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
                writer.write(conns[topic], t, TS.serialize_cdr(msg, msg.__msgtype__))
    (storage,) = [p for p in bag.iterdir() if p.name != "metadata.yaml"]
    assert storage.name.endswith((".mcap.zstd", ".db3.zstd"))
    return bag, storage


def _refusal(path) -> str:
    with pytest.raises(InputError) as err:
        open_source(str(path))
    return str(err.value)


def test_the_bag_folder_reads(packed_bag):
    bag, _ = packed_bag
    assert len(open_source(str(bag))) == 2


def test_its_storage_file_given_alone_names_the_folder(packed_bag):
    """Said 'neither a TUM RGB-D folder (no rgb.txt) nor a rosbag2 (...): it is a file'."""
    bag, storage = packed_bag
    said = _refusal(storage)
    assert said == (f"{storage} is a compressed rosbag2 storage file ('ros2 bag record "
                    f"--compression-mode file'): pass its bag folder {bag} as SOURCE, whose "
                    "metadata.yaml names the compression"), said


def test_compressed_storage_without_metadata_says_to_decompress(packed_bag, tmp_path):
    """A folder of them without metadata.yaml said only 'neither ... nor a rosbag2', and one
    file of it 'it is a file'; 'ros2 bag reindex' alone does not read compressed storage."""
    _, storage = packed_bag
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(storage, bare / storage.name)
    said = _refusal(bare)
    assert said.startswith(f"{bare} holds compressed rosbag2 storage ({storage.name}) but no "
                           "metadata.yaml: decompress the files ('zstd -d FILE')"), said
    assert f"'ros2 bag reindex {bare}'" in said
    said = _refusal(bare / storage.name)
    assert f"decompress it ('zstd -d {bare / storage.name}') and pass the " \
           f"{storage.name[:-5]} it gives as SOURCE" in said, said
