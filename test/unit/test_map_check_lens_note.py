"""A consistent map whose keyframe pairs gave the lens distortion no verdict says so, note or no
note (`ConsistencyReport.lens_note`).

Before, "the lens distortion was not judged" was said only inside a colour-focal note: a small
map with no such note (the synthetic room at 160x120, 8 keyframes: 3 of 4 pairs fitted, 5
needed) printed its summary and nothing of its lens, as if it had been judged right; a
--stereo-depth map's note (a warning already) dropped it too."""

from __future__ import annotations

import json
import logging
import types

import numpy as np
import pytest

import mast3r_ros.core.map_check as mc
from mast3r_ros.core.config import Config
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.map_check.distortion import lens_unjudged
from mast3r_ros.core.map_check.focal import DEPTH_STEREO, FocalNote
from mast3r_ros.core.types import CameraIntrinsics

NOT_JUDGED = "the lens distortion was not judged: 0 of "


@pytest.fixture
def unjudged(monkeypatch):
    monkeypatch.setattr(mc, "map_distortion", lambda *a: None)  # no keyframe pair fitted
    monkeypatch.setattr(mc, "colour_focal_note", lambda *a, **k: None)


def test_check_map_says_the_lens_was_not_judged_without_a_colour_note(sift_map, unjudged,
                                                                       tmp_path, capsys):
    from mast3r_ros.replay.cli import main

    js = tmp_path / "check.json"
    assert main(["check-map", sift_map, "--json", str(js)]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = [s for s in lines if "lens distortion was not judged" in s]
    assert len(said) == 1 and said[0].startswith(f"note: {sift_map}: {NOT_JUDGED}"), lines
    assert "keyframe pairs fitted (5 needed" in said[0] and "at 320x240" in said[0], said
    doc = json.loads(js.read_text())
    assert doc["verdict"] == "consistent" and doc["lens_note"] == said[0].split(": ", 2)[2]
    assert "note" not in doc  # no colour-focal note: the lens line is its own


def test_a_map_build_logs_it_at_info(sift_map, unjudged, caplog):
    rep = mc.check_map(KeyframeMap.load(sift_map), Config().map_check)
    with caplog.at_level(logging.INFO):
        rep.settle(False, logging.getLogger("test"))
    notes = [r for r in caplog.records if "lens distortion was not judged" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelname == "INFO", caplog.records
    assert notes[0].getMessage().startswith(f"map check note: {NOT_JUDGED}")


def test_said_once_where_the_colour_note_says_it(sift_map, monkeypatch):
    monkeypatch.setattr(mc, "map_distortion", lambda *a: None)
    monkeypatch.setattr(mc, "colour_focal_note", lambda *a, **k: FocalNote(
        "the colour images fit x0.82; the given K fits the depth and the map passes: no action "
        "needed", "brief", False))
    rep = mc.check_map(KeyframeMap.load(sift_map), Config().map_check)
    assert NOT_JUDGED in rep.note and rep.lens_note == "", rep


def test_a_stereo_depth_note_keeps_its_words_and_the_lens_is_said_beside_it(sift_map,
                                                                            monkeypatch):
    stereo = FocalNote("the images fit x0.82; the map passes, but its depth was computed from "
                       "these same images ...", "same", True)
    monkeypatch.setattr(mc, "map_distortion", lambda *a: None)
    monkeypatch.setattr(mc, "colour_focal_note", lambda *a, **k: stereo)
    check = mc.KeyframeCheck(Config().map_check, depth_source=DEPTH_STEREO)
    kmap = KeyframeMap.load(sift_map)
    records = mc.MapRecords(kmap)
    for r in records:
        check.add(r)
    rep = check.report(records)
    assert rep.note == stereo.text and rep.lens_note.startswith(NOT_JUDGED), rep


def test_a_judged_lens_says_nothing(sift_map):
    rep = mc.check_map(KeyframeMap.load(sift_map), Config().map_check)
    assert rep.distortion and rep.distortion["k1"] is not None and rep.lens_note == ""


def test_a_fisheye_map_is_told_why():
    cam = CameraIntrinsics(320, 240, np.array([[200.0, 0, 160], [0, 200.0, 120], [0, 0, 1]]),
                           np.array([0.1, 0.01, 0.0, 0.0]), "equidistant")
    view = types.SimpleNamespace(cam=cam, pose=np.eye(4), width_px=320, scale=1.0)
    assert lens_unjudged(None, [view, view], {}) == (
        "the lens distortion was not judged: the check fits a pinhole's residual radial k1, "
        "which models no equidistant D")
