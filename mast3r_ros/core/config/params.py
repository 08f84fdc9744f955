"""Config <-> flat ROS parameters: one `ParamSpec` per `Config` field (its ROS name is the
section prefix plus the field name), the strict ROS-style typing and range check of one value
(`validate_param`), and `config_from_params` / `config_to_params`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..errors import ConfigError
from .launch_args import launch_argument_hint
from .sections import Config


# Section path inside Config -> ROS parameter-name prefix.
_PREFIX = {
    ("model",): "",
    ("localizer",): "",
    ("localizer", "matching"): "matching.",
    ("localizer", "pnp"): "pnp.",
    ("localizer", "gates"): "gates.",
    ("localizer", "covariance"): "covariance.",
    ("map_build",): "map_build.",
    ("pose_at_stamp",): "pose_at_stamp.",
    ("map_check",): "map_check.",
    ("scale",): "scale.",
    ("retrieval",): "retrieval.",
    ("node",): "",
    ("tracking",): "",
}


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One parameter: its ROS name, where it lives in `Config`, type, default and constraints."""

    name: str
    path: Tuple[str, ...]
    type: type
    default: Any
    description: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: Optional[Tuple[Any, ...]] = None
    pattern: Optional[Tuple[str, str]] = None  # (regex of the whole value, valid values in words)
    fraction: bool = False  # a fraction (0.05 is 5 %): a range error says so
    zero_or_at_least: Optional[Tuple[int, str]] = None  # (N, what 0 means): 0 or >= N


def _walk(cls: type, path: Tuple[str, ...]) -> List[ParamSpec]:
    specs = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default_factory if f.default_factory is not
                                    dataclasses.MISSING else None):
            specs += _walk(f.default_factory, path + (f.name,))
            continue
        m = f.metadata
        specs.append(ParamSpec(_PREFIX[path] + f.name, path + (f.name,), type(f.default),
                               f.default, m["description"], m["lo"], m["hi"], m["choices"],
                               m["pattern"], m["fraction"], m["zero_or_at_least"]))
    return specs


_SPECS: Tuple[ParamSpec, ...] = tuple(_walk(Config, ()))
_BY_NAME: Dict[str, ParamSpec] = {s.name: s for s in _SPECS}
assert len(_BY_NAME) == len(_SPECS), "two config fields map to one parameter name"


def param_specs() -> Tuple[ParamSpec, ...]:
    """Every parameter, in declaration order."""
    return _SPECS


def _integral(text: str) -> Optional[int]:
    """The integer a string like '1e3', '1000.0' or '1000' stands for (a number written so
    that it is not read as an integer), else None (not a number, not finite, a fraction)."""
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _coerce(spec: ParamSpec, value: Any, where: str) -> Any:
    # a numpy scalar (a value read from an array) is the Python value it holds: np.int64(3) is
    # the int 3, np.float32(2.5) the float 2.5, np.bool_ a bool (refused for numbers like one)
    if isinstance(value, np.bool_):
        value = bool(value)
    elif isinstance(value, np.integer):
        value = int(value)
    elif isinstance(value, np.floating):
        value = float(value)
    t = spec.type
    if t is bool:
        if isinstance(value, bool):
            return value
    elif t is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif t is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise ConfigError(f"{where}: parameter '{spec.name}' must be finite, got {value}")
            return float(value)
    elif t is str:
        if isinstance(value, str):  # np.str_ too: a plain str, which YAML and rclpy can write
            return str(value)
    got, hint = f"{type(value).__name__} {value!r}", ""
    if value is None:  # 'map_path:' or '~': quoting it would name a folder 'None'
        got = "nothing (YAML null)"
        hint = f": give it a value, or delete the line to keep the default {spec.default!r}"
    elif isinstance(value, (list, tuple, Mapping)):
        hint = f": one value, not a {type(value).__name__}"
    elif t in (int, float) and isinstance(value, str) and ("_" in value or ":" in value):
        # 'max_keyframes: 1_000' or '1:30': a number to PyYAML (YAML 1.1), a string to ROS 2
        hint = (": ROS 2 reads a number with '_' or ':' as a string: write the plain number, "
                "e.g. 1000 for 1_000")
    elif t is bool and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        hint = f": write {value.strip().lower()} without quotes"
    elif t is float and isinstance(value, str) and _finite_number(value):
        # 'max_gap_s: "0.2"': a string to YAML and to ROS 2, which refuses it for a double
        hint = f": write {value.strip()} without quotes"
    elif t is int and isinstance(value, float) and value.is_integer():
        hint = f": write {int(value)} (ROS 2 types parameters strictly)"
    elif t is int and isinstance(value, str) and _integral(value) is not None:
        # 'max_keyframes: 1e3': a string to PyYAML (YAML 1.1), a double to ROS 2's reader
        hint = (f": write it as {_integral(value)}, an integer without quotes, '.' or "
                "exponent (ROS 2 types parameters strictly)")
    elif t is str and isinstance(value, bytes):  # np.bytes_ too: which encoding is unknown
        hint = ": decode it (.decode()) to a str"
    elif t is str and isinstance(value, os.PathLike):  # a pathlib.Path from Python code
        hint = f": pass str(path) ('{os.fspath(value)}')"
    elif t is str and isinstance(value, bool):  # 'map_frame: n': the text is not known here
        hint = (": quote it (YAML and ROS 2 read unquoted y, n, yes, no, on, off, true and "
                "false as bools)")
    elif t is str and not isinstance(value, str):
        hint = f": quote it ('{value}')"
    raise ConfigError(f"{where}: parameter '{spec.name}' must be {t.__name__}, got {got}{hint}")


