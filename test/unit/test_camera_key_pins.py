"""Pins of `core.camera_key.same_camera`'s edges that the run-level tests leave open (mutation
audit 2026-12-09g): a change of K alone, of the size or model alone, a shorter D on either
side, D longer than K (12 and 14 coefficients) and the tolerances' two edges (as literals,
SAME_REL 1e-4 and COEFFICIENT_ABS 1e-6, so a changed constant fails here)."""

from __future__ import annotations

import pytest

from mast3r_ros.core.camera_key import key_of_values, same_camera

K = [585.0, 0.0, 319.5, 0.0, 585.0, 239.5, 0.0, 0.0, 1.0]
D5 = [-0.25, 0.10, 0.0, 0.0, 0.0]


def _key(K=K, D=D5, model="plumb_bob", w=640, h=480):
    return key_of_values(w, h, K, D, model)


def _both(a, b):
    """same_camera in both orders (it must be symmetric), as one value."""
    ab, ba = same_camera(a, b), same_camera(b, a)
    assert ab is ba and isinstance(ab, bool)
    return ab


@pytest.mark.parametrize("i, dv", [(0, 1.0), (2, -2.0), (4, 0.5), (5, 3.0)])
def test_a_change_of_k_alone_is_a_new_camera(i, dv):
    k = list(K)
    k[i] += dv
    assert _both(_key(), _key(K=k)) is False


@pytest.mark.parametrize("other", [dict(w=320), dict(h=240), dict(model="equidistant")])
def test_a_change_of_size_or_model_alone_is_a_new_camera(other):
    assert _both(_key(D=D5[:4]), _key(D=D5[:4], **other)) is False


def test_a_shorter_d_on_either_side_is_padded_with_zeros():
    assert _both(_key(D=D5[:4]), _key(D=D5)) is True
    k3 = D5[:4] + [0.05]
    assert _both(_key(D=D5[:4]), _key(D=k3)) is False


def test_coefficients_past_nine_are_compared():
    d12 = D5 + [0.0] * 7
    d14 = d12 + [0.0, 0.02]  # tauX, tauY of OpenCV's 14-coefficient model
    assert _both(_key(D=d12, model="x"), _key(D=d14, model="x")) is False
    assert _both(_key(D=d12, model="x"), _key(D=d12[:8], model="x")) is True


def test_k_within_same_rel_of_fx_is_one_camera_and_past_it_a_new_one():
    step = 1e-4 * K[0]  # SAME_REL of fx: 0.0585 px (the docstring's 0.06 px at fx 585)
    for i in (0, 2, 5):
        near, far = list(K), list(K)
        near[i] += 0.7 * step
        far[i] += 1.4 * step
        assert _both(_key(), _key(K=near)) is True
        assert _both(_key(), _key(K=far)) is False


def test_coefficients_within_same_rel_or_coefficient_abs_are_one_camera():
    near, far = list(D5), list(D5)
    near[0] *= 1 + 0.7 * 1e-4
    far[0] *= 1 + 1.4 * 1e-4
    assert _both(_key(), _key(D=near)) is True
    assert _both(_key(), _key(D=far)) is False
    near, far = list(D5), list(D5)
    near[2] = 0.7 * 1e-6
    far[2] = 1.4 * 1e-6
    assert _both(_key(), _key(D=near)) is True
    assert _both(_key(), _key(D=far)) is False
