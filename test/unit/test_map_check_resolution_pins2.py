"""Pins from the mutation audit docs/bench/mutation_cpu_2026-12-07r (resolution.py's mutants
neither 06w nor 06zd ran, a seeded sample): where the map check's explanation of a wrong map
camera starts and which K it names, on stand-in views with the measuring stubbed (no map)."""

from __future__ import annotations

import re

import pytest

from mast3r_ros.core.config import Config
from test_map_check_crop import view_with_k
from test_map_check_resolution_pins import measuring_first_only, named_k

CFG = Config().map_check


def test_a_principal_point_at_the_left_or_top_edge_is_no_resolution_and_no_crash():
    """cx = -0.5 (the principal point on the image's left edge, about pixel centres) puts no
    frame's K on these images (ratio 0): None, not a math domain error from log(0) (#45,
    ``min(rx, ry) <= 0`` -> ``< 0``)."""
    from mast3r_ros.core.map_check import resolution

    for k in ({"cx": -0.5}, {"cy": -0.5}):
        view = view_with_k(320, 240, **k)
        assert resolution._whole_k_scaled([view], {(0, 1): None}, CFG) is None, k


def test_a_whole_k_exactly_20_per_cent_off_centre_is_tried_as_a_whole_k(monkeypatch):
    """192x144's K (x0.6 on both axes: the principal point exactly 20 % of the size left of
    and above the centre, `_MIN_RATIO_OFF`) with 320x240 images: the whole K scaled is tried
    first and named, not only a principal point moved (#23, ``off < _MIN_RATIO_OFF`` ->
    ``<=``: a crop first, then `_moved`, which never tries fx, fy scaled)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=157.5, fy=157.5, cx=95.5, cy=71.5)
    cause = resolution._whole_k_scaled([view], {(0, 1): None}, CFG)
    assert cause is not None and cause.what.startswith("the whole K"), cause
    K = measured[0]
    assert (round(K[0, 0], 6), round(K[0, 2], 6)) == (262.5, 159.5), K


def roi_named(fix):
    m = re.search(r"roi x_offset (\d+), y_offset (\d+)", fix)
    assert m, fix
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("across", [True, False], ids=["across", "down"])
def test_a_crop_then_binning_names_the_whole_offset_nearest_the_principal_points(across):
    """720x360's K with 240x180 images (x3 across, x2 down): the 480x360 region binned by 2.
    The roi offset is the whole number nearest (c + 0.5) (1 - 2 / 3) = 120.47 (cx 360.9), 120,
    and the K named is image_geometry's from it, (360.9 - 120) / 2 = 120.45 (#134, ``c + 0.5``
    -> ``c + 1.0`` in `_roi_offset`: 121 and 119.95); the same down for 480x540's K."""
    from mast3r_ros.core.map_check import resolution

    c, other = 360.9, 179.5
    cx, cy = (c, other) if across else (other, c)
    view = view_with_k(240, 180, fx=400.0, fy=400.0, cx=cx, cy=cy)
    cause = (resolution._aspect_cause(view, 3.0, 2.0, ["cropped"]) if across else
             resolution._aspect_cause(view, 2.0, 3.0, ["cropped"]))
    x0, y0 = roi_named(cause.fix)
    assert (x0 if across else y0) == 120, cause.fix
    assert abs(named_k(cause.fix)[2 if across else 3] - 120.45) < 0.06, cause.fix


@pytest.mark.parametrize("across", [True, False], ids=["across", "down"])
def test_a_crop_then_a_scale_rounds_the_offset_up_past_a_half(across):
    """720x270's K with 240x180 images, a crop to 4:3 then x1/1.5: cx 360.6 puts the region at
    (cx + 0.5) (1 - 1.5 / 3) = 180.55 -> 181, not 180 (#278, ``cx + 0.5`` -> ``cx + 0.25``:
    180.43; mutation_cpu_2026-12-06zd's cx 360.3 rounds down either way); the same down (#253,
    ``cy + 0.5`` -> ``cy - 0.5``: 180.05)."""
    from mast3r_ros.core.map_check import resolution

    c, other = 360.6, (134.5 if across else 179.5)
    cx, cy = (c, other) if across else (other, c)
    view = view_with_k(240, 180, fx=400.0, fy=400.0, cx=cx, cy=cy)
    cause = (resolution._aspect_cause(view, 3.0, 1.5, ["cropped"]) if across else
             resolution._aspect_cause(view, 1.5, 3.0, ["cropped"]))
    x0, y0 = roi_named(cause.fix)
    assert (x0 if across else y0) == 181, cause.fix


