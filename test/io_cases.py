"""Build a field case's inputs (``shared/cases/<case>/make_inputs.py``) in a test's tmp folder.

Tests that use it skip cleanly when ``shared/`` is absent; each such test has a self-contained
twin that builds equivalent small inputs itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mast3r_test_utils import REPO, fixtures_dir, shared_dir


def make_case_inputs(case: str, out_dir: Path, timeout_s: float = 300.0) -> Path:
    """Run the case's make_inputs.py into ``out_dir`` with this checkout on PYTHONPATH."""
    script = shared_dir() / "cases" / case / "make_inputs.py"
    if not script.is_file():
        pytest.skip(f"field case {case!r} not found at {script}")
    # every case's inputs are written by cases/_lib/bagkit.py, which needs rosbags (pip-only: a
    # ROS machine's colcon test has none)
    pytest.importorskip("rosbags", reason="rosbags is not installed: the field cases' inputs are "
                                          "written with it")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("MAST3R_FIXTURES", str(fixtures_dir()))
    proc = subprocess.run(
        [sys.executable, str(script), str(out_dir)], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=timeout_s,
    )
    if proc.returncode != 0:
        pytest.fail(f"{script} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return Path(out_dir)
