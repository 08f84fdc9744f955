"""The focal-length advice, worded per depth source and without contradicting itself.

On 7-Scenes' redkitchen (one K, 585 px, the depth camera's, for colour and depth) build-map's
note said "give the colour camera's K (fx about 531.2 px)", which read alone (camera.yaml with
fx 531.2) fails the map check, while localize said "fx 585.0 px fits" and called a query at
fx 525 "WRONG". Both checks were right about different things: the map check fits the colour
images against the ground-truth poses, localize fits the query's fx against the map's 3-D
points, placed with the map's K. The note now says to keep the K for map and queries and what
using the colour camera's own K takes (the depth registered to it); localize's row and warning
say what its fx fits. A map whose depth was computed from the same images (``--stereo-depth``)
got the same note, which blamed a depth camera and its registration: none applies there.
"""

from __future__ import annotations

import json

import pytest
from test_map_check_colour_focal import CFG, _unregistered
from test_stereo_depth import euroc_stereo_tree

from mast3r_ros.core.map_check import CONSISTENT, check_keyframes

_SENSOR_ONLY = ("colour images", "colour camera", "depth camera", "depth_image_proc",
                "align_depth", "register the depth", "not registered")


@pytest.fixture(scope="module")
def unregistered():
    """``unregistered(g)``: `_unregistered(g)`'s keyframes, rendered once per g for this module
    (1.3 CPU s each; five checks below read them, check_keyframes changes none of them)."""
    made = {}

    def get(g):
        if g not in made:
            made[g] = _unregistered(g)
        return made[g]
    return get


def test_the_sensor_depth_note_keeps_the_k_and_says_what_the_colour_k_takes(unregistered):
    """The advice (keep the K for map and queries; the colour K takes the depth registered to it
    first, and alone breaks the depth) moved to docs/maps.md's section, which the note cites:
    build-map printed it all as a WARNING whose conclusion was that nothing needs changing."""
    from test_readme_refs import CITATION, cited_section

    r = check_keyframes(unregistered(0.9), CFG, depth_units_per_m=1000.0)
    assert r.verdict == CONSISTENT and r.note, r.message
    note = r.note
    # what the map passes with, and that queries take the same K (localize's check)
    assert "the given K fits the depth" in note and "keep it for the map and its queries" in note
    assert r.note_action is False and "no action needed" in r.note_brief, r.note_brief
    (cited,) = CITATION.findall(note)
    section = " ".join(cited_section(*cited).split())
    # the old advice read literally broke the map: said as what not to do, with why
    assert "colour K given alone, the depth unregistered, breaks the depth" in section
    # the colour K takes the depth registered to it, the depth camera's K being the given one
    assert "the depth camera's K, the given one" in section, section
    assert "for the best poses" not in note + section  # redkitchen: no better (docs/bench)


def test_a_stereo_depth_note_blames_no_depth_camera_or_registration(unregistered):
    r = check_keyframes(unregistered(0.9), CFG, depth_units_per_m=None, depth_source="stereo")
    assert r.verdict == CONSISTENT and r.note, r.message
    note = r.note
    assert note.startswith("the images fit fx, fy x0.9"), note
    assert "--stereo-depth" in note and "registered to them by construction" in note, note
    for word in _SENSOR_ONLY:
        assert word not in note, (word, note)
    # the same figures and the same fit as the sensor note
    sensor = check_keyframes(unregistered(0.9), CFG, depth_units_per_m=1000.0)
    assert (sensor.note.split(": ", 1)[0].replace("colour images", "images")
            == note.split(": ", 1)[0])
    # the user should check the calibration: build-map warns it (the sensor note is an info)
    assert r.note_action is True and sensor.note_action is False


