"""`mast3r-ros check-params FILE [--namespace NS] [--node-name N]`: is a node parameter file one
the node accepts? Read offline with the validation every ``--params`` goes through
(`load_config_yaml`: the blocks rclpy gives that node, ROS's typing, unknown or misspelt names,
bad values, missing or unreadable files) and the node's configure check of its frame
names (`core.frame_params`), without a recording, map or checkpoint.

Exit 0 with one line on stdout naming the node and the parameters that differ from the
defaults; 2 with the one-line error otherwise. Warnings (a node block misspelt beside a ``/**``
block, ...) go to stderr, as the node logs them."""

from __future__ import annotations

import argparse
import sys


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
    params, defaults = config_to_params(cfg), config_to_params(Config())
    changed = sorted(k for k, v in params.items() if v != defaults.get(k))
    node = (node_fqn(args.namespace, name) if args.namespace is not None else
            f"{name} (in the namespace the file's blocks name)")
    sys.stdout.write(f"check-params {args.file}: valid for node {node}; "
                     f"{len(changed)} parameter{' differs' if len(changed) == 1 else 's differ'}"
                     " from the defaults"
                     f"{': ' + ', '.join(changed) if changed else ''}\n")
    return 0

