"""What the run-level gates share (no rclpy): take each frame's fit, judge a success.

The focal, principal point and distortion run gates (`focal_run_gate`, `principal_point_run_gate`,
`distortion_run_gate`) each keep the run's evidence on one property of the query camera as the
localizer's frames come and refuse a pose that passed every other gate while that evidence says
the camera is wrong. `RunGate._judged` is their common skeleton (a result with a fit has it
taken, passed or failed; only a success is judged) and `refused` the failure they return; each
gate keeps only its own evidence, its verdict and its reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from ..camera_key import camera_key
from ..types import CameraIntrinsics, LocalizationResult


def refused(result: LocalizationResult, reason: str) -> LocalizationResult:
    """``result`` as a failure for ``reason``: no pose, no covariance, no position sigma."""
    return dataclasses.replace(result, success=False, reason=reason, map_from_cam=None,
                               covariance=None, position_sigma_m=None)


class RunGate:
    """A run-level gate over ``_evidence`` (a `run_evidence.RunFits` with ``add(fit)`` and
    ``evidence()``). Not thread-safe (the localizer locks)."""

    _evidence: Any

    def _take(self, fit: Any) -> None:
        """Take one frame's `FocalFit` into the evidence (a gate may do more)."""
        self._evidence.add(fit)

    def _judged(self, result: LocalizationResult, enabled: bool,
                camera: Optional[CameraIntrinsics] = None) -> Optional[Any]:
        """The evidence so far (``result``'s fit taken) where ``result`` is to be judged; None
        where it is not: no fit (no points from depth) or the gate off (``enabled`` False;
        nothing taken), or a failure (its fit taken all the same). A fit without its camera
        key (`FocalFit.camera`) is taken as ``camera``'s (the frame's) where given; without
        either, `run_evidence.RunFits` keeps it apart from a known camera's fits."""
        fit = result.focal_fit
        if fit is None or not enabled:
            return None
        if fit.camera is None and camera is not None:
            fit = dataclasses.replace(fit, camera=camera_key(camera))
        self._take(fit)
        if not result.success:
            return None
        return self._evidence.evidence()
