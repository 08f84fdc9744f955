"""The options the ``mast3r-ros`` subcommands share, and what they become.

The configuration group (--params, --namespace, --checkpoint, --matcher, --device, --log-level)
read into a `Config` (`load_params`: the parameter file; `load_config`: with the command-line
overrides), the source group (topics, --pose-frames, --pose-topic, --sync-tolerance,
--depth-scale, --run) opened as a frame source (`_open`), and the help formatter and help
texts of every subcommand. The process's console (log handler, stdout) is `replay.cli_console`.
`replay.cli` registers the subcommands with these; like it, this module imports nothing heavy
(the source readers load when a source is opened).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import logging
import math
import os
import re
from typing import Any, Callable, Dict, Optional, Sequence

from ..core.config import Config, config_from_params, load_config_yaml
from ..core.errors import InputError
from ..core.image_stamp import IMAGE_STAMPS, MAX_SYNC_TOLERANCE_S
from .cli_hints import OTHER_COMMANDS_OPTIONS, command_typo, missing_command, out_link_refusal
from .node_name_option import add_node_name, node_name, refuse_without_params

log = logging.getLogger(__name__)

LOG_LEVEL_HELP = ("logging level on stderr; warning and error also hide the progress (bars "
                  "on a terminal, a log line every 10-30 s otherwise)")
NAMESPACE_HELP = ("with --params holding several robots' blocks (/robot1/mast3r_localizer, "
                  "...): read robot NS's (robot1 or /robot1), with the /** blocks, as rclpy "
                  "does for the node in that namespace")
# every recording kind `sources.open_source` reads, and the poses each gives its frames
SOURCE_HELP = ("TUM RGB-D folder, EuRoC/ASL dataset folder, KITTI odometry sequence, rosbag2 "
               "or ROS 1 .bag (a RealSense Viewer recording too)")
OWN_POSES = ("the source's own: a TUM folder's groundtruth.txt, an EuRoC/ASL folder's "
             "ground-truth CSV, a KITTI sequence's poses/NN.txt")
OVERWRITE_HELP = ("replace an existing output folder (it stays as it was until the new one is "
                  "complete)")

# command-line option -> config parameter it overrides
_OVERRIDES = (("checkpoint", "checkpoint"), ("matcher", "matcher"), ("device", "device"),
              ("precision", "precision"), ("size", "image_size"), ("image_stamp", "image_stamp"))

DEFAULT_SYNC_TOLERANCE_S = 0.02  # image/depth pairing (TUM, rosbag2), as the readers default


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's help with each option's default, ``(default: X)``, except where it says
    nothing (None: the help says what happens; a flag's False) or the help already says it in
    words (``(default ...``: "the source's own: ...", "640x480: 512 -> 512x384")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.nargs == 0 or "(default" in text:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line on stderr, exit status 2:
    ``mast3r-ros localize: error: argument --stride: invalid int value: 'abc' (see mast3r-ros
    localize --help)``, not the whole usage block (up to 14 lines) above it. No option is
    taken by a prefix of its name (allow_abbrev off: `--over` was --overwrite, `--max-frame`
    --max-frames): an abbreviation is an unrecognized argument, named by `did_you_mean`."""
    UNSET = " (nothing, or an option, followed it: a shell variable such as $CKPT unset?)"
    EMPTY = " (an empty value: a shell variable such as \"$N\" unset?)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def did_you_mean(self, extra: Sequence[str]) -> str:
        """`` (did you mean --max-frames?)`` for the first of ``extra`` (the unrecognized
        arguments) that is an unknown long option: the options of this parser it begins (an
        abbreviation), else the closest (difflib ratio >= 0.8); '' where none is close."""
        options = sorted(o for o in self._option_string_actions if o.startswith("--"))
        for name in (e.split("=", 1)[0] for e in extra if e.startswith("--")):
            close = [o for o in options if o.startswith(name)] or \
                difflib.get_close_matches(name, options, n=1, cutoff=0.8)
            if close and name != "--":
                return f" (did you mean {' or '.join(close[:3])}?)"
            if (self.prog.split()[-1], name) in OTHER_COMMANDS_OPTIONS:
                return f" ({name} is {OTHER_COMMANDS_OPTIONS[self.prog.split()[-1], name]})"
        return ""

    def error(self, message: str):  # type: ignore[override]
        message += self.UNSET if message.endswith(": expected one argument") else ""
        # a quoted "$N" left empty: argparse's "invalid int value: ''" / "invalid choice: ''"
        message += self.EMPTY if re.search(r": invalid [a-z ]*(value|choice): ''", message) \
            else ""
        message += command_typo(message)  # `build_map`, `localise`: the closest command
        usage = missing_command(self, message)  # `mast3r-ros` alone: the commands listed
        self.exit(2, f"{usage}{self.prog}: error: {message} (see {self.prog} --help)\n")


