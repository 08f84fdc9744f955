"""The Triton kernels of `core.nn_triton` and `core.walk_triton` compile for real GPUs, without one.

The other Triton tests run the kernels through Triton's CPU interpreter, which accepts programs
the GPU compiler rejects (and a screened kernel that fails to compile on the GPU only logs a
warning and falls back to the IEEE kernel). Triton compiles ahead of time for any target, so
this compiles every kernel variant for sm_90 (H100/H200) and sm_87 (Jetson AGX Orin) with
`bench/kernel_resources.py` and checks the ones used by default keep every register in
registers (no spill to the stack: a spill would be a silent slow-down), that the TF32 screen
multiplies on the tensor cores and that the search (whose indices must be IEEE float32's) has
no tensor-core instruction at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

triton = pytest.importorskip("triton", minversion="3.0")

REPO = Path(__file__).resolve().parents[2]
_TOOLS = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"


@pytest.mark.skipif(not (_TOOLS / "cuobjdump").is_file(),
                    reason="this Triton has no bundled NVIDIA toolchain")
def test_kernels_compile_for_h200_and_orin_without_spills(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(PYTHONPATH=str(REPO), TRITON_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "res.json"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "kernel_resources.py"),
                        "--arch", "90,87", "--json", str(out)],
                       env=env, capture_output=True, text=True, timeout=600)
    if r.returncode == 3:
        pytest.skip(r.stderr.strip()[-300:])  # another Triton's ahead-of-time API
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {(x["arch"], x["variant"]) for x in rows} >= {
        (a, v) for a in ("sm_90", "sm_87")
        for v in ("target norms", "TF32 screen", "search, screened", "reduce",
                  "walk round, between", "walk round, after")}
    for x in rows:
        assert "error" not in x, x
        if x["default"] or x["variant"].startswith("walk round"):  # walk.FUSED_ROUNDS's too
            assert x["spill_bytes"] == 0, x
            assert x["resident_warps"] >= 8, x
        if x["variant"] == "TF32 screen":  # its speed: products on the tensor cores
            assert x["tf32_mma_instructions"] > 0, x
        elif x["variant"].startswith("search"):  # exactness: no TF32 product in the search
            assert x["mma_instructions"] == 0, x
