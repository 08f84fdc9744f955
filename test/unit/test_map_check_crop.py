"""The map check names a K of a larger frame these images are a crop of when the principal point
is only a few per cent off centre (a 1280x720 K on its centred 1100x700), and a calibration of
another width alone (848x480 on 640x480), where it tried nothing under 20 % of the image off
centre; the frame a crop's half-pixel offsets imply rounds to the real one."""

from __future__ import annotations

import dataclasses

import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import INCONSISTENT, check_keyframes
from mast3r_ros.replay.synthetic import default_intrinsics
from test_map_check_resolution import k_of, other_aspect


def view_with_k(width, height, scale=1.0, **k):
    """A keyframe view stand-in for `resolution`'s helpers: ``default_intrinsics(width,
    height)`` with the K entries named in ``k`` (fx, fy, cx, cy) replaced, measured at
    ``scale`` work pixels per camera pixel (``width_px`` the camera's width)."""
    cam = default_intrinsics(width, height)
    K = cam.K.copy()
    for name, (i, j) in (("fx", (0, 0)), ("fy", (1, 1)), ("cx", (0, 2)), ("cy", (1, 2))):
        if name in k:
            K[i, j] = k[name]
    view = type("V", (), {})()
    view.cam = dataclasses.replace(cam, K=K)
    view.scale, view.width_px, view.label, view.pose = scale, round(width / scale), 0, None
    return view

CFG = Config().map_check


