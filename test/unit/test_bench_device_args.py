"""bench_gpu.py and bench_matching.py with a --device this machine does not have: one argparse
line (exit 2) naming the device, where they died with a traceback at the first CUDA call
('Torch not compiled with CUDA enabled')."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", ["bench_gpu.py", "bench_matching.py"])
@pytest.mark.parametrize("device, want", [("cuda", "CUDA is not available"),
                                          ("cuda:x", "is not a torch device")])
def test_unusable_device_is_one_line(script, device, want):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = subprocess.run([sys.executable, str(BENCH / script), "--device", device],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2, r.stderr[-2000:]
    assert want in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
