"""The ``mast3r-ros`` console script after Ctrl-C: one line, the exit handlers run, then the
process ends by SIGINT (a shell's loop of commands stops there), not by a plain exit 130."""

import os
import signal
import subprocess
import sys

import pytest

# A subcommand replaced by one that receives Ctrl-C mid-work (the signal sent to itself, so the
# test does not depend on timing) after registering an exit handler, as a library would.
_SCRIPT = """
import atexit, os, signal, sys, time
import mast3r_ros.replay.cli as cli

def interrupted_work(args):
    atexit.register(lambda: sys.stderr.write("exit handler ran\\n"))
    sys.stdout.write("result so far\\n")  # a pipe's stdout is block-buffered: still held here
    if mode == "interrupt":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    return 0

original = cli.build_parser
def build_parser():
    parser = original()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    sub.choices["check-map"].set_defaults(func=interrupted_work)
    return parser

cli.build_parser = build_parser
mode = sys.argv[1]
sys.argv = ["mast3r-ros", "check-map", "some_map"]
cli.console_main()
"""


def _run(mode: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("PYTHONUNBUFFERED", None)  # a user's shell: stdout to a pipe is block-buffered
    return subprocess.run([sys.executable, "-c", _SCRIPT, mode], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.skipif(os.name != "posix", reason="ending by a signal: POSIX")
def test_ctrl_c_ends_the_console_script_by_sigint_after_its_line_and_exit_handlers():
    proc = _run("interrupt")
    assert proc.returncode == -signal.SIGINT, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert lines == ["mast3r-ros check-map: interrupted", "exit handler ran"], proc.stderr
    # what the command wrote to stdout before Ctrl-C reaches the pipe: ending by the signal
    # skips the interpreter's own flush at exit
    assert proc.stdout == "result so far\n", proc.stdout


def test_a_finished_command_exits_with_its_code():
    proc = _run("finish")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == ["exit handler ran"], proc.stderr


def test_bad_input_still_exits_2_from_the_console_script(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-m", "mast3r_ros.replay.cli", "check-map",
                           str(tmp_path / "no_map")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
