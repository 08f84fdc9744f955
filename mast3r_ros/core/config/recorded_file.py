"""A run's own config.yaml read back under the node name it was written for (no rclpy).

`dump_config_yaml` writes one ``/**/NAME`` block; a localize run given ``--node-name
cam2_localizer`` writes it for that name, so the file works as the renamed node's parameter
file and ``check-params FILE --node-name cam2_localizer`` reads it. What reads the run's file
back (--resume's settings and comparison, the map a run folder records) takes the name from
the file's one block instead of assuming the default."""

from __future__ import annotations

from typing import Any

from .blocks import NODE_NAME
from .param_file import load_config_yaml


def recorded_node_name(path: str) -> str:
    """The NAME of the file's one ``/**/NAME`` block (`dump_config_yaml`'s layout), else
    `NODE_NAME` (another layout, or a file that cannot be read: `load_config_yaml` then says
    why)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, ValueError, yaml.YAMLError):
        return NODE_NAME
    if isinstance(doc, dict) and len(doc) == 1:
        key = next(iter(doc))
        if isinstance(key, str) and key.startswith("/**/") and key[4:]:
            return key[4:]
    return NODE_NAME


def load_recorded_config(path: str, **kwargs: Any) -> Any:
    """`load_config_yaml` of a run's own config.yaml ``path`` for the node it was written for
    (`recorded_node_name`); the same errors."""
    return load_config_yaml(path, node_name=recorded_node_name(path), **kwargs)
