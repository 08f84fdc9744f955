"""What a robotics user expects of a command line: ``--version``, defaults in ``--help``, the
same ``--checkpoint`` on every command, ``map_path`` and ``--namespace`` from the node's
parameter file."""

import re
from importlib import metadata
from pathlib import Path

import pytest

from mast3r_ros import __version__
from mast3r_ros.replay.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_version_is_printed_from_the_package_metadata(capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"mast3r-ros {metadata.version('mast3r_ros')}"

    def gone(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "version", gone)  # run from a source tree, nothing installed
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"mast3r-ros {__version__}"


def test_the_version_is_written_once():
    """setup.py reads mast3r_ros.__version__ (no second literal to forget); package.xml, which
    ROS tools read and cannot read Python, says the same."""
    setup = (REPO / "setup.py").read_text()
    assert "version=read_version()" in setup and __version__ not in setup
    xml = re.search(r"<version>([^<]+)</version>", (REPO / "package.xml").read_text())
    assert xml and xml.group(1) == __version__
