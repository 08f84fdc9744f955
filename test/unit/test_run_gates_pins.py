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
