"""Pins of the run gates' contract (`localizer.distortion_run_gate`,
`localizer.principal_point_run_gate`) that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested."""

from __future__ import annotations

from mast3r_ros.core.localizer.distortion_run_gate import RunDistortionGate
from test_distortion_evidence import _fits, _result


def test_a_failed_frame_keeps_its_own_reason_while_the_distortion_verdict_is_off():
    gate = RunDistortionGate()
    for f in _fits(-0.25):
        gate.judge(_result(True, f))
    failed = gate.judge(_result(False, _fits(-0.25, n=1)[0]))
    assert not failed.success and failed.reason == "x"


def _cam(fx: float, cx: float, cy: float, w: int = 640, h: int = 480):
    from mast3r_ros.core.types import CameraIntrinsics
    return CameraIntrinsics(w, h, [[fx, 0, cx], [0, fx, cy], [0, 0, 1]])


def test_a_principal_point_exactly_20_per_cent_off_is_not_suspect():
    from mast3r_ros.core.localizer.principal_point_run_gate import suspect_principal_point
    assert 192 / 640 - 0.5 == -0.2                         # exactly, in floating point
    assert suspect_principal_point(_cam(585.0, 192.0, 240.0)) == ""
    assert suspect_principal_point(_cam(585.0, 191.0, 240.0)) != ""


def test_a_k_for_another_resolution_is_named_only_when_one_factor_centres_both_axes():
    from mast3r_ros.core.localizer.principal_point_run_gate import suspect_principal_point
    cy_only = suspect_principal_point(_cam(585.0, 320.0, 100.0))   # x1 and x0.42
    assert cy_only.startswith("cx 320.0, cy 100.0 px lie 0 % and 29 %")
    assert "a K made for" not in cy_only


def test_a_principal_point_at_the_origin_is_suspect_without_a_resolution_guess():
    """cx = cy = 0 (a K whose principal point was never filled in): suspect, and no factor
    of K centres it (no division by its zero coordinates)."""
    from mast3r_ros.core.localizer.principal_point_run_gate import suspect_principal_point
    where = suspect_principal_point(_cam(585.0, 0.0, 0.0))
    assert where.startswith("cx 0.0, cy 0.0 px lie 50 % and 50 %")
    assert "a K made for" not in where


def test_a_k_for_half_the_resolution_is_named():
    from mast3r_ros.core.localizer.principal_point_run_gate import suspect_principal_point
    assert suspect_principal_point(_cam(292.5, 160.0, 120.0)).endswith(
        " (a K made for 320x240 images?)")


def test_axes_7_per_cent_apart_are_no_resolution_of_one_factor():
    """cx 600, cy 420 on 640x480: factors 1.875 and 1.75, 7 % apart (more than 5 %)."""
    from mast3r_ros.core.localizer.principal_point_run_gate import suspect_principal_point
    where = suspect_principal_point(_cam(585.0, 600.0, 420.0))
    assert where != "" and "a K made for" not in where


def test_axes_4_6_per_cent_apart_are_still_named_one_resolution():
    """cx 600, cy 430 on 640x480: factors 1.875 and 1.79, within 5 %."""
    from mast3r_ros.core.localizer.principal_point_run_gate import suspect_principal_point
    assert suspect_principal_point(_cam(585.0, 600.0, 430.0)).endswith(
        " (a K made for 1200x860 images?)")
