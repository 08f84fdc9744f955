#!/usr/bin/env python3
"""Time to the first frame on a long bag: ``localize BAG --max-frames N`` and ``build-map BAG
--max-frames N``, the package of ``--old-rev`` (before) and of this tree (now), side by side.

Writes a field-recording-shaped bag of ``--minutes`` per ``--storage`` (``mcap``, ``sqlite3``:
rosbags' rosbag2 writer; ``ros1``: a ROS 1 .bag) into ``--tmp`` (a temporary folder, removed
after): 30 Hz ``--width`` x ``--height`` JPEG CompressedImage, its CameraInfo, compressedDepth
PNG depth (constant, a few hundred bytes: what build-map's SIFT matcher needs), /tf at
``--tf-rate`` Hz (odom -> base_link moving; map -> odom at 10 Hz) and /tf_static once. The
JPEGs are the first ``--views`` views of `bench_long_bag`'s textured floor, repeated (the poses
and images agree for those; the first frames are all that are read).

Per bag, for each package (``old``: ``git archive`` of ``--old-rev`` into the temporary
folder; ``new``: this tree), alternating ``--repeats`` times, each in a fresh child process:

* ``build-map BAG --max-frames N --matcher sift --pose-frames map:OPTICAL --depth-topic D``;
* ``localize BAG --map M --max-frames N --matcher sift --pose-frames map:OPTICAL`` (M: the
  map the first build wrote).

Each child records, at the end of the bag's indexing pass (`BagSequence.__init__`), at its
first frame and at its exit, the wall seconds since its start and the bytes it read
(``/proc/self/io`` ``rchar``: every read, page cache or not). The results (frames, keyframes,
localized) must agree between old and new. Wall times on a warm page cache; a shared machine
moves them: compare within one run. ``--cold``: the bag's files dropped from the page cache
before each run (``posix_fadvise``), as a recording not read since it was copied.

    python bench/bench_bag_open.py                                  # 30 min mcap, sqlite3, ros1
    python bench/bench_bag_open.py --storage mcap sqlite3 --cold --repeats 1
    python bench/bench_bag_open.py --minutes 2 --storage mcap --repeats 1

``--open-only``: instead of the two commands, each package's ``_open_bag(BAG)`` alone (the
open every pass over the bag starts with; rosbags 0.11 counted a .db3's messages there,
`rosbag.sqlite_open`), in a fresh child process each, ``--repeats`` times alternating: its
wall seconds and bytes read (best of the repeats), then to the first image read, and the
topics and counts it gives, which must agree between old and new. ``--drop-time-index``: the
sqlite3 bag's ``timestamp_idx`` dropped first (a .db3 rewritten by a tool that left it out:
SQLite sorts every message before the first).

    python bench/bench_bag_open.py --open-only --minutes 5 --storage sqlite3 mcap --old-rev HEAD~1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_bags import S  # noqa: E402
from bench_long_bag import OPTICAL, T0, _floor, _pose, _view  # noqa: E402

IMAGE = "/camera/color/image_raw/compressed"
INFO = "/camera/color/camera_info"
DEPTH = "/camera/depth/image_rect_raw/compressedDepth"
HEIGHT_M = 1.5


def _typestore(ros1: bool):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    ts = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    if ros1:  # noetic's store lacks tf2_msgs
        ts.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms",
                                       "tf2_msgs/msg/TFMessage"))
    return ts


def _messages(ts, ros1: bool, width: int, height: int, views: list, depth_png: bytes):
    """Makers of each stream's message at stamp ``t`` (int ns)."""
    T = ts.types

    def header(t, frame):
        stamp = T["builtin_interfaces/msg/Time"](sec=t // S, nanosec=t % S)
        return (T["std_msgs/msg/Header"](seq=0, stamp=stamp, frame_id=frame) if ros1 else
                T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame))

    def tfs(parent, child, t, xyz, q):
        return T["geometry_msgs/msg/TransformStamped"](
            header=header(t, parent), child_frame_id=child,
            transform=T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](*map(float, xyz)),
                rotation=T["geometry_msgs/msg/Quaternion"](*map(float, q))))

    f = 0.8 * width
    k = np.array([f, 0, (width - 1) / 2, 0, f, (height - 1) / 2, 0, 0, 1], float)
    p = np.array([f, 0, (width - 1) / 2, 0, 0, f, (height - 1) / 2, 0, 0, 0, 1, 0], float)
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    info_fields = (dict(D=np.zeros(5), K=k, R=np.eye(3).reshape(-1), P=p) if ros1 else
                   dict(d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=p))

    def image(t, i):
        return T["sensor_msgs/msg/CompressedImage"](header=header(t, OPTICAL), format="jpeg",
                                                    data=views[i % len(views)])

    def depth(t, i):
        return T["sensor_msgs/msg/CompressedImage"](
            header=header(t, OPTICAL), format="16UC1; compressedDepth png", data=depth_png)

    def info(t, i):
        return T["sensor_msgs/msg/CameraInfo"](
            header=header(t, OPTICAL), height=height, width=width, distortion_model="plumb_bob",
            binning_x=0, binning_y=0, roi=roi, **info_fields)

    def tf(t, i):
        x, y, yaw, _ = _pose((t - T0) * 1e-9)
        return T["tf2_msgs/msg/TFMessage"](transforms=[tfs(
            "odom", "base_link", t, (x, y, 0), (0, 0, math.sin(yaw / 2), math.cos(yaw / 2)))])

    def map_odom(t, i):
        return T["tf2_msgs/msg/TFMessage"](transforms=[tfs(
            "map", "odom", t, (_pose((t - T0) * 1e-9)[3], 0, 0), (0, 0, 0, 1))])

    def static(t, i):
        return T["tf2_msgs/msg/TFMessage"](transforms=[
            tfs("base_link", "camera_link", t, (0.0, 0.0, HEIGHT_M), (0, 0, 0, 1)),
            tfs("camera_link", OPTICAL, t, (0, 0, 0), (1, 0, 0, 0))])

    return {"image": (IMAGE, 3_000_000, image), "depth": (DEPTH, 4_000_000, depth),
            "info": (INFO, 3_000_000, info), "tf": ("/tf", 500_000, tf),
            "map": ("/tf", 500_000, map_odom), "static": ("/tf_static", 0, static)}


