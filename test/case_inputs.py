"""Field cases of ../shared/cases as test inputs: `make_case` builds a case's inputs in a tmp
folder with the case's own make_inputs.py (skips cleanly where shared/ is absent); `run_cli` runs
``mast3r-ros`` in-process and returns (exit code, stdout, stderr lines)."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest

from mast3r_test_utils import fixtures_dir, shared_dir

CASES = shared_dir() / "cases"
DEPTH_TOPIC = "/camera/aligned_depth_to_color/image_raw"


def make_case(name: str, out: Path) -> Path:
    """Run ``cases/<name>/make_inputs.py OUT`` in this process (this checkout's mast3r_ros is the
    one imported); returns OUT. In-process rather than ``io_cases.make_case_inputs``'s subprocess:
    a fresh interpreter re-imported numpy, cv2, scipy, rosbags and mast3r_ros for every case
    (about a second each on a busy CI core), and the script is the same either way. The
    script's chdir, argv, sys.path and MAST3R_FIXTURES are put back after it."""
    script = CASES / name / "make_inputs.py"
    if not script.is_file():
        pytest.skip(f"field case {name!r} not found at {script}")
    # every case's inputs are written by cases/_lib/bagkit.py, which needs rosbags (pip-only: a
    # ROS machine's colcon test has none)
    pytest.importorskip("rosbags", reason="rosbags is not installed: the field cases' inputs are "
                                          "written with it")
    cwd, argv, path = os.getcwd(), sys.argv, list(sys.path)
    env = os.environ.get("MAST3R_FIXTURES")
    os.environ.setdefault("MAST3R_FIXTURES", str(fixtures_dir()))
    sys.argv = [str(script), str(out)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:  # bagkit's usage and fixture errors exit
        if e.code not in (None, 0):
            pytest.fail(f"{script} exited {e.code!r}")
    finally:
        os.chdir(cwd)
        sys.argv, sys.path[:] = argv, path
        if env is None:
            os.environ.pop("MAST3R_FIXTURES", None)
    return Path(out)


def run_cli(capsys, argv: Sequence[str]) -> Tuple[int, str, List[str]]:
    """``mast3r-ros ARGV`` in-process: (exit code, stdout, stderr's error lines)."""
    from mast3r_ros.replay.cli import main

    capsys.readouterr()
    rc = main([*argv, "--log-level", "warning"])
    out, err = capsys.readouterr()
    return rc, out, [ln for ln in err.splitlines() if ln.strip()]


def one_line_error(rc: int, err: List[str], command: str) -> str:
    """Assert the CLI's bad-input contract (exit 2, one error line); return the line."""
    errors = [ln for ln in err if ln.startswith(f"mast3r-ros {command}: error:")]
    assert rc == 2 and len(errors) == 1, (rc, err)
    assert "Traceback" not in "\n".join(err)
    return errors[0]
