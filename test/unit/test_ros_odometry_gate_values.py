"""Values of `ros/odometry_gate.py` worked out by hand (mutation audit): the tolerance's words,
the inclusive bounds of `vouches`, and `capped` never below the configured base tolerance."""

from __future__ import annotations

from mast3r_ros.core.config import TrackingConfig
from mast3r_ros.ros import odometry_gate as og


def test_tolerance_text_is_metres_then_degrees():
    assert og.Tolerance(0.25, 2.5).text() == "0.25 m / 2.5 deg"
    assert og.Tolerance(0.3, 12.0).text() == "0.30 m / 12.0 deg"


def test_odometry_vouches_up_to_and_including_the_maxima():
    cfg = TrackingConfig()                          # maxima 0.30 m, 10 deg
    assert og.vouches(cfg, og.Tolerance(0.30, 10.0))
    assert not og.vouches(cfg, og.Tolerance(0.30 + 1e-9, 10.0))
    assert not og.vouches(cfg, og.Tolerance(0.30, 10.0 + 1e-9))


def test_capped_at_the_maxima_but_never_below_the_base_tolerance():
    cfg = TrackingConfig()
    assert og.capped(cfg, og.Tolerance(0.9, 20.0)) == og.Tolerance(0.30, 10.0)
    assert og.capped(cfg, og.Tolerance(0.2, 5.0)) == og.Tolerance(0.2, 5.0)
    # a base tolerance configured above the maxima: the cap is the base tolerance
    wide = TrackingConfig(odom_gate_translation_m=0.5, odom_gate_rotation_deg=12.0)
    assert og.capped(wide, og.Tolerance(0.9, 20.0)) == og.Tolerance(0.5, 12.0)
