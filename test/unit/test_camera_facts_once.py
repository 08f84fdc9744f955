"""Per-frame work done once per camera or configuration, not every frame.

Before: `distortion_camera` (the distortion evidence's fx, k1, corner radius of a camera) ran 4
times a frame for the same camera (the distortion run gate's wants_fit and judge, the focal
gate's distortion fit, the node's /diagnostics), and solve_pnp ran `validate_param` on its two
configuration values on every call. After: once per calibration (cached by the camera's
values: a new `CameraIntrinsics` of the same values, as the node makes per CameraInfo, hits
it) and once per configuration value; a changed camera or value is computed again."""

from __future__ import annotations

import numpy as np
import pytest

import mast3r_ros.core.distortion_evidence as de
import mast3r_ros.core.pnp.solve as solve
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.localizer.distortion_run_gate import RunDistortionGate
from mast3r_ros.core.localizer.query_checks import focal_gate
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult
from mast3r_ros.ros.diagnostics import DiagnosticsWindow, FrameRecord

K = [585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1]
D = [-0.25, 0.1, 0.0, 0.0, 0.0]
RNG = np.random.default_rng(0)
X = np.c_[RNG.uniform(-1, 1, (120, 2)), RNG.uniform(2, 4, 120)]
XU = X[:, :2] / X[:, 2:] * 585.0 + [319.5, 239.5] + RNG.normal(0, 0.3, (120, 2))


def _counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_the_distortion_camera_is_computed_once_per_camera(monkeypatch):
    monkeypatch.setattr(de, "_CAMERAS", {}, raising=False)
    calls = _counting(monkeypatch, de, "distortion_camera")
    gate, window = RunDistortionGate(), DiagnosticsWindow()

    def frame(i, cam):  # what the localizer and the node do with each frame's camera
        want = gate.wants_fit(cam)
        _, fit = focal_gate(0.05, cam, np.eye(4), X, XU, np.ones(len(X), bool), 3.0,
                            fit_distortion=want)
        r = gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=fit), True, cam)
        window.add(FrameRecord(t_s=0.1 * i, success=True, focal_fit=r.focal_fit, camera=cam))
        return fit

    for i in range(3):  # a new object per frame, as the node reads each CameraInfo
        fit = frame(i, CameraIntrinsics(640, 480, K, D, "plumb_bob"))
    assert len(calls) == 1 and fit.distortion is not None
    frame(3, CameraIntrinsics(640, 480, K, [-0.25, 0.1, 0.01, 0.0, 0.0], "plumb_bob"))
    assert len(calls) == 2  # another camera (p1): computed again, once


def test_solve_pnp_checks_its_configuration_once(monkeypatch):
    monkeypatch.setattr(solve, "_VALID", set(), raising=False)
    calls = _counting(monkeypatch, solve, "validate_param")
    cam = CameraIntrinsics(640, 480, K)
    x = X[:, :2] / X[:, 2:] * 585.0 + [319.5, 239.5]
    for _ in range(3):
        assert solve.solve_pnp(X, x, cam, backend="opencv", refine=False).success
    assert len(calls) == 2  # ransac_max_points and model_selection_draws, once each
    solve.solve_pnp(X, x, cam, backend="opencv", refine=False, ransac_max_points=500)
    assert len(calls) == 3
    for _ in range(2):  # a refused value is refused every time
        with pytest.raises(ConfigError, match="ransac_max_points"):
            solve.solve_pnp(X, x, cam, backend="opencv", ransac_max_points=True)
    assert len(calls) == 5
