"""Pins for the mutants the second mutation audit of 2026-12-05's changes found surviving
(docs/bench/mutation_cpu_2026-12-05b, second section): --out vs SOURCE and merge-maps inputs,
the ROS 1 relabelled-record check's index counting, depth registration, RealSense and bag
/tf_static registration, progress lines, the warm-up's all-rounds rerun. Each test fails on
its mutant and passes on the code; all are fast (no network, no model)."""

from __future__ import annotations

import collections
import os
from types import SimpleNamespace

import pytest

from mast3r_ros.core.errors import InputError


# --- replay/out_source.py -------------------------------------------------------------------

def test_a_folder_that_is_no_recording_keeps_out_inside_it_to_its_own_error(tmp_path):
    from mast3r_ros.replay.out_source import refuse_out_over_source

    plain = tmp_path / "photos"
    plain.mkdir()
    (plain / "a.txt").write_text("x")
    refuse_out_over_source(str(plain), str(plain / "run"), "the run", "_run")  # no raise


def test_a_bag_file_inside_out_is_refused_naming_an_out_beside_it(tmp_path):
    from mast3r_ros.replay.out_source import refuse_out_over_source

    bag = tmp_path / "rec" / "x.bag"
    bag.parent.mkdir()
    bag.write_bytes(b"#ROSBAG V2.0\n")
    with pytest.raises(InputError, match=r"holds SOURCE .*x\.bag.* \(e\.g\. --out .*rec_run\)"):
        refuse_out_over_source(str(bag), str(bag.parent), "the run", "_run")


def test_a_folder_with_data_csv_outside_mav0_is_no_euroc_camera(tmp_path):
    from mast3r_ros.replay.out_source import _dataset_of_camera

    cam = tmp_path / "seq" / "cam0"
    (cam / "data").mkdir(parents=True)
    (cam / "data.csv").write_text("#timestamp [ns],filename\n")
    assert _dataset_of_camera(str(cam)) == ""
    lone = tmp_path / "mav0" / "cam1"  # in mav0 but neither data.csv nor data/
    lone.mkdir(parents=True)
    assert _dataset_of_camera(str(lone)) == ""


def test_merge_maps_empty_out_is_left_to_its_own_error(tmp_path, monkeypatch):
    from mast3r_ros.replay.out_source import refuse_out_over_maps

    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path)  # '' resolved would be the folder holding map a
    refuse_out_over_maps("", (("A", "a"),))  # no raise


# --- replay/rosbag/opening.py: the relabelled-record check ------------------------------------

def test_listed_at_counts_the_entries_at_one_time():
    from mast3r_ros.replay.rosbag.opening import _listed_at

    entry = collections.namedtuple("IndexData", "time chunk_pos offset")
    entries = [entry(t, 0, 0) for t in (10, 20, 20, 30)]
    assert [_listed_at(entries, t) for t in (10, 15, 20, 30, 40)] == [1, 0, 2, 1, 0]


def test_index_times_is_none_for_a_reader_of_several_files():
    from mast3r_ros.replay.rosbag.opening import _index_times

    first = SimpleNamespace(indexes={2: []})
    conns = [SimpleNamespace(id=2, owner=first)]
    assert _index_times(SimpleNamespace(readers=[first, SimpleNamespace(indexes={})]),
                        conns) is None
    assert _index_times(SimpleNamespace(readers=[first]), conns) == {2: []}


def test_merge_maps_called_as_a_library_refuses_out_inside_an_input(tmp_path):
    """The CLI refuses first; `merge_maps` itself does too (before A or B is read)."""
    from mast3r_ros.replay.map_merge import merge_maps

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with pytest.raises(InputError, match=r"lies inside map A"):
        merge_maps(str(a), str(b), str(a / "merged"))
    assert os.listdir(a) == []


# --- core/depth_register.py -----------------------------------------------------------------

def test_zero_depth_fills_nothing_pixel_for_pixel_either():
    """A depth pixel of 0 (no reading) is no point at the depth camera's centre: with the
    colour camera 2 cm behind it, that centre would project into the image at 0.02 m."""
    import numpy as np

    from mast3r_ros.core.depth_register import register_depth
    from mast3r_ros.core.types import CameraIntrinsics

    cam = CameraIntrinsics(width=8, height=6, K=np.array([[8.0, 0, 4], [0, 8.0, 3], [0, 0, 1]]))
    T = np.eye(4)
    T[2, 3] = 0.02
    depth = np.zeros((6, 8), np.float32)
    depth[0, 0] = 1.0  # one reading, so the registration does not return early
    for footprint in (False, True):
        out = register_depth(depth, cam, cam, T, footprint=footprint)
        assert not (out[2:5, 3:6] > 0).any(), (footprint, out)


