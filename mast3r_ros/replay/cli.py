"""The ``mast3r-ros`` command line: argument parsing only; the work is in `replay.pipeline`
(maps), `replay.localize_run` (runs) and the other `replay` modules.

One function per subcommand (``cmd_<name>``), each registered in `build_parser` by an
``_add_<name>`` function (demo, check-map, export, retrieve, convert-7scenes: an ``add_parser``
in their own module, `replay.cli_demo` for demo); adding a subcommand means adding those two
(the options they share, the config and the source they become, are `replay.cli_options`).
Exit codes: 0 success, 2 bad input (a one-line error, no traceback, for every `Mast3rRosError`),
130 interrupted (Ctrl-C; the console script then ends by SIGINT, see `console_main`), 143
terminated (SIGTERM, as Ctrl-C), 141 stdout's reader gone (``| head``; quiet, as coreutils).
The modules that do the work (torch, OpenCV, SciPy: seconds to import) are imported by the
``cmd_<name>`` functions, so ``--help`` is quick and Ctrl-C at any time ends in one line.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import logging
import os
import re
import signal
import sys
from typing import Any, List, Optional, Sequence

from ..core.config import Config
from ..core.errors import InputError, Mast3rRosError, after_publishing, published_note
from ..core.path_expand import expand_path, substitution_note, unset_variable_problem
from .cli_console import (
    STDOUT_GONE_EXIT,
    _setup_logging,
    escaping_stdout,
    flush_stdout,
    missing_library_hint,
    package_version,
    root_logging_given_back, run_command, stdout_gone,
)
from .cli_options import (
    NAMESPACE_HELP,  # noqa: F401  (re-exported: imported from the CLI module)
    OVERWRITE_HELP,
    OWN_POSES,
    SOURCE_HELP,
    HelpFormatter,
    Parser,
    _config_options,
    _OneCamera,
    _open,
    _source_options,
    add_log_level,
    add_resume_options,
    add_warmup_option,
    check_trajectory_file,
    empty_value,
    expand_home,
    load_config,
    load_params,  # noqa: F401  (re-exported: imported from the CLI module)
    note_unused_device,
    note_unused_workers,
    offline_warmup,
    overrides_default,
    refuse_empty_options,
    refuse_file_beside_bag_poses,
    settled_out,
)
from .os_error_words import os_error_text
from .run_notes import build_summary, no_frame_localized_note, no_groundtruth_hint

log = logging.getLogger(__name__)

PROG = "mast3r-ros"


class _OneMap(_OneCamera):
    """localize --map given again with another map: refused, not read as the last one."""
    why = ("localize reads one map; to localize against both, join them first: mast3r-ros "
           "merge-maps A B --out AB, then --map AB")


# ----------------------------------------------------------------------------- build-map ---

def _add_build_map(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("build-map", parents=parents, help="build a keyframe map from a recording",
                       description="Select keyframes by travelled distance and rotation from a "
                                   "recording with known poses and write a keyframe map.")
    p.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    p.add_argument("--out", required=True, metavar="MAP",
                   help="map folder to write, not SOURCE, inside it or holding it (missing folders "
                        "above it are made)")
    p.add_argument("--trajectory", metavar="FILE",
                   help=f"TUM trajectory with the poses (default: {OWN_POSES}; for bags, TF "
                        "with --pose-frames)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing map (it stays as it was until the new one is "
                        "complete); an unfinished build (MAP.partial) holding encoded shards "
                        "still needs --resume or --restart")
    p.add_argument("--force", action="store_true",
                   help="write the map even when its keyframes' poses and depth disagree (the "
                        "consistency figures are kept in its manifest)")
    p.add_argument("--max-frames", type=int, metavar="N",
                   help="read only the first N frames of SOURCE (a quick map to check the "
                        "settings first; recorded in the manifest; 0, the default: all)")
    p.add_argument("--stereo-depth", action="store_true",
                   help="EuRoC/ASL, KITTI: keyframe depth from the second camera (cam1; "
                        "KITTI image_1 / image_3) by OpenCV's SGBM with the dataset's own "
                        "calibration (not --camera-info), for --matcher sift and the map "
                        "check; costs a stereo match per keyframe, leaves holes (no depth) "
                        "where texture or the disparity range runs out (default: off)")
    g = p.add_argument_group("large maps")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="encoding processes (default: one per GPU, else one per two cores); "
                        "each gets cores/N torch threads")
    g.add_argument("--no-pin", action="store_true",
                   help="do not pin each worker to its own cores (pinning is the default on "
                        "Linux with 2 <= N <= cores; on a machine busy with other jobs it can "
                        "be slower)")
    g.add_argument("--ray-address", metavar="ADDR",
                   help="encode with N Ray actors (--matcher mast3r with a checkpoint): "
                        "'auto' (the cluster `ray start --head` started on this machine), "
                        "'HOST:6379' (a head node) or 'ray://HOST:10001' (needs "
                        "pip install 'ray[client]'); connected before the source is read; on "
                        "one machine use --workers N alone")
    g.add_argument("--resume", action="store_true",
                   help="continue a killed build from its finished shards (MAP.partial)")
    g.add_argument("--restart", action="store_true",
                   help="delete an unfinished build (MAP.partial) and its encoded shards, and "
                        "start over")
    g.add_argument("--retrieval-checkpoint", metavar="R",
                   help="MASt3R retrieval model (*_retrieval_trainingfree.pth): store each "
                        "keyframe's ASMK representation for relocalization (default: "
                        "retrieval.checkpoint of --params; '' for none)")
    g.add_argument("--codebook", metavar="C",
                   help="ASMK codebook (default: retrieval.codebook of --params when "
                        "--retrieval-checkpoint is not given, else beside R, named as the "
                        "reference does)")
    p.set_defaults(func=cmd_build_map)


def cmd_build_map(args: argparse.Namespace) -> int:
    from ..core.keyframes.writer import check_map_out
    from .build_network import prepare_build
    from .map_build import BuildOptions, build_retrieval, check_unfinished_build, encoded_size
    from .out_source import (refuse_out_over_source, refuse_resume_of_finished,
                             warn_map_inside_map)
    from .first_frames import check_max_frames
    from .parallel_build import default_workers
    from .pipeline import build_map

    cfg = load_config(args)
    note_unused_device(args, cfg)
    refuse_file_beside_bag_poses(args, "--trajectory")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    note_unused_workers(args, cfg)
    if args.resume and args.restart:
        raise InputError("--resume continues an unfinished build and --restart deletes it: "
                         "give one of them")
    if args.max_frames:  # 0 reads every frame, as localize's --max-frames 0 (`_open`: None)
        check_max_frames(args.max_frames, "--max-frames")
    refuse_out_over_source(args.source, args.out, "the map", "_map")  # before --overwrite's
    warn_map_inside_map(args.out)
    if args.resume and not args.overwrite:
        refuse_resume_of_finished(args.out, "manifest.json", "map")
    check_map_out(args.out, args.overwrite)  # in --overwrite's words, before the source opens
    # OUT.partial with encoded shards: refused now, not after the source is read (as localize)
    check_unfinished_build(args.out, args.overwrite, args.resume, args.restart,
                           encodes=encoded_size(cfg))  # its image size
    check_trajectory_file(args.trajectory, "--trajectory")
    cfg, retrieval, codebook = build_retrieval(cfg, args.retrieval_checkpoint, args.codebook)
    opts = BuildOptions(workers=args.workers or default_workers(), ray_address=args.ray_address,
                        resume=args.resume, restart=args.restart,
                        retrieval_checkpoint=retrieval,
                        codebook=codebook, pin=False if args.no_pin else None)
    network = prepare_build(cfg, opts, args.source, args.camera_info,  # its load: once SOURCE
                            (args.camera_info_topic, args.image_topic))  # is found, not read
    source = _open(args, cfg, keyframes=True, before_index=network)
    try:
        _, path = build_map(source, args.out, cfg, trajectory=args.trajectory,
                            overwrite=args.overwrite, force=args.force, build=opts)
    except KeyboardInterrupt as e:  # a stop once the map was published: its summary still
        if getattr(e, "published", None):
            build_summary(args.out, e.published[1], len(source))
        raise
    with after_publishing("the map", path):
        build_summary(args.out, path, len(source))
    return 0


def _add_merge_maps(sub: Any) -> None:
    p = sub.add_parser("merge-maps", help="join two maps in the same map frame",
                       description="Join maps A and B (same map_frame) into C: keyframes of A "
                                   "then B, encodings of the checkpoints both cache, ASMK "
                                   "indexes both hold, retrieval indexes rebuilt (with the maps' "
                                   "index settings). A keyframe of "
                                   "B with the stamp and image of one in A (maps built from one "
                                   "recording) is dropped.")
    p.add_argument("a", metavar="A", help="first keyframe map folder (its keyframes come first)")
    p.add_argument("b", metavar="B", help="second keyframe map folder")
    p.add_argument("--out", required=True, metavar="C", help="merged map folder to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing map C (it stays as it was until the new one is "
                        "complete)")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="keep keyframes of B that A already holds (same stamp and image); "
                        "by default they are dropped and counted in the log")
    p.add_argument("--force", action="store_true", help="write C even where the keyframes of A "
                   "and B disagree where their poses overlap (else refused: not one frame), or "
                   "A and B record different --image-stamp (else refused: maps of one recording)")
    add_log_level(p)
    p.set_defaults(func=cmd_merge_maps)


def cmd_merge_maps(args: argparse.Namespace) -> int:
    from ..core.fileio import output_path
    from ..core.keyframes.writer import check_map_out
    from .map_merge import merge_maps
    from .out_source import refuse_out_over_maps

    refuse_out_over_maps(args.out, (("A", args.a), ("B", args.b)))  # before 'exists'
    check_map_out(args.out, args.overwrite)  # in --overwrite's words (MapWriter has its own)
    n = merge_maps(args.a, args.b, args.out, overwrite=args.overwrite,
                   keep_duplicates=args.keep_duplicates, force=args.force)
    with after_publishing("the map", output_path(args.out)):
        sys.stdout.write(f"map {args.out}: {n} keyframes\n")
    return 0


# ------------------------------------------------------------------------------ localize ---

def _add_localize(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("localize", parents=parents, help="localize every frame of a recording",
                       description="Localize every frame against a keyframe map and write "
                                   "trajectory.tum, results.jsonl, metrics.json and plots.")
    p.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    p.add_argument("--map", metavar="MAP", action=_OneMap,
                   help="keyframe map folder (default: map_path of --params, '~' expanded, a "
                        "relative path taken from the current folder, not the file's)")
    p.add_argument("--out", required=True, metavar="RUN",
                   help="run folder to write, not SOURCE, inside it or holding it (refused when it "
                        "exists, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--groundtruth", metavar="FILE",
                   help=f"TUM ground-truth trajectory (default: {OWN_POSES})")
    p.add_argument("--stride", type=int, default=1, metavar="N",
                   help="localize every N-th frame (the others are not read)")
    p.add_argument("--max-frames", type=int, default=0, metavar="N",
                   help="stop after N frames (0: all)")
    p.add_argument("--global-only", action="store_true",
                   help="never use the previous pose as a prior (retrieval for every frame)")
    add_resume_options(p)
    add_warmup_option(p)
    p.set_defaults(func=cmd_localize)


def cmd_localize(args: argparse.Namespace) -> int:
    from ..core.fileio import check_output_folder, output_path
    from ..core.output_kinds import refuse_other_output
    from .metrics_table import format_table
    from .localize_run import RUN_FILES, RUN_OUTPUTS, check_before_indexing, run_localization
    from .node_name_option import node_name
    from .out_source import (refuse_map_as_run_out, refuse_out_over_source,
                             refuse_resume_of_finished, warn_run_inside_map)
    from .run_notes import frame_selection, selection_said
    from .run_resume import check_partial_before_run

    given = load_config(args)  # the run's config.yaml keeps its warmup (the node's)
    cfg = offline_warmup(given, args.warmup)
    note_unused_device(args, cfg)
    refuse_file_beside_bag_poses(args, "--groundtruth")
    map_path = _map_path(args.map, cfg, args.params)
    refuse_other_output(map_path, "--map")  # a run folder: said before the source is read
    refuse_out_over_source(args.source, args.out, "the run", "_run")  # as build-map's --out
    warn_run_inside_map(args.out, map_path)
    refuse_map_as_run_out(args.out)  # said as a map, not as the run files it lacks
    if args.resume and not args.overwrite:
        refuse_resume_of_finished(args.out, "metrics.json", "run", args.restart)
    # before the source is read (a rosbag is indexed: minutes), as run_localization checks it
    check_output_folder(args.out, args.overwrite, RUN_FILES, RUN_OUTPUTS)
    # the stopped run's too; a live run's (it holds the lock) is said to be one
    check_partial_before_run(args.out, args.resume, args.restart, args.overwrite)
    check_trajectory_file(args.groundtruth, "--groundtruth")
    # a rosbag2 reads every message when opened: a --map that is no map (or one copied only in
    # part) is refused before that
    source = _open(args, cfg, before_index=functools.partial(
        check_before_indexing, map_path, args.stride, args.max_frames,
        cfg.model.checkpoint if cfg.localizer.matcher == "mast3r" else "",
        cfg.localizer.matcher == "mast3r", cfg.model))
    metrics = run_localization(source, map_path, args.out, cfg, groundtruth=args.groundtruth,
                               stride=args.stride, max_frames=args.max_frames,
                               global_only=args.global_only, overwrite=args.overwrite,
                               resume=args.resume, restart=args.restart, source_path=args.source,
                               params_warmup=given.localizer.warmup,
                               node_name=node_name(args))
    cut = selection_said(frame_selection(source, args.source, args.stride, args.max_frames))
    with after_publishing("the run", output_path(args.out)):  # a stop now loses none of it
        sys.stdout.write(f"localized {args.source}{cut} against {map_path} -> {args.out}\n"
                         f"{format_table(metrics)}\n")
        if metrics.get("frames") and not metrics.get("evaluated"):
            note = (no_frame_localized_note(metrics, args.out, cfg.localizer.matcher)
                    if not metrics.get("localized")
                    else no_groundtruth_hint(source, args, cfg.pose_at_stamp, metrics))
            sys.stderr.write(f"{PROG} localize: note: {note}\n")
    return 0


def _map_path(option: Optional[str], cfg: Config, params: Optional[str] = None) -> str:
    """--map as given, else the parameter file's map_path (the node's), '~', $VARS expanded, made
    absolute from the current folder (so the log says which map was taken). An empty
    --map (``--map "$MAP"`` with MAP unset) is an error, not a fall back to map_path; a
    map_path that does not exist is one naming the parameter file it came from."""
    if option is not None:
        if not option.strip():
            raise empty_value("--map", "the keyframe map folder")
        return option
    if not cfg.node.map_path:
        raise InputError("no map given: pass --map MAP, or --params with map_path set")
    path = os.path.abspath(expand_path(cfg.node.map_path))
    src = params or "the parameters"  # '$MAPS/m', MAPS unset: said so, not as a map not found
    if not os.path.exists(path):
        raise InputError(unset_variable_problem(cfg.node.map_path, f"map_path of {src}") or (
            f"map not found: {path} (from map_path {cfg.node.map_path!r} of {src}; relative "
            f"paths are taken from the current folder{substitution_note(cfg.node.map_path)}): "
            "pass --map MAP or fix map_path"))
    log.info("map from --params map_path: %s", path)
    return path


# ---------------------------------------------------------------------------------- pair ---

def _add_pair(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pair", parents=parents, help="run MASt3R on two images and match them",
                       description="Two-view MASt3R inference + fast reciprocal matching. Writes "
                                   "DIR/pair.npz (pointmaps, confidences, descriptors, matches "
                                   "at network resolution) and DIR/matches.png. The network "
                                   "settings come from --params (defaults: config/localize.yaml)"
                                   " and the options below.")
    p.add_argument("image1", help="first image (view 1; its camera frame holds both pointmaps)")
    p.add_argument("image2", help="second image (view 2)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (DIR above)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    model = Config().model
    p.add_argument("--size", type=int, choices=(512, 384, 224),
                   help="network size " + overrides_default(model.image_size, "image_size"))
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16"),
                   help="autocast precision on CUDA, CPU is always fp32 "
                        + overrides_default(model.precision))
    p.set_defaults(func=cmd_pair)


def cmd_pair(args: argparse.Namespace) -> int:
    from .pair import run_pair

    cfg = load_config(args)
    arrays = run_pair(args.image1, args.image2, args.out, cfg.model, overwrite=args.overwrite)
    (h1, w1), (h2, w2) = arrays["conf_1"].shape, arrays["conf_2"].shape
    size = f"{w1}x{h1}" if (h1, w1) == (h2, w2) else f"{w1}x{h1} and {w2}x{h2}"
    # the result on stdout, as every command that writes an output says it
    sys.stdout.write(f"pair {args.out}: {len(arrays['matches_1'])} matches at network "
                     f"resolution {size} -> pair.npz, matches.png\n")
    return 0


# ---------------------------------------------------------------------------------- main ---

def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from .check_map import add_parser as add_check_map_parser
    from .check_params import add_parser as add_check_params_parser
    from .cli_demo import add_parser as add_demo_parser
    from .export import add_parser as add_export_parser
    from .retrieve import add_parser as add_retrieve_parser
    from .seven_scenes import add_parser as add_convert_7scenes_parser

    parser = Parser(
        prog=PROG, formatter_class=HelpFormatter,
        description="Metric 6-DoF camera localization against a keyframe map with MASt3R "
                    "(offline tools).")
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}",
                        help="print the version and exit")
    # every subcommand's parser (those of check_map, export, retrieve too) shows the defaults
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=functools.partial(
        Parser, formatter_class=HelpFormatter))
    sub.required = True
    common, source = _config_options(), _source_options()
    _add_build_map(sub, [common, source])
    _add_localize(sub, [common, _source_options(reads_depth=False)])
    add_demo_parser(sub, [_config_options(matcher="demo")])
    _add_pair(sub, [_config_options(matcher=None)])
    add_retrieve_parser(sub, [_config_options(matcher=None)])
    add_check_map_parser(sub)
    add_check_params_parser(sub)
    add_export_parser(sub)
    _add_merge_maps(sub)
    add_convert_7scenes_parser(sub)
    return parser


def _refuse_link_loops(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`InputError` for the first path given to the subcommand (its positionals, --map,
    --checkpoint, --params, --out, ...: every option taking a free string) that runs into a
    loop of symbolic links, named as such (`link_loops.loop_text`), before anything is read."""
    from ..core.link_loops import loop_text

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices[args.command]._actions:
        if action.choices is not None or not action.dest or action.dest == "help":
            continue
        values = getattr(args, action.dest, None)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and value:
                name = action.option_strings[0] if action.option_strings else (
                    action.metavar or action.dest.upper())
                why = loop_text(str(name), value)
                if why:
                    raise InputError(why)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, systemd, ``docker stop``, a launch's shutdown), raised where the
    program is, as Ctrl-C's KeyboardInterrupt is: every Ctrl-C path (``OUT.partial``, a
    resumable build, no temporary folder left) then applies to it too. Exit code 143."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _on_sigterm():
    """Install `_raise_terminated` for SIGTERM; returns the handler to restore (None where
    signals cannot be set: not the main thread)."""
    try:
        return signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (main() called from a thread)
        return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``mast3r-ros``; returns the exit code (130 after Ctrl-C, 143 after
    SIGTERM, each leaving what Ctrl-C leaves)."""
    # a path outside stdout's encoding: escaped, not a traceback; the caller's logging kept
    with escaping_stdout(), root_logging_given_back():
        return flush_stdout(_main(argv))  # a reader gone (`| head`): quiet, exit 141


def _main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        parser = build_parser()
    except KeyboardInterrupt:  # Ctrl-C while the subcommand modules import
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    args, extra = parser.parse_known_args(argv)
    if extra:  # in the subcommand's words (its usage), unless given before the subcommand
        given = list(sys.argv[1:] if argv is None else argv)
        at = given.index(args.command) if args.command in given else len(given)
        if any(e in given[:at] for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}{parser.did_you_mean(extra)}")
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        more = sub.choices[args.command].did_you_mean(extra)  # allow_abbrev off: --over
        if args.command == "merge-maps" and not any(e.startswith("-") for e in extra):
            more = (": merge-maps joins two maps at a time (A B); merge the next into their "
                    "result: merge-maps A B --out AB, then merge-maps AB C --out ABC")
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}{more}")
    _setup_logging(getattr(args, "log_level", "info"))
    previous = _on_sigterm()
    link = None  # (--out as typed, the folder it links to)
    try:
        expand_home(args)  # `--out=~/run`: the home folder, not a folder named '~'
        refuse_empty_options(parser, args)  # else '' echoed, or taken as not given
        _refuse_link_loops(parser, args)  # else each said 'not found', of a path that is there
        if isinstance(getattr(args, "out", None), str):  # a link resolved, `.` made absolute
            typed, args.out = args.out, settled_out(args.out)
            if args.out != typed and os.path.islink(typed.rstrip("/") or "/"):
                link = (typed.rstrip("/"), args.out)
        return int(run_command(args, parser) or 0)  # a network its checks loaded: read once
    except Mast3rRosError as e:
        text = " ".join(t.strip() for t in str(e).splitlines() if t.strip())  # paths intact
        text = _as_typed(text, *link) if link else text
        sys.stderr.write(f"{PROG} {args.command}: error: {text}\n")
        return 2
    except ModuleNotFoundError as e:  # a library of the install missing: say which and how
        if (e.name or "").split(".")[0] == "mast3r_ros":
            raise  # our own module: a broken checkout, keep the traceback
        sys.stderr.write(f"{PROG} {args.command}: error: {missing_library_hint(e.name or str(e))}"
                         "\n")
        return 2
    except BrokenPipeError:  # stdout's reader gone (`| head`, `| true`): quiet, as coreutils
        if stdout_gone():
            return STDOUT_GONE_EXIT
        sys.stderr.write(f"{PROG} {args.command}: error: connection failed: broken pipe\n")
        return 2
    except ConnectionError as e:  # an OSError, but a peer (a Ray cluster) failed, not a path
        sys.stderr.write(f"{PROG} {args.command}: error: connection failed: "
                         f"{' '.join(str(e).split()) or type(e).__name__}\n")
        return 2
    except OSError as e:  # an output (or input) path the OS refuses: one line, no traceback
        sys.stderr.write(f"{PROG} {args.command}: error: {os_error_text(e, args)}\n")
        return 2
    except Terminated as e:  # the output complete, when it came after its publishing
        sys.stderr.write(f"{PROG} {args.command}: terminated (SIGTERM){published_note(e)}\n")
        return 143
    except KeyboardInterrupt as e:
        sys.stderr.write(f"{PROG} {args.command}: interrupted{published_note(e)}\n")
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _as_typed(text: str, typed: str, target: str) -> str:
    """An error's ``text`` with --out's link ``typed`` where the command wrote its ``target``
    (`settled_out`); the first time it names the folder itself, with what it links to."""
    said = []

    def swap(m: re.Match[str]) -> str:
        whole = not text.startswith("/", m.end())  # the folder, not a path inside it
        note = f" (a link to {target})" if whole and not said else ""
        said.extend([True] if whole else [])
        return typed + note

    return re.sub(re.escape(target) + r"(?![^\s/,;:)'\"])", swap, text)


def console_main() -> None:
    """The ``mast3r-ros`` console script: exits with `main`'s code, but after Ctrl-C (once its
    line is written and the exit handlers have run) ends by SIGINT, as Python does for an
    uncaught KeyboardInterrupt: a shell's loop of commands then stops at Ctrl-C instead of
    going on (bash's "wait and cooperative exit"). POSIX; elsewhere the code is 130."""
    interrupted = []

    def _end_by_sigint() -> None:  # registered first: runs after every handler main() added
        if not interrupted or os.name != "posix":
            return
        logging.shutdown()  # logging's own exit handler was registered before this one
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more to say
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)

    atexit.register(_end_by_sigint)
    rc = main()
    if rc == 130:
        interrupted.append(True)
    sys.exit(rc)


if __name__ == "__main__":
    console_main()
