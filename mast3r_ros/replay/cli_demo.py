"""The ``mast3r-ros demo`` subcommand: its parser (`add_parser`, registered by
`replay.cli.build_parser`) and `cmd_demo`, which renders the synthetic scene, maps it and
localizes the frames in between (`replay.demo.run_demo`). Apart from `replay.cli` so that module
has room; torch and OpenCV are imported only when the command runs (``--help`` stays quick)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any, Dict, List

from ..core.errors import InputError
from .cli_options import add_warmup_option, load_config, note_unused_device, offline_warmup

log = logging.getLogger(__name__)


def add_parser(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", parents=parents, help="render a synthetic scene, map it, "
                                                     "localize held-out frames",
                       description="Render our synthetic textured room (RGB, depth, poses), "
                                   "build a map from every other frame and localize the frames "
                                   "in between. MASt3R when a checkpoint is configured, else "
                                   "the SIFT baseline.")
    p.add_argument("--out", default="demo_out", metavar="DIR",
                   help="output folder: DIR/data (rendered scene), DIR/map, DIR/run")
    p.add_argument("--overwrite", action="store_true",
                   help="reuse an existing DIR: its rendered scene when it matches, its map "
                        "and run replaced")
    p.add_argument("--frames", type=int, default=60,
                   help="frames rendered around the loop, at least 5 (fewer localize none; "
                        "refused when the scene, up to 5 bytes per pixel a frame, would not "
                        "fit DIR's free space; "
                        "rendered and written one frame at a time)")
    p.add_argument("--width", type=int, default=640, help="image width in pixels, 128 to 4096")
    p.add_argument("--height", type=int, default=480,
                   help="image height in pixels, 96 to 4096")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the rendered scene's texture and path, 0 to 2**32 - 1")
    add_warmup_option(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from .metrics_table import format_table
    from .demo import run_demo

    cfg = load_config(args)
    matcher = args.matcher or ("mast3r" if cfg.model.checkpoint else "sift")
    note = ""
    if matcher == "mast3r" and not cfg.model.checkpoint:
        raise InputError("--matcher mast3r needs --checkpoint (or 'checkpoint' in --params)")
    if matcher == "sift" and not args.matcher:
        note = ("note: no checkpoint configured, so this demo runs the weight-free SIFT "
                "baseline; pass --checkpoint PATH (see README: 'Model weights') for MASt3R")
    if matcher != cfg.localizer.matcher:  # load_config saw the other matcher
        cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer,
                                                                     matcher=matcher))
    note_unused_device(args, cfg)
    note_recording_keys(cfg)
    given = cfg  # the run's config.yaml keeps its warmup (the node's), as localize's does
    cfg = offline_warmup(cfg, args.warmup)
    map_path, run, metrics = run_demo(args.out, cfg, args.frames, args.width, args.height,
                                      args.seed, overwrite=args.overwrite,
                                      params_warmup=given.localizer.warmup)
    head = f"demo ({cfg.localizer.matcher}): map {map_path}, results in {run}"
    sys.stdout.write((note + "\n" if note else "") + head + "\n" + format_table(metrics) + "\n"
                     + _demo_covariance_note(cfg, metrics)
                     + _demo_recall_note(args, metrics, cfg.localizer.matcher))
    return 0


def note_recording_keys(cfg: Any) -> None:
    """One warning per --params key that changes how a recording is read, set to what the
    demo's rendered scene (a TUM folder: one time per image, its own undistorted camera.yaml)
    cannot do: ``image_stamp`` receive (build-map and localize refuse it for a folder; the demo
    has no --image-stamp to override it, so it warns and goes on) and ``image_rectified``
    (build-map and localize warn for a folder). Without it the demo ignored them silently."""
    if cfg.node.image_stamp != "header":
        log.warning("image_stamp %s (--params) has no effect on the demo: its rendered scene "
                    "has one time per image, no receive time (it reads a bag's); ignored",
                    cfg.node.image_stamp)
    if cfg.node.image_rectified:
        log.warning("image_rectified (--params) has no effect on the demo: its rendered scene "
                    "has its own calibration, without distortion; ignored")


def _demo_recall_note(args: argparse.Namespace, metrics: Dict[str, Any],
                      matcher: str = "sift") -> str:
    """When under 90 % of the held-out frames localized in a scene smaller than the default
    (fewer --frames: views farther apart around the loop; smaller images: fewer SIFT features),
    why, with the defaults that localize them all (measured with ``matcher`` sift; with mast3r
    the checkpoint's weights decide, and a random-weight test checkpoint localizes none at any
    size: said instead of blaming the scene); "" otherwise."""
    frames, localized = int(metrics.get("frames") or 0), int(metrics.get("localized") or 0)
    fewer = args.frames < 60
    smaller = args.width * args.height < 640 * 480
    if not frames or localized >= 0.9 * frames or not (fewer or smaller):
        return ""
    sift = matcher == "sift"
    why = ([f"with --frames {args.frames} the rendered views are farther apart around the "
            "loop"] if fewer else []) + (
        [f"at {args.width}x{args.height} SIFT finds fewer features"] if smaller and sift else [])
    tail = ("the defaults (--frames 60, 640x480) localize them all" if sift else
            f"with the {matcher} matcher the checkpoint's weights decide (a random-weight test "
            "checkpoint localizes none at any size); --matcher sift localizes them all at the "
            "defaults (--frames 60, 640x480)")
    return f"note: {localized} of {frames} held-out frames localized: {'; '.join(why + [tail])}\n"


def _demo_covariance_note(cfg: Any, metrics: Dict[str, Any]) -> str:
    """When the demo's covariance comes out conservative, why: the rendered scene has exact map
    poses and depth, the covariance models the errors of a real map (``covariance.*``)."""
    from .metrics import calibration_verdict

    blocks = [v for v in (metrics.get("covariance") or {}).values()
              if isinstance(v, dict) and v.get("median_mahalanobis_sq") is not None]
    if not any(calibration_verdict(v["median_mahalanobis_sq"]).startswith("conservative")
               for v in blocks):
        return ""
    c = cfg.localizer.covariance
    return (f"note: the rendered scene is noise-free (exact map poses and depth), while the "
            f"covariance models a real map's errors (covariance.*: keyframe poses "
            f"{100 * c.map_pose_sigma_m:g} cm / {c.map_pose_sigma_deg:g} deg, depth "
            f"{c.depth_sigma_k:g} z^2), so it is conservative here; the checkout's "
            "bench/bench_covariance.py checks its calibration with simulated sensor noise\n")
