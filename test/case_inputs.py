"""Field cases of ../shared/cases as test inputs: `make_case` builds a case's inputs in a tmp
folder with the case's own make_inputs.py (skips cleanly where shared/ is absent); `run_cli` runs
``mast3r-ros`` in-process and returns (exit code, stdout, stderr lines)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple

from io_cases import make_case_inputs
from mast3r_test_utils import shared_dir

CASES = shared_dir() / "cases"
DEPTH_TOPIC = "/camera/aligned_depth_to_color/image_raw"


def make_case(name: str, out: Path) -> Path:
    """Run ``cases/<name>/make_inputs.py OUT`` with this checkout on PYTHONPATH; returns OUT."""
    return make_case_inputs(name, out, timeout_s=600.0)


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
