#!/usr/bin/env python3
"""The per-keyframe parts of the map check on a written map's keyframe PNGs, each alone (best of
``--repeats`` passes over every keyframe, ms per keyframe): the colour PNG's sha256, PIL header
read and decode (whole, and with ``cv2.IMREAD_REDUCED_COLOR_2``: a PNG is inflated whole either
way, OpenCV resizes after), the depth PNG's decode and its float conversion at full size vs
after the nearest reduction (`MapRecords(map, width)`), ORB and SIFT (the map check's
contrast 0.02, `extract_sift`) on the working-width grey image, on OpenCV's threads and on one.

    python bench/bench_map_check_parts.py MAP
    python bench/bench_map_check_parts.py MAP --repeats 5 --width 320
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import time

import cv2
import numpy as np
from PIL import Image

from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.keyframes.loader import depth_metres
from mast3r_ros.core.map_check.measure import SIFT_CONTRAST
from mast3r_ros.core.matchers.sift import extract_sift


def _read(path: str) -> bytes:
    """The bytes of ``path``, the file closed (one open file per keyframe otherwise waited
    for the garbage collector: ResourceWarning under -X dev)."""
    with open(path, "rb") as fh:
        return fh.read()


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("map")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--max-features", type=int, default=500)
    a = ap.parse_args()
    m = KeyframeMap.load(a.map, lazy=True, check_files=False)
    kfs = list(m.keyframes)
    rgb = [_read(os.path.join(a.map, k.image_file)) for k in kfs]
    dep = [_read(os.path.join(a.map, k.depth_file)) for k in kfs if k.depth_file]
    units = [float(k.depth_scale) for k in kfs if k.depth_file]
    w, h = kfs[0].intrinsics.width, kfs[0].intrinsics.height
    size = (a.width, round(h * a.width / w))

    def best(fn, items):
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            for x in items:
                fn(x)
            times.append((time.perf_counter() - t0) / max(1, len(items)))
        return 1e3 * min(times)

    def dec(flags):
        return lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), flags)

    raws = [dec(cv2.IMREAD_UNCHANGED)(d) for d in dep]
    greys = [cv2.cvtColor(cv2.resize(dec(cv2.IMREAD_UNCHANGED)(d), size,
                                     interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
             for d in rgb]
    orb = cv2.ORB_create(nfeatures=a.max_features)
    rows = [
        ("colour PNG sha256", best(lambda d: hashlib.sha256(d).digest(), rgb)),
        ("colour PNG header (PIL)", best(lambda d: Image.open(io.BytesIO(d)).size, rgb)),
        ("colour PNG decode", best(dec(cv2.IMREAD_UNCHANGED), rgb)),
        ("colour PNG decode REDUCED_COLOR_2", best(dec(cv2.IMREAD_REDUCED_COLOR_2), rgb)),
        ("depth PNG decode", best(dec(cv2.IMREAD_UNCHANGED), dep)),
        ("depth to metres, full size, then reduced",
         best(lambda i: cv2.resize(depth_metres(raws[i], units[i]), size,
                                   interpolation=cv2.INTER_NEAREST), range(len(raws)))),
        ("depth reduced, then to metres",
         best(lambda i: depth_metres(cv2.resize(raws[i], size, interpolation=cv2.INTER_NEAREST),
                                     units[i]), range(len(raws)))),
        ("ORB", best(lambda g: orb.detectAndCompute(g, None), greys)),
        ("SIFT (extract_sift)", best(lambda g: extract_sift(g, a.max_features,
                                                            contrast_threshold=SIFT_CONTRAST),
                                     greys)),
    ]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    rows.append(("SIFT, one OpenCV thread",
                 best(lambda g: extract_sift(g, a.max_features, contrast_threshold=SIFT_CONTRAST),
                      greys)))
    cv2.setNumThreads(threads)
    print(f"# {len(kfs)} keyframes {w}x{h}, working width {size[0]}x{size[1]}, OpenCV "
          f"{cv2.__version__} on {threads} threads, load {os.getloadavg()[0]:.1f}; ms per "
          f"keyframe, best of {a.repeats}")
    for name, ms in rows:
        print(f"{name:42s} {ms:7.2f}")


if __name__ == "__main__":
    main()
