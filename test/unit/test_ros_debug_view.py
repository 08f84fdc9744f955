"""Keyframe markers and the ~/matches picture, without ROS (`ros/debug_view.py`)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.ros import debug_view
from robot_poses import R_BASE_FROM_OPTICAL, rz

def test_keyframe_markers():
    poses = np.stack([make_pose(rz(0), [1, 0, 0]),
                      make_pose(rz(90) @ R_BASE_FROM_OPTICAL, [0, 2, 1])])
    kfs = debug_view.keyframe_list(poses, [7, 9])
    assert [k for k, _ in kfs] == ["7", "9"]
    assert [k for k, _ in debug_view.keyframe_list(poses)] == ["0", "1"]
    assert debug_view.keyframe_list(np.zeros((0, 4, 4))) == []
    specs = debug_view.keyframe_marker_specs(kfs)
    arrows = [s for s in specs if s.kind == "arrow"]
    texts = [s for s in specs if s.kind == "text"]
    assert len(arrows) == 2 and [t.text for t in texts] == ["7", "9"]
    assert len({(s.ns, s.id) for s in specs}) == len(specs)
    for spec, (_, pose) in zip(arrows, kfs):
        arrow_dir = Rotation.from_quat(spec.orientation_xyzw).apply([1.0, 0.0, 0.0])
        np.testing.assert_allclose(arrow_dir, pose[:3, :3] @ [0, 0, 1], atol=1e-12)
        np.testing.assert_allclose(spec.position, pose[:3, 3])
    with pytest.raises(InputError):
        debug_view.keyframe_list(np.zeros((2, 3, 3)))


def _ring(k: int) -> np.ndarray:
    """``k`` keyframe poses on a 50 m circle, each looking along the tangent (vectorized)."""
    a = np.linspace(0.0, 2 * np.pi, k, endpoint=False)
    poses = np.tile(np.eye(4), (k, 1, 1))
    poses[:, :3, :3] = Rotation.from_euler("z", a[:, None]).as_matrix() \
        @ R_BASE_FROM_OPTICAL
    poses[:, 0, 3], poses[:, 1, 3] = 50 * np.cos(a), 50 * np.sin(a)
    return poses


def test_small_map_keeps_an_arrow_and_an_id_per_keyframe():
    poses = _ring(debug_view.LARGE_MAP_KEYFRAMES)
    specs = debug_view.map_keyframe_markers(FakeMap(list(range(len(poses))), [], poses))
    assert len(specs) == 2 * len(poses)
    assert {s.kind for s in specs} == {"arrow", "text"} and all(s.points is None for s in specs)


def test_large_map_is_two_markers_with_a_bounded_number_of_points():
    """10^5 keyframes (a large map, docs/large_maps.md): a LINE_LIST and a POINTS, strided to
    the cap -- not 2x10^5 arrow and text markers -- quickly, without building any keyframe
    record."""
    poses = _ring(100_000)

    class BigMap(FakeMap):
        def keyframe(self, index):
            raise AssertionError("no per-keyframe record for a large map")

    t0 = time.perf_counter()
    specs = debug_view.map_keyframe_markers(BigMap(range(len(poses)), [], poses))
    assert time.perf_counter() - t0 < 1.0
    lines, dots = specs
    cap = debug_view.MAX_DRAWN_KEYFRAMES
    assert (lines.kind, dots.kind) == ("line_list", "points")
    assert lines.points.shape == (2 * cap, 3) and dots.points.shape == (cap, 3)
    assert lines.ns == dots.ns == f"keyframes ({cap} of 100000 shown)"
    assert len({(s.ns, s.id) for s in specs}) == 2
    assert lines.scale == (0.02, 0.0, 0.0) and dots.scale[2] == 0.0   # what rviz reads
    assert lines.orientation_xyzw == (0.0, 0.0, 0.0, 1.0)
    # every 5th keyframe: a segment from its position along its optical +z, 0.3 m long
    for j in (0, 1, cap - 1):
        pose = poses[5 * j]
        np.testing.assert_allclose(lines.points[2 * j], pose[:3, 3])
        np.testing.assert_allclose(lines.points[2 * j + 1] - lines.points[2 * j],
                                   0.3 * pose[:3, 2], atol=1e-12)
        np.testing.assert_allclose(dots.points[j], pose[:3, 3])
    # the list form (keyframe_list) switches too; a map under the cap is drawn whole
    kfs = debug_view.keyframe_list(poses[:2000])
    whole = debug_view.keyframe_marker_specs(kfs)
    assert [s.kind for s in whole] == ["line_list", "points"] and whole[0].ns == "keyframes"
    assert whole[1].points.shape == (2000, 3)
    bad = poses[:1000].copy()
    bad[700, 0, 3] = np.nan
    with pytest.raises(InputError, match="700"):
        debug_view.compact_keyframe_markers(bad)


def test_debug_image_marks_inliers():
    rgb = np.zeros((60, 80, 3), np.uint8)
    m = NS(query_xy=np.array([[20.0, 40.0], [60.0, 40.0]]), inliers=np.array([True, False]))
    out = debug_view.debug_image(rgb, m)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert tuple(out[40, 20]) == (0, 255, 0) and tuple(out[40, 60]) == (255, 0, 0)
    assert not rgb.any()                                   # input untouched
    assert debug_view.debug_image(rgb, None).shape == rgb.shape


def test_debug_image_side_by_side_with_the_most_matched_keyframe():
    q = np.zeros((60, 80, 3), np.uint8)
    kf = np.zeros((120, 160, 3), np.uint8)  # twice the query's size: drawn at half scale
    m = NS(query_xy=np.array([[10.0, 50.0], [70.0, 40.0], [40.0, 30.0]]),
           keyframe_xy=np.array([[20.0, 100.0], [140.0, 80.0], [0.0, 0.0]]),
           keyframe_index=np.array([7, 7, 3]), inliers=np.array([True, False, True]))
    assert debug_view.most_matched_keyframe(m) == 7
    assert debug_view.most_matched_keyframe(None) is None
    out = debug_view.debug_image(q, m, kf, 7)
    assert out.shape == (60, 160, 3)
    # the inlier's line runs to the keyframe pixel (20, 100) / 2 shifted right by 80 ...
    r, g, b = out[50, 50]                       # anti-aliased: green, not full 255
    assert g > 200 and r == 0 and b == 0
    # ... the outlier's to (140, 80) / 2 + (80, 0); keyframe 3's match is not drawn
    r, g, b = out[40, 120]
    assert r > 200 and g == 0 and b == 0
    assert not out[45:, :8].any() and not out[31:45, 30:50].any()


class FakeMap:
    """The `KeyframeMap` calls the node makes: len, poses(), keyframe(i).id, image(i)."""

    def __init__(self, ids, images, poses=None):
        self.ids, self.images, self._poses = ids, images, poses

    def __len__(self):
        return len(self.ids)

    def poses(self):
        if self._poses is not None:
            return self._poses
        return np.stack([make_pose(rz(10.0 * i), [i, 0, 0]) for i in range(len(self.ids))])

    def keyframe(self, index):
        return NS(id=self.ids[index])

    def image(self, index):
        return self.images[index]


def test_map_keyframes_are_named_by_manifest_id():
    km = FakeMap([40, 41], [None, None])
    kfs = debug_view.map_keyframes(km)
    assert [k for k, _ in kfs] == ["40", "41"]
    np.testing.assert_allclose(kfs[1][1], km.poses()[1])


def test_matches_picture_uses_the_most_matched_keyframe_by_index():
    q = np.zeros((60, 80, 3), np.uint8)
    kf = np.full((60, 80, 3), 50, np.uint8)
    km = FakeMap([40, 41], [np.zeros((60, 80, 3), np.uint8), kf])
    m = NS(query_xy=np.array([[10.0, 50.0], [70.0, 40.0]]),
           keyframe_xy=np.array([[20.0, 30.0], [40.0, 30.0]]),
           keyframe_index=np.array([1, 1]), inliers=np.array([True, True]))
    out = debug_view.matches_picture(q, m, km)
    assert out.shape == (60, 160, 3)
    assert tuple(out[5, 150]) == (50, 50, 50)            # keyframe index 1 on the right
    alone = debug_view.matches_picture(q, None, km)
    assert alone.shape == q.shape
    empty = NS(query_xy=np.zeros((0, 2)), keyframe_xy=np.zeros((0, 2)),
               keyframe_index=np.zeros(0, np.int64), inliers=np.zeros(0, bool))
    assert debug_view.matches_picture(q, empty, km).shape == q.shape


def test_keyframe_list_checks_ids_and_names_pairs_as_strings():
    poses = np.stack([np.eye(4), np.eye(4)])
    with pytest.raises(InputError, match="1 keyframe ids for 2 poses"):
        debug_view.keyframe_list(poses, [5])
    assert [k for k, _ in debug_view.keyframe_list([(7, np.eye(4))])] == ["7"]
    assert debug_view.keyframe_list(np.zeros(0)) == []          # an empty map, any shape


def test_arrow_and_label_fields_follow_rviz_conventions():
    """rviz reads an ARROW's scale as (length, width, height), a TEXT_VIEW_FACING's only from
    scale.z (letter height); the id label floats 0.1 m above the keyframe (map z is up)."""
    pose = make_pose(np.eye(3), [1.0, 2.0, 3.0])
    arrow, text = debug_view.keyframe_marker_specs([("a", pose)], arrow_length_m=0.7)
    assert arrow.scale == (0.7, 0.04, 0.04)
    assert text.position == pytest.approx((1.0, 2.0, 3.1))
    assert text.scale[:2] == (0.0, 0.0) and text.scale[2] > 0
    assert (arrow.ns, text.ns) == ("keyframes", "keyframe_ids")


def test_a_non_finite_keyframe_pose_is_an_input_error_naming_it():
    bad = np.eye(4)
    bad[0, 3] = np.inf
    with pytest.raises(InputError, match="keyframe k2 pose"):
        debug_view.keyframe_marker_specs([("k1", np.eye(4)), ("k2", bad)])


def test_compact_markers_stride_is_the_ceiling_and_the_namespace_says_so():
    """ceil(K / max_drawn): 7 keyframes, at most 3 -> every 3rd (0, 3, 6), never 4 of them;
    4 keyframes, at most 2 -> every 2nd, and the namespace says 2 of 4."""
    poses = np.tile(np.eye(4), (7, 1, 1))
    poses[:, 0, 3] = np.arange(7.0)
    lines, dots = debug_view.compact_keyframe_markers(poses, max_drawn=3)
    np.testing.assert_array_equal(dots.points[:, 0], [0.0, 3.0, 6.0])
    assert lines.ns == "keyframes (3 of 7 shown)"
    lines, dots = debug_view.compact_keyframe_markers(poses[:4], max_drawn=2)
    np.testing.assert_array_equal(dots.points[:, 0], [0.0, 2.0])
    assert lines.ns == dots.ns == "keyframes (2 of 4 shown)"
    assert debug_view.compact_keyframe_markers(poses[:2], max_drawn=2)[0].ns == "keyframes"
    assert dots.scale[:2] == (0.06, 0.06)          # POINTS: width and height both set
    assert debug_view.compact_keyframe_markers(np.zeros(0)) == []
    with pytest.raises(InputError, match="K, 4, 4"):
        debug_view.compact_keyframe_markers(np.zeros((2, 3, 3)))


def test_compact_points_are_read_only_copies():
    poses = np.tile(np.eye(4), (3, 1, 1))
    lines, dots = debug_view.compact_keyframe_markers(poses)
    assert not lines.points.flags.writeable and not dots.points.flags.writeable
    poses[:, :3, 3] = 9.0                         # the caller's array changes afterwards ...
    assert not dots.points.any() and not lines.points[0::2].any()   # ... the markers do not


def test_a_large_maps_segments_have_the_requested_length():
    poses = _ring(debug_view.LARGE_MAP_KEYFRAMES + 1)
    lines, _ = debug_view.map_keyframe_markers(FakeMap(range(len(poses)), [], poses),
                                               arrow_length_m=1.0)
    seg = lines.points[1::2] - lines.points[0::2]
    np.testing.assert_allclose(np.linalg.norm(seg, axis=1), 1.0)


def test_most_matched_keyframe_counts_rather_than_takes_the_first():
    m = NS(keyframe_index=np.array([3, 7, 7, 5]))
    assert debug_view.most_matched_keyframe(m) == 7


def test_debug_image_dot_radius_follows_the_smaller_side():
    """radius = max(2, round(min(h, w) / 160)): 2 px on a 320x1600 image (not 10)."""
    rgb = np.zeros((320, 1600, 3), np.uint8)
    m = NS(query_xy=np.array([[800.0, 160.0]]), inliers=np.array([True]))
    out = debug_view.debug_image(rgb, m)
    assert tuple(out[160, 802]) == (0, 255, 0) and not out[160, 805].any()
    big = debug_view.debug_image(np.zeros((960, 1600, 3), np.uint8), NS(
        query_xy=np.array([[800.0, 480.0]]), inliers=np.array([True])))   # 6 px
    assert tuple(big[480, 806]) == (0, 255, 0) and not big[480, 808].any()


def test_inlier_flags_of_the_wrong_length_are_drawn_as_outliers(monkeypatch):
    captions = []
    monkeypatch.setattr(debug_view, "_caption", lambda img, text: captions.append(text))
    rgb = np.zeros((60, 80, 3), np.uint8)
    m = NS(query_xy=np.array([[20.0, 40.0], [60.0, 40.0]]), inliers=np.array([True]))
    out = debug_view.debug_image(rgb, m)
    assert tuple(out[40, 20]) == (255, 0, 0) and tuple(out[40, 60]) == (255, 0, 0)
    assert captions == ["0 inliers / 2 matches"]


def test_captions_count_inliers_and_name_the_keyframe_by_manifest_id(monkeypatch):
    captions = []
    monkeypatch.setattr(debug_view, "_caption", lambda img, text: captions.append(text))
    q = np.zeros((60, 80, 3), np.uint8)
    m = NS(query_xy=np.array([[10.0, 50.0], [70.0, 40.0], [40.0, 30.0]]),
           keyframe_xy=np.array([[20.0, 30.0], [40.0, 30.0], [5.0, 5.0]]),
           keyframe_index=np.array([1, 1, 0]), inliers=np.array([True, False, True]))
    debug_view.debug_image(q, NS(query_xy=m.query_xy, inliers=m.inliers))
    km = FakeMap([40, 41], [q, q])
    debug_view.matches_picture(q, m, km)
    debug_view.debug_image(q, m, q, 1)                       # no label: the map index
    debug_view.debug_image(q, None)
    assert captions == ["2 inliers / 3 matches",
                        "1 inliers / 2 matches with keyframe 41",
                        "1 inliers / 2 matches with keyframe 1",
                        "no matches"]


def test_every_match_is_drawn_up_to_300_lines():
    """300 matches with the keyframe: 300 lines (step 1), each a horizontal line on its row."""
    q = np.zeros((400, 100, 3), np.uint8)
    ys = np.arange(50.0, 350.0)
    xy = np.stack([np.full_like(ys, 10.0), ys], axis=1)
    m = NS(query_xy=xy, keyframe_xy=xy, keyframe_index=np.zeros(len(ys), np.int64),
           inliers=np.ones(len(ys), bool))
    out = debug_view.debug_image(q, m, q, 0)
    assert (out[50:350, 60, 1] > 0).all()
