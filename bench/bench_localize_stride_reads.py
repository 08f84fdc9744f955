#!/usr/bin/env python3
"""Bytes read and time of localize's frame pass at ``--stride N`` over a bag: read through
(before: every image and depth message read, the skipped ones neither deserialized nor
decoded) and read by time (now: only the messages of the frames localized), side by side.

Writes ``--minutes`` of a field recording's shape (`bench_bag_open.write_bag`: 30 Hz 640x480
JPEG colour, compressedDepth PNG depth, CameraInfo, /tf at 100 Hz, map->odom at 10 Hz) per
``--format``: a ROS 1 .bag (``ros1``: chunks uncompressed; ``ros1_lz4``), a rosbag2 .db3
(``sqlite3``) and a rosbag2 .mcap (``mcap``: rosbags' writer, with its chunk index); and
``ros1_lz4_raw``: a ROS 1 .bag of lz4 chunks of raw 640x480 rgb8 (`bench_ros1_reads`: about
one image a chunk, /tf at 10 Hz, no depth); into ``--tmp`` (removed after). Per bag,
``--repeats`` times alternating, each in a fresh child process of this tree: `BagSequence`
with depth and --pose-frames (the indexing pass, not timed), then the frames
`sources.frames_or_unreadable(seq, stride)` gives (what localize iterates), each decoded
(``--recorded P``: a resumed run's, the first P of the frames recorded before, at stride 1 as
well):
``old`` with `drawn._frames_listed` swapped for the read-through pass it replaces
(`BagSequence._frames`, unchanged), ``new`` as the tree is. Reports the frame pass's wall and
CPU s (the least CPU of the repeats) and bytes read (``/proc/self/io`` ``rchar``), and a
digest of the frames (stamps, poses, pixels, depth) that must agree. Warm page cache; a
shared machine moves the wall times: compare within one run.

    python bench/bench_localize_stride_reads.py --minutes 1 --stride 10
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_bag_open import DEPTH, bag_bytes, write_bag  # noqa: E402
from bench_long_bag import OPTICAL  # noqa: E402
from bench_ros1_reads import OPTICAL as RAW_OPTICAL  # noqa: E402
from bench_ros1_reads import write_bag as raw_bag  # noqa: E402
from old_new import alternate, old_new, parse_with_work, write_rows  # noqa: E402

FORMATS = {"ros1": ("ros1", None, ".bag"), "ros1_lz4": ("ros1", "lz4", ".bag"),
           "sqlite3": ("sqlite3", None, ""), "mcap": ("mcap", None, ""),
           "ros1_lz4_raw": ("ros1_raw", "lz4", ".bag")}

_CHILD = r'''
import hashlib, json, sys, time
import numpy as np
from mast3r_ros.replay.rosbag import BagSequence
from mast3r_ros.replay.rosbag.sequence import BagSequence as Seq
from mast3r_ros.replay.sources import frames_or_unreadable
def rchar():
    with open("/proc/self/io") as f:
        return int(next(l for l in f if l.startswith("rchar")).split()[1])
out, bag, depth, optical, stride, mode, part = sys.argv[1:8]
if mode == "old":  # the read-through pass, as before `_frames_listed`
    Seq._frames_listed = lambda self, positions, recorded: self._frames(
        skip_unreadable=True, positions=positions, recorded=recorded)
seq = BagSequence(bag, depth_topic=depth or None, pose_frames=f"map:{optical}")
r0, t0, c0 = rchar(), time.perf_counter(), time.process_time()
h, n = hashlib.sha1(), 0
recorded = [int(t) for t in seq.stamps_ns[:int(len(seq) * float(part))]]  # a resumed run's
for f in frames_or_unreadable(seq, int(stride), recorded=recorded):
    n += 1
    h.update(str(f.stamp_ns).encode())
    h.update(np.asarray(f.map_from_cam, np.float64).tobytes())
    if hasattr(f, "rgb"):  # not a resumed run's RecordedFrame
        h.update(np.ascontiguousarray(f.rgb).tobytes())
        h.update(b"" if f.depth_m is None else np.ascontiguousarray(f.depth_m).tobytes())
row = (time.perf_counter() - t0, time.process_time() - c0, rchar() - r0,
       f"{n} of {len(seq)} frames {h.hexdigest()[:12]}")
with open(out, "w") as f:
    json.dump(row, f)
'''


def run_child(bag: Path, stride: int, mode: str, work: Path, depth: str, optical: str,
              part: float = 0.0) -> list:
    out = work / "row.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", _CHILD, str(out), str(bag), depth, optical,
                           str(stride), mode, str(part)], env=env, cwd=work, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"the child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--format", nargs="+", choices=tuple(FORMATS), default=list(FORMATS))
    ap.add_argument("--stride", type=int, nargs="+", default=[10],
                    help="localize --stride N (default 10; several: each measured)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--recorded", type=float, default=0.0,
                    help="a resumed run: this part of the frames (0..1, the first) recorded "
                         "before (their messages not read by time; read through before)")
    args, work = parse_with_work(ap, "stride_reads_")
    table = []
    try:
        print(f"{args.minutes:g} min bags, 640x480 JPEG + compressedDepth at 30 Hz, /tf at "
              f"100 Hz; localize's frame pass, old: read through, new: by time; the least CPU "
              f"of {args.repeats} (wall s, CPU s, MB read by rchar), warm page cache; "
              f"resumed with the first {args.recorded:g} of the frames recorded",
              flush=True)
        print(f"{'format':<9} {'stride':>6} {'bag MB':>7} {'wall s old/new':>15} "
              f"{'CPU s old/new':>15} {'MB read old/new':>19}  frames")
        for name in args.format:
            storage, compression, suffix = FORMATS[name]
            bag = work / f"field_{name}{suffix}"
            if storage == "ros1_raw":  # raw rgb8, no depth (`bench_ros1_reads.write_bag`)
                raw_bag(bag, args.minutes, 640, 480, 10.0, compression)
                depth, optical = "", RAW_OPTICAL
            else:
                write_bag(bag, args.minutes, storage, ros1_compression=compression)
                depth, optical = DEPTH, OPTICAL
            size = bag_bytes(bag)
            for stride in args.stride:
                runs = alternate({"old": "old", "new": "new"}, args.repeats,
                                 functools.partial(run_child, bag, stride, work=work, depth=depth,
                                                   optical=optical, part=args.recorded))
                old, new, agree, same = old_new(runs)
                (ow, oc, ob, _), (nw, nc, nb, digest) = old, new
                print(f"{name:<9} {stride:>6} {size / 1e6:7.1f} {ow:7.2f}/{nw:<7.2f} "
                      f"{oc:7.2f}/{nc:<7.2f} {ob / 1e6:9.2f}/{nb / 1e6:<9.2f}  {same}: {digest}",
                      flush=True)
                table.append({"format": name, "minutes": args.minutes, "stride": stride,
                              "recorded": args.recorded,
                              "bag_bytes": size, "old": [r[:3] for r in runs["old"]],
                              "new": [r[:3] for r in runs["new"]], "same": agree,
                              "digest": digest})
            shutil.rmtree(bag) if bag.is_dir() else bag.unlink()
        write_rows(args.json, table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    t = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t:.0f} s)")
    sys.exit(code)
