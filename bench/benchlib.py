"""What every benchmark script shares: paths, commit, device sync, timing, statistics, JSON.

Importing it puts the repository root (for ``mast3r_ros``) and ``test/`` (for the tiny
random-weight models of ``mast3r_test_utils``) on ``sys.path``, so the scripts run as
``python bench/<script>.py`` from anywhere.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO), str(REPO / "test")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import torch  # noqa: E402

from mast3r_ros.core.model.engine import Mast3rEngine  # noqa: E402
from mast3r_ros.core.model.network import ModelSpec  # noqa: E402
from mast3r_test_utils import (  # noqa: E402, F401 - re-exported for the bench scripts
    TINY_SPEC, fixtures_dir, random_model, write_checkpoint, write_tiny_checkpoint)


def commit() -> str:
    """Short hash of the checked-out commit, ``+dirty`` with uncommitted changes; 'unknown'
    outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO,
                              timeout=10, check=True).stdout.strip()
    try:
        return (git("rev-parse", "--short", "HEAD") or "no-commit") + (
            "+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels are asynchronous)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 0
          ) -> Tuple[List[float], Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times, each synchronised on
    ``device``; returns (seconds per run, the last output)."""
    out = None
    for _ in range(warmup):
        out = fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times, out


def spread(seconds: Sequence[float]) -> Dict[str, float]:
    """Median and spread of timings: ``{median_s, min_s, max_s, n}``."""
    v = list(seconds)
    return {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "n": len(v)}


def ms(stats: Dict[str, float]) -> str:
    """``'12.3 ms [11-14]'`` from a `spread` dict."""
    return (f"{1000 * stats['median_s']:8.1f} ms [{1000 * stats['min_s']:.1f}-"
            f"{1000 * stats['max_s']:.1f}]")


def environment(device: torch.device) -> Dict[str, Any]:
    """What a result depends on: commit, torch, python, device name, CPU threads."""
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or "cpu")
    return {"commit": commit(), "torch": torch.__version__, "python": sys.version.split()[0],
            "device": str(device), "device_name": name, "threads": torch.get_num_threads()}


def fallbacks() -> Dict[str, Any]:
    """Which fast paths fell back in this process (a timing row may then time the slow path):
    the matching's CUDA graphs (`fixed_matching`: why they are off, captures, replays), the
    Triton search's TF32 screen (why it fell back to IEEE) and the Triton self-test per device
    (why "auto" took the torch search). Modules not imported yet are not imported here."""
    out: Dict[str, Any] = {}
    fixed = sys.modules.get("mast3r_ros.core.matchers.fixed_matching")
    if fixed is not None:
        r = fixed._RUNNER
        out["cuda_graph_matching"] = {"broken": r.broken, "captures": r.n_captures,
                                      "replays": r.n_replays}
    triton = sys.modules.get("mast3r_ros.core.nn_triton")
    if triton is not None:
        out["tf32_screen_broken"] = triton._SCREEN_BROKEN
    backend = sys.modules.get("mast3r_ros.core.matching.backend")
    if backend is not None:
        out["triton_self_test"] = {k: v or "passed" for k, v in backend._SELF_TEST.items()}
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Optional[str], result: Dict[str, Any]) -> None:
    """Write ``result`` as indented JSON to ``path`` (nothing when None), with `fallbacks` added
    under "fallbacks" (printed too when a fast path fell back)."""
    fb = fallbacks()
    broken = [k for k, v in (("cuda_graph_matching", fb.get("cuda_graph_matching", {})
                              .get("broken")), ("tf32_screen", fb.get("tf32_screen_broken")))
              if v] + [f"triton_self_test[{k}]" for k, v in fb.get("triton_self_test", {}).items()
                       if v != "passed"]
    if broken:
        print(f"FALLBACK in this run (timings of the slow path): {', '.join(broken)}: {fb}")
    if not path:
        return
    # through a temporary file beside it: bench_gpu.py rewrites its JSON after every variant, and
    # a step cut by gpu_checks.sh's timeout mid-write would lose the variants already measured
    text = json.dumps({**result, "fallbacks": fb}, indent=2)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would have made
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {path}")


def rss_now_mb() -> float:
    """Current resident set size (Linux /proc), else the high-water mark."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """High-water mark of the resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_engine(config: str, device: str, precision: str,
                checkpoint: Optional[str] = None) -> Mast3rEngine:
    """Real weights from ``checkpoint``, else random weights of the 'tiny' or 'full' model."""
    if checkpoint:
        return Mast3rEngine.from_checkpoint(checkpoint, device, precision)
    spec = TINY_SPEC if config == "tiny" else ModelSpec()
    return Mast3rEngine(random_model(spec, seed=0), torch.device(device), precision)
