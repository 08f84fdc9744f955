"""The map's map_frame was never compared with the configured one: localize --params with
map_frame 'world' on a map built in 'map' ran without a word (the node would have published
the map's poses labelled 'world'), and a manifest with "map_frame": 5 loaded (a fresh-user
review's find)."""

from __future__ import annotations

import json
import shutil

import pytest

from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.localizer.pipeline import map_frame_mismatch
from mast3r_ros.core.tracker import Track
from mast3r_ros.replay.cli import main
from mast3r_ros.ros.diagnostics import DiagnosticsWindow


@pytest.mark.parametrize("frame", [5, None, "", ["map"], " / "])
def test_a_map_frame_that_is_no_frame_name_is_a_map_format_error(tmp_path, sift_map, frame):
    path = tmp_path / "m"
    shutil.copytree(sift_map, path)
    man = json.loads((path / "manifest.json").read_text())
    man["map_frame"] = frame
    (path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(MapFormatError, match="field 'map_frame' must be a frame name"):
        KeyframeMap.load(str(path), lazy=True)


def test_a_map_written_with_a_slash_frame_is_read_and_merged_as_the_tf2_name(
        tmp_path, sift_map, tum, capsys, caplog):
    """Maps written before MapWriter checked the name carry '/map' from a user's --params: it
    loaded as '/map', merge-maps then refused to write it ("set map_frame in --params", which
    merge has not) and localize advised a map_frame the node refuses. It is read as 'map'."""
    maps = []
    for name in ("a", "b"):
        path = tmp_path / name
        shutil.copytree(sift_map, path)
        man = json.loads((path / "manifest.json").read_text())
        man["map_frame"] = "/map"
        (path / "manifest.json").write_text(json.dumps(man))
        maps.append(str(path))
    with caplog.at_level("WARNING"):
        m = KeyframeMap.load(maps[0], lazy=True)
        KeyframeMap.load(maps[0])  # check-map loads a map twice: said once
    assert m.map_frame == "map" and map_frame_mismatch("map", m) is None
    said = [r.getMessage() for r in caplog.records if "is not a tf2 frame name" in r.getMessage()]
    assert len(said) == 1 and "map_frame '/map' is not a tf2" in said[0], said
    assert "read as 'map'" in said[0]
    capsys.readouterr()
    assert main(["merge-maps", *maps, "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "manifest.json").read_text())
    assert merged["map_frame"] == "map"
    # the node's params default: localize says nothing of the map_frame
    assert main(["localize", tum[1], "--map", maps[1], "--out", str(tmp_path / "run"),
                 "--matcher", "sift", "--max-frames", "1"]) == 0
    assert "map_frame" not in capsys.readouterr().err.replace("map_frame '/map' is not", "")


def test_check_map_exits_2_for_a_map_frame_that_is_a_number(tmp_path, sift_map, capsys):
    path = tmp_path / "m"
    shutil.copytree(sift_map, path)
    man = json.loads((path / "manifest.json").read_text())
    man["map_frame"] = 5
    (path / "manifest.json").write_text(json.dumps(man))
    capsys.readouterr()
    assert main(["check-map", str(path)]) == 2
    assert "map_frame" in capsys.readouterr().err


def test_localize_warns_when_the_configured_map_frame_is_not_the_maps(tmp_path, tum, sift_map,
                                                                     capsys):
    params = tmp_path / "world.yaml"
    params.write_text('mast3r_localizer:\n  ros__parameters:\n    map_frame: "world"\n')
    capsys.readouterr()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "r"),
                 "--matcher", "sift", "--params", str(params), "--log-level", "warning"]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "map_frame" in ln]
    assert len(warned) == 1, warned
    assert "'world'" in warned[0] and "'map'" in warned[0], warned


def test_map_frame_mismatch_says_both_frames_and_nothing_when_they_agree(sift_map):
    m = KeyframeMap.load(sift_map, lazy=True)
    assert map_frame_mismatch("map", m) is None
    text = map_frame_mismatch("world", m)
    assert "'world'" in text and "'map'" in text and "map_frame" in text


def test_the_node_diagnostics_carry_a_config_warning():
    d = DiagnosticsWindow()
    values = dict(d.summary(1.0, Track.UNINITIALIZED, False).values)
    assert values["config_warning"] == "none"
    d.config_warning = "map built in 'map', map_frame is 'world'"
    values = dict(d.summary(1.0, Track.UNINITIALIZED, False).values)
    assert values["config_warning"] == "map built in 'map', map_frame is 'world'"
