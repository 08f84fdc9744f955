"""An installed Triton older than 3.0 (pip's CUDA torch 2.1-2.3 wheels bring Triton 2.x) is not
used by the matching: its tl.dot has no ``input_precision``, so the kernels would fail to
compile at the first frame. "auto" takes the torch search, "triton" is a ConfigError naming the
version. Runs in a subprocess with a stand-in ``triton`` package first on sys.path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = textwrap.dedent("""
    import json, torch
    import triton
    from mast3r_ros.core.matching import backend
    from mast3r_ros.core.errors import ConfigError
    out = {"triton": triton.__version__, "error": backend._triton_error(),
           "auto_cuda": backend.resolve_nn_backend("auto", torch.device("cuda"))}
    try:
        backend.resolve_nn_backend("triton", torch.device("cuda"))
    except ConfigError as e:
        out["explicit"] = str(e)
    print(json.dumps(out))
""")


def _fake_triton(root: Path, version: str) -> None:
    pkg = root / "triton"
    (pkg / "language").mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        f"__version__ = {version!r}\n"
        "def jit(fn=None, **kwargs):\n"
        "    return fn if fn is not None else (lambda f: f)\n"
        "def cdiv(a, b):\n"
        "    return -(-a // b)\n")
    (pkg / "language" / "__init__.py").write_text(
        "class constexpr:\n"
        "    def __init__(self, value):\n"
        "        self.value = value\n"
        "    def __class_getitem__(cls, item):\n"
        "        return cls\n")


def _probe(tmp_path: Path, version: str) -> dict:
    _fake_triton(tmp_path, version)
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(repo)]))
    env.pop("TRITON_INTERPRET", None)
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("version", ["2.1.0", "2.3.1+e6216047b8"])
def test_triton_2_is_not_used(tmp_path, version):
    out = _probe(tmp_path, version)
    assert out["triton"] == version
    assert f"triton {version} is older than 3.0" in out["error"]
    assert out["auto_cuda"] == "torch"
    assert "nn_backend 'triton' needs" in out["explicit"] and version in out["explicit"]


def test_release_parsing():
    pytest.importorskip("triton", minversion="3.0")
    from mast3r_ros.core.nn_triton import _release

    assert _release("3.1.0") == (3, 1)
    assert _release("2.1.0+e6216047b8") == (2, 1)
    assert _release("3.2.0.dev0") == (3, 2)
    assert _release("garbage") == (0, 0)


def test_auto_takes_the_torch_search_when_the_kernels_fail_their_self_test(monkeypatch, caplog):
    """A Triton that imports but cannot compile or run the kernels on this GPU (a version or GPU
    they were never run on): one warning, then the torch search, instead of a failed frame."""
    import torch

    from mast3r_ros.core.matching import backend

    monkeypatch.setattr(backend, "_triton_error", lambda: None)
    monkeypatch.setattr(backend, "_SELF_TEST", {})
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    runs = []

    def self_test(device):
        runs.append(device)
        return None if device == "cuda:0" else "CompilationError: at 12:4: unsupported"

    monkeypatch.setattr(backend, "_triton_self_test", self_test)
    with caplog.at_level("WARNING", logger=backend.__name__):
        for _ in range(3):
            assert backend.resolve_nn_backend("auto", torch.device("cuda:0")) == "triton"
            assert backend.resolve_nn_backend("auto", torch.device("cuda:1")) == "torch"
    assert runs == ["cuda:0", "cuda:1"]  # once per device
    (rec,) = caplog.records
    assert "cannot run on cuda:1 (CompilationError" in rec.getMessage()
    assert "torch search" in rec.getMessage()
    assert backend.resolve_nn_backend("torch", torch.device("cuda:1")) == "torch"


def test_self_test_reports_why_and_wrong_indices(monkeypatch):
    """The self-test itself: the reason of a failure, and indices that differ from the torch
    search's are a failure too (on the CPU, through a stand-in of nn_triton.nearest)."""
    import types

    from mast3r_ros.core.matching import backend

    fake = types.ModuleType("mast3r_ros.core.nn_triton")

    def right(q, t):
        return (q @ t.T).argmax(dim=1)

    def last_of_ties(q, t):  # the wrong tie rule: the last maximum
        s = q @ t.T
        return s.shape[1] - 1 - s.flip(1).argmax(dim=1)

    def broken(q, t):
        raise RuntimeError("PTX assembly failed\nmore")

    monkeypatch.setitem(sys.modules, "mast3r_ros.core.nn_triton", fake)
    import mast3r_ros.core as core_pkg
    monkeypatch.setattr(core_pkg, "nn_triton", fake, raising=False)
    fake.nearest = right
    assert backend._triton_self_test("cpu") is None
    fake.nearest = last_of_ties
    assert "differ from the torch search's" in backend._triton_self_test("cpu")
    fake.nearest = broken
    assert backend._triton_self_test("cpu") == "RuntimeError: PTX assembly failed"
