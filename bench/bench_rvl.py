#!/usr/bin/env python3
"""RVL depth decoding (``core/image_codec/rvl.py``, compressedDepth ``rvl``), the previous and the
current decoder side by side in one run, and whether they agree bit for bit.

The previous decoder is the package at ``--prev-rev`` (read from git history by
`frozen_package.load_frozen_package`; the commit before the decoder's array-wide run walk by
default). Frames, each RVL-encoded by the test suite's independent encoder
(``test/unit/test_image_codec.py``'s ``_rvl_encode``):

* ``7scenes <stamp>``: the first ``--frames`` 7-Scenes depth PNGs of ``shared/data`` (640x480,
  a few % holes, a run every ~200 pixels);
* ``holes 30%``: the first of them with 30 % of its pixels zeroed at random (a run every ~5);
* ``alternating``: every other pixel of it zeroed (the worst case: a run every 2 pixels).

Per frame it prints old and new decode time (median [min-max] of ``--repeats``, the two
interleaved per repeat: the same load for both) and old / new, of the medians and of the
minima (the least disturbed by other load). Then the bit-identity check:
every frame decoded to the same array by both, and ``--fuzz`` damaged streams (bytes flipped,
cut, inserted, another size in the header, random bytes) either decoded to the same array by
both or refused by both with the same message, or decoded by the previous decoder and refused
by the current one as a stream that runs on after the image or decodes a depth outside uint16
(refused since; counted apart as "newly refused"). Exit status 1 when they differ otherwise.

    python bench/bench_rvl.py                       # 2 frames, 10 repeats, 2000 fuzz streams
    python bench/bench_rvl.py --frames 5 --json rvl.json

Times are this process's CPU time by default (``--clock cpu``; both decoders run on one thread):
on a shared machine, wall time (``--clock wall``) adds the waits for a core. Numbers from a
shared machine are only comparable within one run (ratios).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from typing import Callable, Dict, List, Tuple

import benchlib  # noqa: F401 - puts the repository on sys.path
import cv2
import numpy as np
from benchlib import REPO, commit, ms, spread, write_json
from frozen_package import FrozenPackageError, load_frozen_package
from mast3r_test_utils import shared_dir

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec.rvl import decode_rvl

PREV_REV = "18369087a0dccb769269e3311ec6d5c666fd7e32"  # the decoder's run walk in Python lists


def _encoder() -> Callable[[np.ndarray], bytes]:
    """The test suite's RVL encoder (written from Wilson 2017, independent of the decoder)."""
    path = REPO / "test" / "unit" / "test_image_codec.py"
    spec = importlib.util.spec_from_file_location("_rvl_test_codec", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._rvl_encode


def _frames(count: int) -> List[Tuple[str, np.ndarray]]:
    pngs = sorted((shared_dir() / "data").glob("*/depth/*.png"))[:count]
    if not pngs:
        raise SystemExit(f"no depth PNGs under {shared_dir() / 'data'}/*/depth "
                         "(set MAST3R_ROS_SHARED to the shared folder)")
    frames = [(f"7scenes {p.parent.parent.name}/{p.stem}", cv2.imread(str(p), cv2.IMREAD_UNCHANGED))
              for p in pngs]
    base = frames[0][1]
    holes = base.copy()
    holes[np.random.default_rng(0).random(base.shape) < 0.3] = 0
    alternating = base.copy()
    flat = alternating.reshape(-1)
    flat[0::2] = 0
    flat[1::2] = np.maximum(flat[1::2], 1)
    return frames + [("holes 30%", holes), ("alternating", alternating)]


def _runs(depth: np.ndarray) -> int:
    """How many run headers (zeros, non-zeros) RVL writes for ``depth``."""
    valid = depth.reshape(-1) != 0
    return int(np.count_nonzero(valid[1:] & ~valid[:-1]) + valid[0] + (not valid[-1]))


# what the current decoder refuses that the previous one decoded (wrapped, or ignored the rest)
_NEWLY_REFUSED = ("runs on after the", "outside uint16's 0..65535")


def _outcome(decode: Callable, data: bytes, width: int, height: int):
    try:
        return decode(data, width, height)
    except InputError as err:
        return f"InputError: {err}"


def _fuzz(encode: Callable, base: np.ndarray, count: int, seed: int = 1
          ) -> List[Tuple[bytes, int, int]]:
    """``count`` damaged RVL streams (data, width, height) of small crops of ``base``."""
    rng = np.random.default_rng(seed)
    crops = []
    for h, w in ((7, 9), (12, 10), (16, 21)):
        crop = base[100:100 + h, 200:200 + w].copy()
        crop[rng.random(crop.shape) < 0.3] = 0
        crops.append((crop, encode(crop)))
    out = []
    for i in range(count):
        crop, data = crops[i % len(crops)]
        h, w = crop.shape
        raw = bytearray(data)
        kind = i % 6
        if kind == 0:  # bytes flipped
            for _ in range(int(rng.integers(1, 4))):
                raw[int(rng.integers(len(raw)))] ^= int(rng.integers(1, 256))
        elif kind == 1:  # cut short, whole words or not
            raw = raw[:int(rng.integers(0, len(raw)))]
        elif kind == 2:  # words inserted
            at = 4 * int(rng.integers(0, len(raw) // 4 + 1))
            raw[at:at] = rng.integers(0, 256, 4 * int(rng.integers(1, 3)), dtype=np.uint8).tobytes()
        elif kind == 3:  # another size in the header
            h, w = max(1, h + int(rng.integers(-2, 3))), max(1, w + int(rng.integers(-2, 3)))
        elif kind == 4:  # trailing words
            raw += rng.integers(0, 256, 4 * int(rng.integers(1, 4)), dtype=np.uint8).tobytes()
        else:  # random bytes
            raw = bytearray(rng.integers(0, 256, int(rng.integers(0, 80)), dtype=np.uint8)
                            .tobytes())
        out.append((bytes(raw), w, h))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2, help="7-Scenes depth PNGs (default 2)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--fuzz", type=int, default=2000, help="damaged streams checked (default 2000)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="time.process_time (default) or time.perf_counter")
    ap.add_argument("--prev-rev", default=PREV_REV,
                    help=f"the previous decoder's commit (default {PREV_REV[:7]})")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.frames < 1 or args.repeats < 1 or args.fuzz < 0:
        ap.error("--frames and --repeats must be >= 1, --fuzz >= 0")
    try:
        prev = load_frozen_package(args.prev_rev, "mast3r_ros/core/image_codec",
                                   "image_codec_prev").rvl.decode_rvl
    except FrozenPackageError as err:
        ap.error(str(err))
    encode = _encoder()
    frames = _frames(args.frames)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"commit {commit()}, previous {args.prev_rev[:7]}, numpy {np.__version__}, "
          f"{args.repeats} repeats, {args.clock} time")
    print(f"{'frame':34s} {'runs':>7s} {'KB':>4s} {'old':>22s} {'new':>22s} "
          f"{'old/new: median':>15s} {'min':>5s}")
    rows: List[Dict] = []
    same = True
    for name, depth in frames:
        data = encode(depth)
        h, w = depth.shape
        runs = _runs(depth)
        times: Dict[str, List[float]] = {"old": [], "new": []}
        outs = {}
        for _ in range(args.repeats):
            for key, fn in (("old", prev), ("new", decode_rvl)):
                t0 = clock()
                outs[key] = fn(data, w, h)
                times[key].append(clock() - t0)
        equal = bool(np.array_equal(outs["old"], outs["new"])
                     and np.array_equal(outs["new"], depth))
        same &= equal
        old, new = spread(times["old"]), spread(times["new"])
        ratio, ratio_min = old["median_s"] / new["median_s"], old["min_s"] / new["min_s"]
        print(f"{name:34s} {runs:7d} {len(data) / 1024:4.0f} {ms(old):>22s} {ms(new):>22s} "
              f"{ratio:14.1f}x {ratio_min:4.1f}x{'' if equal else '  DIFFERENT'}")
        rows.append({"frame": name, "runs": runs, "bytes": len(data), "old": old, "new": new,
                     "old_over_new": ratio, "old_over_new_min": ratio_min, "identical": equal})
    mismatches, refused, stricter = 0, 0, 0
    for data, w, h in _fuzz(encode, frames[0][1], args.fuzz):
        a, b = _outcome(prev, data, w, h), _outcome(decode_rvl, data, w, h)
        refused += isinstance(b, str)
        if not isinstance(a, str) and isinstance(b, str) and any(
                why in b for why in _NEWLY_REFUSED):
            stricter += 1
        elif type(a) is not type(b) or (a != b if isinstance(a, str) else not np.array_equal(a, b)):
            mismatches += 1
            if mismatches <= 5:
                print(f"DIFFERENT on {data.hex()} {w}x{h}: old {a!r:.200}, new {b!r:.200}")
    same &= mismatches == 0
    frames_equal = "equal" if all(r["identical"] for r in rows) else "DIFFERENT"
    print(f"bit-identity: {len(frames)} frames {frames_equal}"
          f"; {args.fuzz} damaged streams ({refused} refused, {args.fuzz - refused} decoded): "
          f"{mismatches} different outcomes or messages, {stricter} newly refused (data after "
          "the image, a depth outside uint16)")
    write_json(args.json, {"commit": commit(), "prev_rev": args.prev_rev, "numpy": np.__version__,
                           "clock": args.clock, "repeats": args.repeats, "frames": rows,
                           "fuzz": args.fuzz,
                           "fuzz_refused": refused, "fuzz_mismatches": mismatches,
                           "fuzz_newly_refused": stricter})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
