"""``localize --resume`` of frames that share a stamp: the recorded results were kept by stamp,
so a camera stamping every image 0 resumed 1 frame of the 95 recorded, took it for all 100
(every line of results.jsonl one pose, 'localized 100 (100.0 %)', exit 0), and a TUM folder
with one duplicated rgb.txt stamp gave one image the other's pose. Each results.jsonl line now
records its frame's place in SOURCE (``frame_index``), which --resume matches with the stamp;
a partial of an older mast3r_ros (no ``frame_index``) resumes by stamp where the stamps are
unique, and is refused in one line naming --restart where they are not
(`mast3r_ros.replay.run_resume`)."""

import json
import shutil

import pytest

from mast3r_ros.replay.cli import main
from test_localize_resume import _count_calls, _errors, _records, _stamped_zero, _stop_after

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N = ("--max-frames", "4")


def _argv(q, sift_map, run, *more):
    n = () if "--max-frames" in more else N
    return ["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher", "sift",
            "--log-level", "warning", *n, *more]


def _duplicated(folder, q):
    """A copy ``q`` of the TUM folder whose rgb.txt gives its second image the first's stamp."""
    shutil.copytree(folder, q)
    lines = (q / "rgb.txt").read_text().splitlines(keepends=True)
    frames = [i for i, line in enumerate(lines) if not line.startswith("#")]
    lines[frames[1]] = lines[frames[0]].split()[0] + " " + lines[frames[1]].split()[1] + "\n"
    (q / "rgb.txt").write_text("".join(lines))
    return q


def _without_timings(path):
    return [{k: v for k, v in r.items() if k not in ("timings_s", "cold_start")}
            for r in _records(path)]


def _as_older(partial):
    """``partial``'s results.jsonl as an older mast3r_ros wrote it: no frame_index."""
    path = partial / "results.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "frame_index"}) + "\n"
                            for r in _records(path)))


@pytest.mark.parametrize("stamps, stop", [("zero", 2), ("duplicated", 1)])
def test_resuming_frames_that_share_a_stamp_gives_the_run_in_one_go(
        tum, sift_map, tmp_path, capsys, monkeypatch, stamps, stop):
    q = (_stamped_zero if stamps == "zero" else _duplicated)(tum[1], tmp_path / "q")
    if stamps == "zero":
        (q / "groundtruth.txt").unlink()  # its stamps are not the images' now
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(_argv(q, sift_map, one)) == 0
    _stop_after(monkeypatch, stop)
    assert main(_argv(q, sift_map, two)) == 130
    # the same partial as an older mast3r_ros wrote it: which frames it holds cannot be told
    shutil.copytree(tmp_path / "two.partial", tmp_path / "old.partial")
    _as_older(tmp_path / "old.partial")
    calls = _count_calls(monkeypatch)
    assert main(_argv(q, sift_map, two, "--resume")) == 0
    assert len(calls) == 4 - stop  # each frame not recorded localized, none twice
    a, b = _without_timings(one / "results.jsonl"), _without_timings(two / "results.jsonl")
    assert len({r["stamp_ns"] for r in a}) < 4 and sum(r["success"] for r in a) >= 3
    assert a == b  # each frame its own pose, as in one go
    assert (one / "trajectory.tum").read_text() == (two / "trajectory.tum").read_text()
    assert [r["frame_index"] for r in b] == [0, 1, 2, 3]  # its place in SOURCE
    capsys.readouterr()
    assert main(_argv(q, sift_map, tmp_path / "old", "--resume")) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "--restart" in errors[0] and "share stamps" in errors[0], errors


def test_an_older_partials_lines_are_matched_by_stamp_only_where_stamps_are_unique():
    """A line without frame_index (an older mast3r_ros) is its frame's by stamp where this
    run's stamps are unique, and gets its frame_index (SOURCE's place, --stride 2 here), so the
    run's results.jsonl is a run in one go's; where they are shared it is refused naming
    --restart. A line with frame_index is matched by place and stamp."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.run_resume import _match_frames, result_from_record

    def line(stamp, **more):
        rec = {"stamp_ns": stamp, "success": False, "reason": "x", "inliers": 0, "matches": 0,
               "inlier_ratio": 0.0, "reproj_rms_px": None, "keyframe_ids": [],
               "timings_s": {}, **more}
        return json.dumps(rec), result_from_record(rec)

    lines, done = _match_frames("P", [line(10), line(30)], [10, 30, 50], [0, 2, 4])
    assert sorted(done) == [0, 1] and [done[i].stamp_ns for i in (0, 1)] == [10, 30]
    assert [json.loads(lines[i])["frame_index"] for i in (0, 1)] == [0, 2]
    with pytest.raises(InputError, match="share stamps.*--restart"):
        _match_frames("P", [line(0)], [0, 0, 0], [0, 1, 2])
    lines, done = _match_frames("P", [line(0, frame_index=0), line(0, frame_index=1)],
                                [0, 0, 0], [0, 1, 2])
    assert sorted(done) == [0, 1]
    with pytest.raises(InputError, match="not among this run's frames"):  # another recording
        _match_frames("P", [line(7, frame_index=0)], [0, 0, 0], [0, 1, 2])
