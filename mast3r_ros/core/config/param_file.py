"""The ROS 2 parameter file (``<node>: {ros__parameters: {...}}``, the format
``config/localize.yaml`` uses): `load_config_yaml` reads it as rclpy would (strict YAML, the
blocks that apply to the node merged in file order, ROS's typing) into a validated `Config`;
`dump_config_yaml` writes one.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

from ..errors import ConfigError
from ..fileio import atomic_write_text
from ..command_flags import checkpoint_goes, elsewhere
from ..text_files import decode_text, not_text, not_text_fix
from .blocks import (NODE_NAME, _blocks_for_node, _dotted_names, _wildcard_node,
                     misspelt_node_block_warning, misspelt_node_key, node_fqn)
from .params import _BY_NAME, _flatten, config_from_params, config_to_params, did_you_mean
from .sections import Config

log = logging.getLogger(__name__)


# Parameters rclpy declares on every node itself: a node's parameter file may set them (Nav2's
# do), and the offline tools have nothing to do with them.
ROS_BUILTIN_PARAMS = ("use_sim_time", "start_type_description_service")
# What ROS's YAML reader (libyaml, YAML 1.2 numbers) reads as a double but PyYAML (YAML 1.1)
# as a string: exponents without a dot, e.g. 1e-2
_YAML12_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int):
        super().__init__(f"duplicate key {key!r} at line {line}")
        self.key, self.line = key, line


# What rcl reads as a double (C's strtod of the whole scalar) where PyYAML reads a string
_RCL_DOUBLE = re.compile(r"[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf(inity)?|nan"
                         r"|0x([0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(p[-+]?\d+)?)", re.IGNORECASE)


class _RclNumber(str):
    """A plain (unquoted) scalar PyYAML reads as a string and rcl as a double (``1e3``,
    ``inf``, ``0x1p3``): a string parameter given one is refused, as the node refuses it."""


def _rcl_reads_as_string(text: str) -> bool:
    """True for a number of YAML 1.1 (PyYAML's int or float) that rcl's parameter parser, which
    reads numbers with C's strtoll / strtod, reads as a string: ``1_000``, ``1:30`` (base 60),
    ``0b101``."""
    return "_" in text or ":" in text or text.lstrip("+-").lower().startswith("0b")


class _BadValue(yaml.YAMLError):
    def __init__(self, node: yaml.Node, err: Exception):
        super().__init__(f"{node.tag} {node.start_mark.line + 1}: {err}")
        self.node, self.err = node, err


class _Alias(yaml.YAMLError):
    def __init__(self, anchor: str, line: int):
        super().__init__(f"alias *{anchor} at line {line}")
        self.anchor, self.line = anchor, line


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing a mapping with two equal keys: PyYAML keeps the last value
    at the first key's position, so two ``/**`` blocks would read as one, in the wrong place
    for 'the later block wins'; and refusing an alias (``*name``, ``<<: *name``), as rcl's
    parameter parser does: accepted, a file the node refuses read here, and an alias of its
    own mapping (or aliases each doubling the one before) recursed or walked without end.
    Plain scalars are typed as rcl types them where YAML 1.1 differs: ``y`` / ``n`` are bools,
    ``1_000``, ``1:30`` and ``0b101`` strings (a file PyYAML reads as numbers the node
    refuses)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, OverflowError) as err:  # '!!int 3.0', ...
            raise _BadValue(node, err) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        if _rcl_reads_as_string(node.value):
            return self.construct_scalar(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        if _rcl_reads_as_string(node.value):
            return self.construct_scalar(node)
        return super().construct_yaml_float(node)

    def construct_yaml_str(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_str(node)
        if node.style is None and _RCL_DOUBLE.fullmatch(value):
            return _RclNumber(value)
        return value

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> Any:
        if node.value in ("y", "Y", "n", "N"):
            return node.value in ("y", "Y")
        return super().construct_yaml_bool(node)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Alias(event.anchor, event.start_mark.line + 1)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
            except TypeError:  # unhashable: SafeLoader says so
                pass
        return super().construct_mapping(node, deep=deep)


for _tag in ("int", "float", "bool", "str"):  # PyYAML looks constructors up by tag, not by name
    _UniqueKeyLoader.add_constructor(f"tag:yaml.org,2002:{_tag}",
                                     getattr(_UniqueKeyLoader, f"construct_yaml_{_tag}"))
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"),
                                       list("yYnN"))


class _RclDumper(yaml.SafeDumper):
    """SafeDumper quoting the strings rcl reads as bools (``y``, ``n``) or doubles (``1e3``,
    ``inf``), as it quotes ``yes`` and ``1.5``."""


_RclDumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"),
                                 list("yYnN"))
_RclDumper.add_implicit_resolver("tag:yaml.org,2002:float",
                                 re.compile(f"^(?:{_RCL_DOUBLE.pattern})$", re.IGNORECASE), None)


def _shipped_params_file(here: Optional[str] = None) -> Optional[str]:
    """The node's parameter file that comes with the package, or None: a checkout's
    ``config/localize.yaml`` beside the package, else the installed copy in
    ``<prefix>/share/mast3r_ros/config/`` (a wheel's data files, colcon's install) of the prefix
    whose ``lib/pythonX.Y/site-packages`` holds the package. ``here``: this module's path."""
    pkg = Path(here or __file__).resolve().parents[2]  # .../mast3r_ros (the package)
    for cand in (pkg.parent / "config" / "localize.yaml",
                 pkg.parents[3] / "share" / "mast3r_ros" / "config" / "localize.yaml"
                 if len(pkg.parents) > 3 else None):
        if cand is not None and cand.is_file():
            return str(cand)
    return None


def _goes(argument: str) -> str:
    """Where a checkpoint given as the parameter file goes, for the command whose file argument
    is ``argument``: build-map's and localize's ``--params`` stand beside ``--checkpoint``;
    check-params (``FILE``) has no such option, and its file names the checkpoint."""
    if argument == "--params":  # check-map's, demo's: the commands with --checkpoint
        return checkpoint_goes()
    return (f"{argument} takes the node's parameter file (your copy of config/localize.yaml), "
            "which names the checkpoint in its 'checkpoint' parameter (build-map and localize "
            "take it as --checkpoint)")


def _shipped_hint(path: str) -> str:
    """For a missing ``.../localize.yaml`` (the README's ``--params config/localize.yaml`` run
    outside the checkout): where the package's own file is."""
    if os.path.basename(path) != "localize.yaml":
        return ""
    shipped = _shipped_params_file()
    if shipped is None:
        return ""
    where = "" if os.path.isabs(path) else f" (relative to {os.getcwd()})"
    return f"{where}; the one that comes with mast3r_ros is {shipped}"


def _yaml_inside(folder: str) -> str:
    """For a folder given as the parameter file (``--params config``): the YAML files in it to
    give instead (at most 3 named), else the package's own file."""
    try:
        found = sorted(n for n in os.listdir(folder) if n.endswith((".yaml", ".yml")))
    except OSError:
        found = []
    if found:
        names = ", ".join(os.path.join(folder, n) for n in found[:3])
        return f", e.g. {names}" if len(found) > 1 else f": {names}"
    shipped = _shipped_params_file()
    return f" (the one that comes with mast3r_ros is {shipped})" if shipped else ""


def _misspelt_node_key(doc: Mapping[Any, Any], node_name: str) -> str:
    """``; 'KEY' (did you mean 'FIXED'?): ...`` for a top-level key of ``doc`` that names the
    node misspelt (`misspelt_node_key`); '' for none."""
    found = misspelt_node_key(doc, node_name)
    if not found:
        return ""
    # a node name given (--node-name) may be the typo: the name the file's key spells offered
    named = found[0].rstrip("/").rpartition("/")[2]
    other = f", or --node-name {named}" if node_name != NODE_NAME and named != node_name else ""
    return (f"; {found[0]!r} (did you mean {found[1]!r}{other}?): a block applies only to the "
            "node it names, so ROS would apply none of it either")


def _renamed_node_block(doc: Mapping[Any, Any], node_name: str) -> str:
    """``; 'KEY' sets this node's parameters ...`` for the first top-level block naming
    another node (no wildcard) that sets at least 3 parameters, all of them this node's: a copy
    of config/localize.yaml for a node its launch renames, which every command reads with
    --node-name; '' for none (another node's block: AMCL's, a one-line talker's)."""
    for key, block in doc.items():
        name = str(key).rstrip("/").rpartition("/")[2]
        if name in ("", "*", "**", node_name) or not isinstance(block, Mapping):
            continue
        names = _dotted_names(block.get("ros__parameters"))
        if len(names) >= 3 and all(n in _BY_NAME for n in names):
            return (f"; {str(key)!r} sets this node's parameters ({len(names)} of them) for a "
                    f"node named {name!r} (renamed by its launch?): pass --node-name {name} "
                    f"to read it (every command taking the file has it), or key the block "
                    f"for {node_name!r} or for every node ('/**')")
    return ""


def load_config_yaml(path: str, node_name: str = NODE_NAME,
                     base: Optional[Config] = None, namespace: Optional[str] = None,
                     missing_fix: str = "", argument: str = "--params") -> Config:
    """Read a ROS 2 parameter file (the node's ``config/localize.yaml``) into a `Config`.

    The blocks read are the ones rclpy applies to the node (a key matching its full name,
    '/*' one name, '/**' any number), merged in file order, the later winning, as rclpy merges
    them. Which node: ``namespace`` ('robot1', '/robot1'; '/' the root) names it; without it,
    the namespaces the file names the node in (``node_name`` and ``/*``: the root's;
    ``/robot1/node_name``, ``/robot1/*``, ``/robot1/**``: robot1's) decide: several are
    refused (rclpy gives no one node all those blocks: which robot's would it be?), one is
    that namespace's node (a single robot's file needs no ``namespace``), none (wildcards
    only: ``/**``, ``/**/node_name``, ``/*/node_name``) reads the blocks for the node in any
    namespace. A ``namespace`` that no block naming the node applies to (its own, or one for
    the node in any namespace: ``/**/node_name``), in a file that names others, is refused (a
    typo would take the blocks for every node, ``/**``, alone).

    Namespaces may also be nested (``robot1: {mast3r_localizer: {ros__parameters: ...}}``, the
    form Nav2's RewrittenYaml writes). rclpy's own parameters (`ROS_BUILTIN_PARAMS`:
    ``use_sim_time`` ...; ``qos_overrides.*``) are skipped, and so are unknown names in a
    block for every node (its node name a wildcard: ``/**``, ``/robot1/*``: other nodes'
    parameters, as rclpy ignores undeclared overrides); an unknown name in a block naming the
    node (``mast3r_localizer``, ``/**/mast3r_localizer``) is an error (a typo). A block the
    node would miss for a typo in its key (``mast3r_localizr:`` beside ``/**``) is logged as a
    warning, in the node's words (`misspelt_node_block_warning`).

    Values are typed as ROS types them, and a file tuned offline is one the robot accepts: an
    integer where a double is declared (``rate: 10``) is the double, as the node takes it (its
    doubles are dynamically typed), a number where a string is declared is refused as the node
    would refuse it; ``1e-2``, a double for ROS's YAML reader and a string for PyYAML, is read
    as the double.

    ``argument``: how the calling command spells the file's argument (check-params' ``FILE``),
    named where a file of another kind is refused ('--params takes the node's parameter file').

    Raises `ConfigError` naming the file (and the parameter) for a missing (``; {missing_fix}``
    after it, the caller's advice, unless the path's blank edge or the package's own file is
    the advice) or unreadable file,
    invalid YAML, a duplicate key (PyYAML would keep one silently), a YAML alias (``*name``,
    ``<<: *name``: rcl refuses them), a block naming the node
    without ``ros__parameters`` or with a misspelled one, ``ros__parameters`` not a mapping,
    no block for the node, blocks for several namespaces or a bad parameter.
    """
    data = b""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        # UTF-8, or UTF-16/32 after their byte-order mark (Windows PowerShell's '>', Notepad)
        doc = yaml.load(decode_text(data), Loader=_UniqueKeyLoader)  # a SafeLoader
    except FileNotFoundError:
        from ..path_blanks import blank_edge_note

        hint = blank_edge_note(path) + _shipped_hint(path)
        fix = f"; {missing_fix}" if missing_fix and not hint else ""
        raise ConfigError(f"parameter file not found: {path}{hint}{fix}") from None
    except IsADirectoryError:  # said "cannot read parameter file X: Is a directory"
        raise ConfigError(f"parameter file {path} is a folder: give the YAML file itself"
                          f"{_yaml_inside(path)}") from None
    except OSError as e:  # no permission, ...
        raise ConfigError(f"cannot read parameter file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:  # an image given as --params, a Latin-1 comment
        fix = not_text_fix(data, "give a YAML file, saved as UTF-8", _goes(argument))
        raise ConfigError(f"parameter file {path} is not {not_text(data, e)}; {fix}") from None
    except _DuplicateKey as e:
        raise ConfigError(f"{path}: duplicate key {e.key!r} at line {e.line} (YAML keeps one of "
                          "the two; merge them, or delete one)") from None
    except _Alias as e:
        raise ConfigError(f"{path}: YAML alias '*{e.anchor}' at line {e.line}: ROS 2's parameter "
                          "parser refuses aliases ('Will not support aliasing'), so the node "
                          "would refuse this file; write the value out where the alias is"
                          ) from None
    except _BadValue as e:
        tag = e.node.tag.replace("tag:yaml.org,2002:", "!!")
        raise ConfigError(f"{path}: line {e.node.start_mark.line + 1}: {tag} "
                          f"{getattr(e.node, 'value', '')!r:.40} is no value of that type "
                          f"({type(e.err).__name__}: {e.err}); write the value without the tag"
                          ) from None
    except yaml.YAMLError as e:  # where and what, in one line (a tab: said to indent with spaces)
        from ..image_codec.camera_info_yaml import _yaml_error_text
        raise ConfigError(f"{path}: not valid YAML{_yaml_error_text(e)}") from None
    if doc is None:  # nothing but blank lines and comments
        raise ConfigError(f"{path}: the file is empty (nothing but blank lines or comments): "
                          f"expected '{node_name}: {{ros__parameters: ...}}' at the top")
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected '{node_name}: {{ros__parameters: ...}}' at the top")
    fqn, matching = _blocks_for_node(path, doc, node_name, namespace)
    typo = misspelt_node_block_warning(path, doc, fqn) if matching else None
    if typo:  # the node's own words: a block ROS applies to no node ('mast3r_localizr:')
        log.warning("%s", typo)
    merged: Dict[str, Any] = {}
    for key, block in matching:
        if not isinstance(block, Mapping) or "ros__parameters" not in block:
            raise ConfigError(f"{path}: '{key}' must contain 'ros__parameters'")
        beside = _outside_params(block)
        if beside:  # misindented: rcl refuses the file, this read would drop it silently
            raise ConfigError(f"{path}: '{key}' has {'.'.join(map(str, beside))!r} beside "
                              f"ros__parameters, not under it: indent it under '{key}: "
                              "ros__parameters:' (ROS would refuse the file: 'Cannot have a "
                              "value before ros__parameters')")
        params = block["ros__parameters"]
        if params is None:  # 'ros__parameters:' and nothing under it
            params = {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{path}: '{key}': ros__parameters must be a mapping of parameter "
                              f"names to values (name: value, one a line, indented under it), "
                              f"got {type(params).__name__} {params!r}")
        values = _flatten(params, path, every_node=_wildcard_node(key))
        _check_builtin_types(values, path, key)
        if _wildcard_node(key):  # every node's block: other nodes' parameters are not errors
            for k in values:  # ... but one a letter away from ours is probably a typo
                hint = "" if k in _BY_NAME else did_you_mean(k, every_node=True)
                if hint:
                    log.warning("%s: '%s' (a block for every node) sets %r, which is not one "
                                "of %s's parameters%s; ignored, as other nodes' parameters "
                                "are", path, key, k, node_name, hint)
            values = {k: v for k, v in values.items() if k in _BY_NAME}
        merged.update(values)
    if not matching and {"image_width", "camera_matrix"} <= set(doc):
        goes = (elsewhere("--camera-info", "a camera_info YAML") or "pass it with --camera-info"
                if argument == "--params" else  # check-params: FILE
                "the node reads the camera from its camera_info topic, the offline commands "
                "from such a file as --camera-info")
        raise ConfigError(f"{path} is a camera_info YAML (image_width, camera_matrix), not a ROS "
                          f"parameter file: {goes}; {argument} takes the node's parameter file "
                          "(config/localize.yaml)")
    if not matching and doc.get("format") == "mast3r_ros.keyframe_map":  # JSON is YAML
        raise ConfigError(f"{path} is a keyframe map's manifest, not a ROS parameter file: "
                          f"{argument} takes the node's parameter file (config/localize.yaml, or "
                          "the build_config.yaml a map was built with, beside its manifest)")
    if not matching:
        who = node_name if namespace is None else node_fqn(namespace, node_name)
        ours = [repr(k) for k in doc if str(k) in _BY_NAME
                or any(n.startswith(f"{k}.") for n in _BY_NAME)]
        # ... or a letter away from one of them ('max_keyframe: 3')
        ours = ours or [f"{k!r}{did_you_mean(str(k))}" for k in doc if did_you_mean(str(k))]
        flat = (f": it sets the node's parameters ({ours[0]}) at the top level; indent "
                f"them under '{node_name}:' and 'ros__parameters:', as config/localize.yaml "
                "does" if ours else _misspelt_node_key(doc, node_name)
                or _renamed_node_block(doc, node_name))
        raise ConfigError(f"{path}: no parameters for node '{who}' (top-level keys: "
                          f"{list(doc)}; expected '/**', '{node_name}' or "
                          f"'/<namespace>/{node_name}'){flat}")
    for name in list(merged):
        if name in ROS_BUILTIN_PARAMS or name.startswith("qos_overrides."):
            del merged[name]
    for name, value in merged.items():
        spec = _BY_NAME.get(name)
        if spec is not None and spec.type is str and isinstance(value, _RclNumber):
            raise ConfigError(f"{path}: parameter '{name}' is {value}, which ROS 2 reads as a "
                              f"number (a double), but a string: quote it ('{value}'); the node "
                              "would refuse this file")
        # an integer for a double is the float (config_from_params), as the node takes it:
        # its doubles are declared with dynamic typing (ros/params.py)
        if spec is None or spec.type is not float or isinstance(value, bool):
            continue
        if isinstance(value, _RclNumber) and _YAML12_FLOAT.fullmatch(value):  # not quoted
            merged[name] = float(value)
    merged = {k: str(v) if isinstance(v, _RclNumber) else v for k, v in merged.items()}
    return config_from_params(merged, where=path, base=base)


def _check_builtin_types(values: Mapping[str, Any], path: str, key: Any) -> None:
    """ConfigError for one of `ROS_BUILTIN_PARAMS` set to anything but a bool in the block
    ``key``: rclpy declares them bools and, with an override of another type, raises
    InvalidParameterTypeException while it constructs the node (``use_sim_time: "true"`` or
    ``1``: the node died at start with a traceback), while the offline tools skipped them."""
    for name in ROS_BUILTIN_PARAMS:
        if name in values and not isinstance(values[name], bool):
            raise ConfigError(f"{path}: '{key}' sets {name} to {values[name]!r}, not a bool: "
                              "rclpy declares it a bool and the node would die at start "
                              f"(InvalidParameterTypeException); write {name}: true or false, "
                              "without quotes")


def _outside_params(block: Mapping[Any, Any], trail: tuple = ()) -> Optional[tuple]:
    """The key path of the first value in ``block`` that is under no ``ros__parameters``
    (``max_keyframes: 2`` indented beside it), else None; a mapping beside it is a nested
    node's namespace, searched the same way, as rcl_yaml_param_parser reads it."""
    for k, v in block.items():
        if k == "ros__parameters":
            continue
        if not isinstance(v, Mapping):
            return trail + (k,)
        found = _outside_params(v, trail + (k,))
        if found:
            return found
    return None


def dump_config_yaml(cfg: Config, path: str, node_name: str = NODE_NAME) -> None:
    """Write `cfg` (the whole `Config`) as a ROS parameter file at ``path``, atomically (the
    effective config beside results): one ``/**/node_name`` block, which `load_config_yaml`
    reads back as ``cfg``. Raises `ConfigError` for a ``cfg`` that is not a `Config`
    (`config_to_params`) and ``OSError`` when ``path`` cannot be written (a missing folder; a
    folder there: ``IsADirectoryError``)."""
    nested: Dict[str, Any] = {}
    for name, value in config_to_params(cfg).items():
        d = nested
        *parents, leaf = name.split(".")
        for p in parents:
            d = d.setdefault(p, {})
        d[leaf] = value
    text = yaml.dump({"/**/" + node_name: {"ros__parameters": nested}}, Dumper=_RclDumper,
                     sort_keys=False)
    atomic_write_text(path, text)