def check(w, h, true_k, given_k):
    rep = check_keyframes(other_aspect(w, h, None, true_k, given_k), CFG,
                          depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT, rep.message
    return rep


def test_a_usual_frames_centred_crop_under_20_per_cent_off_centre_is_named():
    """320x240's K (fx 262.5, principal point at its centre) with its centred 256x224: the
    principal point is 32, 8 px (12.5 %, 3.6 %) off these images' centre, under the 20 % where
    a K of another frame was first tried: it read "likely cause: a pose discontinuity" (the
    walk's later keyframes disagree). Now a crop is tried from 5 % off: named, with the usual
    frame and its roi. (From about 10 % off across the walk fails; 8 % passes: 1280x720's K on
    its centred 1100x700 is such a map.)"""
    true_k = k_of(262.5, 262.5, 127.5, 111.5)
    rep = check(256, 224, true_k, k_of(262.5, 262.5, 159.5, 119.5))
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "the K is of a larger frame these 256x224 images are cropped from, not scaled to: " \
        "keyframe 0's principal point (160, 120) is (32, 8) px from the image centre" \
        in rep.message, rep.message
    assert "(one made at 320x240, these images its centred 256x224?)" in rep.message
    assert "set cx 127.5, cy 111.5 px, fx, fy as they are" in rep.fix, rep.fix
    assert "roi: x_offset 32, y_offset 8, width 256, height 224" in rep.fix, rep.fix
    for wrong in ("no pose convention", "or the intrinsics:", "scale fx, fy", "jumps away"):
        assert wrong not in rep.message, rep.message


@pytest.mark.parametrize("dx", [-0.045, 0.045])
def test_a_principal_point_under_5_per_cent_off_centre_is_not_measured(monkeypatch, dx):
    """A real camera's principal point is a few per cent off centre: under 5 % of the image size
    (4.5 % here, either side) no K of another frame is tried (no `_measure`), None."""
    from mast3r_ros.core.map_check import resolution

    monkeypatch.setattr(resolution, "_measure", lambda *a, **k: pytest.fail("measured"))
    view = view_with_k(240, 180, cx=default_intrinsics(240, 180).K[0, 2] + dx * 240)
    assert resolution._whole_k_scaled([view], {(0, 1): None}, CFG) is None


# 848x480's K (fx = fy = 556.5, a D400's mode) with 640x480 images, here both halved: x1.33
# across, x1 down, the principal point 16 % of the width off centre
K_424x240 = k_of(347.8125, 347.8125, 211.5, 119.5)


def test_a_wider_calibration_scaled_to_these_images_is_named_per_axis():
    """424x240's K with its 320x240 images scaled across only (fx 262.5, fy 347.8): the
    principal point says x1.33 across, x1 down, under the 20 % where anything was tried, and it
    read "no pose convention or depth scale explains it". Now named: another aspect ratio, the
    images scaled across, fx, cx divided by 1.33."""
    rep = check(320, 240, k_of(262.5, 347.8125, 159.5, 119.5), K_424x240)
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "is x1.32 across and x1 down the size these 320x240 images fit: a calibration for " \
        "another resolution and aspect ratio (one made at 424x240 for these 320x240 " \
        "images?)" in rep.message, rep.message
    assert "the numbers suggest the images were scaled non-uniformly" in rep.fix, rep.fix
    for wrong in ("no pose convention", "or the intrinsics:", "jumps away"):
        assert wrong not in rep.message, rep.message


def test_a_wider_calibrations_centred_crop_is_named_a_crop():
    """424x240's K with its centred 320x240 (fx, fy kept, cx 52 px less): named a crop, with
    the roi, not a scaling."""
    rep = check(320, 240, k_of(347.8125, 347.8125, 159.5, 119.5), K_424x240)
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "(one made at 424x240, these images its centred 320x240?)" in rep.message
    assert "roi: x_offset 52, y_offset 0, width 320, height 240" in rep.fix, rep.fix


def test_a_failing_map_with_its_own_off_centre_principal_point_keeps_its_cause():
    """The walk shot and given a K whose principal point is 12 % of the width off centre, one
    keyframe moved 0.2 m and turned 10 deg: the crop and the other widths now tried under 20 %
    do not fit (the K is right), and the pose jump is named as before."""
    from scipy.spatial.transform import Rotation

    from mast3r_ros.core.geometry import make_pose

    K = k_of(196.875, 196.875, 148.3, 89.5)
    recs = other_aspect(240, 180, None, K, K)
    jump = make_pose(Rotation.from_euler("y", 10, degrees=True).as_matrix(), [0.2, 0.0, 0.0])
    recs[3] = dataclasses.replace(recs[3], map_from_cam=recs[3].map_from_cam @ jump)
    rep = check_keyframes(recs, CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "pose_discontinuity", rep.message


def test_a_crops_half_pixel_offsets_name_the_real_frame():
    """720x405's principal point (359.5, 202) with fx, fy right and 240x180 images: the crop's
    offsets are 240, 112.5 px; the roi takes 112 (whole pixels), and the frame it named was
    720x404 (240 + 2 x 112), a pixel short of the 720x405 the principal point says."""
    true_k = k_of(196.875, 196.875, 119.5, 89.5)
    rep = check(240, 180, true_k, k_of(196.875, 196.875, 359.5, 202.0))
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "(one made at 720x405, these images its centred 240x180?)" in rep.message, \
        rep.message
    assert "keep the 720x405 size and K and give the crop as the camera_info's roi: x_offset " \
        "240, y_offset 112, width 240, height 180" in rep.fix, rep.fix


# --- the K suggested: image_geometry's binning (c / b) where binning is said ---------------------

WALK_K = k_of(196.875, 196.875, 119.5, 89.5)


def test_a_whole_k_binned_by_3_suggests_the_k_image_geometry_gives():
    """720x540's K (the walk's x3 about pixel centres) with its 240x180 images: the K named was
    (c + 0.5) / 3 - 0.5 (cx 119.5) while binning_x: 3, which it "may say" instead, gives c / 3
    (cx 119.8) in image_geometry and this reader. Now the K fitted and named is c / 3, and the
    binning is said without the hedge."""
    given = k_of(590.625, 590.625, 359.5, 269.5)
    rep = check(240, 180, WALK_K, given)
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "divide fx, fy, cx, cy by 3 (fx 196.9, fy 196.9, cx 119.8, cy 89.83 px;" in rep.fix, \
        rep.fix
    assert "or keep the 720x540 size and K and set binning_x: 3, binning_y: 3" in rep.fix, \
        rep.fix
    assert "may say" not in rep.fix and "pixel centres" not in rep.fix, rep.fix


def test_a_whole_k_for_a_larger_image_says_how_cx_cy_scale():
    """120x90's K (the walk's x0.5 about pixel centres) with its 240x180 images: no binning, a
    rescaled K, whose cx, cy the fix now says are scaled about pixel centres."""
    given = k_of(98.4375, 98.4375, 59.5, 44.5)
    rep = check(240, 180, WALK_K, given)
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "multiply fx, fy, cx, cy by 2 (fx 196.9, fy 196.9, cx 119.5, cy 89.5 px; cx, cy " \
        "about pixel centres: (c + 0.5) x 2 - 0.5;" in rep.fix, rep.fix


def test_a_k_binned_per_axis_suggests_the_k_image_geometry_gives():
    """480x180's K (binned 2 across, 1 down): the K named is image_geometry's for binning_x: 2,
    binning_y: 1 (cx 239.5 / 2 = 119.8), and the binning is said without the hedge."""
    given = k_of(393.75, 196.875, 239.5, 89.5)
    rep = check(240, 180, WALK_K, given)
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "(fx 196.9, fy 196.9, cx 119.8, cy 89.5 px) every pair agrees" in rep.message, \
        rep.message
    assert "binning_x: 2, binning_y: 1" in rep.fix and "may say" not in rep.fix, rep.fix


# --- a principal point of another resolution, fx, fy right, left of / above the centre ----------

def test_a_principal_point_of_a_smaller_frame_with_fx_fy_right_is_named():
    """cx, cy of a 3x smaller image (40, 30 with 240x180 images), fx, fy right: no crop puts a
    principal point left of and above the centre, and it read a guess "(not fully confirmed)"
    with the hint "is K for another resolution? scale fx, fy, cx, cy with the image", which
    breaks fx, fy. The principal point x3 about pixel centres (121, 91), fx, fy as given, makes
    every pair agree: named, with that cx, cy and fx, fy kept."""
    given = k_of(196.875, 196.875, 40.0, 30.0)
    rep = check(240, 180, WALK_K, given)
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "keyframe 0's principal point (40, 30) is x0.333, x0.333 the image centre's" \
        in rep.message, rep.message
    assert "cx, cy x3 about pixel centres (cx 121, cy 91 px) and fx, fy as given every pair " \
        "agrees" in rep.message, rep.message
    assert "set cx 121, cy 91 px, fx, fy as they are" in rep.fix, rep.fix
    for wrong in ("not fully confirmed", "or the intrinsics:", "scale fx, fy"):
        assert wrong not in rep.message, rep.message


def test_a_crop_then_binning_suggests_the_k_image_geometry_gives():
    """640x360's K with 240x180 images that are its middle 480x360 binned by 2: the roi and
    binning named (x_offset 80, binning 2) give cx (319.5 - 80) / 2 = 119.75 in image_geometry
    and this reader, while the K named was (c + 0.5) / 2.67 - 0.5 (cx 119.5). Now the K fitted
    and named is image_geometry's."""
    rep = check(240, 180, WALK_K, k_of(393.75, 393.75, 319.5, 179.5))
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "or set K to fx 196.9, fy 196.9, cx 119.8, cy 89.75 px (camera.yaml" in rep.fix, \
        rep.fix
    assert "roi x_offset 80, y_offset 0, width 480, height 360, binning_x: 2, binning_y: 2" \
        in rep.fix, rep.fix
    assert "pixel centres" not in rep.fix, rep.fix


def _camera_k(view):
    """A view's K in camera pixels (its working K about pixel centres, `_View.scale`)."""
    s, K = view.scale, view.cam.K
    return (K[0, 0] / s, K[1, 1] / s, (K[0, 2] + 0.5) / s - 0.5, (K[1, 2] + 0.5) / s - 0.5)


def _view(K, scale):
    import numpy as np

    from mast3r_ros.core.map_check.measure import _View

    Kw = K.copy()
    Kw[:2, :2] *= scale
    Kw[:2, 2] = (K[:2, 2] + 0.5) * scale - 0.5
    cam = dataclasses.replace(default_intrinsics(720, 540), K=Kw)
    return _View(cam=cam, scale=scale, depth=None, pts=np.zeros((0, 3)), kp=np.zeros((0, 2)),
                 kp_depth=np.zeros(0), desc=None, pose=np.eye(4), width_px=720, stamp_ns=0,
                 label="0")


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_k_measured_is_image_geometrys_for_the_binning_and_roi_named(scale):
    """The K the check measures before it names a binning (or a roi and binning) is the one
    image_geometry computes from them: cx, cy less the roi offsets, then fx, cx / binning_x and
    fy, cy / binning_y, in camera pixels whatever the working scale. The figures of the named
    causes above cannot tell c / 3 from (c + 0.5) / 3 - 0.5 (a third of a pixel): this pins it."""
    from mast3r_ros.core.map_check.resolution import _k_divided, _roi_binned

    binned = _k_divided([_view(k_of(590.625, 590.625, 359.5, 269.5), scale)], 3.0,
                        binned=True)[0]
    assert _camera_k(binned) == pytest.approx((196.875, 196.875, 359.5 / 3, 269.5 / 3))
    scaled = _k_divided([_view(k_of(590.625, 590.625, 359.5, 269.5), scale)], 3.0)[0]
    assert _camera_k(scaled) == pytest.approx((196.875, 196.875, 119.5, 89.5))
    # 640x360's K, its middle 480x360 (x_offset 80) binned by 2 to 240x180
    crop = _roi_binned([_view(k_of(393.75, 393.75, 319.5, 179.5), scale)], 640 / 240, 2.0, 2)[0]
    assert _camera_k(crop) == pytest.approx((196.875, 196.875, (319.5 - 80) / 2, 179.5 / 2))
