"""Pins of `core.distortion_evidence`'s contract that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested: the warning's figures, the rectified
band's edges, a D with k1 zero but other terms, the map's wording, `clear`, and the
tolerance at the principal point."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from mast3r_ros.core.distortion_evidence import (DistortionFit, RunDistortionEvidence,
                                                 combine_distortions, distortion_fit,
                                                 distortion_warning, tolerance_k1)
from test_distortion_evidence import _fits


def _acc(k1, given=0.0, subject="query", n=20):
    acc = RunDistortionEvidence(subject=subject)
    for f in _fits(k1, given, n=n):
        acc.add(f)
    return acc


def test_the_warning_gives_the_fitted_k1_the_corner_shift_and_the_band():
    w = _acc(-0.26).warning()
    # 0.26 * 0.6838^3 * 585 px = 48.6 px at the corner
    assert ("over 20 frames the inliers fit a residual radial distortion k1 -0.260 +-0.022 "
            "beyond the camera's D (moving the image corners by about 49 px; more than 0.040, "
            "0.5 deg of view at the corner, at 4 sigma)") in w


@pytest.mark.parametrize("k1,given,diagnosis", [
    (0.45, -0.3, "rectified"),    # -k1 / given 1.5: within (0.4, 1.6)
    (0.6, -0.3, "mismatch"),      # 2.0
    (0.45, -1.0, "rectified"),    # 0.45
    (0.35, -1.0, "mismatch"),     # 0.35
])
def test_rectified_means_a_k1_between_0_4_and_1_6_times_minus_the_cameras(k1, given, diagnosis):
    assert _acc(k1, given).report()["diagnosis"] == diagnosis


def test_a_d_whose_k1_is_zero_but_not_its_other_terms_is_a_mismatch():
    acc = RunDistortionEvidence()
    for f in _fits(0.3, 0.0):
        acc.add(dataclasses.replace(f, distortion=dataclasses.replace(f.distortion,
                                                                      given_zero=False)))
    assert acc.report()["diagnosis"] == "mismatch"
    assert "does not match the camera's D" in acc.warning()


def test_the_warning_defaults_to_a_run_that_localized():
    acc = _acc(-0.26)
    ev = acc.evidence()
    fx, given, zero, r = acc.camera
    w = distortion_warning(ev, given, zero, fx, r)
    assert w.endswith("so a map built from the same images with the same D hides part of it")
    assert distortion_warning(ev, given, zero, fx, r, localized=False).endswith(
        "; no pose was localized (none published)")


def test_a_maps_warning_names_keyframe_pairs_and_building_the_map_again():
    w = _acc(-0.26, subject="map").warning()
    assert w.startswith("the map's images look distorted (barrel)")
    assert "over 20 keyframe pairs the matches fit" in w
    assert w.endswith("correct the camera, build the map again, and give its queries the same "
                      "camera")


def test_clear_forgets_the_camera_too():
    acc = _acc(-0.26)
    acc.clear()
    assert len(acc) == 0 and acc.warning() == "" and acc.report()["fx_px"] is None
    acc.add(_fits(-0.26, given_k1=-0.1, n=1)[0])     # another camera after clear: no restart
    assert acc.frames_restarted == 0 and acc.camera[1] == -0.1


def test_a_distortion_fit_is_immutable():
    d = _fits(0.0, n=1)[0].distortion
    assert isinstance(d, DistortionFit)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.k1 = 1.0


def test_no_tolerance_at_the_principal_point():
    assert tolerance_k1(0.0) == math.inf


def test_no_warning_before_any_fit():
    assert RunDistortionEvidence().warning() == ""


def test_a_frame_with_a_zero_sigma_is_not_judged_though_sigmas_are_floored():
    """The floor is added to observable sigmas only: a zero sigma stays unobservable."""
    ev = combine_distortions([0.1, 0.2, 0.3], [0.0, 0.01, 0.01], 0.04)
    assert ev.k1.frames_judged == 2


def test_the_given_k1_is_ds_first_term_and_the_corner_the_farthest_pixel_centre():
    K = np.array([[500.0, 0, 100], [0, 400, 100], [0, 0, 1]])
    d = distortion_fit((0.1, 0.01, 100), K, 640, 480, "plumb_bob", [-0.3, 0.1, 0, 0, 0])
    assert d.given_k1 == -0.3 and not d.given_zero
    assert d.corner_r == pytest.approx(math.hypot(539 / 500, 379 / 400), rel=1e-12)


def test_a_fit_keeps_its_k1_sigma_and_the_cameras_fx():
    K = np.array([[500.0, 0, 319.5], [0, 500, 239.5], [0, 0, 1]])
    d = distortion_fit((0.1, 0.01, 100), K, 640, 480, "plumb_bob", np.zeros(5))
    assert (d.k1, d.sigma_k1, d.given_k1, d.given_zero, d.fx_px) == (0.1, 0.01, 0.0, True, 500.0)


@pytest.mark.parametrize("change", [{"given_k1": math.nan}, {"corner_r": 0.7}])
def test_another_given_k1_or_corner_radius_starts_the_evidence_over(change):
    """A camera whose D has no k1 (NaN: not plumb_bob) after one whose D has one, or another
    image size (corner radius), is another calibration."""
    acc = RunDistortionEvidence()
    first = _fits(-0.26, given_k1=-0.1, n=3)
    for f in first:
        acc.add(f)
    acc.add(dataclasses.replace(first[0], distortion=dataclasses.replace(first[0].distortion,
                                                                         **change)))
    assert len(acc) == 1 and acc.frames_restarted == 3
