"""Which blocks of a ROS 2 parameter file apply to the node, as rclpy decides: the node's fully
qualified name (`node_fqn`), block keys matched with the ``/*`` and ``/**`` wildcards, namespaces
nested or written in the key, which namespace's node a file names (`_blocks_for_node`), and
which of a node process's overrides came from blocks for every node only (`every_node_only_names`).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import yaml

from ..errors import ConfigError

NODE_NAME = "mast3r_localizer"


# A ROS namespace token (rcl's validate_namespace): letters, digits and '_', no leading digit
_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def node_fqn(namespace: str, node_name: str = NODE_NAME) -> str:
    """The node's fully qualified name in ``namespace`` ('robot1', '/robot1' and '/robot1/' all
    give '/robot1/mast3r_localizer'; '' or '/': the root). Raises `ConfigError` for a namespace
    ROS would refuse."""
    tokens = [t for t in namespace.strip().split("/") if t]
    bad = [t for t in tokens if not _NAME_TOKEN.fullmatch(t)]
    if bad:
        raise ConfigError(f"namespace {namespace!r}: {bad[0]!r} is not a ROS name (letters, "
                          "digits and '_', not starting with a digit)")
    return "".join("/" + t for t in tokens) + "/" + node_name


def _rclpy_applies(key: str, fqn: str) -> bool:
    """Whether rclpy applies the parameter-file block ``key`` to the node named ``fqn``: a
    leading '/' added, then '/*' is one name token and '/**' any number, matched against the
    whole name (rclpy/src/rclpy/node.cpp, _populate_node_parameters_from_rcl_params, Humble)."""
    name = key if key.startswith("/") else "/" + key
    parts = re.split(r"(/\*\*|/\*)", name)
    pattern = "".join({"/**": r"(/\w+)*", "/*": r"(/\w+)"}.get(p, re.escape(p)) for p in parts)
    return re.fullmatch(pattern, fqn, re.ASCII) is not None


def _split_key(key: Any, node_name: str) -> Optional[Tuple[str, str]]:
    """(namespace, node name) of a parameter-file key that may apply to a node named
    ``node_name``: its node name ``node_name``, ``*`` or ``**`` (``/**``: ('', '**');
    ``mast3r_localizer``: ('', 'mast3r_localizer'), as rclpy adds the leading '/'); None for
    another node's key."""
    if not isinstance(key, str):
        return None
    ns, last = (key if key.startswith("/") else "/" + key).rsplit("/", 1)
    return (ns, last) if last in (node_name, "*", "**") else None


def _applies_to(key: Any, node_name: str) -> bool:
    """True for a parameter-file key ROS would apply to a node named ``node_name`` in some
    namespace: ``/**``, ``node_name``, a name ending in ``/node_name`` (``/robot1/node_name``,
    ``/*/node_name``, ``/**/node_name``) or a wildcard node name (``/**/*``)."""
    return _split_key(key, node_name) is not None


def _namespace_of(key: Any, node_name: str) -> Optional[str]:
    """The one namespace whose node ``key`` names ('' for the root), None for a key of other
    nodes or of the node in any namespace: ``mast3r_localizer`` and ``/*`` name the root
    namespace's node (rclpy applies them there only), ``/robot1/mast3r_localizer``,
    ``/robot1/*`` and ``/robot1/**`` robot1's; ``/**``, ``/**/mast3r_localizer`` and
    ``/*/mast3r_localizer`` none."""
    split = _split_key(key, node_name)
    if split is None or "*" in split[0] or split == ("", "**"):
        return None
    return split[0]


def _show_namespace(ns: str) -> str:
    return ns[1:] if ns else "/ (the root namespace)"


def _wildcard_node(key: str) -> bool:
    """Whether block ``key``'s node name is a wildcard (``/**``, ``/*``, ``/robot1/*``,
    ``/**/*``): a block for every node there, which may hold other nodes' parameters. A key
    naming the node (``/**/mast3r_localizer``) is the node's own block, in whatever namespace."""
    return key.rsplit("/", 1)[-1] in ("*", "**")



_PARAMS_KEY = "ros__parameters"


def _near_params_key(key: Any) -> bool:
    """A misspelled ``ros__parameters`` ('ros_parameters', 'ros__params', 'Ros__parameters')."""
    return (isinstance(key, str) and key != _PARAMS_KEY
            and difflib.SequenceMatcher(None, key.lower(), _PARAMS_KEY).ratio() >= 0.75)


