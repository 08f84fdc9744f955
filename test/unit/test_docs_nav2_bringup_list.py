"""docs/ros_node.md's Nav2 section: a params block for lifecycle_manager_localization does not
replace amcl under nav2_bringup's localization_launch.py, which sets that manager's node_names
(['map_server', 'amcl']) in the launch file and starts amcl; the docs said "nav2 params file:
the localizer replaces amcl", so a Nav2 user edited nav2_params.yaml and got amcl back."""

from __future__ import annotations

import re

from user_docs import ROOT


def _nav2_section() -> str:
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", text.split("### 4. Nav2", 1)[1].split("### 4b.", 1)[0])


def test_the_nav2_section_says_nav2_bringup_sets_the_managers_list_in_its_launch_file():
    section = _nav2_section()
    assert "# nav2 params file: the localizer replaces amcl" not in section
    assert ("`localization_launch.py` start `amcl` and give `lifecycle_manager_localization` its "
            "`node_names` (`['map_server', 'amcl']`) in the launch file, which a params file "
            "does not override") in section
    assert "`navigation_launch.py`" in section
