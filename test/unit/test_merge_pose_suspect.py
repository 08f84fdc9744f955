"""An EuRoC map's check names cam0's T_BS where a pose convention would explain a failure (the
build records it as ``consistency.pose_suspect``). merge-maps did not carry it: the merged map's
check no longer named T_BS; and `MapWriter.check_consistency` took no suspect. merge-maps now
records each source's under ``merged_from``, and check-map names it when every source has one
(one calibration file named once, two joined with 'or'); none when a source has none (its poses
came from elsewhere)."""

from __future__ import annotations

import pytest

from mast3r_ros.core import map_check
from mast3r_ros.core.config import MapCheckConfig
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.replay.map_merge import merge_maps
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CAM = default_intrinsics(64, 48)
T_BS = "T_BS in /data/MH_01/mav0/cam0/sensor.yaml"


@pytest.fixture(scope="module")
def frames():
    return list(render_frames(8, CAM, seed=0))


def checked_map(path, frames, **check):
    """A map of ``frames`` whose build check got ``check`` (check_consistency's keywords:
    pose_suspect, depth_units_per_m): (its folder, the check's report)."""
    with MapWriter(str(path)) as w:
        for f in frames:
            w.add_keyframe(f.rgb, CAM, f.map_from_cam, f.stamp_ns, f.depth_m)
        report = w.check_consistency(MapCheckConfig(), force=True, **check)
        w.commit()
    return str(path), report


def check_map_keyword(path, monkeypatch, name):
    """The keyword ``name`` check-map gives the map check of the map at ``path`` (None: not
    given)."""
    seen = []
    real = map_check.check_keyframes

    def spy(records, cfg, **kw):
        seen.append(kw.get(name))
        return real(records, cfg, **kw)
    monkeypatch.setattr(map_check, "check_keyframes", spy)
    map_check.check_map(KeyframeMap.load(path), MapCheckConfig())
    return seen[0]


def _map(path, frames, suspect):
    return checked_map(path, frames, pose_suspect=suspect)


def _suspect_checked(path, monkeypatch):
    return check_map_keyword(path, monkeypatch, "pose_suspect")


def test_check_consistency_takes_and_records_the_suspect(frames, tmp_path, monkeypatch):
    a, _ = _map(tmp_path / "a", frames[0::2], T_BS)
    assert KeyframeMap.load(a).manifest["consistency"]["pose_suspect"] == T_BS
    assert _suspect_checked(a, monkeypatch) == T_BS


@pytest.mark.parametrize("b_suspect, want", [
    (T_BS, T_BS),  # one calibration: named once
    ("T_BS in /data/V1_01/mav0/cam0/sensor.yaml",
     f"{T_BS} or T_BS in /data/V1_01/mav0/cam0/sensor.yaml"),
    (None, None),  # B's poses placed otherwise (a TUM ground truth): T_BS explains nothing there
])
def test_a_merged_maps_check_names_its_sources_t_bs(frames, tmp_path, monkeypatch, b_suspect,
                                                    want):
    a, _ = _map(tmp_path / "a", frames[0::2], T_BS)
    b, _ = _map(tmp_path / "b", frames[1::2], b_suspect)
    merge_maps(a, b, str(tmp_path / "ab"), force=True)
    assert _suspect_checked(str(tmp_path / "ab"), monkeypatch) == want
    # and carried through a merge of the merge
    c, _ = _map(tmp_path / "c", frames[:1], T_BS)
    merge_maps(str(tmp_path / "ab"), c, str(tmp_path / "abc"), force=True)
    assert _suspect_checked(str(tmp_path / "abc"), monkeypatch) == want  # each file once
