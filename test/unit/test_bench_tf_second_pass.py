"""bench/bench_tf_second_pass.py runs (a few seconds of 100 Hz /tf, one round), times the
extrinsic judged on the indexing pass's /tf samples beside the second pass it replaces, and
finds the same depth, poses and judged samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_tf_second_pass.py"


def test_now_and_the_second_pass_are_timed_side_by_side_to_the_same_results(tmp_path):
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(SCRIPT), "--minutes", "0.05", "--rounds", "1",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "same depth, poses and judged samples: True" in r.stdout, r.stdout
    result = json.loads(out.read_text())
    assert result["tf_messages"] == 300 and result["same"] is True
    assert set(result["median"]) == {"pose_frames_now", "pose_frames_prev", "no_pose_frames",
                                     "second_pass"}
