"""One configuration schema, two front ends (the ROS node's parameters and the offline CLI).

Every field is declared once, with its default, description and valid range or choices. The ROS
parameter name of a field is its section prefix plus its name (``gates.min_inliers``,
``checkpoint``); `param_specs` lists them all, `config_from_params` turns a ``{name: value}``
mapping (names dotted, ``gates.min_inliers``, or nested, ``gates: {min_inliers: ...}``) into a
validated `Config`, and `load_config_yaml` reads the ROS
parameter-file format (``<node>: {ros__parameters: {...}}``) that ``config/localize.yaml`` uses.

Modules: `sections` (the dataclasses, `ModelConfig` ... `Config`: every field's default,
description and range), `params` (`ParamSpec`, validation, config <-> flat parameters),
`blocks` (which parameter-file blocks rclpy applies to the node: `node_fqn`, ``/*`` and
``/**``), `param_file` (`load_config_yaml`, `dump_config_yaml`). Import the public names from
this package.
"""

from __future__ import annotations

from .blocks import NODE_NAME, every_node_only_names, misspelt_node_block_warnings, node_fqn
from .param_file import ROS_BUILTIN_PARAMS, dump_config_yaml, load_config_yaml
from .params import (
    ParamSpec,
    check_config_section,
    config_from_params,
    config_to_params,
    did_you_mean,
    param_specs,
    validate_param,
)
from .sections import (
    DEVICE_PATTERN,
    Config,
    CovarianceConfig,
    GateConfig,
    LocalizerConfig,
    MapBuildConfig,
    MapCheckConfig,
    MatchingConfig,
    ModelConfig,
    NodeConfig,
    PnPConfig,
    PoseAtStampConfig,
    RetrievalConfig,
    ScaleConfig,
    TrackingConfig,
)

__all__ = [
    "DEVICE_PATTERN", "NODE_NAME", "ROS_BUILTIN_PARAMS", "Config", "CovarianceConfig",
    "GateConfig", "LocalizerConfig", "MapBuildConfig", "MapCheckConfig", "MatchingConfig",
    "ModelConfig", "NodeConfig", "ParamSpec", "PnPConfig", "PoseAtStampConfig",
    "RetrievalConfig", "ScaleConfig", "TrackingConfig", "check_config_section",
    "config_from_params", "config_to_params",
    "did_you_mean", "dump_config_yaml", "every_node_only_names", "load_config_yaml",
    "misspelt_node_block_warnings", "node_fqn", "param_specs",
    "validate_param",
]