# options whose '' is a value their help names (build-map --retrieval-checkpoint '': no index)
EMPTY_MEANS_NONE = frozenset({"--retrieval-checkpoint"})
# what leaving an option out does, as its empty-value refusal says it (`empty_value`; a
# 'COMMAND --option' key for that subcommand alone, before the option's own)
LEFT_OUT = {
    "--params": "for the defaults",
    "--checkpoint": "to take the 'checkpoint' of --params",
    "export --checkpoint": "and give CKPT", "export CKPT": "and give --checkpoint",
    "--camera-info": ("to take the source's camera (a TUM folder's camera.yaml, a rosbag2's "
                      "CameraInfo)"),
    "--map": "to take map_path from --params",
    "--trajectory": "to take the source's poses",
    "--groundtruth": "to take the source's ground truth",
}


def empty_value(option: str, give: str, command: Optional[str] = None,
                required: bool = False) -> InputError:
    """The `InputError` for ``option`` given an empty (or blank) value, ``--camera-info "$C"``
    with C unset: '--camera-info is empty (an unset shell variable?): give YAML, or leave
    --camera-info out to take the source's camera (...)', what leaving it out does from
    `LEFT_OUT` (for ``command``'s option where it has its own); no 'leave out' when
    ``required``."""
    left = LEFT_OUT.get(f"{command} {option}", LEFT_OUT.get(option))
    fix = "" if required else f", or leave {option} out" + (f" {left}" if left else "")
    return InputError(f"{option} is empty (an unset shell variable?): give {give}{fix}")


def refuse_empty_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`InputError` for the first option of the subcommand given an empty or white-space value
    (``--depth-topic "$T"`` with T unset, which argparse takes as given), for every option
    alike, before anything runs: '--depth-topic is empty (an unset shell variable?): give
    DEPTH_TOPIC, or leave --depth-topic out'. An option whose default is '', or one of
    `EMPTY_MEANS_NONE`, keeps it."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices[args.command]._actions:
        if not action.option_strings or action.default == "" or \
                set(action.option_strings) & EMPTY_MEANS_NONE:
            continue
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):  # '', ' ': no name
            option = max(action.option_strings, key=len)
            raise empty_value(option, action.metavar or action.dest.upper(), args.command,
                              action.required)


class _OneCamera(argparse.Action):
    """A source option given again with another value (another camera's) is refused."""
    why = ("a run reads one camera; run once per camera (a map of several cameras: one build-map "
           "each, joined with merge-maps)")

    def __call__(self, parser, namespace, values, option_string=None):
        old = getattr(namespace, self.dest, None)
        if old is not None and old != values:
            raise argparse.ArgumentError(self, f"given twice ({old}, {values}): {self.why}")
        setattr(namespace, self.dest, values)


def overrides_default(value: Any, param: str = "") -> str:
    """The help's default of an option that overrides a --params value: the file's value (of
    ``param`` where the option is named otherwise), else the Config default ``value`` (the
    option's own default is None, which `HelpFormatter` does not show: the file's must win)."""
    return f"(default: --params' {param or 'value'}, else {value})"


# --checkpoint's help by `_config_options`' matcher (pair: no --matcher, no weight-free path)
CHECKPOINT_HELP = {
    "params": "MASt3R checkpoint (default: the 'checkpoint' of --params; with none, only the "
              "weight-free --matcher sift runs)",
    "demo": "MASt3R checkpoint (default: the 'checkpoint' of --params; with none, the demo runs "
            "the weight-free sift baseline)",
    None: "MASt3R or DUSt3R checkpoint (default: the 'checkpoint' of --params; required: this "
          "command runs the network)",
}


