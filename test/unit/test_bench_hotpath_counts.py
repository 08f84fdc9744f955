"""bench/hotpath_counts.py's options: ``--host-only`` times the host finish alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[2] / "bench")


def test_host_only_runs_no_triton_path(monkeypatch, tmp_path):
    """``--host-only`` is "numpy; no Triton": it must not count the fixed path's phases or run
    the paths (both run the Triton search, absent where the ``triton`` extra is not installed);
    it ran the phases, so it failed wherever Triton does not import."""
    monkeypatch.syspath_prepend(BENCH)
    sys.modules.pop("hotpath_counts", None)
    import hotpath_counts as hc

    def triton_path(*a, **k):
        raise AssertionError("--host-only ran a Triton path")

    monkeypatch.setattr(hc, "fixed_phases", triton_path)
    monkeypatch.setattr(hc, "run_bench", triton_path)
    monkeypatch.setattr(hc, "host_finish_bench", lambda: [{"k": 1, "identical": True}])
    out = tmp_path / "h.json"
    assert hc.main(["--host-only", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["host_finish"] == [{"k": 1, "identical": True}]
    assert "phases" not in res and "paths" not in res
