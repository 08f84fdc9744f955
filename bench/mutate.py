"""Small AST mutation runner: mutate the lines a git range changed, run the given tests per mutant.

Usage (from the repository root):

    python bench/mutate.py MODULE.py --since origin/main --tests test/unit/test_a.py [...]
        [--timeout 120] [--list] [--only 3,7] [--sample N --seed S] [--keyword EXPR]
        [--jsonl out.jsonl]

Operators (applied only to nodes that start on a line the range added or changed, or on
``--lines 10-20,31``): comparison swaps (< <=, > >=, == !=, is / is not, in / not in),
numeric constants (+1, -1 for ints; x2 and /2 for floats; 0 -> 1), True <-> False, and <-> or,
``not x`` -> ``x``, + <-> -, * <-> /, ``return X`` -> ``return None``, and a statement
(call, raise, assignment to an attribute or subscript, augmented assignment, return) replaced
by ``pass``. Strings, f-strings and annotations are left alone.

Each mutant is the original file with one source span replaced, written in place (the file is
restored afterwards, also on Ctrl-C) and run with ``pytest -x -q -p no:cacheprovider`` under
PYTHONDONTWRITEBYTECODE (the module's own cached bytecode is removed first, so no stale copy
runs). A mutant is killed when pytest exits non-zero or runs past --timeout, survived when the
tests pass. The unmutated file is run first; the run stops if it fails.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

_CMP_SWAP = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
_BIN_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


def changed_lines(path: str, since: str) -> set[int]:
    """Line numbers (1-based, in the working file) that ``git diff since`` adds or changes."""
    out = subprocess.run(["git", "diff", "-U0", since, "--", path], capture_output=True,
                         text=True, check=True).stdout
    lines: set[int] = set()
    for m in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", out, flags=re.M):
        start, count = int(m.group(1)), int(m.group(2) or 1)
        lines.update(range(start, start + count))
    return lines


def parse_lines(spec: str) -> set[int]:
    lines: set[int] = set()
    for part in spec.split(","):
        a, _, b = part.partition("-")
        lines.update(range(int(a), int(b or a) + 1))
    return lines


def _skipped_ids(tree: ast.AST) -> set[int]:
    """ids of nodes inside f-strings, annotations and docstrings (never mutated)."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            mark(node)
        elif isinstance(node, (ast.arg, ast.AnnAssign)):
            mark(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            mark(node.returns)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                mark(body[0])
    return skip


def _expr_variants(node: ast.AST):
    """(description, replacement node) for one expression node."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = _CMP_SWAP.get(type(op))
            if swap is not None:
                new = ast.Compare(left=node.left, ops=list(node.ops), comparators=node.comparators)
                new.ops[i] = swap()
                yield f"{type(op).__name__} -> {swap.__name__}", new
    elif isinstance(node, ast.Constant) and not isinstance(node.value, str):
        v = node.value
        if isinstance(v, bool):
            yield f"{v} -> {not v}", ast.Constant(not v)
        elif isinstance(v, int):
            yield f"{v} -> {v + 1}", ast.Constant(v + 1)
            if v != 0:
                yield f"{v} -> {v - 1}", ast.Constant(v - 1)
        elif isinstance(v, float):
            if v == 0.0:  # x2 and /2 would be the same number
                yield "0.0 -> 1.0", ast.Constant(1.0)
            else:
                yield f"{v!r} -> {v * 2!r}", ast.Constant(v * 2)
                yield f"{v!r} -> {v / 2!r}", ast.Constant(v / 2)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield (f"{type(node.op).__name__} -> {other.__name__}",
               ast.BoolOp(op=other(), values=node.values))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not x -> x", node.operand
    elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAP:
        swap = _BIN_SWAP[type(node.op)]
        yield (f"{type(node.op).__name__} -> {swap.__name__}",
               ast.BinOp(left=node.left, op=swap(), right=node.right))


def _stmt_variants(node: ast.stmt):
    if isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield "return X -> return None", "return None"
    removable = (ast.Raise, ast.AugAssign, ast.Return)
    if isinstance(node, removable) or (isinstance(node, ast.Expr)
                                       and isinstance(node.value, ast.Call)):
        yield f"remove {type(node).__name__}", "pass"
    elif isinstance(node, ast.Assign) and all(
            isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets):
        yield "remove Assign", "pass"


def mutants(source: str, lines: set[int]):
    """Yield dicts (line, col, desc, source) of compilable one-span mutants of ``source``."""
    tree = ast.parse(source)
    skip = _skipped_ids(tree)
    offsets = [0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))

    def span(node: ast.AST) -> tuple[int, int]:
        # ast offsets are in UTF-8 bytes; the files here are ASCII in code lines.
        return (offsets[node.lineno - 1] + node.col_offset,
                offsets[node.end_lineno - 1] + node.end_col_offset)

    seen: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip or getattr(node, "lineno", None) not in lines:
            continue
        if isinstance(node, ast.stmt):
            variants = ((d, text) for d, text in _stmt_variants(node))
        elif isinstance(node, ast.expr):
            variants = ((d, "(" + ast.unparse(new) + ")") for d, new in _expr_variants(node))
        else:
            continue
        for desc, text in variants:
            a, b = span(node)
            mutated = source[:a] + text + source[b:]
            if mutated in seen:
                continue
            try:
                compile(mutated, "<mutant>", "exec")
            except SyntaxError:
                continue
            seen.add(mutated)
            yield {"line": node.lineno, "col": node.col_offset, "desc": desc, "source": mutated}


def _preload() -> None:
    """Import the heavy third-party modules once; each mutant's forked run then imports only the
    project (from the mutated file). Nothing of the project may be imported here."""
    for name in ("numpy", "torch", "cv2", "scipy.spatial.transform", "yaml", "pytest"):
        try:
            __import__(name)
        except ImportError:
            pass


def _forked_pytest(argv: list[str], timeout: float) -> tuple[str, int]:
    pid = os.fork()
    if pid == 0:  # child: quiet, no bytecode written, pytest in this process
        try:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.dont_write_bytecode = True
            import pytest
            rc = int(pytest.main(argv))
        except BaseException:
            rc = 99
        os._exit(rc)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "", os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "timeout", -9
        time.sleep(0.05)


def run_tests(module: Path, source: str, tests: list[str], keyword: str | None,
              timeout: float, fork: bool = False) -> tuple[str, float, str]:
    module.write_text(source)
    for pyc in (module.parent / "__pycache__").glob(module.stem + ".*.pyc"):
        pyc.unlink()
    argv = ["-x", "-q", "-p", "no:cacheprovider", *tests] + (["-k", keyword] if keyword else [])
    t0 = time.monotonic()
    if fork:
        timed_out, rc = _forked_pytest(argv, timeout)
        if timed_out:
            return "timeout", time.monotonic() - t0, ""
        return ("survived" if rc == 0 else "killed"), time.monotonic() - t0, f"rc {rc}"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", *argv], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - t0, ""
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    return ("survived" if proc.returncode == 0 else "killed"), time.monotonic() - t0, tail


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("module")
    ap.add_argument("--since", default="origin/main", help="git range base (default origin/main)")
    ap.add_argument("--lines", help="mutate these lines instead, e.g. 10-20,31")
    ap.add_argument("--tests", nargs="+", required=True)
    ap.add_argument("--keyword", help="pytest -k expression")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    ap.add_argument("--only", help="comma-separated mutant numbers to run")
    ap.add_argument("--sample", type=int, help="run a seeded random sample of this many mutants")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-baseline", action="store_true",
                    help="do not run the unmutated file first (known to pass)")
    ap.add_argument("--fork", action="store_true",
                    help="import numpy/torch/cv2 once and fork a pytest per mutant (POSIX; faster)")
    ap.add_argument("--jsonl", help="append one JSON record per mutant to this file")
    args = ap.parse_args(argv)

    module = Path(args.module)
    original = module.read_text()
    lines = parse_lines(args.lines) if args.lines else changed_lines(args.module, args.since)
    found = list(mutants(original, lines))
    only = {int(x) for x in args.only.split(",")} if args.only else None
    if args.sample is not None and only is None and args.sample < len(found):
        only = set(random.Random(args.seed).sample(range(len(found)), args.sample))
    print(f"{args.module}: {len(found)} mutants on {len(lines)} lines", flush=True)
    if args.list:
        for i, m in enumerate(found):
            print(f"#{i} line {m['line']}: {m['desc']}")
        return 0
    if args.fork:
        _preload()
    signal.signal(signal.SIGTERM, _interrupt)  # restore the file when stopped
    try:
        if not args.skip_baseline:
            status, secs, tail = run_tests(module, original, args.tests, args.keyword,
                                           args.timeout, args.fork)
            print(f"baseline: {status} in {secs:.1f} s ({tail})", flush=True)
            if status != "survived":
                return 1
        counts: dict[str, int] = {}
        for i, m in enumerate(found):
            if only is not None and i not in only:
                continue
            status, secs, tail = run_tests(module, m["source"], args.tests, args.keyword,
                                           args.timeout, args.fork)
            counts[status] = counts.get(status, 0) + 1
            print(f"#{i} line {m['line']}: {m['desc']}: {status} ({secs:.1f} s)", flush=True)
            if args.jsonl:
                with open(args.jsonl, "a") as fh:
                    fh.write(json.dumps({"module": args.module, "n": i, "line": m["line"],
                                         "desc": m["desc"], "status": status}) + "\n")
        print(f"{args.module}: {counts}", flush=True)
    finally:
        module.write_text(original)
        for pyc in (module.parent / "__pycache__").glob(module.stem + ".*.pyc"):
            pyc.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
