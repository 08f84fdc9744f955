"""The ROS 2 walkthrough named `/camera/color/image_raw` for a RealSense, which realsense-ros's
ROS 2 wrapper published before 4.54; 4.54 and later publish under
`/<camera_namespace>/<camera_name>/`, both `camera` by default: `/camera/camera/color/image_raw`
(a new user's find: the node heard nothing). The commands use the current names, and the text
beside them names both layouts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD = re.compile(r"(?<![\w/])/camera/(?:color/image_raw|color/camera_info|"
                 r"aligned_depth_to_color/image_raw)")


def _commands(text: str):
    """The lines of the fenced code blocks of a Markdown text."""
    return [line for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
            for line in block.splitlines()]


@pytest.mark.parametrize("doc", ["README.md", "docs/ros_node.md"])
def test_the_ros_walkthrough_uses_realsense_ros_4_54_topics_and_names_both(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    old = [line for line in _commands(text) if OLD.search(line)]
    assert not old, old  # the pre-4.54 names in a command to copy
    assert "/camera/camera/color/image_raw" in text
    words = " ".join(text.split())
    assert "4.54 and later" in words and "older 4.x releases" in words, doc
