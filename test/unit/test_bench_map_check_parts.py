"""bench/bench_map_check_parts.py read each keyframe PNG with ``open(...).read()``, leaving the
file for the garbage collector to close (a ResourceWarning per file under ``python -X dev``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mast3r_ros.core import keyframes as kfm
from test_keyframes import _keyframes

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_map_check_parts.py"


def test_the_bench_closes_every_file_it_reads(tmp_path):
    path = kfm.write_map(str(tmp_path / "map"), _keyframes())
    run = subprocess.run([sys.executable, "-X", "dev", str(BENCH), path, "--repeats", "1"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "SIFT" in run.stdout, run.stdout  # it ran every part
    assert "ResourceWarning" not in run.stderr, run.stderr
