#!/usr/bin/env python3
"""build-map (sift matcher) on a synthetic TUM folder of ``--frames`` frames three ways: every
frame decoded with each PNG decoded by Pillow's integrity check besides OpenCV (the path
before: ``_candidate_frames`` returning None, ``_png_verifies`` False), every frame decoded
with each PNG verified, and only the keyframe candidates decoded (now); the colour images
decoded are counted and the maps' keyframe tables and PNGs compared byte for byte. The folder
repeats each of ``--frames / --repeat`` rendered demo frames ``--repeat`` times (its own file
each, its own stamp, the same pose), so that about one frame in ``--repeat`` can become a
keyframe, as on a long recording. Then the same frames as a rosbag2 (MCAP; ``--bag-color``
jpeg CompressedImage or raw rgb8 Image, 16UC1 depth, the ground truth as tf, camera.yaml given
as --camera-info): every frame decoded and candidates only, with the bag's indexing pass
(``BagSequence``: every message deserialized, nothing decoded) timed on its own, as each build
makes it too; the candidates-only build twice, its second pass reading the bag through
(before) and reading only the candidates' messages by receive time (now, `drawn.seeks_by_time`;
``--bag-storage sqlite3`` for a .db3 bag), with the messages rosbags yielded to that pass
counted. Wall-clock times of one run each on a warm page cache; on a shared machine
only one run's numbers compare.

    python bench/bench_build_map_reads.py                     # 1000 frames at 512x384
    python bench/bench_build_map_reads.py --frames 300 --width 320 --height 240
    python bench/bench_build_map_reads.py --bag-color raw     # the bag with raw rgb8 images
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from mast3r_ros.core.image_codec import files
from mast3r_ros.core.image_codec.camera_info_yaml import load_camera_info_yaml
from mast3r_ros.replay import pipeline, tum
from mast3r_ros.replay.rosbag import BagSequence, drawn, sequence
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.synthetic import write_demo_sequences


def _listed(path: Path) -> list:
    return [ln.split() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def make_folder(root: Path, frames: int, repeat: int, width: int, height: int) -> Path:
    """A TUM folder of ``frames`` frames, each rendered frame's files copied ``repeat`` times."""
    base = Path(write_demo_sequences(str(root / "render"), num_frames=2 * -(-frames // repeat),
                                     width=width, height=height, seed=1)[0])
    out = root / "tum"
    (out / "rgb").mkdir(parents=True)
    (out / "depth").mkdir()
    shutil.copy(base / "camera.yaml", out / "camera.yaml")
    rgb, depth = _listed(base / "rgb.txt"), _listed(base / "depth.txt")
    gt = _listed(base / "groundtruth.txt")
    lines = {"rgb": [], "depth": [], "gt": []}
    for j in range(frames):
        k, stamp = j // repeat, f"{1.0 + j * 0.01:.6f}"
        for kind, src in (("rgb", rgb[k][1]), ("depth", depth[k][1])):
            name = f"{kind}/{stamp}.png"
            shutil.copy(base / src, out / name)
            lines[kind].append(f"{stamp} {name}")
        lines["gt"].append(" ".join([stamp, *gt[k][1:]]))
    for kind, fname in (("rgb", "rgb.txt"), ("depth", "depth.txt"), ("gt", "groundtruth.txt")):
        (out / fname).write_text("\n".join(lines[kind]) + "\n")
    return out


def build(folder: Path, out: Path, every_frame: bool, pillow_decodes_png: bool = False
          ) -> tuple:
    """(seconds, colour images decoded) of one build-map; ``pillow_decodes_png``: the
    integrity check decodes each PNG with Pillow, as before it verified them."""
    decoded = [0]
    read, lazy, verifies = tum.read_image_file, pipeline._candidate_frames, files._png_verifies
    if pillow_decodes_png:
        files._png_verifies = lambda path: False

    def spy(*a, **k):
        decoded[0] += 1
        return read(*a, **k)
    tum.read_image_file = spy
    if every_frame:
        pipeline._candidate_frames = lambda *a, **k: None
    try:
        t = time.perf_counter()
        assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift",
                     "--log-level", "warning"]) == 0
        return time.perf_counter() - t, decoded[0]
    finally:
        tum.read_image_file, pipeline._candidate_frames = read, lazy
        files._png_verifies = verifies


