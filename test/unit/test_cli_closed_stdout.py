"""A reader that goes away before the summary is written (``mast3r-ros localize ... | true``,
``check-map MAP --json - | head -c 1`` on a long report): the command, its work done, ended with
"error: connection failed: [Errno 32] Broken pipe" and exit 2 (BrokenPipeError is a
ConnectionError, the handler meant for a Ray cluster). It now ends quietly with exit 141, as
SIGPIPE ends a coreutils tool in a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from mast3r_ros.replay.cli import main


def _closed_pipe_writer() -> int:
    """The writing end of a pipe whose reading end is closed."""
    r, w = os.pipe()
    os.close(r)
    return w


def test_a_summary_to_a_closed_pipe_ends_quietly(sift_map, monkeypatch, capsys):
    w = _closed_pipe_writer()
    out = io.TextIOWrapper(io.FileIO(w, "w"), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    try:
        assert main(["check-map", sift_map, "--log-level", "error"]) == 141
        assert capsys.readouterr().err == ""
        out.write("after\n")  # stdout now leads nowhere: no BrokenPipeError at exit either
    finally:
        out.close()


def test_the_console_script_with_its_stdout_reader_gone(sift_map):
    w = _closed_pipe_writer()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        proc = subprocess.run([sys.executable, "-m", "mast3r_ros.replay.cli", "check-map",
                               sift_map, "--json", "-", "--log-level", "error"], stdout=w,
                              stderr=subprocess.PIPE, env=env, timeout=120)
    finally:
        os.close(w)
    assert proc.returncode == 141 and proc.stderr.decode() == "", proc.stderr.decode()


def test_a_broken_pipe_that_is_not_stdout_is_still_a_connection_error(sift_map, monkeypatch,
                                                                      capsys):
    from mast3r_ros.replay import cli

    def _check_map(args):
        raise BrokenPipeError(32, "Broken pipe")  # a Ray socket, say: stdout is fine

    parser_build = cli.build_parser

    def build_parser():
        parser = parser_build()
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        sub.choices["check-map"].set_defaults(func=_check_map)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)
    assert main(["check-map", sift_map]) == 2
    assert "connection failed" in capsys.readouterr().err


def test_no_stdout_at_all_is_left_as_it_was(monkeypatch):
    from mast3r_ros.replay.cli_console import flush_stdout

    monkeypatch.setattr(sys, "stdout", None)  # pythonw: no console
    assert flush_stdout(0) == 0 and flush_stdout(2) == 2
