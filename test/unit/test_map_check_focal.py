"""The map check's focal-length diagnosis on a distorted camera (the scan undistorts under each
candidate K)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import Config
from mast3r_ros.core.geometry import make_pose, undistort_pixels
from mast3r_ros.core.map_check import CONSISTENT, INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check
DIST = np.array([-0.25, 0.08, 0.0, 0.0, 0.0])  # barrel, 12 % at the corners of 240x180


@pytest.fixture(scope="module")
def distorted():
    """(records, true K) of the synthetic walk (every other frame of the first half, 240x180)
    seen by a plumb_bob camera with `DIST`: rendered on a pinhole canvas 40 px wider on each
    side, each distorted pixel sampled where `undistort_pixels` puts it (depth nearest: the
    z-depth of a pixel's point does not change with the model)."""
    w, h, m = 240, 180, 40
    cam = default_intrinsics(w, h)
    canvas_K = cam.K.copy()
    canvas_K[:2, 2] += m
    canvas = CameraIntrinsics(w + 2 * m, h + 2 * m, canvas_K)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    src = undistort_pixels(np.stack([xs.ravel(), ys.ravel()], 1), cam.K, DIST) + m
    mx = np.ascontiguousarray(src[:, 0].reshape(h, w), np.float32)
    my = np.ascontiguousarray(src[:, 1].reshape(h, w), np.float32)
    given = CameraIntrinsics(w, h, cam.K, DIST)
    recs = [KeyframeRecord(cv2.remap(f.rgb, mx, my, cv2.INTER_LINEAR),
                           cv2.remap(f.depth_m, mx, my, cv2.INTER_NEAREST), given,
                           f.map_from_cam, f.stamp_ns)
            for f in render_frames(40, canvas, indices=range(0, 20, 2))]
    return recs, cam.K


def fx_times(recs, factor):
    cam = recs[0].intrinsics
    K = cam.K.copy()
    K[0, 0] *= factor
    K[1, 1] *= factor
    other = dataclasses.replace(cam, K=K)
    return [dataclasses.replace(r, intrinsics=other) for r in recs]


def test_the_distorted_walk_with_its_own_calibration_is_consistent(distorted):
    recs, _ = distorted
    assert recs[0].intrinsics.has_distortion
    r = check_keyframes(recs, CFG, depth_units_per_m=1000.0)
    assert r.verdict == CONSISTENT, r.message


@pytest.mark.parametrize("factor", [0.85, 1.15])
def test_a_distorted_camera_s_focal_length_15_percent_off_is_named_with_the_fx_that_fits(
        distorted, factor):
    """The focal scan skipped every camera with distortion ("its undistortion changes with K"):
    fx x1.15 on this map read "keyframes 6-7 (2 of 10) disagree with every neighbour ...;
    likely cause: no pose convention or depth scale explains it".
    Each candidate K now undistorts the depth grid's pixels again, and the fx that fits is
    named (within 1 % of the true one)."""
    recs, K = distorted
    r = check_keyframes(fx_times(recs, factor), CFG, depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "focal_length", r.message
    fitted = float(r.message.split("; likely cause: fx, fy are x")[1].split(" ")[0])
    assert abs(fitted / factor - 1) < 0.01, r.message
    fx = float(r.fix.split("(fx ")[1].split(" px)")[0])
    assert abs(fx / K[0, 0] - 1) < 0.01, r.message
    for wrong in ("jump", "no pose convention", "depth is x", "not fully confirmed"):
        assert wrong not in r.message, r.message


def test_a_distorted_camera_s_fx_mistyped_10x_is_confirmed_with_the_fx_that_fits(distorted):
    """The unit slip behind an implausible fx was not tried with distortion either: it read
    "fx is likely mistyped ..." unconfirmed."""
    recs, _ = distorted
    r = check_keyframes(fx_times(recs, 10.0), CFG, depth_units_per_m=1000.0)
    assert r.cause == "focal_length", r.message
    assert "fx, fy are x10 the size the images fit (with fx 196.9 px" in r.message, r.message
    assert r.fix.startswith("divide fx, fy in the camera_info's K by 10 (fx 196.9 px;"), r.fix


def test_a_distorted_camera_with_its_own_fx_and_a_pose_jump_is_not_blamed_on_fx(distorted):
    """The right fx with one keyframe's pose off: the scan (now run with distortion) finds no
    factor on fx, fy that makes every pair agree, and the pose jump is named."""
    recs, _ = distorted
    recs = list(recs)
    jump = make_pose(Rotation.from_euler("y", 10, degrees=True).as_matrix(), [0.2, 0.0, 0.0])
    recs[3] = dataclasses.replace(recs[3], map_from_cam=recs[3].map_from_cam @ jump)
    r = check_keyframes(recs, CFG, depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "pose_discontinuity", r.message
    assert "focal length" not in r.message and "fx" not in r.fix, r.message


def test_the_grid_is_lifted_again_from_its_pixels_or_from_its_points_projected(distorted):
    """Views without the grid's pixels (``grid_px`` None) are lifted again from their points
    projected with the given K: the same points as from the pixels kept."""
    from mast3r_ros.core.map_check.focal import _focal_divided
    from mast3r_ros.core.map_check.measure import _prepare

    recs, _ = distorted
    v = _prepare(recs[0], 0, CFG, cv2.ORB_create(500))
    kept, projected = _focal_divided([v, dataclasses.replace(v, grid_px=None)], 1.15)
    assert len(kept.pts) > 100
    np.testing.assert_allclose(projected.pts, kept.pts, rtol=0, atol=1e-6)
    # and not the pinhole scaling: distortion makes the rays grow unevenly
    assert np.abs(kept.pts - v.pts * [1.15, 1.15, 1.0]).max() > 1e-3
