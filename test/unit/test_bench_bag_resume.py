"""bench/bench_bag_resume.py runs (a tiny bag, one repeat) and refuses a bag of no frames up
front."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_bag_resume.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)


def test_a_tiny_bag_is_timed_side_by_side():
    r = _run("--frames", "3", "--size", "64", "48", "--repeats", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    for variant in ("raw", "fresh", "old", "recorded"):
        assert f"  {variant} " in r.stdout, r.stdout
    assert "old / recorded: " in r.stdout and "recorded / raw: " in r.stdout, r.stdout


def test_no_frames_is_refused():
    r = _run("--frames", "0")
    assert r.returncode == 2 and "--frames and --repeats must be >= 1" in r.stderr, r.stderr
