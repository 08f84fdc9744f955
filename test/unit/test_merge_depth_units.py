"""build-map records the raw depth unit it read (``consistency.depth_units_per_m``), with which
check-map words its --depth-scale fix. merge-maps dropped it: the merged map's check worded the
fix without a unit. It now records each source's under ``merged_from``; check-map uses it when
every source records the same, and merge-maps warns when they differ."""

from __future__ import annotations

import logging

import pytest
from test_merge_pose_suspect import check_map_keyword, checked_map

from mast3r_ros.replay.map_merge import merge_maps
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CAM = default_intrinsics(64, 48)


@pytest.fixture(scope="module")
def frames():
    return list(render_frames(6, CAM, seed=1))


def _map(path, frames, units):
    return checked_map(path, frames, depth_units_per_m=units)[0]


def _units_checked(path, monkeypatch):
    return check_map_keyword(path, monkeypatch, "depth_units_per_m")


@pytest.mark.parametrize("b_units, want, warned", [
    (1000.0, 1000.0, False),  # one unit: carried
    (5000.0, None, True),  # two units: none to word a fix with, and said so
    (None, None, False),  # B's unknown
])
def test_merged_map_carries_the_depth_unit(frames, tmp_path, monkeypatch, caplog, b_units,
                                           want, warned):
    a = _map(tmp_path / "a", frames[0::2], 1000.0)
    b = _map(tmp_path / "b", frames[1::2], b_units)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.map_merge"):
        merge_maps(a, b, str(tmp_path / "ab"), force=True)
    said = [r.getMessage() for r in caplog.records if "raw units" in r.getMessage()]
    assert bool(said) == warned
    if warned:
        assert "1000" in said[0] and "5000" in said[0]
    assert _units_checked(str(tmp_path / "ab"), monkeypatch) == want
    c = _map(tmp_path / "c", frames[:1], 1000.0)  # a merge of the merge keeps it too
    merge_maps(str(tmp_path / "ab"), c, str(tmp_path / "abc"), force=True)
    assert _units_checked(str(tmp_path / "abc"), monkeypatch) == want
