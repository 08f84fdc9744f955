"""The ``mast3r-ros`` command line: build keyframe maps, localize recordings, run the demo.

One function per subcommand (``cmd_<name>``), each registered in `build_parser` by an
``_add_<name>`` function; adding a subcommand means adding those two. Exit codes: 0 success,
2 bad input (a one-line error, no traceback, for every `Mast3rRosError`), 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from ..core.config import Config, config_from_params, dump_config_yaml, load_config_yaml
from ..core.errors import InputError, Mast3rRosError
from ..core.fileio import atomic_write_json
from ..core.types import Frame, LocalizationResult

log = logging.getLogger("mast3r_ros.cli")

PROG = "mast3r-ros"


# -------------------------------------------------------------------------------- common ---

def _common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("configuration")
    g.add_argument("--params", metavar="YAML",
                   help="ROS parameter file (the node's config/localize.yaml)")
    g.add_argument("--checkpoint", metavar="CKPT", help="MASt3R checkpoint (overrides --params)")
    g.add_argument("--matcher", choices=("mast3r", "sift"), help="matcher (overrides --params)")
    g.add_argument("--device", help="torch device: auto, cpu, cuda, cuda:N")
    g.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))
    return p


def _source_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("source (TUM RGB-D folder or rosbag2)")
    g.add_argument("--camera-info", metavar="YAML",
                   help="ROS camera_info YAML; overrides camera.yaml / the CameraInfo topic")
    g.add_argument("--image-topic", help="rosbag2: colour image topic (default: detected)")
    g.add_argument("--camera-info-topic", help="rosbag2: CameraInfo topic (default: detected)")
    g.add_argument("--depth-topic", help="rosbag2: registered depth image topic")
    g.add_argument("--pose-frames", metavar="MAP:CAMERA",
                   help="rosbag2: take frame poses from TF, e.g. map:camera_optical")
    g.add_argument("--sync-tolerance", type=float, default=0.02, metavar="S",
                   help="rosbag2: image/depth stamp association tolerance in seconds")
    return p


def load_config(args: argparse.Namespace) -> Config:
    """--params YAML (or the defaults) with the command-line overrides applied and validated."""
    cfg = load_config_yaml(args.params) if args.params else Config()
    over: Dict[str, Any] = {}
    for key, name in (("checkpoint", "checkpoint"), ("matcher", "matcher"),
                      ("device", "device")):
        v = getattr(args, key, None)
        if v is not None:
            over[name] = v
    return config_from_params(over, where="command line", base=cfg)


def open_source(path: str, args: argparse.Namespace) -> Any:
    """A TUM folder (has rgb.txt) or a rosbag2 (folder with metadata.yaml, .mcap, .db3)."""
    cam = None
    if getattr(args, "camera_info", None):
        from ..core.image_codec import load_camera_info_yaml

        cam = load_camera_info_yaml(args.camera_info)
    if not os.path.exists(path):
        raise InputError(f"source not found: {path} (a TUM RGB-D folder or a rosbag2)")
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "rgb.txt")):
        from .tum import TumSequence

        return TumSequence(path, camera_info=args.camera_info)
    from .rosbag import BagSequence

    return BagSequence(path, image_topic=args.image_topic,
                       camera_info_topic=args.camera_info_topic, depth_topic=args.depth_topic,
                       camera_info=cam, pose_frames=args.pose_frames,
                       sync_tolerance_s=args.sync_tolerance)


def _progress(it: Iterable, total: Optional[int], desc: str) -> Iterable:
    from tqdm import tqdm

    return tqdm(it, total=total, desc=desc, unit="frame", file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())


def _trajectory_poses(source: Any, path: Optional[str]) -> Optional[np.ndarray]:
    """Poses of the source's frames from a TUM trajectory file (interpolated), NaN = none."""
    if not path:
        return None
    from .tum import interpolate_trajectory, read_tum_trajectory

    stamps, poses = read_tum_trajectory(path)
    order = np.argsort(stamps, kind="stable")
    out, _ = interpolate_trajectory(stamps[order], poses[order], source.stamps_ns,
                                    20_000_000, 100_000_000)
    return out


# ----------------------------------------------------------------------------- build-map ---