def _config_options(matcher: Optional[str] = "params") -> argparse.ArgumentParser:
    """The configuration options; ``matcher``: 'params' (--matcher overrides --params), 'demo'
    (the demo's own choice), None (no --matcher)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("configuration")
    g.add_argument("--params", metavar="YAML",
                   help="ROS parameter file (the node's config/localize.yaml)")
    g.add_argument("--namespace", metavar="NS", help=NAMESPACE_HELP)
    add_node_name(g)
    g.add_argument("--checkpoint", metavar="CKPT", help=CHECKPOINT_HELP[matcher])
    defaults = Config()
    if matcher == "params":
        g.add_argument("--matcher", choices=("mast3r", "sift"),
                       help="matcher " + overrides_default(defaults.localizer.matcher))
    elif matcher == "demo":
        g.add_argument("--matcher", choices=("mast3r", "sift"),
                       help="matcher (default: mast3r with a checkpoint, else the weight-free "
                            "sift)")
    g.add_argument("--device", help="torch device: auto, cpu, cuda, cuda:N "
                                    + overrides_default(defaults.model.device))
    add_log_level(g)
    return p


def add_log_level(p: Any) -> None:
    """Every command's ``--log-level`` (a parser or an argument group)."""
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help=LOG_LEVEL_HELP)


def _source_options(reads_depth: bool = True) -> argparse.ArgumentParser:
    """The source group; without ``reads_depth`` (localize) depth options are hidden, accepted."""
    unused = (lambda text: text) if reads_depth else (lambda text: argparse.SUPPRESS)
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("source (TUM RGB-D, EuRoC/ASL or KITTI folder, rosbag2 or ROS 1 .bag)")
    g.add_argument("--camera-info", metavar="YAML", action=_OneCamera,
                   help="camera calibration: a ROS camera_info YAML, a CameraInfo saved with "
                        "'ros2 topic echo --once' (or ROS 1's 'rostopic echo -n 1'), an "
                        "OpenCV FileStorage YAML (an ORB-SLAM settings file too), a Kalibr "
                        "camchain.yaml of one pinhole camera or an EuRoC sensor.yaml; "
                        "overrides camera.yaml, sensor.yaml, calib.txt or the CameraInfo topic")
    for name, what in (("image", "colour image"), ("camera-info", "CameraInfo")):
        g.add_argument(f"--{name}-topic", action=_OneCamera,
                       help=f"rosbag2: {what} topic (default: detected)")
    g.add_argument("--depth-topic", action=_OneCamera,
                   help=unused("rosbag2: depth image topic (default: none; where depth is needed, "
                        "the bag's only one, several listed); a depth camera's own stream is "
                        "registered to the colour image when /tf_static (a RealSense "
                        "recording: its extrinsics) joins their frames"))
    g.add_argument("--pose-frames", metavar="MAP:CAMERA", action=_OneCamera,
                   help="rosbag2: take frame poses from TF, e.g. map:camera_optical; MAP "
                        "alone takes the camera frame from the images' header frame_id")
    g.add_argument("--pose-topic", metavar="TOPIC[:BODY]", action=_OneCamera,
                   help="bag: take frame poses from a nav_msgs/Odometry, PoseStamped, "
                        "PoseWithCovarianceStamped or TransformStamped topic (its frame_id is "
                        "the map frame; BODY, the frame the poses are of, defaults to the "
                        "child_frame_id, else the images' frame), joined to the camera by tf")
    g.add_argument("--sync-tolerance", type=float, metavar="S",
                   help=unused("image/depth (EuRoC --stereo-depth: cam0/cam1) stamp association "
                        f"tolerance in seconds, at most {MAX_SYNC_TOLERANCE_S:g} (default: "
                        f"{DEFAULT_SYNC_TOLERANCE_S:g})"))
    g.add_argument("--depth-scale", type=float, metavar="UNITS",
                   help=unused("raw depth units per metre (default: TUM PNGs 5000; rosbag2 "
                               "REP-118: 16UC1 millimetres 1000, 32FC1 metres 1; a RealSense "
                               "recording: its Depth Units), e.g. 10000 for 0.1 mm depth"))
    g.add_argument("--image-stamp", choices=IMAGE_STAMPS,
                   help="rosbag2: each image's time: its header.stamp, or 'receive', the time "
                        "the bag received it (image, depth, CameraInfo), for a camera that "
                        "stamps with its own clock; receive time adds the transport latency "
                        "(tens of ms) to each image's time "
                        + overrides_default("header", "image_stamp"))
    g.add_argument("--run", type=int, metavar="N",
                   help="rosbag2 whose header time jumps back (clock reset, looped recording): "
                        "read run N (from 1; default: the longest run, the first of equally long "
                             "ones, with a warning)")
    return p


