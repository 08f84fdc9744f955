"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: the map check tries a crop
of a larger frame from 5 % of the image size off centre (`resolution._MIN_CROP_OFF`, 0.1 of the
half size): 5.5 % off is tried (`_cropped`), as test_map_check_crop's 4.5 % is not."""

from __future__ import annotations

import dataclasses

import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.replay.synthetic import default_intrinsics


@pytest.mark.parametrize("dx", [-0.055, 0.055])
def test_a_principal_point_past_5_per_cent_off_centre_is_tried_as_a_crop(monkeypatch, dx):
    from mast3r_ros.core.map_check import resolution

    tried = object()
    monkeypatch.setattr(resolution, "_cropped", lambda *a, **k: tried)
    cam = default_intrinsics(240, 180)
    K = cam.K.copy()
    K[0, 2] += dx * 240
    view = type("V", (), {})()
    view.cam = dataclasses.replace(cam, K=K)
    view.scale, view.width_px = 1.0, 240
    assert resolution._whole_k_scaled([view], {(0, 1): None}, Config().map_check) is tried
