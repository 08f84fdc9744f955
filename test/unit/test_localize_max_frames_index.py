"""localize BAG --max-frames N on a long rosbag2: its indexing pass read the headers of every
image, CameraInfo and /tf message of the whole bag before the first of the N frames (minutes
on an hours-long field recording, for a 10-frame try), as build-map's did before
`rosbag.index_stop`. The pass now stops past the frames localize takes (the first
``stride * (N - 1) + 1``), and the run is the one the whole pass gives: same frames, stamps,
ground truth and results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_bag_max_frames_index import FRAMES, _bag  # noqa: E402

from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import index_stop  # noqa: E402
from mast3r_ros.replay.sources import frames_spanned, selected_positions  # noqa: E402

STOPPED = "the indexing pass stopped"


def _results(run: Path) -> list:
    """results.jsonl without its timings (wall-clock, never the same twice)."""
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("timings_s", None)
    return rows


def _localize(bag: str, sift_map: str, out: Path, *extra: str) -> None:
    assert main(["localize", bag, "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--pose-frames", "map", "--log-level", "info", *extra]) == 0


@pytest.mark.parametrize("stride", [1, 3])
def test_localize_max_frames_stops_the_indexing_pass_with_the_same_results(
        tmp_path, sift_map, capsys, monkeypatch, stride):
    bag = _bag(tmp_path / "bag")
    options = ("--max-frames", "4", "--stride", str(stride))
    _localize(bag, sift_map, tmp_path / "cut", *options)
    assert STOPPED in capsys.readouterr().err, "the whole bag was indexed for 4 frames"
    monkeypatch.setattr(index_stop.IndexStop, "of", classmethod(lambda cls, seq, n: None))
    _localize(bag, sift_map, tmp_path / "whole", *options)  # as before: the whole bag
    assert STOPPED not in capsys.readouterr().err
    cut, whole = _results(tmp_path / "cut"), _results(tmp_path / "whole")
    assert len(cut) == 4 and cut == whole
    assert [r["stamp_ns"] for r in cut] == [10**9 + k * stride * 10**8 for k in range(4)]


def test_localize_without_max_frames_indexes_the_whole_bag(tmp_path, sift_map, capsys):
    bag = _bag(tmp_path / "bag")
    _localize(bag, sift_map, tmp_path / "run", "--stride", "40")
    assert STOPPED not in capsys.readouterr().err
    assert len(_results(tmp_path / "run")) == len(selected_positions(FRAMES, 40))


def test_frames_spanned_is_the_selection_s_extent():
    for stride in (1, 2, 7):
        for n in (1, 3, 10):
            assert frames_spanned(stride, n) == max(selected_positions(10**4, stride, n)) + 1
    assert frames_spanned(1, 0) is None and frames_spanned(0, 5) is None
    assert frames_spanned(2, -1) is None
