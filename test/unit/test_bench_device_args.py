"""bench_gpu.py and bench_matching.py with a --device this machine does not have: one argparse
line (exit 2) naming the device, where they died with a traceback at the first CUDA call
('Torch not compiled with CUDA enabled')."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run_without_triton(script: str, *argv: str) -> subprocess.CompletedProcess:
    """bench/``script`` run as ``__main__`` with ``argv`` where `import triton` fails (a pip
    install without the triton or dev extra)."""
    blocked = ("import runpy, sys; sys.modules['triton'] = None; "
               f"sys.path.insert(0, {str(BENCH)!r}); sys.argv = {[script, *argv]!r}; "
               f"runpy.run_path({str(BENCH / script)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("script", ["bench_gpu.py", "bench_matching.py"])
@pytest.mark.parametrize("device, want", [("cuda", "CUDA is not available"),
                                          ("cuda:x", "is not a torch device")])
def test_unusable_device_is_one_line(script, device, want, monkeypatch, capsys):
    """Run as ``__main__`` in this process (the argument check is what is tested, not the
    interpreter start: a subprocess cost seconds per case importing torch again); an exception
    other than the argparse exit would fail the test with its traceback."""
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setattr(sys, "argv", [script, "--device", device])
    monkeypatch.syspath_prepend(str(BENCH))
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(BENCH / script), run_name="__main__")
    err = capsys.readouterr().err
    assert exc.value.code == 2, err[-2000:]
    assert want in err and "Traceback" not in err, err[-2000:]
    assert len([ln for ln in err.splitlines() if ln.startswith(script + ": error:")]) == 1, err


def test_matching_smoke_without_triton_times_the_torch_backend():
    """bench_matching.py --smoke where Triton is not installed (a pip install without the
    triton or dev extra): it said 'triton unavailable: timing the torch backend only', timed
    it, then died in the op count (--smoke counts ops) importing core.nn_triton."""
    r = _run_without_triton("bench_matching.py", "--smoke")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "timing the torch backend only" in r.stderr and "Traceback" not in r.stderr


def test_kernel_resources_without_triton_is_one_line():
    """kernel_resources.py (docs/benchmarks.md: 'Benchmarks') where Triton is not installed: a
    traceback (ModuleNotFoundError: No module named 'triton') in compile_all; now one line naming
    the extra, exit 2."""
    r = _run_without_triton("kernel_resources.py", "--arch", "90")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Triton >= 3.0" in lines[0] and ".[triton]" in lines[0], lines


def test_matching_screen_stats_without_triton_says_so():
    """bench_matching.py --screen-stats (docs/benchmarks.md: 'Benchmarks') emulates core.nn_triton's
    screen and reads its constant: without Triton it died with a traceback after the pairs were
    made."""
    r = _run_without_triton("bench_matching.py", "--device", "cpu", "--screen-stats")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "--screen-stats" in r.stderr.splitlines()[-1]
    assert ".[triton]" in r.stderr.splitlines()[-1], r.stderr
