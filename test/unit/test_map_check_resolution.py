"""The map check names a whole K made for another resolution (fx, fy, cx, cy all scaled: a
camera's full-resolution camera_info given with its reduced stream), with the K that fits."""

from __future__ import annotations

import dataclasses

import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import CONSISTENT, INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


@pytest.fixture(scope="module")
def frames():
    """Every other frame of the first half of the demo loop at 240x180 (pinhole)."""
    return list(render_frames(40, default_intrinsics(240, 180), indices=range(0, 20, 2)))


def with_k(frames, K):
    cam = dataclasses.replace(frames[0].intrinsics, K=K)
    return [KeyframeRecord(f.rgb, f.depth_m, cam, f.map_from_cam, f.stamp_ns) for f in frames]


def whole_k_times(K, r):
    """K for images ``r`` x the size, about pixel centres (c' = (c + 0.5) r - 0.5)."""
    out = K.copy()
    out[:2, :2] *= r
    out[:2, 2] = (out[:2, 2] + 0.5) * r - 0.5
    return out


@pytest.mark.parametrize("r, made, fix", [
    (3.0, "720x540", "divide fx, fy, cx, cy by 3 (fx 196.9, fy 196.9, cx 119.8, cy 89.83 px;"),
    (2.0, "480x360", "divide fx, fy, cx, cy by 2 (fx 196.9, fy 196.9, cx 119.8, cy 89.75 px;"),
    (4.0, "960x720", "divide fx, fy, cx, cy by 4 (fx 196.9, fy 196.9, cx 119.9, cy 89.88 px;"),
    (0.5, "120x90", "multiply fx, fy, cx, cy by 2 (fx 196.9, fy 196.9, cx 119.5, cy 89.5 px;")])