def _add_build_map(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("build-map", parents=parents, help="build a keyframe map from a recording",
                       description="Select keyframes by travelled distance and rotation from a "
                                   "recording with known poses and write a keyframe map.")
    p.add_argument("source", metavar="SOURCE", help="TUM RGB-D folder or rosbag2")
    p.add_argument("--out", required=True, metavar="MAP", help="map folder to write")
    p.add_argument("--trajectory", metavar="FILE",
                   help="TUM trajectory with the poses (default: the source's groundtruth.txt "
                        "or, for bags, TF with --pose-frames)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing map")
    p.set_defaults(func=cmd_build_map)


def cmd_build_map(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    source = open_source(args.source, args)
    n, path = build_map(source, args.out, cfg, trajectory=args.trajectory,
                        overwrite=args.overwrite)
    sys.stdout.write(f"map {path}: {n} keyframes from {len(source)} frames\n")
    return 0


def _engine_for(cfg: Config) -> Any:
    from ..core.model.checkpoint import resolve_checkpoint
    from ..core.model.engine import Mast3rEngine

    return Mast3rEngine.from_checkpoint(resolve_checkpoint(cfg.model.checkpoint),
                                        cfg.model.device, cfg.model.precision)


def build_map(source: Any, out: str, cfg: Config, trajectory: Optional[str] = None,
              overwrite: bool = False) -> tuple:
    """Select keyframes from ``source`` and write the map; returns (keyframes, path).

    With the mast3r matcher and a checkpoint the keyframe encodings are cached in the map.
    """
    from ..core.keyframes import EncodingSet, KeyframeSelector, MapWriter
    from ..core.localizer import encode_image
    from .plots import plot_keyframes

    mb = cfg.map_build
    selector = KeyframeSelector(mb.min_translation_m, mb.min_rotation_deg)
    poses = _trajectory_poses(source, trajectory)
    engine = None
    if cfg.localizer.matcher == "mast3r":
        if cfg.model.checkpoint:
            engine = _engine_for(cfg)
        else:
            log.info("no checkpoint configured: the map gets no cached encodings (they are "
                     "computed when the map is first used with a checkpoint)")
    all_poses, enc, no_pose, no_depth = [], [], 0, 0
    try:
        with MapWriter(out, overwrite=overwrite) as w:
            for i, f in enumerate(_progress(source, len(source), "build-map")):
                pose = f.map_from_cam if poses is None else poses[i]
                if pose is None or not np.isfinite(pose).all():
                    no_pose += 1
                    continue
                all_poses.append(pose)
                if not selector.offer(pose):
                    continue
                no_depth += f.depth_m is None
                w.add_keyframe(f.rgb, _need_intrinsics(f), pose, f.stamp_ns, f.depth_m)
                if engine is not None:
                    enc.append(encode_image(engine, f.rgb, cfg.model.image_size))
            if not all_poses:
                raise InputError(
                    "no frame has a pose: give the source a groundtruth.txt, pass --trajectory "
                    "FILE, or (rosbag2) --pose-frames map:camera_optical")
            if engine is not None:
                w.add_encodings(EncodingSet(
                    engine.identity, cfg.model.image_size, [e[0] for e in enc],
                    np.stack([e[1] for e in enc]), np.stack([e[2] for e in enc])))
            path = w.commit()
            kf_poses = np.stack([np.asarray(r["map_from_cam"]).reshape(4, 4)
                                 for r in w.records])
    finally:
        if engine is not None:
            engine.close()
    if no_pose:
        log.warning("%d frames had no pose and were skipped", no_pose)
    if no_depth:
        log.warning("%d keyframes have no depth: the sift matcher and points_source 'depth' "
                    "will refuse this map", no_depth)
    # beside the map, outside its file table: what built it and what it looks like
    dump_config_yaml(cfg, os.path.join(path, "build_config.yaml"))
    plot_keyframes(os.path.join(path, "keyframes.png"), kf_poses, np.stack(all_poses))
    return len(kf_poses), path


def _need_intrinsics(f: Frame) -> Any:
    if f.intrinsics is None:
        raise InputError(f"frame at {f.stamp_ns} ns has no intrinsics: pass --camera-info YAML")
    return f.intrinsics


# ------------------------------------------------------------------------------ localize ---

def _add_localize(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("localize", parents=parents, help="localize every frame of a recording",
                       description="Localize every frame against a keyframe map and write "
                                   "trajectory.tum, results.jsonl, metrics.json and plots.")
    p.add_argument("source", metavar="SOURCE", help="TUM RGB-D folder or rosbag2")
    p.add_argument("--map", required=True, metavar="MAP", help="keyframe map folder")
    p.add_argument("--out", required=True, metavar="RUN", help="output folder")
    p.add_argument("--groundtruth", metavar="FILE",
                   help="TUM ground-truth trajectory (default: the source's groundtruth.txt)")
    p.add_argument("--stride", type=int, default=1, help="localize every N-th frame")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    p.add_argument("--global-only", action="store_true",
                   help="never use the previous pose as a prior (retrieval for every frame)")
    p.set_defaults(func=cmd_localize)


def cmd_localize(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    source = open_source(args.source, args)
    metrics = run_localization(source, args.map, args.out, cfg, groundtruth=args.groundtruth,
                               stride=args.stride, max_frames=args.max_frames,
                               global_only=args.global_only)
    from .metrics import format_table

    sys.stdout.write(f"localized {args.source} against {args.map} -> {args.out}\n"
                     f"{format_table(metrics)}\n")
    return 0


def _result_record(r: LocalizationResult) -> Dict[str, Any]:
    return {"stamp_ns": r.stamp_ns, "success": bool(r.success), "reason": r.reason,
            "inliers": r.num_inliers, "matches": r.num_matches,
            "inlier_ratio": round(float(r.inlier_ratio), 4),
            "reproj_rms_px": None if not np.isfinite(r.reproj_rms_px) else
            round(float(r.reproj_rms_px), 4),
            "keyframe_ids": list(r.keyframe_ids),
            "timings_s": {k: round(v, 6) for k, v in r.timings_s.items()}}


def run_localization(source: Any, map_path: str, out: str, cfg: Config,
                     groundtruth: Optional[str] = None, stride: int = 1, max_frames: int = 0,
                     global_only: bool = False) -> Dict[str, Any]:
    """Localize the frames of ``source``; write the run folder; return the metrics."""
    from ..core.localizer import Localizer

    if stride < 1 or max_frames < 0:
        raise InputError("--stride must be >= 1 and --max-frames >= 0")
    os.makedirs(out, exist_ok=True)
    dump_config_yaml(cfg, os.path.join(out, "config.yaml"))
    loc = Localizer.from_config(cfg, map_path)
    results: List[LocalizationResult] = []
    gt: List[np.ndarray] = []
    try:
        with open(os.path.join(out, "results.jsonl"), "w", encoding="utf-8") as fh:
            for f in _progress(_frames(source, stride, max_frames), None, "localize"):
                r = loc.localize(f, force_global=global_only)
                results.append(r)
                gt.append(f.map_from_cam if f.map_from_cam is not None else
                          np.full((4, 4), np.nan))
                fh.write(json.dumps(_result_record(r)) + "\n")
                fh.flush()
        kf_poses = loc.keyframe_poses()
    finally:
        loc.close()
    if not results:
        raise InputError("the source has no frames to localize")
    gt_poses = np.stack(gt)
    if groundtruth:
        from .metrics import associate
        from .tum import read_tum_trajectory

        gs, gp = read_tum_trajectory(groundtruth)
        gt_poses = associate(np.array([r.stamp_ns for r in results]), gs, gp)
    return _write_run(out, results, gt_poses, kf_poses)


def _frames(source: Iterable[Frame], stride: int, max_frames: int) -> Iterable[Frame]:
    n = 0
    for i, f in enumerate(source):
        if i % stride:
            continue
        if max_frames and n >= max_frames:
            return
        n += 1
        yield f


def _write_run(out: str, results: Sequence[LocalizationResult], gt_poses: np.ndarray,
               kf_poses: np.ndarray) -> Dict[str, Any]:
    from .metrics import frame_errors, summarize
    from .plots import plot_errors, plot_trajectory
    from .tum import write_tum_trajectory

    ok = [r for r in results if r.success]
    write_tum_trajectory(os.path.join(out, "trajectory.tum"),
                         np.array([r.stamp_ns for r in ok], dtype=np.int64),
                         np.stack([r.map_from_cam for r in ok]) if ok else np.zeros((0, 4, 4)))
    have_gt = np.isfinite(gt_poses).all(axis=(1, 2)).any()
    metrics = summarize(results, gt_poses if have_gt else None)
    atomic_write_json(os.path.join(out, "metrics.json"), metrics)
    est = np.full((len(results), 3), np.nan)
    for i, r in enumerate(results):
        if r.success:
            est[i] = r.map_from_cam[:3, 3]
    plot_trajectory(os.path.join(out, "trajectory.png"), est,
                    gt_poses[:, :3, 3] if have_gt else None, kf_poses)
    t = np.array([r.stamp_ns for r in results], dtype=np.float64) * 1e-9
    plot_errors(os.path.join(out, "errors.png"), t - t[0],
                frame_errors(results, gt_poses if have_gt else None),
                np.array([r.success for r in results]))
    return metrics


# ---------------------------------------------------------------------------------- demo ---

def _add_demo(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", parents=parents, help="render a synthetic scene, map it, "
                                                     "localize held-out frames",
                       description="Render our synthetic textured room (RGB, depth, poses), "
                                   "build a map from every other frame and localize the frames "
                                   "in between. MASt3R when a checkpoint is configured, else "
                                   "the SIFT baseline.")
    p.add_argument("--out", default="demo_out", metavar="DIR", help="output folder")
    p.add_argument("--frames", type=int, default=60, help="frames rendered around the loop")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from .tum import TumSequence

    cfg = load_config(args)
    matcher = args.matcher or ("mast3r" if cfg.model.checkpoint else "sift")
    note = ""
    if matcher == "mast3r" and not cfg.model.checkpoint:
        raise InputError("--matcher mast3r needs --checkpoint (or 'checkpoint' in --params)")
    if matcher == "sift" and not args.matcher:
        note = ("note: no checkpoint configured, so this demo runs the weight-free SIFT "
                "baseline; pass --checkpoint PATH (see README: 'Model weights') for MASt3R")
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher=matcher))
    if args.frames < 4 or args.width < 64 or args.height < 48:
        raise InputError("--frames must be >= 4 and the image at least 64x48")
    data = os.path.join(args.out, "data")
    t0 = time.perf_counter()
    map_dir, query_dir = _demo_data(data, args)
    log.info("rendered the synthetic scene in %.1f s", time.perf_counter() - t0)
    _, map_path = build_map(TumSequence(map_dir), os.path.join(args.out, "map"), cfg,
                            overwrite=True)
    run = os.path.join(args.out, "run")
    metrics = run_localization(TumSequence(query_dir), map_path, run, cfg)
    from .metrics import format_table

    head = f"demo ({cfg.localizer.matcher}): map {map_path}, results in {run}"
    sys.stdout.write((note + "\n" if note else "") + head + "\n" + format_table(metrics) + "\n")
    return 0


def _demo_data(data: str, args: argparse.Namespace) -> tuple:
    """Render the demo sequences once per (frames, size, seed); reuse them afterwards."""
    from .synthetic import write_demo_sequences

    stamp = {"frames": args.frames, "width": args.width, "height": args.height,
             "seed": args.seed, "version": 1}
    marker = os.path.join(data, "done.json")
    dirs = (os.path.join(data, "map"), os.path.join(data, "query"))
    try:
        with open(marker, encoding="utf-8") as fh:
            if json.load(fh) == stamp:
                return dirs
    except (OSError, ValueError):
        pass
    import shutil

    shutil.rmtree(data, ignore_errors=True)
    dirs = write_demo_sequences(data, args.frames, args.width, args.height, args.seed)
    atomic_write_json(marker, stamp)
    return dirs


# ---------------------------------------------------------------------------------- main ---

def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Metric 6-DoF camera localization against a keyframe map "
                               "with MASt3R (offline tools).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common, source = _common_options(), _source_options()
    _add_build_map(sub, [common, source])
    _add_localize(sub, [common, source])
    _add_demo(sub, [common])
    from .pair import add_parser as _add_pair

    _add_pair(sub)
    from .export import add_parser as _add_export; _add_export(sub)  # noqa: E702
    return parser


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``mast3r-ros``; returns the exit code."""
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "log_level", "info"))
    try:
        return int(args.func(args) or 0)
    except Mast3rRosError as e:
        sys.stderr.write(f"{PROG} {args.command}: error: {' '.join(str(e).split(chr(10)))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