# --- core/matchers/fixed_matching.py: the warm-up's all-rounds pass ----------------------------

def test_warming_longer_walks_is_off_again_after_it_on_a_fresh_thread():
    import threading

    from mast3r_ros.core.matchers import fixed_matching

    seen = []

    def body():
        with fixed_matching.warming_longer_walks():
            seen.append(fixed_matching._WARMING.on)
        seen.append(getattr(fixed_matching._WARMING, "on", False))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [True, False]


# --- replay/rosbag/realsense.py: the extrinsic's words -----------------------------------------

@pytest.mark.parametrize("deg, t, same, words", [
    (0.0, (0, 0, 0), True, "0.0 mm and 0.00 deg"),
    (1.0, (0, 0, 0), False, "0.0 mm and 1.00 deg"),  # a turn alone is two frames
    (1.0, (0, 0, 0.015), False, "15.0 mm and 1.00 deg"),  # depth along z counts
    (179.0, (0.003, 0.004, 0), False, "5.0 mm and 179.00 deg")])
def test_offset_words_name_the_offset_and_the_turn(deg, t, same, words):
    import numpy as np
    from scipy.spatial.transform import Rotation

    from mast3r_ros.replay.rosbag.realsense import offset_words

    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("z", deg, degrees=True).as_matrix()
    T[:3, 3] = t
    assert offset_words(T) == (same, words)


@pytest.mark.parametrize("diag, words", [
    ((1.0, 1.0, 1.0), "0.0 mm and 0.00 deg"), ((1.0, -1.0, -1.0), "0.0 mm and 180.00 deg")])
def test_offset_words_of_a_rotation_rounded_past_its_trace_bounds_is_no_nan(diag, words):
    """A rotation read from a quaternion may have a trace a rounding step past 3 or -1: the
    cosine is clipped to [-1, 1], so the words say 0 or 180 deg, not nan."""
    import numpy as np

    from mast3r_ros.replay.rosbag.realsense import offset_words

    T = np.eye(4)
    T[:3, :3] = np.diag([diag[0] + (1e-15 if diag[1] > 0 else -1e-15), *diag[1:]])
    assert offset_words(T)[1] == words


# --- replay/rosbag/registered_depth.py: depth that may not be registered -----------------------

def test_the_register_fix_names_a_registered_depth_topic_only_when_it_holds_messages():
    from mast3r_ros.replay.rosbag.registered_depth import _REGISTER_FIX, _RegisteredDepth
    from mast3r_ros.replay.rosbag.topics import IMAGE_TYPE

    def fix(count):
        topics = {"/cam/depth/image_rect_raw": SimpleNamespace(msgtype=IMAGE_TYPE, msgcount=9),
                  "/cam/color/image_raw": SimpleNamespace(msgtype=IMAGE_TYPE, msgcount=9),
                  "/cam/aligned_depth_to_color/image_raw": SimpleNamespace(msgtype=IMAGE_TYPE,
                                                                         msgcount=count)}
        me = SimpleNamespace(_topics=topics, depth_topic="/cam/depth/image_rect_raw")
        return _RegisteredDepth._register_fix(me)

    assert fix(0) == _REGISTER_FIX
    assert fix(1).startswith("this bag holds /cam/aligned_depth_to_color/image_raw, registered "
                             "depth by its name: pass --depth-topic ")


def test_one_place_is_under_1_mm_and_0_1_degree():
    import numpy as np
    from scipy.spatial.transform import Rotation

    from mast3r_ros.replay.rosbag.registered_depth import _one_place

    def T(deg, mm, axis=0):
        out = np.eye(4)
        out[:3, :3] = Rotation.from_euler("x", deg, degrees=True).as_matrix()
        out[axis, 3] = mm / 1000
        return out

    assert _one_place(T(0.07, 0.9)) and not _one_place(T(0.13, 0.0))
    assert not _one_place(T(0.0, 1.1)) and not _one_place(T(0.0, 1.1, axis=2))


@pytest.mark.parametrize("walking, warming, max_iter, reruns", [
    (0, False, 10, 0), (1, False, 10, 1), (0, True, 10, 1),
    (0, True, 6, 0)])  # warming: no rerun when the first rounds are all the rounds
