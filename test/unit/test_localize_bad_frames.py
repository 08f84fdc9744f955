"""What ``localize`` does with one bad query frame (a fresh user's find: one truncated depth PNG
stopped the whole run, keeping only the frames before it in RUN.partial).

A query frame's depth is unused by the localizer, so ``localize`` does not read it at all
(``TumSequence(read_depth=False)``); ``build-map`` still reads, and refuses, a bad depth PNG."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mast3r_ros.replay.cli import main
from mast3r_ros.replay.tum import TumSequence

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])


def _listed(folder: Path, txt: str) -> list:
    """The files ``folder/txt`` lists, in its order."""
    return [folder / ln.split()[1] for ln in (folder / txt).read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def _results(run: Path) -> list:
    return [json.loads(ln) for ln in (run / "results.jsonl").read_text().splitlines()]


def test_query_depth_is_not_read_by_localize(tum, sift_map, tmp_path, capsys):
    folder = tmp_path / "q"
    shutil.copytree(tum[1], folder)
    bad = _listed(folder, "depth.txt")[4]
    _truncate(bad)
    assert TumSequence(folder, read_depth=False)[4].depth_m is None
    run = tmp_path / "run"
    assert main(["localize", str(folder), "--map", sift_map, "--out", str(run), "--matcher",
                 "sift", "--log-level", "warning"]) == 0, capsys.readouterr().err
    results = _results(run)
    assert len(results) == len(TumSequence(folder)) and all(r["success"] for r in results)
    # build-map reads the depth of its keyframes: the truncated PNG is still refused, named
    capsys.readouterr()
    out = tmp_path / "m"
    assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift",
                 "--log-level", "warning"]) == 2
    err = capsys.readouterr().err
    assert f"cannot read depth image {bad}" in err and "truncated" in err, err
    assert not out.exists()
