"""bench/bench_first_frame.py's argument paths: a measurement process that fails shows its error
(it was hidden behind a CalledProcessError), and --frames below 2 is refused up front (the
median of the frames after the first needs one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_first_frame.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_one_frame_is_refused_before_any_work():
    r = _run("--frames", "1")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "--frames must be >= 2" in r.stderr


def test_a_failed_measurement_process_shows_its_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the measurement would run")
    r = _run("--device", "cuda", "--runs", "1", "--frames", "2")
    assert r.returncode == 1, r.stderr[-2000:]
    assert "CUDA is not available" in r.stderr, r.stderr[-2000:]
    assert "a measurement process failed" in r.stderr
    assert "CalledProcessError" not in r.stderr


def test_previous_warmup_patches_out_the_preload_and_camera_check_only_within():
    """The bench's 'old' rows (and bench_gpu.py's old_warmup) run the warm-up without
    localizer.warm's additions, and only while the context is open."""
    import importlib.util

    from mast3r_ros.core.localizer import pipeline, warm

    spec = importlib.util.spec_from_file_location("bench_first_frame", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with mod.previous_warmup():
        assert pipeline.preload_keyframes(object(), 3) == 0
        assert not pipeline.camera_check_is_silent(None)
    assert pipeline.preload_keyframes is warm.preload_keyframes
    assert pipeline.camera_check_is_silent is warm.camera_check_is_silent