def write_bag(path: Path, minutes: float, storage: str, width: int = 640, height: int = 480,
              tf_rate: float = 100.0, views: int = 60, ros1_compression: str | None = None
              ) -> dict:
    """The bag (module docstring) at ``path``; returns its message count per topic.
    ``ros1_compression`` ('lz4', 'bz2'): a ROS 1 bag's chunks compressed so."""
    import cv2
    ros1 = storage == "ros1"
    ts = _typestore(ros1)
    floor = _floor()
    jpegs = [np.frombuffer(cv2.imencode(".jpg", _view(floor, i / 30.0, width, height)[:, :, ::-1],
                                        [cv2.IMWRITE_JPEG_QUALITY, 85])[1], np.uint8)
             for i in range(views)]
    ok, png = cv2.imencode(".png", np.full((height, width), round(HEIGHT_M * 1000), np.uint16))
    assert ok
    depth_png = np.frombuffer(struct.pack("<iff", 0, 0, 0) + png.tobytes(), np.uint8)
    makers = _messages(ts, ros1, width, height, jpegs, depth_png)
    end = T0 + int(minutes * 60 * S)
    events = [(T0, "static", 0)]
    for name, rate in (("image", 30.0), ("tf", tf_rate), ("map", 10.0)):
        step = S / rate
        last = end - T0 + (S // 2 if name != "image" else 0)  # tf a little past the images
        events.extend((T0 + round(i * step), name, i) for i in range(int(last / step)))
    events.sort()
    serialize = ts.serialize_ros1 if ros1 else ts.serialize_cdr
    counts: dict = {}
    if ros1:
        from rosbags.rosbag1 import Writer
        writer = Writer(path)
        if ros1_compression:
            writer.set_compression(getattr(Writer.CompressionFormat, ros1_compression.upper()))
    else:
        from rosbags.rosbag2 import StoragePlugin, Writer
        writer = Writer(path, version=9, storage_plugin=(
            StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP))
    with writer:
        conns = {}
        for t, name, i in events:
            for kind in (("image", "depth", "info") if name == "image" else (name,)):
                topic, latency, make = makers[kind]
                msg = make(t, i)
                if topic not in conns:
                    conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=ts)
                writer.write(conns[topic], t + latency, bytes(serialize(msg, msg.__msgtype__)))
                counts[topic] = counts.get(topic, 0) + 1
    return counts


