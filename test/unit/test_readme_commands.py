"""The user docs' commands as a user copies them (the README and its pages in docs/, read as one
text by ``user_docs``): every ``mast3r-ros`` command line in their code
blocks (and docs/ros_node.md's plain ones, and the runnable ones quoted inline) parses with the real
parser, every ``--flag`` it names exists (on the subcommand written before it, in a bench
script, or in the external tool named), every ``python bench/X.py`` line's flags are X.py's,
and every file of the repository it names exists. A renamed or removed option or file fails
here instead of in a user's terminal."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from mast3r_ros.replay.cli import build_parser
from user_docs import user_docs_text, without_link_targets

ROOT = Path(__file__).resolve().parents[2]
README_ONLY = (ROOT / "README.md").read_text(encoding="utf-8")  # the quick start's demo
README = user_docs_text()  # README.md + docs/*.md: a moved command or sentence is still read
ROS_NODE_MD = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")

# Options of other programs the docs quote (pip, pytest, colcon, rosdep, venv, ray, ros2 topic
# echo; docs/ros_node.md's ros2 run / launch / bag play): not ours to check, listed so that a new
# flag must be looked at once.
EXTERNAL_FLAGS = {"--index-url", "--dist", "--symlink-install", "--from-paths", "--ignore-src",
                  "--system-site-packages", "--head", "--once", "--flow-style",
                  "--packages-select", "--ros-args", "--params-file", "--show-args", "--loop",
                  "--storage",  # ros2 bag record's -s/--storage
                  "--skip-keys",  # rosdep install on JetPack (NVIDIA's OpenCV)
                  "--onnx", "--fp16", "--layer"}  # trtexec's --onnx, --fp16, --layerPrecisions


def _subparsers() -> dict:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _code_lines(lang: str = "bash", text: str = README):
    """Each command line of ``text``'s ``lang`` code blocks, continuation lines joined."""
    for block in re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S):
        yield from block.replace("\\\n", " ").splitlines()


def _mast3r_ros_commands():
    """argv after ``mast3r-ros`` of every command in the bash blocks (one per ``&&``-separated
    part, comments dropped) and of the runnable inline ones (arguments given, no ``...``,
    ``[...]`` or ``a|b`` placeholders)."""
    lines = list(_code_lines()) + list(_code_lines("", ROS_NODE_MD))
    lines += [m for m in re.findall(r"`(mast3r-ros [^`]+)`", README)
              if not re.search(r"\.\.\.|\[|\||COMMAND", m) and len(m.split()) > 2
              or m == "mast3r-ros --version"]
    for line in lines:
        for part in line.split(" && "):
            m = re.match(r"\s*(?:ros2 run mast3r_ros )?mast3r-ros (.*)", part)
            if m:  # a $(command substitution) stands for one word
                yield line.strip(), shlex.split(re.sub(r"\$\([^)]*\)", "X", m.group(1)),
                                                comments=True)


def test_the_readme_has_the_commands_this_test_reads():
    commands = {argv[0] for _, argv in _mast3r_ros_commands() if argv}
    assert {"demo", "build-map", "localize", "pair", "retrieve", "check-map",
            "merge-maps"} <= commands, commands
    assert any("ros2 run mast3r_ros" in line for line, _ in _mast3r_ros_commands())


@pytest.mark.parametrize("line, argv", list(_mast3r_ros_commands()),
                         ids=lambda v: v[:60] if isinstance(v, str) else None)
def test_every_readme_mast3r_ros_command_parses(line, argv, capsys):
    """Unknown options, bad choices and missing required ones make argparse exit 2; an
    abbreviated option (which argparse would accept) is not the option's name."""
    subs = _subparsers()
    if argv and argv[0] in subs:
        inexact = [w.split("=")[0] for w in argv[1:] if w.startswith("--")
                   and w.split("=")[0] not in _flags_of(subs[argv[0]])]
        assert not inexact, f"README command {line!r}: {argv[0]} has no {inexact}"
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        err = capsys.readouterr().err.strip().splitlines()
        if argv[-1:] == ["--version"] and e.code == 0:
            return
        pytest.fail(f"README command does not parse: {line!r}: {err[-1] if err else e}")
    assert callable(getattr(args, "func", None)), line


