"""The oldest rosbags the bag reader runs on: setup.py requires it, and an older one installed
(rosbags 0.10.11 to 0.11.5 failed dozens of the bag tests: a message cut short raised
struct.error; 0.10 read a lone .mcap file as metadata.yaml) stops a bag command with one line
naming the pip command, not a traceback or a wrong refusal in the middle of a bag."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from mast3r_ros.replay.rosbag import requirement  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_setup_py_requires_the_rosbags_the_reader_checks_for():
    found = re.findall(r'"rosbags>=([0-9.]+)"', (ROOT / "setup.py").read_text())
    assert found == [requirement.floor()], found
    assert requirement.floor() == "0.11.6"


def test_an_older_rosbags_is_refused_in_one_line_naming_the_pip_command():
    with pytest.raises(requirement.RosbagsTooOld) as err:
        requirement.check_rosbags((0, 10, 11))
    assert str(err.value) == ("rosbags 0.10.11 is installed, but reading a bag needs rosbags "
                              "0.11.6 or newer: pip install -U 'rosbags>=0.11.6'")
    with pytest.raises(requirement.RosbagsTooOld):
        requirement.check_rosbags((0, 11, 5))
    for fine in [(0, 11, 6), (0, 11, 9), (0, 12, 0), (1, 0, 0)]:
        requirement.check_rosbags(fine)


_OLD_ROSBAGS = r'''
import sys
from importlib import metadata
version = metadata.version
metadata.version = lambda name: "0.10.11" if name == "rosbags" else version(name)
from mast3r_ros.replay.cli import main
sys.exit(main(sys.argv[1:]))
'''


def test_a_bag_command_on_an_older_rosbags_exits_2_with_that_line(tmp_path):
    from test_ros1_chunks import _late_bag
    bag = _late_bag(tmp_path / "late.bag", frames=2)
    done = subprocess.run([sys.executable, "-c", _OLD_ROSBAGS, "build-map", str(bag), "--out",
                           str(tmp_path / "map"), "--matcher", "sift"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [
        "mast3r-ros build-map: error: rosbags 0.10.11 is installed, but reading a bag needs "
        "rosbags 0.11.6 or newer: pip install -U 'rosbags>=0.11.6'"], done.stderr[-2000:]
