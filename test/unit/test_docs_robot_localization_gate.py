"""docs/ros_node.md's robot_localization snippet, judged as robot_localization would run it.

robot_localization (filter_base.cpp, ros_filter.cpp) initialises its filter from the first
measurement it gets, only in the variables that measurement fuses: wheel odometry (velocities),
seconds before the node's first pose, so the pose variables start at 0 with
``initial_estimate_covariance`` (default 1e-9 on the diagonal) and grow by
``process_noise_covariance`` times the elapsed seconds (defaults 0.05 for x and y, 0.06 for yaw).
A ``pose0_rejection_threshold`` (n sigmas; default: none) refuses a pose whose squared
Mahalanobis distance to the predicted state, under the state's covariance plus the pose's, is
at least n^2. The snippet once set 5.0: a robot started 10 m from the map origin then had every
pose refused for about 80 s (d^2 / 1.25 s), and one moved by /initialpose (which
robot_localization does not read) had the node's next poses refused in the same way.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ros_node.md"
X, Y, YAW = 0, 1, 5  # robot_localization's state indices of the fused pose variables


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split("### 4b. With robot_localization", 1)[1].split("\n## ", 1)[0]


def _ekf() -> dict:
    block = _section().split("```yaml", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)["ekf_filter_node_map"]["ros__parameters"]


def _diag(params: dict, name: str, default: np.ndarray) -> np.ndarray:
    """The 15x15 matrix parameter ``name`` (225 numbers, row-major) of the snippet, or
    robot_localization's default."""
    if name not in params:
        return default
    return np.asarray(params[name], dtype=np.float64).reshape(15, 15)


def _accepted(params: dict, state, P, pose, pose_sigma, seconds: float) -> bool:
    """Whether robot_localization's Mahalanobis gate lets ``pose`` (x, y, yaw) through after
    predicting ``state`` (x, y, yaw) with covariance ``P`` (15x15) ``seconds`` ahead with the
    robot standing still (a pose's innovation against the predicted state)."""
    q = _diag(params, "process_noise_covariance",
              np.diag([0.05, 0.05, 0.06, 0.03, 0.03, 0.06] + [0.025] * 3 + [0.01, 0.01, 0.02]
                      + [0.01, 0.01, 0.015]))
    Pp = P + q * seconds
    idx = [X, Y, YAW]
    S = Pp[np.ix_(idx, idx)] + np.diag(np.square(pose_sigma))
    d = np.asarray(pose, float) - np.asarray(state, float)
    d[2] = math.atan2(math.sin(d[2]), math.cos(d[2]))
    n = float(params.get("pose0_rejection_threshold", math.inf))
    return float(d @ np.linalg.solve(S, d)) < n * n


SIGMA = (0.01, 0.01, math.radians(1.0))  # a tracked pose's covariance: cm, a degree


@pytest.mark.parametrize("distance_m", [10.0, 30.0])
def test_the_first_pose_of_a_robot_started_away_from_the_map_origin_is_fused(distance_m):
    """The filter started from wheel odometry at the origin; the node's first pose comes 5 s
    later (a model loading, a confirmation), d metres away and turned 90 deg."""
    ekf = _ekf()
    P0 = _diag(ekf, "initial_estimate_covariance", np.eye(15) * 1e-9)
    assert _accepted(ekf, (0.0, 0.0, 0.0), P0, (distance_m, 0.0, math.pi / 2), SIGMA, 5.0)


def test_a_pose_after_the_robot_was_moved_is_fused():
    """The filter tracks the node's poses (its covariance that of the poses); the robot is
    carried 3 m and set with /initialpose, which robot_localization does not read: the node's
    next pose, 1 s later, must still reach the filter."""
    ekf = _ekf()
    P = np.eye(15) * 1e-9
    P[X, X], P[Y, Y], P[YAW, YAW] = (s * s for s in SIGMA)
    assert _accepted(ekf, (4.0, 2.0, 0.0), P, (7.0, 2.0, 0.0), SIGMA, 1.0)


def test_the_pose_is_fused_as_an_absolute_pose_and_the_section_says_why():
    """Differential mode fuses the change between poses as a velocity (the map no longer
    corrects the drift); relative mode makes the first pose the origin. Both off, and the text
    says what to do if a gate is wanted (initial_estimate_covariance, set_pose) and what the
    covariance is worth (its overconfident tail, covariance.model_selection_draws)."""
    ekf = _ekf()
    assert ekf.get("pose0_differential", False) is False
    assert ekf.get("pose0_relative", False) is False
    words = " ".join(_section().split())
    for needle in ("pose0_relative", "initial_estimate_covariance", "set_pose",
                   "covariance.model_selection_draws", "d²/1.25"):
        assert needle in words, needle