def _param_blocks(path: str, doc: Mapping[Any, Any], node_name: str, prefix: str = ""):
    """(node name, block) for every ``ros__parameters`` block, namespaces nested or written in
    the key (``robot1: {mast3r_localizer: ...}`` is ``/robot1/mast3r_localizer``, as
    rcl_yaml_param_parser reads it). A mapping without ``ros__parameters`` is a namespace,
    unless it is keyed by the node's name or holds a misspelled ``ros__parameters``: then
    `ConfigError` (rcl refuses the file, "Cannot have a value before ros__parameters"; taken
    for a namespace, a robot's block would silently vanish)."""
    for key, value in doc.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        names_node = name.rsplit("/", 1)[-1] == node_name
        if isinstance(value, Mapping) and _PARAMS_KEY not in value:
            near = [k for k in value if _near_params_key(k)]
            if near:
                raise ConfigError(f"{path}: '{name}' has no '{_PARAMS_KEY}' (it has {near[0]!r}: "
                                  f"misspelled? 'ros', two underscores, 'parameters'); ROS "
                                  "would refuse the file")
            if names_node:
                raise ConfigError(f"{path}: '{name}' has no '{_PARAMS_KEY}' (its keys: "
                                  f"{list(value)}): put the node's parameters under "
                                  f"'{name}: {_PARAMS_KEY}:'")
            yield from _param_blocks(path, value, node_name, name)
            continue
        if names_node and not isinstance(value, Mapping):
            raise ConfigError(f"{path}: '{name}' has no '{_PARAMS_KEY}' (it is "
                              f"{'empty' if value is None else type(value).__name__}): put the "
                              f"node's parameters under '{name}: {_PARAMS_KEY}:'")
        if "/" in name and not name.startswith("/"):
            name = "/" + name
        yield name, value


def _blocks_for_node(path: str, doc: Mapping[Any, Any], node_name: str,
                     namespace: Optional[str]) -> Tuple[str, List[Tuple[str, Any]]]:
    """The node's full name and the (key, block) pairs of ``doc`` that apply to it, in file
    order (see `load_config_yaml`; a file of wildcards only, read for the node in any
    namespace, gives the root namespace's name); `ConfigError` when the file holds blocks for
    the node in several namespaces and no ``namespace`` says which, or ``namespace`` is none of
    them."""
    blocks = list(_param_blocks(path, doc, node_name))
    own: Dict[str, List[str]] = {}  # namespace -> the keys naming its node
    for k, _ in blocks:
        ns = _namespace_of(k, node_name)
        if ns is not None:
            own.setdefault(ns, []).append(k)
    spaces = ", ".join(_show_namespace(ns) for ns in sorted(own))
    if namespace is None:
        if len(own) > 1:  # rclpy gives no node all of them: whose are wanted?
            nodes = [f"{ns}/{node_name}" for ns in sorted(own)]
            raise ConfigError(f"{path}: parameters for several namespaced nodes {nodes}: pass "
                              f"--namespace one of: {spaces}")
        if not own:  # wildcards only: the blocks for the node in any namespace
            return "/" + node_name, [(k, b) for k, b in blocks if _applies_to(k, node_name)]
        fqn = f"{next(iter(own))}/{node_name}"
    else:
        fqn = node_fqn(namespace, node_name)
        # a typo would silently take the blocks for every node ('/**') alone; a block naming
        # the node in any namespace ('/**/mast3r_localizer') is meant for this node too
        if own and not any(_rclpy_applies(k, fqn) for k, _ in blocks
                           if not _wildcard_node(k) or _namespace_of(k, node_name) is not None):
            raise ConfigError(f"{path}: no block for '{fqn}' (--namespace {namespace}): pass "
                              f"--namespace one of: {spaces}")
    return fqn, [(k, b) for k, b in blocks if _rclpy_applies(k, fqn)]


def _node_keys(doc: Mapping[Any, Any], prefix: str = "", depth: int = 0):
    """Every key of a parameter file's ``doc`` that may name a node, in file order: the
    top-level keys as written, and those nested under a namespace (a mapping without
    ``ros__parameters``) as rcl reads them, joined with '/' (``robot1: {mast3r_localiser:
    ...}`` gives 'robot1' and 'robot1/mast3r_localiser')."""
    for key, value in doc.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        yield name
        if isinstance(value, Mapping) and _PARAMS_KEY not in value and depth < 16:
            yield from _node_keys(value, name, depth + 1)


def _as_rcl_name(key: str) -> str:
    return key if key.startswith("/") else "/" + key


