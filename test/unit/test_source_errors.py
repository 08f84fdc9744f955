"""What a fresh user meets when SOURCE is not what the command wants: a path that is neither a
TUM folder nor a rosbag2 (said in one line, not as a rosbag error), a truncated JPEG or PNG in a
TUM folder (refused, naming the file, not decoded half grey), and ``--matcher sift`` on a
recording read without depth (refused before any work, naming the bag's depth topics)."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import ImageSizeError, InputError
from mast3r_ros.core.image_codec import (check_image_file_intact, load_camera_info_yaml,
                                         read_image_file)
from mast3r_ros.core.types import CameraIntrinsics, Frame, UnreadableFrame
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.sources import SourceOptions, frames_or_unreadable, open_source
from mast3r_ros.replay.tum import TumSequence

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# every kind SOURCE takes and what shows it (it named TUM and rosbag2 alone)
NEITHER = ("is none of the recordings SOURCE takes: a TUM RGB-D folder (rgb.txt and camera.yaml), "
           "an EuRoC/ASL dataset (mav0/cam0/data.csv and data/, sensor.yaml), a KITTI odometry "
           "sequence (image_0/ or image_2/, times.txt and calib.txt), a rosbag2 (a folder with "
           "metadata.yaml, or a .mcap / .db3 file) or a ROS 1 .bag file")


def _cli_error(capsys, argv) -> str:
    """``mast3r-ros ARGV``: assert exit 2 with one error line and no traceback; the line."""
    capsys.readouterr()
    rc = main([*argv, "--log-level", "warning"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert rc == 2 and len(lines) == 1, (rc, err)
    assert "Traceback" not in err and lines[0].startswith(f"mast3r-ros {argv[0]}: error:")
    return lines[0]


# ------------------------------------------- A: neither a TUM folder nor a rosbag2 ---

def test_a_path_that_is_neither_is_said_so_not_as_a_rosbag_error(tum, sift_map, tmp_path,
                                                                  capsys):
    jpgs = tmp_path / "jpgs"  # a plain folder of images
    jpgs.mkdir()
    for name in sorted(os.listdir(Path(tum[1], "rgb")))[:3]:
        rgb = cv2.imread(str(Path(tum[1], "rgb", name)))
        cv2.imwrite(str(jpgs / (Path(name).stem + ".jpg")), rgb)
    empty = tmp_path / "empty"
    empty.mkdir()
    text = tmp_path / "README.md"
    text.write_text("# not a recording\n")
    holder = tmp_path / "recordings"  # a folder holding recordings
    shutil.copytree(tum[1], holder / "query")

    out = str(tmp_path / "m")
    for source, needle in [
        (jpgs, "for a folder of images (3 here, e.g. "),
        (empty, "the folder is empty"),
        (text, "it is a file"),
        (holder, f"it holds recordings: pass one of them as SOURCE ({holder / 'query'})"),
    ]:
        line = _cli_error(capsys, ["build-map", str(source), "--out", out, "--matcher", "sift"])
        assert f"{source} {NEITHER}" in line, line
        assert needle in line and "cannot open rosbag2" not in line, line
    assert "write rgb.txt" in _cli_error(
        capsys, ["localize", str(jpgs), "--map", sift_map, "--out", str(tmp_path / "r"),
                 "--matcher", "sift"])
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "r")


def test_a_folder_holding_recordings_two_levels_down_names_them(tum, sift_map, tmp_path,
                                                               capsys):
    """A new user's finding: after the README's `demo --out demo_out`, `localize demo_out
    --map demo_out/map` said only 'neither a TUM RGB-D folder nor a rosbag2'; the demo's
    recordings are two levels down (demo_out/data/map, demo_out/data/query) and are named."""
    out = tmp_path / "demo_out"
    shutil.copytree(sift_map, out / "map")
    (out / "run").mkdir()
    for name in ("map", "query"):
        shutil.copytree(tum[1], out / "data" / name)
    (out / "bags" / "day1").mkdir(parents=True)
    (out / "bags" / "day1" / "day1_0.mcap").write_bytes(b"")  # a bag without metadata.yaml
    line = _cli_error(capsys, ["localize", str(out), "--map", str(out / "map"), "--out",
                               str(tmp_path / "r"), "--matcher", "sift"])
    named = ", ".join(str(out / rel) for rel in ("bags/day1", "data/map", "data/query"))
    assert line.endswith(f"{out} {NEITHER}; it holds "
                         f"recordings: pass one of them as SOURCE ({named})"), line
    # one level down is said as before, without the deeper ones
    shutil.copytree(tum[1], out / "query")
    with pytest.raises(InputError, match=rf"SOURCE \({out / 'query'}\)$"):
        open_source(str(out))
    # bounded: a folder with more than 64 folders before the recordings is not walked through
    shutil.rmtree(out / "query")
    for i in range(70):
        (out / "a" / f"{i:03d}").mkdir(parents=True)
    with pytest.raises(InputError) as e:
        open_source(str(out))
    assert str(e.value).endswith(NEITHER), str(e.value)


def test_a_keyframe_map_given_as_source_is_sent_to_map(sift_map, tum, tmp_path, capsys):
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
    with pytest.raises(InputError, match=f"pass the folder {tum[1]} as SOURCE"):
        open_source(os.path.join(tum[1], "rgb.txt"))
    with pytest.raises(InputError, match=f"inside the TUM RGB-D folder .*{Path(tum[1]).name}"):
        open_source(os.path.join(tum[1], "rgb"))



def test_what_source_may_be_names_the_euroc_and_kitti_folders_too(sift_map, tmp_path):
    """The lines that say what SOURCE may be (a path not found, an empty one, a map or its
    manifest given) named a TUM folder or a rosbag2 only, after EuRoC/ASL and KITTI folders
    were read as SOURCE (--help names all four)."""
    for path in ("", str(tmp_path / "missing"), sift_map, os.path.join(sift_map, "manifest.json")):
        with pytest.raises(InputError) as err:
            open_source(path)
        for kind in ("TUM RGB-D", "EuRoC/ASL", "KITTI", "rosbag2"):
            assert kind in str(err.value), (path, str(err.value))

# a tiny rosbag2 written as test_rosbag.py writes them (rosbags is a pip-only requirement: a ROS
# machine's `colcon test` runs without it, and skips the tests that write bags)
try:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
except ImportError:
    TS = T = None
else:
    TS = get_typestore(Stores.ROS2_HUMBLE)
    T = TS.types
needs_rosbags = pytest.mark.skipif(TS is None, reason="rosbags is not installed (pip install "
                                                      "rosbags)")
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


def _write_bag(path: Path, depth_topics=(DEPTH_TOPIC,), depth_offset_ns: int = 0, *,
               depth_encoding: str = "16UC1", depth_raw: int = 1000,
               image_encoding: str = "rgb8", colour: Optional[np.ndarray] = None) -> Path:
    """Colour images and CameraInfo at 1.0 and 1.1 s; depth (``depth_encoding``, every pixel
    ``depth_raw``) on each of ``depth_topics`` stamped ``depth_offset_ns`` after each image.
    ``colour``: the images' pixels in ``image_encoding`` (default: random rgb8)."""
    rgb = (np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
           if colour is None else colour)
    msgs = []
    for t in (S, S + S // 10):
        msgs.append(("/camera/color/image_raw", t, _image(t, image_encoding, rgb)))
        msgs.append(("/camera/color/camera_info", t, _camera_info(t)))
        td = t + depth_offset_ns
        for topic in depth_topics:
            msgs.append((topic, td, _image(td, depth_encoding,
                                           np.full((H, W), depth_raw, "<u2"))))
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {}
        for topic, t, msg in sorted(msgs, key=lambda m: m[1]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(conns[topic], t, TS.serialize_cdr(msg, msg.__msgtype__))
    return path


@needs_rosbags
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
    # a fresh user's find: rosbags' own words alone ("File end magic is invalid.", "Invalid
    # bag metadata: 'NoneType' object is not subscriptable.") say nothing of what to do
    (bag / "metadata.yaml").write_text("")
    with pytest.raises(InputError, match=r"metadata.yaml is empty or not a rosbag2's: 'ros2 bag "
                                         r"reindex .*bag' writes it anew") as e:
        open_source(str(bag))
    assert ". (metadata.yaml" not in str(e.value), e.value  # rosbags' full stop, mid-sentence
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(storage.read_bytes()[:storage.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut.mcap: .*\(a recording killed before it closed, "
                                         r".*'mcap recover IN -o OUT'") as e:
        open_source(str(cut))
    assert ". (a recording" not in str(e.value), e.value
    (bag / "metadata.yaml").unlink()  # storage without its metadata: reindex, or the file
    with pytest.raises(InputError, match=r"holds rosbag2 storage .* but no metadata.yaml: pass "
                                         r"the storage file itself .*ros2 bag reindex"):
        open_source(str(bag))


# --------------------------------------------------- B: truncated JPEG / PNG files ---

def _truncate(path: Path, keep: float = 1 / 3, drop: int = 0) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - drop] if drop else data[:int(len(data) * keep)])


def _as_jpeg_folder(src: str, dst: Path) -> Path:
    """A copy of TUM folder ``src`` with its colour images as JPEG (rgb.txt rewritten)."""
    shutil.copytree(src, dst)
    lines = []
    for line in (dst / "rgb.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            lines.append(line)
            continue
        stamp, name = line.split()
        jpg = str(Path(name).with_suffix(".jpg"))
        cv2.imwrite(str(dst / jpg), cv2.imread(str(dst / name)), [cv2.IMWRITE_JPEG_QUALITY, 95])
        os.remove(dst / name)
        lines.append(f"{stamp} {jpg}")
    (dst / "rgb.txt").write_text("\n".join(lines) + "\n")
    return dst


def test_read_image_file_refuses_truncated_jpeg_and_png(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    rgb = cv2.GaussianBlur(rgb, (5, 5), 0)
    for ext in (".jpg", ".png"):
        path = tmp_path / f"a{ext}"
        cv2.imwrite(str(path), rgb)
        intact = read_image_file(path)
        check_image_file_intact(path)
        # OpenCV decodes a JPEG cut short (grey rows, a libjpeg warning on stderr): refused
        for drop in (len(path.read_bytes()) * 2 // 3, 2):
            cut = tmp_path / f"cut{drop}{ext}"
            cut.write_bytes(path.read_bytes()[:-drop])
            with pytest.raises(InputError, match=rf"{cut.name}.*truncated or corrupt"):
                read_image_file(cut)
        np.testing.assert_array_equal(read_image_file(path), intact)


def _png_chunk(cid: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))


def test_an_intact_png_is_verified_not_decoded_and_a_broken_one_still_refused(tmp_path,
                                                                               monkeypatch):
    """The integrity check decoded every PNG with Pillow before OpenCV decoded it again (5.8
    of ~10 ms a 512x384 frame); Pillow's verify (chunks and CRCs) now stands for an intact
    PNG. Files cut short or changed are refused with the message of before; a file a broken
    writer made (chunks whole, CRCs right, too little image data or a bad filter byte), which
    the verify passes, is refused by OpenCV's libpng."""
    import zlib

    from PIL import ImageFile

    rgb = cv2.GaussianBlur(np.random.default_rng(2).integers(0, 256, (48, 64, 3), np.uint8),
                           (5, 5), 0)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rgb)
    loads = []
    load = ImageFile.ImageFile.load

    def spy(self, *a, **k):
        loads.append(self.format)
        return load(self, *a, **k)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    np.testing.assert_array_equal(read_image_file(path), rgb[..., ::-1])
    assert loads == []  # verified, not decoded by Pillow
    data = path.read_bytes()
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0xFF
    for name, bad in (("cut.png", data[:len(data) // 2]), ("changed.png", bytes(changed))):
        (tmp_path / name).write_bytes(bad)
        with pytest.raises(InputError, match=rf"PNG file .*{name} is truncated or corrupt"):
            read_image_file(tmp_path / name)
    head = data[:data.index(b"IDAT") - 4]  # signature and IHDR
    raw = bytearray(zlib.decompress(b"".join(
        data[i + 8:i + 8 + int.from_bytes(data[i:i + 4], "big")]
        for i in range(len(head), len(data) - 12) if data[i + 4:i + 8] == b"IDAT")))
    bad_filter = bytearray(raw)
    bad_filter[0] = 7
    for name, stream in (("short.png", bytes(raw[:len(raw) // 2])),
                         ("filter.png", bytes(bad_filter))):
        (tmp_path / name).write_bytes(head + _png_chunk(b"IDAT", zlib.compress(stream))
                                      + _png_chunk(b"IEND", b""))
        check_image_file_intact(tmp_path / name)  # whole chunks: the verify passes
        with pytest.raises(InputError, match=rf"{name}: truncated or corrupt"):
            read_image_file(tmp_path / name)


def test_tum_folder_with_a_truncated_image_is_refused_naming_it(tum, tmp_path):
    folder = _as_jpeg_folder(tum[1], tmp_path / "q")
    frames = TumSequence(folder)
    raw = cv2.imread(str(frames._depth_paths[1]), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(frames[1].depth_m, np.where(raw > 0, raw / 5000.0, np.nan)
                                  .astype(np.float32))  # depth still bit-exact from OpenCV
    rgb = frames._rgb_paths[1]
    _truncate(rgb)
    with pytest.raises(InputError, match=rf"cannot read colour image {rgb}: JPEG file .* is "
                                         "truncated"):
        frames[1]
    depth = frames._depth_paths[2]
    _truncate(depth)  # Pillow finds the missing image data
    with pytest.raises(InputError, match=rf"cannot read depth image {depth}: PNG file .* is "
                                         "truncated"):
        frames[2]
    depth = frames._depth_paths[3]
    _truncate(depth, drop=12)  # only IEND missing: OpenCV's libpng refuses it
    with pytest.raises(InputError, match=rf"cannot read depth image {depth}: truncated"):
        frames[3]


def test_tum_folder_with_an_empty_depth_png_says_it_is_empty(tum, tmp_path):
    """An empty (0-byte) depth PNG, a copy that never happened, read 'truncated or corrupt, or
    not an image'; the colour image of the same kind says 'the file is empty (0 bytes)'."""
    import shutil
    folder = tmp_path / "q"
    shutil.copytree(tum[1], folder)
    frames = TumSequence(folder)
    frames._depth_paths[1].write_bytes(b"")
    frames._rgb_paths[2].write_bytes(b"")
    with pytest.raises(InputError) as depth_err:
        frames[1]
    assert str(depth_err.value) == (f"cannot read depth image {frames._depth_paths[1]}: the file "
                                    "is empty (0 bytes)")
    with pytest.raises(InputError) as rgb_err:
        frames[2]
    assert str(rgb_err.value) == (f"cannot read colour image {frames._rgb_paths[2]}: the file "
                                  "is empty (0 bytes)")


def test_a_truncated_jpeg_is_a_failed_frame_of_localize_and_skipped_by_build_map(
        tum, sift_map, tmp_path, capsys):
    folder = _as_jpeg_folder(tum[1], tmp_path / "q_trunc")
    assert main(["build-map", str(folder), "--out", str(tmp_path / "ok"), "--matcher", "sift",
                 "--log-level", "warning"]) == 0  # JPEGs as such are fine
    bad = sorted((folder / "rgb").iterdir())[2]
    _truncate(bad)
    run = tmp_path / "run"
    capsys.readouterr()
    # localize: a failed frame naming the file, and the run goes on (test_localize_bad_frames)
    assert main(["localize", str(folder), "--map", sift_map, "--out", str(run), "--matcher",
                 "sift", "--log-level", "warning"]) == 0
    err = capsys.readouterr().err
    assert str(bad) in err and "truncated" in err and "Traceback" not in err, err
    # build-map: skipped, named, no keyframe taken from it (test_build_map_unreadable)
    out = tmp_path / "m"
    assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift",
                 "--log-level", "warning"]) == 0
    stdout, err = capsys.readouterr()
    (line,) = [ln for ln in err.splitlines() if "skipped (no keyframe taken from it)" in ln]
    assert str(bad) in line and "truncated" in line and "Traceback" not in err, err
    assert "(1 unreadable, skipped)" in stdout, stdout


# ------------------------------------- C: --matcher sift on a source without depth ---

def _sift_cfg() -> Config:
    from mast3r_ros.core.config import config_from_params

    return config_from_params({"matcher": "sift"}, where="test")


@needs_rosbags
def test_no_depth_reason_of_bags_and_tum_folders(tum, tmp_path):
    from mast3r_ros.replay.rosbag import BagSequence

    bag = _write_bag(tmp_path / "bag", depth_topics=(DEPTH_TOPIC, "/ir/image16"))
    assert BagSequence(bag).no_depth_reason() == (
        f"rosbag2 {bag} is read without depth: pass --depth-topic <topic> (depth image topics "
        f"in the bag: {DEPTH_TOPIC}, /ir/image16)")  # 16UC1, though not named depth
    assert BagSequence(bag, image_topic="/camera/color/image_raw").depth_like_topics == [
        DEPTH_TOPIC, "/ir/image16"]
    assert BagSequence(bag, depth_topic=DEPTH_TOPIC).no_depth_reason() is None
    late = _write_bag(tmp_path / "late", depth_offset_ns=30_000_000)  # 30 ms after the images
    assert BagSequence(late, depth_topic=DEPTH_TOPIC).no_depth_reason() == (
        f"no depth on {DEPTH_TOPIC} within 0.020 s of any image on /camera/color/image_raw: "
        "check the header stamps or widen --sync-tolerance")
    assert BagSequence(late, depth_topic=DEPTH_TOPIC,
                       sync_tolerance_s=0.05).no_depth_reason() is None
    colour_only = _write_bag(tmp_path / "colour_only", depth_topics=())
    assert "none of its image topics looks like depth" in BagSequence(
        colour_only).no_depth_reason()

    assert TumSequence(tum[1]).no_depth_reason() is None
    nodepth = tmp_path / "nodepth"
    shutil.copytree(tum[1], nodepth)
    os.remove(nodepth / "depth.txt")
    assert f"TUM folder {nodepth} has no depth.txt" in TumSequence(nodepth).no_depth_reason()
    rows = [ln.split() for ln in Path(tum[1], "depth.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    (nodepth / "depth.txt").write_text("".join(f"{float(t) + 0.03:.6f} {name}\n"
                                               for t, name in rows))  # 30 ms late
    assert TumSequence(nodepth).no_depth_reason() == (
        f"no image of {nodepth / 'depth.txt'} is within 0.020 s of an rgb.txt stamp: check "
        "the stamps or widen --sync-tolerance")


def test_an_empty_depth_txt_is_named_as_empty(tum, tmp_path, capsys):
    """A new user's finding: a TUM folder whose depth.txt lists nothing (empty, or only its
    '# timestamp filename' header) was refused by build-map --matcher sift as 'no image of
    depth.txt is within 0.020 s of an rgb.txt stamp: check the stamps or widen
    --sync-tolerance', sending the user after stamps that do not exist."""
    from mast3r_ros.replay.cli import main

    folder = tmp_path / "emptydepth"
    shutil.copytree(tum[0], folder)
    for text in ("", "# depth maps\n# timestamp filename\n"):
        (folder / "depth.txt").write_text(text)
        want = (f"{folder / 'depth.txt'} lists no depth images: fill it with the depth PNGs, "
                "'timestamp filename' a line")
        assert TumSequence(folder).no_depth_reason() == want
        assert main(["build-map", str(folder), "--out", str(tmp_path / "m"),
                     "--matcher", "sift"]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
        assert len(err) == 1 and err[0].endswith(want), err


@needs_rosbags
def test_build_map_sift_without_depth_refuses_before_any_work(tmp_path, capsys, monkeypatch):
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.rosbag import BagSequence

    bag = _write_bag(tmp_path / "bag")
    two = _write_bag(tmp_path / "two", depth_topics=(DEPTH_TOPIC, "/ir/image16"))
    out = tmp_path / "map"

    def fail(what):
        def method(*args, **kwargs):
            raise AssertionError(what)
        return method

    with monkeypatch.context() as m:  # the CLI refuses before the bag's indexing pass
        m.setattr(BagSequence, "_index", fail("the bag was indexed"))  # (one depth topic is
        line = _cli_error(capsys, ["build-map", str(two), "--out", str(out),  # taken: below)
                                   "--matcher", "sift"])
    assert line.endswith(f"the sift matcher takes its 3-D points from keyframe depth, but "
                         f"rosbag2 {two} is read without depth: pass --depth-topic <topic> "
                         f"(depth image topics in the bag: {DEPTH_TOPIC}, /ir/image16)"), line
    assert not out.exists() and not Path(f"{out}.partial").exists()

    # build_map itself refuses any source without depth before reading a frame
    monkeypatch.setattr(BagSequence, "__iter__", fail("a frame was read"))
    with pytest.raises(InputError, match=f"the sift matcher .* but rosbag2 {bag} is read "
                                         "without depth: pass --depth-topic"):
        build_map(BagSequence(bag), str(out), _sift_cfg())
    with pytest.raises(InputError, match="points_source 'depth' takes its 3-D points"):
        build_map(BagSequence(bag), str(out),
                  config_from_params({"points_source": "depth"}, where="test"))
    late = _write_bag(tmp_path / "late", depth_offset_ns=30_000_000)
    with pytest.raises(InputError, match="no depth on .* widen --sync-tolerance"):
        build_map(BagSequence(late, depth_topic=DEPTH_TOPIC), str(out), _sift_cfg())
    # with depth (or a matcher that does not need it) the check lets the build go on, to the
    # next refusal before a frame is read: this bag has no tf for its poses
    no_tf = "no frame has a pose: rosbag2 .* has no tf"
    with pytest.raises(InputError, match=no_tf):
        build_map(open_source(str(bag), SourceOptions(depth_topic=DEPTH_TOPIC,
                                                      depth_needed_by="the sift matcher")),
                  str(out), _sift_cfg())
    with pytest.raises(InputError, match=no_tf):
        build_map(BagSequence(bag), str(out), Config())
    assert not out.exists()


@needs_rosbags
def test_the_only_depth_topic_is_taken_where_depth_is_needed(tmp_path, caplog):
    """A new user's finding: build-map --matcher sift on a bag of one depth topic
    (/camera/aligned_depth_to_color/image_raw, 16UC1) was refused asking for --depth-topic,
    while the image and CameraInfo topics are detected when there is one. Now it is taken, said
    at INFO; several are still refused, listing them; without need no depth is read."""
    import logging

    bag = _write_bag(tmp_path / "bag")
    need = SourceOptions(depth_needed_by="the sift matcher")
    with caplog.at_level(logging.INFO, logger="mast3r_ros.replay.rosbag.depth_choice"):
        seq = open_source(str(bag), need)
    assert seq.depth_topic == DEPTH_TOPIC and seq.no_depth_reason() is None
    said = [r.getMessage() for r in caplog.records if "depth_choice" in r.name]
    assert said == [f"rosbag2 {bag}: depth from {DEPTH_TOPIC}, the bag's only depth image topic "
                    "(the sift matcher needs depth); choose another with --depth-topic"], said
    assert open_source(str(bag)).depth_topic is None  # not needed: no depth read
    two = _write_bag(tmp_path / "two", depth_topics=(DEPTH_TOPIC, "/ir/image16"))
    with pytest.raises(InputError, match=f"pass --depth-topic <topic> .*: {DEPTH_TOPIC}, /ir/"):
        open_source(str(two), need)


# ------------------------- D: camera_info of another image size (typed, named at once) ---

def _camera_yaml_of_size(folder: str, width: int, height: int, out: Path) -> Path:
    out.write_text(Path(folder, "camera.yaml").read_text()
                   .replace("image_width: 320", f"image_width: {width}")
                   .replace("image_height: 240", f"image_height: {height}"))
    return out


def test_an_image_size_error_is_typed_and_carried_by_the_unreadable_frame():
    """The readers raise `ImageSizeError` (sizes as attributes) and `UnreadableFrame` carries the
    sizes of a colour image's: the --camera-info check no longer parses the error's words."""
    intr = CameraIntrinsics(K=[30, 0, 7.5, 0, 30, 5.5, 0, 0, 1], width=16, height=12)
    with pytest.raises(ImageSizeError) as info:
        Frame(rgb=np.zeros((6, 8, 3), np.uint8), intrinsics=intr, stamp_ns=1)
    err = info.value
    assert isinstance(err, InputError)
    assert (err.image_size, err.intrinsics_size, err.stream) == ((8, 6), (16, 12), "colour")
    again = pickle.loads(pickle.dumps(err))  # a parallel build sends errors between processes
    assert (type(again), str(again), again.image_size, again.intrinsics_size) == (
        ImageSizeError, str(err), (8, 6), (16, 12))
    f = UnreadableFrame.from_error(5, err)
    assert (f.stamp_ns, f.reason, f.image_size, f.intrinsics_size) == (5, str(err), (8, 6),
                                                                     (16, 12))
    depth = UnreadableFrame.from_error(5, ImageSizeError("d", (8, 6), (16, 12), "depth"))
    assert depth.image_size is None  # a depth image of another size: the recording's fault
    assert UnreadableFrame.from_error(5, InputError("x")).image_size is None


def test_a_given_camera_info_of_another_size_stops_a_tum_folder_at_its_first_frame(tum,
                                                                                  tmp_path):
    """Given intrinsics (the API's camera_info=, the CLI's --camera-info) of another size stop
    at the first frame read; the folder's own camera.yaml of another size, or one depth PNG
    of another size, are the recording's: unreadable frames, as before."""
    own = TumSequence(tum[1]).intrinsics
    small = load_camera_info_yaml(_camera_yaml_of_size(tum[1], 160, 120, tmp_path / "s.yaml"))
    with pytest.raises(InputError, match=r"^the given camera_info is for 160x120 images but the "
                                         r"frames are 320x240 \(the first read, t=0.[0-9]+ s\)"):
        next(frames_or_unreadable(TumSequence(tum[1], camera_info=small), stride=2))
    named = TumSequence(tum[1], camera_info=small, camera_info_name="--camera-info s.yaml")
    with pytest.raises(InputError, match="^--camera-info s.yaml is for 160x120"):
        list(frames_or_unreadable(named, max_frames=3))
    # the first image missing: the first one read names the option (a fresh user's find: it
    # was "the first 10 frames are unreadable: a broken recording")
    gone = Path(shutil.copytree(tum[1], tmp_path / "gone"))
    first = TumSequence(gone)._rgb_paths[0]
    os.remove(first)
    seq = TumSequence(gone, camera_info=small, camera_info_name="--camera-info s.yaml")
    got = frames_or_unreadable(seq)
    assert isinstance(next(got), UnreadableFrame)  # the missing one, passed on
    with pytest.raises(InputError, match=r"^--camera-info s.yaml is for 160x120 images but the "
                                         r"frames are 320x240 \(the first read, t="):
        next(got)
    folder = Path(shutil.copytree(tum[1], tmp_path / "q"))
    _camera_yaml_of_size(tum[1], 160, 120, folder / "camera.yaml")
    got = list(frames_or_unreadable(TumSequence(folder), max_frames=2))
    assert [(type(f), f.image_size) for f in got] == [(UnreadableFrame, (320, 240))] * 2, got
    _camera_yaml_of_size(tum[1], 320, 240, folder / "camera.yaml")
    seq = TumSequence(folder, camera_info=own, camera_info_name="--camera-info c.yaml")
    cv2.imwrite(str(seq._depth_paths[0]), np.zeros((10, 10), np.uint16))
    first, second = frames_or_unreadable(seq, max_frames=2)
    assert isinstance(first, UnreadableFrame) and first.image_size is None, first
    # the depth file named, not the calibration: 'is 10x10 but --camera-info c.yaml is for ...'
    assert first.reason == (f"depth image {seq._depth_paths[0]} is 10x10, but its colour image "
                            f"{seq._rgb_paths[0]} is 320x240: register depth to the colour "
                            "image first"), first.reason
    assert isinstance(second, Frame)


@needs_rosbags
def test_a_camera_info_option_of_another_size_is_named_at_a_bags_first_frame(tmp_path, tum,
                                                                           sift_map, capsys):
    """The rosbag2 reader's wording (the regular expression before only knew TUM's): the CLI
    names --camera-info at the first frame, not after 10 frames as a broken recording."""
    bag = _write_bag(tmp_path / "bag")
    cam = _camera_yaml_of_size(tum[1], 2 * W, 2 * H, tmp_path / "cam.yaml")
    line = _cli_error(capsys, ["localize", str(bag), "--map", sift_map, "--out",
                               str(tmp_path / "run"), "--matcher", "sift", "--camera-info",
                               str(cam)])
    assert line.startswith(f"mast3r-ros localize: error: --camera-info {cam} is for {2 * W}x"
                           f"{2 * H} images but the frames "
                           f"are {W}x{H} (the first read, t=1.000 s): it is the calibration of "
                           "another image size"), line
    assert not (tmp_path / "run").exists()
    from mast3r_ros.replay.rosbag import BagSequence

    frames = BagSequence(bag, camera_info=load_camera_info_yaml(cam))
    with pytest.raises(InputError, match=r"^the given camera_info is for 16x12 images"):
        next(frames_or_unreadable(frames))
    # read in order (build-map), the bag's frame error names the option, not "the CameraInfo"
    named = BagSequence(bag, camera_info=load_camera_info_yaml(cam),
                        camera_info_name=f"--camera-info {cam}")
    with pytest.raises(InputError, match=rf"image is {W}x{H} but --camera-info {cam} is for "
                                         rf"{2 * W}x{2 * H}$"):
        list(named)


def test_a_checkpoint_given_as_the_map_or_the_source_is_named(tmp_path, capsys):
    """`check-map model.pth`, `build-map model.pth --out m` (the arguments swapped, the new
    user) said only 'map path is a file' / 'it is a file': the checkpoint is named, with
    --checkpoint to pass it as; another file keeps the plain words."""
    import torch

    ckpt = tmp_path / "model.pth"
    torch.save({"model": {"w": torch.zeros(2)}}, ckpt)
    note = "; it is a PyTorch checkpoint (torch.save): a checkpoint goes in --checkpoint"
    line = _cli_error(capsys, ["check-map", str(ckpt)])  # check-map has no --checkpoint
    assert line.endswith(f"map path is a file, not a map folder: {ckpt} (a map is the folder "
                         "`mast3r-ros build-map --out` wrote); it is a PyTorch checkpoint "
                         "(torch.save): check-map takes a map folder and has no --checkpoint; "
                         "build-map and localize take a checkpoint as --checkpoint"), line
    line = _cli_error(capsys, ["build-map", str(ckpt), "--out", str(tmp_path / "m"),
                               "--matcher", "sift"])
    assert line.endswith(f"{ckpt} {NEITHER}: it is a "
                         f"file{note}"), line
    other = tmp_path / "notes.txt"
    other.write_text("x\n")
    assert "PyTorch" not in _cli_error(capsys, ["check-map", str(other)])
    assert not os.path.exists(tmp_path / "m")
