"""bench/bench_rvl.py runs (one 7-Scenes frame, one repeat, a few damaged streams), times the
previous and the current RVL decoder side by side and finds them identical."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mast3r_test_utils import shared_dir

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "bench_rvl.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)


def test_the_previous_and_the_current_decoder_are_timed_side_by_side():
    if not sorted((shared_dir() / "data").glob("*/depth/*.png")):
        pytest.skip("no 7-Scenes depth PNGs in shared/data")
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", "18369087^{commit}"],
                      capture_output=True).returncode:
        pytest.skip("the previous decoder's commit is not in this checkout (shallow clone?)")
    r = _run("--frames", "1", "--repeats", "1", "--fuzz", "30")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for frame in ("7scenes ", "holes 30%", "alternating"):
        assert f"\n{frame}" in r.stdout, r.stdout
    assert "bit-identity: 3 frames equal; 30 damaged streams (" in r.stdout, r.stdout
    assert "0 different outcomes or messages" in r.stdout, r.stdout


def test_no_repeats_is_refused():
    r = _run("--repeats", "0")
    assert r.returncode == 2 and "--frames and --repeats must be >= 1" in r.stderr, r.stderr
