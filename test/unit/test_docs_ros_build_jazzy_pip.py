"""docs/ros_node.md's build step ran `pip install rosbags` with no word for Jazzy, whose system
Python refuses it (PEP 668: externally-managed-environment); the way round was only in the
README's Install section, which a ROS user following the workflow page never reached."""

from __future__ import annotations

import re

from user_docs import ROOT


def test_the_ros_build_step_says_what_jazzys_pip_does_and_where_the_fix_is():
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    build = re.sub(r"\s+", " ", text.split("### 0. Build", 1)[1].split("### 1.", 1)[0])
    assert "pip install rosbags" in build
    assert "error: externally-managed-environment" in build, build
    assert "--system-site-packages" in build and "(../README.md#install)" in build, build
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Install\n" in readme and "--system-site-packages" in readme
