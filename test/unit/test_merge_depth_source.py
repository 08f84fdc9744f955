"""build-map --stereo-depth records ``consistency.depth_source`` ("stereo": depth computed from
the map's images), with which check-map words its note (no depth camera to blame). merge-maps
dropped it: check-map on a merge of two stereo-depth maps used the sensor-depth wording. It now
records each source's under ``merged_from``; check-map uses it when every source records the
same, and a merge of stereo and sensor depth keeps none (the sensor wording, the default)."""

from __future__ import annotations

import json

import pytest
from test_merge_pose_suspect import check_map_keyword

from mast3r_ros.core.keyframes import MapWriter
from mast3r_ros.core.map_check import MapCheckConfig
from mast3r_ros.replay.map_merge import merge_maps
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CAM = default_intrinsics(64, 48)


@pytest.fixture(scope="module")
def frames():
    return list(render_frames(6, CAM, seed=1))


def _map(path, frames, source):
    """A map of ``frames`` whose build recorded ``source`` as build-map does (None: none)."""
    with MapWriter(str(path)) as w:
        for f in frames:
            w.add_keyframe(f.rgb, CAM, f.map_from_cam, f.stamp_ns, f.depth_m)
        w.check_consistency(MapCheckConfig(), force=True)
        if source:
            w.set_manifest_field("consistency", {**w.extra["consistency"],
                                                 "depth_source": source})
        w.commit()
    return str(path)


@pytest.mark.parametrize("b_source, want", [
    ("stereo", "stereo"),  # both stereo: carried
    (None, None),  # stereo and sensor depth: none (the sensor wording)
])
def test_merged_map_carries_the_depth_source(frames, tmp_path, monkeypatch, b_source, want):
    a = _map(tmp_path / "a", frames[0::2], "stereo")
    assert check_map_keyword(a, monkeypatch, "depth_source") == "stereo"
    monkeypatch.undo()
    b = _map(tmp_path / "b", frames[1::2], b_source)
    merge_maps(a, b, str(tmp_path / "ab"), force=True)
    sources = json.loads((tmp_path / "ab" / "manifest.json").read_text())["merged_from"]
    assert [s.get("depth_source") for s in sources] == ["stereo", b_source]
    assert check_map_keyword(str(tmp_path / "ab"), monkeypatch, "depth_source") == want
    monkeypatch.undo()
    c = _map(tmp_path / "c", frames[:1], "stereo")  # a merge of the merge keeps it too
    merge_maps(str(tmp_path / "ab"), c, str(tmp_path / "abc"), force=True)
    assert check_map_keyword(str(tmp_path / "abc"), monkeypatch, "depth_source") == want
