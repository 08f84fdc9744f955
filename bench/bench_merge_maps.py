#!/usr/bin/env python3
"""merge-maps' keyframe copy, previous vs new, side by side in one run.

Previous: every kept keyframe decoded and re-encoded (``MapWriter.add_keyframe(m.image(i), ...,
m.depth(i))``: OpenCV PNG decode, depth to metres and back, zlib encode, thumbnail descriptor),
and the copy search decoding and hashing every keyframe of both maps. New: the PNG files'
bytes copied as they are (`KeyframeMap.keyframe_pngs` -> `MapWriter.add_keyframe_png`, the
stored thumbnail descriptors), and only keyframes that share a stamp decoded for the copy search
(`map_merge._unique_keyframes`). Two synthetic v3 maps (smooth textured RGB, float depth, as
build-map writes them with `MapWriter.add_keyframe`), no shared frame; per repeat, in turn:

* ``write``: every keyframe of both maps into a fresh `MapWriter`, and its commit;
* ``search``: the copy search over both maps;
* ``merge``: the whole `merge_maps` (new only; ``--force``: random maps do not agree where they
  overlap), for what the two steps above are of it.

Each repeat opens the maps afresh (`KeyframeMap.load`, checksums verified; not timed), so no
decoded image is cached between variants. Ratios are previous / new; on a shared machine only
the ratios of one run compare.

    python bench/bench_merge_maps.py                       # 2 x 200 keyframes at 640x480
    python bench/bench_merge_maps.py --keyframes 50 --repeats 2 --json merge.json
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Callable, Dict, List

import cv2
import numpy as np

from benchlib import commit, ms, spread, write_json

from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.replay import map_merge, pipeline  # noqa: F401 (imported before timing)


def synthetic_map(path: str, n: int, w: int, h: int, seed: int, stamp0: int) -> str:
    """A v3 map of ``n`` keyframes: smooth random texture with +-2 levels of pixel noise, as a
    camera's (not flat colour: about 0.9 MB of PNG at 640x480), depth 1-4 m with a few holes,
    poses along x."""
    rng = np.random.default_rng(seed)
    cam = CameraIntrinsics(w, h, np.array([[0.9 * w, 0, w / 2], [0, 0.9 * w, h / 2], [0, 0, 1]]))
    with MapWriter(path) as wr:
        for i in range(n):
            rgb = cv2.resize(rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8), (w, h),
                             interpolation=cv2.INTER_CUBIC)
            rgb = np.clip(rgb.astype(np.int16) + rng.integers(-2, 3, rgb.shape), 0, 255)
            depth = cv2.resize(rng.uniform(1.0, 4.0, (h // 32, w // 32)).astype(np.float32),
                               (w, h), interpolation=cv2.INTER_LINEAR)
            depth[rng.random((h, w)) < 0.02] = np.nan
            pose = np.eye(4)
            pose[0, 3] = 0.05 * i
            wr.add_keyframe(rgb.astype(np.uint8), cam, pose, stamp0 + i * 10**8, depth)
        return wr.commit()


def write_previous(maps: List[KeyframeMap], out: str) -> None:
    with MapWriter(out, overwrite=True) as w:
        for m in maps:
            for i in range(len(m)):
                kf = m.keyframes[i]
                w.add_keyframe(np.ascontiguousarray(m.image(i)), kf.intrinsics,
                               kf.map_from_cam, kf.stamp_ns, m.depth(i))
        w.commit()


def write_new(maps: List[KeyframeMap], out: str) -> None:
    with MapWriter(out, overwrite=True) as w:
        for m in maps:
            thumbs = m.thumbnail_descriptors()
            for i in range(len(m)):
                kf = m.keyframes[i]
                image, depth, scale = m.keyframe_pngs(i)
                w.add_keyframe_png(image, kf.intrinsics, kf.map_from_cam, kf.stamp_ns, depth,
                                   scale, thumbs[i])
        w.commit()


def search_previous(maps: List[KeyframeMap]) -> None:
    """What the copy search read before: every keyframe decoded and its pixels hashed."""
    seen = set()
    for m in maps:
        for i, kf in enumerate(m.keyframes):
            img = m.image(i)
            seen.add((int(kf.stamp_ns), img.shape, hashlib.sha256(img.tobytes()).digest()))


def search_new(maps: List[KeyframeMap]) -> None:
    map_merge._unique_keyframes(maps, ("A", "B"), False)


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--keyframes", type=int, default=200, help="per map (default 200)")
    ap.add_argument("--size", default="640x480", help="WxH (default 640x480)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", help="work folder (default: a temporary one, deleted)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    logging.basicConfig(level=logging.ERROR)
    work = a.dir or tempfile.mkdtemp(prefix="bench_merge_")
    try:
        t0 = time.perf_counter()
        paths = [synthetic_map(os.path.join(work, name), a.keyframes, w, h, seed, stamp0)
                 for name, seed, stamp0 in (("a", 0, 0), ("b", 1, 10**12))]
        made = time.perf_counter() - t0
        png_mb = sum(os.path.getsize(os.path.join(p, "keyframes", f)) for p in paths
                     for f in os.listdir(os.path.join(p, "keyframes"))) / 2**20
        print(f"# bench_merge_maps, commit {commit()}, python {sys.version.split()[0]}, "
              f"opencv {cv2.__version__}, {a.repeats} interleaved repeats; 2 x {a.keyframes} "
              f"keyframes {w}x{h} ({png_mb:.0f} MB of PNGs; made in {made:.1f} s)")
        steps: Dict[str, Callable[[List[KeyframeMap]], None]] = {
            "write previous": lambda ms_: write_previous(ms_, os.path.join(work, "c_prev")),
            "write new": lambda ms_: write_new(ms_, os.path.join(work, "c_new")),
            "search previous": search_previous,
            "search new": search_new,
            "merge new": lambda _: map_merge.merge_maps(
                paths[0], paths[1], os.path.join(work, "c_merge"), overwrite=True, force=True),
        }
        times: Dict[str, List[float]] = {k: [] for k in steps}
        for _ in range(a.repeats):
            for name, fn in steps.items():
                maps = [KeyframeMap.load(p) for p in paths]  # nothing decoded yet
                t = time.perf_counter()
                fn(maps)
                times[name].append(time.perf_counter() - t)
        same = all(open(os.path.join(p, "keyframes", f), "rb").read() == open(
            os.path.join(work, "c_new", "keyframes", f"{j * a.keyframes + int(f[:6]):06d}"
                         f"{f[6:]}"), "rb").read()
            for j, p in enumerate(paths) for f in os.listdir(os.path.join(p, "keyframes")))
        rows = {k: spread(v) for k, v in times.items()}
        print(f"{'step':<10}{'previous':>30}{'new':>30}  prev/new")
        for step in ("write", "search"):
            p, n = rows[f"{step} previous"], rows[f"{step} new"]
            print(f"{step:<10}{ms(p):>30}{ms(n):>30}  {p['median_s'] / n['median_s']:7.2f}x")
        both_p = rows["write previous"]["median_s"] + rows["search previous"]["median_s"]
        both_n = rows["write new"]["median_s"] + rows["search new"]["median_s"]
        print(f"{'both':<10}{1000 * both_p:27.1f} ms{1000 * both_n:27.1f} ms  "
              f"{both_p / both_n:7.2f}x")
        print(f"whole merge_maps (new): {ms(rows['merge new'])}; per keyframe "
              f"{1000 * rows['merge new']['median_s'] / (2 * a.keyframes):.2f} ms")
        print(f"merged keyframe files byte-identical to the inputs': {same}")
        write_json(a.json, {"keyframes_per_map": a.keyframes, "size": [w, h],
                            "png_mb": png_mb, "repeats": a.repeats, "commit": commit(),
                            "opencv": cv2.__version__, "steps": rows,
                            "ratio_write": rows["write previous"]["median_s"]
                            / rows["write new"]["median_s"],
                            "ratio_search": rows["search previous"]["median_s"]
                            / rows["search new"]["median_s"],
                            "ratio_both": both_p / both_n, "byte_identical": same})
    finally:
        if not a.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
