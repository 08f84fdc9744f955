"""`mast3r-ros check-params FILE [--namespace NS] [--node-name N]`: is a node parameter file one
the node accepts? Read offline with the validation every ``--params`` goes through
(`load_config_yaml`: the blocks rclpy gives that node, ROS's typing, unknown or misspelt names,
bad values, missing or unreadable files) and the node's configure check of its frame
names (`core.frame_params`), without a recording or checkpoint. A ``map_path`` that exists here
is opened as the node's configure opens it (`KeyframeMap.check_folder`: a run folder, a map's
subfolder, an empty folder, a copy cut short, a newer format version are refused, and a map
without the keyframe depth ``matcher`` sift or ``points_source`` depth needs, by the matchers'
`require_map_depth`); one that
does not exist here (the map lives on the robot) or is relative (the node takes it from its
working directory, where `ros2 launch` was started) is a warning, not checked. The same for
``checkpoint`` (with the mast3r matcher, the one the node loads it for): one found here gets
the loader's cheap checks (`require_checkpoint`: first bytes, a zip archive's record names; the
weights are not loaded), and one in no format the loader reads is refused; and for
``retrieval.checkpoint`` (loaded with the mast3r matcher and retrieval.method asmk or auto) with
its ASMK codebook (``retrieval.codebook``, or the one beside it), by the node's own check
(`check_configured_retrieval`). Every refusal names the parameter to fix and its fix in
parameters (``checkpoint``, ``retrieval.checkpoint``, ``retrieval.codebook``), not the
commands' flags (`given_as.PARAMETERS`): this file has no ``--checkpoint``. Backend
``tensorrt`` (with the mast3r matcher) on a machine without TensorRT or CUDA is a warning with
the node's refusal (`_warn_without_tensorrt`): the file may be meant for a robot that has them.

Exit 0 with one line on stdout naming the node and the parameters that differ from the
defaults; 2 with the one-line error otherwise. Warnings (a node block misspelt beside a ``/**``
block, ...) go to stderr, as the node logs them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

from ..core.path_expand import substitution_note

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .cli_options import NAMESPACE_HELP, add_log_level
    from .node_name_option import add_node_name

    p = sub.add_parser("check-params", help="check a node parameter file offline",
                       description="Read a ROS 2 parameter file (your copy of "
                                   "config/localize.yaml) as the node would and refuse it in "
                                   "one line (exit 2) where the node or the offline tools "
                                   "would; print the parameters it changes from the defaults.")
    p.add_argument("file", metavar="FILE", help="ROS 2 parameter file (YAML)")
    p.add_argument("--namespace", metavar="NS",  # FILE here, where the others take --params
                   help=NAMESPACE_HELP.replace("--params", "FILE"))
    add_node_name(p)  # as every command taking --params has it
    add_log_level(p)
    p.set_defaults(func=cmd_check_params)


_CHECKED_WEIGHTS = "; checkpoint is in a format the node reads (weights not loaded)"
_CHECKED_HEAD = ("; retrieval.checkpoint and its codebook are in formats the node reads "
                 "(weights not loaded)")


def cmd_check_params(args: argparse.Namespace) -> int:
    from ..core.config import Config, config_to_params, load_config_yaml, node_fqn
    from ..core.errors import ConfigError
    from ..core.frame_params import frame_params_problem
    from .node_name_option import node_name

    name = node_name(args)
    cfg = load_config_yaml(args.file, node_name=name, namespace=args.namespace,
                           missing_fix="check the path (your copy of config/localize.yaml)",
                           argument="FILE")
    # the node's own configure check, which the offline tools' --params has no use for: a
    # file with odom_frame equal to base_frame, or '/map', was called valid and the node then
    # refused it at configure (never active, no pose for Nav2)
    why = frame_params_problem(cfg.node.map_frame, cfg.node.odom_frame, cfg.node.base_frame)
    if why:
        raise ConfigError(f"{args.file}: {why}: the node would refuse it at configure")
    from ..core.path_expand import path_parameters, unset_variable_problem

    for param, value in path_parameters(cfg).items():  # maybe set where the node runs: warned
        unset = unset_variable_problem(value, f"parameter '{param}'")
        if unset:
            log.warning("%s: %s; not checked further (the node refuses it at configure unless "
                        "its environment sets it)", args.file, unset)
    checked = _check_map_path(cfg.node.map_path, args.file, cfg.localizer.matcher,
                              cfg.localizer.points_source)
    # the node loads the checkpoint at configure with the mast3r matcher only
    weights = (cfg.localizer.matcher == "mast3r"
               and _check_checkpoint(cfg.model.checkpoint, args.file))
    # ... and the ASMK retrieval head with it, for retrieval.method asmk or auto
    head = (cfg.localizer.matcher == "mast3r" and cfg.retrieval.method in ("asmk", "auto")
            and _check_retrieval_checkpoint(cfg.retrieval.checkpoint, cfg.retrieval.codebook,
                                            args.file))
    if cfg.localizer.matcher == "mast3r" and cfg.model.backend == "tensorrt":
        _warn_without_tensorrt(cfg.model.device, args.file)  # as the node checks at configure
    params, defaults = config_to_params(cfg), config_to_params(Config())
    changed = sorted(k for k, v in params.items() if v != defaults.get(k))
    node = (node_fqn(args.namespace, name) if args.namespace is not None else
            f"{name} (in the namespace the file's blocks name)")
    sys.stdout.write(f"check-params {args.file}: valid for node {node}; "
                     f"{len(changed)} parameter{' differs' if len(changed) == 1 else 's differ'}"
                     " from the defaults"
                     f"{': ' + ', '.join(changed) if changed else ''}"
                     f"{'; map_path opens as a keyframe map' if checked else ''}"
                     f"{_CHECKED_WEIGHTS if weights else ''}"
                     f"{_CHECKED_HEAD if head else ''}\n")
    return 0


def _warn_without_tensorrt(device: str, file: str) -> bool:
    """Whether this machine can run backend 'tensorrt' on ``device`` as the node checks it at
    configure (`tensorrt_runtime.require_tensorrt_runtime`: TensorRT importable, a CUDA device,
    the FP16 builder flag; imports only). Where it cannot, a warning with the node's own
    refusal, not an error: the file may be meant for a robot that has TensorRT (the file was
    called valid, exit 0, and the node here then refused it). Raises nothing."""
    from ..core.errors import ConfigError
    from ..core.model.tensorrt_runtime import require_tensorrt_runtime

    try:
        require_tensorrt_runtime(device)
    except ConfigError as e:
        log.warning("%s: this machine lacks what backend 'tensorrt' needs, so a node here "
                    "would refuse the file at configure: %s. Not refused: on a robot with "
                    "TensorRT and CUDA it runs (run check-params there to check)", file, e)
        return False
    return True


def _check_map_path(value: str, file: str, matcher: str = "mast3r",
                    points_source: str = "pointmap") -> bool:
    """Whether the file's ``map_path`` was opened and found a map. A map path that exists but is
    no map the node can open (a localize run's folder, a map's ``keyframes/``, an empty folder,
    a map copied in part, one of a newer format), or a map without the keyframe depth that
    ``matcher`` (sift) or ``points_source`` (depth) needs (`require_map_depth`, the matchers'
    rule), raises `ConfigError` with the node's own refusal: the file was called valid and the
    node then refused it at configure, on the robot. An empty value (the launch's ``map:=``
    gives it) is not looked at; a path not found here, or a relative one, is a warning: not an
    error, the map may live on the robot only."""
    from ..core.errors import ConfigError, InputError, MapFormatError
    from ..core.keyframes import KeyframeMap
    from ..core.matchers.map_depth import require_map_depth
    from ..core.model.given_as import PARAMETERS
    from ..core.path_expand import expand_path, unset_variable_note

    if not value.strip() or unset_variable_note(value):  # unset $VAR: said by the caller
        return False
    path = expand_path(value)
    if substitution_note(value):
        log.warning("%s: map_path %r is no path the node can open%s", file, value,
                    substitution_note(value))
        return False
    relative = not os.path.isabs(path)
    if relative:
        log.warning("%s: map_path %r is relative: the node takes it from its working directory "
                    "(the folder `ros2 launch` was started in), not from %s; give an absolute "
                    "path", file, value, file)
    if not os.path.lexists(path):
        log.warning("%s: map_path %r is not found on this machine%s, so it is not checked; run "
                    "check-params where the map is (the node refuses a missing map at "
                    "configure)", file, value,
                    f" (from the current folder {os.getcwd()})" if relative else "")
        return False
    try:
        KeyframeMap.check_folder(path, checkpoint_as=PARAMETERS.checkpoint)
        if matcher == "sift" or points_source == "depth":  # opened as the node opens it
            require_map_depth(KeyframeMap.load(path, lazy=True, encoding_cache_mb=0.0),
                              matcher, points_source)
    except (MapFormatError, InputError, ConfigError) as e:
        raise ConfigError(f"{file}: map_path {value!r}: {e} (the node would refuse it at "
                          "configure)") from None
    return True


def _check_checkpoint(value: str, file: str) -> bool:
    """Whether the file's ``checkpoint`` was found here and passed the loader's cheap checks
    (`require_checkpoint`: its first bytes, a zip archive's record names and ``args``, a
    Hugging Face folder's files; the weights are not loaded). A checkpoint that exists but is in
    no format the loader reads (random bytes, a zip archive of other files, a download cut
    short, a text file, the retrieval head) or a DUSt3R one (its constructor string: the mast3r
    matcher refuses it, no descriptor head) raises `ConfigError` with the loader's one-line
    refusal, its fix naming parameters; not found here, or relative, is a warning, as for
    ``map_path``."""
    from ..core.errors import CheckpointError
    from ..core.model.checkpoint import require_checkpoint, resolve_checkpoint
    from ..core.model.checkpoint_arch import declared_arch, no_descriptors_for_localizer
    from ..core.model.given_as import PARAMETER_PASSED_AS, PARAMETERS

    def check(path: str) -> None:
        try:
            require_checkpoint(path, PARAMETER_PASSED_AS, PARAMETERS)
            if declared_arch(path) == "dust3r":  # the mast3r matcher refuses it at configure
                raise CheckpointError(f"{path}: {no_descriptors_for_localizer(PARAMETERS)}")
        except CheckpointError as e:
            raise CheckpointError(f"parameter 'checkpoint': {e}") from None

    return _check_weights_file("checkpoint", value, resolve_checkpoint(value) if value.strip()
                               else "", file, check)


def _check_retrieval_checkpoint(value: str, codebook: str, file: str) -> bool:
    """`_check_checkpoint` for ``retrieval.checkpoint`` (the ASMK retrieval head, which the node
    loads at configure with the mast3r matcher and ``retrieval.method`` asmk or auto) and its
    codebook (``retrieval.codebook``; empty: the one beside the checkpoint), by the node's own
    check (`check_configured_retrieval`: a folder, a special file, empty, text, no format the
    loader reads, the network checkpoint given here, a codebook missing, a folder, a .pth or
    cut short); the weights are not loaded. The codebook is checked where the retrieval
    checkpoint is found here (a missing one is the node's refusal at configure)."""
    from ..core.model.checkpoint import resolve_checkpoint
    from ..core.retrieval_model import check_configured_retrieval

    return _check_weights_file("retrieval.checkpoint", value, resolve_checkpoint(value) or "",
                               file, lambda _: check_configured_retrieval(value, codebook))


def _check_weights_file(param: str, value: str, path: str, file: str,
                        check: Callable[[str], object]) -> bool:
    """Whether ``path`` (parameter ``param``, given as ``value`` in ``file``) was found here and
    passed ``check`` (raising `CheckpointError` beginning with the parameter it refuses); its
    refusal raises `ConfigError`; an empty value is not looked at; not found here, or relative,
    is a warning."""
    from ..core.errors import CheckpointError, ConfigError
    from ..core.path_expand import unset_variable_note

    if not value.strip() or unset_variable_note(value):  # unset $VAR: said by the caller
        return False
    if substitution_note(value):
        log.warning("%s: %s %r is no path the node can open%s", file, param, value,
                    substitution_note(value))
        return False
    relative = not os.path.isabs(path)
    if relative:
        log.warning("%s: %s %r is relative: the node takes it from its working "
                    "directory (the folder `ros2 launch` was started in), not from %s; give an "
                    "absolute path", file, param, value, file)
    if not os.path.lexists(path):
        log.warning("%s: %s %r is not found on this machine%s, so it is not checked; "
                    "run check-params where the checkpoint is (the node refuses a missing "
                    "checkpoint at configure)", file, param, value,
                    f" (from the current folder {os.getcwd()})" if relative else "")
        return False
    try:
        check(path)
    except CheckpointError as e:
        raise ConfigError(f"{file}: {e} (the node would refuse it at configure)") from None
    return True