def make_bag(folder: Path, out: Path, color: str, storage: str = "mcap") -> Path:
    """The TUM ``folder`` as a rosbag2 (``storage``: MCAP or sqlite3): its colour images on
    /cam/color (jpeg CompressedImage, quality 95, or raw rgb8 Image), its depth as 16UC1 on
    /cam/depth (TUM's 5000 units per metre), its ground truth as tf map -> cam, each at its
    rgb.txt stamp."""
    import cv2
    import numpy as np
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types

    def header(ns: int, frame_id: str = "cam"):
        return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
            sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame_id)

    rgb, depth = _listed(folder / "rgb.txt"), _listed(folder / "depth.txt")
    gt = _listed(folder / "groundtruth.txt")
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(out, version=9, storage_plugin=plugin) as writer:
        conns: dict = {}

        def write(topic: str, ns: int, msg) -> None:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=ts)
            writer.write(conns[topic], ns, bytes(ts.serialize_cdr(msg, msg.__msgtype__)))
        for (stamp, name), (_, dname), g in zip(rgb, depth, gt):
            ns = round(float(stamp) * 1e9)
            x, y, z, qx, qy, qz, qw = map(float, g[1:8])
            write("/tf", ns, T["tf2_msgs/msg/TFMessage"](transforms=[
                T["geometry_msgs/msg/TransformStamped"](
                    header=header(ns, "map"), child_frame_id="cam",
                    transform=T["geometry_msgs/msg/Transform"](
                        translation=T["geometry_msgs/msg/Vector3"](x=x, y=y, z=z),
                        rotation=T["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz,
                                                                   w=qw)))]))
            bgr = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
            h, w = bgr.shape[:2]
            if color == "jpeg":
                ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
                assert ok
                msg = T["sensor_msgs/msg/CompressedImage"](header=header(ns), format="jpeg",
                                                            data=buf.reshape(-1))
            else:
                msg = T["sensor_msgs/msg/Image"](
                    header=header(ns), height=h, width=w, encoding="rgb8", is_bigendian=0,
                    step=3 * w, data=np.ascontiguousarray(bgr[..., ::-1]).reshape(-1))
            write("/cam/color", ns + 5_000_000, msg)
            d = cv2.imread(str(folder / dname), cv2.IMREAD_UNCHANGED).astype("<u2")
            write("/cam/depth", ns + 8_000_000, T["sensor_msgs/msg/Image"](
                header=header(ns), height=h, width=w, encoding="16UC1", is_bigendian=0,
                step=2 * w, data=d.view(np.uint8).reshape(-1)))
    return out


BAG_ARGS = ("--pose-frames", "map:cam", "--depth-topic", "/cam/depth", "--depth-scale", "5000")


def build_bag(bag: Path, camera: Path, out: Path, every_frame: bool, seek: bool = True
              ) -> tuple:
    """(seconds, colour images decoded, image and depth messages rosbags yielded to the
    second pass) of one build-map of the bench's bag; ``seek``: the second pass reads the
    candidates' messages by receive time (False: reads the bag through, as before)."""
    from rosbags.highlevel import AnyReader

    decoded, yielded = [0], [0]
    decode, lazy = sequence.frame_from_image_message, pipeline._candidate_frames
    messages, seeks = AnyReader.messages, drawn.seeks_by_time

    def spy(*a, **k):
        decoded[0] += 1
        return decode(*a, **k)

    def counted(self, connections=(), *a, **k):
        second = {c.topic for c in connections} <= {"/cam/color", "/cam/depth"}
        for item in messages(self, connections, *a, **k):
            yielded[0] += second
            yield item
    sequence.frame_from_image_message = spy
    AnyReader.messages = counted
    if not seek:
        drawn.seeks_by_time = lambda path: False
    if every_frame:
        pipeline._candidate_frames = lambda *a, **k: None
    try:
        t = time.perf_counter()
        assert main(["build-map", str(bag), "--out", str(out), "--matcher", "sift",
                     "--camera-info", str(camera), *BAG_ARGS, "--log-level", "warning"]) == 0
        return time.perf_counter() - t, decoded[0], yielded[0]
    finally:
        sequence.frame_from_image_message, pipeline._candidate_frames = decode, lazy
        AnyReader.messages, drawn.seeks_by_time = messages, seeks


