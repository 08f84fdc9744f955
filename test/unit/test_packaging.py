"""What the source distribution carries: a colcon or pip build from it, and its tests, need the
same files as a build and a test run from the checkout (setuptools' defaults leave out tests
under test/unit/, bench/ and docs/, which the tests read)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sdist_files(tmp_path) -> set:
    """The files `setup.py sdist` packs: egg_info's SOURCES.txt is the sdist's file list
    (MANIFEST.in applied), written here to ``tmp_path``, nothing built in the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "-e", str(tmp_path)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    sources = next(tmp_path.glob("*.egg-info")) / "SOURCES.txt"
    return set(sources.read_text(encoding="utf-8").split())


def _tracked(*patterns: str) -> set:
    return {p.relative_to(ROOT).as_posix() for pat in patterns for p in ROOT.glob(pat)
            if p.is_file() and "__pycache__" not in p.parts}


def test_sdist_carries_the_tests_and_the_files_they_read(tmp_path):
    files = _sdist_files(tmp_path)
    # .ci/: the README names its scripts and test_readme_commands checks that they exist, so a
    # test run from the unpacked sdist failed without them
    needed = _tracked("test/**/*.py", "bench/*.py", "bench/*.sh", "docs/ros_node.md",
                      "README.md", "package.xml", "setup.cfg", "resource/mast3r_ros",
                      "launch/*.launch.py", "config/*.yaml", ".ci/*")
    assert len(needed) > 100  # the globs found the tree, not nothing
    missing = sorted(needed - files)
    assert not missing, f"the sdist lacks {len(missing)} files, e.g. {missing[:5]}"
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


def test_the_licence_text_ships_in_the_sdist_and_the_wheel(tmp_path):
    """setup.py, package.xml and the README say Apache-2.0, whose section 4(a) asks that every
    copy carry the licence text: the checkout had none, so neither did the sdist nor the wheel
    (setuptools packs a top-level LICENSE into both, the wheel's under dist-info/licenses)."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "LICENSE" in _sdist_files(tmp_path)