def test_a_moved_principal_point_is_measured_with_fx_fy_as_given(monkeypatch):
    """320x240 images with 160x120's principal point (79.5, 59.5), fx, fy right: the K
    `_moved` measures has cx, cy x1/2 about pixel centres and fx, fy as given, the K its cause
    names (#173 ``(1.0, 1.0)`` -> ``(2.0, 1.0)``: fx halved)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=262.5, fy=250.0, cx=79.5, cy=59.5)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 0.5, 0.5)
    assert cause is not None and "fx, fy as given" in cause.what, cause
    K = measured[0]
    assert (K[0, 0], K[1, 1], K[0, 2], K[1, 2]) == (262.5, 250.0, 159.5, 119.5), K


def test_a_reduced_keyframes_crop_is_not_tried_as_a_moved_principal_point(monkeypatch):
    """A keyframe reduced to half its 640x480 camera (scale 0.5, K in working pixels, cx 200.0
    there: camera cx 400.5, 81 px right of the centre): a crop puts it there, so `_moved`
    measures nothing and says None even where the first K measured would agree (#105, the
    camera cx computed ``* s`` for ``/ s``: 99.75, left of the centre, measured as moved)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, scale=0.5, cx=200.0)
    assert resolution._moved([view], {(0, 1): None}, CFG, 1.25, 1.0) is None
    assert measured == []


def test_axes_10_per_cent_apart_try_another_aspect_ratio(monkeypatch):
    """A principal point x1.1 the centre's across and centred down (cx 175.5 on 320x240
    images: 176 / 160 is 1.1 exactly) is the axes apart by `_AXES_AGREE`: after the crop,
    another aspect ratio is tried (#22, ``>= log(_AXES_AGREE)`` -> ``>``: never tried)."""
    from mast3r_ros.core.map_check import resolution

    tried = object()
    monkeypatch.setattr(resolution, "_cropped", lambda *a: None)
    monkeypatch.setattr(resolution, "_other_aspect", lambda *a: tried)
    view = view_with_k(320, 240, cx=175.5, cy=119.5)
    assert resolution._whole_k_scaled([view], {(0, 1): None}, CFG) is tried


def test_a_whole_k_of_twice_the_size_is_measured_as_the_binning_it_names(monkeypatch):
    """640x480's K (cx 319.5, cy 239.5) with 320x240 images: r = 2, named as binning 2, so the
    K measured is image_geometry's c / 2 (159.75, 119.75), the K the cause names, not the one
    about pixel centres (159.5, 119.5: #225, ``r > 1`` -> ``r > 2`` for the binned try)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=525.0, fy=525.0, cx=319.5, cy=239.5)
    cause = resolution._whole_k_scaled([view], {(0, 1): None}, CFG)
    assert cause is not None and "binning_x: 2, binning_y: 2" in cause.fix, cause
    K = measured[0]
    assert (K[0, 0], K[1, 1], K[0, 2], K[1, 2]) == (262.5, 262.5, 159.75, 119.75), K
    assert "cx 159.8, cy 119.8 px" in cause.fix, cause.fix


def test_a_crop_without_a_scale_says_fx_fy_as_given():
    """427x240's K (cx 213.1) with 320x240 images, a crop to 4:3 and no scale (x1.33 across, x1
    down: binning 1): the K is cx, cy less the crop's offsets with fx, fy as given, not
    "divided by 1" (#196, ``n > 1`` -> ``n >= 1``)."""
    from mast3r_ros.core.map_check import resolution

    view = view_with_k(320, 240, fx=262.5, fy=262.5, cx=213.1, cy=119.5)
    cause = resolution._aspect_cause(view, 427 / 320, 1.0, ["cropped"])
    assert "cx, cy less the crop's offsets (54, 0), fx, fy as given (" in cause.what, cause.what
    assert "divided by 1" not in cause.what, cause.what


def test_a_principal_point_exactly_5_per_cent_left_is_a_crops_not_moved(monkeypatch):
    """cx 143.5 on 320x240 images: exactly 5 % of the width (16 px) left of the centre, where a
    crop's offsets (rounded, 0) can still put it (`_CROP_NEAR`), so `_moved` measures nothing
    and says None."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, cx=143.5, cy=119.5)
    assert resolution._moved([view], {(0, 1): None}, CFG, 0.9, 1.0) is None
    assert measured == []


def test_a_principal_point_a_tenth_of_a_pixel_past_5_per_cent_above_is_tried_as_moved(
        monkeypatch):
    """cy 107.4 on 320x240 images: 12.1 px above the centre, past 5 % of the height (12 px), so
    no crop puts it and `_moved` tries it (#107, cy ``- 0.5`` -> ``- 0.25``: 11.85 px above,
    called a crop's, None)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, cx=159.5, cy=107.4)
    cause = resolution._moved([view], {(0, 1): None}, CFG, 1.0, 0.9)
    assert cause is not None and len(measured) == 1, cause
