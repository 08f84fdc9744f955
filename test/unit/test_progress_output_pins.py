"""Pins on `progress_output.progress_shown` that test_progress_output.py (through the CLI) left
free: each test failed on a hand mutant of progress_output.py."""

from __future__ import annotations

import io
import logging
import os
import struct
import sys

import pytest

from mast3r_ros.core.progress_output import ProgressLog, progress_bar, progress_shown

try:  # POSIX only; the pty test skips without them
    import fcntl
    import termios
except ImportError:  # pragma: no cover
    fcntl = termios = None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_closed_stderr_shows_no_progress(monkeypatch):
    """A closed stream's isatty raises ValueError: no progress, not a crash."""
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    assert progress_shown() is False


def test_the_package_logger_decides_not_the_root_one(monkeypatch):
    """From Python, the mast3r_ros logger enabled for INFO shows progress whatever the root
    logger's level (an application that keeps its own root at WARNING), and silenced, hides
    it with the root at DEBUG."""
    monkeypatch.setattr(sys, "stderr", _Terminal())
    root, pkg = logging.getLogger(), logging.getLogger("mast3r_ros")
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.setattr(pkg, "level", logging.INFO)
    pkg.manager._clear_cache()
    assert progress_shown() is True
    monkeypatch.setattr(root, "level", logging.DEBUG)
    monkeypatch.setattr(pkg, "level", logging.WARNING)
    pkg.manager._clear_cache()
    assert progress_shown() is False
    pkg.manager._clear_cache()


@pytest.mark.skipif(fcntl is None or not hasattr(os, "openpty"), reason="needs a POSIX pty")
def test_a_terminal_zero_columns_wide_gets_the_log_lines(monkeypatch):
    """A pty opened without a size (``docker run -t`` from a script, ``script -c``) reports 0
    columns, on which tqdm drew an empty bar: a long build showed no progress at all. It gets
    the log lines instead; the same pty given a width gets the bar."""
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as tty:
            monkeypatch.setattr(sys, "stderr", tty)
            monkeypatch.setattr(logging.getLogger("mast3r_ros"), "level", logging.INFO)
            logging.getLogger("mast3r_ros").manager._clear_cache()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 0, 0, 0))
            assert os.get_terminal_size(slave).columns == 0
            assert progress_shown() is False
            assert isinstance(progress_bar(5, "build-map", "frame"), ProgressLog)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            assert progress_shown() is True
            assert not isinstance(progress_bar(5, "build-map", "frame"), ProgressLog)
    finally:
        os.close(master)
        os.close(slave)
        logging.getLogger("mast3r_ros").manager._clear_cache()