def bag_rows(root: Path, folder: Path, color: str, storage: str = "mcap") -> None:
    """The bag's rows: its indexing pass alone, every frame decoded, candidates only read
    through (before) and read by time (now)."""
    t = time.perf_counter()
    bag = make_bag(folder, root / "bag", color, storage)
    made_s = time.perf_counter() - t
    camera = folder / "camera.yaml"
    t = time.perf_counter()
    seq = BagSequence(bag, depth_topic="/cam/depth", pose_frames="map:cam", depth_scale=5000,
                      camera_info=load_camera_info_yaml(camera))
    index_s = time.perf_counter() - t
    every = build_bag(bag, camera, root / "bag_every", every_frame=True)
    through = build_bag(bag, camera, root / "bag_through", every_frame=False, seek=False)
    lazy = build_bag(bag, camera, root / "bag_lazy", every_frame=False)
    print(f"rosbag2 ({storage}): {len(seq)} {color} frames ({made_s:.1f} s to write); its "
          f"indexing pass alone {index_s:.2f} s; read by time: {drawn.seeks_by_time(bag)}")
    for name, (s, n, m) in (("bag, every frame", every),
                            ("bag, candidates, read through", through),
                            ("bag, candidates, read by time", lazy)):
        print(f"{name:32s} {s:7.2f} s  {n:5d} colour images decoded, {m:5d} image and depth "
              "messages read in the second pass")
    print(second_pass_alone(seq, lazy[1]))
    same = (_files(root / "bag_every") == _files(root / "bag_through")
            == _files(root / "bag_lazy"))
    print(f"keyframe table and PNGs identical: {same}")


def second_pass_alone(seq: BagSequence, count: int, repeats: int = 3) -> str:
    """The second pass alone, ``count`` positions evenly spread (as many as the build drew)
    drawn one at a time, read through and read by time, alternated ``repeats`` times: the
    fastest of each (what the build's total hides under a shared machine's noise)."""
    positions = [round(k * (len(seq) - 1) / max(count - 1, 1)) for k in range(count)]
    seeks, best = drawn.seeks_by_time, {"read through": [], "read by time": []}
    try:
        for _ in range(repeats):
            for name, seek in (("read through", False), ("read by time", True)):
                drawn.seeks_by_time = seeks if seek else (lambda path: False)
                t = time.perf_counter()
                frames = list(seq.frames_or_unreadable(iter(positions)))
                best[name].append(time.perf_counter() - t)
                assert len(frames) == count
    finally:
        drawn.seeks_by_time = seeks
    return (f"second pass alone, {count} positions drawn (fastest of {repeats}): " + ", ".join(
        f"{name} {min(times):.3f} s" for name, times in best.items()))


def _files(path: Path) -> dict:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and (p.suffix == ".npy" or p.parent.name == "keyframes")}


def main_bench() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=10, help="copies of each rendered frame")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=384)
    ap.add_argument("--bag-color", choices=("jpeg", "raw"), default="jpeg",
                    help="the bag's colour images: jpeg CompressedImage or raw rgb8 Image")
    ap.add_argument("--bag-storage", choices=("mcap", "sqlite3"), default="mcap",
                    help="the bag's storage plugin")
    ap.add_argument("--no-tum", action="store_true",
                    help="the bag's rows only (the folder is still written: the bag is made "
                    "of it)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_build_reads_"))
    try:
        t = time.perf_counter()
        folder = make_folder(root, args.frames, args.repeat, args.width, args.height)
        print(f"folder: {args.frames} frames at {args.width}x{args.height} "
              f"({time.perf_counter() - t:.1f} s to render and copy)")
        if args.no_tum:
            bag_rows(root, folder, args.bag_color, args.bag_storage)
            return
        before = build(folder, root / "before", every_frame=True, pillow_decodes_png=True)
        every = build(folder, root / "every", every_frame=True)
        lazy = build(folder, root / "lazy", every_frame=False)
        same = _files(root / "before") == _files(root / "every") == _files(root / "lazy")
        for name, (s, n) in (("every frame, Pillow decodes PNG", before),
                             ("every frame, PNG verified", every),
                             ("candidates only, PNG verified", lazy)):
            print(f"{name:32s} {s:7.2f} s  {n:5d} colour images decoded")
        print(f"keyframe table and PNGs identical: {same}")
        bag_rows(root, folder, args.bag_color, args.bag_storage)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main_bench()