def misspelt_node_key(doc: Mapping[Any, Any], node_name: str = NODE_NAME
                      ) -> Optional[Tuple[str, str]]:
    """(key, the key meant) for the first key of a parameter file's ``doc`` that names the
    node misspelt ('mast3r_localiser', '/robot1/mast3r_localiser', a trailing '/', or nested
    under a namespace: 'robot1/mast3r_localiser' for ``robot1: {mast3r_localiser: ...}``):
    rclpy applies such a block to no node and says nothing. None when none is close (another
    node's block, 'localizer', '/robot2/mast3r_localizer'), or when the key meant is in the
    file too: then the near name is another node's ('mast3r_localizer_2' beside
    'mast3r_localizer', the second camera's)."""
    keys = list(_node_keys(doc))
    present = {_as_rcl_name(k) for k in keys}
    for key in keys:
        head, _, last = key.rstrip("/").rpartition("/")
        close = difflib.SequenceMatcher(None, last, node_name).ratio() >= 0.8
        if close and (last != node_name or key.endswith("/")):
            meant = f"{head}/{node_name}" if head or key.startswith("/") else node_name
            if last == node_name or _as_rcl_name(meant) not in present:
                return key, meant
    return None


def _numbers(name: str) -> List[str]:
    return re.findall(r"\d+", name)


def _near_namespace(key_ns: str, ns: str) -> bool:
    """Whether the namespace ``key_ns`` of a block looks like a typo of the node's ``ns``:
    the same but for case, '_' and '-' ('/Robot_1', '/robot-1' for '/robot1'), or one edit
    away (a letter added, dropped, changed or two swapped: '/robto1', '/robot11' no), with the
    same numbers in it: '/robot2' for '/robot1' is another robot's, not a typo."""
    if key_ns == ns or not ns or not key_ns:
        return False
    a, b = (re.sub(r"[_\-]", "", s.lower()) for s in (key_ns, ns))
    if a == b:
        return True
    if _numbers(key_ns) != _numbers(ns) or min(len(a), len(b)) < 5:  # '/ab' vs '/ac': too short
        return False
    return _edit_distance(a, b) <= 1


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein's distance, a swap of two neighbouring letters one edit (optimal string
    alignment)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _for_this_node(key: str, fqn: str) -> bool:
    """Whether rcl applies block ``key`` to the node ``fqn`` and the key was written for it: it
    names the node ('/robot1/mast3r_localizer', '/**/mast3r_localizer') or its namespace
    ('/robot1/*', '/robot1/**'). A block for every node in every namespace ('/**', '/**/*')
    says nothing of which node the file is for."""
    if not _rclpy_applies(key, fqn):
        return False
    ns, _, last = _as_rcl_name(key).rpartition("/")
    return last == fqn.rpartition("/")[2] or any(t not in ("*", "**") for t in ns.split("/") if t)


def misspelt_namespace_key(keys: Sequence[str], fqn: str) -> Optional[str]:
    """The first block key of ``keys`` (flattened, as rcl reads them: `_param_blocks`) that
    names the node ``fqn`` (or every node, ``*``/``**``) in a namespace a typo away from the
    node's (`_near_namespace`: '/robot_1/mast3r_localizer' for '/robot1/mast3r_localizer'),
    when no block of the file is for this node (`_for_this_node`); None otherwise. A block for
    another namespace cannot be told from a typo in general: a file that has a block for this
    node is one shared by several robots, and a namespace with other numbers ('/robot2') is
    another robot's."""
    namespace, _, node_name = fqn.rpartition("/")
    if any(_for_this_node(k, fqn) for k in keys):
        return None
    for key in keys:
        ns, _, last = _as_rcl_name(key).rpartition("/")
        if last in (node_name, "*", "**") and "*" not in ns and _near_namespace(ns, namespace):
            return key
    return None


