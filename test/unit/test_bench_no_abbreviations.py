"""The bench scripts' options, like the CLI's (`cli_options.Parser`, test_cli_no_abbreviations),
are never taken by a prefix of their name: argparse's default (allow_abbrev) read
``bench_frame_host.py --k 4`` as --keyframes 4, so a typo or an option another version of the
script lacked ran another measurement than the one asked for. Every ArgumentParser made in
bench/ passes allow_abbrev=False (read from the source: the scripts import torch, Triton,
ROS readers), and one of them, run, refuses an abbreviation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _parsers(path: Path):
    """(line, allow_abbrev keyword's value or None) of each argparse.ArgumentParser(...) call."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and (
                getattr(node.func, "attr", None) == "ArgumentParser"
                or getattr(node.func, "id", None) == "ArgumentParser"):
            kw = {k.arg: k.value for k in node.keywords}
            value = kw.get("allow_abbrev")
            out.append((node.lineno, value.value if isinstance(value, ast.Constant) else None))
    return out


def test_every_bench_parser_refuses_abbreviations():
    scripts = sorted(BENCH.glob("*.py"))
    found = {f"{p.name}:{line}": abbrev for p in scripts for line, abbrev in _parsers(p)}
    assert len(found) >= 40, found          # the walk found the scripts' parsers
    assert {k: v for k, v in found.items() if v is not False} == {}


def test_an_abbreviated_bench_option_is_refused():
    run = subprocess.run([sys.executable, str(BENCH / "bench_tf_buffer.py"), "--sec", "1",
                          "--lookups", "1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "unrecognized arguments: --sec 1" in run.stderr, run.stderr
