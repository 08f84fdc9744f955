"""``--node-name N``: the node whose blocks of a ROS 2 parameter file the offline tools read,
where a launch renames the node (``Node(name='cam2_localizer', ...)``), so the file's blocks
name it so (``cam2_localizer:``, ``/**/cam2_localizer:``). One option, one meaning, for
`check-params` and for every command taking ``--params`` (localize, build-map, check-map, the
demo, pair, retrieve): left out, the node's own name (`NODE_NAME`); the file is read with
`load_config_yaml`'s ``node_name``, so a name no block names is refused in the same words
whichever command reads it."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.config import NODE_NAME
from ..core.errors import InputError

NODE_NAME_HELP = ("the node's name, where the launch renames it: read the parameter file's "
                  f"blocks for a node so named (default: {NODE_NAME})")


def add_node_name(p: Any) -> None:
    """``--node-name`` on parser or argument group ``p`` (None when left out: `node_name`)."""
    p.add_argument("--node-name", metavar="N", help=NODE_NAME_HELP)


def node_name(args: argparse.Namespace) -> str:
    """The node name ``args`` give (`NODE_NAME` where --node-name is left out, or where the
    command has no --node-name). Raises `ConfigError` for a name that is no ROS node name (one
    holding its namespace is told to split them)."""
    name = getattr(args, "node_name", None)
    if name is None:
        return NODE_NAME
    _check_node_name(name)
    return name


def _check_node_name(name: str) -> None:
    """ConfigError for a ``--node-name`` that is no node name: the fully qualified name
    ``ros2 node list`` prints (``/robot1/mast3r_localizer``) gave advice to use
    '/robot1//robot1/mast3r_localizer'; its namespace goes in ``--namespace``."""
    from ..core.config.blocks import _NAME_TOKEN
    from ..core.errors import ConfigError

    ns, sep, base = name.strip().rpartition("/")
    if _NAME_TOKEN.fullmatch(name):
        return
    if sep and not ns.strip("/") and _NAME_TOKEN.fullmatch(base):  # '/name': ros2 node list's
        raise ConfigError(f"--node-name {name!r} holds the root namespace's '/': give the node's "
                          f"name alone, --node-name {base}")
    if ns.strip("/") and _NAME_TOKEN.fullmatch(base):
        raise ConfigError(f"--node-name {name!r} holds a namespace: give the node's name alone "
                          f"and the namespace apart, --node-name {base} --namespace "
                          f"{ns if ns.startswith('/') else '/' + ns}")
    raise ConfigError(f"--node-name {name!r} is not a ROS node name (letters, digits and '_', "
                      "not starting with a digit), e.g. mast3r_localizer")


def refuse_without_params(args: argparse.Namespace) -> None:
    """`InputError` for --namespace or --node-name given without the --params they select
    the blocks of (they would change nothing: the defaults are read)."""
    for option, dest in (("--namespace", "namespace"), ("--node-name", "node_name")):
        if getattr(args, dest, None) is not None:
            what = "a robot's" if dest == "namespace" else "the node's"
            raise InputError(f"{option} selects {what} blocks of a parameter file: pass "
                             "--params YAML too")
