"""merge-maps: do the two maps agree where their poses make them overlap? (a fresh user merged a
kitchen map with a synthetic room, both in frame 'map', and got a map and 'consistent' from
check-map without a word: the map check compares neighbours in recording order only.)

`map_check.overlap.check_across` measures the nearest cross pairs as the map check measures
neighbours; merge-maps warns unless more than half agree. Scenes: the synthetic room rendered
at 160x120 along its loop; map A holds the even frames, B the odd ones."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mast3r_ros.core.config import MapCheckConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.map_check import KeyframeRecord, MapRecords
from mast3r_ros.core.map_check.overlap import (AGREE, APART, DISAGREE, NO_DEPTH, _look_at,
                                              check_across)
from mast3r_ros.replay import map_build
from mast3r_ros.replay.synthetic import default_intrinsics, make_room, render, render_frames

CAM = default_intrinsics(160, 120)


def _yaw(rad, t=(0.0, 0.0, 0.0)):
    m = np.eye(4)
    c, s = np.cos(rad), np.sin(rad)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = t
    return m


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """(folder, A, frames of B): A the even frames of a 16-frame loop, B's frames the odd."""
    frames = list(render_frames(16, CAM, seed=0))
    d = tmp_path_factory.mktemp("overlap")
    a = write_map(str(d / "a"), [(f.rgb, CAM, f.map_from_cam, f.stamp_ns, f.depth_m)
                                 for f in frames[0::2]])
    return d, a, frames[1::2]


def _map_b(room, name, moved=np.eye(4), scene=None):
    d, _, frames = room
    rows = []
    for f in frames:
        rgb, depth = (f.rgb, f.depth_m) if scene is None else render(scene, CAM, f.map_from_cam)
        rows.append((rgb, CAM, moved @ f.map_from_cam, f.stamp_ns, depth))
    return write_map(str(d / name), rows)


def _across(a, b):
    return check_across(MapRecords(KeyframeMap.load(a)), MapRecords(KeyframeMap.load(b)),
                        MapCheckConfig())


def test_look_at_points_are_ahead_along_the_optical_axis():
    """REP-103 optical frame: +z looks forward. A camera at (1, 2, 3) turned 90 deg about z has
    its z axis still along map +z; one at the origin whose optical axis is map +x (the x axis of
    the camera is map -y, y is map -z) looks 2 m ahead at (2, 0, 0)."""
    turned = _yaw(np.pi / 2, (1.0, 2.0, 3.0))
    forward_x = np.eye(4)
    forward_x[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]
    np.testing.assert_allclose(_look_at(np.stack([turned, forward_x]), 2.0),
                               [[1, 2, 5], [2, 0, 0]], atol=1e-12)


def test_maps_of_one_place_in_one_frame_agree(room):
    rep = _across(room[1], _map_b(room, "same"))
    assert rep.verdict == AGREE and rep.judged == 8 and rep.agreeing >= 6
    assert rep.look_m == pytest.approx(np.median(np.concatenate([
        d[np.isfinite(d) & (d > 0)] for d in
        (KeyframeMap.load(room[1]).depth(i) for i in (0, 2, 4, 5, 7))])), rel=1e-6)


def test_a_map_in_another_frame_disagrees(room):
    """B's poses turned 20 deg and moved 0.5 m: where they overlap, A's depth predicted into B
    lands on other walls."""
    rep = _across(room[1], _map_b(room, "moved", _yaw(np.radians(20), (0.5, 0.2, 0.0))))
    assert rep.verdict == DISAGREE and rep.judged > 0 and rep.agreeing == 0


def test_a_map_of_another_place_in_the_same_frame_disagrees(room):
    """B: another room (10 x 8 x 3 m, other boxes and textures) seen from the same poses."""
    rep = _across(room[1], _map_b(room, "other", scene=make_room(1, (10.0, 8.0, 3.0))))
    assert rep.verdict == DISAGREE and rep.agreeing == 0


def test_maps_far_apart_share_no_view(room):
    """B 100 m away along x: its cameras are ~98 m from A's, far beyond twice the typical
    depth (~2 m), where A's scene is seen only through B's walls: no pair is measured."""
    rep = _across(room[1], _map_b(room, "far", _yaw(0.0, (100.0, 0.0, 0.0))))
    assert rep.verdict == APART and rep.pairs == []