def bag_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# run in each child: the package under test first on its path, BagSequence's indexing pass and
# first frame timed, then the CLI
_CHILD = r'''
import json, os, sys, time
T0 = time.perf_counter()
def rchar():
    with open("/proc/self/io") as f:
        return int(next(l for l in f if l.startswith("rchar")).split()[1])
R0 = rchar()
out = sys.argv[1]
marks = {}
def mark(name):
    marks.setdefault(name, (time.perf_counter() - T0, rchar() - R0))
from mast3r_ros.replay.rosbag import sequence
init, frames = sequence.BagSequence.__init__, sequence.BagSequence.frames_or_unreadable
def timed_init(self, *a, **k):
    mark("open")
    init(self, *a, **k)
    mark("indexed")
def timed_frames(self, *a, **k):
    it = frames(self, *a, **k)
    def first():
        for n, item in enumerate(it):
            if n == 0:
                mark("first_frame")
            yield item
    return first()
sequence.BagSequence.__init__ = timed_init
sequence.BagSequence.frames_or_unreadable = timed_frames
from mast3r_ros.replay.cli import main
try:
    rc = main(sys.argv[2:])
finally:
    mark("exit")
    with open(out, "w") as f:
        json.dump({"marks": marks, "module": sequence.__file__}, f)
sys.exit(rc)
'''


# run in each child of --open-only: one _open_bag of the bag, timed, bytes read counted
_OPEN_CHILD = r'''
import json, sys, time
from pathlib import Path
def rchar():
    with open("/proc/self/io") as f:
        return int(next(l for l in f if l.startswith("rchar")).split()[1])
from mast3r_ros.replay.rosbag import opening
r0, t0 = rchar(), time.perf_counter()
with opening._open_bag(Path(sys.argv[2])) as reader:
    wall, read = time.perf_counter() - t0, rchar() - r0
    topics = sorted((c.topic, c.msgtype, c.msgcount) for c in reader.connections)
    count = reader.message_count
    messages = opening.bag_messages(
        reader, connections=[c for c in reader.connections if c.topic == sys.argv[3]])
    next(messages)
    messages.close()
    first = (time.perf_counter() - t0, rchar() - r0)
with open(sys.argv[1], "w") as f:
    json.dump({"wall": wall, "read": read, "first": first, "topics": topics, "count": count,
               "module": opening.__file__}, f)
'''


