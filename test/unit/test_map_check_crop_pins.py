"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: the map check tries a crop
of a larger frame from 5 % of the image size off centre (`resolution._MIN_CROP_OFF`, 0.1 of the
half size): 5.5 % off is tried (`_cropped`), as test_map_check_crop's 4.5 % is not."""

from __future__ import annotations


import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.replay.synthetic import default_intrinsics
from test_map_check_crop import view_with_k


@pytest.mark.parametrize("dx", [-0.055, 0.055])
def test_a_principal_point_past_5_per_cent_off_centre_is_tried_as_a_crop(monkeypatch, dx):
    from mast3r_ros.core.map_check import resolution

    tried = object()
    monkeypatch.setattr(resolution, "_cropped", lambda *a, **k: tried)
    view = view_with_k(240, 180, cx=default_intrinsics(240, 180).K[0, 2] + dx * 240)
    assert resolution._whole_k_scaled([view], {(0, 1): None}, Config().map_check) is tried


@pytest.mark.parametrize("cx, cy", [(107.0, 89.5), (119.5, 80.0)], ids=["left", "above"])
def test_a_principal_point_just_past_left_or_above_is_tried_as_moved(monkeypatch, cx, cy):
    """`_moved` tries a principal point of another calibration only where no crop puts it:
    more than 5 % of the size left of or above the centre (`_CROP_NEAR`), in camera pixels
    about pixel centres. Here 12.5 px left of (or 9.5 px above) the centre of 240x180: just
    past 5 %, so no crop and the moved K is measured (half a pixel nearer it is a crop)."""
    from mast3r_ros.core.map_check import resolution

    moved = object()
    monkeypatch.setattr(resolution, "_k_divided", lambda *a, **k: "divided")
    monkeypatch.setattr(resolution, "_measure", lambda *a, **k: [])
    monkeypatch.setattr(resolution, "_all_agree", lambda results: True)
    monkeypatch.setattr(resolution, "_moved_cause", lambda *a, **k: moved)
    view = view_with_k(240, 180, cx=cx, cy=cy)
    rx, ry = (cx + 0.5) / 120, (cy + 0.5) / 90
    assert resolution._moved([view], {}, Config().map_check, rx, ry) is moved
    view = view_with_k(240, 180, cx=cx + 0.5 * (cx < 119.5), cy=cy + 0.5 * (cy < 89.5))
    assert resolution._moved([view], {}, Config().map_check, rx, ry) is None


def test_the_moved_cause_says_fx_fy_cx_cy_in_camera_pixels_of_scaled_views():
    """Keyframes measured at a work resolution (``scale`` work pixels per camera pixel, 0.5
    here) have K in work pixels; the cause names fx, fy and the principal point in the
    camera's pixels (x 1 / scale; cx, cy about pixel centres)."""
    from mast3r_ros.core.map_check import resolution

    view = view_with_k(120, 90, scale=0.5, fx=100.0, fy=110.0, cx=39.75, cy=29.75)
    cause = resolution._moved_cause(view, 0.8, 0.8)
    assert "while fx 200, fy 220 px" in cause.what, cause.what
    assert "principal point (80, 60)" in cause.what, cause.what


def test_a_crop_then_binning_gives_the_k_image_geometry_gives(monkeypatch):
    """`_roi_binned`'s K is image_geometry's for a roi and binning: c' = (c - offset) / n in
    the camera's pixels (the view's scale 1 here), fx, fy / n. 320x240's K with cx, cy 159.5,
    119.5 binned by 2 with no offset (the crop's ratio equal to the binning): 79.75, 59.75."""
    from mast3r_ros.core.map_check import resolution

    monkeypatch.setattr(resolution, "_with_k", lambda views, change: change(views[0], 1.0))
    K = default_intrinsics(320, 240).K.copy()
    K[0, 0], K[1, 1], K[0, 2], K[1, 2] = 300.0, 310.0, 159.5, 119.5
    out = resolution._roi_binned([K], 2.0, 2.0, 2)
    assert (out[0, 0], out[1, 1], out[0, 2], out[1, 2]) == (150.0, 155.0, 79.75, 59.75)


def test_a_binned_k_divides_cx_cy_in_camera_pixels_of_scaled_views(monkeypatch):
    """`_k_divided(binned=True)`: c' = c / r in the camera's pixels (image_geometry's binning),
    for a view measured at half scale: work cx 79.75 is camera 160; binned by 2, 80; work
    39.75. Not binned, about pixel centres: (79.75 + 0.5) / 2 - 0.5 = 39.625."""
    from mast3r_ros.core.map_check import resolution

    monkeypatch.setattr(resolution, "_with_k", lambda views, change: change(views[0], 0.5))
    K = default_intrinsics(320, 240).K.copy()
    K[0, 2], K[1, 2] = 79.75, 59.75
    binned = resolution._k_divided([K.copy()], 2.0, binned=True)
    assert (binned[0, 2], binned[1, 2]) == (39.75, 29.75)
    centred = resolution._k_divided([K.copy()], 2.0)
    assert (centred[0, 2], centred[1, 2]) == (39.625, 29.625)


def test_a_whole_k_of_a_frame_1_5_times_larger_says_divide_about_pixel_centres():
    """`_cause` for r 1.5 (not a whole binning): 'divide ... by 1.5' and the pixel-centre rule
    '(c + 0.5) / 1.5 - 0.5', not 'x 1.5' (that is for a K of a smaller frame, r < 1)."""
    from mast3r_ros.core.map_check import resolution

    view = view_with_k(240, 180, fx=300.0, fy=300.0, cx=179.75, cy=134.75)
    cause = resolution._cause(view, 1.5, False)
    assert "divide fx, fy, cx, cy by 1.5" in cause.fix, cause.fix
    assert "(c + 0.5) / 1.5 - 0.5" in cause.fix, cause.fix
