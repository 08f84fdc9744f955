"""Error messages that send the user to a README section ("README: 'Model weights'") name a
section that exists: a heading that starts with the quoted words."""

from __future__ import annotations

import re
from pathlib import Path

import mast3r_ros

ROOT = Path(mast3r_ros.__file__).parent


def test_readme_sections_named_in_messages_exist():
    readme = (ROOT.parent / "README.md").read_text(encoding="utf-8")
    headings = [h.strip() for h in re.findall(r"^#+ (.*)$", readme, flags=re.M)]
    named = set()
    for path in ROOT.rglob("*.py"):
        named |= set(re.findall(r"README[:,] '([^']+)'", path.read_text(encoding="utf-8")))
    assert len(named) >= 3  # the search finds the messages, not nothing
    missing = [n for n in sorted(named) if not any(h.startswith(n) for h in headings)]
    assert not missing, f"messages name README sections that do not exist: {missing}"