def test_a_stereo_build_records_its_depth_source_and_check_map_words_the_note_for_it(
        tmp_path, monkeypatch, capsys):
    import mast3r_ros.core.map_check as map_check
    from mast3r_ros.core.map_check.focal import FocalNote
    from mast3r_ros.replay.cli import main

    got = []

    def note(*a):
        got.append(a[4] if len(a) > 4 else None)
        return FocalNote(f"note for {got[-1]}", "brief", action=True)

    monkeypatch.setattr(map_check, "colour_focal_note", note)
    root, _ = euroc_stereo_tree(tmp_path / "src", 3, motion=3.0)
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n"
                      "    map_build: {min_translation_m: 0.01}\n")
    out = tmp_path / "map"
    assert main(["build-map", str(root), "--out", str(out), "--matcher", "sift",
                 "--stereo-depth", "--params", str(params), "--log-level", "warning"]) == 0
    assert got == ["stereo"], got
    consistency = json.loads((out / "manifest.json").read_text())["consistency"]
    assert consistency["depth_source"] == "stereo" and consistency["note"] == "note for stereo"
    capsys.readouterr()
    assert main(["check-map", str(out)]) == 0
    assert f"note: {out}: note for stereo\n" in capsys.readouterr().out
    assert got == ["stereo", "stereo"], got


def test_a_sensor_depth_build_records_no_depth_source(tum, tmp_path, monkeypatch):
    import mast3r_ros.core.map_check as map_check
    from mast3r_ros.replay.cli import main

    got = []
    monkeypatch.setattr(map_check, "colour_focal_note",
                        lambda *a: got.append(a[4] if len(a) > 4 else None))
    out = tmp_path / "map"
    assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift",
                 "--log-level", "warning"]) == 0
    assert got == [None], got
    assert "depth_source" not in json.loads((out / "manifest.json").read_text())["consistency"]


def test_localize_says_its_fx_is_fitted_to_the_maps_points():
    """Its row read 'fx 585.0 px fits' beside the map's note that the colour images fit 531.2:
    it fits the query's fx against the map's points, placed with the map's K."""
    import math

    from test_focal_evidence_edges import _result

    from mast3r_ros.core.focal_evidence import FocalFit
    from mast3r_ros.replay.metrics import summarize
    from mast3r_ros.replay.metrics_table import format_table

    res = [_result(True, FocalFit(0.8 * math.exp(0.001 * i), 0.01, 500.0)) for i in range(6)]
    m = summarize(res)
    (row,) = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln]
    assert row.startswith("  camera focal length (query fx against the map's points)"), row
    warning = m["camera_focal"]["warning"]
    assert "the map's 3-D points, placed with the K the map was built with" in warning, warning
    assert "a query's K must be the map's" in warning, warning


def test_a_failing_stereo_depth_map_s_cause_blames_no_depth_camera_or_registration(
        unregistered):
    """A --stereo-depth map that fails with its images fitting another focal length was told
    'the depth is a depth camera's not registered to the colour camera; fix: register the
    depth ... (depth_image_proc's register ...)'; its depth is the images' own."""
    from mast3r_ros.core.map_check import INCONSISTENT

    sensor = check_keyframes(unregistered(0.8), CFG, depth_units_per_m=1000.0)
    r = check_keyframes(unregistered(0.8), CFG, depth_source="stereo")
    assert r.verdict == INCONSISTENT and r.cause == sensor.cause == "colour_focal", r.message
    assert "the images fit fx, fy x0.8" in r.message, r.message
    assert "registered to them by construction" in r.message, r.message
    for word in _SENSOR_ONLY:
        assert word not in r.message and word not in r.fix, (word, r.message)
    assert r.fix.startswith("check the calibration's fx, fy"), r.fix


def test_a_stereo_depth_map_s_focal_fix_drops_the_registration_clause(monkeypatch):
    """fx, fy off (the cause focal_length, within x0.75-1.33) added 'if fx, fy are the colour
    camera's own, the depth is a separate depth camera's ... register it first': not for depth
    computed from the images."""
    from mast3r_ros.core.map_check import focal, worded_for_depth
    from mast3r_ros.core.map_check.records import _Cause

    cause = _Cause("focal_length", 1.0, "fx, fy are x1.15 ...",
                   "check fx, fy ...; build the map again" + focal.UNREGISTERED_NOTE, True)
    assert worded_for_depth(cause, None) is cause
    stereo = worded_for_depth(cause, "stereo")
    assert stereo.fix == "check fx, fy ...; build the map again" and stereo.what == cause.what
