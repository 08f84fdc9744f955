"""Pins from the mutation audit docs/bench/mutation_cpu_2026-12-06zd (the three resolution.py
survivors 06w left untriaged): the K the map check measures is the K its cause names, and a
crop's region is the whole-pixel offset nearest the principal point's."""

from __future__ import annotations

import re

import pytest

from mast3r_ros.core.config import Config
from test_map_check_crop import view_with_k

CFG = Config().map_check


def measuring_first_only(monkeypatch, resolution):
    """Each try's K (the view's, changed) recorded; only the first measured makes every pair
    agree."""
    measured = []
    monkeypatch.setattr(resolution, "_with_k",
                        lambda views, change: change(views[0].cam.K.copy(), views[0].scale))
    monkeypatch.setattr(resolution, "_measure", lambda K, *a, **k: measured.append(K) or [])
    monkeypatch.setattr(resolution, "_all_agree", lambda figures: len(measured) == 1)
    return measured


def named_k(text):
    m = re.search(r"fx ([\d.]+), fy ([\d.]+), cx ([\d.]+), cy ([\d.]+) px", text)
    assert m, text
    return tuple(float(x) for x in m.groups())


def test_a_whole_k_of_a_smaller_frame_is_measured_about_pixel_centres(monkeypatch):
    """160x120's K (cx 79.5, cy 59.5) with 320x240 images: r = 1/2, the K multiplied by 2
    about pixel centres (cx 159.5, cy 119.5), the K the cause names; no binning says a K of a
    smaller frame, so c / r (159, 119: #202, ``r > 1`` -> ``r > 0``) is not what is measured."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=131.25, fy=131.25, cx=79.5, cy=59.5)
    cause = resolution._whole_k_scaled([view], {(0, 1): None}, CFG)
    assert cause is not None and "multiply fx, fy, cx, cy by 2" in cause.fix, cause
    K = measured[0]
    assert named_k(cause.fix) == (262.5, 262.5, 159.5, 119.5), cause.fix
    assert (K[0, 0], K[1, 1], K[0, 2], K[1, 2]) == (262.5, 262.5, 159.5, 119.5)


def test_a_k_scaled_per_axis_is_measured_as_the_scaled_k_it_names(monkeypatch):
    """640x720's K with 320x240 images (x2 across, x3 down, both whole): the first K measured
    is the per-axis binned one (fx, cx / 2; fy, cy / 3), and when it fits the cause names that
    K; the crop's (roi, then binning by the smaller ratio: fx, fy / 2) is the second (#206,
    ``kind == "cropped"`` -> ``!=``, measured the crop's K for the scaled try)."""
    from mast3r_ros.core.map_check import resolution

    measured = measuring_first_only(monkeypatch, resolution)
    view = view_with_k(320, 240, fx=500.0, fy=600.0, cx=320.0, cy=360.0)
    cause = resolution._other_aspect([view], {(0, 1): None}, CFG, 2.0, 3.0)
    assert cause is not None and "scaled non-uniformly" in cause.fix, cause
    K = measured[0]
    assert named_k(cause.what) == (250.0, 200.0, 160.0, 120.0), cause.what
    assert (K[0, 0], K[1, 1], K[0, 2], K[1, 2]) == (250.0, 200.0, 160.0, 120.0)


@pytest.mark.parametrize("across", [True, False], ids=["across", "down"])
def test_a_crop_then_a_scale_names_the_region_nearest_the_principal_points(across):
    """720x270's K with 240x180 images, a crop to 4:3 then x1/1.5 (no whole binning): the
    region is at the whole-pixel offset nearest the one that, scaled, puts the principal point
    where the named K has it, (cx + 0.5) (1 - 1.5 / 3) = 180.4 -> 180 (#250, ``cx + 0.5`` ->
    ``cx + 1.0``, named 181); the same down for 360x540's K (cy 360.3: y_offset 180)."""
    from mast3r_ros.core.map_check import resolution

    c, other = 360.3, (134.5 if across else 179.5)
    cx, cy = (c, other) if across else (other, c)
    view = view_with_k(240, 180, fx=400.0, fy=400.0, cx=cx, cy=cy)
    cause = (resolution._aspect_cause(view, 3.0, 1.5, ["cropped"]) if across else
             resolution._aspect_cause(view, 1.5, 3.0, ["cropped"]))
    frame = "720x270" if across else "360x540"
    m = re.search(rf"the (\d+)x(\d+) region at \((\d+), (\d+)\) of the {frame} frame",
                  cause.fix)
    assert m, cause.fix
    x0, y0 = int(m.group(3)), int(m.group(4))
    offset = x0 if across else y0
    named = named_k(cause.fix)[2 if across else 3]
    assert abs((c + 0.5 - offset) / 1.5 - 0.5 - named) <= 0.5 / 1.5, (offset, named)
    roi = "x_offset 180, y_offset 0" if across else "x_offset 0, y_offset 180"
    assert f"roi {roi}" in cause.fix, cause.fix
