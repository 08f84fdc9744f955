"""`--help` and the README agree on what a command takes: each calibration file format the
README's Supported inputs table lists for `--camera-info` is named in the option's help (the
help named three of the six after Kalibr, EuRoC and ORB-SLAM files were added)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mast3r_ros.replay.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]

# (the words of the format's row in the README's table, the words its help must hold)
CALIBRATION_FORMATS = [
    ("camera_calibration_parsers layout", "camera_info YAML"),
    ("saved with `ros2 topic echo TOPIC --once", "ros2 topic echo --once"),
    ("an OpenCV FileStorage YAML", "OpenCV FileStorage YAML"),
    ("a Kalibr camera chain", "Kalibr"),
    ("an EuRoC/ASL camera `sensor.yaml`", "EuRoC"),
    ("an ORB-SLAM settings file", "ORB-SLAM"),
]


def _help_of(command: str, flag: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if flag in a.option_strings)
    return " ".join(action.help.split())


def test_camera_info_help_names_every_calibration_format_the_readme_lists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| camera calibration YAML"):]
    table = table[:table.index("\n| TUM text files")]
    rows = [row for row in table.splitlines() if row.startswith("|")]
    assert len(rows) == len(CALIBRATION_FORMATS), (
        "the README's calibration rows changed: add the new format here and to --camera-info")
    for command in ("build-map", "localize"):
        text = _help_of(command, "--camera-info")
        for readme_words, help_words in CALIBRATION_FORMATS:
            assert readme_words in " ".join(table.split()), readme_words
            assert re.search(re.escape(help_words), text), (
                f"{command} --camera-info's help does not name {help_words!r}: {text}")
