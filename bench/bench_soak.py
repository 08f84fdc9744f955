#!/usr/bin/env python3
"""Soak benchmark: memory per 1000 frames of the node's long-running path, phase by phase.

The localization node runs for hours; anything it keeps per frame grows without bound. This
drives the ROS-free parts over many frames and prints, side by side, how much Python memory
(``tracemalloc``, traced from the start, counted after a warm-up) and RSS each phase gains per
1000 frames, with the source lines that gained the most:

* ``localizer``: `Localizer.localize` with the tracker's hint (SIFT on rendered frames, or the
  tiny random-weight MASt3R with ``--matcher mast3r``), each frame with a new stamp, a new
  frame id and a slightly different calibration;
* ``node``: the node's per-frame path (`ros.processing.FrameProcessing`: admission, TF, the
  localizer, tracking, /diagnostics) on fake ROS parts, with what a long run meets: varied
  stamps, frame ids (some with ROS 1's '/'), CameraInfo jitter, 16-bit images, TF outages,
  inference errors whose messages differ every time, time going backwards, a summary each
  30 frames;
* ``offline``: what `mast3r-ros localize` keeps per frame for the metrics and plots
  (the result and its ground-truth pose), extrapolated to a 1-hour 30 Hz bag (108 000 frames).

    python bench/bench_soak.py                         # 3000 frames per phase, SIFT (~15 min)
    python bench/bench_soak.py --frames 600 --warmup 100 --phases node   # a quick look
    python bench/bench_soak.py --matcher mast3r --size 224  # the tiny random-weight network

Per 1000 frames it prints two figures of each: over the whole run after the warm-up, and the
least-squares slope over the second half of the samples (each taken after a garbage
collection). A structure bounded by a count or a time window fills once after the warm-up (a
step in the first figure, nothing in the slope); what is kept per frame shows in both, and the
slope is what an hour costs. tracemalloc sees Python and numpy allocations only (not torch's
or OpenCV's own), RSS all of them but coarsely. Nothing is asserted: it prints (and ``--json``
writes).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import tempfile
import time
import tracemalloc
from types import SimpleNamespace as NS
from typing import Any, Callable, Dict, List

import numpy as np
from benchlib import environment, rss_now_mb, write_json

from mast3r_ros.core.config import LocalizerConfig, param_specs
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.tracker import Tracker
from mast3r_ros.core.types import CameraIntrinsics, Frame, LocalizationResult
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames
from mast3r_ros.ros import params, processing
from mast3r_ros.ros.processing import FrameProcessing
from mast3r_ros.ros.tracking import TrackingState

NS_PER_S = 1_000_000_000
HOUR_30HZ = 108_000


def soak(step: Callable[[int], None], frames: int, warmup: int, every: int) -> Dict[str, Any]:
    """Run ``step(i)`` for i < ``frames``; memory gained after ``warmup`` frames.

    Traced from the first frame: traced from the end of the warm-up only, a bounded structure
    whose entries turn over (an LRU, a time window) looked like growth while its untraced
    entries were replaced by traced ones."""
    tracemalloc.start(1)
    for i in range(warmup):
        step(i)
    gc.collect()
    before = tracemalloc.take_snapshot()
    traced0, rss0 = tracemalloc.get_traced_memory()[0], rss_now_mb()
    samples = []
    t0 = time.perf_counter()
    for i in range(warmup, frames):
        step(i)
        if (i + 1 - warmup) % every == 0:
            gc.collect()  # cyclic garbage (an exception's traceback) is not growth
            samples.append((i + 1, tracemalloc.get_traced_memory()[0] - traced0, rss_now_mb()))
    gc.collect()
    traced1, rss1 = tracemalloc.get_traced_memory()[0], rss_now_mb()
    top = tracemalloc.take_snapshot().compare_to(before, "lineno")
    tracemalloc.stop()
    n = max(1, frames - warmup)
    # the least-squares slope over the second half of the samples: a structure bounded by a
    # count or a time window fills with traced objects once after the warm-up (a step), what
    # grows per frame keeps growing
    late = samples[len(samples) // 2:]
    if len(late) >= 2:
        x = np.array([f for f, _, _ in late], float)
        slope_kb = float(np.polyfit(x, [t / 1024 for _, t, _ in late], 1)[0]) * 1000
        slope_mb = float(np.polyfit(x, [r for _, _, r in late], 1)[0]) * 1000
    else:
        slope_kb = slope_mb = float("nan")
    grew = [s for s in top if s.size_diff > 0][:5]
    return {"frames": frames, "warmup": warmup, "seconds": time.perf_counter() - t0,
            "traced_kb_per_1000": (traced1 - traced0) / 1024 / n * 1000,
            "rss_mb_per_1000": (rss1 - rss0) / n * 1000,
            "traced_kb_per_1000_2nd_half": slope_kb,
            "rss_mb_per_1000_2nd_half": slope_mb,
            "samples": [{"frame": f, "traced_kb": t / 1024, "rss_mb": r} for f, t, r in samples],
            "top": [f"{s.traceback[0].filename.split('mast3r_ros/')[-1]}:"
                    f"{s.traceback[0].lineno} {s.size_diff / 1024:+.1f} KB "
                    f"({s.count_diff:+d} blocks)" for s in grew]}


def jittered(cam: CameraIntrinsics, i: int) -> CameraIntrinsics:
    """``cam`` with fx, fy scaled by up to +-3 % (a new calibration every frame)."""
    K = cam.K.copy()
    s = 1.0 + 0.03 * np.sin(0.37 * i)
    K[0, 0] *= s
    K[1, 1] *= s
    return CameraIntrinsics(cam.width, cam.height, K, cam.dist)


def localizer_phase(loc: Localizer, queries: List[Frame], args) -> Callable[[int], None]:
    tracker = Tracker()

    def step(i: int) -> None:
        q = queries[i % len(queries)]
        f = Frame(q.rgb, jittered(q.intrinsics, i), (i + 1) * NS_PER_S // 30, f"camera_{i}")
        tracker.update(loc.localize(f, hint=tracker.hint()))
    return step


# --- the node's path on fake ROS parts (as test/unit/test_ros_processing.py drives it) -------
class _TfDown(Exception):
    """Stands for tf2_ros.TransformException."""


class _Logger:
    def _log(self, *a, **k) -> None:
        pass
    debug = info = warning = error = _log


class _Tf:
    def __init__(self, base_from_cam: np.ndarray) -> None:
        self.down = False
        self.cam_from_base = np.linalg.inv(base_from_cam)

    def lookup(self, target, source, stamp, timeout_s):
        if self.down:
            raise _TfDown(f"no transform {source} -> {target} at {stamp.sec}.{stamp.nanosec}")
        return self.cam_from_base.copy() if target != source else np.eye(4)

    def clear(self) -> None:
        pass

    def send(self, tf, stamp_ns) -> None:
        pass


class _Outputs:
    def pose(self, *a) -> None:
        pass

    def matches(self, *a) -> None:
        pass


class _Host(FrameProcessing):
    lookup_errors = (_TfDown,)

    def __init__(self, localizer: Any, cam: CameraIntrinsics) -> None:
        values = {s.name: s.default for s in param_specs()}
        values.update(map_path="/maps/x", odom_frame="", confirm_frames=1)
        self._cfg = params.params_to_config(values)
        self._init_frame_path(TrackingState(3), "/camera_info")
        self._diag.start(0.0)
        self._tf = _Tf(np.eye(4))
        self._outputs = _Outputs()
        self._localizer = localizer
        self._cam = cam
        self._camera_info = None
        self._active = True
        self._logger = _Logger()
        self.now_ns = 0

    def get_logger(self):
        return self._logger

    def _shutting_down(self) -> bool:
        return False

    def get_clock(self):
        return NS(now=lambda: NS(nanoseconds=self.now_ns))


class _Failing:
    """The localizer, raising now and then with a message that names a new object each time."""

    def __init__(self, loc: Localizer) -> None:
        self.loc, self.keyframe_map, self.fail = loc, loc.keyframe_map, False

    def localize(self, frame, *a, **k) -> LocalizationResult:
        if self.fail:
            raise RuntimeError(f"device lost at {object()!r}, stamp {frame.stamp_ns}")
        return self.loc.localize(frame, *a, **k)


def camera_info_msg(cam: CameraIntrinsics, frame_id: str) -> Any:
    K = cam.K
    return NS(width=cam.width, height=cam.height, k=[float(v) for v in K.ravel()],
              d=[0.0] * 5, distortion_model="plumb_bob",
              header=NS(frame_id=frame_id, stamp=NS(sec=0, nanosec=0)))


def image_msg(rgb: np.ndarray, stamp_ns: int, frame_id: str, mono16: bool) -> Any:
    sec, nsec = divmod(stamp_ns, NS_PER_S)
    h, w = rgb.shape[:2]
    if mono16:  # 10-bit data in 16 bits (warned about once per frame id and encoding)
        data, enc, step = (rgb[..., 1].astype("<u2") * 4).tobytes(), "mono16", 2 * w
    else:
        data, enc, step = rgb.tobytes(), "rgb8", 3 * w
    return NS(header=NS(stamp=NS(sec=sec, nanosec=nsec), frame_id=frame_id), encoding=enc,
              width=w, height=h, step=step, data=data, is_bigendian=0)


def node_phase(loc: Localizer, queries: List[Frame], args) -> Callable[[int], None]:
    # the node's monotonic clock advances 1/30 s a frame, whatever this machine's speed: its
    # time windows (/diagnostics: 10 s) then hold the same frames at every sample, as on a
    # robot at 30 Hz (on the wall clock they held 3-20 s worth of frames as the load varied,
    # noise of +-300 KB that hid tens of KB per 1000 frames)
    clock = {"t_s": 0.0}
    processing.time = NS(monotonic=lambda: clock["t_s"])
    failing = _Failing(loc)
    host = _Host(failing, queries[0].intrinsics)
    state = {"stamp_ns": 1000 * NS_PER_S}

    def step(i: int) -> None:
        q = queries[i % len(queries)]
        clock["t_s"] += 1.0 / 30.0
        state["stamp_ns"] += NS_PER_S // 30 + (i % 7) * 1000        # varied stamps
        if i % 500 == 499:
            state["stamp_ns"] -= 5 * NS_PER_S                        # a bag loop
        stamp_ns = state["stamp_ns"] if i % 250 != 17 else 0         # a driver glitch
        frame_id = f"camera_{i}" if i % 3 else f"/camera_{i}"
        host._camera_info = camera_info_msg(jittered(q.intrinsics, i), frame_id)
        host._tf.down = i % 97 == 5
        failing.fail = i % 89 == 3
        host.now_ns = state["stamp_ns"] + NS_PER_S // 100
        msg = image_msg(q.rgb, stamp_ns, frame_id, mono16=i % 3 == 1)
        with host._lock:
            host._diag.note_arrival(clock["t_s"], stamp_ns)
        host._process(msg)
        if i % 30 == 0:
            with host._lock:
                host._diag.summary(clock["t_s"], host._tracking.track, True)
    return step


def offline_phase(loc: Localizer, queries: List[Frame], args) -> Callable[[int], None]:
    """What `localize_run._localize_to_file` keeps per frame: the result and the pose."""
    from mast3r_ros.replay.localize_run import localize_frames

    kept: List[Any] = []
    tracker = Tracker()

    def frames():
        i = 0
        while True:
            q = queries[i % len(queries)]
            yield Frame(q.rgb, q.intrinsics, (i + 1) * NS_PER_S // 30, "camera_optical",
                        None, q.map_from_cam)
            i += 1
    it = localize_frames(loc, frames(), tracker, False, {})

    def step(i: int) -> None:
        f, r = next(it)
        kept.append(r)
        kept.append(f.map_from_cam if f.map_from_cam is not None else np.full((4, 4), np.nan))
    return step


PHASES = {"localizer": localizer_phase, "node": node_phase, "offline": offline_phase}


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000, help="frames per phase")
    ap.add_argument("--warmup", type=int, default=1000,
                    help="frames before tracing starts: bounded structures fill up (the node "
                         "phase's 256 warned-about frame ids take ~800)")
    ap.add_argument("--every", type=int, default=0, help="sample every N frames (0: frames/10)")
    ap.add_argument("--phases", nargs="+", choices=tuple(PHASES), default=list(PHASES))
    ap.add_argument("--matcher", choices=("sift", "mast3r"), default="sift")
    ap.add_argument("--size", type=int, default=224, choices=(512, 384, 224),
                    help="network size (mast3r)")
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--verbose", dest="quiet", action="store_false",
                    help="show the warnings the phases provoke")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    # the phases provoke warnings on purpose (frame ids with '/', 16-bit data, TF outages)
    logging.getLogger("mast3r_ros").setLevel(logging.ERROR if args.quiet else logging.WARNING)
    if args.frames <= args.warmup:
        ap.error(f"--frames {args.frames} must exceed --warmup {args.warmup}")
    every = args.every or max(1, (args.frames - args.warmup) // 10)

    cam = default_intrinsics(args.width, args.height)
    frames = list(render_frames(24, cam, seed=0))
    queries = frames[1::2]
    engine = None
    if args.matcher == "mast3r":
        from benchlib import make_engine
        engine = make_engine("tiny", "cpu", "fp32")
    out: Dict[str, Any] = {"info": {**environment(engine.device if engine else
                                                  __import__("torch").device("cpu")),
                                    "matcher": args.matcher,
                                    "image": [args.width, args.height]}}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_map(os.path.join(tmp, "map"), [
            (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0::2]])
        kf_map = KeyframeMap.load(path)
        for name in args.phases:
            loc = Localizer(kf_map, LocalizerConfig(matcher=args.matcher, max_keyframes=2),
                            engine, image_size=args.size)
            res = soak(PHASES[name](loc, queries, args), args.frames, args.warmup, every)
            loc.matcher.close()  # not loc.close(): the engine serves the next phase
            out[name] = res
            print(f"{name:9s} {res['frames'] - res['warmup']} frames in {res['seconds']:.0f} s; "
                  "most grown lines:")
            for line in res["top"]:
                print(f"    {line}")
    print()
    print("per 1000 frames   traced KB (all / 2nd half)   RSS MB (all / 2nd half)   "
          "1 h at 30 Hz (2nd half)")
    for name in args.phases:
        r = out[name]
        hour = r["traced_kb_per_1000_2nd_half"] * HOUR_30HZ / 1000 / 1024
        print(f"{name:16s} {r['traced_kb_per_1000']:12.1f} / "
              f"{r['traced_kb_per_1000_2nd_half']:9.1f}"
              f" {r['rss_mb_per_1000']:15.2f} / {r['rss_mb_per_1000_2nd_half']:6.2f}"
              f" {hour:18.1f} MB")
    write_json(args.json, out)
    if engine is not None:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
