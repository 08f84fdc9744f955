"""How far a pose may be from what odometry predicts (no rclpy).

The node publishes a pose only when it agrees with the last published pose carried forward by
odometry: ``predicted map_from_base = map_from_odom(last) @ odom_from_base(now)``. The tolerance
grows with what odometry may have got wrong since then:

    translation_tol = odom_gate_translation_m + odom_gate_drift * distance_m
                      + odom_gate_translation_m_per_s * elapsed_s
    rotation_tol    = odom_gate_rotation_deg + odom_gate_drift * turned_deg
                      + odom_gate_rotation_deg_per_s * elapsed_s

Why these defaults (`mast3r_ros.core.config.TrackingConfig`):

* 0.10 m / 3 deg: two localizations (the last published one and this one) each good to a few
  centimetres and well under a degree (docs/ros_node.md), with room to spare; the
  failure the gate exists for (issue 10: a stale-keyframe pose 45-55 cm off with plausible
  inlier statistics) stays far outside.
* drift 0.05: wheel odometry drifts 1-5 % of the distance (and of the angle) travelled.
* 0.05 m/s, 1 deg/s: odometry errors that do not scale with distance (slip, a camera/odometry
  stamp offset of 50 ms at 1 m/s) over the time since the last published pose.
* Once the tolerance exceeds ``odom_gate_max_translation_m`` (0.30 m) or
  ``odom_gate_max_rotation_deg`` (10 deg) the prediction no longer separates a right pose from a
  wrong one; odometry then no longer vouches, and a pose needs ``confirm_frames``.
"""

from __future__ import annotations

from typing import Tuple

import dataclasses

import numpy as np

from mast3r_ros.core.config import TrackingConfig
from mast3r_ros.core.geometry import invert_pose, pose_error


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Allowed difference between a pose and its odometry prediction (metres, degrees)."""

    translation_m: float
    rotation_deg: float

    def admits(self, translation_m: float, rotation_deg: float) -> bool:
        return translation_m <= self.translation_m and rotation_deg <= self.rotation_deg

    def text(self) -> str:
        return f"{self.translation_m:.2f} m / {self.rotation_deg:.1f} deg"


def odometry_motion(odom_from_base_then: np.ndarray, odom_from_base_now: np.ndarray
                    ) -> Tuple[float, float]:
    """(distance m, turned deg) of the base between two odometry poses (4x4 float64)."""
    return pose_error(odom_from_base_then, odom_from_base_now)


def tolerance(cfg: TrackingConfig, distance_m: float, turned_deg: float,
              elapsed_s: float) -> Tolerance:
    """The gate's tolerance after ``distance_m`` / ``turned_deg`` of odometry motion and
    ``elapsed_s`` seconds (negative elapsed counts as 0). Formula in the module docstring."""
    dt = max(float(elapsed_s), 0.0)
    return Tolerance(
        cfg.odom_gate_translation_m + cfg.odom_gate_drift * distance_m
        + cfg.odom_gate_translation_m_per_s * dt,
        cfg.odom_gate_rotation_deg + cfg.odom_gate_drift * turned_deg
        + cfg.odom_gate_rotation_deg_per_s * dt)


def agreement_config(cfg: TrackingConfig) -> TrackingConfig:
    """The tolerances that decide whether consecutive relocalized poses agree (confirmation):
    the gate's own; while the gate is off (``odom_gate_translation_m`` 0) the default
    translation tolerance and the larger of the configured and default rotation tolerances
    (the other fields as configured)."""
    if cfg.odom_gate_translation_m > 0.0:
        return cfg
    base = TrackingConfig()
    return dataclasses.replace(cfg, odom_gate_translation_m=base.odom_gate_translation_m,
                               odom_gate_rotation_deg=max(cfg.odom_gate_rotation_deg,
                                                          base.odom_gate_rotation_deg))


def vouches(cfg: TrackingConfig, tol: Tolerance) -> bool:
    """True while odometry's prediction is tight enough to accept a pose without confirmation
    (and the gate is enabled: ``odom_gate_translation_m`` > 0)."""
    return (cfg.odom_gate_translation_m > 0.0
            and tol.translation_m <= cfg.odom_gate_max_translation_m
            and tol.rotation_deg <= cfg.odom_gate_max_rotation_deg)


def capped(cfg: TrackingConfig, tol: Tolerance) -> Tolerance:
    """``tol`` no wider than what odometry vouches for (``odom_gate_max_translation_m`` /
    ``odom_gate_max_rotation_deg``, never below the base tolerance): the agreement of two
    relocalized poses (confirmation). Uncapped, a camera stall grew it to metres (any two poses
    agreed); dropping the agreement past the cap instead would never confirm a camera whose
    frames come more than 4 s apart (a slow camera, a CPU-bound localizer)."""
    return Tolerance(
        min(tol.translation_m, max(cfg.odom_gate_max_translation_m, cfg.odom_gate_translation_m)),
        min(tol.rotation_deg, max(cfg.odom_gate_max_rotation_deg, cfg.odom_gate_rotation_deg)))


def carry(map_from_base_then: np.ndarray, odom_from_base_then: np.ndarray,
          odom_from_base_now: np.ndarray) -> np.ndarray:
    """A base pose carried forward by odometry: ``then @ inv(odom_then) @ odom_now``."""
    return map_from_base_then @ invert_pose(odom_from_base_then) @ odom_from_base_now


def difference(a_map_from_base: np.ndarray, b_map_from_base: np.ndarray) -> Tuple[float, float]:
    """(translation m, rotation deg) between two base poses."""
    return pose_error(a_map_from_base, b_map_from_base)
