"""The node's parameters, derived from `mast3r_ros.core.config` (no rclpy).

Descriptors (type, range, choices, description) come from `config.param_specs`, so no second
list of parameters exists; `params_to_config` turns the declared values into a validated `Config`
and adds the checks only the node needs (map path, frame names, device); `check_parameter_updates`
vets a ``ros2 param set``.

When a new value applies. The parameters in `LIVE_PARAMS` take effect at once, in every state
(`apply_live`; the node adjusts its TF timer's period for ``tf_publish_rate``). Every other
parameter is read at configure: it can be set while the node is unconfigured and is refused,
with the reason, while it is configured (inactive or active) - a value accepted then would only
apply after the next configure, which nobody would expect. The parameters in `STARTUP_PARAMS`
(``autostart``) are read once, when the node starts: a set that would change one is refused in
every state.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Dict, List, Optional, Tuple

from mast3r_ros.core.config import (
    DEVICE_PATTERN,
    ROS_BUILTIN_PARAMS,
    Config,
    ParamSpec,
    config_from_params,
    did_you_mean,
    param_specs,
    validate_param,
)
from mast3r_ros.core.config.launch_args import launch_argument_hint
from mast3r_ros.core.errors import ConfigError, Mast3rRosError
from mast3r_ros.core.message_fields import frame_id_problem
from mast3r_ros.core.frame_params import frame_params_problem
from mast3r_ros.core.path_expand import path_parameters, unset_variable_problem

# where the node's environment is set: what a path parameter's unset $VAR's fix names
NODE_ENVIRONMENT = ("the environment the node starts in (the shell that runs ros2 launch or "
                    "ros2 run, or SetEnvironmentVariable in the launch file)")

_ROS_TYPE = {bool: "bool", int: "integer", float: "double", str: "string"}

# Parameters that take effect at once (node section of the config only).
LIVE_PARAMS = frozenset({"transform_tolerance", "tf_publish_rate", "tf_timeout_s",
                         "max_image_age_s", "max_image_pixels"})
# Parameters read once, when the node starts (node section of the config only).
STARTUP_PARAMS = frozenset({"autostart"})
_DEVICE = re.compile(DEVICE_PATTERN[0])  # the config's own pattern: one definition


@dataclasses.dataclass(frozen=True)
class ParamDescriptorData:
    """What the node puts in ``rcl_interfaces/ParameterDescriptor`` for one parameter.

    ``type`` is 'bool', 'integer', 'double' or 'string'; ``lo``/``hi`` are set for ranged numbers
    (int for integers, float for doubles); ``choices_text`` goes to ``additional_constraints``.
    ``dynamic_typing`` (doubles): rclpy then accepts an integer (``tf_publish_rate: 10`` in a
    parameter file, ``ros2 param set ... tf_publish_rate 10``), which a statically typed double
    refuses ("Wrong parameter type" at a set, InvalidParameterTypeException at declare); the
    node checks the type and range itself (`declare_parameters`, `check_parameter_update`,
    `validate_param` takes an integer as the float).
    """

    name: str
    type: str
    default: Any
    description: str
    lo: Optional[float]
    hi: Optional[float]
    choices_text: str
    read_only: bool
    dynamic_typing: bool = False


def parameter_descriptor_data(spec: ParamSpec) -> ParamDescriptorData:
    """Descriptor data for a `ParamSpec` (no second list of parameters exists anywhere).

    ``read_only`` stays False: rclpy's read-only is for the node's whole life, while these are
    refused only while configured (see the module docstring); the description says which. A
    `STARTUP_PARAMS` one too: rclpy would refuse even a set to its own value (``ros2 param
    load`` of the node's dump), so `check_parameter_update` refuses only a change.
    """
    ros_type = _ROS_TYPE[spec.type]
    lo = hi = None
    if spec.lo is not None and spec.hi is not None:
        cast = int if spec.type is int else float
        lo, hi = cast(spec.lo), cast(spec.hi)
    choices = ""
    if spec.choices:
        choices = "one of: " + ", ".join(str(c) for c in spec.choices)
    description = spec.description
    if choices:
        description = f"{description} ({choices})"
    if spec.name in LIVE_PARAMS:
        description += " Takes effect at once."
    elif spec.name not in STARTUP_PARAMS:      # whose description says when it is read
        description += " Read at configure (set it while unconfigured)."
    return ParamDescriptorData(spec.name, ros_type, spec.default, description, lo, hi, choices,
                               False, dynamic_typing=ros_type == "double")


def all_parameter_descriptors() -> List[ParamDescriptorData]:
    return [parameter_descriptor_data(s) for s in param_specs()]


def check_device(value: str, where: str = "parameter 'device'") -> None:
    """Raise ConfigError unless ``value`` is auto, cpu, cuda or cuda:N."""
    if not _DEVICE.fullmatch(value):
        raise ConfigError(f"{where} must be {DEVICE_PATTERN[1]}, got {value!r}")


def validate_node_config(cfg: Config) -> Config:
    """Checks only the node needs (the offline CLI has no frames or map_path parameter), and a
    path parameter naming an environment variable that is not set (`unset_variable_problem`:
    said so, not as a map or checkpoint not found)."""
    check_device(cfg.model.device)
    node = cfg.node
    if not node.map_path:
        raise ConfigError("parameter 'map_path' is empty: pass the map folder written by "
                          "`mast3r-ros build-map` (launch argument map:=/path/to/map) or set "
                          "map_path in the parameter file; if a parameter file was given, check "
                          "that it was loaded: launch_ros only warns 'Parameter file path is "
                          "not a file' for a mistyped path, and a file whose top-level key is "
                          "neither this node's name nor /** is not applied to it")
    why = frame_params_problem(node.map_frame, node.odom_frame, node.base_frame)
    if why:
        raise ConfigError(why)
    for name, value in path_parameters(cfg).items():  # '$MAPS/office' with MAPS unset
        why = unset_variable_problem(value, f"parameter '{name}'", NODE_ENVIRONMENT)
        if why:
            raise ConfigError(why)
    return cfg


def load_localizer(cfg: Config) -> Any:
    """The node's `Localizer` for a validated ``cfg`` (`params_to_config`): `Localizer.from_config`
    on its ``map_path``, the fixes its refusals name told as this node's parameters
    (`given_as.PARAMETERS`: "the parameter 'checkpoint'"), not the commands' flags (a DUSt3R
    checkpoint, a checkpoint given as ``map_path``; the checkpoint's cheap checks, which
    check-params runs too, come first, in those words: the network loader's name the flags).
    Backend 'tensorrt' without TensorRT or CUDA (`require_tensorrt_runtime`) is refused next,
    before the map or the network is loaded, in the engine build's words.
    Raises what `Localizer.from_config` raises, and `Mast3rRosError` when the localizer cannot
    be imported (PyTorch missing)."""
    try:
        from mast3r_ros.core.localizer import Localizer
        from mast3r_ros.core.model.checkpoint import require_checkpoint, resolve_checkpoint
    except ImportError as err:
        raise Mast3rRosError(f"cannot import the localizer ({err}); is PyTorch installed "
                             "for this Python?") from err
    from mast3r_ros.core.model.given_as import PARAMETER_PASSED_AS, PARAMETERS

    if cfg.localizer.matcher == "mast3r" and cfg.model.checkpoint:
        require_checkpoint(resolve_checkpoint(cfg.model.checkpoint) or "", PARAMETER_PASSED_AS,
                           PARAMETERS)
        if cfg.model.backend == "tensorrt":  # TensorRT, CUDA: before the map or network loads
            from mast3r_ros.core.model.tensorrt_runtime import require_tensorrt_runtime

            require_tensorrt_runtime(cfg.model.device)
    return Localizer.from_config(cfg, cfg.node.map_path, given=PARAMETERS)


def params_to_config(values: Mapping[str, Any], where: str = "ROS parameters") -> Config:
    """The node's parameter values ``{name: value}`` -> a validated `Config`.

    Names outside `param_specs` (``use_sim_time``, ``diagnostic_updater.*``) are ignored.
    Raises ConfigError naming the offending parameter.
    """
    names = {s.name for s in param_specs()}
    cfg = config_from_params({k: v for k, v in values.items() if k in names}, where=where)
    return validate_node_config(cfg)


_FRAME_PARAMS = ("map_frame", "odom_frame", "base_frame")
_UNKNOWN = object()


def check_parameter_update(name: str, value: Any, configured: bool = False,
                           current: Any = _UNKNOWN) -> Tuple[bool, str]:
    """Runtime ``ros2 param set`` check -> (accepted, reason); names not ours are accepted.

    The value is validated (type, range, choices, device, a frame name as configure checks it:
    not empty, no white space around it, no leading '/'; ``odom_frame`` may be empty); while
    ``configured``, a parameter outside `LIVE_PARAMS` is refused because it is only read at
    configure, unless ``value`` equals ``current`` (the parameter's value now, same type): such
    a set changes nothing (``ros2 param load`` of the node's own ``ros2 param dump``). One of
    `STARTUP_PARAMS` is refused in every state unless it equals ``current`` (given: the node
    always gives it).
    """
    if name not in {s.name for s in param_specs()}:
        return True, ""
    try:
        v = validate_param(name, value, where="parameter update")
        if name == "device":
            check_device(v, where="parameter update: parameter 'device'")
    except ConfigError as err:
        return False, str(err)
    if name in _FRAME_PARAMS and (v or name != "odom_frame"):
        why = frame_id_problem(v)
        if why:
            return False, f"parameter update: parameter '{name}': {why}"
    unchanged = type(value) is type(current) and value == current
    if name in STARTUP_PARAMS and current is not _UNKNOWN and not unchanged:
        return False, (f"parameter '{name}' is read only when the node starts: set it in the "
                       f"parameter file, with -p {name}:=<value> or the launch argument, and "
                       "start the node again")
    if configured and name not in LIVE_PARAMS and not unchanged:
        return False, (f"parameter '{name}' is read at configure and the node is configured: "
                       "deactivate and clean up the node, set it, then configure again (takes "
                       f"effect at once: {', '.join(sorted(LIVE_PARAMS))})")
    return True, ""


def check_parameter_updates(updates: Sequence[Any], errors: Dict[str, str],
                            configured: bool = False,
                            current: Optional[Callable[[str], Any]] = None) -> Tuple[bool, str]:
    """A ``ros2 param set`` of ``updates`` (objects with ``name`` and ``value``) -> (accepted,
    reason). All or none: the first refused value refuses the set. ``current(name)`` gives a
    parameter's value now (the node's ``get_parameter(name).value``): with it, a set that keeps
    a value unchanged is accepted while configured. Accepted names are removed from ``errors``
    (a bad start-up value that has now been fixed). That map_frame, odom_frame and base_frame
    differ is left to configure: a set one at a time may pass through equal names."""
    ours = {s.name for s in param_specs()}
    for p in updates:
        now = current(p.name) if current is not None and p.name in ours else _UNKNOWN
        ok, reason = check_parameter_update(p.name, p.value, configured, now)
        if not ok:
            return False, reason
    for p in updates:
        errors.pop(p.name, None)
    return True, ""


def declare_parameters(node: Any, descriptor_msg: Callable[[ParamDescriptorData], Any]
                       ) -> Dict[str, str]:
    """Declare every parameter on ``node`` (``declare_parameter(name, default, descriptor)``).

    One call per name: Humble ignores YAML values for ``declare_parameters`` prefixes. A YAML or
    command-line value of the wrong type or out of range would make ``declare_parameter`` raise
    and kill the node; instead the default is declared (``ignore_override=True``) and the reason
    is returned as ``{name: message}``, so that configure can fail naming it. A double
    parameter is dynamically typed (`ParamDescriptorData`): rclpy takes any value for it, so
    the value is checked here (`validate_param`: an integer is the float, anything else and a
    value out of range is refused the same way, and the default declared in its place; an
    integer is declared again as its float, so that ``ros2 param get`` and ``ros2 param
    describe`` say double). ``descriptor_msg`` builds the ``ParameterDescriptor`` message.
    """
    errors: Dict[str, str] = {}
    for d in all_parameter_descriptors():
        desc = descriptor_msg(d)
        try:
            declared = node.declare_parameter(d.name, d.default, desc)
        except Exception as err:  # noqa: BLE001 - rclpy raises several exception types here
            errors[d.name] = f"parameter '{d.name}': {err}"
            node.declare_parameter(d.name, d.default, desc, ignore_override=True)
            continue
        if d.dynamic_typing:
            try:
                value = validate_param(d.name, declared.value, where="parameter file or -p")
            except ConfigError as err:          # already names the parameter
                errors[d.name] = str(err)
                node.undeclare_parameter(d.name)
                node.declare_parameter(d.name, d.default, desc, ignore_override=True)
                continue
            if type(declared.value) is not float:   # 10 for 10.0: declared as the double
                node.undeclare_parameter(d.name)
                node.declare_parameter(d.name, float(value), desc, ignore_override=True)
    return errors


def integers_as_doubles(updates: Sequence[Any], make: Callable[[str, float], Any]) -> List[Any]:
    """``updates`` (objects with ``name`` and ``value``) with an integer value for one of the
    node's double parameters replaced by ``make(name, float(value))`` (the node makes an rclpy
    ``Parameter``); the others, bools included, as they are.

    For rclpy's pre-set callback (Iron and later: ``add_pre_set_parameters_callback``): a
    ``ros2 param set ... tf_publish_rate 10`` is then stored as 10.0, so ``ros2 param get`` and
    ``describe`` keep saying double. Humble has no pre-set callback: there the integer is
    stored as it was given (the node reads it as the float).
    """
    doubles = {d.name for d in all_parameter_descriptors() if d.dynamic_typing}
    return [make(p.name, float(p.value)) if p.name in doubles and type(p.value) is int else p
            for p in updates]


def restore_descriptor_types(names: Iterable[str], describe: Callable[[str], Any],
                             current_type: Callable[[str], int]) -> None:
    """After a refused ``ros2 param set``: put back the type of each dynamically typed
    parameter's descriptor among ``names`` (``describe(name)``: the node's stored
    ``ParameterDescriptor``) to ``current_type(name)``, the ``rcl_interfaces/ParameterType`` of
    the value it still holds.

    rclpy's ``Node._apply_descriptor`` writes the type of the value *tried* into the stored
    descriptor of a parameter declared with ``dynamic_typing`` before the node's callback
    judges it (rclpy humble and jazzy alike), so without this ``ros2 param describe`` would
    show 'string' for ``tf_publish_rate`` after a refused ``ros2 param set ... fast`` while the
    parameter still holds 20.0. A name that is not ours or not dynamically typed is left alone;
    a failing ``describe``/``current_type`` (another rclpy) is skipped: only the display
    suffers, never the set's answer.
    """
    dynamic = {d.name for d in all_parameter_descriptors() if d.dynamic_typing}
    for name in names:
        if name not in dynamic:
            continue
        try:
            describe(name).type = int(current_type(name))
        except Exception:  # noqa: BLE001 - display only; the refusal must still be answered
            continue


def unknown_parameter_warnings(given: Iterable[str],
                               every_node: Iterable[str] = ()) -> List[str]:
    """One warning per name in ``given`` (the node's parameter overrides: parameter files and
    ``-p``) that the node does not declare, with the closest parameter.

    rclpy keeps an override that is never declared and says nothing, so a misspelled key of a
    parameter file (``max_keyframe``, AMCL's ``global_frame_id``) would silently leave the
    default in force; the offline CLI refuses the same file. rclpy's own parameters
    (`ROS_BUILTIN_PARAMS`, ``qos_overrides.*``) are not reported.

    ``every_node``: the names set only through blocks for every node (``/**``; rclpy does not
    say which block a key came from: `mast3r_ros.core.config.every_node_only_names` reads the
    files again). Such a block holds other nodes' parameters too (a Nav2 file's shared
    ``/**`` block), so one of those names is said only when it is a letter away from one of
    ours (probably a typo), as the offline tools' ``--params`` says it; the others are not.
    """
    declared = {d.name for d in all_parameter_descriptors()}
    shared = set(every_node)
    lines = []
    for name in sorted(set(given)):
        if name in declared or name in ROS_BUILTIN_PARAMS or name.startswith("qos_overrides."):
            continue
        hint = did_you_mean(name, every_node=name in shared)
        if name not in shared:
            # rclpy merges files and -p (`parameter_override_names`): which one set it is unknown
            hint = launch_argument_hint(
                name, where=f"the parameter file, or drop the -p {name}:=... that sets it") or hint
            lines.append(f"parameter '{name}' is set (parameter file or -p) but this node has "
                         f"no such parameter, so it has no effect{hint}")
        elif hint:
            lines.append(f"parameter '{name}' is set in a parameter-file block for every node "
                         f"(/**) and is not one of this node's parameters{hint}; ignored here, "
                         "as other nodes' parameters are")
    return lines


def parameter_override_names(node: Any) -> Optional[List[str]]:
    """The names of the parameter overrides ``node`` was started with (parameter files, ``-p``,
    launch ``parameters=``), or None when this rclpy does not let them be read.

    rclpy has no public accessor for them (rclcpp has ``get_parameter_overrides()``); its
    ``Node.__init__`` sets ``self._parameter_overrides = self.__node.get_parameters(Parameter)``,
    a dict ``{name: Parameter}`` of this node's overrides, updated with the constructor's
    ``parameter_overrides`` (read in Iron-or-later copies of rclpy's node.py; the same line is
    quoted from a Humble install). The public routes do not give them: undeclared overrides
    stay invisible with ``allow_undeclared_parameters`` (``get_parameters_by_prefix`` lists
    declared parameters only), and ``automatically_declare_parameters_from_overrides`` declares
    every override in the constructor, before the node's own typed declarations (each would then
    raise ParameterAlreadyDeclaredException), and publishes the misspelled keys as parameters.
    The private attribute is feature-detected: absent, not a mapping of str names (a list of
    Parameters is read by ``.name``), or raising when read, the answer is None and the node
    skips its unknown-parameter warning instead of failing to start.
    """
    try:
        overrides = getattr(node, "_parameter_overrides", None)
        if overrides is None:
            return None
        if isinstance(overrides, Mapping):
            names = list(overrides.keys())
        elif isinstance(overrides, (list, tuple)):
            names = [getattr(p, "name", None) for p in overrides]
        else:
            return None
    except Exception:  # noqa: BLE001 - a private attribute may be anything in another rclpy
        return None
    if not all(isinstance(n, str) for n in names):
        return None
    return names


def startup_errors_text(errors: Mapping[str, str]) -> str:
    """`declare_parameters`' errors still in force that make configure fail, in one line (""
    when none): /diagnostics says them while the node is unconfigured. One of `STARTUP_PARAMS`
    (not read at configure) is left out: its start-up line (`startup_error_lines`) says it."""
    return "; ".join(why for name, why in errors.items() if name not in STARTUP_PARAMS)


def startup_error_lines(errors: Mapping[str, str]) -> List[str]:
    """One error line per bad start-up value (`declare_parameters`), logged when the node
    starts: configure would say them only when someone configures it. One of `STARTUP_PARAMS`
    cannot be set right by ``ros2 param set`` (`check_parameter_update` refuses a change), so
    its line says to start the node again."""
    defaults = {d.name: d.default for d in all_parameter_descriptors()}
    return [f"{why}; the default {defaults.get(name)!r} is "
            + (f"in force, read only when the node starts (configure does not read it): fix "
               f"the parameter file, -p {name}:=<value> or the launch argument, and start the "
               "node again" if name in STARTUP_PARAMS else
               f"declared instead and configure fails until it is set right (ros2 param set "
               f"{name} <value>, or fix the parameter file)")
            for name, why in errors.items()]


def refused_start_status(status: str, name: str, errors: Mapping[str, str]) -> str:
    """/diagnostics' value of a `STARTUP_PARAMS` one (``autostart``: the node's own bring-up,
    ``status`` as `SelfStart` says it) when its start value was refused (``errors``,
    `declare_parameters`): ``status`` with why and the fix, as nothing else on /diagnostics
    names it (`startup_errors_text` leaves it out); ``status`` as it is otherwise."""
    if name not in errors:
        return status
    return f"{status}: {errors[name]}; start the node again with it set right"


def read_config(value_of: Callable[[str], Any], errors: Mapping[str, str]) -> Config:
    """The declared parameters (``value_of(name)``) -> a validated `Config`.

    Raises ConfigError naming the parameter: one of ``errors`` (bad values given at start, see
    `declare_parameters`; not one of `STARTUP_PARAMS`, which configure does not read) or a
    value `params_to_config` rejects.
    """
    # one of STARTUP_PARAMS (autostart) is not read here and no `ros2 param set` can change
    # it: its bad value would leave configure failing until the node is started again
    blocking = startup_errors_text(errors)
    if blocking:
        raise ConfigError("invalid parameter values from the parameter file or command line: "
                          + blocking)
    return params_to_config({d.name: value_of(d.name) for d in all_parameter_descriptors()})


def apply_live(cfg: Config, updates: Sequence[Any]) -> Config:
    """``cfg`` with the accepted `LIVE_PARAMS` among ``updates`` applied (others ignored)."""
    live = {p.name: validate_param(p.name, p.value, where="parameter update")
            for p in updates if p.name in LIVE_PARAMS}
    if not live:
        return cfg
    return dataclasses.replace(cfg, node=dataclasses.replace(cfg.node, **live))