def test_pairs_are_the_nearest_look_at_points_and_index_the_inputs():
    """Three keyframes of A at x = 0, 10, 20 m, three of B at x = 19.5, 10.1 and 32 m, all
    looking along map +z (identity rotations) at a wall 4 m ahead in A (depth 4 m, so look-at
    points 4 m ahead): B's second pairs with A's second (0.1 m), B's first with A's third (0.5
    m), nearest first; B's third is 12 m from A's third, beyond twice the typical depth (8 m):
    not a pair."""
    def rec(x, depth):
        pose = np.eye(4)
        pose[0, 3] = x
        d = None if depth is None else np.full((120, 160), depth, np.float32)
        return KeyframeRecord(np.zeros((120, 160, 3), np.uint8), d, CAM, pose)

    rep = check_across([rec(0.0, 4.0), rec(10.0, 4.0), rec(20.0, 4.0)],
                       [rec(19.5, None), rec(10.1, None), rec(32.0, None)], MapCheckConfig())
    assert [(p.a, p.b) for p in rep.pairs] == [(1, 1), (2, 0)]
    assert rep.look_m == 4.0 and rep.verdict == APART  # B has no depth, blank images: unjudged
    assert check_across([], [rec(0.0, 4.0)], MapCheckConfig()).verdict == APART
    no_depth = check_across([rec(0.0, None)], [rec(0.0, None)], MapCheckConfig())
    assert no_depth.verdict == NO_DEPTH and no_depth.pairs == []


@pytest.mark.parametrize("figures, verdict, agreeing", [
    # (ok by the map check's rules, depth points, fraction of depth agreeing) per pair
    ([(True, 500, 0.95)] * 3 + [(False, 500, 0.3)] * 2, AGREE, 3),       # 3 of 5: more than half
    ([(True, 500, 0.95)] * 2 + [(False, 500, 0.3)] * 2, DISAGREE, 2),    # 2 of 4: only half
    ([(True, 500, 0.79)] * 3, DISAGREE, 0),   # passes the check's 50 %, not the cross 80 %
    ([(True, 0, float("nan"))] * 3, AGREE, 3),   # matches alone (no depth): the check's rule
    ([(None, 0, float("nan"))] * 2 + [(True, 500, 0.9)], AGREE, 1),  # unjudged pairs don't count
    ([(None, 0, float("nan"))] * 3, APART, 0),
])
def test_the_maps_agree_when_more_than_half_the_judged_pairs_do(monkeypatch, figures, verdict,
                                                                agreeing):
    from mast3r_ros.core.map_check import overlap
    from mast3r_ros.core.map_check.report import PairFigures

    def measure(views, poses, matches, cfg):
        return [PairFigures(0, 0, depth_points=n, depth_agree=f, ok=ok) for ok, n, f in figures]

    monkeypatch.setattr(overlap, "_measure", measure)
    depth = np.full((120, 160), 2.0, np.float32)
    recs = [KeyframeRecord(np.zeros((120, 160, 3), np.uint8), depth, CAM, np.eye(4))] * 6
    rep = check_across(recs, recs, MapCheckConfig())
    assert (rep.verdict, rep.agreeing) == (verdict, agreeing)
    # the messages' example: the first pair refused, by the check or by the cross 80 %
    refused = [f for ok, n, f in figures if ok is False or (ok and n and f < 0.8)]
    example = rep.first_disagreement()
    assert example.split(": ", 1)[-1] == (
        f"depth within tolerance at {100 * refused[0]:.1f} %, median reprojection n/a"
        if refused else "")
    assert example.startswith("keyframes ") == bool(refused)


def test_a_non_finite_pose_is_refused():
    bad = np.eye(4)
    bad[0, 3] = np.nan
    rec = KeyframeRecord(np.zeros((120, 160, 3), np.uint8), None, CAM, bad)
    with pytest.raises(InputError, match="keyframe 0: map_from_cam must be a finite 4x4"):
        check_across([rec], [rec], MapCheckConfig())


@pytest.mark.parametrize("name, moved, words", [
    ("same", np.eye(4), None),
    ("moved", _yaw(np.radians(20), (0.5, 0.2, 0.0)), "overlap, only 0 of 8 pairs agree"),
    ("far", _yaw(0.0, (100.0, 0.0, 0.0)), "overlaps one of"),
])
def test_merge_maps_refuses_maps_that_disagree_where_they_overlap(room, tmp_path, caplog, name,
                                                                  moved, words):
    """Maps not in one frame are refused (nothing written; build-map refuses an inconsistent
    map the same way: it wrote the map with a warning and exit 0), --force writes them with
    the warning; maps apart (different places in one frame) are written with a warning."""
    b = _map_b(room, name + "_m", moved)
    out = tmp_path / "merged"
    if name == "moved":
        with pytest.raises(InputError) as e:
            map_build.merge_maps(room[1], b, str(out))
        msg = str(e.value)
        assert words in msg and "not in one frame" in msg and "--force" in msg, msg
        assert room[1] in msg and b in msg and not out.exists()
        assert not msg.startswith("merge-maps:")  # the CLI says "mast3r-ros merge-maps: error:"
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert map_build.merge_maps(room[1], b, str(out), force=True) == 16
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("merge-maps")]
    if words is None:
        assert warned == []
    else:
        assert len(warned) == 1 and words in warned[0], warned
        assert room[1] in warned[0] and b in warned[0]