def load_params(args: argparse.Namespace) -> Config:
    """--params YAML, the blocks of the node --namespace and --node-name name (the defaults
    without a file). An empty --params (``--params "$PARAMS"`` with PARAMS unset) is an
    `InputError`, not the defaults: the robot's tuned file would be left out without a word."""
    if args.params is not None and not args.params.strip():
        raise empty_value("--params", "the parameter file (config/localize.yaml)")
    if not args.params:
        refuse_without_params(args)  # --namespace, --node-name
        return Config()
    return load_config_yaml(args.params, node_name=node_name(args), namespace=args.namespace,
                            missing_fix="check the path, or leave --params out "
                                        f"{LEFT_OUT['--params']}")


def load_config(args: argparse.Namespace) -> Config:
    """--params YAML (or the defaults) with the command-line overrides applied and validated.
    An empty --checkpoint (``--checkpoint "$CKPT"`` with CKPT unset) is an `InputError`: it
    replaced the checkpoint of --params with none, so build-map wrote a map without MASt3R
    encodings and the demo ran SIFT, while localize asked to set the checkpoint --params sets."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is not None and not checkpoint.strip():
        raise empty_value("--checkpoint", "the MASt3R checkpoint file")
    cfg = load_params(args)
    over: Dict[str, Any] = {name: getattr(args, key) for key, name in _OVERRIDES
                            if getattr(args, key, None) is not None}
    return config_from_params(over, where="command line", base=cfg)


def note_unused_device(args: argparse.Namespace, cfg: Config) -> None:
    """One warning for a --device the run will not use: the sift matcher builds no network
    (its OpenCV SIFT runs on the CPU), so a --device cuda on a machine without CUDA, refused
    with the mast3r matcher, would otherwise pass unremarked. Not for a device set in --params
    (the shipped file sets 'auto' for the node), nor 'auto' or 'cpu', which ask for nothing
    the sift matcher does not do. A --checkpoint given with it is warned about too (no
    encodings cached, SIFT poses). For the commands whose matcher decides it (build-map,
    localize, demo once its matcher is known; `pair` always runs the network)."""
    device = getattr(args, "device", None)
    if device not in (None, "auto", "cpu") and cfg.localizer.matcher == "sift":
        log.warning("--device %s is not used by the sift matcher (it builds no network; OpenCV "
                    "SIFT runs on the CPU); ignored", device)
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint and cfg.localizer.matcher == "sift":  # a map without encodings, SIFT poses
        log.warning("--checkpoint %s is not used by the sift matcher (it builds no network); "
                    "ignored: pass --matcher mast3r to run MASt3R", checkpoint)


def note_unused_workers(args: argparse.Namespace, cfg: Config) -> None:
    """One warning for a build-map --workers that has nothing to do: the build encodes no
    keyframe (the sift matcher, or the mast3r matcher without a checkpoint). A --ray-address
    in that case is refused (`map_build.connect_build_workers`): it would connect to a
    cluster; --workers only starts local processes, so the run goes on without them. Also one
    warning for more local workers than CPU cores (they compete for the cores: --workers 64 on
    2 cores built a tiny-checkpoint map 3x slower than the default)."""
    workers = getattr(args, "workers", None)
    if workers is None:
        return
    if cfg.localizer.matcher == "mast3r" and cfg.model.checkpoint:
        cores = os.cpu_count() or 1
        if workers > cores and not getattr(args, "ray_address", None):
            log.warning("--workers %d starts more encoding processes than this machine's %d CPU "
                        "cores: they compete for them and the build is slower; leave --workers "
                        "out (one per GPU, else one per two cores)", workers, cores)
        return
    why = (f"the {cfg.localizer.matcher} matcher uses no network encodings"
           if cfg.localizer.matcher != "mast3r" else "no checkpoint is configured")
    log.warning("--workers %d has no effect: this build encodes no keyframes (%s); ignored",
                workers, why)


WARMUP_HELP = ("run the node's warm-up (one frame through the whole path per keyframe-batch "
               "size) before the first frame. Default: only where it pays for an offline run, "
               "the mast3r matcher compiled (compile), on TensorRT or on CUDA; never with "
               "--params' warmup: false. Without it the first frame's one-time costs are kept "
               "out of the latency figures (metrics.json: latency_first_frame_s)")


def add_resume_options(p: argparse.ArgumentParser) -> None:
    """localize's --resume / --restart (`replay.run_resume`), in build-map's words."""
    p.add_argument("--resume", action="store_true",
                   help="continue a stopped run (RUN.partial): its frames are not localized "
                        "again, the rest are, and RUN holds them all")
    p.add_argument("--restart", action="store_true",
                   help="delete a stopped run (RUN.partial) and start over; without --resume "
                        "or --restart a RUN.partial holding results is refused, also with "
                        "--overwrite")


def add_warmup_option(p: argparse.ArgumentParser) -> None:
    """--warmup / --no-warmup (None when neither: `offline_warmup` decides)."""
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=None,
                   help=WARMUP_HELP)


def offline_warmup(cfg: Config, flag: Optional[bool]) -> Config:
    """``cfg`` with ``localizer.warmup`` as the offline commands (localize, demo) run it.

    The warm-up exists for the node: its first live frame must not be the slow one. An offline
    run has no live frame; there the warm-up only pays where the one-time costs are large and
    would otherwise land mid-run (a compiled or TensorRT engine compiling a new keyframe-batch
    size, CUDA kernels and autotuning): the mast3r matcher with ``model.compile`` set, the
    TensorRT backend, or a CUDA device ('auto' included when CUDA is available). On an eager CPU
    run it costs a frame per keyframe-batch size (minutes with 512 inputs on a loaded machine)
    and saves nothing. ``flag`` (--warmup / --no-warmup) overrides; ``warmup: false`` in the
    parameter file keeps it off. The node is not affected (it reads its parameters as they
    are)."""
    if flag is None:
        m = cfg.model
        flag = cfg.localizer.warmup and cfg.localizer.matcher == "mast3r" and (
            m.compile != "none" or m.backend == "tensorrt" or m.device.startswith("cuda")
            or (m.device == "auto" and _cuda_available()))
    return dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer,
                                                                  warmup=bool(flag)))


def _cuda_available() -> bool:
    import torch  # here: this module imports nothing heavy

    return bool(torch.cuda.is_available())


# --depth-scale's range: one raw unit between 1 nm and 1000 km keeps float32 depth (raw / scale)
# a normal, finite number for every 16-bit raw value; real sensors use 1 to 10000
MIN_DEPTH_SCALE, MAX_DEPTH_SCALE = 1e-6, 1e9


def _open(args: argparse.Namespace, cfg: Config, keyframes: bool = False,
          before_index: Optional[Callable[[], None]] = None) -> Any:
    """SOURCE as a frame source; ``keyframes``: its frames become map keyframes, so a matcher
    that needs their depth refuses a bag read without depth before its indexing pass; without
    it (``localize``) a TUM folder's depth is not read (nothing uses a query frame's depth).
    ``before_index``: called before the source's long read (`SourceOptions`). Raises
    InputError for --sync-tolerance outside 0..1 s (non-finite ones said as such) or a
    --depth-scale outside MIN_DEPTH_SCALE..MAX_DEPTH_SCALE (depth units per metre)."""
    from .sources import SourceOptions, depth_needed_by, frames_spanned, open_source

    given = [o for o, v in (("--depth-scale", args.depth_scale),
                            ("--sync-tolerance", args.sync_tolerance)) if v is not None]
    if args.sync_tolerance is None:
        args.sync_tolerance = DEFAULT_SYNC_TOLERANCE_S
    # the options as the user typed them (the readers' own checks name their parameters)
    if not math.isfinite(args.sync_tolerance):
        raise InputError(f"--sync-tolerance must be a finite number of seconds (0 to "
                         f"{MAX_SYNC_TOLERANCE_S:g}), got {args.sync_tolerance}")
    if not 0 <= args.sync_tolerance <= MAX_SYNC_TOLERANCE_S:
        ms = (f" (milliseconds? {args.sync_tolerance:g} ms is --sync-tolerance "
              f"{args.sync_tolerance / 1000:g})" if args.sync_tolerance > MAX_SYNC_TOLERANCE_S
              else "")
        raise InputError(f"--sync-tolerance must be between 0 and {MAX_SYNC_TOLERANCE_S:g} "
                         f"seconds, got {args.sync_tolerance:g}{ms}")
    if args.depth_scale is not None and not math.isfinite(args.depth_scale):
        raise InputError(f"--depth-scale must be a finite number (depth units per metre: TUM "
                         f"PNGs 5000, 16UC1 millimetres 1000), got {args.depth_scale}")
    if args.depth_scale is not None and not (MIN_DEPTH_SCALE <= args.depth_scale
                                             <= MAX_DEPTH_SCALE):
        raise InputError(f"--depth-scale must be between {MIN_DEPTH_SCALE:g} and "
                         f"{MAX_DEPTH_SCALE:g} depth units per metre (TUM PNGs 5000, 16UC1 "
                         f"millimetres 1000), got {args.depth_scale:g}: beyond that, float32 "
                         "depth overflows or vanishes")
    if args.camera_info is not None and not args.camera_info.strip():  # took the source's
        raise empty_value("--camera-info", "the camera_info YAML")
    # missing: said as --trajectory's is (a loop of links exists: the reader names it)
    if args.camera_info is not None and not os.path.lexists(args.camera_info):
        from ..core.path_blanks import blank_edge_note

        raise InputError(f"--camera-info {args.camera_info}: no such file"
                         f"{blank_edge_note(args.camera_info)}; give the camera "
                         "calibration file, or leave --camera-info out "
                         f"{LEFT_OUT['--camera-info']}")
    unused = [] if keyframes else given  # localize reads no query frame's depth

    def warn_unused() -> None:  # once, after the checks before_index makes: an error alone
        while unused:
            log.warning("%s has no effect on localize: it reads no query depth (only build-map "
                        "reads depth, for the keyframes); ignored", unused.pop(0))

    def checks_then_warning() -> None:
        if before_index is not None:
            before_index()  # a bad --map: its one error line, no warning before it
        warn_unused()

    options = SourceOptions(
        camera_info=args.camera_info, image_topic=args.image_topic,
        camera_info_topic=args.camera_info_topic, depth_topic=args.depth_topic,
        pose_frames=args.pose_frames, pose_topic=args.pose_topic,
        sync_tolerance_s=args.sync_tolerance,
        depth_scale=args.depth_scale, run=args.run, command=getattr(args, "command", None),
        depth_needed_by=depth_needed_by(cfg.localizer) if keyframes else None,
        image_rectified=cfg.node.image_rectified, image_stamp=cfg.node.image_stamp,
        image_stamp_name=("--params' image_stamp" if args.image_stamp is None and args.params
                          else "--image-stamp"),
        image_stamp_said=image_stamp_said(args, cfg.node.image_stamp), read_depth=keyframes,
        poses_option=("--trajectory FILE" if keyframes else "--groundtruth FILE (TUM)"),
        stereo_depth=bool(getattr(args, "stereo_depth", False)),  # build-map's alone
        # build-map's: the first N frames (localize's --max-frames counts the frames it takes)
        max_frames=(getattr(args, "max_frames", None) or None) if keyframes else None,  # 0: all
        index_frames=None if keyframes else frames_spanned(  # localize's: not cut, see above
            getattr(args, "stride", 1), getattr(args, "max_frames", 0) or 0),
        before_index=checks_then_warning if unused else before_index)
    source = open_source(args.source, options, cfg.pose_at_stamp)
    warn_unused()  # a source that made no call to before_index
    return source


def image_stamp_said(args: argparse.Namespace, value: str) -> str:
    """Where ``value`` (the run's image_stamp) came from, with it: '--image-stamp receive',
    'image_stamp: receive in FILE' (--params), 'the default image_stamp header'."""
    if args.image_stamp is not None:
        return f"--image-stamp {value}"
    if args.params and value != "header":
        return f"image_stamp: {value} in {args.params}"
    return f"the default image_stamp {value}"


def refuse_file_beside_bag_poses(args: argparse.Namespace, option: str) -> None:
    """Refuse ``option`` (``--trajectory``, ``--groundtruth``: a TUM file, ``args``' attribute
    of that name) given with ``--pose-topic`` or ``--pose-frames``, in one line before anything
    is read: the file's poses were taken and the bag's, read at length, dropped without a
    word."""
    path = getattr(args, option.lstrip("-"), None)
    given = [(o, v) for o, v in (("--pose-topic", getattr(args, "pose_topic", None)),
                                 ("--pose-frames", getattr(args, "pose_frames", None)))
             if v is not None]
    if path is not None and given:
        bag_option, value = given[0]
        raise InputError(f"{option} {path} and {bag_option} {value} both give the poses: pass "
                         f"one ({option} would be read and the bag's poses left unread)")


def check_trajectory_file(path: Optional[str], option: str) -> None:
    """Refuse a given TUM trajectory file (``--trajectory``, ``--groundtruth``) that is missing
    or a folder, naming ``option`` and what leaving it out does (`LEFT_OUT`), before a source
    is opened: a missing one was "cannot read FILE: No such file or directory"."""
    if path is None:
        return
    if not path.strip():  # `--groundtruth "$GT"` with GT unset: it took the source's silently
        raise empty_value(option, "the TUM trajectory file")
    if not os.path.exists(path):
        raise InputError(f"{option} {path}: no such file; give the TUM trajectory file, or leave "
                         f"{option} out {LEFT_OUT[option]}")
    if os.path.isdir(path):
        from .tum import folder_instead_of_file

        raise InputError(f"{option} {folder_instead_of_file(path)}")
    from ..core.fileio import refuse_device

    refuse_device(path, option)  # /dev/zero: read line by line until the memory ran out


# every option and argument that names a file or folder (argparse dests of all subcommands)
PATH_DESTS = ("source", "map", "out", "params", "checkpoint", "ckpt", "camera_info",
              "trajectory", "groundtruth", "retrieval_checkpoint", "codebook", "image1",
              "image2", "images", "a", "b", "json", "plot")


def expand_home(args: argparse.Namespace) -> None:
    """A leading ``~`` left in a path of ``args`` (`PATH_DESTS`) is the home folder
    (`os.path.expanduser`), in place. The shell expands it only at the start of a word:
    ``--out=~/run`` made a folder named '~' in the current one, ``SRC="~/data"`` read "source
    not found: ~/data", while ``--map=~/maps/x`` read the home folder's map."""
    def expand(value: Any) -> Any:
        return os.path.expanduser(value) if isinstance(value, str) and value[:1] == "~" \
            else value

    for dest in PATH_DESTS:
        value = getattr(args, dest, None)
        if isinstance(value, list):
            setattr(args, dest, [expand(v) for v in value])
        elif value is not None:
            setattr(args, dest, expand(value))


def settled_out(out: str) -> str:
    """``--out`` as the command uses it. A symbolic link to a folder is resolved: the folder is
    written, the link kept (outputs are published by renames, which would put a folder in place
    of the link); a link to nothing is an `InputError` (followed, it made the missing folder and
    its parents: a drive's unmounted mount point written on). A relative path naming the
    current folder or one holding it (``--out .`` in a run folder, ``--out ..`` from a map's
    keyframes/) is made absolute: publishing the output replaces that folder, which takes the
    current folder away, and the relative path, resolved again after, led nowhere (an error
    after the work was published). Else as given.
    ``-`` is an `InputError`: every --out is a folder (it made a folder named '-')."""
    if out == "-":
        raise InputError("--out -: the output is a folder, not stdout ('-' would make a folder "
                         "named '-'); give a folder name, e.g. --out out1 (or --out ./-)")
    if os.path.islink(out.rstrip("/") or "/"):
        if os.path.isdir(out):
            return os.path.realpath(out)
        raise InputError(out_link_refusal(out.rstrip("/")))
    if not out or os.path.isabs(out):
        return out
    try:
        here = os.getcwd()
    except OSError:  # the current folder already gone
        return out
    target = os.path.realpath(out).rstrip("/")
    return os.path.abspath(out) if (here + "/").startswith(target + "/") else out
