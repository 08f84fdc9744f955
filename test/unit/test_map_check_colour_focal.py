"""The map check names colour images not registered to the depth (a depth camera of another
focal length, as 7-Scenes' Kinect v1: 585 px given, the depth camera's; its colour camera fits
x0.90): every pair's depth agrees, the matches do not. It was named a pose jump or a depth unit
whose fix breaks the depth."""

from __future__ import annotations

import dataclasses

import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import CONSISTENT, INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


def _unregistered(g):
    """The synthetic walk's depth seen by the given camera, its colour by one with fx, fy x g
    (the same size and principal point), every keyframe given the depth camera's K."""
    cam = default_intrinsics(160, 120)
    K = cam.K.copy()
    K[0, 0] *= g
    K[1, 1] *= g
    colour = dataclasses.replace(cam, K=K)
    idx = range(0, 20, 2)
    return [KeyframeRecord(c.rgb, d.depth_m, cam, d.map_from_cam, d.stamp_ns)
            for d, c in zip(render_frames(40, cam, indices=idx),
                            render_frames(40, colour, indices=idx))]


@pytest.mark.parametrize("g", [0.8, 1.0])
def test_colour_of_another_focal_length_than_the_depth_is_named_with_the_fx_that_fits(g):
    r = check_keyframes(_unregistered(g), CFG, depth_units_per_m=1000.0)
    if g == 1.0:  # registered: consistent, nothing to name
        assert r.verdict == CONSISTENT, r.message
        return
    # before: "depth is x0.5 the size the poses fit ... fix: --depth-scale 500"
    assert r.verdict == INCONSISTENT and r.cause == "colour_focal", r.message
    fitted = float(r.message.split("the colour images fit fx, fy x")[1].split(" ")[0])
    assert abs(fitted / g - 1) < 0.02, r.message
    assert "the depth is a depth camera's not registered to the colour camera" in r.message
    assert r.fix.startswith("register the depth to the colour camera"), r.fix
    for wrong in ("--depth-scale", "jump", "no pose convention"):
        assert wrong not in r.message, r.message


@pytest.mark.parametrize("g", [0.9, 0.96, 1.0])
def test_a_consistent_map_whose_colour_fits_another_focal_says_so_in_a_note(g):
    """x0.9 passes the check here (reprojection 6.5 px, limit 12.8 px), as 7-Scenes' redkitchen
    does (x0.908: 23.0 px, limit 51.2 px), and the fit was said nowhere: now a note, the map
    still consistent and its figures unchanged; x0.96 (within 5 %) and a registered colour
    camera get none."""
    r = check_keyframes(_unregistered(g), CFG, depth_units_per_m=1000.0)
    assert r.verdict == CONSISTENT and r.cause == "", r.message
    if g != 0.9:
        assert r.note == "" and "note" not in r.to_manifest(), r.note
        return
    fitted = float(r.note.split("the colour images fit fx, fy x")[1].split(" ")[0])
    assert abs(fitted / g - 1) < 0.02, r.note
    assert "the map passes" in r.note and r.to_manifest()["note"] == r.note


def test_build_map_and_check_map_say_the_note_without_failing(tum, sift_map, tmp_path,
                                                              monkeypatch, capsys):
    """The note reaches the user: build-map logs its brief after the summary, at INFO when
    nothing needs changing (it was a WARNING on redkitchen, 1000 characters that ended
    "Nothing needs changing"), and stores its text with the figures; check-map prints the text
    as a 'note:' line; both exit 0."""
    import json

    import mast3r_ros.core.map_check as map_check
    from mast3r_ros.core.map_check.focal import FocalNote
    from mast3r_ros.replay.cli import main

    monkeypatch.setattr(map_check, "colour_focal_note",
                        lambda *a: FocalNote("the colour images fit x0.9 (figures)", "x0.9",
                                             action=False))
    capsys.readouterr()
    assert main(["check-map", sift_map]) == 0
    out = capsys.readouterr().out
    assert f"note: {sift_map}: the colour images fit x0.9 (figures)\n" in out, out
    built = tmp_path / "map"
    assert main(["build-map", tum[0], "--out", str(built), "--matcher", "sift",
                 "--log-level", "info"]) == 0
    err = capsys.readouterr().err
    assert "[INFO] mast3r_ros.replay.pipeline: map check note: x0.9\n" in err, err
    assert "[WARNING] mast3r_ros.replay.pipeline: map check note" not in err, err
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["consistency"]["note"] == "the colour images fit x0.9 (figures)"


@pytest.mark.parametrize("action", [False, True])
def test_a_map_writer_logs_the_note_at_info_unless_it_asks_for_a_change(action, caplog):
    """`ConsistencyReport.settle`: the brief after the summary, a warning only where the user
    should act (--stereo-depth: check the calibration), info where nothing needs changing."""
    import logging

    from mast3r_ros.core.map_check.report import ConsistencyReport

    log = logging.getLogger("test_settle")
    r = ConsistencyReport(CONSISTENT, [], [], "map consistent", note="text", note_brief="brief",
                          note_action=action)
    with caplog.at_level(logging.INFO, logger="test_settle"):
        r.settle(False, log)
    assert [(rec.levelname, rec.getMessage()) for rec in caplog.records][1:] == [
        ("WARNING" if action else "INFO", "map check note: brief")]


def test_the_colour_focal_scan_rebuilds_no_view(monkeypatch):
    """Each factor the scan tries (about 45) rebuilt every keyframe's view under its K, the
    pairs scored or not: 47 x N views, a minute at 2*10^4 keyframes; then only the views of the
    pairs scored. Now none: every factor is scored in one pass per pair
    (`focal._pair_reproj_factors`), the fit unchanged (x0.9 found)."""
    import cv2

    from mast3r_ros.core.map_check import focal
    from mast3r_ros.core.map_check.measure import StreamingMeasure

    sm = StreamingMeasure(CFG, cv2.ORB_create(nfeatures=CFG.max_features),
                          cv2.BFMatcher(cv2.NORM_HAMMING))
    for rec in _unregistered(0.9):
        sm.add(rec)
    views, matches, pairs = sm.close()
    kept = [(0, 1), (1, 2), (2, 3)]
    assert all(matches[k] is not None for k in kept)
    matches = {k: (m if k in kept else None) for k, m in matches.items()}
    rebuilt = []
    replace = dataclasses.replace

    def spy(obj, **changes):
        if hasattr(obj, "label"):
            rebuilt.append(obj.label)
        return replace(obj, **changes)
    monkeypatch.setattr(focal, "dataclasses", type("D", (), {"replace": staticmethod(spy)}))
    fit = focal._colour_focal_fit(views, matches, pairs, CFG)
    assert fit is not None and abs(fit[0] / 0.9 - 1) < 0.02, fit
    assert rebuilt == [], set(rebuilt)