def _flags_of(parser: argparse.ArgumentParser) -> set:
    return {o for a in parser._actions for o in a.option_strings}


def _bench_flags() -> set:
    found = set()
    for path in list((ROOT / "bench").glob("*.py")) + list((ROOT / "bench").glob("*.sh")):
        found |= set(re.findall(r"""["'(|\s](--[a-z][a-z0-9-]*)""",
                                path.read_text(encoding="utf-8")))
    return found


def test_every_readme_flag_exists_somewhere():
    """A ``--flag`` in the README's prose or code is an option of a ``mast3r-ros``
    subcommand, of a bench script, or of the external tool it is quoted for."""
    ours = set().union(*(_flags_of(p) for p in _subparsers().values())) | {"--version", "--help"}
    bench = _bench_flags()
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", README))
    unknown = sorted(f for f in named if f not in ours | bench | EXTERNAL_FLAGS)
    assert not unknown, f"README names options no command has: {unknown}"


def test_inline_subcommand_flags_belong_to_that_subcommand():
    """Spans like `build-map --retrieval-checkpoint R` or `localize --groundtruth FILE`: each
    flag is the named subcommand's own."""
    subs = _subparsers()
    spans = re.findall(r"`(?:mast3r-ros )?(" + "|".join(map(re.escape, subs))
                       + r")((?: [^`]*)?)`", README)
    checked, wrong = 0, []
    for cmd, rest in spans:
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
            checked += 1
            if flag not in _flags_of(subs[cmd]):
                wrong.append(f"{cmd} {flag}")
    assert checked >= 5, checked  # the search finds the spans, not nothing
    assert not wrong, f"README gives options to a subcommand that lacks them: {wrong}"


def test_every_readme_bench_line_uses_the_scripts_own_flags():
    """``python bench/X.py --a --b`` and ``bash bench/X.sh --a`` in code blocks, and
    `` `bench/X.py --a` `` quoted in the text (the Measured table's commands): each flag appears
    in X's source (an ``add_argument`` or the shell script's option parsing)."""
    lines = [line.split("  #")[0] for line in _code_lines()]
    lines += [" ".join(span.split()) for span in re.findall(r"`(bench/[\w.]+\s+-[^`]*)`", README)]
    checked, wrong = 0, []
    for line in lines:
        m = re.search(r"(?:(?:python|bash) |^)(bench/[\w.]+)(.*)", line)
        if not m:
            continue
        source = (ROOT / m.group(1)).read_text(encoding="utf-8")
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", m.group(2)):
            checked += 1
            if not re.search(rf"""["'(|\s]{re.escape(flag)}(?![\w-])""", source):
                wrong.append(f"{m.group(1)} {flag}")
    assert checked >= 25, checked
    assert not wrong, f"README bench lines use options the scripts lack: {wrong}"


def test_every_repository_file_the_readme_names_exists():
    """Paths under bench/, test/, docs/, config/, launch/ and .ci/ (a glob's prefix: some file
    starts with it), and the package's modules named from core/ or replay/."""
    named = set(re.findall(r"(?<![\w/.])((?:bench|test|docs|config|launch|\.ci|mast3r_ros|core|"
                           r"replay)/[\w.\-/]*[\w])", without_link_targets(README)))
    gone = {"bench/pnp_prev.py"}  # said to be in git history now
    missing = []
    for path in sorted(named - gone):
        here = [ROOT / path, ROOT / "mast3r_ros" / path]
        if not any(p.exists() or list(p.parent.glob(p.name + "*")) for p in here):
            missing.append(path)
    assert len(named) >= 30, sorted(named)
    assert not missing, f"README names files the repository lacks: {missing}"


def test_no_docs_example_names_a_path_above_the_checkout():
    """A fresh clone has nothing beside it: an example whose data lies at ``../shared/data/...``
    (the project's own evaluation folder) ended "source not found" for a user who copied it.
    Examples name a placeholder of the user's (``~/data/...``) and the text says what it holds."""
    above = [line.strip() for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
             for line in block.splitlines() if re.search(r"(^|[\s\"'=(])\.\./", line)]
    assert not above, above


