"""bench/bench_matching.py writes what it finished while it runs: gpu_checks.sh's matching step
has a 60 s limit, and a run cut by it left no bench_matching.json at all (the matching line,
the TF32 screen and the walk.FUSED_ROUNDS ratios all "not measured")."""

import json
import sys

import pytest
from mast3r_test_utils import REPO, bench_script

if str(REPO / "bench") not in sys.path:  # bench_matching imports benchlib
    sys.path.insert(0, str(REPO / "bench"))


def test_a_run_stopped_after_its_first_pair_keeps_that_pair(tmp_path, monkeypatch):
    bm = bench_script("bench_matching")
    calls, real = [], bm._torch_prev

    def prev(*a, **k):  # the second pair's torch walk comparison: the step's limit strikes
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("cut")
        return real(*a, **k)

    monkeypatch.setattr(bm, "_torch_prev", prev)
    out = tmp_path / "m.json"
    with pytest.raises(KeyboardInterrupt):
        bm.main(["--smoke", "--backends", "torch", "--json", str(out)])
    doc = json.loads(out.read_text())
    assert doc["incomplete"] is True and [p["pair"] for p in doc["pairs"]] == [0], doc
    assert "shape_hwd" in doc and not any(k.startswith("match_and_fuse_K") for k in doc)


def test_a_finished_run_is_not_marked_incomplete(tmp_path):
    bm = bench_script("bench_matching")
    out = tmp_path / "m.json"
    assert bm.main(["--smoke", "--backends", "torch", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert "incomplete" not in doc and "match_and_fuse_K2_per_pair" in doc, sorted(doc)
