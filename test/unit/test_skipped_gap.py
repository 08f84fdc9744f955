"""A map check that fails where the build skipped frames (resized ones among the map's, each
skipped with a warning) named a pose or depth cause and said nothing of them; the keyframe gap
they widen is the likely cause. The refusal (build-map's, check-map's, the manifest's and
--json's message) now says how many frames were skipped there and why."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest

from mast3r_ros.core import map_check
from mast3r_ros.core.map_check import INCONSISTENT, ConsistencyReport, PairFigures
from mast3r_ros.core.map_check.skipped_gap import skipped_gap_note
from mast3r_ros.replay.cli import main

S = 10**9
STAMPS = [0, S, 2 * S, 5 * S, 6 * S]  # frames at 3 s and 4 s skipped


def _report(bad):
    pairs = [PairFigures(a, a + 1, ok=(a, a + 1) not in bad) for a in range(4)]
    return ConsistencyReport(INCONSISTENT, [], pairs, "map inconsistent: ...")


def test_only_disagreeing_pairs_that_all_straddle_skipped_frames_name_them():
    note = skipped_gap_note(_report({(2, 3)}), STAMPS, [3 * S, 4 * S], "x.png is 160x120")
    assert note.startswith("the 2 frames the build skipped as unreadable (the first: x.png is "
                           "160x120) lie between the keyframes that disagree (t=3.000..4.000 "
                           "s)"), note
    assert "likely cause" in note
    # a pair without a skipped frame between its keyframes disagrees too: another cause
    assert skipped_gap_note(_report({(2, 3), (0, 1)}), STAMPS, [3 * S, 4 * S]) == ""
    assert skipped_gap_note(_report({(0, 1)}), STAMPS, [3 * S, 4 * S]) == ""
    consistent = _report(set())
    assert skipped_gap_note(consistent, STAMPS, [3 * S]) == ""
    assert skipped_gap_note(_report({(2, 3)}), STAMPS, [3 * S, 7 * S]).startswith(
        "1 of the 2 frames")


def _gap_fails(report, gap_after=5):
    """``report`` made inconsistent on the pairs that straddle the gap after keyframe
    ``gap_after`` alone (what a real map with too little overlap there shows)."""
    for p in report.pairs:
        if min(p.a, p.b) <= gap_after < max(p.a, p.b):
            p.ok = False
    report.verdict, report.message = INCONSISTENT, "map inconsistent: keyframe pairs disagree"
    return report


def test_build_map_and_check_map_name_the_skipped_frames(tum, tmp_path, capsys, monkeypatch):
    src = tmp_path / "rec"
    shutil.copytree(tum[0], src)
    for name in ("1.200000", "1.400000"):  # resized: another resolution than camera.yaml's
        png = str(src / "rgb" / f"{name}.png")
        cv2.imwrite(png, cv2.resize(cv2.imread(png), (160, 120)))
    real_report = map_check.KeyframeCheck.report
    monkeypatch.setattr(map_check.KeyframeCheck, "report",
                        lambda self, *a, **k: _gap_fails(real_report(self, *a, **k)))
    out = tmp_path / "map"
    said = "the 2 frames the build skipped as unreadable (the first: "
    # --force writes it, with the message its refusal would have been (one report, one text)
    assert main(["build-map", str(src), "--out", str(out), "--matcher", "sift", "--force",
                 "--max-frames", "9", "--log-level", "warning"]) == 0
    forced = [ln for ln in capsys.readouterr().err.splitlines() if "--force: writing" in ln]
    assert len(forced) == 1 and said in forced[0] and "is 160x120 but " in forced[0], forced
    assert "(t=1.200..1.400 s)" in forced[0], forced
    manifest = json.loads((out / "manifest.json").read_text())
    assert said in manifest["consistency"]["message"]
    real_check = map_check.check_map
    monkeypatch.setattr(map_check, "check_map", lambda *a, **k: _gap_fails(real_check(*a, **k)))
    capsys.readouterr()
    report = tmp_path / "check.json"
    assert main(["check-map", str(out), "--json", str(report), "--log-level", "error"]) == 2
    err = capsys.readouterr().err
    assert said in err and "(t=1.200..1.400 s)" in err, err
    assert said in json.loads(report.read_text())["message"]


@pytest.mark.parametrize("record", [None, {"count": 2}, {"stamps_ns": ["x"]},
                                    {"stamps_ns": [3 * S], "first": "bad"}])
def test_check_map_without_a_usable_record_adds_nothing(record):
    from mast3r_ros.core.map_check.skipped_gap import note_recorded_skipped_gap

    rep = _report({(2, 3)})
    manifest = {} if record is None else {"unreadable_frames": record}
    note = note_recorded_skipped_gap(rep, STAMPS, manifest)
    assert (note != "") == (record is not None and record.get("stamps_ns") == [3 * S])
    assert rep.message.endswith(note)
