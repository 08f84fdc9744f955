"""Pins on `progress_output.progress_shown` that test_progress_output.py (through the CLI) left
free: each test failed on a hand mutant of progress_output.py."""

from __future__ import annotations

import io
import logging
import sys

from mast3r_ros.core.progress_output import progress_shown


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