def test_a_whole_k_for_another_resolution_is_named_with_the_k_that_fits(frames, r, made, fix):
    """K of a 720x540 stream given with 240x180 images (the walk's own K x3, principal point
    too) read "likely cause: no pose convention or depth scale explains it; fix: check the
    poses ... and the depth unit; or the intrinsics: the principal point (360, 270) ... is
    outside the image": the focal scans fit fx, fy only. The principal point gives the size
    ratio, and the whole K divided by it makes every pair agree: named, with that K."""
    K = frames[0].intrinsics.K
    rep = check_keyframes(with_k(frames, whole_k_times(K, r)), CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert f"a calibration for another resolution (one made at {made} for these 240x180 " \
        "images?)" in rep.message, rep.message
    assert "every pair agrees" in rep.message, rep.message
    assert rep.fix.startswith("give the camera_info of the stream these images came from (its "
                              "K for 240x180), or scale the whole K by the image size ratio: "
                              + fix), rep.fix
    assert ("binning_x: " in rep.fix) == (r > 1), rep.fix
    for wrong in ("no pose convention", "depth unit", "or the intrinsics:"):
        assert wrong not in rep.message, rep.message


def test_a_principal_point_off_alone_is_named_a_crop(frames):
    """Only cx, cy of another resolution (fx, fy right): the whole K divided does not fit, but
    this K is that of a 720x540 frame (principal point at its centre) whose centred 240x180
    region these images are: a crop (a camera_info's roi), named, with the cx, cy that fit. It
    read "no pose convention ... explains it; ... or the intrinsics: the principal point (360,
    270) ... scale fx, fy, cx, cy with the image", the wrong fix for a crop's fx, fy."""
    K = frames[0].intrinsics.K.copy()
    K[:2, 2] = (K[:2, 2] + 0.5) * 3.0 - 0.5
    rep = check_keyframes(with_k(frames, K), CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert "cropped from, not scaled to: keyframe 0's principal point (360, 270) is (240, " \
        "180) px from the image centre" in rep.message, rep.message
    assert "(one made at 720x540, these images its centred 240x180?)" in rep.message
    assert "set cx 119.5, cy 89.5 px, fx, fy as they are" in rep.fix, rep.fix
    assert "roi: x_offset 240, y_offset 180, width 240, height 180" in rep.fix, rep.fix
    for wrong in ("no pose convention", "or the intrinsics:", "scale fx, fy"):
        assert wrong not in rep.message, rep.message


def test_a_principal_point_off_that_no_crop_explains_is_not_named_a_resolution(frames):
    """cx, cy of a 3x smaller image, fx, fy 1.4x off: the whole K divided does not fit, no crop
    moves a principal point left of and above the centre, and cx, cy x3 alone leave fx, fy off,
    so the resolution is not named (the principal point hint stays where nothing else explains
    the disagreement). With fx, fy right, cx, cy x3 fit and are named
    (test_map_check_crop.py)."""
    K = frames[0].intrinsics.K.copy()
    K[:2, 2] = (K[:2, 2] + 0.5) / 3.0 - 0.5
    K[0, 0] *= 1.4
    K[1, 1] *= 1.4
    rep = check_keyframes(with_k(frames, K), CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause != "intrinsics_resolution", rep.message
    assert rep.message.endswith("or the intrinsics: the principal point (40, 30) of "
                                "keyframe 0 is in the middle of the image's top-left "
                                "quarter: is K for another resolution (here 240x180)? scale "
                                "fx, fy, cx, cy with the image"), rep.message


def test_a_centred_principal_point_is_not_measured_again(frames, monkeypatch):
    """The principal point near the centre: no K is tried (no `_measure`), None."""
    from mast3r_ros.core.map_check import resolution

    monkeypatch.setattr(resolution, "_measure", lambda *a, **k: pytest.fail("measured"))
    view = type("V", (), {})()
    view.cam, view.scale, view.width_px = frames[0].intrinsics, 1.0, 240
    assert resolution._whole_k_scaled([view], {(0, 1): None}, CFG) is None


# --- a K made at another aspect ratio: one ratio across, another down ---------------------------

def other_aspect(w, h, cal, true_k, given_k):
    """10 keyframes of the walk rendered at ``w``x``h`` with ``true_k`` (what these images fit),
    given ``given_k`` (a calibration made at ``cal``, WxH)."""
    cam = default_intrinsics(w, h)
    shot = dataclasses.replace(cam, K=true_k)
    fr = list(render_frames(40, shot, indices=range(0, 20, 2)))
    given = dataclasses.replace(cam, K=given_k)
    return [KeyframeRecord(f.rgb, f.depth_m, given, f.map_from_cam, f.stamp_ns) for f in fr]


def k_of(fx, fy, cx, cy):
    import numpy as np
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def per_axis(K, ax, ay):
    """K for images ``ax`` x as wide and ``ay`` x as tall, about pixel centres."""
    out = K.copy()
    out[0, 0] *= ax
    out[1, 1] *= ay
    out[0, 2] = (out[0, 2] + 0.5) * ax - 0.5
    out[1, 2] = (out[1, 2] + 0.5) * ay - 0.5
    return out


def test_a_k_of_another_aspect_ratio_scaled_non_uniformly_is_named_per_axis():
    """A 720x405 (16:9) calibration, fx = fy = 590.6, given with 240x180 images that stream
    scaled to 4:3 (x1/3 across, x1/2.25 down: fx 196.9, fy 262.5 for these images). The
    principal point says x3 across, x2.25 down: `_whole_k_scaled` wanted both axes within 10 %
    and fell back on "no pose convention or depth scale explains it" with the principal point
    hint. Now fx, cx divided by 3 and fy, cy by 2.25 make every pair agree: named, with that K,
    a scaling the numbers suggest, and binning that cannot say 2.25."""
    true_k = k_of(590.625 / 3.0, 590.625 / 2.25, 119.5, 89.5)
    given = k_of(590.625, 590.625, 359.5, 202.0)
    rep = check_keyframes(other_aspect(240, 180, (720, 405), true_k, given), CFG,
                          depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert "is x3 across and x2.25 down the size these 240x180 images fit: a calibration for " \
        "another resolution and aspect ratio (one made at 720x405 for these 240x180 " \
        "images?)" in rep.message, rep.message
    assert "with fx, cx divided by 3 and fy, cy by 2.25 (fx 196.9, fy 262.5, cx 119.5, cy " \
        "89.5 px) every pair agrees" in rep.message, rep.message
    assert rep.fix.startswith("give the camera_info of the stream these images came from (its "
                              "K for 240x180): another aspect ratio"), rep.fix
    assert "scaled non-uniformly" in rep.fix and "cropped" not in rep.fix.split("; ")[-2], \
        rep.fix
    assert "binning_x: " not in rep.fix and "whole numbers" in rep.fix, rep.fix
    for wrong in ("no pose convention", "depth unit", "or the intrinsics:"):
        assert wrong not in rep.message, rep.message


def test_a_k_binned_differently_per_axis_names_binning_x_and_binning_y():
    """480x180's K (a camera binned 2 across, 1 down) with its 240x180 images: binning_x: 2,
    binning_y: 1 (image_geometry's per-axis binning) says it."""
    true_k = k_of(196.875, 196.875, 119.5, 89.5)
    rep = check_keyframes(other_aspect(240, 180, (480, 180), true_k, per_axis(true_k, 2, 1)),
                          CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert "x2 across and x1 down" in rep.message and "one made at 480x180" in rep.message, \
        rep.message
    assert "binning_x: 2, binning_y: 1" in rep.fix, rep.fix


def test_a_k_of_a_wider_frame_cropped_names_the_crop():
    """A 480x270 (16:9) calibration (fx = fy = 295.3) given with 240x180 images that are its
    middle 360x270 scaled by 1/1.5: fx, fy divide by 1.5 (square pixels kept), the principal
    point by 2 across (the crop moved it), 1.5 down. Named a crop, with the ROI
    image_geometry would apply."""
    true_k = k_of(196.875, 196.875, 119.5, 89.5)
    given = k_of(295.3125, 295.3125, 239.5, 134.5)
    rep = check_keyframes(other_aspect(240, 180, (480, 270), true_k, given), CFG,
                          depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert "is x2 across and x1.5 down" in rep.message and "one made at 480x270" in rep.message
    assert "with fx, fy divided by 1.5 and cx by 2, cy by 1.5 (fx 196.9, fy 196.9, cx 119.5, " \
        "cy 89.5 px) every pair agrees" in rep.message, rep.message
    assert "the numbers suggest a crop" in rep.fix, rep.fix
    assert "roi x_offset 60, y_offset 0, width 360, height 270" in rep.fix, rep.fix


def test_a_usual_resolution_gives_the_exact_per_axis_ratios():
    """960x540's K (its principal point a few pixels off centre, as a real one's) with 320x240
    images scaled from it: the principal point says x3.02 across, x2.24 down; the usual
    960x540 gives x3, x2.25 exactly, and the K that fits with them."""
    given = k_of(825.0, 825.0, 483.0, 268.0)
    true_k = k_of(825.0 / 3.0, 825.0 / 2.25, 483.5 / 3.0 - 0.5, 268.5 / 2.25 - 0.5)
    rep = check_keyframes(other_aspect(320, 240, (960, 540), true_k, given), CFG,
                          depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert "is x3 across and x2.25 down the size these 320x240 images fit" in rep.message and \
        "one made at 960x540 for these 320x240 images?" in rep.message, rep.message
    assert "or set K to fx 275, fy 366.7, cx 160.7, cy 118.8 px" in rep.fix, rep.fix
    assert "(whole numbers in a CameraInfo: x2.25 is not)" in rep.fix, rep.fix


# --- a K of a larger frame, cropped (a ROI, no scaling) ------------------------------------------

@pytest.mark.parametrize("w, h, given, fits, made, roi", [
    (240, 180, (239.5, 179.5), "cx 119.5, cy 89.5 px", "480x360", (120, 90)),
    (320, 240, (322.0, 237.0), "cx 162, cy 117 px", "640x480", (160, 120))],
    ids=["centre_of_480x360", "usual_640x480"])
def test_a_k_of_a_larger_frame_cropped_names_the_crop_and_its_roi(w, h, given, fits, made,
                                                                     roi):
    """A cropped camera's K (the full frame's, fx, fy right, the images its centred region: a
    ROI, no scaling) read "no pose convention or depth scale explains it; ... is K for another
    resolution? scale fx, fy, cx, cy with the image" (the principal point (240, 180) x2 the
    centre's, whose whole K / 2 does not fit). Now the crop is tried: cx, cy less the offsets
    of a usual resolution's centred region when near (640x480's (160, 120) for 320x240 images,
    its principal point a few pixels off its centre), else the principal point's own; named
    with the cx, cy that fit and the roi to give."""
    true_k = k_of(196.875 * w / 240, 196.875 * w / 240, given[0] - roi[0], given[1] - roi[1])
    given_k = k_of(true_k[0, 0], true_k[1, 1], *given)
    rep = check_keyframes(other_aspect(w, h, None, true_k, given_k), CFG,
                          depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert f"the K is of a larger frame these {w}x{h} images are cropped from, not scaled to" \
        in rep.message, rep.message
    assert f"(one made at {made}, these images its centred {w}x{h}?)" in rep.message
    assert f"every pair agrees; fix: give the camera_info of the stream these images came " \
        f"from (its K for {w}x{h}), or move the principal point by the crop: set {fits}, fx, " \
        "fy as they are" in rep.message, rep.message
    assert f"keep the {made} size and K and give the crop as the camera_info's roi: x_offset " \
        f"{roi[0]}, y_offset {roi[1]}, width {w}, height {h}" in rep.fix, rep.fix
    for wrong in ("no pose convention", "or the intrinsics:", "scale fx, fy", "divide fx"):
        assert wrong not in rep.message, rep.message


def test_another_aspects_principal_point_alone_is_named_a_crop(frames, monkeypatch):
    """cx x3, cy x2.25 with fx, fy right: neither per-axis scaling nor a crop then one scale
    fits: one pair of ratios is tried (the principal point's, 720x405's: two K), not again as
    whole numbers or as its own. Then the pure crop (fx, fy kept, cx, cy less the offsets
    (240, 112): 720x405's centred region, its 112.5 rounded to whole pixels) makes every pair
    agree: named, where it read "no pose convention ... explains it" with the hint "scale fx,
    fy, cx, cy with the image"."""
    from mast3r_ros.core.map_check import resolution

    calls = []
    measure = resolution._measure
    monkeypatch.setattr(resolution, "_measure", lambda *a, **k: calls.append(1) or measure(
        *a, **k))
    K = per_axis(frames[0].intrinsics.K, 3.0, 2.25)
    K[0, 0], K[1, 1] = frames[0].intrinsics.K[0, 0], frames[0].intrinsics.K[1, 1]
    rep = check_keyframes(with_k(frames, K), CFG, depth_units_per_m=1000.0)
    assert len(calls) == 3, calls
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert "principal point (360, 202) is (240, 112) px from the image centre" in rep.message
    assert "set cx 119.5, cy 90 px, fx, fy as they are" in rep.fix, rep.fix
    assert "roi: x_offset 240, y_offset 112, width 240, height 180" in rep.fix, rep.fix
    assert "or the intrinsics:" not in rep.message, rep.message


@pytest.mark.parametrize("cy", [134.5, 89.5], ids=["both_axes_off", "one_axis_off"])
def test_a_consistent_map_does_not_reach_the_resolution_diagnosis(monkeypatch, cy):
    """A walk shot with a principal point far off centre (cx 179.5 of 240: x1.5 the centre's,
    past `_whole_k_scaled`'s 20 %; cy also x1.5, or centred: the one-ratio and the per-axis
    branches) and given that K passes: no K of another resolution or crop is tried (no
    `_measure` of `resolution`). With the walk's own K (centred) this held even were
    `_whole_k_scaled` called for a consistent map: it returns before measuring."""
    from mast3r_ros.core.map_check import resolution

    monkeypatch.setattr(resolution, "_measure", lambda *a, **k: pytest.fail("measured"))
    K = k_of(196.875, 196.875, 179.5, cy)
    rep = check_keyframes(other_aspect(240, 180, (240, 180), K, K), CFG)
    assert rep.verdict == CONSISTENT, rep.message