def _finite_number(text: str) -> bool:
    """True when ``text`` reads as one finite number ('0.2', ' 5 ', '1e-3')."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# what other localization nodes call our parameters (AMCL): the hint for a file written for them
_OTHER_NAMES = {"global_frame_id": "map_frame", "odom_frame_id": "odom_frame",
                "base_frame_id": "base_frame"}


def did_you_mean(name: str, every_node: bool = False) -> str:
    """`` (did you mean 'x'?)`` for an unknown parameter ``name``: the parameter of the same
    last component, AMCL's name for one of ours, the closest name (difflib ratio >= 0.8) or,
    at the top level (``min_inlier``: its section left out) or under one of our sections
    (``matching.image_sise``), the parameter whose last component is closest
    (``gates.min_inliers``, ``model.image_size``: the section is often the one mistaken); ''
    when none is close. ``every_node``: a name in a block for every node (``/**``), where other
    nodes' parameters are expected: a top-level name is not matched to our sections' last
    components there (Nav2's ``tolerance`` is not a typo of ``pose_at_stamp.tolerance_s``)."""
    section, _, last = name.rpartition(".")
    close = ([n for n in _BY_NAME if n.split(".")[-1] == last]
             or [n for n in (_OTHER_NAMES.get(last),) if n in _BY_NAME]
             or difflib.get_close_matches(name, _BY_NAME, n=1, cutoff=0.8))
    ours = any(n.startswith(section + ".") for n in _BY_NAME)
    if not close and ((not section and not every_node) or (section and ours)):
        by_last = {n.split(".")[-1]: n for n in sorted(_BY_NAME)}
        close = [by_last[m] for m in difflib.get_close_matches(last, by_last, n=1, cutoff=0.8)]
    return f" (did you mean {close[0]!r}?)" if close else ""


# the path parameters, with what to give for one that is only white space ('  ': a path
# to no file, refused as an empty one is, not looked for as a folder named so)
PATH_PARAMS = {
    "map_path": "the map folder written by `mast3r-ros build-map`",
    "checkpoint": "the MASt3R checkpoint, or '' for none (matcher sift)",
    "retrieval.checkpoint": "the retrieval checkpoint, or '' for none",
    "retrieval.codebook": "the ASMK codebook, or '' for the default",
    "engine_cache": "the folder for cached TensorRT engines, or '' for the default",
}


def validate_param(name: str, value: Any, where: str = "config", *,
                   check_max: bool = True) -> Any:
    """Check one parameter's type, range and choices; return the value in its declared type.

    Types are ROS 2's, strict: an int for a float parameter becomes the float, but a float is
    never an int and a bool never a number. numpy scalars count as the Python int, float, bool or
    str they hold, and are returned converted (bytes, np.bytes_ too, are refused: decode them).

    Raises `ConfigError` naming the parameter (and ``where``) for an unknown name, a wrong type,
    a non-finite float, a `PATH_PARAMS` path that is only white space, or a value outside its
    range (of a fraction: said so; with ``check_max`` False only below it), choices or
    pattern, or outside a ``zero_or_at_least`` one's accepted set, which it names
    (``pnp.ransac_max_points``: 0 or in [4, 1000000]; 0 or >= 4 without ``check_max``).
    """
    spec = _BY_NAME.get(name)
    if spec is None:
        inside = sorted(n for n in _BY_NAME if n.startswith(name + "."))
        if inside:  # 'gates: 5' or a bare 'gates:': a section, not an unknown name
            some = ", ".join(inside[:2]) + (", ..." if len(inside) > 2 else "")
            got = "nothing (YAML null)" if value is None else f"{value!r:.40}"
            raise ConfigError(f"{where}: '{name}' is a section of parameters ({some}), not one "
                              f"value, got {got}: write its parameters indented under "
                              f"'{name.split('.')[-1]}:'")
        hint = launch_argument_hint(name, value) or did_you_mean(name)
        raise ConfigError(f"{where}: unknown parameter '{name}'{hint}")
    v = _coerce(spec, value, where)
    if spec.choices is not None and v not in spec.choices:
        raise ConfigError(f"{where}: parameter '{name}' must be one of {list(spec.choices)}, "
                          f"got {v!r}")
    if spec.pattern is not None and not re.fullmatch(spec.pattern[0], v):
        raise ConfigError(f"{where}: parameter '{name}' must be {spec.pattern[1]}, got {v!r}")
    if name in PATH_PARAMS and isinstance(v, str) and v and not v.strip():
        raise ConfigError(f"{where}: parameter '{name}' is only white space ({v!r}), an empty "
                          f"path: give {PATH_PARAMS[name]}")
    gap = spec.zero_or_at_least
    if gap is not None and not (v == 0 or gap[0] <= v and (v <= spec.hi or not check_max)):
        # the accepted set, not the range [0, hi] whose 1 to least-1 are refused as well
        least, zero = gap
        more = f"in [{least}, {spec.hi}]" if check_max else f">= {least}"
        raise ConfigError(f"{where}: parameter '{name}' must be 0 ({zero}) or {more}, got {v!r}")
    if spec.lo is not None and not (spec.lo <= v and (v <= spec.hi or not check_max)):
        unit = " (a fraction: 0.05 is 5 %)" if spec.fraction else ""
        raise ConfigError(f"{where}: parameter '{name}' must be in [{spec.lo}, {spec.hi}]{unit}, "
                          f"got {v!r}")
    return v


def config_from_params(params: Mapping[str, Any], where: str = "config",
                       base: Optional[Config] = None) -> Config:
    """Build a validated `Config` from ``{ros_param_name: value}``; unset keys keep `base`.
    Sections may be nested (``{"gates": {"min_inliers": 10}}``, the form of a parameter file's
    ``ros__parameters``) or dotted (``{"gates.min_inliers": 10}``).

    Raises `ConfigError` naming the first bad parameter (`validate_param`), a name given
    both dotted and nested (`_flatten`), or ``params`` that is not a mapping (a list of pairs).
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}: config_from_params takes a mapping {{name: value}} (a dict), "
                          f"got {type(params).__name__} {params!r:.60}")
    values = config_to_params(base or Config())
    for name, value in _flatten(params, where).items():
        values[name] = validate_param(name, value, where)
    return _build(Config, (), values)


def _build(cls: type, path: Tuple[str, ...], values: Mapping[str, Any]) -> Any:
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(
                f.default_factory):
            kwargs[f.name] = _build(f.default_factory, path + (f.name,), values)
        else:
            kwargs[f.name] = values[_PREFIX[path] + f.name]
    return cls(**kwargs)


def check_config_section(obj: Any, cls: type, where: str) -> None:
    """Check a config section made in Python (``LocalizerConfig(max_keyframes=0)``, whose
    dataclass checks nothing when made) as `config_from_params` checks parameters: ``obj``
    must be a ``cls`` (a top-level section of `Config`), each nested section its dataclass, and
    each value pass `validate_param` under its ROS name, its type, choices and minimum (not its
    maximum, a sanity bound for parameter files: ``prior_radius_m=1e6`` stands for no limit).
    Raises `ConfigError` starting with ``where``. Unchecked, ``max_keyframes=0`` matched every
    keyframe in reach, ``gates={...}`` failed deep inside with an AttributeError."""
    if not isinstance(obj, cls):
        raise ConfigError(f"{where} must be a {cls.__name__}, got {type(obj).__name__}")
    path = (_SECTION_FIELD[cls],)  # a top-level section of Config
    for spec in _SPECS:
        if spec.path[:len(path)] != path:
            continue
        value: Any = obj
        for i, name in enumerate(spec.path[len(path):-1]):
            value = getattr(value, name)
            sub = _SECTION_CLASS[spec.path[:len(path) + i + 1]]
            if not isinstance(value, sub):
                raise ConfigError(f"{where}: '{name}' must be a {sub.__name__} (from "
                                  f"mast3r_ros.core.config), got {type(value).__name__}")
        validate_param(spec.name, getattr(value, spec.path[-1]), where, check_max=False)


def _section_classes(cls: type, path: Tuple[str, ...], out: Dict[Tuple[str, ...], type]
                     ) -> Dict[Tuple[str, ...], type]:
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(
                f.default_factory):
            out[path + (f.name,)] = f.default_factory
            _section_classes(f.default_factory, path + (f.name,), out)
    return out


_SECTION_CLASS: Dict[Tuple[str, ...], type] = _section_classes(Config, (), {})
_SECTION_FIELD: Dict[type, str] = {c: p[-1] for p, c in _SECTION_CLASS.items() if len(p) == 1}


def config_to_params(cfg: Config) -> Dict[str, Any]:
    """The flat ``{ros_param_name: value}`` view of the whole `Config` (`config_from_params`'
    inverse). Raises `ConfigError` for anything else, e.g. one of its sections
    (``cfg.localizer``): that failed with an AttributeError ('no attribute model')."""
    if not isinstance(cfg, Config):
        raise ConfigError(f"config_to_params takes the whole Config (config_from_params(...)), "
                          f"got {type(cfg).__name__}")
    out = {}
    for spec in _SPECS:
        obj: Any = cfg
        for p in spec.path:
            obj = getattr(obj, p)
        out[spec.name] = obj
    return out


def _flatten(d: Mapping[str, Any], where: str = "config", every_node: bool = False
             ) -> Dict[str, Any]:
    """Flat ``{ros_param_name: value}`` of parameters written dotted (``gates.min_inliers: 10``),
    nested (``gates: {min_inliers: 10}``, as ``config/localize.yaml`` and rclpy write them) or
    both; a mapping given for a parameter's own name stays one value (`validate_param` refuses
    it as such). Raises `ConfigError` for one name written twice (dotted and nested: rclpy's
    reader keeps one of them silently), naming both spellings. ``every_node``: a block for
    every node (``/**``), which holds other nodes' parameters: every mapping is a section
    (another node's ``device: {port: ...}`` is ``device.port``, not our ``device``), and only
    our names are checked for duplicates."""
    out: Dict[str, Any] = {}
    spelled: Dict[str, str] = {}

    def walk(m: Mapping[str, Any], keys: Tuple[str, ...]) -> None:
        for k, v in m.items():
            path = keys + (str(k),)
            name = ".".join(path)
            if isinstance(v, Mapping) and (every_node or name not in _BY_NAME):
                walk(v, path)
                continue
            spelling = "".join(f"{p}: {{" for p in path[:-1]) + path[-1]
            spelling += ": ...}" + "}" * (len(path) - 2) if len(path) > 1 else ""
            if name in out and (name in _BY_NAME or not every_node):
                raise ConfigError(f"{where}: duplicate key '{name}' (written '{spelled[name]}' "
                                  f"and '{spelling}': the same parameter, one value kept; "
                                  "merge them, or delete one)")
            out[name], spelled[name] = v, spelling
    walk(d, ())
    return out