def misspelt_node_block_warning(path: str, doc: Mapping[Any, Any], fqn: str) -> Optional[str]:
    """The warning for the parameter file ``path`` (read into ``doc``) when it holds a block
    keyed with the node's name misspelt (`misspelt_node_key`, nested under a namespace too), or,
    for a node in a namespace, keyed with its bare name (``mast3r_localizer:``, which rcl
    applies to the root namespace's node only), or, where no block is for this node, with its
    namespace misspelt (`misspelt_namespace_key`: '/robot_1/mast3r_localizer' for /robot1):
    rcl reads such a file without a word and the node ``fqn`` would run on its defaults while
    the user's values sit in the file. None for a file with a block that rcl applies to this
    node (`_rclpy_applies`; nested namespaces too): one shared by several nodes, whose near
    names ('mast3r_localizer', 'mast3r_localizer_2') are theirs. The node
    (`misspelt_node_block_warnings`) and the offline tools (`load_config_yaml`) both say it."""
    namespace, _, node_name = fqn.rpartition("/")
    try:  # namespaces nested ('robot1: {mast3r_localizer: ...}') flattened, as rcl reads
        keys = [k for k, _ in _param_blocks(path, doc, node_name)]
    except ConfigError:  # a file rcl refuses: its top-level keys only
        keys = [str(k) for k in doc]
    if any(k.rpartition("/")[2] == node_name and _rclpy_applies(k, fqn) for k in keys):
        return None  # a block naming this node: a file for it, its near names other nodes'
    tail = (f"none of its parameters reach this node ({fqn}), which runs on the values of "
            "other blocks or defaults")
    bare = [k for k in map(str, doc) if namespace and k.lstrip("/") == node_name]
    if bare:  # the node's block without its namespace; near names are other nodes'
        return (f"parameter file {path}: block {bare[0]!r} applies only to the node "
                f"/{node_name} in the root namespace: key it {fqn!r} (or "
                f"'/**/{node_name}' for any namespace); {tail}")
    found = misspelt_node_key(doc, node_name)
    if found:
        key, meant = found
        if namespace and meant.lstrip("/") == node_name:  # nor would the bare name reach it
            meant = f"{fqn!r}? a bare {node_name!r} applies only to the root namespace's node"
        else:
            meant = f"{meant!r}?"
        return (f"parameter file {path}: block {key!r} is applied to no node "
                f"(did you mean {meant}): {tail}")
    near = misspelt_namespace_key(keys, fqn)
    if near:  # '/robot_1/mast3r_localizer' for /robot1/mast3r_localizer
        ns, _, last = _as_rcl_name(near).rpartition("/")
        return (f"parameter file {path}: no block is for this node ({fqn}), but "
                f"block {near!r} is for namespace {ns!r}, a typo away from the "
                f"node's {namespace!r} (did you mean {namespace + '/' + last!r}? if "
                f"the block is another robot's, give this node one of its own): {tail}")
    return None


def misspelt_node_block_warnings(argv: Sequence[str], fqn: str) -> List[str]:
    """One warning per ``--params-file`` of the ROS arguments in ``argv`` (a node process's
    command line) that holds a block the node ``fqn`` would miss for a typo
    (`misspelt_node_block_warning`). Unreadable files are skipped (rcl reports those itself)."""
    lines = []
    for path in _params_files(argv)[0]:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        line = misspelt_node_block_warning(path, doc, fqn) if isinstance(doc, Mapping) else None
        if line:
            lines.append(line)
    return lines


def _params_files(argv: Sequence[str]) -> Tuple[List[str], Set[str]]:
    """The ``--params-file`` files and the ``-p`` parameter names of the ROS arguments in
    ``argv`` (those after ``--ros-args``, up to a ``--``)."""
    files: List[str] = []
    named: Set[str] = set()
    in_ros_args = False
    tokens = iter(argv)
    for token in tokens:
        if token == "--ros-args":
            in_ros_args = True
        elif token == "--":
            in_ros_args = False
        elif in_ros_args and token == "--params-file":
            files.append(next(tokens, ""))
        elif in_ros_args and token in ("-p", "--param"):   # [node:]name:=value
            named.add(next(tokens, "").split(":=", 1)[0].rsplit(":", 1)[-1])
    return files, named


def every_node_only_names(argv: Sequence[str], fqn: str) -> Optional[Set[str]]:
    """The parameter names that the ROS arguments in ``argv`` (a node process's command line:
    ``--ros-args ... --params-file F ... -p name:=value``) set for the node ``fqn`` only through
    blocks for every node (``/**``, ``/robot1/*``: keys that may be other nodes' parameters),
    not through a block naming the node (``mast3r_localizer``, ``/**/mast3r_localizer``; launch's
    ``parameters=[{...}]`` file) nor ``-p``.

    rclpy merges every override into one map (``Node._parameter_overrides``) without saying
    which block a key came from; this reads the files again to tell. Blocks are matched as
    rclpy matches them (`_rclpy_applies`), names flattened as rcl reads them (nested mappings
    become dotted names). None when a file cannot be read or parsed (the caller then treats
    every name as the node's own); an empty set when nothing came from such blocks alone.
    """
    files, named = _params_files(argv)
    node_name = fqn.rsplit("/", 1)[-1]
    shared: Set[str] = set()
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
            blocks = list(_param_blocks(path, doc, node_name)) if isinstance(doc, Mapping) else []
        except (OSError, ValueError, yaml.YAMLError, ConfigError):
            return None
        for key, block in blocks:
            if not _rclpy_applies(key, fqn) or not isinstance(block, Mapping):
                continue
            names = _dotted_names(block.get(_PARAMS_KEY))
            (shared if _wildcard_node(key) else named).update(names)
    return shared - named


def _dotted_names(params: Any, prefix: str = "") -> Set[str]:
    """The parameter names of a ``ros__parameters`` mapping, nested mappings dotted."""
    if not isinstance(params, Mapping):
        return set()
    out: Set[str] = set()
    for k, v in params.items():
        name = f"{prefix}{k}"
        out |= _dotted_names(v, name + ".") if isinstance(v, Mapping) else {name}
    return out