def open_only(package_root: Path, bag: Path, work: Path) -> dict:
    """One `_open_bag` of ``bag`` in a child process with ``package_root``'s mast3r_ros: its
    wall seconds, bytes read, topics (topic, type, count) and message count; ``first``: the
    seconds and bytes since the open's start to the first image read (`bag_messages`)."""
    out = work / "open.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(package_root))
    done = subprocess.run([sys.executable, "-c", _OPEN_CHILD, str(out), str(bag), IMAGE], env=env,
                          cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"open of {bag} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    found = json.loads(out.read_text())
    if not Path(found["module"]).resolve().is_relative_to(package_root.resolve()):
        raise SystemExit(f"the child imported {found['module']}, not from {package_root}")
    return found


def _open_rows(storage: str, bag: Path, packages: dict, args, work: Path) -> list:
    """--open-only on ``bag``: the table printed, its rows returned."""
    runs: dict = {label: [] for label in packages}
    for _ in range(args.repeats):
        for label, root in packages.items():
            if args.cold:
                drop_cached(bag)
            runs[label].append(open_only(root, bag, work))
    print(f"{'pkg':<4} {'open s':>7} {'MB read':>8} {'% of bag':>8} {'1st image s':>11} "
          f"{'MB read':>8}")
    rows = []
    for label, found in runs.items():
        best = min(found, key=lambda r: r["wall"])
        print(f"{label:<4} {best['wall']:7.3f} {best['read'] / 1e6:8.2f} "
              f"{100 * best['read'] / bag_bytes(bag):8.2f} {best['first'][0]:11.3f} "
              f"{best['first'][1] / 1e6:8.2f}")
        rows.append({"storage": storage, "minutes": args.minutes, "package": label,
                     "bag_bytes": bag_bytes(bag), "open_only": True,
                     "time_index": not args.drop_time_index,
                     "runs": [{k: r[k] for k in ("wall", "read", "first")} for r in found]})
    same = all((r["topics"], r["count"]) == (runs["old"][0]["topics"], runs["old"][0]["count"])
               for found in runs.values() for r in found)
    print(f"topics and counts old and new: {'same' if same else 'DIFFERENT'}: "
          f"{runs['new'][0]['count']} messages, {len(runs['new'][0]['topics'])} topics")
    return rows


def _drop_time_index(bag: Path) -> None:
    import sqlite3
    for path in bag.glob("*.db3"):
        db = sqlite3.connect(path)
        db.execute("DROP INDEX timestamp_idx")
        db.commit()
        db.close()


def drop_cached(bag: Path) -> None:
    """Drop the bag's files from the page cache (``posix_fadvise`` DONTNEED: a bag not read
    since it was copied, as a field recording of tens of GB is)."""
    for name in ([bag] if bag.is_file() else [p for p in bag.rglob("*") if p.is_file()]):
        fd = os.open(name, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_child(package_root: Path, args: list, work: Path) -> dict:
    """One CLI run (``args``) in a child process with ``package_root``'s mast3r_ros: its marks
    (name -> (wall s, bytes read)), its stdout."""
    out = work / "marks.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(package_root), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", _CHILD, str(out), *args], env=env, cwd=work,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed ({done.returncode}):\n"
                         f"{done.stderr[-3000:]}")
    found = json.loads(out.read_text())
    if not Path(found["module"]).resolve().is_relative_to(package_root.resolve()):
        raise SystemExit(f"the child imported {found['module']}, not from {package_root}")
    return {"marks": found["marks"], "stdout": done.stdout}


