"""Inputs bench/fuzz_inputs.py found escaping as another exception than the package's own
(cv2.error, ValueError, TypeError, UnicodeDecodeError, MemoryError): each is now an
`InputError` that says what is wrong, plus a bounded seeded fuzz run of the message decoders."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import (decode_compressed, decode_image, read_image_file,
                                         to_rgb8)

REPO = Path(__file__).resolve().parents[2]


def _png_stating(width: int, height: int, dtype=np.uint8) -> bytes:
    """A valid small PNG whose IHDR (CRC fixed) states ``width`` x ``height``."""
    data = bytearray(cv2.imencode(".png", np.zeros((6, 8), dtype))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("encoding, width, height, step", [
    ("nv24", 0, 0, 4), ("nv24", 0, 10, 2), ("nv12", 0, 4, 0), ("rgb8", 0, 0, 0),
    ("bgr8", 4, 0, 12)])
def test_an_image_without_pixels_is_refused(encoding, width, height, step):
    # nv24 was a ValueError (reshape) or a cv2.error (cvtColor of an empty array)
    planes = {"nv24": 3, "nv12": 1.5}.get(encoding, 1)
    array = decode_image(encoding, height, width, step, bytes(int(step * height * planes)))
    with pytest.raises(InputError, match="has no pixels .*width or height 0"):
        to_rgb8(array, encoding)


@pytest.mark.parametrize("dtype", [np.uint32, np.int32])
def test_numpy_sizes_whose_product_overflows_are_refused_as_too_little_data(dtype):
    # np.uint32(65536) * np.uint32(65536) wrapped to 0 bytes expected: a ValueError (reshape)
    with pytest.raises(InputError, match=r"has 0 bytes, expected step \* height = 65536 \* "
                                         r"65536 = 4294967296"):
        decode_image("mono8", dtype(65536), dtype(65536), dtype(65536), b"")


@pytest.mark.parametrize("fmt", ["png", "16UC1; compressedDepth png"])
def test_a_compressed_png_stating_over_opencvs_pixel_limit_is_refused(fmt):
    # was cv2.error "pixels <= CV_IO_MAX_IMAGE_PIXELS" from imdecode
    png = _png_stating(70000, 70000, np.uint16 if "Depth" in fmt else np.uint8)
    data = bytes(12) + png if "Depth" in fmt else png
    with pytest.raises(InputError, match=r"header states a size over OpenCV's limit of 2\*\*30"):
        decode_compressed(fmt, data)


def test_an_image_file_stating_over_opencvs_pixel_limit_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png_stating(70000, 70000))
    with pytest.raises(InputError, match=r"cannot decode image .*big\.png: its header states"):
        read_image_file(path)


def test_a_tum_depth_png_stating_over_opencvs_pixel_limit_is_refused(tmp_path):
    from test_image_codec import CAMERA_YAML  # 32x24

    from mast3r_ros.replay.tum import TumSequence

    (tmp_path / "camera.yaml").write_text(CAMERA_YAML)
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    cv2.imwrite(str(tmp_path / "rgb" / "1.png"), np.zeros((24, 32, 3), np.uint8))
    (tmp_path / "depth" / "1.png").write_bytes(_png_stating(70000, 70000, np.uint16))
    (tmp_path / "rgb.txt").write_text("1.0 rgb/1.png\n")
    (tmp_path / "depth.txt").write_text("1.0 depth/1.png\n")
    seq = TumSequence(tmp_path)
    with pytest.raises(InputError, match=r"cannot decode depth image .*: its header states"):
        seq[0]


@pytest.mark.parametrize("name", ["euroc", "kalibr"])
def test_a_distortion_model_that_is_not_a_name_is_refused(tmp_path, name):
    # a mapping or list was a TypeError (unhashable) looking it up among the models
    from mast3r_ros.core.image_codec import load_camera_info_yaml

    if name == "euroc":
        from test_camera_info_euroc import RADTAN, SENSOR
        text = SENSOR.format(model="{model: radtan}", coeffs=RADTAN)
    else:
        from test_camera_info_kalibr import CAMCHAIN, RADTAN
        text = CAMCHAIN.format(model="[radtan]", coeffs=RADTAN)
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="distortion_model .* has no sensor_msgs/CameraInfo"):
        load_camera_info_yaml(path)


def _bag(tmp_path, storage):
    from test_rosbag import rgbd_messages, write_bag
    return write_bag(tmp_path / "bag", storage, rgbd_messages())


def _metadata_not_utf8(bag: Path) -> None:
    path = bag / "metadata.yaml"
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")


def _metadata_count_text(bag: Path) -> None:
    import re
    path = bag / "metadata.yaml"
    path.write_text(re.sub(r"message_count: \d+\n(\s+)topic_metadata",
                           r"message_count: abc\n\1topic_metadata", path.read_text(), count=1))


def _mcap_huge_record(bag: Path) -> None:
    path = next(bag.glob("*.mcap"))
    data = bytearray(path.read_bytes())
    summary_start = struct.unpack_from("<Q", data, len(data) - 8 - 29 + 9)[0]  # the footer's
    struct.pack_into("<Q", data, summary_start + 1, 2 ** 62)  # its first record's length
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("edit, storage, says", [
    (_metadata_not_utf8, "MCAP", "its metadata.yaml is not UTF-8 text"),
    (_metadata_count_text, "SQLITE3", "its metadata.yaml or a storage file is damaged"),
    (_mcap_huge_record, "MCAP", "a storage file states a record longer than any memory"),
], ids=["metadata-not-utf8", "metadata-count-text", "mcap-huge-record"])
def test_a_damaged_bag_is_refused_as_damaged(tmp_path, edit, storage, says):
    # were UnicodeDecodeError, TypeError (summing the counts) and MemoryError from rosbags
    from rosbags.rosbag2 import StoragePlugin

    from mast3r_ros.replay.sources import open_source

    bag = _bag(tmp_path, getattr(StoragePlugin, storage))
    edit(bag)
    with pytest.raises(InputError, match=f"cannot open rosbag2 .*: {says}.*ros2 bag reindex"):
        open_source(str(bag))


def _mcap_chunk_checksum(bag: Path) -> None:
    path = next(bag.glob("*.mcap"))
    data = bytearray(path.read_bytes())
    at = 8  # after the magic: records of opcode (u8), length (u64), content
    while data[at] != 0x06:  # the first Chunk
        at += 9 + struct.unpack_from("<Q", data, at + 1)[0]
    data[at + 9 + 24] ^= 0xFF  # its uncompressed_crc (after 3 u64 fields)
    path.write_bytes(bytes(data))


BIG = np.random.default_rng(1).integers(0, 256, (48, 64, 3), np.uint8)  # over a 4 KiB page


def _db3_overflow_pointer(bag: Path) -> None:
    path = next(bag.glob("*.db3"))
    data = bytearray(path.read_bytes())
    page = data.index(BIG.tobytes()[4500:4532]) // 4096  # the image's first overflow page
    data[page * 4096: page * 4096 + 4] = b"\xff\xff\xff\xf0"  # its next page: none there
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("edit, storage", [(_mcap_chunk_checksum, "MCAP"),
                                           (_db3_overflow_pointer, "SQLITE3")],
                         ids=["mcap-chunk-crc", "db3-overflow-page"])
def test_a_bag_damaged_past_its_index_is_refused_when_read(tmp_path, edit, storage):
    # were rosbags' ReaderError ('Chunk checksum mismatch') and apsw's CorruptError ('database
    # disk image is malformed') from the depth-topic probe's reader.messages, outside every
    # except: the index and metadata are whole, a message's bytes are not
    from rosbags.rosbag2 import StoragePlugin
    from test_rosbag import S, camera_info, image, write_bag

    from mast3r_ros.replay.sources import frames_or_unreadable, open_source

    msgs = [("/camera/color/camera_info", S, camera_info(S, width=64, height=48)),
            ("/camera/color/image_raw", S + 1, image(S, "rgb8", BIG))]
    bag = write_bag(tmp_path / "bag", getattr(StoragePlugin, storage), msgs)
    edit(bag)
    with pytest.raises(InputError, match=r"cannot read rosbag2 .* after 0 messages of those "
                                         r"asked for: a storage file is damaged \((ReaderError|"
                                         r"CorruptError|DatabaseError)"):
        list(frames_or_unreadable(open_source(str(bag))))


def fuzz_targets_module():
    """bench/fuzz_targets.py (its TARGETS: name -> (setup, case)), imported from bench/."""
    import sys

    sys.path[:0] = [str(REPO / "bench")]
    try:
        import fuzz_targets
    finally:
        del sys.path[0]
    return fuzz_targets


def run_seeded_fuzz(name: str, ctx: dict, count: int) -> None:
    """``count`` inputs of bench/fuzz_inputs.py's target ``name`` (seed 0, input i drawn from
    ``default_rng([0, i])``) after its setup on ``ctx``: each read or refused with a package
    error (`Mast3rRosError`); any other exception fails the test naming the input."""
    from mast3r_ros.core.errors import Mast3rRosError

    setup, case = fuzz_targets_module().TARGETS[name]
    setup(ctx)
    for i in range(count):
        note = ["?"]
        try:
            case(np.random.default_rng([0, i]), ctx, note)
        except Mast3rRosError:
            pass
        except Exception as err:  # noqa: BLE001 - the finding
            pytest.fail(f"{name} input {i} ({note[0]}) escaped: {type(err).__name__}: {err}")


def test_a_bounded_seeded_fuzz_of_the_message_decoders_escapes_nothing():
    """300 mutated Image / CompressedImage / CameraInfo messages each (bench/fuzz_inputs.py's
    cases, seed 0): every one read or refused with a package error."""
    for name in ("image", "compressed", "camera_info"):
        run_seeded_fuzz(name, {}, 300)


@pytest.mark.parametrize("edit", [
    lambda m: m.pop("num"), lambda m: m["files"].pop("descs.npy"),
    lambda m: m["files"].update({"descs.npy": None}),
], ids=["no-num", "no-descs-entry", "descs-entry-null"])
def test_a_retrieval_index_json_of_other_types_is_refused_naming_it(tmp_path, edit):
    # a map whose index.json (checksummed in the manifest: a broken writer's) lacks num or the
    # descs.npy entry, or has a number of another type, was a KeyError / TypeError
    import json

    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.retrieval_index import RetrievalIndex

    RetrievalIndex.build(np.ones((4, 8), np.float32)).save(str(tmp_path))
    path = tmp_path / "index.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))
    with pytest.raises(MapFormatError, match=r"index\.json: (num and dim must be whole "
                                             r"numbers|its file table must list descs\.npy)"):
        RetrievalIndex.load(str(tmp_path))


@pytest.mark.parametrize("rows, cols, says", [
    # OpenCV 5 reads the number as int64's limit, 4.5 as -1: refused either way
    ("3", "9" * 40, r"camera_matrix\.cols must be a whole number from 0 to 64, got "
                    r"(922337203685477580\d|-1) "),
    ("3", "4", r"camera_matrix states rows 3 x cols 4 = 12 values but its data holds 9"),
    ("-3", "3", r"camera_matrix\.rows must be a whole number from 0 to 64, got -3"),
])
def test_an_opencv_matrix_whose_size_is_not_its_data_is_refused_before_opencv_reads_it(
        tmp_path, rows, cols, says):
    # mat() allocates rows x cols before comparing them with the data: a cols beyond int
    # corrupted the heap (the process aborted a few reads later: 'free(): invalid next size');
    # other sizes were said to be no !!opencv-matrix at all
    from test_camera_info_formats import _calibration, _opencv

    from mast3r_ros.core.image_codec import load_camera_info_yaml

    path = _opencv(tmp_path, _calibration())
    text = path.read_text()
    assert "   rows: 3\n   cols: 3\n" in text
    path.write_text(text.replace("   rows: 3\n   cols: 3\n", f"   rows: {rows}\n   cols: {cols}\n"))
    with pytest.raises(InputError, match=says):
        load_camera_info_yaml(path)


def test_an_echoed_camera_info_with_a_tag_no_loader_constructs_is_refused(tmp_path):
    # '0.0, !1.0' (a space lost to '!') is a YAML tag: was yaml's ConstructorError
    from test_camera_info_formats import ECHO

    from mast3r_ros.core.image_codec import load_camera_info_yaml

    path = tmp_path / "echo.yaml"
    path.write_text(ECHO.replace("binning_x: 0", "binning_x: !1.0 0"))
    with pytest.raises(InputError, match=r"echo\.yaml is not a message's YAML: could not "
                                         r"determine a constructor for the tag '!1\.0'"):
        load_camera_info_yaml(path)


def test_a_bag_whose_definitions_lack_its_image_type_is_refused_naming_it(tmp_path):
    # a .db3 whose message_definitions row of the image type was damaged: rosbags' typestore
    # had no sensor_msgs/msg/Image and deserializing was a KeyError
    import sqlite3

    from rosbags.rosbag2 import StoragePlugin

    from mast3r_ros.replay.sources import frames_or_unreadable, open_source

    bag = _bag(tmp_path, StoragePlugin.SQLITE3)
    with sqlite3.connect(next(bag.glob("*.db3"))) as db:
        db.execute("UPDATE message_definitions SET topic_type = 'sensor_msg_/msg/Image' "
                   "WHERE topic_type = 'sensor_msgs/msg/Image'")
    db.close()
    with pytest.raises(InputError, match=r"no definition of message type sensor_msgs/msg/Image "
                                         r"to read it with: the recording's message definitions"):
        list(frames_or_unreadable(open_source(str(bag))))
