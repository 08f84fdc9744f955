"""The map check's focal-length diagnosis on a distorted camera (the scan undistorts under each
candidate K), and a fitted depth factor that is no unit confusion told from fx, fy 10 % off."""

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
    # a colour camera's own K with unregistered depth fails so too (the colour-focal note of
    # build-map / check-map tells the user to give it): the fix says what then
    assert "the depth is a separate depth camera's, not registered to it" in r.fix, r.fix


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


@pytest.fixture(scope="module")
def frames():
    """Every other frame of the first half of the demo loop at 240x180 (pinhole)."""
    return list(render_frames(40, default_intrinsics(240, 180), indices=range(0, 20, 2)))


def pinhole_records(frames, depth_factor=1.0, fx_factor=1.0):
    recs = [KeyframeRecord(f.rgb, f.depth_m * np.float32(depth_factor), f.intrinsics,
                           f.map_from_cam, f.stamp_ns) for f in frames]
    return fx_times(recs, fx_factor) if fx_factor != 1.0 else recs


@pytest.mark.parametrize("depth_factor", [0.8, 1.5])
def test_a_depth_factor_no_unit_explains_is_told_from_the_focal_length(frames, depth_factor):
    """Depth x0.8 read "depth is x0.79 ..., or the focal length is off: x0.79 is no depth unit,
    and fx, fy a few per cent off ... fit as well; fix: check fx, fy ... only if they are right:
    --depth-scale 790". A depth scale multiplies each point's range, fx, fy off its offset from
    the principal point: the best depth factor leaves a median depth residual of 0.008 %, the
    best factor on fx, fy (x1.04) 0.77 % (x0.8), so the depth is named alone, with the
    figures that rule the focal length out."""
    r = check_keyframes(pinhole_records(frames, depth_factor=depth_factor), CFG,
                        depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "depth_scale", r.message
    assert abs(r.depth_factor / depth_factor - 1) < 0.07, r.message
    assert r.fix == f"--depth-scale {1000 * r.depth_factor:.0f} (depth units per metre)", r.fix
    assert ", not the focal length: a depth factor leaves a median depth residual of " \
        in r.message, r.message
    assert "or the focal length is off" not in r.message, r.message


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_a_focal_length_10_percent_off_is_told_from_a_depth_scale(frames, factor):
    """fx, fy 10 % off fit a depth factor (x0.79 for fx x1.1) well enough to make every pair
    agree, and read "depth is x0.79 ..., or the focal length is off". The factor on fx, fy
    leaves a median depth residual of 0.001-0.03 %, the depth factor's best 0.95-0.98 %: the
    focal length is named, with the fx that fits, and the depth factor's figures."""
    r = check_keyframes(pinhole_records(frames, fx_factor=factor), CFG,
                        depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "focal_length", r.message
    fitted = float(r.message.split("; likely cause: fx, fy are x")[1].split(" ")[0])
    assert abs(fitted / factor - 1) < 0.01, r.message
    fx = float(r.fix.split("(fx ")[1].split(" px)")[0])
    assert abs(fx / frames[0].intrinsics.K[0, 0] - 1) < 0.01, r.message
    assert "; a depth factor fits worse: x" in r.message, r.message
    assert r.fix.startswith("check fx, fy in the camera_info's K") and "--depth-scale" not in r.fix


def test_without_a_clear_winner_both_depth_and_focal_length_are_named(frames, monkeypatch):
    """When neither fit is `_CLEAR_FIT_RATIO` x the other's (real data closer than the
    synthetic walk), the wording names both, the calibration checked first."""
    from mast3r_ros.core.map_check import focal

    monkeypatch.setattr(focal, "_CLEAR_FIT_RATIO", 1e9)
    r = check_keyframes(pinhole_records(frames, fx_factor=1.1), CFG, depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "depth_scale", r.message
    assert "or the focal length is off: x" in r.message, r.message
    assert r.fix.startswith("check fx, fy in the camera_info's K"), r.fix
    assert "only if they are right: --depth-scale" in r.fix, r.fix


def _named_another_resolution(frames, factor, made):
    """The check of the walk given fx, fy x ``factor``, asserted to name a focal length off by
    that factor as a calibration made at ``made`` (WxH) with the fx that fits; the report."""
    r = check_keyframes(pinhole_records(frames, fx_factor=factor), CFG, depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "focal_length", r.message
    fitted = float(r.message.split("; likely cause: fx, fy are x")[1].split(" ")[0])
    assert abs(fitted / factor - 1) < 0.01, r.message
    fx = float(r.fix.split("(fx ")[1].split(" px)")[0])
    assert abs(fx / frames[0].intrinsics.K[0, 0] - 1) < 0.01, r.message
    assert f"a calibration for another resolution (one made at {made} for these 240x180 " \
        "images?): give the CameraInfo recorded with these images, or scale fx, fy by the " \
        f"image size ratio: divided by {fitted:.3g} (fx " in r.fix, r.fix
    return r


@pytest.mark.parametrize("factor, made", [(2.0, "480x360"), (0.5, "120x90")])
def test_a_calibration_for_twice_or_half_the_image_size_is_named_with_the_fx_that_fits(
        frames, factor, made):
    """fx, fy x2 (a calibration made at 1280x960 given with 640x480 images: fx 1170 px for 585)
    or x0.5 keep a field of view a camera has (34 / 101 deg here), and the focal scan stopped at
    x0.6 / x1.67: both read "likely cause: no pose convention or depth scale explains it; fix:
    check the poses ... and the depth unit". The scan goes on past the end its best sits at
    (to x0.4 / x2.5), and the fix names the factor and the resolution it fits."""
    r = _named_another_resolution(frames, factor, made)
    for wrong in ("no pose convention", "depth unit", "not registered"):
        assert wrong not in r.message, r.message


def test_the_wide_focal_scan_goes_past_an_end_only_when_the_best_sits_there():
    """`_log_argmin`'s ``wide``: the same factor, from the same scores, as the narrow scan
    where the best lies inside `_FOCAL_SCAN`'s range; past its end (x2, x0.45) on to
    `_FOCAL_SCAN_WIDE`'s, in the same steps, where the narrow one stops at its edge."""
    from mast3r_ros.core.map_check import focal

    def bowl(true, calls):
        return lambda g: calls.append(g) or (np.log(g) - np.log(true)) ** 2

    for true in (1.0, 0.62, 1.2, 1.6):
        narrow, wide = [], []
        assert focal._log_argmin(bowl(true, narrow)) == \
            focal._log_argmin(bowl(true, wide), wide=True)
        assert wide == narrow, true
    for true in (2.0, 0.45):
        stuck = focal._log_argmin(bowl(true, []))
        assert abs(np.log(stuck / true)) > 0.1, (true, stuck)
        got = focal._log_argmin(bowl(true, []), wide=True)
        assert abs(got / true - 1) < focal._FOCAL_REFINE_STEP, (true, got)
    # and the array score (``many``) the same way
    got = focal._log_argmin(None, many=lambda gs: (np.log(gs) - np.log(2.0)) ** 2, wide=True)
    assert abs(got / 2.0 - 1) < focal._FOCAL_REFINE_STEP, got


def test_a_false_minimum_inside_the_scan_does_not_keep_the_wide_factors_untried(frames):
    """fx, fy x0.42 (just past the scan's x0.6 end): the refinement around x0.6 found a small
    bump in the residual at x0.583 (lower than x0.577, its lowest factor), so the best did not
    sit at the end and the scan never went past it; x0.583 did not make the pairs agree, and
    the map read "no pose convention or depth scale explains it". The factors past both ends
    are now tried whenever the in-range best does not make every pair agree."""
    r = check_keyframes(pinhole_records(frames, fx_factor=0.42), CFG, depth_units_per_m=1000.0)
    assert r.verdict == INCONSISTENT and r.cause == "focal_length", r.message
    fitted = float(r.message.split("; likely cause: fx, fy are x")[1].split(" ")[0])
    assert abs(fitted / 0.42 - 1) < 0.01, r.message
    fx = float(r.fix.split("(fx ")[1].split(" px)")[0])
    assert abs(fx / frames[0].intrinsics.K[0, 0] - 1) < 0.01, r.message
    assert "no pose convention" not in r.message, r.message


@pytest.mark.parametrize("factor, made, exact", [
    (3.0, "720x540", "divide fx, fy by 3"), (4.0, "960x720", "divide fx, fy by 4"),
    (1 / 3, "80x60", "multiply fx, fy by 3"), (0.25, "60x45", "multiply fx, fy by 4")])
def test_a_calibration_for_3x_or_4x_the_image_size_or_a_third_or_quarter_is_named(
        frames, factor, made, exact):
    """A full-resolution stream's camera_info copied for a reduced one (1920x1080 or 2560x1440
    given with 640x360 images: fx 3x or 4x too large), or back: the scan stopped at x2.5 /
    x0.4 and read "no pose convention or depth scale explains it" (x4: "the rotations are
    transposed ...; depth is x0.5", not fully confirmed). The factors past both ends of the
    scan, out to x4.5 and x0.22, are tried when its own does not fit, and the fix names the
    resolution and the exact ratio."""
    r = _named_another_resolution(frames, factor, made)
    assert f"(that size's ratio exactly: {exact}, fx 196.9 px); build the map again" in r.fix, \
        r.fix
    for wrong in ("no pose convention", "depth unit", "not registered", "transposed"):
        assert wrong not in r.message, r.message


def test_the_far_factors_are_refined_only_where_their_grid_nearly_fits():
    """`focal._past_ends` on a failing map of another cause (nothing halves the residual):
    the two grids past the scan's ends are scored, nothing refined, nothing yielded (the
    first version scored each side at the scan's own step and refined both: 84 factors, the
    pose-jump map's check 1.4x as long); where one side's grid halves it, that side alone is
    refined, to the factor of the bowl."""
    from mast3r_ros.core.map_check import focal

    calls = []
    flat = list(focal._past_ends(lambda g: calls.append(g) or 1.0, 1.0))
    assert flat == [] and 20 <= len(calls) <= 30, len(calls)

    def bowl(g):
        calls.append(g)
        return min(1.0, abs(np.log(g / 3.0)))

    calls.clear()
    got = list(focal._past_ends(bowl, 1.0))
    assert len(got) == 1 and abs(got[0] / 3.0 - 1) < focal._FOCAL_REFINE_STEP, got
    assert all(g > 1 for g in calls[len(calls) // 2:]), "only the high side refined"
