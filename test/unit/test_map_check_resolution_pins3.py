"""Pins from the mutation audit docs/bench/mutation_cpu_2026-12-07zb (resolution.py's mutants
07r left not run, in its seeded order): what the map check's explanation of a wrong map camera
says and which K it measures, on stand-in views with the measuring stubbed (no map)."""

from __future__ import annotations

from mast3r_ros.core.config import Config
from test_map_check_crop import view_with_k
from test_map_check_resolution_pins import measuring_first_only

CFG = Config().map_check


def test_a_crop_then_binning_2_says_fx_fy_cx_cy_divided_by_2():
    """720x360's K with 240x180 images (x3 across, x2 down): the 480x360 region binned by 2.
    The K named has fx, fy halved, and the words say so: "then fx, fy, cx, cy divided by 2",
    not "fx, fy as given" (#236, ``n > 1`` -> ``n > 2``: binning 2 said as no scale)."""
    from mast3r_ros.core.map_check import resolution

    view = view_with_k(240, 180, fx=400.0, fy=400.0, cx=360.9, cy=179.5)
    cause = resolution._aspect_cause(view, 3.0, 2.0, ["cropped"])
    assert ", then fx, fy, cx, cy divided by 2 (fx 200, fy 200," in cause.what, cause.what
    assert "fx, fy as given" not in cause.what, cause.what


def test_a_moved_principal_point_a_few_per_cent_off_centre_down_keeps_cy_as_given(monkeypatch):
    """160x120's principal point across (cx 79.5 on 320x240 images, x1/2) with cy 2 % below
    the centre (121.9: x1.02): a real principal point is a few per cent off, so down is taken
    as x1 first, cy as given, not moved to the centre (#265, ``(1.0,)`` -> ``(2.0,)``: x1.02
    tried, cy 119.5)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=262.5, fy=262.5, cx=79.5, cy=121.9)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 0.5, 122.4 / 120)
    assert cause is not None and "x0.5, x1 the image centre's" in cause.what, cause
    K = measured[0]
    assert (round(K[0, 2], 6), round(K[1, 2], 6)) == (159.5, 121.9), K


def test_a_moved_principal_points_cause_says_the_depth_is_right(monkeypatch):
    """A principal point of another resolution names no depth scale: the cause's depth factor
    (the manifest's ``depth_factor``, given / true depth) is 1 (#74, #73: 0.5, 2)."""
    from mast3r_ros.core.map_check import resolution

    measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=262.5, fy=262.5, cx=79.5, cy=59.5)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 0.5, 0.5)
    assert cause is not None and cause.factor == 1.0, cause


def test_a_principal_point_a_tenth_of_a_pixel_past_5_per_cent_left_is_tried_as_moved(
        monkeypatch):
    """cx 143.4 on 320x240 images: 16.1 px left of the centre, past 5 % of the width (16 px),
    so no crop puts it and `_moved` tries it (#104, cx ``- 0.5`` -> ``- 0.25``: 15.85 px left,
    called a crop's, None)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, cx=143.4, cy=119.5)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 0.9, 1.0)
    assert cause is not None and len(measured) == 1, cause


def test_a_reduced_keyframes_principal_point_far_above_the_centre_is_tried_as_moved(
        monkeypatch):
    """A keyframe reduced to half its 640x480 camera (scale 0.5, K in working pixels, cy 49.75
    there: camera cy 100, 139.5 px above the centre, 29 % of 480): no crop puts it there, so
    `_moved` tries it and names these 640x480 images (#162, the camera height ``* s`` for
    ``/ s``: 120, cy 100 below its centre, called a crop's, None; #175, the same in the words:
    "these 640x120 images")."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, scale=0.5, cx=159.75, cy=49.75)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 1.0, 100.5 / 240)
    assert cause is not None and len(measured) == 1, cause
    assert "fx, fy of these 640x480 images" in cause.what, cause.what



def test_a_k_scaled_by_a_ratio_no_binning_says_is_measured_about_pixel_centres(monkeypatch):
    """848x480's K (cx 423.5, cy 239.5) with 640x480 images: x1.325 across, no whole binning,
    so the K scaled per axis is measured with cx about pixel centres, (423.5 + 0.5) / 1.325 -
    0.5 = 319.5, the K the cause names; not image_geometry's binned c / 1.325 = 319.62 (#191,
    ``binned and kind == "scaled"`` -> ``or``: every scaled try measured as binned)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(640, 480, fx=600.0, fy=525.0, cx=423.5, cy=239.5)
    cause = resolution._other_aspect([view], {(0, 1): None}, CFG, 424 / 320, 1.0)
    assert cause is not None and "scaled non-uniformly" in cause.fix, cause
    K = measured[0]
    assert (round(K[0, 2], 6), round(K[1, 2], 6)) == (319.5, 239.5), K
    assert "cx 319.5, cy 239.5 px" in cause.what, cause.what


def test_a_principal_point_exactly_10_per_cent_off_a_usual_ratio_is_tried_at_its_own(
        monkeypatch):
    """cx 87.5 on 320x240 images (x0.55 across: exactly x1.1 of 160x120's x0.5, `_NEAR_RATIO`)
    is not within that factor, so the first K `_moved` measures has cx at its own ratio,
    (87.5 + 0.5) / 0.55 - 0.5 = 159.5, not 160x120's 175.5 (#213, ``< log(_NEAR_RATIO)`` ->
    ``<=``)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, cx=87.5, cy=119.5)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 88 / 160, 1.0)
    assert cause is not None and "x0.55, x1 the image centre's" in cause.what, cause
    assert round(measured[0][0, 2], 6) == 159.5, measured[0]
