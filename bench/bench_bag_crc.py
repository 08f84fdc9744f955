#!/usr/bin/env python3
"""The cost of the digests the indexing pass of a rosbag2 takes of its colour image messages
(`BagSequence._index`: two messages at one stamp are the same image, recorded twice, or two
different images, `shared_stamps`): a CRC-32 of every one (before), of only those at a stamp
another image has (`image_digests`, now) and none at all, side by side on one bag in one
process.

Writes the robot-shaped bag of `bench_long_bag` (30 Hz colour at ``--width`` x ``--height``,
aligned depth, CameraInfo, /tf, an IMU, a point cloud) holding ``--images`` colour images into
``--dir`` (a temporary folder by default), then times ``--repeats`` indexing passes each way,
alternating (every, only shared, none, every, ...), and prints the best and median of each,
the differences as shares of the pass, and the CRC-32 of the image messages' bytes alone.

    python bench/bench_bag_crc.py                       # 300 images of 640x480
    python bench/bench_bag_crc.py --images 60 --repeats 3 --width 64 --height 48
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from unittest import mock

from bench_long_bag import DEPTH, IMAGE, OPTICAL, write_bag

from mast3r_ros.replay.rosbag import BagSequence
from mast3r_ros.replay.rosbag.image_digests import ImageDigests


def _every(self, raw, stamp_ns):  # before: a CRC-32 of every image message
    self.values.append(zlib.crc32(raw))


def _none(self, raw, stamp_ns):  # the floor: no digest at all
    self.values.append(-(len(self.values) + 1))


WAYS = {"CRC of every image (before)": _every, "CRC where a stamp repeats (now)": None,
        "no digest (floor)": _none}


def index_once(bag: Path, add) -> tuple:
    """(wall s, CPU s) of one indexing pass of ``bag`` (with --pose-frames: /tf read too),
    ``add`` in place of `ImageDigests.add` (None: as it is)."""
    with mock.patch.object(ImageDigests, "add", add or ImageDigests.add):
        wall, cpu = time.perf_counter(), time.process_time()
        BagSequence(bag, depth_topic=DEPTH, pose_frames=f"map:{OPTICAL}")
        return time.perf_counter() - wall, time.process_time() - cpu


def crc_alone(bag: Path) -> tuple:
    """(s of CRC-32 over every colour image message's bytes, messages, bytes)."""
    from mast3r_ros.replay.rosbag.opening import _open_bag, numbered_messages

    with _open_bag(bag) as reader:
        raws = [m[-1] for m in numbered_messages(reader, reader.topics[IMAGE].connections)]
    t = time.perf_counter()
    for raw in raws:
        zlib.crc32(raw)
    return time.perf_counter() - t, len(raws), sum(len(r) for r in raws)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--images", type=int, default=300, help="colour images in the bag")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--repeats", type=int, default=5, help="indexing passes each way")
    ap.add_argument("--dir", default=None, help="where the bag is written (default: a "
                    "temporary folder, deleted after)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        bag = Path(tmp) / "bag"
        counts = write_bag(bag, args.images / 30.0 / 60.0, args.width, args.height)
        size = sum(p.stat().st_size for p in bag.rglob("*") if p.is_file())
        print(f"bag: {dict(counts)}, {size / 1e6:.0f} MB on disk", flush=True)
        index_once(bag, None)  # warm the page cache and the imports
        runs: dict = {name: [] for name in WAYS}
        for _ in range(args.repeats):
            for name, add in WAYS.items():
                runs[name].append(index_once(bag, add))
        alone, n, nbytes = crc_alone(bag)
    figures = {"images": n, "image_bytes": nbytes, "bag_mb": round(size / 1e6, 1),
               "repeats": args.repeats, "python": sys.version.split()[0],
               "zlib": zlib.ZLIB_RUNTIME_VERSION, "crc_alone_s": round(alone, 4),
               "crc_gb_per_s": round(nbytes / alone / 1e9, 2)}
    for name, r in runs.items():
        walls = [w for w, _ in r]
        figures[name] = {"wall_best_s": round(min(walls), 3),
                         "wall_median_s": round(statistics.median(walls), 3),
                         "cpu_median_s": round(statistics.median(c for _, c in r), 3)}
        print(f"{name:32s}: wall best {min(walls):.3f} s, median "
              f"{statistics.median(walls):.3f} s, CPU median "
              f"{statistics.median(c for _, c in r):.3f} s")
    cpu = {name: figures[name]["cpu_median_s"] for name in WAYS}
    every, now, floor = (cpu[name] for name in WAYS)
    figures["digest_share_of_pass_cpu"] = {"before": round((every - floor) / every, 4),
                                           "now": round((now - floor) / now, 4)}
    print(f"CRC-32 alone over {n} image messages ({nbytes / 1e6:.0f} MB): {alone:.4f} s "
          f"({nbytes / alone / 1e9:.2f} GB/s); digests' share of the pass's CPU (median, "
          f"against the floor): before {(every - floor) / every:.1%}, now "
          f"{(now - floor) / now:.1%}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
