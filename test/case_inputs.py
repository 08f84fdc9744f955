"""Field cases of ../shared/cases as test inputs: `make_case` builds a case's inputs in a tmp
folder with the case's own make_inputs.py (skips cleanly where shared/ is absent); `run_cli` runs
``mast3r-ros`` in-process and returns (exit code, stdout, stderr lines)."""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import pytest

from mast3r_test_utils import fixtures_dir, shared_dir

CASES = shared_dir() / "cases"
DEPTH_TOPIC = "/camera/aligned_depth_to_color/image_raw"


# Where this test run keeps each case's inputs once built (set by conftest's session fixture
# `_field_case_store`: under pytest-xdist a folder of the run's, shared by its workers). None:
# every `make_case` runs the case's script.
STORE: Optional[Path] = None


def make_case(name: str, out: Path) -> Path:
    """The inputs of ``cases/<name>`` in OUT (a copy: the test may change or add files there);
    returns OUT. A case's script runs once per test run (`STORE`), not once per test: the d405,
    binning and time-jump cases render their scenes for 3.5-4.5 CPU seconds each, and
    test_field_cases, test_map_check_cases and test_image_codec built the same cases. The
    script writes no path of its output folder into its files, so a copy is what the script
    would have written in OUT."""
    script = CASES / name / "make_inputs.py"
    if not script.is_file():
        pytest.skip(f"field case {name!r} not found at {script}")
    # every case's inputs are written by cases/_lib/bagkit.py, which needs rosbags (pip-only: a
    # ROS machine's colcon test has none)
    pytest.importorskip("rosbags", reason="rosbags is not installed: the field cases' inputs are "
                                          "written with it")
    if STORE is None:
        return _run_script(name, Path(out))
    built = STORE / name
    if not built.is_dir():
        STORE.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=STORE))
        try:
            _run_script(name, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            os.rename(tmp, built)
        except OSError:  # another worker published it first: theirs is the same
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(built, out, dirs_exist_ok=True)
    return Path(out)


def _run_script(name: str, out: Path) -> Path:
    """Run ``cases/<name>/make_inputs.py OUT`` in this process (this checkout's mast3r_ros is the
    one imported); returns OUT. In-process rather than a subprocess: a fresh interpreter
    re-imported numpy, cv2, scipy, rosbags and mast3r_ros for every case (about a second each
    on a busy CI core), and the script is the same either way. The script's chdir, argv,
    sys.path and MAST3R_FIXTURES are put back after it."""
    script = CASES / name / "make_inputs.py"
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
