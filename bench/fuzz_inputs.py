#!/usr/bin/env python3
"""Seeded mutational fuzzing of where field data enters: every bad input must end in one of the
package's errors (`mast3r_ros.core.errors.Mast3rRosError`), never in another exception
(IndexError, ValueError, KeyError, cv2.error, struct.error, UnicodeDecodeError, ...), a hang or
a MemoryError.

Targets (``--targets``, all by default): ``image`` (sensor_msgs/Image fields: every encoding,
step / size / data-length mismatches, huge sizes, is_bigendian), ``compressed``
(CompressedImage: jpeg, png, compressedDepth png / rvl, cut and damaged payloads, formats),
``camera_info`` (CameraInfo messages), ``camera_yaml`` (camera_info YAML of every layout the
reader takes: ROS, ros2 topic echo, OpenCV, ORB-SLAM, Kalibr, EuRoC), ``tum`` (a TUM folder's
rgb.txt / depth.txt / groundtruth.txt / camera.yaml), ``map`` (a keyframe map folder's
manifest.json and files), ``bag`` (rosbag2 mcap / sqlite3 bytes and metadata.yaml) and
``bag_fields`` (rosbag2s written whole, of messages with odd fields: sizes, encodings, NaN in K
or tf, zero quaternions, stamps, frame ids, a message twice), ``ros1_bag`` (ROS 1 .bag files:
bytes, record header fields, bz2 / lz4 chunks, odd messages), ``params`` (--params ROS 2
parameter files: odd values, unknown keys, wildcard and nested blocks, aliases, encodings),
``euroc`` (EuRoC/ASL folders: data.csv, sensor.yaml's T_BS, ground truth, vicon0, images) and
``kitti`` (KITTI sequences: calib.txt, times.txt, poses/NN.txt, images), ``realsense``
(RealSense Viewer ROS 1 bags: topic names, Depth Units, distortion names, extrinsics, trailing
bytes, record fields, message bytes) and ``stereo_depth`` (``--stereo-depth`` EuRoC folders:
cam0/cam1 sensor.yaml T_BS, intrinsics, distortion, resolution; KITTI calib.txt P1/P3; the
right images; some through ``build-map``), ``realsense_units`` (the depth_units each RealSense
Image carries, against the 'Depth Units' option), ``tf_extrinsic`` (a depth camera's
extrinsic on /tf only: values, chains, NaN, huge, changing, stamps) and ``euroc_cam1`` (cam1
stamps missing, repeated, reordered, shifted; bench/fuzz_extrinsics.py); the reader targets
also check what a read gives (finite rigid poses, typed config values, depth without inf,
the depth unit stated, no moving extrinsic taken, stereo depth only for an exact stamp). Each input
is a valid one built like the test suite's, then mutated (bytes flipped, cut, inserted, fields
replaced by NaN / inf / negative / huge / wrong-typed values); each input's outcome is
``ok`` (read), ``refused`` (a package error) or an escape, printed once per distinct place
(exception type and the innermost package frame) with the seed that reproduces it.

    python bench/fuzz_inputs.py                          # every target, 200 inputs each
    python bench/fuzz_inputs.py --targets image,compressed --count 5000 --seed 3
    python bench/fuzz_inputs.py --targets bag --replay 17   # one input again, with traceback

Exit status 1 when any input escaped. Each input runs under a ``--timeout`` (seconds, a hang
counts as an escape; SIGALRM, so a call that never returns to Python is not interrupted) and
the process under an address-space limit (``--memory-gb``: a length field that asks for
terabytes is a MemoryError here, not the machine swapping). The test suite runs 300 message
inputs of each message target (test/unit/test_fuzz_regressions.py); this script is for long
runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO), str(REPO / "test"), str(REPO / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

import numpy as np  # noqa: E402

from fuzz_targets import TARGETS  # noqa: E402
from mast3r_ros.core.errors import Mast3rRosError  # noqa: E402


class Hang(BaseException):
    """An input ran past --timeout (BaseException: no ``except Exception`` swallows it)."""


def _alarm(signum, frame):
    raise Hang()


def _place(err: BaseException) -> str:
    """The innermost frame inside mast3r_ros of a traceback (file:line function)."""
    inner = "?"
    for fs in traceback.extract_tb(err.__traceback__):
        if "mast3r_ros" in fs.filename:
            inner = f"{fs.filename.split('mast3r_ros/')[-1]}:{fs.lineno} {fs.name}"
    return inner


def run_one(fn: Callable, rng: np.random.Generator, ctx: dict, timeout: float
            ) -> Tuple[str, str, BaseException | None]:
    """(outcome, what the input was, the escaped exception or None)."""
    note = ["?"]
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        fn(rng, ctx, note)
        return "ok", note[0], None
    except Mast3rRosError:
        return "refused", note[0], None
    except (Exception, Hang) as err:  # noqa: BLE001 - every other one is the finding
        return "escape", note[0], err
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--count", type=int, default=200, help="inputs per target")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="stop a target after this long (0: only --count)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input")
    ap.add_argument("--memory-gb", type=float, default=6.0)
    ap.add_argument("--trace", default=None,
                    help="write each input's target and number to this file before it runs "
                         "(to find one that kills the process: a native crash)")
    ap.add_argument("--replay", type=int, default=None,
                    help="run only input number N of each target, printing its traceback")
    args = ap.parse_args(argv)
    limit = int(args.memory_gb * 2 ** 30)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)
    os.environ["OPENCV_LOG_LEVEL"] = "OFF"
    if args.replay is None:  # libpng's and libjpeg's complaints about each damaged input
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    import logging
    logging.disable(logging.CRITICAL)  # the refusals' warnings are not the point here
    escaped = 0
    with tempfile.TemporaryDirectory(prefix="fuzz_") as tmp:
        for name in args.targets.split(","):
            setup, case = TARGETS[name]
            ctx: Dict[str, object] = {"tmp": Path(tmp) / name}
            ctx["tmp"].mkdir()
            setup(ctx)
            counts = {"ok": 0, "refused": 0, "escape": 0}
            seen: Dict[str, Tuple[int, str, str]] = {}
            start = time.monotonic()
            numbers = [args.replay] if args.replay is not None else range(args.count)
            for i in numbers:
                if args.seconds and time.monotonic() - start > args.seconds:
                    break
                rng = np.random.default_rng([args.seed, i])
                if args.trace:
                    with open(args.trace, "w") as fh:
                        fh.write(f"{name} --seed {args.seed} --replay {i}\n")
                outcome, note, err = run_one(case, rng, ctx, args.timeout)
                counts[outcome] += 1
                if err is not None:
                    key = f"{type(err).__name__} at {_place(err)}"
                    if key not in seen:
                        seen[key] = (i, note, f"{type(err).__name__}: {str(err)[:200]}")
                    if args.replay is not None:
                        traceback.print_exception(type(err), err, err.__traceback__)
                elif args.replay is not None:
                    print(f"{name} #{i}: {outcome} ({note})")
            took = time.monotonic() - start
            print(f"{name}: {sum(counts.values())} inputs in {took:.1f} s: {counts['ok']} read, "
                  f"{counts['refused']} refused, {counts['escape']} escaped "
                  f"({len(seen)} distinct)")
            for key, (i, note, text) in seen.items():
                print(f"  ESCAPE {key}\n    first: --seed {args.seed} --replay {i} ({note})\n"
                      f"    {text}")
            escaped += counts["escape"]
            sys.stdout.flush()
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
