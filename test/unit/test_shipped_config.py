"""The shipped parameter files and the parameter tables of the docs agree with the schema
(`mast3r_ros.core.config.sections`): every ``config/*.yaml`` loads through the real loader
without a warning, each parameter's comment in ``config/localize.yaml`` is the description
``ros2 param describe`` shows, and docs/ros_node.md's tables give the defaults and ranges the
code has (the node's parameters and the launch file's arguments)."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest

from mast3r_ros.core.config import load_config_yaml, param_specs
from user_docs import user_docs

ROOT = Path(__file__).resolve().parents[2]
SPECS = {s.name: s for s in param_specs()}


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_parameter_file_loads_without_a_warning(path, caplog):
    with caplog.at_level(logging.WARNING):
        load_config_yaml(str(path))
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _commented_params(text: str):
    """(dotted name, the comment lines above it joined) of every parameter in a parameter file
    written as config/localize.yaml is: two spaces per level, sections as nested keys."""
    stack, comment = [], []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            comment.append(line.strip()[1:].strip())
            continue
        m = re.match(r"( *)([\w/*]+):\s*(.*)$", line)
        if not m:
            continue
        level = len(m.group(1)) // 2
        del stack[level:]
        if not m.group(3):  # a section (or the node / ros__parameters key)
            stack.append(m.group(2))
            comment = []
            continue
        yield ".".join(stack[2:] + [m.group(2)]), " ".join(comment)
        comment = []


def test_each_parameters_comment_in_localize_yaml_is_its_description():
    """The file says "see sections.py"; a description edited there and not here (or the
    reverse) would tell users two things."""
    seen = {}
    for name, comment in _commented_params((ROOT / "config" / "localize.yaml").read_text()):
        seen[name] = comment
    assert set(seen) == set(SPECS)
    wrong = [n for n, c in seen.items() if c != " ".join(SPECS[n].description.split())]
    assert not wrong, f"config/localize.yaml's comments differ from the descriptions: {wrong}"


def _doc_rows(text: str):
    """(first cell, second cell, third cell) of every markdown table row whose first cell is a
    backquoted name."""
    for m in re.finditer(r"^\| `([A-Za-z_.]+)` \| ([^|]*)\|([^|]*)\|", text, flags=re.M):
        yield m.group(1), m.group(2).strip(), m.group(3).strip()


def _number(text: str) -> float:
    return float(text.replace("1e8", "100000000"))


def test_ros_node_md_parameter_table_gives_the_schemas_defaults_and_ranges():
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    table = text[text.index("## Node parameters"):]
    rows = [(n, d, r) for n, d, r in _doc_rows(table) if n in SPECS]
    assert len(rows) >= 20, rows
    wrong = []
    for name, default, range_ in rows:
        spec = SPECS[name]
        shown = default.strip("`").strip('"')
        if spec.type is bool:
            ok = shown == str(spec.default).lower()
        elif spec.type is str:
            ok = shown == spec.default
        else:
            ok = float(shown) == spec.default
        if spec.choices is not None and range_:
            ok &= [c.strip() for c in range_.split(",")] == [str(c) for c in spec.choices]
        elif spec.lo is not None and range_:
            lo, hi = re.match(r"([0-9.e]+)–([0-9.e]+)", range_).groups()
            ok &= (_number(lo), _number(hi)) == (spec.lo, spec.hi)
        elif spec.lo is not None or spec.choices is not None:
            ok = False  # a ranged parameter shown without its range
        if not ok:
            wrong.append(f"{name}: docs {default} / {range_!r}, code {spec.default!r} / "
                         f"{spec.lo}..{spec.hi} {spec.choices or ''}")
    assert not wrong, "docs/ros_node.md's parameter table differs from the schema: " + "; ".join(
        wrong)


def _launch_defaults() -> dict:
    tree = ast.parse((ROOT / "launch" / "localize.launch.py").read_text(encoding="utf-8"))
    out = {}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "DeclareLaunchArgument":
            default = next(k.value for k in call.keywords if k.arg == "default_value")
            out[call.args[0].value] = (default.value if isinstance(default, ast.Constant)
                                       else None)  # computed: the installed localize.yaml
    return out


def test_ros_node_md_launch_argument_table_gives_the_launch_files_defaults():
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    launch = _launch_defaults()
    rows = {n: d for n, d, _ in _doc_rows(text[:text.index("## Node parameters")])
            if n in launch}
    assert set(rows) == set(launch), (sorted(rows), sorted(launch))
    wrong = [f"{n}: docs {d}, launch file {launch[n]!r}" for n, d in rows.items()
             if launch[n] is not None and d.strip("`").strip('"') != launch[n]]
    assert not wrong, f"docs/ros_node.md's launch arguments differ: {wrong}"


def test_ros_node_md_names_the_parameters_that_take_effect_at_once():
    """The lifecycle section's list of live parameters is `ros.params.LIVE_PARAMS`: one named
    there and not live would be refused by ``ros2 param set`` while the node runs."""
    from mast3r_ros.ros.params import LIVE_PARAMS

    text = " ".join((ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8").split())
    sentence = re.search(r"the reason\)\. ([^.]*?) take effect at once, in any state", text)
    assert sentence, "docs/ros_node.md no longer says which parameters take effect at once"
    named = {n for n in re.findall(r"`([a-z_.]+)`", sentence.group(1)) if n in SPECS}
    assert named == set(LIVE_PARAMS), (sorted(named), sorted(LIVE_PARAMS))


def test_every_name_given_with_colon_equals_in_the_docs_exists():
    """``name:=value`` in the README and docs/*.md (docs/ros_node.md, ...) is a launch argument of
    localize.launch.py, after ``-p`` a node parameter, or after ``-r`` a topic the node
    subscribes to by a relative name (the remaps the launch file makes)."""
    launch = _launch_defaults()
    topics = {"image", "camera_info", "initialpose"}
    wrong, seen = [], 0
    for doc, text in user_docs().items():  # README.md, docs/ros_node.md and the other pages
        for m in re.finditer(r"(-[pr] )?(?<![\w.-])([a-z_][a-z0-9_.]*):=", text):
            seen += 1
            ok = {"-p ": SPECS, "-r ": topics}.get(m.group(1), launch).__contains__(m.group(2))
            if not ok:
                wrong.append(f"{doc}: {m.group(0)}")
    assert seen >= 10, seen
    assert not wrong, f"names given with := that the launch file or node lacks: {wrong}"


def test_every_parameter_setting_quoted_in_the_docs_loads(tmp_path):
    """A `name: value` the README or a docs/*.md page tells users to write (``two_d_mode:
    true``, ``compile: none | default | reduce-overhead``) loads through the real parameter-file
    reader, which types values as ROS does: ``odom_gate_translation_m: 0`` (an integer for a
    double) is refused by the node and by ``--params``."""
    checked, wrong = 0, []
    for doc, text in user_docs().items():  # README.md, docs/ros_node.md and the other pages
        for name, values in re.findall(r"`([a-z_][a-z0-9_.]*): ([^`]+)`", text):
            if name not in SPECS:
                continue
            for value in values.split(" | "):
                if re.fullmatch(r"[A-Z]+", value):  # a placeholder: cpu_threads: N
                    continue
                *sections, leaf = name.split(".")
                body = "".join(f"{'  ' * (2 + i)}{s}:\n" for i, s in enumerate(sections))
                path = tmp_path / "p.yaml"
                path.write_text("mast3r_localizer:\n  ros__parameters:\n" + body
                                + f"{'  ' * (2 + len(sections))}{leaf}: {value}\n")
                checked += 1
                try:
                    load_config_yaml(str(path))
                except Exception as e:  # noqa: BLE001 - the message is the report
                    wrong.append(f"{doc}: `{name}: {value}`: {e}".replace(str(path), "p.yaml"))
    assert checked >= 15, checked
    assert not wrong, "settings the docs quote that the parameter file reader refuses:\n" + (
        "\n".join(wrong))


def _parameter_file_values(path: Path) -> dict:
    """{dotted name: value} of the one node block of a parameter file (nested maps dotted)."""
    import yaml

    (block,) = yaml.safe_load(path.read_text(encoding="utf-8")).values()

    def flat(m, prefix=""):
        for k, v in m.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v
    return dict(flat(block["ros__parameters"]))


def test_localize_yaml_gives_every_declared_parameter_its_default_with_its_type():
    """docs/ros_node.md calls config/localize.yaml 'the full list with defaults': every
    parameter the node declares (`ros.params.all_parameter_descriptors`, from the same
    table), with the value and Python type it is declared with -- a `2` for a double, or a
    default changed in sections.py and not here, would make the two say different things."""
    from mast3r_ros.ros.params import all_parameter_descriptors

    declared = {d.name: d.default for d in all_parameter_descriptors()}
    values = _parameter_file_values(ROOT / "config" / "localize.yaml")
    assert set(values) == set(declared)
    wrong = [f"{n}: file {v!r}, declared {declared[n]!r}" for n, v in values.items()
             if type(v) is not type(declared[n]) or v != declared[n]]
    assert not wrong, "config/localize.yaml differs from the declared defaults: " + "; ".join(
        wrong)


def test_ros_node_md_parameter_table_lists_every_node_parameter_and_no_other():
    """The node-parameter table holds the ROS side's parameters (the `node` section of the
    config): each of them, and nothing the node does not declare."""
    import dataclasses

    from mast3r_ros.core.config import Config

    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    table = text[text.index("## Node parameters"):]
    rows = {n for n, _, _ in _doc_rows(table)}
    node_params = {f.name for f in dataclasses.fields(Config().node)}
    assert node_params <= set(SPECS)
    assert node_params - rows == set(), "node parameters missing from the table"
    assert rows - set(SPECS) == set(), "the table names parameters the node does not declare"
