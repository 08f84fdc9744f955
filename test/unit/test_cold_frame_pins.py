"""The cold first frame, found by position since this stop (`localize_run._localize_to_file`),
at the edge test_localize_resume.py leaves open: the frame left out of the latency is the one
localized first, not only one frame by count (a mutation audit's pin: marking the frame after
it passed every test there)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mast3r_ros.replay.cli import main


def test_the_frame_left_out_of_the_latency_is_the_first_localized(tum, sift_map, tmp_path):
    run = tmp_path / "run"
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--log-level", "error", "--max-frames", "3"]) == 0
    recs = [json.loads(line) for line in open(run / "results.jsonl", encoding="utf-8")]
    m = json.loads((run / "metrics.json").read_text())
    assert recs[0].get("cold_start") and m["latency_left_out"]["frames"] == 1
    # results.jsonl keeps the timings to 10 us
    first = [r["timings_s"]["total"] for r in recs]
    assert m["latency_first_frame_s"]["total"] == pytest.approx(first[0], abs=1e-5), first
    median = m["latency_s"]["total"]["median"]
    assert median == pytest.approx(float(np.median(first[1:])), abs=1e-5), (median, first)


def test_an_unreadable_first_frame_is_not_the_cold_one(tum, sift_map, tmp_path):
    """An unreadable image ran nothing: the frame localized after it pays the one-time costs."""
    q = tmp_path / "q"
    shutil.copytree(tum[1], q)
    first = next(line.split()[1] for line in (q / "rgb.txt").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    (q / first).write_bytes(b"not a png")
    run = tmp_path / "run"
    assert main(["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--log-level", "error", "--max-frames", "3"]) == 0
    recs = [json.loads(line) for line in open(run / "results.jsonl", encoding="utf-8")]
    assert [bool(r.get("cold_start")) for r in recs] == [False, True, False], recs
    m = json.loads((run / "metrics.json").read_text())
    assert m["latency_left_out"]["frames"] == 1 and m["latency_s"]["total"]["frames"] == 1
