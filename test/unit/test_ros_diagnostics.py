"""The node's /diagnostics summary, without ROS (`ros/diagnostics.py`)."""

from __future__ import annotations

import pytest

from mast3r_ros.core.tracker import Track
from mast3r_ros.ros.diagnostics import (
    ERROR,
    OK,
    STALE,
    WARN,
    DiagnosticsWindow,
    FrameRecord,
)


def test_diagnostics_levels():
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    s = d.summary(0.0, Track.UNINITIALIZED, active=False)
    assert s.level == STALE
    d.start(0.0)
    s = d.summary(1.0, Track.UNINITIALIZED, active=True)
    assert s.level == WARN and "not localized" in s.message
    assert d.summary(6.0, Track.UNINITIALIZED, True).message.startswith("no images")
    for k in range(10):
        d.add(FrameRecord(6.0 + 0.2 * k, True, 120 + k, 0.15, 0.1,
                             timings_s=(("inference", 0.08), ("pnp", 0.01))))
    s = d.summary(8.0, Track.TRACKING, True)
    assert s.level == OK and s.message == "tracking"
    values = dict(s.values)
    assert all(isinstance(v, str) for v in values.values())
    assert values["inliers"] == "129"
    assert float(values["rate_hz"]) == pytest.approx(10 / 8.0, rel=1e-3)
    assert values["latency_s"] == "0.150" and values["success_rate"] == "1.00"
    assert values["time_inference_ms"] == "80.0" and values["last_failure"] == "none"
    d.add(FrameRecord(8.1, False, 3, reason="too few inliers (3 < 30)"))
    s = d.summary(8.2, Track.TRACKING, True)
    assert s.level == WARN and "too few inliers" in s.message
    assert dict(s.values)["last_failure"] == "too few inliers (3 < 30)"
    assert d.summary(8.2, Track.LOST, True).level == WARN
    d.add(FrameRecord(8.3, False, reason="inference error: RuntimeError('CUDA')", error=True))
    s = d.summary(8.4, Track.TRACKING, True)
    assert s.level == ERROR and "CUDA" in s.message
    d.add(FrameRecord(20.0, True, 200, 0.1, 0.1))         # errors age out of the window
    assert d.summary(20.1, Track.TRACKING, True).level == OK
    d.add(FrameRecord(20.2, False, dropped=True, reason="replaced by a newer image"))
    values = dict(d.summary(20.3, Track.TRACKING, True).values)
    assert values["dropped_in_window"] == "1" and values["errors"] == "1"
    d.start(100.0)                                       # re-activated much later
    assert not d.summary(101.0, Track.TRACKING, True).message.startswith("no images")
    assert d.summary(106.0, Track.TRACKING, True).message.startswith("no images")