def test_every_subcommand_option_is_named_in_the_readme():
    """No option only ``--help`` knows of (``--image-topic`` and demo's ``--width`` were)."""
    unnamed = sorted(f"{name} {flag}" for name, sub in _subparsers().items()
                     for flag in _flags_of(sub)
                     if flag.startswith("--") and flag != "--help"
                     and not re.search(rf"{re.escape(flag)}(?![\w-])", README))
    assert not unnamed, f"options the README never names: {unnamed}"


def test_the_readme_gives_the_demos_defaults():
    demo = _subparsers()["demo"]
    said = re.search(r"`--frames` \((\d+): every other one mapped\), `--width`, `--height`\s+"
                     r"\((\d+)x(\d+)\)", README_ONLY)
    assert said, "the README's demo paragraph no longer gives --frames, --width, --height"
    assert [int(v) for v in said.groups()] == [demo.get_default(d) for d in
                                               ("frames", "width", "height")]
    assert f"maps {demo.get_default('frames') // 2} frames and localizes" in README_ONLY


def test_every_readme_python_block_imports_names_that_exist():
    """The README's Python examples start with ``from mast3r_ros... import ...``: a module moved
    into a package, or a name renamed, breaks them at their first line."""
    import ast
    import importlib

    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    imported, missing = 0, []
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("mast3r_ros"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    imported += 1
                    if not hasattr(module, alias.name):
                        missing.append(f"{node.module}.{alias.name}")
    assert len(blocks) >= 3 and imported >= 8, (len(blocks), imported)
    assert not missing, f"README's Python examples import names that do not exist: {missing}"


def test_every_readme_retrieve_command_names_the_retrieval_model():
    """retrieve needs the retrieval head besides the network (an option or --params): a line
    that parses but gives neither exits 2 'retrieve needs the retrieval model' when copied
    (the commands-at-a-glance row did)."""
    lines = [(line, argv) for line, argv in _mast3r_ros_commands() if argv[:1] == ["retrieve"]]
    assert lines
    for line, argv in lines:
        args = build_parser().parse_args(argv)
        if args.params is None:
            assert args.retrieval_checkpoint, f"README command {line!r}: no --retrieval-checkpoint"


# Variables a user has without a page setting them: the shell's, ROS's, and the README's
# `$CKPT` ("`$CKPT` is a MASt3R checkpoint", the commands at a glance).
KNOWN_VARIABLES = {"HOME", "ROS_DISTRO", "CKPT"}


def _shell_blocks(text: str):
    """The body of each ```bash (or unmarked) code block of ``text``, fences paired in order."""
    lang, body = None, []
    for line in text.splitlines():
        if line.startswith("```") and lang is None:
            lang, body = line[3:].strip(), []
        elif line.startswith("```"):
            if lang in ("bash", ""):
                yield "\n".join(body)
            lang = None
        elif lang is not None:
            body.append(line)


def test_every_variable_a_docs_command_uses_is_set_on_its_page_or_known():
    """A command copied from a page runs with what the user has: docs/large_maps.md's
    ``--checkpoint $M.pth`` used an ``M`` only docs/pair_and_retrieve.md sets (an unset ``M``
    made it ``--checkpoint .pth``), where every other page says ``$CKPT``."""
    from user_docs import user_docs

    unset = []
    for page, text in user_docs().items():
        blocks = [re.sub(r"'[^'\n]*'", "", b) for b in _shell_blocks(text)]  # '...' is literal
        assigned = {v for b in blocks for v in re.findall(
            r"(?:^|[\s;&(])(?:export\s+)?([A-Za-z_]\w*)=", b, flags=re.M)}
        used = {v for b in blocks for v in re.findall(r"\$\{?([A-Za-z_]\w*)", b)}
        unset += [f"{page}: ${v}" for v in sorted(used - assigned - KNOWN_VARIABLES)]
    assert not unset, f"docs commands use variables nothing sets: {unset}"


def test_the_variable_check_finds_an_unset_variable():
    blocks = list(_shell_blocks("x\n```bash\nM=a\nrun $M ${N}_x '$Q'\n```\n```python\n$P\n```\n"))
    assert blocks == ["M=a\nrun $M ${N}_x '$Q'"]
