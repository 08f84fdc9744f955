"""docs/ros_node.md's Nav2 section tells a nav2_simple_commander script how to wait for the stack
with this node in AMCL's slot. ``BasicNavigator.waitUntilNav2Active(navigator='bt_navigator',
localizer='amcl')`` first waits for ``<localizer>/get_state`` (and, for 'amcl' only, for a pose on
``amcl_pose``): left at its default, a script waits for ever on a service no node offers, printing
"amcl/get_state service not available, waiting...". The node's name is the localizer to give."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _nav2_section() -> str:
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    return " ".join(text.split("### 4. Nav2", 1)[1].split("### 4b.", 1)[0].split())


def test_the_nav2_section_names_the_localizer_for_wait_until_nav2_active():
    words = _nav2_section()
    assert "waitUntilNav2Active(localizer='mast3r_localizer')" in words
    assert "amcl/get_state" in words and "setInitialPose" in words