def test_all_rounds_rerun_only_when_a_walker_walks_or_warming_needs_it(
        monkeypatch, walking, warming, max_iter, reruns):
    import contextlib

    import numpy as np

    from mast3r_ros.core.matchers import fixed_matching

    calls = []

    def spy(**kw):
        calls.append(kw["prm"])
        return SimpleNamespace(cpu=lambda: SimpleNamespace(numpy=lambda: np.full((4, 3), 7.0)))

    monkeypatch.setattr(fixed_matching, "device_pack", spy)
    monkeypatch.setattr(fixed_matching, "FIRST_ROUNDS", 6)
    host = np.zeros((3, 3))
    host[-1, 0] = walking
    prm = SimpleNamespace(max_iter=max_iter)
    with fixed_matching.warming_longer_walks() if warming else contextlib.nullcontext():
        rows = fixed_matching._all_rounds_if_needed(host, {}, prm)
    assert len(calls) == reruns
    assert rows.shape == ((3, 3) if reruns else (2, 3))


def test_an_odd_number_of_points_projects_through_opencv():
    import cv2
    import numpy as np

    from mast3r_ros.core.depth_register import _project
    from mast3r_ros.core.types import CameraIntrinsics

    cam = CameraIntrinsics(width=80, height=60, K=np.array([[60.0, 0, 40], [0, 60.0, 30],
                                                            [0, 0, 1]]),
                           dist=np.array([0.05, -0.01, 0.002, 0.0]),
                           distortion_model="equidistant")
    pts = np.random.default_rng(0).uniform([-0.5, -0.4, 0.5], [0.5, 0.4, 3.0], (3, 3))
    want, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), cam.K,
                                        cam.dist)
    np.testing.assert_allclose(np.stack(_project(cam, *pts.T), 1), want.reshape(-1, 2),
                               atol=1e-9)


@pytest.mark.parametrize("axis", [0, 1])
def test_pixel_for_pixel_rounds_to_the_nearest_colour_pixel(axis):
    """A shift of 0.6 pixel (1 m away, f = 8 px: 7.5 cm) lands each depth pixel on the next
    colour pixel, in columns and in rows."""
    import numpy as np

    from mast3r_ros.core.depth_register import register_depth
    from mast3r_ros.core.types import CameraIntrinsics

    cam = CameraIntrinsics(width=8, height=6, K=np.array([[8.0, 0, 4], [0, 8.0, 3], [0, 0, 1]]))
    T = np.eye(4)
    T[axis, 3] = 0.075
    out = register_depth(np.ones((6, 8), np.float32), cam, cam, T, footprint=False)
    first = out[:, 0] if axis == 0 else out[0, :]
    rest = out[:, 1:] if axis == 0 else out[1:, :]
    assert not first.any() and (rest == 1.0).all(), out


# --- core/progress_output.py ------------------------------------------------------------------

def test_the_rate_of_one_item_is_its_own_time():
    from mast3r_ros.core.progress_output import ProgressLog

    now = [100.0]
    bar = ProgressLog(5, "build-map", "frame", clock=lambda: now[0])
    now[0] += 12.0
    assert bar.line(now[0]) == "build-map: 0/5 frames, 12.0 s/frame, ~60 s left"
    bar.update(1)
    assert bar.line(now[0]) == "build-map: 1/5 frames, 12.0 s/frame, ~48 s left"


def test_update_without_a_count_is_one_item_as_tqdms():
    from mast3r_ros.core.progress_output import ProgressLog

    bar = ProgressLog(5, "localize", "frame", clock=lambda: 0.0)
    bar.update()
    bar.update()
    assert bar.n == 2



def test_an_eta_past_90_minutes_is_said_in_hours():
    from mast3r_ros.core.progress_output import _duration

    assert [_duration(s) for s in (89.6, 600, 90 * 60, 3 * 3600)] == [
        "90 s", "10 min", "1.5 h", "3.0 h"]


def test_a_footprint_is_cut_to_8_colour_pixels_a_side():
    """A colour camera 20 times finer than the depth camera: each depth pixel fills 8 x 8."""
    import numpy as np

    from mast3r_ros.core.depth_register import register_depth
    from mast3r_ros.core.types import CameraIntrinsics

    depth_cam = CameraIntrinsics(width=2, height=2, K=np.array([[2.0, 0, 1], [0, 2.0, 1],
                                                                [0, 0, 1]]))
    colour_cam = CameraIntrinsics(width=80, height=80, K=np.array([[40.0, 0, 40],
                                                                   [0, 40.0, 40], [0, 0, 1]]))
    out = register_depth(np.ones((2, 2), np.float32), depth_cam, colour_cam, np.eye(4))
    assert int((out > 0).sum()) == 4 * 8 * 8
