#!/usr/bin/env python3
"""Whole passes over a rosbag2 .db3 without its time index (timestamp_idx dropped): the
package of ``--old-rev`` (rosbags' ``ORDER BY timestamp`` with the data: SQLite sorts every
message's bytes) and of this tree (`rosbag.sqlite_open._sorted_first`: times sorted, data
read by rowid), side by side.

Writes `bench_bag_open`'s field-recording-shaped sqlite3 bag of ``--minutes`` (30 Hz 640x480
JPEG, CameraInfo, compressedDepth, /tf at 100 Hz) into ``--tmp`` (a temporary folder, removed
after) and drops its timestamp_idx. For each package, alternating ``--repeats`` times, each in
a fresh child process: `opening.bag_messages` over the images alone (``image``), over /tf
alone (``tf``) and over every topic (``all``), each a fresh open: wall and CPU seconds (the
least CPU of the repeats), seconds to the first message, bytes read (``/proc/self/io``
``rchar``: SQLite's temporary files' reads included) and a digest of the messages (topic,
time, bytes), which must agree between old and new. Warm page cache; a shared machine moves
the wall times: compare within one run.

    python bench/bench_db3_unindexed.py --minutes 5 --old-rev 5687f1ee
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_bag_open import (IMAGE, _drop_time_index, _old_package,  # noqa: E402
                            run_package_child, write_bag)
from old_new import (add_repeats_and_old_rev, alternate,  # noqa: E402
                     parse_with_work, passes, write_rows)

_CHILD = r'''
import hashlib, json, logging, sys, time
from pathlib import Path
from mast3r_ros.replay.rosbag import opening
logging.disable(logging.WARNING)
def rchar():
    with open("/proc/self/io") as f:
        return int(next(l for l in f if l.startswith("rchar")).split()[1])
out, bag, image = sys.argv[1:4]
bag = Path(bag)
rows = {}
for name, topics in [("image", {image}), ("tf", {"/tf"}), ("all", None)]:
    r0, t0, c0 = rchar(), time.perf_counter(), time.process_time()
    h, n, first = hashlib.sha1(), 0, None
    with opening._open_bag(bag) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for conn, t, data in opening.bag_messages(reader, connections=conns):
            if first is None:
                first = time.perf_counter() - t0
            n += 1
            h.update(f"{conn.topic} {t}".encode())
            h.update(data)
    rows[name] = (time.perf_counter() - t0, time.process_time() - c0, rchar() - r0, first,
                  f"{n} messages {h.hexdigest()[:12]}")
with open(out, "w") as f:
    json.dump({"rows": rows, "module": opening.__file__}, f)
'''


def run_child(package_root: Path, bag: Path, work: Path) -> dict:
    return run_package_child(_CHILD, package_root, work, str(bag), IMAGE)


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    add_repeats_and_old_rev(ap, "5687f1ee")
    args, work = parse_with_work(ap, "db3_unindexed_", "bag")
    table = []
    try:
        packages = {"old": _old_package(args.old_rev, work / "old"), "new": ROOT}
        bag = work / "bag"
        counts = write_bag(bag, args.minutes, "sqlite3")
        _drop_time_index(bag)
        size = sum(p.stat().st_size for p in bag.iterdir())
        print(f"old: {args.old_rev}, new: this tree; {args.minutes:g} min sqlite3 bag without "
              f"timestamp_idx, {size / 1e6:.0f} MB, {sum(counts.values())} messages; the least "
              f"CPU of {args.repeats} (wall s, CPU s, s to the first message, MB read by "
              "rchar), warm page cache\n", flush=True)
        runs = alternate(packages, args.repeats,
                         functools.partial(run_child, bag=bag, work=work))
        print(f"{'pass':<6} {'wall s old/new':>15} {'CPU s old/new':>15} "
              f"{'first s old/new':>15} {'MB read old/new':>17}  results")
        for name, old, new, same, row in passes(runs, 4):
            (ow, oc, ob, of, _), (nw, nc, nb, nf, digest) = old, new
            print(f"{name:<6} {ow:7.2f}/{nw:<7.2f} {oc:7.2f}/{nc:<7.2f} {of:7.2f}/{nf:<7.2f} "
                  f"{ob / 1e6:8.1f}/{nb / 1e6:<8.1f}  {same}: {digest}", flush=True)
            table.append({"minutes": args.minutes, "bag_bytes": size, **row})
        write_rows(args.json, table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
