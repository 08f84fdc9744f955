"""A run folder did not record what it ran: config.yaml, run.json and metrics.json lacked
SOURCE, --stride and --max-frames, and the summary said only 'frames 5' (build-map's says its
cut: '(the first of 50: --max-frames)'). run.json's ``selection`` records them, with the frame
counts, and the summary's first line says the cut."""

from __future__ import annotations

import json
import os

import pytest

from mast3r_ros.replay.cli import main


def test_run_json_and_the_summary_say_what_the_run_took(tum, sift_map, tmp_path, capsys):
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--stride", "2", "--max-frames", "2", "--log-level", "warning"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    facts = json.loads((out / "run.json").read_text())
    n = facts["selection"]["of_frames"]
    assert facts["selection"] == {"source": os.path.abspath(tum[1]), "stride": 2,
                                  "max_frames": 2, "frames": 2, "of_frames": n} and n > 4
    assert first == (f"localized {tum[1]} (2 of its {n} frames: --stride 2 takes every 2nd, "
                     f"--max-frames 2 the first 2 of those) against {sift_map} -> {out}"), first


@pytest.mark.parametrize("sel,said", [
    ((1, 0, 50, 50), ""),
    ((1, 80, 50, 50), ""),  # --max-frames above the recording's count: nothing cut
    ((3, 0, 17, 50), " (17 of its 50 frames: --stride 3 takes every 3rd)"),
    ((1, 5, 5, 50), " (5 of its 50 frames: --max-frames 5 the first 5)"),
    ((11, 0, None, None), " (--stride 11 takes every 11th)"),
])
def test_the_summary_names_only_a_cut_made(sel, said):
    from mast3r_ros.replay.run_notes import selection_said

    stride, cap, n, of = sel
    assert selection_said({"source": "", "stride": stride, "max_frames": cap, "frames": n,
                           "of_frames": of}) == said


class _CutBag:
    """A bag whose indexing pass --max-frames cut: 14 frames indexed of the 50 its metadata
    lists (`rosbag.index_stop._IndexStopped`)."""
    frames_in_recording = 50
    frames_counted_in_bag = True

    def __len__(self):
        return 14


def test_a_cut_bag_pass_counts_the_bags_frames_not_those_indexed():
    """`localize q_db3 --max-frames 3` (a 50-image bag) said '(3 of its 14 frames: ...)' and
    run.json recorded of_frames 14: the frames its cut indexing pass read, not the bag's."""
    from mast3r_ros.replay.run_notes import frame_selection, selection_said

    sel = frame_selection(_CutBag(), "", 1, 3)
    assert (sel["frames"], sel["of_frames"], sel["of_frames_from"]) == (3, 50, "bag_metadata")
    assert selection_said(sel) == (" (3 of the ~50 frames in the bag (its count, not told "
                                   "apart by run): --max-frames 3 the first 3)")
