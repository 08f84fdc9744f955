"""Pins of `core.map_check.distortion`'s contract that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested: the camera pixels a keyframe pair's fit
is judged in, and which pairs are fitted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mast3r_ros.core.map_check import distortion
from mast3r_ros.core.map_check.distortion import _camera_px
from test_map_check_distortion import K, _pairs


def test_a_working_resolution_k_is_judged_in_camera_pixels():
    """A view at half the camera's resolution (320x240 working, 640x480 camera): fx, fy
    doubled, the principal point mapped by pixel centres (x' = (x + 0.5) / s - 0.5)."""
    views, _ = _pairs(0.0, np.zeros(5), n_views=2)
    v = dataclasses.replace(views[0], scale=0.5, width_px=640)
    Kc, w, h = _camera_px(v)
    assert (w, h) == (640, 480)
    np.testing.assert_allclose(Kc, [[585.0, 0, 319.5], [0, 585.0, 239.5], [0, 0, 1]])
    assert v.cam.K[0, 0] == K[0, 0]                      # the view's own K is left alone


def test_only_pairs_of_one_camera_are_fitted_and_at_most_max_pairs(monkeypatch):
    """A pair whose two keyframes have different cameras (another K) is left out; of more
    than `MAX_PAIRS` pairs, that many are fitted, spread over the map."""
    views, matches = _pairs(0.0, np.zeros(5), n_views=3)
    fitted = []

    def stand_in(va, vb, m):
        fitted.append((va.label, vb.label))
        return (0.0, 0.01, 100)

    monkeypatch.setattr(distortion, "pair_distortion", stand_in)
    cam = views[2].cam
    views[2] = dataclasses.replace(views[2], cam=dataclasses.replace(
        cam, K=cam.K * [[1.1], [1.1], [1]]))
    ev = distortion.map_distortion(views, matches)
    assert fitted == [("0", "1")] and len(ev) == 1

    fitted.clear()
    monkeypatch.setattr(distortion, "with_baseline", lambda views, keys: keys)
    many = {(i, i + 1): matches[(0, 1)] for i in range(distortion.MAX_PAIRS + 50)}
    views = [dataclasses.replace(views[0], label=str(i))
             for i in range(distortion.MAX_PAIRS + 51)]
    ev = distortion.map_distortion(views, many)
    assert len(fitted) == len(ev) == distortion.MAX_PAIRS == 200
    assert fitted[0] == ("0", "1") and fitted[-1] == ("249", "250")



def test_a_match_without_depth_or_at_zero_depth_is_left_out_of_its_pair():
    views, matches = _pairs(-0.3, np.zeros(5), n_views=2)
    m = matches[(0, 1)]
    da = m.da.copy()
    da[0], da[1] = 0.0, np.nan
    fit = distortion.pair_distortion(views[0], views[1], dataclasses.replace(m, da=da))
    assert fit is not None and fit[0] == pytest.approx(-0.3, abs=max(4 * fit[1], 0.02))
    assert fit[2] == len(da) - 2