def _flat(x, depth=None):
    """A blank keyframe at (x, 0, 0) looking along map +z, with the given depth image."""
    pose = np.eye(4)
    pose[0, 3] = x
    return KeyframeRecord(np.zeros((120, 160, 3), np.uint8), depth, CAM, pose)


def test_typical_depth_skips_no_return_pixels_and_pairs_up_to_twice_it():
    """Hand audit. A's depth: 60 rows 0 (no return), 40 rows +inf (REP 117: too far), 20 rows
    4 m -> the typical depth is 4 m (a median over zeros or infs would be 0 or inf). B's
    cameras 8 m (= 2 x 4 m, kept) and 8.5 m (beyond) from A's: one pair, B's first."""
    depth = np.full((120, 160), 4.0, np.float32)
    depth[:60], depth[60:100] = 0.0, np.inf
    rep = check_across([_flat(0.0, depth)], [_flat(8.0), _flat(8.5)], MapCheckConfig())
    assert rep.look_m == 4.0 and [(p.a, p.b) for p in rep.pairs] == [(0, 0)]
    assert rep.verdict == APART  # blank images: nothing to judge


def test_the_second_maps_depth_serves_when_the_first_has_none():
    """Only B has depth (4 m): the look-at points use it and the pair is measured, not
    'no depth' (the docstring: no depth only when neither map has any)."""
    rep = check_across([_flat(0.0)], [_flat(0.0, np.full((120, 160), 4.0, np.float32))],
                       MapCheckConfig())
    assert rep.verdict == APART and rep.look_m == 4.0 and [(p.a, p.b) for p in rep.pairs] == [
        (0, 0)]


def test_merge_maps_says_how_many_overlapping_pairs_agree_when_they_do(room, tmp_path, caplog):
    """A merge of maps that agree printed only 'map ...: N keyframes': nothing said the overlap
    was checked (build-map says 'map check: consistent'). An INFO line now gives the pairs."""
    b = _map_b(room, "same_info", np.eye(4))
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        assert map_build.merge_maps(room[1], b, str(tmp_path / "merged")) == 16
    said = [r.getMessage() for r in caplog.records if "pairs agree" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("merge-maps: where the poses make keyframes of")
    assert " 8 of 8 pairs agree: the maps are in one frame" in said[0], said


def test_shared_frames_at_other_poses_are_checked_as_maps_sharing_none(room, tmp_path, caplog):
    """A fresh user's finding: B built from frames A holds too, with its poses 20 cm off (another
    pose source), was merged with only the warning 'the same frame has poses 0.2 m apart ...',
    and check-map then failed on the merged map, while maps sharing no frame are measured where
    they overlap and refused. Copies at other poses prove no common frame: they are measured
    and refused the same way (--force writes them); copies at one pose are no change."""
    d, a, frames = room
    rows = [(f.rgb, CAM, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames]
    moved = _yaw(np.radians(20), (0.5, 0.2, 0.0))
    a_frames = list(render_frames(16, CAM, seed=0))[0::2]
    shared = [(f.rgb, CAM, moved @ f.map_from_cam, f.stamp_ns, f.depth_m) for f in a_frames[:2]]
    b = write_map(str(d / "shared_moved"), shared + [(r[0], r[1], moved @ r[2]) + r[3:]
                                                     for r in rows])
    out = tmp_path / "merged"
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"), \
            pytest.raises(InputError) as e:
        map_build.merge_maps(a, b, str(out))
    msg = str(e.value)
    assert "not in one frame" in msg and "--force" in msg and not out.exists(), msg
    assert any("the same frame has poses" in r.getMessage() for r in caplog.records)
    assert map_build.merge_maps(a, b, str(out), force=True) == 16  # B's 2 copies dropped
    same = write_map(str(d / "shared_same"), [(f.rgb, CAM, f.map_from_cam, f.stamp_ns,
                                               f.depth_m) for f in a_frames[:2]] + rows)
    assert map_build.merge_maps(a, same, str(tmp_path / "merged_same")) == 16
