#!/usr/bin/env python3
"""build-map on a long robot recording: seconds and peak memory per minute of bag.

Writes (rosbags' writer, in a temporary folder, removed after) a rosbag2 of ``--minutes`` (each
value a bag of its own: ``1 2 4``) shaped as a robot records one: a 30 Hz colour stream
(``--colour raw``: rgb8 Image, or ``jpeg``: CompressedImage) at ``--width`` x ``--height``,
aligned 16UC1 depth and a CameraInfo at the same stamps, /tf at ``--tf-rate`` Hz (each message:
``odom -> base_link`` moving and two wheel joints; ``map -> odom`` in messages of its own at
10 Hz), /tf_static once (``base_link -> camera_link -> camera_color_optical_frame``), and
unrelated heavy topics nothing reads: an IMU at 400 Hz and a PointCloud2 of ``--cloud-points``
points at 10 Hz. The robot drives at 0.5 m/s on a slow curve, so build-map's default
thresholds (0.3 m / 20 deg) keep about 100 keyframes a minute.

The images are the view, straight down from 1.5 m, of a flat textured floor, so that poses,
depth and images agree and the map check passes as on a real recording.

Per bag it times one read by receive time of an image message (as build-map reads each
keyframe candidate), rosbags given every MCAP chunk (before) and the window's alone
(`drawn._ChunkWindows`, now), then runs ``mast3r-ros build-map BAG --matcher sift
--pose-frames map:camera_color_optical_frame --depth-topic ...`` in a child process under
``/usr/bin/time -v`` (its peak RSS) and prints its wall-clock seconds, those per bag minute and
the peak RSS. ``--prev-rev REV`` runs the same build with the package of git revision REV too
(``git archive`` into the temporary folder), so before and after stand side by side.
``--profile DIR`` writes each build's cProfile (``build_<label>_<minutes>.prof``). ``--counts``
prints how many messages the build deserialized by type (one more in-process build, rosbags'
deserializer wrapped). ``--no-build``: the bags and their reads by time alone.

Wall-clock times of one run each on a warm page cache; on a shared machine only one run's
numbers compare.

    python bench/bench_long_bag.py                              # 1, 2, 4 min at 320x240
    python bench/bench_long_bag.py --minutes 1 2 4 --width 640 --height 480 --no-build
    python bench/bench_long_bag.py --prev-rev HEAD~3 --counts
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from bench_bags import S, T, TS, header
from bench_bags import transform_stamped as _tfs

T0 = 1_700_000_000 * S
OPTICAL = "camera_color_optical_frame"
IMAGE, DEPTH, INFO = "/camera/color/image_raw", "/camera/depth/image_rect_raw", \
    "/camera/color/camera_info"
ROOT = Path(__file__).resolve().parent.parent


def _image(stamp_ns, array, encoding):
    h, w = array.shape[:2]
    return T["sensor_msgs/msg/Image"](
        header=header(stamp_ns, OPTICAL), height=h, width=w, encoding=encoding,
        is_bigendian=0, step=array.strides[0], data=array.view(np.uint8).reshape(-1))


def _info(stamp_ns, w, h):
    f = 0.8 * w
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(stamp_ns, OPTICAL), height=h, width=w, distortion_model="plumb_bob",
        d=np.zeros(5), k=np.array([f, 0, (w - 1) / 2, 0, f, (h - 1) / 2, 0, 0, 1], float),
        r=np.eye(3).reshape(-1), p=np.array([f, 0, (w - 1) / 2, 0, 0, f, (h - 1) / 2, 0,
                                             0, 0, 1, 0], float),
        binning_x=0, binning_y=0, roi=roi)


HEIGHT_M = 1.5  # the camera looks straight down at a flat textured floor from this height
PX_PER_M = 160.0  # the floor texture's resolution


def _floor(seed: int = 0) -> np.ndarray:
    """(N, N, 3) uint8 floor texture covering the drive (a 20 m circle) with a margin."""
    import cv2
    n = int(28 * PX_PER_M)
    noise = np.random.default_rng(seed).integers(0, 256, (n // 6, n // 6, 3), dtype=np.uint8)
    return cv2.resize(noise, (n, n), interpolation=cv2.INTER_CUBIC)


def _pose(s: float) -> tuple:
    """(odom x, y, yaw) of base_link and map -> odom's x at ``s`` seconds: a circle of 10 m
    radius at 0.5 m/s, map -> odom drifting 1 cm/s."""
    yaw = 0.05 * s
    return 10 * math.sin(yaw), 10 * (1 - math.cos(yaw)), yaw, 0.01 * s


def _view(floor: np.ndarray, s: float, width: int, height: int) -> np.ndarray:
    """The (H, W, 3) RGB image of the floor the optical frame sees at ``s`` seconds (its z axis
    straight down, x along the robot's heading): the floor warped so that poses, depth and
    images agree (the map check passes)."""
    import cv2
    x, y, yaw, drift = _pose(s)
    c, si, f = math.cos(yaw), math.sin(yaw), 0.8 * width
    k = HEIGHT_M / f * PX_PER_M  # texture pixels per image pixel at the floor
    cx, cy = (width - 1) / 2, (height - 1) / 2
    tx, ty = (x + drift + 14) * PX_PER_M, (y + 4) * PX_PER_M
    m = np.array([[k * c, k * si, tx - k * (c * cx + si * cy)],
                  [k * si, -k * c, ty - k * (si * cx - c * cy)]])
    return cv2.warpAffine(floor, m, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def write_bag(path: Path, minutes: float, width: int, height: int, colour: str = "raw",
              tf_rate: float = 150.0, imu_rate: float = 400.0, cloud_points: int = 10000,
              storage: str = "mcap") -> dict:
    """The bag (module docstring); returns its message count per topic."""
    import cv2
    floor = _floor()
    depth = np.full((height, width), round(HEIGHT_M * 1000), np.uint16)
    cloud = np.random.default_rng(1).standard_normal((cloud_points, 4)).astype(np.float32)
    fields = [T["sensor_msgs/msg/PointField"](name=n, offset=4 * i, datatype=7, count=1)
              for i, n in enumerate("xyzi")]
    plugin = StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP
    counts: collections.Counter = collections.Counter()
    end = T0 + int(minutes * 60 * S)
    # every stream's stamps, merged in time order (a recorder writes in receive order)
    streams = [("image", 30.0), ("tf", tf_rate), ("map", 10.0), ("imu", imu_rate),
               ("cloud", 10.0)]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns = {}

        def put(topic, bag_ns, msg):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(conns[topic], bag_ns, bytes(TS.serialize_cdr(msg, msg.__msgtype__)))
            counts[topic] += 1

        put("/tf_static", T0, T["tf2_msgs/msg/TFMessage"](transforms=[
            _tfs("base_link", "camera_link", T0, (0.0, 0.0, HEIGHT_M), (0, 0, 0, 1)),
            _tfs("camera_link", OPTICAL, T0, (0, 0, 0), (1, 0, 0, 0))]))  # looking down
        events = []
        for name, rate in streams:
            step = S / rate
            last = end - T0 + (S // 2 if name != "image" else 0)  # tf a little past the images
            events.extend((T0 + round(k * step), name) for k in range(int(last / step)))
        events.sort()
        for t, name in events:
            s = (t - T0) * 1e-9
            if name == "image":
                rgb = _view(floor, s, width, height)
                msg = (_image(t, rgb, "rgb8") if colour == "raw" else
                       T["sensor_msgs/msg/CompressedImage"](
                           header=header(t, OPTICAL), format="rgb8; jpeg compressed bgr8",
                           data=np.frombuffer(cv2.imencode(".jpg", rgb[:, :, ::-1])[1], np.uint8)))
                put(IMAGE, t + 3_000_000, msg)
                put(DEPTH, t + 4_000_000, _image(t, depth, "16UC1"))
                put(INFO, t + 3_000_000, _info(t, width, height))
            elif name == "tf":
                x, y, yaw, _ = _pose(s)
                put("/tf", t + 500_000, T["tf2_msgs/msg/TFMessage"](transforms=[
                    _tfs("odom", "base_link", t, (x, y, 0), (0, 0, math.sin(yaw / 2),
                                                             math.cos(yaw / 2))),
                    _tfs("base_link", "wheel_left", t, (0, 0.2, 0), (0, math.sin(s), 0,
                                                                      math.cos(s))),
                    _tfs("base_link", "wheel_right", t, (0, -0.2, 0), (0, math.sin(s), 0,
                                                                        math.cos(s)))]))
            elif name == "map":
                put("/tf", t + 500_000, T["tf2_msgs/msg/TFMessage"](transforms=[
                    _tfs("map", "odom", t, (_pose(s)[3], 0, 0), (0, 0, 0, 1))]))
            elif name == "imu":
                put("/imu/data", t + 200_000, T["sensor_msgs/msg/Imu"](
                    header=header(t, "imu_link"),
                    orientation=T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0),
                    orientation_covariance=np.zeros(9),
                    angular_velocity=T["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.05),
                    angular_velocity_covariance=np.zeros(9),
                    linear_acceleration=T["geometry_msgs/msg/Vector3"](0.0, 0.0, 9.81),
                    linear_acceleration_covariance=np.zeros(9)))
            else:
                put("/points", t + 1_000_000, T["sensor_msgs/msg/PointCloud2"](
                    header=header(t, "lidar"), height=1, width=cloud_points, fields=fields,
                    is_bigendian=False, point_step=16, row_step=16 * cloud_points,
                    data=cloud.view(np.uint8).reshape(-1), is_dense=True))
    return dict(counts)


def build_args(bag: Path, out: Path) -> list:
    return ["build-map", str(bag), "--matcher", "sift", "--pose-frames", f"map:{OPTICAL}",
            "--depth-topic", DEPTH, "--out", str(out), "--log-level", "warning"]


def run_build(bag: Path, out: Path, package_root: Path, profile: str | None = None) -> tuple:
    """(wall s, peak RSS MiB) of one build-map in a child process with ``package_root``'s
    mast3r_ros first on its path (``profile``: its cProfile written there)."""
    script = out.parent / "run_cli.py"
    script.write_text("import sys\nfrom mast3r_ros.replay.cli import main\n"
                      "sys.exit(main(sys.argv[1:]))\n")
    cmd = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []), str(script)]
    env = dict(os.environ, PYTHONPATH=str(package_root), MPLBACKEND="Agg")
    where = subprocess.run([sys.executable, "-c", "import mast3r_ros; print(mast3r_ros.__file__)"],
                           env=env, cwd=out.parent, capture_output=True, text=True,
                           check=True).stdout
    if not Path(where.strip()).resolve().is_relative_to(package_root.resolve()):
        raise SystemExit(f"the child imports mast3r_ros from {where.strip()}, not {package_root}")
    timed = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    shutil.rmtree(out, ignore_errors=True)
    wall = time.perf_counter()
    done = subprocess.run(timed + cmd + build_args(bag, out), env=env, cwd=out.parent,
                          capture_output=True, text=True)  # not here: '' first on its path
    wall = time.perf_counter() - wall
    if done.returncode != 0:
        raise SystemExit(f"build-map failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return wall, (int(rss.group(1)) / 1024 if rss else float("nan"))


def seek_ms(bag: Path, reads: int = 300) -> tuple:
    """(chunks, ms a read before, ms a read now): the mean time of one read by receive time
    of an image message (``reads`` of them spread over the bag), rosbags given every MCAP
    chunk (before) and only those of the window (`drawn._ChunkWindows`, now)."""
    import contextlib

    from mast3r_ros.replay.rosbag.drawn import _ChunkWindows
    from mast3r_ros.replay.rosbag.opening import _open_bag
    with _open_bag(bag) as reader:
        conns = reader.topics[IMAGE].connections
        times = [t for _, t, _ in reader.messages(connections=conns)]
        times = times[:: max(1, len(times) // reads)]
        windows = _ChunkWindows(reader)
        chunks = sum(len(c) for _, c, _, _ in windows._lists)
        out = []
        for narrow in (False, True):
            wall = time.perf_counter()
            for t in times:
                with windows.narrowed(t, t + 1) if narrow else contextlib.nullcontext():
                    found = list(reader.messages(connections=conns, start=t, stop=t + 1))
                assert len(found) == 1
            out.append((time.perf_counter() - wall) / len(times) * 1e3)
    return (chunks, *out)


def count_deserialized(bag: Path, out: Path) -> dict:
    """Messages deserialized per type by one in-process build (this checkout's package)."""
    from rosbags.highlevel import AnyReader

    from mast3r_ros.replay.cli import main
    counts: collections.Counter = collections.Counter()
    original = AnyReader.deserialize

    def counting(self, rawdata, typename):
        counts[typename] += 1
        return original(self, rawdata, typename)

    AnyReader.deserialize = counting
    try:
        shutil.rmtree(out, ignore_errors=True)
        main(build_args(bag, out))
    finally:
        AnyReader.deserialize = original
    return dict(counts)


def _prev_package(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "mast3r_ros"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 2, 4])
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--colour", choices=("raw", "jpeg"), default="raw")
    ap.add_argument("--tf-rate", type=float, default=150.0)
    ap.add_argument("--cloud-points", type=int, default=10000)
    ap.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    ap.add_argument("--prev-rev", help="also build with the package of this git revision")
    ap.add_argument("--profile", help="write each build's cProfile into this folder")
    ap.add_argument("--counts", action="store_true", help="count deserialized messages")
    ap.add_argument("--no-build", action="store_true",
                    help="write each bag and time the reads by time only (no build-map)")
    ap.add_argument("--tmp", help="folder for the bags (default: the system's temporary one)")
    args = ap.parse_args()
    rows, seeks = [], []
    with tempfile.TemporaryDirectory(prefix="long_bag_", dir=args.tmp) as tmp:
        tmp = Path(tmp)
        roots = {"now": ROOT}
        if args.prev_rev:
            roots = {"prev": _prev_package(args.prev_rev, tmp / "prev"), "now": ROOT}
        for minutes in args.minutes:
            bag = tmp / f"bag_{minutes:g}"
            started = time.perf_counter()
            counts = write_bag(bag, minutes, args.width, args.height, args.colour,
                               args.tf_rate, cloud_points=args.cloud_points,
                               storage=args.storage)
            size = sum(f.stat().st_size for f in bag.iterdir()) / 2**20
            print(f"bag {minutes:g} min: {size:.0f} MiB, {sum(counts.values())} messages "
                  f"({', '.join(f'{t} {n}' for t, n in sorted(counts.items()))}); written in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            chunks, before, now = seek_ms(bag)
            seeks.append((minutes, chunks, before, now))
            print(f"  one read by time: {before:.3f} ms given all {chunks} chunks, {now:.3f} ms "
                  "given the window's", flush=True)
            for label, root in ({} if args.no_build else roots).items():
                prof = (str(Path(args.profile) / f"build_{label}_{minutes:g}.prof")
                        if args.profile else None)
                if prof:
                    Path(args.profile).mkdir(parents=True, exist_ok=True)
                wall, rss = run_build(bag, tmp / "map", root, prof)
                rows.append((minutes, label, wall, rss))
                print(f"  {label:4s} build-map {wall:7.1f} s  {wall / minutes:6.1f} s/min  "
                      f"peak RSS {rss:6.0f} MiB", flush=True)
            if args.counts and not args.no_build:
                print("  deserialized (now):", count_deserialized(bag, tmp / "map"), flush=True)
            shutil.rmtree(bag)
    if rows:
        print("\nbuild-map, wall-clock seconds per bag minute and peak RSS:")
        print("minutes  " + "  ".join(f"{label:>22s}" for label in roots))
    for minutes in args.minutes if rows else []:
        cells = [f"{w / m:6.1f} s/min {r:6.0f} MiB" for m, _, w, r in rows if m == minutes]
        print(f"{minutes:7g}  " + "  ".join(f"{c:>22s}" for c in cells))
    print("\none read by receive time (ms): given every chunk (before), the window's (now)")
    for minutes, chunks, before, now in seeks:
        print(f"{minutes:7g}  {chunks:6d} chunks  {before:7.3f}  {now:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
