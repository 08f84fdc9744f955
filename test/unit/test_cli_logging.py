"""`main()` called in-process (a test, a Python script) replaced the root logger's handlers
with its own stderr handler and left it so: pytest's ``caplog`` captured nothing after it, and a
script's own ``logging.basicConfig`` output was gone. main() now gives the root logger back as
it found it (handlers and level) when it had handlers; with none (the console script) its own
handler stays, for what is logged at exit."""

from __future__ import annotations

import logging
import sys

from mast3r_ros.replay.cli import main


def _run_a_command(tmp_path) -> None:
    # a quick command that sets up the CLI's logging: check-map of a folder that is not there
    assert main(["check-map", str(tmp_path / "no_map"), "--log-level", "error"]) == 2


def test_caplog_still_captures_after_main_returns(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO)
    _run_a_command(tmp_path)
    assert "error:" in capsys.readouterr().err
    logging.getLogger("mast3r_ros.replay").info("after main")
    assert [r.getMessage() for r in caplog.records] == ["after main"]


def test_a_scripts_own_logging_is_given_back(tmp_path, capsys):
    import io

    root = logging.getLogger()
    was = root.handlers[:], root.level
    mine = logging.StreamHandler(io.StringIO())
    try:
        root.handlers[:] = [mine]
        root.setLevel(logging.DEBUG)
        _run_a_command(tmp_path)
        assert root.handlers == [mine] and root.level == logging.DEBUG
    finally:
        root.handlers[:], _ = was
        root.setLevel(was[1])


def test_the_console_scripts_handler_stays_for_what_is_logged_at_exit(tmp_path, capsys):
    root = logging.getLogger()
    was = root.handlers[:], root.level
    try:
        root.handlers[:] = []
        _run_a_command(tmp_path)
        (handler,) = root.handlers
        assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
        assert root.level == logging.ERROR
    finally:
        root.handlers[:], _ = was
        root.setLevel(was[1])