def _old_package(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "mast3r_ros"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_package_child(code: str, package_root: Path, work: Path, *argv: str) -> dict:
    """Run ``code`` (python -c) in a child importing mast3r_ros from ``package_root`` (an
    old revision from `_old_package`, or this tree) with ``argv`` after the rows file it
    writes -> its "rows". The child must record the module file it imported as "module":
    a child that imported another mast3r_ros (an installed one) stops the bench."""
    out = work / "rows.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(package_root))
    done = subprocess.run([sys.executable, "-c", code, str(out), *argv], env=env, cwd=work,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    found = json.loads(out.read_text())
    if not Path(found["module"]).resolve().is_relative_to(package_root.resolve()):
        raise SystemExit(f"the child imported {found['module']}, not from {package_root}")
    return found["rows"]


def _summary(stdout: str) -> str:
    """What must agree between old and new: build-map's 'map M: K keyframes from N frames'
    line, localize's recall lines."""
    keep = [ln.split(";")[0].split(": ", 1)[-1].strip() if ln.startswith("map ") else
            " ".join(ln.split()) for ln in stdout.splitlines()
            if ln.startswith("map ") or "recall" in ln or ln.strip().startswith("frames")]
    return " | ".join(keep)


def _fmt(marks: dict, name: str, width: int) -> str:
    if name not in marks:
        return f"{'-':>{width}} {'-':>8}"
    wall, read = marks[name]
    return f"{wall:{width}.2f} {read / 1e6:8.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--storage", nargs="+", choices=("mcap", "sqlite3", "ros1"),
                    default=["mcap", "sqlite3", "ros1"])
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--tf-rate", type=float, default=100.0)
    ap.add_argument("--max-frames", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--old-rev", default="75d50bcb",
                    help="git revision of the package before (default: the parent of the "
                         "change this bench measures)")
    ap.add_argument("--tmp", help="folder for the bags (default: the system's temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the bags (--tmp given)")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--cold", action="store_true",
                    help="drop the bag from the page cache before each run (posix_fadvise)")
    ap.add_argument("--open-only", action="store_true",
                    help="time each package's _open_bag of the bag alone, not the commands")
    ap.add_argument("--drop-time-index", action="store_true",
                    help="drop the sqlite3 bag's timestamp_idx before the runs (as a tool that "
                         "rewrote the file may have)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bag_open_", dir=args.tmp))
    rows = []
    try:
        old = _old_package(args.old_rev, work / "old")
        packages = {"old": old, "new": ROOT}
        short = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.old_rev],
                               capture_output=True, text=True).stdout.strip()
        print(f"old: {args.old_rev} ({short}), new: this tree; {args.minutes:g} min bags, "
              f"--max-frames {args.max_frames}"
              + ("; the bag dropped from the page cache before each run" if args.cold else ""),
              flush=True)
        for storage in args.storage:
            bag = work / (f"long_{storage}.bag" if storage == "ros1" else f"long_{storage}")
            wall = time.perf_counter()
            counts = write_bag(bag, args.minutes, storage, args.width, args.height, args.tf_rate)
            print(f"\n{storage}: {bag_bytes(bag) / 1e9:.2f} GB, {sum(counts.values())} messages"
                  f" ({counts[IMAGE]} images), written in {time.perf_counter() - wall:.0f} s",
                  flush=True)
            if args.drop_time_index and storage == "sqlite3":
                _drop_time_index(bag)
                print("its timestamp_idx dropped", flush=True)
            if args.open_only:
                rows += _open_rows(storage, bag, packages, args, work)
                if not args.keep:
                    shutil.rmtree(bag, ignore_errors=True) if bag.is_dir() else bag.unlink()
                continue
            common = ["--matcher", "sift", "--pose-frames", f"map:{OPTICAL}",
                      "--max-frames", str(args.max_frames), "--log-level", "warning"]
            the_map = work / f"map_{storage}"
            commands = {
                "build-map": ["build-map", str(bag), "--depth-topic", DEPTH, "--overwrite",
                              *common],
                "localize": ["localize", str(bag), "--map", str(the_map), "--overwrite",
                             *common]}
            results: dict = {}
            for rep in range(args.repeats):
                for what, cli in commands.items():
                    for label, root in packages.items():
                        out = work / f"out_{what}_{label}"
                        cli_out = [*cli, "--out", str(the_map if what == "build-map" and
                                                      label == "old" and rep == 0 else out)]
                        if args.cold:
                            drop_cached(bag)
                        got = run_child(root, cli_out, work)
                        results.setdefault((what, label), []).append(got)
            print("best of the repeats; s since the child started (imports included), MB read "
                  "since; 'pass s': the indexing pass alone (BagSequence's constructor)")
            print(f"{'command':<10} {'pkg':<4} {'pass s':>7} {'indexed s':>9} {'MB':>8} "
                  f"{'1st frame s':>11} {'MB':>8} {'exit s':>8} {'MB':>8}")
            for (what, label), runs in results.items():
                best = min(runs, key=lambda r: r["marks"].get("first_frame", (1e9,))[0])
                m = best["marks"]
                span = m["indexed"][0] - m["open"][0]
                print(f"{what:<10} {label:<4} {span:7.2f} {_fmt(m, 'indexed', 9)} "
                      f"{_fmt(m, 'first_frame', 11)} {_fmt(m, 'exit', 8)}")
                rows.append({"storage": storage, "minutes": args.minutes, "command": what,
                             "package": label, "bag_bytes": bag_bytes(bag),
                             "runs": [r["marks"] for r in runs],
                             "summary": _summary(best["stdout"])})
            for what in commands:
                a, b = (_summary(results[(what, k)][0]["stdout"]) for k in ("old", "new"))
                same = "same" if a == b else "DIFFERENT"
                print(f"{what}: old and new results {same}: {b or '(no summary line)'}")
                if a != b:
                    print(f"  old: {a}")
                first = [statistics.median(r["marks"]["first_frame"][0]
                                           for r in results[(what, k)]) for k in ("old", "new")]
                print(f"{what}: time to the first frame old / new: {first[0] / first[1]:.1f}x")
            if not args.keep:
                shutil.rmtree(bag, ignore_errors=True) if bag.is_dir() else bag.unlink()
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
